//! The merchant's trade bill of a Beijing day against the orders and refunds of ALL its tills,
//! as shipped to the head office. The comparison is the till's own (`crate::reconcile`, every
//! row of the merchant compared, no "other terminals"), so every kind of mismatch a till can
//! report, the head office reports too; plus one of its own: a payment in the bill that a
//! scanpay till made (its `out_trade_no` is one) but no till has shipped yet
//! ([`NotShipped`]) — a till offline or behind, not money without a sale.

use serde::Serialize;
use tokio_postgres::Client;

use super::{HqError, beijing_day, schema};
use crate::reconcile::{LocalOrder, LocalRefund, Mismatch, Reconciliation, scanpay_terminal};
use crate::wechat::bill::TradeBill;

/// A payment in the bill that a scanpay till made and no till has shipped yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NotShipped {
    /// The order number in the bill.
    pub out_trade_no: String,
    /// The till that made it (from the number).
    pub terminal_id: String,
    /// WeChat's order number.
    pub transaction_id: String,
    /// The amount in the bill.
    pub amount: crate::money::Fen,
}

/// The head office's reconciliation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HqReconciliation {
    /// The comparison over all tills (its `terminal_id` is empty: every row compared).
    pub reconciliation: Reconciliation,
    /// Payments of scanpay tills that no till has shipped yet.
    pub not_shipped: Vec<NotShipped>,
    /// Tills whose rows were compared.
    pub tills: i64,
}

impl HqReconciliation {
    /// Whether everything matches.
    pub fn is_clean(&self) -> bool {
        self.reconciliation.is_clean() && self.not_shipped.is_empty()
    }
}

/// The day's orders and refunds of every till of `mchid` (and of `sub_mchid`, for a service
/// provider's sub-merchant: the bill is the sub-merchant's), as shipped; and how many tills.
pub async fn load_day(
    client: &Client,
    date: &str,
    mchid: &str,
    sub_mchid: Option<&str>,
) -> Result<(Vec<LocalOrder>, Vec<LocalRefund>, i64), HqError> {
    schema::check(client).await?;
    let (start, end) = beijing_day(date)?;
    let rows = client
        .query(
            "SELECT o.out_trade_no, o.transaction_id, o.amount_fen, o.state, o.row->>'machine'
             FROM hq_orders o JOIN hq_tills t USING (till_id)
             WHERE t.mchid = $3 AND t.sub_mchid IS NOT DISTINCT FROM $4
               AND o.created_at >= $1 AND o.created_at < $2
             ORDER BY o.till_id, o.id",
            &[&start, &end, &mchid, &sub_mchid],
        )
        .await?;
    let orders = rows
        .iter()
        .map(|r| {
            let machine: Option<String> = r.get(4);
            LocalOrder {
                out_trade_no: r.get(0),
                transaction_id: r.get(1),
                amount: crate::money::Fen(r.get(2)),
                state: r.get(3),
                was_paid: machine.is_some_and(|m| {
                    crate::engine::Machine::from_snapshot(&m).is_ok_and(|m| m.seen_paid())
                }),
            }
        })
        .collect();
    let rows = client
        .query(
            "SELECT r.out_refund_no, o.out_trade_no, r.amount_fen, r.status
             FROM hq_refunds r JOIN hq_tills t USING (till_id)
             JOIN hq_orders o ON o.till_id = r.till_id AND o.id = r.order_id
             WHERE t.mchid = $3 AND t.sub_mchid IS NOT DISTINCT FROM $4
               AND r.created_at >= $1 AND r.created_at < $2
             ORDER BY r.till_id, r.id",
            &[&start, &end, &mchid, &sub_mchid],
        )
        .await?;
    let refunds = rows
        .iter()
        .map(|r| LocalRefund {
            out_refund_no: r.get(0),
            out_trade_no: r.get(1),
            amount: crate::money::Fen(r.get(2)),
            status: r.get(3),
        })
        .collect();
    let tills: i64 = client
        .query_one(
            "SELECT COUNT(*) FROM hq_tills WHERE mchid = $1 AND sub_mchid IS NOT DISTINCT FROM $2",
            &[&mchid, &sub_mchid],
        )
        .await?
        .get(0);
    Ok((orders, refunds, tills))
}

/// Compares the bill with every till's orders (pure).
pub fn compare(
    date: &str,
    mchid: &str,
    bill: &TradeBill,
    orders: &[LocalOrder],
    refunds: &[LocalRefund],
    tills: i64,
) -> HqReconciliation {
    let mut r = crate::reconcile::reconcile(date, mchid, "", bill, orders, refunds);
    let mut not_shipped = Vec::new();
    r.mismatches.retain(|m| match m {
        Mismatch::ThereMissingHere {
            out_trade_no,
            transaction_id,
            amount,
        } => match scanpay_terminal(out_trade_no) {
            Some(terminal) => {
                not_shipped.push(NotShipped {
                    out_trade_no: out_trade_no.clone(),
                    terminal_id: terminal.to_string(),
                    transaction_id: transaction_id.clone(),
                    amount: *amount,
                });
                false
            }
            None => true,
        },
        _ => true,
    });
    HqReconciliation {
        reconciliation: r,
        not_shipped,
        tills,
    }
}

/// A plain-text account: the till-level table, then the payments no till shipped.
pub fn to_text(r: &HqReconciliation) -> String {
    let mut s = format!(
        "Head office reconciliation over {} till(s)\n{}",
        r.tills,
        crate::reconcile::to_table(&r.reconciliation, false)
    );
    if !r.not_shipped.is_empty() {
        s.push_str(&format!(
            "{} payment(s) in the bill that no till has shipped yet (run `scanpay sync` on the till):\n",
            r.not_shipped.len()
        ));
        for n in &r.not_shipped {
            s.push_str(&format!(
                "  not_shipped {} till {} {} CNY\n",
                n.out_trade_no,
                n.terminal_id,
                n.amount.to_yuan_string()
            ));
        }
    }
    s
}

/// CSV: the till-level rows, then one `not_shipped` row per payment no till shipped (the
/// bill's amount under `theirs`).
pub fn to_csv(r: &HqReconciliation) -> String {
    let mut s = crate::reconcile::to_csv(&r.reconciliation);
    for n in &r.not_shipped {
        s.push_str(&format!(
            "not_shipped,{},,{},,{}\r\n",
            crate::sanitize::csv_cell(&n.out_trade_no),
            crate::sanitize::csv_cell(&n.transaction_id),
            n.amount.to_yuan_string()
        ));
    }
    s
}
