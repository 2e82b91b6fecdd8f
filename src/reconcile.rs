//! Reconciliation: the local shift log against WeChat Pay's trade bill for one day and one
//! merchant (protocol reference §7.4). Pure: the caller downloads the bill (hash checked) and
//! reads the log; this compares them and says, for every disagreement, what it is and what to do.
//!
//! The bill covers the whole merchant number, and several tills may share one. A till compares
//! the rows whose `out_trade_no` it could have made (its own `{terminal_id}-` prefix) and counts
//! the rows another scanpay till made (`{other terminal}-{yyyymmdd}-{epoch}-{seq}`) as "other
//! terminals": not compared, not mismatches. A MICROPAY row no scanpay till could have made is
//! compared as this till's (money received without a sale record): no till claims it, so every
//! till reports it rather than none.
//!
//! A paid order reversed by the till appears in the bill in one of two layouts, both accepted
//! for a local REVERSED order that was seen paid: one row with `交易状态` REVOKED, or the payment
//! row (SUCCESS) plus REFUND row(s) for the same order whose `商户退款单号` is not one of the
//! till's refunds (WeChat returns the money of a reversed paid order as a refund it numbers
//! itself), adding up to the order's amount.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::money::Fen;
use crate::wechat::bill::TradeBill;

/// A local order as the shift log has it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LocalOrder {
    /// Merchant order number.
    pub out_trade_no: String,
    /// WeChat order number.
    pub transaction_id: Option<String>,
    /// Amount.
    pub amount: Fen,
    /// Contract state (PAID, REVERSED, …).
    pub state: String,
    /// Whether the log ever saw it paid (a reversed order may have been paid first).
    pub was_paid: bool,
}

/// A local refund.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LocalRefund {
    /// Our refund number.
    pub out_refund_no: String,
    /// The order.
    pub out_trade_no: String,
    /// Amount.
    pub amount: Fen,
    /// Status (SUCCESS, PROCESSING, …).
    pub status: String,
}

/// One disagreement between the log and the bill.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mismatch {
    /// WeChat has a payment the log does not: money received without a sale record.
    ThereMissingHere {
        /// Order number in the bill.
        out_trade_no: String,
        /// WeChat order number.
        transaction_id: String,
        /// Amount in the bill.
        amount: Fen,
    },
    /// Both have the order; the states disagree (e.g. reversed here, charged there).
    StateDiffers {
        /// Order.
        out_trade_no: String,
        /// Our state.
        ours: String,
        /// The bill's state.
        theirs: String,
    },
    /// Both have it; the amounts differ.
    AmountDiffers {
        /// Order.
        out_trade_no: String,
        /// Ours.
        ours: Fen,
        /// The bill's.
        theirs: Fen,
    },
    /// Paid here, missing from the bill.
    PaidHereMissingThere {
        /// Order.
        out_trade_no: String,
        /// Amount.
        amount: Fen,
    },
    /// A refund row in the bill the log does not have.
    RefundThereMissingHere {
        /// Refund number in the bill.
        out_refund_no: String,
        /// Its order.
        out_trade_no: String,
        /// Amount.
        amount: Fen,
    },
    /// Both have the refund; the amounts differ.
    RefundAmountDiffers {
        /// Refund.
        out_refund_no: String,
        /// Ours.
        ours: Fen,
        /// The bill's.
        theirs: Fen,
    },
    /// A refund made here (SUCCESS or PROCESSING) missing from the bill.
    RefundHereMissingThere {
        /// Refund.
        out_refund_no: String,
        /// Amount.
        amount: Fen,
    },
}

