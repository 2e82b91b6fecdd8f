//! Drawing: `impl Widget for &App`. Pure — reads the state, writes a buffer. Status is always
//! said in words and symbols, with colour only as an extra; layout is CJK-width aware
//! (ratatui measures cells with unicode-width) and fits 80×24.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Widget, Wrap};

use super::app::{App, ConfigCheck, ScannerStatus, Theme};
use super::bigtext;
use super::form::{OpenShiftForm, SupervisorForm};
use super::keys::bindings;
use super::screen::{
    HistoryScreen, Outcome, Overlay, ResultScreen, SaleScreen, Screen, ScreenKind, ShiftScreen,
    WaitingScreen,
};
use crate::clock::beijing;
use crate::engine::OrderState;
use crate::engine::micropay::Phase;
use crate::i18n::{self, strings};
use crate::money::Fen;
use crate::receipt::printer::PrinterStatus;

#[derive(Clone, Copy)]
enum Tone {
    Good,
    Bad,
    Warn,
    Accent,
    Dim,
    Plain,
}

fn style(app: &App, tone: Tone) -> Style {
    let base = Style::default();
    match app.theme {
        Theme::NoColor => match tone {
            Tone::Good | Tone::Bad | Tone::Warn | Tone::Accent => base.add_modifier(Modifier::BOLD),
            Tone::Dim | Tone::Plain => base,
        },
        Theme::Default => match tone {
            Tone::Good => base.fg(Color::Green).add_modifier(Modifier::BOLD),
            Tone::Bad => base.fg(Color::Red).add_modifier(Modifier::BOLD),
            Tone::Warn => base.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            Tone::Accent => base.fg(Color::Cyan).add_modifier(Modifier::BOLD),
            Tone::Dim => base.fg(Color::DarkGray),
            Tone::Plain => base,
        },
        Theme::HighContrast => match tone {
            Tone::Good => base
                .fg(Color::Black)
                .bg(Color::LightGreen)
                .add_modifier(Modifier::BOLD),
            Tone::Bad => base
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD),
            Tone::Warn => base
                .fg(Color::Black)
                .bg(Color::LightYellow)
                .add_modifier(Modifier::BOLD),
            Tone::Accent => base.fg(Color::White).add_modifier(Modifier::BOLD),
            Tone::Dim | Tone::Plain => base.fg(Color::White),
        },
    }
}

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let [status, main, footer, keys] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(5),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .areas(area);
        status_line(self, status, buf);
        let block = Block::default()
            .borders(Borders::ALL)
            .border_type(BorderType::Plain)
            .title(title(self));
        let inner = block.inner(main);
        block.render(main, buf);
        match &self.screen {
            Screen::OpenShift(f) => open_shift(self, f, inner, buf),
            Screen::Sale(s) => sale(self, s, inner, buf),
            Screen::Waiting(p) => waiting(self, p, inner, buf),
            Screen::Result(r) => result(self, r, inner, buf),
            Screen::History(h) => history(self, h, inner, buf),
            Screen::Shift(sh) => shift(self, sh, inner, buf),
        }
        footer_line(self, footer, buf);
        key_bar(self, keys, buf);
        if let Some(o) = &self.overlay {
            overlay(self, o, main, buf);
        }
    }
}

fn title(app: &App) -> Line<'static> {
    let s = strings(app.lang);
    let t = match app.screen.kind() {
        ScreenKind::OpenShift => s.open_shift,
        ScreenKind::Sale | ScreenKind::Waiting | ScreenKind::Result => "",
        ScreenKind::History => s.history,
        ScreenKind::Shift => s.shift_title,
    };
    if t.is_empty() {
        Line::default()
    } else {
        Line::from(format!(" {t} "))
    }
}

