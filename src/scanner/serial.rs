//! Serial / USB-CDC barcode scanner reader.
//!
//! A scanner in serial mode (a real RS-232 port, a USB-serial adapter, or a USB-CDC "virtual COM
//! port" such as `/dev/ttyACM0`) sends each scanned code as a burst of bytes. This module turns
//! that byte stream into [`ScannerEvent`]s on a background thread ([`SerialReader`]); the framing
//! itself is the pure, I/O-free [`Framer`] so it can be tested without hardware.
//!
//! # Framing rules
//!
//! - A frame ends at a CR, an LF, or a CRLF (most scanners can be set to send one of these
//!   "suffixes"). Every CR and LF ends a frame and empty frames are dropped, so CRLF gives one
//!   frame, not a frame plus an empty one.
//! - Scanners without a suffix are framed on silence: once no byte has arrived for `silence_ms`
//!   (100 ms by default; a scanner sends a whole code in a few milliseconds) the bytes so far are
//!   one frame. A `silence_ms` of 0 turns silence framing off.
//! - Surrounding whitespace is trimmed. Bytes that are not valid UTF-8 are replaced with U+FFFD
//!   rather than failing; the payment-code check downstream rejects such a frame.
//! - A frame is at most `max_len` bytes ([`MAX_FRAME_LEN`] for the reader). Bytes past that are
//!   discarded up to the next terminator (or silence), and the truncated text is the frame: a
//!   scanner stuck sending garbage cannot grow memory.
//!
//! # Reconnecting
//!
//! The reader opens the device (8N1, no flow control) and emits [`ScannerEvent::Connected`]. A
//! read that ends the stream (0 bytes) or fails with anything but a timeout or an interrupt means
//! the scanner is gone (unplugged, USB reset, pty master closed): the reader emits
//! [`ScannerEvent::Disconnected`], closes the port and tries to open the same path again every
//! `reconnect_ms`, emitting `Connected` when it succeeds. A device that cannot be opened is
//! reported once with `Disconnected`, not once per retry. The process never needs restarting;
//! point `device` at a stable name (`/dev/serial/by-id/…` or a udev symlink) because a replugged
//! scanner may come back under another `ttyACM` number.
//!
//! # Why a partial frame is discarded on unplug
//!
//! Bytes received before an unplug that were not yet ended by a terminator or by silence may be
//! only the first half of a code (the cable was pulled mid-scan). Delivering them could charge a
//! truncated or, worse, a different valid-looking code, so they are dropped: the cashier simply
//! scans again after replugging.
//!
//! Frames are payment codes: they are never logged, only their length.

