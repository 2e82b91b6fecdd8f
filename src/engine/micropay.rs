//! The payment-code state machine: `(machine, event, now) -> (machine, commands)`.
//!
//! No I/O and no clock: `now` is an argument (Unix ms). The driver executes the returned
//! [`Command`]s and feeds the answers back as [`Event`]s. Every rule of the flow lives here
//! (protocol reference §3–§5, §8; `docs/payment-flow.md` lists them with their reasons):
//!
//! - a verified SUCCESS → PAID; a verified definite business failure → FAILED with a reason;
//! - 202 USERPAYING → query every `query_interval`; SUCCESS ends it; REVOKED/CLOSED end it;
//!   PAYERROR ends it through a reverse; at `user_paying_timeout` → reverse;
//! - any unknown outcome (timeout, reset, 5xx, unverifiable answer) → query, never re-pay;
//! - no reverse sooner than 15 s after the pay call;
//! - reverse: retried with back-off while the service says so, then confirmed by a query;
//!   exhausted → UNRESOLVED; a reverse refused because the order is paid → PAID;
//! - a cashier's cancel is a reverse, not an abandon;
//! - an answer about our out_trade_no with another amount → UNRESOLVED (never "paid").

use serde::{Deserialize, Serialize};

/// The order states of the contract (JSON output and the database use these names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderState {
    /// Written; the outcome is not known yet.
    Pending,
    /// The customer is confirming on the phone.
    Userpaying,
    /// Paid.
    Paid,
    /// Definitely not charged, with a reason.
    Failed,
    /// Cancelled by a reverse; not charged (or the money was returned).
    Reversed,
    /// Could not be settled automatically; needs a person.
    Unresolved,
    /// Paid, part of it refunded.
    PartiallyRefunded,
    /// Paid, all of it refunded.
    Refunded,
}

impl OrderState {
    /// The contract name (`PAID`, `USERPAYING`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::Pending => "PENDING",
            OrderState::Userpaying => "USERPAYING",
            OrderState::Paid => "PAID",
            OrderState::Failed => "FAILED",
            OrderState::Reversed => "REVERSED",
            OrderState::Unresolved => "UNRESOLVED",
            OrderState::PartiallyRefunded => "PARTIALLY_REFUNDED",
            OrderState::Refunded => "REFUNDED",
        }
    }

    /// From the contract name.
    pub fn parse(s: &str) -> Option<OrderState> {
        Some(match s {
            "PENDING" => OrderState::Pending,
            "USERPAYING" => OrderState::Userpaying,
            "PAID" => OrderState::Paid,
            "FAILED" => OrderState::Failed,
            "REVERSED" => OrderState::Reversed,
            "UNRESOLVED" => OrderState::Unresolved,
            "PARTIALLY_REFUNDED" => OrderState::PartiallyRefunded,
            "REFUNDED" => OrderState::Refunded,
            _ => return None,
        })
    }

    /// Whether the payment flow is over (UNRESOLVED is over for the machine; a person or
    /// `scanpay recover` may restart it).
    pub fn is_final(self) -> bool {
        !matches!(self, OrderState::Pending | OrderState::Userpaying)
    }

    /// Whether the customer was charged and the money kept.
    pub fn is_charged(self) -> bool {
        matches!(
            self,
            OrderState::Paid | OrderState::PartiallyRefunded | OrderState::Refunded
        )
    }
}

impl std::fmt::Display for OrderState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an order ended the way it did, in words a cashier can read out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// WeChat declined the payment (`code` is the service's error code).
    Declined {
        /// Error code, e.g. `NOTENOUGH`.
        code: String,
        /// English meaning.
        en: String,
        /// Chinese meaning.
        zh: String,
    },
    /// The customer cancelled or the payment failed on the phone (PAYERROR).
    CustomerCancelled,
    /// The customer did not confirm in time; the order was cancelled.
    NotConfirmedInTime,
    /// The cashier cancelled; the order was reversed.
    CashierCancelled,
    /// WeChat has no such order: the pay request never took effect.
    NoSuchOrder,
    /// The order was closed at WeChat.
    Closed,
    /// The order had been paid and the reverse returned the money to the customer.
    MoneyReturned,
    /// Reverse kept failing.
    ReverseExhausted {
        /// Attempts made.
        attempts: u32,
    },
    /// Reverse was refused (e.g. too old) and the order is not paid.
    ReverseRefused {
        /// Error code.
        code: String,
    },
    /// WeChat reports another amount for this order number.
    AmountMismatch {
        /// Our amount, fen.
        ours: i64,
        /// WeChat's amount, fen.
        theirs: i64,
    },
    /// WeChat reports a state this version does not know.
    UnknownState {
        /// The state.
        state: String,
    },
}