fn status_line(app: &App, area: Rect, buf: &mut Buffer) {
    let s = strings(app.lang);
    let mut spans = vec![
        Span::styled(" scanpay ", style(app, Tone::Accent)),
        Span::raw(format!(" {}", app.terminal_id)),
    ];
    if let Some(shift) = &app.shift {
        spans.push(Span::raw(format!(
            " · {} · {} {}",
            i18n::shift_label(app.lang, shift.id),
            s.cashier,
            shift.cashier
        )));
    }
    let (sym, word, tone) = match app.scanner {
        ScannerStatus::Wedge => ("⌨", s.wedge, Tone::Plain),
        ScannerStatus::Connected => ("●", s.connected, Tone::Good),
        ScannerStatus::Disconnected => ("✘", s.disconnected, Tone::Bad),
    };
    spans.push(Span::raw(format!(" │ {} ", s.scanner)));
    spans.push(Span::styled(format!("{sym} {word}"), style(app, tone)));
    let (sym, word, tone) = if app.network_ok {
        ("●", s.online, Tone::Good)
    } else {
        ("✘", s.offline, Tone::Bad)
    };
    spans.push(Span::raw(format!(" │ {} ", s.network)));
    spans.push(Span::styled(format!("{sym} {word}"), style(app, tone)));
    spans.push(Span::raw(" │ "));
    spans.push(if app.simulator {
        Span::styled(s.simulator, style(app, Tone::Warn))
    } else {
        Span::styled(s.live, style(app, Tone::Accent))
    });
    // The head office behind by more than a minute (the till sells on regardless).
    if let Some(text) = app
        .sync_pending_since
        .and_then(|since| i18n::sync_lag(app.lang, (app.now - since) / 1000))
    {
        spans.push(Span::raw(" │ "));
        spans.push(Span::styled(text, style(app, Tone::Warn)));
    }
    // The configuration check goes last: on a narrow terminal it is cut before the training
    // badge is.
    if app.config_alert.is_some() {
        spans.push(Span::raw(" │ "));
        spans.push(Span::styled(
            match app.lang {
                crate::config::Language::Zh => "⚠ 配置警报",
                crate::config::Language::En => "⚠ CONFIG ALERT",
            },
            style(app, Tone::Bad),
        ));
    } else if let Some(badge) = i18n::check_badge(app.lang, &app.config_check) {
        let tone = match app.config_check {
            ConfigCheck::Passed => Tone::Good,
            ConfigCheck::Failed { .. } => Tone::Bad,
            _ => Tone::Plain,
        };
        spans.push(Span::raw(" │ "));
        spans.push(Span::styled(badge, style(app, tone)));
    }
    let mut line = Line::from(spans);
    if line.width() > area.width as usize {
        // Narrow terminal: the brand goes first, the facts stay.
        line.spans.remove(0);
    }
    Paragraph::new(line).render(area, buf);
}

fn footer_line(app: &App, area: Rect, buf: &mut Buffer) {
    // The configuration alert stays until a check passes (a passing hint may cover it).
    if app.config_alert.is_some() && app.hint.is_none() {
        Paragraph::new(Line::from(Span::styled(
            format!(" ⚠ {}", i18n::config_alert(app.lang)),
            style(app, Tone::Bad),
        )))
        .render(area, buf);
        return;
    }
    if let PrinterStatus::Failed { waiting, error } = &app.printer {
        let text = i18n::printer_failed(app.lang, *waiting, error);
        if app.hint.is_none() {
            Paragraph::new(Line::from(Span::styled(text, style(app, Tone::Bad)))).render(area, buf);
            return;
        }
    }
    if let Some((hint, _)) = &app.hint {
        Paragraph::new(Line::from(Span::styled(
            format!(" ▶ {}", i18n::hint(app.lang, hint)),
            style(app, Tone::Warn),
        )))
        .render(area, buf);
        return;
    }
    if let Some(sum) = &app.summary {
        let orders: i64 = sum.by_state.iter().map(|(_, n, _)| n).sum();
        let text = i18n::stats(app.lang, orders, Fen(sum.paid_fen), sum.open_count);
        Paragraph::new(Line::from(Span::styled(text, style(app, Tone::Dim)))).render(area, buf);
    }
}

