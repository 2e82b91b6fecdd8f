//! The cashier screen's `update`, screen by screen, with explicit timestamps.

use scanpay::config::Language;
use scanpay::engine::micropay::{Phase, Reason};
use scanpay::engine::{OrderState, Progress};
use scanpay::i18n;
use scanpay::money::Fen;
use scanpay::store::orders::OrderRecord;
use scanpay::store::shifts::Shift;
use scanpay::tui::app::{App, AppConfig, Cmd, Msg, Theme};
use scanpay::tui::form::SupervisorForm;
use scanpay::tui::keys::Key;
use scanpay::tui::screen::{Hint, Outcome, Overlay, Refusal, ScreenKind};
use scanpay::tui::update::update;
use scanpay::tui::wedge::WedgeConfig;

const T0: i64 = 1_764_000_000_000;
const CODE: &str = "134567890123456711";

fn app(lang: Language) -> App {
    let mut a = App::new(
        AppConfig {
            lang,
            theme: Theme::NoColor,
            terminal_id: "POS01".into(),
            simulator: true,
            max_amount: Fen(500_000),
            wedge: WedgeConfig::default(),
            serial_scanner: false,
        },
        T0,
    );
    let shift = Shift {
        id: 12,
        terminal_id: "POS01".into(),
        cashier: "li".into(),
        opened_at: T0,
        closed_at: None,
        z_number: None,
    };
    let cmds = update(&mut a, Msg::ShiftLoaded(Some(shift)));
    assert!(matches!(cmds.as_slice(), [Cmd::LoadSummary]));
    assert_eq!(a.screen.kind(), ScreenKind::Sale);
    a
}

/// A person typing: 120 ms between keys, then a tick that releases the last key.
fn type_slowly(a: &mut App, text: &str, mut at: i64) -> (Vec<Cmd>, i64) {
    let mut cmds = Vec::new();
    for c in text.chars() {
        cmds.extend(update(
            a,
            Msg::Key {
                key: Key::Char(c),
                at,
            },
        ));
        at += 120;
    }
    cmds.extend(update(a, Msg::Tick { at }));
    (cmds, at)
}

/// The passing message, in the screen's language.
fn hint(a: &App) -> String {
    a.hint
        .as_ref()
        .map(|(h, _)| i18n::hint(a.lang, h))
        .unwrap_or_default()
}

/// Why the typed amount was refused, in words.
fn sale_error(a: &App) -> Option<String> {
    let e = a.sale()?.error.as_ref()?;
    Some(i18n::amount_error(a.lang, e))
}

/// Why the supervisor form was refused, in words.
fn form_error(a: &App) -> Option<String> {
    Some(i18n::form_error(a.lang, a.form()?.error()?))
}

/// The shift screen's report, in words.
fn shift_note(a: &App) -> String {
    a.shift_note()
        .map(|n| i18n::shift_note(a.lang, n))
        .unwrap_or_default()
}

/// A person presses one key: the classifier holds it for the burst gap (50 ms), and the
/// tick after the gap lets it act.
fn key(a: &mut App, key: Key, at: i64) -> Vec<Cmd> {
    let mut cmds = update(a, Msg::Key { key, at });
    cmds.extend(update(a, Msg::Tick { at: at + 51 }));
    cmds
}

/// A wedge scanner: the whole code 3 ms apart, then Enter.
fn wedge_scan(a: &mut App, code: &str, mut at: i64) -> (Vec<Cmd>, i64) {
    let mut cmds = Vec::new();
    for c in code.chars() {
        cmds.extend(update(
            a,
            Msg::Key {
                key: Key::Char(c),
                at,
            },
        ));
        at += 3;
    }
    cmds.extend(update(
        a,
        Msg::Key {
            key: Key::Enter,
            at,
        },
    ));
    // The burst ends at the silence after its suffix.
    cmds.extend(update(a, Msg::Tick { at: at + 60 }));
    (cmds, at + 60)
}

fn order(state: OrderState, reason: Option<Reason>) -> OrderRecord {
    OrderRecord {
        id: 1,
        out_trade_no: "POS01-20251125-AB-000001".into(),
        shift_id: 12,
        terminal_id: "POS01".into(),
        cashier: "li".into(),
        amount: Fen(1234),
        description: String::new(),
        code_masked: "1345 **** **** 6711".into(),
        party: scanpay::order::PartyKind::Direct,
        sub_mchid: None,
        state,
        snapshot: String::new(),
        transaction_id: (state == OrderState::Paid).then(|| "4200000000202511250000000001".into()),
        reason_code: reason.as_ref().map(Reason::code),
        reason,
        created_at: T0,
        updated_at: T0 + 3_000,
        protocol: scanpay::config::Api::V3,
    }
}

#[test]
fn typed_amount_then_a_wedge_scan_starts_one_payment() {
    let mut a = app(Language::Zh);
    let (cmds, t) = type_slowly(&mut a, "12.34", T0);
    assert!(cmds.is_empty());
    assert_eq!(a.sale().unwrap().amount.value(), "12.34");
    assert!(key(&mut a, Key::Enter, t + 200).is_empty());
    assert_eq!(a.sale().unwrap().confirmed, Some(Fen(1234)));
    let (cmds, _) = wedge_scan(&mut a, CODE, t + 1000);
    let [
        Cmd::StartPayment {
            amount,
            code,
            shift_id,
            cashier,
            ..
        },
    ] = cmds.as_slice()
    else {
        panic!("{cmds:?}")
    };
    assert_eq!(
        (*amount, *shift_id, cashier.as_str()),
        (Fen(1234), 12, "li")
    );
    assert_eq!(code.expose(), CODE);
    assert_eq!(a.screen.kind(), ScreenKind::Waiting);
    assert_eq!(a.payment().unwrap().masked, "1345 **** **** 6711");
}

