//! The till's use cases, once, for both faces: the cashier screen (`tui::run`) and the
//! command line (`src/cmd`) are thin callers of this module.
//!
//! Two handles:
//! - [`Till`]: the till that moves money. Opening it takes the data-folder lock, opens the shift
//!   log, connects to the payment service, builds the engine and the printer, and lists the
//!   orders an earlier run left in flight (settled by [`Till::settle_left`]).
//! - [`Books`]: the shift log without the till, for what works while another process sells
//!   (reports, orders, export, backup, reprint, supervisors, reconciliation).
//!
//! Nothing here prints to the terminal; results and typed errors ([`TillError`]) go back to the
//! face. Time comes from the injected clock.

pub mod books;
pub mod check;
pub mod ident;
pub mod receipts;
pub mod refund;
pub mod reports;
pub mod sale;
pub mod shift;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::clock::SharedClock;
use crate::config::{Config, Mode};
use crate::connect::{ConnectError, Connection, connect};
use crate::engine::micropay::Event;
use crate::engine::recovery::{self, Scope};
use crate::engine::{Engine, EngineError};
use crate::lock::{DataDirLock, LockError};
use crate::receipt::printer::{PrintError, PrinterStatus};
use crate::reconcile::ReconcileError;
use crate::store::orders::OrderRecord;
use crate::store::refunds::RefundRecord;
use crate::store::{Store, StoreError};
use crate::supervisor::SupervisorError;

use crate::order::Refusal;

pub use books::Books;
pub use receipts::{Printed, Printing};
pub use reports::Report;

/// The cashier the demo's shift is opened for.
pub const DEMO_CASHIER: &str = "demo";

/// How long a refund is waited for before it is left PROCESSING for recovery.
pub const REFUND_WAIT: Duration = Duration::from_secs(60);

/// How many automatic Z backups are kept.
pub const Z_BACKUPS_KEPT: usize = 30;

/// Why a use case did not go through.
#[derive(Debug, thiserror::Error)]
pub enum TillError {
    /// Another process holds the data folder, or the lock file failed.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The data folder belongs to another mode or merchant than the configuration's.
    #[error(transparent)]
    Identity(Box<ident::IdentityError>),
    /// The shift log could not be opened.
    #[error("shift log {path}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// Why.
        source: StoreError,
    },
    /// There is no shift log yet (nothing was ever sold here).
    #[error("no shift log yet at {0}")]
    NoLog(PathBuf),
    /// The payment service could not be set up (keys, simulator).
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The shift log refused a change (a business rule) or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The engine refused the sale or refund before anything was sent.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// A request had left when the shift log failed ([`EngineError::Unrecorded`]): the order
    /// needs `scanpay recover` before anything is charged again.
    #[error(transparent)]
    Unrecorded(EngineError),
    /// The engine could not read back a flow it had stored, or its task failed.
    #[error("{0}")]
    Engine(String),
    /// Settling orders or refunds left in flight failed.
    #[error("{0}")]
    Recovery(String),
    /// No shift is open on this till.
    #[error("no shift is open on {0}")]
    NoShift(String),
    /// The supervisor did not approve.
    #[error("not approved: {0}")]
    NotApproved(SupervisorError),
    /// A supervisor could not be added (bad id or PIN, storage).
    #[error("{0}")]
    Supervisor(SupervisorError),
    /// No such order in the log.
    #[error("no order {0} in the shift log")]
    NoOrder(String),
    /// The order was not charged: it has no receipt.
    #[error("order {out_trade_no} is {state}: there is no receipt for it")]
    NoReceipt {
        /// The order.
        out_trade_no: String,
        /// Its state.
        state: String,
    },
    /// No such Z report.
    #[error("no such Z report")]
    NoSuchZ,
    /// A stored Z report cannot be read.
    #[error("Z report {z}: {detail}")]
    BadZ {
        /// The Z number.
        z: i64,
        /// Why.
        detail: String,
    },
    /// A printer is needed but none is configured.
    #[error("no printer is configured ([printer] kind = \"none\"); use --to file")]
    NoPrinter,
    /// The printer failed.
    #[error("printer: {0}")]
    Printer(#[from] PrintError),
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A backup could not be made.
    #[error("{0}")]
    Backup(crate::store::backup::BackupError),
    /// An input was not understood (a date, a range).
    #[error("{0}")]
    Input(String),
    /// The reconciliation could not be made.
    #[error(transparent)]
    Reconcile(#[from] ReconcileError),
}

impl From<ident::IdentityError> for TillError {
    fn from(e: ident::IdentityError) -> Self {
        TillError::Identity(Box::new(e))
    }
}

impl From<EngineError> for TillError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Refused(m) => TillError::Refused(m),
            EngineError::Store(s) => TillError::Store(s),
            e @ EngineError::Unrecorded { .. } => TillError::Unrecorded(e),
            other @ (EngineError::Snapshot(_) | EngineError::Task(_)) => {
                TillError::Engine(other.to_string())
            }
        }
    }
}

