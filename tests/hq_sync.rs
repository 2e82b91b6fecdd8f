//! Many tills, one head office (issue 16): tills on a standalone simulator ship their logs to
//! a real PostgreSQL (a throw-away cluster, `common::pg`), through kills mid-shipment and a
//! database restart mid-shipping; the head office's report equals the sum of the tills' own
//! X reports, its reconciliation is clean, and no row is duplicated or lost.
//!
//! Without PostgreSQL each test says "SKIPPED: PostgreSQL not found" on stderr and returns.

mod common;

use std::path::{Path, PathBuf};

use common::{config, json, pg, scanpay, start_sim, stderr, stdout};
use scanpay::store::Store;

fn today() -> String {
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(8)))
        .date()
        .to_string()
}

/// The configuration at `path` with `[sync] postgres_url = url`.
fn with_sync(path: &Path, url: &str) -> PathBuf {
    let mut t = config::read(path);
    config::insert(&mut t, "sync.postgres_url", url);
    config::write(&t, path)
}

fn pay(till: &Path, amount: &str, suffix: &str) -> serde_json::Value {
    let code = common::fixtures::code(suffix);
    let out = scanpay(
        till,
        &["pay", "--amount", amount, "--code", &code, "--json"],
        &[],
    );
    // A refused payment exits 1 and still prints its order.
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn count(pg: &pg::Cluster, db: &str, sql: &str) -> i64 {
    pg.psql(db, sql).parse().unwrap()
}

/// Local rows of a till's log per shipped table.
fn local_counts(data: &Path) -> Vec<(String, i64)> {
    let conn = rusqlite::Connection::open(data.join("scanpay.db")).unwrap();
    scanpay::store::outbox::SHIPPED
        .iter()
        .map(|(t, _)| {
            let n: i64 = conn
                .query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
                .unwrap();
            (t.to_string(), n)
        })
        .collect()
}

fn till_id(data: &Path) -> String {
    let conn = rusqlite::Connection::open(data.join("scanpay.db")).unwrap();
    conn.query_row("SELECT value FROM meta WHERE key = 'till_id'", [], |r| {
        r.get(0)
    })
    .unwrap()
}

fn central_counts(pg: &pg::Cluster, db: &str, till: &str) -> Vec<(String, i64)> {
    scanpay::store::outbox::SHIPPED
        .iter()
        .map(|(t, _)| {
            (
                t.to_string(),
                count(
                    pg,
                    db,
                    &format!("SELECT COUNT(*) FROM hq_{t} WHERE till_id = '{till}'"),
                ),
            )
        })
        .collect()
}

#[test]
fn hq_init_is_safe_twice_and_from_two_machines_at_once() {
    let Some(pg) = pg::cluster() else {
        return pg::skipped("hq_init_is_safe_twice_and_from_two_machines_at_once");
    };
    let (db, url) = pg.fresh_db();
    let tmp = tempfile::tempdir().unwrap();
    let mut t = config::demo();
    config::set(
        &mut t,
        "data_dir",
        tmp.path().join("hq").display().to_string(),
    );
    config::insert(&mut t, "sync.postgres_url", url.as_str());
    let cfg = config::write(&t, &tmp.path().join("hq.toml"));
    // Two at once: each waits for the other's advisory lock; both succeed.
    let a = std::process::Command::new(common::BIN)
        .arg("--config")
        .arg(&cfg)
        .args(["hq", "init"])
        .output();
    let b = scanpay(&cfg, &["hq", "init"], &[]);
    let a = a.unwrap();
    assert!(a.status.success(), "{a:?}");
    assert!(b.status.success(), "{b:?}");
    let again = scanpay(&cfg, &["hq", "init"], &[]);
    assert!(again.status.success(), "{again:?}");
    assert!(stdout(&again).contains("up to date"), "{again:?}");
    assert_eq!(
        count(pg, &db, "SELECT COUNT(*) FROM hq_schema"),
        i64::from(scanpay::hq::schema::VERSION)
    );
}

#[test]
fn hq_init_concurrently_in_process() {
    let Some(pg) = pg::cluster() else {
        return pg::skipped("hq_init_concurrently_in_process");
    };
    let (db, url) = pg.fresh_db();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sync = scanpay::config::Sync {
        postgres_url: scanpay::config::check_sync_url(&url).unwrap(),
        interval_secs: 10,
        ca_file: None,
    };
    let results = rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let sync = sync.clone();
            tasks.push(tokio::spawn(async move {
                let mut c = scanpay::hq::connect(&sync).await.unwrap();
                scanpay::hq::schema::init(&mut c).await
            }));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap().unwrap());
        }
        out
    });
    // Exactly one of them migrated; the others found it done.
    let migrated = results.iter().filter(|(a, b)| a != b).count();
    assert_eq!(migrated, 1, "{results:?}");
    assert_eq!(
        count(pg, &db, "SELECT COUNT(*) FROM hq_schema"),
        i64::from(scanpay::hq::schema::VERSION)
    );
}

