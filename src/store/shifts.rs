//! Shifts and the summaries derived from their orders.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{StoreError, audit};
use crate::engine::micropay::OrderState;

/// A shift.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Shift {
    /// Id (the shift number).
    pub id: i64,
    /// Till.
    pub terminal_id: String,
    /// Who opened it.
    pub cashier: String,
    /// Opened (Unix ms).
    pub opened_at: i64,
    /// Closed (Unix ms).
    pub closed_at: Option<i64>,
    /// Z number, once closed.
    pub z_number: Option<i64>,
}

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Shift> {
    Ok(Shift {
        id: r.get(0)?,
        terminal_id: r.get(1)?,
        cashier: r.get(2)?,
        opened_at: r.get(3)?,
        closed_at: r.get(4)?,
        z_number: r.get(5)?,
    })
}

/// The open shift of a till.
pub fn current(conn: &Connection, terminal_id: &str) -> Result<Option<Shift>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id, terminal_id, cashier, opened_at, closed_at, z_number FROM shifts WHERE terminal_id = ?1 AND closed_at IS NULL",
            [terminal_id],
            from_row,
        )
        .optional()?)
}

/// A shift by id.
pub fn by_id(conn: &Connection, id: i64) -> Result<Option<Shift>, StoreError> {
    Ok(conn
        .query_row("SELECT id, terminal_id, cashier, opened_at, closed_at, z_number FROM shifts WHERE id = ?1", [id], from_row)
        .optional()?)
}

/// Opens a shift; refused while one is open on this till.
pub fn open(
    conn: &mut Connection,
    terminal_id: &str,
    cashier: &str,
    now: i64,
) -> Result<Shift, StoreError> {
    let cashier = cashier.trim();
    if cashier.is_empty() || cashier.chars().count() > 32 || cashier.chars().any(char::is_control) {
        return Err(StoreError::Refused(
            "the cashier id must be 1–32 printable characters".into(),
        ));
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    if let Some(s) = current(&tx, terminal_id)? {
        return Err(StoreError::Refused(format!(
            "shift #{} of cashier {} is still open on {terminal_id}",
            s.id, s.cashier
        )));
    }
    tx.execute(
        "INSERT INTO shifts(terminal_id, cashier, opened_at) VALUES (?1, ?2, ?3)",
        params![terminal_id, cashier, now],
    )?;
    let id = tx.last_insert_rowid();
    audit(
        &tx,
        now,
        cashier,
        "shift_open",
        &format!("shift #{id} on {terminal_id}"),
    )?;
    tx.commit()?;
    by_id(conn, id)?.ok_or_else(|| StoreError::NotFound("shift vanished".into()))
}

/// Counts and sums of a shift's orders by state, derived from the orders (whose state is the
/// last of their events), never from running totals.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Summary {
    /// Shift.
    pub shift_id: i64,
    /// Orders by state: `(state, count, sum_fen)`.
    pub by_state: Vec<(String, i64, i64)>,
    /// Paid orders (PAID, PARTIALLY_REFUNDED, REFUNDED).
    pub paid_count: i64,
    /// Their sum.
    pub paid_fen: i64,
    /// Orders still in flight or unresolved.
    pub open_count: i64,
    /// First out_trade_no of the shift.
    pub first_out_trade_no: Option<String>,
    /// Last out_trade_no of the shift.
    pub last_out_trade_no: Option<String>,
}

/// The summary of a shift.
pub fn summary(conn: &Connection, shift_id: i64) -> Result<Summary, StoreError> {
    let mut s = Summary {
        shift_id,
        ..Summary::default()
    };
    let mut stmt = conn.prepare("SELECT state, COUNT(*), SUM(amount_fen) FROM orders WHERE shift_id = ?1 GROUP BY state ORDER BY state")?;
    let rows = stmt
        .query_map([shift_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for (state, n, sum) in &rows {
        let st = OrderState::parse(state);
        if st.is_some_and(OrderState::is_charged) {
            s.paid_count += n;
            s.paid_fen += sum;
        }
        if matches!(
            st,
            Some(OrderState::Pending | OrderState::Userpaying | OrderState::Unresolved)
        ) {
            s.open_count += n;
        }
    }
    s.by_state = rows;
    s.first_out_trade_no = conn
        .query_row(
            "SELECT out_trade_no FROM orders WHERE shift_id = ?1 ORDER BY id LIMIT 1",
            [shift_id],
            |r| r.get(0),
        )
        .optional()?;
    s.last_out_trade_no = conn
        .query_row(
            "SELECT out_trade_no FROM orders WHERE shift_id = ?1 ORDER BY id DESC LIMIT 1",
            [shift_id],
            |r| r.get(0),
        )
        .optional()?;
    Ok(s)
}

/// Closes the open shift with a Z report; refused while any of its orders is PENDING,
/// USERPAYING or UNRESOLVED (listed in the message).
pub fn close(
    conn: &mut Connection,
    terminal_id: &str,
    actor: &str,
    now: i64,
) -> Result<(Shift, Summary), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let shift = current(&tx, terminal_id)?
        .ok_or_else(|| StoreError::Refused(format!("no shift is open on {terminal_id}")))?;
    let open: Vec<(String, String)> = {
        let mut stmt = tx.prepare(
            "SELECT out_trade_no, state FROM orders WHERE shift_id = ?1 AND state IN ('PENDING','USERPAYING','UNRESOLVED') ORDER BY id",
        )?;
        stmt.query_map([shift.id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?
    };
    if !open.is_empty() {
        let list: Vec<String> = open.iter().map(|(n, s)| format!("{n} ({s})")).collect();
        return Err(StoreError::Refused(format!(
            "cannot close shift #{}: {} order(s) not settled: {}; run `scanpay recover` first",
            shift.id,
            open.len(),
            list.join(", ")
        )));
    }
    let summary = summary(&tx, shift.id)?;
    let z: i64 = tx.query_row(
        "SELECT COALESCE(MAX(z_number), 0) + 1 FROM z_reports",
        [],
        |r| r.get(0),
    )?;
    tx.execute(
        "UPDATE shifts SET closed_at = ?2, closed_by = ?3, z_number = ?4 WHERE id = ?1",
        params![shift.id, now, actor, z],
    )?;
    tx.execute(
        "INSERT INTO z_reports(z_number, shift_id, closed_at, report) VALUES (?1, ?2, ?3, ?4)",
        params![z, shift.id, now, serde_json::to_string(&summary)?],
    )?;
    audit(
        &tx,
        now,
        actor,
        "shift_close",
        &format!("shift #{} closed with Z #{z}", shift.id),
    )?;
    tx.commit()?;
    let closed =
        by_id(conn, shift.id)?.ok_or_else(|| StoreError::NotFound("shift vanished".into()))?;
    Ok((closed, summary))
}
