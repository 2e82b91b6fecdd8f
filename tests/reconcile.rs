//! Reconciliation: the pure comparison for every kind of disagreement, and end to end — the
//! simulator serves a real-format bill from its ledger, downloaded with its hash checked —
//! end to end for a direct merchant (`direct::…`) and a service provider's sub-merchant
//! (`partner::…`, whose bill the simulator limits to that sub-merchant's rows).

mod common;

use common::fixtures::code;
use common::rig::{Mode, both_modes, rig_in};
use scanpay::clock::beijing;
use scanpay::engine::OrderState;
use scanpay::money::Fen;
use scanpay::reconcile::{
    LocalOrder, LocalRefund, Mismatch, fetch_and_compare, reconcile, to_csv, to_table,
};
use scanpay::wechat::PayRequest;
use scanpay::wechat::bill::{BillRow, BillSummary, BillType, TradeBill};
use scanpay::wechat::model::*;

fn row(no: &str, state: &str, fen: i64) -> BillRow {
    BillRow {
        trade_time: "2025-11-25 10:00:00".into(),
        mchid: "1900000001".into(),
        out_trade_no: no.into(),
        transaction_id: format!("4200{no}"),
        trade_type: "MICROPAY".into(),
        trade_state: state.into(),
        order_amount: Fen(fen),
        settlement_total: Fen(fen),
        ..BillRow::default()
    }
}

fn refund_row(no: &str, refund_no: &str, fen: i64) -> BillRow {
    BillRow {
        out_refund_no: refund_no.into(),
        refund: Fen(fen),
        refund_requested: Fen(fen),
        order_amount: Fen(0),
        settlement_total: Fen(0),
        ..row(no, "REFUND", 0)
    }
}

fn local(no: &str, state: &str, fen: i64, was_paid: bool) -> LocalOrder {
    LocalOrder {
        out_trade_no: no.into(),
        transaction_id: None,
        amount: Fen(fen),
        state: state.into(),
        was_paid,
    }
}

fn bill(rows: Vec<BillRow>) -> TradeBill {
    TradeBill {
        bill_type: BillType::All,
        rows,
        summary: BillSummary::default(),
    }
}

#[test]
fn every_kind_of_disagreement() {
    let b = bill(vec![
        row("A1", "SUCCESS", 100),     // matches
        row("A2", "SUCCESS", 200),     // there, missing here
        row("A3", "SUCCESS", 300),     // amount differs (local 301)
        row("A4", "SUCCESS", 400),     // reversed here, charged there
        row("A5", "REVOKED", 500),     // paid then reversed: agrees with REVERSED + was_paid
        row("A6", "REVOKED", 600),     // paid here, revoked there
        refund_row("A1", "A1-R1", 50), // matches
        refund_row("A1", "A1-R2", 10), // refund there, missing here
        refund_row("A1", "A1-R3", 20), // refund amount differs (local 21)
        BillRow {
            trade_type: "JSAPI".into(),
            ..row("J1", "SUCCESS", 1)
        },
        BillRow {
            mchid: "1900000002".into(),
            ..row("M1", "SUCCESS", 1)
        },
    ]);
    let orders = vec![
        local("A1", "PARTIALLY_REFUNDED", 100, true),
        local("A3", "PAID", 301, true),
        local("A4", "REVERSED", 400, false),
        local("A5", "REVERSED", 500, true),
        local("A6", "PAID", 600, true),
        local("A7", "PAID", 700, true),    // paid here, missing there
        local("A8", "FAILED", 800, false), // never charged, rightly absent
    ];
    let refunds = vec![
        LocalRefund {
            out_refund_no: "A1-R1".into(),
            out_trade_no: "A1".into(),
            amount: Fen(50),
            status: "SUCCESS".into(),
        },
        LocalRefund {
            out_refund_no: "A1-R3".into(),
            out_trade_no: "A1".into(),
            amount: Fen(21),
            status: "SUCCESS".into(),
        },
        LocalRefund {
            out_refund_no: "A1-R4".into(),
            out_trade_no: "A1".into(),
            amount: Fen(5),
            status: "PROCESSING".into(),
        }, // here, missing there
        LocalRefund {
            out_refund_no: "A1-R5".into(),
            out_trade_no: "A1".into(),
            amount: Fen(5),
            status: "FAILED".into(),
        }, // never made
    ];
    let r = reconcile("2025-11-25", "1900000001", "POS01", &b, &orders, &refunds);
    assert_eq!(
        (r.matched_payments, r.matched_refunds, r.skipped_rows),
        (2, 1, 2)
    );
    let want = vec![
        Mismatch::ThereMissingHere {
            out_trade_no: "A2".into(),
            transaction_id: "4200A2".into(),
            amount: Fen(200),
        },
        Mismatch::StateDiffers {
            out_trade_no: "A4".into(),
            ours: "REVERSED".into(),
            theirs: "SUCCESS".into(),
        },
        Mismatch::StateDiffers {
            out_trade_no: "A6".into(),
            ours: "PAID".into(),
            theirs: "REVOKED".into(),
        },
        Mismatch::AmountDiffers {
            out_trade_no: "A3".into(),
            ours: Fen(301),
            theirs: Fen(300),
        },
        Mismatch::PaidHereMissingThere {
            out_trade_no: "A7".into(),
            amount: Fen(700),
        },
        Mismatch::RefundThereMissingHere {
            out_refund_no: "A1-R2".into(),
            out_trade_no: "A1".into(),
            amount: Fen(10),
        },
        Mismatch::RefundAmountDiffers {
            out_refund_no: "A1-R3".into(),
            ours: Fen(21),
            theirs: Fen(20),
        },
        Mismatch::RefundHereMissingThere {
            out_refund_no: "A1-R4".into(),
            amount: Fen(5),
        },
    ];
    assert_eq!(r.mismatches, want);
    assert!(!r.is_clean());
    let table = to_table(&r, true);
    assert!(
        table.contains("已收款但本机无记录") && table.contains("不一致 8 处"),
        "{table}"
    );
    let csv = to_csv(&r);
    assert_eq!(csv.lines().count(), 9);
    assert!(csv.contains("amount_differs,A3,,,3.01,3.00"), "{csv}");
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["mismatches"][0]["kind"], "there_missing_here");
}

