//! The simulator as a service provider (服务商): the partner paths, the service's checks on
//! `sp_mchid`, the sub-merchant binding and `sub_appid`, and one sub-merchant's orders out of
//! another's reach — each checked through the till's own client, whose answer checks
//! (`Party::check_transaction`, `check_reverse`) accept the partner shape.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::fixtures::{CASHIER, TERMINAL, code};
use common::rig::{Mode, OTHER_SUB_MCHID, SUB_MCHID, demo_config, rig_in};
use scanpay::auth_code::AuthCode;
use scanpay::clock::{SharedClock, TokioClock};
use scanpay::config::{Config, Source};
use scanpay::engine::{Engine, OrderState, Progress, Sale};
use scanpay::money::Fen;
use scanpay::order::RefundStatus as LocalRefundStatus;
use scanpay::sim::fault::{Endpoint, Fault, FaultRule};
use scanpay::sim::{SimHandle, SimKeys, Simulator, SubMerchant};
use scanpay::store::orders;
use scanpay::store::{Store, shifts};
use scanpay::wechat::bill::BillType;
use scanpay::wechat::keys::PrivateKey;
use scanpay::wechat::model::*;
use scanpay::wechat::sign::Signer;
use scanpay::wechat::{ApiError, Client, Party, PayAnswer, PayRequest, Settings};

const SUB_APPID: &str = "wx8888888888888888";

/// A service-provider simulator (the demo's mchid/appid as `sp_mchid`/`sp_appid`) knowing
/// [`SUB_MCHID`] with [`SUB_APPID`] bound, and [`OTHER_SUB_MCHID`] without one.
struct Sp {
    keys: SimKeys,
    sim: SimHandle,
    cfg: Config,
    clock: SharedClock,
}

async fn service_provider() -> Sp {
    simulator(vec![
        SubMerchant {
            sub_mchid: SUB_MCHID.into(),
            sub_appid: Some(SUB_APPID.into()),
        },
        SubMerchant {
            sub_mchid: OTHER_SUB_MCHID.into(),
            sub_appid: None,
        },
    ])
    .await
}

/// The demo merchant's simulator with these sub-merchants (none: a direct merchant's).
async fn simulator(subs: Vec<SubMerchant>) -> Sp {
    let cfg = Config::load_from(Source::EmbeddedDemo).unwrap();
    let keys = SimKeys::generate().unwrap();
    let clock: SharedClock = Arc::new(TokioClock::new());
    let sim = Simulator::new(
        &keys,
        &cfg.merchant.mchid,
        &cfg.merchant.appid,
        clock.clone(),
    )
    .unwrap()
    .with_sub_merchants(subs)
    .unwrap()
    .start("127.0.0.1:0")
    .await
    .unwrap();
    Sp {
        keys,
        sim,
        cfg,
        clock,
    }
}

impl Sp {
    /// A sub-merchant's party under this service provider.
    fn party(&self, sub_mchid: &str, sub_appid: Option<&str>) -> Party {
        Party::Partner {
            sp_mchid: self.cfg.merchant.mchid.clone(),
            sp_appid: self.cfg.merchant.appid.clone(),
            sub_mchid: sub_mchid.into(),
            sub_appid: sub_appid.map(str::to_string),
        }
    }

    /// A client acting for `party`, signing as `signing_mchid` with the service provider's key.
    fn client_as(&self, party: Party, signing_mchid: &str) -> Client {
        let key = PrivateKey::from_pem(
            self.keys.merchant_key.to_pkcs8_pem().unwrap().as_bytes(),
            std::path::Path::new("k"),
        )
        .unwrap();
        let settings = Settings {
            base_url: self.sim.base_url.clone(),
            backup_base_url: None,
            party,
            ..scanpay::connect::client_settings(&self.cfg)
        };
        let signer = Signer::new(signing_mchid, &self.keys.merchant_serial_no, key);
        Client::new(
            settings,
            signer,
            self.keys.trust_store().unwrap(),
            self.clock.clone(),
        )
        .unwrap()
    }

    /// The client of a sub-merchant, signed by the service provider as it should be.
    fn client(&self, sub_mchid: &str, sub_appid: Option<&str>) -> Client {
        self.client_as(
            self.party(sub_mchid, sub_appid),
            &self.cfg.merchant.mchid.clone(),
        )
    }
}