#[test]
fn the_password_is_never_shown() {
    let tmp = tempfile::tempdir().unwrap();
    let mut t = config::demo();
    config::set(
        &mut t,
        "data_dir",
        tmp.path().join("d").display().to_string(),
    );
    config::insert(
        &mut t,
        "sync.postgres_url",
        "postgres://till:S3cretPw@127.0.0.1:1/hq?sslmode=disable",
    );
    let cfg = config::write(&t, &tmp.path().join("till.toml"));
    let out = scanpay(&cfg, &["config"], &[]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout(&out).contains("postgres://till:***@127.0.0.1:1/hq"),
        "{out:?}"
    );
    let out = scanpay(&cfg, &["shift", "open", "--cashier", "c1"], &[]);
    assert!(out.status.success(), "{out:?}");
    // Nothing listens on port 1: the shipment fails (exit 1), and says why without the password.
    let out = scanpay(&cfg, &["sync"], &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr(&out).contains("cannot connect"), "{out:?}");
    // The environment variable wins over the file, and is hidden just the same.
    let out = scanpay(
        &cfg,
        &["config"],
        &[(
            "SCANPAY_SYNC_URL",
            "postgresql://hq:0therPw@db.example:5432/hq",
        )],
    );
    assert!(
        stdout(&out).contains("postgresql://hq:***@db.example:5432/hq"),
        "{out:?}"
    );
    let all = [
        stdout(&out),
        stderr(&out),
        std::fs::read_to_string(tmp.path().join("d/logs/scanpay.log")).unwrap_or_default(),
    ]
    .concat();
    assert!(
        !all.contains("S3cretPw") && !all.contains("0therPw"),
        "{all}"
    );
    // A malformed URL is refused without repeating it.
    let mut t = config::demo();
    config::insert(&mut t, "sync.postgres_url", "mysql://u:Xyz123@h/db");
    let bad = config::write(&t, &tmp.path().join("bad.toml"));
    let out = scanpay(&bad, &["config"], &[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(!stderr(&out).contains("Xyz123"), "{out:?}");
}

/// The done-when scenario of issue 16.
#[test]
fn two_tills_ship_exactly_once_through_kills_and_a_database_restart() {
    let Some(pg) = pg::cluster() else {
        return pg::skipped("two_tills_ship_exactly_once_through_kills_and_a_database_restart");
    };
    let (db, url) = pg.fresh_db();
    let tmp = tempfile::tempdir().unwrap();
    let sim = start_sim(&tmp.path().join("keys"));
    let hq = with_sync(&sim.till(&tmp.path().join("hq"), "HQ"), &url);
    let out = scanpay(&hq, &["hq", "init"], &[]);
    assert!(out.status.success(), "{out:?}");
    let a = with_sync(&sim.till(&tmp.path().join("a"), "TA"), &url);
    let b = with_sync(&sim.till(&tmp.path().join("b"), "TB"), &url);
    let (a_data, b_data) = (tmp.path().join("a/data"), tmp.path().join("b/data"));

    // Sales on both tills: paid ones and a refused one.
    for (amount, who) in [("12.34", "11"), ("5.00", "12"), ("3.21", "04")] {
        pay(&a, amount, who);
    }
    let mut b_sales = Vec::new();
    for (amount, who) in [("7.00", "13"), ("0.99", "14")] {
        b_sales.push(
            pay(&b, amount, who)["out_trade_no"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    // A refund on till B, approved by its supervisor.
    let out = common::run_config(&b, &["supervisor", "init", "boss"], "482915\n", &[]);
    assert!(out.status.success(), "{out:?}");
    let out = common::run_config(
        &b,
        &[
            "refund",
            &b_sales[0],
            "--amount",
            "2.00",
            "--reason",
            "damaged",
            "--supervisor",
            "boss",
        ],
        "482915\n",
        &[],
    );
    assert!(out.status.success(), "{out:?}");

    // Till A is killed (SIGKILL) after the head office committed its shipment, before it
    // recorded the acknowledgement; then in the middle of the transaction.
    let out = scanpay(&a, &["sync"], &[("SCANPAY_FAILPOINT", "sync.after_commit")]);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&out.status),
        Some(9),
        "{out:?}"
    );
    pay(&a, "8.88", "15");
    let out = scanpay(
        &a,
        &["sync"],
        &[("SCANPAY_FAILPOINT", "sync.before_commit")],
    );
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&out.status),
        Some(9),
        "{out:?}"
    );
    // Restarted: it ships again; nothing doubles.
    let out = scanpay(&a, &["sync", "--json"], &[]);
    assert!(out.status.success(), "{out:?}");
    let v = json(&out);
    assert_eq!(v["backlog"]["pending"], 0, "{v}");
    assert!(v["shipped"]["rows"].as_u64().unwrap() > 0, "{v}");

    // Till B ships in small batches; the database restarts between two of them (its
    // connection dropped), and the shipper goes on with a new connection.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let cfg = config::load(&config::read(&b), &b).unwrap();
        let books = scanpay::till::Books::new(
            cfg.clone(),
            std::sync::Arc::new(scanpay::clock::SystemClock),
        );
        let status = books.sync(false).await.unwrap();
        let till = status.till;
        let store = Store::open(&b_data).unwrap();
        let sync = cfg.sync.clone().unwrap();
        let mut client = scanpay::hq::connect(&sync).await.unwrap();
        let (rows, entries) = scanpay::sync::ship_batch(&store, &mut client, &till, 5)
            .await
            .unwrap();
        assert!(rows > 0 && entries == 5, "{rows} {entries}");
        pg.restart();
        let err = scanpay::sync::ship_batch(&store, &mut client, &till, 5)
            .await
            .unwrap_err();
        assert!(err.is_transient(), "{err:?}");
        // A second shipper on the same till at the same time, by mistake.
        let (one, two) = tokio::join!(
            scanpay::sync::sync_once(&sync, &store, &till),
            scanpay::sync::sync_once(&sync, &store, &till)
        );
        let (one, two) = (one.unwrap(), two.unwrap());
        assert_eq!(one.backlog.pending, 0);
        assert_eq!(two.backlog.pending, 0);
    });

    // No row lost, none duplicated: the head office has each till's rows once.
    for data in [&a_data, &b_data] {
        let id = till_id(data);
        assert_eq!(central_counts(pg, &db, &id), local_counts(data), "{id}");
    }
    assert_eq!(
        count(pg, &db, "SELECT COUNT(*) FROM hq_tills"),
        2,
        "two tills"
    );

    // Till A closes its shift (a Z) and ships it.
    let z_a = json(&scanpay(&a, &["shift", "close", "--json"], &[]));
    let out = scanpay(&a, &["sync"], &[]);
    assert!(out.status.success(), "{out:?}");
    let id = till_id(&a_data);
    assert_eq!(central_counts(pg, &db, &id), local_counts(&a_data), "{id}");
    assert_eq!(
        count(
            pg,
            &db,
            &format!("SELECT COUNT(*) FROM hq_z_reports WHERE till_id = '{id}'")
        ),
        1
    );

    // The head office's day equals the sum of the tills' own reports: A's Z, B's X.
    let date = today();
    let out = scanpay(&hq, &["hq", "report", "--date", &date, "--json"], &[]);
    assert!(out.status.success(), "{out:?}");
    let report = json(&out);
    let mut paid = (0, 0, 0, 0, 0);
    assert_eq!(z_a["z_number"], 1, "{z_a}");
    for x in [
        z_a["summary"].clone(),
        json(&scanpay(&b, &["report", "x", "--json"], &[])),
    ] {
        paid.0 += x["paid_count"].as_i64().unwrap();
        paid.1 += x["paid_fen"].as_i64().unwrap();
        paid.2 += x["refund_fen"].as_i64().unwrap();
        paid.3 += x["net_fen"].as_i64().unwrap();
        paid.4 += x["open_count"].as_i64().unwrap();
    }
    let t = &report["totals"];
    assert_eq!(
        (
            t["paid_count"].as_i64().unwrap(),
            t["paid_fen"].as_i64().unwrap(),
            t["refund_fen"].as_i64().unwrap(),
            t["net_fen"].as_i64().unwrap(),
            t["unsettled_count"].as_i64().unwrap()
        ),
        paid,
        "{report}"
    );
    assert_eq!(paid.0, 5, "five sales were paid: {report}");
    assert_eq!(paid.2, 200, "one refund of 2.00: {report}");
    let tills = report["stores"][0]["tills"].as_array().unwrap();
    assert_eq!(tills.len(), 2, "{report}");
    assert!(
        tills.iter().all(|t| t["last_sync_ms"].as_i64().is_some()),
        "{report}"
    );

    // The merchant's bill against all tills: clean.
    let out = scanpay(&hq, &["hq", "reconcile", "--date", &date, "--json"], &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let r = json(&out);
    assert_eq!(r["reconciliation"]["matched_payments"], 5, "{r}");
    assert_eq!(r["reconciliation"]["matched_refunds"], 1, "{r}");
    assert_eq!(r["tills"], 2, "{r}");

    // A sale not shipped yet: the head office names it as not shipped (exit 1) …
    let sale = pay(&b, "2.50", "16");
    let no = sale["out_trade_no"].as_str().unwrap().to_string();
    let out = scanpay(&hq, &["hq", "reconcile", "--date", &date, "--json"], &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["clean"], false, "{r}");
    assert_eq!(r["not_shipped"][0]["out_trade_no"], no.as_str(), "{r}");
    assert_eq!(
        r["reconciliation"]["mismatches"].as_array().map(Vec::len),
        Some(0),
        "{r}"
    );
    // … until the till ships it.
    let out = scanpay(&b, &["sync"], &[]);
    assert!(out.status.success(), "{out:?}");
    let out = scanpay(&hq, &["hq", "reconcile", "--date", &date, "--csv"], &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(!stdout(&out).contains("not_shipped"), "{out:?}");
}

/// The cashier screen's status line shows the head office's lag past a minute, and only then;
/// the lag grows with the clock while the backlog stays.
#[test]
fn the_status_line_shows_the_lag_past_a_minute() {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use scanpay::config::Language;
    use scanpay::tui::app::{App, AppConfig, Msg, Theme};
    use scanpay::tui::update::update;
    const T0: i64 = 1_763_999_200_000;
    let top_line = |a: &App| {
        let mut term = Terminal::new(TestBackend::new(140, 24)).unwrap();
        term.draw(|f| f.render_widget(a, f.area())).unwrap();
        let buf = term.backend().buffer().clone();
        (0..140)
            .map(|x| buf[(x, 0)].symbol().to_string())
            .collect::<String>()
    };
    for (lang, word) in [
        (Language::En, "HQ 5 min behind"),
        (Language::Zh, "总部同步滞后"),
    ] {
        let mut a = App::new(
            AppConfig {
                lang,
                theme: Theme::NoColor,
                terminal_id: "POS01".into(),
                simulator: false,
                max_amount: scanpay::money::Fen(500_000),
                wedge: Default::default(),
                serial_scanner: false,
            },
            T0,
        );
        update(&mut a, Msg::SyncBacklog(Some(T0 - 30_000)));
        let line = top_line(&a);
        assert!(!line.contains("HQ") && !line.contains("总部"), "{line}");
        update(&mut a, Msg::Tick { at: T0 + 270_000 });
        let line = top_line(&a).replace(' ', "");
        assert!(line.contains(&word.replace(' ', "")), "{line}");
        update(&mut a, Msg::SyncBacklog(None));
        let line = top_line(&a);
        assert!(!line.contains("HQ") && !line.contains("总部"), "{line}");
    }
}

/// A log written before migration 10 (the v1 fixture) queues every row it already has, once,
/// and gets a till id; opening it again queues nothing more.
#[test]
fn an_older_log_queues_what_it_already_has() {
    let tmp = tempfile::tempdir().unwrap();
    for f in ["scanpay.db", "scanpay.db-wal"] {
        std::fs::copy(
            format!("tests/fixtures/v1-shift-log/scanpay-data/{f}"),
            tmp.path().join(f),
        )
        .unwrap();
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let backlog = |rt: &tokio::runtime::Runtime| {
        let store = Store::open(tmp.path()).unwrap();
        rt.block_on(store.call(|c| {
            Ok((
                scanpay::store::outbox::backlog(c)?,
                scanpay::store::outbox::till_id(c)?,
            ))
        }))
        .unwrap()
    };
    let (first, id) = backlog(&rt);
    let rows: i64 = local_counts(tmp.path()).iter().map(|(_, n)| n).sum();
    assert!(rows > 0);
    assert_eq!((first.pending, first.acked_seq), (rows, 0));
    assert_eq!(id.len(), 32, "{id}");
    let (again, id_again) = backlog(&rt);
    assert_eq!((again.pending, id_again), (rows, id));
}

/// TLS to the head office: the server's certificate is verified — against `ca_file` it
/// connects (and the session is encrypted), against the system's trust store (which does not
/// know this test CA) it is refused. Needs the `openssl` command to make the test CA.
#[test]
fn tls_to_the_head_office_is_verified() {
    let Some(pg) = pg::cluster() else {
        return pg::skipped("tls_to_the_head_office_is_verified");
    };
    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: openssl not found (tls_to_the_head_office_is_verified)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let ossl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(t)
            .output()
            .unwrap();
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    };
    ossl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=scanpay test CA",
    ]);
    ossl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(
        t.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    ossl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    // The server's files, owned by the cluster's user, the key private.
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let owner = std::fs::metadata(&pg.dir).unwrap();
    for f in ["server.crt", "server.key"] {
        let to = pg.dir.join(f);
        std::fs::copy(t.join(f), &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(&to, Some(owner.uid()), Some(owner.gid())).unwrap();
    }
    pg.psql(
        "postgres",
        &format!(
            "ALTER SYSTEM SET ssl_cert_file = '{}'",
            pg.dir.join("server.crt").display()
        ),
    );
    pg.psql(
        "postgres",
        &format!(
            "ALTER SYSTEM SET ssl_key_file = '{}'",
            pg.dir.join("server.key").display()
        ),
    );
    pg.psql("postgres", "ALTER SYSTEM SET ssl = on");
    pg.psql("postgres", "SELECT pg_reload_conf()");
    let (_, plain) = pg.fresh_db();
    let url = plain
        .replace("127.0.0.1", "localhost")
        .replace("sslmode=disable", "sslmode=require");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let with_ca = scanpay::config::Sync {
        postgres_url: scanpay::config::check_sync_url(&url).unwrap(),
        interval_secs: 10,
        ca_file: Some(t.join("ca.crt")),
    };
    rt.block_on(async {
        // The reload takes a moment to reach new connections: a few tries, then it must work.
        let mut client = None;
        for _ in 0..50 {
            match scanpay::hq::connect(&with_ca).await {
                Ok(c) => {
                    client = Some(c);
                    break;
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
            }
        }
        let mut client = client.expect("TLS with the test CA connects");
        let ssl: bool = client
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert!(ssl, "the session is encrypted");
        scanpay::hq::schema::init(&mut client).await.unwrap();
        // The system's trust store does not know the test CA: refused, and said so.
        let system = scanpay::config::Sync {
            ca_file: None,
            ..with_ca.clone()
        };
        let err = scanpay::hq::connect(&system).await.unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("cannot connect") && text.contains("certificate"),
            "{text}"
        );
    });
}

/// A till that was offline for long catches up in bounded batches (each its own transaction),
/// and a database without the central schema is refused with the fix (`scanpay hq init`).
#[test]
fn a_long_backlog_ships_in_bounded_batches_and_needs_the_schema() {
    let Some(pg) = pg::cluster() else {
        return pg::skipped("a_long_backlog_ships_in_bounded_batches_and_needs_the_schema");
    };
    let (db, url) = pg.fresh_db();
    let tmp = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sync = scanpay::config::Sync {
        postgres_url: scanpay::config::check_sync_url(&url).unwrap(),
        interval_secs: 10,
        ca_file: None,
    };
    let store = Store::open(tmp.path()).unwrap();
    // 1 shift + 2 500 orders + 7 500 events: 10 001 changes waiting.
    rt.block_on(store.call(|c| {
        c.execute_batch(
            "BEGIN;
             INSERT INTO shifts(id, terminal_id, cashier, opened_at) VALUES (1, 'POS01', 'li', 1);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500)
             INSERT INTO orders(id, out_trade_no, shift_id, terminal_id, cashier, amount_fen,
                 description, code_masked, code_fingerprint, state, machine, created_at, updated_at)
             SELECT i, printf('POS01-20251125-AB-%06d', i), 1, 'POS01', 'li', 100, 'd', 'm',
                 printf('%064d', i), 'PAID', '{}', i, i FROM n;
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 7500)
             INSERT INTO order_events(order_id, at, kind, detail, state_after)
             SELECT (i + 2) / 3, i, 'pay_answer', 'SUCCESS', 'PAID' FROM n;
             COMMIT;",
        )?;
        Ok(())
    }))
    .unwrap();
    let till = scanpay::sync::TillName {
        till_id: "offline-week".into(),
        mode: "live".into(),
        mchid: "1900000001".into(),
        sub_mchid: None,
        store_id: "S1".into(),
        terminal_id: "POS01".into(),
    };
    rt.block_on(async {
        // No schema yet: refused, with the fix; nothing acknowledged.
        let err = scanpay::sync::sync_once(&sync, &store, &till)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("scanpay hq init"), "{err}");
        assert!(!err.is_transient());
        let mut c = scanpay::hq::connect(&sync).await.unwrap();
        scanpay::hq::schema::init(&mut c).await.unwrap();
        let s = scanpay::sync::sync_once(&sync, &store, &till)
            .await
            .unwrap();
        assert_eq!(s.entries, 10_001);
        assert_eq!(s.batches, 10_001_usize.div_ceil(scanpay::sync::BATCH));
        assert_eq!((s.backlog.pending, s.backlog.acked_seq), (0, 10_001));
        // Nothing left: a second run ships nothing.
        let again = scanpay::sync::sync_once(&sync, &store, &till)
            .await
            .unwrap();
        assert_eq!((again.rows, again.batches), (0, 0));
    });
    assert_eq!(
        count(pg, &db, "SELECT COUNT(*) FROM hq_order_events"),
        7_500
    );
    assert_eq!(
        count(
            pg,
            &db,
            "SELECT shipped_seq FROM hq_tills WHERE till_id = 'offline-week'"
        ),
        10_001
    );
}

