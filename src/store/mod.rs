//! The SQLite shift log: one file in `data_dir`, WAL, `synchronous=FULL`, foreign keys on,
//! STRICT tables, money in integer fen, migrations by `PRAGMA user_version` ([`schema`]).
//!
//! One thread owns the write connection; async code talks to it through [`Store::call`].
//! Every order is written before its first request leaves, every answer is appended as an
//! event, and nothing is ever deleted (triggers refuse it).

pub mod backup;
pub mod orders;
pub mod outbox;
pub mod refunds;
pub mod schema;
pub mod shifts;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, ErrorCode, OpenFlags};

/// The database file name inside `data_dir`.
pub const DB_FILE: &str = "scanpay.db";

/// What went wrong with the shift log. Never a panic, never a silent loss.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process holds a lock for longer than the busy timeout.
    #[error("the shift log is locked by another process (is another scanpay running?)")]
    Locked,
    /// The file or its folder is read-only.
    #[error("the shift log is read-only: check the permissions of data_dir")]
    ReadOnly,
    /// Not a database, or damaged.
    #[error(
        "the shift log is damaged or not a scanpay database ({0}); restore it from a backup in data_dir/backups"
    )]
    Corrupt(String),
    /// The disk is full.
    #[error("the disk holding the shift log is full: free space, nothing was written")]
    Full,
    /// The file could not be opened.
    #[error("cannot open the shift log: {0}")]
    Open(String),
    /// Written by a newer scanpay.
    #[error(
        "the shift log was written by a newer scanpay (schema {found}, this build knows {supported})"
    )]
    TooNew {
        /// Found `user_version`.
        found: i64,
        /// Newest this build knows.
        supported: i64,
    },
    /// The store thread is gone.
    #[error("the shift log worker stopped")]
    Closed,
    /// A record that should exist does not.
    #[error("{0}")]
    NotFound(String),
    /// A business rule refused the change.
    #[error("{0}")]
    Refused(String),
    /// Any other SQLite error.
    #[error("shift log error: {0}")]
    Sql(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(f, msg) = &e {
            let detail = msg.clone().unwrap_or_else(|| f.to_string());
            return match f.code {
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => StoreError::Locked,
                ErrorCode::ReadOnly => StoreError::ReadOnly,
                ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt => StoreError::Corrupt(detail),
                ErrorCode::DiskFull => StoreError::Full,
                ErrorCode::CannotOpen | ErrorCode::PermissionDenied => StoreError::Open(detail),
                _ => StoreError::Sql(detail),
            };
        }
        StoreError::Sql(e.to_string())
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Sql(format!("stored JSON: {e}"))
    }
}

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

#[derive(Clone)]
enum Worker {
    Thread(std::sync::mpsc::Sender<Job>),
    Inline(Arc<Mutex<Connection>>),
}

/// A handle on the shift log. Cheap to clone; all clones share one writer.
#[derive(Clone)]
pub struct Store {
    worker: Worker,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.path.display())
    }
}

/// How hard a commit waits for the disk. scanpay always runs with [`Durability::Full`]; the
/// other exists so the benchmarks can show what `synchronous=FULL` costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=FULL`: a committed order survives a power cut.
    Full,
    /// `synchronous=NORMAL` (benchmarks only): may lose the last commits on power loss.
    Normal,
}

/// Opens (creating if needed) and migrates the database at `path`, with the pragmas every
/// connection of scanpay uses.
pub fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    open_connection_with(path, Durability::Full)
}

/// [`open_connection`] with a chosen durability.
pub fn open_connection_with(path: &Path, durability: Durability) -> Result<Connection, StoreError> {
    refuse_empty(path)?;
    if std::fs::symlink_metadata(path).is_err() {
        create_log(path)?;
    }
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| match StoreError::from(e) {
        StoreError::Sql(d) => StoreError::Open(d),
        other => other,
    })?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Open(format!(
            "WAL journal mode not available (got {mode})"
        )));
    }
    conn.pragma_update(
        None,
        "synchronous",
        match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        },
    )?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    schema::migrate(&mut conn)?;
    Ok(conn)
}

/// Refuses an existing but empty (0-byte) log like a damaged one: SQLite would take it for a
/// new database and the shop's records would silently start again from nothing.
pub(crate) fn refuse_empty(path: &Path) -> Result<(), StoreError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() && m.len() == 0 => Err(StoreError::Corrupt(
            "the file is empty (0 bytes); scanpay never rebuilds it".into(),
        )),
        _ => Ok(()),
    }
}

/// Creates a new log at `path`: made whole (schema applied) in a private temporary file
/// beside it, synced, then linked into place, so that `path` is never an empty or half-made
/// file, and is readable by its owner only (SQLite gives the -wal and -shm files the same
/// mode). If another process created `path` meanwhile, its file is kept.
fn create_log(path: &Path) -> Result<(), StoreError> {
    let open_err = |e: std::io::Error| StoreError::Open(format!("{}: {e}", path.display()));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.new-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(&tmp).map_err(open_err)?;
    let made = (|| {
        let mut conn = Connection::open(&tmp)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        schema::migrate(&mut conn)?;
        conn.close().map_err(|(_, e)| StoreError::from(e))?;
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(open_err)?;
        match std::fs::hard_link(&tmp, path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            // No hard links on this file system: a rename, unless the log appeared.
            Err(_) if std::fs::symlink_metadata(path).is_ok() => Ok(()),
            Err(_) => std::fs::rename(&tmp, path).map_err(open_err),
        }
    })();
    let _ = std::fs::remove_file(&tmp);
    let mut journal = tmp.into_os_string();
    journal.push("-journal");
    let _ = std::fs::remove_file(std::path::PathBuf::from(journal));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    made
}

