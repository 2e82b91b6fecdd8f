//! The shift log at scale: the X/Z summary (`shifts::summary`) over a shift of 1 000 000
//! orders, and start-up to the first frame with that database, each beside a floor measured in
//! the same run.
//!
//! The database is built once per bench process, in a temporary folder (TMPDIR), with the real
//! schema (`scanpay::store::open_connection`) and rows shaped as the engine writes them: each
//! order with its machine snapshot and its events (`created`, `pay_request`, `pay_answer`, and
//! more for reversed and refunded orders), refunds for the refunded ones. It is about 1 GB and
//! takes a minute or two to build.
//!
//! Start-up (`startup_first_frame_1m_orders`) measures, per iteration, what the cashier screen
//! (`tui::run`) does before its first draw, in its order, minus the terminal, the log file and
//! the payment service (simulator key generation/loading and its HTTP server, or the live
//! client's key loading):
//! `DataDirLock::acquire`, `Store::open` (writer thread, connection, pragmas, migration check),
//! the in-flight scan (`orders::in_flight`), the print queue, `App::new`, the demo supervisor
//! check, `shifts::current`, `update(ShiftLoaded)`, `shifts::summary` + `update(Summary)`, and
//! one draw of the whole screen on a TestBackend 80×24. (The real screen loads the summary in
//! the background and may draw before it arrives; it is counted here all the same.) The page
//! cache is warm: the database was just built or read by the previous iteration.
//!
//! After the measured benchmarks, `whatif_*` measure the summary's aggregates computed other
//! ways on the same data (among them exactly as `shifts::summary` did at commit e48cf40), to
//! show where its time goes and what brings it under its target (see docs/performance.md);
//! they change nothing in `src/`.
//!
//! Run: `cargo bench --bench reports` (results: docs/performance.md).

use std::path::{Path, PathBuf};
use std::time::Instant;

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rusqlite::{Connection, params};
use scanpay::clock::beijing;
use scanpay::config::{Config, Source};
use scanpay::engine::OrderState;
use scanpay::engine::micropay::{Event, Machine, PayResult, Reason, Remote, Timing};
use scanpay::lock::DataDirLock;
use scanpay::store::shifts::{self, Summary};
use scanpay::store::{DB_FILE, Store, StoreError, open_connection, orders};
use scanpay::tui::app::{App, Msg};
use scanpay::tui::run::{DEMO_CASHIER, app_config};
use scanpay::tui::update::update;

const ORDERS: i64 = 1_000_000;
/// 2026-08-19 00:00 Beijing: the shift starts 100 days before 2026-11-27.
const T0: i64 = 1_755_532_800_000;
/// One order every 8.64 s: 10 000 a day for 100 days, every hour of the day.
const STEP_MS: i64 = 8_640;

