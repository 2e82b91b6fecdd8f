//! Counter security, findings 1 and 3, through the real binary:
//!
//! - a data folder belongs to one mode (simulator or live) and one merchant for life: another
//!   mode or merchant id is refused, naming both; a folder of an earlier version adopts the
//!   identity on first open, but a folder the simulator used never becomes live;
//! - the demo supervisor approves nothing outside simulator mode, and live mode has no default
//!   `--supervisor`;
//! - supervisors are created, changed, disabled and enabled only with an existing supervisor's
//!   PIN (the first by `supervisor init` while there is none), PINs have at least 6 digits in
//!   live mode, every change is audited, and a PIN can come from a file descriptor.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{BIN, Sim, config, json, run_config, start_sim, stderr};

/// A payment code the simulator pays at once.
const PAYS: &str = "134567890123456711";
const MCHID: &str = "1900000001";

/// Runs `scanpay --config CFG ARGS` with `stdin` as its standard input.
fn run(cfg: &Path, args: &[&str], stdin: &str) -> Output {
    run_config(cfg, args, stdin, &[])
}

/// The embedded demo (simulator mode) with its data in `data`, English, as `dir/NAME`.
fn demo_config(dir: &Path, name: &str, data: &Path) -> PathBuf {
    let mut t = config::demo();
    config::set(&mut t, "data_dir", data.display().to_string());
    config::set(&mut t, "language", "en");
    config::write(&t, &dir.join(name))
}

/// A live-mode configuration for the standalone simulator `sim`, with its data in `data`
/// (no shift is opened).
fn live_config(sim: &Sim, path: &Path, data: &Path) -> PathBuf {
    let mut t = config::read(&sim.keys.join("scanpay.toml"));
    config::set(&mut t, "data_dir", data.display().to_string());
    for (key, file) in [
        ("wechatpay.merchant_private_key", "apiclient_key.pem"),
        ("wechatpay.wechatpay_public_key", "pub_key.pem"),
    ] {
        config::set(&mut t, key, sim.keys.join(file).display().to_string());
    }
    config::set(&mut t, "payment.query_interval_secs", 3);
    config::set(&mut t, "payment.user_paying_timeout_secs", 15);
    config::set(&mut t, "language", "en");
    config::write(&t, path)
}

fn db(data: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(data.join("scanpay.db")).unwrap()
}

/// The identity recorded in a data folder's shift log, if any.
fn recorded_identity(data: &Path) -> Option<serde_json::Value> {
    let text: Option<String> = db(data)
        .query_row("SELECT value FROM meta WHERE key = 'identity'", [], |r| {
            r.get(0)
        })
        .ok();
    text.map(|t| serde_json::from_str(&t).unwrap())
}

