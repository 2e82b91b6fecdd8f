//! Orders and their append-only event log.

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use serde::Serialize;

use super::{StoreError, meta_get_or_init};
use crate::config::Api;
use crate::money::Fen;
use crate::order::{EventKind, OrderState, PartyKind, Reason};

/// A new sale, as written before its pay call leaves.
#[derive(Clone, Debug)]
pub struct NewOrder {
    /// The open shift.
    pub shift_id: i64,
    /// This till.
    pub terminal_id: String,
    /// Who is selling.
    pub cashier: String,
    /// Amount.
    pub amount: Fen,
    /// Goods description.
    pub description: String,
    /// The masked payment code (the full code is never stored).
    pub code_masked: String,
    /// Keyed hash of the full code, for the duplicate guard.
    pub code_fingerprint: String,
    /// The WeChat Pay API the order is made over (the client's, at creation).
    pub protocol: Api,
    /// Whom it is charged for (the till's configuration says; the store writes what it is
    /// told).
    pub party: PartyKind,
    /// The sub-merchant's number: `Some` exactly when `party` is
    /// [`PartyKind::ServiceProvider`] (the log refuses anything else).
    pub sub_mchid: Option<String>,
}

/// An order as stored.
#[derive(Clone, Debug, Serialize)]
pub struct OrderRecord {
    /// Row id.
    pub id: i64,
    /// Merchant order number.
    pub out_trade_no: String,
    /// Shift.
    pub shift_id: i64,
    /// Till.
    pub terminal_id: String,
    /// Cashier.
    pub cashier: String,
    /// Amount.
    pub amount: Fen,
    /// Description.
    pub description: String,
    /// Masked code.
    pub code_masked: String,
    /// Whom it was charged for (`direct` for every order written before service-provider
    /// mode existed).
    pub party: PartyKind,
    /// The sub-merchant's number (特约商户号) in service-provider mode, else `None`.
    pub sub_mchid: Option<String>,
    /// Contract state.
    pub state: OrderState,
    /// The payment flow's snapshot, as the engine wrote it (the store does not read it).
    #[serde(skip)]
    pub snapshot: String,
    /// WeChat order number.
    pub transaction_id: Option<String>,
    /// Reason code, when failed / reversed / unresolved.
    pub reason_code: Option<String>,
    /// Why it ended as it did, when failed / reversed / unresolved.
    pub reason: Option<Reason>,
    /// Created (Unix ms).
    pub created_at: i64,
    /// Last change (Unix ms).
    pub updated_at: i64,
    /// The WeChat Pay API the order was made over; it is settled over that one only.
    #[serde(serialize_with = "api_name")]
    pub protocol: Api,
}

fn api_name<S: serde::Serializer>(api: &Api, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(api.as_str())
}

/// The stored spelling of an API (`v3`, `v2`).
pub fn parse_api(s: &str) -> Option<Api> {
    match s {
        "v3" => Some(Api::V3),
        "v2" => Some(Api::V2),
        _ => None,
    }
}

/// What the engine decided at one step of an order: persisted with its event, atomically.
#[derive(Clone, Copy, Debug)]
pub struct Change<'a> {
    /// What happened.
    pub kind: EventKind,
    /// JSON detail of the event (never a payment code or a key).
    pub detail: &'a str,
    /// The order's state after it.
    pub state: OrderState,
    /// The flow's snapshot after it.
    pub snapshot: &'a str,
    /// WeChat's order number, once known.
    pub transaction_id: Option<&'a str>,
    /// Why it ended as it did.
    pub reason: Option<&'a Reason>,
}

/// One entry of an order's timeline.
#[derive(Clone, Debug, Serialize)]
pub struct OrderEvent {
    /// When (Unix ms).
    pub at: i64,
    /// What happened.
    pub kind: EventKind,
    /// JSON detail (never a payment code or a key).
    pub detail: String,
    /// The order's state after it.
    pub state_after: String,
}

