//! One whole payment through the engine against the in-process simulator on loopback (the
//! happy path: a code ending `11`, paid at once), with `synchronous=FULL` and `NORMAL`, beside
//! its physical floor measured in the same run.
//!
//! The floor of a happy-path payment is the work no implementation can skip, counted from the
//! code (and checked at set-up below):
//! - RSA: the client signs the pay request, the simulator verifies it and signs its answer, the
//!   client verifies the answer: 2 signatures + 2 verifications;
//! - fsync: two commits (`orders::create_with` writes the order, its `created` event and its
//!   `pay_request` before the call leaves; then `pay_answer` before the screen is told), each
//!   one WAL sync with `synchronous=FULL`, none with `NORMAL`;
//! - one loopback HTTP round trip (one `POST /v3/pay/transactions/codepay`).
//!
//! `floor_payment_full` / `floor_payment_normal` do exactly that work back to back with the bare
//! primitives (aws-lc-rs RSA with a parsed key, 4 KiB `write` + `sync_data`, a reqwest GET to a
//! tiny axum server on 127.0.0.1), so the ratio compares like with like. The fsync and the
//! round trip are also timed alone; RSA alone is the `crypto` bench's. `part_store_*` and
//! `part_pay_call` time the payment's shift-log part and its pay call, each alone.
//!
//! What the cashier screen's background shipper (`[sync]`) adds to a sale, shipping the same log
//! to a PostgreSQL head office (a throw-away cluster on loopback that fsyncs, as
//! `tests/hq_sync.rs` starts them, kept in memory: the head office's disk is not the till's):
//! `payment_paced_10ms` and `payment_paced_10ms_again` (a sale every 10 ms, the pause not
//! timed; before and after) against `payment_paced_10ms_shipping_every_1s` (the same while
//! shipping every second, ten times the screen's default), and `payment_sync_full_shipping_every_10s` (sales back to back, ~900 a
//! second, while shipping at the screen's default interval) against `payment_sync_full`.
//! Without PostgreSQL they are skipped, loudly.
//!
//! Run: `cargo bench --bench payment` (results: docs/performance.md).

#[allow(dead_code)] // the bench uses the cluster, not every helper of the tests
#[path = "../tests/common/pg.rs"]
mod pg;

use std::fs::File;
use std::hint::black_box;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, ParsedPublicKey};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use scanpay::auth_code::AuthCode;
use scanpay::clock::{SharedClock, SystemClock};
use scanpay::config::{Config, Source};
use scanpay::engine::micropay::{Event, Machine, PayResult, Remote, Timing};
use scanpay::engine::{Engine, OrderState, Progress, Sale};
use scanpay::money::Fen;
use scanpay::order::EventKind;
use scanpay::store::orders::Change;
use scanpay::store::{Durability, Store, orders, shifts};
use scanpay::wechat::PayAnswer;
use scanpay::wechat::model::{CodepayPayer, CodepayRequest, RequestAmount, SceneInfo, StoreInfo};

/// The merchant request message size the engine signs (a codepay body plus the header lines).
const MESSAGE: &[u8] = br#"POST
/v3/pay/transactions/codepay
1764208800
5F3A0C1E9B2D4E6F8A7B6C5D4E3F2A1B
{"appid":"wxd678efh567hg6787","mchid":"1900000001","description":"bench","out_trade_no":"POS01-20261127-AB-000001","payer":{"auth_code":"134567890123456711"},"amount":{"total":1234,"currency":"CNY"},"scene_info":{"store_info":{"out_id":"SZ-001"},"device_ip":"10.0.0.8","device_id":"POS01"}}
"#;

/// Bare RSA-2048 with a parsed public key.
struct Rsa {
    pair: KeyPair,
    public: ParsedPublicKey,
    rng: aws_lc_rs::rand::SystemRandom,
    sig: Vec<u8>,
}

