//! One frame of the cashier screen (ratatui TestBackend, 80×24) with 100 000 orders in the
//! shift: the sale screen and the history screen, beside the floor of a frame measured in the
//! same run (a draw that renders nothing: buffer swap, diff and flush of the same terminal).
//!
//! The app is driven through `update` exactly as the screen drives it: shift loaded, summary
//! loaded, F2 (history) with the shift's 100 000 orders loaded, and for the sale screen Esc back
//! to it (the history screen owns its orders, so they go with it). Each iteration
//! draws the same state again, as the screen does on every 250 ms tick.
//!
//! Run: `cargo bench --bench screen` (results: docs/performance.md).

use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use scanpay::config::Language;
use scanpay::engine::OrderState;
use scanpay::engine::micropay::Reason;
use scanpay::money::Fen;
use scanpay::store::orders::OrderRecord;
use scanpay::store::shifts::{Shift, Summary};
use scanpay::tui::app::{App, AppConfig, Msg, Theme};
use scanpay::tui::keys::Key;
use scanpay::tui::screen::ScreenKind;
use scanpay::tui::update::update;
use scanpay::tui::wedge::WedgeConfig;

const ORDERS: i64 = 100_000;
/// 2026-11-27 08:00 Beijing.
const T0: i64 = 1_764_201_600_000;

/// A settled order as the log holds it.
fn order(i: i64) -> OrderRecord {
    let state = match i % 50 {
        0 => OrderState::Failed,
        1 => OrderState::Reversed,
        2 => OrderState::PartiallyRefunded,
        _ => OrderState::Paid,
    };
    let amount = 100 + (i * 7919) % 50_000;
    let transaction_id = state
        .is_charged()
        .then(|| format!("42000002562026112{i:011}"));
    let reason = match state {
        OrderState::Failed => Some(Reason::Declined {
            code: "NOTENOUGH".into(),
            en: "insufficient balance".into(),
            zh: "余额不足".into(),
        }),
        OrderState::Reversed => Some(Reason::NotConfirmedInTime),
        _ => None,
    };
    OrderRecord {
        id: i + 1,
        out_trade_no: format!("POS01-20261127-AB-{:06}", i + 1),
        shift_id: 7,
        terminal_id: "POS01".into(),
        cashier: "li".into(),
        amount: Fen(amount),
        description: String::new(),
        code_masked: format!("1345 **** **** {:04}", 6700 + i % 100),
        party: scanpay::order::PartyKind::Direct,
        sub_mchid: None,
        state,
        transaction_id,
        reason_code: reason.as_ref().map(Reason::code),
        reason,
        // The screen never reads the engine's snapshot.
        snapshot: String::new(),
        created_at: T0 + i * 400,
        updated_at: T0 + i * 400 + 1_500,
        protocol: scanpay::config::Api::V3,
    }
}

/// A key as the cashier's keyboard sends it: the screen holds keys until a pause shows they are
/// not a wedge scanner's burst, so a tick 51 ms later lets it act on them (as `tui::run` does).
fn key(app: &mut App, key: Key, at: i64) {
    update(app, Msg::Key { key, at });
    update(app, Msg::Tick { at: at + 51 });
}

/// The screen with a shift of `ORDERS` orders, its summary and its history loaded, showing the
/// history (F2).
fn loaded_app(orders: &[OrderRecord]) -> App {
    let mut app = App::new(
        AppConfig {
            lang: Language::Zh,
            theme: Theme::Default,
            terminal_id: "POS01".into(),
            simulator: true,
            max_amount: Fen(500_000),
            wedge: WedgeConfig::default(),
            serial_scanner: false,
        },
        T0,
    );
    update(
        &mut app,
        Msg::ShiftLoaded(Some(Shift {
            id: 7,
            terminal_id: "POS01".into(),
            cashier: "li".into(),
            opened_at: T0,
            closed_at: None,
            z_number: None,
        })),
    );
    let mut by_state: std::collections::BTreeMap<&str, (i64, i64)> = Default::default();
    for o in orders {
        let e = by_state.entry(o.state.as_str()).or_default();
        e.0 += 1;
        e.1 += o.amount.0;
    }
    let paid = orders.iter().filter(|o| o.state.is_charged());
    let (paid_count, paid_fen) = paid.fold((0, 0), |(n, f), o| (n + 1, f + o.amount.0));
    update(
        &mut app,
        Msg::Summary(Summary {
            shift_id: 7,
            by_state: by_state
                .into_iter()
                .map(|(s, (n, f))| (s.to_string(), n, f))
                .collect(),
            paid_count,
            paid_fen,
            net_fen: paid_fen,
            by_cashier: vec![("li".into(), paid_count, paid_fen)],
            first_out_trade_no: orders.first().map(|o| o.out_trade_no.clone()),
            last_out_trade_no: orders.last().map(|o| o.out_trade_no.clone()),
            ..Summary::default()
        }),
    );
    key(&mut app, Key::F(2), T0 + 1);
    update(&mut app, Msg::History(orders.to_vec()));
    assert_eq!(app.screen.kind(), ScreenKind::History);
    assert_eq!(app.history().map(|h| h.orders.len()), Some(orders.len()));
    app
}

fn screen(c: &mut Criterion) {
    let orders: Vec<OrderRecord> = (0..ORDERS).map(order).collect();
    let history = loaded_app(&orders);
    let mut sale = history.clone();
    key(&mut sale, Key::Esc, T0 + 200);
    assert_eq!(sale.screen.kind(), ScreenKind::Sale);
    drop(orders);

    let mut g = c.benchmark_group("screen");
    let mut t = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
    g.bench_function("floor_empty_frame_80x24", |b| {
        b.iter(|| {
            t.draw(|_| {}).expect("draw");
        })
    });
    let mut t = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
    g.bench_function("sale_frame_100k_orders", |b| {
        b.iter(|| {
            t.draw(|f| f.render_widget(&sale, f.area())).expect("draw");
        })
    });
    let mut t = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
    g.bench_function("history_frame_100k_orders", |b| {
        b.iter(|| {
            t.draw(|f| f.render_widget(&history, f.area()))
                .expect("draw");
        })
    });
    g.finish();
}

criterion_group!(benches, screen);
criterion_main!(benches);
