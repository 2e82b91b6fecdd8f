//! Real SIGKILLs of the binary at random moments — not at named crash points — across payments,
//! refunds, shift close and shipping to the head office (`scanpay sync`, when PostgreSQL is
//! installed: a throw-away cluster, `tests/common/pg.rs`), on several tills at once against one
//! standalone simulator. After each kill the till runs `scanpay recover`, and then:
//!
//! - every order is settled, and charged at the simulator exactly when it is paid (or refunded)
//!   locally; exactly one pay request per order;
//! - every refund the simulator holds is in the log with the same amount, and every refund the
//!   log calls SUCCESS is SUCCESS there; an order's refunds never exceed its amount;
//! - at most one shift is open, and every closed shift has its Z report;
//! - at the end, after one clean `scanpay sync`, the head office holds exactly the till's rows:
//!   as many of each kind as the till's own log, none twice.
//!
//! `cargo test` runs a few kills; `SCANPAY_KILLS=N` (and `SCANPAY_KILL_SEED`, `SCANPAY_KILL_TILLS`)
//! runs many: `scripts/kill-anywhere.sh` (docs/robustness.md, "Real SIGKILLs at random moments").

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::pg;
use common::*;

const PIN: &str = "246810";

/// A reproducible stream of numbers (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What one kill interrupted.
#[derive(Default, Debug)]
struct Tally {
    kills: u64,
    finished_first: u64,
    pays: u64,
    refunds: u64,
    closes: u64,
    syncs: u64,
}

/// Runs `args` and SIGKILLs it `after` from its start (unless it ended first). Returns whether
/// it was killed.
fn run_and_kill(config: &Path, args: &[&str], stdin: &str, after: Duration) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_scanpay"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("SCANPAY_CONFIG")
        .env_remove("SCANPAY_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    if let Some(mut i) = child.stdin.take() {
        let _ = i.write_all(stdin.as_bytes());
    }
    let deadline = Instant::now() + after;
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Paid orders with something left to refund: (out_trade_no, amount left in fen).
fn refundable(data: &Path) -> Vec<(String, i64)> {
    let conn = rusqlite::Connection::open(data.join("scanpay.db")).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT o.out_trade_no, o.amount_fen - COALESCE((SELECT SUM(r.amount_fen) FROM refunds r
               WHERE r.order_id = o.id AND r.status <> 'ABNORMAL'), 0)
             FROM orders o WHERE o.state IN ('PAID', 'PARTIALLY_REFUNDED')",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<Vec<(String, i64)>, _>>()
        .unwrap()
        .into_iter()
        .filter(|(_, left)| *left > 0)
        .collect()
}