impl Rsa {
    fn new() -> Rsa {
        use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
        use aws_lc_rs::signature::KeyPair as _;
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA key");
        let der: PublicKeyX509Der<'static> = pair.public_key().as_der().expect("SPKI");
        let public = ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, der.as_ref())
            .expect("public key");
        let sig = vec![0u8; pair.public_modulus_len()];
        Rsa {
            pair,
            public,
            rng: aws_lc_rs::rand::SystemRandom::new(),
            sig,
        }
    }
    fn sign(&mut self) {
        self.pair
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &self.rng,
                black_box(MESSAGE),
                &mut self.sig,
            )
            .expect("sign");
    }
    fn verify(&self) {
        self.public
            .verify_sig(black_box(MESSAGE), black_box(&self.sig))
            .expect("verify");
    }
}

/// 4 KiB written over the start of a file, then `fdatasync`: one durable commit's worth.
struct Fsync {
    file: File,
    block: [u8; 4096],
}

impl Fsync {
    fn new(dir: &Path) -> Fsync {
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.join("fsync-floor"))
            .expect("floor file");
        let block = [0x5a; 4096];
        file.write_all_at(&block, 0).expect("write");
        file.sync_all().expect("sync");
        Fsync { file, block }
    }
    fn once(&self) {
        self.file.write_all_at(&self.block, 0).expect("write");
        self.file.sync_data().expect("fdatasync");
    }

    /// A diagnostic, printed and not part of the table: the median of `n` syncs of 4 KiB, each
    /// after `gap` idle (a payment's commits are milliseconds apart), with `fdatasync` (the
    /// floor) or `fsync` (what SQLite calls, which also journals the file's new mtime).
    fn spaced_median(&self, n: usize, gap: std::time::Duration, full: bool) -> std::time::Duration {
        let mut times: Vec<std::time::Duration> = (0..n)
            .map(|_| {
                std::thread::sleep(gap);
                let t = std::time::Instant::now();
                self.file.write_all_at(&self.block, 0).expect("write");
                if full {
                    self.file.sync_all().expect("fsync");
                } else {
                    self.file.sync_data().expect("fdatasync");
                }
                t.elapsed()
            })
            .collect();
        times.sort();
        times[n / 2]
    }
}

/// A tiny HTTP server on 127.0.0.1 and a keep-alive reqwest client for it.
struct Loopback {
    client: reqwest::Client,
    url: String,
    _server: tokio::task::JoinHandle<()>,
}

impl Loopback {
    fn start(rt: &tokio::runtime::Runtime) -> Loopback {
        rt.block_on(async {
            let app = axum::Router::new().fallback(|| async { "{}" });
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            let server = tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            Loopback {
                client: reqwest::Client::new(),
                url: format!("http://{addr}/"),
                _server: server,
            }
        })
    }
    async fn round_trip(&self) {
        let body = self
            .client
            .get(&self.url)
            .send()
            .await
            .expect("send")
            .bytes()
            .await
            .expect("body");
        black_box(body);
    }
}

/// The runtime the cashier screen uses: multi-threaded, two workers.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// An engine on the in-process simulator and a fresh shift log in `dir`.
struct Rig {
    engine: Engine,
    sim: scanpay::sim::SimHandle,
    /// The shift sales go to, and how many it has.
    shift: std::sync::Mutex<(i64, u64)>,
    next: AtomicU64,
}

/// Sales per shift before the rig moves to a fresh one. Before migration 4 a shift's
/// duplicate-code check scanned the shift's orders (see docs/performance.md), so a payment's cost
/// grew with its shift; the cap keeps the measurement independent of how long criterion runs,
/// and comparable with the figures measured then.
const SHIFT_SALES: u64 = 500;

