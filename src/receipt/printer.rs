//! Printer sinks and the print queue. Printing runs on its own worker thread with a timeout;
//! a failed print is kept and reported, and never rolls back or blocks a payment. Every job is
//! also written as text to the spool folder (`data_dir/receipts/`), the record of what was
//! printed.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where receipts go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sink {
    /// Nowhere (the text spool only).
    None,
    /// ESC/POS files in a folder (for a print server to pick up).
    File(PathBuf),
    /// A network printer (raw port 9100).
    Tcp(String),
    /// A printer device file (`/dev/usb/lp0`).
    Device(PathBuf),
    /// A serial printer.
    Serial {
        /// Device.
        path: PathBuf,
        /// Speed (8N1).
        baud: u32,
    },
}

/// Why a print did not go through.
#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    /// The printer could not be reached; nothing was sent (safe to try again).
    #[error("printer not reachable: {0}")]
    Unreachable(String),
    /// Sending failed part-way, or did not finish in time: the printer may have printed part
    /// or all of it (not retried automatically, so no duplicate copy).
    #[error("printing failed part-way: {0}")]
    Interrupted(String),
}

impl Sink {
    /// Sends `bytes` (one ESC/POS job named `name`) to the sink. Blocking.
    pub fn send(&self, name: &str, bytes: &[u8], timeout: Duration) -> Result<(), PrintError> {
        let unreachable = |e: std::io::Error| PrintError::Unreachable(e.to_string());
        let interrupted = |e: std::io::Error| PrintError::Interrupted(e.to_string());
        match self {
            Sink::None => Ok(()),
            Sink::File(dir) => {
                std::fs::create_dir_all(dir).map_err(unreachable)?;
                let tmp = dir.join(format!(".{name}.bin.tmp"));
                let mut f = std::fs::File::create(&tmp).map_err(unreachable)?;
                f.write_all(bytes).map_err(interrupted)?;
                f.sync_all().map_err(interrupted)?;
                std::fs::rename(&tmp, dir.join(format!("{name}.bin"))).map_err(interrupted)
            }
            Sink::Tcp(addr) => {
                use std::net::ToSocketAddrs;
                let sock = addr
                    .to_socket_addrs()
                    .map_err(unreachable)?
                    .next()
                    .ok_or_else(|| PrintError::Unreachable(format!("{addr}: no address")))?;
                let mut s =
                    std::net::TcpStream::connect_timeout(&sock, timeout).map_err(unreachable)?;
                s.set_write_timeout(Some(timeout)).map_err(unreachable)?;
                s.write_all(bytes).map_err(interrupted)?;
                s.flush().map_err(interrupted)
            }
            Sink::Device(path) => {
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(unreachable)?;
                f.write_all(bytes).map_err(interrupted)?;
                f.flush().map_err(interrupted)
            }
            Sink::Serial { path, baud } => {
                let path_str = path
                    .to_str()
                    .ok_or_else(|| PrintError::Unreachable("device path is not UTF-8".into()))?;
                let mut port = serialport::new(path_str, *baud)
                    .timeout(timeout)
                    .open_native()
                    .map_err(|e| PrintError::Unreachable(e.to_string()))?;
                port.write_all(bytes).map_err(interrupted)?;
                port.flush().map_err(interrupted)
            }
        }
    }

    /// Whether receipts go to a printer at all.
    pub fn enabled(&self) -> bool {
        *self != Sink::None
    }
}

/// One receipt to print.
#[derive(Clone, Debug)]
pub struct Job {
    /// File-safe name (the order number, with a suffix for copies).
    pub name: String,
    /// ESC/POS bytes.
    pub bytes: Vec<u8>,
    /// The same receipt as text (for the spool).
    pub text: String,
}

/// What the status line shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrinterStatus {
    /// No printer configured.
    Disabled,
    /// Last job printed (or nothing printed yet).
    Ready,
    /// A job is being sent.
    Printing,
    /// The last job failed; `waiting` jobs wait for the printer, `error` says why.
    Failed {
        /// Jobs still to print.
        waiting: usize,
        /// Why.
        error: String,
    },
}

/// The print queue: a worker thread that sends jobs one at a time, each within a timeout.
#[derive(Clone)]
pub struct PrintQueue {
    tx: mpsc::Sender<Job>,
    status: Arc<Mutex<PrinterStatus>>,
}

impl std::fmt::Debug for PrintQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrintQueue({:?})", self.status())
    }
}

/// How often jobs that could not reach the printer are tried again.
const RETRY: Duration = Duration::from_secs(15);

