//! The cashier screen's state, the messages that change it and the commands it asks for.
//! One `App`; `update` (in `update.rs`) is the only thing that changes it. The screen's own
//! data lives in its [`Screen`] variant, a popup's in its [`Overlay`] variant.

use super::form::{OpenShiftForm, SupervisorForm};
use super::keys::Key;
use super::screen::{
    Hint, HistoryScreen, Outcome, Overlay, Refusal, ResultScreen, SaleScreen, Screen, ShiftNote,
    View, WaitingScreen, refundable,
};
use super::wedge::{Classify, KeyClass, Wedge, WedgeConfig};
use crate::auth_code::AuthCode;
use crate::config::Language;
use crate::engine::micropay::Phase;
use crate::engine::{OrderState, Progress};
use crate::money::Fen;
use crate::receipt::printer::PrinterStatus;
use crate::store::orders::{OrderEvent, OrderRecord};
use crate::store::shifts::{Shift, Summary};

/// The scanner as the status line shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScannerStatus {
    /// A keyboard-wedge scanner (nothing to connect).
    Wedge,
    /// Serial scanner connected.
    Connected,
    /// Serial scanner not connected.
    Disconnected,
}

/// A key or a paste, as the wedge classifier holds it (see `wedge`'s rule).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A key.
    Key(Key),
    /// A bracketed paste: it acts only alone, like a control key.
    Paste(String),
}

impl Classify for Input {
    fn class(&self) -> KeyClass {
        match self {
            Input::Key(Key::Char(c)) if !c.is_control() => KeyClass::Char(*c),
            Input::Key(Key::Enter | Key::Tab) => KeyClass::Terminator,
            Input::Key(Key::Backspace | Key::Up | Key::Down | Key::PageUp | Key::PageDown) => {
                KeyClass::Repeatable
            }
            Input::Key(_) | Input::Paste(_) => KeyClass::Control,
        }
    }
}

/// The configuration check (`till::check`) as the status line shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigCheck {
    /// Not run yet.
    NotRun,
    /// Running in the background.
    Running,
    /// No problem found.
    Passed,
    /// A problem: the first one found, and its fix.
    Failed {
        /// What was found.
        problem: String,
        /// What to do.
        fix: Option<String>,
    },
}

/// What a finished check reports to the screen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckResult {
    /// No problem.
    Passed,
    /// The first problem and its fix.
    Failed {
        /// What was found.
        problem: String,
        /// What to do.
        fix: Option<String>,
    },
}

/// WeChat Pay refused one of this till's requests before processing it (an unsigned 401): the
/// configuration is wrong, so new sales are refused until a check passes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigAlert {
    /// The service's code, e.g. `SIGN_ERROR`.
    pub code: String,
}

/// Colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Theme {
    /// Colours for status, with words and symbols too.
    Default,
    /// Bright, bold, high contrast.
    HighContrast,
    /// `NO_COLOR`: no colours at all.
    NoColor,
}

/// Everything on the screen.
#[derive(Clone, Debug)]
pub struct App {
    /// Language.
    pub lang: Language,
    /// Colours.
    pub theme: Theme,
    /// This till.
    pub terminal_id: String,
    /// Simulator or live.
    pub simulator: bool,
    /// Largest amount.
    pub max_amount: Fen,
    /// Wedge classifier: holds every key and paste until it is known whether it came alone.
    pub wedge: Wedge<Input>,
    /// The open shift.
    pub shift: Option<Shift>,
    /// The screen, with its data.
    pub screen: Screen,
    /// The popup, with its data.
    pub overlay: Option<Overlay>,
    /// Shift summary (stats line, X report).
    pub summary: Option<Summary>,
    /// Scanner state.
    pub scanner: ScannerStatus,
    /// Whether WeChat Pay was reachable at the last request.
    pub network_ok: bool,
    /// The last configuration check.
    pub config_check: ConfigCheck,
    /// Set when WeChat refused a request's signature; cleared by a passing check.
    pub config_alert: Option<ConfigAlert>,
    /// The receipt printer.
    pub printer: PrinterStatus,
    /// Since when (Unix ms) the oldest change not yet shipped to the head office waits
    /// (`None`: nothing waits, or no `[sync]`); the status line shows the lag past a minute.
    pub sync_pending_since: Option<i64>,
    /// A passing message and when it goes (Unix ms).
    pub hint: Option<(Hint, i64)>,
    /// The time of the last message (Unix ms).
    pub now: i64,
    /// Fingerprint and time of the last scanned code (in memory only).
    pub last_scan: Option<([u8; 32], i64)>,
    /// Quit now.
    pub quit: bool,
}

