//! The headless sub-commands: thin shells around the till core (`scanpay::till`). Each parses
//! its arguments, reads what only a terminal can give (a PIN), calls one use case, and prints
//! the result; the exit status says how it went.

pub mod check;
pub mod manager;
pub mod orders;
pub mod pay;
pub mod receipt;
pub mod shift;

use std::process::ExitCode;
use std::sync::Arc;

use scanpay::clock::{SharedClock, SystemClock, beijing};
use scanpay::config::{Config, Language, Mode};
use scanpay::engine::OrderState;
use scanpay::order::PartyKind;
use scanpay::sanitize;
use scanpay::store::StoreError;
use scanpay::store::orders::OrderRecord;
use scanpay::till::sale::order_message;
use scanpay::till::{Books, Printed, Printing, Till, TillError};

/// Exit status: paid / success.
pub const EXIT_OK: u8 = 0;
/// Exit status: not charged, refused, not found.
pub const EXIT_FAILED: u8 = 1;
/// Exit status: usage or configuration error.
pub const EXIT_USAGE: u8 = 2;
/// Exit status: needs a person (UNRESOLVED).
pub const EXIT_UNRESOLVED: u8 = 3;

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

impl From<TillError> for Failure {
    fn from(e: TillError) -> Self {
        match e {
            // Money may have moved: never "nothing written", never a usage error.
            e @ TillError::Unrecorded(_) => Failure {
                code: EXIT_UNRESOLVED,
                message: e.to_string(),
            },
            TillError::Store(StoreError::Refused(m) | StoreError::NotFound(m)) => {
                Failure::failed(m)
            }
            TillError::Store(other) => Failure::usage(format!("shift log: {other}")),
            e if e.is_refusal() => Failure::failed(e.to_string()),
            e => Failure::usage(e.to_string()),
        }
    }
}

/// Turns a command's result into the process exit status.
pub fn finish(result: Result<u8, Failure>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("scanpay: {}", sanitize::terminal(&f.message));
            ExitCode::from(f.code)
        }
    }
}

/// The clock of the real world: the one place the command line reads the system clock.
pub fn system_clock() -> SharedClock {
    Arc::new(SystemClock)
}

/// Opens the till (lock, shift log, payment service, engine); the command line waits for the
/// printer.
pub async fn open_till(cfg: Config) -> Result<Till, Failure> {
    Ok(Till::open(cfg, system_clock(), Printing::Wait).await?)
}

/// The shift log without the till.
pub fn books(cfg: &Config) -> Books {
    Books::new(cfg.clone(), system_clock())
}

/// Says on stderr where a printed report went.
pub fn tell_printed(what: &str, printed: &Printed) {
    match printed {
        Printed::Sent(_) | Printed::Queued => eprintln!("scanpay: {what} sent to the printer"),
        Printed::Spooled(p) => eprintln!(
            "scanpay: no printer configured; {what} written to {}",
            p.display()
        ),
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

/// Whether a configuration runs the simulator: training, no real money moves (the embedded
/// demo, or a `scanpay.toml` with `mode = "simulator"`).
pub fn simulated(cfg: &Config) -> bool {
    cfg.wechatpay.mode == Mode::Simulator
}

/// Prints a JSON document on stdout, one per command: `"simulated"` (true in training mode)
/// is added to the object, or to each object of an array (an array stays an array, so
/// consumers keep working), and the text is made terminal-safe without changing what it
/// means (`sanitize::terminal_json`).
pub fn print_json(mut v: serde_json::Value, simulated: bool, pretty: bool) {
    let mark = |o: &mut serde_json::Value| {
        if let Some(map) = o.as_object_mut() {
            map.insert("simulated".into(), serde_json::Value::Bool(simulated));
        }
    };
    match &mut v {
        serde_json::Value::Array(items) => items.iter_mut().for_each(mark),
        other => mark(other),
    }
    let text = if pretty {
        serde_json::to_string_pretty(&v).unwrap_or_default()
    } else {
        v.to_string()
    };
    println!("{}", sanitize::terminal_json(&text));
}

/// The JSON object of the contract: `out_trade_no, state, amount_fen, transaction_id, message`
/// (plus `created_at` where asked, and `party`/`sub_mchid` for a service provider's order).
pub fn order_json(o: &OrderRecord, lang: Language, with_created: bool) -> serde_json::Value {
    let mut v = serde_json::json!({
        "out_trade_no": o.out_trade_no,
        "state": o.state.as_str(),
        "amount_fen": o.amount.0,
        "transaction_id": o.transaction_id,
        "message": order_message(o, lang),
    });
    // A service provider's order says whose it is; a direct merchant's JSON stays as it
    // always was (no `party` means `direct`).
    if o.party != PartyKind::Direct {
        v["party"] = serde_json::json!(o.party.as_str());
        v["sub_mchid"] = serde_json::json!(o.sub_mchid);
    }
    if with_created {
        v["created_at"] = serde_json::json!(beijing::rfc3339(o.created_at));
    }
    v
}

/// One human line for an order (terminal-safe: the message and the WeChat Pay number come
/// from outside).
pub fn order_line(o: &OrderRecord, lang: Language) -> String {
    let line = format!(
        "{}  {:<11} {:>12}  {}  {}",
        beijing::datetime(o.created_at),
        o.state.as_str(),
        o.amount.to_string(),
        o.out_trade_no,
        if o.state == OrderState::Paid {
            o.transaction_id.clone().unwrap_or_default()
        } else {
            order_message(o, lang)
        }
    );
    sanitize::terminal_line(&line).into_owned()
}
