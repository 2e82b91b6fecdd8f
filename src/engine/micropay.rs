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
//! - a pay call that provably never left (no host accepted a connection) → FAILED at once;
//! - no reverse sooner than 15 s after the pay call;
//! - reverse: retried with back-off while the service says so, then confirmed by a query;
//!   exhausted → UNRESOLVED; a reverse refused because the order is paid → PAID;
//! - a cashier's cancel is a reverse, not an abandon;
//! - an answer about our out_trade_no with another amount → UNRESOLVED (never "paid").
//!
//! The machine is a private enum with one variant per phase, each holding only what that
//! phase can have (the pay time once the call was made, a reverse's reason while reversing,
//! either an awaited answer or a wake-up time, never both), plus the facts learnt over the
//! order's life. Nothing outside [`Machine::step`] can change it, so no caller can build a
//! state the rules never produce. It is stored as a versioned JSON snapshot
//! ([`Machine::to_snapshot`]); the flat format of version 1 is converted on read.

use serde::{Deserialize, Serialize};

pub use crate::order::{OrderState, Reason};

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
    /// SUCCESS.
    Paid {
        /// WeChat order number.
        transaction_id: Option<String>,
        /// Amount WeChat has for the order, fen.
        total: Option<i64>,
    },
    /// REFUND: the order was paid and money went back to the customer (a refund, or a reverse
    /// of the paid order). While paying it counts as paid; after our acknowledged reverse it
    /// means the reverse returned the money.
    Refunded {
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
    /// Provably never sent: no connection to any host could be established, so no byte of
    /// the request left and WeChat cannot have the order. Only a transport failure *before*
    /// the request was written may be reported as this; anything later is [`Self::Unknown`].
    NotSent,
    /// An unsigned 401: the service refused the pay request's own signature and did not
    /// execute it (wrong key or serial, the till's clock off). Nothing was charged, and the
    /// same configuration will refuse every query or reverse too.
    Rejected {
        /// Error code, e.g. `SIGN_ERROR`.
        code: String,
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

/// What a live phase is waiting for. A machine never both waits for an answer and for a
/// timer, so the two cannot be set together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Wait {
    /// A request is in flight; timers wait for its answer.
    Answer,
    /// The next action is due at this time (Unix ms); `0` means now.
    Until(i64),
}

/// The flow, one variant per phase, each holding only what that phase can have.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
enum Flow {
    /// Written, the pay call not yet made. `then_reverse`: a cancel arrived already.
    New { then_reverse: Option<Reason> },
    /// The pay call is in flight.
    Paying {
        sent_at: i64,
        then_reverse: Option<Reason>,
    },
    /// Querying until the outcome is known or the deadline passes. `then_reverse`: once the
    /// answer in flight is in, reverse (a cancel, or a reverse interrupted by a restart).
    Polling {
        sent_at: i64,
        wait: Wait,
        then_reverse: Option<Reason>,
    },
    /// Reversing (closing the order) for `reason`.
    Reversing {
        sent_at: i64,
        wait: Wait,
        reason: Reason,
    },
    /// A reverse for `reason` was acknowledged; confirming it with a query.
    Confirming {
        sent_at: i64,
        wait: Wait,
        reason: Reason,
        failures: u32,
    },
    /// Over: `outcome` is never PENDING or USERPAYING.
    Done {
        sent_at: Option<i64>,
        outcome: OrderState,
        reason: Option<Reason>,
        /// Why a reverse had been under way, kept for a person's retry.
        reversing_for: Option<Reason>,
    },
}

/// What the machine has learnt over the order's life, whatever the phase.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Facts {
    queries: u32,
    reverse_attempts: u32,
    cancel_requested: bool,
    seen_paid: bool,
    /// The customer was seen confirming in the current run (a retry starts a new run).
    user_paying: bool,
    transaction_id: Option<String>,
}

/// One order's payment flow. Its state can only be changed by [`Machine::step`], so it is
/// always one the rules produce; read it through the getters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "snapshot::Stored", into = "snapshot::Stored")]
pub struct Machine {
    amount: i64,
    timing: Timing,
    flow: Flow,
    facts: Facts,
}

/// Confirmation queries after an acknowledged reverse before trusting the acknowledgement.
const MAX_CONFIRM_FAILURES: u32 = 3;