impl Rig {
    fn new(rt: &tokio::runtime::Runtime, dir: &Path, durability: Durability) -> Rig {
        let cfg = Config::load_from(Source::EmbeddedDemo).expect("demo config");
        let clock: SharedClock = Arc::new(SystemClock);
        rt.block_on(async {
            let (client, sim) = scanpay::sim::connect_in_process(&cfg, clock.clone())
                .await
                .expect("simulator");
            // The writer thread, as the cashier screen and `scanpay pay` run it.
            let store = Store::open_with(dir, durability).expect("store");
            let now = clock.now_ms();
            let shift = store
                .call(move |c| shifts::open(c, "POS01", "bench", now))
                .await
                .expect("shift")
                .id;
            let plan = store
                .call(|c| {
                    let mut stmt = c.prepare(
                        "EXPLAIN QUERY PLAN SELECT id FROM orders
                         WHERE shift_id = ?1 AND code_fingerprint = ?2 ORDER BY id",
                    )?;
                    let steps = stmt
                        .query_map([1, 2], |r| r.get::<_, String>(3))?
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(steps.join("; "))
                })
                .await
                .expect("plan");
            eprintln!("payment: plan of the duplicate-code check: {plan}");
            Rig {
                engine: Engine::new(&cfg, client, store, clock),
                sim,
                shift: std::sync::Mutex::new((shift, 0)),
                next: AtomicU64::new(1),
            }
        })
    }

    /// A sale with a fresh code (a code may be used once per shift): 13…11, paid at once. Every
    /// `SHIFT_SALES` sales it opens a fresh shift (on another till id: one open shift per till).
    async fn sale(&self) -> Sale {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        let full = {
            let mut s = self.shift.lock().expect("shift");
            s.1 += 1;
            s.1 > SHIFT_SALES
        };
        if full {
            let now = self.engine.clock().now_ms();
            let till = format!("BENCH{i}");
            let id = self
                .engine
                .store()
                .call(move |c| shifts::open(c, &till, "bench", now))
                .await
                .expect("shift")
                .id;
            *self.shift.lock().expect("shift") = (id, 1);
        }
        Sale {
            amount: Fen(1234),
            description: "bench".into(),
            code: AuthCode::parse(&format!("13{i:014}11")).expect("code"),
            shift_id: self.shift.lock().expect("shift").0,
            cashier: "bench".into(),
        }
    }

    /// One payment through `Engine::pay`.
    async fn pay(&self) -> scanpay::store::orders::OrderRecord {
        let sale = self.sale().await;
        let mut quiet = |_: &Progress| {};
        let o = self
            .engine
            .pay(&sale, &mut quiet, None)
            .await
            .expect("payment");
        assert_eq!(o.state, OrderState::Paid);
        o
    }

