//! The simulator enforces the protocol as the real service does: User-Agent and Accept,
//! request signatures, the 5-minute clock window, merchant ids, field validation.

use std::sync::Arc;
use std::time::Duration;

use scanpay::clock::{Clock, ManualClock, SharedClock, SystemClock, TokioClock};
use scanpay::config::{Config, Source};
use scanpay::sim::{SimKeys, Simulator};
use scanpay::wechat::client::DEFAULT_MAX_BODY;
use scanpay::wechat::keys::PrivateKey;
use scanpay::wechat::model::*;
use scanpay::wechat::sign::Signer;
use scanpay::wechat::{ApiError, Client, Party, PayAnswer, Settings, TransportKind};

struct Rig {
    keys: SimKeys,
    sim: scanpay::sim::SimHandle,
    cfg: Config,
}

async fn rig(clock: SharedClock) -> Rig {
    let cfg = Config::load_from(Source::EmbeddedDemo).unwrap();
    let keys = SimKeys::generate().unwrap();
    let sim = Simulator::new(&keys, &cfg.merchant.mchid, &cfg.merchant.appid, clock)
        .unwrap()
        .start("127.0.0.1:0")
        .await
        .unwrap();
    Rig { keys, sim, cfg }
}

impl Rig {
    fn settings(&self) -> Settings {
        Settings {
            base_url: self.sim.base_url.clone(),
            backup_base_url: None,
            ..scanpay::connect::client_settings(&self.cfg)
        }
    }
    fn client_with(
        &self,
        settings: Settings,
        key: PrivateKey,
        mchid: &str,
        clock: SharedClock,
    ) -> Client {
        let signer = Signer::new(mchid, &self.keys.merchant_serial_no, key);
        Client::new(settings, signer, self.keys.trust_store().unwrap(), clock).unwrap()
    }
    fn client(&self, clock: SharedClock) -> Client {
        let key = PrivateKey::from_pem(
            self.keys.merchant_key.to_pkcs8_pem().unwrap().as_bytes(),
            std::path::Path::new("k"),
        )
        .unwrap();
        self.client_with(
            self.settings(),
            key,
            &self.cfg.merchant.mchid.clone(),
            clock,
        )
    }
    fn order(&self, no: &str) -> CodepayRequest {
        CodepayRequest {
            appid: self.cfg.merchant.appid.clone(),
            mchid: self.cfg.merchant.mchid.clone(),
            description: "测试".into(),
            out_trade_no: no.into(),
            attach: None,
            payer: CodepayPayer {
                auth_code: "134567890123456711".into(),
            },
            amount: RequestAmount {
                total: 100,
                currency: Some("CNY".into()),
            },
            scene_info: SceneInfo {
                store_info: StoreInfo {
                    out_id: Some("SZ-001".into()),
                    id: None,
                },
                device_ip: Some("10.0.0.8".into()),
                device_id: None,
            },
        }
    }
}

