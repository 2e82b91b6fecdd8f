//! The APIv3 client against the in-process simulator over real HTTP on loopback: every
//! endpoint, every scenario, every fault. Time is tokio's paused clock, so an 8-second customer
//! or a 10-second timeout costs no wall time.

use std::sync::Arc;
use std::time::Duration;

use scanpay::clock::{SharedClock, TokioClock};
use scanpay::config::{Config, Source};
use scanpay::sim::fault::{Endpoint, Fault, FaultRule};
use scanpay::sim::{SimHandle, connect_in_process};
use scanpay::wechat::bill::{self, BillType};
use scanpay::wechat::client::TransportKind;
use scanpay::wechat::model::*;
use scanpay::wechat::sign::VerifyError;
use scanpay::wechat::{ApiError, Client, PayAnswer};

async fn setup() -> (Client, SimHandle, Config) {
    let cfg = Config::load_from(Source::EmbeddedDemo).unwrap();
    let clock: SharedClock = Arc::new(TokioClock::new());
    let (client, sim) = connect_in_process(&cfg, clock).await.unwrap();
    (client, sim, cfg)
}

fn order(cfg: &Config, no: &str, code: &str, total: i64) -> CodepayRequest {
    CodepayRequest {
        appid: cfg.merchant.appid.clone(),
        mchid: cfg.merchant.mchid.clone(),
        description: "示例便利店-测试".into(),
        out_trade_no: no.into(),
        attach: None,
        payer: CodepayPayer {
            auth_code: code.into(),
        },
        amount: RequestAmount {
            total,
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

fn code(suffix: &str) -> String {
    format!("1345678901234567{suffix}")
}

async fn state(client: &Client, no: &str) -> TradeState {
    client.query_by_out_trade_no(no).await.unwrap().trade_state
}

#[tokio::test(start_paused = true)]
async fn pays_at_once_and_queries_both_ways() {
    let (client, sim, cfg) = setup().await;
    let PayAnswer::Paid(t) = client
        .codepay(&order(&cfg, "POS01T0001", &code("11"), 1234))
        .await
        .unwrap()
    else {
        panic!("not paid")
    };
    assert_eq!(t.trade_state, TradeState::Success);
    assert_eq!(t.amount.as_ref().unwrap().total, Some(1234));
    let tid = t.transaction_id.clone().unwrap();
    assert_eq!(tid.len(), 28);
    let by_no = client.query_by_out_trade_no("POS01T0001").await.unwrap();
    let by_id = client.query_by_transaction_id(&tid).await.unwrap();
    assert_eq!(by_no, by_id);
    assert_eq!(by_no.out_trade_no.as_deref(), Some("POS01T0001"));
    assert!(sim.ledger(|l| l.order("POS01T0001").unwrap().is_charged()));
    // The simulator keeps only the masked code.
    assert_eq!(
        sim.ledger(|l| l.order("POS01T0001").unwrap().auth_code.clone()),
        "1345 **** **** 6711"
    );
}

#[tokio::test(start_paused = true)]
async fn scenario_01_user_confirms_after_8s() {
    let (client, _sim, cfg) = setup().await;
    assert_eq!(
        client
            .codepay(&order(&cfg, "POS01T0101", &code("01"), 100))
            .await
            .unwrap(),
        PayAnswer::UserPaying
    );
    assert_eq!(state(&client, "POS01T0101").await, TradeState::UserPaying);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(state(&client, "POS01T0101").await, TradeState::UserPaying);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let t = client.query_by_out_trade_no("POS01T0101").await.unwrap();
    assert_eq!(t.trade_state, TradeState::Success);
    assert!(t.success_time.unwrap().ends_with("+08:00"));
}

#[tokio::test(start_paused = true)]
async fn scenario_02_user_cancels_then_reverse_closes() {
    let (client, sim, cfg) = setup().await;
    assert_eq!(
        client
            .codepay(&order(&cfg, "POS01T0201", &code("02"), 100))
            .await
            .unwrap(),
        PayAnswer::UserPaying
    );
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(state(&client, "POS01T0201").await, TradeState::PayError);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let r = client.reverse("POS01T0201").await.unwrap();
    assert_eq!(r.out_trade_no.as_deref(), Some("POS01T0201"));
    assert_eq!(state(&client, "POS01T0201").await, TradeState::Revoked);
    assert!(!sim.ledger(|l| l.order("POS01T0201").unwrap().is_charged()));
}

#[tokio::test(start_paused = true)]
async fn scenario_03_never_pays_until_reversed() {
    let (client, sim, cfg) = setup().await;
    assert_eq!(
        client
            .codepay(&order(&cfg, "POS01T0301", &code("03"), 100))
            .await
            .unwrap(),
        PayAnswer::UserPaying
    );
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(state(&client, "POS01T0301").await, TradeState::UserPaying);
    client.reverse("POS01T0301").await.unwrap();
    assert_eq!(state(&client, "POS01T0301").await, TradeState::Revoked);
    // Reverse is idempotent.
    client.reverse("POS01T0301").await.unwrap();
    assert_eq!(
        sim.ledger(|l| l.order("POS01T0301").unwrap().reverse_calls.len()),
        2
    );
}

#[tokio::test(start_paused = true)]
async fn scenario_04_not_enough_is_a_verified_definite_failure() {
    let (client, _sim, cfg) = setup().await;
    let err = client
        .codepay(&order(&cfg, "POS01T0401", &code("04"), 100))
        .await
        .unwrap_err();
    let ApiError::Service {
        status,
        code,
        verified,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        (*status, code, *verified),
        (403, &ErrorCode::NotEnough, true)
    );
    assert_eq!(err.advice(Call::Pay), Advice::Failed);
    assert_eq!(state(&client, "POS01T0401").await, TradeState::PayError);
}

#[tokio::test(start_paused = true)]
async fn scenario_05_code_expired_creates_no_order() {
    let (client, _sim, cfg) = setup().await;
    let err = client
        .codepay(&order(&cfg, "POS01T0501", &code("05"), 100))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::AuthCodeExpire));
    assert_eq!(err.advice(Call::Pay), Advice::Failed);
    let err = client
        .query_by_out_trade_no("POS01T0501")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::OrderNotExist));
}