use std::io::{self, ErrorKind, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serialport::{DataBits, FlowControl, Parity, StopBits, TTYPort};

/// Default silence after which a frame without a suffix ends, in milliseconds.
pub const DEFAULT_SILENCE_MS: u64 = 100;

/// Default interval between attempts to reopen a missing device, in milliseconds.
pub const DEFAULT_RECONNECT_MS: u64 = 1000;

/// Longest frame the reader delivers, in bytes; longer frames are truncated.
pub const MAX_FRAME_LEN: usize = 256;

/// The longest a single blocking read waits, so silence and `stop` are noticed promptly.
const MAX_READ_TIMEOUT_MS: u64 = 50;

/// Turns a byte stream into frames (scanned codes). Pure: no I/O, time is passed in.
///
/// See the [module documentation](self) for the framing rules.
#[derive(Clone, Debug)]
pub struct Framer {
    silence_ms: u64,
    max_len: usize,
    buf: Vec<u8>,
    last_byte_ms: u64,
}

impl Framer {
    /// A framer that ends a frame after `silence_ms` without bytes (0: never on silence) and
    /// keeps at most `max_len` bytes of a frame.
    pub fn new(silence_ms: u64, max_len: usize) -> Framer {
        Framer {
            silence_ms,
            max_len,
            buf: Vec::new(),
            last_byte_ms: 0,
        }
    }

    /// Feeds `bytes` received at `now_ms` and returns every frame they complete, in order.
    ///
    /// A partial frame whose silence had already elapsed before these bytes is returned first.
    pub fn push(&mut self, bytes: &[u8], now_ms: u64) -> Vec<String> {
        let mut frames = Vec::new();
        if bytes.is_empty() {
            return frames;
        }
        if let Some(frame) = self.poll(now_ms) {
            frames.push(frame);
        }
        for &b in bytes {
            if b == b'\r' || b == b'\n' {
                frames.extend(self.take());
            } else if self.buf.len() < self.max_len {
                self.buf.push(b);
            }
            // else: overflow, dropped until the next terminator.
        }
        self.last_byte_ms = now_ms;
        frames
    }

    /// Returns the partial frame if `silence_ms` have passed since its last byte.
    pub fn poll(&mut self, now_ms: u64) -> Option<String> {
        if self.silence_ms == 0 || self.buf.is_empty() {
            return None;
        }
        if now_ms.saturating_sub(self.last_byte_ms) >= self.silence_ms {
            self.take()
        } else {
            None
        }
    }

    /// Whether bytes of an unfinished frame are held.
    pub fn pending(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Length in bytes of the unfinished frame held.
    pub fn pending_len(&self) -> usize {
        self.buf.len()
    }

    /// Ends the current frame: its trimmed text, or `None` if that is empty.
    fn take(&mut self) -> Option<String> {
        let text = String::from_utf8_lossy(&self.buf).trim().to_owned();
        self.buf.clear();
        (!text.is_empty()).then_some(text)
    }
}

/// What the scanner reader reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScannerEvent {
    /// The device was opened.
    Connected {
        /// The configured device path.
        device: String,
    },
    /// The device was lost or could not be opened.
    Disconnected {
        /// The configured device path.
        device: String,
        /// Why, for the status line and the log.
        reason: String,
    },
    /// A scanned code (trimmed, never empty).
    Frame(String),
}

/// Settings of a [`SerialReader`].
#[derive(Clone, Debug)]
pub struct SerialConfig {
    /// The device to open, e.g. `/dev/ttyACM0` or a `/dev/serial/by-id/…` symlink.
    pub device: PathBuf,
    /// Line speed; the port is always 8N1 without flow control.
    pub baud: u32,
    /// Silence in milliseconds that ends a frame without a suffix (0: terminators only).
    pub silence_ms: u64,
    /// Interval in milliseconds between attempts to (re)open the device.
    pub reconnect_ms: u64,
}

impl SerialConfig {
    /// A configuration with the default silence and reconnect intervals.
    pub fn new(device: impl Into<PathBuf>, baud: u32) -> SerialConfig {
        SerialConfig {
            device: device.into(),
            baud,
            silence_ms: DEFAULT_SILENCE_MS,
            reconnect_ms: DEFAULT_RECONNECT_MS,
        }
    }

    /// Timeout of one blocking read: short enough to notice silence and `stop`.
    fn read_timeout(&self) -> Duration {
        let ms = match self.silence_ms {
            0 => MAX_READ_TIMEOUT_MS,
            s => s.clamp(1, MAX_READ_TIMEOUT_MS),
        };
        Duration::from_millis(ms)
    }
}

/// A background thread reading a serial scanner and reporting [`ScannerEvent`]s.
///
/// Stops when [`stop`](SerialReader::stop) is called or when dropped; dropping waits for the
/// thread to finish (at most about one read timeout or reconnect interval, plus the time the
/// sink takes for an event it is handling).
#[derive(Debug)]
pub struct SerialReader {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl SerialReader {
    /// Starts the reader thread (`scanpay-serial`). `sink` gets every event, on that thread.
    ///
    /// Fails only if the device path is not valid UTF-8 or the thread cannot be started; a
    /// missing device is reported through `sink` and retried.
    pub fn spawn(
        config: SerialConfig,
        sink: impl Fn(ScannerEvent) + Send + 'static,
    ) -> Result<SerialReader, io::Error> {
        if config.device.to_str().is_none() {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "scanner device path is not valid UTF-8: {}",
                    config.device.display()
                ),
            ));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = Arc::clone(&stop);
        let handle = thread::Builder::new()
            .name("scanpay-serial".into())
            .spawn(move || run(&config, &sink, &thread_stop))?;
        Ok(SerialReader {
            stop,
            handle: Some(handle),
        })
    }

    /// Asks the thread to stop; it does so within about one read timeout or at once if waiting
    /// to reconnect. Does not wait.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = &self.handle {
            handle.thread().unpark();
        }
    }

    /// Whether the thread is still running.
    pub fn is_running(&self) -> bool {
        self.handle.as_ref().is_some_and(|h| !h.is_finished())
    }
}