impl Mismatch {
    /// What a manager should do about it.
    pub fn advice(&self, zh: bool) -> &'static str {
        match (self, zh) {
            (Mismatch::ThereMissingHere { .. }, true) => {
                "已收款但本机无记录：查找这笔销售，或为顾客退款"
            }
            (Mismatch::ThereMissingHere { .. }, false) => {
                "money received without a sale record: find the sale or refund the customer"
            }
            (Mismatch::StateDiffers { .. }, true) => {
                "状态不一致：用 scanpay query 核实，必要时撤销或退款"
            }
            (Mismatch::StateDiffers { .. }, false) => {
                "states disagree: check with `scanpay query`, reverse or refund if needed"
            }
            (Mismatch::AmountDiffers { .. }, true) => "金额不一致：在商户平台核实这笔订单",
            (Mismatch::AmountDiffers { .. }, false) => {
                "amounts differ: check the order in the merchant platform"
            }
            (Mismatch::PaidHereMissingThere { .. }, true) => {
                "本机已收款但账单没有：查看次日账单（跨零点），再用 scanpay query 核实"
            }
            (Mismatch::PaidHereMissingThere { .. }, false) => {
                "paid here but not in the bill: check the next day's bill (midnight), then `scanpay query`"
            }
            (Mismatch::RefundThereMissingHere { .. }, true) => {
                "账单有退款但本机无记录：在商户平台核实是谁发起的"
            }
            (Mismatch::RefundThereMissingHere { .. }, false) => {
                "a refund in the bill the till did not make: check who made it in the merchant platform"
            }
            (Mismatch::RefundAmountDiffers { .. }, true) => "退款金额不一致：在商户平台核实",
            (Mismatch::RefundAmountDiffers { .. }, false) => {
                "refund amounts differ: check it in the merchant platform"
            }
            (Mismatch::RefundHereMissingThere { .. }, true) => {
                "本机退款不在账单中：查看次日账单，再查询退款"
            }
            (Mismatch::RefundHereMissingThere { .. }, false) => {
                "refund made here missing from the bill: check the next day's bill, then query the refund"
            }
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Mismatch::ThereMissingHere { .. } => "there_missing_here",
            Mismatch::StateDiffers { .. } => "state_differs",
            Mismatch::AmountDiffers { .. } => "amount_differs",
            Mismatch::PaidHereMissingThere { .. } => "paid_here_missing_there",
            Mismatch::RefundThereMissingHere { .. } => "refund_there_missing_here",
            Mismatch::RefundAmountDiffers { .. } => "refund_amount_differs",
            Mismatch::RefundHereMissingThere { .. } => "refund_here_missing_there",
        }
    }
}

/// What the bill holds for one other till under the same merchant number (not compared).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OtherTerminal {
    /// Payment rows (any state but REFUND).
    pub payments: usize,
    /// Their order amounts.
    pub payment_total: Fen,
    /// Refund rows.
    pub refunds: usize,
    /// Their refund amounts.
    pub refund_total: Fen,
}

/// The outcome of a reconciliation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reconciliation {
    /// The day.
    pub date: String,
    /// The merchant.
    pub mchid: String,
    /// This till (its rows are those whose out_trade_no starts with `{terminal_id}-`; empty:
    /// every row is compared).
    pub terminal_id: String,
    /// Rows other scanpay tills of the merchant made, by terminal id: counted, not compared,
    /// never mismatches (each till reconciles its own).
    pub other_terminals: BTreeMap<String, OtherTerminal>,
    /// Payments that agree.
    pub matched_payments: usize,
    /// Refunds that agree.
    pub matched_refunds: usize,
    /// Bill rows of other trade types or merchants, not compared.
    pub skipped_rows: usize,
    /// The disagreements, most serious first.
    pub mismatches: Vec<Mismatch>,
}

impl Reconciliation {
    /// Whether everything matches.
    pub fn is_clean(&self) -> bool {
        self.mismatches.is_empty()
    }
}

const CHARGED: [&str; 3] = ["PAID", "PARTIALLY_REFUNDED", "REFUNDED"];