/// (actor, action, detail) of every audit row.
fn audit(data: &Path) -> Vec<(String, String, String)> {
    let conn = db(data);
    let mut stmt = conn
        .prepare("SELECT actor, action, detail FROM audit_log ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn supervisor_ids(data: &Path) -> Vec<String> {
    let conn = db(data);
    let mut stmt = conn
        .prepare("SELECT id FROM supervisors ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn pay(cfg: &Path, amount: &str) -> String {
    let paid = json(&run(
        cfg,
        &["pay", "--amount", amount, "--code", PAYS, "--json"],
        "",
    ));
    assert_eq!(paid["state"], "PAID", "{paid}");
    paid["out_trade_no"].as_str().unwrap().to_string()
}

fn refund(cfg: &Path, no: &str, supervisor: &str, pin: &str) -> Output {
    run(
        cfg,
        &[
            "refund",
            no,
            "--amount",
            "1.00",
            "--reason",
            "x",
            "--supervisor",
            supervisor,
        ],
        &format!("{pin}\n"),
    )
}

/// The copy of `tests/fixtures/v1-shift-log/scanpay-data` (written by scanpay 0.1 in
/// simulator mode: no identity recorded, a `simulator/` folder, the demo supervisor) at `to`.
fn legacy_demo_folder(to: &Path) {
    use common::fixtures::copy_private_dir as copy_dir;
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1-shift-log");
    copy_dir(&fixture.join("scanpay-data"), to);
}

// ---- Finding 1: the data folder's identity -------------------------------------------------

/// The finding as reported: the demo ran in a folder, then a live configuration uses the same
/// folder and the demo supervisor approves a refund against the live service.
#[test]
fn a_demo_folder_refuses_a_live_configuration_naming_both() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("scanpay-data");
    let demo = demo_config(tmp.path(), "demo.toml", &data);
    let no = pay(&demo, "100.00");
    let sim = start_sim(&tmp.path().join("keys"));
    let live = live_config(&sim, &tmp.path().join("live.toml"), &data);

    for args in [
        // The finding's command (no --supervisor) and with the demo supervisor named.
        vec!["refund", &no, "--amount", "88.00", "--reason", "x"],
        vec![
            "refund",
            &no,
            "--amount",
            "88.00",
            "--reason",
            "x",
            "--supervisor",
            "demo",
        ],
        // Reading and selling are refused too.
        vec!["orders", "--all"],
        vec!["pay", "--amount", "1.00", "--code", PAYS],
        vec!["supervisor", "list"],
    ] {
        let out = run(&live, &args, "0000\n");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let e = stderr(&out);
        if args[0] != "refund" || args.len() > 6 {
            assert!(
                e.contains(&format!("belongs to simulator merchant {MCHID}"))
                    && e.contains(&format!("the configuration is live merchant {MCHID}"))
                    && e.contains("data_dir"),
                "{args:?}: {e}"
            );
        }
    }
    // Nothing was approved, nothing reached the live service.
    assert!(
        !audit(&data).iter().any(|r| r.1 == "approve"),
        "{:?}",
        audit(&data)
    );
    assert_eq!(
        sim.ledger()["refunds"].as_object().map_or(0, |m| m.len()),
        0
    );
    // The cashier screen refuses to start, with the same words (before any terminal set-up).
    let out = run(&live, &[], "");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        stderr(&out).contains(&format!("belongs to simulator merchant {MCHID}")),
        "{out:?}"
    );
    // The demo itself still works in its own folder.
    assert!(refund(&demo, &no, "demo", "0000").status.success());
}

#[test]
fn a_live_folder_refuses_a_simulator_configuration() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = start_sim(&tmp.path().join("keys"));
    let live = sim.till(tmp.path(), "POS01");
    let data = tmp.path().join("data");
    pay(&live, "3.00");
    assert_eq!(
        recorded_identity(&data).unwrap(),
        serde_json::json!({"mode": "live", "mchid": MCHID})
    );
    let training = demo_config(tmp.path(), "training.toml", &data);
    for args in [
        vec!["pay", "--amount", "1.00", "--code", PAYS],
        vec!["orders"],
        vec!["report", "x"],
        vec!["supervisor", "list"],
    ] {
        let out = run(&training, &args, "");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let e = stderr(&out);
        assert!(
            e.contains(&format!(
                "this data folder belongs to live merchant {MCHID}; the configuration is simulator merchant {MCHID}"
            )),
            "{args:?}: {e}"
        );
    }
    assert!(
        !data.join("simulator").exists(),
        "the simulator must not start in a live folder"
    );
    assert!(
        !audit(&data).iter().any(|r| r.1 == "supervisor_add"),
        "no demo supervisor in a live folder"
    );
}

#[test]
fn another_merchant_id_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("scanpay-data");
    let demo = demo_config(tmp.path(), "demo.toml", &data);
    pay(&demo, "2.00");
    let mut t = config::read(&demo);
    config::set(&mut t, "merchant.mchid", "1900000002");
    let other = config::write(&t, &tmp.path().join("other.toml"));
    for args in [
        vec!["pay", "--amount", "1.00", "--code", PAYS],
        vec!["orders"],
    ] {
        let out = run(&other, &args, "");
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(
            stderr(&out).contains(
                "belongs to simulator merchant 1900000001; the configuration is simulator merchant 1900000002"
            ),
            "{out:?}"
        );
    }
}

#[test]
fn a_legacy_folder_adopts_the_identity_on_first_open() {
    let tmp = tempfile::tempdir().unwrap();
    // A demo folder of scanpay 0.1 opened by the demo: adopted as simulator.
    let data = tmp.path().join("scanpay-data");
    legacy_demo_folder(&data);
    assert_eq!(recorded_identity(&data), None);
    let demo = demo_config(tmp.path(), "demo.toml", &data);
    let out = run(&demo, &["orders", "--all", "--json"], "");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        recorded_identity(&data).unwrap(),
        serde_json::json!({"mode": "simulator", "mchid": MCHID})
    );

    // A live folder from before identities (simulated by forgetting it): adopted as live.
    let sim = start_sim(&tmp.path().join("keys"));
    let live = sim.till(&tmp.path().join("live"), "POS01");
    let live_data = tmp.path().join("live/data");
    pay(&live, "4.00");
    db(&live_data)
        .execute("DELETE FROM meta WHERE key = 'identity'", [])
        .unwrap();
    // It has sales and the simulator never ran in it: it was live, a training
    // configuration may not adopt it.
    let training = demo_config(tmp.path(), "training.toml", &live_data);
    let out = run(&training, &["orders"], "");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr(&out).contains("live"), "{out:?}");
    assert_eq!(recorded_identity(&live_data), None);
    let out = run(&live, &["orders", "--all"], "");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        recorded_identity(&live_data).unwrap(),
        serde_json::json!({"mode": "live", "mchid": MCHID})
    );
}

