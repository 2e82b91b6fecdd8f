//! Supervisor approval with PINs.
//!
//! Refunds, forced shift closes, (optionally) reprints and every change to the supervisors need a
//! supervisor's approval. A supervisor is an id plus a PIN of digits — 6 to 12 in live mode,
//! 4 to 12 in simulator mode (training); the PIN is kept only as an argon2id PHC string (random
//! salt, slow hash) and never written anywhere else, in particular never to the audit log.
//!
//! Who may change the supervisors: the first one is made by [`init`], only while no supervisor
//! could approve anything; after that, [`add`], [`set_pin`] and [`set_enabled`] take an
//! [`Approval`], which only [`approve`] makes (the PIN checked, rate-limited, audited). The last
//! enabled supervisor cannot be disabled. Every change is audited with who approved it.
//!
//! The demo supervisor (`demo`, PIN `0000`) is made by [`ensure_demo`] in simulator mode only
//! and marked as the demo's (column `demo`, migration 6). In live mode a demo row — or any row
//! with the id `demo` — approves nothing, and the id cannot be given to a new supervisor.
//!
//! Wrong PINs are rate-limited per typed id: when [`MAX_FAILURES`] wrong
//! attempts fall within [`WINDOW_MS`], the id is locked for [`LOCK_MS`] from the
//! failure that completed the run. While locked the PIN is not even checked.
//! Unknown ids count as failed attempts for the id as typed, so guessing ids
//! is rate-limited too.
//!
//! Every approval and every refusal goes to the project's `audit_log` with
//! who (the supervisor id as typed), what (the action and its detail) and why.
//!
//! Time is always the caller's `now_ms` (milliseconds since the Unix epoch);
//! this module never reads a clock.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rusqlite::{Connection, OptionalExtension, params};

use crate::config::Mode;

// The tables (`supervisors`, `pin_attempts`) are created by migration 2 in `store/schema.rs`.

/// Wrong PINs within [`WINDOW_MS`] that lock an id.
pub const MAX_FAILURES: u32 = 5;
/// The window, in milliseconds, in which [`MAX_FAILURES`] wrong PINs lock an id.
pub const WINDOW_MS: i64 = 10 * 60 * 1000;
/// How long, in milliseconds, a lock lasts from the failure that caused it.
pub const LOCK_MS: i64 = 10 * 60 * 1000;

/// The id of the demo supervisor that [`ensure_demo`] creates (simulator mode only).
pub const DEMO_ID: &str = "demo";
/// The demo supervisor's PIN.
const DEMO_PIN: &str = "0000";
const ID_MAX_CHARS: usize = 32;
/// The fewest digits a PIN may have in simulator mode (and that an earlier version stored).
const PIN_MIN_DIGITS: usize = 4;
/// The fewest digits a PIN may have when it is set in live mode.
pub const LIVE_PIN_MIN_DIGITS: usize = 6;
const PIN_MAX_DIGITS: usize = 12;
/// A typed id is cut to this many characters before it goes to the audit log.
const AUDIT_ACTOR_MAX_CHARS: usize = 64;

/// Why a supervisor operation failed or an approval was refused.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    /// The supervisor id is malformed; the message says how.
    #[error("{0}")]
    BadId(String),
    /// The PIN is malformed; the message says how (it never contains the PIN).
    #[error("{0}")]
    BadPin(String),
    /// No supervisor has this id.
    #[error("unknown supervisor '{0}'")]
    UnknownSupervisor(String),
    /// The PIN is wrong.
    #[error("wrong PIN ({remaining} attempts left before a lock)")]
    WrongPin {
        /// Wrong attempts left before the id is locked.
        remaining: u32,
    },
    /// Too many wrong PINs: the id is locked.
    #[error("too many wrong PINs; locked until {until_ms} ms")]
    Locked {
        /// When the lock ends, in milliseconds since the Unix epoch.
        until_ms: i64,
    },
    /// The supervisor exists but is disabled.
    #[error("supervisor '{0}' is disabled")]
    Disabled(String),
    /// The demo supervisor, outside simulator mode: it approves nothing, and its id is not
    /// given to anyone else.
    #[error(
        "'{0}' is the simulator's demo supervisor: it approves nothing and cannot be added outside simulator mode"
    )]
    DemoOnly(String),
    /// `init` while a supervisor exists.
    #[error(
        "a supervisor already exists: further ones are added (supervisor add) with the approval of an existing one"
    )]
    AlreadySetUp,
    /// `add` of an id that exists.
    #[error("supervisor '{0}' already exists")]
    Exists(String),
    /// Disabling the last enabled supervisor would leave nobody to approve anything.
    #[error("supervisor '{0}' is the last enabled supervisor: add or enable another one first")]
    LastEnabled(String),
    /// Enabling an enabled supervisor, or disabling a disabled one.
    #[error("supervisor '{id}' is already {}", if *.enabled { "enabled" } else { "disabled" })]
    Unchanged {
        /// The supervisor.
        id: String,
        /// Its state, unchanged.
        enabled: bool,
    },
    /// Hashing failed, or a stored PIN hash cannot be read.
    #[error("PIN hash: {0}")]
    Hash(String),
    /// The database failed.
    #[error("store: {0}")]
    Store(String),
}

impl SupervisorError {
    /// A refusal by the rules (who may do what), as opposed to a malformed id or PIN or a
    /// failure of the hash or the database.
    pub fn is_refusal(&self) -> bool {
        !matches!(
            self,
            SupervisorError::BadId(_)
                | SupervisorError::BadPin(_)
                | SupervisorError::Hash(_)
                | SupervisorError::Store(_)
        )
    }
}

impl From<rusqlite::Error> for SupervisorError {
    fn from(e: rusqlite::Error) -> Self {
        SupervisorError::Store(e.to_string())
    }
}

