//! APIv2 transport on loopback (issue 15): requests go as signed `text/xml` POSTs, answers are
//! verified with the same key and sign type, and the client certificate is presented on
//! `/secapi/*` only. The peer is a small axum server in this file — over plain HTTP, and over
//! TLS (rustls) with and without required client-certificate authentication — not the
//! simulator (its APIv2 face is built separately).
//!
//! Certificates: `tests/fixtures/v2-tls/` (a test CA, a server certificate for 127.0.0.1 and a
//! client certificate with its PKCS#8 key, all made with openssl for these tests only).

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Uri};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use scanpay::clock::{ManualClock, SharedClock};
use scanpay::wechat::client::{ClientIdentity, Protocol, V2Settings};
use scanpay::wechat::model::{CodepayPayer, CodepayRequest, ErrorCode, RequestAmount};
use scanpay::wechat::model::{SceneInfo, StoreInfo};
use scanpay::wechat::v2::sign::{self, ApiKey, SignType};
use scanpay::wechat::v2::{Fields, xml};
use scanpay::wechat::{ApiError, Client, Party, PayAnswer, PayRequest, Settings};

const KEY: &str = "192006250b4c09247ec02edce69f6a2d";
const MCHID: &str = "1900000001";
const APPID: &str = "wx0000000000000001";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/v2-tls")
            .join(name),
    )
    .unwrap()
}

/// What the peer saw: each request's path and `Content-Type`.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

fn key() -> ApiKey {
    ApiKey::new(KEY).unwrap()
}

fn signed(pairs: &[(&str, &str)]) -> String {
    let mut f: Fields = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    f.insert("sign".into(), sign::sign(&f, &key(), SignType::HmacSha256));
    xml::write(&f).unwrap()
}

/// The peer: checks the request's signature as the service does, then answers as the service
/// would for the few calls these tests make.
fn router(seen: Seen) -> Router {
    Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let seen = seen.clone();
        async move {
            let ct = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            seen.lock().unwrap().push((uri.path().to_string(), ct));
            let Ok(f) = xml::parse(&body) else {
                return "<xml><return_code>FAIL</return_code><return_msg>XML_FORMAT_ERROR</return_msg></xml>".to_string();
            };
            if f.get("sign_type").map(String::as_str) != Some("HMAC-SHA256")
                || sign::verify(&f, &key(), SignType::HmacSha256).is_err()
            {
                return "<xml><return_code>FAIL</return_code><return_msg>签名错误</return_msg></xml>".to_string();
            }
            let base = [
                ("return_code", "SUCCESS"),
                ("return_msg", "OK"),
                ("appid", APPID),
                ("mch_id", MCHID),
                ("nonce_str", "peer"),
            ];
            let no = f.get("out_trade_no").cloned().unwrap_or_default();
            match uri.path() {
                "/pay/orderquery" => signed(
                    &[
                        &base[..],
                        &[
                            ("result_code", "FAIL"),
                            ("err_code", "ORDERNOTEXIST"),
                            ("err_code_des", "此交易订单号不存在"),
                        ],
                    ]
                    .concat(),
                ),
                "/pay/micropay" => signed(
                    &[
                        &base[..],
                        &[
                            ("result_code", "SUCCESS"),
                            ("out_trade_no", no.as_str()),
                            ("transaction_id", "4200000001"),
                            ("trade_type", "MICROPAY"),
                            ("total_fee", f["total_fee"].as_str()),
                            ("cash_fee", f["total_fee"].as_str()),
                            ("time_end", "20261130193525"),
                        ],
                    ]
                    .concat(),
                ),
                "/secapi/pay/reverse" => signed(
                    &[&base[..], &[("result_code", "SUCCESS"), ("recall", "N")]].concat(),
                ),
                _ => "<xml><return_code>FAIL</return_code><return_msg>not here</return_msg></xml>"
                    .to_string(),
            }
        }
    })
}

/// A TLS listener for axum: handshakes that fail (no or a wrong client certificate) are
/// counted and the next connection is taken.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    refused: Arc<Mutex<usize>>,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            match self.acceptor.accept(tcp).await {
                Ok(tls) => return (tls, addr),
                Err(_) => *self.refused.lock().unwrap() += 1,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

struct Peer {
    url: reqwest::Url,
    seen: Seen,
    refused: Arc<Mutex<usize>>,
}

async fn plain_peer() -> Peer {
    let seen: Seen = Arc::default();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = reqwest::Url::parse(&format!("http://{}", tcp.local_addr().unwrap())).unwrap();
    tokio::spawn(axum::serve(tcp, router(seen.clone())).into_future());
    Peer {
        url,
        seen,
        refused: Arc::default(),
    }
}

