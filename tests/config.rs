//! Configuration: lookup order, relative paths, and every error message. Broken configurations
//! are `GOOD_LIVE` edited through the TOML parser (`common::config`), so an edit of a key the
//! template does not have fails the test instead of leaving the template valid.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::config::{self, insert, remove, set};
use toml::Table;

use scanpay::config::{Config, ConfigError, FoundBy, Language, LookupEnv, Mode, Source, locate};
use scanpay::money::Fen;

const GOOD_LIVE: &str = r#"
language = "en"
data_dir = "data"
[merchant]
mchid = "1900000001"
appid = "wxd678efh567hg6787"
store_id = "SZ-001"
store_name = "示例便利店"
terminal_id = "POS01"
device_ip = "10.0.0.8"
[wechatpay]
mode = "live"
base_url = "https://api.mch.weixin.qq.com"
backup_base_url = "https://api2.mch.weixin.qq.com"
merchant_serial_no = "408b07e79b8269fec3d5d3e6ab8ed163a6a380db"
merchant_private_key = "keys/apiclient_key.pem"
wechatpay_public_key_id = "PUB_KEY_ID_0000000000000024101100397200000006"
wechatpay_public_key = "keys/pub_key.pem"
[payment]
query_interval_secs = 5
user_paying_timeout_secs = 45
max_amount = "5000.00"
[scanner]
kind = "serial"
device = "/dev/ttyACM0"
baud = 9600
"#;

/// A folder with a live config and its key files (private key 0600).
fn live_dir(config: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("keys")).unwrap();
    let key = dir.path().join("keys/apiclient_key.pem");
    std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\n").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(
        dir.path().join("keys/pub_key.pem"),
        "-----BEGIN PUBLIC KEY-----\n",
    )
    .unwrap();
    let path = dir.path().join("scanpay.toml");
    std::fs::write(&path, config).unwrap();
    (dir, path)
}

fn load(path: &Path) -> Result<Config, ConfigError> {
    Config::load_from(Source::File {
        path: path.to_path_buf(),
        found_by: FoundBy::Flag,
    })
}

/// Loads `GOOD_LIVE` changed by `edit` (through `common::config`) and returns the error text.
fn error_with(edit: impl FnOnce(&mut Table)) -> String {
    let mut t = config::parse(GOOD_LIVE);
    edit(&mut t);
    let (_dir, path) = live_dir(&config::text(&t));
    match load(&path) {
        Ok(_) => panic!("config was accepted:\n{}", config::text(&t)),
        Err(e) => e.to_string(),
    }
}

#[test]
fn embedded_demo_loads() {
    let c = Config::load_from(Source::EmbeddedDemo).unwrap();
    assert_eq!(c.wechatpay.mode, Mode::Simulator);
    assert_eq!(c.language, Language::Zh);
    assert_eq!(c.data_dir, PathBuf::from("scanpay-data"));
    assert_eq!(c.merchant.terminal_id, "POS01");
    assert_eq!(c.payment.max_amount, Fen(500_000));
    assert!(c.describe().contains("<embedded demo config>"));
}

#[test]
fn example_file_is_valid_apart_from_its_key_files() {
    let text = std::fs::read_to_string("config/scanpay.example.toml").unwrap();
    let (_dir, path) = live_dir(&text);
    let c = load(&path).unwrap();
    assert_eq!(c.wechatpay.mode, Mode::Live);
    assert_eq!(c.scanner.baud, 9600);
}

#[test]
fn live_config_resolves_paths_against_its_folder() {
    let (dir, path) = live_dir(GOOD_LIVE);
    let c = load(&path).unwrap();
    assert_eq!(c.data_dir, dir.path().join("data"));
    assert_eq!(
        c.wechatpay.merchant_private_key.unwrap(),
        dir.path().join("keys/apiclient_key.pem")
    );
    assert_eq!(
        c.wechatpay.merchant_serial_no.unwrap(),
        "408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB"
    );
    assert_eq!(c.language, Language::En);
}

