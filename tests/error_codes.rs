//! Error codes as the service spells them, and the field limits it states, against the
//! in-process simulator on tokio's paused clock: every definite refusal of a payment ends
//! FAILED at once with the cashier's words, in either spelling; a refund's NOT_ENOUGH is the
//! merchant's balance; a paid order the cashier cancelled ends REVERSED with the money
//! returned; reasons and descriptions stay within their limits and out of the bill's commas.

mod common;

use std::time::Duration;

use common::fixtures::PRICE_FEN;
use common::rig::rig;
use scanpay::config::Config;
use scanpay::config::Language;
use scanpay::engine::refund::RefundStatus;
use scanpay::engine::{OrderState, Progress};
use scanpay::money::Fen;
use scanpay::sim::fault::{Endpoint, Fault, FaultRule};
use scanpay::store::orders::OrderRecord;
use scanpay::till::refund::refund_reason;
use scanpay::wechat::ApiError;
use scanpay::wechat::model::{
    Call, CodepayPayer, CodepayRequest, ErrorCode, RefundRequest, RefundRequestAmount,
    RequestAmount, SceneInfo, StoreInfo,
};

/// The pay call of `o` once more, with the same number, amount and description.
fn again(cfg: &Config, o: &OrderRecord) -> CodepayRequest {
    CodepayRequest {
        appid: cfg.merchant.appid.clone(),
        mchid: cfg.merchant.mchid.clone(),
        description: o.description.clone(),
        out_trade_no: o.out_trade_no.clone(),
        attach: None,
        payer: CodepayPayer {
            auth_code: common::fixtures::code("04"),
        },
        amount: RequestAmount {
            total: o.amount.0,
            currency: Some("CNY".into()),
        },
        scene_info: SceneInfo {
            store_info: StoreInfo {
                out_id: Some(cfg.merchant.store_id.clone()),
                id: None,
            },
            device_ip: Some(cfg.merchant.device_ip.to_string()),
            device_id: Some(cfg.merchant.terminal_id.clone()),
        },
    }
}

fn refuse(status: u16, code: &str) -> Fault {
    Fault::Refuse {
        status,
        code: code.into(),
    }
}

/// The refusals of the APIv3 payment error tables, in their v3 spelling and (where the APIv2
/// pages spell them otherwise) the v2 one.
const REFUSALS: [(u16, &str); 9] = [
    (403, "NOT_ENOUGH"),
    (403, "NOTENOUGH"),
    (403, "TRADE_ERROR"),
    (403, "RULE_LIMIT"),
    (403, "ACCOUNT_ERROR"),
    (400, "ORDER_CLOSED"),
    (400, "ORDERCLOSED"),
    (403, "AUTHCODEEXPIRE"),
    (403, "NOTSUPORTCARD"),
];

#[tokio::test(start_paused = true)]
async fn every_definite_refusal_of_a_payment_fails_at_once_with_the_cashier_words() {
    let r = rig().await;
    for (i, (status, code)) in REFUSALS.into_iter().enumerate() {
        r.sim
            .inject(FaultRule::once(Endpoint::Pay, refuse(status, code)));
        let started = tokio::time::Instant::now();
        // A different customer each time (a code is used once per shift).
        let o = r.pay(&format!("{}", 20 + i), PRICE_FEN).await;
        assert_eq!(o.state, OrderState::Failed, "{code}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{code}: failed at once, not after a wait ({:?})",
            started.elapsed()
        );
        // The log keeps the code as it came over the wire.
        assert_eq!(o.reason_code.as_deref(), Some(code), "{code}");
        let kinds = r.kinds(o.id).await;
        assert!(
            !kinds
                .iter()
                .any(|k| k.contains("query") || k.contains("reverse")),
            "{code}: no query, no reverse: {kinds:?}"
        );
        let reason = o
            .reason
            .clone()
            .unwrap_or_else(|| panic!("{code}: a reason"));
        let want = ErrorCode::from_wire(code);
        assert_eq!(
            scanpay::i18n::reason(&reason, Language::En),
            want.meaning_en(Call::Pay),
            "{code}"
        );
        assert_eq!(
            scanpay::i18n::reason(&reason, Language::Zh),
            want.meaning_zh(Call::Pay),
            "{code}"
        );
        assert!(
            !scanpay::i18n::reason(&reason, Language::En).contains("merchant"),
            "{code}: a payment refusal is never the refund's words"
        );
        r.agrees(&o);
    }
}