const COLUMNS: &str = "id, out_trade_no, shift_id, terminal_id, cashier, amount_fen, description, code_masked, state, machine, transaction_id, reason_code, created_at, updated_at, reason, protocol, party, sub_mchid";

fn from_row(r: &Row<'_>) -> rusqlite::Result<OrderRecord> {
    let state: String = r.get(8)?;
    let reason: Option<String> = r.get(14)?;
    let protocol: String = r.get(15)?;
    let party: String = r.get(16)?;
    let conv = |i: usize, e: String| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    };
    Ok(OrderRecord {
        id: r.get(0)?,
        out_trade_no: r.get(1)?,
        shift_id: r.get(2)?,
        terminal_id: r.get(3)?,
        cashier: r.get(4)?,
        amount: Fen(r.get(5)?),
        description: r.get(6)?,
        code_masked: r.get(7)?,
        party: PartyKind::parse(&party)
            .ok_or_else(|| conv(16, format!("unknown party {party}")))?,
        sub_mchid: r.get(17)?,
        state: OrderState::parse(&state)
            .ok_or_else(|| conv(8, format!("unknown state {state}")))?,
        snapshot: r.get(9)?,
        transaction_id: r.get(10)?,
        reason_code: r.get(11)?,
        reason: reason
            .map(|j| serde_json::from_str(&j))
            .transpose()
            .map_err(|e| conv(14, e.to_string()))?,
        created_at: r.get(12)?,
        updated_at: r.get(13)?,
        protocol: parse_api(&protocol)
            .ok_or_else(|| conv(15, format!("unknown protocol {protocol}")))?,
    })
}

/// Order numbers: `{terminal}-{yymmdd}-{epoch}-{seq}`, at most 32 characters (terminal ≤ 12,
/// the Beijing date for people, the epoch in 6 base-36 digits, `seq` in 5 digits). Unique by
/// construction, not by timing:
///
/// - an **epoch** belongs to one run of one writer (one process's connection): the first order
///   of a run mints it as `max(last epoch in this log + 1, last epoch in the sidecar file + 1,
///   seconds since 2026-01-01 Beijing)`, records it in the log (in the order's own transaction)
///   and durably in `scanpay.db.epochs` beside the log (before the number is used), and keeps it
///   for the run in a per-connection temporary table;
/// - `seq` counts the run's orders (any rate: nothing depends on the clock), and a run that
///   reaches 99 999 orders mints the next epoch;
/// - a log restored from an older copy has an older last epoch, but the sidecar file in the data
///   folder (which a restore of the log does not touch) makes the next one larger than any used
///   since; a whole folder restored from an old snapshot still gets an epoch from the clock,
///   later than every earlier run's start (the one assumption: the clock does not go back
///   across a restore — docs/robustness.md "Order numbers");
/// - across tills of one merchant, the terminal id (unique per merchant: docs/configuration.md).
///
/// Numbers made by earlier builds (`{terminal}-{yyyymmdd}-{2 letters}-{6+ digits}`) cannot meet
/// these: their date and epoch fields have other lengths.
mod numbers {
    use std::io::Write;

    use rusqlite::{Connection, OptionalExtension};

    use crate::clock::beijing;
    use crate::store::StoreError;

    /// 2026-01-01T00:00:00+08:00, the epochs' zero.
    const EPOCH_ZERO_UNIX: i64 = 1_767_196_800;
    /// Orders per epoch (5 digits).
    const PER_EPOCH: i64 = 99_999;
    const META_KEY: &str = "order_epoch_secs";