#[test]
fn a_scan_never_lands_in_the_amount_field() {
    let mut a = app(Language::Zh);
    // Nothing typed yet: the scan is ignored with a hint, and the field stays empty.
    let (cmds, t) = wedge_scan(&mut a, CODE, T0);
    assert!(cmds.is_empty());
    assert_eq!(a.sale().unwrap().amount.value(), "");
    assert!(hint(&a).contains("先输入金额"));
    // Half an amount typed: still not charged, the amount keeps what was typed.
    let (_, t) = type_slowly(&mut a, "5", t + 500);
    let (cmds, _) = wedge_scan(&mut a, CODE, t + 500);
    assert!(cmds.is_empty());
    assert_eq!(a.sale().unwrap().amount.value(), "5");
}

#[test]
fn typed_digits_never_become_a_charge() {
    let mut a = app(Language::En);
    let (_, t) = type_slowly(&mut a, "8", T0);
    key(&mut a, Key::Enter, t + 200);
    // A person types a code by hand while the scan is awaited.
    let (cmds, t) = type_slowly(&mut a, CODE, t + 500);
    let cmds2 = key(&mut a, Key::Enter, t + 200);
    assert!(cmds.is_empty() && cmds2.is_empty(), "{cmds:?} {cmds2:?}");
    assert_eq!(a.screen.kind(), ScreenKind::Sale);
    assert!(hint(&a).contains("typed codes are not charged"));
}

#[test]
fn a_wedge_scan_without_suffix_ends_on_silence() {
    let mut a = app(Language::En);
    let (_, t) = type_slowly(&mut a, "3", T0);
    key(&mut a, Key::Enter, t + 200);
    let mut at = t + 1000;
    for c in CODE.chars() {
        assert!(
            update(
                &mut a,
                Msg::Key {
                    key: Key::Char(c),
                    at
                }
            )
            .is_empty()
        );
        at += 4;
    }
    assert!(update(&mut a, Msg::Tick { at: at + 20 }).is_empty());
    let cmds = update(&mut a, Msg::Tick { at: at + 80 });
    assert!(matches!(cmds.as_slice(), [Cmd::StartPayment { .. }]));
}

#[test]
fn other_wallets_and_garbage_get_a_message_not_a_request() {
    let mut a = app(Language::Zh);
    let (_, t) = type_slowly(&mut a, "8", T0);
    key(&mut a, Key::Enter, t + 200);
    for (code, words) in [
        ("289431869362714645", "支付宝"),
        ("6212345678901234567", "云闪付"),
        ("6901234567892", "不是微信付款码"),
    ] {
        let cmds = update(
            &mut a,
            Msg::Scan {
                raw: code.into(),
                at: t + 1000,
            },
        );
        assert!(cmds.is_empty());
        assert!(hint(&a).contains(words), "{code}: {:?}", a.hint);
        assert_eq!(a.screen.kind(), ScreenKind::Sale);
    }
}

#[test]
fn amount_errors_are_explained() {
    let mut a = app(Language::En);
    let (_, t) = type_slowly(&mut a, "12.345", T0);
    key(&mut a, Key::Enter, t + 200);
    assert_eq!(
        sale_error(&a).as_deref(),
        Some("at most two decimals (fen is the smallest unit)")
    );
    assert_eq!(a.sale().unwrap().confirmed, None);
    key(&mut a, Key::Esc, t + 300);
    let (_, t) = type_slowly(&mut a, "99999", t + 400);
    key(&mut a, Key::Enter, t + 200);
    assert!(sale_error(&a).unwrap().contains("over the limit"));
    key(&mut a, Key::Esc, t + 300);
    key(&mut a, Key::Enter, t + 400);
    assert_eq!(sale_error(&a).as_deref(), Some("enter an amount"));
}

#[test]
fn the_same_code_twice_within_seconds_is_refused() {
    let mut a = app(Language::En);
    let (_, t) = type_slowly(&mut a, "1", T0);
    key(&mut a, Key::Enter, t + 200);
    assert!(
        !update(
            &mut a,
            Msg::Scan {
                raw: CODE.into(),
                at: t + 500
            }
        )
        .is_empty()
    );
    // The engine refused it (e.g. used this shift): back to the scan, amount kept.
    update(
        &mut a,
        Msg::PaymentFinished(Err(Refusal::Engine(
            scanpay::order::Refusal::DuplicateCode {
                previous: "POS01-20251125-AB-000001".into(),
            },
        ))),
    );
    assert_eq!(a.screen.kind(), ScreenKind::Sale);
    assert_eq!(a.sale().unwrap().confirmed, Some(Fen(100)));
    assert!(
        hint(&a).contains("this payment code was already used in this shift"),
        "{}",
        hint(&a)
    );
    assert!(
        update(
            &mut a,
            Msg::Scan {
                raw: CODE.into(),
                at: t + 1500
            }
        )
        .is_empty()
    );
    assert!(hint(&a).contains("just scanned"));
    assert!(
        !update(
            &mut a,
            Msg::Scan {
                raw: CODE.into(),
                at: t + 7000
            }
        )
        .is_empty()
    );
}

