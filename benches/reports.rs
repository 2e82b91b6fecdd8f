//! Reports and start-up over a large shift log: the Z summary over 1 000 000 orders, and
//! start-up to the first frame with that database. The database is built once (about a
//! minute) into `target/bench-data/` and reused. Run: `cargo bench --bench reports`.

use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rusqlite::params;
use scanpay::config::Language;
use scanpay::money::Fen;
use scanpay::store::{open_connection, shifts};
use scanpay::tui::app::{App, AppConfig, Msg, Theme};
use scanpay::tui::update::update;
use scanpay::tui::wedge::WedgeConfig;

const ORDERS: i64 = 1_000_000;

fn database() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let path = dir.join(format!("shift-{ORDERS}.db"));
    if path.exists() {
        return path;
    }
    std::fs::create_dir_all(&dir).unwrap();
    let tmp = dir.join("building.db");
    let _ = std::fs::remove_file(&tmp);
    let mut conn = open_connection(&tmp).unwrap();
    let shift = shifts::open(&mut conn, "POS01", "li", 0).unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut order = tx
            .prepare(
                "INSERT INTO orders(out_trade_no, shift_id, terminal_id, cashier, amount_fen, description, code_masked,
                                    code_fingerprint, state, machine, created_at, updated_at)
                 VALUES (?1, ?2, 'POS01', ?3, ?4, '', '1345 **** **** 6711', ?5, ?6, '{}', ?7, ?7)",
            )
            .unwrap();
        let mut event = tx
            .prepare("INSERT INTO order_events(order_id, at, kind, detail, state_after) VALUES (?1, ?2, 'pay_answer', '{}', ?3)")
            .unwrap();
        let cashiers = ["li", "wang", "zhao"];
        for i in 0..ORDERS {
            let state = match i % 20 {
                0 => "FAILED",
                1 => "REVERSED",
                _ => "PAID",
            };
            let at = 1_764_000_000_000 + i * 40;
            order
                .execute(params![
                    format!("POS01-20261127-AB-{i:07}"),
                    shift.id,
                    cashiers[(i % 3) as usize],
                    100 + i % 5000,
                    format!("fp{i}"),
                    state,
                    at
                ])
                .unwrap();
            event
                .execute(params![tx.last_insert_rowid(), at, state])
                .unwrap();
        }
    }
    tx.commit().unwrap();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    drop(conn);
    std::fs::rename(&tmp, &path).unwrap();
    path
}

fn reports(c: &mut Criterion) {
    let path = database();
    let conn = open_connection(&path).unwrap();
    let shift = shifts::current(&conn, "POS01").unwrap().unwrap();
    let s = shifts::summary(&conn, shift.id).unwrap();
    assert_eq!(s.by_state.iter().map(|(_, n, _)| n).sum::<i64>(), ORDERS);
    let mut g = c.benchmark_group("report");
    g.sample_size(10);
    g.bench_function("z_summary_1m_orders", |b| {
        b.iter(|| shifts::summary(&conn, shift.id).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("startup");
    g.sample_size(10);
    g.bench_function("first_frame_1m_orders", |b| {
        b.iter(|| {
            // What the cashier screen does before its first draw, minus the terminal and the
            // payment service: open and migrate the log, find the shift, draw. (The shift's
            // summary for the footer is loaded after the first frame, off the UI task.)
            let conn = open_connection(&path).unwrap();
            let shift = shifts::current(&conn, "POS01").unwrap();
            let summary: Option<shifts::Summary> = None;
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
                0,
            );
            update(&mut app, Msg::ShiftLoaded(shift));
            if let Some(s) = summary {
                update(&mut app, Msg::Summary(s));
            }
            let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
            t.draw(|f| f.render_widget(&app, f.area())).unwrap();
        })
    });
    g.finish();
}

criterion_group!(benches, reports);
criterion_main!(benches);
