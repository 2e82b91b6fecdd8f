#![no_main]
//! APIv2 answer bodies from the network: reading never panics, and what parses writes back.
use libfuzzer_sys::fuzz_target;
use scanpay::wechat::v2::answer;
use scanpay::wechat::v2::sign::{ApiKey, SignType};
use scanpay::wechat::v2::xml;

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = ApiKey::new("192006250b4c09247ec02edce69f6a2d") {
        let _ = answer::read(data, &key, SignType::Md5);
    }
    if let Ok(fields) = xml::parse(data)
        && let Ok(text) = xml::write(&fields)
    {
        assert_eq!(xml::parse(text.as_bytes()).ok(), Some(fields));
    }
});