impl Machine {
    /// A new order of `amount` fen.
    pub fn new(amount: i64, timing: Timing) -> Machine {
        Machine {
            amount,
            timing,
            flow: Flow::New { then_reverse: None },
            facts: Facts::default(),
        }
    }

    /// Our amount, fen (never changes).
    pub fn amount(&self) -> i64 {
        self.amount
    }

    /// The timing rules this order runs by.
    pub fn timing(&self) -> Timing {
        self.timing
    }

    /// The order's payment state: PENDING or USERPAYING while the flow runs, then its outcome.
    pub fn state(&self) -> OrderState {
        match &self.flow {
            Flow::Done { outcome, .. } => *outcome,
            _ if self.facts.user_paying => OrderState::Userpaying,
            _ => OrderState::Pending,
        }
    }

    /// Where in the flow.
    pub fn phase(&self) -> Phase {
        match &self.flow {
            Flow::New { .. } => Phase::New,
            Flow::Paying { .. } => Phase::Paying,
            Flow::Polling { .. } => Phase::Polling,
            Flow::Reversing { .. } => Phase::Reversing,
            Flow::Confirming { .. } => Phase::Confirming,
            Flow::Done { .. } => Phase::Done,
        }
    }

    /// Whether the flow is over.
    pub fn is_done(&self) -> bool {
        matches!(self.flow, Flow::Done { .. })
    }

    /// When the pay call was made (Unix ms).
    pub fn pay_sent_at(&self) -> Option<i64> {
        match &self.flow {
            Flow::New { .. } => None,
            Flow::Paying { sent_at, .. }
            | Flow::Polling { sent_at, .. }
            | Flow::Reversing { sent_at, .. }
            | Flow::Confirming { sent_at, .. } => Some(*sent_at),
            Flow::Done { sent_at, .. } => *sent_at,
        }
    }

    /// When the machine next needs a [`Event::Timer`] (Unix ms), or `None` while it waits for
    /// an answer or is done.
    pub fn next_wake(&self) -> Option<i64> {
        match self.wait() {
            Some(Wait::Until(at)) => Some(at),
            _ => None,
        }
    }

    /// Whether a request is in flight (its answer is awaited).
    pub fn awaits_answer(&self) -> bool {
        matches!(self.flow, Flow::Paying { .. }) || self.wait() == Some(Wait::Answer)
    }

    /// Queries made.
    pub fn queries(&self) -> u32 {
        self.facts.queries
    }

    /// Reverse attempts made.
    pub fn reverse_attempts(&self) -> u32 {
        self.facts.reverse_attempts
    }

    /// Whether the cashier asked to cancel.
    pub fn cancel_requested(&self) -> bool {
        self.facts.cancel_requested
    }

    /// Whether WeChat reported the order paid at some point (a reversed order with this set
    /// had its money returned).
    pub fn seen_paid(&self) -> bool {
        self.facts.seen_paid
    }

    /// WeChat's order number, once known.
    pub fn transaction_id(&self) -> Option<&str> {
        self.facts.transaction_id.as_deref()
    }

    /// Why it ended as it did (FAILED, REVERSED, UNRESOLVED).
    pub fn reason(&self) -> Option<&Reason> {
        match &self.flow {
            Flow::Done { reason, .. } => reason.as_ref(),
            _ => None,
        }
    }

    /// Why a reverse is under way, or due once the answer in flight is in.
    pub fn reversing_for(&self) -> Option<&Reason> {
        match &self.flow {
            Flow::New { then_reverse }
            | Flow::Paying { then_reverse, .. }
            | Flow::Polling { then_reverse, .. } => then_reverse.as_ref(),
            Flow::Reversing { reason, .. } | Flow::Confirming { reason, .. } => Some(reason),
            Flow::Done { reversing_for, .. } => reversing_for.as_ref(),
        }
    }

    /// Seconds left in the customer's confirmation window (for the screen).
    pub fn seconds_left(&self, now: i64) -> i64 {
        match self.pay_sent_at() {
            Some(t0) if !self.is_done() => {
                ((t0 + self.timing.user_paying_timeout_ms - now).max(0) + 999) / 1000
            }
            _ => 0,
        }
    }

    /// The deadline after which an unconfirmed order is reversed.
    pub fn deadline(&self) -> Option<i64> {
        self.pay_sent_at()
            .map(|t0| t0 + self.timing.user_paying_timeout_ms)
    }

    fn wait(&self) -> Option<Wait> {
        match &self.flow {
            Flow::Polling { wait, .. }
            | Flow::Reversing { wait, .. }
            | Flow::Confirming { wait, .. } => Some(*wait),
            _ => None,
        }
    }

