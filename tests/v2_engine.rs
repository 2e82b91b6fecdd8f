//! The unchanged engine over APIv2 (issue 15): the same `Engine` takes payments through an
//! APIv2 client against a small scripted XML peer in this file (not the simulator, whose APIv2
//! face is built separately). Each order records `v2`; paid, refused and
//! "customer confirming, then paid" end as they do over APIv3.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::Uri;
use scanpay::auth_code::AuthCode;
use scanpay::clock::{SharedClock, TokioClock};
use scanpay::config::{Api, Config, Source};
use scanpay::engine::{Engine, OrderState, Reason, Sale, Timing};
use scanpay::money::Fen;
use scanpay::store::{Store, shifts};
use scanpay::wechat::client::{Protocol, V2Settings};
use scanpay::wechat::v2::sign::{self, ApiKey, SignType};
use scanpay::wechat::v2::{Fields, xml};
use scanpay::wechat::{Client, Settings};

const KEY: &str = "192006250b4c09247ec02edce69f6a2d";

fn key() -> ApiKey {
    ApiKey::new(KEY).unwrap()
}

fn signed(f: &mut Fields) -> String {
    f.insert("sign".into(), sign::sign(f, &key(), SignType::HmacSha256));
    xml::write(f).unwrap()
}

/// The peer's customers, by the last two digits of the payment code: `01` has too little
/// money (`NOTENOUGH`), `02` confirms on the phone (`USERPAYING`, then paid at the second
/// query), anyone else pays at once.
fn peer() -> (Router, Arc<Mutex<Vec<String>>>) {
    let calls: Arc<Mutex<Vec<String>>> = Arc::default();
    let queries: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let seen = calls.clone();
    let router = Router::new().fallback(move |uri: Uri, body: Bytes| {
        let (calls, queries) = (calls.clone(), queries.clone());
        async move {
            let f = xml::parse(&body).unwrap();
            assert_eq!(sign::verify(&f, &key(), SignType::HmacSha256), Ok(()));
            calls.lock().unwrap().push(uri.path().to_string());
            let mut a = Fields::new();
            for k in ["appid", "mch_id"] {
                a.insert(k.into(), f[k].clone());
            }
            a.insert("return_code".into(), "SUCCESS".into());
            a.insert("nonce_str".into(), "peer".into());
            let no = f.get("out_trade_no").cloned().unwrap_or_default();
            let paid = |a: &mut Fields, total: &str| {
                a.insert("result_code".into(), "SUCCESS".into());
                a.insert("out_trade_no".into(), no.clone());
                a.insert("transaction_id".into(), format!("42000{}", no.len()));
                a.insert("total_fee".into(), total.into());
                a.insert("time_end".into(), "20261130193525".into());
            };
            let fail = |a: &mut Fields, code: &str| {
                a.insert("result_code".into(), "FAIL".into());
                a.insert("err_code".into(), code.into());
            };
            match uri.path() {
                "/pay/micropay" => match &f["auth_code"][16..] {
                    "01" => fail(&mut a, "NOTENOUGH"),
                    "02" => fail(&mut a, "USERPAYING"),
                    _ => paid(&mut a, &f["total_fee"]),
                },
                "/pay/orderquery" => {
                    let n = {
                        let mut q = queries.lock().unwrap();
                        let n = q.entry(no.clone()).or_default();
                        *n += 1;
                        *n
                    };
                    if n >= 2 {
                        paid(&mut a, "1500");
                        a.insert("trade_state".into(), "SUCCESS".into());
                    } else {
                        a.insert("result_code".into(), "SUCCESS".into());
                        a.insert("trade_state".into(), "USERPAYING".into());
                    }
                }
                _ => fail(&mut a, "SYSTEMERROR"),
            }
            signed(&mut a)
        }
    });
    (router, seen)
}

struct V2Rig {
    engine: Engine,
    shift: i64,
    calls: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

async fn v2_rig() -> V2Rig {
    let (router, calls) = peer();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = reqwest::Url::parse(&format!("http://{}", tcp.local_addr().unwrap())).unwrap();
    tokio::spawn(axum::serve(tcp, router).into_future());
    let cfg = Config::load_from(Source::EmbeddedDemo).unwrap();
    let settings = Settings {
        base_url: url,
        backup_base_url: None,
        protocol: Protocol::V2(V2Settings {
            key: key(),
            sign_type: SignType::HmacSha256,
            client_identity: None,
        }),
        ..scanpay::connect::client_settings(&cfg)
    };
    let clock: SharedClock = Arc::new(TokioClock::new());
    let client = Client::v2(settings, clock.clone()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_inline(dir.path()).unwrap();
    let now = clock.now_ms();
    let shift = store
        .call(move |c| shifts::open(c, "POS01", "li", now))
        .await
        .unwrap()
        .id;
    let engine = Engine::new(&cfg, client, store, clock).with_timing(Timing::from_secs(3, 45));
    V2Rig {
        engine,
        shift,
        calls,
        _dir: dir,
    }
}

impl V2Rig {
    async fn pay(&self, suffix: &str, fen: i64) -> scanpay::store::orders::OrderRecord {
        let sale = Sale {
            amount: Fen(fen),
            description: "coffee".into(),
            code: AuthCode::parse(&format!("1345678901234567{suffix}")).unwrap(),
            shift_id: self.shift,
            cashier: "li".into(),
        };
        let mut quiet = |_: &scanpay::engine::Progress| {};
        tokio::time::timeout(
            Duration::from_secs(120),
            self.engine.pay(&sale, &mut quiet, None),
        )
        .await
        .unwrap()
        .unwrap()
    }
}

#[tokio::test(start_paused = true)]
async fn the_same_engine_pays_over_v2() {
    let r = v2_rig().await;
    let o = r.pay("00", 1500).await;
    assert_eq!(o.state, OrderState::Paid);
    assert_eq!(o.protocol, Api::V2);
    assert!(o.transaction_id.is_some());
    assert_eq!(*r.calls.lock().unwrap(), vec!["/pay/micropay"]);
}

#[tokio::test(start_paused = true)]
async fn a_definite_v2_refusal_fails_the_order_with_its_v2_code() {
    let r = v2_rig().await;
    let o = r.pay("01", 1500).await;
    assert_eq!(o.state, OrderState::Failed);
    assert!(
        matches!(&o.reason, Some(Reason::Declined { code, .. }) if code == "NOTENOUGH"),
        "{:?}",
        o.reason
    );
    assert_eq!(*r.calls.lock().unwrap(), vec!["/pay/micropay"]);
}

#[tokio::test(start_paused = true)]
async fn userpaying_over_v2_is_followed_by_queries_until_paid() {
    let r = v2_rig().await;
    let o = r.pay("02", 1500).await;
    assert_eq!(o.state, OrderState::Paid);
    assert_eq!(o.protocol, Api::V2);
    assert_eq!(
        *r.calls.lock().unwrap(),
        vec!["/pay/micropay", "/pay/orderquery", "/pay/orderquery"]
    );
}
