//! The shift log at scale, each figure beside a floor measured in the same run:
//!
//! - the X/Z summary (`shifts::summary`, read from the running totals) of a shift of
//!   1 000 000 orders, and of a 2 000-order shift inside a log of 5 000 000 orders;
//! - start-up to the first frame with the 5 000 000-order log, summary included;
//! - the shift-log part of one sale (`orders::create_with` with the pay request, then the
//!   answer: two commits, `synchronous=FULL`) on logs of 10 000, 1 000 000 and 5 000 000 orders.
//!
//! The databases are built once per bench process, in a temporary folder (TMPDIR), with the real
//! schema (`scanpay::store::open_connection`, triggers included) and rows shaped as the engine
//! writes them: each order with its machine snapshot and its events (`created`, `pay_request`,
//! `pay_answer`, and more for reversed and refunded orders), refunds for the refunded ones. The
//! 5 000 000-order log is about 5 GB and takes several minutes to build; `SCANPAY_BENCH_BIG`
//! sets another size (docs/performance.md says which was measured).
//!
//! Start-up (`startup_first_frame_5m_orders`) measures, per iteration, what the cashier screen
//! (`tui::run`) does before its first draw, in its order, minus the terminal, the log file and
//! the payment service: `DataDirLock::acquire`, `Store::open` (writer thread, connection,
//! pragmas, migration check), the in-flight scan (`orders::in_flight`), the print queue,
//! `App::new`, the demo supervisor check, `shifts::current`, `update(ShiftLoaded)`,
//! `shifts::summary` + `update(Summary)`, and one draw of the whole screen on a TestBackend
//! 80×24. The page cache is warm.
//!
//! Run: `cargo bench --bench reports` (results: docs/performance.md).

use std::path::{Path, PathBuf};
use std::time::Instant;

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rusqlite::params;
use scanpay::clock::beijing;
use scanpay::config::{Config, Source};
use scanpay::engine::OrderState;
use scanpay::engine::micropay::{Event, Machine, PayResult, Reason, Remote, Timing};
use scanpay::lock::DataDirLock;
use scanpay::store::shifts;
use scanpay::store::{DB_FILE, Store, StoreError, open_connection, orders};
use scanpay::tui::app::{App, Msg};
use scanpay::tui::run::{DEMO_CASHIER, app_config};
use scanpay::tui::update::update;

/// 2025-08-19 00:00 Beijing: the logs start here.
const T0: i64 = 1_755_532_800_000;
/// One order every 8.64 s: 10 000 a day, every hour of the day.
const STEP_MS: i64 = 8_640;
/// The big log's size, unless `SCANPAY_BENCH_BIG` says otherwise.
const BIG: i64 = 5_000_000;

