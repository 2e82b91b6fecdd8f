//! Named crash points for the crash-recovery tests.
//!
//! When the environment variable `SCANPAY_FAILPOINT` names a point, the process kills itself
//! with SIGKILL when it reaches that point — no unwinding, no flushing, exactly like a power
//! cut or `kill -9`. Unset (always, in production) it costs one cached lookup.
//!
//! Points: `pay.before_send` (order and request event committed, pay call not sent),
//! `pay.after_send` (pay answered, answer not yet recorded), `poll.waiting` (waiting between
//! queries), `reverse.before_send`, `reverse.after_send`, `refund.after_send`.

use std::sync::OnceLock;

static POINT: OnceLock<Option<String>> = OnceLock::new();

/// Kills the process here if `SCANPAY_FAILPOINT` is `name`.
pub fn hit(name: &str) {
    let armed = POINT.get_or_init(|| {
        std::env::var("SCANPAY_FAILPOINT")
            .ok()
            .filter(|v| !v.is_empty())
    });
    if armed.as_deref() == Some(name) {
        // SAFETY: kill(2) on our own pid with a valid signal number has no memory-safety
        // preconditions; SIGKILL cannot be caught, so the call does not return.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
