#![no_main]
//! Answer bodies from the network: parsing never panics.
use libfuzzer_sys::fuzz_target;
use scanpay::wechat::model::{ErrorBody, Refund, Transaction};

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<Transaction>(data);
    let _ = serde_json::from_slice::<ErrorBody>(data);
    let _ = serde_json::from_slice::<Refund>(data);
});
