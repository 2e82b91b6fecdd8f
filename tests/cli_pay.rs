//! `scanpay pay`, the real binary, against a standalone `scanpay sim` for every scenario:
//! exit status, JSON, database rows, and agreement with the simulator's ledger.

mod common;

use std::path::PathBuf;

use common::*;

#[test]
fn every_scenario_through_the_real_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = start_sim(&tmp.path().join("keys"));
    let cases: Vec<(&str, &str, i32)> = vec![
        ("11", "PAID", 0),
        ("01", "PAID", 0),
        ("02", "REVERSED", 1),
        ("03", "REVERSED", 1),
        ("04", "FAILED", 1),
        ("05", "FAILED", 1),
        ("06", "PAID", 0),
        ("07", "PAID", 0),
        ("08", "FAILED", 1),
        ("09", "REVERSED", 1),
        ("10", "PAID", 0),
    ];
    // Each scenario on its own till (data folder, terminal id), all at once.
    let tills: Vec<PathBuf> = cases
        .iter()
        .enumerate()
        .map(|(i, _)| sim.till(&tmp.path().join(format!("till{i}")), &format!("T{i:02}")))
        .collect();
    let handles: Vec<_> = cases
        .iter()
        .zip(&tills)
        .map(|((suffix, _, _), till)| {
            let till = till.clone();
            let code = format!("1345678901234567{suffix}");
            std::thread::spawn(move || {
                scanpay(
                    &till,
                    &["pay", "--amount", "12.34", "--code", &code, "--json"],
                    &[],
                )
            })
        })
        .collect();
    for (((suffix, state, exit), till), h) in cases.iter().zip(&tills).zip(handles) {
        let out = h.join().unwrap();
        assert_eq!(out.status.code(), Some(*exit), "scenario {suffix}: {out:?}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{suffix}: {e}: {out:?}"));
        assert_eq!(v["state"], *state, "scenario {suffix}: {v}");
        assert_eq!(v["amount_fen"], 1234);
        let no = v["out_trade_no"].as_str().unwrap().to_string();
        assert!(
            no.len() <= 32
                && no.starts_with(&format!(
                    "T{:02}-",
                    cases.iter().position(|c| c.0 == *suffix).unwrap()
                ))
        );
        assert!(!v["message"].as_str().unwrap().is_empty());
        if *state == "PAID" {
            assert_eq!(v["transaction_id"].as_str().unwrap().len(), 28);
        } else {
            assert!(v["transaction_id"].is_null());
        }
        // Database rows: the order and its timeline.
        let dir = till.parent().unwrap();
        assert_eq!(local_orders(dir), vec![(no.clone(), state.to_string())]);
        let kinds = event_kinds(dir, &no);
        assert_eq!(
            &kinds[..2],
            ["created", "pay_request"],
            "{suffix}: {kinds:?}"
        );
        assert_eq!(kinds.iter().filter(|k| *k == "pay_request").count(), 1);
        if *state == "REVERSED" {
            assert!(
                kinds.contains(&"reverse_request".to_string()),
                "{suffix}: {kinds:?}"
            );
        }
        // The simulator agrees: charged exactly when PAID here.
        assert_eq!(sim.charged(&no), *state == "PAID", "scenario {suffix}");
    }
}

#[test]
fn usage_errors_exit_2_and_say_why() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(BIN)
            .current_dir(tmp.path())
            .env_remove("SCANPAY_CONFIG")
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["pay", "--amount", "12.345", "--code", "134567890123456711"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("at most two decimals"),
        "{out:?}"
    );
    let out = run(&["pay", "--amount", "99999", "--code", "134567890123456711"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("over the limit"),
        "{out:?}"
    );
    let out = run(&["pay", "--amount", "1", "--code", "289431869362714645"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("Alipay")
            && err.contains("2894 **** **** 4645")
            && !err.contains("289431869362714645"),
        "{err}"
    );
    let out = run(&["pay", "--amount", "1"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn live_mode_needs_an_open_shift_and_shifts_close_with_a_z() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = start_sim(&tmp.path().join("keys"));
    let till = sim.till(&tmp.path().join("till"), "T99");
    let out = scanpay(&till, &["shift", "open", "--cashier", "t2"], &[]);
    assert_eq!(out.status.code(), Some(1), "a second open shift is refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("still open"));
    let out = scanpay(
        &till,
        &[
            "pay",
            "--amount",
            "1.00",
            "--code",
            "134567890123456712",
            "--json",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = scanpay(&till, &["orders", "--json"], &[]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(list[0]["created_at"].as_str().unwrap().ends_with("+08:00"));
    let out = scanpay(&till, &["report", "x", "--json"], &[]);
    let x: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(x["paid_fen"], 100);
    let out = scanpay(&till, &["shift", "close", "--json"], &[]);
    assert!(out.status.success(), "{out:?}");
    let z: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(z["z_number"], 1);
    let out = scanpay(
        &till,
        &["pay", "--amount", "1.00", "--code", "134567890123456713"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no shift is open"),
        "{out:?}"
    );
    let out = scanpay(&till, &["report", "z", "1", "--json"], &[]);
    let z1: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(z1["paid_count"], 1);
}

#[test]
fn a_second_process_is_told_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = start_sim(&tmp.path().join("keys"));
    let till = sim.till(&tmp.path().join("till"), "T98");
    // A payment whose customer never confirms keeps the first process busy.
    let mut first = std::process::Command::new(BIN)
        .arg("--config")
        .arg(&till)
        .args(["pay", "--amount", "1", "--code", "134567890123456703"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (bounded) until it holds the log: its order is in the database.
    let dir = till.parent().unwrap();
    let db = dir.join("data/scanpay.db");
    let mut seen = false;
    for _ in 0..200 {
        if db.exists() && !local_orders(dir).is_empty() {
            seen = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(seen, "first process never wrote its order");
    let out = scanpay(
        &till,
        &["pay", "--amount", "2", "--code", "134567890123456714"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("another scanpay (pid") && err.contains(&first.id().to_string()),
        "{err}"
    );
    // Read-only commands still work while it runs.
    let out = scanpay(&till, &["orders"], &[]);
    assert!(out.status.success());
    let status = first.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(1),
        "never confirmed: reversed, not charged"
    );
}