#[test]
fn a_legacy_demo_folder_never_becomes_live() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("scanpay-data");
    legacy_demo_folder(&data);
    let sim = start_sim(&tmp.path().join("keys"));
    let live = live_config(&sim, &tmp.path().join("live.toml"), &data);
    for args in [vec!["orders", "--all"], vec!["recover"]] {
        let out = run(&live, &args, "");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let e = stderr(&out);
        assert!(
            e.contains("simulator") && e.contains(&format!("live merchant {MCHID}")),
            "{e}"
        );
    }
    assert_eq!(recorded_identity(&data), None, "nothing adopted");
    // Even with the `simulator/` folder removed, the demo supervisor gives it away.
    std::fs::remove_dir_all(data.join("simulator")).unwrap();
    let out = run(&live, &["orders", "--all"], "");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr(&out).contains("demo supervisor"), "{out:?}");
}

#[test]
fn live_mode_has_no_default_supervisor() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = start_sim(&tmp.path().join("keys"));
    let live = sim.till(tmp.path(), "POS01");
    let no = pay(&live, "5.00");
    let out = run(
        &live,
        &["refund", &no, "--amount", "1.00", "--reason", "x"],
        "000000\n",
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr(&out).contains("--supervisor"), "{out:?}");
    let out = run(&live, &["shift", "close", "--force"], "000000\n");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr(&out).contains("--supervisor"), "{out:?}");
    assert!(sim.charged(&no), "nothing refunded");
}

/// A supervisor row called `demo` (as an old folder or a hand edit could bring) approves
/// nothing in live mode, whatever its PIN.
#[test]
fn the_demo_supervisor_approves_nothing_in_live_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = start_sim(&tmp.path().join("keys"));
    let live = sim.till(tmp.path(), "POS01");
    let data = tmp.path().join("data");
    let no = pay(&live, "6.00");
    let hash = scanpay::supervisor::hash_pin("000000").unwrap();
    db(&data)
        .execute(
            "INSERT INTO supervisors (id, pin_hash, created_at, updated_at, disabled) \
             VALUES ('demo', ?1, 0, 0, 0)",
            [&hash],
        )
        .unwrap();
    let out = refund(&live, &no, "demo", "000000");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr(&out).contains("not approved"), "{out:?}");
    assert!(sim.charged(&no), "nothing refunded");
    let last = audit(&data).pop().unwrap();
    assert_eq!((last.0.as_str(), last.1.as_str()), ("demo", "refuse"));
    // Nor can it approve a new supervisor, and the id is not for live use.
    let out = run(
        &live,
        &["supervisor", "add", "evil", "--by", "demo"],
        "000000\n123456\n",
    );
    assert_ne!(out.status.code(), Some(0), "{out:?}");
    let out = run(&live, &["supervisor", "init", "demo"], "123456\n");
    assert_ne!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(supervisor_ids(&data), vec!["demo".to_string()]);
}

// ---- Finding 3: supervisors are changed only with a supervisor's approval ------------------

/// The finding as reported: with `demo` locked by wrong PINs, anyone adds a supervisor of
/// their own and approves a refund with it.
#[test]
fn adding_a_supervisor_needs_an_approval() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("scanpay-data");
    let demo = demo_config(tmp.path(), "demo.toml", &data);
    let no = pay(&demo, "9.00");
    for _ in 0..5 {
        let out = refund(&demo, &no, "demo", "1111");
        assert_eq!(out.status.code(), Some(1), "{out:?}");
    }
    assert!(
        stderr(&refund(&demo, &no, "demo", "0000")).contains("locked"),
        "demo is locked"
    );

    let out = run(&demo, &["supervisor", "add", "evil"], "9999\n");
    assert_ne!(out.status.code(), Some(0), "{out:?}");
    // Naming a locked, unknown or wrong approver does not help either.
    for (by, input) in [
        ("demo", "0000\n9999\n"),
        ("nobody", "0000\n9999\n"),
        ("evil", "9999\n9999\n"),
    ] {
        let out = run(&demo, &["supervisor", "add", "evil", "--by", by], input);
        assert_eq!(out.status.code(), Some(1), "{by}: {out:?}");
        assert!(stderr(&out).contains("not approved"), "{by}: {out:?}");
    }
    // Nor does init, while a supervisor exists.
    let out = run(&demo, &["supervisor", "init", "evil"], "9999\n");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(supervisor_ids(&data), vec!["demo".to_string()]);

    let out = refund(&demo, &no, "evil", "9999");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr(&out).contains("not approved"), "{out:?}");
}