/// Settings the screen starts with.
#[derive(Clone, Debug)]
pub struct AppConfig {
    /// Language.
    pub lang: Language,
    /// Colours.
    pub theme: Theme,
    /// This till.
    pub terminal_id: String,
    /// Simulator mode.
    pub simulator: bool,
    /// Largest amount.
    pub max_amount: Fen,
    /// Wedge thresholds.
    pub wedge: WedgeConfig,
    /// Serial scanner (else wedge).
    pub serial_scanner: bool,
}

impl App {
    /// A screen with no shift loaded yet.
    pub fn new(c: AppConfig, now: i64) -> App {
        App {
            lang: c.lang,
            theme: c.theme,
            terminal_id: c.terminal_id,
            simulator: c.simulator,
            max_amount: c.max_amount,
            wedge: Wedge::new(c.wedge),
            shift: None,
            screen: Screen::OpenShift(OpenShiftForm::default()),
            overlay: None,
            summary: None,
            scanner: if c.serial_scanner {
                ScannerStatus::Disconnected
            } else {
                ScannerStatus::Wedge
            },
            network_ok: true,
            config_check: ConfigCheck::NotRun,
            config_alert: None,
            printer: PrinterStatus::Disabled,
            sync_pending_since: None,
            hint: None,
            now,
            last_scan: None,
            quit: false,
        }
    }

    /// What the key table needs.
    pub fn view(&self) -> View {
        let history = self.history();
        View {
            screen: self.screen.kind(),
            overlay: self.overlay.as_ref().map(Overlay::kind),
            awaiting_scan: self.sale().is_some_and(|s| s.confirmed.is_some()),
            note_focused: self.sale().is_some_and(|s| s.note_focused),
            detail_open: history.is_some_and(|h| h.detail.is_some()),
            selected_unresolved: history
                .and_then(HistoryScreen::current)
                .is_some_and(|o| o.state == OrderState::Unresolved),
            can_cancel: self.payment().is_some_and(|p| {
                !p.cancelling
                    && !matches!(p.phase, Phase::Reversing | Phase::Confirming | Phase::Done)
            }),
            can_reprint: self.reprint_target().is_some(),
            can_refund: self.refund_target().is_some(),
            shift_open: self.shift.is_some(),
            check_needed: self.check_needed(),
        }
    }

    /// A configuration check should be run again: an alert is up or the last check failed.
    pub fn check_needed(&self) -> bool {
        self.config_alert.is_some() || matches!(self.config_check, ConfigCheck::Failed { .. })
    }

    /// The sale screen's data, when it shows.
    pub fn sale(&self) -> Option<&SaleScreen> {
        match &self.screen {
            Screen::Sale(s) => Some(s),
            _ => None,
        }
    }

    /// The payment in flight, when the waiting screen shows.
    pub fn payment(&self) -> Option<&WaitingScreen> {
        match &self.screen {
            Screen::Waiting(p) => Some(p),
            _ => None,
        }
    }

    /// The result screen's data, when it shows.
    pub fn result(&self) -> Option<&ResultScreen> {
        match &self.screen {
            Screen::Result(r) => Some(r),
            _ => None,
        }
    }

    /// The history screen's data, when it shows.
    pub fn history(&self) -> Option<&HistoryScreen> {
        match &self.screen {
            Screen::History(h) => Some(h),
            _ => None,
        }
    }

    /// The shift screen's report, when it shows one.
    pub fn shift_note(&self) -> Option<&ShiftNote> {
        match &self.screen {
            Screen::Shift(s) => s.note.as_ref(),
            _ => None,
        }
    }

    /// The open supervisor form.
    pub fn form(&self) -> Option<&SupervisorForm> {
        match &self.overlay {
            Some(Overlay::Form(f)) => Some(f),
            _ => None,
        }
    }

    /// The history order a refund would be for (paid, not fully refunded).
    pub fn refund_target(&self) -> Option<&OrderRecord> {
        self.history()
            .and_then(HistoryScreen::current)
            .filter(|o| refundable(o))
    }

