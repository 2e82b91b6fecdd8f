//! The shift log on real SQLite files: pragmas, migrations, append-only rules, and a clear
//! error (never a panic, never a silent loss) for a corrupt, locked, read-only or full file.

use rusqlite::Connection;
use scanpay::engine::micropay::{Machine, Timing};
use scanpay::money::Fen;
use scanpay::store::orders::{self, NewOrder};
use scanpay::store::{Store, StoreError, open_connection, shifts};

fn new_order(shift_id: i64) -> NewOrder {
    NewOrder {
        shift_id,
        terminal_id: "POS01".into(),
        cashier: "li".into(),
        amount: Fen(1234),
        description: "水".into(),
        code_masked: "1345 **** **** 6711".into(),
        code_fingerprint: "ab".into(),
        protocol: scanpay::config::Api::V3,
        party: scanpay::order::PartyKind::Direct,
        sub_mchid: None,
    }
}

const NOW: i64 = 1_764_000_000_000;

#[test]
fn pragmas_and_schema() {
    let dir = tempfile::tempdir().unwrap();
    let conn = open_connection(&dir.path().join("scanpay.db")).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    let sync: i64 = conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap();
    let fk: i64 = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        (mode.as_str(), sync, fk, version),
        ("wal", 2, 1, scanpay::store::schema::VERSION)
    );
    let strict: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND sql LIKE '%STRICT%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let tables: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(strict, tables, "every table is STRICT");
    assert_eq!(tables, 11);
    let plan: String = conn.query_row("EXPLAIN QUERY PLAN SELECT id FROM orders WHERE shift_id = 1 AND code_fingerprint = 'x'", [], |r| r.get(3)).unwrap();
    assert!(plan.contains("orders_shift_fingerprint"), "{plan}");
    drop(conn);
    // Opening again migrates nothing and keeps the data.
    open_connection(&dir.path().join("scanpay.db")).unwrap();
}

#[test]
fn orders_get_unique_numbers_and_events_are_append_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = open_connection(&dir.path().join("scanpay.db")).unwrap();
    let shift = shifts::open(&mut conn, "POS01", "li", NOW).unwrap();
    let m = Machine::new(1234, Timing::from_secs(5, 45));
    let a = orders::create(
        &mut conn,
        &new_order(shift.id),
        m.state(),
        &m.to_snapshot(),
        NOW,
    )
    .unwrap();
    let b = orders::create(
        &mut conn,
        &new_order(shift.id),
        m.state(),
        &m.to_snapshot(),
        NOW,
    )
    .unwrap();
    assert!(
        a.out_trade_no.ends_with("-00001") && b.out_trade_no.ends_with("-00002"),
        "{} {}",
        a.out_trade_no,
        b.out_trade_no
    );
    assert!(
        a.out_trade_no.starts_with("POS01-251125-") && a.out_trade_no.len() <= 32,
        "{}",
        a.out_trade_no
    );
    assert!(
        conn.execute("UPDATE order_events SET kind = 'x'", [])
            .is_err()
    );
    assert!(conn.execute("DELETE FROM order_events", []).is_err());
    assert!(conn.execute("DELETE FROM orders", []).is_err());
    assert!(conn.execute("DELETE FROM audit_log", []).is_err());
    // A foreign key to a missing shift is refused.
    let mut bad = new_order(999);
    bad.shift_id = 999;
    assert!(orders::create(&mut conn, &bad, m.state(), &m.to_snapshot(), NOW).is_err());
    // Negative or zero amounts are refused by the schema itself.
    assert!(conn
        .execute("INSERT INTO orders(out_trade_no, shift_id, terminal_id, cashier, amount_fen, description, code_masked, code_fingerprint, state, machine, created_at, updated_at) VALUES ('X', ?1, 'P', 'c', 0, '', '', '', 'PAID', '{}', 0, 0)", [shift.id])
        .is_err());
}

#[test]
fn corrupt_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("scanpay.db"), vec![0x42u8; 8192]).unwrap();
    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("damaged or not a scanpay database"),
        "{err}"
    );
    // The damaged file is left as it was for a person to look at.
    assert_eq!(
        std::fs::read(dir.path().join("scanpay.db")).unwrap(),
        vec![0x42u8; 8192]
    );
}

