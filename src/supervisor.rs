//! Supervisor approval with PINs.
//!
//! Refunds, forced shift closes and (optionally) reprints need a supervisor's
//! approval. A supervisor is an id plus a PIN of 4–12 digits; the PIN is kept
//! only as an argon2id PHC string (random salt, slow hash) and never written
//! anywhere else, in particular never to the audit log.
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

// The tables (`supervisors`, `pin_attempts`) are created by migration 2 in `store/schema.rs`.

/// Wrong PINs within [`WINDOW_MS`] that lock an id.
pub const MAX_FAILURES: u32 = 5;
/// The window, in milliseconds, in which [`MAX_FAILURES`] wrong PINs lock an id.
pub const WINDOW_MS: i64 = 10 * 60 * 1000;
/// How long, in milliseconds, a lock lasts from the failure that caused it.
pub const LOCK_MS: i64 = 10 * 60 * 1000;

/// The id and PIN of the demo supervisor that [`ensure_demo`] creates.
const DEMO_ID: &str = "demo";
const DEMO_PIN: &str = "0000";
const ID_MAX_CHARS: usize = 32;
const PIN_MIN_DIGITS: usize = 4;
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
    /// Hashing failed, or a stored PIN hash cannot be read.
    #[error("PIN hash: {0}")]
    Hash(String),
    /// The database failed.
    #[error("store: {0}")]
    Store(String),
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

/// Checks a PIN: 4–12 ASCII digits. Repeated digits (such as the demo PIN
/// `0000`) are allowed. The message never repeats the PIN.
pub fn validate_pin(pin: &str) -> Result<(), SupervisorError> {
    if !pin.chars().all(|c| c.is_ascii_digit()) {
        return Err(SupervisorError::BadPin(format!(
            "PIN may contain only the digits 0–9 ({PIN_MIN_DIGITS} to {PIN_MAX_DIGITS} of them)"
        )));
    }
    let len = pin.len();
    if !(PIN_MIN_DIGITS..=PIN_MAX_DIGITS).contains(&len) {
        return Err(SupervisorError::BadPin(format!(
            "PIN has {len} digits: it needs {PIN_MIN_DIGITS} to {PIN_MAX_DIGITS}"
        )));
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

/// Adds a supervisor, or replaces the PIN of an existing one and enables it
/// again. Audited as `supervisor_add` (without the PIN or its hash).
///
/// Replacing a PIN does not lift a lock in force on the id.
pub fn add(conn: &Connection, id: &str, pin: &str, now_ms: i64) -> Result<(), SupervisorError> {
    validate_id(id)?;
    validate_pin(pin)?;
    let before: Option<bool> = conn
        .query_row(
            "SELECT disabled FROM supervisors WHERE id = ?1",
            [id],
            |r| r.get::<_, i64>(0).map(|d| d != 0),
        )
        .optional()?;
    let phc = hash_pin(pin)?;
    let detail = match before {
        None => format!("supervisor '{id}' added"),
        Some(false) => format!("PIN of supervisor '{id}' replaced"),
        Some(true) => format!("PIN of supervisor '{id}' replaced; supervisor enabled again"),
    };
    atomically(conn, |c| {
        c.execute(
            "INSERT INTO supervisors (id, pin_hash, created_at, updated_at, disabled) \
             VALUES (?1, ?2, ?3, ?3, 0) \
             ON CONFLICT (id) DO UPDATE SET pin_hash = excluded.pin_hash, \
             updated_at = excluded.updated_at, disabled = 0",
            params![id, phc, now_ms],
        )?;
        audit(c, now_ms, id, "supervisor_add", &detail)
    })
}

/// Whether a supervisor with this id exists (enabled or disabled).
pub fn exists(conn: &Connection, id: &str) -> Result<bool, SupervisorError> {
    Ok(conn
        .query_row("SELECT 1 FROM supervisors WHERE id = ?1", [id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Adds the supervisor `demo` with PIN `0000`, unless a supervisor `demo`
/// already exists (its PIN, if changed, is left alone).
pub fn ensure_demo(conn: &Connection, now_ms: i64) -> Result<(), SupervisorError> {
    if exists(conn, DEMO_ID)? {
        return Ok(());
    }
    add(conn, DEMO_ID, DEMO_PIN, now_ms)
}

/// What was approved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    /// The supervisor who approved.
    pub supervisor: String,
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: i64,
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
/// amount) by typing `pin`.
///
/// In order: a malformed id is refused ([`SupervisorError::BadId`]); a
/// disabled supervisor is refused; a locked id is refused without checking the
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
    let row: Option<(String, bool)> = conn
        .query_row(
            "SELECT pin_hash, disabled FROM supervisors WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get::<_, i64>(1)? != 0)),
        )
        .optional()?;
    let limit = limit(conn, id, now_ms)?;

    if let Some((_, true)) = row {
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
    if let Some(until_ms) = limit.locked_until {
        let reason = format!("locked after too many wrong PINs, until {until_ms} ms");
        let err = SupervisorError::Locked { until_ms };
        return refuse(conn, id, &what(action, detail), &reason, now_ms, false, err);
    }
    let Some((phc, _)) = row else {
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
        }
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
                at_ms: T0 + 5
            }
        );
        let rows = audit_rows(&conn);
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(rows[0].0, "wang");
        assert_eq!(rows[0].1, "supervisor_add");
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
        add(&conn, "wang", "918273", T0).unwrap();
        conn.execute("UPDATE supervisors SET disabled = 1 WHERE id = 'wang'", [])
            .unwrap();
        let r = approve(&conn, "wang", "918273", "refund", "order 9", T0 + 1);
        assert!(
            matches!(&r, Err(SupervisorError::Disabled(id)) if id == "wang"),
            "{r:?}"
        );
        let last = audit_rows(&conn).pop().unwrap();
        assert_eq!((last.0.as_str(), last.1.as_str()), ("wang", "refuse"));
        assert!(last.2.contains("disabled") && last.2.contains("order 9"));
        // add re-enables with the new PIN.
        add(&conn, "wang", "5555", T0 + 2).unwrap();
        assert!(audit_rows(&conn).pop().unwrap().2.contains("enabled again"));
        approve(&conn, "wang", "5555", "refund", "order 9", T0 + 3).unwrap();
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
        add(&conn, "demo", "918273", T0 + 2).unwrap();
        let changed = stored_hash(&conn, "demo");
        ensure_demo(&conn, T0 + 3).unwrap();
        assert_eq!(stored_hash(&conn, "demo"), changed);
        let adds = audit_rows(&conn)
            .iter()
            .filter(|r| r.1 == "supervisor_add")
            .count();
        assert_eq!(adds, 2);
        let r = approve(&conn, "demo", "0000", "reprint", "", T0 + 4);
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
            add(&conn, "wang", PIN, T0 + 4).unwrap();
            assert_eq!(audit_rows(&conn).len(), 5);
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