#[test]
fn init_only_while_no_supervisor_exists() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = start_sim(&tmp.path().join("keys"));
    let live = sim.till(tmp.path(), "POS01");
    let data = tmp.path().join("data");
    let out = run(&live, &["supervisor", "init", "boss"], "482915\n");
    assert!(out.status.success(), "{out:?}");
    let out = run(&live, &["supervisor", "init", "evil"], "918273\n");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr(&out).contains("supervisor add"), "{out:?}");
    assert_eq!(supervisor_ids(&data), vec!["boss".to_string()]);
}

#[test]
fn four_digit_pins_are_refused_in_live_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = start_sim(&tmp.path().join("keys"));
    let live = sim.till(tmp.path(), "POS01");
    let data = tmp.path().join("data");
    let out = run(&live, &["supervisor", "init", "boss"], "1234\n");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr(&out).contains("6 to 12"), "{out:?}");
    assert!(supervisor_ids(&data).is_empty());
    let out = run(&live, &["supervisor", "init", "boss"], "482915\n");
    assert!(out.status.success(), "{out:?}");
    let out = run(
        &live,
        &["supervisor", "add", "wang", "--by", "boss"],
        "482915\n12345\n",
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr(&out).contains("6 to 12"), "{out:?}");
    // In the demo a 4-digit PIN is still fine (training).
    let data = tmp.path().join("scanpay-data");
    let demo = demo_config(tmp.path(), "demo.toml", &data);
    let out = run(
        &demo,
        &["supervisor", "add", "li", "--by", "demo"],
        "0000\n1234\n",
    );
    assert!(out.status.success(), "{out:?}");
}

