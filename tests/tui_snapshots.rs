//! Every screen of the cashier, drawn through ratatui's TestBackend at 80×24, in Chinese and
//! English (insta snapshots in `tests/snapshots/`). Review a changed snapshot with
//! `cargo insta review`, or `INSTA_UPDATE=always cargo test --test tui_snapshots`.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use scanpay::config::Language;
use scanpay::engine::micropay::{Phase, Reason};
use scanpay::engine::{OrderState, Progress};
use scanpay::money::Fen;
use scanpay::store::orders::{OrderEvent, OrderRecord};
use scanpay::store::shifts::{Shift, Summary};
use scanpay::tui::app::{App, AppConfig, Msg, ScannerStatus, Theme};
use scanpay::tui::keys::Key;
use scanpay::tui::screen::Refusal;
use scanpay::tui::update::update;
use scanpay::tui::wedge::WedgeConfig;

// 2025-11-25 00:00:00 Beijing.
const T0: i64 = 1_763_999_200_000;

fn app(lang: Language) -> App {
    let mut a = App::new(
        AppConfig {
            lang,
            theme: Theme::NoColor,
            terminal_id: "POS01".into(),
            simulator: true,
            max_amount: Fen(500_000),
            wedge: WedgeConfig::default(),
            serial_scanner: true,
        },
        T0,
    );
    update(&mut a, Msg::Scanner(ScannerStatus::Connected));
    update(
        &mut a,
        Msg::ShiftLoaded(Some(Shift {
            id: 12,
            terminal_id: "POS01".into(),
            cashier: "li".into(),
            opened_at: T0,
            closed_at: None,
            z_number: None,
        })),
    );
    update(
        &mut a,
        Msg::Summary(Summary {
            shift_id: 12,
            by_state: vec![("FAILED".into(), 1, 500), ("PAID".into(), 22, 231_840)],
            paid_count: 22,
            paid_fen: 231_840,
            open_count: 1,
            first_out_trade_no: Some("POS01-20251125-AB-000001".into()),
            last_out_trade_no: Some("POS01-20251125-AB-000023".into()),
            refund_count: 1,
            refund_fen: 500,
            net_fen: 231_340,
            by_cashier: vec![("li".into(), 22, 231_840)],
            ..Summary::default()
        }),
    );
    a
}

fn typed(a: &mut App, text: &str, at: &mut i64) {
    for c in text.chars() {
        update(
            a,
            Msg::Key {
                key: Key::Char(c),
                at: *at,
            },
        );
        *at += 150;
    }
    update(a, Msg::Tick { at: *at });
}

/// A person presses one key: held for the burst gap, then released by a tick.
fn key(a: &mut App, k: Key, at: &mut i64) {
    update(a, Msg::Key { key: k, at: *at });
    update(a, Msg::Tick { at: *at + 60 });
    *at += 150;
}

fn draw(a: &App, w: u16, h: u16) -> TestBackend {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| f.render_widget(a, f.area())).unwrap();
    t.backend().clone()
}

fn order(id: i64, state: OrderState, amount: i64, reason: Option<Reason>) -> OrderRecord {
    OrderRecord {
        id,
        out_trade_no: format!("POS01-20251125-AB-{id:06}"),
        shift_id: 12,
        terminal_id: "POS01".into(),
        cashier: "li".into(),
        amount: Fen(amount),
        description: String::new(),
        code_masked: "1345 **** **** 6701".into(),
        party: scanpay::order::PartyKind::Direct,
        sub_mchid: None,
        state,
        snapshot: String::new(),
        transaction_id: (state == OrderState::Paid)
            .then(|| format!("42000002562025112501234567{id:02}")),
        reason_code: reason.as_ref().map(Reason::code),
        reason,
        created_at: T0 + 3_600_000 * 14 + 60_000 * id,
        updated_at: T0 + 3_600_000 * 14 + 60_000 * id + 7_000,
        protocol: scanpay::config::Api::V3,
    }
}