impl Reason {
    /// A short machine-readable code for the database and JSON.
    pub fn code(&self) -> String {
        match self {
            Reason::Declined { code, .. } => code.clone(),
            Reason::CustomerCancelled => "CUSTOMER_CANCELLED".into(),
            Reason::NotConfirmedInTime => "NOT_CONFIRMED_IN_TIME".into(),
            Reason::CashierCancelled => "CASHIER_CANCELLED".into(),
            Reason::NoSuchOrder => "NO_SUCH_ORDER".into(),
            Reason::Closed => "CLOSED".into(),
            Reason::MoneyReturned => "MONEY_RETURNED".into(),
            Reason::ReverseExhausted { .. } => "REVERSE_EXHAUSTED".into(),
            Reason::ReverseRefused { code } => format!("REVERSE_REFUSED_{code}"),
            Reason::AmountMismatch { .. } => "AMOUNT_MISMATCH".into(),
            Reason::UnknownState { .. } => "UNKNOWN_STATE".into(),
        }
    }

    /// What to tell the cashier, in English.
    pub fn en(&self) -> String {
        match self {
            Reason::Declined { en, .. } => en.clone(),
            Reason::CustomerCancelled => "the customer cancelled or the payment failed on the phone; not charged".into(),
            Reason::NotConfirmedInTime => "the customer did not confirm in time; the order was cancelled, not charged".into(),
            Reason::CashierCancelled => "cancelled by the cashier; not charged".into(),
            Reason::NoSuchOrder => "WeChat Pay never received the payment; not charged".into(),
            Reason::Closed => "the order was closed; not charged".into(),
            Reason::MoneyReturned => "the payment had gone through and was reversed; the money was returned to the customer".into(),
            Reason::ReverseExhausted { attempts } => format!(
                "the result could not be confirmed and cancelling failed {attempts} times; do not charge again — check History later or call the manager"
            ),
            Reason::ReverseRefused { code } => format!("WeChat refused to cancel the order ({code}); check it in the merchant platform"),
            Reason::AmountMismatch { ours, theirs } => format!(
                "WeChat reports {} for this order but the till charged {}; check it in the merchant platform",
                crate::money::Fen(*theirs),
                crate::money::Fen(*ours)
            ),
            Reason::UnknownState { state } => format!("WeChat reports an unknown state {state}; check it in the merchant platform"),
        }
    }

    /// What to tell the cashier, in Chinese.
    pub fn zh(&self) -> String {
        match self {
            Reason::Declined { zh, .. } => zh.clone(),
            Reason::CustomerCancelled => "顾客取消支付或支付失败，未扣款".into(),
            Reason::NotConfirmedInTime => "顾客未在规定时间内确认，订单已撤销，未扣款".into(),
            Reason::CashierCancelled => "收银员已取消，未扣款".into(),
            Reason::NoSuchOrder => "微信支付未收到该笔支付，未扣款".into(),
            Reason::Closed => "订单已关闭，未扣款".into(),
            Reason::MoneyReturned => "该笔支付已成功，已撤销并原路退还顾客".into(),
            Reason::ReverseExhausted { attempts } => {
                format!(
                    "无法确认扣款结果，已尝试撤销 {attempts} 次。请勿重复收款，请在「流水」中查看并稍后重试撤销，或联系店长。"
                )
            }
            Reason::ReverseRefused { code } => {
                format!("微信支付拒绝撤销（{code}），请在商户平台核实")
            }
            Reason::AmountMismatch { ours, theirs } => format!(
                "微信支付记录的金额为 {}，与本机 {} 不符，请在商户平台核实",
                crate::money::Fen(*theirs),
                crate::money::Fen(*ours)
            ),
            Reason::UnknownState { state } => {
                format!("微信支付返回未知状态 {state}，请在商户平台核实")
            }
        }
    }
}