#[test]
fn lookup_order() {
    let mut env = LookupEnv {
        flag: Some("flag.toml".into()),
        env_config: Some("env.toml".into()),
        cwd: "/work".into(),
        xdg_config_home: Some("/xdg".into()),
        home: Some("/home/me".into()),
    };
    let all = |_: &Path| true;
    let none = |_: &Path| false;
    assert_eq!(
        locate(&env, none),
        Source::File {
            path: "flag.toml".into(),
            found_by: FoundBy::Flag
        }
    );
    env.flag = None;
    assert_eq!(
        locate(&env, none),
        Source::File {
            path: "env.toml".into(),
            found_by: FoundBy::Env
        }
    );
    env.env_config = None;
    assert_eq!(
        locate(&env, all),
        Source::File {
            path: "/work/scanpay.toml".into(),
            found_by: FoundBy::WorkingDir
        }
    );
    let only_xdg = |p: &Path| p.starts_with("/xdg");
    assert_eq!(
        locate(&env, only_xdg),
        Source::File {
            path: "/xdg/scanpay/config.toml".into(),
            found_by: FoundBy::Xdg
        }
    );
    env.xdg_config_home = None;
    let only_home = |p: &Path| p.starts_with("/home/me/.config");
    assert_eq!(
        locate(&env, only_home),
        Source::File {
            path: "/home/me/.config/scanpay/config.toml".into(),
            found_by: FoundBy::Xdg
        }
    );
    assert_eq!(locate(&env, none), Source::EmbeddedDemo);
}

