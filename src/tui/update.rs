//! `update(&mut App, Msg) -> Vec<Cmd>`: the only place the screen's state changes. Pure: no
//! I/O, no clock (times come in the messages), so every screen and transition is unit-tested.
//! No words either: what the cashier is told is typed ([`Hint`], [`FormError`], …) and put
//! into words by `crate::i18n` when drawn.
//!
//! Every key and paste goes through the wedge classifier first (`super::wedge` states the
//! rule): a key acts only when it came alone; a burst is a scan, text, or thrown away, and
//! nothing inside it acts. Quitting always asks, and only the quit key again — alone, a
//! moment later — quits. Once a code is read the payment's amount is fixed: the waiting
//! screen takes only cancel (which asks) and help.

use sha2::Digest;

use super::app::{App, CheckResult, Cmd, ConfigAlert, ConfigCheck, Input, Msg};
use super::form::{
    Field, FieldName, ForceCloseForm, FormError, OpenShiftForm, RefundForm, SupervisorForm,
};
use super::keys::{Action, Key, action_for};
use super::screen::{
    Detail, Hint, HistoryScreen, Outcome, Overlay, ResultNote, ResultScreen, SaleScreen, Screen,
    ShiftNote, ShiftScreen, WaitingScreen,
};
use super::wedge::WedgeOut;
use crate::auth_code::{self, Classified};
use crate::engine::OrderState;
use crate::engine::micropay::Phase;
use crate::money::Fen;
use crate::order::Reason;
use crate::store::orders::OrderRecord;

/// How long a passing message stays.
const HINT_MS: i64 = 4_000;
/// The same code scanned again within this time is refused.
const DUPLICATE_SCAN_MS: i64 = 5_000;
/// The quit question lapses after this long without an answer.
const QUIT_ASK_MS: i64 = 10_000;
/// The quit key's second press counts only this long after the question at the earliest
/// (and never less than two burst gaps): a person's second press, not a scanner's.
const QUIT_CONFIRM_MIN_MS: i64 = 250;