#[test]
fn waiting_shows_progress_and_esc_asks_before_reversing() {
    let mut a = app(Language::Zh);
    let (_, t) = type_slowly(&mut a, "9", T0);
    key(&mut a, Key::Enter, t + 200);
    update(
        &mut a,
        Msg::Scan {
            raw: "134567890123456701".into(),
            at: t + 500,
        },
    );
    update(
        &mut a,
        Msg::Progress(Progress {
            out_trade_no: "POS01-X-000001".into(),
            state: OrderState::Userpaying,
            phase: Phase::Polling,
            seconds_left: 45,
            queries: 1,
            reverse_attempts: 0,
            cancelling: false,
            deadline_ms: Some(t + 45_500),
            network_ok: Some(true),
        }),
    );
    let p = a.payment().unwrap();
    assert_eq!(
        (p.state, p.queries, p.out_trade_no.as_deref()),
        (OrderState::Userpaying, 1, Some("POS01-X-000001"))
    );
    // Esc asks first; Esc again keeps waiting.
    assert!(key(&mut a, Key::Esc, t + 2000).is_empty());
    assert_eq!(a.overlay, Some(Overlay::ConfirmCancel));
    key(&mut a, Key::Esc, t + 2100);
    assert_eq!(a.overlay, None);
    // Esc, Enter: cancel = reverse.
    key(&mut a, Key::Esc, t + 2200);
    let cmds = key(&mut a, Key::Enter, t + 2300);
    assert!(matches!(cmds.as_slice(), [Cmd::CancelPayment]));
    assert!(a.payment().unwrap().cancelling);
    // A scan while waiting is ignored.
    assert!(
        update(
            &mut a,
            Msg::Scan {
                raw: "134567890123456712".into(),
                at: t + 2400
            }
        )
        .is_empty()
    );
}

#[test]
fn results_are_unmistakable_and_typing_starts_the_next_sale() {
    let mut a = app(Language::En);
    for (state, reason, outcome) in [
        (OrderState::Paid, None, Outcome::Paid),
        (
            OrderState::Failed,
            Some(Reason::Declined {
                code: "NOTENOUGH".into(),
                en: "balance too low".into(),
                zh: "余额不足".into(),
            }),
            Outcome::NotCharged,
        ),
        (
            OrderState::Reversed,
            Some(Reason::CashierCancelled),
            Outcome::NotCharged,
        ),
        (
            OrderState::Unresolved,
            Some(Reason::ReverseExhausted { attempts: 6 }),
            Outcome::Attention,
        ),
    ] {
        let (_, t) = type_slowly(&mut a, "1", T0);
        key(&mut a, Key::Enter, t + 200);
        update(
            &mut a,
            Msg::Scan {
                raw: CODE.into(),
                at: t + 10_000 * (state as i64 + 1),
            },
        );
        update(
            &mut a,
            Msg::PaymentFinished(Ok(order(state, reason.clone()))),
        );
        let r = a.result().unwrap();
        assert_eq!(a.screen.kind(), ScreenKind::Result);
        assert_eq!(r.outcome, outcome, "{state:?}");
        if let Some(reason) = reason {
            assert_eq!(
                i18n::result_note(Language::En, &r.note),
                i18n::reason(&reason, Language::En)
            );
        }
        // Typing the next amount starts the next sale.
        let (_, _) = type_slowly(&mut a, "7", t + 50_000 * (state as i64 + 1));
        assert_eq!(a.screen.kind(), ScreenKind::Sale);
        assert_eq!(a.sale().unwrap().amount.value(), "7");
        key(&mut a, Key::Esc, t + 60_000 * (state as i64 + 1));
    }
}

#[test]
fn quitting_with_a_payment_in_flight_asks_first() {
    let mut a = app(Language::Zh);
    let (_, t) = type_slowly(&mut a, "1", T0);
    key(&mut a, Key::Enter, t + 200);
    update(
        &mut a,
        Msg::Scan {
            raw: CODE.into(),
            at: t + 500,
        },
    );
    assert!(key(&mut a, Key::CtrlQ, t + 600).is_empty());
    assert!(matches!(a.overlay, Some(Overlay::ConfirmQuit { .. })));
    // Enter is not a yes here: only the quit key again.
    assert!(key(&mut a, Key::Enter, t + 1_000).is_empty());
    assert!(matches!(a.overlay, Some(Overlay::ConfirmQuit { .. })));
    assert!(matches!(
        key(&mut a, Key::CtrlQ, t + 1_500).as_slice(),
        [Cmd::Quit]
    ));
    assert!(a.quit);
}

#[test]
fn history_search_details_and_retry() {
    let mut a = app(Language::En);
    assert!(matches!(
        key(&mut a, Key::F(2), T0).as_slice(),
        [Cmd::LoadHistory]
    ));
    assert_eq!(a.screen.kind(), ScreenKind::History);
    let mut paid = order(OrderState::Paid, None);
    let mut stuck = order(
        OrderState::Unresolved,
        Some(Reason::ReverseExhausted { attempts: 6 }),
    );
    stuck.id = 2;
    stuck.out_trade_no = "POS01-20251125-AB-000002".into();
    stuck.amount = Fen(500);
    paid.amount = Fen(1250);
    update(&mut a, Msg::History(vec![paid, stuck]));
    // Newest first.
    assert_eq!(a.history().unwrap().filtered()[0].id, 2);
    assert!(a.view().selected_unresolved);
    let cmds = key(&mut a, Key::F(6), T0 + 100);
    assert!(matches!(cmds.as_slice(), [Cmd::RetryOrder(2)]));
    // Search by amount, then by last digits.
    let (_, t) = type_slowly(&mut a, "12.5", T0 + 200);
    assert_eq!(a.history().unwrap().filtered().len(), 1);
    assert_eq!(a.history().unwrap().filtered()[0].amount, Fen(1250));
    for _ in 0..4 {
        key(&mut a, Key::Backspace, t);
    }
    let (_, t) = type_slowly(&mut a, "000002", t + 100);
    assert_eq!(a.history().unwrap().filtered().len(), 1);
    let cmds = key(&mut a, Key::Enter, t + 300);
    assert!(matches!(cmds.as_slice(), [Cmd::LoadDetail(2)]));
    key(&mut a, Key::Esc, t + 400);
    key(&mut a, Key::Esc, t + 500);
    assert_eq!(a.screen.kind(), ScreenKind::Sale);
}

