//! A till whose configuration WeChat Pay refuses (wrong merchant key, wrong merchant serial):
//! the real binary against a standalone `scanpay sim`, which answers such requests with an
//! unsigned 401 as the real service does. Each sale must fail at once, not charged, with a
//! reason that names the fix — not wait out the query window and end UNRESOLVED.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;

/// A fresh RSA key in a 0600 file: a merchant key WeChat does not know.
fn wrong_key(dir: &Path) -> PathBuf {
    let pem = scanpay::wechat::keys::PrivateKey::generate()
        .unwrap()
        .to_pkcs8_pem()
        .unwrap();
    let path = dir.join("wrong_key.pem");
    std::fs::write(&path, pem).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path
}

fn pay_fails_fast_and_unsold(sim: &Sim, till: &Path, what: &str) {
    let started = Instant::now();
    let out = scanpay(
        till,
        &[
            "pay",
            "--amount",
            "12.34",
            "--code",
            "134567890123456711",
            "--json",
        ],
        &[],
    );
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{what}: {out:?}");
    assert!(
        took < Duration::from_secs(5),
        "{what}: a refused sale must end at once, took {took:?}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["state"], "FAILED", "{what}: {v}");
    let message = v["message"].as_str().unwrap();
    assert!(message.contains("not charged"), "{what}: {message}");
    assert!(message.contains("scanpay check"), "{what}: {message}");
    let no = v["out_trade_no"].as_str().unwrap();
    let dir = till.parent().unwrap();
    let kinds = event_kinds(dir, no);
    assert_eq!(
        kinds,
        ["created", "pay_request", "pay_answer"],
        "{what}: no query, no reverse"
    );
    assert!(!sim.charged(no), "{what}");
    assert!(
        sim.ledger()["orders"].get(no).is_none(),
        "{what}: the simulator never executed the request"
    );
}

#[test]
fn a_till_with_a_wrong_key_or_serial_fails_each_sale_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = start_sim(&tmp.path().join("keys"));

    let dir = tmp.path().join("wrongkey");
    let till = sim.till(&dir, "T01");
    let mut t = config::read(&till);
    config::set(
        &mut t,
        "wechatpay.merchant_private_key",
        wrong_key(&dir).display().to_string(),
    );
    config::write(&t, &till);
    pay_fails_fast_and_unsold(&sim, &till, "wrong key");

    let dir = tmp.path().join("wrongserial");
    let till = sim.till(&dir, "T02");
    let mut t = config::read(&till);
    config::set(
        &mut t,
        "wechatpay.merchant_serial_no",
        "0123456789ABCDEF0123456789ABCDEF01234567",
    );
    config::write(&t, &till);
    pay_fails_fast_and_unsold(&sim, &till, "wrong serial");
}

fn check(till: &Path) -> (Option<i32>, serde_json::Value) {
    let out = scanpay(till, &["check", "--json"], &[]);
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    (out.status.code(), v)
}

fn finding<'v>(v: &'v serde_json::Value, item: &str) -> &'v serde_json::Value {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["item"] == item)
        .unwrap_or_else(|| panic!("no {item} in {v}"))
}

#[test]
fn scanpay_check_passes_a_good_till_and_names_each_problem_with_its_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = start_sim(&tmp.path().join("keys"));

    // A good till: every item ok, the signed round trip proven, exit 0.
    let till = sim.till(&tmp.path().join("good"), "T01");
    let (code, v) = check(&till);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["ok"], true, "{v}");
    for item in [
        "configuration",
        "key_files",
        "trusted_keys",
        "main_host",
        "clock",
        "round_trip",
    ] {
        assert_eq!(finding(&v, item)["status"], "ok", "{item}: {v}");
    }
    assert!(
        finding(&v, "round_trip")["detail"]
            .as_str()
            .unwrap()
            .contains("ORDER_NOT_EXIST")
    );
    // The human form says the same.
    let out = scanpay(&till, &["check"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("all good"));

    // A wrong merchant key: the round trip is refused (unsigned 401), exit 1, fix named.
    let dir = tmp.path().join("wrongkey");
    let till = sim.till(&dir, "T02");
    let mut t = config::read(&till);
    config::set(
        &mut t,
        "wechatpay.merchant_private_key",
        wrong_key(&dir).display().to_string(),
    );
    config::write(&t, &till);
    let (code, v) = check(&till);
    assert_eq!(code, Some(1), "{v}");
    let rt = finding(&v, "round_trip");
    assert_eq!(rt["status"], "problem", "{v}");
    assert!(
        rt["detail"].as_str().unwrap().contains("SIGN_ERROR"),
        "{rt}"
    );
    assert!(
        rt["fix"].as_str().unwrap().contains("merchant_private_key"),
        "{rt}"
    );

    // A wrong merchant serial: the fix points at the serial.
    let till = sim.till(&tmp.path().join("wrongserial"), "T03");
    let mut t = config::read(&till);
    config::set(
        &mut t,
        "wechatpay.merchant_serial_no",
        "0123456789ABCDEF0123456789ABCDEF01234567",
    );
    config::write(&t, &till);
    let (code, v) = check(&till);
    assert_eq!(code, Some(1), "{v}");
    let rt = finding(&v, "round_trip");
    assert!(
        rt["fix"].as_str().unwrap().contains("merchant_serial_no"),
        "{rt}"
    );

    // A wrong WeChat Pay public key id: our request is accepted but the answer cannot be
    // verified against what we trust.
    let till = sim.till(&tmp.path().join("wrongpub"), "T04");
    let mut t = config::read(&till);
    config::set(
        &mut t,
        "wechatpay.wechatpay_public_key_id",
        "PUB_KEY_ID_0000000000000000000000000000",
    );
    config::write(&t, &till);
    let (code, v) = check(&till);
    assert_eq!(code, Some(1), "{v}");
    let rt = finding(&v, "round_trip");
    assert!(rt["detail"].as_str().unwrap().contains("verified"), "{rt}");
    assert!(
        rt["fix"].as_str().unwrap().contains("wechatpay_public_key"),
        "{rt}"
    );

    // A private key readable by others: named with the chmod fix.
    let till = sim.till(&tmp.path().join("openkey"), "T05");
    let t = config::read(&till);
    let key = tmp.path().join("openkey").join("open_key.pem");
    std::fs::copy(
        config::get(&t, "wechatpay.merchant_private_key")
            .as_str()
            .unwrap(),
        &key,
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let mut t = t;
    config::set(
        &mut t,
        "wechatpay.merchant_private_key",
        key.display().to_string(),
    );
    config::write(&t, &till);
    // (The configuration loader already refuses it; the check reports that as its problem.)
    let (code, v) = check(&till);
    assert_eq!(code, Some(1), "{v}");
    let c = finding(&v, "configuration");
    assert_eq!(c["status"], "problem", "{v}");
    assert!(c["detail"].as_str().unwrap().contains("chmod 600"), "{c}");

    // A configuration that does not load is a problem of the check, not a usage error.
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "this is = = not toml").unwrap();
    let (code, v) = check(&bad);
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(finding(&v, "configuration")["status"], "problem");
}

#[test]
fn scanpay_check_in_simulator_mode_round_trips_without_touching_the_data_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let mut t = config::demo();
    let data = tmp.path().join("data");
    config::set(&mut t, "data_dir", data.display().to_string());
    let path = config::write(&t, &tmp.path().join("demo.toml"));
    let (code, v) = check(&path);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(finding(&v, "round_trip")["status"], "ok", "{v}");
    assert!(!data.exists(), "the check wrote to the data folder");
}
