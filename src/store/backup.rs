//! Backups with SQLite's online backup API: consistent, and safe while the till keeps writing
//! (WAL readers never block the writer). Each copy is checked before it replaces anything.
//!
//! A backup holds the shop's sales, so it is private from its first byte: it is written to a
//! temporary file created with mode 0600 in the target's folder (made 0700 if missing), synced,
//! and only then linked or renamed into place. An existing target is refused unless the caller
//! says [`Existing::Replace`]; the live log and its `-wal`/`-shm`/`-journal` are refused always,
//! whatever the path says (`..`, symlinks, hard links).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::StoreError;

/// What to do when the target file exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    /// Refuse (`scanpay backup PATH`).
    Refuse,
    /// Replace it atomically (`scanpay backup --force PATH`, the Z backups).
    Replace,
}

/// Why a backup was not made. Nothing was replaced in any case.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The target exists and replacing it was not asked for.
    #[error("{0} already exists; give --force to replace it")]
    Exists(PathBuf),
    /// The target is (or leads to) the live shift log or one of its companion files.
    #[error(
        "{target} is the live shift log ({live}); a backup never replaces it, not even with --force"
    )]
    LiveLog {
        /// The target as given.
        target: PathBuf,
        /// The live file it is.
        live: PathBuf,
    },
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The log could not be read, or the copy failed its check.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BackupError {
    /// Whether the target was refused (exists, is the live log, cannot be written), as
    /// opposed to the log itself failing (damaged, unreadable).
    pub fn is_refusal(&self) -> bool {
        !matches!(self, BackupError::Store(_))
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The live log's files: the database and what SQLite keeps beside it.
fn live_files(src: &Path) -> Vec<PathBuf> {
    let mut all = vec![src.to_path_buf()];
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut name = src.as_os_str().to_os_string();
        name.push(suffix);
        all.push(PathBuf::from(name));
    }
    all
}

/// Where a path really leads: its folder canonicalised, and symlinks followed (even one whose
/// target does not exist yet). Stops after 40 links, as the kernel does.
fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    let mut here = path.to_path_buf();
    for _ in 0..40 {
        let name = here.file_name().map(|n| n.to_os_string()).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name")
        })?;
        let parent = match here.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(p) => p.canonicalize()?,
            None => std::env::current_dir()?,
        };
        let joined = parent.join(&name);
        match std::fs::symlink_metadata(&joined) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&joined)?;
                here = parent.join(target);
            }
            _ => return Ok(joined),
        }
    }
    Err(std::io::Error::other("too many levels of symbolic links"))
}

/// Refuses `dest` if it is the live log or a companion file: the same resolved path, or the
/// same file (device and inode) under another name.
fn refuse_live(src: &Path, dest: &Path) -> Result<(), BackupError> {
    let resolved = resolve(dest).map_err(io(dest))?;
    let dest_id = std::fs::metadata(&resolved).ok().map(|m| file_id(&m));
    let src_dir = src
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let src_dir = src_dir.canonicalize().map_err(io(src_dir))?;
    for live in live_files(src) {
        let canonical = live.file_name().map(|n| src_dir.join(n));
        let same_path = canonical.as_deref() == Some(resolved.as_path());
        let same_file =
            dest_id.is_some() && std::fs::metadata(&live).ok().map(|m| file_id(&m)) == dest_id;
        if same_path || same_file {
            return Err(BackupError::LiveLog {
                target: dest.to_path_buf(),
                live,
            });
        }
    }
    Ok(())
}

#[cfg(unix)]
fn file_id(m: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

#[cfg(not(unix))]
fn file_id(_: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

/// Creates a new, empty file readable by its owner only; fails if it exists.
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path)
}

/// A fresh temporary name beside `dest` (hidden, with the process id and a counter).
fn temp_beside(dest: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = N.fetch_add(1, Ordering::Relaxed);
    dest.with_file_name(format!(".{name}.partial-{}-{n}", std::process::id()))
}

/// Syncs a folder, so that a rename or link in it survives a power cut.
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Copies the database at `src` to a new file `dest` (refused if it exists); see
/// [`to_file_with`]. Returns the number of pages copied.
pub fn to_file(src: &Path, dest: &Path) -> Result<i64, BackupError> {
    to_file_with(src, dest, Existing::Refuse)
}