impl TillError {
    /// The order (or refund) whose outcome may have changed without being recorded.
    pub fn unrecorded(&self) -> Option<&str> {
        match self {
            TillError::Unrecorded(EngineError::Unrecorded { reference, .. }) => Some(reference),
            _ => None,
        }
    }

    /// A business refusal (the request was understood and said no), as opposed to a set-up
    /// or storage failure.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            TillError::Store(StoreError::Refused(_) | StoreError::NotFound(_))
                | TillError::Refused(_)
                | TillError::NotApproved(_)
                | TillError::NoShift(_)
                | TillError::NoOrder(_)
                | TillError::NoReceipt { .. }
                | TillError::NoSuchZ
                | TillError::NoLog(_)
                | TillError::Printer(_)
                | TillError::Reconcile(_)
        ) || matches!(self, TillError::Backup(e) if e.is_refusal())
            || matches!(self, TillError::Supervisor(e) if e.is_refusal())
    }
}

/// A supervisor's id and PIN as typed, for an approval. The PIN is never stored, logged or
/// shown (not even by `Debug`).
#[derive(Clone)]
pub struct SupervisorPin {
    /// The supervisor's id.
    pub supervisor: String,
    /// The PIN as typed.
    pub pin: String,
}

impl std::fmt::Debug for SupervisorPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SupervisorPin({}, ***)", self.supervisor)
    }
}

/// What recovery settled.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Orders, in their final state (or as far as they got).
    pub orders: Vec<OrderRecord>,
    /// Refunds, as they stand.
    pub refunds: Vec<RefundRecord>,
    /// Orders left as they were because they were made over the other WeChat Pay API than
    /// the one configured: each says which `api` settles it.
    pub other_api: Vec<crate::order::Refusal>,
}

/// The till that moves money: lock, shift log, payment service, engine, printer, clock.
/// Cheap to clone; the lock and the connection are released when the last clone is dropped.
#[derive(Clone)]
pub struct Till {
    cfg: Arc<Config>,
    clock: SharedClock,
    store: Store,
    engine: Engine,
    printing: receipts::Printer,
    /// Orders an earlier run left in flight, listed at open (before any new sale exists).
    left: Arc<Mutex<Vec<(OrderRecord, Event)>>>,
    _held: Arc<(Connection, DataDirLock)>,
}

impl std::fmt::Debug for Till {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Till({})", self.cfg.merchant.terminal_id)
    }
}