fn mix(mut x: u64) -> u64 {
    // splitmix64: distinct, well spread fingerprints without a dependency.
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Builds the database in `data_dir` and returns the shift's id.
fn build(data_dir: &Path) -> i64 {
    let started = Instant::now();
    let mut conn = open_connection(&data_dir.join(DB_FILE)).expect("open");
    // Build-time only: a big page cache for the index inserts.
    conn.pragma_update(None, "cache_size", -262_144)
        .expect("cache");
    // A till that has run before: the demo supervisor exists (its argon2 hash is made once).
    scanpay::supervisor::ensure_demo(&conn, T0).expect("supervisor");
    let shift = shifts::open(&mut conn, "POS01", DEMO_CASHIER, T0)
        .expect("shift")
        .id;
    let tx = conn.transaction().expect("tx");
    {
        let mut order = tx
            .prepare(
                "INSERT INTO orders(out_trade_no, shift_id, terminal_id, cashier, amount_fen, description,
                                    code_masked, code_fingerprint, state, machine, transaction_id,
                                    reason_code, created_at, updated_at)
                 VALUES (?1, ?2, 'POS01', ?3, ?4, '', ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )
            .expect("prepare");
        let mut event = tx
            .prepare(
                "INSERT INTO order_events(order_id, at, kind, detail, state_after)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .expect("prepare");
        let mut refund = tx
            .prepare(
                "INSERT INTO refunds(out_refund_no, order_id, shift_id, amount_fen, reason, status,
                                     approved_by, refund_id, created_at, updated_at, machine)
                 VALUES (?1, ?2, ?3, ?4, '顾客退货', 'SUCCESS', 'demo', ?5, ?6, ?6, '{}')",
            )
            .expect("prepare");
        let cashiers = [DEMO_CASHIER, "li", "wang"];
        let timing = Timing::from_secs(5, 45);
        for i in 0..ORDERS {
            let state = match i % 100 {
                0..=3 => OrderState::Failed,
                4..=6 => OrderState::Reversed,
                7 => OrderState::PartiallyRefunded,
                8 => OrderState::Refunded,
                _ => OrderState::Paid,
            };
            let at = T0 + i * STEP_MS;
            let amount = 100 + (i * 7919) % 50_000;
            let seq = i % 10_000 + 1;
            let out_trade_no = format!("POS01-{}-AB-{seq:06}", beijing::compact_date(at));
            let charged = state.is_charged();
            let transaction_id =
                charged.then(|| format!("4200002562{:018}", mix(i as u64) % 10u64.pow(18)));
            let reason = match state {
                OrderState::Failed => Some(Reason::Declined {
                    code: "NOTENOUGH".into(),
                    en: "the customer's balance is not enough".into(),
                    zh: "用户余额不足".into(),
                }),
                OrderState::Reversed => Some(Reason::NotConfirmedInTime),
                _ => None,
            };
            // A settled machine as the engine leaves one (paid, or declined for the rest: the
            // summaries never read snapshots, only their size matters here).
            let (m, _) = Machine::new(amount, timing).step(Event::Start, at);
            let answer = if charged {
                PayResult::Answer(Remote::Paid {
                    transaction_id: transaction_id.clone(),
                    total: Some(amount),
                })
            } else {
                PayResult::Declined {
                    code: "NOTENOUGH".into(),
                    en: "the customer's balance is not enough".into(),
                    zh: "用户余额不足".into(),
                }
            };
            let (m, _) = m.step(Event::Pay(answer), at + 1_500);
            order
                .execute(params![
                    out_trade_no,
                    shift,
                    cashiers[((i / 5_000) % 3) as usize],
                    amount,
                    format!("1345 **** **** {:04}", 6700 + i % 100),
                    format!("{:016x}{:016x}", mix(i as u64), mix(!(i as u64))),
                    state.as_str(),
                    m.to_snapshot(),
                    transaction_id,
                    reason.as_ref().map(Reason::code),
                    at,
                    at + 1_500,
                ])
                .expect("order");
            let id = tx.last_insert_rowid();
            let mut ev = |dt: i64, kind: &str, detail: String, after: OrderState| {
                event
                    .execute(params![id, at + dt, kind, detail, after.as_str()])
                    .expect("event");
            };
            ev(
                0,
                "created",
                format!(r#"{{"amount_fen":{amount}}}"#),
                OrderState::Pending,
            );
            ev(0, "pay_request", "{}".into(), OrderState::Pending);
            match state {
                OrderState::Failed => ev(
                    900,
                    "pay_answer",
                    r#"{"result":"error","http":403,"code":"NOTENOUGH","verified":true,"request_id":"08f1c2a3b4d5e6f708192a3b4c5d6e7f"}"#.into(),
                    state,
                ),
                OrderState::Reversed => {
                    ev(
                        900,
                        "pay_answer",
                        r#"{"result":"userpaying","http":202}"#.into(),
                        OrderState::Userpaying,
                    );
                    ev(
                        45_000,
                        "reverse_request",
                        r#"{"attempt":1}"#.into(),
                        OrderState::Userpaying,
                    );
                    ev(45_400, "reverse_answer", r#"{"result":"done"}"#.into(), state);
                }
                _ => {
                    let tid = transaction_id.clone().unwrap_or_default();
                    ev(
                        900,
                        "pay_answer",
                        format!(
                            r#"{{"result":"answer","trade_state":"SUCCESS","transaction_id":"{tid}"}}"#
                        ),
                        OrderState::Paid,
                    );
                    if state != OrderState::Paid {
                        let back = if state == OrderState::Refunded {
                            amount
                        } else {
                            amount / 2
                        };
                        let no = format!("R{out_trade_no}");
                        refund
                            .execute(params![
                                no,
                                id,
                                shift,
                                back,
                                format!("5030{:025}", mix(i as u64 + 7) % 10u64.pow(25)),
                                at + 600_000
                            ])
                            .expect("refund");
                        ev(
                            600_000,
                            "refund_created",
                            format!(r#"{{"out_refund_no":"{no}","amount_fen":{back}}}"#),
                            OrderState::Paid,
                        );
                        ev(
                            601_000,
                            "refund_answer",
                            format!(r#"{{"result":"answer","status":"SUCCESS","out_refund_no":"{no}"}}"#),
                            state,
                        );
                    }
                }
            }
        }
    }
    tx.commit().expect("commit");
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .expect("checkpoint");
    let (n, e): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT COUNT(*) FROM orders), (SELECT COUNT(*) FROM order_events)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("count");
    drop(conn);
    let bytes = std::fs::metadata(data_dir.join(DB_FILE))
        .map(|m| m.len())
        .unwrap_or(0);
    eprintln!(
        "reports: built {n} orders, {e} events, {:.0} MB in {:.0} s",
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    shift
}

/// What the cashier screen does before its first draw (see the header), on `cfg.data_dir`.
/// With `wait_for_summary` false the summary is left out, as the real screen draws its first
/// frame while `Cmd::LoadSummary` is still running in the background.
fn start_to_first_frame(cfg: &Config, wait_for_summary: bool) -> Terminal<TestBackend> {
    let lock = DataDirLock::acquire(&cfg.data_dir).expect("lock");
    let store = Store::open(&cfg.data_dir).expect("store");
    let earlier = store
        .call_blocking(|c| orders::in_flight(c))
        .expect("in flight");
    assert!(earlier.is_empty());
    let printer = scanpay::receipt::queue(cfg);
    let now = T0 + ORDERS * STEP_MS;
    let mut app = App::new(app_config(cfg), now);
    store
        .call_blocking(move |c| {
            scanpay::supervisor::ensure_demo(c, now).map_err(|e| StoreError::Sql(e.to_string()))
        })
        .expect("supervisor");
    let terminal_id = cfg.merchant.terminal_id.clone();
    let shift = store
        .call_blocking(move |c| shifts::current(c, &terminal_id))
        .expect("shift");
    let id = shift.as_ref().expect("open shift").id;
    update(&mut app, Msg::ShiftLoaded(shift));
    if wait_for_summary {
        let summary = store
            .call_blocking(move |c| shifts::summary(c, id))
            .expect("summary");
        update(&mut app, Msg::Summary(summary));
    }
    update(&mut app, Msg::Printer(printer.status()));
    let mut t = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
    t.draw(|f| f.render_widget(&app, f.area())).expect("draw");
    drop((store, printer, lock));
    t
}

/// The summary's three aggregates from one pass over the shift, each order's state taken from
/// `state_expr` (its last event, or the `orders.state` column).
fn whatif_one_pass(conn: &Connection, shift_id: i64, state_expr: &str) -> Summary {
    whatif_grouped(
        conn,
        shift_id,
        &format!(
            "SELECT {state_expr} AS state, o.cashier,
                    CAST(strftime('%H', o.created_at / 1000 + 28800, 'unixepoch') AS INTEGER),
                    COUNT(*), SUM(o.amount_fen)
             FROM orders o WHERE o.shift_id = ?1 GROUP BY 1, 2, 3"
        ),
    )
}

/// Folds `(state, cashier, hour, count, fen)` groups into the summary's three aggregates.
fn whatif_grouped(conn: &Connection, shift_id: i64, sql: &str) -> Summary {
    let mut stmt = conn.prepare_cached(sql).expect("prepare");
    let mut s = Summary {
        shift_id,
        ..Summary::default()
    };
    let mut by_state = std::collections::BTreeMap::<String, (i64, i64)>::new();
    let mut by_cashier = std::collections::BTreeMap::<String, (i64, i64)>::new();
    let mut by_hour = std::collections::BTreeMap::<i64, (i64, i64)>::new();
    let rows = stmt
        .query_map([shift_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })
        .expect("query");
    for row in rows {
        let (state, cashier, hour, n, fen) = row.expect("row");
        let e = by_state.entry(state.clone()).or_default();
        e.0 += n;
        e.1 += fen;
        if OrderState::parse(&state).is_some_and(OrderState::is_charged) {
            let e = by_cashier.entry(cashier).or_default();
            e.0 += n;
            e.1 += fen;
            let e = by_hour.entry(hour).or_default();
            e.0 += n;
            e.1 += fen;
        }
    }
    s.by_state = by_state.into_iter().map(|(k, (n, f))| (k, n, f)).collect();
    s.by_cashier = by_cashier
        .into_iter()
        .map(|(k, (n, f))| (k, n, f))
        .collect();
    s.by_hour = by_hour.into_iter().map(|(k, (n, f))| (k, n, f)).collect();
    s
}

/// The summary's aggregates read from maintained per-shift totals (see `whatif_maintained_totals`
/// in the benchmark), folded exactly as the one-pass summary folds its groups.
fn whatif_maintained_totals(conn: &Connection, shift_id: i64) -> Summary {
    whatif_grouped(
        conn,
        shift_id,
        "SELECT state, cashier, hour, n, fen FROM bench_shift_totals WHERE shift_id = ?1",
    )
}

/// SQLite's plan for a query, one line per step.
fn plan(conn: &Connection, sql: &str) -> String {
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .expect("plan");
    let n = stmt.parameter_count();
    stmt.query_map(rusqlite::params_from_iter(vec![1; n]), |r| {
        r.get::<_, String>(3)
    })
    .expect("plan")
    .map(|r| r.expect("plan row"))
    .collect::<Vec<_>>()
    .join("; ")
}

/// The three aggregates exactly as `shifts::summary` computed them at commit e48cf40: three
/// queries over a CTE whose every row looks up its order's last event (a correlated subquery).
fn head_summary_aggregates(conn: &Connection, shift_id: i64) -> Summary {
    const CHARGED: &str = "('PAID','PARTIALLY_REFUNDED','REFUNDED')";
    let last = "WITH last AS (
        SELECT o.id, o.amount_fen, o.cashier, o.created_at, o.out_trade_no,
               (SELECT e.state_after FROM order_events e WHERE e.order_id = o.id ORDER BY e.id DESC LIMIT 1) AS state
        FROM orders o WHERE o.shift_id = ?1)";
    let triples = |sql: &str| -> Vec<(String, i64, i64)> {
        let mut stmt = conn.prepare_cached(sql).expect("prepare");
        stmt.query_map([shift_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query")
            .collect::<Result<Vec<_>, _>>()
            .expect("rows")
    };
    Summary {
        shift_id,
        by_state: triples(&format!(
            "{last} SELECT state, COUNT(*), SUM(amount_fen) FROM last GROUP BY state ORDER BY state"
        )),
        by_cashier: triples(&format!(
            "{last} SELECT cashier, COUNT(*), SUM(amount_fen) FROM last WHERE state IN {CHARGED} GROUP BY cashier ORDER BY cashier"
        )),
        by_hour: triples(&format!(
            "{last} SELECT strftime('%H', created_at / 1000 + 28800, 'unixepoch'), COUNT(*), SUM(amount_fen)
             FROM last WHERE state IN {CHARGED} GROUP BY 1 ORDER BY 1"
        ))
        .into_iter()
        .map(|(h, n, f)| (h.parse().unwrap_or(0), n, f))
        .collect(),
        ..Summary::default()
    }
}

const LAST_EVENT: &str =
    "(SELECT e.state_after FROM order_events e WHERE e.order_id = o.id ORDER BY e.id DESC LIMIT 1)";

fn reports(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir: PathBuf = dir.path().join("scanpay-data");
    std::fs::create_dir_all(&data_dir).expect("data dir");
    let shift = build(&data_dir);
    let mut cfg = Config::load_from(Source::EmbeddedDemo).expect("demo config");
    cfg.data_dir = data_dir.clone();
    let conn = open_connection(&data_dir.join(DB_FILE)).expect("open");
    let reference = shifts::summary(&conn, shift).expect("summary");
    assert_eq!(
        reference.by_state.iter().map(|(_, n, _)| n).sum::<i64>(),
        ORDERS
    );

    // The plans, for docs/performance.md (the summary's query as src/store/shifts.rs has it
    // since 56a1800).
    for (what, sql) in [
        (
            "floor",
            "SELECT COUNT(*), SUM(amount_fen) FROM orders WHERE shift_id = ?1",
        ),
        (
            "duplicate-code check",
            "SELECT id FROM orders WHERE shift_id = ?1 AND code_fingerprint = ?2 ORDER BY id",
        ),
        (
            "summary",
            "SELECT state, cashier, ((created_at / 1000 + 28800) / 3600) % 24, COUNT(*), SUM(amount_fen)
             FROM orders WHERE shift_id = ?1 GROUP BY 1, 2, 3",
        ),
    ] {
        eprintln!("reports: plan of the {what} query: {}", plan(&conn, sql));
    }

    let mut g = c.benchmark_group("reports");
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);

    // Floor: read every order of the shift once (count and sum), nothing else.
    g.bench_function("floor_scan_orders_1m", |b| {
        b.iter(|| {
            conn.query_row(
                "SELECT COUNT(*), SUM(amount_fen) FROM orders WHERE shift_id = ?1",
                [shift],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
            )
            .expect("scan")
        })
    });
    // The duplicate-code check every new sale makes (`orders::code_used_in_shift`), for a code
    // not used yet, in this shift of 1 000 000 orders.
    g.bench_function("duplicate_code_check_1m_orders", |b| {
        b.iter(|| {
            let used = orders::code_used_in_shift(&conn, shift, "00000000000000000000000000000000")
                .expect("check");
            assert!(used.is_none());
        })
    });
    g.bench_function("summary_1m_orders", |b| {
        b.iter(|| shifts::summary(&conn, shift).expect("summary"))
    });

    // Floor of start-up: open the log with scanpay's pragmas, find the shift, draw one empty
    // frame.
    let path = data_dir.join(DB_FILE);
    g.bench_function("floor_open_and_blank_frame", |b| {
        b.iter(|| {
            let conn = open_connection(&path).expect("open");
            let s = shifts::current(&conn, "POS01").expect("shift");
            let mut t = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
            t.draw(|_| {}).expect("draw");
            (s, t)
        })
    });
    let first = start_to_first_frame(&cfg, true);
    assert!(
        format!("{:?}", first.backend()).contains("POS01"),
        "the first frame shows the till"
    );
    g.bench_function("startup_first_frame_1m_orders", |b| {
        b.iter(|| start_to_first_frame(&cfg, true))
    });
    g.bench_function("startup_first_frame_summary_in_background_1m_orders", |b| {
        b.iter(|| start_to_first_frame(&cfg, false))
    });

    // What the summary costs other ways, on the same data (see docs/performance.md).
    let head = head_summary_aggregates(&conn, shift);
    assert_eq!(head.by_state, reference.by_state);
    assert_eq!(head.by_cashier, reference.by_cashier);
    assert_eq!(head.by_hour, reference.by_hour);
    g.bench_function("whatif_head_e48cf40_three_correlated_passes", |b| {
        b.iter(|| head_summary_aggregates(&conn, shift))
    });
    let one_pass = whatif_one_pass(&conn, shift, LAST_EVENT);
    assert_eq!(one_pass.by_state, reference.by_state);
    assert_eq!(one_pass.by_cashier, reference.by_cashier);
    assert_eq!(one_pass.by_hour, reference.by_hour);
    g.bench_function("whatif_one_pass_last_event", |b| {
        b.iter(|| whatif_one_pass(&conn, shift, LAST_EVENT))
    });
    // Per-shift totals kept up to date in the same transactions as the events (a table keyed by
    // shift, state, cashier and hour): a Z then reads a few dozen rows. Filled here once from the
    // data, to measure the read side.
    conn.execute_batch(&format!(
        "CREATE TABLE bench_shift_totals (shift_id INTEGER, state TEXT, cashier TEXT, hour INTEGER,
                                          n INTEGER, fen INTEGER,
                                          PRIMARY KEY (shift_id, state, cashier, hour)) STRICT;
         INSERT INTO bench_shift_totals
             SELECT o.shift_id, {LAST_EVENT}, o.cashier,
                    CAST(strftime('%H', o.created_at / 1000 + 28800, 'unixepoch') AS INTEGER),
                    COUNT(*), SUM(o.amount_fen)
             FROM orders o GROUP BY 1, 2, 3, 4;"
    ))
    .expect("totals");
    let totals = whatif_maintained_totals(&conn, shift);
    assert_eq!(totals.by_state, reference.by_state);
    assert_eq!(totals.by_cashier, reference.by_cashier);
    assert_eq!(totals.by_hour, reference.by_hour);
    g.bench_function("whatif_maintained_totals", |b| {
        b.iter(|| whatif_maintained_totals(&conn, shift))
    });
    g.finish();
}

criterion_group!(benches, reports);
criterion_main!(benches);