/// Copies the database at `src` to `dest`: written to a private temporary file, checked with
/// `PRAGMA quick_check`, synced, then put in place — beside nothing if `dest` is missing,
/// replacing it atomically only with [`Existing::Replace`]. Returns the number of pages copied.
pub fn to_file_with(src: &Path, dest: &Path, existing: Existing) -> Result<i64, BackupError> {
    super::refuse_empty(src)?;
    let dir = match dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d.to_path_buf(),
        None => PathBuf::from("."),
    };
    super::create_private_dir(&dir).map_err(io(&dir))?;
    refuse_live(src, dest)?;
    if existing == Existing::Refuse && std::fs::symlink_metadata(dest).is_ok() {
        return Err(BackupError::Exists(dest.to_path_buf()));
    }
    let from = Connection::open_with_flags(
        src,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(StoreError::from)?;
    from.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(StoreError::from)?;
    let tmp = temp_beside(dest);
    create_private(&tmp).map_err(io(&tmp))?;
    let result = copy_into(&from, &tmp).and_then(|pages| {
        place(&tmp, dest, existing)?;
        Ok(pages)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
        let mut journal = tmp.as_os_str().to_os_string();
        journal.push("-journal");
        let _ = std::fs::remove_file(PathBuf::from(journal));
    }
    result
}

/// The online backup into the (existing, private, empty) file `tmp`, checked and synced.
fn copy_into(from: &Connection, tmp: &Path) -> Result<i64, BackupError> {
    {
        let mut to = Connection::open(tmp).map_err(StoreError::from)?;
        {
            let backup = rusqlite::backup::Backup::new(from, &mut to).map_err(StoreError::from)?;
            backup
                .run_to_completion(256, std::time::Duration::from_millis(5), None)
                .map_err(StoreError::from)?;
        }
        // A backup is one self-contained file: no WAL beside it.
        let _: String = to
            .query_row("PRAGMA journal_mode=DELETE", [], |r| r.get(0))
            .map_err(StoreError::from)?;
    }
    let check = Connection::open_with_flags(tmp, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(StoreError::from)?;
    let ok: String = check
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(StoreError::from)?;
    let pages: i64 = check
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .map_err(StoreError::from)?;
    drop(check);
    if ok != "ok" {
        return Err(StoreError::Corrupt(format!("backup check failed: {ok}")).into());
    }
    std::fs::File::open(tmp)
        .and_then(|f| f.sync_all())
        .map_err(io(tmp))?;
    Ok(pages)
}

/// Puts the finished copy in place: a hard link that fails if `dest` appeared meanwhile
/// (refuse), or an atomic rename over it (replace).
fn place(tmp: &Path, dest: &Path, existing: Existing) -> Result<(), BackupError> {
    match existing {
        Existing::Replace => std::fs::rename(tmp, dest).map_err(io(dest))?,
        Existing::Refuse => match std::fs::hard_link(tmp, dest) {
            Ok(()) => {
                let _ = std::fs::remove_file(tmp);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(BackupError::Exists(dest.to_path_buf()));
            }
            // A folder without hard links (a FAT memory stick): a rename, after one more look.
            Err(_) => {
                if std::fs::symlink_metadata(dest).is_ok() {
                    return Err(BackupError::Exists(dest.to_path_buf()));
                }
                std::fs::rename(tmp, dest).map_err(io(dest))?;
            }
        },
    }
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        sync_dir(dir);
    }
    Ok(())
}

/// The automatic backup at a Z close: `data_dir/backups/scanpay-z{z:05}.db` (0600, in a 0700
/// folder), keeping the newest `keep`. Older copies are made private too.
pub fn at_z_close(data_dir: &Path, z_number: i64, keep: usize) -> Result<PathBuf, BackupError> {
    let dir = data_dir.join("backups");
    super::create_private_dir(&dir).map_err(io(&dir))?;
    // A folder left by an older scanpay may be 0755: made private (best effort).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
    }
    let dest = dir.join(format!("scanpay-z{z_number:05}.db"));
    to_file_with(&data_dir.join(super::DB_FILE), &dest, Existing::Replace)?;
    let mut all: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(io(&dir))?
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
    #[cfg(unix)]
    for kept in &all {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(kept, std::fs::Permissions::from_mode(0o600));
    }
    Ok(dest)
}
