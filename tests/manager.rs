//! The manager's tools against the in-process simulator and a real SQLite file: full and
//! partial refunds within the paid amount, ABNORMAL refunds, refunds recovered after a crash,
//! X/Z arithmetic (property test), refused and forced closes, backup while writing. The
//! scenarios on the simulator run for a direct merchant (`direct::…`) and a service
//! provider's sub-merchant (`partner::…`).

mod common;

use std::time::Duration;

use common::fixtures::{ABNORMAL_REFUND, customer};
use common::rig::{Mode, both_modes, rig_in};
use proptest::prelude::*;
use scanpay::engine::micropay::{Machine, Timing};
use scanpay::engine::recovery::recover_refunds;
use scanpay::engine::refund::{RefundMachine, RefundStatus};
use scanpay::engine::{OrderState, Progress};
use scanpay::money::Fen;
use scanpay::order::EventKind;
use scanpay::sim::fault::{Endpoint, Fault, FaultRule};
use scanpay::store::{open_connection, orders, refunds, shifts};

both_modes!(
    async #[tokio::test(start_paused = true)]
    partial_then_full_refund_never_more_than_paid,
    unpaid_orders_cannot_be_refunded,
    abnormal_refund_needs_attention,
    a_lost_refund_answer_is_queried_not_guessed,
    refunds_in_flight_are_recovered_like_orders,
    close_is_refused_while_orders_are_open_and_a_forced_close_lists_them,
    order_state_and_snapshot_never_disagree_after_refunds,
);

async fn partial_then_full_refund_never_more_than_paid(mode: Mode) {
    let r = rig_in(mode).await;
    let no = r.paid("11", 1000).await;
    let a = r
        .engine
        .refund(&no, Fen(300), "退一件", Some("demo"), None)
        .await
        .unwrap();
    assert_eq!(a.status, RefundStatus::Success);
    assert_eq!(a.out_refund_no, format!("{no}-R1"));
    assert!(a.refund_id.is_some());
    assert_eq!(r.order_state(&no).await, OrderState::PartiallyRefunded);
    let err = r
        .engine
        .refund(&no, Fen(701), "too much", Some("demo"), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("at most ¥7.00 left"), "{err}");
    let b = r
        .engine
        .refund(&no, Fen(700), "其余", Some("demo"), None)
        .await
        .unwrap();
    assert_eq!(b.status, RefundStatus::Success);
    assert_eq!(r.order_state(&no).await, OrderState::Refunded);
    let err = r
        .engine
        .refund(&no, Fen(1), "again", Some("demo"), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("at most ¥0.00 left"), "{err}");
    // The simulator saw exactly two refunds, summing to the paid amount.
    assert_eq!(
        r.sim.ledger(|l| l.refunds().map(|x| x.amount).sum::<i64>()),
        1000
    );
    let s = r
        .engine
        .store()
        .call(move |c| shifts::summary(c, 1))
        .await
        .unwrap();
    assert_eq!((s.refund_count, s.refund_fen, s.net_fen), (2, 1000, 0));
    // The refunds are in the order's timeline.
    let kinds: Vec<String> = {
        let no = no.clone();
        r.engine
            .store()
            .call(move |c| {
                let o = orders::by_out_trade_no(c, &no)?.unwrap();
                Ok(orders::events(c, o.id)?
                    .into_iter()
                    .map(|e| e.kind.as_str().to_string())
                    .collect())
            })
            .await
            .unwrap()
    };
    assert!(
        kinds.iter().filter(|k| *k == "refund_created").count() == 2,
        "{kinds:?}"
    );
}

async fn unpaid_orders_cannot_be_refunded(mode: Mode) {
    let r = rig_in(mode).await;
    let sale = r.sale(customer::NOT_ENOUGH, 500);
    let mut quiet = |_: &Progress| {};
    let o = r.engine.pay(&sale, &mut quiet, None).await.unwrap();
    let err = r
        .engine
        .refund(&o.out_trade_no, Fen(100), "x", Some("demo"), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("only paid orders"), "{err}");
    assert_eq!(
        r.sim.stats().requests.get("refund"),
        None,
        "nothing was sent"
    );
}

