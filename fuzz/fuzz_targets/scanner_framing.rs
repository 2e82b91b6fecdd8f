#![no_main]
//! Serial scanner bytes: framing never panics and never returns a frame over the limit.
use libfuzzer_sys::fuzz_target;
use scanpay::scanner::serial::{Framer, MAX_FRAME_LEN};

fuzz_target!(|data: &[u8]| {
    let mut f = Framer::new(100, MAX_FRAME_LEN);
    let mut t = 0;
    for chunk in data.chunks(7) {
        t += u64::from(chunk[0] % 200);
        for frame in f.push(chunk, t).into_iter().chain(f.poll(t)) {
            assert!(frame.len() <= MAX_FRAME_LEN * 4);
        }
    }
});