fn order(no: &str, suffix: &str) -> CodepayRequest {
    CodepayRequest {
        appid: String::new(),
        mchid: String::new(),
        description: "测试".into(),
        out_trade_no: no.into(),
        attach: None,
        payer: CodepayPayer {
            auth_code: format!("1345678901234567{suffix}"),
        },
        amount: RequestAmount {
            total: 1000,
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

async fn pay(c: &Client, no: &str, suffix: &str) -> Result<PayAnswer, ApiError> {
    c.pay(&PayRequest::new(&c.settings().party, order(no, suffix)))
        .await
}

fn refund(no: &str, refund_no: &str, fen: i64) -> RefundRequest {
    RefundRequest {
        transaction_id: None,
        out_trade_no: Some(no.into()),
        out_refund_no: refund_no.into(),
        reason: None,
        amount: RefundRequestAmount {
            refund: fen,
            total: 1000,
            currency: "CNY".into(),
        },
    }
}

/// The wire code of a signed refusal (`PARAM_ERROR`, `NO_AUTH`, …) and its HTTP status.
fn refused(e: &ApiError) -> (u16, String) {
    match e {
        ApiError::Service {
            status,
            verified: true,
            ..
        } => (*status, e.wire_code().unwrap_or_default().to_string()),
        other => panic!("not a signed refusal: {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn every_call_of_a_till_works_on_the_partner_paths() {
    let sp = service_provider().await;
    let c = sp.client(SUB_MCHID, Some(SUB_APPID));
    let PayAnswer::Paid(t) = pay(&c, "POS01P0001", "11").await.unwrap() else {
        panic!("not paid")
    };
    // The partner shape, checked by the client already; here the fields themselves.
    assert_eq!(t.sp_mchid.as_deref(), Some("1900000001"));
    assert_eq!(t.sub_mchid.as_deref(), Some(SUB_MCHID));
    assert_eq!(t.sub_appid.as_deref(), Some(SUB_APPID));
    assert_eq!(t.mchid, None);
    let tid = t.transaction_id.clone().unwrap();
    assert_eq!(
        c.query_by_transaction_id(&tid).await.unwrap().out_trade_no,
        Some("POS01P0001".into())
    );
    // 202, then queried as the customer pays; reversed on the partner path.
    assert!(matches!(
        pay(&c, "POS01P0002", "03").await.unwrap(),
        PayAnswer::UserPaying
    ));
    let q = c.query_by_out_trade_no("POS01P0002").await.unwrap();
    assert_eq!(q.trade_state, TradeState::UserPaying);
    let rev = c.reverse("POS01P0002").await.unwrap();
    assert_eq!(rev.sub_mchid.as_deref(), Some(SUB_MCHID));
    // Refund and its query name the sub-merchant; the bill is the sub-merchant's.
    let r = c
        .refund(&refund("POS01P0001", "POS01R0001", 100))
        .await
        .unwrap();
    assert_eq!(r.out_trade_no.as_deref(), Some("POS01P0001"));
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        c.query_refund("POS01R0001").await.unwrap().status,
        RefundStatus::Success
    );
    let date = scanpay::clock::beijing::date(sp.clock.now_ms());
    let bill = c.trade_bill(&date, BillType::All).await.unwrap();
    assert!(bill.hash_value.len() == 40);
    // Faults apply to the partner paths like to the direct ones.
    for (endpoint, call) in [(Endpoint::Pay, "pay"), (Endpoint::Query, "query")] {
        sp.sim.inject(FaultRule::once(endpoint, Fault::ServerError));
        let e = match call {
            "pay" => pay(&c, "POS01P0009", "11").await.unwrap_err(),
            _ => c.query_by_out_trade_no("POS01P0001").await.unwrap_err(),
        };
        assert_eq!(refused(&e), (500, "SYSTEM_ERROR".into()), "{call}");
    }
    assert!(sp.sim.ledger(|l| l.order("POS01P0009").is_none()));
    let stats = sp.sim.stats();
    for e in ["pay", "query", "reverse", "refund", "refund_query", "bill"] {
        assert!(
            stats.requests.get(e).is_some_and(|n| *n >= 1),
            "{e}: {stats:?}"
        );
    }
    // Without sub_appid the answer carries none (the page: returned only if sent).
    let c2 = sp.client(OTHER_SUB_MCHID, None);
    let PayAnswer::Paid(t) = pay(&c2, "POS01P0003", "11").await.unwrap() else {
        panic!("not paid")
    };
    assert_eq!(t.sub_appid, None);
}

#[tokio::test(start_paused = true)]
async fn a_sub_merchant_cannot_query_reverse_or_refund_another_ones_order() {
    let sp = service_provider().await;
    let mine = sp.client(SUB_MCHID, None);
    let theirs = sp.client(OTHER_SUB_MCHID, None);
    pay(&mine, "POS01X0001", "11").await.unwrap();
    mine.refund(&refund("POS01X0001", "POS01XR001", 100))
        .await
        .unwrap();
    // The other sub-merchant (same service provider, same keys) finds nothing of it.
    let e = theirs
        .query_by_out_trade_no("POS01X0001")
        .await
        .unwrap_err();
    assert_eq!(refused(&e), (404, "ORDER_NOT_EXIST".into()));
    let e = theirs.reverse("POS01X0001").await.unwrap_err();
    assert_eq!(refused(&e), (404, "ORDER_NOT_EXIST".into()));
    let e = theirs
        .refund(&refund("POS01X0001", "POS01XR002", 100))
        .await
        .unwrap_err();
    assert_eq!(refused(&e), (404, "RESOURCE_NOT_EXISTS".into()));
    let e = theirs.query_refund("POS01XR001").await.unwrap_err();
    assert_eq!(refused(&e), (404, "RESOURCE_NOT_EXISTS".into()));
    // Nothing moved: still charged, one refund, never reversed.
    sp.sim.ledger(|l| {
        let o = l.order_of(Some(SUB_MCHID), "POS01X0001").unwrap();
        assert!(o.is_charged() && o.reverse_calls.is_empty());
        assert_eq!(l.refunds().count(), 1);
    });
    // The same number is free for the other sub-merchant: numbers are per merchant.
    assert!(matches!(
        pay(&theirs, "POS01X0001", "11").await.unwrap(),
        PayAnswer::Paid(_)
    ));
    assert_eq!(sp.sim.ledger(|l| l.orders().count()), 2);
}

#[tokio::test(start_paused = true)]
async fn the_service_provider_checks_who_is_asking() {
    let sp = service_provider().await;
    // sp_mchid in the body other than the signing merchant.
    let mut party = sp.party(SUB_MCHID, None);
    if let Party::Partner { sp_mchid, .. } = &mut party {
        *sp_mchid = "1900000999".into();
    }
    let wrong_sp = sp.client_as(party.clone(), &sp.cfg.merchant.mchid.clone());
    let e = pay(&wrong_sp, "POS01C0001", "11").await.unwrap_err();
    assert_eq!(refused(&e), (400, "PARAM_ERROR".into()));
    let e = wrong_sp
        .query_by_out_trade_no("POS01C0001")
        .await
        .unwrap_err();
    assert_eq!(refused(&e), (400, "PARAM_ERROR".into()));
    // Signed as another merchant than the simulator's service provider: 401, unsigned.
    let stranger = sp.client_as(party, "1900000999");
    let e = pay(&stranger, "POS01C0002", "11").await.unwrap_err();
    assert!(matches!(e, ApiError::Rejected { status: 401, .. }), "{e:?}");
    // A sub-merchant not bound to this service provider.
    let unbound = sp.client("1900000555", None);
    let e = pay(&unbound, "POS01C0003", "11").await.unwrap_err();
    assert_eq!(refused(&e), (403, "NO_AUTH".into()));
    // A sub_appid not bound to the sub-merchant.
    let other_app = sp.client(SUB_MCHID, Some("wx0000000000000001"));
    let e = pay(&other_app, "POS01C0004", "11").await.unwrap_err();
    assert_eq!(refused(&e), (400, "APPID_MCHID_NOT_MATCH".into()));
    let e = other_app.reverse("POS01C0004").await.unwrap_err();
    assert_eq!(refused(&e), (400, "APPID_MCHID_NOT_MATCH".into()));
    // The service provider on the direct paths: it must name a sub-merchant.
    let direct = sp.client_as(
        Party::Direct {
            mchid: sp.cfg.merchant.mchid.clone(),
            appid: sp.cfg.merchant.appid.clone(),
        },
        &sp.cfg.merchant.mchid.clone(),
    );
    let e = pay(&direct, "POS01C0005", "11").await.unwrap_err();
    assert_eq!(refused(&e), (400, "PARAM_ERROR".into()));
    assert!(e.to_string().contains("sub_mch_id"), "{e}");
    let e = direct
        .query_by_out_trade_no("POS01C0005")
        .await
        .unwrap_err();
    assert_eq!(refused(&e), (400, "PARAM_ERROR".into()));
    let e = direct
        .refund(&refund("POS01C0005", "POS01CR005", 1))
        .await
        .unwrap_err();
    assert_eq!(refused(&e), (400, "PARAM_ERROR".into()));
    // Nothing of all this made an order.
    assert_eq!(sp.sim.ledger(|l| l.orders().count()), 0);
}

/// A direct merchant's simulator refuses the partner paths and any `sub_mchid`: it has no
/// sub-merchants (a direct merchant calling the service provider's API).
#[tokio::test(start_paused = true)]
async fn a_direct_merchant_cannot_use_the_partner_paths() {
    let direct = simulator(Vec::new()).await;
    let c = direct.client(SUB_MCHID, None);
    let e = pay(&c, "POS01D0001", "11").await.unwrap_err();
    assert_eq!(refused(&e), (400, "PARAM_ERROR".into()));
    assert!(e.to_string().contains("普通商户不允许传sub_mch_id"), "{e}");
    for e in [
        c.query_by_out_trade_no("POS01D0001").await.unwrap_err(),
        c.reverse("POS01D0001").await.unwrap_err(),
        c.refund(&refund("POS01D0001", "POS01DR001", 1))
            .await
            .unwrap_err(),
        c.query_refund("POS01DR001").await.unwrap_err(),
    ] {
        assert_eq!(refused(&e), (400, "PARAM_ERROR".into()), "{e}");
    }
    assert_eq!(direct.sim.ledger(|l| l.orders().count()), 0);
    // The rig's direct till is unaffected, and its client never sends a partner request.
    let r = rig_in(Mode::Direct).await;
    assert!(matches!(r.client.settings().party, Party::Direct { .. }));
    let req = PayRequest::new(&c.settings().party, order("POS01D0002", "11"));
    assert!(matches!(
        r.client.pay(&req).await.unwrap_err(),
        ApiError::Request(_)
    ));
}

/// The till never settles on another sub-merchant's order: a till whose client names the other
/// sub-merchant (same service provider, same keys, same log) asks for a refund of the order
/// and for the order itself; the service refuses both, no money moves, and the order stays
/// as it was in the log.
#[tokio::test(start_paused = true)]
async fn a_till_of_another_sub_merchant_never_settles_on_the_order() {
    let sp = service_provider().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_inline(dir.path()).unwrap();
    let now = sp.clock.now_ms();
    let shift = store
        .call(move |c| shifts::open(c, TERMINAL, CASHIER, now))
        .await
        .unwrap()
        .id;
    let mut cfg_a = demo_config(Mode::Partner);
    cfg_a.merchant.sub_mchid = Some(SUB_MCHID.into());
    let mut cfg_b = cfg_a.clone();
    cfg_b.merchant.sub_mchid = Some(OTHER_SUB_MCHID.into());
    let a = Engine::new(
        &cfg_a,
        sp.client(SUB_MCHID, None),
        store.clone(),
        sp.clock.clone(),
    );
    let b = Engine::new(
        &cfg_b,
        sp.client(OTHER_SUB_MCHID, None),
        store.clone(),
        sp.clock.clone(),
    );
    let sale = Sale {
        amount: Fen(1000),
        description: "测试".into(),
        code: AuthCode::parse(&code("11")).unwrap(),
        shift_id: shift,
        cashier: CASHIER.into(),
    };
    let mut quiet = |_: &Progress| {};
    let o = a.pay(&sale, &mut quiet, None).await.unwrap();
    assert_eq!(o.state, OrderState::Paid);
    let refund = b
        .refund(&o.out_trade_no, Fen(100), "r", Some("demo"), None)
        .await;
    // Refused as no such record: the refund is FAILED, never SUCCESS.
    let r = refund.unwrap();
    assert_eq!(r.status, LocalRefundStatus::Failed, "{r:?}");
    // No refund at the service, the order still charged and PAID here.
    assert_eq!(sp.sim.ledger(|l| l.refunds().count()), 0);
    assert!(sp.sim.ledger(|l| {
        l.order_of(Some(SUB_MCHID), &o.out_trade_no)
            .unwrap()
            .is_charged()
    }));
    let no = o.out_trade_no.clone();
    let state = store
        .call(move |c| Ok(orders::by_out_trade_no(c, &no)?.unwrap().state))
        .await
        .unwrap();
    assert_eq!(state, OrderState::Paid);
    // Asked through the other sub-merchant's client, the order does not exist: a refusal,
    // never the order's state.
    let e = sp
        .client(OTHER_SUB_MCHID, None)
        .query_by_out_trade_no(&o.out_trade_no)
        .await
        .unwrap_err();
    assert_eq!(refused(&e), (404, "ORDER_NOT_EXIST".into()));
}
