//! Bad input and damaged files: power-loss-like truncation of the WAL, random bytes as answer
//! bodies and as configuration files (the proptest twins of the fuzz targets in `fuzz/`), and
//! the checks that payment codes never reach the log, the database or a receipt.

use std::path::Path;

use proptest::prelude::*;
use scanpay::config::{Config, FoundBy, Source};
use scanpay::engine::micropay::{Machine, Timing};
use scanpay::money::Fen;
use scanpay::order::EventKind;
use scanpay::store::{open_connection, orders, shifts};
use scanpay::wechat::model::{ErrorBody, Refund, Transaction};

fn order(shift: i64, i: i64) -> orders::NewOrder {
    orders::NewOrder {
        shift_id: shift,
        terminal_id: "POS01".into(),
        cashier: "li".into(),
        amount: Fen(100 + i),
        description: String::new(),
        code_masked: "1345 **** **** 6711".into(),
        code_fingerprint: format!("f{i}"),
        protocol: scanpay::config::Api::V3,
        party: scanpay::order::PartyKind::Direct,
        sub_mchid: None,
    }
}

/// Power loss in the middle of writing the WAL, simulated on copies of the files: the database
/// opens (or reports), never panics, and every order it shows is whole.
#[test]
fn a_truncated_wal_never_panics_and_keeps_whole_commits() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db");
    let mut conn = open_connection(&db).unwrap();
    // Keep the WAL (no checkpoint) so the commits live in it.
    conn.execute_batch("PRAGMA wal_autocheckpoint = 0").unwrap();
    let shift = shifts::open(&mut conn, "POS01", "li", 0).unwrap();
    for i in 0..40 {
        let m = Machine::new(100 + i, Timing::from_secs(5, 45));
        let o = orders::create(
            &mut conn,
            &order(shift.id, i),
            m.state(),
            &m.to_snapshot(),
            i,
        )
        .unwrap();
        let paid = orders::Change {
            kind: EventKind::PayAnswer,
            detail: "{}",
            state: scanpay::engine::OrderState::Paid,
            snapshot: &m.to_snapshot(),
            transaction_id: None,
            reason: None,
        };
        orders::record(&mut conn, o.id, &paid, i).unwrap();
    }
    let wal = std::fs::read(dir.path().join("live.db-wal")).unwrap();
    let main = std::fs::read(&db).unwrap();
    assert!(wal.len() > 10_000, "the commits are in the WAL");
    let mut opened = 0;
    for cut in (0..wal.len())
        .step_by(wal.len() / 23 + 1)
        .chain([wal.len() - 1, 33, 4096 + 24 + 7])
    {
        let copy = dir.path().join(format!("cut{cut}.db"));
        std::fs::write(&copy, &main).unwrap();
        std::fs::write(dir.path().join(format!("cut{cut}.db-wal")), &wal[..cut]).unwrap();
        match open_connection(&copy) {
            Ok(c) => {
                opened += 1;
                // Every order present is whole: its events are there and its state is one of ours.
                let all = orders::all(&c).unwrap();
                for o in &all {
                    let ev = orders::events(&c, o.id).unwrap();
                    assert!(
                        !ev.is_empty() && ev[0].kind == EventKind::Created,
                        "cut {cut}: {} has no creation event",
                        o.out_trade_no
                    );
                }
                assert!(all.len() <= 40);
            }
            Err(e) => {
                // A clear error is acceptable; a panic is not.
                assert!(!e.to_string().is_empty());
            }
        }
    }
    assert!(opened > 0);
}

proptest! {
    #[test]
    fn answer_bodies_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400), text in "\\PC{0,200}") {
        for b in [bytes.as_slice(), text.as_bytes()] {
            let _ = serde_json::from_slice::<Transaction>(b);
            let _ = serde_json::from_slice::<ErrorBody>(b);
            let _ = serde_json::from_slice::<Refund>(b);
        }
    }

    #[test]
    fn json_shaped_answers_never_panic(state in "[A-Z_]{0,12}", total in any::<i64>(), extra in "\\PC{0,40}") {
        let body = format!(r#"{{"trade_state":"{state}","amount":{{"total":{total}}},"x":"{}"}}"#, extra.replace(['"', '\\'], ""));
        if let Ok(t) = serde_json::from_str::<Transaction>(&body) {
            prop_assert_eq!(t.trade_state.as_str(), state.as_str());
        }
    }

    #[test]
    fn configuration_files_never_panic(text in "\\PC{0,300}", toml_like in "(\\[[a-z]{1,10}\\]\n)?([a-z_]{1,12} = (\"[^\"\n]{0,20}\"|[0-9]{1,6}|true)\n){0,8}") {
        let dir = tempfile::tempdir().unwrap();
        for t in [text, toml_like] {
            let p = dir.path().join("c.toml");
            std::fs::write(&p, &t).unwrap();
            if let Err(e) = Config::load_from(Source::File { path: p.clone(), found_by: FoundBy::Flag }) {
                prop_assert!(e.to_string().starts_with(&format!("config file {}", p.display())), "{}", e);
            }
        }
    }
}

/// Searches every file under `dir` for `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p)
                && bytes.windows(needle.len()).any(|w| w == needle)
            {
                hits.push(p.display().to_string());
            }
        }
    }
    hits
}

/// After real payments, reprints and a crash, no file of the data folder — database, WAL, log,
/// receipts, simulator books — holds a full payment code.
#[test]
fn payment_codes_never_reach_any_file() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_scanpay");
    let codes = [
        "134567890123456711",
        "134567890123456704",
        "134567890123456799",
    ];
    for code in codes {
        std::process::Command::new(bin)
            .current_dir(dir.path())
            .env_remove("SCANPAY_CONFIG")
            .env("SCANPAY_LOG", "debug")
            .args(["pay", "--amount", "1.23", "--code", code, "--json"])
            .output()
            .unwrap();
    }
    // A crash right after the pay call was answered, and the recovery.
    let crash_code = "134567890123456798";
    std::process::Command::new(bin)
        .current_dir(dir.path())
        .env_remove("SCANPAY_CONFIG")
        .env("SCANPAY_FAILPOINT", "pay.after_send")
        .args(["pay", "--amount", "2", "--code", crash_code])
        .output()
        .unwrap();
    std::process::Command::new(bin)
        .current_dir(dir.path())
        .env_remove("SCANPAY_CONFIG")
        .args(["recover"])
        .output()
        .unwrap();
    let paid = std::process::Command::new(bin)
        .current_dir(dir.path())
        .args(["orders", "--json"])
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&paid.stdout).unwrap();
    let no = list[0]["out_trade_no"].as_str().unwrap();
    std::process::Command::new(bin)
        .current_dir(dir.path())
        .args(["reprint", no, "--to", "file"])
        .output()
        .unwrap();
    let data = dir.path().join("scanpay-data");
    assert!(data.join("scanpay.db").exists());
    for code in codes.iter().chain([&crash_code]) {
        let hits = files_containing(&data, code.as_bytes());
        assert!(hits.is_empty(), "{code} found in {hits:?}");
        // The masked form is what is kept.
        let masked = format!("{} **** **** {}", &code[..4], &code[14..]);
        assert!(
            !files_containing(&data, masked.as_bytes()).is_empty(),
            "{masked} is kept"
        );
    }
}
