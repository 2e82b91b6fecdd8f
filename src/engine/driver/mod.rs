//! Runs the pure machines (payment and refund) against the client, the shift log and the
//! clock: one loop for both, each flow adding only how its commands become I/O.
//!
//! The driver owns the order of effects that makes the money path safe:
//! 1. the order (or refund) row and its first event are committed before anything is sent;
//! 2. the event that announces a request is committed before the request leaves;
//! 3. every answer is committed (event + machine snapshot) before progress is reported;
//! 4. waiting is tokio time (tests run on a paused clock), cancelling is an event.
//!
//! Modules: [`sale`] (the payment flow), [`refunding`] (the refund flow), `requests` (engine
//! data → protocol requests) and `answers` (protocol answers → machine events). The last two
//! are the protocol adapter: nothing else in the engine knows the wire format.

mod answers;
mod refunding;
pub(crate) mod requests;
mod sale;

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::micropay::{OrderState, Phase, Timing};
use crate::auth_code::AuthCode;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::failpoint;
use crate::money::Fen;
use crate::order::Refusal;
use crate::store::{Store, StoreError};
use crate::wechat::{Client, Party};

pub use requests::{
    DESCRIPTION_MAX_CHARS, REASON_MAX_BYTES, sanitize_description, sanitize_reason,
};

/// What stops a payment or refund from being taken or driven.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The shift log failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Refused before anything was sent.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// A stored flow could not be read back.
    #[error(transparent)]
    Snapshot(#[from] super::micropay::SnapshotError),
    /// A background task of the engine failed.
    #[error("{0}")]
    Task(String),
    /// A request had left (the customer may have been charged, a refund may have been made)
    /// when the shift log failed to record what followed. Never "nothing happened": the order
    /// needs `scanpay recover` before anything is charged again.
    #[error(
        "{reference}: WeChat Pay was asked, but what followed could not be written to the shift log ({}). The customer may have been charged: do not charge again until `scanpay recover` has run",
        brief(source)
    )]
    Unrecorded {
        /// The order (or refund) number.
        reference: String,
        /// What failed.
        source: StoreError,
    },
}

/// A store failure in a few words (the store's own texts speak of its transaction only).
fn brief(e: &StoreError) -> String {
    match e {
        StoreError::Full => "the disk holding the shift log is full".into(),
        other => other.to_string(),
    }
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
    /// Who the pay request is addressed as (direct merchant or service provider's
    /// sub-merchant): the client's own party (`crate::connect` maps it from the configuration),
    /// so a request and the client that sends it always agree.
    party: Party,
    store_id: String,
    store_name: String,
    terminal_id: String,
    device_ip: String,
}

impl MerchantInfo {
    /// Whom an order is written for: the client's own party, so the log records the party
    /// the pay call is addressed as.
    fn party_kind(&self) -> crate::order::PartyKind {
        match self.party {
            Party::Direct { .. } => crate::order::PartyKind::Direct,
            Party::Partner { .. } => crate::order::PartyKind::ServiceProvider,
        }
    }

    /// The sub-merchant an order is written for, in service-provider mode.
    fn sub_mchid(&self) -> Option<String> {
        match &self.party {
            Party::Direct { .. } => None,
            Party::Partner { sub_mchid, .. } => Some(sub_mchid.clone()),
        }
    }
}

/// The payment engine: everything a payment or refund needs. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Engine {
    /// Orders being driven in this process: one driver per order, ever.
    active: Arc<Mutex<HashSet<i64>>>,
    client: Client,
    store: Store,
    clock: SharedClock,
    timing: Timing,
    merchant: Arc<MerchantInfo>,
}

