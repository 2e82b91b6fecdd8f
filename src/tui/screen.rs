//! What is on the cashier's screen: each screen with the data it shows (a screen cannot exist
//! without its data), the popups, the passing hints, and the little the key table needs to
//! know ([`View`]). Plain data: no words (see `crate::i18n`), no keys, no I/O.

use super::form::{Field, FieldKind, FieldName, FieldRefusal, OpenShiftForm, SupervisorForm};
use crate::auth_code::Classified;
use crate::engine::OrderState;
use crate::engine::micropay::{Phase, Reason};
use crate::money::{AmountError, Fen};
use crate::store::orders::{OrderEvent, OrderRecord};

/// Which screen is showing, without its data (for the key table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScreenKind {
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

/// Which popup is showing, without its data (for the key table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverlayKind {
    /// The key table.
    Help,
    /// Really quit?
    ConfirmQuit,
    /// Really cancel the payment?
    ConfirmCancel,
    /// Really close the shift?
    ConfirmClose,
    /// A supervisor form.
    Form,
}

/// What the key table needs to know about the screen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    /// The screen.
    pub screen: ScreenKind,
    /// The popup.
    pub overlay: Option<OverlayKind>,
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
    /// The configuration check should be run again (alert up, or the last check failed).
    pub check_needed: bool,
}

/// The screen, with its data.
#[derive(Clone, Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "one screen exists at a time; boxing would only add indirection"
)]
pub enum Screen {
    /// No shift open (live mode): the cashier types their id.
    OpenShift(OpenShiftForm),
    /// Typing an amount, then waiting for the scan.
    Sale(SaleScreen),
    /// A payment in flight.
    Waiting(WaitingScreen),
    /// The outcome of the last payment.
    Result(ResultScreen),
    /// This shift's orders.
    History(HistoryScreen),
    /// The shift: X summary, close, reconcile.
    Shift(ShiftScreen),
}

impl Screen {
    /// Which screen, without its data.
    pub fn kind(&self) -> ScreenKind {
        match self {
            Screen::OpenShift(_) => ScreenKind::OpenShift,
            Screen::Sale(_) => ScreenKind::Sale,
            Screen::Waiting(_) => ScreenKind::Waiting,
            Screen::Result(_) => ScreenKind::Result,
            Screen::History(_) => ScreenKind::History,
            Screen::Shift(_) => ScreenKind::Shift,
        }
    }
}

/// A popup over the screen.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one popup exists at a time; boxing would only add indirection"
)]
pub enum Overlay {
    /// The key table.
    Help,
    /// Really quit? Only the quit key again, alone and a moment later, says yes.
    ConfirmQuit {
        /// When it was asked (Unix ms); the question lapses after a few seconds.
        asked_at: i64,
    },
    /// Really cancel the payment?
    ConfirmCancel,
    /// Really close the shift?
    ConfirmClose,
    /// A form that needs a supervisor (refund, forced close).
    Form(SupervisorForm),
}

impl Overlay {
    /// Which popup, without its data.
    pub fn kind(&self) -> OverlayKind {
        match self {
            Overlay::Help => OverlayKind::Help,
            Overlay::ConfirmQuit { .. } => OverlayKind::ConfirmQuit,
            Overlay::ConfirmCancel => OverlayKind::ConfirmCancel,
            Overlay::ConfirmClose => OverlayKind::ConfirmClose,
            Overlay::Form(_) => OverlayKind::Form,
        }
    }
}

/// The sale being typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaleScreen {
    /// Amount as typed (the amount/scan field: bursts here are scans).
    pub amount: Field,
    /// Optional note (goods description).
    pub note: Field,
    /// Whether the note field has the focus.
    pub note_focused: bool,
    /// Why the amount was refused.
    pub error: Option<AmountError>,
    /// The confirmed amount, awaiting the scan.
    pub confirmed: Option<Fen>,
}

impl Default for SaleScreen {
    fn default() -> Self {
        SaleScreen {
            amount: Field::new(FieldName::Amount, FieldKind::SaleAmount, 14),
            note: Field::new(FieldName::Note, FieldKind::Text, 60),
            note_focused: false,
            error: None,
            confirmed: None,
        }
    }
}

