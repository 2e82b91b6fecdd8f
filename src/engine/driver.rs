//! Runs the payment state machine against the client, the shift log and the clock.
//!
//! The driver owns the order of effects that makes the money path safe:
//! 1. the order row and its `created` event are committed before anything is sent;
//! 2. a `pay_request` event is committed before the one pay call leaves;
//! 3. every answer is committed (event + machine snapshot) before progress is reported;
//! 4. waiting is tokio time (tests run on a paused clock), cancelling is an event.

use std::collections::VecDeque;
use std::time::Duration;

use serde_json::json;
use tokio::sync::watch;

use super::micropay::{
    Command, Event, Machine, OrderState, PayResult, Phase, QueryResult, Remote, ReverseResult,
    Timing,
};
use crate::auth_code::AuthCode;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::failpoint;
use crate::money::Fen;
use crate::store::orders::{self, NewOrder, OrderRecord};
use crate::store::{Store, StoreError};
use crate::wechat::model::{
    Advice, Call, CodepayPayer, CodepayRequest, ErrorCode, RequestAmount, SceneInfo, StoreInfo,
    TradeState, Transaction,
};
use crate::wechat::{ApiError, Client, PayAnswer};

/// What stops a payment from being taken or driven.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The shift log failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The sale was refused before anything was sent.
    #[error("{0}")]
    Refused(String),
    /// The payment code was already used in this shift (`previous`: that order's number).
    #[error(
        "this payment code was already used in this shift (order {previous}); ask the customer to refresh it"
    )]
    DuplicateCode {
        /// The order the code was used for.
        previous: String,
    },
}

/// A sale to charge.
#[derive(Clone, Debug)]
pub struct Sale {
    /// Amount.
    pub amount: Fen,
    /// Goods description (the store name when empty).
    pub description: String,
    /// The customer's payment code.
    pub code: AuthCode,
    /// The open shift.
    pub shift_id: i64,
    /// Who is selling.
    pub cashier: String,
}

/// Where a payment is, for the screen and the CLI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// The order.
    pub out_trade_no: String,
    /// Contract state.
    pub state: OrderState,
    /// Flow phase.
    pub phase: Phase,
    /// Seconds left in the customer's confirmation window.
    pub seconds_left: i64,
    /// Queries made.
    pub queries: u32,
    /// Reverse attempts made.
    pub reverse_attempts: u32,
    /// The cashier asked to cancel.
    pub cancelling: bool,
    /// When an unconfirmed order will be reversed (Unix ms), for a live countdown.
    pub deadline_ms: Option<i64>,
    /// Whether the last request reached WeChat Pay (`None` before the first answer).
    pub network_ok: Option<bool>,
}

/// The merchant fields every pay call carries.
#[derive(Clone, Debug)]
struct MerchantInfo {
    appid: String,
    mchid: String,
    store_id: String,
    store_name: String,
    terminal_id: String,
    device_ip: String,
}

/// The payment engine: everything a payment needs. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Engine {
    /// Orders being driven in this process: one driver per order, ever.
    active: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<i64>>>,
    client: Client,
    store: Store,
    clock: SharedClock,
    timing: Timing,
    merchant: MerchantInfo,
}

impl Engine {
    /// An engine for a configuration.
    pub fn new(cfg: &Config, client: Client, store: Store, clock: SharedClock) -> Engine {
        Engine {
            active: Default::default(),
            client,
            store,
            clock,
            timing: Timing::from_secs(
                cfg.payment.query_interval_secs,
                cfg.payment.user_paying_timeout_secs,
            ),
            merchant: MerchantInfo {
                appid: cfg.merchant.appid.clone(),
                mchid: cfg.merchant.mchid.clone(),
                store_id: cfg.merchant.store_id.clone(),
                store_name: cfg.merchant.store_name.clone(),
                terminal_id: cfg.merchant.terminal_id.clone(),
                device_ip: cfg.merchant.device_ip.to_string(),
            },
        }
    }

    /// Overrides the timing (tests).
    pub fn with_timing(mut self, timing: Timing) -> Engine {
        self.timing = timing;
        self
    }