/// Two tills share one merchant number: each compares its own rows (its `{terminal}-`
/// prefix) and counts the other's as "other terminals", never as mismatches. A paid order the
/// till reversed is accepted in both bill layouts: one REVOKED row, or the SUCCESS row plus
/// the refund WeChat made for the reverse (numbered by WeChat, not one of the till's refunds).
#[test]
fn other_terminals_are_counted_not_mismatched_and_reversed_paid_orders_match_both_layouts() {
    let (mine, mine_rev_a, mine_rev_b) = (
        "T01-20251125-AB-000101",
        "T01-20251125-AB-000102",
        "T01-20251125-AB-000103",
    );
    let (theirs, theirs2) = ("T02-20251125-CD-000201", "T02-20251125-CD-000202");
    let b = bill(vec![
        row(mine, "SUCCESS", 100),
        row(mine_rev_a, "REVOKED", 200),
        row(mine_rev_b, "SUCCESS", 300),
        refund_row(mine_rev_b, "REF4200000263201902167700963919", 300),
        row(theirs, "SUCCESS", 400),
        row(theirs2, "SUCCESS", 500),
        refund_row(theirs, "T02-20251125-CD-000201-R1", 50),
    ]);
    let orders = vec![
        local(mine, "PAID", 100, true),
        local(mine_rev_a, "REVERSED", 200, true),
        local(mine_rev_b, "REVERSED", 300, true),
    ];
    let r = reconcile("2025-11-25", "1900000001", "T01", &b, &orders, &[]);
    assert!(r.is_clean(), "{:?}", r.mismatches);
    assert_eq!((r.matched_payments, r.matched_refunds), (3, 1));
    let other = &r.other_terminals["T02"];
    assert_eq!(
        (
            other.payments,
            other.payment_total,
            other.refunds,
            other.refund_total
        ),
        (2, Fen(900), 1, Fen(50))
    );
    assert_eq!(r.other_terminals.len(), 1);
    let table = to_table(&r, false);
    assert!(
        table.contains("other terminal T02: 2 payments") && table.contains("0 mismatch"),
        "{table}"
    );
    assert!(to_table(&r, true).contains("其他终端 T02"));
    assert!(
        to_csv(&r).ends_with("other_terminal,T02,,,,9.00\r\n"),
        "{}",
        to_csv(&r)
    );
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["other_terminals"]["T02"]["payments"], 2);
    assert_eq!(json["terminal_id"], "T01");

    // The other till sees the mirror image: T01's rows are other-terminal rows there, and a
    // reversed paid order's refund of T01 is T01's business, not a mismatch of T02.
    let r2 = reconcile(
        "2025-11-25",
        "1900000001",
        "T02",
        &b,
        &[
            local(theirs, "PARTIALLY_REFUNDED", 400, true),
            local(theirs2, "PAID", 500, true),
        ],
        &[LocalRefund {
            out_refund_no: "T02-20251125-CD-000201-R1".into(),
            out_trade_no: theirs.into(),
            amount: Fen(50),
            status: "SUCCESS".into(),
        }],
    );
    assert!(r2.is_clean(), "{:?}", r2.mismatches);
    assert_eq!(r2.other_terminals["T01"].payments, 3);

    // Layout B without the refund row (or with a partial one) is not "returned": mismatch.
    let b = bill(vec![
        row(mine_rev_b, "SUCCESS", 300),
        refund_row(mine_rev_b, "REF1", 100),
    ]);
    let r = reconcile(
        "2025-11-25",
        "1900000001",
        "T01",
        &b,
        &[local(mine_rev_b, "REVERSED", 300, true)],
        &[],
    );
    assert_eq!(
        r.mismatches,
        vec![Mismatch::StateDiffers {
            out_trade_no: mine_rev_b.into(),
            ours: "REVERSED".into(),
            theirs: "SUCCESS".into(),
        }]
    );
    // Terminal ids are read whole: T1's rows are not T10's.
    use scanpay::reconcile::scanpay_terminal;
    assert_eq!(scanpay_terminal("T10-20251125-AB-000001"), Some("T10"));
    assert_eq!(scanpay_terminal("T1-20251125-AB-1234567"), Some("T1"));
    assert_eq!(scanpay_terminal("ELSEWHERE0001"), None);
    assert_eq!(scanpay_terminal("T1-2025112-AB-000001"), None);
    let b = bill(vec![row("T10-20251125-AB-000001", "SUCCESS", 1)]);
    let r = reconcile("2025-11-25", "1900000001", "T1", &b, &[], &[]);
    assert!(r.is_clean() && r.other_terminals["T10"].payments == 1);
    // A number no scanpay till makes is still this till's business (every till reports it).
    let b = bill(vec![row("ELSEWHERE0001", "SUCCESS", 999)]);
    let r = reconcile("2025-11-25", "1900000001", "T01", &b, &[], &[]);
    assert!(matches!(
        r.mismatches[..],
        [Mismatch::ThereMissingHere { .. }]
    ));
    assert!(r.other_terminals.is_empty());
}