/// Timing rules, from the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    /// Between queries.
    pub query_interval_ms: i64,
    /// After the pay call, before an unconfirmed order is reversed.
    pub user_paying_timeout_ms: i64,
    /// No reverse sooner than this after the pay call (official rule: 15 s).
    pub min_reverse_after_ms: i64,
    /// Reverse attempts before giving up (UNRESOLVED).
    pub max_reverse_attempts: u32,
}

impl Timing {
    /// From `[payment]` settings.
    pub fn from_secs(query_interval_secs: u64, user_paying_timeout_secs: u64) -> Timing {
        Timing {
            query_interval_ms: i64::try_from(query_interval_secs).unwrap_or(5) * 1000,
            user_paying_timeout_ms: i64::try_from(user_paying_timeout_secs).unwrap_or(45) * 1000,
            min_reverse_after_ms: 15_000,
            max_reverse_attempts: 6,
        }
    }

    /// Back-off before reverse attempt `n` (1-based): 2 s, 4 s, 8 s, 16 s, 30 s, 30 s …
    pub fn reverse_backoff_ms(n: u32) -> i64 {
        (1_000i64 << n.min(5)).min(30_000)
    }
}

/// Where the machine is in the flow (persisted, so recovery resumes from here).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Written, pay call not yet made.
    New,
    /// Pay call in flight.
    Paying,
    /// Querying until the outcome is known or the deadline passes.
    Polling,
    /// Reversing (closing the order).
    Reversing,
    /// A reverse was acknowledged; confirming with a query.
    Confirming,
    /// Over.
    Done,
}

impl Phase {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::New => "new",
            Phase::Paying => "paying",
            Phase::Polling => "polling",
            Phase::Reversing => "reversing",
            Phase::Confirming => "confirming",
            Phase::Done => "done",
        }
    }
    /// From the stored name.
    pub fn parse(s: &str) -> Option<Phase> {
        Some(match s {
            "new" => Phase::New,
            "paying" => Phase::Paying,
            "polling" => Phase::Polling,
            "reversing" => Phase::Reversing,
            "confirming" => Phase::Confirming,
            "done" => Phase::Done,
            _ => return None,
        })
    }
}

/// What WeChat reported about the order (the engine's view of `trade_state`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Remote {
    /// SUCCESS (or REFUND: paid, a refund exists).
    Paid {
        /// WeChat order number.
        transaction_id: Option<String>,
        /// Amount WeChat has for the order, fen.
        total: Option<i64>,
    },
    /// USERPAYING.
    UserPaying,
    /// NOTPAY (or ACCEPT).
    NotPaid,
    /// PAYERROR.
    PayError,
    /// REVOKED.
    Revoked,
    /// CLOSED.
    Closed,
    /// Anything else.
    Other(String),
}

/// The answer to the pay call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayResult {
    /// A verified 200, any `trade_state` (normally SUCCESS).
    Answer(Remote),
    /// A verified 202 USERPAYING.
    UserPaying,
    /// A verified definite business failure.
    Declined {
        /// Error code.
        code: String,
        /// English meaning.
        en: String,
        /// Chinese meaning.
        zh: String,
    },
    /// Anything else: the outcome is unknown.
    Unknown,
}

/// The answer to a query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryResult {
    /// A verified answer.
    State(Remote),
    /// A verified 404 ORDER_NOT_EXIST.
    NotFound,
    /// No trusted answer.
    Unknown,
}