fn mix(mut x: u64) -> u64 {
    // splitmix64: distinct, well spread fingerprints without a dependency.
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Builds the database in `data_dir` and returns the shift's id.
/// Builds a log of `total` orders in shifts of `per_shift` (all closed but the last, which is
/// open); returns the open shift's id.
fn build(data_dir: &Path, total: i64, per_shift: i64) -> i64 {
    let started = Instant::now();
    let mut conn = open_connection(&data_dir.join(DB_FILE)).expect("open");
    // Build-time only: a big page cache for the index inserts.
    conn.pragma_update(None, "cache_size", -262_144)
        .expect("cache");
    // A till that has run before: the demo supervisor exists (its argon2 hash is made once).
    scanpay::supervisor::ensure_demo(&conn, T0).expect("supervisor");
    let tx = conn.transaction().expect("tx");
    let mut shift = 0;
    {
        let mut open_shift = tx
            .prepare(
                "INSERT INTO shifts(terminal_id, cashier, opened_at, closed_at, closed_by)
                 VALUES ('POS01', ?1, ?2, ?3, ?4)",
            )
            .expect("prepare");
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
        for i in 0..total {
            if i % per_shift == 0 {
                let last = i + per_shift >= total;
                let opened = T0 + i * STEP_MS;
                let closed = (!last).then(|| T0 + (i + per_shift) * STEP_MS);
                open_shift
                    .execute(params![
                        DEMO_CASHIER,
                        opened,
                        closed,
                        closed.map(|_| DEMO_CASHIER)
                    ])
                    .expect("shift");
                shift = tx.last_insert_rowid();
            }
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
    let now = T0 + 1_000 * 86_400_000;
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

/// The shift-log part of one sale on `store`, as `Engine::pay` does it through the writer
/// thread: the duplicate-code check, the order with its `created` and `pay_request` events (one
/// commit), then `pay_answer` (the second).
fn store_part(store: &Store, shift_id: i64, n: u64) {
    let now = T0 + 1_000 * 86_400_000 + n as i64;
    let fresh = Machine::new(1234, Timing::from_secs(5, 45));
    let (m, _) = fresh.clone().step(Event::Start, now);
    let (created, sent) = (fresh.to_snapshot(), m.to_snapshot());
    let tid = format!("4200002562{:018}", mix(n) % 10u64.pow(18));
    let (paid, _) = m.step(
        Event::Pay(PayResult::Answer(Remote::Paid {
            transaction_id: Some(tid.clone()),
            total: Some(1234),
        })),
        now,
    );
    let paid = paid.to_snapshot();
    let code = format!("13{n:014}11");
    let id = store
        .call_blocking(move |c| {
            let fp = orders::fingerprint(c, &code)?;
            assert!(orders::code_used_in_shift(c, shift_id, &fp)?.is_none());
            let new = orders::NewOrder {
                shift_id,
                terminal_id: "POS01".into(),
                cashier: DEMO_CASHIER.into(),
                amount: scanpay::money::Fen(1234),
                description: "bench".into(),
                code_masked: "1345 **** **** 6711".into(),
                code_fingerprint: fp,
                protocol: scanpay::config::Api::V3,
                party: scanpay::order::PartyKind::Direct,
                sub_mchid: None,
            };
            let change = orders::Change {
                kind: scanpay::order::EventKind::PayRequest,
                detail: "{}",
                state: OrderState::Pending,
                snapshot: &sent,
                transaction_id: None,
                reason: None,
            };
            orders::create_with(c, &new, OrderState::Pending, &created, Some(&change), now)
        })
        .expect("order")
        .id;
    store
        .call_blocking(move |c| {
            let detail = format!(
                r#"{{"result":"answer","trade_state":"SUCCESS","transaction_id":"{tid}"}}"#
            );
            let change = orders::Change {
                kind: scanpay::order::EventKind::PayAnswer,
                detail: &detail,
                state: OrderState::Paid,
                snapshot: &paid,
                transaction_id: Some(&tid),
                reason: None,
            };
            orders::record(c, id, &change, now)
        })
        .expect("answer");
}

/// A data folder with a log of `total` orders in shifts of `per_shift`.
fn folder(root: &Path, name: &str, total: i64, per_shift: i64) -> (PathBuf, i64) {
    let data_dir = root.join(name);
    std::fs::create_dir_all(&data_dir).expect("data dir");
    let shift = build(&data_dir, total, per_shift);
    (data_dir, shift)
}

fn reports(c: &mut Criterion) {
    let big: i64 = std::env::var("SCANPAY_BENCH_BIG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(BIG);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut g = c.benchmark_group("reports");
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);

    // 1. One shift of 1 000 000 orders.
    let (one_m, shift) = folder(dir.path(), "one-m", 1_000_000, 1_000_000);
    let conn = open_connection(&one_m.join(DB_FILE)).expect("open");
    let fast = shifts::summary(&conn, shift).expect("summary");
    let slow = shifts::recount(&conn, shift).expect("recount");
    assert_eq!(
        serde_json::to_value(&fast).expect("json"),
        serde_json::to_value(&slow).expect("json"),
        "the running totals equal the recount"
    );
    assert_eq!(
        fast.by_state.iter().map(|(_, n, _)| n).sum::<i64>(),
        1_000_000
    );
    // Floor: the summary's answer is a few dozen rows; reading one row by key is the least any
    // summary can do.
    g.bench_function("floor_read_one_row", |b| {
        b.iter(|| {
            conn.query_row("SELECT value FROM meta LIMIT 1", [], |r| {
                r.get::<_, String>(0)
            })
            .ok()
        })
    });
    g.bench_function("summary_1m_orders_in_shift", |b| {
        b.iter(|| shifts::summary(&conn, shift).expect("summary"))
    });
    g.bench_function("recount_1m_orders_in_shift", |b| {
        b.iter(|| shifts::recount(&conn, shift).expect("recount"))
    });
    drop(conn);
    let store = Store::open(&one_m).expect("store");
    let mut n = 0u64;
    g.bench_function("store_part_sale_1m_log", |b| {
        b.iter(|| {
            n += 1;
            store_part(&store, shift, n)
        })
    });
    drop(store);

    // 2. A log of 10 000 orders (five shifts of 2 000).
    let (small, small_shift) = folder(dir.path(), "ten-k", 10_000, 2_000);
    let store = Store::open(&small).expect("store");
    g.bench_function("store_part_sale_10k_log", |b| {
        b.iter(|| {
            n += 1;
            store_part(&store, small_shift, n)
        })
    });
    drop(store);
    std::fs::remove_dir_all(&small).ok();

    // 3. The big log: shifts of 2 000 orders.
    let (big_dir, big_shift) = folder(dir.path(), "big", big, 2_000);
    let conn = open_connection(&big_dir.join(DB_FILE)).expect("open");
    let fast = shifts::summary(&conn, big_shift).expect("summary");
    assert_eq!(
        serde_json::to_value(&fast).expect("json"),
        serde_json::to_value(shifts::recount(&conn, big_shift).expect("recount")).expect("json")
    );
    g.bench_function("summary_2k_shift_in_big_log", |b| {
        b.iter(|| shifts::summary(&conn, big_shift).expect("summary"))
    });
    // Floor of start-up: open the log with scanpay's pragmas, find the shift, draw one empty
    // frame.
    let path = big_dir.join(DB_FILE);
    g.bench_function("floor_open_and_blank_frame_big_log", |b| {
        b.iter(|| {
            let conn = open_connection(&path).expect("open");
            let s = shifts::current(&conn, "POS01").expect("shift");
            let mut t = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
            t.draw(|_| {}).expect("draw");
            (s, t)
        })
    });
    drop(conn);
    let mut cfg = Config::load_from(Source::EmbeddedDemo).expect("demo config");
    cfg.data_dir = big_dir.clone();
    let first = start_to_first_frame(&cfg, true);
    assert!(
        format!("{:?}", first.backend()).contains("POS01"),
        "the first frame shows the till"
    );
    g.bench_function("startup_first_frame_big_log", |b| {
        b.iter(|| start_to_first_frame(&cfg, true))
    });
    let store = Store::open(&big_dir).expect("store");
    g.bench_function("store_part_sale_big_log", |b| {
        b.iter(|| {
            n += 1;
            store_part(&store, big_shift, n)
        })
    });
    drop(store);
    eprintln!("reports: big log = {big} orders");
    g.finish();
}

criterion_group!(benches, reports);
criterion_main!(benches);