impl Drop for SerialReader {
    fn drop(&mut self) {
        self.stop();
        if let Some(handle) = self.handle.take() {
            // Dropped from inside the sink: the thread ends by itself once the sink returns.
            if handle.thread().id() != thread::current().id() {
                let _ = handle.join();
            }
        }
    }
}

/// The reader thread: open, read until gone, report, wait, repeat.
fn run(config: &SerialConfig, sink: &dyn Fn(ScannerEvent), stop: &AtomicBool) {
    let started = Instant::now();
    let device = config.device.display().to_string();
    // Whether the sink was last told `Disconnected` (so open failures are reported once).
    let mut reported_down = false;
    let mut last_reason = String::new();
    while !stop.load(Ordering::SeqCst) {
        match open(config) {
            Ok(port) => {
                tracing::info!(device = %device, baud = config.baud, "scanner connected");
                sink(ScannerEvent::Connected {
                    device: device.clone(),
                });
                let Some(reason) = read_until_gone(port, config, sink, stop, started) else {
                    return; // stopped
                };
                tracing::warn!(device = %device, reason = %reason, "scanner disconnected");
                reported_down = true;
                last_reason.clone_from(&reason);
                sink(ScannerEvent::Disconnected {
                    device: device.clone(),
                    reason,
                });
            }
            Err(e) => {
                let reason = format!("cannot open: {e}");
                if !reported_down {
                    tracing::warn!(device = %device, reason = %reason, "scanner not available");
                    reported_down = true;
                    last_reason.clone_from(&reason);
                    sink(ScannerEvent::Disconnected {
                        device: device.clone(),
                        reason,
                    });
                } else if reason != last_reason {
                    tracing::warn!(device = %device, reason = %reason, "scanner still not available");
                    last_reason = reason;
                }
            }
        }
        sleep_unless_stopped(Duration::from_millis(config.reconnect_ms), stop);
    }
}

/// Opens the device 8N1, no flow control.
fn open(config: &SerialConfig) -> Result<TTYPort, serialport::Error> {
    let path = config.device.to_string_lossy();
    serialport::new(path, config.baud)
        .data_bits(DataBits::Eight)
        .parity(Parity::None)
        .stop_bits(StopBits::One)
        .flow_control(FlowControl::None)
        .timeout(config.read_timeout())
        .open_native()
}

