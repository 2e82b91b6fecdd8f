//! Logs go to `data_dir/logs/scanpay.log` (mode 0600), never to the screen. `SCANPAY_LOG`
//! sets the filter (default `info`). Payment codes and keys never reach the log: codes are
//! masked by their types, keys have redacted `Debug`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Starts logging to the file in `data_dir`; returns its path.
pub fn to_file(data_dir: &Path) -> std::io::Result<PathBuf> {
    let dir = data_dir.join("logs");
    crate::store::create_private_dir(data_dir)?;
    crate::store::create_private_dir(&dir)?;
    let path = dir.join("scanpay.log");
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let file = opts.open(&path)?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("SCANPAY_LOG")
        .unwrap_or_else(|_| "info".into());
    // A second initialisation (tests) is harmless: the first subscriber stays.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(Mutex::new(file))
        .try_init();
    Ok(path)
}
