//! Logs go to `data_dir/logs/scanpay.log` (mode 0600). The cashier screen never writes a log
//! line to the terminal (it would be drawn over the screen); a command-line run copies them
//! to stderr only when asked (`-v`/`--verbose`). `SCANPAY_LOG` sets the filter (default
//! `info`). Payment codes and keys never reach the log: codes are masked by their types, keys
//! have redacted `Debug`.
//!
//! One subscriber per process, installed once by [`install`]: a file layer, plus a stderr
//! layer for a verbose command. Installing fails loudly (an error the binary prints) instead of
//! leaving logs nowhere.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Who is logging.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Face {
    /// The cashier screen: the file only, never the terminal.
    Screen,
    /// A command: the file, and stderr too when `verbose`.
    Command {
        /// `-v`/`--verbose`: log lines on stderr as well.
        verbose: bool,
    },
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The log folder or file cannot be created or opened.
    #[error("cannot open the log file {path}: {source}")]
    File {
        /// The file (or its folder).
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A logger was installed already (a bug: one per process).
    #[error("a logger is already installed: {0}")]
    Installed(String),
}

/// The log file of a data folder: `data_dir/logs/scanpay.log`.
pub fn file_path(data_dir: &Path) -> PathBuf {
    data_dir.join("logs").join("scanpay.log")
}

/// The filter: `SCANPAY_LOG`, else `info`.
fn filter() -> EnvFilter {
    EnvFilter::try_from_env("SCANPAY_LOG").unwrap_or_else(|_| "info".into())
}

/// Opens (creates, 0600) the log file of `data_dir`.
fn open(data_dir: &Path) -> Result<(PathBuf, std::fs::File), LogError> {
    let path = file_path(data_dir);
    let dir = data_dir.join("logs");
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LogError::File { path, source }
    };
    crate::store::create_private_dir(data_dir).map_err(err(data_dir))?;
    crate::store::create_private_dir(&dir).map_err(err(&dir))?;
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let file = opts.open(&path).map_err(err(&path))?;
    Ok((path, file))
}

/// Installs the process's one logger for `face`; returns the log file. When the file cannot
/// be opened, a verbose command still logs to stderr, and the error says why the file is
/// missing (the binary prints it).
pub fn install(data_dir: &Path, face: Face) -> Result<PathBuf, LogError> {
    let stderr = matches!(face, Face::Command { verbose: true }).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_filter(filter())
    });
    let (opened, file_layer) = match open(data_dir) {
        Ok((path, file)) => (
            Ok(path),
            Some(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(Mutex::new(file))
                    .with_filter(filter()),
            ),
        ),
        Err(e) => (Err(e), None),
    };
    tracing_subscriber::registry()
        .with(file_layer)
        .with(stderr)
        .try_init()
        .map_err(|e| LogError::Installed(e.to_string()))?;
    opened
}
