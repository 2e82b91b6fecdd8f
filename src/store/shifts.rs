//! Shifts and the summaries derived from their orders.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{StoreError, audit};
use crate::order::{OrderState, SubMerchant};

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

/// Counts and sums of a shift's orders and refunds. Each order's state is taken from the last
/// of its events (the log), never from running totals.
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
    /// Refunds that succeeded in this shift: count.
    #[serde(default)]
    pub refund_count: i64,
    /// Their sum.
    #[serde(default)]
    pub refund_fen: i64,
    /// Refunds not final yet (created, processing) or abnormal: count.
    #[serde(default)]
    pub refund_open_count: i64,
    /// Paid minus refunded.
    #[serde(default)]
    pub net_fen: i64,
    /// Paid orders per cashier: `(cashier, count, sum_fen)`.
    #[serde(default)]
    pub by_cashier: Vec<(String, i64, i64)>,
    /// Paid orders per hour of the day (Beijing time): `(hour, count, sum_fen)`.
    #[serde(default)]
    pub by_hour: Vec<(i64, i64, i64)>,
    /// First out_trade_no of the shift.
    pub first_out_trade_no: Option<String>,
    /// Last out_trade_no of the shift.
    pub last_out_trade_no: Option<String>,
    /// Orders not settled at a forced close: `(out_trade_no, state)`.
    #[serde(default)]
    pub open_orders: Vec<(String, String)>,
    /// The supervisor who forced the close, if it was forced.
    #[serde(default)]
    pub forced_by: Option<String>,
    /// The sub-merchant (特约商户) the shift sold for, in service-provider mode: as the till's
    /// configuration said at the X, or at the close for a Z (kept with the Z). Absent for a
    /// directly connected merchant (and in every Z written before service-provider mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_merchant: Option<SubMerchant>,
}

/// The summary of a shift: one pass over the shift's orders through a covering index. Each
/// order's `state` column is the state its last event left it in (the event and the column are
/// written in one transaction), so the figures are derived from the log, not running totals.
pub fn summary(conn: &Connection, shift_id: i64) -> Result<Summary, StoreError> {
    let mut s = Summary {
        shift_id,
        ..Summary::default()
    };
    let mut stmt = conn.prepare_cached(
        "SELECT state, cashier, ((created_at / 1000 + 28800) / 3600) % 24, COUNT(*), SUM(amount_fen)
         FROM orders WHERE shift_id = ?1 GROUP BY 1, 2, 3",
    )?;
    let groups = stmt
        .query_map([shift_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut by_state = std::collections::BTreeMap::<String, (i64, i64)>::new();
    let mut by_cashier = std::collections::BTreeMap::<String, (i64, i64)>::new();
    let mut by_hour = std::collections::BTreeMap::<i64, (i64, i64)>::new();
    for (state, cashier, hour, n, sum) in groups {
        let e = by_state.entry(state.clone()).or_default();
        e.0 += n;
        e.1 += sum;
        let st = OrderState::parse(&state);
        if st.is_some_and(OrderState::is_charged) {
            s.paid_count += n;
            s.paid_fen += sum;
            let c = by_cashier.entry(cashier).or_default();
            c.0 += n;
            c.1 += sum;
            let h = by_hour.entry(hour).or_default();
            h.0 += n;
            h.1 += sum;
        }
        if matches!(
            st,
            Some(OrderState::Pending | OrderState::Userpaying | OrderState::Unresolved)
        ) {
            s.open_count += n;
        }
    }
    s.by_state = by_state.into_iter().map(|(k, (n, f))| (k, n, f)).collect();
    s.by_cashier = by_cashier
        .into_iter()
        .map(|(k, (n, f))| (k, n, f))
        .collect();
    s.by_hour = by_hour.into_iter().map(|(k, (n, f))| (k, n, f)).collect();
    let (rc, rf): (i64, i64) = conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(amount_fen), 0) FROM refunds WHERE shift_id = ?1 AND status = 'SUCCESS'",
        [shift_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    s.refund_count = rc;
    s.refund_fen = rf;
    s.refund_open_count = conn.query_row(
        "SELECT COUNT(*) FROM refunds WHERE shift_id = ?1 AND status IN ('CREATED','PROCESSING','ABNORMAL')",
        [shift_id],
        |r| r.get(0),
    )?;
    s.net_fen = s.paid_fen - s.refund_fen;
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
    forced_by: Option<&str>,
) -> Result<(Shift, Summary), StoreError> {
    close_for(conn, terminal_id, actor, now, forced_by, None)
}

/// [`close`], with the sub-merchant the till sells for (service-provider mode) kept on the Z.
pub fn close_for(
    conn: &mut Connection,
    terminal_id: &str,
    actor: &str,
    now: i64,
    forced_by: Option<&str>,
    sub_merchant: Option<SubMerchant>,
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
    if !open.is_empty() && forced_by.is_none() {
        let list: Vec<String> = open.iter().map(|(n, s)| format!("{n} ({s})")).collect();
        return Err(StoreError::Refused(format!(
            "cannot close shift #{}: {} order(s) not settled: {}; run `scanpay recover` first, or a supervisor may force the close",
            shift.id,
            open.len(),
            list.join(", ")
        )));
    }
    let mut summary = summary(&tx, shift.id)?;
    summary.sub_merchant = sub_merchant;
    // A "forced" close over nothing unsettled is an ordinary close.
    let forced_by = forced_by.filter(|_| !open.is_empty());
    if forced_by.is_some() {
        summary.open_orders = open.clone();
        summary.forced_by = forced_by.map(str::to_string);
    }
    let z: i64 = tx.query_row(
        "SELECT COALESCE(MAX(z_number), 0) + 1 FROM z_reports",
        [],
        |r| r.get(0),
    )?;
    tx.execute(
        "UPDATE shifts SET closed_at = ?2, closed_by = ?3, z_number = ?4, forced = ?5 WHERE id = ?1",
        params![shift.id, now, actor, z, i64::from(forced_by.is_some())],
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
        &match forced_by {
            Some(sup) => format!(
                "shift #{} FORCE-closed with Z #{z} by supervisor {sup}; {} order(s) not settled",
                shift.id,
                open.len()
            ),
            None => format!("shift #{} closed with Z #{z}", shift.id),
        },
    )?;
    tx.commit()?;
    let closed =
        by_id(conn, shift.id)?.ok_or_else(|| StoreError::NotFound("shift vanished".into()))?;
    Ok((closed, summary))
}