#[test]
fn shift_close_asks_and_reports() {
    let mut a = app(Language::En);
    key(&mut a, Key::F(3), T0);
    assert_eq!(a.screen.kind(), ScreenKind::Shift);
    key(&mut a, Key::F(10), T0 + 100);
    assert_eq!(a.overlay, Some(Overlay::ConfirmClose));
    let cmds = key(&mut a, Key::Enter, T0 + 200);
    assert!(matches!(cmds.as_slice(), [Cmd::CloseShift]));
    update(
        &mut a,
        Msg::ShiftClosed(Err(
            "cannot close shift #12: 1 order(s) not settled: X (UNRESOLVED)".into(),
        )),
    );
    assert!(shift_note(&a).contains("UNRESOLVED"));
    assert!(a.shift.is_some());
}

#[test]
fn live_mode_without_a_shift_asks_for_the_cashier() {
    let mut a = app(Language::En);
    update(&mut a, Msg::ShiftLoaded(None));
    assert_eq!(a.screen.kind(), ScreenKind::OpenShift);
    let (_, t) = type_slowly(&mut a, "wang", T0);
    let cmds = key(&mut a, Key::Enter, t + 200);
    assert!(matches!(cmds.as_slice(), [Cmd::OpenShift(c)] if c == "wang"));
}

#[test]
fn key_bar_offers_only_valid_keys_and_help_lists_them() {
    use scanpay::tui::keys::{Action, bindings};
    let mut a = app(Language::En);
    let actions: Vec<Action> = bindings(&a.view()).iter().map(|b| b.action).collect();
    assert!(actions.contains(&Action::ConfirmAmount) && !actions.contains(&Action::CancelPayment));
    // '?' opens help from the amount field, but is text in the note field.
    key(&mut a, Key::Char('?'), T0);
    update(&mut a, Msg::Tick { at: T0 + 100 });
    assert_eq!(a.overlay, Some(Overlay::Help));
    key(&mut a, Key::Esc, T0 + 200);
    key(&mut a, Key::Tab, T0 + 300);
    update(&mut a, Msg::Tick { at: T0 + 400 });
    assert!(a.sale().unwrap().note_focused);
    key(&mut a, Key::Char('?'), T0 + 500);
    update(&mut a, Msg::Tick { at: T0 + 600 });
    assert_eq!(a.overlay, None);
    assert_eq!(a.sale().unwrap().note.value(), "?");
}

#[test]
fn paste_goes_through_the_same_validator() {
    let mut a = app(Language::En);
    // A paste is held like a key and acts once it is alone (the tick after the gap).
    let paste = |a: &mut App, text: &str, at: i64| {
        let mut cmds = update(
            a,
            Msg::Paste {
                text: text.into(),
                at,
            },
        );
        cmds.extend(update(a, Msg::Tick { at: at + 51 }));
        cmds
    };
    // A pasted code while typing the amount: never into the amount field.
    paste(&mut a, CODE, T0);
    assert_eq!(a.sale().unwrap().amount.value(), "");
    paste(&mut a, "12.5", T0 + 200);
    assert_eq!(a.sale().unwrap().amount.value(), "12.5");
    // Pasted text is text: a `?` in it does not open the help.
    paste(&mut a, "?", T0 + 400);
    assert_eq!(a.overlay, None);
    key(&mut a, Key::Enter, T0 + 500);
    let cmds = paste(&mut a, &format!("{CODE}\n"), T0 + 1000);
    assert!(matches!(cmds.as_slice(), [Cmd::StartPayment { .. }]));
}

#[test]
fn a_paid_sale_prints_and_f5_reprints_one_marked_copy() {
    let mut a = app(Language::Zh);
    let (_, t) = type_slowly(&mut a, "1", T0);
    key(&mut a, Key::Enter, t + 200);
    update(
        &mut a,
        Msg::Scan {
            raw: CODE.into(),
            at: t + 500,
        },
    );
    let cmds = update(
        &mut a,
        Msg::PaymentFinished(Ok(order(OrderState::Paid, None))),
    );
    assert!(
        cmds.iter().any(|c| matches!(
            c,
            Cmd::Print {
                order_id: 1,
                copy: false
            }
        )),
        "{cmds:?}"
    );
    let cmds = key(&mut a, Key::F(5), t + 1000);
    assert!(
        matches!(
            cmds.as_slice(),
            [Cmd::Print {
                order_id: 1,
                copy: true
            }]
        ),
        "{cmds:?}"
    );
    // A sale that was not charged has no receipt and no reprint key.
    let (_, t) = type_slowly(&mut a, "2", t + 2000);
    key(&mut a, Key::Enter, t + 200);
    update(
        &mut a,
        Msg::Scan {
            raw: "134567890123456712".into(),
            at: t + 500,
        },
    );
    let cmds = update(
        &mut a,
        Msg::PaymentFinished(Ok(order(
            OrderState::Failed,
            Some(Reason::CustomerCancelled),
        ))),
    );
    assert!(!cmds.iter().any(|c| matches!(c, Cmd::Print { .. })));
    assert!(key(&mut a, Key::F(5), t + 1000).is_empty());
}