/// Checks a supervisor id: 1–32 characters, each an ASCII letter, digit, `_`,
/// `-` or `.`.
///
/// ASCII only, so that two ids that look the same are the same id in the
/// audit log.
pub fn validate_id(id: &str) -> Result<(), SupervisorError> {
    if id.is_empty() {
        return Err(SupervisorError::BadId(
            "supervisor id is empty: type 1 to 32 letters, digits, '_', '-' or '.'".into(),
        ));
    }
    let chars = id.chars().count();
    if chars > ID_MAX_CHARS {
        return Err(SupervisorError::BadId(format!(
            "supervisor id is {chars} characters long: at most {ID_MAX_CHARS} are allowed"
        )));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(SupervisorError::BadId(format!(
            "supervisor id contains {c:?}: use only letters A–Z/a–z, digits, '_', '-' or '.'"
        )));
    }
    Ok(())
}

/// Checks a PIN's form: 4–12 ASCII digits (any PIN scanpay has ever stored). Repeated digits
/// (such as the demo PIN `0000`) are allowed. The message never repeats the PIN. A PIN being
/// set is checked by [`validate_new_pin`].
pub fn validate_pin(pin: &str) -> Result<(), SupervisorError> {
    validate_pin_digits(pin, PIN_MIN_DIGITS)
}

/// The fewest digits a new PIN may have in `mode`: 6 in live mode, 4 in simulator mode.
pub fn min_pin_digits(mode: Mode) -> usize {
    match mode {
        Mode::Simulator => PIN_MIN_DIGITS,
        Mode::Live => LIVE_PIN_MIN_DIGITS,
    }
}

/// Checks a PIN about to be set in `mode`: [`min_pin_digits`] to 12 ASCII digits. (A 4-digit
/// PIN falls to 10⁴ guesses against a stolen backup's hash; live PINs have at least 6.)
pub fn validate_new_pin(pin: &str, mode: Mode) -> Result<(), SupervisorError> {
    validate_pin_digits(pin, min_pin_digits(mode))
}

fn validate_pin_digits(pin: &str, min: usize) -> Result<(), SupervisorError> {
    if !pin.chars().all(|c| c.is_ascii_digit()) {
        return Err(SupervisorError::BadPin(format!(
            "PIN may contain only the digits 0–9 ({min} to {PIN_MAX_DIGITS} of them)"
        )));
    }
    let len = pin.len();
    if !(min..=PIN_MAX_DIGITS).contains(&len) {
        return Err(SupervisorError::BadPin(format!(
            "PIN has {len} digits: it needs {min} to {PIN_MAX_DIGITS}"
        )));
    }
    Ok(())
}

/// Refuses the demo's id as a new supervisor outside simulator mode.
fn validate_new_id(id: &str, mode: Mode) -> Result<(), SupervisorError> {
    validate_id(id)?;
    if mode != Mode::Simulator && id == DEMO_ID {
        return Err(SupervisorError::DemoOnly(id.to_string()));
    }
    Ok(())
}

/// The hasher: argon2id, version 0x13, argon2's default cost
/// (19 MiB, 2 passes, 1 lane).
fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// Hashes a PIN with argon2id and a random salt from the OS; returns the PHC
/// string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
pub fn hash_pin(pin: &str) -> Result<String, SupervisorError> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(pin.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| SupervisorError::Hash(e.to_string()))
}

/// Verifies a PIN against a PHC string; `Err` when the PHC string is unreadable.
fn verify(phc: &str, pin: &str) -> Result<bool, SupervisorError> {
    let parsed = PasswordHash::new(phc).map_err(|e| SupervisorError::Hash(e.to_string()))?;
    match hasher().verify_password(pin.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(SupervisorError::Hash(e.to_string())),
    }
}

/// Whether `pin` matches the PHC string `phc`. The comparison is argon2's
/// (constant-time); the cost parameters are those stored in `phc`. An
/// unreadable PHC string matches nothing.
pub fn verify_pin(phc: &str, pin: &str) -> bool {
    matches!(verify(phc, pin), Ok(true))
}

/// Runs `f` inside a savepoint, so its writes land together or not at all.
/// Works whether or not the caller already has a transaction open.
fn atomically<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> Result<T, SupervisorError> {
    conn.execute_batch("SAVEPOINT supervisor_write")?;
    let result = f(conn).and_then(|v| conn.execute_batch("RELEASE supervisor_write").map(|()| v));
    match result {
        Ok(v) => Ok(v),
        Err(e) => {
            // Best effort: the original error is the one worth reporting.
            let _ = conn.execute_batch("ROLLBACK TO supervisor_write; RELEASE supervisor_write");
            Err(e.into())
        }
    }
}

fn audit(
    conn: &Connection,
    at: i64,
    actor: &str,
    action: &str,
    detail: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO audit_log (at, actor, action, detail) VALUES (?1, ?2, ?3, ?4)",
        params![at, actor, action, detail],
    )?;
    Ok(())
}

fn record_attempt(conn: &Connection, id: &str, at: i64, ok: bool) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO pin_attempts (supervisor, at, ok) VALUES (?1, ?2, ?3)",
        params![id, at, i64::from(ok)],
    )?;
    Ok(())
}

/// A supervisor row: what the rules need.
struct Row {
    phc: String,
    disabled: bool,
    demo: bool,
}

fn row(conn: &Connection, id: &str) -> Result<Option<Row>, SupervisorError> {
    Ok(conn
        .query_row(
            "SELECT pin_hash, disabled, demo FROM supervisors WHERE id = ?1",
            [id],
            |r| {
                Ok(Row {
                    phc: r.get(0)?,
                    disabled: r.get::<_, i64>(1)? != 0,
                    demo: r.get::<_, i64>(2)? != 0,
                })
            },
        )
        .optional()?)
}

/// Whether a row may approve anything in `mode`: the demo's never outside simulator mode.
fn may_approve_in(mode: Mode, id: &str, row: &Row) -> bool {
    mode == Mode::Simulator || !(row.demo || id == DEMO_ID)
}