/// The terminal id of an out_trade_no a scanpay till made, or `None` for any other number:
/// `{terminal}-{yymmdd}-{epoch: 6 base-36}-{seq: 5 digits}` (`store::orders`), or the earlier
/// builds' `{terminal}-{yyyymmdd}-{2 letters}-{6+ digits}`.
pub fn scanpay_terminal(out_trade_no: &str) -> Option<&str> {
    let mut parts = out_trade_no.split('-');
    let (terminal, date, epoch, seq) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let alnum = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric());
    let current = date.len() == 6 && epoch.len() == 6 && seq.len() == 5;
    let earlier = date.len() == 8 && epoch.len() == 2 && seq.len() >= 6;
    let ok = parts.next().is_none()
        && (1..=12).contains(&terminal.len())
        && alnum(terminal)
        && (current || earlier)
        && digits(date)
        && alnum(epoch)
        && digits(seq);
    ok.then_some(terminal)
}

/// Compares a day's bill with the day's local orders and refunds of the till `terminal_id`
/// (see the module comment for which rows are its own).
pub fn reconcile(
    date: &str,
    mchid: &str,
    terminal_id: &str,
    bill: &TradeBill,
    orders: &[LocalOrder],
    refunds: &[LocalRefund],
) -> Reconciliation {
    let mut out = Reconciliation {
        date: date.into(),
        mchid: mchid.into(),
        terminal_id: terminal_id.into(),
        other_terminals: BTreeMap::new(),
        matched_payments: 0,
        matched_refunds: 0,
        skipped_rows: 0,
        mismatches: Vec::new(),
    };
    let local: BTreeMap<&str, &LocalOrder> = orders
        .iter()
        .map(|o| (o.out_trade_no.as_str(), o))
        .collect();
    let local_refunds: BTreeMap<&str, &LocalRefund> = refunds
        .iter()
        .map(|r| (r.out_refund_no.as_str(), r))
        .collect();
    let mut seen_orders = BTreeSet::new();
    let mut seen_refunds = BTreeSet::new();
    let refund_amount = |row: &crate::wechat::bill::BillRow| {
        if row.refund_requested.0 > 0 {
            row.refund_requested
        } else {
            row.refund
        }
    };
    // A reversed paid order's money goes back as a refund WeChat numbers itself: refund rows
    // of a local order REVERSED after being seen paid that are not one of our refunds.
    let reversed_paid = |no: &str| {
        local
            .get(no)
            .is_some_and(|o| o.state == "REVERSED" && o.was_paid)
    };
    let mut reverse_refunds: BTreeMap<&str, Fen> = BTreeMap::new();
    for row in &bill.rows {
        if row.trade_type == "MICROPAY"
            && row.mchid == mchid
            && row.trade_state == "REFUND"
            && !local_refunds.contains_key(row.out_refund_no.as_str())
            && reversed_paid(&row.out_trade_no)
        {
            let sum = reverse_refunds
                .entry(row.out_trade_no.as_str())
                .or_default();
            *sum = Fen(sum.0 + refund_amount(row).0);
        }
    }
    for row in &bill.rows {
        if row.trade_type != "MICROPAY" || row.mchid != mchid {
            out.skipped_rows += 1;
            continue;
        }
        if let Some(other) = scanpay_terminal(&row.out_trade_no)
            .filter(|t| !terminal_id.is_empty() && *t != terminal_id)
        {
            let e = out.other_terminals.entry(other.to_string()).or_default();
            if row.trade_state == "REFUND" {
                e.refunds += 1;
                e.refund_total = Fen(e.refund_total.0 + refund_amount(row).0);
            } else {
                e.payments += 1;
                e.payment_total = Fen(e.payment_total.0 + row.order_amount.0);
            }
            continue;
        }
        match row.trade_state.as_str() {
            "REFUND" => {
                seen_refunds.insert(row.out_refund_no.clone());
                let theirs = refund_amount(row);
                match local_refunds.get(row.out_refund_no.as_str()) {
                    // The refund a reverse of a paid order made (checked with the order).
                    None if reversed_paid(&row.out_trade_no) => out.matched_refunds += 1,
                    None => out.mismatches.push(Mismatch::RefundThereMissingHere {
                        out_refund_no: row.out_refund_no.clone(),
                        out_trade_no: row.out_trade_no.clone(),
                        amount: theirs,
                    }),
                    Some(r) if r.amount != theirs => {
                        out.mismatches.push(Mismatch::RefundAmountDiffers {
                            out_refund_no: r.out_refund_no.clone(),
                            ours: r.amount,
                            theirs,
                        });
                    }
                    Some(_) => out.matched_refunds += 1,
                }
            }
            state => {
                seen_orders.insert(row.out_trade_no.clone());
                let Some(o) = local.get(row.out_trade_no.as_str()) else {
                    if state == "SUCCESS" {
                        out.mismatches.push(Mismatch::ThereMissingHere {
                            out_trade_no: row.out_trade_no.clone(),
                            transaction_id: row.transaction_id.clone(),
                            amount: row.order_amount,
                        });
                    } else {
                        out.mismatches.push(Mismatch::StateDiffers {
                            out_trade_no: row.out_trade_no.clone(),
                            ours: "—".into(),
                            theirs: state.into(),
                        });
                    }
                    continue;
                };
                let ours_charged = CHARGED.contains(&o.state.as_str());
                let agree = match state {
                    // Charged; or paid, then reversed with the money returned as refund rows.
                    "SUCCESS" => {
                        ours_charged
                            || (o.state == "REVERSED"
                                && o.was_paid
                                && reverse_refunds.get(o.out_trade_no.as_str()) == Some(&o.amount))
                    }
                    // Paid, then reversed: the money went back.
                    "REVOKED" => o.state == "REVERSED" && o.was_paid,
                    _ => false,
                };
                if !agree {
                    out.mismatches.push(Mismatch::StateDiffers {
                        out_trade_no: o.out_trade_no.clone(),
                        ours: o.state.clone(),
                        theirs: state.into(),
                    });
                } else if o.amount != row.order_amount {
                    out.mismatches.push(Mismatch::AmountDiffers {
                        out_trade_no: o.out_trade_no.clone(),
                        ours: o.amount,
                        theirs: row.order_amount,
                    });
                } else {
                    out.matched_payments += 1;
                }
            }
        }
    }
    for o in orders {
        let in_bill = seen_orders.contains(&o.out_trade_no);
        if !in_bill
            && (CHARGED.contains(&o.state.as_str()) || (o.state == "REVERSED" && o.was_paid))
        {
            out.mismatches.push(Mismatch::PaidHereMissingThere {
                out_trade_no: o.out_trade_no.clone(),
                amount: o.amount,
            });
        }
    }
    for r in refunds {
        if !seen_refunds.contains(&r.out_refund_no)
            && (r.status == "SUCCESS" || r.status == "PROCESSING")
        {
            out.mismatches.push(Mismatch::RefundHereMissingThere {
                out_refund_no: r.out_refund_no.clone(),
                amount: r.amount,
            });
        }
    }
    out.mismatches.sort();
    out
}

