//! The real binary: configuration lookup and exit status 2 on a bad configuration.

mod common;

use std::process::Command;

use common::config;

fn scanpay(dir: &std::path::Path) -> Command {
    let mut c = Command::new(common::BIN);
    c.current_dir(dir)
        .env_remove("SCANPAY_CONFIG")
        .env("XDG_CONFIG_HOME", dir.join("xdg"))
        .env("HOME", dir);
    c
}

#[test]
fn no_config_uses_the_embedded_demo() {
    let dir = tempfile::tempdir().unwrap();
    let out = scanpay(dir.path()).arg("config").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("<embedded demo config>"), "{text}");
    assert!(text.contains("simulator"), "{text}");
}

#[test]
fn global_config_flag_before_the_subcommand_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.toml"), "language = \"fr\"\n").unwrap();
    let out = scanpay(dir.path())
        .args(["--config", "bad.toml", "config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("scanpay: config file bad.toml:"), "{err}");
    assert!(err.contains("unknown variant `fr`"), "{err}");
}

#[test]
fn env_and_working_dir_files_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let till = |id: &str| {
        let mut t = config::demo();
        config::set(&mut t, "merchant.terminal_id", id);
        t
    };
    config::write(&till("TILL7"), &dir.path().join("scanpay.toml"));
    let out = scanpay(dir.path()).arg("config").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("TILL7") && text.contains("from ./scanpay.toml"),
        "{text}"
    );

    config::write(&till("TILL8"), &dir.path().join("other.toml"));
    let out = scanpay(dir.path())
        .arg("config")
        .env("SCANPAY_CONFIG", "other.toml")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("TILL8") && text.contains("from SCANPAY_CONFIG"),
        "{text}"
    );
}

#[test]
fn config_and_check_name_the_sub_merchant_in_service_provider_mode() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = config::demo();
    config::insert(&mut t, "merchant.sub_mchid", "1900000109");
    config::insert(&mut t, "merchant.sub_merchant_name", "示例便利店南山店");
    config::write(&t, &dir.path().join("scanpay.toml"));
    let out = scanpay(dir.path()).arg("config").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("merchant.sub_mchid") && l.ends_with("1900000109")),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("merchant.sub_merchant_name")
            && l.ends_with("示例便利店南山店")),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("merchant (party)")
            && l.contains("service provider (服务商) 1900000001")
            && l.contains("sub-merchant (特约商户) 1900000109")),
        "{text}"
    );
    // The check's first line says mchid/appid are the service provider's, and its signed round
    // trip goes over the partner query path to the simulator serving as the service provider.
    let out = scanpay(dir.path()).arg("check").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("ok") && l.contains("round_trip")),
        "{text}"
    );
    let first = text.lines().next().unwrap_or_default();
    assert!(
        first.contains(
            "mchid 1900000001, appid wxd678efh567hg6787 (service provider), sub_mchid 1900000109 (sub-merchant 示例便利店南山店)"
        ),
        "{text}"
    );
}