#[tokio::test(start_paused = true)]
async fn scenario_06_system_error_but_paid() {
    let (client, _sim, cfg) = setup().await;
    let err = client
        .codepay(&order(&cfg, "POS01T0601", &code("06"), 100))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::SystemError));
    assert_eq!(err.advice(Call::Pay), Advice::Query);
    assert_eq!(state(&client, "POS01T0601").await, TradeState::Success);
}

#[tokio::test(start_paused = true)]
async fn scenario_07_hangs_but_paid() {
    let (client, _sim, cfg) = setup().await;
    let started = tokio::time::Instant::now();
    let err = client
        .codepay(&order(&cfg, "POS01T0701", &code("07"), 100))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::Transport {
                kind: TransportKind::Timeout,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        started.elapsed(),
        Duration::from_millis(cfg.wechatpay.request_timeout_ms)
    );
    assert_eq!(err.advice(Call::Pay), Advice::Query);
    assert_eq!(state(&client, "POS01T0701").await, TradeState::Success);
}

#[tokio::test(start_paused = true)]
async fn scenario_08_hangs_and_no_order() {
    let (client, _sim, cfg) = setup().await;
    let err = client
        .codepay(&order(&cfg, "POS01T0801", &code("08"), 100))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::Transport {
                kind: TransportKind::Timeout,
                ..
            }
        ),
        "{err:?}"
    );
    let err = client
        .query_by_out_trade_no("POS01T0801")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::OrderNotExist));
    let err = client.reverse("POS01T0801").await.unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::OrderNotExist));
    assert_eq!(err.advice(Call::Reverse), Advice::Failed);
}