async fn abnormal_refund_needs_attention(mode: Mode) {
    let r = rig_in(mode).await;
    let no = r.paid("12", 1000).await;
    let a = r
        .engine
        .refund(
            &no,
            ABNORMAL_REFUND,
            "abnormal in the simulator",
            Some("demo"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(a.status, RefundStatus::Abnormal);
    assert!(
        scanpay::engine::refund::RefundMachine::reason_in(&a.snapshot)
            .unwrap()
            .contains("merchant platform")
    );
    // ABNORMAL still counts against what may be refunded (a person decides).
    let err = r
        .engine
        .refund(&no, Fen(900), "x", Some("demo"), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("at most ¥8.01 left"), "{err}");
}

async fn a_lost_refund_answer_is_queried_not_guessed(mode: Mode) {
    let r = rig_in(mode).await;
    let no = r.paid("13", 1000).await;
    r.sim.inject(FaultRule::once(Endpoint::Refund, Fault::Drop));
    let a = r
        .engine
        .refund(&no, Fen(500), "lost answer", Some("demo"), None)
        .await
        .unwrap();
    assert_eq!(a.status, RefundStatus::Success);
    assert_eq!(
        r.sim.ledger(|l| l.refunds().count()),
        1,
        "one refund, not two"
    );
}

async fn refunds_in_flight_are_recovered_like_orders(mode: Mode) {
    let r = rig_in(mode).await;
    let no = r.paid("14", 1000).await;
    // A crash right after the refund was written: nothing was sent.
    let created = {
        let no = no.clone();
        r.engine
            .store()
            .call(move |c| {
                let snapshot = RefundMachine::new().to_snapshot();
                refunds::create(
                    c,
                    &no,
                    Fen(250),
                    "crash",
                    Some("demo"),
                    1,
                    &snapshot,
                    0,
                    |_, _| Ok(()),
                )
            })
            .await
            .unwrap()
            .unwrap()
    };
    assert_eq!(created.status, RefundStatus::Created);
    let done = recover_refunds(&r.engine, Some(Duration::from_secs(120)))
        .await
        .unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].status, RefundStatus::Success);
    assert_eq!(
        r.sim.ledger(|l| l.refunds().map(|x| x.amount).sum::<i64>()),
        250
    );
    assert_eq!(r.order_state(&no).await, OrderState::PartiallyRefunded);
}

async fn close_is_refused_while_orders_are_open_and_a_forced_close_lists_them(mode: Mode) {
    let r = rig_in(mode).await;
    r.paid("15", 1234).await;
    // An order left PENDING (as after a crash).
    let pending = r
        .engine
        .store()
        .call(|c| {
            let new = orders::NewOrder {
                shift_id: 1,
                terminal_id: "POS01".into(),
                cashier: "li".into(),
                amount: Fen(500),
                description: String::new(),
                code_masked: "1345 **** **** 6716".into(),
                code_fingerprint: "x".into(),
                protocol: scanpay::config::Api::V3,
                party: scanpay::order::PartyKind::Direct,
                sub_mchid: None,
            };
            let m = Machine::new(500, Timing::from_secs(5, 45));
            orders::create(c, &new, m.state(), &m.to_snapshot(), 0)
        })
        .await
        .unwrap();
    let err = r
        .engine
        .store()
        .call(|c| shifts::close(c, "POS01", "li", 1, None))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&pending.out_trade_no) && err.contains("PENDING"),
        "{err}"
    );
    let (shift, z) = r
        .engine
        .store()
        .call(|c| shifts::close(c, "POS01", "li", 2, Some("demo")))
        .await
        .unwrap();
    assert_eq!(shift.z_number, Some(1));
    assert_eq!(z.forced_by.as_deref(), Some("demo"));
    assert_eq!(
        z.open_orders,
        vec![(pending.out_trade_no.clone(), "PENDING".to_string())]
    );
    assert_eq!((z.paid_count, z.paid_fen), (1, 1234));
    // Immutable.
    let conn = open_connection(&r.dir.path().join("scanpay.db")).unwrap();
    assert!(
        conn.execute("UPDATE z_reports SET report = '{}'", [])
            .is_err()
    );
}