/// A payment in flight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitingScreen {
    /// The sale being charged (back to it, amount confirmed, if the payment is refused).
    pub sale: SaleScreen,
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

/// What the result screen says under the amount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResultNote {
    /// Nothing.
    None,
    /// The order's reason.
    Reason(Reason),
    /// No reason known: do not charge again.
    DoNotRecharge,
    /// The payment's bookkeeping failed (the error, as reported).
    Broken(String),
}

/// The result screen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultScreen {
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
    pub note: ResultNote,
    /// When (Unix ms).
    pub at: i64,
}

/// An order's details, as the history shows them.
#[derive(Clone, Debug)]
pub struct Detail {
    /// The order.
    pub order: OrderRecord,
    /// Its timeline.
    pub events: Vec<OrderEvent>,
    /// Its receipt, as printed (paid orders only).
    pub receipt: Option<String>,
}

/// The history screen.
#[derive(Clone, Debug, Default)]
pub struct HistoryScreen {
    /// Loaded orders, newest first.
    pub orders: Vec<OrderRecord>,
    /// Whether they were loaded.
    pub loaded: bool,
    /// Search text.
    pub filter: String,
    /// Selected row among the filtered.
    pub selected: usize,
    /// Open details.
    pub detail: Option<Detail>,
    /// The sale that was being typed, resumed on Back.
    pub resume: SaleScreen,
}

impl HistoryScreen {
    /// An empty history (loading), returning to `resume`.
    pub fn new(resume: SaleScreen) -> HistoryScreen {
        HistoryScreen {
            resume,
            ..HistoryScreen::default()
        }
    }

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

    /// The order the keys act on: the open one, else the selected one.
    pub fn current(&self) -> Option<&OrderRecord> {
        match &self.detail {
            Some(d) => Some(&d.order),
            None => self.selected_order(),
        }
    }
}

/// What the shift screen reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShiftNote {
    /// The shift was closed with this Z number.
    Closed {
        /// The Z number.
        z: i64,
    },
    /// The shift was not closed (the error, as reported).
    NotClosed(String),
    /// A reconciliation of this day (`YYYY-MM-DD`) is under way.
    Reconciling {
        /// The day.
        date: String,
    },
    /// A reconciliation's report (or why it could not be made).
    Reconciled(String),
}

/// The shift screen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShiftScreen {
    /// What happened last (closed, not closed, reconciliation).
    pub note: Option<ShiftNote>,
    /// The sale that was being typed, resumed on Back.
    pub resume: SaleScreen,
}

/// Why a payment was refused before anything was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The engine refused (the code was used already, no shift, …): typed until drawn.
    Engine(crate::order::Refusal),
    /// Another failure, as reported.
    Other(String),
}

/// A passing message at the bottom of the screen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hint {
    /// A scan arrived when no sale was waiting for one.
    ScanIgnored,
    /// Digits typed by hand while a scan is awaited.
    TypeNotScan,
    /// The same code scanned twice within seconds.
    DuplicateScan,
    /// The scan is not a WeChat payment code (never `Classified::WeChat`).
    NotACode(Classified),
    /// The payment was refused.
    Refused(Refusal),
    /// A field did not take (all of) what was typed or pasted.
    Field(FieldName, FieldRefusal),
    /// Waiting for WeChat Pay.
    Contacting,
    /// A reprint was sent.
    CopySent,
    /// A supervisor form was submitted.
    Working,
    /// Orders left by an earlier run were settled.
    Recovered(usize),
    /// A fast burst of keys that was not a payment code was thrown away (none of its keys
    /// acted).
    BurstDiscarded,
    /// A fast burst went into a text field as text; its Enter/Esc/function keys did not act.
    BurstKeysIgnored,
    /// A message from the background, as reported.
    Text(String),
    /// A sale was refused: WeChat refused this till's configuration and no check has passed
    /// since.
    ConfigAlert,
    /// The configuration check was started.
    Checking,
}

/// Whether an order is paid and can still be refunded.
pub fn refundable(o: &OrderRecord) -> bool {
    matches!(o.state, OrderState::Paid | OrderState::PartiallyRefunded)
}
