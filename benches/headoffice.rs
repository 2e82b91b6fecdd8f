//! The head office on PostgreSQL (docs/multi-till.md): how fast one till ships its log, and
//! the day's report over a month of a hundred tills.
//!
//! The cluster is a throw-away PostgreSQL on loopback started as `tests/hq_sync.rs` starts
//! them, but with `fsync=on` (a head office keeps what it commits). Without PostgreSQL the
//! bench says so and measures nothing.
//!
//! - `ship_10k_sales`: a till's log of 10 000 sales (each order written, answered with three
//!   events and updated once: 50 001 changes queued by the outbox triggers, each a row written
//!   centrally, as the update lands in a later batch than its insert) shipped by
//!   `sync::ship_all` into a fresh central database, in batches of `sync::BATCH`. Throughput in
//!   rows; the log is built before the clock starts.
//! - `report_day_all_stores` / `report_day_one_store`: `hq::report::report` for one day of a
//!   month of 100 tills × 1 000 sales a day (3 000 000 orders, 1 % refunded) written straight
//!   into the central tables.
//!
//! Run: `cargo bench --bench headoffice` (results: docs/performance.md, docs/multi-till.md).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use scanpay::store::Store;

#[allow(dead_code)] // the bench uses the cluster, not every helper of the tests
#[path = "../tests/common/pg.rs"]
mod pg;

/// Sales in the log one shipment measurement ships.
const SALES: i64 = 10_000;

fn sync_settings(url: &str) -> scanpay::config::Sync {
    scanpay::config::Sync {
        postgres_url: scanpay::config::check_sync_url(url).expect("URL"),
        interval_secs: 10,
        ca_file: None,
    }
}

/// A till log in `dir` with `sales` sales, as a sale writes them: the order, three events,
/// the order updated to PAID; the outbox fills through the triggers.
fn fill_log(rt: &tokio::runtime::Runtime, dir: &std::path::Path, sales: i64) -> Store {
    let store = Store::open(dir).expect("store");
    let t0 = 1_764_000_000_000_i64;
    rt.block_on(store.call(move |c| {
        c.execute_batch(&format!(
            "BEGIN;
             INSERT INTO shifts(id, terminal_id, cashier, opened_at) VALUES (1, 'POS01', 'li', {t0});
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {sales})
             INSERT INTO orders(id, out_trade_no, shift_id, terminal_id, cashier, amount_fen,
                 description, code_masked, code_fingerprint, state, machine, created_at, updated_at)
             SELECT i, printf('POS01-20251125-AB-%06d', i), 1, 'POS01', 'li', 100 + i % 5000,
                 'Demo store', '1345**********1234', printf('%064d', i), 'PENDING', '{{}}',
                 {t0} + i * 1000, {t0} + i * 1000 FROM n;
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {sales} * 3)
             INSERT INTO order_events(order_id, at, kind, detail, state_after)
             SELECT (i + 2) / 3, {t0} + i * 333, 'pay_answer', 'SUCCESS', 'PAID' FROM n;
             UPDATE orders SET state = 'PAID', transaction_id = '42000000' || id;
             COMMIT;"
        ))?;
        Ok(())
    }))
    .expect("log");
    store
}