/// A TLS peer with the fixture server certificate; `require_client_cert` makes it accept only
/// connections presenting a certificate the test CA issued.
async fn tls_peer(require_client_cert: bool) -> Peer {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&fixture("server.pem"))
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_slice(&fixture("server_key.pem")).unwrap();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let config = if require_client_cert {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(&fixture("ca.pem")).unwrap())
            .unwrap();
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
        builder
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)
            .unwrap()
    } else {
        builder
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap()
    };
    let seen: Seen = Arc::default();
    let refused = Arc::new(Mutex::new(0));
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = reqwest::Url::parse(&format!("https://{}", tcp.local_addr().unwrap())).unwrap();
    let listener = TlsListener {
        tcp,
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        refused: refused.clone(),
    };
    tokio::spawn(axum::serve(listener, router(seen.clone())).into_future());
    Peer { url, seen, refused }
}

fn settings(base: &reqwest::Url, identity: bool, extra_root: bool) -> Settings {
    Settings {
        base_url: base.clone(),
        backup_base_url: None,
        party: Party::Direct {
            mchid: MCHID.into(),
            appid: APPID.into(),
        },
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(10),
        max_body_bytes: 64 * 1024,
        protocol: Protocol::V2(V2Settings {
            key: key(),
            sign_type: SignType::HmacSha256,
            client_identity: identity.then(|| ClientIdentity {
                certificate_pem: fixture("apiclient_cert.pem"),
                key_pem: fixture("apiclient_key.pem"),
            }),
        }),
        extra_roots: if extra_root {
            vec![fixture("ca.pem")]
        } else {
            Vec::new()
        },
    }
}

fn client(s: Settings) -> Client {
    let clock: SharedClock = Arc::new(ManualClock::at_ms(1_764_500_000_000));
    Client::v2(s, clock).unwrap()
}

