//! The cashier screen after WeChat Pay refused this till's request signature (an unsigned
//! 401): a configuration alert, new sales refused, F4 runs the check, a passing check lifts
//! the alert. Pure `update`, explicit timestamps.

use scanpay::config::Language;
use scanpay::engine::OrderState;
use scanpay::engine::micropay::Reason;
use scanpay::i18n;
use scanpay::money::Fen;
use scanpay::store::orders::OrderRecord;
use scanpay::store::shifts::Shift;
use scanpay::tui::app::{App, AppConfig, CheckResult, Cmd, ConfigCheck, Msg, Theme};
use scanpay::tui::keys::{Action, Key, action_for};
use scanpay::tui::screen::{Hint, ScreenKind};
use scanpay::tui::update::update;
use scanpay::tui::wedge::WedgeConfig;

const T0: i64 = 1_764_000_000_000;
const CODE: &str = "134567890123456711";

fn app() -> App {
    let mut a = App::new(
        AppConfig {
            lang: Language::En,
            theme: Theme::NoColor,
            terminal_id: "POS01".into(),
            simulator: false,
            max_amount: Fen(500_000),
            wedge: WedgeConfig::default(),
            serial_scanner: false,
        },
        T0,
    );
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
    a
}

fn key(a: &mut App, key: Key, at: i64) -> Vec<Cmd> {
    let mut cmds = update(a, Msg::Key { key, at });
    cmds.extend(update(a, Msg::Tick { at: at + 51 }));
    cmds
}

/// Types an amount slowly and presses Enter; returns the time after.
fn amount(a: &mut App, text: &str, mut at: i64) -> (Vec<Cmd>, i64) {
    for c in text.chars() {
        update(
            a,
            Msg::Key {
                key: Key::Char(c),
                at,
            },
        );
        at += 120;
    }
    update(a, Msg::Tick { at });
    let cmds = key(a, Key::Enter, at + 200);
    (cmds, at + 400)
}

fn rejected_order() -> OrderRecord {
    let reason = Reason::RequestRejected {
        code: "SIGN_ERROR".into(),
    };
    OrderRecord {
        id: 1,
        out_trade_no: "POS01-20251125-AB-000001".into(),
        shift_id: 12,
        terminal_id: "POS01".into(),
        cashier: "li".into(),
        amount: Fen(1234),
        description: String::new(),
        party: scanpay::order::PartyKind::Direct,
        sub_mchid: None,
        code_masked: "1345 **** **** 6711".into(),
        state: OrderState::Failed,
        snapshot: String::new(),
        transaction_id: None,
        reason_code: Some(reason.code()),
        reason: Some(reason),
        created_at: T0,
        updated_at: T0 + 300,
        protocol: scanpay::config::Api::V3,
    }
}

fn hint(a: &App) -> Option<&Hint> {
    a.hint.as_ref().map(|(h, _)| h)
}

#[test]
fn a_rejected_sale_raises_the_alert_and_refuses_sales_until_a_check_passes() {
    let mut a = app();
    assert_eq!(a.config_alert, None);
    // No alert, no failed check: F4 is not offered.
    assert_eq!(action_for(&a.view(), Key::F(4)), None);

    // One sale, refused by WeChat before processing.
    let (_, t) = amount(&mut a, "12.34", T0);
    let cmds = update(
        &mut a,
        Msg::Scan {
            raw: CODE.into(),
            at: t,
        },
    );
    assert!(matches!(cmds.as_slice(), [Cmd::StartPayment { .. }]));
    update(&mut a, Msg::PaymentFinished(Ok(rejected_order())));
    assert_eq!(a.screen.kind(), ScreenKind::Result);
    assert_eq!(a.config_alert.as_ref().unwrap().code, "SIGN_ERROR");
    assert_eq!(action_for(&a.view(), Key::F(4)), Some(Action::RunCheck));

    // The next sale cannot even take its amount: the screen says why and how to fix it.
    key(&mut a, Key::Enter, t + 1_000); // next sale
    assert_eq!(a.screen.kind(), ScreenKind::Sale);
    let (cmds, t) = amount(&mut a, "5", t + 2_000);
    assert!(cmds.is_empty());
    assert_eq!(
        a.sale().unwrap().confirmed,
        None,
        "no sale while the alert is up"
    );
    assert_eq!(hint(&a), Some(&Hint::ConfigAlert));
    let words = i18n::hint(a.lang, &Hint::ConfigAlert);
    assert!(
        words.contains("F4") && words.contains("scanpay check"),
        "{words}"
    );

    // F4 runs the check once (a second press while it runs starts nothing).
    let cmds = key(&mut a, Key::F(4), t);
    assert!(matches!(cmds.as_slice(), [Cmd::RunCheck]));
    assert_eq!(a.config_check, ConfigCheck::Running);
    assert!(key(&mut a, Key::F(4), t + 100).is_empty());

    // A failing check keeps the alert.
    update(
        &mut a,
        Msg::CheckFinished(CheckResult::Failed {
            problem: "WeChat Pay refused the request's signature".into(),
            fix: Some("check wechatpay.merchant_serial_no".into()),
        }),
    );
    assert!(a.config_alert.is_some());
    assert!(matches!(a.config_check, ConfigCheck::Failed { .. }));
    let (_, t) = amount(&mut a, "5", t + 1_000);
    assert_eq!(a.sale().unwrap().confirmed, None);

    // A passing check lifts it: sales work again.
    key(&mut a, Key::F(4), t);
    update(&mut a, Msg::CheckFinished(CheckResult::Passed));
    assert_eq!(a.config_alert, None);
    assert_eq!(a.config_check, ConfigCheck::Passed);
    assert_eq!(action_for(&a.view(), Key::F(4)), None);
    key(&mut a, Key::Esc, t + 500); // clear what was typed while refused
    let (_, _) = amount(&mut a, "5", t + 1_000);
    assert_eq!(a.sale().unwrap().confirmed, Some(Fen(500)));
}

#[test]
fn a_failed_start_check_offers_f4_without_blocking_sales() {
    let mut a = app();
    update(
        &mut a,
        Msg::CheckFinished(CheckResult::Failed {
            problem: "the till's clock is 400 s behind WeChat Pay's".into(),
            fix: None,
        }),
    );
    assert_eq!(action_for(&a.view(), Key::F(4)), Some(Action::RunCheck));
    assert_eq!(
        i18n::check_badge(Language::En, &a.config_check),
        Some("✘ config")
    );
    // Only a refusal by WeChat blocks sales; a check's warning about the clock does not.
    let (_, _) = amount(&mut a, "5", T0);
    assert_eq!(a.sale().unwrap().confirmed, Some(Fen(500)));
}