/// Applies one message.
pub fn update(app: &mut App, msg: Msg) -> Vec<Cmd> {
    let mut cmds = Vec::new();
    match msg {
        Msg::Tick { at } => {
            app.now = app.now.max(at);
            if let Some(out) = app.wedge.tick(at) {
                wedge_output(app, out, at, &mut cmds);
            }
            if app.hint.as_ref().is_some_and(|(_, until)| at >= *until) {
                app.hint = None;
            }
            if let Some(Overlay::ConfirmQuit { asked_at }) = app.overlay
                && at - asked_at > QUIT_ASK_MS
            {
                app.overlay = None;
            }
        }
        Msg::Key { key, at } => {
            app.now = app.now.max(at);
            if let Some(out) = app.wedge.key(Input::Key(key), at) {
                wedge_output(app, out, at, &mut cmds);
            }
        }
        Msg::Paste { text, at } => {
            app.now = app.now.max(at);
            if let Some(out) = app.wedge.key(Input::Paste(text), at) {
                wedge_output(app, out, at, &mut cmds);
            }
        }
        Msg::Scan { raw, at } => {
            app.now = app.now.max(at);
            scan(app, &raw, at, &mut cmds);
        }
        Msg::ShiftLoaded(shift) => {
            app.shift = shift;
            if app.shift.is_some() {
                if matches!(app.screen, Screen::OpenShift(_)) {
                    app.screen = Screen::Sale(SaleScreen::default());
                }
                cmds.push(Cmd::LoadSummary);
            } else if !app.in_flight() && !matches!(app.screen, Screen::OpenShift(_)) {
                app.screen = Screen::OpenShift(OpenShiftForm::default());
            }
        }
        Msg::ShiftError(e) => set_hint(app, Hint::Text(e)),
        Msg::Progress(p) => {
            if let Screen::Waiting(pay) = &mut app.screen {
                pay.out_trade_no = Some(p.out_trade_no.clone());
                pay.state = p.state;
                pay.phase = p.phase;
                pay.deadline_ms = p.deadline_ms;
                pay.queries = p.queries;
                pay.reverse_attempts = p.reverse_attempts;
                pay.cancelling = pay.cancelling || p.cancelling;
            }
            if let Some(ok) = p.network_ok {
                app.network_ok = ok;
            }
        }
        Msg::PaymentFinished(result) => {
            let Some(pay) = take_payment(app) else {
                return cmds;
            };
            if app.overlay == Some(Overlay::ConfirmCancel) {
                app.overlay = None;
            }
            match result {
                Ok(order) => {
                    // WeChat refused the request itself: the configuration is wrong, and
                    // every further sale would be refused too.
                    if let Some(Reason::RequestRejected { code }) = &order.reason {
                        app.config_alert = Some(ConfigAlert { code: code.clone() });
                    }
                    app.screen = Screen::Result(result_screen(&order));
                    cmds.push(Cmd::LoadSummary);
                    if order.state == OrderState::Paid {
                        cmds.push(Cmd::Print {
                            order_id: order.id,
                            copy: false,
                        });
                    }
                }
                Err(refusal) => {
                    // Refused before anything was sent: back to the scan, amount and note kept.
                    app.screen = Screen::Sale(SaleScreen {
                        confirmed: Some(pay.amount),
                        ..pay.sale
                    });
                    set_hint(app, Hint::Refused(refusal));
                }
            }
        }
        Msg::PaymentBroken(message) => {
            let Some(pay) = take_payment(app) else {
                return cmds;
            };
            app.overlay = None;
            app.screen = Screen::Result(ResultScreen {
                order_id: 0,
                outcome: Outcome::Attention,
                amount: pay.amount,
                out_trade_no: pay.out_trade_no.unwrap_or_default(),
                transaction_id: None,
                note: ResultNote::Broken(message),
                at: app.now,
            });
        }
        Msg::History(mut orders) => {
            if let Screen::History(h) = &mut app.screen {
                orders.reverse();
                h.orders = orders;
                h.loaded = true;
                let n = h.filtered().len();
                h.selected = h.selected.min(n.saturating_sub(1));
            }
        }
        Msg::Detail(order, events, receipt) => {
            if let Screen::History(h) = &mut app.screen {
                h.detail = Some(Detail {
                    order,
                    events,
                    receipt,
                });
            }
        }
        Msg::Summary(s) => app.summary = Some(s),
        Msg::ShiftClosed(Ok((shift, summary))) => {
            set_shift_note(
                app,
                ShiftNote::Closed {
                    z: shift.z_number.unwrap_or(0),
                },
            );
            app.summary = Some(summary);
            app.shift = None;
        }
        Msg::ShiftClosed(Err(e)) => set_shift_note(app, ShiftNote::NotClosed(e)),
        Msg::Scanner(status) => app.scanner = status,
        Msg::Recovered(orders) => {
            if !orders.is_empty() {
                set_hint(app, Hint::Recovered(orders.len()));
                cmds.push(Cmd::LoadSummary);
                if app.history().is_some() {
                    cmds.push(Cmd::LoadHistory);
                }
            }
        }
        Msg::Printer(status) => app.printer = status,
        Msg::SyncBacklog(since) => app.sync_pending_since = since,
        Msg::Reconciled(text) => set_shift_note(app, ShiftNote::Reconciled(text)),
        Msg::RefundFinished(Ok(text) | Err(text)) | Msg::Notice(text) => {
            set_hint(app, Hint::Text(text));
            cmds.push(Cmd::LoadSummary);
            if let Some(h) = app.history() {
                cmds.push(Cmd::LoadHistory);
                if let Some(d) = &h.detail {
                    cmds.push(Cmd::LoadDetail(d.order.id));
                }
            }
        }
        Msg::Error(e) => set_hint(app, Hint::Text(e)),
        Msg::CheckFinished(CheckResult::Passed) => {
            app.config_check = ConfigCheck::Passed;
            // A passing check lifts the alert: WeChat accepts this till's requests again.
            app.config_alert = None;
        }
        Msg::CheckFinished(CheckResult::Failed { problem, fix }) => {
            app.config_check = ConfigCheck::Failed { problem, fix };
        }
    }
    cmds
}

fn set_hint(app: &mut App, hint: Hint) {
    app.hint = Some((hint, app.now + HINT_MS));
}

fn set_shift_note(app: &mut App, note: ShiftNote) {
    if let Screen::Shift(s) = &mut app.screen {
        s.note = Some(note);
    }
}