/// Reads frames until the device is gone (returns why) or `stop` is set (returns `None`).
fn read_until_gone(
    mut port: TTYPort,
    config: &SerialConfig,
    sink: &dyn Fn(ScannerEvent),
    stop: &AtomicBool,
    started: Instant,
) -> Option<String> {
    let now_ms = || u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let emit = |frame: String| {
        tracing::debug!(len = frame.len(), "scanner frame");
        sink(ScannerEvent::Frame(frame));
    };
    let mut framer = Framer::new(config.silence_ms, MAX_FRAME_LEN);
    let mut buf = [0u8; 256];
    loop {
        if stop.load(Ordering::SeqCst) {
            return None;
        }
        let gone = match port.read(&mut buf) {
            Ok(0) => Some("end of stream".to_owned()),
            Ok(n) => {
                framer.push(&buf[..n], now_ms()).into_iter().for_each(emit);
                None
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::TimedOut | ErrorKind::WouldBlock | ErrorKind::Interrupted
                ) =>
            {
                None
            }
            Err(e) => Some(format!("read failed: {e}")),
        };
        if let Some(reason) = gone {
            if framer.pending() {
                tracing::info!(
                    len = framer.pending_len(),
                    "partial scan discarded on disconnect"
                );
            }
            return Some(reason);
        }
        if let Some(frame) = framer.poll(now_ms()) {
            emit(frame);
        }
    }
}

