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
        &std::fs::read(dir.path().join(match mode {
            // The APIv2 face keeps its keys and books apart (`connect_in_process_persistent`).
            Mode::V2 => "data/simulator/v2/ledger.json",
            Mode::Direct | Mode::Partner => "data/simulator/ledger.json",
        }))
        .unwrap(),
    )
    .unwrap();
    let there = ledger["orders"]
        .as_object()
        .unwrap()
        .values()
        .find(|x| x["out_trade_no"] == o.out_trade_no.as_str())
        .unwrap();
    let want = match mode {
        Mode::Direct | Mode::V2 => None,
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

/// A till of a service provider (服务商) selling for one sub-merchant (特约商户), on the demo's
/// simulator. Nothing here reaches the payment service: the order is written (not charged),
/// and the shift that is closed has no order in flight.
async fn partner_till(dir: &std::path::Path, lang: Language) -> Till {
    let mut cfg =
        scanpay::config::Config::load_from(scanpay::config::Source::EmbeddedDemo).unwrap();
    cfg.data_dir = dir.join("data");
    cfg.language = lang;
    cfg.merchant.sub_mchid = Some("1900000109".into());
    cfg.merchant.sub_merchant_name = Some("示例便利店南山店".into());
    let clock: SharedClock = Arc::new(TokioClock::new());
    Till::open(cfg, clock, Printing::Wait).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_till_records_the_sub_merchant_on_each_order_and_on_x_and_z() {
    use scanpay::order::PartyKind;
    let dir = tempfile::tempdir().unwrap();
    let t = partner_till(dir.path(), Language::En).await;

    // A shift closed at once: its Z names the sub-merchant (kept with the Z).
    t.open_shift("li").await.unwrap();
    let closed = t.close_shift("li", None).await.unwrap();
    let sub = closed.summary.sub_merchant.clone().expect("on the Z");
    assert_eq!(
        (sub.sub_mchid.as_str(), sub.name.as_deref()),
        ("1900000109", Some("示例便利店南山店"))
    );
    let z = t.books().z_report(None).unwrap();
    assert_eq!(z.summary.sub_merchant, Some(sub.clone()), "read back");
    assert!(
        z.to_text()
            .contains("sub-merchant 1900000109 示例便利店南山店"),
        "{}",
        z.to_text()
    );

    // An order is written with whom it is charged for.
    let shift = t.open_shift("li").await.unwrap();
    let sale = Sale {
        amount: Fen(1234),
        description: String::new(),
        code: AuthCode::parse("134567890123456711").unwrap(),
        shift_id: shift.id,
        cashier: shift.cashier.clone(),
    };
    let order = t.engine().create_order(&sale).await.unwrap();
    assert_eq!(order.party, PartyKind::ServiceProvider);
    assert_eq!(order.sub_mchid.as_deref(), Some("1900000109"));
    let stored = t.books().order(&order.out_trade_no).unwrap().unwrap();
    assert_eq!(
        (stored.party, stored.sub_mchid.as_deref()),
        (PartyKind::ServiceProvider, Some("1900000109"))
    );

    // The X on every face: its lines start with the sub-merchant.
    let x = t.books().x_report().unwrap();
    let first = &x.lines()[0];
    assert_eq!(first.kind, LineKind::SubMerchant);
    assert_eq!(first.value(), "1900000109 示例便利店南山店");
    let summary = t.x_summary().await.unwrap().unwrap();
    assert_eq!(summary.sub_merchant, Some(sub));

    // The receipt shows the number the log recorded, with the configured name.
    let receipt = {
        let conn = t.books().reader().unwrap();
        scanpay::receipt::sale_receipt(&conn, t.config(), &stored, None).unwrap()
    };
    assert_eq!(
        receipt.sub_merchant.map(|s| (s.sub_mchid, s.name)),
        Some(("1900000109".into(), Some("示例便利店南山店".into())))
    );

    // The export says whose each order is.
    let day = scanpay::clock::beijing::date(order.created_at);
    let csv = t.books().export(&day, &day, false, false).unwrap();
    let mut rows = csv.lines();
    assert!(rows.next().unwrap().ends_with(",party,sub_mchid"));
    assert!(
        rows.next()
            .unwrap()
            .ends_with(",service_provider,1900000109"),
        "{csv}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_till_records_direct_orders_and_shows_no_sub_merchant() {
    use scanpay::order::PartyKind;
    let dir = tempfile::tempdir().unwrap();
    let t = till(dir.path(), Language::En).await;
    let o = sell(&t, "11", 1234).await;
    assert_eq!((o.party, o.sub_mchid.as_deref()), (PartyKind::Direct, None));
    let x = t.books().x_report().unwrap();
    assert!(x.summary.sub_merchant.is_none());
    assert!(x.lines().iter().all(|l| l.kind != LineKind::SubMerchant));
    let day = scanpay::clock::beijing::date(o.created_at);
    let csv = t.books().export(&day, &day, false, false).unwrap();
    assert!(csv.lines().nth(1).unwrap().ends_with(",direct,"), "{csv}");
}

/// End to end in service-provider mode: a sale paid through the partner endpoints is recorded
/// as the sub-merchant's, and its receipt and the X name the sub-merchant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_partner_sale_is_the_sub_merchants_on_the_log_the_receipt_and_the_x() {
    use scanpay::order::PartyKind;
    let dir = tempfile::tempdir().unwrap();
    let t = partner_till(dir.path(), Language::En).await;
    let o = sell(&t, "11", 1234).await;
    assert_eq!(o.state, OrderState::Paid, "{o:?}");
    assert_eq!(
        (o.party, o.sub_mchid.as_deref()),
        (PartyKind::ServiceProvider, Some("1900000109"))
    );
    let receipt = {
        let conn = t.books().reader().unwrap();
        let data = scanpay::receipt::sale_receipt(&conn, t.config(), &o, None).unwrap();
        scanpay::receipt::layout::to_text(&scanpay::receipt::layout::sale(&data, 48))
    };
    assert!(
        receipt.contains("Sub-merchant") && receipt.contains("1900000109 示例便利店南山店"),
        "{receipt}"
    );
    let x = t.books().x_report().unwrap();
    assert_eq!(x.lines()[0].kind, LineKind::SubMerchant);
    assert_eq!(x.summary.paid_count, 1);
}