#[test]
fn missing_explicit_file_is_an_error_not_a_fallback() {
    let err = load(Path::new("/nonexistent/scanpay.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("config file /nonexistent/scanpay.toml: cannot read it"),
        "{err}"
    );
}

/// `store_id` is sent as `scene_info.store_info.out_id`: refused at load, by name, when it
/// holds anything but letters, digits, `-` and `_`, or more than 32 characters.
#[test]
fn store_id_is_checked_as_out_id() {
    let long = "S".repeat(33);
    for bad in ["SZ 001", "SZ,001", "SZ`001", "深圳001", long.as_str()] {
        let err = error_with(|t| set(t, "merchant.store_id", bad));
        assert!(err.contains("merchant.store_id"), "{bad}: {err}");
        assert!(err.contains("out_id") || err.contains("32"), "{bad}: {err}");
    }
    let mut t = config::parse(GOOD_LIVE);
    set(&mut t, "merchant.store_id", "SZ_001-A");
    let (_dir, path) = live_dir(&config::text(&t));
    assert_eq!(load(&path).unwrap().merchant.store_id, "SZ_001-A");
}

#[test]
fn unknown_field_is_named() {
    let err = error_with(|t| insert(t, "merchant.store_idd", 1));
    assert!(err.contains("scanpay.toml"), "{err}");
    assert!(err.contains("unknown field `store_idd`"), "{err}");
}

#[test]
fn wrong_type_is_named() {
    let err = error_with(|t| set(t, "scanner.baud", "fast"));
    assert!(
        err.contains("baud") && err.contains("invalid type"),
        "{err}"
    );
}

#[test]
fn unknown_mode_is_named() {
    let err = error_with(|t| set(t, "wechatpay.mode", "sandbox"));
    assert!(err.contains("unknown variant `sandbox`"), "{err}");
}

#[test]
fn missing_key_file() {
    let err = error_with(|t| set(t, "wechatpay.merchant_private_key", "keys/missing.pem"));
    assert!(
        err.contains("field `wechatpay.merchant_private_key`"),
        "{err}"
    );
    assert!(err.contains("missing.pem cannot be opened"), "{err}");
}

#[test]
fn key_file_readable_by_others_is_refused() {
    let (dir, path) = live_dir(GOOD_LIVE);
    let key = dir.path().join("keys/apiclient_key.pem");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = load(&path).unwrap_err().to_string();
    assert!(
        err.contains("field `wechatpay.merchant_private_key`"),
        "{err}"
    );
    assert!(err.contains("readable by group/others (mode 644)"), "{err}");
    assert!(err.contains("chmod 600"), "{err}");
}

#[test]
fn http_base_url_only_for_loopback() {
    let err = error_with(|t| set(t, "wechatpay.base_url", "http://api.mch.weixin.qq.com"));
    assert!(err.contains("field `wechatpay.base_url`"), "{err}");
    assert!(err.contains("not loopback"), "{err}");
    for ok in [
        "http://127.0.0.1:8080",
        "http://localhost:9",
        "http://[::1]:9",
        "http://127.8.0.1",
    ] {
        let mut t = config::parse(GOOD_LIVE);
        set(&mut t, "wechatpay.base_url", ok);
        let (_dir, path) = live_dir(&config::text(&t));
        assert!(load(&path).is_ok(), "{ok} refused");
    }
    let err = error_with(|t| set(t, "wechatpay.backup_base_url", "http://10.0.0.1"));
    assert!(err.contains("field `wechatpay.backup_base_url`"), "{err}");
    let err = error_with(|t| set(t, "wechatpay.base_url", "ftp://x"));
    assert!(err.contains("use https://"), "{err}");
}

#[test]
fn amount_limit_not_a_number() {
    let err = error_with(|t| set(t, "payment.max_amount", "lots"));
    assert!(err.contains("field `payment.max_amount`"), "{err}");
    assert!(err.contains("\"lots\" is not an amount"), "{err}");
    let err = error_with(|t| set(t, "payment.max_amount", 12.5));
    assert!(err.contains("as a string"), "{err}");
    let err = error_with(|t| set(t, "payment.max_amount", "-3"));
    assert!(err.contains("negative"), "{err}");
}

#[test]
fn timing_limits() {
    let err = error_with(|t| set(t, "payment.user_paying_timeout_secs", 10));
    assert!(
        err.contains("field `payment.user_paying_timeout_secs`") && err.contains("15 s"),
        "{err}"
    );
    let err = error_with(|t| set(t, "payment.query_interval_secs", 1));
    assert!(err.contains("field `payment.query_interval_secs`"), "{err}");
    let err = error_with(|t| insert(t, "wechatpay.connect_timeout_ms", 5));
    assert!(
        err.contains("field `wechatpay.connect_timeout_ms`"),
        "{err}"
    );
}

#[test]
fn merchant_fields() {
    let err = error_with(|t| set(t, "merchant.mchid", "19000x"));
    assert!(
        err.contains("field `merchant.mchid`") && err.contains("digits"),
        "{err}"
    );
    let err = error_with(|t| set(t, "merchant.terminal_id", "POS-01"));
    assert!(err.contains("field `merchant.terminal_id`"), "{err}");
    let err = error_with(|t| set(t, "merchant.device_ip", "till-1"));
    assert!(
        err.contains("field `merchant.device_ip`") && err.contains("not an IPv4"),
        "{err}"
    );
    let err = error_with(|t| {
        remove(t, "merchant.mchid");
    });
    assert!(err.contains("missing field `mchid`"), "{err}");
}

#[test]
fn live_mode_needs_trust_material() {
    let mut t = config::parse(GOOD_LIVE);
    remove(&mut t, "wechatpay.wechatpay_public_key_id");
    remove(&mut t, "wechatpay.wechatpay_public_key");
    let (_dir, path) = live_dir(&config::text(&t));
    let err = load(&path).unwrap_err().to_string();
    assert!(
        err.contains("field `wechatpay.wechatpay_public_key`")
            && err.contains("platform_certificates"),
        "{err}"
    );
    let err = error_with(|t| set(t, "wechatpay.wechatpay_public_key_id", "KEY_0001"));
    assert!(err.contains("PUB_KEY_ID_"), "{err}");
    let err = error_with(|t| set(t, "wechatpay.merchant_serial_no", "xyz"));
    assert!(
        err.contains("field `wechatpay.merchant_serial_no`"),
        "{err}"
    );
}

#[test]
fn scanner_fields() {
    let err = error_with(|t| set(t, "scanner.baud", 9601));
    assert!(err.contains("field `scanner.baud`"), "{err}");
}

#[test]
fn bad_toml_syntax_names_the_file() {
    let (_dir, path) = live_dir("language = \"zh\"\n[merchant\n");
    let err = load(&path).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("config file {}", path.display())),
        "{err}"
    );
}