    /// Applies one event at `now` and says what to do next.
    pub fn step(mut self, event: Event, now: i64) -> (Machine, Vec<Command>) {
        let mut cmds = Vec::new();
        match event {
            Event::Start => self.on_start(now, &mut cmds),
            Event::Resume => self.on_resume(now, &mut cmds),
            Event::Retry => self.on_retry(now, &mut cmds),
            Event::Pay(result) => self.on_pay(result, now, &mut cmds),
            Event::Query(result) => self.on_query(result, now, &mut cmds),
            Event::Reverse(result) => self.on_reverse(result, now, &mut cmds),
            Event::Timer => self.on_timer(now, &mut cmds),
            Event::Cancel => self.on_cancel(now, &mut cmds),
        }
        (self, cmds)
    }

    fn on_start(&mut self, now: i64, cmds: &mut Vec<Command>) {
        if let Flow::New { then_reverse } = &mut self.flow {
            let then_reverse = then_reverse.take();
            self.flow = Flow::Paying {
                sent_at: now,
                then_reverse,
            };
            cmds.push(Command::SendPay);
        }
    }

    /// Whatever happened before the restart, the pay call may have been sent: never send it
    /// again. Learn the truth by query, or carry on reversing.
    fn on_resume(&mut self, now: i64, cmds: &mut Vec<Command>) {
        let sent_at = self.pay_sent_at().unwrap_or(now);
        match &self.flow {
            Flow::Done { .. } => {}
            Flow::Reversing { reason, wait, .. } => {
                // A back-off that was running still holds; a reverse in flight is sent again.
                let (reason, wait) = (reason.clone(), *wait);
                self.reverse_now_or_later(sent_at, reason, wait, now, cmds);
            }
            Flow::Confirming { reason, .. } => {
                let reason = Some(reason.clone());
                self.query_now(sent_at, reason, cmds);
            }
            Flow::New { then_reverse }
            | Flow::Paying { then_reverse, .. }
            | Flow::Polling { then_reverse, .. } => {
                let reason = then_reverse.clone();
                self.query_now(sent_at, reason, cmds);
            }
        }
    }

    /// A person's retry: an unresolved order learns the truth by query first; an order still
    /// in flight is resumed.
    fn on_retry(&mut self, now: i64, cmds: &mut Vec<Command>) {
        match &self.flow {
            Flow::Done {
                outcome: OrderState::Unresolved,
                sent_at,
                reversing_for,
                ..
            } => {
                let sent_at = sent_at.unwrap_or(now);
                let reason = reversing_for.clone();
                self.facts.reverse_attempts = 0;
                self.facts.user_paying = false;
                self.query_now(sent_at, reason, cmds);
            }
            Flow::Done { .. } => {}
            _ => self.on_resume(now, cmds),
        }
    }

    fn on_pay(&mut self, result: PayResult, now: i64, cmds: &mut Vec<Command>) {
        let Flow::Paying {
            sent_at,
            then_reverse,
        } = &self.flow
        else {
            return;
        };
        let (sent_at, then_reverse) = (*sent_at, then_reverse.clone());
        match result {
            PayResult::Answer(remote) => self.on_remote(remote, sent_at, then_reverse, now, cmds),
            PayResult::UserPaying => {
                self.facts.user_paying = true;
                self.schedule_poll(sent_at, then_reverse, now, cmds);
            }
            PayResult::Declined { code, en, zh } => {
                // Nothing was charged: a cancel that arrived meanwhile is moot.
                self.finish(
                    OrderState::Failed,
                    Some(Reason::Declined { code, en, zh }),
                    cmds,
                );
            }
            PayResult::NotSent => {
                // Nothing left the till: WeChat has no order to pay or to reverse.
                self.finish(OrderState::Failed, Some(Reason::NetworkDown), cmds);
            }
            PayResult::Rejected { code } => {
                // Refused before processing: the one pay request never took effect.
                self.finish(
                    OrderState::Failed,
                    Some(Reason::RequestRejected { code }),
                    cmds,
                );
            }
            PayResult::Unknown => self.schedule_poll(sent_at, then_reverse, now, cmds),
        }
    }