/// Opens a read-only connection for reports (readers do not block the writer in WAL mode).
pub fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    refuse_empty(path)?;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| match StoreError::from(e) {
        StoreError::Sql(d) => StoreError::Open(d),
        other => other,
    })?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > schema::VERSION {
        return Err(StoreError::TooNew {
            found: version,
            supported: schema::VERSION,
        });
    }
    Ok(conn)
}

impl Store {
    /// Opens the log in `data_dir` (created with mode 0700 if missing) with its own writer thread.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        Self::open_with(data_dir, Durability::Full)
    }

    /// [`Store::open`] with a chosen durability (benchmarks).
    pub fn open_with(data_dir: &Path, durability: Durability) -> Result<Store, StoreError> {
        let path = Self::prepare(data_dir)?;
        let mut conn = open_connection_with(&path, durability)?;
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("scanpay-store".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job(&mut conn);
                }
            })
            .map_err(|e| StoreError::Open(format!("cannot start the store thread: {e}")))?;
        Ok(Store {
            worker: Worker::Thread(tx),
            path,
        })
    }

    /// Opens the log and runs every call on the caller's thread. For tests on tokio's paused
    /// clock: waiting on another thread would let the paused clock jump ahead.
    pub fn open_inline(data_dir: &Path) -> Result<Store, StoreError> {
        Self::open_inline_with(data_dir, Durability::Full)
    }

    /// [`Store::open_inline`] with a chosen durability (benchmarks).
    pub fn open_inline_with(data_dir: &Path, durability: Durability) -> Result<Store, StoreError> {
        let path = Self::prepare(data_dir)?;
        let conn = open_connection_with(&path, durability)?;
        Ok(Store {
            worker: Worker::Inline(Arc::new(Mutex::new(conn))),
            path,
        })
    }

    fn prepare(data_dir: &Path) -> Result<PathBuf, StoreError> {
        create_private_dir(data_dir).map_err(|e| {
            StoreError::Open(format!(
                "cannot create data_dir {}: {e}",
                data_dir.display()
            ))
        })?;
        // A missing log is created by `open_connection_with` (private, never half-made).
        Ok(data_dir.join(DB_FILE))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the writer connection and returns its result.
    pub async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    {
        if crate::failpoint::disk_full() {
            return Err(StoreError::Full);
        }
        match &self.worker {
            Worker::Inline(conn) => {
                let mut c = conn.lock().map_err(|_| StoreError::Closed)?;
                f(&mut c)
            }
            Worker::Thread(tx) => {
                let (reply, rx) = tokio::sync::oneshot::channel();
                let job: Job = Box::new(move |c| {
                    let _ = reply.send(f(c));
                });
                tx.send(job).map_err(|_| StoreError::Closed)?;
                rx.await.map_err(|_| StoreError::Closed)?
            }
        }
    }

    /// Runs `f` on the writer connection from synchronous code.
    pub fn call_blocking<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    {
        if crate::failpoint::disk_full() {
            return Err(StoreError::Full);
        }
        match &self.worker {
            Worker::Inline(conn) => {
                let mut c = conn.lock().map_err(|_| StoreError::Closed)?;
                f(&mut c)
            }
            Worker::Thread(tx) => {
                let (reply, rx) = std::sync::mpsc::channel();
                let job: Job = Box::new(move |c| {
                    let _ = reply.send(f(c));
                });
                tx.send(job).map_err(|_| StoreError::Closed)?;
                rx.recv().map_err(|_| StoreError::Closed)?
            }
        }
    }
}

/// Creates a folder (and its parents) readable by its owner only, if it does not exist.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// The `meta` key under which the data folder's identity (mode and merchant) is kept.
pub const IDENTITY_KEY: &str = "identity";

/// Reads a `meta` value, if it is there.
pub fn meta_get(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    match conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| {
        r.get::<_, String>(0)
    }) {
        Ok(v) => Ok(Some(v)),
        Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The data folder's identity as recorded (opaque text; `till::ident` decides what it
/// means), or `None` when this log was written before identities were recorded.
pub fn identity(conn: &Connection) -> Result<Option<String>, StoreError> {
    meta_get(conn, IDENTITY_KEY)
}

/// Records the identity unless one is recorded already (never overwritten), and returns the
/// one that is recorded now — `value`, or another process's if it was first.
pub fn record_identity(conn: &Connection, value: &str) -> Result<String, StoreError> {
    meta_get_or_init(conn, IDENTITY_KEY, || value.to_string())
}

/// Whether the log holds any order.
pub fn has_orders(conn: &Connection) -> Result<bool, StoreError> {
    Ok(
        conn.query_row("SELECT EXISTS (SELECT 1 FROM orders)", [], |r| {
            r.get::<_, bool>(0)
        })?,
    )
}

/// Reads a `meta` value, creating it with `init()` if missing.
pub fn meta_get_or_init(
    conn: &Connection,
    key: &str,
    init: impl FnOnce() -> String,
) -> Result<String, StoreError> {
    if let Some(v) = conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |r| r.get::<_, String>(0))
        .map(Some)
        .or_else(|e| {
            if e == rusqlite::Error::QueryReturnedNoRows {
                Ok(None)
            } else {
                Err(e)
            }
        })?
    {
        return Ok(v);
    }
    let v = init();
    conn.execute(
        "INSERT OR IGNORE INTO meta(key, value) VALUES (?1, ?2)",
        [key, &v],
    )?;
    Ok(conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))?)
}

/// Appends to the audit log.
pub fn audit(
    conn: &Connection,
    at: i64,
    actor: &str,
    action: &str,
    detail: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO audit_log(at, actor, action, detail) VALUES (?1, ?2, ?3, ?4)",
        rusqlite::params![at, actor, action, detail],
    )?;
    Ok(())
}