    /// The payment's shift-log part alone, as `Engine::pay` does it through the writer thread:
    /// the duplicate-code check, the order with its `created` and `pay_request` events (one
    /// commit), then `pay_answer` (the second). No network, no RSA, nothing read back.
    async fn store_part(&self) {
        let sale = self.sale().await;
        let store = self.engine.store();
        let now = self.engine.clock().now_ms();
        let fresh = Machine::new(sale.amount.0, Timing::from_secs(5, 45));
        let (m, _) = fresh.clone().step(Event::Start, now);
        let (created, sent) = (fresh.to_snapshot(), m.to_snapshot());
        let code = sale.code.expose().to_string();
        let new = orders::NewOrder {
            shift_id: sale.shift_id,
            terminal_id: "POS01".into(),
            cashier: sale.cashier.clone(),
            amount: sale.amount,
            description: sale.description.clone(),
            code_masked: sale.code.masked().to_string(),
            code_fingerprint: String::new(),
            protocol: scanpay::config::Api::V3,
            party: scanpay::order::PartyKind::Direct,
            sub_mchid: None,
        };
        let order = store
            .call(move |c| {
                let fp = orders::fingerprint(c, &code)?;
                assert!(orders::code_used_in_shift(c, new.shift_id, &fp)?.is_none());
                let change = Change {
                    kind: EventKind::PayRequest,
                    detail: "{}",
                    state: OrderState::Pending,
                    snapshot: &sent,
                    transaction_id: None,
                    reason: None,
                };
                let new = orders::NewOrder {
                    code_fingerprint: fp,
                    ..new
                };
                orders::create_with(c, &new, OrderState::Pending, &created, Some(&change), now)
            })
            .await
            .expect("order and pay_request");
        let id = order.id;
        let tid = "4200002562202611270000000001";
        let (m, _) = m.step(
            Event::Pay(PayResult::Answer(Remote::Paid {
                transaction_id: Some(tid.into()),
                total: Some(1234),
            })),
            now,
        );
        assert_eq!(m.state(), OrderState::Paid);
        let detail =
            format!(r#"{{"result":"answer","trade_state":"SUCCESS","transaction_id":"{tid}"}}"#);
        let paid = m.to_snapshot();
        store
            .call(move |c| {
                let change = Change {
                    kind: EventKind::PayAnswer,
                    detail: &detail,
                    state: OrderState::Paid,
                    snapshot: &paid,
                    transaction_id: Some(tid),
                    reason: None,
                };
                orders::record(c, id, &change, now)
            })
            .await
            .expect("pay_answer");
    }

    /// The payment's pay call alone: `Client::codepay` against the simulator (sign, HTTP,
    /// the simulator's checks, ledger and signature, verify, decode). No shift log.
    async fn call_part(&self) {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        let req = CodepayRequest {
            appid: scanpay::sim::DEMO_APPID.into(),
            mchid: scanpay::sim::DEMO_MCHID.into(),
            description: "bench".into(),
            out_trade_no: format!("POS01-20261127-BN-{i:08}"),
            attach: None,
            payer: CodepayPayer {
                auth_code: format!("13{i:014}11"),
            },
            amount: RequestAmount {
                total: 1234,
                currency: Some("CNY".into()),
            },
            scene_info: SceneInfo {
                store_info: StoreInfo {
                    out_id: Some("SZ-001".into()),
                    id: None,
                },
                device_ip: Some("10.0.0.8".into()),
                device_id: Some("POS01".into()),
            },
        };
        let answer = self.engine.client().codepay(&req).await.expect("answer");
        assert!(matches!(answer, PayAnswer::Paid(_)));
    }

    /// Checks the counts the floor is built on: two commits, three events, one request.
    fn check_floor_counts(&self, rt: &tokio::runtime::Runtime) {
        // A first sale opens the bench's shift and mints the run's order-number epoch.
        rt.block_on(self.pay());
        let commits = Arc::new(AtomicU64::new(0));
        let counter = commits.clone();
        rt.block_on(self.engine.store().call(move |c| {
            c.commit_hook(Some(move || {
                counter.fetch_add(1, Ordering::Relaxed);
                false
            }));
            Ok(())
        }))
        .expect("commit hook");
        let before: u64 = self.sim.stats().requests.values().sum();
        let o = rt.block_on(self.pay());
        let after: u64 = self.sim.stats().requests.values().sum();
        assert_eq!(after - before, 1, "one HTTP request per happy-path payment");
        assert_eq!(
            commits.load(Ordering::Relaxed),
            2,
            "two commits per payment"
        );
        rt.block_on(self.engine.store().call(|c| {
            c.commit_hook(None::<fn() -> bool>);
            Ok(())
        }))
        .expect("commit hook");
        let id = o.id;
        let kinds: Vec<String> = rt
            .block_on(self.engine.store().call(move |c| orders::events(c, id)))
            .expect("events")
            .into_iter()
            .map(|e| e.kind.as_str().to_string())
            .collect();
        assert_eq!(kinds, ["created", "pay_request", "pay_answer"]);
    }
}

fn payment(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut g = c.benchmark_group("payment");

    // Floors: each primitive alone, on this machine, in this run (RSA sign and verify alone:
    // `cargo bench --bench crypto`).
    let mut rsa = Rsa::new();
    // In the folder the shift logs below live in (TMPDIR), so on the same disk.
    let fsync = Fsync::new(dir.path());
    g.bench_function("floor_fsync_4k", |b| b.iter(|| fsync.once()));
    for (gap_ms, full) in [(0, false), (5, false), (0, true), (5, true)] {
        let gap = std::time::Duration::from_millis(gap_ms);
        let median = fsync.spaced_median(200, gap, full);
        eprintln!(
            "payment: diagnostic: 4 KiB + {} every {gap_ms} ms + its own time: median {:.0} µs",
            if full { "fsync" } else { "fdatasync" },
            median.as_secs_f64() * 1e6
        );
    }
    let net = Loopback::start(&rt);
    g.bench_function("floor_loopback_http_round_trip", |b| {
        b.iter(|| rt.block_on(net.round_trip()))
    });
    // The whole floor of one happy-path payment, done back to back.
    for (name, fsyncs) in [("floor_payment_full", 2), ("floor_payment_normal", 0)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                rsa.sign(); // client signs the request
                rsa.verify(); // simulator verifies it
                rsa.sign(); // simulator signs the answer
                rsa.verify(); // client verifies the answer
                for _ in 0..fsyncs {
                    fsync.once(); // order + pay_request, then pay_answer
                }
                rt.block_on(net.round_trip());
            })
        });
    }

    // The real thing: Engine::pay, from writing the order to the PAID record read back.
    g.sampling_mode(SamplingMode::Flat);
    for (name, durability, sub) in [
        ("payment_sync_full", Durability::Full, "full"),
        ("payment_sync_normal", Durability::Normal, "normal"),
    ] {
        let data = dir.path().join(sub);
        let rig = Rig::new(&rt, &data, durability);
        rig.check_floor_counts(&rt);
        g.bench_function(name, |b| b.iter(|| rt.block_on(rig.pay())));
        // Where the time goes: the shift-log part and the pay call, each alone.
        g.bench_function(format!("part_store_{sub}"), |b| {
            b.iter(|| rt.block_on(rig.store_part()))
        });
        if durability == Durability::Normal {
            g.bench_function("part_pay_call", |b| b.iter(|| rt.block_on(rig.call_part())));
        } else {
            with_shipper(&mut g, &rt, &rig);
        }
        eprintln!(
            "payment/{name}: {} sales and pay calls made, in shifts of at most {SHIFT_SALES} sales",
            rig.next.load(Ordering::Relaxed) - 1
        );
    }
    g.finish();
}