    fn on_query(&mut self, result: QueryResult, now: i64, cmds: &mut Vec<Command>) {
        match &self.flow {
            Flow::Polling {
                sent_at,
                wait: Wait::Answer,
                then_reverse,
            } => {
                let (sent_at, then_reverse) = (*sent_at, then_reverse.clone());
                self.facts.queries += 1;
                match result {
                    QueryResult::State(remote) => {
                        self.on_remote(remote, sent_at, then_reverse, now, cmds)
                    }
                    QueryResult::NotFound | QueryResult::Unknown => {
                        self.schedule_poll(sent_at, then_reverse, now, cmds)
                    }
                }
            }
            Flow::Confirming {
                sent_at,
                wait: Wait::Answer,
                reason,
                failures,
            } => {
                let (sent_at, reason, failures) = (*sent_at, reason.clone(), *failures);
                self.facts.queries += 1;
                self.on_confirm(result, sent_at, reason, failures, now, cmds);
            }
            _ => {}
        }
    }

    fn on_reverse(&mut self, result: ReverseResult, now: i64, cmds: &mut Vec<Command>) {
        let Flow::Reversing {
            sent_at,
            wait: Wait::Answer,
            reason,
        } = &self.flow
        else {
            return;
        };
        let (sent_at, reason) = (*sent_at, reason.clone());
        match result {
            ReverseResult::Done => {
                self.flow = Flow::Confirming {
                    sent_at,
                    wait: Wait::Answer,
                    reason,
                    failures: 0,
                };
                cmds.push(Command::Query);
            }
            ReverseResult::Retry => self.retry_reverse_or_give_up(sent_at, reason, now, cmds),
            ReverseResult::NotFound => {
                self.finish(OrderState::Failed, Some(Reason::NoSuchOrder), cmds)
            }
            ReverseResult::Refused { code } => {
                if self.facts.seen_paid {
                    self.finish(OrderState::Paid, None, cmds);
                } else {
                    self.finish(
                        OrderState::Unresolved,
                        Some(Reason::ReverseRefused { code }),
                        cmds,
                    );
                }
            }
        }
    }

    fn on_timer(&mut self, now: i64, cmds: &mut Vec<Command>) {
        let Some(Wait::Until(at)) = self.wait() else {
            return;
        };
        if now < at {
            cmds.push(Command::WakeAt(at));
            return;
        }
        match &self.flow {
            Flow::Polling {
                sent_at,
                then_reverse,
                ..
            } => {
                let (sent_at, then_reverse) = (*sent_at, then_reverse.clone());
                let deadline_passed = self.deadline().is_some_and(|d| now >= d);
                match then_reverse {
                    Some(reason) => {
                        self.reverse_now_or_later(sent_at, reason, Wait::Until(0), now, cmds)
                    }
                    None if deadline_passed => self.reverse_now_or_later(
                        sent_at,
                        Reason::NotConfirmedInTime,
                        Wait::Until(0),
                        now,
                        cmds,
                    ),
                    None => self.query_now(sent_at, None, cmds),
                }
            }
            Flow::Reversing {
                sent_at, reason, ..
            } => {
                let (sent_at, reason) = (*sent_at, reason.clone());
                self.reverse_now_or_later(sent_at, reason, Wait::Until(0), now, cmds);
            }
            Flow::Confirming {
                sent_at,
                reason,
                failures,
                ..
            } => {
                self.flow = Flow::Confirming {
                    sent_at: *sent_at,
                    wait: Wait::Answer,
                    reason: reason.clone(),
                    failures: *failures,
                };
                cmds.push(Command::Query);
            }
            Flow::New { .. } | Flow::Paying { .. } | Flow::Done { .. } => {}
        }
    }

    fn on_cancel(&mut self, now: i64, cmds: &mut Vec<Command>) {
        if self.facts.cancel_requested || self.is_done() {
            return;
        }
        self.facts.cancel_requested = true;
        let cancelled = Reason::CashierCancelled;
        match &mut self.flow {
            Flow::New { then_reverse } | Flow::Paying { then_reverse, .. } => {
                // The pay answer leads to the reverse.
                *then_reverse = Some(cancelled);
            }
            Flow::Polling {
                wait: Wait::Answer,
                then_reverse,
                ..
            } => *then_reverse = Some(cancelled),
            Flow::Polling {
                sent_at,
                wait: wait @ Wait::Until(_),
                ..
            } => {
                // Not before the poll that was already due, nor 15 s after the pay call.
                let (sent_at, wait) = (*sent_at, *wait);
                self.reverse_now_or_later(sent_at, cancelled, wait, now, cmds);
            }
            Flow::Reversing { reason, .. } | Flow::Confirming { reason, .. } => *reason = cancelled,
            Flow::Done { .. } => {}
        }
    }