fn key_bar(app: &App, area: Rect, buf: &mut Buffer) {
    let mut spans = Vec::new();
    for b in bindings(&app.view()).iter().filter(|b| !b.label.is_empty()) {
        spans.push(Span::styled(
            format!(" {}", b.label),
            style(app, Tone::Accent),
        ));
        spans.push(Span::raw(format!(
            " {}  ",
            i18n::action(app.lang, b.action)
        )));
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
}

/// Vertical slots in the middle of an area.
fn centered_rows(area: Rect, rows: u16) -> Rect {
    let top = area.y + area.height.saturating_sub(rows) / 2;
    Rect {
        x: area.x,
        y: top,
        width: area.width,
        height: rows.min(area.height),
    }
}

fn big_amount(app: &App, text: &str, tone: Tone) -> Vec<Line<'static>> {
    let rows = bigtext::render(text);
    rows.into_iter()
        .map(|r| Line::from(Span::styled(r, style(app, tone))))
        .collect()
}

fn sale(app: &App, sale: &SaleScreen, area: Rect, buf: &mut Buffer) {
    let s = strings(app.lang);
    let mut lines: Vec<Line> = Vec::new();
    if let Some(amount) = sale.confirmed {
        lines.push(Line::from(s.amount_title).style(style(app, Tone::Dim)));
        lines.push(Line::default());
        lines.extend(big_amount(
            app,
            &format!("¥{}", amount.to_yuan_string()),
            Tone::Plain,
        ));
        lines.push(Line::from(format!(
            "{}  {}",
            amount.grouped(),
            note_text(sale)
        )));
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(
            format!("▶ {} ◀", s.scan_now),
            style(app, Tone::Accent),
        )));
        lines.push(Line::from(s.scan_now_hint).style(style(app, Tone::Dim)));
        network_down_line(app, &mut lines);
    } else {
        lines.push(Line::from(s.amount_title).style(style(app, Tone::Dim)));
        lines.push(Line::default());
        let shown = if sale.amount.is_empty() {
            "_".to_string()
        } else {
            sale.amount.value().to_string()
        };
        let cursor = if sale.note_focused { "" } else { "_" };
        let text = format!(
            "¥{}{}",
            shown.trim_end_matches('_'),
            if sale.amount.is_empty() { "_" } else { cursor }
        );
        lines.extend(big_amount(app, &text, Tone::Plain));
        lines.push(Line::default());
        let note = if sale.note.is_empty() && !sale.note_focused {
            s.optional.to_string()
        } else {
            sale.note.value().to_string()
        };
        let marker = if sale.note_focused { "▸ " } else { "" };
        let cur = if sale.note_focused { "_" } else { "" };
        lines.push(Line::from(format!(
            "{marker}{}: {note}{cur}",
            s.description
        )));
        lines.push(Line::default());
        match &sale.error {
            Some(e) => lines.push(Line::from(Span::styled(
                format!("✘ {}", i18n::amount_error(app.lang, e)),
                style(app, Tone::Bad),
            ))),
            None => lines.push(Line::from(s.enter_amount_hint).style(style(app, Tone::Dim))),
        }
        network_down_line(app, &mut lines);
    }
    let n = lines.len() as u16;
    Paragraph::new(lines)
        .alignment(Alignment::Center)
        .render(centered_rows(area, n), buf);
}

/// While the network badge is down, the sale screen says so before the code is scanned.
fn network_down_line(app: &App, lines: &mut Vec<Line<'static>>) {
    if !app.network_ok {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(
            format!("✘ {}", strings(app.lang).network_down_sale),
            style(app, Tone::Bad),
        )));
    }
}

fn note_text(sale: &SaleScreen) -> String {
    if sale.note.is_empty() {
        String::new()
    } else {
        format!("· {}", sale.note.value())
    }
}