/// The bench till's name at the head office.
fn shipping_till() -> scanpay::sync::TillName {
    scanpay::sync::TillName {
        till_id: "bench".into(),
        mode: "simulator".into(),
        mchid: scanpay::sim::DEMO_MCHID.into(),
        sub_mchid: None,
        store_id: "SZ-001".into(),
        terminal_id: "POS01".into(),
    }
}

/// The cashier screen's background shipper (`tui::run`): ship everything on the sale's own
/// store (so its acknowledgements go through the same writer thread), wait `every`, again.
/// Counts the shipments and the rows shipped.
fn start_shipper(
    rt: &tokio::runtime::Runtime,
    store: Store,
    sync: scanpay::config::Sync,
    every: std::time::Duration,
    counts: Arc<(AtomicU64, AtomicU64)>,
) -> tokio::task::JoinHandle<()> {
    let till = shipping_till();
    rt.spawn(async move {
        loop {
            let shipped = scanpay::sync::sync_once(&sync, &store, &till)
                .await
                .expect("shipment");
            counts.0.fetch_add(1, Ordering::Relaxed);
            counts.1.fetch_add(shipped.rows as u64, Ordering::Relaxed);
            tokio::time::sleep(every).await;
        }
    })
}

/// The bytes free in the file system at `path` (0 when it cannot be read): a container's
/// `/dev/shm` is often 64 MB, too small for a cluster.
fn free_bytes(path: &std::ffi::CStr) -> u64 {
    // SAFETY: statvfs writes only into the zeroed struct we pass, and `path` is NUL-terminated.
    unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(path.as_ptr(), &mut st) != 0 {
            return 0;
        }
        #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
        {
            st.f_bavail as u64 * st.f_frsize as u64
        }
    }
}