/// Leaves the waiting screen, returning the payment it showed.
fn take_payment(app: &mut App) -> Option<WaitingScreen> {
    if !app.in_flight() {
        return None;
    }
    let placeholder = Screen::Sale(SaleScreen::default());
    match std::mem::replace(&mut app.screen, placeholder) {
        Screen::Waiting(p) => Some(p),
        other => {
            app.screen = other;
            None
        }
    }
}

/// The sale being typed on the screen now, taken (to be resumed after History or Shift).
fn take_sale(app: &mut App) -> SaleScreen {
    match &mut app.screen {
        Screen::Sale(s) => std::mem::take(s),
        _ => SaleScreen::default(),
    }
}

/// What the classifier decided about a finished burst (or a key alone).
fn wedge_output(app: &mut App, out: WedgeOut<Input>, at: i64, cmds: &mut Vec<Cmd>) {
    match out {
        // Alone: a person's key or paste; it acts.
        WedgeOut::Key(Input::Key(key)) => typed_key(app, key, cmds),
        WedgeOut::Key(Input::Paste(text)) => paste(app, &text, at, cmds),
        WedgeOut::Repeat(keys) => {
            for k in keys {
                if let Input::Key(key) = k {
                    typed_key(app, key, cmds);
                }
            }
        }
        // Fast typing: text only, no character acts.
        WedgeOut::Text(text) => {
            for c in text.chars() {
                text_key(app, Key::Char(c));
            }
        }
        WedgeOut::Scan(code) => {
            if !burst_into_field(app, &code) {
                scan(app, &code, at, cmds);
            }
        }
        WedgeOut::Rejected { text } => rejected_burst(app, &text),
    }
}

/// A burst that was neither a scan nor plain typing: none of its keys acts. A text field
/// with the focus takes its characters (as it takes any burst); otherwise it is thrown away,
/// and the cashier is told once.
fn rejected_burst(app: &mut App, text: &str) {
    let is_code = matches!(
        auth_code::classify(text),
        Classified::WeChat(_) | Classified::OtherWallet(_)
    );
    if !text.is_empty()
        && !is_code
        && let Some(field) = burst_target(app)
    {
        let name = field.name();
        let hint = match field.push_str(text) {
            Ok(()) => Hint::BurstKeysIgnored,
            Err(why) => Hint::Field(name, why),
        };
        set_hint(app, hint);
        return;
    }
    set_hint(app, Hint::BurstDiscarded);
}

/// The focused text field that takes a fast burst of keys as text, if there is one: a form
/// field, the cashier id or the sale's note — never an amount field, where a burst is a scan.
fn burst_target(app: &mut App) -> Option<&mut Field> {
    match &mut app.overlay {
        Some(Overlay::Form(f)) => f.form_mut().focused_mut().filter(|f| f.takes_bursts()),
        Some(_) => None,
        None => match &mut app.screen {
            Screen::OpenShift(f) => Some(&mut f.cashier),
            Screen::Sale(s) if s.note_focused && s.confirmed.is_none() => Some(&mut s.note),
            _ => None,
        },
    }
}

/// A fast burst (a paste without bracketed paste, or a scanner) while a text field has the
/// focus: text for that field, through the field's own filter; what it cannot take is said,
/// not dropped. A burst that reads as a payment code is still a scan (a code never becomes
/// text that is stored or sent). Returns whether the burst was taken as text.
fn burst_into_field(app: &mut App, text: &str) -> bool {
    if matches!(
        auth_code::classify(text),
        Classified::WeChat(_) | Classified::OtherWallet(_)
    ) {
        return false;
    }
    let Some(field) = burst_target(app) else {
        return false;
    };
    let name = field.name();
    if let Err(why) = field.push_str(text) {
        set_hint(app, Hint::Field(name, why));
    }
    true
}

/// Types one character into a field; what the field refuses is said.
fn type_into(app: &mut App, c: char) {
    let Some(field) = burst_target(app) else {
        return;
    };
    let name = field.name();
    if let Err(why) = field.push(c) {
        set_hint(app, Hint::Field(name, why));
    }
}

/// A key a person typed (alone, after the wedge classifier): its action, or else text.
fn typed_key(app: &mut App, key: Key, cmds: &mut Vec<Cmd>) {
    let view = app.view();
    if let Some(action) = action_for(&view, key) {
        act(app, action, cmds);
        return;
    }
    text_key(app, key);
}

