//! The simulator's APIv2 face over real HTTPS on loopback: a reqwest client that trusts only
//! the simulator's CA, presenting the merchant's client certificate on `/secapi/*`; every
//! scripted customer's micropay answer at the XML level, queries, reverse with `recall`, refund
//! and refund query, the bill, signatures (bad, MD5, HMAC-SHA256), the client-certificate
//! checks, and faults. The simulator keeps time by a manual clock, so the scripted customers
//! move only when a test says so.

use std::sync::Arc;
use std::time::Duration;

use scanpay::clock::{ManualClock, SharedClock, beijing};
use scanpay::sim::fault::{Endpoint, Fault, FaultRule};
use scanpay::sim::tls::SimCa;
use scanpay::sim::{DEMO_APPID, DEMO_MCHID, V2InProcess, start_v2_in_process};
use scanpay::wechat::keys::PrivateKey;
use scanpay::wechat::v2::Fields;
use scanpay::wechat::v2::answer::{self, Answer, AnswerError};
use scanpay::wechat::v2::request::{
    BillType, DownloadBill, Merchant, Micropay, OrderQuery, OrderRef, Refund, RefundQuery,
    RefundRef, Reverse, V2Request, signed_xml,
};
use scanpay::wechat::v2::sign::SignType;
use scanpay::wechat::v2::xml;

mod common;

use common::fixtures::{code, customer};

/// 2026-11-30 12:00:00 Beijing time.
const START_MS: i64 = 1_796_011_200_000;

struct Rig {
    sim: V2InProcess,
    clock: Arc<ManualClock>,
    /// Trusts the simulator's CA and presents the merchant's client certificate.
    http: reqwest::Client,
    /// Trusts the simulator's CA, presents no certificate.
    bare: reqwest::Client,
}

fn client(ca_pem: &str, identity: Option<&str>, timeout: Duration) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap();
    let mut b = reqwest::Client::builder()
        .tls_certs_only([ca])
        .timeout(timeout);
    if let Some(pem) = identity {
        b = b.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    b.build().unwrap()
}

async fn rig() -> Rig {
    let clock = Arc::new(ManualClock::at_ms(START_MS));
    let shared: SharedClock = clock.clone();
    let sim = start_v2_in_process(DEMO_MCHID, DEMO_APPID, shared)
        .await
        .unwrap();
    rig_for(sim, clock)
}

/// Clients for a started simulator whose clock is `clock`.
fn rig_for(sim: V2InProcess, clock: Arc<ManualClock>) -> Rig {
    assert_eq!(sim.handle.base_url.scheme(), "https");
    let http = client(
        &sim.keys.ca_pem,
        Some(&sim.identity_pem()),
        Duration::from_secs(10),
    );
    let bare = client(&sim.keys.ca_pem, None, Duration::from_secs(10));
    Rig {
        sim,
        clock,
        http,
        bare,
    }
}

fn merchant() -> Merchant {
    Merchant {
        appid: DEMO_APPID.into(),
        mch_id: DEMO_MCHID.into(),
    }
}

fn micropay(no: &str, suffix: &str, fen: u64) -> Micropay {
    Micropay {
        body: "示例便利店-商品".into(),
        out_trade_no: no.into(),
        total_fee: fen,
        spbill_create_ip: "127.0.0.1".into(),
        auth_code: code(suffix),
        device_info: Some("POS01".into()),
        ..Micropay::default()
    }
}

fn by_no(no: &str) -> OrderRef {
    OrderRef::OutTradeNo(no.into())
}

impl Rig {
    fn url(&self, path: &str) -> String {
        format!(
            "{}{}",
            self.sim.handle.base_url.as_str().trim_end_matches('/'),
            path
        )
    }

    /// Sends a raw body to `path` with `http`; status, content type and body.
    async fn post_raw(
        &self,
        http: &reqwest::Client,
        path: &str,
        body: String,
    ) -> Result<(u16, String, Vec<u8>), reqwest::Error> {
        let r = http
            .post(self.url(path))
            .header("content-type", "text/xml")
            .body(body)
            .send()
            .await?;
        let status = r.status().as_u16();
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        Ok((status, ct, r.bytes().await?.to_vec()))
    }