fn sale_screens(lang: Language) -> Vec<(&'static str, App)> {
    let mut out = Vec::new();
    let mut at = T0 + 1000;
    let a = app(lang);
    out.push(("sale_empty", a.clone()));
    let mut a = app(lang);
    typed(&mut a, "128.5", &mut at);
    key(&mut a, Key::Tab, &mut at);
    update(&mut a, Msg::Tick { at: at + 100 });
    at += 200;
    typed(&mut a, "coffee", &mut at);
    out.push(("sale_typed", a.clone()));
    let mut b = app(lang);
    typed(&mut b, "12.345", &mut at);
    key(&mut b, Key::Enter, &mut at);
    out.push(("sale_error", b));
    key(&mut a, Key::Tab, &mut at);
    update(&mut a, Msg::Tick { at: at + 100 });
    at += 200;
    key(&mut a, Key::Enter, &mut at);
    out.push(("await_scan", a.clone()));
    // The last call could not reach WeChat Pay (the badge is down): the sale screen says so
    // before the code is scanned, while the amount is typed and while the scan is awaited.
    let down = |mut x: App| {
        update(
            &mut x,
            Msg::Progress(Progress {
                out_trade_no: "POS01-20251125-AB-000230".into(),
                state: OrderState::Failed,
                phase: Phase::Done,
                seconds_left: 0,
                queries: 0,
                reverse_attempts: 0,
                cancelling: false,
                deadline_ms: None,
                network_ok: Some(false),
            }),
        );
        x
    };
    out.push(("sale_network_down", down(app(lang))));
    out.push(("await_scan_network_down", down(a.clone())));
    // The engine refused the code (used earlier in this shift): back to the scan, told why
    // in the screen's language.
    let mut d = a.clone();
    update(
        &mut d,
        Msg::Scan {
            raw: "134567890123456701".into(),
            at,
        },
    );
    update(
        &mut d,
        Msg::PaymentFinished(Err(Refusal::Engine(
            scanpay::order::Refusal::DuplicateCode {
                previous: "POS01-20251125-AB-000007".into(),
            },
        ))),
    );
    out.push(("duplicate_refused", d));
    update(
        &mut a,
        Msg::Scan {
            raw: "134567890123456701".into(),
            at,
        },
    );
    update(
        &mut a,
        Msg::Progress(Progress {
            out_trade_no: "POS01-20251125-AB-000231".into(),
            state: OrderState::Userpaying,
            phase: Phase::Polling,
            seconds_left: 32,
            queries: 3,
            reverse_attempts: 0,
            cancelling: false,
            deadline_ms: Some(at + 32_000),
            network_ok: Some(true),
        }),
    );
    out.push(("waiting_userpaying", a.clone()));
    let mut c = a.clone();
    key(&mut c, Key::Esc, &mut at);
    out.push(("confirm_cancel", c.clone()));
    key(&mut c, Key::Enter, &mut at);
    update(
        &mut c,
        Msg::Progress(Progress {
            out_trade_no: "POS01-20251125-AB-000231".into(),
            state: OrderState::Userpaying,
            phase: Phase::Reversing,
            seconds_left: 20,
            queries: 3,
            reverse_attempts: 1,
            cancelling: true,
            deadline_ms: Some(at + 20_000),
            network_ok: Some(false),
        }),
    );
    out.push(("waiting_cancelling", c));
    let mut p = a.clone();
    update(
        &mut p,
        Msg::PaymentFinished(Ok(order(231, OrderState::Paid, 12850, None))),
    );
    out.push(("result_paid", p));
    let mut f = a.clone();
    update(
        &mut f,
        Msg::PaymentFinished(Ok(order(
            231,
            OrderState::Failed,
            12850,
            Some(Reason::Declined {
                code: "NOTENOUGH".into(),
                en: "the customer's balance is not enough: ask them to pick another card".into(),
                zh: "顾客余额不足，请顾客更换付款方式".into(),
            }),
        ))),
    );
    out.push(("result_not_charged", f));
    let mut u = a;
    update(
        &mut u,
        Msg::PaymentFinished(Ok(order(
            231,
            OrderState::Unresolved,
            12850,
            Some(Reason::ReverseExhausted { attempts: 6 }),
        ))),
    );
    out.push(("result_attention", u));
    out
}