/// A key as text entry only (a character or Backspace into what has the focus): never an
/// action. Fast typing and pastes come here directly.
fn text_key(app: &mut App, key: Key) {
    if let Some(Overlay::Form(f)) = &mut app.overlay {
        match key {
            Key::Char(c) => {
                let Some(field) = f.form_mut().focused_mut() else {
                    return;
                };
                let name = field.name();
                if let Err(why) = field.push(c) {
                    set_hint(app, Hint::Field(name, why));
                }
            }
            Key::Backspace => {
                if let Some(field) = f.form_mut().focused_mut() {
                    field.pop();
                }
            }
            _ => {}
        }
        return;
    }
    if app.overlay.is_some() {
        return;
    }
    // Text entry.
    match (&mut app.screen, key) {
        (Screen::Sale(s), Key::Char(_)) if s.confirmed.is_some() => {
            set_hint(app, Hint::TypeNotScan);
        }
        (Screen::Sale(s), Key::Char(c)) => {
            if s.note_focused {
                type_into(app, c);
            } else if s.amount.push(c).is_ok() {
                s.error = None;
            }
        }
        (Screen::Sale(s), Key::Backspace) => {
            if s.note_focused {
                s.note.pop();
            } else {
                s.amount.pop();
                s.error = None;
            }
        }
        (Screen::Result(_), Key::Char(c)) if c.is_ascii_digit() => {
            // Typing the next amount starts the next sale.
            new_sale(app);
            if let Screen::Sale(s) = &mut app.screen {
                let _ = s.amount.push(c);
            }
        }
        (Screen::History(h), Key::Char(c))
            if h.detail.is_none() && (c.is_ascii_digit() || c == '.') =>
        {
            h.filter.push(c);
            h.selected = 0;
        }
        (Screen::History(h), Key::Backspace) if h.detail.is_none() => {
            h.filter.pop();
            h.selected = 0;
        }
        (Screen::OpenShift(_), Key::Char(c)) => type_into(app, c),
        (Screen::OpenShift(f), Key::Backspace) => f.cashier.pop(),
        _ => {}
    }
}

fn new_sale(app: &mut App) {
    app.screen = if app.shift.is_some() {
        Screen::Sale(SaleScreen::default())
    } else {
        Screen::OpenShift(OpenShiftForm::default())
    };
}