#[tokio::test(start_paused = true)]
async fn scenario_09_reverse_fails_twice() {
    let (client, _sim, cfg) = setup().await;
    assert_eq!(
        client
            .codepay(&order(&cfg, "POS01T0901", &code("09"), 100))
            .await
            .unwrap(),
        PayAnswer::UserPaying
    );
    tokio::time::sleep(Duration::from_secs(45)).await;
    for _ in 0..2 {
        let err = client.reverse("POS01T0901").await.unwrap_err();
        assert_eq!(err.code(), Some(&ErrorCode::SystemError));
        assert_eq!(err.advice(Call::Reverse), Advice::Retry);
    }
    client.reverse("POS01T0901").await.unwrap();
    assert_eq!(state(&client, "POS01T0901").await, TradeState::Revoked);
}

#[tokio::test(start_paused = true)]
async fn scenario_10_forged_answer_is_not_believed() {
    let (client, _sim, cfg) = setup().await;
    let err = client
        .codepay(&order(&cfg, "POS01T1001", &code("10"), 100))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApiError::Unverified(VerifyError::BadSignature)),
        "{err:?}"
    );
    assert_eq!(err.advice(Call::Pay), Advice::Query);
    // The truth comes from a verified query.
    assert_eq!(state(&client, "POS01T1001").await, TradeState::Success);
}

#[tokio::test(start_paused = true)]
async fn every_fault_on_a_query() {
    let (client, sim, cfg) = setup().await;
    client
        .codepay(&order(&cfg, "POS01T2001", &code("11"), 100))
        .await
        .unwrap();
    type Check = fn(&ApiError) -> bool;
    let cases: Vec<(Fault, Check)> = vec![
        (Fault::Latency { ms: 15_000 }, |e| {
            matches!(
                e,
                ApiError::Transport {
                    kind: TransportKind::Timeout,
                    ..
                }
            )
        }),
        (Fault::Drop, |e| matches!(e, ApiError::Transport { .. })),
        (Fault::ServerError, |e| {
            e.code() == Some(&ErrorCode::SystemError)
        }),
        (Fault::GarbledJson, |e| {
            matches!(e, ApiError::Malformed { status: 200, .. })
        }),
        (Fault::WrongSignature, |e| {
            matches!(e, ApiError::Unverified(VerifyError::BadSignature))
        }),
        (Fault::SignTestProbe, |e| {
            matches!(e, ApiError::Unverified(VerifyError::Probe))
        }),
        (Fault::ClockSkew { secs: 400 }, |e| {
            matches!(e, ApiError::Unverified(VerifyError::Skewed { .. }))
        }),
        (Fault::ClockSkew { secs: -301 }, |e| {
            matches!(e, ApiError::Unverified(VerifyError::Skewed { .. }))
        }),
    ];
    for (fault, check) in cases {
        sim.inject(FaultRule::once(Endpoint::Query, fault.clone()));
        let err = client
            .query_by_out_trade_no("POS01T2001")
            .await
            .unwrap_err();
        assert!(check(&err), "{fault:?} gave {err:?}");
        assert_eq!(err.advice(Call::Query), Advice::Retry, "{fault:?}");
        // The fault was used up; the next query is fine.
        assert_eq!(
            state(&client, "POS01T2001").await,
            TradeState::Success,
            "after {fault:?}"
        );
    }
    // A small skew within the limit is accepted.
    sim.inject(FaultRule::once(
        Endpoint::Query,
        Fault::ClockSkew { secs: 200 },
    ));
    assert_eq!(state(&client, "POS01T2001").await, TradeState::Success);
}

#[tokio::test(start_paused = true)]
async fn answer_lost_after_the_charge_is_unknown_not_failed() {
    let (client, sim, cfg) = setup().await;
    for (i, fault) in [
        Fault::Drop,
        Fault::GarbledJson,
        Fault::WrongSignature,
        Fault::SignTestProbe,
        Fault::Latency { ms: 30_000 },
    ]
    .into_iter()
    .enumerate()
    {
        let no = format!("POS01T30{i:02}");
        sim.inject(FaultRule::once(Endpoint::Pay, fault.clone()));
        let err = client
            .codepay(&order(&cfg, &no, &code("11"), 100))
            .await
            .unwrap_err();
        assert_eq!(err.advice(Call::Pay), Advice::Query, "{fault:?}: {err:?}");
        assert!(
            sim.ledger(|l| l.order(&no).unwrap().is_charged()),
            "{fault:?}"
        );
        assert_eq!(state(&client, &no).await, TradeState::Success);
    }
    // A 500 before processing: nothing was created.
    sim.inject(FaultRule::once(Endpoint::Pay, Fault::ServerError));
    let err = client
        .codepay(&order(&cfg, "POS01T3099", &code("11"), 100))
        .await
        .unwrap_err();
    assert_eq!(err.advice(Call::Pay), Advice::Query);
    assert!(sim.ledger(|l| l.order("POS01T3099").is_none()));
}

