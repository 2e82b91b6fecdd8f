//! The simulator's books: orders, payments, reversals and refunds, and the scripted customers
//! that move them. Pure: every operation takes `now` (Unix ms) and does no I/O, so the rules
//! are unit-tested with explicit times.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::auth_code::Masked;
use crate::clock::beijing;
use crate::money::Fen;
use crate::wechat::bill::{BillRow, BillSummary, BillType, TradeBill};

/// How the simulated customer behaves, chosen by the last two digits of the payment code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// `01`: 202 USERPAYING, paid 8 s after the pay call.
    PaysAfter8s,
    /// `02`: 202 USERPAYING, the customer cancels after 6 s (PAYERROR).
    CancelsAfter6s,
    /// `03`: 202 USERPAYING forever.
    NeverPays,
    /// `04`: 403 NOT_ENOUGH (the order is recorded as PAYERROR).
    NotEnough,
    /// `05`: AUTHCODEEXPIRE (no order is created).
    CodeExpired,
    /// `06`: the pay call answers 500 SYSTEM_ERROR, but the order was paid.
    SystemErrorButPaid,
    /// `07`: the pay call hangs past any client timeout; the order was paid.
    HangsButPaid,
    /// `08`: the pay call hangs and no order is created.
    HangsNoOrder,
    /// `09`: 202 USERPAYING forever, and reverse answers SYSTEM_ERROR twice before it works.
    ReverseFailsTwice,
    /// `10`: paid, but the pay answer carries a forged signature.
    ForgedAnswer,
    /// Anything else: paid at once.
    PaysAtOnce,
}

impl Scenario {
    /// The scenario for a payment code.
    pub fn of_code(code: &str) -> Scenario {
        let tail = code.get(code.len().saturating_sub(2)..).unwrap_or("");
        match tail {
            "01" => Scenario::PaysAfter8s,
            "02" => Scenario::CancelsAfter6s,
            "03" => Scenario::NeverPays,
            "04" => Scenario::NotEnough,
            "05" => Scenario::CodeExpired,
            "06" => Scenario::SystemErrorButPaid,
            "07" => Scenario::HangsButPaid,
            "08" => Scenario::HangsNoOrder,
            "09" => Scenario::ReverseFailsTwice,
            "10" => Scenario::ForgedAnswer,
            _ => Scenario::PaysAtOnce,
        }
    }

    /// Every scenario with its code suffix and a description (for docs and the demo help).
    pub const TABLE: [(&'static str, Scenario, &'static str); 11] = [
        (
            "01",
            Scenario::PaysAfter8s,
            "customer confirms on the phone; paid after 8 s",
        ),
        (
            "02",
            Scenario::CancelsAfter6s,
            "customer confirms, then cancels after 6 s (PAYERROR)",
        ),
        (
            "03",
            Scenario::NeverPays,
            "customer never confirms (USERPAYING forever)",
        ),
        (
            "04",
            Scenario::NotEnough,
            "insufficient balance (NOT_ENOUGH)",
        ),
        (
            "05",
            Scenario::CodeExpired,
            "payment code expired (AUTHCODEEXPIRE)",
        ),
        (
            "06",
            Scenario::SystemErrorButPaid,
            "pay call answers SYSTEM_ERROR, but the order was paid",
        ),
        (
            "07",
            Scenario::HangsButPaid,
            "pay call hangs past the timeout; the order was paid",
        ),
        (
            "08",
            Scenario::HangsNoOrder,
            "pay call hangs; no order was created",
        ),
        (
            "09",
            Scenario::ReverseFailsTwice,
            "never confirms; reverse fails twice (SYSTEM_ERROR), then works",
        ),
        (
            "10",
            Scenario::ForgedAnswer,
            "paid, but the pay answer carries a forged signature",
        ),
        ("other", Scenario::PaysAtOnce, "paid at once"),
    ];
}

/// An order's state in the simulator (the wire `trade_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    /// Paid.
    Success,
    /// Paid, a refund exists.
    Refund,
    /// Customer confirming.
    Userpaying,
    /// Payment failed.
    Payerror,
    /// Reversed.
    Revoked,
}

impl State {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Success => "SUCCESS",
            State::Refund => "REFUND",
            State::Userpaying => "USERPAYING",
            State::Payerror => "PAYERROR",
            State::Revoked => "REVOKED",
        }
    }
}

/// One order in the books.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Order {
    /// Merchant order number.
    pub out_trade_no: String,
    /// AppID.
    pub appid: String,
    /// Merchant id (a service provider's order: the service provider's, `sp_mchid`).
    pub mchid: String,
    /// The sub-merchant the order belongs to (`sub_mchid`), for an order a service provider
    /// placed on the partner path; `None` for a direct merchant's order (and for every order
    /// of books written before service-provider mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_mchid: Option<String>,
    /// The sub-merchant's AppID, when the pay call sent one (answers carry it back only then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_appid: Option<String>,
    /// Goods description.
    pub description: String,
    /// Amount, fen.
    pub total: i64,
    /// The payment code, masked (the simulator keeps no full codes either).
    pub auth_code: String,
    /// The scripted customer.
    pub scenario: Scenario,
    /// When the pay call arrived (Unix ms).
    pub created_ms: i64,
    /// Current state.
    pub state: State,
    /// State text.
    pub state_desc: String,
    /// WeChat order number, once paid.
    pub transaction_id: Option<String>,
    /// When it was paid.
    pub paid_ms: Option<i64>,
    /// Payer's openid.
    pub openid: String,
    /// When it was reversed.
    pub reversed_ms: Option<i64>,
    /// Whether it was paid before it was reversed (the money went back to the customer).
    pub reversed_after_payment: bool,
    /// Every reverse call's time (Unix ms), for checking the 15-second rule.
    pub reverse_calls: Vec<i64>,
    /// SYSTEM_ERROR answers still to give to reverse calls.
    pub reverse_failures_left: u32,
}