fn other_screens(lang: Language) -> Vec<(&'static str, App)> {
    let mut out = Vec::new();
    let mut at = T0 + 1000;
    let mut h = app(lang);
    key(&mut h, Key::F(2), &mut at);
    update(
        &mut h,
        Msg::History(vec![
            order(1, OrderState::Paid, 1250, None),
            order(2, OrderState::Failed, 500, Some(Reason::CustomerCancelled)),
            order(
                3,
                OrderState::Unresolved,
                9900,
                Some(Reason::ReverseExhausted { attempts: 6 }),
            ),
            order(4, OrderState::Paid, 123_456, None),
        ]),
    );
    out.push(("history", h.clone()));
    let o = order(1, OrderState::Paid, 1250, None);
    let ev = |dt: i64, kind: &str, st: &str| OrderEvent {
        at: o.created_at + dt,
        kind: scanpay::order::EventKind::parse(kind).unwrap(),
        detail: "{}".into(),
        state_after: st.into(),
    };
    let events = vec![
        ev(0, "created", "PENDING"),
        ev(0, "pay_request", "PENDING"),
        ev(300, "pay_answer", "USERPAYING"),
        ev(5_000, "query_answer", "USERPAYING"),
        ev(10_000, "query_answer", "PAID"),
    ];
    let receipt = {
        let data = scanpay::receipt::layout::SaleReceipt {
            lang,
            store_name: "示例便利店".into(),
            sub_merchant: None,
            terminal_id: "POS01".into(),
            cashier: "li".into(),
            shift_id: 12,
            at_ms: o.created_at,
            tz: jiff::tz::TimeZone::get("Asia/Shanghai").unwrap(),
            amount: o.amount,
            description: String::new(),
            code_masked: o.code_masked.clone(),
            out_trade_no: o.out_trade_no.clone(),
            transaction_id: o.transaction_id.clone(),
            state: o.state,
            refunds: vec![],
            copy_at_ms: None,
            training: false,
        };
        scanpay::receipt::layout::to_text(&scanpay::receipt::layout::sale(&data, 32))
    };
    update(&mut h, Msg::Detail(o.clone(), events, Some(receipt)));
    out.push(("history_detail", h.clone()));
    key(&mut h, Key::Esc, &mut at);
    key(&mut h, Key::F(7), &mut at);
    typed(&mut h, "5", &mut at);
    key(&mut h, Key::Tab, &mut at);
    update(&mut h, Msg::Tick { at: at + 100 });
    at += 200;
    typed(&mut h, "quality", &mut at);
    key(&mut h, Key::Tab, &mut at);
    update(&mut h, Msg::Tick { at: at + 100 });
    at += 200;
    typed(&mut h, "demo", &mut at);
    key(&mut h, Key::Tab, &mut at);
    update(&mut h, Msg::Tick { at: at + 100 });
    at += 200;
    typed(&mut h, "00", &mut at);
    out.push(("refund_form", h));
    let mut s = app(lang);
    key(&mut s, Key::F(3), &mut at);
    out.push(("shift_x", s.clone()));
    update(&mut s, Msg::ShiftClosed(Err("cannot close shift #12: 1 order(s) not settled: POS01-20251125-AB-000003 (UNRESOLVED); run `scanpay recover` first".into())));
    out.push(("shift_refused", s));
    let mut o = app(lang);
    update(&mut o, Msg::ShiftLoaded(None));
    typed(&mut o, "wang", &mut at);
    out.push(("open_shift", o));
    let mut help = app(lang);
    key(&mut help, Key::F(1), &mut at);
    out.push(("help", help));
    let mut hint = app(lang);
    update(
        &mut hint,
        Msg::Scan {
            raw: "289431869362714645".into(),
            at,
        },
    );
    out.push(("scan_ignored_hint", hint));
    // Ctrl-Q by hand: the question, answered only by Ctrl-Q again.
    let mut quit = app(lang);
    key(&mut quit, Key::CtrlQ, &mut at);
    out.push(("confirm_quit", quit));
    // A burst with control keys in it, thrown away with one hint.
    let mut discarded = app(lang);
    typed(&mut discarded, "500", &mut at);
    key(&mut discarded, Key::Enter, &mut at);
    for k in [
        Key::Esc,
        Key::Esc,
        Key::Char('0'),
        Key::Char('1'),
        Key::Enter,
    ] {
        update(&mut discarded, Msg::Key { key: k, at });
        at += 2;
    }
    update(&mut discarded, Msg::Tick { at: at + 60 });
    out.push(("burst_discarded", discarded));
    out
}

