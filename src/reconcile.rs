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
//! In service-provider mode (`merchant.sub_mchid`) the bill is asked for with the till's
//! sub-merchant, and `商户号` is the service provider's. A row whose `特约商户号` is any other
//! (another sub-merchant's, or `0`/empty: the service provider's own business) is counted as
//! "other sub-merchants", before anything else: not compared, never a mismatch — two
//! sub-merchants' tills may both be `POS01` and use the same order numbers. A direct merchant
//! ([`reconcile`]) compares as before, whatever `特约商户号` says.
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
    /// The sub-merchant reconciled, in service-provider mode (`mchid` is then the service
    /// provider's); absent for a direct merchant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_mchid: Option<String>,
    /// Service-provider mode: rows of other sub-merchants (by their 特约商户号; `0` for the
    /// service provider's own business), counted, not compared, never mismatches.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub other_sub_merchants: BTreeMap<String, OtherTerminal>,
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
/// of a direct merchant (see the module comment for which rows are its own).
pub fn reconcile(
    date: &str,
    mchid: &str,
    terminal_id: &str,
    bill: &TradeBill,
    orders: &[LocalOrder],
    refunds: &[LocalRefund],
) -> Reconciliation {
    reconcile_for(date, mchid, None, terminal_id, bill, orders, refunds)
}

/// A row's 特约商户号 as the count of other sub-merchants keys it (`0` when empty).
fn sub_merchant_key(row: &crate::wechat::bill::BillRow) -> &str {
    match row.sub_mchid.trim() {
        "" => "0",
        s => s,
    }
}