/// Sleeps for `total`, returning early when `stop` is set (`SerialReader::stop` unparks us).
fn sleep_unless_stopped(total: Duration, stop: &AtomicBool) {
    let deadline = Instant::now() + total;
    while !stop.load(Ordering::SeqCst) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        thread::park_timeout(left);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all(f: &mut Framer, chunks: &[&[u8]], now: u64) -> Vec<String> {
        chunks.iter().flat_map(|c| f.push(c, now)).collect()
    }

    #[test]
    fn cr_lf_crlf_and_mixed() {
        let mut f = Framer::new(100, 256);
        assert_eq!(f.push(b"a\r", 0), ["a"]);
        assert_eq!(f.push(b"b\n", 0), ["b"]);
        assert_eq!(f.push(b"c\r\n", 0), ["c"]);
        assert_eq!(f.push(b"d\n\re\r\n\r\nf\r", 0), ["d", "e", "f"]);
        assert!(!f.pending());
    }

    #[test]
    fn crlf_split_across_pushes_gives_no_empty_frame() {
        let mut f = Framer::new(100, 256);
        assert_eq!(f.push(b"134567890123456789\r", 0), ["134567890123456789"]);
        assert!(f.push(b"\n", 5).is_empty());
        assert!(!f.pending());
        assert_eq!(f.poll(1000), None);
    }

    #[test]
    fn trims_and_drops_empty() {
        let mut f = Framer::new(100, 256);
        assert_eq!(f.push(b"  12 34\t\r\n   \r\n\t\n", 0), ["12 34"]);
    }

    #[test]
    fn silence_ends_a_frame() {
        let mut f = Framer::new(100, 256);
        assert!(f.push(b"1234", 10).is_empty());
        assert!(f.push(b"5678", 30).is_empty());
        assert!(f.pending());
        assert_eq!(f.poll(129), None);
        assert_eq!(f.poll(130), Some("12345678".to_owned()));
        assert!(!f.pending());
        assert_eq!(f.poll(1000), None);
    }

    #[test]
    fn late_bytes_after_silence_start_a_new_frame() {
        let mut f = Framer::new(100, 256);
        assert!(f.push(b"old", 0).is_empty());
        // Nobody polled in between: the stale partial still comes out first, separately.
        assert_eq!(f.push(b"new\r", 500), ["old", "new"]);
    }

    #[test]
    fn zero_silence_frames_only_on_terminators() {
        let mut f = Framer::new(0, 256);
        assert!(f.push(b"abc", 0).is_empty());
        assert_eq!(f.poll(u64::MAX), None);
        assert_eq!(f.push(b"\n", 10_000), ["abc"]);
    }

    #[test]
    fn whitespace_only_partial_gives_nothing_on_silence() {
        let mut f = Framer::new(100, 256);
        assert!(f.push(b"  ", 0).is_empty());
        assert_eq!(f.poll(200), None);
        assert!(!f.pending());
    }

    #[test]
    fn overflow_truncates_and_discards_to_terminator() {
        let mut f = Framer::new(100, 8);
        assert!(f.push(b"0123456789abcdef", 0).is_empty());
        assert_eq!(f.pending_len(), 8);
        assert!(f.push(&[b'x'; 10_000], 0).is_empty());
        assert_eq!(f.pending_len(), 8);
        assert_eq!(f.push(b"zz\r\nnext\r\n", 0), ["01234567", "next"]);
    }

    #[test]
    fn overflow_ends_on_silence_too() {
        let mut f = Framer::new(100, 4);
        assert!(f.push(b"abcdefgh", 0).is_empty());
        assert_eq!(f.poll(100), Some("abcd".to_owned()));
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let mut f = Framer::new(100, 256);
        assert_eq!(f.push(b"12\xff34\r", 0), ["12\u{fffd}34"]);
        assert_eq!(f.push("付款码\n".as_bytes(), 0), ["付款码"]);
    }

    #[test]
    fn empty_push_is_a_no_op() {
        let mut f = Framer::new(100, 256);
        assert!(f.push(b"12", 0).is_empty());
        assert!(f.push(b"", 90).is_empty());
        // The empty push did not move the last-byte time.
        assert_eq!(f.poll(100), Some("12".to_owned()));
    }

    #[test]
    fn read_timeout_is_bounded() {
        let mut c = SerialConfig::new("/dev/null", 9600);
        assert_eq!(c.read_timeout(), Duration::from_millis(50));
        c.silence_ms = 20;
        assert_eq!(c.read_timeout(), Duration::from_millis(20));
        c.silence_ms = 0;
        assert_eq!(c.read_timeout(), Duration::from_millis(50));
    }

    fn code() -> impl Strategy<Value = String> {
        "[0-9A-Za-z]{1,40}"
    }

    fn terminator() -> impl Strategy<Value = &'static str> {
        prop_oneof![Just("\r"), Just("\n"), Just("\r\n")]
    }

    proptest! {
        #[test]
        fn chunking_does_not_change_frames(
            codes in prop::collection::vec((code(), terminator()), 0..12),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
        ) {
            let stream: Vec<u8> = codes
                .iter()
                .flat_map(|(c, t)| c.bytes().chain(t.bytes()))
                .collect();
            let expected: Vec<String> = codes.iter().map(|(c, _)| c.clone()).collect();

            let mut whole = Framer::new(100, 256);
            prop_assert_eq!(whole.push(&stream, 0), expected.clone());

            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
            points.push(0);
            points.push(stream.len());
            points.sort_unstable();
            let chunks: Vec<&[u8]> = points.windows(2).map(|w| &stream[w[0]..w[1]]).collect();
            let mut split = Framer::new(100, 256);
            // Chunks arrive 5 ms apart: well inside the silence.
            let mut got = Vec::new();
            for (i, chunk) in chunks.iter().enumerate() {
                let now = 5 * i as u64;
                got.extend(split.push(chunk, now));
                got.extend(split.poll(now));
            }
            prop_assert_eq!(got, expected.clone());
            prop_assert!(!split.pending());
            prop_assert_eq!(all(&mut Framer::new(100, 256), &chunks, 0), expected);
        }

        #[test]
        fn arbitrary_bytes_never_panic_and_stay_bounded(
            chunks in prop::collection::vec(
                (prop::collection::vec(any::<u8>(), 0..64), 0u64..300),
                0..20,
            ),
            max_len in 0usize..32,
        ) {
            let mut f = Framer::new(100, max_len);
            let mut now = 0u64;
            let mut frames = Vec::new();
            for (bytes, gap) in &chunks {
                now += gap;
                frames.extend(f.push(bytes, now));
                frames.extend(f.poll(now));
                prop_assert!(f.pending_len() <= max_len);
            }
            frames.extend(f.poll(now + 100));
            prop_assert!(!f.pending());
            for frame in frames {
                prop_assert!(!frame.is_empty());
                prop_assert_eq!(frame.trim(), frame.as_str());
                prop_assert!(!frame.contains(['\r', '\n']));
                prop_assert!(frame.chars().count() <= max_len);
            }
        }
    }
}