    fn base36(mut n: i64) -> String {
        const A: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let mut out = [b'0'; 6];
        for slot in out.iter_mut().rev() {
            *slot = A[usize::try_from(n.rem_euclid(36)).unwrap_or(0)];
            n /= 36;
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    fn sidecar(conn: &Connection) -> Option<std::path::PathBuf> {
        conn.path()
            .filter(|p| !p.is_empty())
            .map(|p| std::path::PathBuf::from(format!("{p}.epochs")))
    }

    fn io(e: std::io::Error) -> StoreError {
        if e.raw_os_error() == Some(libc::ENOSPC) {
            StoreError::Full
        } else {
            StoreError::Sql(format!("order-number epochs file: {e}"))
        }
    }

    /// Writes the sidecar durably: temporary file, fsync, rename, fsync of the folder.
    fn write_sidecar(path: &std::path::Path, epoch: i64) -> Result<(), StoreError> {
        let tmp = path.with_extension("epochs.tmp");
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        writeln!(f, "{epoch}").map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)?;
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io)?;
        }
        Ok(())
    }

    /// The next order number's `{epoch}-{seq}` for this connection's run, minting an epoch when
    /// the run has none yet or has used its last `seq`. Call inside the order's transaction.
    pub(super) fn next(conn: &Connection, now: i64) -> Result<String, StoreError> {
        // The run's table exists from its first order on; asking SQLite is cheaper than
        // preparing a CREATE for every sale.
        let exists: bool = conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM temp.sqlite_master WHERE name = 'order_run')",
            )?
            .query_row([], |r| r.get(0))?;
        if !exists {
            conn.execute_batch(
                "CREATE TEMP TABLE order_run(epoch INTEGER NOT NULL, seq INTEGER NOT NULL)",
            )?;
        }
        let run: Option<(i64, i64)> = conn
            .prepare_cached("SELECT epoch, seq FROM temp.order_run")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let (epoch, seq) = match run {
            Some((epoch, seq)) if seq < PER_EPOCH => (epoch, seq + 1),
            _ => {
                let in_log: i64 = super::super::meta_get(conn, META_KEY)?
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let path = sidecar(conn);
                let in_file: i64 = path
                    .as_ref()
                    .and_then(|p| std::fs::read_to_string(p).ok())
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                let by_clock = now.div_euclid(1000) - EPOCH_ZERO_UNIX;
                let epoch = (in_log + 1).max(in_file + 1).max(by_clock);
                if let Some(p) = &path {
                    write_sidecar(p, epoch)?;
                }
                conn.execute(
                    "INSERT INTO meta(key, value) VALUES (?1, ?2)
                     ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    rusqlite::params![META_KEY, epoch.to_string()],
                )?;
                conn.execute("DELETE FROM temp.order_run", [])?;
                conn.execute(
                    "INSERT INTO temp.order_run(epoch, seq) VALUES (?1, 0)",
                    [epoch],
                )?;
                (epoch, 1)
            }
        };
        conn.prepare_cached("UPDATE temp.order_run SET seq = ?1")?
            .execute([seq])?;
        Ok(format!(
            "{}-{}-{seq:05}",
            &beijing::compact_date(now)[2..],
            base36(epoch)
        ))
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn base36_is_six_digits() {
            assert_eq!(super::base36(0), "000000");
            assert_eq!(super::base36(35), "00000Z");
            assert_eq!(super::base36(36), "000010");
            // 69 years of seconds fit.
            assert_eq!(super::base36(69 * 365 * 86_400).len(), 6);
        }
    }
}

/// Writes a new order and its `created` event in one transaction, allocating its
/// out_trade_no (see [`numbers`]).
pub fn create(
    conn: &mut Connection,
    new: &NewOrder,
    state: OrderState,
    snapshot: &str,
    now: i64,
) -> Result<OrderRecord, StoreError> {
    create_with(conn, new, state, snapshot, None, now)
}