    /// The shift log.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The payment-service client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The clock.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// Writes a new order (PENDING) for a sale; nothing is sent yet. Refuses a payment code
    /// already used in this shift.
    pub async fn create_order(&self, sale: &Sale) -> Result<OrderRecord, EngineError> {
        let now = self.clock.now_ms();
        let machine = Machine::new(sale.amount.0, self.timing);
        let code = sale.code.expose().to_string();
        let masked = sale.code.masked().to_string();
        let shift_id = sale.shift_id;
        let new = NewOrder {
            shift_id,
            terminal_id: self.merchant.terminal_id.clone(),
            cashier: sale.cashier.clone(),
            amount: sale.amount,
            description: sale.description.clone(),
            code_masked: masked,
            code_fingerprint: String::new(),
        };
        let result = self
            .store
            .call(move |c| {
                let fp = orders::fingerprint(c, &code)?;
                if let Some(prev) = orders::code_used_in_shift(c, shift_id, &fp)? {
                    return Ok(Err(prev.out_trade_no));
                }
                let new = NewOrder {
                    code_fingerprint: fp,
                    ..new
                };
                orders::create(c, &new, &machine, now).map(Ok)
            })
            .await?;
        result.map_err(|previous| EngineError::DuplicateCode { previous })
    }

    /// Writes the order and drives it to its end: the one pay call, then queries and reverses
    /// as the rules say. `cancel` turning true is the cashier's cancel.
    pub async fn pay(
        &self,
        sale: &Sale,
        on_progress: &mut (dyn FnMut(&Progress) + Send),
        cancel: Option<watch::Receiver<bool>>,
    ) -> Result<OrderRecord, EngineError> {
        let order = self.create_order(sale).await?;
        self.drive(order, Event::Start, Some(&sale.code), on_progress, cancel)
            .await
    }

    /// Drives an order from `first` (Start for a new sale, Resume after a restart, Retry for an
    /// unresolved order) to the end of its flow.
    pub async fn drive(
        &self,
        order: OrderRecord,
        first: Event,
        code: Option<&AuthCode>,
        on_progress: &mut (dyn FnMut(&Progress) + Send),
        mut cancel: Option<watch::Receiver<bool>>,
    ) -> Result<OrderRecord, EngineError> {
        let id = order.id;
        let Some(_guard) = ActiveGuard::claim(&self.active, id) else {
            // Another task of this process is driving it; report where it is.
            return Ok(self.store.call(move |c| orders::by_id(c, id)).await?);
        };
        let no = order.out_trade_no.clone();
        let mut machine = order.machine.clone();
        let mut queue: VecDeque<(Event, Option<serde_json::Value>)> =
            VecDeque::from([(first, None)]);
        let mut wake: Option<i64> = None;
        let mut network_ok: Option<bool> = None;
        loop {
            let (event, detail) = match queue.pop_front() {
                Some(e) => e,
                None => {
                    if machine.phase == Phase::Done {
                        break;
                    }
                    let Some(at) = wake.take() else {
                        // Nothing scheduled and nothing in flight: cannot happen for a live
                        // machine; stop rather than spin.
                        break;
                    };
                    failpoint::hit("poll.waiting");
                    let wait =
                        Duration::from_millis(u64::try_from(at - self.clock.now_ms()).unwrap_or(0));
                    let cancelled = match cancel.as_mut() {
                        Some(rx) if !*rx.borrow() => tokio::select! {
                            _ = tokio::time::sleep(wait) => false,
                            changed = rx.changed() => changed.is_ok() && *rx.borrow(),
                        },
                        _ => {
                            tokio::time::sleep(wait).await;
                            false
                        }
                    };
                    if cancelled {
                        wake = Some(at);
                        (Event::Cancel, None)
                    } else {
                        (Event::Timer, None)
                    }
                }
            };
            let now = self.clock.now_ms();
            let kind = match &event {
                Event::Start => Some("pay_request"),
                Event::Resume => Some("resumed"),
                Event::Retry => Some("retry"),
                Event::Pay(_) => Some("pay_answer"),
                Event::Query(_) => Some("query_answer"),
                Event::Reverse(_) => Some("reverse_answer"),
                Event::Cancel => Some("cancel"),
                Event::Timer => None,
            };
            let (next, cmds) = machine.step(event, now);
            machine = next;
            if let Some(kind) = kind {
                self.record(id, kind, detail.unwrap_or(json!({})), &machine, now)
                    .await?;
            }
            if cmds.contains(&Command::Reverse) {
                self.record(
                    id,
                    "reverse_request",
                    json!({"attempt": machine.reverse_attempts}),
                    &machine,
                    now,
                )
                .await?;
            }
            on_progress(&Progress {
                out_trade_no: no.clone(),
                state: machine.state,
                phase: machine.phase,
                seconds_left: machine.seconds_left(now),
                queries: machine.queries,
                reverse_attempts: machine.reverse_attempts,
                cancelling: machine.cancel_requested,
                deadline_ms: machine.deadline(),
                network_ok,
            });
            for cmd in cmds {
                match cmd {
                    Command::SendPay => {
                        let Some(code) = code else {
                            // Only a fresh sale has its code; a resumed order never re-pays.
                            queue.push_back((
                                Event::Pay(PayResult::Unknown),
                                Some(json!({"result": "not_sent"})),
                            ));
                            continue;
                        };
                        failpoint::hit("pay.before_send");
                        let req = self.codepay_request(&no, &order, code);
                        let answer = self.client.codepay(&req).await;
                        failpoint::hit("pay.after_send");
                        network_ok = Some(!matches!(answer, Err(ApiError::Transport { .. })));
                        queue.push_back(map_pay(answer));
                    }
                    Command::Query => {
                        let answer = self.client.query_by_out_trade_no(&no).await;
                        network_ok = Some(!matches!(answer, Err(ApiError::Transport { .. })));
                        queue.push_back(map_query(answer));
                    }
                    Command::Reverse => {
                        failpoint::hit("reverse.before_send");
                        let answer = self.client.reverse(&no).await;
                        failpoint::hit("reverse.after_send");
                        network_ok = Some(!matches!(answer, Err(ApiError::Transport { .. })));
                        queue.push_back(map_reverse(answer));
                    }
                    Command::WakeAt(at) => wake = Some(at),
                    Command::Finished(_) => {}
                }
            }
        }
        let final_record = self.store.call(move |c| orders::by_id(c, id)).await?;
        Ok(final_record)
    }