impl Order {
    /// Whether the customer's money is with the merchant now (paid and not reversed). Refunds
    /// are separate records.
    pub fn is_charged(&self) -> bool {
        matches!(self.state, State::Success | State::Refund)
    }
}

/// A refund's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefundState {
    /// In progress.
    Processing,
    /// Done.
    Success,
    /// Failed at the bank.
    Abnormal,
}

impl RefundState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RefundState::Processing => "PROCESSING",
            RefundState::Success => "SUCCESS",
            RefundState::Abnormal => "ABNORMAL",
        }
    }
}

/// One refund.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RefundRecord {
    /// The sub-merchant whose order it refunds (`None`: a direct merchant's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_mchid: Option<String>,
    /// Our refund number.
    pub out_refund_no: String,
    /// WeChat's refund id.
    pub refund_id: String,
    /// The order.
    pub out_trade_no: String,
    /// Amount, fen.
    pub amount: i64,
    /// Reason.
    pub reason: Option<String>,
    /// Created (Unix ms).
    pub created_ms: i64,
    /// Status.
    pub status: RefundState,
    /// Settled (Unix ms).
    pub settled_ms: Option<i64>,
}

/// Seconds until a simulated refund settles.
pub const REFUND_SETTLE_MS: i64 = 3_000;

/// Why a ledger operation was refused: an HTTP status, a code and a message, as the service
/// would answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// HTTP status.
    pub status: u16,
    /// Error code.
    pub code: &'static str,
    /// Message.
    pub message: String,
    /// JSON-pointer of the offending field, for PARAM_ERROR.
    pub field: Option<String>,
}

impl Refusal {
    /// A refusal.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }
    /// A PARAM_ERROR for `field`.
    pub fn param(field: &str, message: impl Into<String>) -> Refusal {
        Refusal {
            status: 400,
            code: "PARAM_ERROR",
            message: message.into(),
            field: Some(field.into()),
        }
    }
}

/// What the pay call should answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayOutcome {
    /// 200 with the order.
    Paid,
    /// 202 USERPAYING.
    UserPaying,
    /// 200 paid, but the answer must carry a forged signature.
    PaidForged,
    /// An error answer (the order may or may not have been created).
    Refused(Refusal),
    /// Never answer (hang, then drop the connection).
    Hang,
}

/// The new order of a pay call (already validated).
#[derive(Clone, Debug)]
pub struct NewOrder {
    /// Merchant order number.
    pub out_trade_no: String,
    /// AppID.
    pub appid: String,
    /// Merchant id (a service provider's: `sp_mchid`).
    pub mchid: String,
    /// The sub-merchant, for a service provider's order.
    pub sub_mchid: Option<String>,
    /// The sub-merchant's AppID, if the pay call sent one.
    pub sub_appid: Option<String>,
    /// Description.
    pub description: String,
    /// Fen.
    pub total: i64,
    /// The full code (used for the scenario and payer id, then dropped).
    pub auth_code: String,
}

/// Whose books an operation reads: `None` for a direct merchant, `Some(sub_mchid)` for one
/// sub-merchant of the service provider. The service keys `out_trade_no` and `out_refund_no`
/// per merchant, so a sub-merchant never sees another's orders or refunds.
pub type Owner<'a> = Option<&'a str>;

/// The map key of an order or refund number in `owner`'s books. A direct merchant's key is the
/// number itself (as in books written before service-provider mode); a sub-merchant's is
/// `SUB_MCHID/NUMBER` (`/` is in neither number's alphabet, so keys never collide).
fn key(owner: Owner<'_>, no: &str) -> String {
    match owner {
        None => no.to_string(),
        Some(sub) => format!("{sub}/{no}"),
    }
}

/// The simulator's books.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Ledger {
    orders: BTreeMap<String, Order>,
    refunds: BTreeMap<String, RefundRecord>,
    seq: u64,
    /// The keys of the orders [`Ledger::settle`] may still move (a customer still paying, or
    /// paid without a transaction id yet), so that it visits those and not the whole book: a
    /// day's thousands of orders made every request O(book) (23 % of a pay call's CPU in the
    /// `payment` bench). Not saved; rebuilt by [`Ledger::load`].
    #[serde(skip)]
    moving_orders: BTreeSet<String>,
    /// The keys of the refunds still processing.
    #[serde(skip)]
    moving_refunds: BTreeSet<String>,
}

impl Ledger {
    /// Empty books.
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// Books saved by [`Ledger::save`], or empty books if there is no file yet.
    pub fn load(path: &std::path::Path) -> std::io::Result<Ledger> {
        match std::fs::read(path) {
            Ok(bytes) => {
                let mut ledger: Ledger =
                    serde_json::from_slice(&bytes).map_err(std::io::Error::other)?;
                ledger.moving_orders = ledger.orders.keys().cloned().collect();
                ledger.moving_refunds = ledger.refunds.keys().cloned().collect();
                // The first settle keeps only those still moving.
                Ok(ledger)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Ledger::new()),
            Err(e) => Err(e),
        }
    }

