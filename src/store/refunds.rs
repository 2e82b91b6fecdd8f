//! Refunds in the shift log. A refund is written (with its own `out_refund_no`) before its
//! request leaves; its answers are appended to the order's event log; the order's state
//! (PAID → PARTIALLY_REFUNDED → REFUNDED) follows the refunds that succeeded.

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use serde::Serialize;

use super::StoreError;
use super::orders::{self, OrderRecord};
use crate::engine::OrderState;
use crate::engine::refund::{RefundMachine, RefundStatus};
use crate::money::Fen;

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
    /// The flow's snapshot.
    pub machine: RefundMachine,
    /// Created (Unix ms).
    pub created_at: i64,
    /// Last change (Unix ms).
    pub updated_at: i64,
}

const COLUMNS: &str = "r.id, r.out_refund_no, r.order_id, o.out_trade_no, r.shift_id, r.amount_fen, r.reason, r.status, r.approved_by, r.refund_id, r.machine, r.created_at, r.updated_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<RefundRecord> {
    let status: String = r.get(7)?;
    let machine: String = r.get(10)?;
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
        machine: serde_json::from_str(&machine).unwrap_or_default(),
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

/// Writes a new refund of `amount` for a paid order, checking that the refunds never exceed
/// the paid amount; returns it (status CREATED). One transaction, before anything is sent.
pub fn create(
    conn: &mut Connection,
    out_trade_no: &str,
    amount: Fen,
    reason: &str,
    approved_by: Option<&str>,
    shift_id: i64,
    now: i64,
) -> Result<RefundRecord, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let order = orders::by_out_trade_no(&tx, out_trade_no)?
        .ok_or_else(|| StoreError::Refused(format!("no order {out_trade_no} in the shift log")))?;
    if !order.state.is_charged() {
        return Err(StoreError::Refused(format!(
            "order {out_trade_no} is {}: only paid orders can be refunded",
            order.state
        )));
    }
    if amount.0 <= 0 {
        return Err(StoreError::Refused(
            "the refund amount must be more than zero".into(),
        ));
    }
    let left = refundable(&tx, &order)?;
    if amount > left {
        return Err(StoreError::Refused(format!(
            "refunds may not exceed the paid amount: paid {}, at most {} left to refund",
            order.amount, left
        )));
    }
    let n: i64 = tx.query_row(
        "SELECT COUNT(*) FROM refunds WHERE order_id = ?1",
        [order.id],
        |r| r.get(0),
    )?;
    if n >= 50 {
        return Err(StoreError::Refused(
            "WeChat Pay allows at most 50 refunds per order".into(),
        ));
    }
    let out_refund_no = format!("{out_trade_no}-R{}", n + 1);
    let machine = RefundMachine::new();
    tx.execute(
        "INSERT INTO refunds(out_refund_no, order_id, shift_id, amount_fen, reason, status, approved_by, created_at, updated_at, machine)
         VALUES (?1, ?2, ?3, ?4, ?5, 'CREATED', ?6, ?7, ?7, ?8)",
        params![out_refund_no, order.id, shift_id, amount.0, reason, approved_by, now, serde_json::to_string(&machine)?],
    )?;
    let id = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO order_events(order_id, at, kind, detail, state_after) VALUES (?1, ?2, 'refund_created', ?3, ?4)",
        params![order.id, now, serde_json::json!({"out_refund_no": out_refund_no, "amount_fen": amount.0}).to_string(), order.state.as_str()],
    )?;
    tx.commit()?;
    by_id(conn, id)
}

/// Appends a refund event to its order's log, saves the refund's snapshot and status, and
/// updates the order's state from the refunds that succeeded — one transaction.
pub fn record(
    conn: &mut Connection,
    refund_id: i64,
    kind: &str,
    detail: &str,
    machine: &RefundMachine,
    wechat_refund_id: Option<&str>,
    now: i64,
) -> Result<RefundRecord, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let r = by_id(&tx, refund_id)?;
    tx.execute(
        "UPDATE refunds SET status = ?2, machine = ?3, refund_id = COALESCE(?4, refund_id), updated_at = ?5 WHERE id = ?1",
        params![refund_id, machine.status.as_str(), serde_json::to_string(machine)?, wechat_refund_id, now],
    )?;
    let order = orders::by_id(&tx, r.order_id)?;
    let refunded: i64 = tx.query_row(
        "SELECT COALESCE(SUM(amount_fen), 0) FROM refunds WHERE order_id = ?1 AND status = 'SUCCESS'",
        [order.id],
        |row| row.get(0),
    )?;
    let state = if refunded >= order.amount.0 {
        OrderState::Refunded
    } else if refunded > 0 {
        OrderState::PartiallyRefunded
    } else {
        order.state
    };
    if state != order.state {
        tx.execute(
            "UPDATE orders SET state = ?2, updated_at = ?3 WHERE id = ?1",
            params![order.id, state.as_str(), now],
        )?;
    }
    let mut d: serde_json::Value =
        serde_json::from_str(detail).unwrap_or_else(|_| serde_json::json!({}));
    d["out_refund_no"] = serde_json::json!(r.out_refund_no);
    d["status"] = serde_json::json!(machine.status.as_str());
    tx.execute(
        "INSERT INTO order_events(order_id, at, kind, detail, state_after) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![order.id, now, kind, d.to_string(), state.as_str()],
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
