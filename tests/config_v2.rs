//! `[wechatpay] api = "v2"` (issue 15): which fields belong to which API, the APIv2 key file
//! rules (owner-only, 32 characters, never printed), the client certificate, the sign type and
//! `tls_root_certificate`. Configurations are a live APIv2 template edited through the TOML
//! parser (`common::config`).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::config::{self, insert, remove, set};
use scanpay::config::{Api, Config, ConfigError};
use scanpay::wechat::v2::sign::SignType;
use toml::Table;

const V2_KEY: &str = "192006250b4c09247ec02edce69f6a2d";

const GOOD_V2: &str = r#"
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
api = "v2"
base_url = "https://api.mch.weixin.qq.com"
v2_key = "keys/v2_key.txt"
client_certificate = "keys/apiclient_cert.pem"
merchant_private_key = "keys/apiclient_key.pem"
"#;

/// A folder with the key files GOOD_V2 names (keys 0600) and the CA of the transport tests.
fn folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v2-tls");
    for (name, from) in [
        ("apiclient_cert.pem", "apiclient_cert.pem"),
        ("apiclient_key.pem", "apiclient_key.pem"),
        ("ca.pem", "ca.pem"),
    ] {
        std::fs::copy(fixtures.join(from), keys.join(name)).unwrap();
    }
    std::fs::write(keys.join("v2_key.txt"), format!("{V2_KEY}\n")).unwrap();
    for k in ["v2_key.txt", "apiclient_key.pem"] {
        std::fs::set_permissions(keys.join(k), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    dir
}

fn load_with(dir: &Path, edit: impl FnOnce(&mut Table)) -> Result<Config, ConfigError> {
    let mut t = config::parse(GOOD_V2);
    edit(&mut t);
    config::load(&t, &dir.join("scanpay.toml"))
}

fn error_with(edit: impl FnOnce(&mut Table)) -> String {
    let dir = folder();
    match load_with(dir.path(), edit) {
        Ok(_) => panic!("config was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_v2_till_needs_no_apiv3_keys() {
    let dir = folder();
    let c = load_with(dir.path(), |_| {}).unwrap();
    assert_eq!(c.wechatpay.api, Api::V2);
    assert_eq!(c.wechatpay.v2_sign_type, SignType::HmacSha256);
    assert_eq!(
        c.wechatpay.v2_key.as_deref(),
        Some(dir.path().join("keys/v2_key.txt").as_path())
    );
    let described = c.describe();
    assert!(described.contains("wechatpay.api"), "{described}");
    assert!(described.contains("v2_key.txt"), "{described}");
    assert!(
        !described.contains(V2_KEY),
        "the key itself is never printed"
    );
    // The default is APIv3, which does need its own keys.
    let e = error_with(|t| {
        remove(t, "wechatpay.api");
    });
    assert!(e.contains("wechatpay.merchant_serial_no"), "{e}");
}

#[test]
fn the_sign_type_is_hmac_sha256_or_md5() {
    let dir = folder();
    let c = load_with(dir.path(), |t| insert(t, "wechatpay.v2_sign_type", "MD5")).unwrap();
    assert_eq!(c.wechatpay.v2_sign_type, SignType::Md5);
    let e = error_with(|t| insert(t, "wechatpay.v2_sign_type", "SHA1"));
    assert!(e.contains("wechatpay.v2_sign_type"), "{e}");
    assert!(e.contains("HMAC-SHA256") && e.contains("MD5"), "{e}");
    let e = error_with(|t| set(t, "wechatpay.api", "v4"));
    assert!(e.contains("v4"), "{e}");
}

#[test]
fn the_v2_key_file_is_required_owner_only_and_32_characters() {
    let e = error_with(|t| {
        remove(t, "wechatpay.v2_key");
    });
    assert!(
        e.contains("wechatpay.v2_key") && e.contains(r#"api = "v2""#),
        "{e}"
    );

    let dir = folder();
    let key = dir.path().join("keys/v2_key.txt");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let e = load_with(dir.path(), |_| {}).unwrap_err().to_string();
    assert!(
        e.contains("wechatpay.v2_key") && e.contains("chmod 600"),
        "{e}"
    );
    assert!(!e.contains(V2_KEY), "{e}");

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(&key, "too-short-key\n").unwrap();
    let e = load_with(dir.path(), |_| {}).unwrap_err().to_string();
    assert!(e.contains("32"), "{e}");
    assert!(
        !e.contains("too-short-key"),
        "the key's text is never shown: {e}"
    );
}

#[test]
fn reverse_and_refund_need_the_client_certificate_and_its_key() {
    let e = error_with(|t| {
        remove(t, "wechatpay.client_certificate");
    });
    assert!(e.contains("wechatpay.client_certificate"), "{e}");
    let e = error_with(|t| {
        remove(t, "wechatpay.merchant_private_key");
    });
    assert!(e.contains("wechatpay.merchant_private_key"), "{e}");
    let e = error_with(|t| set(t, "wechatpay.client_certificate", "keys/missing.pem"));
    assert!(e.contains("wechatpay.client_certificate"), "{e}");
}

#[test]
fn apiv3_ignores_the_v2_fields_so_one_file_switches_with_api_alone() {
    let dir = folder();
    // The same file, switched to APIv3 with its own keys added: the v2 fields stay, unused.
    let c = load_with(dir.path(), |t| {
        set(t, "wechatpay.api", "v3");
        insert(
            t,
            "wechatpay.merchant_serial_no",
            "408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB",
        );
        insert(
            t,
            "wechatpay.platform_certificates",
            vec!["keys/ca.pem".to_string()],
        );
    })
    .unwrap();
    assert_eq!(c.wechatpay.api, Api::V3);
    assert!(!c.describe().contains("wechatpay.v2_key"));
}

#[test]
fn an_extra_trusted_root_is_for_a_private_server_only() {
    let dir = folder();
    let local = |t: &mut Table| {
        set(t, "wechatpay.base_url", "https://127.0.0.1:8443");
        insert(t, "wechatpay.tls_root_certificate", "keys/ca.pem");
    };
    let c = load_with(dir.path(), local).unwrap();
    assert_eq!(
        c.wechatpay.tls_root_certificate,
        Some(dir.path().join("keys/ca.pem"))
    );
    // Never next to WeChat Pay's own hosts.
    let e = error_with(|t| insert(t, "wechatpay.tls_root_certificate", "keys/ca.pem"));
    assert!(e.contains("wechatpay.tls_root_certificate"), "{e}");
    assert!(e.contains("never for"), "{e}");
    // A file without a certificate.
    let e = error_with(|t| {
        set(t, "wechatpay.base_url", "https://127.0.0.1:8443");
        insert(t, "wechatpay.tls_root_certificate", "keys/v2_key.txt");
    });
    assert!(e.contains("no PEM certificate"), "{e}");
    assert!(!e.contains(V2_KEY), "{e}");
}

#[tokio::test]
async fn connect_maps_a_v2_config_to_v2_settings() {
    let dir = folder();
    let cfg = load_with(dir.path(), |t| {
        set(t, "wechatpay.base_url", "https://127.0.0.1:8443");
        insert(t, "wechatpay.tls_root_certificate", "keys/ca.pem");
    })
    .unwrap();
    let s = scanpay::connect::live_settings(&cfg).unwrap();
    let scanpay::wechat::client::Protocol::V2(v2) = &s.protocol else {
        panic!("not APIv2: {:?}", s.protocol);
    };
    assert_eq!(v2.sign_type, SignType::HmacSha256);
    assert!(v2.client_identity.is_some());
    assert_eq!(s.extra_roots.len(), 1);
    // Debug output never shows the key.
    let shown = format!("{s:?}");
    assert!(!shown.contains(V2_KEY), "{shown}");
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");
    let clock: scanpay::clock::SharedClock =
        std::sync::Arc::new(scanpay::clock::ManualClock::at_ms(1_764_500_000_000));
    let client = scanpay::connect::live_client(&cfg, clock).unwrap();
    assert_eq!(client.settings().protocol.as_str(), "v2");
}

#[tokio::test]
async fn check_reports_the_v2_key_and_the_client_certificate() {
    use scanpay::till::check::{Item, Status, client_certificate_finding};
    let dir = folder();
    let cfg = load_with(dir.path(), |_| {}).unwrap();
    let now = 1_800_000_000; // 2027-01-15, after the fixture was issued
    let f = client_certificate_finding(&cfg, now);
    assert_eq!(f.status, Status::Ok, "{f:?}");
    assert_eq!(f.item, Item::ClientCertificate);
    // The certificate of another key.
    let other = scanpay::wechat::keys::PrivateKey::generate().unwrap();
    std::fs::write(
        dir.path().join("keys/apiclient_key.pem"),
        other.to_pkcs8_pem().unwrap(),
    )
    .unwrap();
    let f = client_certificate_finding(&cfg, now);
    assert_eq!(f.status, Status::Problem, "{f:?}");
    assert!(
        f.detail.contains("is not the certificate of the key"),
        "{f:?}"
    );
    // Expired (the fixture is valid for a century: move the clock past it).
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v2-tls/apiclient_key.pem"),
        dir.path().join("keys/apiclient_key.pem"),
    )
    .unwrap();
    // `fs::copy` copies the checkout's mode (0644 in a fresh clone); the key is owner-only.
    std::fs::set_permissions(
        dir.path().join("keys/apiclient_key.pem"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let f = client_certificate_finding(&cfg, now + 200 * 365 * 86_400);
    assert_eq!(f.status, Status::Problem, "{f:?}");
    assert!(f.detail.contains("expired"), "{f:?}");
}