/// The answer to a reverse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReverseResult {
    /// A verified 200/204.
    Done,
    /// The service asks to try again (SYSTEM_ERROR, USERPAYING…), or no trusted answer.
    Retry,
    /// A verified ORDER_NOT_EXIST.
    NotFound,
    /// Refused because the order is paid (ORDERPAID).
    AlreadyPaid,
    /// Refused for another reason (REVERSE_EXPIRE, TRADE_ERROR…).
    Refused {
        /// Error code.
        code: String,
    },
}

/// What happens to the machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The order is written; start the flow.
    Start,
    /// The process restarted with this order in flight (recovery).
    Resume,
    /// A person asks to settle an UNRESOLVED order again.
    Retry,
    /// The pay call answered.
    Pay(PayResult),
    /// A query answered.
    Query(QueryResult),
    /// A reverse answered.
    Reverse(ReverseResult),
    /// A scheduled wake-up.
    Timer,
    /// The cashier cancels.
    Cancel,
}

/// What the driver must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Send the one and only pay call.
    SendPay,
    /// Query the order.
    Query,
    /// Reverse the order.
    Reverse,
    /// Deliver [`Event::Timer`] at this time (Unix ms).
    WakeAt(i64),
    /// The flow is over with this state.
    Finished(OrderState),
}

/// One order's payment flow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    /// Our amount, fen (never changes).
    pub amount: i64,
    /// Timing rules.
    pub timing: Timing,
    /// The contract state.
    pub state: OrderState,
    /// Where in the flow.
    pub phase: Phase,
    /// When the pay call was made (Unix ms).
    pub pay_sent_at: Option<i64>,
    /// When the next timed action is due.
    pub next_at: Option<i64>,
    /// Whether a request is in flight (timers wait for it).
    pub in_flight: bool,
    /// Queries made.
    pub queries: u32,
    /// Reverse attempts made.
    pub reverse_attempts: u32,
    /// Failed confirmation queries after an acknowledged reverse.
    pub confirm_failures: u32,
    /// The cashier asked to cancel.
    pub cancel_requested: bool,
    /// WeChat reported the order paid at some point.
    pub seen_paid: bool,
    /// The customer was seen confirming (USERPAYING).
    pub seen_user_paying: bool,
    /// Why the flow is heading for a reverse (PAYERROR / timeout / cashier).
    pub reverse_reason: Option<Reason>,
    /// WeChat order number, once known.
    pub transaction_id: Option<String>,
    /// Why it ended as it did.
    pub reason: Option<Reason>,
}

/// Confirmation queries after an acknowledged reverse before trusting the acknowledgement.
const MAX_CONFIRM_FAILURES: u32 = 3;

impl Machine {
    /// A new order of `amount` fen.
    pub fn new(amount: i64, timing: Timing) -> Machine {
        Machine {
            amount,
            timing,
            state: OrderState::Pending,
            phase: Phase::New,
            pay_sent_at: None,
            next_at: None,
            in_flight: false,
            queries: 0,
            reverse_attempts: 0,
            confirm_failures: 0,
            cancel_requested: false,
            seen_paid: false,
            seen_user_paying: false,
            reverse_reason: None,
            transaction_id: None,
            reason: None,
        }
    }

    /// Seconds left in the customer's confirmation window (for the screen).
    pub fn seconds_left(&self, now: i64) -> i64 {
        match self.pay_sent_at {
            Some(t0) if !self.state.is_final() => {
                ((t0 + self.timing.user_paying_timeout_ms - now).max(0) + 999) / 1000
            }
            _ => 0,
        }
    }

    /// The deadline after which an unconfirmed order is reversed.
    pub fn deadline(&self) -> Option<i64> {
        self.pay_sent_at
            .map(|t0| t0 + self.timing.user_paying_timeout_ms)
    }

    fn earliest_reverse(&self) -> i64 {
        self.pay_sent_at
            .map_or(0, |t0| t0 + self.timing.min_reverse_after_ms)
    }