/// Scenario 04 answers the APIv3 spelling; the cashier reads the customer's balance.
#[tokio::test(start_paused = true)]
async fn the_simulator_answers_not_enough_in_the_v3_spelling() {
    let r = rig().await;
    let o = r.pay("04", PRICE_FEN).await;
    assert_eq!(o.state, OrderState::Failed);
    assert_eq!(o.reason_code.as_deref(), Some("NOT_ENOUGH"));
    let reason = o.reason.clone().unwrap();
    assert!(scanpay::i18n::reason(&reason, Language::Zh).contains("顾客余额不足"));
    assert!(scanpay::i18n::reason(&reason, Language::En).contains("customer's balance"));
    // Reusing the number of that PAYERROR order answers 400 ORDER_CLOSED.
    let err = r.client.codepay(&again(&r.cfg, &o)).await.unwrap_err();
    assert!(
        matches!(
            &err,
            ApiError::Service {
                status: 400,
                code: ErrorCode::OrderClosed,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.wire_code(), Some("ORDER_CLOSED"));
}

/// BANK_ERROR (500) on a payment is not a refusal: the outcome is unknown, the order is
/// queried (here it was never created, so it ends "no such order" after the reverse).
#[tokio::test(start_paused = true)]
async fn bank_error_on_a_payment_is_unknown_not_failed_at_once() {
    let r = rig().await;
    r.sim
        .inject(FaultRule::once(Endpoint::Pay, refuse(500, "BANK_ERROR")));
    let o = r.pay("11", PRICE_FEN).await;
    let kinds = r.kinds(o.id).await;
    assert!(kinds.iter().any(|k| k.contains("query")), "{kinds:?}");
    assert_ne!(o.reason_code.as_deref(), Some("BANK_ERROR"));
    r.agrees(&o);
}

#[tokio::test(start_paused = true)]
async fn a_refund_refused_with_not_enough_names_the_merchant_balance() {
    let r = rig().await;
    for (i, code) in ["NOT_ENOUGH", "NOTENOUGH"].into_iter().enumerate() {
        let no = r.paid(&format!("{}", 40 + i), 1000).await;
        r.sim
            .inject(FaultRule::once(Endpoint::Refund, refuse(403, code)));
        let rec = r
            .engine
            .refund(&no, Fen(300), "damaged", Some("demo"), None)
            .await
            .unwrap();
        assert_eq!(rec.status, RefundStatus::Failed, "{code}");
        let why = refund_reason(&rec).unwrap_or_default();
        assert!(why.contains(code), "{code}: {why}");
        assert!(why.contains("merchant account balance"), "{code}: {why}");
        assert!(why.contains("商户账户余额不足"), "{code}: {why}");
    }
}

/// The cashier cancels while the customer confirms; the customer pays meanwhile; the reverse
/// returns the money and the confirming query answers REVOKED: REVERSED, not PAID.
#[tokio::test(start_paused = true)]
async fn a_paid_order_reversed_after_a_cancel_is_reversed_with_the_money_returned() {
    let r = rig().await;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let s = r.sale("01", 500);
    let engine = r.engine.clone();
    let task = tokio::spawn(async move {
        let mut quiet = |_: &Progress| {};
        engine.pay(&s, &mut quiet, Some(rx)).await
    });
    // Paid at 8 s; the cancel comes at 9 s, before the till has seen it paid.
    tokio::time::sleep(Duration::from_secs(9)).await;
    tx.send(true).unwrap();
    let o = task.await.unwrap().unwrap();
    assert_eq!(o.state, OrderState::Reversed);
    // Whether the till saw the payment before its reverse decides the words (money returned
    // or cashier cancelled); either way the order is not PAID.
    assert!(
        matches!(
            o.reason_code.as_deref(),
            Some("MONEY_RETURNED" | "CASHIER_CANCELLED")
        ),
        "{:?}",
        o.reason_code
    );
    assert!(
        r.sim
            .ledger(|l| l.order(&o.out_trade_no).unwrap().reversed_after_payment),
        "the simulator reversed a paid order"
    );
    assert!(
        !r.charged(&o.out_trade_no),
        "the customer has the money back"
    );
    r.agrees(&o);
}

/// The refund page: `reason` at most 80 bytes. The simulator refuses 81; the till cuts a long
/// Chinese reason (60 characters, 180 bytes) to 26 characters and the refund goes through.
#[tokio::test(start_paused = true)]
async fn refund_reasons_are_cut_to_80_bytes() {
    let r = rig().await;
    let no = r.paid("11", 1000).await;
    let over = RefundRequest {
        transaction_id: None,
        out_trade_no: Some(no.clone()),
        out_refund_no: format!("{no}-X1"),
        reason: Some("a".repeat(81)),
        amount: RefundRequestAmount {
            refund: 100,
            total: 1000,
            currency: "CNY".into(),
        },
    };
    let err = r.client.refund(&over).await.unwrap_err();
    assert!(
        matches!(
            &err,
            ApiError::Service {
                status: 400,
                code: ErrorCode::ParamError,
                ..
            }
        ),
        "{err:?}"
    );
    let long = "顾客不想要了，".repeat(9);
    assert!(long.len() > 80);
    let rec = r
        .engine
        .refund(&no, Fen(300), &long, Some("demo"), None)
        .await
        .unwrap();
    assert_eq!(rec.status, RefundStatus::Success);
    let sent = r.sim.ledger(|l| {
        l.refunds()
            .find(|x| x.out_refund_no == rec.out_refund_no)
            .and_then(|x| x.reason.clone())
    });
    let sent = sent.expect("the reason was sent");
    assert!(sent.len() <= 80, "{} bytes", sent.len());
    assert!(!sent.contains(','), "{sent}");
}

/// Commas and backticks never reach a field the comma-separated bill carries back.
#[tokio::test(start_paused = true)]
async fn descriptions_reach_the_bill_without_commas_or_backticks() {
    let r = rig().await;
    let mut s = r.sale("11", PRICE_FEN);
    s.description = "`Cola, 2 cans`".into();
    let (o, _) = r.pay_sale(&s).await;
    assert_eq!(o.state, OrderState::Paid);
    let sent = r
        .sim
        .ledger(|l| l.order(&o.out_trade_no).map(|x| x.description.clone()))
        .unwrap();
    assert!(!sent.contains([',', '`']), "{sent}");
    assert!(sent.contains("Cola"), "{sent}");
}