async fn raw_get(addr: std::net::SocketAddr, path: &str, headers: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

fn sys() -> SharedClock {
    Arc::new(SystemClock)
}

#[tokio::test]
async fn missing_user_agent_or_accept_is_invalid_request() {
    let r = rig(sys()).await;
    let url = format!(
        "{}/v3/pay/transactions/out-trade-no/POS0100001?mchid=1900000001",
        r.sim.base_url.as_str().trim_end_matches('/')
    );
    // Raw HTTP/1.1, since an HTTP client library adds its own Accept header.
    let host = r.sim.addr;
    let path = url.split_once(&host.to_string()).unwrap().1.to_string();
    for headers in ["User-Agent: t\r\n", "Accept: application/json\r\n", ""] {
        let raw = raw_get(host, &path, headers).await;
        assert!(raw.starts_with("HTTP/1.1 400"), "{headers:?}: {raw}");
        assert!(
            raw.to_ascii_lowercase().contains("wechatpay-signature:"),
            "error answers are signed too"
        );
        assert!(raw.contains("\"code\":\"INVALID_REQUEST\""), "{raw}");
        assert!(raw.contains("Http头缺少Accept或User-Agent"), "{raw}");
    }
    let http = reqwest::Client::builder().build().unwrap();
    // With both headers but no Authorization: SIGN_ERROR.
    let resp = http
        .get(&url)
        .header("accept", "application/json")
        .header("user-agent", "t")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn wrong_key_wrong_mchid_and_skewed_clock_are_sign_errors() {
    let r = rig(sys()).await;
    let other = PrivateKey::generate().unwrap();
    let c = r.client_with(r.settings(), other, &r.cfg.merchant.mchid.clone(), sys());
    let err = c.codepay(&r.order("POS01S0001")).await.unwrap_err();
    // Unsigned, as the real service answers a request whose signature fails.
    let ApiError::Rejected {
        status: 401,
        code: ErrorCode::SignError,
        detail,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(
        detail.as_ref().unwrap()["sign_information"]["truncated_sign_message"]
            .as_str()
            .unwrap()
            .starts_with("POST\n/v3/pay/transactions/codepay\n")
    );
    assert_eq!(err.advice(Call::Pay), Advice::Failed);
    assert!(r.sim.ledger(|l| l.order("POS01S0001").is_none()));

    let key = PrivateKey::from_pem(
        r.keys.merchant_key.to_pkcs8_pem().unwrap().as_bytes(),
        std::path::Path::new("k"),
    )
    .unwrap();
    let c = r.client_with(r.settings(), key, "1900000002", sys());
    assert_eq!(
        c.query_by_out_trade_no("POS01S0001")
            .await
            .unwrap_err()
            .code(),
        Some(&ErrorCode::SignError)
    );

    // A till whose clock is 6 minutes fast: the request is refused with an unsigned 401 naming
    // the timestamp rule.
    let fast: SharedClock = Arc::new(ManualClock::at_ms(SystemClock.now_ms() + 360_000));
    let c = r.client(fast);
    let err = c.query_by_out_trade_no("POS01S0001").await.unwrap_err();
    let ApiError::Rejected { message, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains("5分钟"), "{message}");
    assert_eq!(r.sim.stats().sign_errors, 3);
}

#[tokio::test]
async fn fields_are_validated() {
    let r = rig(sys()).await;
    let c = r.client(sys());
    type Spoil = Box<dyn Fn(&mut CodepayRequest)>;
    let cases: Vec<(Spoil, &str)> = vec![
        (
            Box::new(|o| o.description = "咖啡😀".into()),
            "/description",
        ),
        (
            Box::new(|o| o.description = "x".repeat(128)),
            "/description",
        ),
        (Box::new(|o| o.description = String::new()), "/description"),
        (Box::new(|o| o.out_trade_no = "P1".into()), "/out_trade_no"),
        (
            Box::new(|o| o.out_trade_no = "POS01 00001".into()),
            "/out_trade_no",
        ),
        (Box::new(|o| o.amount.total = 0), "/amount/total"),
        (
            Box::new(|o| o.amount.currency = Some("USD".into())),
            "/amount/currency",
        ),
        (
            Box::new(|o| o.scene_info.store_info.out_id = None),
            "/scene_info/store_info",
        ),
        (
            Box::new(|o| o.scene_info.device_ip = Some("till".into())),
            "/scene_info/device_ip",
        ),
        (Box::new(|o| o.mchid = "1900000009".into()), "/mchid"),
    ];
    for (i, (spoil, field)) in cases.iter().enumerate() {
        let mut o = r.order(&format!("POS01F{i:04}"));
        spoil(&mut o);
        let err = c.codepay(&o).await.unwrap_err();
        let ApiError::Service {
            status: 400,
            code: ErrorCode::ParamError,
            detail,
            ..
        } = &err
        else {
            panic!("{field}: {err:?}")
        };
        assert_eq!(detail.as_ref().unwrap()["field"], *field);
    }
    let mut o = r.order("POS01F0100");
    o.appid = "wx0000000000000000".into();
    assert_eq!(
        c.codepay(&o).await.unwrap_err().code(),
        Some(&ErrorCode::AppidMchidNotMatch)
    );
    let mut o = r.order("POS01F0101");
    o.payer.auth_code = "289431869362714645".into();
    assert_eq!(
        c.codepay(&o).await.unwrap_err().code(),
        Some(&ErrorCode::AuthCodeInvalid)
    );
    // A reused out_trade_no with another amount.
    assert!(matches!(
        c.codepay(&r.order("POS01F0200")).await.unwrap(),
        PayAnswer::Paid(_)
    ));
    let mut o = r.order("POS01F0200");
    o.amount.total = 999;
    assert_eq!(
        c.codepay(&o).await.unwrap_err().code(),
        Some(&ErrorCode::OutTradeNoUsed)
    );
    assert_eq!(
        c.codepay(&r.order("POS01F0200")).await.unwrap_err().code(),
        Some(&ErrorCode::OrderPaid)
    );
}

#[tokio::test(start_paused = true)]
async fn failover_for_idempotent_calls_and_for_a_pay_call_never_sent() {
    let clock: SharedClock = Arc::new(TokioClock::new());
    let r = rig(clock.clone()).await;
    // A port nothing listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = reqwest::Url::parse(&format!("http://{}", dead.local_addr().unwrap())).unwrap();
    drop(dead);
    let settings = Settings {
        base_url: dead_url,
        backup_base_url: Some(r.sim.base_url.clone()),
        ..r.settings()
    };
    let good = r.client(clock.clone());
    good.codepay(&r.order("POS01B0001")).await.unwrap();
    let key = PrivateKey::from_pem(
        r.keys.merchant_key.to_pkcs8_pem().unwrap().as_bytes(),
        std::path::Path::new("k"),
    )
    .unwrap();
    let c = r.client_with(settings, key, &r.cfg.merchant.mchid.clone(), clock.clone());
    // Query and reverse reach the backup host.
    assert_eq!(
        c.query_by_out_trade_no("POS01B0001")
            .await
            .unwrap()
            .trade_state,
        TradeState::Success
    );
    tokio::time::sleep(Duration::from_secs(20)).await;
    c.reverse("POS01B0001").await.unwrap();
    // A pay call whose main host refused the connection was never sent: the same request
    // goes to the backup host, once.
    let answer = c.codepay(&r.order("POS01B0002")).await.unwrap();
    assert!(matches!(answer, PayAnswer::Paid(_)), "{answer:?}");
    assert!(r.sim.ledger(|l| l.order("POS01B0002").is_some()));
    assert_eq!(r.sim.stats().requests.get("pay"), Some(&2));
    // Neither host accepts a connection: `Connect`, nothing was sent anywhere.
    let dead2 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead2_url =
        reqwest::Url::parse(&format!("http://{}", dead2.local_addr().unwrap())).unwrap();
    drop(dead2);
    let key = PrivateKey::from_pem(
        r.keys.merchant_key.to_pkcs8_pem().unwrap().as_bytes(),
        std::path::Path::new("k"),
    )
    .unwrap();
    let both_dead = r.client_with(
        Settings {
            backup_base_url: Some(dead2_url),
            ..c.settings().clone()
        },
        key,
        &r.cfg.merchant.mchid.clone(),
        clock,
    );
    let err = both_dead.codepay(&r.order("POS01B0003")).await.unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::Transport {
                kind: TransportKind::Connect,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(r.sim.ledger(|l| l.order("POS01B0003").is_none()));
    assert_eq!(r.sim.stats().requests.get("pay"), Some(&2));
}

/// A main host that accepts the connection and then hangs up may have received the request:
/// the pay call is not sent to the backup host (the outcome is unknown, the engine queries).
#[tokio::test]
async fn a_pay_call_is_not_sent_to_the_backup_host_after_a_connection_was_made() {
    let r = rig(sys()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let main = reqwest::Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = reads.clone();
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            // The request arrives; the host hangs up without answering.
            if let Ok(n) = sock.read(&mut buf).await {
                seen.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
            }
            drop(sock);
        }
    });
    let key = PrivateKey::from_pem(
        r.keys.merchant_key.to_pkcs8_pem().unwrap().as_bytes(),
        std::path::Path::new("k"),
    )
    .unwrap();
    let c = r.client_with(
        Settings {
            base_url: main,
            backup_base_url: Some(r.sim.base_url.clone()),
            ..r.settings()
        },
        key,
        &r.cfg.merchant.mchid.clone(),
        sys(),
    );
    let err = c.codepay(&r.order("POS01B0101")).await.unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::Transport {
                kind: TransportKind::Interrupted | TransportKind::Other,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        reads.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "bytes left"
    );
    assert!(r.sim.ledger(|l| l.order("POS01B0101").is_none()));
    assert_eq!(r.sim.stats().requests.get("pay"), None);
}

#[tokio::test]
async fn oversized_answers_are_refused() {
    let r = rig(sys()).await;
    let c = r.client(sys());
    c.codepay(&r.order("POS01L0001")).await.unwrap();
    let key = PrivateKey::from_pem(
        r.keys.merchant_key.to_pkcs8_pem().unwrap().as_bytes(),
        std::path::Path::new("k"),
    )
    .unwrap();
    let small = r.client_with(
        Settings {
            max_body_bytes: 64,
            ..r.settings()
        },
        key,
        &r.cfg.merchant.mchid.clone(),
        sys(),
    );
    let err = small.query_by_out_trade_no("POS01L0001").await.unwrap_err();
    assert!(matches!(err, ApiError::TooLarge { limit: 64 }), "{err:?}");
    const { assert!(DEFAULT_MAX_BODY >= 64 * 1024) };
}

/// A signed answer about an order of another merchant than the client's party is
/// `ApiError::WrongParty`, never a result (docs/protocol.md "Service-provider (partner) mode",
/// answer check). Here the client believes its AppID is another one than the simulator's: the
/// simulator pays the order it was sent and answers with its own `appid`.
#[tokio::test]
async fn an_answer_naming_another_merchant_is_never_a_result() {
    let r = rig(sys()).await;
    let key = PrivateKey::from_pem(
        r.keys.merchant_key.to_pkcs8_pem().unwrap().as_bytes(),
        std::path::Path::new("k"),
    )
    .unwrap();
    let other_app = Party::Direct {
        mchid: r.cfg.merchant.mchid.clone(),
        appid: "wx0000000000000099".into(),
    };
    let wrong = r.client_with(
        Settings {
            party: other_app,
            ..r.settings()
        },
        key,
        &r.cfg.merchant.mchid.clone(),
        sys(),
    );
    let err = wrong.codepay(&r.order("POS01W0001")).await.unwrap_err();
    let ApiError::WrongParty {
        field,
        expected,
        got,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*field, "appid");
    assert_eq!(expected.as_deref(), Some("wx0000000000000099"));
    assert_eq!(got.as_deref(), Some(r.cfg.merchant.appid.as_str()));
    // Not a result: the outcome of a pay call is unknown, so the order must be queried.
    assert_eq!(err.advice(Call::Pay), Advice::Query);
    let err = wrong.query_by_out_trade_no("POS01W0001").await.unwrap_err();
    assert!(
        matches!(err, ApiError::WrongParty { field: "appid", .. }),
        "{err:?}"
    );
    // The client of the right party reads the same order.
    let good = r.client(sys());
    assert_eq!(
        good.query_by_out_trade_no("POS01W0001")
            .await
            .unwrap()
            .trade_state,
        TradeState::Success
    );
}
