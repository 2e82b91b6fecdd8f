//! `scanpay reprint`: works from the shift log alone — no network, no simulator running —
//! prints exactly one marked copy per request, and records it in the audit log.

mod common;

use std::io::Read;
use std::process::Command;

use common::BIN;
use common::config;
use common::fixtures::{code, customer};

#[test]
fn reprint_offline_one_copy_per_request() {
    let dir = tempfile::tempdir().unwrap();
    // A sale in the demo (in-process simulator).
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .env_remove("SCANPAY_CONFIG")
        .args([
            "pay",
            "--amount",
            "23.40",
            "--code",
            code(customer::PAYS_AT_ONCE).as_str(),
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let no = v["out_trade_no"].as_str().unwrap().to_string();

    // The same data folder (it belongs to the simulator's merchant for life, so a
    // simulator-mode configuration) with a loopback "printer". Reprint starts no payment
    // service: the shift log alone.
    let printer = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut with_printer = config::demo();
    config::insert(&mut with_printer, "printer.kind", "tcp");
    config::insert(
        &mut with_printer,
        "printer.address",
        printer.local_addr().unwrap().to_string(),
    );
    config::insert(&mut with_printer, "printer.width", 48);
    config::write(&with_printer, &dir.path().join("printer.toml"));
    let reprint = |to: &str| {
        Command::new(BIN)
            .current_dir(dir.path())
            .args(["--config", "printer.toml", "reprint", &no, "--to", to])
            .output()
            .unwrap()
    };

    let out = reprint("file");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("重印 / COPY"), "{text}");
    assert!(text.contains(&no) && text.contains("¥23.40"), "{text}");

    let handle = std::thread::spawn(move || {
        let (mut c, _) = printer.accept().unwrap();
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap();
        got
    });
    let out = reprint("printer");
    assert!(out.status.success(), "{out:?}");
    let bytes = handle.join().unwrap();
    assert!(!bytes.is_empty());

    // Two requests, two copies, two audit entries.
    let spooled: Vec<_> = std::fs::read_dir(dir.path().join("scanpay-data/receipts"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("-copy-"))
        .collect();
    assert_eq!(spooled.len(), 2);
    let db = rusqlite::Connection::open(dir.path().join("scanpay-data/scanpay.db")).unwrap();
    let n: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'reprint'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 2);

    // An order that was not charged has no receipt.
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .env_remove("SCANPAY_CONFIG")
        .args([
            "pay",
            "--amount",
            "1",
            "--code",
            code(customer::NOT_ENOUGH).as_str(),
            "--json",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let failed = v["out_trade_no"].as_str().unwrap();
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .args([
            "--config",
            "printer.toml",
            "reprint",
            failed,
            "--to",
            "file",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no receipt"),
        "{out:?}"
    );
}