fn act(app: &mut App, action: Action, cmds: &mut Vec<Cmd>) {
    match action {
        Action::ConfirmAmount if app.config_alert.is_some() => {
            set_hint(app, Hint::ConfigAlert);
        }
        Action::RunCheck => {
            if app.config_check != ConfigCheck::Running {
                app.config_check = ConfigCheck::Running;
                cmds.push(Cmd::RunCheck);
            }
            set_hint(app, Hint::Checking);
        }
        Action::ConfirmAmount => {
            if let Screen::Sale(s) = &mut app.screen {
                match Fen::parse(s.amount.value(), app.max_amount) {
                    Ok(fen) => {
                        s.confirmed = Some(fen);
                        s.error = None;
                        s.note_focused = false;
                    }
                    Err(e) => s.error = Some(e),
                }
            }
        }
        Action::ToggleField => {
            if let Screen::Sale(s) = &mut app.screen {
                s.note_focused = !s.note_focused;
            }
        }
        Action::Clear => {
            if let Screen::Sale(s) = &mut app.screen {
                *s = SaleScreen::default();
            }
        }
        Action::ChangeAmount => {
            if let Screen::Sale(s) = &mut app.screen {
                s.confirmed = None;
            }
        }
        Action::CancelPayment => {
            if app.payment().is_some_and(|p| !p.cancelling) {
                app.overlay = Some(Overlay::ConfirmCancel);
            }
        }
        Action::NextSale => new_sale(app),
        Action::History => {
            let resume = take_sale(app);
            app.screen = Screen::History(HistoryScreen::new(resume));
            cmds.push(Cmd::LoadHistory);
        }
        Action::Shift => {
            let resume = take_sale(app);
            app.screen = Screen::Shift(ShiftScreen { note: None, resume });
            cmds.push(Cmd::LoadSummary);
        }
        Action::Help => app.overlay = Some(Overlay::Help),
        Action::CloseHelp => app.overlay = None,
        Action::Quit => {
            app.overlay = Some(Overlay::ConfirmQuit { asked_at: app.now });
        }
        Action::ConfirmQuit => {
            let soonest = QUIT_CONFIRM_MIN_MS.max(2 * app.wedge.config().max_gap_ms);
            if let Some(Overlay::ConfirmQuit { asked_at }) = app.overlay
                && app.now - asked_at >= soonest
            {
                app.overlay = None;
                app.quit = true;
                cmds.push(Cmd::Quit);
            }
        }
        Action::Up | Action::Down | Action::PageUp | Action::PageDown => {
            if let Screen::History(h) = &mut app.screen {
                let last = h.filtered().len().saturating_sub(1);
                h.selected = match action {
                    Action::Up => h.selected.saturating_sub(1),
                    Action::Down => (h.selected + 1).min(last),
                    Action::PageUp => h.selected.saturating_sub(10),
                    _ => (h.selected + 10).min(last),
                };
            }
        }
        Action::Details => {
            if let Some(o) = app.history().and_then(HistoryScreen::selected_order) {
                cmds.push(Cmd::LoadDetail(o.id));
            }
        }
        Action::Retry => {
            let id = app
                .history()
                .and_then(HistoryScreen::current)
                .filter(|o| o.state == OrderState::Unresolved)
                .map(|o| o.id);
            if let Some(id) = id {
                cmds.push(Cmd::RetryOrder(id));
                set_hint(app, Hint::Contacting);
            }
        }
        Action::CloseShift => app.overlay = Some(Overlay::ConfirmClose),
        Action::Back => {
            if let Screen::History(h) = &mut app.screen
                && h.detail.is_some()
            {
                h.detail = None;
                return;
            }
            let resume = match &mut app.screen {
                Screen::History(h) => std::mem::take(&mut h.resume),
                Screen::Shift(s) => std::mem::take(&mut s.resume),
                _ => SaleScreen::default(),
            };
            if !app.in_flight() {
                app.screen = if app.shift.is_some() {
                    Screen::Sale(resume)
                } else {
                    Screen::OpenShift(OpenShiftForm::default())
                };
            }
        }
        Action::OpenShift => {
            if let Screen::OpenShift(f) = &app.screen
                && let Ok(id) = f.validate()
            {
                cmds.push(Cmd::OpenShift(id));
            }
        }
        Action::Yes => {
            match app.overlay {
                Some(Overlay::ConfirmCancel) => {
                    if let Screen::Waiting(p) = &mut app.screen {
                        p.cancelling = true;
                    }
                    cmds.push(Cmd::CancelPayment);
                }
                Some(Overlay::ConfirmClose) => cmds.push(Cmd::CloseShift),
                Some(Overlay::ConfirmQuit { .. })
                | Some(Overlay::Help)
                | Some(Overlay::Form(_))
                | None => {}
            }
            app.overlay = None;
        }
        Action::No | Action::CancelForm => app.overlay = None,
        Action::Refund => {
            if let Some(o) = app.refund_target() {
                let form = RefundForm::new(o.id, o.out_trade_no.clone(), o.amount);
                app.overlay = Some(Overlay::Form(SupervisorForm::Refund(form)));
            }
        }
        Action::ForceClose => {
            app.overlay = Some(Overlay::Form(SupervisorForm::ForceClose(
                ForceCloseForm::default(),
            )));
        }
        Action::NextField => {
            if let Some(Overlay::Form(f)) = &mut app.overlay {
                f.form_mut().next_field();
            }
        }
        Action::PrevField => {
            if let Some(Overlay::Form(f)) = &mut app.overlay {
                f.form_mut().prev_field();
            }
        }
        Action::Submit => submit_form(app, cmds),
        Action::Reconcile => {
            // Yesterday in Beijing: bills for a day are ready from 09:00 the next day.
            let yesterday = crate::clock::beijing::date(app.now - 24 * 3600 * 1000);
            set_shift_note(
                app,
                ShiftNote::Reconciling {
                    date: yesterday.clone(),
                },
            );
            cmds.push(Cmd::Reconcile(yesterday));
        }
        Action::Reprint => {
            if let Some(order_id) = app.reprint_target() {
                cmds.push(Cmd::Print {
                    order_id,
                    copy: true,
                });
                set_hint(app, Hint::CopySent);
            }
        }
    }
}