    async fn record(
        &self,
        id: i64,
        kind: &'static str,
        detail: serde_json::Value,
        m: &Machine,
        now: i64,
    ) -> Result<(), StoreError> {
        let m = m.clone();
        self.store
            .call(move |c| orders::record(c, id, kind, &detail.to_string(), &m, now))
            .await
    }

    fn codepay_request(&self, no: &str, order: &OrderRecord, code: &AuthCode) -> CodepayRequest {
        let mut description = sanitize_description(&order.description);
        if description.is_empty() {
            description = sanitize_description(&self.merchant.store_name);
        }
        CodepayRequest {
            appid: self.merchant.appid.clone(),
            mchid: self.merchant.mchid.clone(),
            description,
            out_trade_no: no.to_string(),
            attach: None,
            payer: CodepayPayer {
                auth_code: code.expose().to_string(),
            },
            amount: RequestAmount {
                total: order.amount.0,
                currency: Some("CNY".into()),
            },
            scene_info: SceneInfo {
                store_info: StoreInfo {
                    out_id: Some(self.merchant.store_id.clone()),
                    id: None,
                },
                device_ip: Some(self.merchant.device_ip.clone()),
                device_id: Some(self.merchant.terminal_id.clone()),
            },
        }
    }
}

/// Marks an order as driven by this task until dropped.
struct ActiveGuard {
    set: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<i64>>>,
    id: i64,
}