/// The cashier screen ships by itself, in the background, every `interval_secs`: a sale made
/// on the screen reaches the head office, PAID, without any command.
#[test]
fn the_cashier_screen_ships_in_the_background() {
    let Some(pg) = pg::cluster() else {
        return pg::skipped("the_cashier_screen_ships_in_the_background");
    };
    let (db, url) = pg.fresh_db();
    let dir = tempfile::tempdir().unwrap();
    let mut t = config::demo();
    config::set(&mut t, "language", "en");
    config::insert(&mut t, "sync.postgres_url", url.as_str());
    config::insert(&mut t, "sync.interval_secs", 1);
    let cfg = config::write(&t, &dir.path().join("scanpay.toml"));
    let out = scanpay(&cfg, &["hq", "init"], &[]);
    assert!(out.status.success(), "{out:?}");
    let mut tty = common::pty::spawn_cmd(std::process::Command::new(common::BIN), dir.path());
    tty.wait_for("Amount to charge", 20);
    tty.type_like_a_person("12.34");
    tty.send(b"\r");
    tty.wait_for("Scan the customer's payment code", 5);
    tty.send(b"134567890123456711\r");
    tty.wait_for("PAID", 10);
    // Bounded wait for the shipper (every second): the sale arrives PAID.
    let end = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let got = pg.psql(
            &db,
            "SELECT COUNT(*) FROM hq_orders WHERE state = 'PAID' AND amount_fen = 1234",
        );
        if got == "1" {
            break;
        }
        assert!(
            std::time::Instant::now() < end,
            "the screen never shipped the sale: {}",
            tty.text()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(count(pg, &db, "SELECT COUNT(*) FROM hq_tills"), 1);
}

/// A data folder restored from a backup older than what the head office has for it is
/// refused (its next rows would reuse ids the head office holds with other contents), and
/// nothing is shipped from it.
#[test]
fn a_log_restored_from_an_older_backup_is_refused() {
    let Some(pg) = pg::cluster() else {
        return pg::skipped("a_log_restored_from_an_older_backup_is_refused");
    };
    let (db, url) = pg.fresh_db();
    let tmp = tempfile::tempdir().unwrap();
    let (live, restored) = (tmp.path().join("live"), tmp.path().join("restored"));
    std::fs::create_dir_all(&restored).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sync = scanpay::config::Sync {
        postgres_url: scanpay::config::check_sync_url(&url).unwrap(),
        interval_secs: 10,
        ca_file: None,
    };
    let store = Store::open(&live).unwrap();
    let backup = restored.join("scanpay.db");
    rt.block_on(store.call(move |c| {
        c.execute(
            "INSERT INTO audit_log(at, actor, action, detail) VALUES (1, 'a', 'x', 'before')",
            [],
        )?;
        c.execute("VACUUM INTO ?1", [backup.display().to_string()])?;
        c.execute(
            "INSERT INTO audit_log(at, actor, action, detail) VALUES (2, 'a', 'x', 'after')",
            [],
        )?;
        Ok(())
    }))
    .unwrap();
    let till_id = rt
        .block_on(store.call(|c| scanpay::store::outbox::till_id(c)))
        .unwrap();
    let till = scanpay::sync::TillName {
        till_id,
        mode: "live".into(),
        mchid: "1900000001".into(),
        sub_mchid: None,
        store_id: "S1".into(),
        terminal_id: "POS01".into(),
    };
    rt.block_on(async {
        let mut c = scanpay::hq::connect(&sync).await.unwrap();
        scanpay::hq::schema::init(&mut c).await.unwrap();
        let s = scanpay::sync::sync_once(&sync, &store, &till)
            .await
            .unwrap();
        assert_eq!(s.backlog.acked_seq, 2);
        // The restored copy (one change) writes something else as its second change.
        let old = Store::open(&restored).unwrap();
        old.call(|c| {
            c.execute(
                "INSERT INTO audit_log(at, actor, action, detail) VALUES (3, 'b', 'y', 'other')",
                [],
            )?;
            Ok(())
        })
        .await
        .unwrap();
        // Its log ends at #2 like the head office's, but its #2 is another row: refused.
        let err = scanpay::sync::sync_once(&sync, &old, &till)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("older backup"), "{err}");
        assert!(!err.is_transient());
        let acked = old
            .call(|c| scanpay::store::outbox::acked(c))
            .await
            .unwrap();
        assert_eq!(acked, 0, "nothing acknowledged");
        // The live log, shipping again from the start (as after a kill), is not refused.
        store
            .call(|c| {
                c.execute("UPDATE meta SET value = '0' WHERE key = 'sync_acked'", [])?;
                Ok(())
            })
            .await
            .unwrap();
        let again = scanpay::sync::sync_once(&sync, &store, &till)
            .await
            .unwrap();
        assert_eq!(again.backlog.acked_seq, 2);
    });
    // What the head office holds for the till is unchanged: the 'after' row, not 'other'.
    assert_eq!(
        pg.psql(&db, "SELECT row->>'detail' FROM hq_audit_log ORDER BY id"),
        "before\nafter"
    );
}