#[test]
fn locked_read_only_and_full_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scanpay.db");
    let mut conn = open_connection(&path).unwrap();
    shifts::open(&mut conn, "POS01", "li", NOW).unwrap();

    // Another connection holds the write lock.
    conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let other = Connection::open(&path).unwrap();
    other
        .busy_timeout(std::time::Duration::from_millis(0))
        .unwrap();
    let err = StoreError::from(
        other
            .execute(
                "INSERT INTO audit_log(at, actor, action, detail) VALUES (0,'a','b','c')",
                [],
            )
            .unwrap_err(),
    );
    assert!(matches!(err, StoreError::Locked), "{err:?}");
    conn.execute_batch("COMMIT").unwrap();

    let ro = scanpay::store::open_reader(&path).unwrap();
    let err = StoreError::from(
        ro.execute(
            "INSERT INTO audit_log(at, actor, action, detail) VALUES (0,'a','b','c')",
            [],
        )
        .unwrap_err(),
    );
    assert!(matches!(err, StoreError::ReadOnly), "{err:?}");

    let page_count: i64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    conn.execute_batch(&format!("PRAGMA max_page_count = {page_count}"))
        .unwrap();
    let big = "x".repeat(100_000);
    let err = StoreError::from(
        conn.execute(
            "INSERT INTO audit_log(at, actor, action, detail) VALUES (0,'a','b',?1)",
            [&big],
        )
        .unwrap_err(),
    );
    assert!(matches!(err, StoreError::Full), "{err:?}");
    assert!(err.to_string().contains("nothing was written"));
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scanpay.db");
    drop(open_connection(&path).unwrap());
    Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    let err = open_connection(&path).unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found: 99, .. }),
        "{err:?}"
    );
}

#[test]
fn shift_close_is_refused_while_orders_are_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = open_connection(&dir.path().join("scanpay.db")).unwrap();
    let shift = shifts::open(&mut conn, "POS01", "li", NOW).unwrap();
    let m = Machine::new(1234, Timing::from_secs(5, 45));
    let o = orders::create(
        &mut conn,
        &new_order(shift.id),
        m.state(),
        &m.to_snapshot(),
        NOW,
    )
    .unwrap();
    let err = shifts::close(&mut conn, "POS01", "li", NOW, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&o.out_trade_no) && err.contains("PENDING"),
        "{err}"
    );
    assert!(shifts::current(&conn, "POS01").unwrap().is_some());
}

/// One order on `conn` at `at`; its number.
fn number(conn: &mut Connection, shift: i64, at: i64) -> String {
    let m = Machine::new(1234, Timing::from_secs(5, 45));
    orders::create(conn, &new_order(shift), m.state(), &m.to_snapshot(), at)
        .unwrap()
        .out_trade_no
}

/// Order numbers are never reused — by construction, not by timing (`store::orders` numbers):
/// not at any sale rate, not by two runs at the same instant, not after restoring an old copy
/// of the log, not even after restoring the whole data folder (then the clock decides), and
/// not with the clock set back (the epochs file decides).
#[test]
fn order_numbers_are_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("scanpay.db");
    let mut seen = std::collections::HashSet::new();
    let mut fresh = |n: String| {
        assert!(n.len() <= 32, "{n}");
        assert!(
            scanpay::reconcile::scanpay_terminal(&n) == Some("POS01"),
            "{n}"
        );
        assert!(seen.insert(n.clone()), "{n} used twice");
    };
    let t = 1_790_000_000_000; // 2026-09-22
    let mut conn = open_connection(&log).unwrap();
    let shift = shifts::open(&mut conn, "POS01", "li", t).unwrap().id;
    // Any rate: 300 orders in the same millisecond.
    for _ in 0..300 {
        fresh(number(&mut conn, shift, t));
    }
    // A copy of the log now (a backup), a whole-folder copy too, then more sales.
    let backup = dir.path().join("backup.db");
    scanpay::store::backup::to_file(&log, &backup).unwrap();
    let folder_copy = tempfile::tempdir().unwrap();
    scanpay::store::backup::to_file(&log, &folder_copy.path().join("scanpay.db")).unwrap();
    std::fs::copy(
        dir.path().join("scanpay.db.epochs"),
        folder_copy.path().join("scanpay.db.epochs"),
    )
    .unwrap();
    fresh(number(&mut conn, shift, t + 1));
    // A second run (another process) at the very same instant: its own epoch.
    let mut second = open_connection(&log).unwrap();
    fresh(number(&mut second, shift, t + 1));
    fresh(number(&mut conn, shift, t + 1));
    drop((conn, second));

    // The log is lost; the backup is put in its place, and the clock has been set back an hour:
    // the epochs file beside the log still makes every new number new.
    std::fs::remove_file(&log).unwrap();
    let _ = std::fs::remove_file(dir.path().join("scanpay.db-wal"));
    let _ = std::fs::remove_file(dir.path().join("scanpay.db-shm"));
    std::fs::copy(&backup, &log).unwrap();
    let mut restored = open_connection(&log).unwrap();
    for _ in 0..50 {
        fresh(number(&mut restored, shift, t - 3_600_000));
    }
    drop(restored);

    // The whole folder (log and epochs file) restored from the copy: the clock, later than
    // every earlier run's start, gives the next epoch.
    std::fs::remove_file(&log).unwrap();
    let _ = std::fs::remove_file(dir.path().join("scanpay.db-wal"));
    let _ = std::fs::remove_file(dir.path().join("scanpay.db-shm"));
    std::fs::copy(folder_copy.path().join("scanpay.db"), &log).unwrap();
    std::fs::copy(
        folder_copy.path().join("scanpay.db.epochs"),
        dir.path().join("scanpay.db.epochs"),
    )
    .unwrap();
    let mut whole = open_connection(&log).unwrap();
    for _ in 0..50 {
        fresh(number(&mut whole, shift, t + 60_000));
    }
}