    /// What WeChat says the order is, while polling (or as the pay answer).
    fn on_remote(
        &mut self,
        remote: Remote,
        sent_at: i64,
        then_reverse: Option<Reason>,
        now: i64,
        cmds: &mut Vec<Command>,
    ) {
        match remote {
            Remote::Paid {
                transaction_id,
                total,
            }
            | Remote::Refunded {
                transaction_id,
                total,
            } => {
                if let Some(theirs) = total.filter(|t| *t != self.amount) {
                    let ours = self.amount;
                    self.finish(
                        OrderState::Unresolved,
                        Some(Reason::AmountMismatch { ours, theirs }),
                        cmds,
                    );
                    return;
                }
                self.facts.seen_paid = true;
                if transaction_id.is_some() {
                    self.facts.transaction_id = transaction_id;
                }
                if self.facts.cancel_requested {
                    // The cashier cancelled: the reverse returns the money.
                    let reason = then_reverse.unwrap_or(Reason::CashierCancelled);
                    self.reverse_now_or_later(sent_at, reason, Wait::Until(0), now, cmds);
                } else {
                    self.finish(OrderState::Paid, None, cmds);
                }
            }
            Remote::UserPaying => {
                self.facts.user_paying = true;
                self.schedule_poll(sent_at, then_reverse, now, cmds);
            }
            // Unknown states too: keep asking until the deadline, then close the order.
            Remote::NotPaid | Remote::Other(_) => {
                self.schedule_poll(sent_at, then_reverse, now, cmds)
            }
            Remote::PayError => {
                let reason = then_reverse.unwrap_or(Reason::CustomerCancelled);
                self.reverse_now_or_later(sent_at, reason, Wait::Until(0), now, cmds);
            }
            Remote::Revoked => {
                let reason = then_reverse.unwrap_or(Reason::NotConfirmedInTime);
                self.finish(OrderState::Reversed, Some(reason), cmds);
            }
            Remote::Closed => self.finish(OrderState::Failed, Some(Reason::Closed), cmds),
        }
    }

    /// After an acknowledged reverse, the confirming query.
    fn on_confirm(
        &mut self,
        result: QueryResult,
        sent_at: i64,
        reason: Reason,
        failures: u32,
        now: i64,
        cmds: &mut Vec<Command>,
    ) {
        let returned = |seen_paid: bool, reason: Reason| {
            if seen_paid {
                Reason::MoneyReturned
            } else {
                reason
            }
        };
        match result {
            QueryResult::State(Remote::Revoked) | QueryResult::State(Remote::Closed) => {
                let r = returned(self.facts.seen_paid, reason);
                self.finish(OrderState::Reversed, Some(r), cmds);
            }
            // After our acknowledged reverse, REFUND means the reverse returned the money of a
            // paid order: the customer has it back (reversed, not paid).
            QueryResult::State(Remote::Refunded { transaction_id, .. }) => {
                self.facts.seen_paid = true;
                if transaction_id.is_some() {
                    self.facts.transaction_id = transaction_id;
                }
                self.finish(OrderState::Reversed, Some(Reason::MoneyReturned), cmds);
            }
            QueryResult::NotFound => {
                self.finish(OrderState::Failed, Some(Reason::NoSuchOrder), cmds)
            }
            QueryResult::State(Remote::Paid {
                total: Some(theirs),
                ..
            }) if theirs != self.amount => {
                let ours = self.amount;
                self.finish(
                    OrderState::Unresolved,
                    Some(Reason::AmountMismatch { ours, theirs }),
                    cmds,
                );
            }
            QueryResult::State(Remote::Paid { transaction_id, .. }) => {
                // Paid in the race between the last query and the reverse: reverse again.
                self.facts.seen_paid = true;
                if transaction_id.is_some() {
                    self.facts.transaction_id = transaction_id;
                }
                self.retry_reverse_or_give_up(sent_at, reason, now, cmds);
            }
            QueryResult::State(_) => self.retry_reverse_or_give_up(sent_at, reason, now, cmds),
            QueryResult::Unknown => {
                let failures = failures + 1;
                if failures >= MAX_CONFIRM_FAILURES {
                    // The reverse itself was acknowledged by a verified answer.
                    let r = returned(self.facts.seen_paid, reason);
                    self.finish(OrderState::Reversed, Some(r), cmds);
                } else {
                    let at = now + Timing::reverse_backoff_ms(failures);
                    self.flow = Flow::Confirming {
                        sent_at,
                        wait: Wait::Until(at),
                        reason,
                        failures,
                    };
                    cmds.push(Command::WakeAt(at));
                }
            }
        }
    }

