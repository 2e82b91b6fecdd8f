//! Crash recovery: the real binary is killed with SIGKILL at each step of a payment (before
//! the pay call leaves, after it was answered, while waiting, before and after a reverse);
//! `scanpay recover` then settles every order, and the local state matches the simulator's
//! ledger in every case: nothing lost, nothing charged twice, nothing shown as paid that
//! was not — for a direct merchant (`direct::…`) and for a service provider's sub-merchant
//! (`partner::…`, `scanpay sim --partner`).

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;

use common::rig::{Mode, SUB_MCHID, both_modes};
use common::*;

both_modes!(sync
    sigkill_at_every_step_then_recover_agrees_with_the_ledger,
    killed_from_outside_while_the_customer_confirms,
);

/// One crash test at a time: each already runs its cases in parallel (seven binaries and a
/// simulator), and the two modes at once would double that on a small machine, where the
/// till's 1.5 s request timeout is part of the test.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// The sub-merchant whose books hold the till's orders (`None`: a direct merchant).
fn owner(mode: Mode) -> Option<&'static str> {
    match mode {
        Mode::Direct | Mode::V2 => None,
        Mode::Partner => Some(SUB_MCHID),
    }
}

struct Case {
    point: &'static str,
    suffix: &'static str,
    want: &'static str,
}

fn crash_and_recover(sim: &Sim, mode: Mode, root: &Path, i: usize, case: &Case) {
    let dir = root.join(format!("crash{i}"));
    let till = sim.till(&dir, &format!("C{i:02}"));
    let code = format!("1345678901234567{}", case.suffix);
    let out = scanpay(
        &till,
        &["pay", "--amount", "8.88", "--code", &code, "--json"],
        &[("SCANPAY_FAILPOINT", case.point)],
    );
    assert_eq!(
        out.status.signal(),
        Some(9),
        "{}: not killed: {out:?}",
        case.point
    );
    assert!(out.stdout.is_empty(), "a killed payment printed an outcome");
    let orders = local_orders(&dir);
    assert_eq!(
        orders.len(),
        1,
        "{}: the order was written before the crash",
        case.point
    );
    let (no, state) = orders[0].clone();
    assert!(
        state == "PENDING" || state == "USERPAYING",
        "{}: {state}",
        case.point
    );

    let out = scanpay(&till, &["recover", "--json"], &[]);
    let settled: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{}: {e} {out:?}", case.point));
    assert_eq!(
        settled.as_array().unwrap().len(),
        1,
        "{}: {settled}",
        case.point
    );
    assert_eq!(settled[0]["out_trade_no"], no.as_str());
    assert_eq!(
        settled[0]["state"], case.want,
        "{} / {}: {settled}",
        case.point, case.suffix
    );
    assert_eq!(
        local_orders(&dir),
        vec![(no.clone(), case.want.to_string())]
    );
    // The order (when WeChat saw it) is in the books of the till's merchant.
    let there = sim.order(&no);
    if !there.is_null() {
        assert_eq!(there["sub_mchid"].as_str(), owner(mode), "{there}");
    }
    // Agreement with the simulator: charged there exactly when PAID here.
    assert_eq!(
        sim.charged(&no),
        case.want == "PAID",
        "{}: ledger disagrees",
        case.point
    );
    // Never a second pay call: one pay_request event, and the simulator saw at most one.
    let kinds = event_kinds(&dir, &no);
    assert_eq!(
        kinds.iter().filter(|k| *k == "pay_request").count(),
        1,
        "{kinds:?}"
    );
    assert!(kinds.contains(&"resumed".to_string()), "{kinds:?}");
    // A second recover finds nothing left.
    let out = scanpay(&till, &["recover", "--json"], &[]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
}

fn sigkill_at_every_step_then_recover_agrees_with_the_ledger(mode: Mode) {
    let _one = one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let sim = start_sim_in(&tmp.path().join("keys"), mode);
    let cases = [
        // Killed after the order and its request event were committed, before the pay call:
        // WeChat never saw it; recovery waits out the window, reverse finds nothing.
        Case {
            point: "pay.before_send",
            suffix: "11",
            want: "FAILED",
        },
        // Killed after WeChat charged the customer, before the answer was recorded.
        Case {
            point: "pay.after_send",
            suffix: "11",
            want: "PAID",
        },
        // Killed while the customer was confirming; the customer pays at 8 s.
        Case {
            point: "poll.waiting",
            suffix: "01",
            want: "PAID",
        },
        // Killed while the customer was confirming; the customer never does.
        Case {
            point: "poll.waiting",
            suffix: "03",
            want: "REVERSED",
        },
        // Killed just before the reverse left.
        Case {
            point: "reverse.before_send",
            suffix: "03",
            want: "REVERSED",
        },
        // Killed after the reverse took effect, before its answer was recorded.
        Case {
            point: "reverse.after_send",
            suffix: "03",
            want: "REVERSED",
        },
        // Killed after a failing reverse (SYSTEM_ERROR), recovery retries it.
        Case {
            point: "reverse.after_send",
            suffix: "09",
            want: "REVERSED",
        },
    ];
    std::thread::scope(|s| {
        for (i, case) in cases.iter().enumerate() {
            let sim = &sim;
            let root = tmp.path();
            s.spawn(move || crash_and_recover(sim, mode, root, i, case));
        }
    });
}

fn killed_from_outside_while_the_customer_confirms(mode: Mode) {
    let _one = one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let sim = start_sim_in(&tmp.path().join("keys"), mode);
    let dir = tmp.path().join("till");
    let till = sim.till(&dir, "K01");
    let mut child = std::process::Command::new(BIN)
        .arg("--config")
        .arg(&till)
        .args(["pay", "--amount", "3", "--code", "134567890123456701"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait (bounded) until the log shows the customer confirming.
    let mut seen = false;
    for _ in 0..200 {
        if dir.join("data/scanpay.db").exists()
            && local_orders(&dir).iter().any(|(_, s)| s == "USERPAYING")
        {
            seen = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    assert!(seen, "never reached USERPAYING");
    child.kill().unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(9));
    let out = scanpay(&till, &["recover", "--json"], &[]);
    let settled: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let no = settled[0]["out_trade_no"].as_str().unwrap();
    assert_eq!(settled[0]["state"], "PAID");
    assert!(sim.charged(no));
    assert_eq!(sim.order(no)["sub_mchid"].as_str(), owner(mode));
}
