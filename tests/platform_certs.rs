//! Merchants on platform certificates (平台证书): the AEAD_AES_256_GCM decryption against the
//! SDK vectors, the trust store's expiry rules, and — on tokio's paused clock, against the
//! in-process simulator in platform-certificate mode — the download at start, the cache that
//! verifies after a restart without network, the backup host, the 12-hour refresh, and a
//! certificate rotation in the middle of a shift with no failed or unresolved sale.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use scanpay::auth_code::AuthCode;
use scanpay::clock::{SharedClock, TokioClock};
use scanpay::config::Config;
use scanpay::connect::{CERTIFICATE_CACHE, ConnectError, Connection, connect};
use scanpay::engine::{Engine, OrderState, Sale};
use scanpay::money::Fen;
use scanpay::sim::fault::{Endpoint, Fault, FaultRule};
use scanpay::sim::{SimHandle, SimKeys, Simulator};
use scanpay::store::{Store, shifts};
use scanpay::wechat::certs::{AeadError, Apiv3Key, EncryptedResource, decrypt_list};
use scanpay::wechat::keys::{
    EXPIRY_WARNING_SECS, KeySource, KeyState, Missing, TrustStore, certificate_from_pem,
    certificate_validity,
};
use serde_json::Value;

use common::config as cfgfile;
use common::fixtures::{CASHIER, DESCRIPTION, TERMINAL, code};

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn json(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(vectors().join(name)).unwrap()).unwrap()
}

fn s<'v>(v: &'v Value, k: &str) -> &'v str {
    v[k].as_str().unwrap_or_else(|| panic!("vector has no {k}"))
}

// ---- AEAD_AES_256_GCM against the vectors ----

#[test]
fn aead_decrypts_the_wechatpay_java_vector_and_refuses_altered_inputs() {
    let v = &json("wechatpay-java.json")["aead_aes_256_gcm"];
    let key = Apiv3Key::from_bytes(s(v, "apiv3_key").as_bytes()).unwrap();
    let plain = key
        .decrypt(s(v, "nonce"), s(v, "associated_data"), s(v, "ciphertext"))
        .unwrap();
    assert_eq!(plain, s(v, "plaintext").as_bytes());
    // And our encryption is the same function (the simulator's side).
    assert_eq!(
        key.encrypt(
            s(v, "nonce"),
            s(v, "associated_data"),
            s(v, "plaintext").as_bytes()
        )
        .unwrap(),
        s(v, "ciphertext")
    );
    for bad in v["must_fail"].as_array().unwrap() {
        let nonce = bad["nonce"].as_str().unwrap_or(s(v, "nonce"));
        let aad = bad["associated_data"]
            .as_str()
            .unwrap_or(s(v, "associated_data"));
        assert_eq!(
            key.decrypt(nonce, aad, s(v, "ciphertext")),
            Err(AeadError::Open),
            "{bad}"
        );
    }
}

#[test]
fn the_wechatpay_java_certificate_list_entry_decrypts_to_its_certificate() {
    let v = &json("wechatpay-java.json")["certificate_download_decrypt"];
    let key = Apiv3Key::from_bytes(s(v, "apiv3_key").as_bytes()).unwrap();
    let resource = EncryptedResource {
        algorithm: s(v, "algorithm").into(),
        nonce: s(v, "nonce").into(),
        associated_data: s(v, "associated_data").into(),
        ciphertext: s(v, "ciphertext").into(),
    };
    let pem = resource.decrypt(&key).unwrap();
    let expected = std::fs::read(vectors().join(s(v, "expected_plaintext_file"))).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&pem).trim(),
        String::from_utf8_lossy(&expected).trim()
    );
    // The whole list as the answer carries it: serial and times checked and parsed.
    let body = serde_json::json!({"data": [{
        "serial_no": s(v, "serial_no"),
        "effective_time": s(v, "effective_time"),
        "expire_time": s(v, "expire_time"),
        "encrypt_certificate": resource,
    }]});
    let certs = decrypt_list(&serde_json::to_vec(&body).unwrap(), &key).unwrap();
    assert_eq!(certs.len(), 1);
    assert_eq!(certs[0].serial_no, s(v, "serial_no"));
    assert_eq!(certs[0].effective, 1_695_136_558); // 2023-09-19T23:15:58+08:00
    assert_eq!(certs[0].expire, 1_852_816_558); // 2028-09-17T23:15:58+08:00
    // A list that names another serial than the certificate inside is refused.
    let mut lying = body.clone();
    lying["data"][0]["serial_no"] = "44002404".into();
    assert!(decrypt_list(&serde_json::to_vec(&lying).unwrap(), &key).is_err());
    // Another algorithm is refused.
    let mut other = resource.clone();
    other.algorithm = "AEAD_SM4_GCM".into();
    assert!(matches!(other.decrypt(&key), Err(AeadError::Algorithm(_))));
}