fn waiting(app: &App, p: &WaitingScreen, area: Rect, buf: &mut Buffer) {
    let s = strings(app.lang);
    let cancelling = p.cancelling || matches!(p.phase, Phase::Reversing | Phase::Confirming);
    let (headline, tone) = if cancelling {
        (
            format!("↺  {}  {}", s.cancelling, p.amount.grouped()),
            Tone::Warn,
        )
    } else {
        (
            format!("◷  {}  {}", s.waiting, p.amount.grouped()),
            Tone::Accent,
        )
    };
    let mut lines = vec![
        Line::from(Span::styled(headline, style(app, tone))),
        Line::default(),
    ];
    lines.extend(big_amount(
        app,
        &format!("¥{}", p.amount.to_yuan_string()),
        Tone::Plain,
    ));
    lines.push(Line::default());
    let instruction = if cancelling {
        i18n::reversing(app.lang, p.reverse_attempts.max(1))
    } else if p.state == OrderState::Userpaying {
        s.ask_password.to_string()
    } else {
        s.contacting.to_string()
    };
    lines.push(Line::from(Span::styled(
        instruction,
        style(app, Tone::Accent),
    )));
    lines.push(Line::from(format!("{} {}", s.code, p.masked)));
    let left = p
        .deadline_ms
        .map_or(0, |d| ((d - app.now).max(0) + 999) / 1000);
    if p.deadline_ms.is_some() {
        lines.push(Line::from(i18n::countdown(app.lang, left, p.queries)));
    }
    if let Some(no) = &p.out_trade_no {
        lines.push(Line::from(format!("{} {no}", s.order_no)).style(style(app, Tone::Dim)));
    }
    let n = lines.len() as u16;
    Paragraph::new(lines)
        .alignment(Alignment::Center)
        .render(centered_rows(area, n), buf);
}

fn result(app: &App, r: &ResultScreen, area: Rect, buf: &mut Buffer) {
    let s = strings(app.lang);
    let (sym, word, tone) = match r.outcome {
        Outcome::Paid => ("✔", s.paid, Tone::Good),
        Outcome::NotCharged => ("✘", s.not_charged, Tone::Bad),
        Outcome::Attention => ("⚠", s.attention, Tone::Warn),
    };
    let mut lines = vec![
        Line::from(Span::styled(
            format!("{sym}  {word}  {}", r.amount.grouped()),
            style(app, tone),
        )),
        Line::default(),
    ];
    lines.extend(big_amount(
        app,
        &format!("¥{}", r.amount.to_yuan_string()),
        tone,
    ));
    lines.push(Line::default());
    if let Some(t) = &r.transaction_id {
        lines.push(Line::from(format!("{} {t}", s.transaction_id)));
    }
    lines.push(
        Line::from(format!(
            "{} {} · {}",
            s.order_no,
            r.out_trade_no,
            &beijing::datetime(r.at)[11..]
        ))
        .style(style(app, Tone::Dim)),
    );
    let message = i18n::result_note(app.lang, &r.note);
    if !message.is_empty() {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(
            message,
            style(
                app,
                if r.outcome == Outcome::Paid {
                    Tone::Plain
                } else {
                    tone
                },
            ),
        )));
    }
    if r.outcome == Outcome::Attention {
        lines.push(Line::from(Span::styled(
            s.do_not_recharge,
            style(app, Tone::Warn),
        )));
    }
    lines.push(Line::default());
    lines.push(Line::from(s.next_sale_hint).style(style(app, Tone::Dim)));
    let n = (lines.len() as u16 + 2).min(area.height);
    Paragraph::new(lines)
        .alignment(Alignment::Center)
        .wrap(Wrap { trim: true })
        .render(centered_rows(area, n), buf);
}