    /// Applies one event at `now`.
    pub fn step(mut self, event: Event, now: i64) -> (Machine, Vec<Command>) {
        let mut cmds = Vec::new();
        if self.phase == Phase::Done {
            // Only a person's retry restarts a finished, unresolved order.
            if event == Event::Retry && self.state == OrderState::Unresolved {
                self.state = OrderState::Pending;
                self.reason = None;
                self.reverse_attempts = 0;
                self.confirm_failures = 0;
                self.in_flight = false;
                self.query_again(&mut cmds);
            }
            return (self, cmds);
        }
        match event {
            Event::Start => {
                if self.phase == Phase::New && !self.in_flight {
                    self.phase = Phase::Paying;
                    self.pay_sent_at = Some(now);
                    self.in_flight = true;
                    cmds.push(Command::SendPay);
                }
            }
            Event::Resume | Event::Retry => {
                // Whatever happened before the restart, the pay call may have been sent: never
                // send it again. Learn the truth by query, or carry on reversing.
                self.in_flight = false;
                if self.pay_sent_at.is_none() {
                    self.pay_sent_at = Some(now);
                }
                match self.phase {
                    Phase::Reversing => self.reverse_now_or_later(now, &mut cmds),
                    _ => {
                        self.phase = Phase::Polling;
                        self.query_now(&mut cmds);
                    }
                }
            }
            Event::Pay(result) => {
                if self.phase != Phase::Paying {
                    return (self, cmds);
                }
                self.in_flight = false;
                match result {
                    PayResult::Answer(remote) => self.on_remote(remote, now, &mut cmds),
                    PayResult::UserPaying => {
                        self.seen_user_paying = true;
                        self.state = OrderState::Userpaying;
                        self.phase = Phase::Polling;
                        self.schedule_poll(now, &mut cmds);
                    }
                    PayResult::Declined { code, en, zh } => {
                        if self.cancel_requested {
                            // Nothing was charged; the cancel is moot.
                        }
                        self.finish(
                            OrderState::Failed,
                            Some(Reason::Declined { code, en, zh }),
                            &mut cmds,
                        );
                    }
                    PayResult::Unknown => {
                        self.phase = Phase::Polling;
                        self.schedule_poll(now, &mut cmds);
                    }
                }
            }
            Event::Query(result) => {
                if !matches!(self.phase, Phase::Polling | Phase::Confirming) || !self.in_flight {
                    return (self, cmds);
                }
                self.in_flight = false;
                self.queries += 1;
                if self.phase == Phase::Confirming {
                    self.on_confirm(result, now, &mut cmds);
                } else {
                    match result {
                        QueryResult::State(remote) => self.on_remote(remote, now, &mut cmds),
                        QueryResult::NotFound | QueryResult::Unknown => {
                            self.schedule_poll(now, &mut cmds)
                        }
                    }
                }
            }
            Event::Reverse(result) => {
                if self.phase != Phase::Reversing || !self.in_flight {
                    return (self, cmds);
                }
                self.in_flight = false;
                match result {
                    ReverseResult::Done => {
                        self.phase = Phase::Confirming;
                        self.query_now(&mut cmds);
                    }
                    ReverseResult::Retry => self.retry_reverse_or_give_up(now, &mut cmds),
                    ReverseResult::NotFound => {
                        self.finish(OrderState::Failed, Some(Reason::NoSuchOrder), &mut cmds)
                    }
                    ReverseResult::AlreadyPaid => {
                        self.seen_paid = true;
                        self.finish(OrderState::Paid, None, &mut cmds);
                    }
                    ReverseResult::Refused { code } => {
                        if self.seen_paid {
                            self.finish(OrderState::Paid, None, &mut cmds);
                        } else {
                            self.finish(
                                OrderState::Unresolved,
                                Some(Reason::ReverseRefused { code }),
                                &mut cmds,
                            );
                        }
                    }
                }
            }
            Event::Timer => {
                if self.in_flight {
                    return (self, cmds);
                }
                match self.next_at {
                    Some(at) if now < at => cmds.push(Command::WakeAt(at)),
                    _ => {
                        self.next_at = None;
                        match self.phase {
                            Phase::Polling => {
                                let deadline_passed = self.deadline().is_some_and(|d| now >= d);
                                if deadline_passed || self.reverse_reason.is_some() {
                                    if self.reverse_reason.is_none() {
                                        self.reverse_reason = Some(Reason::NotConfirmedInTime);
                                    }
                                    self.phase = Phase::Reversing;
                                    self.reverse_now_or_later(now, &mut cmds);
                                } else {
                                    self.query_now(&mut cmds);
                                }
                            }
                            Phase::Reversing => self.reverse_now_or_later(now, &mut cmds),
                            Phase::Confirming => self.query_now(&mut cmds),
                            Phase::New | Phase::Paying | Phase::Done => {}
                        }
                    }
                }
            }
            Event::Cancel => {
                if !self.cancel_requested {
                    self.cancel_requested = true;
                    self.reverse_reason = Some(Reason::CashierCancelled);
                    if self.phase == Phase::Polling && !self.in_flight {
                        self.phase = Phase::Reversing;
                        self.reverse_now_or_later(now, &mut cmds);
                    }
                    // A pay call or query in flight: its answer leads to the reverse.
                }
            }
        }
        (self, cmds)
    }

