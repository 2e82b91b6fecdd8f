//! `update(&mut App, Msg) -> Vec<Cmd>`: the only place the screen's state changes. Pure: no
//! I/O, no clock (times come in the messages), so every screen and transition is unit-tested.

use sha2::Digest;

use super::app::{App, Cmd, Msg, Outcome, Overlay, PaymentView, ResultView, Screen};
use super::i18n::{self, strings};
use super::keys::{Action, Key, action_for};
use super::wedge::{Terminator, WedgeKey, WedgeOut};
use crate::auth_code::{self, Classified};
use crate::engine::OrderState;
use crate::engine::micropay::Phase;
use crate::money::Fen;
use crate::store::orders::OrderRecord;

/// How long a passing message stays.
const HINT_MS: i64 = 4_000;
/// The same code scanned again within this time is refused.
const DUPLICATE_SCAN_MS: i64 = 5_000;

/// Applies one message.
pub fn update(app: &mut App, msg: Msg) -> Vec<Cmd> {
    let mut cmds = Vec::new();
    match msg {
        Msg::Tick { at } => {
            app.now = app.now.max(at);
            let outs = app.wedge.tick(at);
            wedge_outputs(app, outs, at, &mut cmds);
            if app.hint.as_ref().is_some_and(|(_, until)| at >= *until) {
                app.hint = None;
            }
        }
        Msg::Key { key, at } => {
            app.now = app.now.max(at);
            match key {
                Key::Char(c) => {
                    let outs = app.wedge.key(WedgeKey::Char(c), at);
                    wedge_outputs(app, outs, at, &mut cmds);
                }
                Key::Enter | Key::Tab => {
                    let t = if key == Key::Enter {
                        Terminator::Enter
                    } else {
                        Terminator::Tab
                    };
                    let outs = app.wedge.key(WedgeKey::Terminator(t), at);
                    wedge_outputs(app, outs, at, &mut cmds);
                }
                other => {
                    let outs = app.wedge.flush();
                    wedge_outputs(app, outs, at, &mut cmds);
                    typed_key(app, other, &mut cmds);
                }
            }
        }
        Msg::Paste { text, at } => {
            app.now = app.now.max(at);
            paste(app, &text, at, &mut cmds);
        }
        Msg::Scan { raw, at } => {
            app.now = app.now.max(at);
            scan(app, &raw, at, &mut cmds);
        }
        Msg::ShiftLoaded(shift) => {
            app.shift = shift;
            if app.shift.is_some() {
                if app.screen == Screen::OpenShift {
                    app.screen = Screen::Sale;
                }
                cmds.push(Cmd::LoadSummary);
            } else if app.payment.is_none() {
                app.screen = Screen::OpenShift;
            }
        }
        Msg::ShiftError(e) => set_hint(app, e),
        Msg::Progress(p) => {
            if let Some(pay) = app.payment.as_mut() {
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
            let Some(pay) = app.payment.take() else {
                return cmds;
            };
            if app.overlay == Some(Overlay::ConfirmCancel) {
                app.overlay = None;
            }
            match result {
                Ok(order) => {
                    app.result = Some(result_view(app, &order));
                    app.sale = Default::default();
                    app.screen = Screen::Result;
                    cmds.push(Cmd::LoadSummary);
                    if order.state == OrderState::Paid {
                        cmds.push(Cmd::Print {
                            order_id: order.id,
                            copy: false,
                        });
                    }
                }
                Err(message) => {
                    // Refused before anything was sent: back to the scan, amount kept.
                    app.screen = Screen::Sale;
                    app.sale.confirmed = Some(pay.amount);
                    set_hint(app, message);
                }
            }
        }
        Msg::PaymentBroken(message) => {
            let Some(pay) = app.payment.take() else {
                return cmds;
            };
            app.overlay = None;
            app.result = Some(ResultView {
                order_id: 0,
                outcome: Outcome::Attention,
                amount: pay.amount,
                out_trade_no: pay.out_trade_no.unwrap_or_default(),
                transaction_id: None,
                message,
                at: app.now,
            });
            app.sale = Default::default();
            app.screen = Screen::Result;
        }
        Msg::History(mut orders) => {
            orders.reverse();
            app.history.orders = orders;
            app.history.loaded = true;
            let n = app.history.filtered().len();
            app.history.selected = app.history.selected.min(n.saturating_sub(1));
        }
        Msg::Detail(order, events, receipt) => {
            app.history.detail = Some((order, events));
            app.history.receipt = receipt;
        }
        Msg::Summary(s) => app.summary = Some(s),
        Msg::ShiftClosed(Ok((shift, summary))) => {
            let s = strings(app.lang);
            app.shift_message = Some(format!(
                "{} · Z #{}",
                s.z_closed,
                shift.z_number.unwrap_or(0)
            ));
            app.summary = Some(summary);
            app.shift = None;
        }
        Msg::ShiftClosed(Err(e)) => {
            let prefix = match app.lang {
                crate::config::Language::Zh => {
                    "无法结班（可先在流水中处理未完成的订单，或按 F9 由主管强制结班）："
                }
                crate::config::Language::En => {
                    "Not closed (settle the open orders in History, or F9 for a supervisor's forced close): "
                }
            };
            app.shift_message = Some(format!("{prefix}{e}"));
        }
        Msg::Scanner(status) => app.scanner = status,
        Msg::Recovered(orders) => {
            if !orders.is_empty() {
                set_hint(
                    app,
                    format!("{} ({})", strings(app.lang).recovered, orders.len()),
                );
                cmds.push(Cmd::LoadSummary);
                if app.history.loaded {
                    cmds.push(Cmd::LoadHistory);
                }
            }
        }
        Msg::Printer(status) => app.printer = status,
        Msg::Reconciled(text) => app.shift_message = Some(text),
        Msg::RefundFinished(Ok(text) | Err(text)) | Msg::Notice(text) => {
            set_hint(app, text);
            cmds.push(Cmd::LoadSummary);
            if app.history.loaded {
                cmds.push(Cmd::LoadHistory);
            }
            if let Some((o, _)) = &app.history.detail {
                cmds.push(Cmd::LoadDetail(o.id));
            }
        }
        Msg::Error(e) => set_hint(app, e),
    }
    cmds
}

fn set_hint(app: &mut App, text: String) {
    app.hint = Some((text, app.now + HINT_MS));
}

fn wedge_outputs(app: &mut App, outs: Vec<WedgeOut>, at: i64, cmds: &mut Vec<Cmd>) {
    for out in outs {
        match out {
            WedgeOut::Scan(code) => scan(app, &code, at, cmds),
            WedgeOut::Typed(keys) => {
                for k in keys {
                    let key = match k {
                        WedgeKey::Char(c) => Key::Char(c),
                        WedgeKey::Terminator(Terminator::Enter) => Key::Enter,
                        WedgeKey::Terminator(Terminator::Tab) => Key::Tab,
                    };
                    typed_key(app, key, cmds);
                }
            }
        }
    }
}

/// A key a person typed (after the wedge classifier).
fn typed_key(app: &mut App, key: Key, cmds: &mut Vec<Cmd>) {
    let view = app.view();
    if let Some(action) = action_for(&view, key) {
        act(app, action, cmds);
        return;
    }
    if app.overlay == Some(Overlay::Form) {
        if let Some(f) = app.form.as_mut() {
            let pin = f.is_pin(f.focus);
            let amount = matches!(f.kind, super::app::FormKind::Refund { .. }) && f.focus == 0;
            let field = &mut f.fields[f.focus];
            match key {
                Key::Char(c) if pin && c.is_ascii_digit() && field.len() < 12 => field.push(c),
                Key::Char(c) if amount && (c.is_ascii_digit() || c == '.') && field.len() < 12 => {
                    field.push(c)
                }
                Key::Char(c)
                    if !pin && !amount && !c.is_control() && field.chars().count() < 60 =>
                {
                    field.push(c)
                }
                Key::Backspace => {
                    field.pop();
                }
                _ => {}
            }
        }
        return;
    }
    if app.overlay.is_some() {
        return;
    }
    // Text entry.
    match (app.screen, key) {
        (Screen::Sale, Key::Char(c)) if app.sale.confirmed.is_some() => {
            let _ = c;
            set_hint(app, strings(app.lang).type_not_scan.into());
        }
        (Screen::Sale, Key::Char(c)) => {
            if app.sale.note_focused {
                if !c.is_control() && app.sale.note.chars().count() < 60 {
                    app.sale.note.push(c);
                }
            } else if (c.is_ascii_digit() || ".,-¥￥．，".contains(c) || ('０'..='９').contains(&c))
                && app.sale.amount.chars().count() < 14
            {
                app.sale.amount.push(c);
                app.sale.error = None;
            }
        }
        (Screen::Sale, Key::Backspace) => {
            if app.sale.note_focused {
                app.sale.note.pop();
            } else {
                app.sale.amount.pop();
                app.sale.error = None;
            }
        }
        (Screen::Result, Key::Char(c)) if c.is_ascii_digit() => {
            // Typing the next amount starts the next sale.
            new_sale(app);
            app.sale.amount.push(c);
        }
        (Screen::History, Key::Char(c))
            if app.history.detail.is_none() && (c.is_ascii_digit() || c == '.') =>
        {
            app.history.filter.push(c);
            app.history.selected = 0;
        }
        (Screen::History, Key::Backspace) if app.history.detail.is_none() => {
            app.history.filter.pop();
            app.history.selected = 0;
        }
        (Screen::OpenShift, Key::Char(c))
            if !c.is_control() && app.cashier_input.chars().count() < 32 =>
        {
            app.cashier_input.push(c);
        }
        (Screen::OpenShift, Key::Backspace) => {
            app.cashier_input.pop();
        }
        _ => {}
    }
}

fn new_sale(app: &mut App) {
    app.sale = Default::default();
    app.result = None;
    app.screen = if app.shift.is_some() {
        Screen::Sale
    } else {
        Screen::OpenShift
    };
}

fn act(app: &mut App, action: Action, cmds: &mut Vec<Cmd>) {
    let s = strings(app.lang);
    match action {
        Action::ConfirmAmount => match Fen::parse(&app.sale.amount, app.max_amount) {
            Ok(fen) => {
                app.sale.confirmed = Some(fen);
                app.sale.error = None;
                app.sale.note_focused = false;
            }
            Err(e) => app.sale.error = Some(i18n::amount_error(app.lang, &e)),
        },
        Action::ToggleField => app.sale.note_focused = !app.sale.note_focused,
        Action::Clear => app.sale = Default::default(),
        Action::ChangeAmount => app.sale.confirmed = None,
        Action::CancelPayment => {
            if app.payment.as_ref().is_some_and(|p| !p.cancelling) {
                app.overlay = Some(Overlay::ConfirmCancel);
            }
        }
        Action::NextSale => new_sale(app),
        Action::History => {
            app.screen = Screen::History;
            app.history.detail = None;
            cmds.push(Cmd::LoadHistory);
        }
        Action::Shift => {
            app.screen = Screen::Shift;
            app.shift_message = None;
            cmds.push(Cmd::LoadSummary);
        }
        Action::Help => app.overlay = Some(Overlay::Help),
        Action::CloseHelp => app.overlay = None,
        Action::Quit => {
            if app.in_flight() {
                app.overlay = Some(Overlay::ConfirmQuit);
            } else {
                app.quit = true;
                cmds.push(Cmd::Quit);
            }
        }
        Action::Up => app.history.selected = app.history.selected.saturating_sub(1),
        Action::Down => {
            let n = app.history.filtered().len();
            app.history.selected = (app.history.selected + 1).min(n.saturating_sub(1));
        }
        Action::PageUp => app.history.selected = app.history.selected.saturating_sub(10),
        Action::PageDown => {
            let n = app.history.filtered().len();
            app.history.selected = (app.history.selected + 10).min(n.saturating_sub(1));
        }
        Action::Details => {
            if let Some(o) = app.history.selected_order() {
                cmds.push(Cmd::LoadDetail(o.id));
            }
        }
        Action::Retry => {
            let id = match &app.history.detail {
                Some((o, _)) if o.state == OrderState::Unresolved => Some(o.id),
                _ => app
                    .history
                    .selected_order()
                    .filter(|o| o.state == OrderState::Unresolved)
                    .map(|o| o.id),
            };
            if let Some(id) = id {
                cmds.push(Cmd::RetryOrder(id));
                set_hint(app, s.contacting.into());
            }
        }
        Action::CloseShift => app.overlay = Some(Overlay::ConfirmClose),
        Action::Back => {
            if app.screen == Screen::History && app.history.detail.is_some() {
                app.history.detail = None;
            } else {
                app.screen = if app.in_flight() {
                    Screen::Waiting
                } else if app.shift.is_some() {
                    Screen::Sale
                } else {
                    Screen::OpenShift
                };
            }
        }
        Action::OpenShift => {
            let id = app.cashier_input.trim().to_string();
            if !id.is_empty() {
                cmds.push(Cmd::OpenShift(id));
            }
        }
        Action::Yes => {
            match app.overlay {
                Some(Overlay::ConfirmQuit) => {
                    app.quit = true;
                    cmds.push(Cmd::Quit);
                }
                Some(Overlay::ConfirmCancel) => {
                    if let Some(p) = app.payment.as_mut() {
                        p.cancelling = true;
                    }
                    cmds.push(Cmd::CancelPayment);
                }
                Some(Overlay::ConfirmClose) => cmds.push(Cmd::CloseShift),
                Some(Overlay::Help) | Some(Overlay::Form) | None => {}
            }
            app.overlay = None;
        }
        Action::No => {
            app.overlay = None;
            app.form = None;
        }
        Action::Refund => {
            if let Some(o) = app.refund_target() {
                let kind = super::app::FormKind::Refund {
                    order_id: o.id,
                    out_trade_no: o.out_trade_no.clone(),
                    paid: o.amount,
                };
                app.form = Some(super::app::Form::new(kind));
                app.overlay = Some(Overlay::Form);
            }
        }
        Action::ForceClose => {
            app.form = Some(super::app::Form::new(super::app::FormKind::ForceClose));
            app.overlay = Some(Overlay::Form);
        }
        Action::NextField => {
            if let Some(f) = app.form.as_mut() {
                f.focus = (f.focus + 1) % f.fields.len();
            }
        }
        Action::PrevField => {
            if let Some(f) = app.form.as_mut() {
                f.focus = (f.focus + f.fields.len() - 1) % f.fields.len();
            }
        }
        Action::Submit => submit_form(app, cmds),
        Action::Reconcile => {
            // Yesterday in Beijing: bills for a day are ready from 09:00 the next day.
            let yesterday = crate::clock::beijing::date(app.now - 24 * 3600 * 1000);
            app.shift_message = Some(match app.lang {
                crate::config::Language::Zh => format!("正在对账 {yesterday}…"),
                crate::config::Language::En => format!("Reconciling {yesterday}…"),
            });
            cmds.push(Cmd::Reconcile(yesterday));
        }
        Action::Reprint => {
            if let Some(order_id) = app.reprint_target() {
                cmds.push(Cmd::Print {
                    order_id,
                    copy: true,
                });
                set_hint(
                    app,
                    match app.lang {
                        crate::config::Language::Zh => "已发送重印（标注“重印”）".into(),
                        crate::config::Language::En => {
                            "Copy sent to the printer (marked COPY)".into()
                        }
                    },
                );
            }
        }
    }
}

fn paste(app: &mut App, text: &str, at: i64, cmds: &mut Vec<Cmd>) {
    let digits = auth_code::normalise(text);
    let looks_like_code =
        digits.len() >= app.wedge.config().min_chars && digits.bytes().all(|b| b.is_ascii_digit());
    if looks_like_code || (app.screen == Screen::Sale && app.sale.confirmed.is_some()) {
        // Pasted codes go through the same validator as scans.
        scan(app, text, at, cmds);
        return;
    }
    for c in text.chars().filter(|c| !c.is_control()) {
        typed_key(app, Key::Char(c), cmds);
    }
}

/// A scan, from the serial reader, the wedge classifier or a paste.
fn scan(app: &mut App, raw: &str, at: i64, cmds: &mut Vec<Cmd>) {
    let s = strings(app.lang);
    let ready = app.overlay.is_none()
        && app.screen == Screen::Sale
        && app.sale.confirmed.is_some()
        && app.payment.is_none();
    if !ready {
        set_hint(app, s.scan_ignored.into());
        return;
    }
    let code = match auth_code::classify(raw) {
        Classified::WeChat(code) => code,
        other => {
            set_hint(app, i18n::scan_refused(app.lang, &other));
            return;
        }
    };
    let fp: [u8; 32] = sha2::Sha256::digest(code.expose().as_bytes()).into();
    if app
        .last_scan
        .is_some_and(|(prev, t)| prev == fp && at - t < DUPLICATE_SCAN_MS)
    {
        set_hint(app, s.duplicate_scan.into());
        return;
    }
    app.last_scan = Some((fp, at));
    let (Some(amount), Some(shift)) = (app.sale.confirmed, app.shift.as_ref()) else {
        set_hint(app, s.scan_ignored.into());
        return;
    };
    app.payment = Some(PaymentView {
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
    app.screen = Screen::Waiting;
    app.hint = None;
    cmds.push(Cmd::StartPayment {
        amount,
        description: app.sale.note.trim().to_string(),
        code,
        shift_id: shift.id,
        cashier: shift.cashier.clone(),
    });
}

fn result_view(app: &App, o: &OrderRecord) -> ResultView {
    let outcome = match o.state {
        OrderState::Paid | OrderState::PartiallyRefunded | OrderState::Refunded => Outcome::Paid,
        OrderState::Failed | OrderState::Reversed => Outcome::NotCharged,
        OrderState::Unresolved | OrderState::Pending | OrderState::Userpaying => Outcome::Attention,
    };
    let message = match &o.machine.reason {
        Some(r) => i18n::reason(r, app.lang),
        None if outcome == Outcome::Attention => strings(app.lang).do_not_recharge.to_string(),
        None => String::new(),
    };
    ResultView {
        order_id: o.id,
        outcome,
        amount: o.amount,
        out_trade_no: o.out_trade_no.clone(),
        transaction_id: o.transaction_id.clone(),
        message,
        at: o.updated_at,
    }
}

fn submit_form(app: &mut App, cmds: &mut Vec<Cmd>) {
    let zh = app.lang == crate::config::Language::Zh;
    let Some(f) = app.form.as_mut() else { return };
    let missing = |zh: bool| {
        if zh {
            "请填写所有项目"
        } else {
            "fill in every field"
        }
        .to_string()
    };
    match f.kind.clone() {
        super::app::FormKind::Refund {
            out_trade_no, paid, ..
        } => {
            let amount = match Fen::parse(&f.fields[0], paid) {
                Ok(a) => a,
                Err(e) => {
                    f.error = Some(i18n::amount_error(app.lang, &e));
                    f.focus = 0;
                    return;
                }
            };
            if f.fields[1..].iter().any(|x| x.trim().is_empty()) {
                f.error = Some(missing(zh));
                return;
            }
            cmds.push(Cmd::Refund {
                out_trade_no,
                amount,
                reason: f.fields[1].trim().to_string(),
                supervisor: f.fields[2].trim().to_string(),
                pin: f.fields[3].clone(),
            });
        }
        super::app::FormKind::ForceClose => {
            if f.fields.iter().any(|x| x.trim().is_empty()) {
                f.error = Some(missing(zh));
                return;
            }
            cmds.push(Cmd::ForceClose {
                supervisor: f.fields[0].trim().to_string(),
                pin: f.fields[1].clone(),
            });
        }
    }
    app.form = None;
    app.overlay = None;
    let text = if zh {
        "正在处理（主管核验中）…"
    } else {
        "Working (checking the supervisor)…"
    };
    set_hint(app, text.into());
}