    /// The first query one interval after the pay call, later ones one interval apart; at
    /// the deadline (or with a reverse due) the order is reversed instead.
    fn schedule_poll(
        &mut self,
        sent_at: i64,
        then_reverse: Option<Reason>,
        now: i64,
        cmds: &mut Vec<Command>,
    ) {
        let deadline = sent_at + self.timing.user_paying_timeout_ms;
        let reverse = match then_reverse {
            Some(r) => Some(r),
            None if now >= deadline => Some(Reason::NotConfirmedInTime),
            None => None,
        };
        if let Some(reason) = reverse {
            self.reverse_now_or_later(sent_at, reason, Wait::Until(0), now, cmds);
            return;
        }
        let at = if self.facts.queries == 0 {
            (sent_at + self.timing.query_interval_ms).max(now)
        } else {
            now + self.timing.query_interval_ms
        }
        .min(deadline);
        self.flow = Flow::Polling {
            sent_at,
            wait: Wait::Until(at),
            then_reverse: None,
        };
        cmds.push(Command::WakeAt(at));
    }

    fn query_now(&mut self, sent_at: i64, then_reverse: Option<Reason>, cmds: &mut Vec<Command>) {
        self.flow = Flow::Polling {
            sent_at,
            wait: Wait::Answer,
            then_reverse,
        };
        cmds.push(Command::Query);
    }

    /// Reverses now, or at the earliest moment the rules allow (15 s after the pay call, and
    /// not before a back-off `not_before` that is still running).
    fn reverse_now_or_later(
        &mut self,
        sent_at: i64,
        reason: Reason,
        not_before: Wait,
        now: i64,
        cmds: &mut Vec<Command>,
    ) {
        let backoff = match not_before {
            Wait::Until(at) => at,
            Wait::Answer => 0,
        };
        let earliest = (sent_at + self.timing.min_reverse_after_ms).max(backoff);
        if now < earliest {
            self.flow = Flow::Reversing {
                sent_at,
                wait: Wait::Until(earliest),
                reason,
            };
            cmds.push(Command::WakeAt(earliest));
        } else {
            self.facts.reverse_attempts += 1;
            self.flow = Flow::Reversing {
                sent_at,
                wait: Wait::Answer,
                reason,
            };
            cmds.push(Command::Reverse);
        }
    }

    fn retry_reverse_or_give_up(
        &mut self,
        sent_at: i64,
        reason: Reason,
        now: i64,
        cmds: &mut Vec<Command>,
    ) {
        let attempts = self.facts.reverse_attempts;
        if attempts >= self.timing.max_reverse_attempts {
            self.flow = Flow::Reversing {
                sent_at,
                wait: Wait::Answer,
                reason,
            };
            self.finish(
                OrderState::Unresolved,
                Some(Reason::ReverseExhausted { attempts }),
                cmds,
            );
        } else {
            let at = now + Timing::reverse_backoff_ms(attempts);
            self.flow = Flow::Reversing {
                sent_at,
                wait: Wait::Until(at),
                reason,
            };
            cmds.push(Command::WakeAt(at));
        }
    }

    fn finish(&mut self, outcome: OrderState, reason: Option<Reason>, cmds: &mut Vec<Command>) {
        let reversing_for = self.reversing_for().cloned();
        self.flow = Flow::Done {
            sent_at: self.pay_sent_at(),
            outcome,
            reason,
            reversing_for,
        };
        cmds.push(Command::Finished(outcome));
    }
}

/// Errors reading a stored machine.
#[derive(Debug, thiserror::Error)]
#[error("order snapshot: {0}")]
pub struct SnapshotError(String);

impl SnapshotError {
    pub(crate) fn new(what: String) -> SnapshotError {
        SnapshotError(what)
    }
}

impl Machine {
    /// The stored form (JSON, format version 2).
    pub fn to_snapshot(&self) -> String {
        // Serialising plain data to a String cannot fail.
        serde_json::to_string(&snapshot::Stored::from(self.clone())).unwrap_or_default()
    }

