//! Connecting to the payment service a configuration names: the built-in simulator
//! (in-process, `mode = "simulator"`) or a live APIv3 endpoint (`mode = "live"`). Nothing
//! else differs between the two.
//!
//! Who owns what: this module is the one place where scanpay's configuration ([`Config`]'s
//! `[merchant]` and `[wechatpay]` tables, the key file paths) becomes what the protocol layer
//! takes — [`Settings`], a [`Signer`], a [`TrustStore`]. [`crate::wechat`] never reads the
//! configuration; the simulator's client gets its settings here too ([`client_settings`]).
//! Problems found while mapping (a key setting missing, a key file unreadable, too open or
//! malformed) are a [`ConnectError`], with the same texts the configuration check uses.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::clock::SharedClock;
use crate::config::{self, Api, Config, Mode};
use crate::sim::{self, SimError, SimHandle};
use crate::wechat::ApiError;
use crate::wechat::certs::{Apiv3Key, CertificateEntry, CertificateList};
use crate::wechat::client::{ClientIdentity, DEFAULT_MAX_BODY, Protocol, StartupError, V2Settings};
use crate::wechat::keys::{KeyError, KeyStatus, PrivateKey, TrustStore};
use crate::wechat::sign::Signer;
use crate::wechat::{Client, Party, Settings};

/// A client, and the in-process simulator behind it in simulator mode.
pub struct Connection {
    /// The APIv3 client.
    pub client: Client,
    /// The in-process simulator (simulator mode only); dropping it stops it.
    pub sim: Option<SimHandle>,
    /// The platform-certificate refresher (live mode with `apiv3_key`); dropping it stops it.
    pub certificates: Option<CertificateRefresher>,
}

/// The file under `data_dir` that keeps the downloaded platform certificates, as WeChat Pay
/// sent them (still encrypted under the APIv3 key, so a changed file fails to decrypt and is
/// ignored), so that a restart without network still verifies answers.
pub const CERTIFICATE_CACHE: &str = "platform_certificates.json";
/// How often the platform certificates are downloaded again.
pub const REFRESH_EVERY: Duration = Duration::from_secs(12 * 3600);
/// At most one download per this interval when answers name an unknown serial (and the retry
/// interval after a failed download).
pub const REFRESH_MIN_GAP: Duration = Duration::from_secs(60);

/// Keeps the platform certificates current: downloads them every [`REFRESH_EVERY`], and when
/// an answer names a serial the client does not know (at most once per [`REFRESH_MIN_GAP`]).
/// Runs while it lives.
pub struct CertificateRefresher {
    task: tokio::task::JoinHandle<()>,
    cache: PathBuf,
}

impl CertificateRefresher {
    /// The cache file it keeps.
    pub fn cache(&self) -> &Path {
        &self.cache
    }
}

