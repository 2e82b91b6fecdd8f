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