#[test]
fn screens_zh() {
    for (name, a) in sale_screens(Language::Zh)
        .into_iter()
        .chain(other_screens(Language::Zh))
    {
        insta::assert_snapshot!(format!("zh_{name}"), draw(&a, 80, 24));
    }
}

#[test]
fn screens_en() {
    for (name, a) in sale_screens(Language::En)
        .into_iter()
        .chain(other_screens(Language::En))
    {
        insta::assert_snapshot!(format!("en_{name}"), draw(&a, 80, 24));
    }
}

#[test]
fn scales_up_to_a_larger_terminal() {
    let screens = sale_screens(Language::Zh);
    let (_, paid) = screens.iter().find(|(n, _)| *n == "result_paid").unwrap();
    insta::assert_snapshot!("zh_result_paid_120x30", draw(paid, 120, 30));
}

#[test]
fn nothing_important_is_cut_off_at_80_columns() {
    for lang in [Language::Zh, Language::En] {
        let badge = if lang == Language::Zh {
            "模拟器"
        } else {
            "SIMULATOR"
        };
        for (name, a) in sale_screens(lang).into_iter().chain(other_screens(lang)) {
            let b = draw(&a, 80, 24);
            let buf = b.buffer();
            let row = |y: u16| -> String {
                (0..80)
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect::<String>()
                    .replace(' ', "")
            };
            assert!(
                row(0).contains(&badge.replace(' ', "")),
                "{lang:?} {name}: status line cut: {}",
                row(0)
            );
            let keys = row(23);
            assert!(
                keys.contains("Esc") || keys.contains("Ctrl-Q"),
                "{lang:?} {name}: key bar cut: {keys}"
            );
        }
    }
}

/// A service provider's till: the shift screen (F3) names the sub-merchant above the figures.
/// (The status line has no place for the merchant in the screen sketches, so it is unchanged.)
#[test]
fn the_shift_screen_of_a_partner_till_names_the_sub_merchant() {
    for lang in [Language::Zh, Language::En] {
        let mut s = app(lang);
        update(
            &mut s,
            Msg::Summary(Summary {
                shift_id: 12,
                by_state: vec![("PAID".into(), 22, 231_840)],
                paid_count: 22,
                paid_fen: 231_840,
                net_fen: 231_840,
                by_cashier: vec![("li".into(), 22, 231_840)],
                first_out_trade_no: Some("POS01-20251125-AB-000001".into()),
                last_out_trade_no: Some("POS01-20251125-AB-000022".into()),
                sub_merchant: Some(scanpay::order::SubMerchant {
                    sub_mchid: "1900000109".into(),
                    name: Some("示例便利店南山店".into()),
                }),
                ..Summary::default()
            }),
        );
        let mut at = T0 + 1_000;
        key(&mut s, Key::F(3), &mut at);
        let b = draw(&s, 80, 24);
        let text: String = (0..24)
            .map(|y| {
                (0..80)
                    .map(|x| b.buffer()[(x, y)].symbol().to_string())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n");
        let label = match lang {
            Language::Zh => "特约商户",
            Language::En => "sub-merchant",
        };
        // Wide characters leave an empty cell behind them: compare without spaces.
        assert!(
            text.lines().map(|l| l.replace(' ', "")).any(|l| {
                l.contains(&format!("{label}1900000109示例便利店南山店").replace(' ', ""))
            }),
            "{text}"
        );
        insta::assert_snapshot!(format!("{lang:?}_shift_x_partner").to_lowercase(), b);
    }
}
