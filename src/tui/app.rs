//! The cashier screen's state, the messages that change it and the commands it asks for.
//! One `App`; `update` (in `update.rs`) is the only thing that changes it.

use super::keys::Key;
use super::wedge::{Wedge, WedgeConfig};
use crate::auth_code::AuthCode;
use crate::config::Language;
use crate::engine::micropay::Phase;
use crate::engine::{OrderState, Progress};
use crate::money::Fen;
use crate::receipt::printer::PrinterStatus;
use crate::store::orders::{OrderEvent, OrderRecord};
use crate::store::shifts::{Shift, Summary};

/// Which screen is showing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    /// No shift open (live mode): ask for the cashier id.
    OpenShift,
    /// Typing an amount, then waiting for the scan.
    Sale,
    /// A payment in flight.
    Waiting,
    /// The outcome of the last payment.
    Result,
    /// This shift's orders.
    History,
    /// The shift: X summary, close.
    Shift,
}

/// A popup over the screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overlay {
    /// The key table.
    Help,
    /// Really quit?
    ConfirmQuit,
    /// Really cancel the payment?
    ConfirmCancel,
    /// Really close the shift?
    ConfirmClose,
    /// A form that needs a supervisor (refund, forced close): see `App::form`.
    Form,
}

/// What a supervisor form is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormKind {
    /// Refund part or all of a paid order.
    Refund {
        /// The order's row id.
        order_id: i64,
        /// Its number.
        out_trade_no: String,
        /// Its amount.
        paid: Fen,
    },
    /// Close the shift although orders are not settled.
    ForceClose,
}

/// A supervisor form: fields typed by the cashier and the supervisor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Form {
    /// What for.
    pub kind: FormKind,
    /// Field values (refund: amount, reason, supervisor, PIN; forced close: supervisor, PIN).
    pub fields: Vec<String>,
    /// The focused field.
    pub focus: usize,
    /// Why the last submit was refused.
    pub error: Option<String>,
}

impl Form {
    /// A new form.
    pub fn new(kind: FormKind) -> Form {
        let n = match kind {
            FormKind::Refund { .. } => 4,
            FormKind::ForceClose => 2,
        };
        Form {
            kind,
            fields: vec![String::new(); n],
            focus: 0,
            error: None,
        }
    }
    /// Whether field `i` is the PIN (shown masked).
    pub fn is_pin(&self, i: usize) -> bool {
        i + 1 == self.fields.len()
    }
}

/// What the key table needs to know about the screen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    /// The screen.
    pub screen: Screen,
    /// The popup.
    pub overlay: Option<Overlay>,
    /// On the sale screen, the amount is confirmed and a scan is awaited.
    pub awaiting_scan: bool,
    /// On the sale screen, the note field has the focus.
    pub note_focused: bool,
    /// On the history screen, an order's details are open.
    pub detail_open: bool,
    /// On the history screen, the selected order is UNRESOLVED.
    pub selected_unresolved: bool,
    /// A paid order is on screen (result, or selected in the history): it can be reprinted.
    pub can_reprint: bool,
    /// The selected history order can be refunded.
    pub can_refund: bool,
    /// A shift is open.
    pub shift_open: bool,
    /// The payment in flight can still be cancelled (not already reversing).
    pub can_cancel: bool,
}

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

/// The sale being typed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SaleForm {
    /// Amount as typed.
    pub amount: String,
    /// Optional note (goods description).
    pub note: String,
    /// Whether the note field has the focus.
    pub note_focused: bool,
    /// Why the amount was refused.
    pub error: Option<String>,
    /// The confirmed amount, awaiting the scan.
    pub confirmed: Option<Fen>,
}

/// A payment in flight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentView {
    /// Known after the order is written.
    pub out_trade_no: Option<String>,
    /// Amount.
    pub amount: Fen,
    /// Masked code.
    pub masked: String,
    /// State.
    pub state: OrderState,
    /// Phase.
    pub phase: Phase,
    /// Reversal deadline (Unix ms).
    pub deadline_ms: Option<i64>,
    /// Queries made.
    pub queries: u32,
    /// Reverse attempts.
    pub reverse_attempts: u32,
    /// Cancel requested.
    pub cancelling: bool,
}

/// How a payment ended, as the cashier must read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// ✔ paid.
    Paid,
    /// ✘ not charged.
    NotCharged,
    /// ⚠ needs attention.
    Attention,
}

/// The result screen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultView {
    /// The order's row id (for reprints).
    pub order_id: i64,
    /// The outcome.
    pub outcome: Outcome,
    /// Amount.
    pub amount: Fen,
    /// Order.
    pub out_trade_no: String,
    /// WeChat number.
    pub transaction_id: Option<String>,
    /// Reason / what to do.
    pub message: String,
    /// When (Unix ms).
    pub at: i64,
}

/// The history screen.
#[derive(Clone, Debug, Default)]
pub struct HistoryView {
    /// Loaded orders, newest first.
    pub orders: Vec<OrderRecord>,
    /// Whether they were loaded.
    pub loaded: bool,
    /// Search text.
    pub filter: String,
    /// Selected row among the filtered.
    pub selected: usize,
    /// Open details.
    pub detail: Option<(OrderRecord, Vec<OrderEvent>)>,
    /// The receipt of the open order, as printed (paid orders only).
    pub receipt: Option<String>,
}