#[test]
fn aes_128_keys_and_16_byte_ivs_of_the_other_vectors_are_refused() {
    // wechatpay-go's util vector uses a 16-byte key: AES-128-GCM, not AEAD_AES_256_GCM.
    let v = &json("wechatpay-go.json")["aes_gcm_util"];
    assert_eq!(
        Apiv3Key::from_bytes(s(v, "key").as_bytes()).err(),
        Some(AeadError::KeyLength(16))
    );
    // wechatpay-axios-plugin's AES-256-GCM cases use a 16-byte IV; WeChat Pay's nonces are
    // 12 bytes, and a 16-byte one is refused rather than silently mis-decrypted.
    for case in json("aes-gcm-extra.json")["cases"].as_array().unwrap() {
        let key = Apiv3Key::from_bytes(s(case, "key").as_bytes()).unwrap();
        assert_eq!(
            key.decrypt(s(case, "iv"), s(case, "aad"), s(case, "ciphertext")),
            Err(AeadError::NonceLength(16))
        );
    }
}

// ---- the trust store's validity rules ----

#[test]
fn a_certificate_is_used_only_within_its_validity_and_reported_before_it_expires() {
    let pem = std::fs::read(vectors().join("wechatpay-java_decrypted_platform_cert_5DEA10EF.pem"))
        .unwrap();
    let origin = Path::new("cert");
    let (serial, _) = certificate_from_pem(&pem, origin).unwrap();
    let (from, until) = certificate_validity(&pem, origin).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cert.pem");
    std::fs::write(&file, &pem).unwrap();
    let trust = TrustStore::load(None, &[file]).unwrap();
    assert!(trust.get_at(&serial, from + 1).is_ok());
    assert!(trust.get_at(&serial, until).is_ok());
    assert_eq!(
        trust.get_at(&serial, until + 1).err(),
        Some(Missing::Expired)
    );
    assert_eq!(
        trust.get_at(&serial, from - 1).err(),
        Some(Missing::Expired)
    );
    assert_eq!(
        trust.get_at("ABCDEF", from + 1).err(),
        Some(Missing::Unknown)
    );
    let at = |now| trust.status(now)[0].clone();
    assert_eq!(at(from + 1).state, KeyState::Valid);
    assert_eq!(
        at(until - EXPIRY_WARNING_SECS + 1).state,
        KeyState::ExpiresSoon
    );
    assert_eq!(at(until + 1).state, KeyState::Expired);
    assert_eq!(at(from + 1).source, KeySource::PinnedCertificate);
    assert_eq!(at(from + 1).expire, Some(until));
    assert!(!at(from + 1).has_successor);
    assert_eq!(trust.preferred_serial(), Some(serial.as_str()));
}

// ---- against the simulator in platform-certificate mode ----

const APIV3_KEY: &str = "0123456789abcdefghijklmnopqrstuv";

struct Shop {
    dir: tempfile::TempDir,
    sim: SimHandle,
    clock: SharedClock,
    table: toml::Table,
    /// The simulator's `PUB_KEY_ID_…` (its public key is `pub_key.pem`, not configured).
    pkid: String,
}

