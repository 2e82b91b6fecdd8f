//! Drawing: `impl Widget for &App`. Pure — reads the state, writes a buffer. Status is always
//! said in words and symbols, with colour only as an extra; layout is CJK-width aware
//! (ratatui measures cells with unicode-width) and fits 80×24.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Widget, Wrap};

use super::app::{App, Outcome, Overlay, ScannerStatus, Screen, Theme};
use super::bigtext;
use super::i18n::{self, strings};
use super::keys::bindings;
use crate::clock::beijing;
use crate::engine::OrderState;
use crate::engine::micropay::Phase;
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
        match self.screen {
            Screen::OpenShift => open_shift(self, inner, buf),
            Screen::Sale => sale(self, inner, buf),
            Screen::Waiting => waiting(self, inner, buf),
            Screen::Result => result(self, inner, buf),
            Screen::History => history(self, inner, buf),
            Screen::Shift => shift(self, inner, buf),
        }
        footer_line(self, footer, buf);
        key_bar(self, keys, buf);
        if let Some(o) = self.overlay {
            overlay(self, o, main, buf);
        }
    }
}

fn title(app: &App) -> Line<'static> {
    let s = strings(app.lang);
    let t = match app.screen {
        Screen::OpenShift => s.open_shift,
        Screen::Sale | Screen::Waiting | Screen::Result => "",
        Screen::History => s.history,
        Screen::Shift => s.shift_title,
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
    let mut line = Line::from(spans);
    if line.width() > area.width as usize {
        // Narrow terminal: the brand goes first, the facts stay.
        line.spans.remove(0);
    }
    Paragraph::new(line).render(area, buf);
}

fn footer_line(app: &App, area: Rect, buf: &mut Buffer) {
    if let PrinterStatus::Failed { waiting, error } = &app.printer {
        let text = match app.lang {
            crate::config::Language::Zh => format!(" ✘ 打印机：{error}（等待打印 {waiting} 张）"),
            crate::config::Language::En => format!(" ✘ Printer: {error} ({waiting} waiting)"),
        };
        if app.hint.is_none() {
            Paragraph::new(Line::from(Span::styled(text, style(app, Tone::Bad)))).render(area, buf);
            return;
        }
    }
    if let Some((hint, _)) = &app.hint {
        Paragraph::new(Line::from(Span::styled(
            format!(" ▶ {hint}"),
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
        spans.push(Span::raw(format!(" {}  ", b.text(app.lang))));
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

fn sale(app: &App, area: Rect, buf: &mut Buffer) {
    let s = strings(app.lang);
    let mut lines: Vec<Line> = Vec::new();
    if let Some(amount) = app.sale.confirmed {
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
            note_text(app)
        )));
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(
            format!("▶ {} ◀", s.scan_now),
            style(app, Tone::Accent),
        )));
        lines.push(Line::from(s.scan_now_hint).style(style(app, Tone::Dim)));
    } else {
        lines.push(Line::from(s.amount_title).style(style(app, Tone::Dim)));
        lines.push(Line::default());
        let shown = if app.sale.amount.is_empty() {
            "_".to_string()
        } else {
            app.sale.amount.clone()
        };
        let cursor = if app.sale.note_focused { "" } else { "_" };
        let text = format!(
            "¥{}{}",
            shown.trim_end_matches('_'),
            if app.sale.amount.is_empty() {
                "_"
            } else {
                cursor
            }
        );
        lines.extend(big_amount(app, &text, Tone::Plain));
        lines.push(Line::default());
        let note = if app.sale.note.is_empty() && !app.sale.note_focused {
            s.optional.to_string()
        } else {
            app.sale.note.clone()
        };
        let marker = if app.sale.note_focused { "▸ " } else { "" };
        let cur = if app.sale.note_focused { "_" } else { "" };
        lines.push(Line::from(format!(
            "{marker}{}: {note}{cur}",
            s.description
        )));
        lines.push(Line::default());
        match &app.sale.error {
            Some(e) => lines.push(Line::from(Span::styled(
                format!("✘ {e}"),
                style(app, Tone::Bad),
            ))),
            None => lines.push(Line::from(s.enter_amount_hint).style(style(app, Tone::Dim))),
        }
    }
    let n = lines.len() as u16;
    Paragraph::new(lines)
        .alignment(Alignment::Center)
        .render(centered_rows(area, n), buf);
}

fn note_text(app: &App) -> String {
    if app.sale.note.is_empty() {
        String::new()
    } else {
        format!("· {}", app.sale.note)
    }
}