/// The invariants after recovery.
fn check(sim: &Sim, data: &Path, context: &str) {
    let ledger = sim.ledger();
    let conn = rusqlite::Connection::open(data.join("scanpay.db")).unwrap();
    let orders: Vec<(i64, String, String, i64)> = conn
        .prepare("SELECT id, out_trade_no, state, amount_fen FROM orders")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (id, no, state, amount) in &orders {
        assert!(
            matches!(
                state.as_str(),
                "PAID" | "FAILED" | "REVERSED" | "PARTIALLY_REFUNDED" | "REFUNDED"
            ),
            "{context}: {no} left {state}"
        );
        let charged = matches!(
            ledger["orders"][no]["state"].as_str(),
            Some("SUCCESS" | "REFUND")
        );
        let paid_here = matches!(state.as_str(), "PAID" | "PARTIALLY_REFUNDED" | "REFUNDED");
        assert_eq!(
            charged, paid_here,
            "{context}: {no} is {state} here, the ledger disagrees"
        );
        let pay_requests: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM order_events WHERE order_id = ?1 AND kind = 'pay_request'",
                [id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(pay_requests, 1, "{context}: {no}");
        let refunded: i64 = conn
            .query_row(
                "SELECT COALESCE(SUM(amount_fen), 0) FROM refunds WHERE order_id = ?1 AND status = 'SUCCESS'",
                [id],
                |r| r.get(0),
            )
            .unwrap();
        assert!(refunded <= *amount, "{context}: {no} over-refunded");
    }
    let local: HashMap<String, (i64, String)> = conn
        .prepare("SELECT out_refund_no, amount_fen, status FROM refunds")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let prefix = orders
        .first()
        .map(|o| o.1.split('-').next().unwrap_or("").to_string());
    if let Some(refunds) = ledger["refunds"].as_object() {
        for (no, r) in refunds {
            if prefix
                .as_ref()
                .is_none_or(|p| !no.starts_with(&format!("{p}-")))
            {
                continue; // another till's
            }
            let (amount, status) = local
                .get(no)
                .unwrap_or_else(|| panic!("{context}: refund {no} at WeChat, not in the log"));
            assert_eq!(Some(*amount), r["amount"].as_i64(), "{context}: {no}");
            if status == "SUCCESS" {
                assert_eq!(r["status"], "SUCCESS", "{context}: {no}");
            }
        }
    }
    for (no, (_, status)) in &local {
        if status == "SUCCESS" {
            assert_eq!(
                ledger["refunds"][no]["status"], "SUCCESS",
                "{context}: refund {no} SUCCESS here only"
            );
        }
    }
    let open: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM shifts WHERE closed_at IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(open <= 1, "{context}: {open} shifts open");
    let closed_without_z: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM shifts s WHERE s.closed_at IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM z_reports z WHERE z.shift_id = s.id)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        closed_without_z, 0,
        "{context}: a closed shift without its Z"
    );
}