impl HistoryView {
    /// The orders matching the search: by amount (`12.5` finds ¥12.50) or by the last digits
    /// of the order number, the WeChat number or the masked code.
    pub fn filtered(&self) -> Vec<&OrderRecord> {
        let f = self.filter.trim();
        if f.is_empty() {
            return self.orders.iter().collect();
        }
        let amount = Fen::parse_unlimited(f).ok();
        self.orders
            .iter()
            .filter(|o| {
                amount == Some(o.amount)
                    || o.out_trade_no.ends_with(f)
                    || o.transaction_id.as_deref().is_some_and(|t| t.ends_with(f))
                    || o.code_masked.replace(' ', "").ends_with(f)
            })
            .collect()
    }

    /// The selected order.
    pub fn selected_order(&self) -> Option<&OrderRecord> {
        self.filtered().get(self.selected).copied()
    }
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
    /// Wedge classifier.
    pub wedge: Wedge,
    /// The open shift.
    pub shift: Option<Shift>,
    /// The screen.
    pub screen: Screen,
    /// The popup.
    pub overlay: Option<Overlay>,
    /// The sale form.
    pub sale: SaleForm,
    /// The payment in flight.
    pub payment: Option<PaymentView>,
    /// The last result.
    pub result: Option<ResultView>,
    /// History.
    pub history: HistoryView,
    /// Shift summary (stats line, X report).
    pub summary: Option<Summary>,
    /// Message on the shift screen (Z closed, or why not).
    pub shift_message: Option<String>,
    /// Cashier id being typed.
    pub cashier_input: String,
    /// Scanner state.
    pub scanner: ScannerStatus,
    /// Whether WeChat Pay was reachable at the last request.
    pub network_ok: bool,
    /// The receipt printer.
    pub printer: PrinterStatus,
    /// A passing message and when it goes (Unix ms).
    pub hint: Option<(String, i64)>,
    /// The time of the last message (Unix ms).
    pub now: i64,
    /// Fingerprint and time of the last scanned code (in memory only).
    pub last_scan: Option<([u8; 32], i64)>,
    /// Quit now.
    pub quit: bool,
    /// The open supervisor form.
    pub form: Option<Form>,
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
            screen: Screen::OpenShift,
            overlay: None,
            sale: SaleForm::default(),
            payment: None,
            result: None,
            history: HistoryView::default(),
            summary: None,
            shift_message: None,
            cashier_input: String::new(),
            scanner: if c.serial_scanner {
                ScannerStatus::Disconnected
            } else {
                ScannerStatus::Wedge
            },
            network_ok: true,
            printer: PrinterStatus::Disabled,
            hint: None,
            now,
            last_scan: None,
            quit: false,
            form: None,
        }
    }

    /// What the key table needs.
    pub fn view(&self) -> View {
        View {
            screen: self.screen,
            overlay: self.overlay,
            awaiting_scan: self.screen == Screen::Sale && self.sale.confirmed.is_some(),
            note_focused: self.sale.note_focused,
            detail_open: self.history.detail.is_some(),
            selected_unresolved: match &self.history.detail {
                Some((o, _)) => o.state == OrderState::Unresolved,
                None => self
                    .history
                    .selected_order()
                    .is_some_and(|o| o.state == OrderState::Unresolved),
            },
            can_cancel: self.payment.as_ref().is_some_and(|p| {
                !p.cancelling
                    && !matches!(p.phase, Phase::Reversing | Phase::Confirming | Phase::Done)
            }),
            can_reprint: self.reprint_target().is_some(),
            can_refund: self.screen == Screen::History && self.refund_target().is_some(),
            shift_open: self.shift.is_some(),
        }
    }

    /// The history order a refund would be for (paid, not fully refunded).
    pub fn refund_target(&self) -> Option<&OrderRecord> {
        let o = match &self.history.detail {
            Some((o, _)) => Some(o),
            None => self.history.selected_order(),
        }?;
        matches!(o.state, OrderState::Paid | OrderState::PartiallyRefunded).then_some(o)
    }

    /// The paid order a reprint would print.
    pub fn reprint_target(&self) -> Option<i64> {
        match self.screen {
            Screen::Result => self
                .result
                .as_ref()
                .filter(|r| r.outcome == Outcome::Paid)
                .map(|r| r.order_id),
            Screen::History => match &self.history.detail {
                Some((o, _)) => o.state.is_charged().then_some(o.id),
                None => self
                    .history
                    .selected_order()
                    .filter(|o| o.state.is_charged())
                    .map(|o| o.id),
            },
            _ => None,
        }
    }

    /// Whether a payment is in flight.
    pub fn in_flight(&self) -> bool {
        self.payment.is_some()
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
    PaymentFinished(Result<OrderRecord, String>),
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
    /// A refund ended (or was refused): what to tell the cashier.
    RefundFinished(Result<String, String>),
    /// A background action finished: what to tell the cashier (and reload what is shown).
    Notice(String),
    /// A reconciliation's report (or why it could not be made).
    Reconciled(String),
    /// Something failed in the background.
    Error(String),
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
    /// Leave.
    Quit,
}
