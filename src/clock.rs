//! Wall-clock time as an injectable value.
//!
//! Signatures carry Unix timestamps, the simulator's customers act after seconds, and the
//! engine's deadlines are measured in seconds; all of them read time through [`Clock`] so tests
//! can run a whole minute of payment flow in no wall time. [`TokioClock`] follows tokio's clock,
//! which tests pause and auto-advance (`#[tokio::test(start_paused = true)]`).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A source of wall-clock time in Unix milliseconds.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;

    /// Whole seconds since the Unix epoch.
    fn now_unix(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }
}

/// A shared clock.
pub type SharedClock = Arc<dyn Clock>;

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
    }
}

/// A clock that moves only when told to (unit tests).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock stopped at `ms`.
    pub fn at_ms(ms: i64) -> ManualClock {
        ManualClock(AtomicI64::new(ms))
    }
    /// Moves the clock forward (or back, with a negative value).
    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
    /// Sets the clock.
    pub fn set_ms(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Wall-clock time that advances with tokio's clock: `base` plus the tokio time elapsed since
/// the clock was made. Under a paused tokio runtime it jumps exactly as timers do.
#[derive(Debug, Clone)]
pub struct TokioClock {
    base_ms: i64,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// Starts at the system time now.
    pub fn new() -> TokioClock {
        Self::starting_at_ms(SystemClock.now_ms())
    }
    /// Starts at a given wall-clock time.
    pub fn starting_at_ms(base_ms: i64) -> TokioClock {
        TokioClock {
            base_ms,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    fn now_ms(&self) -> i64 {
        let elapsed = i64::try_from(self.start.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.base_ms.saturating_add(elapsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::at_ms(1_554_208_460_123);
        assert_eq!(c.now_unix(), 1_554_208_460);
        c.advance_ms(1_000);
        assert_eq!(c.now_ms(), 1_554_208_461_123);
        c.set_ms(-1);
        assert_eq!(c.now_unix(), -1);
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_paused_time() {
        let c = TokioClock::starting_at_ms(1_000_000);
        tokio::time::sleep(std::time::Duration::from_secs(8)).await;
        assert_eq!(c.now_ms(), 1_008_000);
    }
}

/// Beijing time (UTC+8, no daylight saving since 1991): what WeChat Pay's timestamps, bills
/// and bill dates use.
pub mod beijing {
    use jiff::Timestamp;
    use jiff::tz::{Offset, TimeZone};

    fn zoned(ms: i64) -> jiff::Zoned {
        let ts = Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
        ts.to_zoned(TimeZone::fixed(Offset::constant(8)))
    }

    /// `2026-11-26T14:32:07+08:00` (RFC 3339, as in API answers).
    pub fn rfc3339(ms: i64) -> String {
        zoned(ms).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }

    /// `2026-11-26 14:32:07` (as in bills).
    pub fn datetime(ms: i64) -> String {
        zoned(ms).strftime("%Y-%m-%d %H:%M:%S").to_string()
    }

    /// `2026-11-26`.
    pub fn date(ms: i64) -> String {
        zoned(ms).strftime("%Y-%m-%d").to_string()
    }

    /// `20261126`.
    pub fn compact_date(ms: i64) -> String {
        zoned(ms).strftime("%Y%m%d").to_string()
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn formats_in_utc_plus_8() {
            // 2019-06-11T16:00:00Z is midnight in Beijing.
            let ms = 1_560_268_800_000;
            assert_eq!(super::rfc3339(ms), "2019-06-12T00:00:00+08:00");
            assert_eq!(super::datetime(ms - 1000), "2019-06-11 23:59:59");
            assert_eq!(super::date(ms), "2019-06-12");
            assert_eq!(super::compact_date(ms), "20190612");
        }
    }
}