/// Whether a supervisor with this id exists (enabled or disabled).
pub fn exists(conn: &Connection, id: &str) -> Result<bool, SupervisorError> {
    Ok(conn
        .query_row("SELECT 1 FROM supervisors WHERE id = ?1", [id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Whether the log has the demo supervisor (a row marked as the demo's, or with its id).
pub fn has_demo(conn: &Connection) -> Result<bool, SupervisorError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM supervisors WHERE demo = 1 OR id = ?1 LIMIT 1",
            [DEMO_ID],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// How many enabled supervisors could approve something in `mode`.
pub fn approvers(conn: &Connection, mode: Mode) -> Result<usize, SupervisorError> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM supervisors WHERE disabled = 0 AND (?1 OR (demo = 0 AND id <> ?2))",
        params![mode == Mode::Simulator, DEMO_ID],
        |r| r.get(0),
    )?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Writes a new, enabled supervisor row (`demo`: the simulator's demo row).
fn insert_row(
    c: &Connection,
    id: &str,
    phc: &str,
    demo: bool,
    now_ms: i64,
) -> rusqlite::Result<usize> {
    c.execute(
        "INSERT INTO supervisors (id, pin_hash, created_at, updated_at, disabled, demo) \
         VALUES (?1, ?2, ?3, ?3, 0, ?4)",
        params![id, phc, now_ms, demo],
    )
}

/// Adds the supervisor `demo` with PIN `0000`, marked as the demo's, unless a supervisor
/// `demo` already exists (its PIN, if changed, is left alone). Call it in simulator mode only:
/// outside it the row would approve nothing anyway.
pub fn ensure_demo(conn: &Connection, now_ms: i64) -> Result<(), SupervisorError> {
    if exists(conn, DEMO_ID)? {
        return Ok(());
    }
    let phc = hash_pin(DEMO_PIN)?;
    atomically(conn, |c| {
        insert_row(c, DEMO_ID, &phc, true, now_ms)?;
        audit(
            c,
            now_ms,
            DEMO_ID,
            "supervisor_add",
            "demo supervisor 'demo' added (simulator mode)",
        )
    })
}

/// Makes the first supervisor: only while no supervisor could approve anything in `mode` (so
/// no approval is possible, and none is asked). An existing, disabled row of that id gets the
/// new PIN and is enabled. Audited as `supervisor_init`.
pub fn init(
    conn: &Connection,
    id: &str,
    pin: &str,
    mode: Mode,
    now_ms: i64,
) -> Result<(), SupervisorError> {
    validate_new_id(id, mode)?;
    validate_new_pin(pin, mode)?;
    if approvers(conn, mode)? > 0 {
        return Err(SupervisorError::AlreadySetUp);
    }
    let phc = hash_pin(pin)?;
    let outcome = atomically(conn, |c| {
        // Checked again inside the write, in case another process was quicker.
        let n: i64 = c.query_row(
            "SELECT count(*) FROM supervisors WHERE disabled = 0 AND (?1 OR (demo = 0 AND id <> ?2))",
            params![mode == Mode::Simulator, DEMO_ID],
            |r| r.get(0),
        )?;
        if n > 0 {
            return Ok(false);
        }
        c.execute(
            "INSERT INTO supervisors (id, pin_hash, created_at, updated_at, disabled, demo) \
             VALUES (?1, ?2, ?3, ?3, 0, 0) \
             ON CONFLICT (id) DO UPDATE SET pin_hash = excluded.pin_hash, \
             updated_at = excluded.updated_at, disabled = 0, demo = 0",
            params![id, phc, now_ms],
        )?;
        audit(
            c,
            now_ms,
            id,
            "supervisor_init",
            &format!("first supervisor '{id}' set up"),
        )?;
        Ok(true)
    })?;
    if outcome {
        Ok(())
    } else {
        Err(SupervisorError::AlreadySetUp)
    }
}

/// Adds a new supervisor, approved by an existing one. An id that exists is refused (a PIN is
/// changed by [`set_pin`], a disabled supervisor comes back by [`set_enabled`]). Audited as
/// `supervisor_add`, with the approver as the actor.
pub fn add(
    conn: &Connection,
    id: &str,
    pin: &str,
    by: &Approval,
    mode: Mode,
    now_ms: i64,
) -> Result<(), SupervisorError> {
    validate_new_id(id, mode)?;
    validate_new_pin(pin, mode)?;
    if exists(conn, id)? {
        return Err(SupervisorError::Exists(id.to_string()));
    }
    let phc = hash_pin(pin)?;
    atomically(conn, |c| {
        insert_row(c, id, &phc, false, now_ms)?;
        audit(
            c,
            now_ms,
            &by.supervisor,
            "supervisor_add",
            &format!("supervisor '{id}' added, approved by '{}'", by.supervisor),
        )
    })
}

/// Changes a supervisor's PIN, approved by a supervisor (the one whose PIN it is, with the
/// old PIN, or another). Leaves a disabled supervisor disabled and a lock in force as it is.
/// Audited as `supervisor_pin`.
pub fn set_pin(
    conn: &Connection,
    id: &str,
    pin: &str,
    by: &Approval,
    mode: Mode,
    now_ms: i64,
) -> Result<(), SupervisorError> {
    validate_id(id)?;
    validate_new_pin(pin, mode)?;
    let Some(r) = row(conn, id)? else {
        return Err(SupervisorError::UnknownSupervisor(id.to_string()));
    };
    if !may_approve_in(mode, id, &r) {
        return Err(SupervisorError::DemoOnly(id.to_string()));
    }
    let phc = hash_pin(pin)?;
    atomically(conn, |c| {
        c.execute(
            "UPDATE supervisors SET pin_hash = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, phc, now_ms],
        )?;
        audit(
            c,
            now_ms,
            &by.supervisor,
            "supervisor_pin",
            &format!(
                "PIN of supervisor '{id}' changed, approved by '{}'",
                by.supervisor
            ),
        )
    })
}

/// Disables (`enabled == false`) or enables a supervisor, approved by a supervisor. The last
/// supervisor able to approve in `mode` cannot be disabled. Audited as `supervisor_disable` or
/// `supervisor_enable`.
pub fn set_enabled(
    conn: &Connection,
    id: &str,
    enabled: bool,
    by: &Approval,
    mode: Mode,
    now_ms: i64,
) -> Result<(), SupervisorError> {
    validate_id(id)?;
    let Some(r) = row(conn, id)? else {
        return Err(SupervisorError::UnknownSupervisor(id.to_string()));
    };
    if enabled && !may_approve_in(mode, id, &r) {
        return Err(SupervisorError::DemoOnly(id.to_string()));
    }
    if r.disabled != enabled {
        return Err(SupervisorError::Unchanged {
            id: id.to_string(),
            enabled,
        });
    }
    if !enabled && may_approve_in(mode, id, &r) && approvers(conn, mode)? <= 1 {
        return Err(SupervisorError::LastEnabled(id.to_string()));
    }
    let (action, word) = if enabled {
        ("supervisor_enable", "enabled")
    } else {
        ("supervisor_disable", "disabled")
    };
    atomically(conn, |c| {
        c.execute(
            "UPDATE supervisors SET disabled = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, i64::from(!enabled), now_ms],
        )?;
        audit(
            c,
            now_ms,
            &by.supervisor,
            action,
            &format!("supervisor '{id}' {word}, approved by '{}'", by.supervisor),
        )
    })
}

/// One supervisor as listed (never the PIN's hash).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Listed {
    /// The id.
    pub id: String,
    /// Whether they may approve (not disabled).
    pub enabled: bool,
    /// The simulator's demo supervisor.
    pub demo: bool,
    /// When added, ms since the Unix epoch.
    pub created_ms: i64,
    /// When last changed, ms since the Unix epoch.
    pub updated_ms: i64,
}

/// Every supervisor, by id.
pub fn list(conn: &Connection) -> Result<Vec<Listed>, SupervisorError> {
    let mut stmt = conn.prepare(
        "SELECT id, disabled, demo, created_at, updated_at FROM supervisors ORDER BY id",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Listed {
                id: r.get(0)?,
                enabled: r.get::<_, i64>(1)? == 0,
                demo: r.get::<_, i64>(2)? != 0,
                created_ms: r.get(3)?,
                updated_ms: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// What was approved. Only [`approve`] makes one, so a change that takes an `Approval` has
/// had a supervisor's PIN checked.
// Not `#[non_exhaustive]`: that would still let the rest of the crate make one; the private
// field keeps construction inside this module.
#[allow(clippy::manual_non_exhaustive)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    /// The supervisor who approved.
    pub supervisor: String,
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// Made by [`approve`] only.
    _sealed: (),
}

/// The rate-limit state of one typed id at `now_ms`.
struct Limit {
    /// Failures in the window ending now (`at > now_ms - WINDOW_MS`).
    recent_failures: u32,
    /// The end of the lock in force, if any.
    locked_until: Option<i64>,
}

/// Reads the failures of `id` that can still matter and works out the lock.
///
/// A lock starts at a failure that brings the failures in the `WINDOW_MS`
/// ending at it to `MAX_FAILURES`, and lasts `LOCK_MS` from that failure.
/// Successes do not reset anything; attempts refused while locked are not
/// recorded, so a lock ends `LOCK_MS` after the failure that caused it.
fn limit(conn: &Connection, id: &str, now_ms: i64) -> Result<Limit, SupervisorError> {
    let since = now_ms.saturating_sub(WINDOW_MS).saturating_sub(LOCK_MS);
    let mut stmt = conn.prepare(
        "SELECT at FROM pin_attempts WHERE supervisor = ?1 AND ok = 0 AND at > ?2 ORDER BY at",
    )?;
    let failures = stmt
        .query_map(params![id, since], |r| r.get::<_, i64>(0))?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    let need = MAX_FAILURES as usize;
    let mut locked_until = None;
    for (i, &at) in failures.iter().enumerate() {
        if i + 1 >= need && failures[i + 1 - need] > at.saturating_sub(WINDOW_MS) {
            let until = at.saturating_add(LOCK_MS);
            if now_ms < until {
                locked_until = Some(locked_until.map_or(until, |u: i64| u.max(until)));
            }
        }
    }
    let window_start = now_ms.saturating_sub(WINDOW_MS);
    let recent = failures.iter().filter(|&&at| at > window_start).count();
    Ok(Limit {
        recent_failures: u32::try_from(recent).unwrap_or(u32::MAX),
        locked_until,
    })
}

/// The audit actor for a typed id: as typed, but cut short if very long.
fn actor_of(id: &str) -> String {
    id.chars().take(AUDIT_ACTOR_MAX_CHARS).collect()
}

/// The audit text for an action and its detail.
fn what(action: &str, detail: &str) -> String {
    if detail.is_empty() {
        action.to_string()
    } else {
        format!("{action}: {detail}")
    }
}

/// Writes a refusal to the audit log (and, when `count` is true, a failed
/// attempt for the typed id) and returns `err`.
fn refuse(
    conn: &Connection,
    id: &str,
    asked: &str,
    reason: &str,
    now_ms: i64,
    count: bool,
    err: SupervisorError,
) -> Result<Approval, SupervisorError> {
    let text = format!("refused {asked} — {reason}");
    atomically(conn, |c| {
        if count {
            record_attempt(c, id, now_ms, false)?;
        }
        audit(c, now_ms, &actor_of(id), "refuse", &text)
    })?;
    Err(err)
}

/// Asks supervisor `id` to approve `action` (with `detail`, e.g. the order and
/// amount) by typing `pin`, in `mode`.
///
/// In order: a malformed id is refused ([`SupervisorError::BadId`]); a
/// disabled supervisor is refused; outside simulator mode the demo supervisor is refused
/// ([`SupervisorError::DemoOnly`]); a locked id is refused without checking the
/// PIN; an unknown id is refused and counts as a failed attempt for that id; a
/// wrong (or malformed) PIN counts as a failed attempt and is refused with the
/// attempts left; the right PIN records a good attempt and approves. Each
/// outcome is written to the audit log (`approve` or `refuse`, actor = the id
/// as typed); the PIN never is.
///
/// The database is read first, then the (slow) argon2 verify runs, then the
/// writes happen, all on `conn`.
pub fn approve(
    conn: &Connection,
    id: &str,
    pin: &str,
    action: &str,
    detail: &str,
    mode: Mode,
    now_ms: i64,
) -> Result<Approval, SupervisorError> {
    if let Err(e) = validate_id(id) {
        return refuse(
            conn,
            id,
            &what(action, detail),
            "malformed supervisor id",
            now_ms,
            false,
            e,
        );
    }
    let row = row(conn, id)?;
    let limit = limit(conn, id, now_ms)?;

    if let Some(Row { disabled: true, .. }) = row {
        let err = SupervisorError::Disabled(id.to_string());
        return refuse(
            conn,
            id,
            &what(action, detail),
            "supervisor is disabled",
            now_ms,
            false,
            err,
        );
    }
    if let Some(r) = &row
        && !may_approve_in(mode, id, r)
    {
        let err = SupervisorError::DemoOnly(id.to_string());
        return refuse(
            conn,
            id,
            &what(action, detail),
            "the demo supervisor approves nothing outside simulator mode",
            now_ms,
            false,
            err,
        );
    }
    if let Some(until_ms) = limit.locked_until {
        let reason = format!("locked after too many wrong PINs, until {until_ms} ms");
        let err = SupervisorError::Locked { until_ms };
        return refuse(conn, id, &what(action, detail), &reason, now_ms, false, err);
    }
    let Some(Row { phc, .. }) = row else {
        let err = SupervisorError::UnknownSupervisor(id.to_string());
        return refuse(
            conn,
            id,
            &what(action, detail),
            "unknown supervisor",
            now_ms,
            true,
            err,
        );
    };

    // A malformed PIN cannot match (add only stores valid ones): skip the hash.
    let ok = validate_pin(pin).is_ok() && verify(&phc, pin)?;

    if ok {
        let text = format!("approved {}", what(action, detail));
        atomically(conn, |c| {
            record_attempt(c, id, now_ms, true)?;
            audit(c, now_ms, id, "approve", &text)
        })?;
        return Ok(Approval {
            supervisor: id.to_string(),
            at_ms: now_ms,
            _sealed: (),
        });
    }
    let remaining = MAX_FAILURES.saturating_sub(limit.recent_failures.saturating_add(1));
    let reason = format!("wrong PIN, {remaining} attempts left before a lock");
    let err = SupervisorError::WrongPin { remaining };
    refuse(conn, id, &what(action, detail), &reason, now_ms, true, err)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000_000;

    /// An approval as [`approve`] would make it (the tests are inside the seal).
    fn approved_by(id: &str, at_ms: i64) -> Approval {
        Approval {
            supervisor: id.to_string(),
            at_ms,
            _sealed: (),
        }
    }

    /// The first supervisor by `init`, further ones approved by "boss" (live rules).
    fn add(conn: &Connection, id: &str, pin: &str, now_ms: i64) -> Result<(), SupervisorError> {
        if approvers(conn, Mode::Live)? == 0 {
            init(conn, id, pin, Mode::Live, now_ms)
        } else {
            super::add(
                conn,
                id,
                pin,
                &approved_by("boss", now_ms),
                Mode::Live,
                now_ms,
            )
        }
    }

    /// [`super::approve`] in live mode.
    fn approve(
        conn: &Connection,
        id: &str,
        pin: &str,
        action: &str,
        detail: &str,
        now_ms: i64,
    ) -> Result<Approval, SupervisorError> {
        super::approve(conn, id, pin, action, detail, Mode::Live, now_ms)
    }

    /// An in-memory database with the project's whole schema.
    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::schema::migrate(&mut conn).unwrap();
        conn
    }

    /// (actor, action, detail) of every audit row, oldest first.
    fn audit_rows(conn: &Connection) -> Vec<(String, String, String)> {
        let mut stmt = conn
            .prepare("SELECT actor, action, detail FROM audit_log ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    fn attempts(conn: &Connection, id: &str) -> Vec<(i64, i64)> {
        let mut stmt = conn
            .prepare("SELECT at, ok FROM pin_attempts WHERE supervisor = ?1 ORDER BY id")
            .unwrap();
        stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    fn stored_hash(conn: &Connection, id: &str) -> String {
        conn.query_row(
            "SELECT pin_hash FROM supervisors WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap()
    }

    /// Every text value of every table that contains `needle`, as "table.column".
    fn text_hits(conn: &Connection, needle: &str) -> Vec<String> {
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(tables.len() >= 3, "{tables:?}");
        let mut hits = Vec::new();
        for t in tables {
            let cols: Vec<String> = conn
                .prepare(&format!("SELECT name FROM pragma_table_info('{t}')"))
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            for c in cols {
                let n: i64 = conn
                    .query_row(
                        &format!(
                            "SELECT count(*) FROM \"{t}\" WHERE typeof(\"{c}\") = 'text' AND instr(\"{c}\", ?1) > 0"
                        ),
                        [needle],
                        |r| r.get(0),
                    )
                    .unwrap();
                if n > 0 {
                    hits.push(format!("{t}.{c}"));
                }
            }
        }
        hits
    }

    fn assert_no_secret_in_audit(conn: &Connection, pin: &str) {
        for (actor, action, detail) in audit_rows(conn) {
            for field in [&actor, &action, &detail] {
                assert!(!field.contains(pin), "PIN in audit row: {field}");
                assert!(!field.contains("$argon2"), "hash in audit row: {field}");
            }
        }
    }

    #[test]
    fn hash_verify_round_trip_salt_and_format() {
        let a = hash_pin("918273").unwrap();
        let b = hash_pin("918273").unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "two hashes of one PIN must differ by their salt");
        assert!(verify_pin(&a, "918273"));
        assert!(verify_pin(&b, "918273"));
        assert!(!verify_pin(&a, "918274"));
        assert!(!verify_pin("not a phc string", "918273"));
        assert!(matches!(
            verify("not a phc string", "1"),
            Err(SupervisorError::Hash(_))
        ));
    }

    #[test]
    fn validation_messages() {
        for ok in ["a", "demo", "Wang_Li-2.x", &"x".repeat(32)] {
            validate_id(ok).unwrap();
        }
        let msg = |r: Result<(), SupervisorError>| match r {
            Err(SupervisorError::BadId(m)) | Err(SupervisorError::BadPin(m)) => m,
            other => panic!("expected a validation error, got {other:?}"),
        };
        assert!(msg(validate_id("")).contains("empty"));
        assert!(msg(validate_id(&"x".repeat(33))).contains("at most 32"));
        assert!(msg(validate_id("wang li")).contains("' '"));
        assert!(msg(validate_id("王")).contains("letters A–Z"));

        for ok in ["0000", "1234", "918273", "123456789012"] {
            validate_pin(ok).unwrap();
            validate_new_pin(ok, Mode::Simulator).unwrap();
        }
        for short in ["0000", "12345"] {
            let m = msg(validate_new_pin(short, Mode::Live));
            assert!(m.contains("6 to 12"), "{m}");
        }
        validate_new_pin("918273", Mode::Live).unwrap();
        let m = msg(validate_pin("123"));
        assert!(m.contains("3 digits") && m.contains("4 to 12"), "{m}");
        assert!(msg(validate_pin("1234567890123")).contains("13 digits"));
        assert!(msg(validate_pin("")).contains("0 digits"));
        let m = msg(validate_pin("12a4"));
        assert!(m.contains("only the digits") && !m.contains("12a4"), "{m}");
        assert!(msg(validate_pin("１２３４")).contains("only the digits"));
    }

    #[test]
    fn add_then_approve() {
        let conn = db();
        add(&conn, "wang", "918273", T0).unwrap();
        assert!(exists(&conn, "wang").unwrap());
        assert!(!exists(&conn, "li").unwrap());
        let ap = approve(
            &conn,
            "wang",
            "918273",
            "refund",
            "order 42, ¥12.50",
            T0 + 5,
        )
        .unwrap();
        assert_eq!(
            ap,
            Approval {
                supervisor: "wang".into(),
                at_ms: T0 + 5,
                _sealed: (),
            }
        );
        let rows = audit_rows(&conn);
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(rows[0].0, "wang");
        assert_eq!(rows[0].1, "supervisor_init");
        assert_eq!(rows[1].0, "wang");
        assert_eq!(rows[1].1, "approve");
        assert!(rows[1].2.contains("refund") && rows[1].2.contains("order 42, ¥12.50"));
        assert_eq!(attempts(&conn, "wang"), vec![(T0 + 5, 1)]);
        assert_no_secret_in_audit(&conn, "918273");
        // Bad input to add is refused before anything is written.
        assert!(matches!(
            add(&conn, "bad id", "1234", T0),
            Err(SupervisorError::BadId(_))
        ));
        assert!(matches!(
            add(&conn, "li", "12", T0),
            Err(SupervisorError::BadPin(_))
        ));
        assert_eq!(audit_rows(&conn).len(), 2);
    }

    #[test]
    fn wrong_pins_count_down_then_lock_then_expire() {
        let conn = db();
        add(&conn, "wang", "918273", T0).unwrap();
        for (i, want) in [4u32, 3, 2, 1, 0].into_iter().enumerate() {
            let at = T0 + 1000 * i as i64;
            match approve(&conn, "wang", "111111", "refund", "order 7", at) {
                Err(SupervisorError::WrongPin { remaining }) => assert_eq!(remaining, want),
                other => panic!("attempt {i}: {other:?}"),
            }
        }
        let last_failure = T0 + 4000;
        let until_ms = last_failure + LOCK_MS;
        // Locked, even with the right PIN; nothing recorded as an attempt.
        for at in [last_failure + 1, until_ms - 1] {
            match approve(&conn, "wang", "918273", "refund", "order 7", at) {
                Err(SupervisorError::Locked { until_ms: u }) => assert_eq!(u, until_ms),
                other => panic!("expected Locked at {at}: {other:?}"),
            }
        }
        assert_eq!(attempts(&conn, "wang").len(), 5);
        let rows = audit_rows(&conn);
        assert_eq!(rows.iter().filter(|r| r.1 == "refuse").count(), 7);
        assert!(
            rows[1].2.contains("wrong PIN") && rows[1].2.contains("order 7"),
            "{rows:?}"
        );
        assert!(rows.last().unwrap().2.contains("locked"), "{rows:?}");
        // The lock ends by itself LOCK_MS after the failure that caused it.
        let ap = approve(&conn, "wang", "918273", "refund", "order 7", until_ms).unwrap();
        assert_eq!(ap.at_ms, until_ms);
        assert_eq!(rows.len() + 1, audit_rows(&conn).len());
        assert_no_secret_in_audit(&conn, "918273");
    }

    #[test]
    fn lock_lasts_from_the_failure_that_caused_it() {
        // Failures spread over the window: the lock runs LOCK_MS from the
        // fifth, not until the first leaves the window.
        let conn = db();
        add(&conn, "wang", "918273", T0).unwrap();
        let step = 2 * 60 * 1000;
        for i in 0..5 {
            let r = approve(&conn, "wang", "1111", "refund", "", T0 + step * i);
            assert!(matches!(r, Err(SupervisorError::WrongPin { .. })), "{r:?}");
        }
        let fifth = T0 + step * 4;
        let r = approve(&conn, "wang", "918273", "refund", "", T0 + WINDOW_MS + 1);
        assert!(
            matches!(r, Err(SupervisorError::Locked { until_ms }) if until_ms == fifth + LOCK_MS),
            "{r:?}"
        );
    }

    #[test]
    fn success_does_not_reset_the_count() {
        let conn = db();
        add(&conn, "wang", "918273", T0).unwrap();
        for i in 0..4 {
            approve(&conn, "wang", "1111", "reprint", "", T0 + i).unwrap_err();
        }
        approve(&conn, "wang", "918273", "reprint", "", T0 + 10).unwrap();
        let r = approve(&conn, "wang", "1111", "reprint", "", T0 + 11);
        assert!(
            matches!(r, Err(SupervisorError::WrongPin { remaining: 0 })),
            "{r:?}"
        );
        let r = approve(&conn, "wang", "918273", "reprint", "", T0 + 12);
        assert!(matches!(r, Err(SupervisorError::Locked { .. })), "{r:?}");
    }

    #[test]
    fn unknown_supervisor_refused_audited_and_rate_limited() {
        let conn = db();
        let r = approve(&conn, "ghost", "1234", "close_shift", "shift 3 forced", T0);
        assert!(
            matches!(&r, Err(SupervisorError::UnknownSupervisor(id)) if id == "ghost"),
            "{r:?}"
        );
        let rows = audit_rows(&conn);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].0, "ghost");
        assert_eq!(rows[0].1, "refuse");
        assert!(rows[0].2.contains("close_shift") && rows[0].2.contains("shift 3 forced"));
        assert!(rows[0].2.contains("unknown supervisor"));
        assert!(!rows[0].2.contains("1234"));
        assert_eq!(attempts(&conn, "ghost"), vec![(T0, 0)]);
        for i in 1..5 {
            approve(&conn, "ghost", "1234", "close_shift", "", T0 + i).unwrap_err();
        }
        let r = approve(&conn, "ghost", "1234", "close_shift", "", T0 + 5);
        assert!(
            matches!(r, Err(SupervisorError::Locked { until_ms }) if until_ms == T0 + 4 + LOCK_MS),
            "{r:?}"
        );
        // A malformed id is refused and audited, but not counted.
        let r = approve(&conn, "no such id!", "1234", "refund", "", T0);
        assert!(matches!(r, Err(SupervisorError::BadId(_))), "{r:?}");
        assert_eq!(audit_rows(&conn).last().unwrap().0, "no such id!");
        assert!(attempts(&conn, "no such id!").is_empty());
    }

    #[test]
    fn disabled_refused() {
        let conn = db();
        add(&conn, "boss", "482915", T0).unwrap();
        add(&conn, "wang", "918273", T0).unwrap();
        let boss = approved_by("boss", T0 + 1);
        set_enabled(&conn, "wang", false, &boss, Mode::Live, T0 + 1).unwrap();
        let r = approve(&conn, "wang", "918273", "refund", "order 9", T0 + 1);
        assert!(
            matches!(&r, Err(SupervisorError::Disabled(id)) if id == "wang"),
            "{r:?}"
        );
        let last = audit_rows(&conn).pop().unwrap();
        assert_eq!((last.0.as_str(), last.1.as_str()), ("wang", "refuse"));
        assert!(last.2.contains("disabled") && last.2.contains("order 9"));
        // A PIN change leaves it disabled; enabling brings it back.
        set_pin(&conn, "wang", "555555", &boss, Mode::Live, T0 + 2).unwrap();
        assert!(approve(&conn, "wang", "555555", "refund", "", T0 + 2).is_err());
        let r = set_enabled(&conn, "wang", false, &boss, Mode::Live, T0 + 2);
        assert!(
            matches!(r, Err(SupervisorError::Unchanged { enabled: false, .. })),
            "{r:?}"
        );
        set_enabled(&conn, "wang", true, &boss, Mode::Live, T0 + 3).unwrap();
        approve(&conn, "wang", "555555", "refund", "order 9", T0 + 3).unwrap();
        let actions: Vec<String> = audit_rows(&conn)
            .into_iter()
            .filter(|r| r.1.starts_with("supervisor_"))
            .map(|r| format!("{} {}", r.0, r.1))
            .collect();
        assert_eq!(
            actions,
            [
                "boss supervisor_init",
                "boss supervisor_add",
                "boss supervisor_disable",
                "boss supervisor_pin",
                "boss supervisor_enable"
            ]
        );
    }

    #[test]
    fn the_last_enabled_supervisor_stays() {
        let conn = db();
        add(&conn, "boss", "482915", T0).unwrap();
        let boss = approved_by("boss", T0);
        let r = set_enabled(&conn, "boss", false, &boss, Mode::Live, T0);
        assert!(matches!(r, Err(SupervisorError::LastEnabled(_))), "{r:?}");
        add(&conn, "wang", "918273", T0).unwrap();
        set_enabled(&conn, "boss", false, &boss, Mode::Live, T0).unwrap();
        let r = set_enabled(&conn, "wang", false, &boss, Mode::Live, T0);
        assert!(matches!(r, Err(SupervisorError::LastEnabled(_))), "{r:?}");
        // In live mode the demo does not count as someone who can approve.
        ensure_demo(&conn, T0).unwrap();
        let r = set_enabled(&conn, "wang", false, &boss, Mode::Live, T0);
        assert!(matches!(r, Err(SupervisorError::LastEnabled(_))), "{r:?}");
    }

    #[test]
    fn init_only_while_nobody_can_approve() {
        let conn = db();
        // Live: the demo (from an old folder) does not count, and its id is not for live use.
        ensure_demo(&conn, T0).unwrap();
        let r = init(&conn, "demo", "482915", Mode::Live, T0);
        assert!(matches!(r, Err(SupervisorError::DemoOnly(_))), "{r:?}");
        let r = init(&conn, "boss", "1234", Mode::Live, T0);
        assert!(matches!(r, Err(SupervisorError::BadPin(_))), "{r:?}");
        init(&conn, "boss", "482915", Mode::Live, T0).unwrap();
        let r = init(&conn, "evil", "918273", Mode::Live, T0);
        assert!(matches!(r, Err(SupervisorError::AlreadySetUp)), "{r:?}");
        // Simulator: the demo is someone who can approve.
        let sim = db();
        ensure_demo(&sim, T0).unwrap();
        let r = init(&sim, "boss", "4829", Mode::Simulator, T0);
        assert!(matches!(r, Err(SupervisorError::AlreadySetUp)), "{r:?}");
        assert_eq!(list(&sim).unwrap().len(), 1);
    }

    #[test]
    fn add_refuses_an_existing_id_and_the_demo_id_in_live_mode() {
        let conn = db();
        add(&conn, "boss", "482915", T0).unwrap();
        let boss = approved_by("boss", T0);
        let r = super::add(&conn, "boss", "918273", &boss, Mode::Live, T0);
        assert!(matches!(r, Err(SupervisorError::Exists(_))), "{r:?}");
        let r = super::add(&conn, "demo", "918273", &boss, Mode::Live, T0);
        assert!(matches!(r, Err(SupervisorError::DemoOnly(_))), "{r:?}");
        let r = super::add(&conn, "li", "1234", &boss, Mode::Live, T0);
        assert!(matches!(r, Err(SupervisorError::BadPin(_))), "{r:?}");
        super::add(&conn, "li", "1234", &boss, Mode::Simulator, T0).unwrap();
        let ids: Vec<String> = list(&conn).unwrap().into_iter().map(|l| l.id).collect();
        assert_eq!(ids, ["boss", "li"]);
    }

    #[test]
    fn the_demo_supervisor_approves_only_in_simulator_mode() {
        let conn = db();
        ensure_demo(&conn, T0).unwrap();
        let listed = list(&conn).unwrap();
        assert!(listed[0].demo && listed[0].enabled, "{listed:?}");
        super::approve(&conn, "demo", "0000", "refund", "", Mode::Simulator, T0).unwrap();
        let r = super::approve(&conn, "demo", "0000", "refund", "", Mode::Live, T0 + 1);
        assert!(matches!(r, Err(SupervisorError::DemoOnly(_))), "{r:?}");
        let last = audit_rows(&conn).pop().unwrap();
        assert_eq!((last.0.as_str(), last.1.as_str()), ("demo", "refuse"));
        // A row with the demo's id but not marked (a hand edit) is refused just the same,
        // and so is a marked row under another id.
        let conn = db();
        let phc = hash_pin("000000").unwrap();
        conn.execute(
            "INSERT INTO supervisors (id, pin_hash, created_at, updated_at) VALUES ('demo', ?1, 0, 0)",
            [&phc],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO supervisors (id, pin_hash, created_at, updated_at, demo) VALUES ('x', ?1, 0, 0, 1)",
            [&phc],
        )
        .unwrap();
        assert!(has_demo(&conn).unwrap());
        for id in ["demo", "x"] {
            let r = super::approve(&conn, id, "000000", "refund", "", Mode::Live, T0);
            assert!(
                matches!(r, Err(SupervisorError::DemoOnly(_))),
                "{id}: {r:?}"
            );
        }
        assert_eq!(approvers(&conn, Mode::Live).unwrap(), 0);
        assert_eq!(approvers(&conn, Mode::Simulator).unwrap(), 2);
    }

    #[test]
    fn ensure_demo_is_idempotent_and_keeps_a_changed_pin() {
        let conn = db();
        ensure_demo(&conn, T0).unwrap();
        assert!(exists(&conn, "demo").unwrap());
        let first = stored_hash(&conn, "demo");
        assert!(verify_pin(&first, "0000"));
        ensure_demo(&conn, T0 + 1).unwrap();
        assert_eq!(
            stored_hash(&conn, "demo"),
            first,
            "second call must not re-hash"
        );
        let demo = approved_by("demo", T0 + 2);
        set_pin(&conn, "demo", "918273", &demo, Mode::Simulator, T0 + 2).unwrap();
        let changed = stored_hash(&conn, "demo");
        ensure_demo(&conn, T0 + 3).unwrap();
        assert_eq!(stored_hash(&conn, "demo"), changed);
        let adds = audit_rows(&conn)
            .iter()
            .filter(|r| r.1 == "supervisor_add")
            .count();
        assert_eq!(adds, 1);
        let r = super::approve(
            &conn,
            "demo",
            "0000",
            "reprint",
            "",
            Mode::Simulator,
            T0 + 4,
        );
        assert!(
            matches!(r, Err(SupervisorError::WrongPin { remaining: 4 })),
            "{r:?}"
        );
    }

    #[test]
    fn pin_appears_in_no_table_nor_the_file() {
        const PIN: &str = "918273";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scanpay.db");
        {
            let conn = crate::store::open_connection(&path).unwrap();
            add(&conn, "wang", PIN, T0).unwrap();
            approve(&conn, "wang", PIN, "refund", "order 1", T0 + 1).unwrap();
            approve(&conn, "wang", "1111", "refund", "order 2", T0 + 2).unwrap_err();
            approve(&conn, "li", PIN, "refund", "order 3", T0 + 3).unwrap_err();
            set_pin(
                &conn,
                "wang",
                PIN,
                &approved_by("wang", T0 + 4),
                Mode::Live,
                T0 + 4,
            )
            .unwrap();
            assert_eq!(audit_rows(&conn).len(), 5);
            for l in list(&conn).unwrap() {
                assert!(!format!("{l:?}").contains("argon2"));
            }
            assert_eq!(text_hits(&conn, PIN), Vec::<String>::new());
            // The self-check can fail: the id is found where it was written.
            assert!(text_hits(&conn, "wang").contains(&"audit_log.actor".to_string()));
            assert_no_secret_in_audit(&conn, PIN);
        }
        let bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.windows(PIN.len()).any(|w| w == PIN.as_bytes()));
    }

    #[test]
    fn writes_join_a_transaction_already_open() {
        let conn = db();
        conn.execute_batch("BEGIN").unwrap();
        let r = approve(&conn, "ghost", "1234", "refund", "", T0);
        assert!(matches!(r, Err(SupervisorError::UnknownSupervisor(_))));
        conn.execute_batch("ROLLBACK").unwrap();
        assert!(audit_rows(&conn).is_empty());
        assert!(attempts(&conn, "ghost").is_empty());
    }
}
