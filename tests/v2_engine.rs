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
use scanpay::wechat::client::{ClientIdentity, Protocol, V2Settings};
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
                "/secapi/pay/refund" => {
                    a.insert("result_code".into(), "SUCCESS".into());
                    for k in ["out_trade_no", "out_refund_no", "total_fee", "refund_fee"] {
                        a.insert(k.into(), f[k].clone());
                    }
                    a.insert("refund_id".into(), "50000001".into());
                }
                "/pay/refundquery" => {
                    a.insert("result_code".into(), "SUCCESS".into());
                    a.insert("refund_count".into(), "1".into());
                    a.insert("out_refund_no_0".into(), f["out_refund_no"].clone());
                    a.insert("refund_id_0".into(), "50000001".into());
                    a.insert("refund_status_0".into(), "SUCCESS".into());
                    a.insert("refund_fee_0".into(), "500".into());
                    a.insert("refund_success_time_0".into(), "2026-11-30 19:40:01".into());
                    a.insert("total_fee".into(), "1500".into());
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
    /// TLS connections that presented the client certificate.
    with_cert: Arc<Mutex<usize>>,
    _dir: tempfile::TempDir,
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/v2-tls")
            .join(name),
    )
    .unwrap()
}

/// A TLS listener that asks for a client certificate (optional) and counts the connections
/// that presented one the test CA issued.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    with_cert: Arc<Mutex<usize>>,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                if tls.get_ref().1.peer_certificates().is_some() {
                    *self.with_cert.lock().unwrap() += 1;
                }
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

fn tls_acceptor() -> tokio_rustls::TlsAcceptor {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&fixture("server.pem"))
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_slice(&fixture("server_key.pem")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(&fixture("ca.pem")).unwrap())
        .unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .allow_unauthenticated()
    .build()
    .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

async fn v2_rig() -> V2Rig {
    rig_over(false).await
}

async fn rig_over(tls: bool) -> V2Rig {
    let (router, calls) = peer();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let with_cert = Arc::new(Mutex::new(0));
    let url = if tls {
        let listener = TlsListener {
            tcp,
            acceptor: tls_acceptor(),
            with_cert: with_cert.clone(),
        };
        tokio::spawn(axum::serve(listener, router).into_future());
        reqwest::Url::parse(&format!("https://{addr}")).unwrap()
    } else {
        tokio::spawn(axum::serve(tcp, router).into_future());
        reqwest::Url::parse(&format!("http://{addr}")).unwrap()
    };
    let cfg = Config::load_from(Source::EmbeddedDemo).unwrap();
    let settings = Settings {
        base_url: url,
        backup_base_url: None,
        protocol: Protocol::V2(V2Settings {
            key: key(),
            sign_type: SignType::HmacSha256,
            client_identity: tls.then(|| ClientIdentity {
                certificate_pem: fixture("apiclient_cert.pem"),
                key_pem: fixture("apiclient_key.pem"),
            }),
        }),
        extra_roots: if tls {
            vec![fixture("ca.pem")]
        } else {
            Vec::new()
        },
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
        with_cert,
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

#[tokio::test(start_paused = true)]
async fn a_refund_over_v2_goes_through_secapi_with_the_certificate() {
    let r = rig_over(true).await;
    let o = r.pay("00", 1500).await;
    assert_eq!(o.state, OrderState::Paid);
    assert_eq!(
        *r.with_cert.lock().unwrap(),
        0,
        "the pay call presents no certificate"
    );
    let refund = tokio::time::timeout(
        Duration::from_secs(120),
        r.engine.refund(
            &o.out_trade_no,
            Fen(500),
            "test",
            None,
            Some(Duration::from_secs(60)),
        ),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        refund.status,
        scanpay::order::RefundStatus::Success,
        "{refund:?}"
    );
    assert_eq!(
        *r.calls.lock().unwrap(),
        vec!["/pay/micropay", "/secapi/pay/refund", "/pay/refundquery"]
    );
    assert_eq!(
        *r.with_cert.lock().unwrap(),
        1,
        "only the /secapi/ connection"
    );
    let id = o.id;
    let after = r
        .engine
        .store()
        .call(move |c| scanpay::store::orders::by_id(c, id))
        .await
        .unwrap();
    assert_eq!(after.state, OrderState::PartiallyRefunded);
}
