//! The order vocabulary: the words the engine decides in and the store persists.
//!
//! Both `engine` (which decides) and `store` (which persists) depend on this module; it
//! depends on nothing of the application. The rules that move an order from one word to the
//! next live in `engine`, never here and never in `store`. Text for people (the cashier's
//! Chinese and English) lives in `crate::i18n`.

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
    /// WeChat refused the pay request's signature (an unsigned 401, e.g. `SIGN_ERROR`) and did
    /// not execute it: the till's key, serial or clock is wrong. Not charged.
    RequestRejected {
        /// Error code, e.g. `SIGN_ERROR`.
        code: String,
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
    /// No connection to WeChat Pay (main or backup host) could be established: the pay
    /// request never left the till, so nothing was charged.
    NetworkDown,
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
            Reason::RequestRejected { code } => format!("REQUEST_REJECTED_{code}"),
            Reason::CustomerCancelled => "CUSTOMER_CANCELLED".into(),
            Reason::NotConfirmedInTime => "NOT_CONFIRMED_IN_TIME".into(),
            Reason::CashierCancelled => "CASHIER_CANCELLED".into(),
            Reason::NoSuchOrder => "NO_SUCH_ORDER".into(),
            Reason::Closed => "CLOSED".into(),
            Reason::NetworkDown => "NETWORK_DOWN".into(),
            Reason::MoneyReturned => "MONEY_RETURNED".into(),
            Reason::ReverseExhausted { .. } => "REVERSE_EXHAUSTED".into(),
            Reason::ReverseRefused { code } => format!("REVERSE_REFUSED_{code}"),
            Reason::AmountMismatch { .. } => "AMOUNT_MISMATCH".into(),
            Reason::UnknownState { .. } => "UNKNOWN_STATE".into(),
        }
    }
}

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

/// Whom an order was charged for (the shift log's `orders.party`): a directly connected
/// merchant, or a service provider (服务商) for one of its sub-merchants (特约商户), whose
/// number is then kept beside it (`orders.sub_mchid`). A refund belongs to its order's party.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartyKind {
    /// A directly connected merchant (普通商户); every order before service-provider mode.
    #[default]
    Direct,
    /// A service provider charging for a sub-merchant.
    ServiceProvider,
}

impl PartyKind {
    /// Stored name (`direct`, `service_provider`).
    pub fn as_str(self) -> &'static str {
        match self {
            PartyKind::Direct => "direct",
            PartyKind::ServiceProvider => "service_provider",
        }
    }
    /// From the stored name.
    pub fn parse(s: &str) -> Option<PartyKind> {
        match s {
            "direct" => Some(PartyKind::Direct),
            "service_provider" => Some(PartyKind::ServiceProvider),
            _ => None,
        }
    }
}

/// The sub-merchant (特约商户) a service provider's till charges for, as receipts and X/Z
/// reports show it: its number (`sub_mchid`) and, when configured, its name
/// (`merchant.sub_merchant_name`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubMerchant {
    /// The sub-merchant's number (特约商户号).
    pub sub_mchid: String,
    /// Its name, when the configuration gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// What an entry of an order's append-only timeline (`order_events.kind`) records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The order was written (before anything was sent).
    Created,
    /// The one pay call is about to leave.
    PayRequest,
    /// The flow was resumed after a restart.
    Resumed,
    /// A person asked to settle an unresolved order again.
    Retry,
    /// The pay call answered (or could not be sent).
    PayAnswer,
    /// A query answered.
    QueryAnswer,
    /// A reverse is about to leave.
    ReverseRequest,
    /// A reverse answered.
    ReverseAnswer,
    /// The cashier cancelled.
    Cancel,
    /// A refund was written (before anything was sent).
    RefundCreated,
    /// A refund request is about to leave.
    RefundRequest,
    /// A refund's flow was resumed after a restart.
    RefundResumed,
    /// A refund request answered.
    RefundAnswer,
    /// A refund query answered.
    RefundQueryAnswer,
}

impl EventKind {
    /// Every kind, in timeline order of a typical order.
    pub const ALL: [EventKind; 14] = [
        EventKind::Created,
        EventKind::PayRequest,
        EventKind::Resumed,
        EventKind::Retry,
        EventKind::PayAnswer,
        EventKind::QueryAnswer,
        EventKind::ReverseRequest,
        EventKind::ReverseAnswer,
        EventKind::Cancel,
        EventKind::RefundCreated,
        EventKind::RefundRequest,
        EventKind::RefundResumed,
        EventKind::RefundAnswer,
        EventKind::RefundQueryAnswer,
    ];

    /// The stored name (`pay_request`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::PayRequest => "pay_request",
            EventKind::Resumed => "resumed",
            EventKind::Retry => "retry",
            EventKind::PayAnswer => "pay_answer",
            EventKind::QueryAnswer => "query_answer",
            EventKind::ReverseRequest => "reverse_request",
            EventKind::ReverseAnswer => "reverse_answer",
            EventKind::Cancel => "cancel",
            EventKind::RefundCreated => "refund_created",
            EventKind::RefundRequest => "refund_request",
            EventKind::RefundResumed => "refund_resumed",
            EventKind::RefundAnswer => "refund_answer",
            EventKind::RefundQueryAnswer => "refund_query_answer",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the engine refused to start something: nothing was sent and nothing changed. Each is
/// rendered for the cashier by `crate::i18n`; `Display` gives the English text for logs and
/// the command line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The payment code was already used in this shift.
    #[error(
        "this payment code was already used in this shift (order {previous}); ask the customer to refresh it"
    )]
    DuplicateCode {
        /// The order that used it.
        previous: String,
    },
    /// No shift is open on this till.
    #[error("no shift is open on {terminal}: open one to make refunds")]
    NoShiftOpen {
        /// The till.
        terminal: String,
    },
    /// No such order in the shift log.
    #[error("no order {out_trade_no} in the shift log")]
    NoSuchOrder {
        /// The order number asked for.
        out_trade_no: String,
    },
    /// Only paid orders can be refunded.
    #[error("order {out_trade_no} is {state}: only paid orders can be refunded")]
    NotRefundable {
        /// The order.
        out_trade_no: String,
        /// Its state.
        state: OrderState,
    },
    /// A refund of zero or less.
    #[error("the refund amount must be more than zero")]
    RefundNotPositive,
    /// More than is left to refund.
    #[error("refunds may not exceed the paid amount: paid {paid}, at most {left} left to refund")]
    RefundExceeds {
        /// The order's amount.
        paid: crate::money::Fen,
        /// What is left to refund.
        left: crate::money::Fen,
    },
    /// WeChat Pay's limit of refunds per order.
    #[error("WeChat Pay allows at most {limit} refunds per order")]
    TooManyRefunds {
        /// The limit.
        limit: i64,
    },
    /// The order was made over the other WeChat Pay API than the one configured: it is
    /// queried, reversed and refunded over its own only.
    #[error(
        "order {out_trade_no} was made over WeChat Pay API{made_over} and this till is configured for API{configured}: set `api = \"{made_over}\"` in [wechatpay] (with its keys) to settle it"
    )]
    OtherApi {
        /// The order.
        out_trade_no: String,
        /// The API it was made over (`v3`, `v2`).
        made_over: &'static str,
        /// The API configured now.
        configured: &'static str,
    },
}