impl ActiveGuard {
    fn claim(
        set: &std::sync::Arc<std::sync::Mutex<std::collections::HashSet<i64>>>,
        id: i64,
    ) -> Option<ActiveGuard> {
        let mut s = set.lock().unwrap_or_else(|p| p.into_inner());
        s.insert(id).then(|| ActiveGuard {
            set: set.clone(),
            id,
        })
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

/// WeChat accepts 1–127 characters of the Basic Multilingual Plane: drop emoji and control
/// characters, trim, cut.
pub fn sanitize_description(s: &str) -> String {
    s.chars()
        .filter(|c| (*c as u32) <= 0xFFFF && !c.is_control())
        .collect::<String>()
        .trim()
        .chars()
        .take(127)
        .collect()
}

fn remote(t: &Transaction) -> Remote {
    match &t.trade_state {
        TradeState::Success | TradeState::Refund => Remote::Paid {
            transaction_id: t.transaction_id.clone(),
            total: t.amount.as_ref().and_then(|a| a.total),
        },
        TradeState::UserPaying => Remote::UserPaying,
        TradeState::NotPay | TradeState::Accept => Remote::NotPaid,
        TradeState::PayError => Remote::PayError,
        TradeState::Revoked => Remote::Revoked,
        TradeState::Closed => Remote::Closed,
        TradeState::Other(s) => Remote::Other(s.clone()),
    }
}

fn error_detail(e: &ApiError) -> serde_json::Value {
    match e {
        ApiError::Service {
            status,
            code,
            verified,
            request_id,
            ..
        } => {
            json!({"result": "error", "http": status, "code": code.as_str(), "verified": verified, "request_id": request_id})
        }
        other => json!({"result": "unknown", "error": other.to_string()}),
    }
}

fn map_pay(answer: Result<PayAnswer, ApiError>) -> (Event, Option<serde_json::Value>) {
    match answer {
        Ok(PayAnswer::Paid(t)) | Ok(PayAnswer::NotFinal(t)) => (
            Event::Pay(PayResult::Answer(remote(&t))),
            Some(
                json!({"result": "answer", "trade_state": t.trade_state.as_str(), "transaction_id": t.transaction_id}),
            ),
        ),
        Ok(PayAnswer::UserPaying) => (
            Event::Pay(PayResult::UserPaying),
            Some(json!({"result": "userpaying", "http": 202})),
        ),
        Err(e) => {
            let detail = error_detail(&e);
            let result = match (&e, e.advice(Call::Pay)) {
                (ApiError::Service { code, .. }, Advice::Failed) => PayResult::Declined {
                    code: code.as_str().to_string(),
                    en: code.meaning_en().to_string(),
                    zh: code.meaning_zh().to_string(),
                },
                _ => PayResult::Unknown,
            };
            (Event::Pay(result), Some(detail))
        }
    }
}

fn map_query(answer: Result<Transaction, ApiError>) -> (Event, Option<serde_json::Value>) {
    match answer {
        Ok(t) => (
            Event::Query(QueryResult::State(remote(&t))),
            Some(
                json!({"result": "answer", "trade_state": t.trade_state.as_str(), "transaction_id": t.transaction_id}),
            ),
        ),
        Err(e) => {
            let detail = error_detail(&e);
            let result = match &e {
                ApiError::Service {
                    code: ErrorCode::OrderNotExist,
                    verified: true,
                    ..
                } => QueryResult::NotFound,
                _ => QueryResult::Unknown,
            };
            (Event::Query(result), Some(detail))
        }
    }
}

fn map_reverse(
    answer: Result<crate::wechat::model::ReverseAnswer, ApiError>,
) -> (Event, Option<serde_json::Value>) {
    match answer {
        Ok(_) => (
            Event::Reverse(ReverseResult::Done),
            Some(json!({"result": "done"})),
        ),
        Err(e) => {
            let detail = error_detail(&e);
            let result = match (&e, e.advice(Call::Reverse)) {
                (
                    ApiError::Service {
                        code: ErrorCode::OrderNotExist,
                        verified: true,
                        ..
                    },
                    _,
                ) => ReverseResult::NotFound,
                (
                    ApiError::Service {
                        code: ErrorCode::OrderPaid,
                        verified: true,
                        ..
                    },
                    _,
                ) => ReverseResult::AlreadyPaid,
                (
                    ApiError::Service {
                        code,
                        verified: true,
                        ..
                    },
                    Advice::Failed,
                ) => ReverseResult::Refused {
                    code: code.as_str().to_string(),
                },
                _ => ReverseResult::Retry,
            };
            (Event::Reverse(result), Some(detail))
        }
    }
}

/// Refunds (the flow's rules are in `super::refund`).
impl Engine {
    /// Writes a refund (checked against what is left to refund) and drives it until it is
    /// final or `max_wait` passes (it then stays PROCESSING; recovery follows it up).
    pub async fn refund(
        &self,
        out_trade_no: &str,
        amount: Fen,
        reason: &str,
        approved_by: Option<&str>,
        max_wait: Option<Duration>,
    ) -> Result<crate::store::refunds::RefundRecord, EngineError> {
        let now = self.clock.now_ms();
        let (no, reason, by) = (
            out_trade_no.to_string(),
            reason.to_string(),
            approved_by.map(str::to_string),
        );
        let terminal = self.merchant.terminal_id.clone();
        let rec = self
            .store
            .call(move |c| {
                let shift = crate::store::shifts::current(c, &terminal)?.ok_or_else(|| {
                    StoreError::Refused(format!(
                        "no shift is open on {terminal}: open one to make refunds"
                    ))
                })?;
                crate::store::refunds::create(c, &no, amount, &reason, by.as_deref(), shift.id, now)
            })
            .await
            .map_err(|e| match e {
                StoreError::Refused(m) => EngineError::Refused(m),
                other => EngineError::Store(other),
            })?;
        self.drive_refund(rec, super::refund::RefundEvent::Start, max_wait)
            .await
    }

    /// Drives a refund from `first` (Start, or Resume after a restart).
    pub async fn drive_refund(
        &self,
        rec: crate::store::refunds::RefundRecord,
        first: super::refund::RefundEvent,
        max_wait: Option<Duration>,
    ) -> Result<crate::store::refunds::RefundRecord, EngineError> {
        use super::refund::{CreateResult, RefundCommand, RefundEvent, RefundQueryResult};
        use crate::wechat::model::{RefundRequest, RefundRequestAmount};
        let started = tokio::time::Instant::now();
        let id = rec.id;
        let order_total = {
            let oid = rec.order_id;
            self.store
                .call(move |c| orders::by_id(c, oid))
                .await?
                .amount
        };
        let mut m = rec.machine.clone();
        let mut queue = VecDeque::from([(first, serde_json::json!({}), None::<String>)]);
        let mut wake = None;
        let mut current = rec;
        loop {
            let (ev, detail, wechat_id) = match queue.pop_front() {
                Some(x) => x,
                None => {
                    if m.status.is_final() {
                        break;
                    }
                    let Some(at) = wake.take() else { break };
                    let wait_ms = u64::try_from(at - self.clock.now_ms()).unwrap_or(0);
                    if let Some(limit) = max_wait
                        && started.elapsed() + Duration::from_millis(wait_ms) > limit
                    {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(wait_ms)).await;
                    (RefundEvent::Timer, serde_json::json!({}), None)
                }
            };
            let kind = match &ev {
                RefundEvent::Start => Some("refund_request"),
                RefundEvent::Resume => Some("refund_resumed"),
                RefundEvent::Create(_) => Some("refund_answer"),
                RefundEvent::Query(_) => Some("refund_query_answer"),
                RefundEvent::Timer => None,
            };
            let now = self.clock.now_ms();
            let (next, cmds) = m.step(ev, now);
            m = next;
            if let Some(kind) = kind {
                let mm = m.clone();
                let d = detail.to_string();
                current = self
                    .store
                    .call(move |c| {
                        crate::store::refunds::record(
                            c,
                            id,
                            kind,
                            &d,
                            &mm,
                            wechat_id.as_deref(),
                            now,
                        )
                    })
                    .await?;
            }
            for cmd in cmds {
                match cmd {
                    RefundCommand::SendCreate => {
                        let req = RefundRequest {
                            transaction_id: None,
                            out_trade_no: Some(current.out_trade_no.clone()),
                            out_refund_no: current.out_refund_no.clone(),
                            reason: Some(sanitize_description(&current.reason))
                                .filter(|r| !r.is_empty()),
                            amount: RefundRequestAmount {
                                refund: current.amount.0,
                                total: order_total.0,
                                currency: "CNY".into(),
                            },
                        };
                        let answer = self.client.refund(&req).await;
                        failpoint::hit("refund.after_send");
                        queue.push_back(match answer {
                            Ok(r) => (
                                RefundEvent::Create(CreateResult::Accepted(refund_status(&r.status))),
                                serde_json::json!({"result": "answer", "status": r.status.as_str()}),
                                r.refund_id.clone(),
                            ),
                            Err(e) => {
                                let detail = error_detail(&e);
                                let result = match (&e, e.advice(Call::Refund)) {
                                    (_, Advice::Retry) => CreateResult::Retry,
                                    (ApiError::Service { code, .. }, Advice::Failed) => CreateResult::Failed {
                                        code: code.as_str().to_string(),
                                        en: code.meaning_en().to_string(),
                                        zh: code.meaning_zh().to_string(),
                                    },
                                    _ => CreateResult::Unknown,
                                };
                                (RefundEvent::Create(result), detail, None)
                            }
                        });
                    }
                    RefundCommand::Query => {
                        let answer = self.client.query_refund(&current.out_refund_no).await;
                        queue.push_back(match answer {
                            Ok(r) => (
                                RefundEvent::Query(RefundQueryResult::Status(refund_status(&r.status))),
                                serde_json::json!({"result": "answer", "status": r.status.as_str()}),
                                r.refund_id.clone(),
                            ),
                            Err(e) => {
                                let detail = error_detail(&e);
                                let result = match &e {
                                    ApiError::Service { code: ErrorCode::ResourceNotExists, verified: true, .. } => RefundQueryResult::NotFound,
                                    _ => RefundQueryResult::Unknown,
                                };
                                (RefundEvent::Query(result), detail, None)
                            }
                        });
                    }
                    RefundCommand::WakeAt(at) => wake = Some(at),
                    RefundCommand::Finished(_) => {}
                }
            }
        }
        Ok(current)
    }
}

fn refund_status(s: &crate::wechat::model::RefundStatus) -> super::refund::RefundStatus {
    use super::refund::RefundStatus as R;
    use crate::wechat::model::RefundStatus as W;
    match s {
        W::Success => R::Success,
        W::Closed => R::Closed,
        W::Abnormal => R::Abnormal,
        W::Processing | W::Other(_) => R::Processing,
    }
}