    /// From the stored form: format version 2, or the flat format version 1 of scanpay ≤ 0.1
    /// (converted; rules that version could express only loosely are made exact).
    pub fn from_snapshot(text: &str) -> Result<Machine, SnapshotError> {
        serde_json::from_str(text).map_err(|e| SnapshotError(e.to_string()))
    }
}

/// The stored forms of a machine, newest first.
mod snapshot {
    use super::*;

    /// What `orders.machine` holds.
    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    pub(super) enum Stored {
        V2(V2),
        V1(V1),
    }

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct V2 {
        v: u32,
        amount: i64,
        timing: Timing,
        flow: Flow,
        facts: Facts,
    }

    /// The flat machine of the first version: every field public, phase and flags apart.
    #[derive(Serialize, Deserialize)]
    pub(super) struct V1 {
        amount: i64,
        timing: Timing,
        state: OrderState,
        phase: Phase,
        pay_sent_at: Option<i64>,
        next_at: Option<i64>,
        in_flight: bool,
        queries: u32,
        reverse_attempts: u32,
        confirm_failures: u32,
        cancel_requested: bool,
        seen_paid: bool,
        seen_user_paying: bool,
        reverse_reason: Option<Reason>,
        transaction_id: Option<String>,
        reason: Option<Reason>,
    }

    impl From<Machine> for Stored {
        fn from(m: Machine) -> Stored {
            Stored::V2(V2 {
                v: 2,
                amount: m.amount,
                timing: m.timing,
                flow: m.flow,
                facts: m.facts,
            })
        }
    }

    impl TryFrom<Stored> for Machine {
        type Error = String;
        fn try_from(s: Stored) -> Result<Machine, String> {
            match s {
                Stored::V2(v) if v.v == 2 => Ok(Machine {
                    amount: v.amount,
                    timing: v.timing,
                    flow: v.flow,
                    facts: v.facts,
                }),
                Stored::V2(v) => Err(format!(
                    "format version {} is newer than this scanpay understands",
                    v.v
                )),
                Stored::V1(v) => from_v1(v),
            }
        }
    }

    fn from_v1(v: V1) -> Result<Machine, String> {
        let live = !matches!(v.phase, Phase::Done);
        if live == v.state.is_final() {
            return Err(format!(
                "version 1 snapshot in phase {} with state {}",
                v.phase.as_str(),
                v.state
            ));
        }
        let sent_at = || {
            v.pay_sent_at.ok_or_else(|| {
                format!(
                    "version 1 snapshot in phase {} without a pay time",
                    v.phase.as_str()
                )
            })
        };
        let wait = if v.in_flight {
            Wait::Answer
        } else {
            Wait::Until(v.next_at.unwrap_or(0))
        };
        let reversing = || {
            v.reverse_reason
                .clone()
                .unwrap_or(Reason::NotConfirmedInTime)
        };
        let flow = match v.phase {
            Phase::New => Flow::New {
                then_reverse: v.reverse_reason.clone(),
            },
            Phase::Paying => Flow::Paying {
                sent_at: sent_at()?,
                then_reverse: v.reverse_reason.clone(),
            },
            Phase::Polling => Flow::Polling {
                sent_at: sent_at()?,
                wait,
                then_reverse: v.reverse_reason.clone(),
            },
            Phase::Reversing => Flow::Reversing {
                sent_at: sent_at()?,
                wait,
                reason: reversing(),
            },
            Phase::Confirming => Flow::Confirming {
                sent_at: sent_at()?,
                wait,
                reason: reversing(),
                failures: v.confirm_failures,
            },
            Phase::Done => Flow::Done {
                sent_at: v.pay_sent_at,
                // Version 1 never wrote refund states into the snapshot; be sure anyway.
                outcome: match v.state {
                    OrderState::PartiallyRefunded | OrderState::Refunded => OrderState::Paid,
                    s => s,
                },
                reason: v.reason.clone(),
                reversing_for: v.reverse_reason.clone(),
            },
        };
        Ok(Machine {
            amount: v.amount,
            timing: v.timing,
            flow,
            facts: Facts {
                queries: v.queries,
                reverse_attempts: v.reverse_attempts,
                cancel_requested: v.cancel_requested,
                seen_paid: v.seen_paid,
                user_paying: live && v.state == OrderState::Userpaying,
                transaction_id: v.transaction_id,
            },
        })
    }
}
