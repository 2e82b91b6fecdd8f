//! A shift log written by the previous version (flat machine snapshots, no `reason` column)
//! opens, recovers and reports exactly as that version did (`tests/fixtures/v1-shift-log`).

mod common;

use std::path::Path;
use std::process::Output;

use scanpay::engine::micropay::Machine;
use scanpay::engine::refund::order_state;
use scanpay::money::Fen;
use scanpay::order::RefundStatus;
use scanpay::store::{open_connection, orders, refunds};

use common::fixtures::{V1_SHIFT_LOG as FIXTURE, copy_private_dir as copy_dir};

/// Runs the binary in `dir` with the embedded demo (no configuration file there).
fn scanpay(dir: &Path, args: &[&str]) -> Output {
    common::run_in(dir, args, "", &[])
}

/// The command's JSON, without the `"simulated": true` that every JSON object printed in
/// simulator (training) mode carries since (the fixture is the demo; the version it records
/// printed no such field).
fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{out:?}");
    let mut v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    let unmark = |o: &mut serde_json::Value| {
        let flag = o.as_object_mut().and_then(|m| m.remove("simulated"));
        assert_eq!(flag, Some(serde_json::Value::Bool(true)), "{o}");
    };
    match &mut v {
        serde_json::Value::Array(items) => items.iter_mut().for_each(unmark),
        other => unmark(other),
    }
    v
}

fn expected(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(Path::new(FIXTURE).join("expected").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn a_log_of_the_previous_version_opens_recovers_and_reports_as_it_did() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(
        &Path::new(FIXTURE).join("scanpay-data"),
        &tmp.path().join("scanpay-data"),
    );

    // Before: the flat snapshots of version 1 are read (every order, settled or not).
    {
        let conn = open_connection(&tmp.path().join("scanpay-data/scanpay.db")).unwrap();
        let all = orders::all(&conn).unwrap();
        assert_eq!(all.len(), 7);
        for o in &all {
            assert!(!o.snapshot.contains("\"v\":2"), "a version 1 snapshot");
            let m = Machine::from_snapshot(&o.snapshot)
                .unwrap_or_else(|e| panic!("{}: {e}", o.out_trade_no));
            assert_eq!(m.amount(), o.amount.0);
        }
        // The reason moved to a column of its own, filled from the old snapshots.
        let failed = all.iter().find(|o| o.state.as_str() == "FAILED").unwrap();
        assert_eq!(
            failed.reason.as_ref().map(|r| r.code()).as_deref(),
            Some("NOTENOUGH")
        );
    }

    assert_eq!(
        json(&scanpay(tmp.path(), &["recover", "--json"])),
        expected("recover.json")
    );
    assert_eq!(
        json(&scanpay(tmp.path(), &["report", "x", "--json"])),
        expected("x.json")
    );
    assert_eq!(
        json(&scanpay(tmp.path(), &["orders", "--json"])),
        expected("orders.json")
    );

    // After: every order's state is what the engine's rule makes of its snapshot and its
    // refunds, and every snapshot the new version wrote is of format version 2.
    let conn = open_connection(&tmp.path().join("scanpay-data/scanpay.db")).unwrap();
    for o in orders::all(&conn).unwrap() {
        assert_snapshot_agrees(&conn, &o);
    }
    let recovered = orders::by_out_trade_no(&conn, "POS01-20261201-ZC-052180")
        .unwrap()
        .unwrap();
    assert!(
        recovered.snapshot.contains("\"v\":2"),
        "rewritten by the new version"
    );
}

/// The order's state equals the engine's rule applied to its snapshot and its refunds.
fn assert_snapshot_agrees(conn: &rusqlite::Connection, o: &orders::OrderRecord) {
    let m = Machine::from_snapshot(&o.snapshot).unwrap();
    let refunded: i64 = refunds::of_order(conn, o.id)
        .unwrap()
        .iter()
        .filter(|r| r.status == RefundStatus::Success)
        .map(|r| r.amount.0)
        .sum();
    assert_eq!(
        order_state(m.state(), o.amount, Fen(refunded)),
        o.state,
        "{}",
        o.out_trade_no
    );
}