/// A human table.
pub fn to_table(r: &Reconciliation, zh: bool) -> String {
    let mut s = String::new();
    if zh {
        s.push_str(&format!(
            "对账 {} 商户号 {} 终端 {}\n",
            r.date, r.mchid, r.terminal_id
        ));
    } else {
        s.push_str(&format!(
            "Reconciliation {} merchant {} terminal {}\n",
            r.date, r.mchid, r.terminal_id
        ));
    }
    for m in &r.mismatches {
        let (no, detail) = match m {
            Mismatch::ThereMissingHere {
                out_trade_no,
                transaction_id,
                amount,
            } => (out_trade_no.clone(), format!("{amount} {transaction_id}")),
            Mismatch::StateDiffers {
                out_trade_no,
                ours,
                theirs,
            } => (out_trade_no.clone(), format!("{ours} ≠ {theirs}")),
            Mismatch::AmountDiffers {
                out_trade_no,
                ours,
                theirs,
            } => (out_trade_no.clone(), format!("{ours} ≠ {theirs}")),
            Mismatch::PaidHereMissingThere {
                out_trade_no,
                amount,
            } => (out_trade_no.clone(), amount.to_string()),
            Mismatch::RefundThereMissingHere {
                out_refund_no,
                amount,
                ..
            } => (out_refund_no.clone(), amount.to_string()),
            Mismatch::RefundAmountDiffers {
                out_refund_no,
                ours,
                theirs,
            } => (out_refund_no.clone(), format!("{ours} ≠ {theirs}")),
            Mismatch::RefundHereMissingThere {
                out_refund_no,
                amount,
            } => (out_refund_no.clone(), amount.to_string()),
        };
        s.push_str(&format!(
            "✘ {:<26} {no}  {detail}\n    → {}\n",
            m.kind(),
            m.advice(zh)
        ));
    }
    for (t, o) in &r.other_terminals {
        if zh {
            s.push_str(&format!(
                "· 其他终端 {t}：收款 {} 笔 {}，退款 {} 笔 {}（不在本机对账）\n",
                o.payments, o.payment_total, o.refunds, o.refund_total
            ));
        } else {
            s.push_str(&format!(
                "· other terminal {t}: {} payments {}, {} refunds {} (not compared here)\n",
                o.payments, o.payment_total, o.refunds, o.refund_total
            ));
        }
    }
    if zh {
        s.push_str(&format!(
            "一致：收款 {} 笔，退款 {} 笔；不一致 {} 处；跳过其他类型 {} 行\n",
            r.matched_payments,
            r.matched_refunds,
            r.mismatches.len(),
            r.skipped_rows
        ));
    } else {
        s.push_str(&format!(
            "matched: {} payments, {} refunds; {} mismatch(es); {} other rows skipped\n",
            r.matched_payments,
            r.matched_refunds,
            r.mismatches.len(),
            r.skipped_rows
        ));
    }
    s
}