/// One till's run of `kills` random kills.
fn till_run(
    sim: &Sim,
    root: &Path,
    index: usize,
    kills: u64,
    seed: u64,
    hq: Option<(&pg::Cluster, &str, &str)>,
) -> Tally {
    let dir = root.join(format!("till{index}"));
    let mut config = sim.till(&dir, &format!("K{index:02}"));
    if let Some((_, _, url)) = hq {
        let mut t = common::config::read(&config);
        common::config::insert(&mut t, "sync.postgres_url", url);
        config = common::config::write(&t, &config);
    }
    let data: PathBuf = dir.join("data");
    let out = run_config(
        &config,
        &["supervisor", "init", "boss"],
        &format!("{PIN}\n"),
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    let mut rng = Rng(seed ^ (index as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let customers = [
        "11", "11", "11", "01", "02", "03", "04", "06", "07", "09", "10",
    ];
    let mut tally = Tally::default();
    let mut n = 0u64;
    // Until `kills` actions were killed (an action that ends before its moment counts apart).
    while tally.kills < kills && tally.finished_first < 3 * kills + 10 {
        n += 1;
        let roll = rng.below(10);
        // A moment within what the action takes: a start-up and a commit or two for most, the
        // customer's confirmation (up to 9 s) for a payment.
        let after = Duration::from_millis(match rng.below(3) {
            0 => rng.below(150),
            1 => rng.below(600),
            _ => rng.below(9000),
        });
        let killed = if roll < 7 {
            tally.pays += 1;
            let suffix = customers[rng.below(customers.len() as u64) as usize];
            let code = format!("13{:04}{n:010}{suffix}", index);
            let amount = format!("{}.{:02}", 1 + rng.below(50), rng.below(100));
            run_and_kill(
                &config,
                &["pay", "--amount", &amount, "--code", &code],
                "",
                after,
            )
        } else if roll < 8 || (roll == 9 && hq.is_none()) {
            let candidates = refundable(&data);
            if candidates.is_empty() {
                continue;
            }
            tally.refunds += 1;
            let (no, left) = &candidates[rng.below(candidates.len() as u64) as usize];
            let fen = 1 + rng.below(*left as u64) as i64;
            let amount = format!("{}.{:02}", fen / 100, fen % 100);
            run_and_kill(
                &config,
                &[
                    "refund",
                    no,
                    "--amount",
                    &amount,
                    "--reason",
                    "kill test",
                    "--supervisor",
                    "boss",
                ],
                &format!("{PIN}\n"),
                after,
            )
        } else if roll == 8 {
            tally.closes += 1;
            run_and_kill(&config, &["shift", "close"], "", after)
        } else {
            tally.syncs += 1;
            run_and_kill(&config, &["sync"], "", after)
        };
        if killed {
            tally.kills += 1;
        } else {
            tally.finished_first += 1;
        }
        let out = run_config(&config, &["recover"], "", &[]);
        assert!(
            out.status.success(),
            "till {index}, action {n}: recover: {out:?}"
        );
        check(
            sim,
            &data,
            &format!("till {index}, action {n} (seed {seed})"),
        );
        // A closed shift (killed after it committed, or finished) is reopened for the next sale.
        let open = run_config(&config, &["shift", "open", "--cashier", "t1"], "", &[]);
        let _ = open;
    }
    if let Some((pg, db, _)) = hq {
        // One clean shipment; then the head office holds exactly what the till holds.
        let out = run_config(&config, &["sync"], "", &[]);
        assert!(out.status.success(), "till {index}: sync: {out:?}");
        let conn = rusqlite::Connection::open(data.join("scanpay.db")).unwrap();
        let till_id: String = conn
            .query_row("SELECT value FROM meta WHERE key = 'till_id'", [], |r| {
                r.get(0)
            })
            .unwrap();
        // Every table the till ships (the library's list, so a new one cannot be forgotten).
        for (t, _) in scanpay::store::outbox::SHIPPED {
            let local: i64 = conn
                .query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
                .unwrap();
            let central: i64 = pg
                .psql(
                    db,
                    &format!("SELECT COUNT(*) FROM hq_{t} WHERE till_id = '{till_id}'"),
                )
                .trim()
                .parse()
                .unwrap();
            assert_eq!(central, local, "till {index}: {t} at the head office");
        }
    }
    tally
}

#[test]
fn sigkill_at_random_moments_then_recover_agrees_with_the_ledger() {
    let kills: u64 = std::env::var("SCANPAY_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let tills: usize = std::env::var("SCANPAY_KILL_TILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let seed: u64 = std::env::var("SCANPAY_KILL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_261_130);
    let tmp = tempfile::tempdir().unwrap();
    let sim = start_sim(&tmp.path().join("keys"));
    let per_till = kills.div_ceil(tills as u64);
    // The head office, when PostgreSQL is here (otherwise the shipping part is skipped, loudly).
    let hq = match pg::cluster() {
        Some(pg) => {
            let (db, url) = pg.fresh_db();
            let init = sim.till(&tmp.path().join("hq"), "HQ");
            let mut t = common::config::read(&init);
            common::config::insert(&mut t, "sync.postgres_url", url.as_str());
            let init = common::config::write(&t, &init);
            let out = run_config(&init, &["hq", "init"], "", &[]);
            assert!(out.status.success(), "{out:?}");
            Some((pg, db, url))
        }
        None => {
            pg::skipped("kill_anywhere (the head-office shipping part)");
            None
        }
    };
    let tallies: Vec<Tally> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..tills)
            .map(|i| {
                let sim = &sim;
                let root = tmp.path();
                let hq = hq
                    .as_ref()
                    .map(|(pg, db, url)| (*pg, db.as_str(), url.as_str()));
                s.spawn(move || till_run(sim, root, i, per_till, seed, hq))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let sum = |f: fn(&Tally) -> u64| tallies.iter().map(f).sum::<u64>();
    eprintln!(
        "kill_anywhere: seed {seed}, {tills} tills: {} SIGKILLs, {} actions finished first ({} payments, {} refunds, {} shift closes, {} shipments); 0 disagreements",
        sum(|t| t.kills),
        sum(|t| t.finished_first),
        sum(|t| t.pays),
        sum(|t| t.refunds),
        sum(|t| t.closes),
        sum(|t| t.syncs),
    );
    assert!(
        sum(|t| t.kills) > 0,
        "no kill happened: the test proved nothing"
    );
}
