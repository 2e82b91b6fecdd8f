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

/// The summary of a shift, from the running totals (`shift_totals`, `shift_refund_totals`)
/// that triggers keep in the same transaction as every change of an order or a refund: a few
/// rows per shift, whatever the shift's or the log's size. [`recount`] computes the same from
/// the orders themselves; a property test keeps the two equal.
pub fn summary(conn: &Connection, shift_id: i64) -> Result<Summary, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT state, cashier, hour, count, fen FROM shift_totals
          WHERE shift_id = ?1 AND count > 0",
    )?;
    let groups = stmt
        .query_map([shift_id], group_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let mut stmt = conn.prepare_cached(
        "SELECT status, count, fen FROM shift_refund_totals WHERE shift_id = ?1 AND count > 0",
    )?;
    let refunds = stmt
        .query_map([shift_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    assemble(conn, shift_id, groups, refunds)
}

/// The summary of a shift counted from its orders and refunds (one pass over the shift's
/// orders through a covering index): what [`summary`]'s running totals must always equal.
/// Each order's `state` column is the state its last event left it in (the event and the
/// column are written in one transaction).
pub fn recount(conn: &Connection, shift_id: i64) -> Result<Summary, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT state, cashier, ((created_at / 1000 + 28800) / 3600) % 24, COUNT(*), SUM(amount_fen)
         FROM orders WHERE shift_id = ?1 GROUP BY 1, 2, 3",
    )?;
    let groups = stmt
        .query_map([shift_id], group_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let mut stmt = conn.prepare_cached(
        "SELECT status, COUNT(*), SUM(amount_fen) FROM refunds WHERE shift_id = ?1 GROUP BY 1",
    )?;
    let refunds = stmt
        .query_map([shift_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    assemble(conn, shift_id, groups, refunds)
}

/// `(state, cashier, hour, count, sum_fen)`.
type Group = (String, String, i64, i64, i64);

fn group_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Group> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

/// The summary from the orders' groups and the refunds' `(status, count, sum_fen)`.
fn assemble(
    conn: &Connection,
    shift_id: i64,
    groups: Vec<Group>,
    refunds: Vec<(String, i64, i64)>,
) -> Result<Summary, StoreError> {
    let mut s = Summary {
        shift_id,
        ..Summary::default()
    };
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
    for (status, n, fen) in refunds {
        match status.as_str() {
            "SUCCESS" => {
                s.refund_count += n;
                s.refund_fen += fen;
            }
            "CREATED" | "PROCESSING" | "ABNORMAL" => s.refund_open_count += n,
            _ => {}
        }
    }
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rusqlite::{Connection, params};

    use super::{recount, summary};

    const STATES: [&str; 8] = [
        "PENDING",
        "USERPAYING",
        "PAID",
        "FAILED",
        "REVERSED",
        "UNRESOLVED",
        "PARTIALLY_REFUNDED",
        "REFUNDED",
    ];
    const REFUND_STATUSES: [&str; 6] = [
        "CREATED",
        "PROCESSING",
        "SUCCESS",
        "CLOSED",
        "ABNORMAL",
        "FAILED",
    ];

    /// One write to the log, at the SQL level: the running totals are kept by triggers, so
    /// whatever statement changes an order or a refund must keep them right.
    #[derive(Clone, Debug)]
    enum Op {
        Order {
            shift: i64,
            state: usize,
            cashier: u8,
            at: i64,
            fen: i64,
        },
        OrderState {
            pick: usize,
            state: usize,
        },
        /// An update that touches `state` without changing it (what every event does).
        OrderTouch {
            pick: usize,
        },
        Refund {
            pick: usize,
            status: usize,
            fen: i64,
        },
        RefundStatus {
            pick: usize,
            status: usize,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (
                1..4i64,
                0..8usize,
                0..3u8,
                0..(2 * 86_400_000i64),
                1..100_000i64
            )
                .prop_map(|(shift, state, cashier, at, fen)| Op::Order {
                    shift,
                    state,
                    cashier,
                    at: 1_780_000_000_000 + at,
                    fen
                }),
            (any::<usize>(), 0..8usize).prop_map(|(pick, state)| Op::OrderState { pick, state }),
            any::<usize>().prop_map(|pick| Op::OrderTouch { pick }),
            (any::<usize>(), 0..6usize, 1..5_000i64).prop_map(|(pick, status, fen)| Op::Refund {
                pick,
                status,
                fen
            }),
            (any::<usize>(), 0..6usize)
                .prop_map(|(pick, status)| Op::RefundStatus { pick, status }),
        ]
    }

    fn log() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        crate::store::schema::migrate(&mut c).unwrap();
        for id in 1..4 {
            c.execute(
                "INSERT INTO shifts(id, terminal_id, cashier, opened_at) VALUES (?1, ?2, 'c', 0)",
                params![id, format!("T{id}")],
            )
            .unwrap();
        }
        c
    }

    fn apply(c: &Connection, op: &Op, orders: &mut Vec<(i64, i64)>, refunds: &mut Vec<i64>) {
        match *op {
            Op::Order {
                shift,
                state,
                cashier,
                at,
                fen,
            } => {
                let n = orders.len();
                c.execute(
                    "INSERT INTO orders(out_trade_no, shift_id, terminal_id, cashier, amount_fen, description,
                       code_masked, code_fingerprint, state, machine, created_at, updated_at)
                     VALUES (?1, ?2, 'T', ?3, ?4, 'd', 'm', 'f', ?5, '{}', ?6, ?6)",
                    params![format!("NO{n}"), shift, format!("cashier{cashier}"), fen, STATES[state], at],
                )
                .unwrap();
                orders.push((c.last_insert_rowid(), shift));
            }
            Op::OrderState { pick, state } if !orders.is_empty() => {
                let id = orders[pick % orders.len()].0;
                c.execute(
                    "UPDATE orders SET state = ?1, updated_at = updated_at + 1 WHERE id = ?2",
                    params![STATES[state], id],
                )
                .unwrap();
            }
            Op::OrderTouch { pick } if !orders.is_empty() => {
                let id = orders[pick % orders.len()].0;
                c.execute(
                    "UPDATE orders SET state = state, machine = '{}' WHERE id = ?1",
                    [id],
                )
                .unwrap();
            }
            Op::Refund { pick, status, fen } if !orders.is_empty() => {
                let (id, shift) = orders[pick % orders.len()];
                let n = refunds.len();
                c.execute(
                    "INSERT INTO refunds(out_refund_no, order_id, shift_id, amount_fen, reason, status,
                       created_at, updated_at) VALUES (?1, ?2, ?3, ?4, 'r', ?5, 0, 0)",
                    params![format!("R{n}"), id, shift, fen, REFUND_STATUSES[status]],
                )
                .unwrap();
                refunds.push(c.last_insert_rowid());
            }
            Op::RefundStatus { pick, status } if !refunds.is_empty() => {
                let id = refunds[pick % refunds.len()];
                c.execute(
                    "UPDATE refunds SET status = ?1 WHERE id = ?2",
                    params![REFUND_STATUSES[status], id],
                )
                .unwrap();
            }
            _ => {}
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The running totals equal a full recount after any sequence of writes, for every
        /// shift.
        #[test]
        fn running_totals_equal_a_full_recount(ops in prop::collection::vec(op(), 0..120)) {
            let c = log();
            let (mut orders, mut refunds) = (Vec::new(), Vec::new());
            for op in &ops {
                apply(&c, op, &mut orders, &mut refunds);
            }
            for shift in 1..4 {
                let fast = serde_json::to_value(summary(&c, shift).unwrap()).unwrap();
                let slow = serde_json::to_value(recount(&c, shift).unwrap()).unwrap();
                prop_assert_eq!(fast, slow, "shift {}", shift);
            }
        }
    }

    /// A log written before the totals existed gets them from its orders at the migration.
    #[test]
    fn the_migration_fills_the_totals_from_the_orders() {
        let mut c = Connection::open_in_memory().unwrap();
        crate::store::schema::migrate_to(&mut c, 6).unwrap();
        c.execute(
            "INSERT INTO shifts(id, terminal_id, cashier, opened_at) VALUES (1, 'T', 'c', 0)",
            [],
        )
        .unwrap();
        for (i, (state, fen)) in [
            ("PAID", 500),
            ("PAID", 700),
            ("FAILED", 100),
            ("REFUNDED", 900),
        ]
        .into_iter()
        .enumerate()
        {
            c.execute(
                "INSERT INTO orders(out_trade_no, shift_id, terminal_id, cashier, amount_fen, description,
                   code_masked, code_fingerprint, state, machine, created_at, updated_at)
                 VALUES (?1, 1, 'T', 'c', ?2, 'd', 'm', 'f', ?3, '{}', 1780000000000, 0)",
                params![format!("NO{i}"), fen, state],
            )
            .unwrap();
        }
        c.execute(
            "INSERT INTO refunds(out_refund_no, order_id, shift_id, amount_fen, reason, status, created_at, updated_at)
             VALUES ('R1', 4, 1, 900, 'r', 'SUCCESS', 0, 0)",
            [],
        )
        .unwrap();
        crate::store::schema::migrate(&mut c).unwrap();
        let s = summary(&c, 1).unwrap();
        assert_eq!((s.paid_count, s.paid_fen), (3, 2100));
        assert_eq!((s.refund_count, s.refund_fen, s.net_fen), (1, 900, 1200));
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            serde_json::to_value(recount(&c, 1).unwrap()).unwrap()
        );
    }
}
