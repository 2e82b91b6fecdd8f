//! Backups with SQLite's online backup API: consistent, and safe while the till keeps writing
//! (WAL readers never block the writer). Each copy is checked before it replaces anything.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::StoreError;

/// Copies the database at `src` to `dest` (written to a temporary file, checked with
/// `PRAGMA quick_check`, then renamed into place). Returns the number of pages copied.
pub fn to_file(src: &Path, dest: &Path) -> Result<i64, StoreError> {
    let from = Connection::open_with_flags(
        src,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    from.busy_timeout(std::time::Duration::from_secs(5))?;
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        super::create_private_dir(dir)
            .map_err(|e| StoreError::Open(format!("{}: {e}", dir.display())))?;
    }
    let tmp = dest.with_extension("db.partial");
    let _ = std::fs::remove_file(&tmp);
    {
        let mut to = Connection::open(&tmp)?;
        {
            let backup = rusqlite::backup::Backup::new(&from, &mut to)?;
            backup.run_to_completion(256, std::time::Duration::from_millis(5), None)?;
        }
        // A backup is one self-contained file: no WAL beside it.
        let _: String = to.query_row("PRAGMA journal_mode=DELETE", [], |r| r.get(0))?;
    }
    let check = Connection::open_with_flags(&tmp, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let ok: String = check.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    let pages: i64 = check.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    drop(check);
    if ok != "ok" {
        let _ = std::fs::remove_file(&tmp);
        return Err(StoreError::Corrupt(format!("backup check failed: {ok}")));
    }
    std::fs::rename(&tmp, dest)
        .map_err(|e| StoreError::Open(format!("{}: {e}", dest.display())))?;
    Ok(pages)
}

/// The automatic backup at a Z close: `data_dir/backups/scanpay-z{z:05}.db`, keeping the
/// newest `keep`.
pub fn at_z_close(data_dir: &Path, z_number: i64, keep: usize) -> Result<PathBuf, StoreError> {
    let dir = data_dir.join("backups");
    let dest = dir.join(format!("scanpay-z{z_number:05}.db"));
    to_file(&data_dir.join(super::DB_FILE), &dest)?;
    let mut all: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| StoreError::Open(format!("{}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("scanpay-z") && n.ends_with(".db"))
        })
        .collect();
    all.sort();
    while all.len() > keep.max(1) {
        let old = all.remove(0);
        let _ = std::fs::remove_file(&old);
    }
    Ok(dest)
}
