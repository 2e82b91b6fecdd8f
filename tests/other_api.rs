//! Issue 15: the shift log records the WeChat Pay API each order was made over, and an order
//! is settled over that API only. A till switched to the other API leaves such an order as it
//! is and says which `api` settles it.

mod common;

use common::rig::rig;
use scanpay::config::Api;
use scanpay::engine::micropay::Event;
use scanpay::engine::recovery::{self, Scope};
use scanpay::engine::{EngineError, OrderState};
use scanpay::money::Fen;
use scanpay::order::Refusal;
use scanpay::store::orders;

/// Marks an order as made over APIv2 (what a till configured with `api = "v2"` writes).
async fn made_over_v2(r: &common::rig::Rig, id: i64) {
    r.store
        .call(move |c| {
            c.execute("UPDATE orders SET protocol = 'v2' WHERE id = ?1", [id])?;
            Ok(())
        })
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn orders_record_the_api_they_were_made_over() {
    let r = rig().await;
    let o = r.pay("00", 100).await;
    assert_eq!(o.protocol, Api::V3);
    let stored = r.store.call(move |c| orders::by_id(c, o.id)).await.unwrap();
    assert_eq!(stored.protocol, Api::V3);
    // The column refuses anything but the two APIs.
    let bad = r
        .store
        .call(move |c| {
            c.execute("UPDATE orders SET protocol = 'v4' WHERE id = ?1", [o.id])?;
            Ok(())
        })
        .await;
    assert!(bad.is_err());
}

#[tokio::test(start_paused = true)]
async fn recovery_never_settles_an_order_over_the_other_api() {
    let r = rig().await;
    let sale = r.sale("00", 250);
    let pending = r.engine.create_order(&sale).await.unwrap();
    made_over_v2(&r, pending.id).await;
    let id = pending.id;
    let events_before = r
        .store
        .call(move |c| orders::events(c, id))
        .await
        .unwrap()
        .len();

    // Start-up and `recover` leave it out...
    let todo = recovery::pending(&r.engine, Scope::InFlightAndUnresolved)
        .await
        .unwrap();
    assert!(todo.iter().all(|(o, _)| o.id != id), "{todo:?}");
    let settled = recovery::recover(&r.engine, Scope::InFlightAndUnresolved)
        .await
        .unwrap();
    assert!(settled.iter().all(|o| o.id != id));

    // ...and name it with the API that settles it.
    let named = recovery::other_api(&r.engine).await.unwrap();
    assert_eq!(
        named,
        vec![Refusal::OtherApi {
            out_trade_no: pending.out_trade_no.clone(),
            made_over: "v2",
            configured: "v3",
        }]
    );
    let text = named[0].to_string();
    assert!(text.contains(&pending.out_trade_no), "{text}");
    assert!(text.contains(r#"api = "v2""#), "{text}");

    // `scanpay check` (and the screen's check) reads the same from the log.
    let mut cfg = r.cfg.clone();
    cfg.data_dir = r.dir.path().to_path_buf();
    let f = scanpay::till::check::other_api_finding(&cfg).expect("a finding");
    assert_eq!(f.status, scanpay::till::check::Status::Problem);
    assert!(f.detail.contains(&pending.out_trade_no), "{f:?}");
    assert!(
        f.fix.as_deref().unwrap_or("").contains(r#"api = "v2""#),
        "{f:?}"
    );
    // Configured for APIv2, the same order is the till's own again.
    cfg.wechatpay.api = Api::V2;
    assert_eq!(scanpay::till::check::other_api_finding(&cfg), None);

    // Driving it by hand is refused before anything is sent or written.
    let order = r.store.call(move |c| orders::by_id(c, id)).await.unwrap();
    let mut quiet = |_: &scanpay::engine::Progress| {};
    let e = r
        .engine
        .drive(order, Event::Retry, None, &mut quiet, None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            EngineError::Refused(Refusal::OtherApi {
                made_over: "v2",
                ..
            })
        ),
        "{e:?}"
    );
    let after = r.store.call(move |c| orders::by_id(c, id)).await.unwrap();
    assert_eq!(after.state, OrderState::Pending);
    let events_after = r
        .store
        .call(move |c| orders::events(c, id))
        .await
        .unwrap()
        .len();
    assert_eq!(events_after, events_before);
}

#[tokio::test(start_paused = true)]
async fn a_refund_follows_its_order_api() {
    let r = rig().await;
    let paid = r.pay("00", 300).await;
    assert_eq!(paid.state, OrderState::Paid);
    made_over_v2(&r, paid.id).await;
    let e = r
        .engine
        .refund(&paid.out_trade_no, Fen(100), "test", None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(e, EngineError::Refused(Refusal::OtherApi { .. })),
        "{e:?}"
    );
    // Nothing was written for it.
    let id = paid.id;
    let refunds = r
        .store
        .call(move |c| scanpay::store::refunds::of_order(c, id))
        .await
        .unwrap();
    assert!(refunds.is_empty(), "{refunds:?}");
}