#[test]
fn printer_fields() {
    let err = error_with(|t| insert(t, "printer.width", 40));
    assert!(
        err.contains("field `printer.width`") && err.contains("58 mm"),
        "{err}"
    );
    let err = error_with(|t| insert(t, "printer.timezone", "Mars/Olympus"));
    assert!(err.contains("field `printer.timezone`"), "{err}");
    let err = error_with(|t| insert(t, "printer.kind", "tcp"));
    assert!(err.contains("field `printer.address`"), "{err}");
    let err = error_with(|t| insert(t, "printer.kind", "device"));
    assert!(err.contains("field `printer.path`"), "{err}");
}

#[test]
fn the_config_helper_refuses_keys_the_template_does_not_have() {
    let mut t = config::demo();
    // A key that is there: set, read back, and the result still loads.
    set(&mut t, "payment.query_interval_secs", 3);
    assert_eq!(
        config::get(&t, "payment.query_interval_secs").as_integer(),
        Some(3)
    );
    let dir = tempfile::tempdir().unwrap();
    let c = config::load(&t, &dir.path().join("scanpay.toml")).unwrap();
    assert_eq!(c.payment.query_interval_secs, 3);
    assert_eq!(c.data_dir, dir.path().join("scanpay-data"));
    // A renamed or misspelt key fails loudly, in every helper.
    let fails = |f: fn(&mut Table)| {
        let mut t = config::demo();
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut t))).is_err()
    };
    assert!(fails(|t| set(t, "payment.query_interval", 3)));
    assert!(fails(|t| set(t, "paymnt.query_interval_secs", 3)));
    assert!(fails(|t| {
        remove(t, "merchant.store");
    }));
    assert!(fails(|t| insert(t, "payment.query_interval_secs", 3)));
    assert!(!fails(|t| insert(t, "printer.width", 48)));
}

#[test]
fn the_demo_through_the_config_helper_is_the_embedded_demo() {
    let dir = tempfile::tempdir().unwrap();
    let from_table = config::load(&config::demo(), &dir.path().join("scanpay.toml")).unwrap();
    let embedded = Config::load_from(Source::EmbeddedDemo).unwrap();
    assert_eq!(
        from_table.merchant.terminal_id,
        embedded.merchant.terminal_id
    );
    assert_eq!(from_table.payment.max_amount, embedded.payment.max_amount);
    assert_eq!(from_table.wechatpay.mode, embedded.wechatpay.mode);
    assert_eq!(from_table.language, embedded.language);
}

/// Loads `GOOD_LIVE` changed by `edit` and returns the configuration.
fn loaded_with(edit: impl FnOnce(&mut Table)) -> Config {
    let mut t = config::parse(GOOD_LIVE);
    edit(&mut t);
    let (_dir, path) = live_dir(&config::text(&t));
    load(&path).unwrap_or_else(|e| panic!("config refused: {e}\n{}", config::text(&t)))
}

#[test]
fn sub_mchid_switches_to_service_provider_mode() {
    let direct = loaded_with(|_| {});
    assert_eq!(direct.merchant.sub_mchid, None);
    assert!(!direct.describe().contains("merchant.sub_mchid"));
    let partner = loaded_with(|t| {
        insert(t, "merchant.sub_mchid", "1900000109");
        insert(t, "merchant.sub_appid", "wx8888888888888888");
    });
    assert_eq!(partner.merchant.sub_mchid.as_deref(), Some("1900000109"));
    assert_eq!(
        partner.merchant.sub_appid.as_deref(),
        Some("wx8888888888888888")
    );
    assert!(
        partner.describe().contains("merchant.sub_mchid")
            && partner.describe().contains("1900000109"),
        "{}",
        partner.describe()
    );
    let no_sub_appid = loaded_with(|t| insert(t, "merchant.sub_mchid", "1900000109"));
    assert_eq!(no_sub_appid.merchant.sub_appid, None);
}