/// CSV (RFC 4180): `kind,out_trade_no,out_refund_no,transaction_id,ours,theirs`: one line per
/// mismatch, then one `other_terminal` line per other till of the merchant (its terminal id in
/// `out_trade_no`, its payment total in `theirs`; not a mismatch).
pub fn to_csv(r: &Reconciliation) -> String {
    let q = crate::sanitize::csv_cell;
    let mut out = String::from("kind,out_trade_no,out_refund_no,transaction_id,ours,theirs\r\n");
    for m in &r.mismatches {
        let (no, refund, tid, ours, theirs) = match m {
            Mismatch::ThereMissingHere {
                out_trade_no,
                transaction_id,
                amount,
            } => (
                out_trade_no.as_str(),
                "",
                transaction_id.as_str(),
                String::new(),
                amount.to_yuan_string(),
            ),
            Mismatch::StateDiffers {
                out_trade_no,
                ours,
                theirs,
            } => (out_trade_no.as_str(), "", "", ours.clone(), theirs.clone()),
            Mismatch::AmountDiffers {
                out_trade_no,
                ours,
                theirs,
            } => (
                out_trade_no.as_str(),
                "",
                "",
                ours.to_yuan_string(),
                theirs.to_yuan_string(),
            ),
            Mismatch::PaidHereMissingThere {
                out_trade_no,
                amount,
            } => (
                out_trade_no.as_str(),
                "",
                "",
                amount.to_yuan_string(),
                String::new(),
            ),
            Mismatch::RefundThereMissingHere {
                out_refund_no,
                out_trade_no,
                amount,
            } => (
                out_trade_no.as_str(),
                out_refund_no.as_str(),
                "",
                String::new(),
                amount.to_yuan_string(),
            ),
            Mismatch::RefundAmountDiffers {
                out_refund_no,
                ours,
                theirs,
            } => (
                "",
                out_refund_no.as_str(),
                "",
                ours.to_yuan_string(),
                theirs.to_yuan_string(),
            ),
            Mismatch::RefundHereMissingThere {
                out_refund_no,
                amount,
            } => (
                "",
                out_refund_no.as_str(),
                "",
                amount.to_yuan_string(),
                String::new(),
            ),
        };
        out.push_str(&format!(
            "{},{},{},{},{},{}\r\n",
            m.kind(),
            q(no),
            q(refund),
            q(tid),
            q(&ours),
            q(&theirs)
        ));
    }
    for (t, o) in &r.other_terminals {
        out.push_str(&format!(
            "other_terminal,{},,,,{}\r\n",
            q(t),
            o.payment_total.to_yuan_string()
        ));
    }
    out
}