impl Engine {
    /// An engine for a configuration.
    pub fn new(cfg: &Config, client: Client, store: Store, clock: SharedClock) -> Engine {
        let party = client.settings().party.clone();
        Engine {
            active: Default::default(),
            client,
            store,
            clock,
            timing: Timing::from_secs(
                cfg.payment.query_interval_secs,
                cfg.payment.user_paying_timeout_secs,
            ),
            merchant: Arc::new(MerchantInfo {
                party,
                store_id: cfg.merchant.store_id.clone(),
                store_name: cfg.merchant.store_name.clone(),
                terminal_id: cfg.merchant.terminal_id.clone(),
                device_ip: cfg.merchant.device_ip.to_string(),
            }),
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
}

/// An event for a flow, with what the log should say about how it came.
struct Answered<E> {
    event: E,
    /// JSON detail for the log (never a payment code or a key).
    detail: serde_json::Value,
    /// WeChat's id of the thing answered about, when the answer names one.
    wechat_id: Option<String>,
}

impl<E> Answered<E> {
    fn bare(event: E) -> Answered<E> {
        Answered {
            event,
            detail: serde_json::json!({}),
            wechat_id: None,
        }
    }
}

/// What executing one command leads to.
enum Next<E> {
    /// An answer to feed back.
    Answer(Answered<E>),
    /// A wake-up to schedule.
    WakeAt(i64),
    /// Nothing.
    Nothing,
}

/// One flow the loop runs: a pure machine, how its steps are recorded and how its commands
/// become requests.
trait Flow {
    /// The machine's events.
    type Event;
    /// The machine's commands.
    type Command;
    /// The crash point hit while the flow waits for a timer.
    const WAITING_POINT: Option<&'static str>;
    /// The event a timer delivers.
    fn timer() -> Self::Event;
    /// The event a cashier's cancel delivers (none: the flow cannot be cancelled).
    fn cancel() -> Option<Self::Event> {
        None
    }
    /// Whether the flow is over.
    fn done(&self) -> bool;
    /// Whether carrying out the command sends a request to WeChat Pay.
    fn is_request(cmd: &Self::Command) -> bool;
    /// The order or refund number, for messages.
    fn reference(&self) -> String;
    /// Steps the machine and commits the step (write-ahead) before returning its commands.
    async fn apply(
        &mut self,
        answered: Answered<Self::Event>,
        now: i64,
    ) -> Result<Vec<Self::Command>, EngineError>;
    /// Carries out one command.
    async fn execute(&mut self, cmd: Self::Command) -> Next<Self::Event>;
}

/// How long the loop may run and what may interrupt it.
struct Limits {
    /// The cashier's cancel.
    cancel: Option<watch::Receiver<bool>>,
    /// Stop waiting (the flow stays where it is) once this much time would have passed.
    max_wait: Option<Duration>,
}

/// Where the loop starts.
enum First<E, C> {
    /// An event to apply first (a resumed or retried flow).
    Event(E),
    /// Commands of a step the caller already applied and committed (a new sale: its first
    /// step is committed with the order itself).
    Commands(Vec<C>),
}

/// The one driver loop: apply the next event, carry out the commands, wait for the next
/// wake-up (or a cancel), until the flow is over or may not wait longer.
async fn run<F: Flow>(
    flow: &mut F,
    first: First<F::Event, F::Command>,
    clock: &SharedClock,
    mut limits: Limits,
) -> Result<(), EngineError> {
    let started = tokio::time::Instant::now();
    let mut queue = VecDeque::new();
    let mut wake: Option<i64> = None;
    // Once a request has left, a failure to record is never "nothing happened".
    let mut sent = false;
    match first {
        First::Event(event) => queue.push_back(Answered::bare(event)),
        First::Commands(commands) => {
            for cmd in commands {
                sent |= F::is_request(&cmd);
                match flow.execute(cmd).await {
                    Next::Answer(a) => queue.push_back(a),
                    Next::WakeAt(at) => wake = Some(at),
                    Next::Nothing => {}
                }
            }
        }
    }
    loop {
        let next = match queue.pop_front() {
            Some(next) => next,
            None => {
                if flow.done() {
                    break;
                }
                // Nothing scheduled and nothing in flight cannot happen for a live machine:
                // stop rather than spin.
                let Some(at) = wake.take() else { break };
                if let Some(point) = F::WAITING_POINT {
                    failpoint::hit(point);
                }
                let wait = Duration::from_millis(u64::try_from(at - clock.now_ms()).unwrap_or(0));
                if limits
                    .max_wait
                    .is_some_and(|limit| started.elapsed() + wait > limit)
                {
                    break;
                }
                let cancelled = match limits.cancel.as_mut() {
                    Some(rx) if !*rx.borrow() => tokio::select! {
                        _ = tokio::time::sleep(wait) => false,
                        changed = rx.changed() => changed.is_ok() && *rx.borrow(),
                    },
                    _ => {
                        tokio::time::sleep(wait).await;
                        false
                    }
                };
                match F::cancel().filter(|_| cancelled) {
                    Some(event) => {
                        wake = Some(at);
                        Answered::bare(event)
                    }
                    None => Answered::bare(F::timer()),
                }
            }
        };
        let commands = match flow.apply(next, clock.now_ms()).await {
            Ok(commands) => commands,
            Err(EngineError::Store(source)) if sent => {
                return Err(EngineError::Unrecorded {
                    reference: flow.reference(),
                    source,
                });
            }
            Err(e) => return Err(e),
        };
        for cmd in commands {
            sent |= F::is_request(&cmd);
            match flow.execute(cmd).await {
                Next::Answer(a) => queue.push_back(a),
                Next::WakeAt(at) => wake = Some(at),
                Next::Nothing => {}
            }
        }
    }
    Ok(())
}

/// Marks an order (or refund) as driven by this task until dropped.
struct ActiveGuard {
    set: Arc<Mutex<HashSet<i64>>>,
    id: i64,
}

impl ActiveGuard {
    fn claim(set: &Arc<Mutex<HashSet<i64>>>, id: i64) -> Option<ActiveGuard> {
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