/// Add, change a PIN, disable (then approvals are refused), enable; each change audited with
/// who approved it, none with a PIN; the list shows no hash.
#[test]
fn changes_are_approved_audited_and_a_disabled_supervisor_approves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = start_sim(&tmp.path().join("keys"));
    let live = sim.till(tmp.path(), "POS01");
    let data = tmp.path().join("data");
    let no = pay(&live, "20.00");
    let ok = |args: &[&str], input: &str| {
        let out = run(&live, args, input);
        assert!(out.status.success(), "{args:?}: {out:?}");
        out
    };
    ok(&["supervisor", "init", "boss"], "482915\n");
    ok(
        &["supervisor", "add", "wang", "--by", "boss"],
        "482915\n918273\n",
    );
    // Adding an existing id is refused (a PIN is changed with `supervisor pin`).
    let out = run(
        &live,
        &["supervisor", "add", "wang", "--by", "boss"],
        "482915\n111111\n",
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    // Own PIN: the old PIN approves.
    ok(&["supervisor", "pin", "wang"], "918273\n273645\n");
    assert!(refund(&live, &no, "wang", "273645").status.success());

    ok(
        &["supervisor", "disable", "wang", "--by", "boss"],
        "482915\n",
    );
    let out = refund(&live, &no, "wang", "273645");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr(&out).contains("disabled"), "{out:?}");
    // A disabled supervisor cannot approve their own return, and the last enabled one
    // cannot be disabled.
    let out = run(
        &live,
        &["supervisor", "enable", "wang", "--by", "wang"],
        "273645\n",
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let out = run(
        &live,
        &["supervisor", "disable", "boss", "--by", "boss"],
        "482915\n",
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr(&out).contains("last"), "{out:?}");
    ok(
        &["supervisor", "enable", "wang", "--by", "boss"],
        "482915\n",
    );
    assert!(refund(&live, &no, "wang", "273645").status.success());

    let list = json(&run(&live, &["supervisor", "list", "--json"], ""));
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{list}");
    assert_eq!(rows[0]["id"], "boss");
    assert_eq!(rows[1]["id"], "wang");
    assert_eq!(rows[1]["enabled"], true);
    let text = run(&live, &["supervisor", "list"], "");
    assert!(text.status.success());
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(text.contains("wang") && text.contains("enabled"), "{text}");
    assert!(!text.contains("argon2") && !list.to_string().contains("argon2"));

    let rows = audit(&data);
    let changes: Vec<(&str, &str)> = rows
        .iter()
        .filter(|r| r.1.starts_with("supervisor_"))
        .map(|r| (r.0.as_str(), r.1.as_str()))
        .collect();
    assert_eq!(
        changes,
        vec![
            ("boss", "supervisor_init"),
            ("boss", "supervisor_add"),
            ("wang", "supervisor_pin"),
            ("boss", "supervisor_disable"),
            ("boss", "supervisor_enable"),
        ],
        "{rows:?}"
    );
    for (_, action, detail) in rows.iter().filter(|r| r.1.starts_with("supervisor_")) {
        if action != "supervisor_init" {
            assert!(detail.contains("wang"), "{action}: {detail}");
        }
    }
    // Each change was approved first (the approval is audited too); the two approved changes
    // the rules refused (an existing id, the last enabled supervisor) are audited as refused.
    let approvals = rows
        .iter()
        .filter(|r| r.1 == "approve" && r.2.contains("supervisor_"))
        .count();
    assert_eq!(approvals, 6, "{rows:?}");
    let refused: Vec<&str> = rows
        .iter()
        .filter(|r| r.1 == "refuse" && r.2.contains("supervisor_"))
        .map(|r| r.2.as_str())
        .collect();
    assert_eq!(refused.len(), 3, "{rows:?}");
    assert!(refused[0].contains("already exists"), "{refused:?}");
    assert!(refused[1].contains("disabled"), "{refused:?}");
    assert!(refused[2].contains("last enabled"), "{refused:?}");
    // No PIN anywhere.
    for pin in ["482915", "918273", "273645", "111111"] {
        assert!(
            !rows
                .iter()
                .any(|r| r.0.contains(pin) || r.2.contains(pin) || r.2.contains("$argon2")),
            "{rows:?}"
        );
    }
}

/// `--pin-fd N` reads the PINs from descriptor N (one per line), so a script need not put a
/// PIN on a command line or through `echo`.
#[test]
fn pins_from_a_file_descriptor() {
    use std::os::unix::io::AsRawFd;
    use std::os::unix::process::CommandExt;
    let tmp = tempfile::tempdir().unwrap();
    let sim = start_sim(&tmp.path().join("keys"));
    let live = sim.till(tmp.path(), "POS01");
    let no = pay(&live, "7.00");
    let with_fd = |args: &[&str], pins: &str| {
        let file = tmp.path().join("pins");
        std::fs::write(&file, pins).unwrap();
        let f = std::fs::File::open(&file).unwrap();
        let fd = f.as_raw_fd();
        let mut c = Command::new(BIN);
        c.env_remove("SCANPAY_CONFIG")
            .arg("--config")
            .arg(&live)
            .args(args)
            .args(["--pin-fd", "3"])
            .stdin(Stdio::null());
        // SAFETY: dup2 and fcntl are async-signal-safe; they put the open file on descriptor 3
        // of the child, open across exec (dup2 onto itself would keep close-on-exec).
        unsafe {
            c.pre_exec(move || {
                let ok = if fd == 3 {
                    libc::fcntl(3, libc::F_SETFD, 0)
                } else {
                    libc::dup2(fd, 3)
                };
                if ok < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let out = c.output().unwrap();
        drop(f);
        out
    };
    let out = with_fd(&["supervisor", "init", "boss"], "482915\n");
    assert!(out.status.success(), "{out:?}");
    let out = with_fd(
        &[
            "refund",
            &no,
            "--amount",
            "2.00",
            "--reason",
            "x",
            "--supervisor",
            "boss",
        ],
        "482915\n",
    );
    assert!(out.status.success(), "{out:?}");
    // A descriptor that is not open is a usage error, not a hang.
    let out = run(&live, &["supervisor", "list", "--pin-fd", "9"], "");
    assert!(out.status.success(), "list needs no PIN: {out:?}");
    let out = run(
        &live,
        &[
            "refund",
            &no,
            "--amount",
            "1.00",
            "--reason",
            "x",
            "--supervisor",
            "boss",
            "--pin-fd",
            "9",
        ],
        "482915\n",
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr(&out).contains("--pin-fd"), "{out:?}");
}