fn waiting(app: &App, area: Rect, buf: &mut Buffer) {
    let s = strings(app.lang);
    let Some(p) = &app.payment else { return };
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

fn result(app: &App, area: Rect, buf: &mut Buffer) {
    let s = strings(app.lang);
    let Some(r) = &app.result else { return };
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
    if !r.message.is_empty() {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(
            r.message.clone(),
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

fn history(app: &App, area: Rect, buf: &mut Buffer) {
    let s = strings(app.lang);
    if let Some((o, events)) = &app.history.detail {
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
        if let Some(r) = &o.machine.reason {
            lines.push(Line::from(i18n::reason(r, app.lang)));
        }
        lines.push(Line::from(format!("— {} —", s.timeline)).style(style(app, Tone::Dim)));
        for e in events {
            let state = OrderState::parse(&e.state_after)
                .map_or(e.state_after.as_str(), |st| i18n::state_name(app.lang, st));
            lines.push(Line::from(format!(
                "{}  {} {}",
                &beijing::datetime(e.at)[11..],
                i18n::pad(&i18n::event_name(app.lang, &e.kind), 22),
                state
            )));
        }
        // Beside the timeline, the receipt as the printer gets it (32 columns).
        let (left, right) = match &app.history.receipt {
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
        if let (Some(r), Some(text)) = (right, &app.history.receipt) {
            let preview: Vec<Line> = text.lines().map(|l| Line::from(l.to_string())).collect();
            Paragraph::new(preview)
                .block(
                    Block::default()
                        .borders(Borders::LEFT)
                        .title(match app.lang {
                            crate::config::Language::Zh => " 小票 ",
                            crate::config::Language::En => " receipt ",
                        }),
                )
                .render(r, buf);
        }
        return;
    }
    let [search, list] = Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(area);
    Paragraph::new(vec![
        Line::from(format!(" {}: {}_", s.search, app.history.filter)),
        Line::default(),
    ])
    .render(search, buf);
    if !app.history.loaded {
        Paragraph::new(s.loading).render(list, buf);
        return;
    }
    let rows = app.history.filtered();
    if rows.is_empty() {
        Paragraph::new(format!(" {}", s.no_orders)).render(list, buf);
        return;
    }
    let height = list.height as usize;
    let first = app
        .history
        .selected
        .saturating_sub(height.saturating_sub(1));
    let mut lines = Vec::new();
    for (i, o) in rows.iter().enumerate().skip(first).take(height) {
        let sel = i == app.history.selected;
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

fn shift(app: &App, area: Rect, buf: &mut Buffer) {
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
        for (state, n, fen) in &sum.by_state {
            let name = OrderState::parse(state)
                .map_or(state.as_str(), |st| i18n::state_name(app.lang, st));
            lines.push(Line::from(format!(
                "  {} {n:>5}   {:>14}",
                i18n::pad(name, 14),
                Fen(*fen).grouped()
            )));
        }
        lines.push(Line::from(Span::styled(
            format!(
                "  {} {:>5}   {:>14}",
                i18n::pad(s.paid_total, 14),
                sum.paid_count,
                Fen(sum.paid_fen).grouped()
            ),
            style(app, Tone::Good),
        )));
        if let (Some(a), Some(b)) = (&sum.first_out_trade_no, &sum.last_out_trade_no) {
            lines.push(Line::from(format!("  {a} … {b}")).style(style(app, Tone::Dim)));
        }
    } else {
        lines.push(Line::from(s.loading));
    }
    if let Some(m) = &app.shift_message {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(m.clone(), style(app, Tone::Warn))));
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(area, buf);
}

fn open_shift(app: &App, area: Rect, buf: &mut Buffer) {
    let s = strings(app.lang);
    let lines = vec![
        Line::from(s.cashier_prompt),
        Line::default(),
        Line::from(Span::styled(
            format!("{}: {}_", s.cashier, app.cashier_input),
            style(app, Tone::Accent),
        )),
    ];
    Paragraph::new(lines)
        .alignment(Alignment::Center)
        .render(centered_rows(area, 3), buf);
}

fn overlay(app: &App, o: Overlay, area: Rect, buf: &mut Buffer) {
    let s = strings(app.lang);
    let (title, body): (&str, Vec<Line>) = match o {
        Overlay::Form => {
            let Some(f) = &app.form else { return };
            let zh = app.lang == crate::config::Language::Zh;
            let (title, labels): (&str, Vec<&str>) = match &f.kind {
                super::app::FormKind::Refund { .. } => (
                    if zh {
                        "退款（需主管核准）"
                    } else {
                        "Refund (supervisor approves)"
                    },
                    if zh {
                        vec!["退款金额", "退款原因", "主管编号", "主管密码"]
                    } else {
                        vec!["Amount", "Reason", "Supervisor", "PIN"]
                    },
                ),
                super::app::FormKind::ForceClose => (
                    if zh {
                        "强制结班（需主管核准）"
                    } else {
                        "Force close (supervisor approves)"
                    },
                    if zh {
                        vec!["主管编号", "主管密码"]
                    } else {
                        vec!["Supervisor", "PIN"]
                    },
                ),
            };
            let mut lines = Vec::new();
            if let super::app::FormKind::Refund {
                out_trade_no, paid, ..
            } = &f.kind
            {
                lines.push(Line::from(format!(
                    "{} {out_trade_no} · {}",
                    s.order_no,
                    paid.grouped()
                )));
            } else {
                lines.push(Line::from(if zh {
                    "未处理的订单会列在 Z 报表上"
                } else {
                    "Unsettled orders are listed on the Z report"
                }));
            }
            lines.push(Line::default());
            for (i, (label, value)) in labels.iter().zip(&f.fields).enumerate() {
                let shown = if f.is_pin(i) {
                    "*".repeat(value.len())
                } else {
                    value.clone()
                };
                let marker = if i == f.focus { "▸" } else { " " };
                let cursor = if i == f.focus { "_" } else { "" };
                lines.push(Line::from(format!(
                    "{marker} {} {shown}{cursor}",
                    i18n::pad(label, 10)
                )));
            }
            if let Some(e) = &f.error {
                lines.push(Line::from(Span::styled(
                    format!("✘ {e}"),
                    style(app, Tone::Bad),
                )));
            }
            (title, lines)
        }
        Overlay::Help => {
            let mut under = app.view();
            under.overlay = None;
            let lines = bindings(&under)
                .iter()
                .filter(|b| !b.label.is_empty())
                .map(|b| {
                    let keys: Vec<String> = b.keys.iter().map(|k| key_name(*k)).collect();
                    Line::from(format!("{:<16} {}", keys.join(" / "), b.text(app.lang)))
                })
                .chain(if app.simulator {
                    demo_help(app).into_iter().map(Line::from).collect()
                } else {
                    Vec::new()
                })
                .collect();
            (s.help, lines)
        }
        Overlay::ConfirmQuit => (
            s.help,
            vec![
                Line::from(if app.in_flight() {
                    s.confirm_quit_in_flight
                } else {
                    s.confirm_quit
                }),
                Line::default(),
                Line::from(s.yes_no),
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
    let title = if matches!(o, Overlay::Help | Overlay::Form) {
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

fn demo_help(app: &App) -> Vec<String> {
    match app.lang {
        crate::config::Language::Zh => vec![
            String::new(),
            "演示（模拟器）：付款码 18 位，以 10–15 开头，末两位决定顾客行为：".into(),
            "  11 立即成功  01 需输密码（8 秒后成功）  02 顾客取消  03 一直不确认".into(),
            "  04 余额不足  05 付款码过期  例：134567890123456711".into(),
            "退款（流水 F7）与强制结班的演示主管：demo，密码 0000".into(),
        ],
        crate::config::Language::En => vec![
            String::new(),
            "Demo (simulator): 18-digit codes starting 10–15; the last two digits".into(),
            "choose the customer: 11 paid at once · 01 password, paid after 8 s ·".into(),
            "02 cancels · 03 never confirms · 04 no balance · 05 expired code".into(),
            "Example: 134567890123456711".into(),
            "Refunds (History, F7) and forced closes: supervisor demo, PIN 0000".into(),
        ],
    }
}

fn key_name(k: super::keys::Key) -> String {
    use super::keys::Key;
    match k {
        Key::Char(c) => c.to_string(),
        Key::Enter => "Enter".into(),
        Key::Tab => "Tab".into(),
        Key::BackTab => "Shift-Tab".into(),
        Key::Esc => "Esc".into(),
        Key::Backspace => "Backspace".into(),
        Key::Up => "↑".into(),
        Key::Down => "↓".into(),
        Key::PageUp => "PgUp".into(),
        Key::PageDown => "PgDn".into(),
        Key::F(n) => format!("F{n}"),
        Key::CtrlQ => "Ctrl-Q".into(),
        Key::CtrlC => "Ctrl-C".into(),
    }
}