#[test]
fn a_clean_day_is_clean() {
    let b = bill(vec![row("A1", "SUCCESS", 100)]);
    let r = reconcile(
        "d",
        "1900000001",
        "POS01",
        &b,
        &[local("A1", "PAID", 100, true)],
        &[],
    );
    assert!(r.is_clean());
    assert!(to_table(&r, false).contains("0 mismatch"));
}

both_modes!(
    async #[tokio::test(start_paused = true)]
    end_to_end_against_the_simulators_bill;
    sync two_tills_on_one_merchant_each_reconcile_clean
);

async fn end_to_end_against_the_simulators_bill(mode: Mode) {
    let r = rig_in(mode).await;
    let (cfg, client, store, sim, engine) = (&r.cfg, &r.client, &r.store, &r.sim, &r.engine);
    let pay = async |suffix: &str, fen: i64| r.pay(suffix, fen).await;
    let a = pay("11", 1000).await;
    let b = pay("12", 2000).await;
    let c = pay("13", 3000).await;
    engine
        .refund(&a.out_trade_no, Fen(100), "r", Some("demo"), None)
        .await
        .unwrap();
    let date = beijing::date(r.clock.now_ms());
    assert!(
        fetch_and_compare(
            client,
            store,
            &cfg.merchant.mchid,
            &cfg.merchant.terminal_id,
            &date,
        )
        .await
        .unwrap()
        .is_clean()
    );

    // The bill the till downloaded is its merchant's: a sub-merchant's rows carry its
    // number as 特约商户号, a direct merchant's `0`.
    let bill =
        scanpay::wechat::bill::parse(&client.bill(&date, BillType::All).await.unwrap()).unwrap();
    let want = r.owner().unwrap_or("0");
    assert!(!bill.rows.is_empty());
    assert!(
        bill.rows.iter().all(|row| row.sub_mchid == want),
        "{bill:?}"
    );

    // Disagreements: a charge made around the till, a local amount edited, a local reverse
    // that WeChat never saw.
    let req = CodepayRequest {
        appid: cfg.merchant.appid.clone(),
        mchid: cfg.merchant.mchid.clone(),
        description: "elsewhere".into(),
        out_trade_no: "ELSEWHERE0001".into(),
        attach: None,
        payer: CodepayPayer {
            auth_code: code("14"),
        },
        amount: RequestAmount {
            total: 999,
            currency: Some("CNY".into()),
        },
        scene_info: SceneInfo {
            store_info: StoreInfo {
                out_id: Some("S".into()),
                id: None,
            },
            // APIv2 requires the terminal's IP (`spbill_create_ip`).
            device_ip: Some("10.0.0.8".into()),
            device_id: None,
        },
    };
    client
        .pay(&PayRequest::new(&client.settings().party, req))
        .await
        .unwrap();
    let (bno, cno) = (b.out_trade_no.clone(), c.out_trade_no.clone());
    store
        .call(move |conn| {
            conn.execute(
                "UPDATE orders SET amount_fen = 2001 WHERE out_trade_no = ?1",
                [&bno],
            )?;
            conn.execute(
                "UPDATE orders SET state = 'REVERSED' WHERE out_trade_no = ?1",
                [&cno],
            )?;
            Ok(())
        })
        .await
        .unwrap();
    let r = fetch_and_compare(
        client,
        store,
        &cfg.merchant.mchid,
        &cfg.merchant.terminal_id,
        &date,
    )
    .await
    .unwrap();
    let kinds: Vec<&str> = r
        .mismatches
        .iter()
        .map(|m| match m {
            Mismatch::ThereMissingHere { .. } => "there_missing_here",
            Mismatch::AmountDiffers { .. } => "amount_differs",
            Mismatch::StateDiffers { .. } => "state_differs",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        ["there_missing_here", "state_differs", "amount_differs"],
        "{r:?}"
    );
    assert_eq!(r.matched_refunds, 1);
    assert!(sim.ledger(|l| l.order("ELSEWHERE0001").unwrap().is_charged()));
    let _ = OrderState::Paid;
}

/// Two tills (the real binary) share one merchant number on one standalone simulator: each
/// reconciles the day clean, exit 0, with the other till's sale counted under "other
/// terminals".
fn two_tills_on_one_merchant_each_reconcile_clean(mode: Mode) {
    use common::{scanpay, start_sim_in};
    let tmp = tempfile::tempdir().unwrap();
    let sim = start_sim_in(&tmp.path().join("keys"), mode);
    let tills = [
        (sim.till(&tmp.path().join("a"), "TA"), "TA", "TB", "12.34"),
        (sim.till(&tmp.path().join("b"), "TB"), "TB", "TA", "5.00"),
    ];
    for (till, _, _, amount) in &tills {
        let out = scanpay(
            till,
            &["pay", "--amount", amount, "--code", "134567890123456711"],
            &[],
        );
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    }
    let date = beijing::date(
        i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis(),
        )
        .unwrap(),
    );
    for (till, me, other, _) in &tills {
        let out = scanpay(till, &["reconcile", "--date", &date, "--json"], &[]);
        assert_eq!(out.status.code(), Some(0), "{me}: {out:?}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["terminal_id"], *me, "{v}");
        assert_eq!(v["matched_payments"], 1, "{me}: {v}");
        assert_eq!(v["mismatches"].as_array().map(Vec::len), Some(0), "{v}");
        assert_eq!(v["other_terminals"][other]["payments"], 1, "{me}: {v}");
        let out = scanpay(till, &["reconcile", "--date", &date], &[]);
        assert_eq!(out.status.code(), Some(0), "{me}: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&format!("other terminal {other}: 1 payments")),
            "{text}"
        );
    }
}