/// `payment_sync_full` again while the background shipper ships the log to PostgreSQL.
fn with_shipper(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &tokio::runtime::Runtime,
    rig: &Rig,
) {
    // SAFETY (of the environment): set before the cluster starts, while this bench's only other
    // threads are the runtime's idle workers, which read no environment.
    unsafe {
        std::env::set_var("SCANPAY_PG_FSYNC", "on");
        // The head office's disk is not the till's: the cluster lives in memory, so its WAL
        // writes do not queue in front of the till's fsyncs (its CPU still shares this
        // machine's two cores: the figure is an upper bound).
        if free_bytes(c"/dev/shm") >= 1 << 30 {
            std::env::set_var("SCANPAY_PG_PARENT", "/dev/shm");
        }
    }
    let Some(cluster) = pg::cluster() else {
        return pg::skipped("payment_paced_* and payment_sync_full_shipping_*");
    };
    let (_, url) = cluster.fresh_db();
    let sync = scanpay::config::Sync {
        postgres_url: scanpay::config::check_sync_url(&url).expect("URL"),
        interval_secs: 10,
        ca_file: None,
    };
    rt.block_on(async {
        let mut c = scanpay::hq::connect(&sync).await.expect("head office");
        scanpay::hq::schema::init(&mut c).await.expect("schema");
    });
    let till = shipping_till();
    let drain = || {
        rt.block_on(scanpay::sync::sync_once(&sync, rig.engine.store(), &till))
            .expect("shipment")
    };
    // (name, a pause before each sale, the shipper's interval). Paced: a sale every 10 ms
    // (100 a second, a hundred times a busy till), the pause not timed, so that a sale meets
    // whatever the shipper is doing at that moment as a real one would. Back to back: sales
    // as fast as they go (~900 a second), the shipper competing for the two cores.
    let ms = std::time::Duration::from_millis;
    for (name, pace, every) in [
        ("payment_paced_10ms", Some(ms(10)), None),
        (
            "payment_paced_10ms_shipping_every_1s",
            Some(ms(10)),
            Some(ms(1_000)),
        ),
        // Again without: the order of the two above must not be what differs.
        ("payment_paced_10ms_again", Some(ms(10)), None),
        (
            "payment_sync_full_shipping_every_10s",
            None,
            Some(ms(10_000)),
        ),
    ] {
        // Only what the sales below add is shipped while they are measured.
        drain();
        let counts = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
        let shipper = every.map(|every| {
            start_shipper(
                rt,
                rig.engine.store().clone(),
                sync.clone(),
                every,
                counts.clone(),
            )
        });
        let sales_before = rig.next.load(Ordering::Relaxed);
        match pace {
            Some(pace) => {
                g.measurement_time(std::time::Duration::from_secs(3));
                g.bench_function(name, |b| {
                    b.iter_custom(|iters| {
                        rt.block_on(async {
                            let mut total = std::time::Duration::ZERO;
                            for _ in 0..iters {
                                tokio::time::sleep(pace).await;
                                let start = std::time::Instant::now();
                                rig.pay().await;
                                total += start.elapsed();
                            }
                            total
                        })
                    })
                });
            }
            None => {
                // Long enough for several shipments at the screen's interval.
                g.measurement_time(std::time::Duration::from_secs(40));
                g.bench_function(name, |b| b.iter(|| rt.block_on(rig.pay())));
            }
        }
        let Some(shipper) = shipper else { continue };
        shipper.abort();
        if rig.next.load(Ordering::Relaxed) < sales_before + 100 {
            continue; // filtered out (`cargo bench -- NAME`), or run once (`cargo test`)
        }
        let (shipments, rows) = (
            counts.0.load(Ordering::Relaxed),
            counts.1.load(Ordering::Relaxed),
        );
        let sales = rig.next.load(Ordering::Relaxed) - sales_before;
        eprintln!(
            "payment/{name}: {sales} sales, {shipments} shipments during the bench, {rows} rows shipped"
        );
        assert!(shipments >= 1 && rows > 0, "the shipper did not ship");
    }
    g.measurement_time(std::time::Duration::from_secs(5));
}

criterion_group!(benches, payment);
criterion_main!(benches);