    /// What WeChat says the order is, while polling (or as the pay answer).
    fn on_remote(&mut self, remote: Remote, now: i64, cmds: &mut Vec<Command>) {
        self.phase = Phase::Polling;
        match remote {
            Remote::Paid {
                transaction_id,
                total,
            } => {
                if let Some(theirs) = total.filter(|t| *t != self.amount) {
                    self.finish(
                        OrderState::Unresolved,
                        Some(Reason::AmountMismatch {
                            ours: self.amount,
                            theirs,
                        }),
                        cmds,
                    );
                    return;
                }
                self.seen_paid = true;
                if transaction_id.is_some() {
                    self.transaction_id = transaction_id;
                }
                if self.cancel_requested {
                    // The cashier cancelled: reverse returns the money.
                    self.phase = Phase::Reversing;
                    self.reverse_now_or_later(now, cmds);
                } else {
                    self.finish(OrderState::Paid, None, cmds);
                }
            }
            Remote::UserPaying => {
                self.seen_user_paying = true;
                self.state = OrderState::Userpaying;
                self.poll_or_reverse(now, cmds);
            }
            Remote::NotPaid => self.poll_or_reverse(now, cmds),
            Remote::PayError => {
                if self.reverse_reason.is_none() {
                    self.reverse_reason = Some(Reason::CustomerCancelled);
                }
                self.phase = Phase::Reversing;
                self.reverse_now_or_later(now, cmds);
            }
            Remote::Revoked => {
                let reason = self
                    .reverse_reason
                    .clone()
                    .unwrap_or(Reason::NotConfirmedInTime);
                self.finish(OrderState::Reversed, Some(reason), cmds);
            }
            Remote::Closed => self.finish(OrderState::Failed, Some(Reason::Closed), cmds),
            Remote::Other(state) => {
                // Unknown to us: keep asking until the deadline, then close the order.
                let _ = state;
                self.poll_or_reverse(now, cmds);
            }
        }
    }

    /// After an acknowledged reverse, the confirming query.
    fn on_confirm(&mut self, result: QueryResult, now: i64, cmds: &mut Vec<Command>) {
        match result {
            QueryResult::State(Remote::Revoked) | QueryResult::State(Remote::Closed) => {
                let reason = if self.seen_paid {
                    Reason::MoneyReturned
                } else {
                    self.reverse_reason
                        .clone()
                        .unwrap_or(Reason::NotConfirmedInTime)
                };
                self.finish(OrderState::Reversed, Some(reason), cmds);
            }
            QueryResult::NotFound => {
                self.finish(OrderState::Failed, Some(Reason::NoSuchOrder), cmds)
            }
            QueryResult::State(Remote::Paid {
                total: Some(theirs),
                ..
            }) if theirs != self.amount => {
                self.finish(
                    OrderState::Unresolved,
                    Some(Reason::AmountMismatch {
                        ours: self.amount,
                        theirs,
                    }),
                    cmds,
                );
            }
            QueryResult::State(Remote::Paid { transaction_id, .. }) => {
                // Paid in the race between the last query and the reverse: reverse again.
                self.seen_paid = true;
                if transaction_id.is_some() {
                    self.transaction_id = transaction_id;
                }
                self.phase = Phase::Reversing;
                self.retry_reverse_or_give_up(now, cmds);
            }
            QueryResult::State(_) => {
                self.phase = Phase::Reversing;
                self.retry_reverse_or_give_up(now, cmds);
            }
            QueryResult::Unknown => {
                self.confirm_failures += 1;
                if self.confirm_failures >= MAX_CONFIRM_FAILURES {
                    // The reverse itself was acknowledged by a verified answer.
                    let reason = if self.seen_paid {
                        Reason::MoneyReturned
                    } else {
                        self.reverse_reason
                            .clone()
                            .unwrap_or(Reason::NotConfirmedInTime)
                    };
                    self.finish(OrderState::Reversed, Some(reason), cmds);
                } else {
                    self.wake_at(
                        now + Timing::reverse_backoff_ms(self.confirm_failures),
                        cmds,
                    );
                }
            }
        }
    }

