#![no_main]
//! Configuration text: loading never panics; every refusal names the file.
use libfuzzer_sys::fuzz_target;
use scanpay::config::{Config, Source};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Err(e) = Config::from_toml(
            s,
            Source::EmbeddedDemo,
            std::path::Path::new("/nonexistent"),
        ) {
            assert!(e.to_string().starts_with("config file"));
        }
    }
});
