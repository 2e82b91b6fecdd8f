//! Refunds in the shift log. A refund is written (with its own `out_refund_no`) before its
//! request leaves; its answers are appended to the order's event log. What may be refunded
//! and what the order's state becomes are the engine's decisions, handed in as functions and
//! applied inside the same transaction.

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use serde::Serialize;

use super::StoreError;
use super::orders::{self, OrderRecord};
use crate::money::Fen;
use crate::order::{EventKind, OrderState, RefundStatus, Refusal};

/// A refund as stored.
#[derive(Clone, Debug, Serialize)]
pub struct RefundRecord {
    /// Row id.
    pub id: i64,
    /// Our refund number.
    pub out_refund_no: String,
    /// The order's row id.
    pub order_id: i64,
    /// The order's number.
    pub out_trade_no: String,
    /// The shift the refund was made in.
    pub shift_id: i64,
    /// Amount.
    pub amount: Fen,
    /// Reason, as given.
    pub reason: String,
    /// Status.
    pub status: RefundStatus,
    /// The supervisor who approved it.
    pub approved_by: Option<String>,
    /// WeChat's refund id.
    pub refund_id: Option<String>,
    /// The flow's snapshot, as the engine wrote it (the store does not read it).
    #[serde(skip)]
    pub snapshot: String,
    /// Created (Unix ms).
    pub created_at: i64,
    /// Last change (Unix ms).
    pub updated_at: i64,
}

const COLUMNS: &str = "r.id, r.out_refund_no, r.order_id, o.out_trade_no, r.shift_id, r.amount_fen, r.reason, r.status, r.approved_by, r.refund_id, r.machine, r.created_at, r.updated_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<RefundRecord> {
    let status: String = r.get(7)?;
    let conv = |i: usize, e: String| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    };
    Ok(RefundRecord {
        id: r.get(0)?,
        out_refund_no: r.get(1)?,
        order_id: r.get(2)?,
        out_trade_no: r.get(3)?,
        shift_id: r.get(4)?,
        amount: Fen(r.get(5)?),
        reason: r.get(6)?,
        status: RefundStatus::parse(&status)
            .ok_or_else(|| conv(7, format!("unknown refund status {status}")))?,
        approved_by: r.get(8)?,
        refund_id: r.get(9)?,
        snapshot: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
    })
}

fn list(
    conn: &Connection,
    filter: &str,
    p: impl rusqlite::Params,
) -> Result<Vec<RefundRecord>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM refunds r JOIN orders o ON o.id = r.order_id {filter} ORDER BY r.id"
    ))?;
    let rows = stmt
        .query_map(p, from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// One refund by row id.
pub fn by_id(conn: &Connection, id: i64) -> Result<RefundRecord, StoreError> {
    list(conn, "WHERE r.id = ?1", [id])?
        .pop()
        .ok_or_else(|| StoreError::NotFound(format!("refund {id} not found")))
}

/// The refunds of an order.
pub fn of_order(conn: &Connection, order_id: i64) -> Result<Vec<RefundRecord>, StoreError> {
    list(conn, "WHERE r.order_id = ?1", [order_id])
}

/// Refunds whose flow is not over.
pub fn in_flight(conn: &Connection) -> Result<Vec<RefundRecord>, StoreError> {
    list(conn, "WHERE r.status IN ('CREATED', 'PROCESSING')", [])
}

/// Refunds created in a time range (Unix ms, half-open).
pub fn between(
    conn: &Connection,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<RefundRecord>, StoreError> {
    list(
        conn,
        "WHERE r.created_at >= ?1 AND r.created_at < ?2",
        params![from_ms, to_ms],
    )
}

/// How much of an order may still be refunded.
pub fn refundable(conn: &Connection, order: &OrderRecord) -> Result<Fen, StoreError> {
    let reserved: i64 = conn.query_row(
        "SELECT COALESCE(SUM(amount_fen), 0) FROM refunds WHERE order_id = ?1 AND status NOT IN ('CLOSED', 'FAILED')",
        [order.id],
        |r| r.get(0),
    )?;
    Ok(Fen((order.amount.0 - reserved).max(0)))
}

/// What the log holds about an order's refunds when a new one is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tally {
    /// What may still be refunded: the amount less every refund not definitely failed.
    pub left: Fen,
    /// Refunds written so far.
    pub count: i64,
}

/// Writes a new refund (status CREATED, with the engine's initial `snapshot`) of `amount` for
/// an order, if `decide` allows it given the order and its [`Tally`] — read, decided and
/// written in one transaction, before anything is sent.
#[allow(clippy::too_many_arguments)]
pub fn create(
    conn: &mut Connection,
    out_trade_no: &str,
    amount: Fen,
    reason: &str,
    approved_by: Option<&str>,
    shift_id: i64,
    snapshot: &str,
    now: i64,
    decide: impl FnOnce(&OrderRecord, Tally) -> Result<(), Refusal>,
) -> Result<Result<RefundRecord, Refusal>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let Some(order) = orders::by_out_trade_no(&tx, out_trade_no)? else {
        return Ok(Err(Refusal::NoSuchOrder {
            out_trade_no: out_trade_no.to_string(),
        }));
    };
    let count: i64 = tx.query_row(
        "SELECT COUNT(*) FROM refunds WHERE order_id = ?1",
        [order.id],
        |r| r.get(0),
    )?;
    let tally = Tally {
        left: refundable(&tx, &order)?,
        count,
    };
    if let Err(refusal) = decide(&order, tally) {
        return Ok(Err(refusal));
    }
    let out_refund_no = format!("{out_trade_no}-R{}", count + 1);
    tx.execute(
        "INSERT INTO refunds(out_refund_no, order_id, shift_id, amount_fen, reason, status, approved_by, created_at, updated_at, machine)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)",
        params![out_refund_no, order.id, shift_id, amount.0, reason, RefundStatus::Created.as_str(), approved_by, now, snapshot],
    )?;
    let id = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO order_events(order_id, at, kind, detail, state_after) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![order.id, now, EventKind::RefundCreated.as_str(), serde_json::json!({"out_refund_no": out_refund_no, "amount_fen": amount.0}).to_string(), order.state.as_str()],
    )?;
    tx.commit()?;
    by_id(conn, id).map(Ok)
}

