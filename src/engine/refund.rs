//! Refunds: a pure state machine like the payment's, and its driver.
//!
//! Each refund has its own `out_refund_no`, written before the request leaves; retries and
//! queries always reuse it (WeChat refunds one number at most once). Status is polled until
//! SUCCESS, CLOSED or ABNORMAL; ABNORMAL needs a person (the official guidance: the customer's
//! card is frozen or closed — handle it in the merchant platform). Recovery resumes refunds in
//! flight exactly like orders.

use serde::{Deserialize, Serialize};

/// A refund's status (stored in `refunds.status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefundStatus {
    /// Written; the request may or may not have left.
    Created,
    /// Accepted by WeChat, money on its way.
    Processing,
    /// Money returned.
    Success,
    /// Closed by WeChat: not refunded.
    Closed,
    /// Failed at the bank: a person must handle it in the merchant platform.
    Abnormal,
    /// Refused: not refunded (reason given).
    Failed,
}

impl RefundStatus {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Created => "CREATED",
            RefundStatus::Processing => "PROCESSING",
            RefundStatus::Success => "SUCCESS",
            RefundStatus::Closed => "CLOSED",
            RefundStatus::Abnormal => "ABNORMAL",
            RefundStatus::Failed => "FAILED",
        }
    }
    /// From the stored name.
    pub fn parse(s: &str) -> Option<RefundStatus> {
        Some(match s {
            "CREATED" => RefundStatus::Created,
            "PROCESSING" => RefundStatus::Processing,
            "SUCCESS" => RefundStatus::Success,
            "CLOSED" => RefundStatus::Closed,
            "ABNORMAL" => RefundStatus::Abnormal,
            "FAILED" => RefundStatus::Failed,
            _ => return None,
        })
    }
    /// Whether the refund's flow is over.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RefundStatus::Success
                | RefundStatus::Closed
                | RefundStatus::Abnormal
                | RefundStatus::Failed
        )
    }
    /// Whether its amount counts against what may still be refunded (everything that has not
    /// definitely not happened).
    pub fn reserves_amount(self) -> bool {
        !matches!(self, RefundStatus::Closed | RefundStatus::Failed)
    }
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

/// One refund's flow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundMachine {
    /// Status.
    pub status: RefundStatus,
    /// A request is in flight.
    pub in_flight: bool,
    /// Create requests sent.
    pub creates: u32,
    /// Queries made.
    pub queries: u32,
    /// Next timed action.
    pub next_at: Option<i64>,
    /// Why it failed, for the cashier.
    pub reason: Option<String>,
    /// Whether the next action is a create (else a query).
    pub next_is_create: bool,
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
