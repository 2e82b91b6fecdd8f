//! Refunds: a pure state machine like the payment's, and its driver.
//!
//! Each refund has its own `out_refund_no`, written before the request leaves; retries and
//! queries always reuse it (WeChat refunds one number at most once). Status is polled until
//! SUCCESS, CLOSED or ABNORMAL; ABNORMAL needs a person (the official guidance: the customer's
//! card is frozen or closed — handle it in the merchant platform). Recovery resumes refunds in
//! flight exactly like orders.

use serde::{Deserialize, Serialize};

use crate::money::Fen;
pub use crate::order::RefundStatus;
use crate::order::{OrderState, Refusal};

/// The order's state given the outcome of its payment and the refunds that succeeded: the
/// one rule for PAID → PARTIALLY_REFUNDED → REFUNDED. Refunds never change an order that was
/// not charged.
pub fn order_state(payment: OrderState, amount: Fen, refunded: Fen) -> OrderState {
    if !payment.is_charged() || refunded.0 <= 0 {
        payment
    } else if refunded >= amount {
        OrderState::Refunded
    } else {
        OrderState::PartiallyRefunded
    }
}

/// WeChat Pay refunds one order at most this many times.
pub const MAX_REFUNDS_PER_ORDER: i64 = 50;

/// Whether `amount` may be refunded from an order in `state` of `paid`, given what is `left`
/// to refund (every refund not definitely failed counts) and the `count` of refunds so far.
pub fn may_refund(
    state: OrderState,
    out_trade_no: &str,
    paid: Fen,
    left: Fen,
    count: i64,
    amount: Fen,
) -> Result<(), Refusal> {
    if !state.is_charged() {
        return Err(Refusal::NotRefundable {
            out_trade_no: out_trade_no.to_string(),
            state,
        });
    }
    if amount.0 <= 0 {
        return Err(Refusal::RefundNotPositive);
    }
    if amount > left {
        return Err(Refusal::RefundExceeds { paid, left });
    }
    if count >= MAX_REFUNDS_PER_ORDER {
        return Err(Refusal::TooManyRefunds {
            limit: MAX_REFUNDS_PER_ORDER,
        });
    }
    Ok(())
}

/// What WeChat said to the create call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreateResult {
    /// Accepted, with its status.
    Accepted(RefundStatus),
    /// SYSTEM_ERROR and the like: send the same request again.
    Retry,
    /// No trusted answer (timeout, 429, unverifiable): query first.
    Unknown,
    /// Refused for good.
    Failed {
        /// Error code.
        code: String,
        /// What it means, English.
        en: String,
        /// What it means, Chinese.
        zh: String,
    },
}

/// What a refund query said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefundQueryResult {
    /// The refund exists with this status.
    Status(RefundStatus),
    /// A verified "no such refund": the create never took effect.
    NotFound,
    /// No trusted answer.
    Unknown,
}

/// Events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefundEvent {
    /// Written; start.
    Start,
    /// Restarted after a crash.
    Resume,
    /// The create call answered.
    Create(CreateResult),
    /// A query answered.
    Query(RefundQueryResult),
    /// A wake-up.
    Timer,
}

/// Commands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefundCommand {
    /// Send the create request (always the same out_refund_no).
    SendCreate,
    /// Query the refund.
    Query,
    /// Deliver a Timer at this time (Unix ms).
    WakeAt(i64),
    /// Over.
    Finished(RefundStatus),
}

/// Create attempts before giving up on resending and only querying.
const MAX_CREATES: u32 = 4;

/// One refund's flow. Changed only by [`RefundMachine::step`]; read through the getters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundMachine {
    status: RefundStatus,
    /// A request is in flight.
    in_flight: bool,
    /// Create requests sent.
    creates: u32,
    /// Queries made.
    queries: u32,
    /// Next timed action.
    next_at: Option<i64>,
    /// Why it failed, for the cashier.
    reason: Option<String>,
    /// Whether the next action is a create (else a query).
    next_is_create: bool,
}

impl RefundMachine {
    /// A new refund.
    pub fn new() -> RefundMachine {
        RefundMachine {
            status: RefundStatus::Created,
            in_flight: false,
            creates: 0,
            queries: 0,
            next_at: None,
            reason: None,
            next_is_create: true,
        }
    }

    /// The refund's status.
    pub fn status(&self) -> RefundStatus {
        self.status
    }

    /// Why it failed or needs a person, for the cashier.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// Create requests sent.
    pub fn creates(&self) -> u32 {
        self.creates
    }

    /// Queries made.
    pub fn queries(&self) -> u32 {
        self.queries
    }

    /// When the machine next needs a timer (Unix ms), or `None` while a request is in flight
    /// or the refund is over.
    pub fn next_wake(&self) -> Option<i64> {
        self.next_at.filter(|_| !self.in_flight)
    }

    /// Whether the flow is over.
    pub fn is_done(&self) -> bool {
        self.status.is_final()
    }