fn history(app: &App, h: &HistoryScreen, area: Rect, buf: &mut Buffer) {
    let s = strings(app.lang);
    if let Some(d) = &h.detail {
        let (o, events) = (&d.order, &d.events);
        let mut lines = vec![
            Line::from(Span::styled(
                format!(
                    "{}  {}  {}",
                    o.out_trade_no,
                    i18n::state_name(app.lang, o.state),
                    o.amount.grouped()
                ),
                style(app, Tone::Accent),
            )),
            Line::from(format!("{} {}", s.code, o.code_masked)),
            Line::from(format!(
                "{} {}",
                s.transaction_id,
                o.transaction_id.clone().unwrap_or_else(|| "—".into())
            )),
        ];
        if let Some(r) = &o.reason {
            lines.push(Line::from(i18n::reason(r, app.lang)));
        }
        lines.push(Line::from(format!("— {} —", s.timeline)).style(style(app, Tone::Dim)));
        for e in events {
            let state = OrderState::parse(&e.state_after)
                .map_or(e.state_after.as_str(), |st| i18n::state_name(app.lang, st));
            lines.push(Line::from(format!(
                "{}  {} {}",
                &beijing::datetime(e.at)[11..],
                i18n::pad(&i18n::event_name(app.lang, e.kind.as_str()), 22),
                state
            )));
        }
        // Beside the timeline, the receipt as the printer gets it (32 columns).
        let (left, right) = match &d.receipt {
            Some(_) if area.width >= 76 => {
                let [l, r] =
                    Layout::horizontal([Constraint::Min(40), Constraint::Length(34)]).areas(area);
                (l, Some(r))
            }
            _ => (area, None),
        };
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .render(left, buf);
        if let (Some(r), Some(text)) = (right, &d.receipt) {
            let preview: Vec<Line> = text.lines().map(|l| Line::from(l.to_string())).collect();
            Paragraph::new(preview)
                .block(
                    Block::default()
                        .borders(Borders::LEFT)
                        .title(s.receipt_title),
                )
                .render(r, buf);
        }
        return;
    }
    let [search, list] = Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(area);
    Paragraph::new(vec![
        Line::from(format!(" {}: {}_", s.search, h.filter)),
        Line::default(),
    ])
    .render(search, buf);
    if !h.loaded {
        Paragraph::new(s.loading).render(list, buf);
        return;
    }
    let rows = h.filtered();
    if rows.is_empty() {
        Paragraph::new(format!(" {}", s.no_orders)).render(list, buf);
        return;
    }
    let height = list.height as usize;
    let first = h.selected.saturating_sub(height.saturating_sub(1));
    let mut lines = Vec::new();
    for (i, o) in rows.iter().enumerate().skip(first).take(height) {
        let sel = i == h.selected;
        let sym = match o.state {
            OrderState::Paid | OrderState::PartiallyRefunded | OrderState::Refunded => "✔",
            OrderState::Failed | OrderState::Reversed => "✘",
            OrderState::Unresolved => "⚠",
            OrderState::Pending | OrderState::Userpaying => "◷",
        };
        let text = format!(
            "{} {}  {} {} {:>12}  {}",
            if sel { "▶" } else { " " },
            &beijing::datetime(o.created_at)[11..],
            sym,
            i18n::pad(i18n::state_name(app.lang, o.state), 13),
            o.amount.grouped(),
            o.out_trade_no
        );
        let mut st = match o.state {
            OrderState::Unresolved => style(app, Tone::Warn),
            _ => Style::default(),
        };
        if sel {
            st = st.add_modifier(Modifier::REVERSED);
        }
        lines.push(Line::from(Span::styled(text, st)));
    }
    Paragraph::new(lines).render(list, buf);
}

fn shift(app: &App, sh: &ShiftScreen, area: Rect, buf: &mut Buffer) {
    let s = strings(app.lang);
    let mut lines = Vec::new();
    if let Some(shift) = &app.shift {
        lines.push(Line::from(format!(
            "{} · {} {} · {}",
            i18n::shift_label(app.lang, shift.id),
            s.cashier,
            shift.cashier,
            beijing::datetime(shift.opened_at)
        )));
        lines.push(Line::default());
    }
    if let Some(sum) = &app.summary {
        // The till's one set of report lines (the per-hour lines are on paper only).
        use crate::till::reports::LineKind;
        for l in crate::till::reports::lines(app.lang, sum) {
            let text = match (l.kind, l.count, l.amount) {
                (LineKind::Hour, _, _) => continue,
                (_, _, None) => format!("  {} {}", i18n::pad(&l.label, 14), l.value()),
                (_, n, Some(f)) => format!(
                    "  {} {:>5}   {:>14}",
                    i18n::pad(&l.label, 14),
                    n.map(|n| n.to_string()).unwrap_or_default(),
                    f.grouped()
                ),
            };
            let tone = match l.kind {
                LineKind::Collected | LineKind::Net => Some(Tone::Good),
                LineKind::RefundsOpen | LineKind::Forced | LineKind::Unsettled => Some(Tone::Warn),
                LineKind::Range => Some(Tone::Dim),
                _ => None,
            };
            lines.push(match tone {
                Some(t) => Line::from(Span::styled(text, style(app, t))),
                None => Line::from(text),
            });
        }
    } else {
        lines.push(Line::from(s.loading));
    }
    if let Some(n) = &sh.note {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(
            i18n::shift_note(app.lang, n),
            style(app, Tone::Warn),
        )));
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(area, buf);
}