/// Writes a new order, its `created` event and, when given, the engine's first step (the pay
/// request about to leave) in **one** transaction: a sale's first commit, so the order and its
/// request are durable together before the request is sent (one fsync, not two). Returns the
/// record as written, without reading it back.
pub fn create_with(
    conn: &mut Connection,
    new: &NewOrder,
    state: OrderState,
    snapshot: &str,
    first: Option<&Change<'_>>,
    now: i64,
) -> Result<OrderRecord, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let out_trade_no = format!("{}-{}", new.terminal_id, numbers::next(&tx, now)?);
    let mut record = OrderRecord {
        id: 0,
        out_trade_no,
        shift_id: new.shift_id,
        terminal_id: new.terminal_id.clone(),
        cashier: new.cashier.clone(),
        amount: new.amount,
        description: new.description.clone(),
        code_masked: new.code_masked.clone(),
        party: new.party,
        sub_mchid: new.sub_mchid.clone(),
        state,
        snapshot: snapshot.to_string(),
        transaction_id: None,
        reason_code: None,
        reason: None,
        created_at: now,
        updated_at: now,
        protocol: new.protocol,
    };
    // The row is written once, as it stands after the first change (the `created` event keeps
    // the state it was created in): no second write of the row, its indexes, its running totals
    // and its head-office queue entry in the same commit.
    if let Some(change) = first {
        record.apply(change, now);
    }
    let reason = record
        .reason
        .as_ref()
        .map(serde_json::to_string)
        .transpose()?;
    // Cached statements: a sale's statements are prepared once per connection, not per sale.
    tx.prepare_cached(
        "INSERT INTO orders(out_trade_no, shift_id, terminal_id, cashier, amount_fen, description, code_masked,
                            code_fingerprint, state, machine, created_at, updated_at, protocol, party, sub_mchid,
                            transaction_id, reason_code, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    )?
    .execute(params![
            record.out_trade_no,
            new.shift_id,
            new.terminal_id,
            new.cashier,
            new.amount.0,
            new.description,
            new.code_masked,
            new.code_fingerprint,
            record.state.as_str(),
            record.snapshot,
            now,
            new.protocol.as_str(),
            new.party.as_str(),
            new.sub_mchid,
            record.transaction_id,
            record.reason_code,
            reason
        ])?;
    record.id = tx.last_insert_rowid();
    let created = serde_json::json!({"amount_fen": new.amount.0}).to_string();
    append_event(&tx, record.id, now, EventKind::Created, &created, state)?;
    if let Some(change) = first {
        append_event(
            &tx,
            record.id,
            now,
            change.kind,
            change.detail,
            change.state,
        )?;
    }
    tx.commit()?;
    Ok(record)
}

impl OrderRecord {
    /// The record after `change` was recorded at `now` (what [`record`] writes).
    pub fn apply(&mut self, change: &Change<'_>, now: i64) {
        self.state = change.state;
        change.snapshot.clone_into(&mut self.snapshot);
        if let Some(t) = change.transaction_id {
            self.transaction_id = Some(t.to_string());
        }
        self.reason_code = change.reason.map(Reason::code);
        self.reason = change.reason.cloned();
        self.updated_at = now;
    }
}

/// Appends one event of an order, inside the caller's transaction.
fn append_event(
    tx: &Connection,
    order_id: i64,
    at: i64,
    kind: EventKind,
    detail: &str,
    state_after: OrderState,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO order_events(order_id, at, kind, detail, state_after) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![order_id, at, kind.as_str(), detail, state_after.as_str()])?;
    Ok(())
}

/// Appends the event and updates the order row, inside the caller's transaction.
fn apply(tx: &Connection, order_id: i64, change: &Change<'_>, now: i64) -> Result<(), StoreError> {
    append_event(tx, order_id, now, change.kind, change.detail, change.state)?;
    let reason = change.reason.map(serde_json::to_string).transpose()?;
    let changed = tx
        .prepare_cached(
            "UPDATE orders SET state = ?2, machine = ?3, transaction_id = COALESCE(?4, transaction_id), reason_code = ?5, reason = ?6, updated_at = ?7
         WHERE id = ?1",
        )?
        .execute(params![
            order_id,
            change.state.as_str(),
            change.snapshot,
            change.transaction_id,
            change.reason.map(Reason::code),
            reason,
            now
        ])?;
    if changed != 1 {
        return Err(StoreError::NotFound(format!("order {order_id} not found")));
    }
    Ok(())
}

/// Appends an event and saves the state and snapshot the engine decided with it, in one
/// transaction.
pub fn record(
    conn: &mut Connection,
    order_id: i64,
    change: &Change<'_>,
    now: i64,
) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    apply(&tx, order_id, change, now)?;
    tx.commit()?;
    Ok(())
}

