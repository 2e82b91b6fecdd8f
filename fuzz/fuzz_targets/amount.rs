#![no_main]
//! Typed amounts: never panics; an accepted amount is positive, within the limit and
//! round-trips through its display form.
use libfuzzer_sys::fuzz_target;
use scanpay::money::Fen;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let limit = Fen(500_000);
        if let Ok(f) = Fen::parse(s, limit) {
            assert!(f.0 > 0 && f <= limit);
            assert_eq!(Fen::parse(&f.to_string(), limit), Ok(f));
        }
    }
});
