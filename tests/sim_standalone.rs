//! `scanpay sim` as a standalone process: it writes keys and a live-mode configuration, and
//! the real `scanpay` binary talks to it with that configuration.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use scanpay::clock::SystemClock;
use scanpay::config::{Config, FoundBy, Mode, Source};
use scanpay::wechat::PayAnswer;
use scanpay::wechat::model::*;

mod common;

use common::{BIN, start_sim};

fn scanpay(config: &Path, args: &[&str]) -> std::process::Output {
    common::scanpay(config, args, &[])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_sim_and_its_printed_config() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys");
    let sim = start_sim(&keys);
    let mode = |f: &str| {
        std::fs::metadata(keys.join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("apiclient_key.pem"), 0o600);
    assert_eq!(mode("sim_platform_key.pem"), 0o600);
    assert!(
        std::fs::read_to_string(keys.join("pub_key.pem"))
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    let config_path = keys.join("scanpay.toml");
    assert!(
        sim.lines.iter().any(|l| l.contains("(written)")),
        "{:?}",
        sim.lines
    );
    assert!(
        sim.lines.iter().any(|l| l.contains("never confirms")),
        "scenario table printed"
    );

    // The printed configuration is a valid live-mode configuration pointing at the simulator.
    let cfg = Config::load_from(Source::File {
        path: config_path.clone(),
        found_by: FoundBy::Flag,
    })
    .unwrap();
    assert_eq!(cfg.wechatpay.mode, Mode::Live);
    assert_eq!(
        cfg.wechatpay.base_url.as_str().trim_end_matches('/'),
        sim.base
    );

    // The real binary, with that config, gets a verified "no such order".
    let out = scanpay(&config_path, &["query", "POS01X0001"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ORDER_NOT_EXIST"),
        "{out:?}"
    );

    // A payment made with the library client from the same config, then queried by the binary.
    let client = scanpay::connect::live_client(&cfg, Arc::new(SystemClock)).unwrap();
    let req = CodepayRequest {
        appid: cfg.merchant.appid.clone(),
        mchid: cfg.merchant.mchid.clone(),
        description: "standalone".into(),
        out_trade_no: "POS01X0002".into(),
        attach: None,
        payer: CodepayPayer {
            auth_code: "134567890123456711".into(),
        },
        amount: RequestAmount {
            total: 250,
            currency: Some("CNY".into()),
        },
        scene_info: SceneInfo {
            store_info: StoreInfo {
                out_id: Some("SZ-001".into()),
                id: None,
            },
            device_ip: None,
            device_id: None,
        },
    };
    assert!(matches!(
        client.codepay(&req).await.unwrap(),
        PayAnswer::Paid(_)
    ));
    let out = scanpay(&config_path, &["query", "POS01X0002"]);
    assert!(out.status.success(), "{out:?}");
    let t: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(t["wechat"]["trade_state"], "SUCCESS");
    assert_eq!(t["wechat"]["amount"]["total"], 250);
    assert!(
        t["local"].is_null(),
        "paid by another client: not in this till's log"
    );

    // Faults through the admin endpoint.
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/faults", sim.admin))
        .json(&serde_json::json!({"fault": {"kind": "server_error"}, "endpoint": "query"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let out = scanpay(&config_path, &["query", "POS01X0002"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("SYSTEM_ERROR"),
        "{out:?}"
    );
    let ledger: serde_json::Value = http
        .get(format!("{}/ledger", sim.admin))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ledger["orders"]["POS01X0002"]["state"], "SUCCESS");
    assert_eq!(
        ledger["orders"]["POS01X0002"]["auth_code"],
        "1345 **** **** 6711"
    );
    let serial = cfg.wechatpay.merchant_serial_no.clone().unwrap();
    drop(sim);

    // Restarted on another port: keys reused, base_url updated.
    let sim2 = start_sim(&keys);
    assert!(
        sim2.lines
            .iter()
            .any(|l| l.contains("reused, base_url updated")),
        "{:?}",
        sim2.lines
    );
    let cfg2 = Config::load_from(Source::File {
        path: config_path.clone(),
        found_by: FoundBy::Flag,
    })
    .unwrap();
    assert_eq!(cfg2.wechatpay.merchant_serial_no.unwrap(), serial);
    let out = scanpay(&config_path, &["query", "POS01X0002"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a new simulator has a new ledger"
    );
}

#[test]
fn admin_endpoint_only_on_loopback() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args([
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--admin",
            "0.0.0.0:0",
            "--keys",
        ])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a loopback address"),
        "{out:?}"
    );
}

/// `scanpay sim --partner`: a service provider's simulator and a configuration for its
/// sub-merchant (mchid/appid the service provider's, `merchant.sub_mchid` added); the real
/// binary pays and queries through it on the partner paths. Restarted without `--partner`
/// on the same keys, the configuration is written anew for a direct merchant.
#[test]
fn partner_sim_writes_a_service_provider_configuration() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys");
    let sim = common::start_sim_with(&keys, &["--partner", "--sub-mchid", "1900000222"]);
    assert!(
        sim.lines
            .iter()
            .any(|l| l.contains("sub-merchants 1900000222, 1900000109, 1900000110")),
        "{:?}",
        sim.lines
    );
    let config_path = keys.join("scanpay.toml");
    let cfg = Config::load_from(Source::File {
        path: config_path.clone(),
        found_by: FoundBy::Flag,
    })
    .unwrap();
    assert_eq!(cfg.merchant.sub_mchid.as_deref(), Some("1900000222"));
    assert_eq!(cfg.merchant.mchid, scanpay::sim::DEMO_MCHID);
    assert_eq!(cfg.merchant.sub_appid, None);
    let till = sim.till(&tmp.path().join("till"), "POS01");
    let out = common::scanpay(
        &till,
        &["pay", "--amount", "2.50", "--code", "134567890123456711"],
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    let (no, state) = common::local_orders(&tmp.path().join("till"))[0].clone();
    assert_eq!(state, "PAID");
    assert_eq!(sim.order(&no)["sub_mchid"], "1900000222");
    let stats = common::blocking_get(&format!("{}/stats", sim.admin));
    assert_eq!(stats["requests"]["pay"], 1, "{stats}");
    let out = scanpay(&till, &["query", &no]);
    assert!(out.status.success(), "{out:?}");
    drop(sim);

    // Same keys, direct merchant: the sub-merchant's configuration would only be refused.
    let sim2 = start_sim(&keys);
    assert!(
        sim2.lines.iter().any(|l| l.contains("written anew")),
        "{:?}",
        sim2.lines
    );
    let cfg = Config::load_from(Source::File {
        path: config_path,
        found_by: FoundBy::Flag,
    })
    .unwrap();
    assert_eq!(cfg.merchant.sub_mchid, None);

    // --sub-mchid needs --partner, and is a sub-merchant's id; --partner is APIv3 only.
    for args in [
        &["--sub-mchid", "1900000222"][..],
        &["--partner", "--sub-mchid", "19x"],
        &["--partner", "--sub-mchid", scanpay::sim::DEMO_MCHID],
        &["--partner", "--api", "v2"],
    ] {
        let out = Command::new(BIN)
            .args(["sim", "--listen", "127.0.0.1:0", "--keys"])
            .arg(tmp.path().join("other"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
    }
}