    /// The paid order a reprint would print.
    pub fn reprint_target(&self) -> Option<i64> {
        match &self.screen {
            Screen::Result(r) => (r.outcome == Outcome::Paid).then_some(r.order_id),
            Screen::History(h) => h.current().filter(|o| o.state.is_charged()).map(|o| o.id),
            _ => None,
        }
    }

    /// Whether a payment is in flight.
    pub fn in_flight(&self) -> bool {
        matches!(self.screen, Screen::Waiting(_))
    }
}

/// What happens to the screen.
#[derive(Clone, Debug)]
pub enum Msg {
    /// A key, with the time it arrived (Unix ms).
    Key {
        /// The key.
        key: Key,
        /// When.
        at: i64,
    },
    /// Bracketed paste.
    Paste {
        /// The text.
        text: String,
        /// When.
        at: i64,
    },
    /// A frame from the serial scanner.
    Scan {
        /// As read.
        raw: String,
        /// When.
        at: i64,
    },
    /// Time passes.
    Tick {
        /// Now.
        at: i64,
    },
    /// The shift was loaded, opened, or found missing.
    ShiftLoaded(Option<Shift>),
    /// Opening a shift failed.
    ShiftError(String),
    /// Payment progress.
    Progress(Progress),
    /// The payment ended (`Err`: refused before anything was sent).
    PaymentFinished(Result<OrderRecord, Refusal>),
    /// The payment's bookkeeping failed after the order was written: its outcome must be
    /// checked by a person (the order settles at the next start).
    PaymentBroken(String),
    /// History loaded.
    History(Vec<OrderRecord>),
    /// An order's details loaded.
    Detail(OrderRecord, Vec<OrderEvent>, Option<String>),
    /// Shift summary loaded.
    Summary(Summary),
    /// Closing the shift: its Z, or why not.
    ShiftClosed(Result<(Shift, Summary), String>),
    /// Scanner connected or not.
    Scanner(ScannerStatus),
    /// Orders settled by recovery.
    Recovered(Vec<OrderRecord>),
    /// The printer's state changed.
    Printer(PrinterStatus),
    /// The background shipper's latest word: since when the oldest unshipped change waits.
    SyncBacklog(Option<i64>),
    /// A refund ended (or was refused): what to tell the cashier.
    RefundFinished(Result<String, String>),
    /// A background action finished: what to tell the cashier (and reload what is shown).
    Notice(String),
    /// A reconciliation's report (or why it could not be made).
    Reconciled(String),
    /// Something failed in the background.
    Error(String),
    /// The configuration check finished.
    CheckFinished(CheckResult),
}

/// What the screen asks the outside world to do.
#[derive(Clone, Debug)]
pub enum Cmd {
    /// Charge.
    StartPayment {
        /// Amount.
        amount: Fen,
        /// Note.
        description: String,
        /// The code.
        code: AuthCode,
        /// Shift.
        shift_id: i64,
        /// Cashier.
        cashier: String,
    },
    /// Cancel the payment in flight (reverse).
    CancelPayment,
    /// Load this shift's orders.
    LoadHistory,
    /// Load one order's timeline.
    LoadDetail(i64),
    /// Load the shift summary.
    LoadSummary,
    /// Open a shift.
    OpenShift(String),
    /// Close the shift.
    CloseShift,
    /// Settle an unresolved order again.
    RetryOrder(i64),
    /// Refund (the supervisor's PIN is checked first).
    Refund {
        /// Order number.
        out_trade_no: String,
        /// Amount.
        amount: Fen,
        /// Reason.
        reason: String,
        /// Supervisor id.
        supervisor: String,
        /// The PIN as typed (never stored or logged).
        pin: String,
    },
    /// Reconcile a day (`YYYY-MM-DD`) against WeChat Pay's bill.
    Reconcile(String),
    /// Close the shift over unsettled orders (the supervisor's PIN is checked first).
    ForceClose {
        /// Supervisor id.
        supervisor: String,
        /// The PIN as typed.
        pin: String,
    },
    /// Print an order's receipt (`copy`: a reprint, marked as a copy).
    Print {
        /// Order row id.
        order_id: i64,
        /// A reprint.
        copy: bool,
    },
    /// Run the configuration check in the background.
    RunCheck,
    /// Leave.
    Quit,
}