    fn poll_or_reverse(&mut self, now: i64, cmds: &mut Vec<Command>) {
        if self.reverse_reason.is_some() {
            self.phase = Phase::Reversing;
            self.reverse_now_or_later(now, cmds);
        } else {
            self.schedule_poll(now, cmds);
        }
    }

    /// The first query one interval after the pay call, later ones one interval apart; at
    /// the deadline the order is reversed instead.
    fn schedule_poll(&mut self, now: i64, cmds: &mut Vec<Command>) {
        if self.reverse_reason.is_none() && self.deadline().is_some_and(|d| now >= d) {
            self.reverse_reason = Some(Reason::NotConfirmedInTime);
        }
        if self.reverse_reason.is_some() {
            self.phase = Phase::Reversing;
            self.reverse_now_or_later(now, cmds);
            return;
        }
        let mut at = match self.pay_sent_at {
            Some(t0) if self.queries == 0 => (t0 + self.timing.query_interval_ms).max(now),
            _ => now + self.timing.query_interval_ms,
        };
        if let Some(d) = self.deadline() {
            at = at.min(d);
        }
        self.wake_at(at, cmds);
    }

    fn query_now(&mut self, cmds: &mut Vec<Command>) {
        self.in_flight = true;
        self.next_at = None;
        cmds.push(Command::Query);
    }

    fn reverse_now_or_later(&mut self, now: i64, cmds: &mut Vec<Command>) {
        self.phase = Phase::Reversing;
        let earliest = self.earliest_reverse().max(self.next_at.unwrap_or(0));
        if now < earliest {
            self.wake_at(earliest, cmds);
        } else {
            self.reverse_attempts += 1;
            self.in_flight = true;
            self.next_at = None;
            cmds.push(Command::Reverse);
        }
    }

    fn retry_reverse_or_give_up(&mut self, now: i64, cmds: &mut Vec<Command>) {
        if self.reverse_attempts >= self.timing.max_reverse_attempts {
            let attempts = self.reverse_attempts;
            self.finish(
                OrderState::Unresolved,
                Some(Reason::ReverseExhausted { attempts }),
                cmds,
            );
        } else {
            self.phase = Phase::Reversing;
            self.wake_at(
                now + Timing::reverse_backoff_ms(self.reverse_attempts),
                cmds,
            );
        }
    }

    /// A person's retry of an unresolved order: learn the truth by query first.
    fn query_again(&mut self, cmds: &mut Vec<Command>) {
        self.phase = Phase::Polling;
        self.query_now(cmds);
    }

    fn wake_at(&mut self, at: i64, cmds: &mut Vec<Command>) {
        self.next_at = Some(at);
        cmds.push(Command::WakeAt(at));
    }

    fn finish(&mut self, state: OrderState, reason: Option<Reason>, cmds: &mut Vec<Command>) {
        self.state = state;
        self.reason = reason;
        self.phase = Phase::Done;
        self.next_at = None;
        self.in_flight = false;
        cmds.push(Command::Finished(state));
    }
}