    /// Sends a signed request; the raw answer.
    async fn send<R: V2Request>(&self, r: &R, ty: SignType) -> (u16, String, Vec<u8>) {
        let body = signed_xml(r, &merchant(), "nonce123", &self.sim.keys.api_key, ty).unwrap();
        self.post_raw(&self.http, R::PATH, body).await.unwrap()
    }

    /// Sends a signed request and reads the answer as the till does.
    async fn call<R: V2Request>(&self, r: &R, ty: SignType) -> Result<Answer, AnswerError> {
        let (status, ct, body) = self.send(r, ty).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        assert!(ct.starts_with("text/xml"), "{ct}");
        answer::read(&body, &self.sim.keys.api_key, ty)
    }

    async fn ok<R: V2Request>(&self, r: &R) -> Fields {
        match self.call(r, SignType::HmacSha256).await.unwrap() {
            Answer::Success(f) => f,
            other => panic!("not a success: {other:?}"),
        }
    }

    async fn err_code<R: V2Request>(&self, r: &R) -> (String, Fields) {
        match self.call(r, SignType::HmacSha256).await.unwrap() {
            Answer::Business {
                err_code, fields, ..
            } => (err_code, fields),
            other => panic!("not a business failure: {other:?}"),
        }
    }

    async fn trade_state(&self, no: &str) -> String {
        let f = self.ok(&OrderQuery { order: by_no(no) }).await;
        f["trade_state"].clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scripted_customer_answers_micropay_as_on_v3() {
    let r = rig().await;
    // Paid at once: both codes SUCCESS, signed, the order's fields in fen.
    let f = r
        .ok(&micropay("V2PAID01", customer::PAYS_AT_ONCE, 1234))
        .await;
    assert_eq!(f["total_fee"], "1234");
    assert_eq!(f["cash_fee"], "1234");
    assert_eq!(f["trade_type"], "MICROPAY");
    assert_eq!(f["out_trade_no"], "V2PAID01");
    assert_eq!(f["device_info"], "POS01");
    assert_eq!(f["time_end"], "20261130120000");
    assert!(f["transaction_id"].starts_with("4200"));
    assert!(f["openid"].starts_with("oSim"));
    let paid = answer::paid_transaction(&f).unwrap();
    assert_eq!(paid.amount.unwrap().total, Some(1234));

    // The customers who confirm on the phone: USERPAYING, signed.
    for (no, suffix) in [
        ("V2WAIT01", customer::PAYS_AFTER_8S),
        ("V2WAIT02", customer::CANCELS_AFTER_6S),
        ("V2WAIT03", customer::NEVER_PAYS),
        ("V2WAIT09", customer::REVERSE_FAILS_TWICE),
    ] {
        let (code, _) = r.err_code(&micropay(no, suffix, 100)).await;
        assert_eq!(code, "USERPAYING", "{suffix}");
        assert_eq!(r.trade_state(no).await, "USERPAYING");
    }
    // Definite refusals, in the APIv2 spelling.
    let (c, f) = r
        .err_code(&micropay("V2POOR04", customer::NOT_ENOUGH, 100))
        .await;
    assert_eq!(c, "NOTENOUGH");
    assert!(!f["err_code_des"].is_empty());
    assert_eq!(r.trade_state("V2POOR04").await, "PAYERROR");
    let (c, _) = r
        .err_code(&micropay("V2EXPI05", customer::CODE_EXPIRED, 100))
        .await;
    assert_eq!(c, "AUTHCODEEXPIRE");
    let (c, _) = r
        .err_code(&OrderQuery {
            order: by_no("V2EXPI05"),
        })
        .await;
    assert_eq!(c, "ORDERNOTEXIST", "no order for an expired code");
    // A system error on the pay call, but the order was paid: the query says so.
    let (c, _) = r
        .err_code(&micropay("V2SYSE06", customer::SYSTEM_ERROR_BUT_PAID, 100))
        .await;
    assert_eq!(c, "SYSTEMERROR");
    assert_eq!(r.trade_state("V2SYSE06").await, "SUCCESS");
    // Paid, but the answer's signature is forged: the till must not trust it.
    assert_eq!(
        r.call(
            &micropay("V2FORG10", customer::FORGED_ANSWER, 100),
            SignType::HmacSha256
        )
        .await,
        Err(AnswerError::BadSignature)
    );
    assert_eq!(r.trade_state("V2FORG10").await, "SUCCESS");
    // A code that is not a WeChat payment code.
    let mut alipay = micropay("V2ALIP00", customer::PAYS_AT_ONCE, 100);
    alipay.auth_code = "281234567890123456".into();
    assert_eq!(r.err_code(&alipay).await.0, "AUTH_CODE_INVALID");
    // The same number again after payment.
    let (c, _) = r
        .err_code(&micropay("V2PAID01", customer::PAYS_AT_ONCE, 1234))
        .await;
    assert_eq!(c, "ORDERPAID");

    // Time moves: 01 pays at 8 s, 02 cancels at 6 s, 03 and 09 wait on.
    r.clock.advance_ms(8_000);
    let f = r
        .ok(&OrderQuery {
            order: by_no("V2WAIT01"),
        })
        .await;
    assert_eq!(f["trade_state"], "SUCCESS");
    assert_eq!(f["time_end"], "20261130120008");
    let q = answer::queried_transaction(&f).unwrap();
    assert_eq!(q.success_time.as_deref(), Some("2026-11-30T12:00:08+08:00"));
    // Queried by WeChat's number too.
    let tid = f["transaction_id"].clone();
    let f = r
        .ok(&OrderQuery {
            order: OrderRef::TransactionId(tid),
        })
        .await;
    assert_eq!(f["out_trade_no"], "V2WAIT01");
    assert_eq!(r.trade_state("V2WAIT02").await, "PAYERROR");
    assert_eq!(r.trade_state("V2WAIT03").await, "USERPAYING");
    assert_eq!(r.trade_state("V2WAIT09").await, "USERPAYING");
    // A reused number of a PAYERROR order.
    let (c, _) = r
        .err_code(&micropay("V2WAIT02", customer::CANCELS_AFTER_6S, 100))
        .await;
    assert_eq!(c, "ORDERCLOSED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_customers_get_no_answer_and_the_books_differ() {
    let r = rig().await;
    let short = client(&r.sim.keys.ca_pem, None, Duration::from_millis(500));
    for (no, suffix) in [
        ("V2HANG07", customer::HANGS_BUT_PAID),
        ("V2HANG08", customer::HANGS_NO_ORDER),
    ] {
        let body = signed_xml(
            &micropay(no, suffix, 100),
            &merchant(),
            "n",
            &r.sim.keys.api_key,
            SignType::Md5,
        )
        .unwrap();
        let err = r.post_raw(&short, "/pay/micropay", body).await.unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
    }
    assert_eq!(r.trade_state("V2HANG07").await, "SUCCESS");
    let (c, _) = r
        .err_code(&OrderQuery {
            order: by_no("V2HANG08"),
        })
        .await;
    assert_eq!(c, "ORDERNOTEXIST");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reverse_answers_recall_until_it_is_done() {
    let r = rig().await;
    r.err_code(&micropay("V2REVE09", customer::REVERSE_FAILS_TWICE, 100))
        .await;
    r.clock.advance_ms(15_000);
    let rev = Reverse {
        order: by_no("V2REVE09"),
    };
    for _ in 0..2 {
        let (c, f) = r.err_code(&rev).await;
        assert_eq!(c, "SYSTEMERROR");
        assert_eq!(f["recall"], "Y");
        assert!(answer::reverse_again(&f));
    }
    let f = r.ok(&rev).await;
    assert_eq!(f["recall"], "N");
    assert!(!answer::reverse_again(&f));
    assert_eq!(r.trade_state("V2REVE09").await, "REVOKED");
    // Reversing again is idempotent.
    assert_eq!(r.ok(&rev).await["recall"], "N");
    // A paid order reversed: the money goes back, the order is REVOKED.
    r.ok(&micropay("V2REVP11", customer::PAYS_AT_ONCE, 100))
        .await;
    assert_eq!(
        r.ok(&Reverse {
            order: by_no("V2REVP11")
        })
        .await["recall"],
        "N"
    );
    assert_eq!(r.trade_state("V2REVP11").await, "REVOKED");
    let (c, _) = r
        .err_code(&Reverse {
            order: by_no("V2NOSUCH"),
        })
        .await;
    assert_eq!(c, "ORDERNOTEXIST");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refund_then_refund_query_until_it_settles() {
    let r = rig().await;
    let paid = r
        .ok(&micropay("V2REFD11", customer::PAYS_AT_ONCE, 1000))
        .await;
    let refund = |no: &str, fen: u64| Refund {
        order: by_no("V2REFD11"),
        out_refund_no: no.into(),
        total_fee: 1000,
        refund_fee: fen,
        refund_desc: Some("退货".into()),
        notify_url: None,
    };
    let f = r.ok(&refund("RF1", 300)).await;
    assert_eq!(f["refund_fee"], "300");
    assert_eq!(f["out_refund_no"], "RF1");
    assert_eq!(f["transaction_id"], paid["transaction_id"]);
    let refund_id = f["refund_id"].clone();
    // The same out_refund_no again is the same refund.
    assert_eq!(r.ok(&refund("RF1", 300)).await["refund_id"], refund_id);
    // More than what is left.
    let (c, _) = r.err_code(&refund("RF2", 800)).await;
    assert_eq!(c, "INVALID_REQUEST");
    let query = |rr: RefundRef| RefundQuery {
        refund: rr,
        offset: None,
    };
    let f = r.ok(&query(RefundRef::OutRefundNo("RF1".into()))).await;
    assert_eq!(f["refund_count"], "1");
    assert_eq!(f["refund_status_0"], "PROCESSING");
    assert_eq!(f["refund_fee_0"], "300");
    assert!(!f.contains_key("refund_success_time_0"));
    r.clock.advance_ms(3_000);
    let f = r.ok(&query(RefundRef::RefundId(refund_id.clone()))).await;
    assert_eq!(f["refund_status_0"], "SUCCESS");
    assert_eq!(f["refund_success_time_0"], "2026-11-30 12:00:03");
    assert_eq!(f["refund_id_0"], refund_id);
    r.ok(&refund("RF3", 200)).await;
    let f = r.ok(&query(RefundRef::OutTradeNo("V2REFD11".into()))).await;
    assert_eq!(f["refund_count"], "2");
    assert_eq!(f["out_refund_no_0"], "RF1");
    assert_eq!(f["out_refund_no_1"], "RF3");
    assert_eq!(f["total_fee"], "1000");
    let (c, _) = r
        .err_code(&query(RefundRef::OutRefundNo("NOPE".into())))
        .await;
    assert_eq!(c, "REFUNDNOTEXIST");
    assert_eq!(r.trade_state("V2REFD11").await, "REFUND");
    // An unpaid order cannot be refunded.
    r.err_code(&micropay("V2WAIT03", customer::NEVER_PAYS, 100))
        .await;
    let (c, _) = r
        .err_code(&Refund {
            order: by_no("V2WAIT03"),
            ..refund("RF9", 100)
        })
        .await;
    assert_eq!(c, "ORDERNOTEXIST");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloadbill_answers_the_bill_text_or_no_bill_exist() {
    let r = rig().await;
    r.ok(&micropay("V2BILL11", customer::PAYS_AT_ONCE, 2500))
        .await;
    let today = beijing::compact_date(START_MS);
    let bill = |date: &str| DownloadBill {
        bill_date: date.into(),
        bill_type: BillType::All,
    };
    let (status, ct, body) = r.send(&bill(&today), SignType::HmacSha256).await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/plain"), "{ct}");
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("V2BILL11"), "{text}");
    assert!(text.contains("25.00"), "{text}");
    assert!(!text.starts_with("<xml>"));
    // A day without trades: an unsigned XML refusal.
    let (status, ct, body) = r.send(&bill("20200101"), SignType::HmacSha256).await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/xml"), "{ct}");
    let f = xml::parse(&body).unwrap();
    assert_eq!(f["return_code"], "FAIL");
    assert_eq!(f["return_msg"], "No Bill Exist");
    assert_eq!(f["error_code"], "20002");
    assert!(!f.contains_key("sign"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_are_checked_and_answered_in_the_request_type() {
    let r = rig().await;
    // MD5 (no sign_type field) is answered in MD5, HMAC-SHA256 in HMAC-SHA256.
    for (no, ty) in [
        ("V2MD5011", SignType::Md5),
        ("V2HMAC11", SignType::HmacSha256),
    ] {
        let (_, _, body) = r.send(&micropay(no, customer::PAYS_AT_ONCE, 100), ty).await;
        let f = xml::parse(&body).unwrap();
        assert_eq!(
            f.get("sign_type").map(String::as_str),
            (ty == SignType::HmacSha256).then_some("HMAC-SHA256")
        );
        assert!(matches!(
            answer::read(&body, &r.sim.keys.api_key, ty),
            Ok(Answer::Success(_))
        ));
        let other = if ty == SignType::Md5 {
            SignType::HmacSha256
        } else {
            SignType::Md5
        };
        assert_eq!(
            answer::read(&body, &r.sim.keys.api_key, other),
            Err(AnswerError::BadSignature)
        );
    }
    // A request changed after signing: FAIL 签名错误, unsigned, and nothing happens.
    let body = signed_xml(
        &micropay("V2TAMP11", customer::PAYS_AT_ONCE, 100),
        &merchant(),
        "n",
        &r.sim.keys.api_key,
        SignType::HmacSha256,
    )
    .unwrap()
    .replace("<![CDATA[100]]>", "<![CDATA[1]]>");
    let (status, _, answer_body) = r.post_raw(&r.http, "/pay/micropay", body).await.unwrap();
    assert_eq!(status, 200);
    let f = xml::parse(&answer_body).unwrap();
    assert_eq!(f["return_code"], "FAIL");
    assert_eq!(f["return_msg"], "签名错误，请检查后再试");
    assert!(!f.contains_key("sign"));
    assert!(matches!(
        answer::read(&answer_body, &r.sim.keys.api_key, SignType::HmacSha256),
        Ok(Answer::Communication { .. })
    ));
    assert!(r.sim.handle.ledger(|l| l.order("V2TAMP11").is_none()));
    assert_eq!(r.sim.handle.stats().sign_errors, 1);
    // Signed with another key.
    let other = scanpay::wechat::v2::sign::ApiKey::new("0".repeat(32)).unwrap();
    let body = signed_xml(
        &OrderQuery {
            order: by_no("V2MD5011"),
        },
        &merchant(),
        "n",
        &other,
        SignType::Md5,
    )
    .unwrap();
    let (_, _, b) = r.post_raw(&r.http, "/pay/orderquery", body).await.unwrap();
    assert_eq!(
        xml::parse(&b).unwrap()["return_msg"],
        "签名错误，请检查后再试"
    );
    // A direct merchant names no sub-merchant: the request is refused (signed), nothing moves.
    let partner = micropay("V2SUBM11", customer::PAYS_AT_ONCE, 100);
    let mut fields = scanpay::wechat::v2::request::signed_fields(
        &partner,
        &merchant(),
        "n",
        &r.sim.keys.api_key,
        SignType::Md5,
    )
    .unwrap();
    fields.insert("sub_mch_id".into(), "1900000109".into());
    fields.remove("sign");
    let sign = scanpay::wechat::v2::sign::sign(&fields, &r.sim.keys.api_key, SignType::Md5);
    fields.insert("sign".into(), sign);
    let (_, _, b) = r
        .post_raw(&r.http, "/pay/micropay", xml::write(&fields).unwrap())
        .await
        .unwrap();
    assert!(matches!(
        answer::read(&b, &r.sim.keys.api_key, SignType::Md5).unwrap(),
        Answer::Business { err_code, .. } if err_code == "PARAM_ERROR"
    ));
    assert!(r.sim.handle.ledger(|l| l.order("V2SUBM11").is_none()));
    // Not XML at all.
    let (_, _, b) = r
        .post_raw(&r.http, "/pay/orderquery", "{\"json\":1}".into())
        .await
        .unwrap();
    assert_eq!(xml::parse(&b).unwrap()["return_code"], "FAIL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secapi_needs_the_merchants_client_certificate() {
    let r = rig().await;
    r.err_code(&micropay("V2CERT03", customer::NEVER_PAYS, 100))
        .await;
    let reverse = signed_xml(
        &Reverse {
            order: by_no("V2CERT03"),
        },
        &merchant(),
        "n",
        &r.sim.keys.api_key,
        SignType::HmacSha256,
    )
    .unwrap();
    // No certificate: the front's 400 page, not XML.
    let (status, ct, body) = r
        .post_raw(&r.bare, "/secapi/pay/reverse", reverse.clone())
        .await
        .unwrap();
    assert_eq!(status, 400);
    assert!(ct.starts_with("text/html"), "{ct}");
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains("No required SSL certificate was sent"),
        "{text}"
    );
    // A certificate for the same merchant and key, from another authority.
    let foreign_ca = SimCa::generate().unwrap();
    let merchant_key =
        PrivateKey::from_pem(r.sim.merchant_key_pem.as_bytes(), std::path::Path::new("k")).unwrap();
    let foreign = format!(
        "{}{}",
        foreign_ca.issue_client(&merchant_key, DEMO_MCHID).unwrap(),
        r.sim.merchant_key_pem
    );
    let stranger = client(&r.sim.keys.ca_pem, Some(&foreign), Duration::from_secs(10));
    let (status, _, body) = r
        .post_raw(&stranger, "/secapi/pay/reverse", reverse.clone())
        .await
        .unwrap();
    assert_eq!(status, 400);
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains("The SSL certificate error")
    );
    // The simulator's certificate, but for another merchant.
    let ca = SimCa::from_pem(
        PrivateKey::from_pem(r.sim.keys.ca_key_pem.as_bytes(), std::path::Path::new("c")).unwrap(),
        r.sim.keys.ca_pem.as_bytes(),
    )
    .unwrap();
    let other_merchant = format!(
        "{}{}",
        ca.issue_client(&merchant_key, "1900000002").unwrap(),
        r.sim.merchant_key_pem
    );
    let other = client(
        &r.sim.keys.ca_pem,
        Some(&other_merchant),
        Duration::from_secs(10),
    );
    let (status, _, _) = r
        .post_raw(&other, "/secapi/pay/reverse", reverse.clone())
        .await
        .unwrap();
    assert_eq!(status, 400);
    // Refund is guarded the same way; nothing was reversed or refunded.
    let (status, _, _) = r
        .post_raw(&r.bare, "/secapi/pay/refund", reverse.clone())
        .await
        .unwrap();
    assert_eq!(status, 400);
    assert_eq!(r.trade_state("V2CERT03").await, "USERPAYING");
    // With the merchant's certificate it works; the non-secapi calls need none.
    let (status, _, _) = r
        .post_raw(&r.http, "/secapi/pay/reverse", reverse)
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(r.trade_state("V2CERT03").await, "REVOKED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_apply_to_the_v2_endpoints() {
    let r = rig().await;
    let h = &r.sim.handle;
    // Garbled: the answer is cut; the order was paid all the same.
    h.inject(FaultRule::once(Endpoint::Pay, Fault::GarbledJson));
    let a = r
        .call(
            &micropay("V2GARB11", customer::PAYS_AT_ONCE, 100),
            SignType::Md5,
        )
        .await;
    assert!(matches!(a, Err(AnswerError::Xml(_))), "{a:?}");
    assert_eq!(r.trade_state("V2GARB11").await, "SUCCESS");
    // Dropped: the connection breaks mid-answer.
    h.inject(FaultRule::once(Endpoint::Query, Fault::Drop));
    let body = signed_xml(
        &OrderQuery {
            order: by_no("V2GARB11"),
        },
        &merchant(),
        "n",
        &r.sim.keys.api_key,
        SignType::Md5,
    )
    .unwrap();
    assert!(r.post_raw(&r.http, "/pay/orderquery", body).await.is_err());
    // Wrong signature.
    h.inject(FaultRule::once(Endpoint::Query, Fault::WrongSignature));
    assert_eq!(
        r.call(
            &OrderQuery {
                order: by_no("V2GARB11")
            },
            SignType::Md5
        )
        .await,
        Err(AnswerError::BadSignature)
    );
    // A business refusal, before anything moves.
    h.inject(FaultRule::once(
        Endpoint::Pay,
        Fault::Refuse {
            status: 403,
            code: "ORDERPAID".into(),
        },
    ));
    let (c, _) = r
        .err_code(&micropay("V2REFU11", customer::PAYS_AT_ONCE, 100))
        .await;
    assert_eq!(c, "ORDERPAID");
    assert!(h.ledger(|l| l.order("V2REFU11").is_none()));
    // A server error before processing: SYSTEMERROR, signed.
    h.inject(FaultRule::once(Endpoint::Refund, Fault::ServerError));
    let (c, _) = r
        .err_code(&Refund {
            order: by_no("V2GARB11"),
            out_refund_no: "RFX".into(),
            total_fee: 100,
            refund_fee: 100,
            refund_desc: None,
            notify_url: None,
        })
        .await;
    assert_eq!(c, "SYSTEMERROR");
    assert!(h.ledger(|l| l.refunds().next().is_none()));
    // Counted by endpoint.
    assert!(h.stats().requests["v2_pay"] >= 2);
}

/// `scanpay sim --api v2` as a process: its files (secrets 0600), its APIv2 configuration, and
/// a signed round trip over HTTPS with what it wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_sim_api_v2_writes_its_files_and_answers_over_https() {
    use std::os::unix::fs::PermissionsExt;
    for (sign_type, extra) in [
        ("HMAC-SHA256", &["--api", "v2"][..]),
        ("MD5", &["--api", "v2", "--sign-type", "MD5"][..]),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let keys = tmp.path().join("keys");
        let sim = common::start_sim_with(&keys, extra);
        assert!(sim.base.starts_with("https://127.0.0.1:"), "{}", sim.base);
        let mode = |f: &str| {
            std::fs::metadata(keys.join(f))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        for secret in ["apiv2_key.txt", "apiclient_key.pem", "sim_ca_key.pem"] {
            assert_eq!(mode(secret), 0o600, "{secret}");
        }
        let key_text = std::fs::read_to_string(keys.join("apiv2_key.txt")).unwrap();
        let key_text = key_text.trim();
        assert_eq!(key_text.len(), 32);
        assert!(key_text.bytes().all(|b| b.is_ascii_alphanumeric()));
        let cert = std::fs::read_to_string(keys.join("apiclient_cert.pem")).unwrap();
        let ca = std::fs::read_to_string(keys.join("sim_ca.pem")).unwrap();
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));
        // The configuration, read with the TOML parser.
        let text = std::fs::read_to_string(keys.join("scanpay.toml")).unwrap();
        let t: toml::Table = toml::from_str(&text).unwrap();
        let w = t["wechatpay"].as_table().unwrap();
        let s = |k: &str| w[k].as_str().unwrap().to_string();
        assert_eq!(s("mode"), "live");
        assert_eq!(s("api"), "v2");
        assert_eq!(s("v2_key"), "apiv2_key.txt");
        assert_eq!(s("v2_sign_type"), sign_type);
        assert_eq!(s("client_certificate"), "apiclient_cert.pem");
        assert_eq!(s("merchant_private_key"), "apiclient_key.pem");
        assert_eq!(s("tls_root_certificate"), "sim_ca.pem");
        assert_eq!(s("base_url"), sim.base);
        assert!(!w.contains_key("wechatpay_public_key"));
        assert_eq!(t["merchant"]["mchid"].as_str(), Some(DEMO_MCHID));
        // A signed round trip with those files: orderquery of a missing order, then a reverse
        // over /secapi with the client certificate.
        let merchant_key = std::fs::read_to_string(keys.join("apiclient_key.pem")).unwrap();
        let http = client(
            &ca,
            Some(&format!("{cert}{merchant_key}")),
            Duration::from_secs(10),
        );
        let key = scanpay::wechat::v2::sign::ApiKey::new(key_text).unwrap();
        let ty = SignType::from_wire(sign_type).unwrap();
        let post = |path: &'static str, body: String| {
            let http = http.clone();
            let url = format!("{}{path}", sim.base);
            async move {
                let r = http.post(url).body(body).send().await.unwrap();
                (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
            }
        };
        let q = OrderQuery {
            order: by_no("MISSING1"),
        };
        let (status, body) = post(
            "/pay/orderquery",
            signed_xml(&q, &merchant(), "n", &key, ty).unwrap(),
        )
        .await;
        assert_eq!(status, 200);
        assert!(matches!(
            answer::read(&body, &key, ty).unwrap(),
            Answer::Business { err_code, .. } if err_code == "ORDERNOTEXIST"
        ));
        let rev = Reverse {
            order: by_no("MISSING1"),
        };
        let (status, body) = post(
            "/secapi/pay/reverse",
            signed_xml(&rev, &merchant(), "n", &key, ty).unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        assert!(answer::read(&body, &key, ty).is_ok());
        drop(sim);
        // Started again on the same folder: the same key and CA (the configuration still holds).
        let again = common::start_sim_with(&keys, extra);
        assert_eq!(
            std::fs::read_to_string(keys.join("sim_ca.pem")).unwrap(),
            ca
        );
        assert_eq!(
            std::fs::read_to_string(keys.join("apiv2_key.txt"))
                .unwrap()
                .trim(),
            key_text
        );
        assert!(again.lines.iter().any(|l| l.contains("APIv2 simulator")));
    }
}

/// The persistent in-process start (a demo on APIv2): keys, CA and books survive a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_in_process_v2_keeps_keys_and_books_across_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("simulator");
    let clock = Arc::new(ManualClock::at_ms(START_MS));
    let start = |clock: Arc<ManualClock>| {
        let dir = dir.clone();
        async move {
            let shared: SharedClock = clock.clone();
            let sim =
                scanpay::sim::start_v2_in_process_persistent(&dir, DEMO_MCHID, DEMO_APPID, shared)
                    .await
                    .unwrap();
            rig_for(sim, clock)
        }
    };
    let r = start(clock.clone()).await;
    r.ok(&micropay("V2KEEP11", customer::PAYS_AT_ONCE, 500))
        .await;
    let (ca, key_text, cert) = (
        r.sim.keys.ca_pem.clone(),
        r.sim.keys.api_key_text.clone(),
        r.sim.keys.client_cert_pem.clone(),
    );
    r.sim.handle.stop();
    drop(r);
    let r = start(clock).await;
    assert_eq!(r.sim.keys.ca_pem, ca);
    assert_eq!(r.sim.keys.api_key_text, key_text);
    assert_eq!(r.sim.keys.client_cert_pem, cert);
    assert_eq!(r.trade_state("V2KEEP11").await, "SUCCESS");
    // The reverse over /secapi works with the reused client certificate.
    assert_eq!(
        r.ok(&Reverse {
            order: by_no("V2KEEP11")
        })
        .await["recall"],
        "N"
    );
}
