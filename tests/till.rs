//! The till core (`scanpay::till`) on the demo's in-process simulator: the same calls the
//! cashier screen and the command line make.

mod common;

use std::sync::Arc;

use common::rig::{Mode, both_modes, demo_config};

use scanpay::auth_code::AuthCode;
use scanpay::clock::{SharedClock, TokioClock};
use scanpay::config::Language;
use scanpay::engine::{OrderState, Progress, Sale};
use scanpay::money::Fen;
use scanpay::till::reports::{LineKind, lines};
use scanpay::till::{Printed, Printing, SupervisorPin, Till, TillError};

async fn till(dir: &std::path::Path, lang: Language) -> Till {
    till_in(dir, lang, Mode::Direct).await
}

/// The demo till in `mode`: partner mode is the demo plus one `merchant.sub_mchid` line, and
/// its built-in simulator is then the service provider.
async fn till_in(dir: &std::path::Path, lang: Language, mode: Mode) -> Till {
    let mut cfg = demo_config(mode);
    cfg.data_dir = dir.join("data");
    cfg.language = lang;
    let clock: SharedClock = Arc::new(TokioClock::new());
    Till::open(cfg, clock, Printing::Wait).await.unwrap()
}

async fn sell(t: &Till, suffix: &str, fen: i64) -> scanpay::store::orders::OrderRecord {
    let shift = t.selling_shift().await.unwrap().unwrap();
    let sale = Sale {
        amount: Fen(fen),
        description: String::new(),
        code: AuthCode::parse(&format!("1345678901234567{suffix}")).unwrap(),
        shift_id: shift.id,
        cashier: shift.cashier,
    };
    let mut quiet = |_: &Progress| {};
    t.pay(&sale, &mut quiet, None).await.unwrap()
}

fn demo_pin() -> SupervisorPin {
    SupervisorPin {
        supervisor: "demo".into(),
        pin: "0000".into(),
    }
}

both_modes!(
    async #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    the_shift_screen_summary_has_refunds_net_and_open_refunds,
);

async fn the_shift_screen_summary_has_refunds_net_and_open_refunds(mode: Mode) {
    let dir = tempfile::tempdir().unwrap();
    let t = till_in(dir.path(), Language::En, mode).await;
    let o = sell(&t, "11", 1000).await;
    assert_eq!(o.state, OrderState::Paid);
    // The demo's simulator kept the order in the books of the till's merchant (its ledger
    // file): in partner mode, the sub-merchant's.
    let ledger: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("data/simulator/ledger.json")).unwrap(),
    )
    .unwrap();
    let there = ledger["orders"]
        .as_object()
        .unwrap()
        .values()
        .find(|x| x["out_trade_no"] == o.out_trade_no.as_str())
        .unwrap();
    let want = match mode {
        Mode::Direct => None,
        Mode::Partner => Some(common::rig::SUB_MCHID),
    };
    assert_eq!(there["sub_mchid"].as_str(), want, "{there}");

    // A wrong PIN refunds nothing.
    let wrong = SupervisorPin {
        pin: "9999".into(),
        ..demo_pin()
    };
    let e = t
        .refund(&o.out_trade_no, Fen(300), "damaged", &wrong)
        .await
        .unwrap_err();
    assert!(matches!(e, TillError::NotApproved(_)), "{e}");

    let r = t
        .refund(&o.out_trade_no, Fen(300), "damaged", &demo_pin())
        .await
        .unwrap();
    assert_eq!(r.status.as_str(), "SUCCESS");

    // What the shift screen (F3) loads: the same figures as `report x`, refunds and net.
    let s = t.x_summary().await.unwrap().unwrap();
    assert_eq!((s.refund_count, s.refund_fen, s.net_fen), (1, 300, 700));
    let shown = lines(Language::En, &s);
    let find = |k: LineKind| shown.iter().find(|l| l.kind == k).cloned();
    assert_eq!(find(LineKind::Refunds).unwrap().value(), "1 · -¥3.00");
    assert_eq!(find(LineKind::Net).unwrap().value(), "¥7.00");
    // States by the screen's names, never the raw contract names.
    assert!(
        shown.iter().any(|l| l.label == "part refunded"),
        "{shown:?}"
    );
    assert!(find(LineKind::RefundsOpen).is_none());

    // A refund left ABNORMAL shows as open, on screen and paper.
    let db = rusqlite::Connection::open(dir.path().join("data/scanpay.db")).unwrap();
    db.execute("UPDATE refunds SET status = 'ABNORMAL'", [])
        .unwrap();
    let s = t.x_summary().await.unwrap().unwrap();
    let shown = lines(Language::En, &s);
    let open = shown
        .iter()
        .find(|l| l.kind == LineKind::RefundsOpen)
        .unwrap();
    assert_eq!((open.label.as_str(), open.count), ("refunds open", Some(1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_is_refused_over_unsettled_orders_and_forced_with_approval() {
    let dir = tempfile::tempdir().unwrap();
    let t = till(dir.path(), Language::Zh).await;
    let o = sell(&t, "11", 500).await;
    let db = rusqlite::Connection::open(dir.path().join("data/scanpay.db")).unwrap();
    db.execute("UPDATE orders SET state = 'UNRESOLVED'", [])
        .unwrap();

    let e = t.close_shift("test", None).await.unwrap_err();
    assert!(e.to_string().contains(&o.out_trade_no), "{e}");
    let wrong = SupervisorPin {
        pin: "1111".into(),
        ..demo_pin()
    };
    let e = t.close_shift("test", Some(&wrong)).await.unwrap_err();
    assert!(matches!(e, TillError::NotApproved(_)), "{e}");

    let closed = t.close_shift("test", Some(&demo_pin())).await.unwrap();
    assert_eq!(closed.shift.z_number, Some(1));
    assert_eq!(closed.summary.forced_by.as_deref(), Some("demo"));
    assert!(closed.backup.as_ref().unwrap().exists());
    // No printer configured: the full Z is in the spool, with the one set of labels.
    let Ok(Printed::Spooled(path)) = &closed.printed else {
        panic!("{:?}", closed.printed)
    };
    let text = std::fs::read_to_string(path).unwrap();
    for want in ["Z 报表 #1", "实收合计", "净收", "强制结班", "需处理"] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
    assert!(t.current_shift().await.unwrap().is_none());
}