fn write_secret(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A simulator in platform-certificate mode and a live configuration for it that names only
/// the APIv3 key (no public key, no pinned certificate).
async fn shop() -> Shop {
    shop_with(true).await
}

/// [`shop`], with the simulator in platform-certificate mode or not (public key only).
async fn shop_with(platform: bool) -> Shop {
    let dir = tempfile::tempdir().unwrap();
    let clock: SharedClock = Arc::new(TokioClock::new());
    let table = cfgfile::demo();
    let demo = cfgfile::load(&table, &dir.path().join("scanpay.toml")).unwrap();
    let keys = SimKeys::generate().unwrap();
    let sim = Simulator::new(
        &keys,
        &demo.merchant.mchid,
        &demo.merchant.appid,
        clock.clone(),
    )
    .unwrap()
    .start("127.0.0.1:0")
    .await
    .unwrap();
    if platform {
        sim.use_platform_certificates(Apiv3Key::from_bytes(APIV3_KEY.as_bytes()).unwrap())
            .unwrap();
    }
    write_secret(
        &dir.path().join("apiclient_key.pem"),
        &keys.merchant_key.to_pkcs8_pem().unwrap(),
    );
    write_secret(&dir.path().join("apiv3_key.txt"), &format!("{APIV3_KEY}\n"));
    std::fs::write(
        dir.path().join("pub_key.pem"),
        keys.platform_key.public_pem().unwrap(),
    )
    .unwrap();
    let pkid = keys.public_key_id.clone();
    let mut table = table;
    cfgfile::set(&mut table, "wechatpay.mode", "live");
    cfgfile::insert(&mut table, "wechatpay.base_url", sim.base_url.as_str());
    cfgfile::insert(
        &mut table,
        "wechatpay.merchant_serial_no",
        keys.merchant_serial_no.as_str(),
    );
    cfgfile::insert(
        &mut table,
        "wechatpay.merchant_private_key",
        "apiclient_key.pem",
    );
    cfgfile::insert(&mut table, "wechatpay.apiv3_key", "apiv3_key.txt");
    cfgfile::set(&mut table, "data_dir", "data");
    Shop {
        dir,
        sim,
        clock,
        table,
        pkid,
    }
}

impl Shop {
    fn config(&self) -> Config {
        cfgfile::load(&self.table, &self.dir.path().join("scanpay.toml")).unwrap()
    }

    async fn connect(&self) -> Result<Connection, ConnectError> {
        connect(&self.config(), self.clock.clone()).await
    }

    fn downloads(&self) -> u64 {
        self.sim
            .stats()
            .requests
            .get("certificates")
            .copied()
            .unwrap_or(0)
    }

    fn cache(&self) -> PathBuf {
        self.dir.path().join("data").join(CERTIFICATE_CACHE)
    }
}

/// An engine over `conn` with a fresh shift log and an open shift.
async fn till(shop: &Shop, conn: &Connection) -> (Engine, i64) {
    let cfg = shop.config();
    let store = Store::open_inline(&shop.dir.path().join("data")).unwrap();
    let now = shop.clock.now_ms();
    let shift = store
        .call(move |c| shifts::open(c, TERMINAL, CASHIER, now))
        .await
        .unwrap()
        .id;
    (
        Engine::new(&cfg, conn.client.clone(), store, shop.clock.clone()),
        shift,
    )
}

/// One sale by the scripted customer `suffix`; `n` makes the payment code distinct.
async fn sell_nth(engine: &Engine, shift: i64, n: u8, suffix: &str) -> (String, OrderState) {
    let full = format!("{}{n}{suffix}", &code(suffix)[..15]);
    let sale = Sale {
        amount: Fen(1234),
        description: DESCRIPTION.into(),
        code: AuthCode::parse(&full).unwrap(),
        shift_id: shift,
        cashier: CASHIER.into(),
    };
    let o = engine.pay(&sale, &mut |_| {}, None).await.unwrap();
    (o.out_trade_no, o.state)
}

async fn sell(engine: &Engine, shift: i64, suffix: &str) -> (String, OrderState) {
    sell_nth(engine, shift, 0, suffix).await
}

#[tokio::test(start_paused = true)]
async fn a_rotation_in_the_middle_of_a_shift_fails_no_sale() {
    let shop = shop().await;
    let conn = shop.connect().await.unwrap();
    assert_eq!(shop.downloads(), 1, "downloaded once at start");
    assert!(shop.cache().exists(), "kept under data_dir");
    // What `scanpay check` sees, without the network: the downloaded certificate, valid.
    let status = scanpay::connect::trust_status(&shop.config(), shop.clock.now_unix()).unwrap();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].source, KeySource::DownloadedCertificate);
    assert_eq!(status[0].state, KeyState::Valid);
    let (engine, shift) = till(&shop, &conn).await;
    let mut sold = Vec::new();
    for suffix in ["11", "12", "01"] {
        sold.push(sell(&engine, shift, suffix).await);
    }
    // Mid-shift: WeChat Pay starts signing with a new certificate.
    tokio::time::sleep(std::time::Duration::from_secs(300)).await;
    let old = conn.client.trust().preferred_serial().unwrap().to_string();
    let new = shop.sim.rotate_certificate().unwrap().unwrap();
    assert_ne!(old, new);
    assert!(conn.client.trust().get(&new).is_none());
    for suffix in ["13", "14", "01", "15"] {
        sold.push(sell_nth(&engine, shift, 1, suffix).await);
    }
    for (no, state) in &sold {
        assert_eq!(*state, OrderState::Paid, "{no}");
        assert!(
            shop.sim
                .ledger(|l| l.order(no).is_some_and(|o| o.is_charged())),
            "{no} charged at WeChat Pay"
        );
    }
    assert_eq!(
        shop.downloads(),
        2,
        "one more download, on the first answer with the new serial"
    );
    let trust = conn.client.trust();
    assert!(trust.get(&new).is_some() && trust.get(&old).is_some());
    assert_eq!(trust.preferred_serial(), Some(new.as_str()));
    // The cache holds both, for the next start.
    let cached = std::fs::read_to_string(shop.cache()).unwrap();
    assert!(cached.contains(&new) && cached.contains(&old));
}