#[test]
fn service_provider_fields_say_whose_they_are() {
    let err = error_with(|t| insert(t, "merchant.sub_mchid", "19x"));
    assert!(
        err.contains("field `merchant.sub_mchid`")
            && err.contains("digits")
            && err.contains("sub-merchant"),
        "{err}"
    );
    let err = error_with(|t| insert(t, "merchant.sub_mchid", ""));
    assert!(err.contains("field `merchant.sub_mchid`"), "{err}");
    let mchid = config::parse(GOOD_LIVE)["merchant"]["mchid"]
        .as_str()
        .unwrap()
        .to_string();
    let err = error_with(|t| insert(t, "merchant.sub_mchid", mchid.as_str()));
    assert!(
        err.contains("field `merchant.sub_mchid`") && err.contains("service provider"),
        "{err}"
    );
    let err = error_with(|t| {
        insert(t, "merchant.sub_mchid", "1900000109");
        insert(t, "merchant.sub_appid", "wx-8888");
    });
    assert!(
        err.contains("field `merchant.sub_appid`") && err.contains("letters and digits"),
        "{err}"
    );
    let err = error_with(|t| insert(t, "merchant.sub_appid", "wx8888888888888888"));
    assert!(
        err.contains("field `merchant.sub_appid`") && err.contains("merchant.sub_mchid"),
        "{err}"
    );
}

#[test]
fn sub_merchant_name_is_the_sub_merchants_and_printable() {
    let named = loaded_with(|t| {
        insert(t, "merchant.sub_mchid", "1900000109");
        insert(t, "merchant.sub_merchant_name", "  示例便利店（南山）  ");
    });
    assert_eq!(
        named.merchant.sub_merchant_name.as_deref(),
        Some("示例便利店（南山）"),
        "trimmed"
    );
    let sub = named
        .merchant
        .sub_merchant()
        .expect("service-provider mode");
    assert_eq!(sub.sub_mchid, "1900000109");
    assert_eq!(sub.name.as_deref(), Some("示例便利店（南山）"));
    let shown = named.describe();
    assert!(
        shown.contains("merchant.sub_merchant_name") && shown.contains("示例便利店（南山）"),
        "{shown}"
    );
    assert!(shown.contains("service provider (服务商)"), "{shown}");
    let direct = loaded_with(|_| {});
    assert_eq!(direct.merchant.sub_merchant(), None);
    assert!(direct.describe().contains("direct merchant"));
    assert!(!direct.describe().contains("sub_merchant_name"));

    // Only with a sub-merchant.
    let err = error_with(|t| insert(t, "merchant.sub_merchant_name", "示例"));
    assert!(
        err.contains("field `merchant.sub_merchant_name`")
            && err.contains("merchant.sub_mchid")
            && err.contains("merchant.store_name"),
        "{err}"
    );
    let partner = |name: &str| {
        let name = name.to_string();
        error_with(move |t| {
            insert(t, "merchant.sub_mchid", "1900000109");
            insert(t, "merchant.sub_merchant_name", name.as_str());
        })
    };
    let err = partner("   ");
    assert!(
        err.contains("field `merchant.sub_merchant_name`") && err.contains("empty"),
        "{err}"
    );
    let err = partner("示例\u{1b}[2J便利店");
    assert!(
        err.contains("field `merchant.sub_merchant_name`") && err.contains("control"),
        "{err}"
    );
    assert!(
        !err.contains('\u{1b}'),
        "the error does not echo the escape"
    );
    let err = partner(&"店".repeat(65));
    assert!(
        err.contains("field `merchant.sub_merchant_name`") && err.contains("at most 64"),
        "{err}"
    );
    let longest = "店".repeat(64);
    let ok = loaded_with(|t| {
        insert(t, "merchant.sub_mchid", "1900000109");
        insert(t, "merchant.sub_merchant_name", longest.as_str());
    });
    assert_eq!(
        ok.merchant.sub_merchant_name.as_deref(),
        Some(longest.as_str())
    );
}
