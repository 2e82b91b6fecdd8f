//! The pay call over the backup host, through the real binary against a standalone simulator:
//! a main host that refuses the connection sends the same request to the backup host (one
//! order at WeChat, paid once); when neither host accepts a connection nothing was sent and
//! the sale ends FAILED at once ("network down, not charged"), an order WeChat never saw.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

/// A loopback address nobody listens on (bound, then released): connecting is refused.
fn closed_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}")
}

/// Points the till's hosts at `main` and `backup` (through the TOML parser).
fn hosts(till: &Path, main: &str, backup: &str) {
    let mut t = config::read(till);
    config::set(&mut t, "wechatpay.base_url", main);
    config::insert(&mut t, "wechatpay.backup_base_url", backup);
    config::write(&t, till);
}

fn pay(till: &Path, code: &str) -> (std::process::Output, serde_json::Value) {
    let out = scanpay(
        till,
        &["pay", "--amount", "12.34", "--code", code, "--json"],
        &[],
    );
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    (out, v)
}

#[test]
fn network_down_fails_at_once_and_wechat_never_sees_the_order() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = start_sim(&tmp.path().join("keys"));
    let till = sim.till(&tmp.path().join("till"), "T01");
    hosts(&till, &closed_port(), &closed_port());
    let started = Instant::now();
    let (out, v) = pay(&till, "134567890123456711");
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(v["state"], "FAILED", "{v}");
    let msg = v["message"].as_str().unwrap();
    assert!(
        msg.contains("network down") && msg.contains("not charged"),
        "{msg}"
    );
    // Before: six reverses and about two and a half minutes. Now: two refused connections.
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let no = v["out_trade_no"].as_str().unwrap();
    let dir = till.parent().unwrap();
    let kinds = event_kinds(dir, no);
    assert_eq!(kinds, ["created", "pay_request", "pay_answer"], "{kinds:?}");
    assert_eq!(local_orders(dir), vec![(no.to_string(), "FAILED".into())]);
    // WeChat (the simulator, still running) never saw it.
    let ledger = sim.ledger();
    assert!(
        ledger["orders"].as_object().is_none_or(|o| o.is_empty()),
        "{ledger}"
    );
}

#[test]
fn main_host_refuses_so_the_backup_host_takes_the_same_order_once() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = start_sim(&tmp.path().join("keys"));
    let till = sim.till(&tmp.path().join("till"), "T02");
    hosts(&till, &closed_port(), &sim.base);
    let (out, v) = pay(&till, "134567890123456711");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(v["state"], "PAID", "{v}");
    let no = v["out_trade_no"].as_str().unwrap();
    let ledger = sim.ledger();
    let orders = ledger["orders"].as_object().unwrap();
    assert_eq!(orders.keys().collect::<Vec<_>>(), [no], "{ledger}");
    assert!(sim.charged(no));
    let kinds = event_kinds(till.parent().unwrap(), no);
    assert_eq!(
        kinds.iter().filter(|k| *k == "pay_request").count(),
        1,
        "{kinds:?}"
    );
}