#[test]
fn backup_while_writing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("scanpay.db");
    drop(open_connection(&db).unwrap());
    let writer_db = db.clone();
    let writer = std::thread::spawn(move || {
        let conn = open_connection(&writer_db).unwrap();
        for i in 0..400 {
            conn.execute(
                "INSERT INTO audit_log(at, actor, action, detail) VALUES (?1, 'w', 'x', 'y')",
                [i],
            )
            .unwrap();
        }
    });
    let mut copies = 0;
    while !writer.is_finished() || copies == 0 {
        let dest = dir.path().join(format!("copy{copies}.db"));
        scanpay::store::backup::to_file(&db, &dest).unwrap();
        let c = rusqlite::Connection::open(&dest).unwrap();
        let ok: String = c
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
        copies += 1;
    }
    writer.join().unwrap();
    let last = dir.path().join("final.db");
    scanpay::store::backup::to_file(&db, &last).unwrap();
    let n: i64 = rusqlite::Connection::open(&last)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM audit_log", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 400);
    // The Z backups keep the newest N.
    for z in 1..=5 {
        scanpay::store::backup::at_z_close(dir.path(), z, 3).unwrap();
    }
    let mut kept: Vec<String> = std::fs::read_dir(dir.path().join("backups"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    kept.sort();
    assert_eq!(
        kept,
        [
            "scanpay-z00003.db",
            "scanpay-z00004.db",
            "scanpay-z00005.db"
        ]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn z_totals_equal_the_sum_of_per_order_outcomes(
        orders_spec in prop::collection::vec((1i64..100_000, 0u8..6, 0usize..3, 0i64..86_400_000, 0u8..3), 1..40)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open_connection(&dir.path().join("scanpay.db")).unwrap();
        let shift = shifts::open(&mut conn, "POS01", "li", 0).unwrap();
        let states = [OrderState::Paid, OrderState::Failed, OrderState::Reversed, OrderState::Unresolved, OrderState::Pending, OrderState::Userpaying];
        let cashiers = ["li", "wang", "zhao"];
        let (mut paid_n, mut paid_fen, mut refund_fen, mut refund_n) = (0i64, 0i64, 0i64, 0i64);
        let mut per_state = std::collections::BTreeMap::<String, (i64, i64)>::new();
        for (amount, st, who, at, refund_kind) in orders_spec {
            let new = orders::NewOrder { shift_id: shift.id, terminal_id: "POS01".into(), cashier: cashiers[who].into(), amount: Fen(amount),
                description: String::new(), code_masked: "x".into(), code_fingerprint: format!("{amount}-{at}"), protocol: scanpay::config::Api::V3, party: scanpay::order::PartyKind::Direct, sub_mchid: None };
            // The store persists what it is told: write the states straight in.
            let o = orders::create(&mut conn, &new, OrderState::Pending, "{}", at).unwrap();
            let state = states[usize::from(st)];
            let change = orders::Change { kind: EventKind::PayAnswer, detail: "{}", state, snapshot: "{}", transaction_id: None, reason: None };
            orders::record(&mut conn, o.id, &change, at + 1).unwrap();
            let mut final_state = state;
            if state == OrderState::Paid && refund_kind > 0 {
                let part = if refund_kind == 1 { amount / 2 } else { amount };
                if part > 0 {
                    let rf = refunds::create(&mut conn, &o.out_trade_no, Fen(part), "t", None, shift.id, "{}", at + 2, |_, _| Ok(())).unwrap().unwrap();
                    let change = refunds::Change { kind: EventKind::RefundAnswer, detail: "{}", status: RefundStatus::Success, snapshot: "{}", wechat_refund_id: None };
                    refunds::record(&mut conn, rf.id, &change, at + 3, |o, refunded| scanpay::engine::refund::order_state(o.state, o.amount, refunded)).unwrap();
                    refund_fen += part;
                    refund_n += 1;
                    final_state = if part == amount { OrderState::Refunded } else { OrderState::PartiallyRefunded };
                }
            }
            if final_state.is_charged() {
                paid_n += 1;
                paid_fen += amount;
            }
            let e = per_state.entry(final_state.as_str().to_string()).or_default();
            e.0 += 1;
            e.1 += amount;
        }
        let s = shifts::summary(&conn, shift.id).unwrap();
        prop_assert_eq!((s.paid_count, s.paid_fen), (paid_n, paid_fen));
        prop_assert_eq!((s.refund_count, s.refund_fen, s.net_fen), (refund_n, refund_fen, paid_fen - refund_fen));
        let got: std::collections::BTreeMap<String, (i64, i64)> = s.by_state.iter().map(|(k, n, f)| (k.clone(), (*n, *f))).collect();
        prop_assert_eq!(got, per_state);
        prop_assert_eq!(s.by_cashier.iter().map(|c| c.2).sum::<i64>(), paid_fen);
        prop_assert_eq!(s.by_hour.iter().map(|c| c.1).sum::<i64>(), paid_n);
    }
}

async fn order_state_and_snapshot_never_disagree_after_refunds(mode: Mode) {
    let r = rig_in(mode).await;
    let part = r.paid("21", 1000).await;
    let full = r.paid("22", 600).await;
    let untouched = r.paid("23", 300).await;
    for (no, fen) in [(&part, 400), (&full, 250), (&full, 350)] {
        let done = r
            .engine
            .refund(no, Fen(fen), "agree", Some("demo"), None)
            .await
            .unwrap();
        assert_eq!(done.status, RefundStatus::Success);
    }
    let want = [
        (part, OrderState::PartiallyRefunded),
        (full, OrderState::Refunded),
        (untouched, OrderState::Paid),
    ];
    for (no, state) in want {
        let (o, refunded) = r
            .engine
            .store()
            .call(move |c| {
                let o = orders::by_out_trade_no(c, &no)?.unwrap();
                let refunded = refunds::of_order(c, o.id)?
                    .iter()
                    .filter(|x| x.status == RefundStatus::Success)
                    .map(|x| x.amount.0)
                    .sum::<i64>();
                Ok((o, refunded))
            })
            .await
            .unwrap();
        assert_eq!(o.state, state, "{}", o.out_trade_no);
        // The snapshot keeps the payment's outcome; the rule over it and the refunds gives
        // the stored state, for every order.
        let m = Machine::from_snapshot(&o.snapshot).unwrap();
        assert_eq!(m.state(), OrderState::Paid);
        assert_eq!(
            scanpay::engine::refund::order_state(m.state(), o.amount, Fen(refunded)),
            o.state
        );
    }
}