impl Drop for CertificateRefresher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Why no client could be made from a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// A key file that could not be read or holds no usable key.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A configuration value live mode cannot use (a key setting missing, a private key file
    /// missing or readable by others, no WeChat Pay key to trust).
    #[error("{0}")]
    Config(String),
    /// The client itself could not start.
    #[error(transparent)]
    Client(#[from] StartupError),
    /// Only the downloaded platform certificates could verify answers, and they could not be
    /// downloaded (nor read from the cache).
    #[error("platform certificates: cannot download them (GET /v3/certificates): {0}")]
    Certificates(#[source] ApiError),
    /// The built-in simulator could not start.
    #[error("HTTP client: built-in simulator: {0}")]
    Simulator(#[source] SimError),
}

/// Connects as `cfg` says. Keys are loaded (or, for the simulator, generated) once, here.
pub async fn connect(cfg: &Config, clock: SharedClock) -> Result<Connection, ConnectError> {
    match cfg.wechatpay.mode {
        Mode::Live => {
            let client = live_client(cfg, clock.clone())?;
            let (client, certificates) = match &cfg.wechatpay.apiv3_key {
                // APIv2 has no platform certificates to download.
                Some(path) if cfg.wechatpay.api == Api::V3 => {
                    let key = Apiv3Key::load(path)?;
                    let (client, r) = start_refresher(cfg, client, key, clock).await?;
                    (client, Some(r))
                }
                _ => (client, None),
            };
            Ok(Connection {
                client,
                sim: None,
                certificates,
            })
        }
        Mode::Simulator => {
            let dir = cfg.data_dir.join("simulator");
            let (client, sim) = sim::connect_in_process_persistent(cfg, clock, &dir)
                .await
                .map_err(ConnectError::Simulator)?;
            Ok(Connection {
                client,
                sim: Some(sim),
                certificates: None,
            })
        }
    }
}

/// The transport settings `cfg` implies: hosts and timeouts from `[wechatpay]`, ids from
/// `[merchant]`, the default answer cap. Reads no file: the protocol is [`Protocol::V3`] and
/// there are no extra roots here; [`live_settings`] adds what the key files say (the APIv2 key
/// and client certificate, `tls_root_certificate`), and the in-process simulator its own.
pub fn client_settings(cfg: &Config) -> Settings {
    Settings {
        base_url: cfg.wechatpay.base_url.clone(),
        backup_base_url: cfg.wechatpay.backup_base_url.clone(),
        party: party(&cfg.merchant),
        connect_timeout: Duration::from_millis(cfg.wechatpay.connect_timeout_ms),
        request_timeout: Duration::from_millis(cfg.wechatpay.request_timeout_ms),
        max_body_bytes: DEFAULT_MAX_BODY,
        protocol: Protocol::V3,
        extra_roots: Vec::new(),
    }
}

/// [`client_settings`] with the files `cfg` names read: `tls_root_certificate` into
/// [`Settings::extra_roots`] and, for `api = "v2"`, the API key, the sign type and the client
/// identity (`client_certificate` + `merchant_private_key`) into [`Protocol::V2`]. The key
/// files are checked as the configuration check does (owner-only); their content is never
/// part of an error.
pub fn live_settings(cfg: &Config) -> Result<Settings, ConnectError> {
    let w = &cfg.wechatpay;
    let mut settings = client_settings(cfg);
    if let Some(path) = &w.tls_root_certificate {
        let pem = std::fs::read(path).map_err(|e| {
            ConnectError::Config(format!(
                "wechatpay.tls_root_certificate {}: {e}",
                path.display()
            ))
        })?;
        settings.extra_roots.push(pem);
    }
    if w.api == Api::V2 {
        settings.protocol = Protocol::V2(v2_settings(cfg)?);
    }
    Ok(settings)
}

/// The APIv2 key, sign type and client identity `cfg` names.
pub fn v2_settings(cfg: &Config) -> Result<V2Settings, ConnectError> {
    let w = &cfg.wechatpay;
    let key_path = w
        .v2_key
        .as_deref()
        .ok_or_else(|| ConnectError::Config("wechatpay.v2_key is not set".into()))?;
    config::check_v2_key_file(key_path)
        .map_err(|p| ConnectError::Config(format!("wechatpay.v2_key: {p}")))?;
    let key = config::load_v2_key(key_path)
        .map_err(|p| ConnectError::Config(format!("wechatpay.v2_key: {p}")))?;
    let client_identity = match (&w.client_certificate, &w.merchant_private_key) {
        (Some(cert), Some(key)) => {
            config::check_private_key_file(key).map_err(ConnectError::Config)?;
            let read = |p: &Path, field: &str| {
                std::fs::read(p).map_err(|e| {
                    ConnectError::Config(format!("wechatpay.{field} {}: {e}", p.display()))
                })
            };
            Some(ClientIdentity {
                certificate_pem: read(cert, "client_certificate")?,
                key_pem: read(key, "merchant_private_key")?,
            })
        }
        _ => None,
    };
    Ok(V2Settings {
        key,
        sign_type: w.v2_sign_type,
        client_identity,
    })
}

/// Who the till charges for: `merchant.sub_mchid` set makes `mchid`/`appid` the service
/// provider's (`sp_mchid`/`sp_appid`) and the sub-merchant the one charged
/// (docs/configuration.md, "Service-provider mode").
pub fn party(m: &config::Merchant) -> Party {
    match &m.sub_mchid {
        None => Party::Direct {
            mchid: m.mchid.clone(),
            appid: m.appid.clone(),
        },
        Some(sub_mchid) => Party::Partner {
            sp_mchid: m.mchid.clone(),
            sp_appid: m.appid.clone(),
            sub_mchid: sub_mchid.clone(),
            sub_appid: m.sub_appid.clone(),
        },
    }
}

/// A live-mode client for `cfg`: loads the merchant key and the trust store once. Every
/// missing, unreadable or malformed key file is a clear error.
pub fn live_client(cfg: &Config, clock: SharedClock) -> Result<Client, ConnectError> {
    let w = &cfg.wechatpay;
    if w.api == Api::V2 {
        return Ok(Client::v2(live_settings(cfg)?, clock)?);
    }
    let key_path = w
        .merchant_private_key
        .as_deref()
        .ok_or_else(|| ConnectError::Config("wechatpay.merchant_private_key is not set".into()))?;
    config::check_private_key_file(key_path).map_err(ConnectError::Config)?;
    let key = PrivateKey::load(key_path)?;
    let serial = w
        .merchant_serial_no
        .as_deref()
        .ok_or_else(|| ConnectError::Config("wechatpay.merchant_serial_no is not set".into()))?;
    let trust = load_trust(cfg)?;
    if trust.is_empty() && w.apiv3_key.is_none() {
        return Err(ConnectError::Config(
            "no WeChat Pay public key or platform certificate configured".into(),
        ));
    }
    Ok(Client::new(
        live_settings(cfg)?,
        Signer::new(&cfg.merchant.mchid, serial, key),
        trust,
        clock,
    )?)
}

/// The keys `cfg` trusts without the network: the public key, the pinned certificate files and
/// (with `apiv3_key`) the cached downloaded certificates.
pub fn load_trust(cfg: &Config) -> Result<TrustStore, ConnectError> {
    let w = &cfg.wechatpay;
    let public = match (&w.wechatpay_public_key_id, &w.wechatpay_public_key) {
        (Some(id), Some(path)) => Some((id.as_str(), path.as_path())),
        _ => None,
    };
    let mut trust = TrustStore::load(public, &w.platform_certificates)?;
    if let Some(path) = &w.apiv3_key {
        config::check_apiv3_key_file(path).map_err(ConnectError::Config)?;
        let key = Apiv3Key::load(path)?;
        load_cache(&cfg.data_dir.join(CERTIFICATE_CACHE), &key, &mut trust);
    }
    Ok(trust)
}

/// What `scanpay check` reports about the keys: every key `cfg` trusts without the network
/// and how it stands at `now_unix` (expired, expiring within 10 days, with or without a
/// successor). See [`TrustStore::status`].
pub fn trust_status(cfg: &Config, now_unix: i64) -> Result<Vec<KeyStatus>, ConnectError> {
    Ok(load_trust(cfg)?.status(now_unix))
}

/// Adds the cached certificates to `trust`. A missing cache is normal (first start); an
/// unreadable or altered one is logged and ignored (the download replaces it).
fn load_cache(path: &Path, key: &Apiv3Key, trust: &mut TrustStore) {
    let Ok(bytes) = std::fs::read(path) else {
        return;
    };
    let certs = serde_json::from_slice::<CertificateList>(&bytes)
        .map_err(|e| e.to_string())
        .and_then(|l| l.decrypt(key).map_err(|e| e.to_string()));
    match certs {
        Ok(certs) => {
            for c in &certs {
                if let Err(e) = trust.add_downloaded(c) {
                    tracing::warn!(file = %path.display(), error = %e, "cached platform certificate ignored");
                }
            }
        }
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "platform certificate cache ignored");
        }
    }
}