#[tokio::test(start_paused = true)]
async fn refunds_full_partial_and_refused() {
    let (client, sim, cfg) = setup().await;
    client
        .codepay(&order(&cfg, "POS01T4001", &code("11"), 1000))
        .await
        .unwrap();
    let req = |no: &str, amount| RefundRequest {
        transaction_id: None,
        out_trade_no: Some("POS01T4001".into()),
        out_refund_no: no.into(),
        reason: Some("顾客退货".into()),
        amount: RefundRequestAmount {
            refund: amount,
            total: 1000,
            currency: "CNY".into(),
        },
    };
    let r = client.refund(&req("POS01T4001R1", 300)).await.unwrap();
    assert_eq!(r.status, RefundStatus::Processing);
    assert_eq!(r.amount.as_ref().unwrap().refund, 300);
    let err = client.refund(&req("POS01T4001R2", 701)).await.unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::InvalidRequest));
    assert_eq!(err.advice(Call::Refund), Advice::Failed);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let q = client.query_refund("POS01T4001R1").await.unwrap();
    assert_eq!(q.status, RefundStatus::Success);
    assert!(q.success_time.is_some());
    assert_eq!(state(&client, "POS01T4001").await, TradeState::Refund);
    client.refund(&req("POS01T4001R3", 700)).await.unwrap();
    assert_eq!(
        sim.ledger(|l| l.refunds().map(|r| r.amount).sum::<i64>()),
        1000
    );
    let err = client.query_refund("NOPE").await.unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::ResourceNotExists));
}

#[tokio::test(start_paused = true)]
async fn trade_bill_download_and_hash_check() {
    let (client, _sim, cfg) = setup().await;
    for (i, c) in ["11", "12", "13"].iter().enumerate() {
        client
            .codepay(&order(
                &cfg,
                &format!("POS01T500{i}"),
                &code(c),
                100 + i as i64,
            ))
            .await
            .unwrap();
    }
    let today =
        scanpay::clock::beijing::date(scanpay::clock::Clock::now_ms(&scanpay::clock::SystemClock));
    let answer = client.trade_bill(&today, BillType::All).await.unwrap();
    assert_eq!(answer.hash_type, "SHA1");
    let bytes = client.download_bill(&answer).await.unwrap();
    let parsed = bill::parse(&bytes).unwrap();
    bill::check_summary(&parsed).unwrap();
    assert_eq!(parsed.rows.len(), 3);
    assert!(
        parsed
            .rows
            .iter()
            .all(|r| r.trade_type == "MICROPAY" && r.mchid == cfg.merchant.mchid)
    );
    // A bill whose bytes do not match the announced hash is refused.
    let mut wrong = answer.clone();
    wrong.hash_value = "0".repeat(40);
    assert!(matches!(
        client.download_bill(&wrong).await,
        Err(ApiError::BillHash { .. })
    ));
    // A download URL on another host never gets a signed request.
    let mut elsewhere = answer.clone();
    elsewhere.download_url = elsewhere.download_url.replace("127.0.0.1", "127.0.0.2");
    assert!(matches!(
        client.download_bill(&elsewhere).await,
        Err(ApiError::Malformed { .. })
    ));
    let err = client
        .trade_bill("2001-01-01", BillType::All)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::NoStatementExist));
    assert!(matches!(
        client.trade_bill("yesterday", BillType::All).await,
        Err(ApiError::Request(_))
    ));
}