#[test]
fn refund_from_history_needs_a_supervisor_form() {
    let mut a = app(Language::En);
    key(&mut a, Key::F(2), T0);
    update(&mut a, Msg::History(vec![order(OrderState::Paid, None)]));
    assert!(a.view().can_refund);
    key(&mut a, Key::F(7), T0 + 100);
    assert!(matches!(a.overlay, Some(Overlay::Form(_))));
    // More than was paid (¥12.34) is refused in the form.
    let (_, t) = type_slowly(&mut a, "20.00", T0 + 200);
    assert!(key(&mut a, Key::Enter, t + 100).is_empty());
    update(&mut a, Msg::Tick { at: t + 300 });
    assert!(form_error(&a).unwrap().contains("over the limit"));
    for i in 0..5 {
        key(&mut a, Key::Backspace, t + 400 + i);
    }
    let (_, t) = type_slowly(&mut a, "2.50", t + 500);
    // A field left empty: refused with a message, nothing sent.
    assert!(key(&mut a, Key::Enter, t + 100).is_empty());
    update(&mut a, Msg::Tick { at: t + 300 });
    assert!(form_error(&a).is_some());
    let mut t = t + 400;
    for text in ["return", "demo", "0x0a00"] {
        key(&mut a, Key::Tab, t);
        update(&mut a, Msg::Tick { at: t + 100 });
        t = type_slowly(&mut a, text, t + 200).1;
    }
    let Some(SupervisorForm::Refund(r)) = a.form() else {
        panic!("{:?}", a.overlay)
    };
    assert_eq!(r.pin.value(), "0000", "PIN takes digits only");
    assert!(hint(&a).contains("PIN takes digits only"), "{}", hint(&a));
    let cmds = key(&mut a, Key::Enter, t + 100);
    update(&mut a, Msg::Tick { at: t + 300 });
    let [
        Cmd::Refund {
            out_trade_no,
            amount,
            reason,
            supervisor,
            pin,
        },
    ] = cmds.as_slice()
    else {
        panic!("{cmds:?}")
    };
    assert_eq!(
        (
            out_trade_no.as_str(),
            *amount,
            reason.as_str(),
            supervisor.as_str(),
            pin.as_str()
        ),
        (
            "POS01-20251125-AB-000001",
            Fen(250),
            "return",
            "demo",
            "0000"
        )
    );
    assert!(a.form().is_none() && a.overlay.is_none());
    let cmds = update(&mut a, Msg::RefundFinished(Ok("✔ refunded ¥2.50".into())));
    assert!(cmds.iter().any(|c| matches!(c, Cmd::LoadHistory)));
    assert!(hint(&a).contains("refunded"));
}

#[test]
fn a_supervisor_may_force_the_close() {
    let mut a = app(Language::Zh);
    key(&mut a, Key::F(3), T0);
    key(&mut a, Key::F(9), T0 + 100);
    assert!(matches!(a.overlay, Some(Overlay::Form(_))));
    let (_, t) = type_slowly(&mut a, "demo", T0 + 200);
    key(&mut a, Key::Tab, t);
    update(&mut a, Msg::Tick { at: t + 100 });
    let (_, t) = type_slowly(&mut a, "0000", t + 200);
    let cmds = key(&mut a, Key::Enter, t + 100);
    update(&mut a, Msg::Tick { at: t + 300 });
    assert!(
        matches!(cmds.as_slice(), [Cmd::ForceClose { supervisor, pin }] if supervisor == "demo" && pin == "0000"),
        "{cmds:?}"
    );
}

#[test]
fn f8_on_the_shift_screen_reconciles_yesterday() {
    let mut a = app(Language::En);
    key(&mut a, Key::F(3), T0);
    let cmds = key(&mut a, Key::F(8), T0 + 100);
    let yesterday = scanpay::clock::beijing::date(T0 + 100 - 24 * 3600 * 1000);
    assert!(
        matches!(cmds.as_slice(), [Cmd::Reconcile(d)] if *d == yesterday),
        "{cmds:?}"
    );
    update(&mut a, Msg::Reconciled("matched: 3 payments".into()));
    assert_eq!(shift_note(&a), "matched: 3 payments");
}

/// A fast burst of keys, 3 ms apart (a terminal pasting without bracketed paste, or a
/// scanner), then silence.
fn burst(a: &mut App, text: &str, mut at: i64) -> (Vec<Cmd>, i64) {
    let mut cmds = Vec::new();
    for c in text.chars() {
        cmds.extend(update(
            a,
            Msg::Key {
                key: Key::Char(c),
                at,
            },
        ));
        at += 3;
    }
    cmds.extend(update(a, Msg::Tick { at: at + 100 }));
    (cmds, at + 200)
}

/// The history with one paid order, and its refund form open on the given field.
fn refund_form_at(lang: Language, tabs: usize) -> (App, i64) {
    let mut a = app(lang);
    key(&mut a, Key::F(2), T0);
    update(&mut a, Msg::History(vec![order(OrderState::Paid, None)]));
    key(&mut a, Key::F(7), T0 + 100);
    let mut t = T0 + 200;
    for _ in 0..tabs {
        key(&mut a, Key::Tab, t);
        update(&mut a, Msg::Tick { at: t + 100 });
        t += 200;
    }
    (a, t)
}

