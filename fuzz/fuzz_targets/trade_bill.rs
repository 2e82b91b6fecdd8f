#![no_main]
//! Downloaded trade bills: parsing never panics, and what parses renders and parses back.
use libfuzzer_sys::fuzz_target;
use scanpay::wechat::bill;

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = bill::parse(data) {
        let again = bill::parse(&bill::render(&b));
        assert!(again.is_ok());
        let _ = bill::check_summary(&b);
    }
});