    /// Saves the books atomically (write a temporary file, fsync, rename).
    pub fn save(&self, path: &std::path::Path) -> std::io::Result<()> {
        use std::io::Write;
        let tmp = path.with_extension("json.tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec(self).map_err(std::io::Error::other)?)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Moves scripted customers along to `now`.
    pub fn settle(&mut self, now: i64) {
        // In key order, as a pass over the whole book would: transaction ids take their
        // sequence numbers in that order. What no longer moves leaves the set.
        for k in std::mem::take(&mut self.moving_orders) {
            let Some(o) = self.orders.get_mut(&k) else {
                continue;
            };
            if o.state == State::Userpaying {
                match o.scenario {
                    Scenario::PaysAfter8s if now >= o.created_ms + 8_000 => {
                        o.state = State::Success;
                        o.state_desc = "支付成功".into();
                        o.paid_ms = Some(o.created_ms + 8_000);
                    }
                    Scenario::CancelsAfter6s if now >= o.created_ms + 6_000 => {
                        o.state = State::Payerror;
                        o.state_desc = "用户取消支付".into();
                    }
                    _ => {}
                }
            }
            if let (Some(paid_ms), None) = (o.paid_ms, &o.transaction_id) {
                self.seq += 1;
                o.transaction_id = Some(transaction_id(paid_ms, self.seq));
            }
            if o.state == State::Userpaying {
                self.moving_orders.insert(k);
            }
        }
        let moving = std::mem::take(&mut self.moving_refunds);
        for k in moving {
            let Some(r) = self.refunds.get_mut(&k) else {
                continue;
            };
            if r.status == RefundState::Processing && now >= r.created_ms + REFUND_SETTLE_MS {
                r.status = if r.amount % 100 == 99 {
                    RefundState::Abnormal
                } else {
                    RefundState::Success
                };
                r.settled_ms = Some(r.created_ms + REFUND_SETTLE_MS);
            }
            if r.status == RefundState::Processing {
                self.moving_refunds.insert(k);
            }
        }
    }

    /// The pay call.
    pub fn pay(&mut self, new: NewOrder, now: i64) -> PayOutcome {
        self.settle(now);
        let order_key = key(new.sub_mchid.as_deref(), &new.out_trade_no);
        if let Some(existing) = self.orders.get(&order_key) {
            if existing.total != new.total || existing.description != new.description {
                return PayOutcome::Refused(Refusal::new(
                    403,
                    "OUT_TRADE_NO_USED",
                    "商户订单号重复",
                ));
            }
            return match existing.state {
                State::Success | State::Refund => {
                    PayOutcome::Refused(Refusal::new(403, "ORDERPAID", "订单已支付"))
                }
                State::Revoked => {
                    PayOutcome::Refused(Refusal::new(403, "ORDERREVERSED", "订单已撤销"))
                }
                State::Payerror => {
                    PayOutcome::Refused(Refusal::new(400, "ORDER_CLOSED", "订单已关闭"))
                }
                State::Userpaying => PayOutcome::UserPaying,
            };
        }
        let scenario = Scenario::of_code(&new.auth_code);
        let mut order = Order {
            out_trade_no: new.out_trade_no.clone(),
            appid: new.appid,
            mchid: new.mchid,
            sub_mchid: new.sub_mchid,
            sub_appid: new.sub_appid,
            description: new.description,
            total: new.total,
            auth_code: Masked::of(&new.auth_code).to_string(),
            scenario,
            created_ms: now,
            state: State::Success,
            state_desc: "支付成功".into(),
            transaction_id: None,
            paid_ms: None,
            openid: openid(&new.auth_code),
            reversed_ms: None,
            reversed_after_payment: false,
            reverse_calls: Vec::new(),
            reverse_failures_left: 0,
        };
        let outcome = match scenario {
            Scenario::PaysAtOnce
            | Scenario::SystemErrorButPaid
            | Scenario::HangsButPaid
            | Scenario::ForgedAnswer => {
                order.paid_ms = Some(now);
                match scenario {
                    Scenario::SystemErrorButPaid => PayOutcome::Refused(Refusal::new(
                        500,
                        "SYSTEM_ERROR",
                        "系统繁忙，请稍后重试",
                    )),
                    Scenario::HangsButPaid => PayOutcome::Hang,
                    Scenario::ForgedAnswer => PayOutcome::PaidForged,
                    _ => PayOutcome::Paid,
                }
            }
            Scenario::PaysAfter8s
            | Scenario::CancelsAfter6s
            | Scenario::NeverPays
            | Scenario::ReverseFailsTwice => {
                order.state = State::Userpaying;
                order.state_desc = "需要用户输入支付密码".into();
                if scenario == Scenario::ReverseFailsTwice {
                    order.reverse_failures_left = 2;
                }
                PayOutcome::UserPaying
            }
            Scenario::NotEnough => {
                order.state = State::Payerror;
                order.state_desc = "余额不足".into();
                PayOutcome::Refused(Refusal::new(
                    403,
                    "NOT_ENOUGH",
                    "用户余额不足，请用户更换付款方式",
                ))
            }
            Scenario::CodeExpired => {
                return PayOutcome::Refused(Refusal::new(
                    403,
                    "AUTHCODEEXPIRE",
                    "付款码已过期，请用户刷新后重试",
                ));
            }
            Scenario::HangsNoOrder => return PayOutcome::Hang,
        };
        self.moving_orders.insert(order_key.clone());
        self.orders.insert(order_key, order);
        self.settle(now);
        outcome
    }

    /// An order of `owner`'s by merchant number, settled to `now`.
    pub fn query(
        &mut self,
        owner: Owner<'_>,
        out_trade_no: &str,
        now: i64,
    ) -> Result<&Order, Refusal> {
        self.settle(now);
        self.orders
            .get(&key(owner, out_trade_no))
            .ok_or_else(|| Refusal::new(404, "ORDER_NOT_EXIST", "订单不存在"))
    }

    /// An order of `owner`'s by WeChat number, settled to `now`.
    pub fn query_by_transaction_id(
        &mut self,
        owner: Owner<'_>,
        id: &str,
        now: i64,
    ) -> Result<&Order, Refusal> {
        self.settle(now);
        self.orders
            .values()
            .find(|o| o.transaction_id.as_deref() == Some(id) && o.sub_mchid.as_deref() == owner)
            .ok_or_else(|| Refusal::new(404, "ORDER_NOT_EXIST", "订单不存在"))
    }

    /// The reverse call: closes an unpaid order, refunds a paid one.
    pub fn reverse(
        &mut self,
        owner: Owner<'_>,
        out_trade_no: &str,
        now: i64,
    ) -> Result<(), Refusal> {
        self.settle(now);
        let has_refunds = self
            .refunds
            .values()
            .any(|r| r.out_trade_no == out_trade_no && r.sub_mchid.as_deref() == owner);
        let o = self
            .orders
            .get_mut(&key(owner, out_trade_no))
            .ok_or_else(|| Refusal::new(404, "ORDER_NOT_EXIST", "订单不存在"))?;
        o.reverse_calls.push(now);
        if o.reverse_failures_left > 0 {
            o.reverse_failures_left -= 1;
            return Err(Refusal::new(500, "SYSTEM_ERROR", "系统繁忙，请稍后重试"));
        }
        if now - o.created_ms > 7 * 24 * 3600 * 1000 {
            return Err(Refusal::new(403, "REVERSE_EXPIRE", "订单已超过撤销期限"));
        }
        match o.state {
            State::Revoked => Ok(()),
            State::Refund if has_refunds => {
                Err(Refusal::new(403, "TRADE_ERROR", "订单已发生退款，不能撤销"))
            }
            State::Success | State::Refund => {
                o.state = State::Revoked;
                o.state_desc = "已撤销（已退款给用户）".into();
                o.reversed_after_payment = true;
                o.reversed_ms = Some(now);
                Ok(())
            }
            State::Userpaying | State::Payerror => {
                o.state = State::Revoked;
                o.state_desc = "已撤销".into();
                o.reversed_ms = Some(now);
                Ok(())
            }
        }
    }

    /// The refund call.
    #[allow(clippy::too_many_arguments)] // the refund request's fields, one by one
    pub fn refund(
        &mut self,
        owner: Owner<'_>,
        out_trade_no: &str,
        out_refund_no: &str,
        amount: i64,
        total: i64,
        reason: Option<String>,
        now: i64,
    ) -> Result<&RefundRecord, Refusal> {
        self.settle(now);
        let order_key = key(owner, out_trade_no);
        let refund_key = key(owner, out_refund_no);
        let order = self
            .orders
            .get(&order_key)
            .ok_or_else(|| Refusal::new(404, "RESOURCE_NOT_EXISTS", "订单不存在"))?;
        if !order.is_charged() {
            return Err(Refusal::new(
                404,
                "RESOURCE_NOT_EXISTS",
                "订单未支付或已撤销，不能退款",
            ));
        }
        if total != order.total {
            return Err(Refusal::param("/amount/total", "原订单金额与订单不符"));
        }
        if let Some(existing) = self.refunds.get(&refund_key) {
            if existing.out_trade_no != out_trade_no || existing.amount != amount {
                return Err(Refusal::new(
                    403,
                    "INVALID_REQUEST",
                    "退款单号已用于其他退款",
                ));
            }
            return self
                .refunds
                .get(&refund_key)
                .ok_or_else(|| Refusal::new(500, "SYSTEM_ERROR", "系统错误"));
        }
        let mine: Vec<&RefundRecord> = self
            .refunds
            .values()
            .filter(|r| r.out_trade_no == out_trade_no && r.sub_mchid.as_deref() == owner)
            .collect();
        if mine.len() >= 50 {
            return Err(Refusal::new(
                403,
                "INVALID_REQUEST",
                "部分退款次数已达上限（50次）",
            ));
        }
        let refunded: i64 = mine
            .iter()
            .filter(|r| r.status != RefundState::Abnormal)
            .map(|r| r.amount)
            .sum();
        if amount <= 0 || refunded + amount > order.total {
            return Err(Refusal::new(
                403,
                "INVALID_REQUEST",
                "申请退款金额超过订单可退金额",
            ));
        }
        let seq = self.next_seq();
        let record = RefundRecord {
            sub_mchid: owner.map(str::to_string),
            out_refund_no: out_refund_no.to_string(),
            refund_id: format!("50{:0>8}{:0>19}", beijing::compact_date(now), seq),
            out_trade_no: out_trade_no.to_string(),
            amount,
            reason,
            created_ms: now,
            status: RefundState::Processing,
            settled_ms: None,
        };
        if let Some(o) = self.orders.get_mut(&order_key) {
            o.state = State::Refund;
            o.state_desc = "转入退款".into();
        }
        self.moving_refunds.insert(refund_key.clone());
        self.refunds.insert(refund_key.clone(), record);
        self.refunds
            .get(&refund_key)
            .ok_or_else(|| Refusal::new(500, "SYSTEM_ERROR", "系统错误"))
    }

    /// A refund of `owner`'s by our number, settled to `now`.
    pub fn query_refund(
        &mut self,
        owner: Owner<'_>,
        out_refund_no: &str,
        now: i64,
    ) -> Result<&RefundRecord, Refusal> {
        self.settle(now);
        self.refunds
            .get(&key(owner, out_refund_no))
            .ok_or_else(|| Refusal::new(404, "RESOURCE_NOT_EXISTS", "退款单不存在"))
    }

    /// Every order.
    pub fn orders(&self) -> impl Iterator<Item = &Order> {
        self.orders.values()
    }

    /// The order with this number, whoever's it is (a direct merchant's first, then the
    /// sub-merchants' in key order): what tests of one till look up.
    pub fn order(&self, out_trade_no: &str) -> Option<&Order> {
        self.orders.get(out_trade_no).or_else(|| {
            self.orders
                .values()
                .find(|o| o.out_trade_no == out_trade_no)
        })
    }

    /// `owner`'s order with this number.
    pub fn order_of(&self, owner: Owner<'_>, out_trade_no: &str) -> Option<&Order> {
        self.orders.get(&key(owner, out_trade_no))
    }

    /// Every refund.
    pub fn refunds(&self) -> impl Iterator<Item = &RefundRecord> {
        self.refunds.values()
    }

    /// Moves a refund settlement or order timing for tests of the books themselves.
    pub fn order_mut(&mut self, out_trade_no: &str) -> Option<&mut Order> {
        let k = if self.orders.contains_key(out_trade_no) {
            out_trade_no.to_string()
        } else {
            self.orders
                .iter()
                .find(|(_, o)| o.out_trade_no == out_trade_no)
                .map(|(k, _)| k.clone())?
        };
        // The caller may move anything: settle looks at it again.
        self.moving_orders.insert(k.clone());
        self.orders.get_mut(&k)
    }

    /// The trade bill of a Beijing-time day (`YYYY-MM-DD`), as of `now`: one row per order
    /// paid that day (REVOKED if it was reversed after payment), one per refund created that
    /// day. `sub_mchid` given: that sub-merchant's rows only; `None`: every order in the books
    /// (a service provider's bill without `sub_mchid` is every sub-merchant's). `None` when
    /// the day has no rows (NO_STATEMENT_EXIST).
    pub fn trade_bill(
        &mut self,
        sub_mchid: Option<&str>,
        date: &str,
        bill_type: BillType,
        now: i64,
    ) -> Option<TradeBill> {
        self.settle(now);
        let wanted = |sub: &Option<String>| sub_mchid.is_none() || sub.as_deref() == sub_mchid;
        let mut rows: Vec<(i64, BillRow)> = Vec::new();
        if bill_type != BillType::Refund {
            for o in self.orders.values().filter(|o| wanted(&o.sub_mchid)) {
                let Some(paid) = o.paid_ms else { continue };
                if beijing::date(paid) != date {
                    continue;
                }
                let state = if o.reversed_after_payment {
                    "REVOKED"
                } else {
                    "SUCCESS"
                };
                rows.push((paid, payment_row(o, paid, state)));
            }
        }
        if bill_type != BillType::Success {
            for r in self.refunds.values().filter(|r| wanted(&r.sub_mchid)) {
                if beijing::date(r.created_ms) != date {
                    continue;
                }
                if let Some(o) = self
                    .orders
                    .get(&key(r.sub_mchid.as_deref(), &r.out_trade_no))
                {
                    rows.push((r.created_ms, refund_row(o, r, bill_type)));
                }
            }
        }
        if rows.is_empty() {
            return None;
        }
        rows.sort_by_key(|(t, _)| *t);
        let rows: Vec<BillRow> = rows.into_iter().map(|(_, r)| r).collect();
        let sum = |f: fn(&BillRow) -> Fen| Fen(rows.iter().map(|r| f(r).0).sum());
        let fee_e5: i64 = rows.iter().map(|r| r.fee_e5).sum();
        let summary = BillSummary {
            trade_count: rows.len() as u64,
            settlement_total: sum(|r| r.settlement_total),
            refund_total: if bill_type == BillType::Success {
                Fen(0)
            } else {
                sum(|r| r.refund)
            },
            recharge_coupon_refund_total: Fen(0),
            fee_total: Fen((fee_e5 + 500).div_euclid(1000)),
            order_total: sum(|r| r.order_amount),
            refund_requested_total: if bill_type == BillType::Success {
                Fen(0)
            } else {
                sum(|r| r.refund_requested)
            },
        };
        Some(TradeBill {
            bill_type,
            rows,
            summary,
        })
    }
}

fn payment_row(o: &Order, paid: i64, state: &str) -> BillRow {
    BillRow {
        trade_time: beijing::datetime(paid),
        appid: o.appid.clone(),
        mchid: o.mchid.clone(),
        sub_mchid: o.sub_mchid.clone().unwrap_or_else(|| "0".into()),
        device_id: String::new(),
        transaction_id: o.transaction_id.clone().unwrap_or_default(),
        out_trade_no: o.out_trade_no.clone(),
        openid: o.openid.clone(),
        trade_type: "MICROPAY".into(),
        trade_state: state.into(),
        bank_type: "OTHERS".into(),
        currency: "CNY".into(),
        settlement_total: Fen(o.total),
        coupon: Fen(0),
        refund_apply_time: None,
        refund_success_time: None,
        refund_id: "0".into(),
        out_refund_no: "0".into(),
        refund: Fen(0),
        recharge_coupon_refund: Fen(0),
        refund_type: String::new(),
        refund_status: String::new(),
        description: o.description.replace(',', " "),
        attach: String::new(),
        fee_e5: o.total * 6,
        rate: "0.60%".into(),
        order_amount: Fen(o.total),
        refund_requested: Fen(0),
        rate_note: String::new(),
    }
}

fn refund_row(o: &Order, r: &RefundRecord, bill_type: BillType) -> BillRow {
    let is_refund_bill = bill_type == BillType::Refund;
    BillRow {
        trade_time: beijing::datetime(r.created_ms),
        trade_state: "REFUND".into(),
        settlement_total: Fen(0),
        refund_apply_time: is_refund_bill.then(|| beijing::datetime(r.created_ms)),
        refund_success_time: is_refund_bill
            .then(|| r.settled_ms.map(beijing::datetime).unwrap_or_default()),
        refund_id: r.refund_id.clone(),
        out_refund_no: r.out_refund_no.clone(),
        refund: Fen(r.amount),
        refund_type: "ORIGINAL".into(),
        refund_status: r.status.as_str().into(),
        fee_e5: 0,
        order_amount: Fen(0),
        refund_requested: Fen(r.amount),
        ..payment_row(o, r.created_ms, "REFUND")
    }
}

/// A 28-digit WeChat order number: `4200` + date + sequence.
fn transaction_id(ms: i64, seq: u64) -> String {
    format!("4200{}{:0>16}", beijing::compact_date(ms), seq)
}

/// A stable pseudo-openid per payment code (so one customer looks like one payer).
fn openid(code: &str) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(code.as_bytes());
    let s: String = h.iter().take(13).map(|b| format!("{b:02x}")).collect();
    format!("oSim{s}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_764_000_000_000;

    fn new(no: &str, code: &str, total: i64) -> NewOrder {
        NewOrder {
            out_trade_no: no.into(),
            appid: "wxd678efh567hg6787".into(),
            mchid: "1900000001".into(),
            sub_mchid: None,
            sub_appid: None,
            description: "test".into(),
            total,
            auth_code: code.into(),
        }
    }

    #[test]
    fn scenarios_by_last_two_digits() {
        assert_eq!(
            Scenario::of_code("134567890123456701"),
            Scenario::PaysAfter8s
        );
        assert_eq!(
            Scenario::of_code("134567890123456710"),
            Scenario::ForgedAnswer
        );
        assert_eq!(
            Scenario::of_code("134567890123456711"),
            Scenario::PaysAtOnce
        );
        assert_eq!(Scenario::of_code(""), Scenario::PaysAtOnce);
    }

    #[test]
    fn user_pays_after_8_seconds() {
        let mut l = Ledger::new();
        assert_eq!(
            l.pay(new("A000001", "134567890123456701", 100), T0),
            PayOutcome::UserPaying
        );
        assert_eq!(
            l.query(None, "A000001", T0 + 7_999).unwrap().state,
            State::Userpaying
        );
        let o = l.query(None, "A000001", T0 + 8_000).unwrap();
        assert_eq!(o.state, State::Success);
        assert_eq!(o.paid_ms, Some(T0 + 8_000));
        assert_eq!(o.transaction_id.as_ref().unwrap().len(), 28);
        assert_eq!(o.auth_code, "1345 **** **** 6701");
    }

    /// `settle` visits only what may still move; a book saved and loaded again still moves its
    /// paying customers and processing refunds along, with the transaction ids a pass over the
    /// whole book would give.
    #[test]
    fn settle_moves_only_what_is_moving_also_after_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.json");
        let mut l = Ledger::new();
        for i in 0..1_000 {
            l.pay(new(&format!("P{i:06}"), "134567890123456711", 100), T0);
        }
        l.pay(new("A000001", "134567890123456701", 100), T0);
        l.refund(None, "P000007", "R1", 40, 100, None, T0 + 1)
            .unwrap();
        assert_eq!(
            (l.moving_orders.len(), l.moving_refunds.len()),
            (1, 1),
            "only the paying customer and the processing refund are watched"
        );
        l.save(&path).unwrap();
        let mut again = Ledger::load(&path).unwrap();
        for book in [&mut l, &mut again] {
            let o = book.query(None, "A000001", T0 + 8_000).unwrap().clone();
            assert_eq!(o.state, State::Success);
            assert_eq!(o.paid_ms, Some(T0 + 8_000));
            let r = book
                .query_refund(None, "R1", T0 + REFUND_SETTLE_MS + 1)
                .unwrap();
            assert_eq!(r.status, RefundState::Success);
            assert!(book.moving_orders.is_empty() && book.moving_refunds.is_empty());
        }
        assert_eq!(
            l.order("A000001").unwrap().transaction_id,
            again.order("A000001").unwrap().transaction_id
        );
        // Every paid order has its own transaction id.
        let ids: BTreeSet<_> = l
            .orders()
            .filter_map(|o| o.transaction_id.clone())
            .collect();
        assert_eq!(ids.len(), 1_001);
    }

    #[test]
    fn cancel_then_reverse_closes_the_loop() {
        let mut l = Ledger::new();
        l.pay(new("A000002", "134567890123456702", 100), T0);
        assert_eq!(
            l.query(None, "A000002", T0 + 6_000).unwrap().state,
            State::Payerror
        );
        l.reverse(None, "A000002", T0 + 16_000).unwrap();
        let o = l.order("A000002").unwrap();
        assert_eq!(o.state, State::Revoked);
        assert!(!o.is_charged() && !o.reversed_after_payment);
        assert_eq!(o.reverse_calls, vec![T0 + 16_000]);
    }

    #[test]
    fn reverse_fails_twice_then_works_and_paid_reverse_refunds() {
        let mut l = Ledger::new();
        l.pay(new("A000009", "134567890123456709", 100), T0);
        for _ in 0..2 {
            assert_eq!(
                l.reverse(None, "A000009", T0 + 20_000).unwrap_err().code,
                "SYSTEM_ERROR"
            );
        }
        l.reverse(None, "A000009", T0 + 21_000).unwrap();
        assert_eq!(l.order("A000009").unwrap().state, State::Revoked);

        l.pay(new("A000011", "134567890123456711", 100), T0);
        assert!(l.order("A000011").unwrap().is_charged());
        l.reverse(None, "A000011", T0 + 20_000).unwrap();
        let o = l.order("A000011").unwrap();
        assert!(o.reversed_after_payment && !o.is_charged());
        assert_eq!(l.reverse(None, "missing", T0).unwrap_err().status, 404);
    }

    #[test]
    fn failures_and_hangs() {
        let mut l = Ledger::new();
        let PayOutcome::Refused(r) = l.pay(new("A000004", "134567890123456704", 100), T0) else {
            panic!()
        };
        assert_eq!((r.status, r.code), (403, "NOT_ENOUGH"));
        assert_eq!(l.order("A000004").unwrap().state, State::Payerror);
        let PayOutcome::Refused(r) = l.pay(new("A000005", "134567890123456705", 100), T0) else {
            panic!()
        };
        assert_eq!(r.code, "AUTHCODEEXPIRE");
        assert!(l.order("A000005").is_none());
        let PayOutcome::Refused(r) = l.pay(new("A000006", "134567890123456706", 100), T0) else {
            panic!()
        };
        assert_eq!(r.status, 500);
        assert!(l.order("A000006").unwrap().is_charged());
        assert_eq!(
            l.pay(new("A000007", "134567890123456707", 100), T0),
            PayOutcome::Hang
        );
        assert!(l.order("A000007").unwrap().is_charged());
        assert_eq!(
            l.pay(new("A000008", "134567890123456708", 100), T0),
            PayOutcome::Hang
        );
        assert!(l.order("A000008").is_none());
    }

    #[test]
    fn out_trade_no_reuse() {
        let mut l = Ledger::new();
        assert_eq!(
            l.pay(new("A000020", "134567890123456720", 100), T0),
            PayOutcome::Paid
        );
        let PayOutcome::Refused(r) = l.pay(new("A000020", "134567890123456720", 200), T0) else {
            panic!()
        };
        assert_eq!(r.code, "OUT_TRADE_NO_USED");
        let PayOutcome::Refused(r) = l.pay(new("A000020", "134567890123456720", 100), T0) else {
            panic!()
        };
        assert_eq!(r.code, "ORDERPAID");
    }

    #[test]
    fn refunds_never_exceed_the_paid_amount() {
        let mut l = Ledger::new();
        l.pay(new("A000030", "134567890123456730", 1000), T0);
        assert_eq!(
            l.refund(None, "A000030", "R1", 600, 1000, None, T0)
                .unwrap()
                .status,
            RefundState::Processing
        );
        assert_eq!(
            l.refund(None, "A000030", "R2", 401, 1000, None, T0)
                .unwrap_err()
                .code,
            "INVALID_REQUEST"
        );
        assert_eq!(
            l.refund(None, "A000030", "R1", 600, 1000, None, T0)
                .unwrap()
                .refund_id
                .len(),
            29,
            "same number: same refund"
        );
        assert_eq!(
            l.refund(None, "A000030", "R1", 500, 1000, None, T0)
                .unwrap_err()
                .code,
            "INVALID_REQUEST"
        );
        assert_eq!(
            l.refund(None, "A000030", "R3", 400, 999, None, T0)
                .unwrap_err()
                .code,
            "PARAM_ERROR"
        );
        l.refund(None, "A000030", "R3", 400, 1000, None, T0)
            .unwrap();
        assert_eq!(
            l.query_refund(None, "R3", T0 + 3_000).unwrap().status,
            RefundState::Success
        );
        assert_eq!(l.order("A000030").unwrap().state, State::Refund);
        assert_eq!(
            l.reverse(None, "A000030", T0 + 20_000).unwrap_err().code,
            "TRADE_ERROR"
        );
        // .99 refunds end ABNORMAL.
        l.pay(new("A000031", "134567890123456731", 1000), T0);
        l.refund(None, "A000031", "R4", 199, 1000, None, T0)
            .unwrap();
        assert_eq!(
            l.query_refund(None, "R4", T0 + 3_000).unwrap().status,
            RefundState::Abnormal
        );
        assert_eq!(
            l.refund(None, "A000004", "R5", 1, 1000, None, T0)
                .unwrap_err()
                .code,
            "RESOURCE_NOT_EXISTS"
        );
    }

    #[test]
    fn bill_lists_payments_reversals_and_refunds_of_the_day() {
        let mut l = Ledger::new();
        l.pay(new("A000040", "134567890123456740", 1234), T0);
        l.pay(new("A000041", "134567890123456741", 500), T0 + 1_000);
        l.pay(new("A000042", "134567890123456703", 700), T0 + 2_000); // never pays: not billed
        l.reverse(None, "A000041", T0 + 20_000).unwrap();
        l.refund(None, "A000040", "R40", 234, 1234, None, T0 + 30_000)
            .unwrap();
        let date = beijing::date(T0);
        let bill = l
            .trade_bill(None, &date, BillType::All, T0 + 60_000)
            .unwrap();
        let states: Vec<&str> = bill.rows.iter().map(|r| r.trade_state.as_str()).collect();
        assert_eq!(states, ["SUCCESS", "REVOKED", "REFUND"]);
        assert_eq!(bill.summary.trade_count, 3);
        assert_eq!(bill.summary.order_total, Fen(1734));
        assert_eq!(bill.summary.refund_total, Fen(234));
        assert_eq!(bill.rows[2].refund_status, "SUCCESS");
        crate::wechat::bill::check_summary(&bill).unwrap();
        assert!(
            l.trade_bill(None, "2000-01-01", BillType::All, T0)
                .is_none()
        );
    }
    fn new_of(sub: &str, no: &str, code: &str, total: i64) -> NewOrder {
        NewOrder {
            sub_mchid: Some(sub.into()),
            ..new(no, code, total)
        }
    }

    #[test]
    fn each_sub_merchant_has_its_own_books() {
        let mut l = Ledger::new();
        let (a, b) = (Some("1900000109"), Some("1900000110"));
        // One number, two sub-merchants: two orders (the number is unique per merchant).
        assert_eq!(
            l.pay(
                new_of("1900000109", "P000001", "134567890123456711", 100),
                T0
            ),
            PayOutcome::Paid
        );
        assert_eq!(
            l.pay(
                new_of("1900000110", "P000001", "134567890123456711", 200),
                T0
            ),
            PayOutcome::Paid
        );
        assert_eq!(l.query(a, "P000001", T0).unwrap().total, 100);
        assert_eq!(l.query(b, "P000001", T0).unwrap().total, 200);
        // Neither the direct merchant nor another sub-merchant sees an order it did not place.
        l.pay(
            new_of("1900000109", "P000002", "134567890123456703", 100),
            T0,
        );
        assert_eq!(
            l.query(b, "P000002", T0).unwrap_err().code,
            "ORDER_NOT_EXIST"
        );
        assert_eq!(
            l.query(None, "P000002", T0).unwrap_err().code,
            "ORDER_NOT_EXIST"
        );
        assert_eq!(
            l.reverse(b, "P000002", T0).unwrap_err().code,
            "ORDER_NOT_EXIST"
        );
        let tid = l
            .query(a, "P000001", T0)
            .unwrap()
            .transaction_id
            .clone()
            .unwrap();
        assert!(l.query_by_transaction_id(b, &tid, T0).is_err());
        assert_eq!(
            l.refund(b, "P000002", "R1", 1, 100, None, T0)
                .unwrap_err()
                .code,
            "RESOURCE_NOT_EXISTS"
        );
        l.refund(a, "P000001", "R1", 10, 100, None, T0).unwrap();
        assert!(l.query_refund(b, "R1", T0).is_err());
        assert_eq!(l.query_refund(a, "R1", T0).unwrap().amount, 10);
        assert!(l.order_of(a, "P000002").unwrap().state == State::Userpaying);
        // Bills: one sub-merchant's rows with its number in 特约商户号, or everyone's.
        let date = beijing::date(T0);
        let bill = l.trade_bill(a, &date, BillType::All, T0 + 1).unwrap();
        assert_eq!(bill.rows.len(), 2, "a's payment and refund");
        assert!(bill.rows.iter().all(|r| r.sub_mchid == "1900000109"));
        let all = l.trade_bill(None, &date, BillType::All, T0 + 1).unwrap();
        assert_eq!(all.rows.len(), 3);
        assert!(all.rows.iter().any(|r| r.sub_mchid == "1900000110"));
    }

    /// Books saved by the build before service-provider mode (direct orders keyed by their
    /// number, no `sub_mchid` field) still load, and are a direct merchant's.
    #[test]
    fn books_written_before_service_provider_mode_still_load() {
        let old = r#"{"orders":{"POS01A0001":{"out_trade_no":"POS01A0001","appid":"wxd678efh567hg6787","mchid":"1900000001","description":"d","total":100,"auth_code":"1345 **** **** 6711","scenario":"pays_at_once","created_ms":1764000000000,"state":"REFUND","state_desc":"转入退款","transaction_id":"4200202511250000000000000001","paid_ms":1764000000000,"openid":"oSimx","reversed_ms":null,"reversed_after_payment":false,"reverse_calls":[],"reverse_failures_left":0}},"refunds":{"R1":{"out_refund_no":"R1","refund_id":"50","out_trade_no":"POS01A0001","amount":10,"reason":null,"created_ms":1764000000000,"status":"SUCCESS","settled_ms":1764000003000}},"seq":2}"#;
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("ledger.json");
        std::fs::write(&path, old).unwrap();
        let mut l = Ledger::load(&path).unwrap();
        assert_eq!(l.query(None, "POS01A0001", T0).unwrap().sub_mchid, None);
        assert_eq!(l.query_refund(None, "R1", T0).unwrap().amount, 10);
        assert!(l.query(Some("1900000109"), "POS01A0001", T0).is_err());
        // Saved again, a direct order is written as before: no sub-merchant fields.
        l.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("sub_mchid"), "{text}");
        assert!(text.contains(r#""orders":{"POS01A0001":"#), "{text}");
    }
}