fn paste(app: &mut App, text: &str, at: i64, cmds: &mut Vec<Cmd>) {
    let digits = auth_code::normalise(text);
    let looks_like_code =
        digits.len() >= app.wedge.config().min_chars && digits.bytes().all(|b| b.is_ascii_digit());
    let awaiting_scan = app.sale().is_some_and(|s| s.confirmed.is_some());
    if looks_like_code || awaiting_scan {
        // Pasted codes go through the same validator as scans.
        scan(app, text, at, cmds);
        return;
    }
    // Pasted text is text: none of its characters acts (a `?` or `y` in it is not a key).
    for c in text.chars().filter(|c| !c.is_control()) {
        text_key(app, Key::Char(c));
    }
}

/// A scan, from the serial reader, the wedge classifier or a paste.
fn scan(app: &mut App, raw: &str, at: i64, cmds: &mut Vec<Cmd>) {
    let ready = app.overlay.is_none() && app.sale().is_some_and(|s| s.confirmed.is_some());
    if !ready {
        set_hint(app, Hint::ScanIgnored);
        return;
    }
    if app.config_alert.is_some() {
        set_hint(app, Hint::ConfigAlert);
        return;
    }
    let code = match auth_code::classify(raw) {
        Classified::WeChat(code) => code,
        other => {
            set_hint(app, Hint::NotACode(other));
            return;
        }
    };
    let fp: [u8; 32] = sha2::Sha256::digest(code.expose().as_bytes()).into();
    if app
        .last_scan
        .is_some_and(|(prev, t)| prev == fp && at - t < DUPLICATE_SCAN_MS)
    {
        set_hint(app, Hint::DuplicateScan);
        return;
    }
    app.last_scan = Some((fp, at));
    let Some((shift_id, cashier)) = app.shift.as_ref().map(|s| (s.id, s.cashier.clone())) else {
        set_hint(app, Hint::ScanIgnored);
        return;
    };
    let sale = take_sale(app);
    let Some(amount) = sale.confirmed else {
        app.screen = Screen::Sale(sale);
        set_hint(app, Hint::ScanIgnored);
        return;
    };
    let description = sale.note.value().trim().to_string();
    app.screen = Screen::Waiting(WaitingScreen {
        sale,
        out_trade_no: None,
        amount,
        masked: code.masked().to_string(),
        state: OrderState::Pending,
        phase: Phase::Paying,
        deadline_ms: None,
        queries: 0,
        reverse_attempts: 0,
        cancelling: false,
    });
    app.hint = None;
    cmds.push(Cmd::StartPayment {
        amount,
        description,
        code,
        shift_id,
        cashier,
    });
}

fn result_screen(o: &OrderRecord) -> ResultScreen {
    let outcome = match o.state {
        OrderState::Paid | OrderState::PartiallyRefunded | OrderState::Refunded => Outcome::Paid,
        OrderState::Failed | OrderState::Reversed => Outcome::NotCharged,
        OrderState::Unresolved | OrderState::Pending | OrderState::Userpaying => Outcome::Attention,
    };
    let note = match &o.reason {
        Some(r) => ResultNote::Reason(r.clone()),
        None if outcome == Outcome::Attention => ResultNote::DoNotRecharge,
        None => ResultNote::None,
    };
    ResultScreen {
        order_id: o.id,
        outcome,
        amount: o.amount,
        out_trade_no: o.out_trade_no.clone(),
        transaction_id: o.transaction_id.clone(),
        note,
        at: o.updated_at,
    }
}

fn submit_form(app: &mut App, cmds: &mut Vec<Cmd>) {
    let Some(Overlay::Form(f)) = &mut app.overlay else {
        return;
    };
    let cmd = match f {
        SupervisorForm::Refund(r) => match r.validate() {
            Ok(req) => Cmd::Refund {
                out_trade_no: req.out_trade_no,
                amount: req.amount,
                reason: req.reason,
                supervisor: req.supervisor,
                pin: req.pin,
            },
            Err(e) => {
                if matches!(e, FormError::Amount(_)) {
                    r.focus = FieldName::Amount;
                }
                r.error = Some(e);
                return;
            }
        },
        SupervisorForm::ForceClose(c) => match c.validate() {
            Ok(a) => Cmd::ForceClose {
                supervisor: a.supervisor,
                pin: a.pin,
            },
            Err(e) => {
                c.error = Some(e);
                return;
            }
        },
    };
    cmds.push(cmd);
    app.overlay = None;
    set_hint(app, Hint::Working);
}