impl PrintQueue {
    /// Starts the worker. `spool` is the folder for the text copies.
    pub fn start(sink: Sink, spool: PathBuf, timeout: Duration) -> PrintQueue {
        let (tx, rx) = mpsc::channel::<Job>();
        let status = Arc::new(Mutex::new(if sink.enabled() {
            PrinterStatus::Ready
        } else {
            PrinterStatus::Disabled
        }));
        let st = status.clone();
        let _ = std::thread::Builder::new()
            .name("scanpay-printer".into())
            .spawn(move || worker(sink, spool, timeout, rx, st));
        PrintQueue { tx, status }
    }

    /// Queues a job; returns at once.
    pub fn submit(&self, job: Job) {
        if self.tx.send(job).is_err() {
            set(
                &self.status,
                PrinterStatus::Failed {
                    waiting: 0,
                    error: "printer worker stopped".into(),
                },
            );
        }
    }

    /// The printer's state now.
    pub fn status(&self) -> PrinterStatus {
        self.status
            .lock()
            .map(|s| s.clone())
            .unwrap_or(PrinterStatus::Disabled)
    }
}

fn set(status: &Arc<Mutex<PrinterStatus>>, s: PrinterStatus) {
    if let Ok(mut g) = status.lock() {
        *g = s;
    }
}

fn spool(dir: &Path, job: &Job) {
    let result = std::fs::create_dir_all(dir)
        .and_then(|_| std::fs::write(dir.join(format!("{}.txt", job.name)), &job.text));
    if let Err(e) = result {
        tracing::error!(error = %e, "receipt spool not written");
    }
}

fn worker(
    sink: Sink,
    spool_dir: PathBuf,
    timeout: Duration,
    rx: mpsc::Receiver<Job>,
    status: Arc<Mutex<PrinterStatus>>,
) {
    let mut waiting: VecDeque<Job> = VecDeque::new();
    let mut busy: Option<mpsc::Receiver<Result<(), PrintError>>> = None;
    loop {
        let next = if waiting.is_empty() && busy.is_none() {
            rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else {
            rx.recv_timeout(Duration::from_millis(200))
        };
        match next {
            Ok(job) => {
                spool(&spool_dir, &job);
                if sink.enabled() {
                    waiting.push_back(job);
                }
            }
            Err(RecvTimeoutError::Disconnected) if waiting.is_empty() && busy.is_none() => return,
            Err(_) => {}
        }
        // A send still running (a printer that hangs): wait for it, never start a second one.
        if let Some(rx_done) = &busy {
            match rx_done.try_recv() {
                Ok(_) | Err(mpsc::TryRecvError::Disconnected) => busy = None,
                Err(mpsc::TryRecvError::Empty) => continue,
            }
        }
        while let Some(job) = waiting.front().cloned() {
            set(&status, PrinterStatus::Printing);
            let (done_tx, done_rx) = mpsc::channel();
            let s = sink.clone();
            let name = job.name.clone();
            let bytes = job.bytes.clone();
            let _ = std::thread::Builder::new()
                .name("scanpay-print-send".into())
                .spawn(move || {
                    let _ = done_tx.send(s.send(&name, &bytes, timeout));
                });
            match done_rx.recv_timeout(timeout + Duration::from_millis(500)) {
                Ok(Ok(())) => {
                    waiting.pop_front();
                    tracing::info!(job = %job.name, "receipt printed");
                    set(&status, PrinterStatus::Ready);
                }
                Ok(Err(PrintError::Unreachable(e))) => {
                    tracing::warn!(job = %job.name, error = %e, "printer not reachable; will retry");
                    set(
                        &status,
                        PrinterStatus::Failed {
                            waiting: waiting.len(),
                            error: e,
                        },
                    );
                    // Try again after a while (or when the next job comes).
                    if let Ok(job) = rx.recv_timeout(RETRY) {
                        spool(&spool_dir, &job);
                        waiting.push_back(job);
                    }
                }
                Ok(Err(e @ PrintError::Interrupted(_))) => {
                    waiting.pop_front();
                    tracing::warn!(job = %job.name, error = %e, "print failed part-way; not retried (reprint by hand)");
                    set(
                        &status,
                        PrinterStatus::Failed {
                            waiting: waiting.len(),
                            error: e.to_string(),
                        },
                    );
                }
                Err(_) => {
                    // Timed out: the printer may have printed. Not retried, so never twice.
                    waiting.pop_front();
                    tracing::warn!(job = %job.name, "printer did not finish in time; not retried (reprint by hand)");
                    set(
                        &status,
                        PrinterStatus::Failed {
                            waiting: waiting.len(),
                            error: "printer did not answer in time".into(),
                        },
                    );
                    busy = Some(done_rx);
                    break;
                }
            }
        }
    }
}