/// The party columns (the party migration, 8 when written) of every order in a log.
fn parties(conn: &Connection) -> Vec<(String, Option<String>)> {
    conn.prepare("SELECT party, sub_mchid FROM orders ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn the_party_migration_makes_every_order_of_an_older_log_direct() {
    let tmp = tempfile::tempdir().unwrap();
    let src = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/v1-shift-log/scanpay-data"
    ));
    let db = tmp.path().join("scanpay.db");
    // The log and its write-ahead file (the last orders may be only there).
    for name in ["scanpay.db", "scanpay.db-wal"] {
        if src.join(name).exists() {
            std::fs::copy(src.join(name), tmp.path().join(name)).unwrap();
        }
    }
    let before: i64 = Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert!(
        before < scanpay::store::schema::VERSION,
        "the fixture predates the party migration ({before})"
    );

    let conn = open_connection(&db).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, scanpay::store::schema::VERSION);
    let rows = parties(&conn);
    assert_eq!(rows.len(), 7);
    assert!(
        rows.iter().all(|(p, s)| p == "direct" && s.is_none()),
        "{rows:?}"
    );
    for o in orders::all(&conn).unwrap() {
        assert_eq!(
            (o.party, o.sub_mchid),
            (scanpay::order::PartyKind::Direct, None)
        );
    }
}

#[test]
fn an_order_records_whom_it_was_charged_for_and_the_log_refuses_a_mixed_party() {
    use scanpay::order::PartyKind;
    let dir = tempfile::tempdir().unwrap();
    let mut conn = open_connection(&dir.path().join("scanpay.db")).unwrap();
    let shift = shifts::open(&mut conn, "POS01", "li", NOW).unwrap();
    let m = Machine::new(1234, Timing::from_secs(5, 45));
    let direct = orders::create(
        &mut conn,
        &new_order(shift.id),
        m.state(),
        &m.to_snapshot(),
        NOW,
    )
    .unwrap();
    assert_eq!(
        (direct.party, direct.sub_mchid.as_deref()),
        (PartyKind::Direct, None)
    );
    let partner = NewOrder {
        party: PartyKind::ServiceProvider,
        sub_mchid: Some("1900000109".into()),
        code_fingerprint: "cd".into(),
        ..new_order(shift.id)
    };
    let o = orders::create(&mut conn, &partner, m.state(), &m.to_snapshot(), NOW).unwrap();
    let o = orders::by_id(&conn, o.id).unwrap();
    assert_eq!(
        (o.party, o.sub_mchid.as_deref()),
        (PartyKind::ServiceProvider, Some("1900000109"))
    );
    assert_eq!(
        parties(&conn),
        vec![
            ("direct".into(), None),
            ("service_provider".into(), Some("1900000109".into()))
        ]
    );

    // The store persists what it is told, but never a party without its sub-merchant or a
    // direct order with one.
    for (party, sub, fp) in [
        (PartyKind::ServiceProvider, None, "e1"),
        (PartyKind::ServiceProvider, Some(String::new()), "e2"),
        (PartyKind::Direct, Some("1900000109".to_string()), "e3"),
    ] {
        let bad = NewOrder {
            party,
            sub_mchid: sub.clone(),
            code_fingerprint: fp.into(),
            ..new_order(shift.id)
        };
        let err = orders::create(&mut conn, &bad, m.state(), &m.to_snapshot(), NOW).unwrap_err();
        assert!(
            matches!(err, StoreError::Sql(_)),
            "{party:?} {sub:?}: {err:?}"
        );
    }
    assert_eq!(orders::all(&conn).unwrap().len(), 2, "nothing half-written");
    let err = conn
        .execute("UPDATE orders SET party = 'other' WHERE id = ?1", [o.id])
        .unwrap_err();
    assert!(err.to_string().contains("CHECK"), "{err}");

    // A Z of a service provider's shift keeps the sub-merchant; a direct one has none.
    let sub = scanpay::order::SubMerchant {
        sub_mchid: "1900000109".into(),
        name: Some("示例".into()),
    };
    for id in [direct.id, o.id] {
        conn.execute("UPDATE orders SET state = 'FAILED' WHERE id = ?1", [id])
            .unwrap();
    }
    let (_, z) =
        shifts::close_for(&mut conn, "POS01", "li", NOW + 1, None, Some(sub.clone())).unwrap();
    assert_eq!(z.sub_merchant, Some(sub.clone()));
    let stored: String = conn
        .query_row(
            "SELECT report FROM z_reports ORDER BY z_number DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let back: shifts::Summary = serde_json::from_str(&stored).unwrap();
    assert_eq!(back.sub_merchant, Some(sub));
    shifts::open(&mut conn, "POS01", "li", NOW + 2).unwrap();
    let (_, z) = shifts::close(&mut conn, "POS01", "li", NOW + 3, None).unwrap();
    assert_eq!(z.sub_merchant, None);
    let stored: String = conn
        .query_row(
            "SELECT report FROM z_reports ORDER BY z_number DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        !stored.contains("sub_merchant"),
        "a direct Z is as it was: {stored}"
    );
}