fn pay_request() -> PayRequest {
    let party = Party::Direct {
        mchid: MCHID.into(),
        appid: APPID.into(),
    };
    PayRequest::new(
        &party,
        CodepayRequest {
            appid: String::new(),
            mchid: String::new(),
            description: "coffee".into(),
            out_trade_no: "POS01-20261130-AB-000001".into(),
            attach: None,
            payer: CodepayPayer {
                auth_code: "134567890123456789".into(),
            },
            amount: RequestAmount {
                total: 888,
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
        },
    )
}

fn is_missing_order(e: &ApiError) -> bool {
    matches!(
        e,
        ApiError::Service {
            code: ErrorCode::OrderNotExist,
            verified: true,
            ..
        }
    )
}

#[tokio::test]
async fn signed_xml_over_plain_http_for_pay_and_query() {
    let peer = plain_peer().await;
    let c = client(settings(&peer.url, false, false));
    let e = c.query_by_out_trade_no("CHECK0001").await.unwrap_err();
    assert!(is_missing_order(&e), "{e:?}");
    assert_eq!(e.wire_code(), Some("ORDERNOTEXIST"));
    let PayAnswer::Paid(t) = c.pay(&pay_request()).await.unwrap() else {
        panic!("not paid");
    };
    assert_eq!(t.amount.and_then(|a| a.total), Some(888));
    // Without a client certificate, reverse is refused before anything is sent.
    let e = c.reverse("POS01-20261130-AB-000001").await.unwrap_err();
    assert!(matches!(e, ApiError::Request(_)), "{e:?}");
    let seen = peer.seen.lock().unwrap().clone();
    assert_eq!(
        seen.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
        vec!["/pay/orderquery", "/pay/micropay"]
    );
    assert!(
        seen.iter().all(|(_, ct)| ct.starts_with("text/xml")),
        "{seen:?}"
    );
}

#[tokio::test]
async fn an_answer_signed_with_another_key_is_not_trusted() {
    let peer = plain_peer().await;
    let mut s = settings(&peer.url, false, false);
    // The peer signs with KEY; this client verifies with another key (and signs with it, which
    // the peer refuses at the communication level: outcome unknown, never a refusal).
    s.protocol = Protocol::V2(V2Settings {
        key: ApiKey::new("0123456789abcdef0123456789abcdef").unwrap(),
        sign_type: SignType::HmacSha256,
        client_identity: None,
    });
    let e = client(s).pay(&pay_request()).await.unwrap_err();
    assert!(
        matches!(
            e,
            ApiError::Service {
                verified: false,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(
        e.advice(scanpay::wechat::model::Call::Pay),
        scanpay::wechat::model::Advice::Query
    );
}

#[tokio::test]
async fn the_client_certificate_goes_to_secapi_only() {
    let peer = tls_peer(true).await;
    let c = client(settings(&peer.url, true, true));
    // /secapi/pay/reverse presents it: the peer, which demands one, accepts and answers.
    let done = c.reverse("POS01-20261130-AB-000001").await.unwrap();
    assert_eq!(
        done.out_trade_no.as_deref(),
        Some("POS01-20261130-AB-000001")
    );
    assert_eq!(*peer.refused.lock().unwrap(), 0);
    // Every other call is sent without it: the same peer refuses the handshake.
    let e = c.query_by_out_trade_no("CHECK0001").await.unwrap_err();
    assert!(matches!(e, ApiError::Transport { .. }), "{e:?}");
    let e = c.pay(&pay_request()).await.unwrap_err();
    assert!(matches!(e, ApiError::Transport { .. }), "{e:?}");
    // (Whether the peer has counted the refused handshakes yet is a race; what reached it is
    // not.)
    let seen = peer.seen.lock().unwrap().clone();
    assert_eq!(
        seen.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
        vec!["/secapi/pay/reverse"]
    );
}

#[tokio::test]
async fn an_extra_root_is_what_makes_a_private_server_trusted() {
    let peer = tls_peer(false).await;
    // Without the extra root the server's certificate is not trusted.
    let e = client(settings(&peer.url, false, false))
        .query_by_out_trade_no("CHECK0001")
        .await
        .unwrap_err();
    assert!(matches!(e, ApiError::Transport { .. }), "{e:?}");
    assert!(peer.seen.lock().unwrap().is_empty());
    // With it (tls_root_certificate), the signed round trip works.
    let e = client(settings(&peer.url, false, true))
        .query_by_out_trade_no("CHECK0001")
        .await
        .unwrap_err();
    assert!(is_missing_order(&e), "{e:?}");
}

/// `scanpay check` for an APIv2 till, end to end against the TLS peer: the key file, the client
/// certificate, the host (reached through the extra root) and the signed round trip.
#[tokio::test]
async fn scanpay_check_round_trips_over_v2() {
    use common::config::{insert, set};
    use scanpay::till::check::{Item, Status};
    use std::os::unix::fs::PermissionsExt;

    let peer = tls_peer(false).await;
    let dir = tempfile::tempdir().unwrap();
    for name in ["apiclient_cert.pem", "apiclient_key.pem", "ca.pem"] {
        std::fs::write(dir.path().join(name), fixture(name)).unwrap();
    }
    std::fs::write(dir.path().join("v2_key.txt"), KEY).unwrap();
    for k in ["v2_key.txt", "apiclient_key.pem"] {
        std::fs::set_permissions(dir.path().join(k), std::fs::Permissions::from_mode(0o600))
            .unwrap();
    }
    let mut t = common::config::parse(
        r#"
language = "en"
data_dir = "data"
[merchant]
mchid = "1900000001"
appid = "wx0000000000000001"
store_id = "SZ-001"
store_name = "Shop"
terminal_id = "POS01"
device_ip = "10.0.0.8"
[wechatpay]
mode = "live"
api = "v2"
base_url = "https://api.mch.weixin.qq.com"
v2_key = "v2_key.txt"
client_certificate = "apiclient_cert.pem"
merchant_private_key = "apiclient_key.pem"
"#,
    );
    set(&mut t, "wechatpay.base_url", peer.url.as_str());
    insert(&mut t, "wechatpay.tls_root_certificate", "ca.pem");
    let cfg = common::config::load(&t, &dir.path().join("scanpay.toml")).unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let clock: SharedClock = Arc::new(ManualClock::at_ms(now_ms));
    let report = scanpay::till::check::run(&cfg, clock).await;
    for item in [
        Item::KeyFiles,
        Item::ClientCertificate,
        Item::MainHost,
        Item::RoundTrip,
    ] {
        let f = report.get(item).unwrap();
        assert_eq!(f.status, Status::Ok, "{f:?}");
    }
    assert!(
        report
            .get(Item::RoundTrip)
            .unwrap()
            .detail
            .contains("ORDERNOTEXIST")
    );
    assert!(
        report.get(Item::TrustedKeys).is_none(),
        "APIv2 has no trusted keys"
    );
    // The unsigned reachability probe and one signed orderquery.
    let seen = peer.seen.lock().unwrap().clone();
    let paths: Vec<&str> = seen.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        vec!["/v3/certificates", "/pay/orderquery"],
        "{seen:?}"
    );
}
