//! Benchmarks of the payment path and the screen, each beside its physical floor measured in
//! the same run: one RSA-2048 signature, one fsync of 4 KiB, one loopback HTTP round trip.
//! Results are in docs/performance.md. Run: `cargo bench --bench payment`.

use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use scanpay::auth_code::AuthCode;
use scanpay::clock::{SharedClock, SystemClock};
use scanpay::config::{Config, Language, Source};
use scanpay::engine::{Engine, OrderState, Progress, Sale};
use scanpay::money::Fen;
use scanpay::store::orders::OrderRecord;
use scanpay::store::shifts::Shift;
use scanpay::store::{Durability, Store, shifts};
use scanpay::tui::app::{App, AppConfig, Msg, Theme};
use scanpay::tui::update::update;
use scanpay::tui::wedge::WedgeConfig;
use scanpay::wechat::keys::{PrivateKey, PublicKey, TrustStore};
use scanpay::wechat::sign::{
    AnswerSignature, Signer, new_nonce, request_message, response_message,
};

const BODY: &str = r#"{"appid":"wxd678efh567hg6787","mchid":"1900000001","description":"示例便利店","out_trade_no":"POS01-20261127-AB-000001","payer":{"auth_code":"134567890123456711"},"amount":{"total":1234,"currency":"CNY"},"scene_info":{"store_info":{"out_id":"SZ-001"},"device_ip":"10.0.0.8","device_id":"POS01"}}"#;

fn crypto(c: &mut Criterion) {
    let key = PrivateKey::generate().unwrap();
    let msg = request_message(
        "POST",
        "/v3/pay/transactions/codepay",
        1_764_000_000,
        &new_nonce(),
        BODY.as_bytes(),
    );
    c.bench_function("floor/rsa2048_sign", |b| {
        b.iter(|| key.sign_base64(black_box(&msg)).unwrap())
    });
    let signer = Signer::new(
        "1900000001",
        "ABCDEF",
        PrivateKey::from_pem(key.to_pkcs8_pem().unwrap().as_bytes(), Path::new("k")).unwrap(),
    );
    c.bench_function("crypto/sign_request", |b| {
        b.iter(|| {
            signer
                .authorization(
                    "POST",
                    "/v3/pay/transactions/codepay",
                    1_764_000_000,
                    &new_nonce(),
                    black_box(BODY.as_bytes()),
                )
                .unwrap()
        })
    });
    let mut trust = TrustStore::new();
    trust.add_public_key(
        "PUB_KEY_ID_1",
        PublicKey::from_pem(key.public_pem().unwrap().as_bytes(), Path::new("p")).unwrap(),
    );
    let nonce = new_nonce();
    let sig = key
        .sign_base64(&response_message("1764000000", &nonce, BODY.as_bytes()))
        .unwrap();
    let answer = AnswerSignature {
        timestamp: "1764000000".into(),
        nonce,
        signature: sig,
        serial: "PUB_KEY_ID_1".into(),
    };
    c.bench_function("crypto/verify_answer", |b| {
        b.iter(|| {
            answer
                .verify(&trust, black_box(BODY.as_bytes()), 1_764_000_010)
                .unwrap()
        })
    });
}

fn floors(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut f = std::fs::File::create(dir.path().join("f")).unwrap();
    let block = [7u8; 4096];
    c.bench_function("floor/fsync_4k", |b| {
        b.iter(|| {
            f.write_all(&block).unwrap();
            f.sync_data().unwrap();
        })
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (url, _server) = rt.block_on(async {
        let app = axum::Router::new().fallback(|| async { "ok" });
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let h = tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        (format!("http://{addr}/"), h)
    });
    let http = reqwest::Client::new();
    c.bench_function("floor/loopback_http_round_trip", |b| {
        b.iter(|| {
            rt.block_on(async { http.get(&url).send().await.unwrap().bytes().await.unwrap() })
        })
    });
}

fn payments(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for (name, durability) in [
        ("payment/happy_path_sync_full", Durability::Full),
        ("payment/happy_path_sync_normal", Durability::Normal),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config::load_from(Source::EmbeddedDemo).unwrap();
        let clock: SharedClock = Arc::new(SystemClock);
        let (engine, shift, _sim) = rt.block_on(async {
            let (client, sim) = scanpay::sim::connect_in_process(&cfg, clock.clone())
                .await
                .unwrap();
            let store = Store::open_with(dir.path(), durability).unwrap();
            let shift = store
                .call(|c| shifts::open(c, "POS01", "bench", 0))
                .await
                .unwrap()
                .id;
            (Engine::new(&cfg, client, store, clock.clone()), shift, sim)
        });
        let n = AtomicU64::new(1);
        c.bench_function(name, |b| {
            b.iter(|| {
                let i = n.fetch_add(1, Ordering::Relaxed);
                let sale = Sale {
                    amount: Fen(1234),
                    description: String::new(),
                    code: AuthCode::parse(&format!("13{i:014}11")).unwrap(),
                    shift_id: shift,
                    cashier: "bench".into(),
                };
                let mut quiet = |_: &Progress| {};
                let o = rt.block_on(engine.pay(&sale, &mut quiet, None)).unwrap();
                assert_eq!(o.state, OrderState::Paid);
            })
        });
    }
}

fn app() -> App {
    let mut a = App::new(
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
    update(
        &mut a,
        Msg::ShiftLoaded(Some(Shift {
            id: 1,
            terminal_id: "POS01".into(),
            cashier: "li".into(),
            opened_at: 0,
            closed_at: None,
            z_number: None,
        })),
    );
    a
}

fn screens(c: &mut Criterion) {
    let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let sale = app();
    c.bench_function("screen/sale_frame", |b| {
        b.iter(|| {
            t.draw(|f| f.render_widget(&sale, f.area())).unwrap();
        })
    });
    let mut hist = app();
    update(
        &mut hist,
        Msg::Key {
            key: scanpay::tui::keys::Key::F(2),
            at: 0,
        },
    );
    let orders: Vec<OrderRecord> = (0..100_000)
        .map(|i| OrderRecord {
            id: i,
            out_trade_no: format!("POS01-20261127-AB-{i:06}"),
            shift_id: 1,
            terminal_id: "POS01".into(),
            cashier: "li".into(),
            amount: Fen(100 + i),
            description: String::new(),
            code_masked: "1345 **** **** 6711".into(),
            state: OrderState::Paid,
            snapshot: String::new(),
            transaction_id: None,
            reason_code: None,
            reason: None,
            created_at: i * 1000,
            updated_at: i * 1000,
        })
        .collect();
    update(&mut hist, Msg::History(orders));
    c.bench_function("screen/history_frame_100k_orders", |b| {
        b.iter(|| {
            t.draw(|f| f.render_widget(&hist, f.area())).unwrap();
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = crypto, floors, payments, screens
}
criterion_main!(benches);
