//! The manager's commands through the real binary on the demo: refunds approved by a
//! supervisor PIN read from standard input, a forced Z, export and backup.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::*;

fn run(dir: &std::path::Path, args: &[&str], stdin: &str) -> Output {
    run_in(dir, args, stdin, &[])
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {o:?}"))
}

#[test]
fn refunds_forced_close_export_and_backup() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let paid = json(&run(
        d,
        &[
            "pay",
            "--amount",
            "10.00",
            "--code",
            "134567890123456711",
            "--json",
        ],
        "",
    ));
    let no = paid["out_trade_no"].as_str().unwrap().to_string();

    // A wrong PIN: refused, nothing refunded, the refusal is audited.
    let out = run(
        d,
        &[
            "refund",
            &no,
            "--amount",
            "3.00",
            "--reason",
            "damaged",
            "--supervisor",
            "demo",
        ],
        "9182\n",
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not approved"),
        "{out:?}"
    );

    // The demo supervisor approves: a partial refund, then the rest, then nothing more.
    let out = run(
        d,
        &[
            "refund",
            &no,
            "--amount",
            "3.00",
            "--reason",
            "damaged",
            "--supervisor",
            "demo",
            "--json",
        ],
        "0000\n",
    );
    assert!(out.status.success(), "{out:?}");
    let r = json(&out);
    assert_eq!(r["status"], "SUCCESS");
    assert_eq!(r["out_refund_no"], format!("{no}-R1"));
    let out = run(
        d,
        &[
            "refund", &no, "--amount", "7.01", "--reason", "too much", "--json",
        ],
        "0000\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("at most ¥7.00 left"),
        "{out:?}"
    );
    let out = run(
        d,
        &[
            "refund", &no, "--amount", "7.00", "--reason", "rest", "--json",
        ],
        "0000\n",
    );
    assert_eq!(json(&out)["status"], "SUCCESS");
    let orders = json(&run(d, &["orders", "--json"], ""));
    assert_eq!(orders[0]["state"], "REFUNDED");

    // X shows the refunds and the net.
    let x = json(&run(d, &["report", "x", "--json"], ""));
    assert_eq!(
        (
            x["paid_fen"].as_i64(),
            x["refund_fen"].as_i64(),
            x["net_fen"].as_i64()
        ),
        (Some(1000), Some(1000), Some(0))
    );
    assert_eq!(x["by_cashier"][0][0], "demo");

    // Export: UTF-8 with BOM by default, CRLF, one row per order.
    let day =
        scanpay::clock::beijing::date(scanpay::clock::Clock::now_ms(&scanpay::clock::SystemClock));
    let out = run(d, &["export", "--from", &day, "--to", &day], "");
    assert!(
        out.stdout.starts_with("\u{feff}out_trade_no,".as_bytes()),
        "{out:?}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    let out = run(
        d,
        &[
            "export", "--from", &day, "--to", &day, "--what", "refunds", "--no-bom",
        ],
        "",
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("out_refund_no,") && text.contains(&format!("{no}-R2")),
        "{text}"
    );

    // Backup while nothing runs, and the automatic one at Z.
    let out = run(d, &["backup", "copy.db"], "");
    assert!(out.status.success(), "{out:?}");
    let n: i64 = rusqlite::Connection::open(d.join("copy.db"))
        .unwrap()
        .query_row("SELECT COUNT(*) FROM refunds", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
    let z = run(d, &["shift", "close", "--json"], "");
    assert!(z.status.success(), "{z:?}");
    assert!(d.join("scanpay-data/backups/scanpay-z00001.db").exists());

    // The audit log has the approvals and the refusal, and never the PIN.
    let db = rusqlite::Connection::open(d.join("scanpay-data/scanpay.db")).unwrap();
    let rows: Vec<(String, String)> = db
        .prepare("SELECT action, detail FROM audit_log ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(rows.iter().any(|(a, _)| a == "refuse"), "{rows:?}");
    assert!(
        rows.iter().filter(|(a, _)| a == "approve").count() >= 3,
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .all(|(_, d)| !d.contains("9182") && !d.contains("argon2")),
        "{rows:?}"
    );
}

#[test]
fn a_supervisor_forces_a_close_over_unsettled_orders() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A payment interrupted with its order left PENDING (killed before the pay call).
    let out = Command::new(BIN)
        .current_dir(d)
        .env_remove("SCANPAY_CONFIG")
        .env("SCANPAY_FAILPOINT", "pay.before_send")
        .args(["pay", "--amount", "5", "--code", "134567890123456711"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    // Mark it unresolved, as a failed recovery would.
    let db = rusqlite::Connection::open(d.join("scanpay-data/scanpay.db")).unwrap();
    db.execute("UPDATE orders SET state = 'UNRESOLVED'", [])
        .unwrap();
    drop(db);
    let out = run(d, &["shift", "close"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("UNRESOLVED"),
        "{out:?}"
    );
    let out = run(
        d,
        &[
            "shift",
            "close",
            "--force",
            "--supervisor",
            "demo",
            "--json",
        ],
        "0000\n",
    );
    assert!(out.status.success(), "{out:?}");
    let z = json(&out);
    assert_eq!(z["summary"]["forced_by"], "demo");
    assert_eq!(z["summary"]["open_orders"][0][1], "UNRESOLVED");
}

#[test]
fn a_refund_interrupted_after_its_request_is_recovered_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let paid = json(&run(
        d,
        &[
            "pay",
            "--amount",
            "8.00",
            "--code",
            "134567890123456712",
            "--json",
        ],
        "",
    ));
    let no = paid["out_trade_no"].as_str().unwrap().to_string();
    let mut child = Command::new(BIN)
        .current_dir(d)
        .env_remove("SCANPAY_CONFIG")
        .env("SCANPAY_FAILPOINT", "refund.after_send")
        .args(["refund", &no, "--amount", "2.00", "--reason", "crash"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"0000\n").unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed after the refund request");
    let out = run(d, &["recover"], "");
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("SUCCESS"),
        "{out:?}"
    );
    let db = rusqlite::Connection::open(d.join("scanpay-data/scanpay.db")).unwrap();
    let (n, status): (i64, String) = db
        .query_row("SELECT COUNT(*), MAX(status) FROM refunds", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((n, status.as_str()), (1, "SUCCESS"));
    // The simulator (the demo keeps its books on disk) refunded exactly once.
    let ledger: serde_json::Value = serde_json::from_slice(
        &std::fs::read(d.join("scanpay-data/simulator/ledger.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(ledger["refunds"].as_object().unwrap().len(), 1);
}