fn open_shift(app: &App, f: &OpenShiftForm, area: Rect, buf: &mut Buffer) {
    let s = strings(app.lang);
    let lines = vec![
        Line::from(s.cashier_prompt),
        Line::default(),
        Line::from(Span::styled(
            format!(
                "{}: {}_",
                i18n::field_label(app.lang, f.cashier.name()),
                f.cashier.value()
            ),
            style(app, Tone::Accent),
        )),
    ];
    Paragraph::new(lines)
        .alignment(Alignment::Center)
        .render(centered_rows(area, 3), buf);
}

fn overlay(app: &App, o: &Overlay, area: Rect, buf: &mut Buffer) {
    let s = strings(app.lang);
    let (title, body): (&str, Vec<Line>) = match o {
        Overlay::Form(f) => (i18n::form_title(app.lang, f), form_lines(app, f)),
        Overlay::Help => {
            let mut under = app.view();
            under.overlay = None;
            let lines = bindings(&under)
                .iter()
                .filter(|b| !b.label.is_empty())
                .map(|b| {
                    let keys: Vec<String> = b.keys.iter().map(|k| i18n::key_name(*k)).collect();
                    Line::from(format!(
                        "{:<16} {}",
                        keys.join(" / "),
                        i18n::action(app.lang, b.action)
                    ))
                })
                .chain(if app.simulator {
                    i18n::demo_help(app.lang)
                        .iter()
                        .map(|l| Line::from(*l))
                        .collect()
                } else {
                    Vec::new()
                })
                .collect();
            (s.help, lines)
        }
        Overlay::ConfirmQuit { .. } => (
            s.help,
            vec![
                Line::from(if app.in_flight() {
                    s.confirm_quit_in_flight
                } else {
                    s.confirm_quit
                }),
                Line::default(),
                Line::from(s.quit_keys),
            ],
        ),
        Overlay::ConfirmCancel => (
            s.help,
            vec![
                Line::from(s.confirm_cancel),
                Line::default(),
                Line::from(s.yes_no),
            ],
        ),
        Overlay::ConfirmClose => (
            s.help,
            vec![
                Line::from(s.confirm_close),
                Line::default(),
                Line::from(s.yes_no),
            ],
        ),
    };
    let title = if matches!(o, Overlay::Help | Overlay::Form(_)) {
        title
    } else {
        "?"
    };
    let width = area.width.saturating_sub(8).min(70);
    // Wrapped lines take more rows: count them, so no line of a popup is cut off.
    let inner = usize::from(width.saturating_sub(2)).max(1);
    let rows: usize = body.iter().map(|l| l.width().div_ceil(inner).max(1)).sum();
    let height = (rows as u16 + 2).min(area.height);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    Clear.render(popup, buf);
    Paragraph::new(body)
        .wrap(Wrap { trim: false })
        .block(
            Block::default()
                .borders(Borders::ALL)
                .border_type(BorderType::Double)
                .title(format!(" {title} ")),
        )
        .render(popup, buf);
}

/// The lines of a supervisor form: what it is for, its fields (the PIN masked), why the last
/// submit was refused.
fn form_lines(app: &App, f: &SupervisorForm) -> Vec<Line<'static>> {
    let s = strings(app.lang);
    let mut lines = Vec::new();
    match f {
        SupervisorForm::Refund(r) => lines.push(Line::from(format!(
            "{} {} · {}",
            s.order_no,
            r.out_trade_no,
            r.paid.grouped()
        ))),
        SupervisorForm::ForceClose(_) => lines.push(Line::from(s.force_close_note)),
    }
    lines.push(Line::default());
    let form = f.form();
    for field in form.fields() {
        let shown = if field.is_masked() {
            "*".repeat(field.value().len())
        } else {
            field.value().to_string()
        };
        let focused = field.name() == form.focus();
        let marker = if focused { "▸" } else { " " };
        let cursor = if focused { "_" } else { "" };
        lines.push(Line::from(format!(
            "{marker} {} {shown}{cursor}",
            i18n::pad(i18n::field_label(app.lang, field.name()), 10)
        )));
    }
    if let Some(e) = f.error() {
        lines.push(Line::from(Span::styled(
            format!("✘ {}", i18n::form_error(app.lang, e)),
            style(app, Tone::Bad),
        )));
    }
    lines
}