/// [`reconcile`] for a direct merchant (`sub_mchid` `None`) or for a service provider's
/// sub-merchant (`mchid` the service provider's): the rows of every other sub-merchant are
/// counted apart ([`Reconciliation::other_sub_merchants`]).
pub fn reconcile_for(
    date: &str,
    mchid: &str,
    sub_mchid: Option<&str>,
    terminal_id: &str,
    bill: &TradeBill,
    orders: &[LocalOrder],
    refunds: &[LocalRefund],
) -> Reconciliation {
    // Another sub-merchant's row (service-provider mode only).
    let not_ours = |row: &crate::wechat::bill::BillRow| {
        sub_mchid.is_some_and(|sub| sub_merchant_key(row) != sub)
    };
    let mut out = Reconciliation {
        date: date.into(),
        mchid: mchid.into(),
        terminal_id: terminal_id.into(),
        other_terminals: BTreeMap::new(),
        sub_mchid: sub_mchid.map(str::to_string),
        other_sub_merchants: BTreeMap::new(),
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
            && !not_ours(row)
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
        let count = |e: &mut OtherTerminal| {
            if row.trade_state == "REFUND" {
                e.refunds += 1;
                e.refund_total = Fen(e.refund_total.0 + refund_amount(row).0);
            } else {
                e.payments += 1;
                e.payment_total = Fen(e.payment_total.0 + row.order_amount.0);
            }
        };
        if not_ours(row) {
            count(
                out.other_sub_merchants
                    .entry(sub_merchant_key(row).to_string())
                    .or_default(),
            );
            continue;
        }
        if let Some(other) = scanpay_terminal(&row.out_trade_no)
            .filter(|t| !terminal_id.is_empty() && *t != terminal_id)
        {
            count(out.other_terminals.entry(other.to_string()).or_default());
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
    match (&r.sub_mchid, zh) {
        (None, true) => s.push_str(&format!(
            "对账 {} 商户号 {} 终端 {}\n",
            r.date, r.mchid, r.terminal_id
        )),
        (None, false) => s.push_str(&format!(
            "Reconciliation {} merchant {} terminal {}\n",
            r.date, r.mchid, r.terminal_id
        )),
        (Some(sub), true) => s.push_str(&format!(
            "对账 {} 服务商 {} 特约商户 {sub} 终端 {}\n",
            r.date, r.mchid, r.terminal_id
        )),
        (Some(sub), false) => s.push_str(&format!(
            "Reconciliation {} service provider {} sub-merchant {sub} terminal {}\n",
            r.date, r.mchid, r.terminal_id
        )),
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
    for (sub, o) in &r.other_sub_merchants {
        // A number from the bill: one line, whatever it holds.
        let sub = crate::sanitize::terminal_line(sub);
        if zh {
            s.push_str(&format!(
                "· 其他特约商户 {sub}：收款 {} 笔 {}，退款 {} 笔 {}（不是本商户的，不对账）\n",
                o.payments, o.payment_total, o.refunds, o.refund_total
            ));
        } else {
            s.push_str(&format!(
                "· other sub-merchant {sub}: {} payments {}, {} refunds {} (not ours, not compared)\n",
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
/// `out_trade_no`, its payment total in `theirs`; not a mismatch), then, in service-provider
/// mode, one `other_sub_merchant` line per other sub-merchant in the bill (its 特约商户号 in
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
    for (sub, o) in &r.other_sub_merchants {
        out.push_str(&format!(
            "other_sub_merchant,{},,,,{}\r\n",
            q(sub),
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
/// and compares them for the till `terminal_id` — in service-provider mode for the client's
/// sub-merchant ([`reconcile_for`]). A day without a bill (NO_STATEMENT_EXIST) is compared as an empty bill.
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
    let sub_mchid = match &client.settings().party {
        crate::wechat::Party::Direct { .. } => None,
        crate::wechat::Party::Partner { sub_mchid, .. } => Some(sub_mchid.as_str()),
    };
    Ok(reconcile_for(
        date,
        mchid,
        sub_mchid,
        terminal_id,
        &bill,
        &orders,
        &refunds,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wechat::bill::{self, BillRow, BillSummary, BillType};

    const SP: &str = "1900000001";
    const OURS: &str = "1900000109";
    const OTHER: &str = "1900000110";

    fn row(sub: &str, no: &str, state: &str, fen: i64) -> BillRow {
        BillRow {
            trade_time: "2025-11-25 10:00:00".into(),
            appid: "wx8888888888888888".into(),
            mchid: SP.into(),
            sub_mchid: sub.into(),
            transaction_id: format!("4200{fen:06}"),
            out_trade_no: no.into(),
            trade_type: "MICROPAY".into(),
            trade_state: state.into(),
            currency: "CNY".into(),
            settlement_total: Fen(fen),
            order_amount: Fen(fen),
            rate: "0.60%".into(),
            ..BillRow::default()
        }
    }

    fn refund_row(sub: &str, no: &str, refund_no: &str, fen: i64) -> BillRow {
        BillRow {
            out_refund_no: refund_no.into(),
            refund_id: format!("5030{fen:06}"),
            refund: Fen(fen),
            refund_requested: Fen(fen),
            refund_type: "ORIGINAL".into(),
            refund_status: "SUCCESS".into(),
            settlement_total: Fen(0),
            order_amount: Fen(0),
            ..row(sub, no, "REFUND", 0)
        }
    }

    /// The bill as WeChat Pay's text in `layout`, read back by the parser (so the 特约商户号
    /// column is the one the parser takes it from).
    fn through_text(layout: BillType, rows: Vec<BillRow>) -> TradeBill {
        let rows: Vec<BillRow> = rows
            .into_iter()
            .filter(|r| layout != BillType::Success || r.trade_state != "REFUND")
            .collect();
        let summary = BillSummary {
            trade_count: rows.len() as u64,
            settlement_total: Fen(rows.iter().map(|r| r.settlement_total.0).sum()),
            refund_total: Fen(rows.iter().map(|r| r.refund.0).sum()),
            order_total: Fen(rows.iter().map(|r| r.order_amount.0).sum()),
            refund_requested_total: Fen(rows.iter().map(|r| r.refund_requested.0).sum()),
            ..BillSummary::default()
        };
        let text = bill::render(&TradeBill {
            bill_type: layout,
            rows,
            summary,
        });
        let parsed = bill::parse(&text).expect("a bill the parser reads");
        bill::check_summary(&parsed).expect("it adds up");
        assert_eq!(parsed.bill_type, layout);
        parsed
    }

    fn local(no: &str, state: &str, fen: i64) -> LocalOrder {
        LocalOrder {
            out_trade_no: no.into(),
            transaction_id: None,
            amount: Fen(fen),
            state: state.into(),
            was_paid: CHARGED.contains(&state),
        }
    }

    /// Two sub-merchants of one service provider, each with a till `POS01` (so the same kind
    /// of order numbers), and the provider's own business (特约商户号 `0`).
    fn shared_bill_rows() -> Vec<BillRow> {
        vec![
            row(OURS, "POS01-20251125-AB-000001", "SUCCESS", 1_000),
            row(OURS, "POS01-20251125-AB-000002", "SUCCESS", 2_000),
            refund_row(
                OURS,
                "POS01-20251125-AB-000002",
                "POS01-20251125-AB-000002-R1",
                500,
            ),
            // The other sub-merchant's till has the same terminal id and even the same
            // number: not ours, not a mismatch.
            row(OTHER, "POS01-20251125-AB-000001", "SUCCESS", 7_000),
            row(OTHER, "POS01-20251125-CD-000009", "SUCCESS", 3_000),
            refund_row(
                OTHER,
                "POS01-20251125-CD-000009",
                "POS01-20251125-CD-000009-R1",
                300,
            ),
            // The service provider's own (no sub-merchant).
            row("0", "SP-ORDER-1", "SUCCESS", 4_000),
        ]
    }

    #[test]
    fn other_sub_merchants_rows_are_counted_apart_never_compared_in_both_layouts() {
        let orders = vec![
            local("POS01-20251125-AB-000001", "PAID", 1_000),
            local("POS01-20251125-AB-000002", "PARTIALLY_REFUNDED", 2_000),
        ];
        let refunds = [LocalRefund {
            out_refund_no: "POS01-20251125-AB-000002-R1".into(),
            out_trade_no: "POS01-20251125-AB-000002".into(),
            amount: Fen(500),
            status: "SUCCESS".into(),
        }];
        for layout in [BillType::All, BillType::Success] {
            let b = through_text(layout, shared_bill_rows());
            // A SUCCESS bill has no refund rows (the till asks for ALL).
            let with_refunds = layout == BillType::All;
            let ours = if with_refunds { &refunds[..] } else { &[] };
            let r = reconcile_for("2025-11-25", SP, Some(OURS), "POS01", &b, &orders, ours);
            assert!(r.is_clean(), "{layout:?}: {:?}", r.mismatches);
            assert_eq!(r.matched_payments, 2, "{layout:?}");
            assert_eq!(r.matched_refunds, usize::from(with_refunds), "{layout:?}");
            let other = &r.other_sub_merchants[OTHER];
            assert_eq!(
                (other.payments, other.payment_total),
                (2, Fen(10_000)),
                "{layout:?}"
            );
            assert_eq!(
                (other.refunds, other.refund_total),
                if with_refunds {
                    (1, Fen(300))
                } else {
                    (0, Fen(0))
                }
            );
            let own = &r.other_sub_merchants["0"];
            assert_eq!((own.payments, own.payment_total), (1, Fen(4_000)));
            assert!(r.other_terminals.is_empty(), "{:?}", r.other_terminals);
            assert_eq!(r.sub_mchid.as_deref(), Some(OURS));

            let table = to_table(&r, false);
            assert!(
                table.contains("service provider 1900000001 sub-merchant 1900000109"),
                "{table}"
            );
            assert!(
                table.contains("· other sub-merchant 1900000110: 2 payments ¥100.00"),
                "{table}"
            );
            assert!(to_table(&r, true).contains("其他特约商户 1900000110"));
            let csv = to_csv(&r);
            assert!(
                csv.contains("\r\nother_sub_merchant,1900000110,,,,100.00\r\n"),
                "{csv}"
            );
            let json = serde_json::to_value(&r).unwrap();
            assert_eq!(json["other_sub_merchants"][OTHER]["payments"], 2, "{json}");
        }
    }

    #[test]
    fn our_sub_merchants_disagreements_are_still_reported() {
        // Money of ours without a sale record, and a sale of ours missing from the bill:
        // the filter hides neither.
        let mut rows = shared_bill_rows();
        rows.push(row(OURS, "POS01-20251125-AB-000003", "SUCCESS", 999));
        for layout in [BillType::All, BillType::Success] {
            let b = through_text(layout, rows.clone());
            let orders = vec![
                local("POS01-20251125-AB-000001", "PAID", 1_000),
                local("POS01-20251125-AB-000002", "PAID", 2_000),
                local("POS01-20251125-AB-000004", "PAID", 4_444),
            ];
            let r = reconcile_for("2025-11-25", SP, Some(OURS), "POS01", &b, &orders, &[]);
            let kinds: Vec<&str> = r.mismatches.iter().map(Mismatch::kind).collect();
            // Most serious first (the order of `Mismatch`).
            let mut want = vec!["there_missing_here", "paid_here_missing_there"];
            if layout == BillType::All {
                want.push("refund_there_missing_here");
            }
            assert_eq!(kinds, want, "{layout:?}: {:?}", r.mismatches);
            assert!(
                r.mismatches
                    .iter()
                    .all(|m| !format!("{m:?}").contains("7000")),
                "no row of the other sub-merchant"
            );
        }
    }

    #[test]
    fn another_sub_merchants_number_cannot_fake_a_line_of_the_table() {
        let b = TradeBill {
            bill_type: BillType::All,
            rows: vec![row(
                "19\n✘ there_missing_here \u{1b}[2J",
                "X-1",
                "SUCCESS",
                100,
            )],
            summary: BillSummary::default(),
        };
        let r = reconcile_for("2025-11-25", SP, Some(OURS), "POS01", &b, &[], &[]);
        assert!(r.is_clean());
        let table = to_table(&r, false);
        assert_eq!(table.lines().count(), 3, "{table}");
        assert!(!table.contains('\u{1b}'), "{table}");
    }

    #[test]
    fn a_direct_merchants_bill_is_compared_as_before() {
        // 特约商户号 `0` or empty on a direct merchant's bill: every row compared.
        let text = "\u{feff}交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n\
`2025-11-25 10:00:00,`wx8888888888888888,`1900000001,`0,`,`4200000001,`POS01-20251125-AB-000001,`o1,`MICROPAY,`SUCCESS,`OTHERS,`CNY,`10.00,`0.00,`0,`0,`0.00,`0.00,`,`,`水,`,`0.06000,`0.60%,`10.00,`0.00,`\r\n\
`2025-11-25 10:05:00,`wx8888888888888888,`1900000001,`,`,`4200000002,`POS01-20251125-AB-000002,`o2,`MICROPAY,`SUCCESS,`OTHERS,`CNY,`20.00,`0.00,`0,`0,`0.00,`0.00,`,`,`水,`,`0.12000,`0.60%,`20.00,`0.00,`\r\n\
总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n\
`2,`30.00,`0.00,`0.00,`0.18000,`30.00,`0.00\r\n";
        let b = bill::parse(text.as_bytes()).unwrap();
        assert_eq!(b.rows[0].sub_mchid, "0");
        assert_eq!(b.rows[1].sub_mchid, "");
        let orders = vec![local("POS01-20251125-AB-000001", "PAID", 1_000)];
        let r = reconcile("2025-11-25", SP, "POS01", &b, &orders, &[]);
        assert_eq!(r.matched_payments, 1);
        assert!(r.other_sub_merchants.is_empty() && r.sub_mchid.is_none());
        assert_eq!(
            r.mismatches,
            vec![Mismatch::ThereMissingHere {
                out_trade_no: "POS01-20251125-AB-000002".into(),
                transaction_id: "4200000002".into(),
                amount: Fen(2_000),
            }]
        );
        let json = serde_json::to_value(&r).unwrap();
        assert!(
            json.get("sub_mchid").is_none() && json.get("other_sub_merchants").is_none(),
            "a direct merchant's JSON is unchanged: {json}"
        );
        let table = to_table(&r, false);
        assert!(
            table.starts_with("Reconciliation 2025-11-25 merchant 1900000001 terminal POS01\n")
        );
        assert!(!table.contains("sub-merchant") && !to_csv(&r).contains("other_sub_merchant"));
        // The same bill for a direct merchant's rows with a sub-merchant column set (a
        // provider's bill read by a direct till) is still compared whole: no filter without
        // a sub-merchant of our own.
        let mut b2 = b.clone();
        b2.rows[1].sub_mchid = OTHER.into();
        let r2 = reconcile("2025-11-25", SP, "POS01", &b2, &orders, &[]);
        assert_eq!(r2.mismatches.len(), 1);
    }
}