impl Till {
    /// Opens the till: takes the data-folder lock, opens the shift log, checks that the data
    /// folder belongs to the configuration's mode and merchant ([`ident`]; recorded on first
    /// open), connects, builds the engine and the printer, makes sure the demo supervisor
    /// exists in simulator mode, and lists the orders left in flight by an earlier run.
    pub async fn open(
        cfg: Config,
        clock: SharedClock,
        printing: Printing,
    ) -> Result<Till, TillError> {
        let lock = DataDirLock::acquire(&cfg.data_dir)?;
        let store = Store::open(&cfg.data_dir).map_err(|source| TillError::Open {
            path: cfg.data_dir.join(crate::store::DB_FILE),
            source,
        })?;
        // Whose folder this is, before anything is started or written in it (the simulator's
        // folder, the demo supervisor).
        let check = cfg.clone();
        store
            .call(move |c| Ok(ident::check_and_record(c, &check)))
            .await??;
        let conn = connect(&cfg, clock.clone()).await?;
        let engine = Engine::new(&cfg, conn.client.clone(), store.clone(), clock.clone());
        if cfg.wechatpay.mode == Mode::Simulator {
            let now = clock.now_ms();
            store
                .call(move |c| {
                    crate::supervisor::ensure_demo(c, now)
                        .map_err(|e| StoreError::Sql(e.to_string()))
                })
                .await?;
        }
        let left = recovery::pending(&engine, Scope::InFlight).await?;
        let printing = receipts::Printer::start(printing, &cfg);
        Ok(Till {
            cfg: Arc::new(cfg),
            clock,
            store,
            engine,
            printing,
            left: Arc::new(Mutex::new(left)),
            _held: Arc::new((conn, lock)),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The clock.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The shift log.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The printer's state now (the screen's footer).
    pub fn printer_status(&self) -> PrinterStatus {
        self.printing.status()
    }

    /// The shift log's data folder, the same without the lock (for what [`Books`] does).
    pub fn books(&self) -> Books {
        Books::new((*self.cfg).clone(), self.clock.clone())
    }

    /// Settles the orders listed at open as left in flight (query and reverse only, never a
    /// second pay call). Each is settled once: a second call finds the list empty.
    pub async fn settle_left(&self) -> Result<Vec<OrderRecord>, TillError> {
        let todo = match self.left.lock() {
            Ok(mut g) => std::mem::take(&mut *g),
            Err(_) => return Err(TillError::Recovery("recovery list poisoned".into())),
        };
        recovery::settle(&self.engine, todo)
            .await
            .map_err(|e| TillError::Recovery(e.to_string()))
    }

    /// Follows up refunds left in flight (CREATED, PROCESSING), waiting at most `max_wait` for
    /// each.
    pub async fn follow_refunds(
        &self,
        max_wait: Option<Duration>,
    ) -> Result<Vec<RefundRecord>, TillError> {
        recovery::recover_refunds(&self.engine, max_wait)
            .await
            .map_err(|e| TillError::Recovery(e.to_string()))
    }

    /// `recover`: every order in flight and every unresolved one, of all shifts, then the
    /// refunds in flight (at most [`REFUND_WAIT`] each).
    pub async fn recover_all(&self) -> Result<Recovered, TillError> {
        if let Ok(mut g) = self.left.lock() {
            g.clear();
        }
        let orders = recovery::recover(&self.engine, Scope::InFlightAndUnresolved)
            .await
            .map_err(|e| TillError::Recovery(e.to_string()))?;
        let refunds = self.follow_refunds(Some(REFUND_WAIT)).await?;
        let other_api = self.other_api_orders().await?;
        for r in &other_api {
            tracing::warn!(refusal = %r, "order left for the other API");
        }
        Ok(Recovered {
            orders,
            refunds,
            other_api,
        })
    }

    /// Orders in flight or unresolved that were made over the other WeChat Pay API than the
    /// one configured (recovery leaves them; `check`, `recover` and the screen name them).
    pub async fn other_api_orders(&self) -> Result<Vec<crate::order::Refusal>, TillError> {
        recovery::other_api(&self.engine)
            .await
            .map_err(|e| TillError::Recovery(e.to_string()))
    }

    /// Sends a print job the way this till prints (queued on the screen, waited for on the
    /// command line).
    pub fn print(&self, job: crate::receipt::printer::Job) -> Result<Printed, TillError> {
        self.printing.deliver(&self.cfg, job)
    }

    fn is_demo(&self) -> bool {
        self.cfg.wechatpay.mode == Mode::Simulator
    }

    fn terminal(&self) -> String {
        self.cfg.merchant.terminal_id.clone()
    }
}