/// What the engine decided at one step of a refund.
#[derive(Clone, Copy, Debug)]
pub struct Change<'a> {
    /// What happened.
    pub kind: EventKind,
    /// JSON detail of the event.
    pub detail: &'a str,
    /// The refund's status after it.
    pub status: RefundStatus,
    /// The flow's snapshot after it.
    pub snapshot: &'a str,
    /// WeChat's refund id, once known.
    pub wechat_refund_id: Option<&'a str>,
}

/// Saves a refund's step and appends it to its order's log; the order's state becomes what
/// `order_state` says given the order and the total of its refunds that succeeded — one
/// transaction.
pub fn record(
    conn: &mut Connection,
    refund_id: i64,
    change: &Change<'_>,
    now: i64,
    order_state: impl FnOnce(&OrderRecord, Fen) -> OrderState,
) -> Result<RefundRecord, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let r = by_id(&tx, refund_id)?;
    tx.execute(
        "UPDATE refunds SET status = ?2, machine = ?3, refund_id = COALESCE(?4, refund_id), updated_at = ?5 WHERE id = ?1",
        params![refund_id, change.status.as_str(), change.snapshot, change.wechat_refund_id, now],
    )?;
    let order = orders::by_id(&tx, r.order_id)?;
    let refunded: i64 = tx.query_row(
        "SELECT COALESCE(SUM(amount_fen), 0) FROM refunds WHERE order_id = ?1 AND status = 'SUCCESS'",
        [order.id],
        |row| row.get(0),
    )?;
    let state = order_state(&order, Fen(refunded));
    if state != order.state {
        tx.execute(
            "UPDATE orders SET state = ?2, updated_at = ?3 WHERE id = ?1",
            params![order.id, state.as_str(), now],
        )?;
    }
    let mut d: serde_json::Value =
        serde_json::from_str(change.detail).unwrap_or_else(|_| serde_json::json!({}));
    d["out_refund_no"] = serde_json::json!(r.out_refund_no);
    d["status"] = serde_json::json!(change.status.as_str());
    tx.execute(
        "INSERT INTO order_events(order_id, at, kind, detail, state_after) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![order.id, now, change.kind.as_str(), d.to_string(), state.as_str()],
    )?;
    tx.commit()?;
    by_id(conn, refund_id)
}

/// A refund by its number.
pub fn by_out_refund_no(conn: &Connection, no: &str) -> Result<Option<RefundRecord>, StoreError> {
    Ok(list(conn, "WHERE r.out_refund_no = ?1", [no])?.pop())
}

/// Whether a refund with that number exists (convenience for tests and the CLI).
pub fn exists(conn: &Connection, no: &str) -> Result<bool, StoreError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM refunds WHERE out_refund_no = ?1",
            [no],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}