/// Downloads the certificates once, adds them to the client's trust store and merges them
/// into the cache (entries past their expiry dropped). Returns how many were downloaded.
pub async fn refresh_certificates(
    client: &Client,
    key: &Apiv3Key,
    cache: &Path,
    now_unix: i64,
) -> Result<usize, ApiError> {
    let got = client.download_certificates(key).await?;
    client.update_trust(|t| {
        for c in &got.certificates {
            if let Err(e) = t.add_downloaded(c) {
                tracing::warn!(serial = %c.serial_no, error = %e, "downloaded certificate ignored");
            }
        }
    });
    let mut entries: Vec<CertificateEntry> = std::fs::read(cache)
        .ok()
        .and_then(|b| serde_json::from_slice::<CertificateList>(&b).ok())
        .map(|l| l.data)
        .unwrap_or_default();
    for e in got.list.data {
        entries.retain(|old| !old.serial_no.eq_ignore_ascii_case(&e.serial_no));
        entries.push(e);
    }
    entries
        .retain(|e| crate::wechat::certs::parse_time(&e.expire_time).is_none_or(|t| t >= now_unix));
    if let Err(e) = write_cache(cache, &CertificateList { data: entries }) {
        tracing::warn!(file = %cache.display(), error = %e, "platform certificate cache not written");
    }
    tracing::info!(
        count = got.certificates.len(),
        "platform certificates downloaded"
    );
    Ok(got.certificates.len())
}

fn write_cache(path: &Path, list: &CertificateList) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_vec_pretty(list).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// The first download at start, then the refresher task. Fails only when nothing at all can
/// verify answers (no public key, no pinned certificate, no cache, no download).
async fn start_refresher(
    cfg: &Config,
    client: Client,
    key: Apiv3Key,
    clock: SharedClock,
) -> Result<(Client, CertificateRefresher), ConnectError> {
    let cache = cfg.data_dir.join(CERTIFICATE_CACHE);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let client = client.with_unknown_serial_hook(tx);
    let first = refresh_certificates(&client, &key, &cache, clock.now_unix()).await;
    let mut next = match first {
        Ok(_) => tokio::time::Instant::now() + REFRESH_EVERY,
        Err(e) if client.trust().is_empty() => return Err(ConnectError::Certificates(e)),
        Err(e) => {
            tracing::warn!(error = %e, "platform certificates not downloaded; using the ones held");
            tokio::time::Instant::now() + REFRESH_MIN_GAP
        }
    };
    let mut last = tokio::time::Instant::now();
    let worker = client.clone();
    let file = cache.clone();
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(next) => {}
                serial = rx.recv() => {
                    let Some(serial) = serial else { return };
                    if worker.trust().get(&serial).is_some() {
                        continue;
                    }
                    tracing::info!(%serial, "answer signed with an unknown serial: downloading the platform certificates");
                    tokio::time::sleep_until(last + REFRESH_MIN_GAP).await;
                    while rx.try_recv().is_ok() {}
                }
            }
            last = tokio::time::Instant::now();
            next = match refresh_certificates(&worker, &key, &file, clock.now_unix()).await {
                Ok(_) => last + REFRESH_EVERY,
                Err(e) => {
                    tracing::warn!(error = %e, "platform certificate download failed");
                    last + REFRESH_MIN_GAP
                }
            };
        }
    });
    Ok((client, CertificateRefresher { task, cache }))
}