/// Why a reconciliation could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The date is not `YYYY-MM-DD`.
    #[error("{0:?} is not a date (YYYY-MM-DD)")]
    BadDate(String),
    /// WeChat Pay could not give the bill.
    #[error("trade bill: {0}")]
    Bill(#[from] crate::wechat::ApiError),
    /// The bill could not be read.
    #[error("trade bill: {0}")]
    Parse(#[from] crate::wechat::bill::BillError),
    /// The log could not be read.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Downloads the day's bill (hash checked), reads the day's orders and refunds from the log,
/// and compares them for the till `terminal_id`. A day without a bill (NO_STATEMENT_EXIST) is compared as an empty bill.
pub async fn fetch_and_compare(
    client: &crate::wechat::Client,
    store: &crate::store::Store,
    mchid: &str,
    terminal_id: &str,
    date: &str,
) -> Result<Reconciliation, ReconcileError> {
    use crate::wechat::bill::{self, BillType};
    let day: jiff::civil::Date = date
        .parse()
        .map_err(|_| ReconcileError::BadDate(date.into()))?;
    let start = day
        .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(8)))
        .map_err(|_| ReconcileError::BadDate(date.into()))?
        .timestamp()
        .as_millisecond();
    let end = start + 24 * 3600 * 1000;
    let bill = match client.bill(date, BillType::All).await {
        Ok(bytes) => {
            let parsed = bill::parse(&bytes)?;
            bill::check_summary(&parsed)?;
            parsed
        }
        Err(e) if e.code() == Some(&crate::wechat::model::ErrorCode::NoStatementExist) => {
            TradeBill {
                bill_type: BillType::All,
                rows: Vec::new(),
                summary: Default::default(),
            }
        }
        Err(e) => return Err(e.into()),
    };
    let (orders, refunds) = store
        .call(move |c| {
            let mut stmt = c.prepare(
                "SELECT id FROM orders WHERE created_at >= ?1 AND created_at < ?2 ORDER BY id",
            )?;
            let ids: Vec<i64> = stmt
                .query_map([start, end], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let mut orders = Vec::new();
            for id in ids {
                let o = crate::store::orders::by_id(c, id)?;
                orders.push(LocalOrder {
                    out_trade_no: o.out_trade_no,
                    transaction_id: o.transaction_id,
                    amount: o.amount,
                    state: o.state.as_str().to_string(),
                    was_paid: crate::engine::Machine::from_snapshot(&o.snapshot)
                        .is_ok_and(|m| m.seen_paid()),
                });
            }
            let refunds = crate::store::refunds::between(c, start, end)?
                .into_iter()
                .map(|r| LocalRefund {
                    out_refund_no: r.out_refund_no,
                    out_trade_no: r.out_trade_no,
                    amount: r.amount,
                    status: r.status.as_str().to_string(),
                })
                .collect::<Vec<_>>();
            Ok((orders, refunds))
        })
        .await?;
    Ok(reconcile(
        date,
        mchid,
        terminal_id,
        &bill,
        &orders,
        &refunds,
    ))
}