#[tokio::test(start_paused = true)]
async fn a_restart_without_network_verifies_with_the_cache_and_nothing_starts_without_it() {
    let shop = shop().await;
    drop(shop.connect().await.unwrap());
    // WeChat Pay's certificate endpoint is down at the next start.
    shop.sim.inject(FaultRule {
        fault: Fault::ServerError,
        endpoint: Endpoint::Certificates,
        times: 1000,
    });
    let conn = shop.connect().await.unwrap();
    let (engine, shift) = till(&shop, &conn).await;
    assert_eq!(sell(&engine, shift, "11").await.1, OrderState::Paid);
    drop(engine);
    drop(conn);
    // An altered cache is not believed (it no longer decrypts under the APIv3 key) …
    let text = std::fs::read_to_string(shop.cache()).unwrap();
    let mut list: Value = serde_json::from_str(&text).unwrap();
    let c = list["data"][0]["encrypt_certificate"]["ciphertext"]
        .as_str()
        .unwrap()
        .to_string();
    let flipped = if c.starts_with('A') { "B" } else { "A" };
    list["data"][0]["encrypt_certificate"]["ciphertext"] = format!("{flipped}{}", &c[1..]).into();
    std::fs::write(shop.cache(), serde_json::to_vec(&list).unwrap()).unwrap();
    // … so with no download either, there is nothing to verify answers with: no start.
    assert!(matches!(
        shop.connect().await,
        Err(ConnectError::Certificates(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn the_list_comes_from_the_backup_host_and_is_refreshed_every_12_hours() {
    let mut shop = shop().await;
    cfgfile::insert(
        &mut shop.table,
        "wechatpay.backup_base_url",
        shop.sim.base_url.as_str(),
    );
    // A closed port: the main host is down.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    cfgfile::set(&mut shop.table, "wechatpay.base_url", dead.as_str());
    let conn = shop.connect().await.unwrap();
    assert_eq!(shop.downloads(), 1);
    assert!(!conn.client.trust().is_empty());
    tokio::time::sleep(std::time::Duration::from_secs(11 * 3600)).await;
    assert_eq!(shop.downloads(), 1);
    tokio::time::sleep(std::time::Duration::from_secs(3600 + 5)).await;
    assert_eq!(shop.downloads(), 2, "downloaded again after 12 hours");
}

#[tokio::test(start_paused = true)]
async fn unknown_serials_download_at_most_once_a_minute() {
    let shop = shop().await;
    let conn = shop.connect().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(120)).await;
    // Forged answers name the simulator's serial but fail; answers naming an unknown serial
    // come after a rotation. Three queries in a row, each answered with the new serial.
    shop.sim.rotate_certificate().unwrap();
    for _ in 0..3 {
        let _ = conn.client.query_by_out_trade_no("NOSUCHORDER1").await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(shop.downloads(), 2, "one download for the new serial");
    // A second rotation right away: the next download waits for the minute to pass.
    shop.sim.rotate_certificate().unwrap();
    let _ = conn.client.query_by_out_trade_no("NOSUCHORDER1").await;
    tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    assert_eq!(shop.downloads(), 2, "not twice within a minute");
    tokio::time::sleep(std::time::Duration::from_secs(31)).await;
    assert_eq!(shop.downloads(), 3);
}

#[test]
fn the_apiv3_key_file_must_be_owner_only_and_32_characters() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mut t = cfgfile::demo();
    write_secret(&dir.path().join("k.pem"), "not read by the check");
    cfgfile::set(&mut t, "wechatpay.mode", "live");
    cfgfile::insert(
        &mut t,
        "wechatpay.base_url",
        "https://api.mch.weixin.qq.com",
    );
    cfgfile::insert(&mut t, "wechatpay.merchant_serial_no", "ABCDEF");
    cfgfile::insert(&mut t, "wechatpay.merchant_private_key", "k.pem");
    cfgfile::insert(&mut t, "wechatpay.apiv3_key", "apiv3.txt");
    let path = dir.path().join("scanpay.toml");
    let key = dir.path().join("apiv3.txt");
    write_secret(&key, APIV3_KEY);
    let cfg = cfgfile::load(&t, &path).unwrap();
    assert_eq!(cfg.wechatpay.apiv3_key.as_deref(), Some(key.as_path()));
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = cfgfile::load(&t, &path).unwrap_err().to_string();
    assert!(
        e.contains("wechatpay.apiv3_key") && e.contains("chmod 600"),
        "{e}"
    );
    write_secret(&key, "too short");
    let e = cfgfile::load(&t, &path).unwrap_err().to_string();
    assert!(e.contains("32 characters"), "{e}");
}

// ---- the real binary against `scanpay sim --platform-cert` ----

#[test]
fn the_binary_pays_on_platform_certificates_across_a_rotation_by_the_admin_endpoint() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys");
    let sim = common::start_sim_with(&keys, &["--platform-cert"]);
    let key_mode = std::fs::metadata(keys.join("apiv3_key.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600);
    let written = cfgfile::read(&keys.join("scanpay.toml"));
    let w = written["wechatpay"].as_table().unwrap();
    assert_eq!(w["apiv3_key"].as_str(), Some("apiv3_key.txt"));
    assert!(!w.contains_key("wechatpay_public_key") && !w.contains_key("wechatpay_public_key_id"));

    let till = sim.till(&tmp.path().join("till"), "POS01");
    let pay = |code: &str| {
        let out = common::scanpay(
            &till,
            &["pay", "--amount", "12.34", "--code", code, "--json"],
            &[],
        );
        let v: Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
        assert_eq!(v["state"], "PAID", "{v}");
        v["out_trade_no"].as_str().unwrap().to_string()
    };
    let first = pay("134567890123456711");
    let before = common::blocking_get(&format!("{}/certificates", sim.admin));
    let rotated = common::blocking_post(&format!("{}/certificates/rotate", sim.admin));
    let new = rotated["signing"].as_str().unwrap().to_string();
    assert_ne!(before[0]["serial_no"].as_str(), Some(new.as_str()));
    let second = pay("134567890123456712");
    assert!(sim.charged(&first) && sim.charged(&second));
    // The till keeps both certificates in its data folder, still encrypted.
    let cache =
        std::fs::read_to_string(tmp.path().join("till/data").join(CERTIFICATE_CACHE)).unwrap();
    assert!(cache.contains(&new) && cache.contains("AEAD_AES_256_GCM"));
    assert!(!cache.contains("BEGIN CERTIFICATE"));
}

#[tokio::test(start_paused = true)]
async fn a_merchant_on_the_public_key_has_no_certificates_to_download() {
    let mut shop = shop_with(false).await;
    let pkid = shop.pkid.clone();
    // Only the APIv3 key: the download's answer cannot even be verified (nothing is trusted),
    // and nothing else can verify answers: no start.
    assert!(matches!(
        shop.connect().await,
        Err(ConnectError::Certificates(_))
    ));
    // With the public key beside it (the migration period) the till starts and sells.
    cfgfile::insert(&mut shop.table, "wechatpay.wechatpay_public_key_id", pkid);
    cfgfile::insert(
        &mut shop.table,
        "wechatpay.wechatpay_public_key",
        "pub_key.pem",
    );
    let conn = shop.connect().await.unwrap();
    let (engine, shift) = till(&shop, &conn).await;
    assert_eq!(sell(&engine, shift, "11").await.1, OrderState::Paid);
    // … and the list's answer, now verifiable, is WeChat's 404 RESOURCE_NOT_EXISTS.
    let key = Apiv3Key::from_bytes(APIV3_KEY.as_bytes()).unwrap();
    match conn.client.download_certificates(&key).await {
        Err(scanpay::wechat::ApiError::Service {
            status,
            code,
            verified,
            ..
        }) => {
            assert_eq!(
                (status, code.as_str(), verified),
                (404, "RESOURCE_NOT_EXISTS", true)
            );
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
}