fn headoffice(c: &mut Criterion) {
    // SAFETY (of the environment): set before the cluster starts, before any other thread.
    unsafe { std::env::set_var("SCANPAY_PG_FSYNC", "on") };
    let Some(cluster) = pg::cluster() else {
        return pg::skipped("benches/headoffice.rs");
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let till = scanpay::sync::TillName {
        till_id: "bench".into(),
        mode: "live".into(),
        mchid: "1900000001".into(),
        sub_mchid: None,
        store_id: "S1".into(),
        terminal_id: "POS01".into(),
    };
    let mut g = c.benchmark_group("headoffice");
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(30));

    // Shipping: a fresh log and a fresh central database per iteration, outside the clock.
    let rows = (SALES * 5 + 1) as u64;
    g.throughput(Throughput::Elements(rows));
    g.bench_function("ship_10k_sales", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let tmp = tempfile::tempdir().expect("temp dir");
                let store = fill_log(&rt, tmp.path(), SALES);
                let (_, url) = cluster.fresh_db();
                let sync = sync_settings(&url);
                let shipped = rt.block_on(async {
                    let mut c = scanpay::hq::connect(&sync).await.expect("head office");
                    scanpay::hq::schema::init(&mut c).await.expect("schema");
                    let start = Instant::now();
                    let s = scanpay::sync::ship_all(&store, &mut c, &till, Duration::ZERO)
                        .await
                        .expect("shipment");
                    total += start.elapsed();
                    s
                });
                assert_eq!(shipped.rows as u64, rows, "{shipped:?}");
                assert_eq!(shipped.backlog.pending, 0);
            }
            total
        })
    });

    g.finish();

    // The day's report over a month of 100 tills.
    let (db, url) = cluster.fresh_db();
    let sync = sync_settings(&url);
    rt.block_on(async {
        let mut c = scanpay::hq::connect(&sync).await.expect("head office");
        scanpay::hq::schema::init(&mut c).await.expect("schema");
    });
    let t_gen = Instant::now();
    cluster.psql(
        &db,
        "INSERT INTO hq_tills(till_id, mode, mchid, store_id, terminal_id, last_sync)
         SELECT 'till' || t, 'live', '1900000001', 'S' || (t % 20), 'T' || t, now()
         FROM generate_series(1, 100) t;
         INSERT INTO hq_orders(till_id, id, seq, out_trade_no, shift_id, terminal_id, cashier,
             amount_fen, state, transaction_id, created_at, updated_at, row)
         SELECT 'till' || t, d * 1000 + s, d * 1000 + s, 'T' || t || '-' || d || '-' || s, d,
             'T' || t, 'c', 100 + s, CASE WHEN s % 50 = 0 THEN 'FAILED' ELSE 'PAID' END,
             '42' || t || d || s, 1764000000000 + d * 86400000::bigint + s * 60000,
             1764000000000 + d * 86400000::bigint + s * 60000,
             jsonb_build_object('description', 'Demo store', 'code_masked', '1345**********1234',
                 'machine', '{}', 'amount_fen', 100 + s)
         FROM generate_series(1, 100) t, generate_series(0, 29) d, generate_series(1, 1000) s;
         INSERT INTO hq_refunds(till_id, id, seq, out_refund_no, order_id, shift_id, amount_fen,
             status, created_at, updated_at, row)
         SELECT till_id, id, seq, 'R' || out_trade_no, id, shift_id, 50, 'SUCCESS',
             created_at + 1000, created_at + 1000, '{}'::jsonb
         FROM hq_orders WHERE id % 100 = 7;
         ANALYZE;",
    );
    eprintln!(
        "headoffice: a month of 100 tills (3 000 000 orders) written in {:.0} s",
        t_gen.elapsed().as_secs_f64()
    );
    // 2025-11-25 + 15 days, Beijing: the 16th day of the month generated.
    let day = jiff::Timestamp::from_millisecond(1_764_000_000_000 + 15 * 86_400_000 + 3_600_000)
        .expect("day")
        .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(8)))
        .date()
        .to_string();
    let client = rt
        .block_on(scanpay::hq::connect(&sync))
        .expect("head office");
    let report = rt
        .block_on(scanpay::hq::report::report(&client, &day, None))
        .expect("report");
    let orders_in_day: i64 = report.totals.by_state.iter().map(|(_, n, _)| n).sum();
    assert_eq!(
        orders_in_day,
        100 * 1000,
        "the month was not written as meant"
    );
    let mut g = c.benchmark_group("headoffice");
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(10));
    for (name, store) in [
        ("report_day_all_stores", None),
        ("report_day_one_store", Some("S3")),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                black_box(
                    rt.block_on(scanpay::hq::report::report(&client, &day, store))
                        .expect("report"),
                )
            })
        });
    }
    g.finish();
}

criterion_group!(benches, headoffice);
criterion_main!(benches);