/// One order by row id.
pub fn by_id(conn: &Connection, id: i64) -> Result<OrderRecord, StoreError> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM orders WHERE id = ?1"),
        [id],
        from_row,
    )
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("order {id} not found")))
}

/// One order by out_trade_no.
pub fn by_out_trade_no(conn: &Connection, no: &str) -> Result<Option<OrderRecord>, StoreError> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM orders WHERE out_trade_no = ?1"),
            [no],
            from_row,
        )
        .optional()?)
}

fn list(
    conn: &Connection,
    filter: &str,
    p: impl rusqlite::Params,
) -> Result<Vec<OrderRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM orders {filter} ORDER BY id"
    ))?;
    let rows = stmt
        .query_map(p, from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Orders the engine has not finished (PENDING, USERPAYING).
pub fn in_flight(conn: &Connection) -> Result<Vec<OrderRecord>, StoreError> {
    list(conn, "WHERE state IN ('PENDING', 'USERPAYING')", [])
}

/// Orders that need a person.
pub fn unresolved(conn: &Connection) -> Result<Vec<OrderRecord>, StoreError> {
    list(conn, "WHERE state = 'UNRESOLVED'", [])
}

/// A shift's orders.
pub fn for_shift(conn: &Connection, shift_id: i64) -> Result<Vec<OrderRecord>, StoreError> {
    list(conn, "WHERE shift_id = ?1", [shift_id])
}

/// Every order.
pub fn all(conn: &Connection) -> Result<Vec<OrderRecord>, StoreError> {
    list(conn, "", [])
}

/// Whether a payment code (by fingerprint) was used in a shift already.
pub fn code_used_in_shift(
    conn: &Connection,
    shift_id: i64,
    fingerprint: &str,
) -> Result<Option<OrderRecord>, StoreError> {
    Ok(list(
        conn,
        "WHERE shift_id = ?1 AND code_fingerprint = ?2",
        params![shift_id, fingerprint],
    )?
    .pop())
}

/// An order's timeline.
pub fn events(conn: &Connection, order_id: i64) -> Result<Vec<OrderEvent>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT at, kind, detail, state_after FROM order_events WHERE order_id = ?1 ORDER BY id",
    )?;
    let rows = stmt
        .query_map([order_id], |r| {
            let kind: String = r.get(1)?;
            Ok(OrderEvent {
                at: r.get(0)?,
                kind: EventKind::parse(&kind).ok_or_else(|| {
                    rusqlite::Error::FromSqlConversionFailure(
                        1,
                        rusqlite::types::Type::Text,
                        format!("unknown event kind {kind}").into(),
                    )
                })?,
                detail: r.get(2)?,
                state_after: r.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Keyed SHA-256 of a payment code with this database's secret salt: lets the duplicate guard
/// recognise a code without storing it.
pub fn fingerprint(conn: &Connection, code: &str) -> Result<String, StoreError> {
    use sha2::Digest;
    let salt = meta_get_or_init(conn, "code_salt", || {
        let mut b = [0u8; 16];
        let _ = aws_lc_rs::rand::fill(&mut b);
        b.iter().map(|x| format!("{x:02x}")).collect()
    })?;
    let mut h = sha2::Sha256::new();
    h.update(salt.as_bytes());
    h.update(b"\0");
    h.update(code.as_bytes());
    Ok(h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// An order's refunds for the receipt: (out_refund_no, amount, created_at, status).
pub fn refunds_of(
    conn: &Connection,
    order_id: i64,
) -> Result<Vec<(String, Fen, i64, String)>, StoreError> {
    let mut stmt = conn.prepare("SELECT out_refund_no, amount_fen, created_at, status FROM refunds WHERE order_id = ?1 ORDER BY id")?;
    let rows = stmt
        .query_map([order_id], |r| {
            Ok((r.get(0)?, Fen(r.get(1)?), r.get(2)?, r.get(3)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
