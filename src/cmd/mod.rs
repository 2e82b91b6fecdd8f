//! The headless sub-commands: the same engine as the cashier screen, driven from the shell.

pub mod manager;
pub mod orders;
pub mod pay;
pub mod receipt;
pub mod shift;

use std::process::ExitCode;
use std::sync::Arc;

use scanpay::clock::{SharedClock, SystemClock, beijing};
use scanpay::config::{Config, Language, Mode};
use scanpay::connect::{Connection, connect};
use scanpay::engine::{Engine, OrderState};
use scanpay::lock::DataDirLock;
use scanpay::store::orders::OrderRecord;
use scanpay::store::shifts::{self, Shift};
use scanpay::store::{Store, StoreError};

/// Exit status: paid / success.
pub const EXIT_OK: u8 = 0;
/// Exit status: not charged, refused, not found.
pub const EXIT_FAILED: u8 = 1;
/// Exit status: usage or configuration error.
pub const EXIT_USAGE: u8 = 2;
/// Exit status: needs a person (UNRESOLVED).
pub const EXIT_UNRESOLVED: u8 = 3;

/// The cashier the demo's shift is opened for.
pub const DEMO_CASHIER: &str = "demo";

/// A command's failure: a message for stderr and an exit status.
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }
    pub fn failed(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_FAILED,
            message: message.into(),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Refused(m) | StoreError::NotFound(m) => Failure::failed(m),
            other => Failure::usage(format!("shift log: {other}")),
        }
    }
}

/// Turns a command's result into the process exit status.
pub fn finish(result: Result<u8, Failure>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("scanpay: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

/// Everything a command that moves money needs: the data-folder lock, the shift log, the
/// payment service and the engine.
pub struct Session {
    pub cfg: Config,
    pub store: Store,
    pub engine: Engine,
    pub clock: SharedClock,
    _conn: Connection,
    _lock: DataDirLock,
}

impl Session {
    pub async fn open(cfg: Config) -> Result<Session, Failure> {
        let lock =
            DataDirLock::acquire(&cfg.data_dir).map_err(|e| Failure::usage(e.to_string()))?;
        let store = Store::open(&cfg.data_dir).map_err(|e| {
            Failure::usage(format!(
                "shift log {}: {e}",
                cfg.data_dir.join(scanpay::store::DB_FILE).display()
            ))
        })?;
        let clock: SharedClock = Arc::new(SystemClock);
        let conn = connect(&cfg, clock.clone())
            .await
            .map_err(|e| Failure::usage(e.to_string()))?;
        let engine = Engine::new(&cfg, conn.client.clone(), store.clone(), clock.clone());
        Ok(Session {
            cfg,
            store,
            engine,
            clock,
            _conn: conn,
            _lock: lock,
        })
    }

    /// The open shift; the demo opens one for cashier `demo` when there is none.
    pub async fn shift(&self) -> Result<Shift, Failure> {
        let terminal = self.cfg.merchant.terminal_id.clone();
        let now = self.clock.now_ms();
        let demo = self.cfg.wechatpay.mode == Mode::Simulator;
        let t = terminal.clone();
        let shift = self.store.call(move |c| shifts::current(c, &t)).await?;
        match shift {
            Some(s) => Ok(s),
            None if demo => Ok(self
                .store
                .call(move |c| shifts::open(c, &terminal, DEMO_CASHIER, now))
                .await?),
            None => Err(Failure::usage(format!(
                "no shift is open on {terminal}: open one with `scanpay shift open --cashier ID`"
            ))),
        }
    }
}

/// The exit status for an order's final state.
pub fn exit_for(state: OrderState) -> u8 {
    match state {
        OrderState::Paid | OrderState::PartiallyRefunded | OrderState::Refunded => EXIT_OK,
        OrderState::Failed | OrderState::Reversed => EXIT_FAILED,
        OrderState::Unresolved | OrderState::Pending | OrderState::Userpaying => EXIT_UNRESOLVED,
    }
}

/// The message for an order in the configured language.
pub fn message(o: &OrderRecord, lang: Language) -> String {
    if let Some(r) = &o.reason {
        return match lang {
            Language::Zh => r.zh(),
            Language::En => r.en(),
        };
    }
    let text = match (o.state, lang) {
        (OrderState::Paid, Language::Zh) => "收款成功",
        (OrderState::Paid, Language::En) => "paid",
        (OrderState::Pending | OrderState::Userpaying, Language::Zh) => "结果待确认",
        (OrderState::Pending | OrderState::Userpaying, Language::En) => "outcome not known yet",
        (OrderState::PartiallyRefunded, Language::Zh) => "已部分退款",
        (OrderState::PartiallyRefunded, Language::En) => "partially refunded",
        (OrderState::Refunded, Language::Zh) => "已全额退款",
        (OrderState::Refunded, Language::En) => "refunded",
        (_, Language::Zh) => "未扣款",
        (_, Language::En) => "not charged",
    };
    text.to_string()
}

/// The JSON object of the contract: `out_trade_no, state, amount_fen, transaction_id, message`
/// (plus `created_at` where asked).
pub fn order_json(o: &OrderRecord, lang: Language, with_created: bool) -> serde_json::Value {
    let mut v = serde_json::json!({
        "out_trade_no": o.out_trade_no,
        "state": o.state.as_str(),
        "amount_fen": o.amount.0,
        "transaction_id": o.transaction_id,
        "message": message(o, lang),
    });
    if with_created {
        v["created_at"] = serde_json::json!(beijing::rfc3339(o.created_at));
    }
    v
}

/// One human line for an order.
pub fn order_line(o: &OrderRecord, lang: Language) -> String {
    format!(
        "{}  {:<11} {:>12}  {}  {}",
        beijing::datetime(o.created_at),
        o.state.as_str(),
        o.amount.to_string(),
        o.out_trade_no,
        if o.state == OrderState::Paid {
            o.transaction_id.clone().unwrap_or_default()
        } else {
            message(o, lang)
        }
    )
}