    /// Why a stored refund failed or needs a person (`None` if it did not, or the snapshot
    /// cannot be read).
    pub fn reason_in(snapshot: &str) -> Option<String> {
        RefundMachine::from_snapshot(snapshot).ok()?.reason
    }

    /// The stored form (JSON).
    pub fn to_snapshot(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// From the stored form.
    pub fn from_snapshot(text: &str) -> Result<RefundMachine, super::micropay::SnapshotError> {
        serde_json::from_str(text).map_err(|e| super::micropay::SnapshotError::new(e.to_string()))
    }

    /// Poll back-off: 5 s, 10 s, 20 s, 40 s, then every 60 s.
    fn poll_delay(queries: u32) -> i64 {
        (5_000i64 << queries.min(4)).min(60_000)
    }

    /// Applies an event at `now`.
    pub fn step(mut self, ev: RefundEvent, now: i64) -> (RefundMachine, Vec<RefundCommand>) {
        let mut out = Vec::new();
        if self.status.is_final() {
            return (self, out);
        }
        match ev {
            RefundEvent::Start => {
                if !self.in_flight && self.creates == 0 {
                    self.send_create(&mut out);
                }
            }
            RefundEvent::Resume => {
                // The create may have left before the crash: ask first, never guess.
                self.in_flight = false;
                self.query(&mut out);
            }
            RefundEvent::Create(r) => {
                if !self.in_flight {
                    return (self, out);
                }
                self.in_flight = false;
                match r {
                    CreateResult::Accepted(s) => self.on_status(s, now, &mut out),
                    CreateResult::Retry if self.creates < MAX_CREATES => {
                        self.next_is_create = true;
                        self.wake(now + (1_000i64 << self.creates.min(4)), &mut out);
                    }
                    CreateResult::Retry | CreateResult::Unknown => {
                        self.next_is_create = false;
                        self.wake(now + 2_000, &mut out);
                    }
                    CreateResult::Failed { code, en, zh } => {
                        self.reason = Some(format!("{code}: {zh} / {en}"));
                        self.finish(RefundStatus::Failed, &mut out);
                    }
                }
            }
            RefundEvent::Query(r) => {
                if !self.in_flight {
                    return (self, out);
                }
                self.in_flight = false;
                self.queries += 1;
                match r {
                    RefundQueryResult::Status(s) => self.on_status(s, now, &mut out),
                    RefundQueryResult::NotFound if self.creates < MAX_CREATES => {
                        // The create never took effect: sending the same out_refund_no again is safe.
                        self.send_create(&mut out);
                    }
                    RefundQueryResult::NotFound | RefundQueryResult::Unknown => {
                        self.next_is_create = false;
                        self.wake(now + Self::poll_delay(self.queries), &mut out);
                    }
                }
            }
            RefundEvent::Timer => {
                if self.in_flight {
                    return (self, out);
                }
                match self.next_at {
                    Some(at) if now < at => out.push(RefundCommand::WakeAt(at)),
                    _ => {
                        self.next_at = None;
                        if self.next_is_create {
                            self.send_create(&mut out);
                        } else {
                            self.query(&mut out);
                        }
                    }
                }
            }
        }
        (self, out)
    }

    fn on_status(&mut self, s: RefundStatus, now: i64, out: &mut Vec<RefundCommand>) {
        match s {
            RefundStatus::Success
            | RefundStatus::Closed
            | RefundStatus::Abnormal
            | RefundStatus::Failed => {
                if s == RefundStatus::Abnormal {
                    self.reason = Some(
                        "退款异常：顾客银行卡可能已冻结或注销，请在商户平台手工处理 / refund ABNORMAL: the customer's card may be frozen or closed; handle it by hand in the merchant platform".into(),
                    );
                }
                self.finish(s, out);
            }
            RefundStatus::Processing | RefundStatus::Created => {
                self.status = RefundStatus::Processing;
                self.next_is_create = false;
                self.wake(now + Self::poll_delay(self.queries), out);
            }
        }
    }

    fn send_create(&mut self, out: &mut Vec<RefundCommand>) {
        self.creates += 1;
        self.in_flight = true;
        self.next_at = None;
        out.push(RefundCommand::SendCreate);
    }

    fn query(&mut self, out: &mut Vec<RefundCommand>) {
        self.in_flight = true;
        self.next_at = None;
        out.push(RefundCommand::Query);
    }

    fn wake(&mut self, at: i64, out: &mut Vec<RefundCommand>) {
        self.next_at = Some(at);
        out.push(RefundCommand::WakeAt(at));
    }

    fn finish(&mut self, s: RefundStatus, out: &mut Vec<RefundCommand>) {
        self.status = s;
        self.in_flight = false;
        self.next_at = None;
        out.push(RefundCommand::Finished(s));
    }
}

impl Default for RefundMachine {
    fn default() -> Self {
        Self::new()
    }
}
