//! Counter security, finding 8: an I/O failure after a request left is never reported as
//! "nothing written" and never as a usage error. The real binary against a standalone
//! simulator; the disk "fills" at a named point (`SCANPAY_FAILPOINT=POINT:disk_full`), after
//! which the shift log fails every call as SQLite does on a full disk.

mod common;

use common::*;

#[test]
fn a_full_disk_after_the_pay_call_left_is_exit_3_with_the_order_and_recover_settles_it() {
    let root = tempfile::tempdir().unwrap();
    let sim = start_sim(&root.path().join("keys"));
    let till = sim.till(&root.path().join("t"), "DF01");
    let out = scanpay(
        &till,
        &[
            "pay",
            "--amount",
            "5.00",
            "--code",
            "134567890123456711",
            "--json",
        ],
        &[("SCANPAY_FAILPOINT", "pay.after_send:disk_full")],
    );
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(3),
        "needs attention, not usage: {out:?}"
    );
    assert!(!err.contains("nothing was written"), "{err}");
    assert!(
        err.contains("do not charge again until `scanpay recover`"),
        "{err}"
    );
    let orders = local_orders(&root.path().join("t"));
    assert_eq!(orders.len(), 1);
    let (no, state) = orders[0].clone();
    assert!(err.contains(&no), "the message names the order {no}: {err}");
    assert_eq!(state, "PENDING", "the answer was not recorded");
    // The customer was charged: the log must learn it, not forget it.
    assert!(sim.charged(&no));
    let out = scanpay(&till, &["recover", "--json"], &[]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        local_orders(&root.path().join("t")),
        vec![(no, "PAID".to_string())]
    );
}

#[test]
fn a_full_disk_from_just_before_the_pay_call_is_attention_too() {
    let root = tempfile::tempdir().unwrap();
    let sim = start_sim(&root.path().join("keys"));
    let till = sim.till(&root.path().join("t"), "DF02");
    // The order and its request event are committed, then the disk fills before the call:
    // the answer cannot be recorded, but here the call did leave — so this is attention too.
    let out = scanpay(
        &till,
        &[
            "pay",
            "--amount",
            "5.00",
            "--code",
            "134567890123456712",
            "--json",
        ],
        &[("SCANPAY_FAILPOINT", "pay.before_send:disk_full")],
    );
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let (no, _) = local_orders(&root.path().join("t"))[0].clone();
    assert!(sim.charged(&no), "the call left before the answer was lost");
}

/// Runs the binary in `dir` on the embedded demo (simulator mode, with its demo supervisor).
fn demo(
    dir: &std::path::Path,
    args: &[&str],
    stdin: &str,
    env: &[(&str, &str)],
) -> std::process::Output {
    run_in(dir, args, stdin, env)
}

#[test]
fn a_full_disk_after_a_refund_left_is_exit_3_with_the_refund_number() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = demo(
        d,
        &[
            "pay",
            "--amount",
            "9.00",
            "--code",
            "134567890123456713",
            "--json",
        ],
        "",
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    let paid: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let no = paid["out_trade_no"].as_str().unwrap().to_string();
    let refund = ["refund", &no, "--amount", "4.00", "--reason", "disk"];
    let out = demo(
        d,
        &refund,
        "0000\n",
        &[("SCANPAY_FAILPOINT", "refund.after_send:disk_full")],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(err.contains(&format!("{no}-R1")), "names the refund: {err}");
    assert!(!err.contains("nothing was written"), "{err}");
    let out = demo(d, &["recover", "--json"], "", &[]);
    assert!(out.status.success(), "{out:?}");
    assert!(stderr(&out).contains(&format!("{no}-R1")), "{out:?}");
    let out = demo(d, &["orders", "--json"], "", &[]);
    let orders: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(orders[0]["state"], "PARTIALLY_REFUNDED", "{orders}");
}