fn refund_form(a: &App) -> &scanpay::tui::form::RefundForm {
    match a.form() {
        Some(SupervisorForm::Refund(r)) => r,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_fast_burst_in_a_text_field_is_text_for_it() {
    let (mut a, t) = refund_form_at(Language::En, 1);
    assert_eq!(refund_form(&a).focus, scanpay::tui::form::FieldName::Reason);
    let (cmds, t) = burst(&mut a, "damaged on arrival", t);
    assert!(cmds.is_empty(), "{cmds:?}");
    assert_eq!(refund_form(&a).reason.value(), "damaged on arrival");
    assert!(a.hint.is_none(), "{}", hint(&a));
    // A burst ending in Enter (a pasted line): the Enter is its suffix, the form stays open.
    let mut at = t;
    for c in " (box)".chars().chain(" crushed".chars()) {
        key(&mut a, Key::Char(c), at);
        at += 3;
    }
    assert!(key(&mut a, Key::Enter, at).is_empty());
    assert_eq!(
        refund_form(&a).reason.value(),
        "damaged on arrival (box) crushed"
    );
    assert!(a.form().is_some());
}

#[test]
fn a_burst_a_pin_cannot_take_is_explained_not_dropped() {
    for (lang, words) in [
        (Language::En, "PIN takes digits only"),
        (Language::Zh, "主管密码只能输入数字"),
    ] {
        let (mut a, t) = refund_form_at(lang, 3);
        assert_eq!(refund_form(&a).focus, scanpay::tui::form::FieldName::Pin);
        let (cmds, _) = burst(&mut a, "ab12cd34ef", t);
        assert!(cmds.is_empty());
        assert_eq!(refund_form(&a).pin.value(), "1234", "digits kept");
        assert!(hint(&a).contains(words), "{lang:?}: {}", hint(&a));
    }
}

#[test]
fn a_burst_longer_than_the_field_says_what_was_left_out() {
    let (mut a, t) = refund_form_at(Language::En, 1);
    let long = "x".repeat(75);
    burst(&mut a, &long, t);
    assert_eq!(refund_form(&a).reason.value().len(), 60);
    assert!(hint(&a).contains("at most 60 characters"), "{}", hint(&a));
}

#[test]
fn a_burst_in_an_amount_field_or_that_reads_as_a_code_is_still_a_scan() {
    // The refund's amount field: a burst is a scan (never an amount), and no scan is due.
    let (mut a, t) = refund_form_at(Language::En, 0);
    let (cmds, t) = burst(&mut a, "12345678", t);
    assert!(cmds.is_empty());
    assert_eq!(refund_form(&a).amount.value(), "");
    assert!(hint(&a).contains("Not ready to charge"), "{}", hint(&a));
    // A payment code scanned into the reason field never becomes text sent to WeChat Pay.
    key(&mut a, Key::Tab, t);
    update(&mut a, Msg::Tick { at: t + 100 });
    burst(&mut a, CODE, t + 200);
    assert_eq!(refund_form(&a).reason.value(), "");
    assert!(hint(&a).contains("Not ready to charge"), "{}", hint(&a));
}

#[test]
fn a_burst_fills_the_cashier_id_and_the_note() {
    let mut a = app(Language::En);
    update(&mut a, Msg::ShiftLoaded(None));
    let (_, t) = burst(&mut a, "cashier-wang-01", T0);
    let cmds = key(&mut a, Key::Enter, t);
    assert!(
        matches!(cmds.as_slice(), [Cmd::OpenShift(c)] if c == "cashier-wang-01"),
        "{cmds:?}"
    );
    // The sale's note takes a pasted description; the amount field still never does.
    let mut a = app(Language::En);
    key(&mut a, Key::Tab, T0);
    update(&mut a, Msg::Tick { at: T0 + 100 });
    burst(&mut a, "two coffees, one tea", T0 + 200);
    assert_eq!(a.sale().unwrap().note.value(), "two coffees, one tea");
    assert_eq!(a.sale().unwrap().amount.value(), "");
}

#[test]
fn the_forms_are_typed_and_keep_their_fields_apart() {
    let (mut a, mut t) = refund_form_at(Language::Zh, 0);
    for (text, tab) in [
        ("2.5", true),
        ("退货", true),
        ("demo", true),
        ("0000", false),
    ] {
        t = type_slowly(&mut a, text, t).1;
        if tab {
            key(&mut a, Key::Tab, t);
            update(&mut a, Msg::Tick { at: t + 100 });
            t += 200;
        }
    }
    let r = refund_form(&a);
    assert_eq!(
        (
            r.amount.value(),
            r.reason.value(),
            r.supervisor.value(),
            r.pin.value()
        ),
        ("2.5", "退货", "demo", "0000")
    );
    // Shift-Tab goes back a field; Backspace edits only the focused one.
    key(&mut a, Key::BackTab, t);
    key(&mut a, Key::Backspace, t + 10);
    let r = refund_form(&a);
    assert_eq!((r.supervisor.value(), r.pin.value()), ("dem", "0000"));
    // A blank field: refused in words, in Chinese.
    let (mut b, t) = refund_form_at(Language::Zh, 0);
    let (_, t) = type_slowly(&mut b, "1", t);
    assert!(key(&mut b, Key::Enter, t).is_empty());
    assert_eq!(form_error(&b).as_deref(), Some("请填写所有项目"));
    assert_eq!(
        refund_form(&b).error,
        Some(scanpay::tui::form::FormError::Missing(
            scanpay::tui::form::FieldName::Reason
        ))
    );
}

#[test]
fn the_duplicate_code_refusal_is_in_the_screens_language() {
    for (lang, words) in [
        (
            Language::Zh,
            "该付款码本班次已使用过（订单 POS01-20251125-AB-000001）",
        ),
        (
            Language::En,
            "this payment code was already used in this shift (order POS01-20251125-AB-000001)",
        ),
    ] {
        let mut a = app(lang);
        let (_, t) = type_slowly(&mut a, "1", T0);
        key(&mut a, Key::Enter, t + 200);
        update(
            &mut a,
            Msg::Scan {
                raw: CODE.into(),
                at: t + 500,
            },
        );
        update(
            &mut a,
            Msg::PaymentFinished(Err(Refusal::Engine(
                scanpay::order::Refusal::DuplicateCode {
                    previous: "POS01-20251125-AB-000001".into(),
                },
            ))),
        );
        assert!(hint(&a).contains(words), "{lang:?}: {}", hint(&a));
    }
}

// ---- The counter keyboard and the scanner: no key inside a burst acts. ----

/// Keys at scanner speed (2 ms apart), then the silence that ends the burst.
fn burst_keys(a: &mut App, keys: &[Key], mut at: i64) -> (Vec<Cmd>, i64) {
    let mut cmds = Vec::new();
    for &k in keys {
        cmds.extend(update(a, Msg::Key { key: k, at }));
        at += 2;
    }
    cmds.extend(update(a, Msg::Tick { at: at + 60 }));
    (cmds, at + 200)
}

/// `Key`s for a string: `\x1b` Esc, `\r` Enter, `\x11` Ctrl-Q, the rest characters.
fn keys_of(s: &str) -> Vec<Key> {
    s.chars()
        .map(|c| match c {
            '\x1b' => Key::Esc,
            '\r' => Key::Enter,
            '\x11' => Key::CtrlQ,
            c => Key::Char(c),
        })
        .collect()
}

/// The sale screen with ¥500.00 confirmed and waiting for a scan.
fn awaiting_500(lang: Language) -> (App, i64) {
    let mut a = app(lang);
    let (_, t) = type_slowly(&mut a, "500", T0);
    key(&mut a, Key::Enter, t + 200);
    assert_eq!(a.sale().unwrap().confirmed, Some(Fen(50_000)));
    (a, t + 500)
}

#[test]
fn control_keys_inside_a_burst_never_act() {
    let (mut a, t) = awaiting_500(Language::En);
    // The finding's burst: Esc Esc 0.01 Enter <code> Enter, at scanner speed.
    let (cmds, t) = burst_keys(&mut a, &keys_of(&format!("\x1b\x1b0.01\r{CODE}\r")), t);
    assert!(cmds.is_empty(), "{cmds:?}");
    assert_eq!(a.sale().unwrap().confirmed, Some(Fen(50_000)));
    assert_eq!(a.sale().unwrap().amount.value(), "500");
    assert!(hint(&a).contains("not a payment code"), "{}", hint(&a));
    // Function keys and Ctrl-Q inside a burst do nothing either.
    let mut keys = vec![Key::F(2), Key::F(3), Key::F(1), Key::CtrlQ, Key::CtrlC];
    keys.extend(keys_of("touch FILE\r"));
    let (cmds, t) = burst_keys(&mut a, &keys, t);
    assert!(cmds.is_empty(), "{cmds:?}");
    assert!(!a.quit);
    assert_eq!(a.overlay, None);
    assert_eq!(a.screen.kind(), ScreenKind::Sale);
    // The next real scan charges the amount that was waiting.
    let (cmds, _) = wedge_scan(&mut a, CODE, t);
    assert!(
        matches!(cmds.as_slice(), [Cmd::StartPayment { amount, .. }] if *amount == Fen(50_000)),
        "{cmds:?}"
    );
}

#[test]
fn a_lone_esc_is_held_for_the_burst_gap_then_acts() {
    let (mut a, t) = awaiting_500(Language::Zh);
    assert!(
        update(
            &mut a,
            Msg::Key {
                key: Key::Esc,
                at: t
            }
        )
        .is_empty()
    );
    // Within the gap it might still be the first key of a burst: nothing has happened yet.
    update(&mut a, Msg::Tick { at: t + 30 });
    assert_eq!(a.sale().unwrap().confirmed, Some(Fen(50_000)));
    update(&mut a, Msg::Tick { at: t + 50 });
    assert_eq!(a.sale().unwrap().confirmed, Some(Fen(50_000)));
    // The gap passed with no other key: a person's Esc, back to the amount.
    update(&mut a, Msg::Tick { at: t + 51 });
    assert_eq!(a.sale().unwrap().confirmed, None);
    assert_eq!(a.sale().unwrap().amount.value(), "500");
    // A key arriving after the gap releases the held one first, then waits itself.
    let t = t + 1_000;
    update(
        &mut a,
        Msg::Key {
            key: Key::Esc,
            at: t,
        },
    );
    update(
        &mut a,
        Msg::Key {
            key: Key::Char('7'),
            at: t + 80,
        },
    );
    assert_eq!(a.sale().unwrap().amount.value(), "", "Esc cleared the sale");
    update(&mut a, Msg::Tick { at: t + 200 });
    assert_eq!(a.sale().unwrap().amount.value(), "7");
}

#[test]
fn a_burst_that_is_not_a_code_is_discarded_with_one_hint() {
    let (mut a, t) = awaiting_500(Language::En);
    // Characters and a control key: not a code, thrown away as a whole.
    let (cmds, _) = burst_keys(&mut a, &keys_of("12\x1b34"), t);
    assert!(cmds.is_empty());
    assert_eq!(a.sale().unwrap().confirmed, Some(Fen(50_000)));
    assert_eq!(
        hint(&a),
        i18n::hint(Language::En, &Hint::BurstDiscarded),
        "one hint"
    );
    assert_eq!(
        i18n::hint(Language::Zh, &Hint::BurstDiscarded),
        "快速输入不是付款码，已忽略：请手工慢慢输入或重新扫码"
    );
    // Fast short typing with Enter: the Enter does not confirm anything.
    let mut a = app(Language::En);
    let (cmds, _) = burst_keys(&mut a, &keys_of("0.01\r"), T0);
    assert!(cmds.is_empty());
    assert_eq!(a.sale().unwrap().confirmed, None);
    assert_eq!(a.sale().unwrap().amount.value(), "");
    assert!(hint(&a).contains("not a payment code"), "{}", hint(&a));
    // A long burst shaped like a scan goes through the code validator, as before.
    let (mut a, t) = awaiting_500(Language::En);
    let (cmds, _) = wedge_scan(&mut a, "6901234567892", t);
    assert!(cmds.is_empty());
    assert_eq!(a.sale().unwrap().confirmed, Some(Fen(50_000)));
    assert!(!hint(&a).is_empty());
}

#[test]
fn a_burst_into_a_text_field_keeps_its_text_but_its_keys_do_not_act() {
    let mut a = app(Language::En);
    let (_, t) = type_slowly(&mut a, "12", T0);
    key(&mut a, Key::Tab, t + 200);
    assert!(a.sale().unwrap().note_focused);
    let (cmds, _) = burst_keys(&mut a, &keys_of("coffee\r\x1b"), t + 500);
    assert!(cmds.is_empty());
    let s = a.sale().unwrap();
    assert_eq!(s.note.value(), "coffee");
    assert_eq!(s.amount.value(), "12", "Esc did not clear the sale");
    assert_eq!(s.confirmed, None, "Enter did not confirm");
    assert_eq!(hint(&a), i18n::hint(Language::En, &Hint::BurstKeysIgnored));
    // Fast short typing of characters only is text and nothing in it acts: `?` is text.
    let (_, t) = burst_keys(&mut a, &keys_of("?ok"), t + 1_000);
    assert_eq!(a.sale().unwrap().note.value(), "coffee?ok");
    assert_eq!(a.overlay, None);
    // A held Backspace repeats as it always did.
    let mut at = t;
    for _ in 0..4 {
        update(
            &mut a,
            Msg::Key {
                key: Key::Backspace,
                at,
            },
        );
        at += 30;
    }
    update(&mut a, Msg::Tick { at: at + 60 });
    assert_eq!(a.sale().unwrap().note.value(), "coffe");
}

#[test]
fn once_the_code_is_read_the_amount_is_frozen() {
    let (mut a, t) = awaiting_500(Language::En);
    let (cmds, t) = wedge_scan(&mut a, CODE, t);
    assert!(
        matches!(cmds.as_slice(), [Cmd::StartPayment { amount, .. }] if *amount == Fen(50_000))
    );
    assert_eq!(a.screen.kind(), ScreenKind::Waiting);
    // Keys typed by hand: none changes the amount; Esc only asks to cancel.
    let mut at = t + 200;
    let mut all = Vec::new();
    for k in keys_of("0.01\r") {
        all.extend(key(&mut a, k, at));
        at += 200;
    }
    for k in [Key::Backspace, Key::Tab, Key::F(2), Key::F(3), Key::F(5)] {
        all.extend(key(&mut a, k, at));
        at += 200;
    }
    assert!(all.is_empty(), "{all:?}");
    assert_eq!(a.payment().unwrap().amount, Fen(50_000));
    // A burst that would go back and type a new amount does nothing at all.
    let (cmds, at) = burst_keys(&mut a, &keys_of("\x1b\x1b0.01\r\x1b\r"), at);
    assert!(cmds.is_empty());
    assert_eq!(a.overlay, None, "not even the cancel question");
    assert_eq!(a.payment().unwrap().amount, Fen(50_000));
    // Esc by hand asks; Esc again keeps waiting; the amount never moved.
    key(&mut a, Key::Esc, at);
    assert_eq!(a.overlay, Some(Overlay::ConfirmCancel));
    key(&mut a, Key::Esc, at + 300);
    assert_eq!(a.overlay, None);
    assert_eq!(a.screen.kind(), ScreenKind::Waiting);
    assert_eq!(a.payment().unwrap().amount, Fen(50_000));
}

#[test]
fn quitting_always_asks_and_only_a_second_ctrl_q_by_hand_quits() {
    let mut a = app(Language::En);
    // Ctrl-Q by hand: the question, not the exit.
    assert!(key(&mut a, Key::CtrlQ, T0).is_empty());
    assert!(matches!(a.overlay, Some(Overlay::ConfirmQuit { .. })));
    assert!(!a.quit);
    // Enter and `y` are not a yes here; a burst with Ctrl-Q in it is not either.
    assert!(key(&mut a, Key::Enter, T0 + 400).is_empty());
    assert!(key(&mut a, Key::Char('y'), T0 + 800).is_empty());
    let (cmds, t) = burst_keys(&mut a, &keys_of("\x11\x11\r"), T0 + 1_200);
    assert!(cmds.is_empty());
    assert!(matches!(a.overlay, Some(Overlay::ConfirmQuit { .. })));
    // Esc stays.
    key(&mut a, Key::Esc, t);
    assert_eq!(a.overlay, None);
    // A second Ctrl-Q too soon after the question (a double tap) does not count yet.
    let t = t + 1_000;
    key(&mut a, Key::CtrlQ, t);
    assert!(key(&mut a, Key::CtrlQ, t + 120).is_empty());
    assert!(!a.quit);
    // The question lapses after 10 s.
    update(&mut a, Msg::Tick { at: t + 10_200 });
    assert_eq!(a.overlay, None);
    // Asked, then the quit key again a moment later, by hand: quit.
    let t = t + 20_000;
    key(&mut a, Key::CtrlQ, t);
    assert!(matches!(
        key(&mut a, Key::CtrlQ, t + 600).as_slice(),
        [Cmd::Quit]
    ));
    assert!(a.quit);
    // Ctrl-C quits the same way.
    let mut a = app(Language::Zh);
    key(&mut a, Key::CtrlC, T0);
    assert!(matches!(
        key(&mut a, Key::CtrlC, T0 + 600).as_slice(),
        [Cmd::Quit]
    ));
}
