//! Named crash points for the crash-recovery tests.
//!
//! When the environment variable `SCANPAY_FAILPOINT` names a point, the process kills itself
//! with SIGKILL when it reaches that point — no unwinding, no flushing, exactly like a power
//! cut or `kill -9`. Unset (always, in production) it costs one cached lookup.
//!
//! `SCANPAY_FAILPOINT=POINT:disk_full` instead makes the shift log answer every call from that
//! point on as a full disk would (`StoreError::Full`), for the tests of an I/O failure after a
//! request left.
//!
//! Points: `pay.before_send` (order and request event committed, pay call not sent),
//! `pay.after_send` (pay answered, answer not yet recorded), `poll.waiting` (waiting between
//! queries), `reverse.before_send`, `reverse.after_send`, `refund.after_send`.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

static POINT: OnceLock<Option<String>> = OnceLock::new();
static DISK_FULL: AtomicBool = AtomicBool::new(false);

/// Kills the process here if `SCANPAY_FAILPOINT` is `name` (or, for `name:disk_full`, makes
/// the disk "full" from here on).
pub fn hit(name: &str) {
    let armed = POINT.get_or_init(|| {
        std::env::var("SCANPAY_FAILPOINT")
            .ok()
            .filter(|v| !v.is_empty())
    });
    let Some(armed) = armed.as_deref() else {
        return;
    };
    if armed.strip_suffix(":disk_full") == Some(name) {
        DISK_FULL.store(true, Ordering::SeqCst);
        return;
    }
    if armed == name {
        // SAFETY: kill(2) on our own pid with a valid signal number has no memory-safety
        // preconditions; SIGKILL cannot be caught, so the call does not return.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}

/// Whether a `disk_full` failpoint was reached: the shift log then fails every call.
pub fn disk_full() -> bool {
    DISK_FULL.load(Ordering::SeqCst)
}
