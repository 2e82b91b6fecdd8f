//! The built-in WeChat Pay simulator: a real HTTP server speaking APIv3 byte for byte
//! (signed answers, request signature checks), with a ledger and scripted customers, so the
//! demo, the tests and cashier training run without credentials. See `docs/simulator.md`.
//!
//! - In-process: [`Simulator::start`] on a loopback port; [`connect_in_process`] also builds a
//!   [`Client`] for it (what `mode = "simulator"` does).
//! - Standalone: `scanpay sim --listen ADDR --keys DIR` ([`SimKeys::load_or_create`] writes the
//!   key files and a live-mode `scanpay.toml` pointing at it).
//! - Faults: [`SimHandle::inject`], or the admin endpoint ([`serve_admin`], loopback only).
//! - APIv2 face (XML, `/pay/*` and `/secapi/*`, see [`v2`]): [`start_v2_in_process`] on
//!   loopback, or `scanpay sim --api v2` ([`V2Keys::load_or_create`] writes the APIv2 key, the
//!   simulator's CA and the merchant's client certificate); served over HTTPS ([`tls`]).

pub mod cert;
pub mod fault;
pub mod ledger;
pub mod server;
pub mod standalone;
pub mod tls;
pub mod v2;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use sha2::Digest;
use tokio::net::TcpListener;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::wechat::certs::Apiv3Key;
use crate::wechat::keys::{KeyError, PrivateKey, PublicKey, TrustStore};
use crate::wechat::sign::Signer;
use crate::wechat::{Client, Settings};
use fault::FaultRule;
pub use server::SubMerchant;
use server::{Identity, Shared, lock};

/// The demo merchant the simulator serves unless told otherwise.
pub const DEMO_MCHID: &str = "1900000001";
/// The demo AppID.
pub const DEMO_APPID: &str = "wxd678efh567hg6787";
/// The sub-merchants a service-provider simulator knows unless told otherwise (the first is
/// the one `scanpay sim --partner` configures): two, so that a till of one can be shown that
/// it cannot touch the other's orders.
pub const DEMO_SUB_MCHIDS: [&str; 2] = ["1900000109", "1900000110"];

/// The sub-merchants a service-provider simulator serving `sub_mchid` (with its `sub_appid`)
/// knows: that one, and the demo ones besides.
pub fn sub_merchants_for(sub_mchid: &str, sub_appid: Option<&str>) -> Vec<SubMerchant> {
    let mut subs = vec![SubMerchant {
        sub_mchid: sub_mchid.to_string(),
        sub_appid: sub_appid.map(str::to_string),
    }];
    for other in DEMO_SUB_MCHIDS {
        if other != sub_mchid {
            subs.push(SubMerchant {
                sub_mchid: other.to_string(),
                sub_appid: None,
            });
        }
    }
    subs
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Key material.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Files in the keys folder.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The listening socket.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The error.
        source: std::io::Error,
    },
    /// An address that must be loopback is not.
    #[error("{0} is not a loopback address; the admin endpoint only binds to 127.0.0.1 or ::1")]
    NotLoopback(SocketAddr),
    /// `--listen` names addresses beyond loopback, and `--public` was not given.
    #[error(
        "--listen {listen} is not loopback ({}): anyone who reaches it could use the simulator; give --public to listen there anyway",
        standalone::list_addrs(addrs)
    )]
    PublicListen {
        /// `--listen` as given.
        listen: String,
        /// The addresses that are not loopback.
        addrs: Vec<SocketAddr>,
    },
    /// The keys folder holds files `scanpay sim` did not create.
    #[error(
        "{} holds files scanpay sim did not create: {}; it never overwrites or edits them: give --keys an empty or new folder",
        dir.display(),
        standalone::list(files)
    )]
    ForeignFiles {
        /// The keys folder.
        dir: PathBuf,
        /// The files it did not create.
        files: Vec<String>,
    },
    /// The client for the in-process simulator.
    #[error("client: {0}")]
    Client(String),
    /// TLS set-up of the APIv2 face.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The APIv2 key file.
    #[error("{path}: {source}")]
    V2Key {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: crate::wechat::v2::sign::KeyError,
    },
}

/// The key material of a simulator and of the merchant it serves.
pub struct SimKeys {
    /// The merchant's API private key (the client signs with it).
    pub merchant_key: PrivateKey,
    /// The merchant certificate serial the simulator expects.
    pub merchant_serial_no: String,
    /// The simulator's (WeChat Pay) private key.
    pub platform_key: PrivateKey,
    /// The id of the simulator's public key.
    pub public_key_id: String,
}

impl SimKeys {
    /// Fresh keys in memory.
    pub fn generate() -> Result<SimKeys, SimError> {
        let merchant_key = PrivateKey::generate()?;
        let platform_key = PrivateKey::generate()?;
        Self::from_keys(merchant_key, platform_key)
    }

    fn from_keys(merchant_key: PrivateKey, platform_key: PrivateKey) -> Result<SimKeys, SimError> {
        // Serials derived from the keys, so that reused key files give the same ids.
        let m = sha2::Sha256::digest(merchant_key.public_spki_der()?);
        let merchant_serial_no: String = m.iter().take(20).map(|b| format!("{b:02X}")).collect();
        let p = sha2::Sha256::digest(platform_key.public_spki_der()?);
        let digits: String = p
            .iter()
            .take(32)
            .map(|b| char::from(b'0' + b % 10))
            .collect();
        Ok(SimKeys {
            merchant_key,
            merchant_serial_no,
            platform_key,
            public_key_id: format!("PUB_KEY_ID_{digits}"),
        })
    }

    /// Reads the keys from `dir`, or creates them there: `apiclient_key.pem` (merchant private
    /// key, mode 0600), `pub_key.pem` (the simulator's public key) and `sim_platform_key.pem`
    /// (the simulator's private key, mode 0600).
    pub fn load_or_create(dir: &Path) -> Result<SimKeys, SimError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SimError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let merchant_path = dir.join("apiclient_key.pem");
        let platform_path = dir.join("sim_platform_key.pem");
        let merchant_key = if merchant_path.exists() {
            PrivateKey::load(&merchant_path)?
        } else {
            let k = PrivateKey::generate()?;
            write_secret(&merchant_path, &k.to_pkcs8_pem()?).map_err(io(&merchant_path))?;
            k
        };
        let platform_key = if platform_path.exists() {
            PrivateKey::load(&platform_path)?
        } else {
            let k = PrivateKey::generate()?;
            write_secret(&platform_path, &k.to_pkcs8_pem()?).map_err(io(&platform_path))?;
            k
        };
        let pub_path = dir.join("pub_key.pem");
        std::fs::write(&pub_path, platform_key.public_pem()?).map_err(io(&pub_path))?;
        Self::from_keys(merchant_key, platform_key)
    }

    /// The trust store a client needs to verify this simulator's answers.
    pub fn trust_store(&self) -> Result<TrustStore, SimError> {
        let mut t = TrustStore::new();
        t.add_public_key(
            &self.public_key_id,
            PublicKey::from_pem(
                self.platform_key.public_pem()?.as_bytes(),
                Path::new("<sim>"),
            )?,
        );
        Ok(t)
    }
}

fn write_secret(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

/// Builds a simulator.
pub struct Simulator {
    shared: Arc<Shared>,
}

/// A running simulator.
pub struct SimHandle {
    /// Where it listens, as `http://127.0.0.1:PORT` (`https://` with the APIv2 face).
    pub base_url: reqwest::Url,
    /// The bound address.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Simulator {
    /// A simulator for `mchid`/`appid` with these keys, keeping time by `clock`.
    pub fn new(
        keys: &SimKeys,
        mchid: &str,
        appid: &str,
        clock: SharedClock,
    ) -> Result<Simulator, SimError> {
        let identity = Identity {
            mchid: mchid.to_string(),
            appid: appid.to_string(),
            merchant_serial_no: keys.merchant_serial_no.clone(),
            merchant_key: PublicKey::from_pem(
                keys.merchant_key.public_pem()?.as_bytes(),
                Path::new("<merchant>"),
            )?,
            platform_key: PrivateKey::from_pem(
                keys.platform_key.to_pkcs8_pem()?.as_bytes(),
                Path::new("<sim>"),
            )?,
            public_key_id: keys.public_key_id.clone(),
            forger_key: PrivateKey::generate()?,
            sub_merchants: Vec::new(),
        };
        Ok(Simulator {
            shared: Arc::new(Shared::new(identity, clock)),
        })
    }

    /// Makes it a service provider (服务商) with these sub-merchants bound to it: the merchant
    /// it was made for is then `sp_mchid`/`sp_appid`, and only the partner paths are served
    /// (docs/simulator.md, "Service-provider mode"). An empty list keeps it a direct merchant.
    pub fn with_sub_merchants(self, subs: Vec<SubMerchant>) -> Result<Simulator, SimError> {
        let mut shared = Arc::try_unwrap(self.shared)
            .map_err(|_| SimError::Client("simulator already started".into()))?;
        shared.identity.sub_merchants = subs;
        Ok(Simulator {
            shared: Arc::new(shared),
        })
    }

    /// Keeps the books in `path` (loaded now if present, saved after every change), so a
    /// restarted simulator remembers its orders — what the demo needs for crash recovery.
    pub fn persist_to(self, path: &Path) -> Result<Simulator, SimError> {
        let ledger = ledger::Ledger::load(path).map_err(|source| SimError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut shared = Arc::try_unwrap(self.shared)
            .map_err(|_| SimError::Client("simulator already started".into()))?;
        *lock(&shared.ledger) = ledger;
        shared.persist = Some(path.to_path_buf());
        Ok(Simulator {
            shared: Arc::new(shared),
        })
    }

    /// Adds the APIv2 face (`/pay/*`, `/secapi/*`) with the merchant's APIv2 key and the
    /// authority of `v2`: the simulator then serves HTTPS (with a server certificate from that
    /// authority) for both faces.
    pub fn with_v2(self, v2: &V2Keys) -> Result<Simulator, SimError> {
        let mut shared = Arc::try_unwrap(self.shared)
            .map_err(|_| SimError::Client("simulator already started".into()))?;
        shared.v2 = Some(v2::V2Face {
            key: v2.api_key.clone(),
            ca: tls::SimCa::from_pem(
                PrivateKey::from_pem(v2.ca_key_pem.as_bytes(), Path::new("<sim ca>"))?,
                v2.ca_pem.as_bytes(),
            )?,
        });
        Ok(Simulator {
            shared: Arc::new(shared),
        })
    }

    /// Starts serving on `addr` (port 0 picks a free port).
    pub async fn start(self, addr: &str) -> Result<SimHandle, SimError> {
        self.start_with(addr, addr.to_string()).await
    }

    /// Starts serving on the first of `addrs` that can be bound (addresses already resolved
    /// and checked, see [`standalone::check_listen`]).
    pub async fn start_at(self, addrs: &[SocketAddr]) -> Result<SimHandle, SimError> {
        let label = addrs
            .iter()
            .map(SocketAddr::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        self.start_with(addrs, label).await
    }

    async fn start_with(
        self,
        addr: impl tokio::net::ToSocketAddrs,
        label: String,
    ) -> Result<SimHandle, SimError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| SimError::Listen {
                addr: label.clone(),
                source,
            })?;
        let bound = listener.local_addr().map_err(|source| SimError::Listen {
            addr: label,
            source,
        })?;
        let app = Router::new()
            .fallback(server::handle)
            .with_state(self.shared.clone());
        // With an APIv2 face the simulator speaks HTTPS (client certificates for /secapi/*);
        // otherwise plain HTTP, as the APIv3 face always has.
        let (base, task) = match &self.shared.v2 {
            Some(face) => {
                let config = face.ca.server_config()?;
                let listener =
                    tls::TlsListener::new(listener, config).map_err(|source| SimError::Listen {
                        addr: bound.to_string(),
                        source,
                    })?;
                let task = tokio::spawn(async move {
                    let app = app.into_make_service_with_connect_info::<tls::TlsPeer>();
                    if let Err(e) = axum::serve(listener, app).await {
                        tracing::error!(error = %e, "simulator stopped");
                    }
                });
                (format!("https://{bound}"), task)
            }
            None => {
                // Unlike the TLS listener (`tls.rs`), no TCP_NODELAY: plain HTTP has no TLS
                // session tickets to leave unacknowledged before an answer, so Nagle never held
                // an answer back here (0 unresolved in 7 040 fault-matrix rounds without it),
                // and with it a payment measured 1.12 ms instead of 1.03 ms (`payment` bench,
                // 2026-11-30): the answer then leaves in more segments.
                let task = tokio::spawn(async move {
                    if let Err(e) = axum::serve(listener, app).await {
                        tracing::error!(error = %e, "simulator stopped");
                    }
                });
                (format!("http://{bound}"), task)
            }
        };
        *lock(&self.shared.base_url) = base.clone();
        let base_url = reqwest::Url::parse(&base).map_err(|e| SimError::Client(e.to_string()))?;
        Ok(SimHandle {
            base_url,
            addr: bound,
            shared: self.shared,
            task,
        })
    }
}

impl SimHandle {
    /// Adds a fault rule.
    pub fn inject(&self, rule: FaultRule) {
        lock(&self.shared.faults).push(rule);
    }

    /// Removes all pending faults.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Reads the ledger (settled to the simulator's clock first).
    pub fn ledger<R>(&self, f: impl FnOnce(&ledger::Ledger) -> R) -> R {
        let mut l = lock(&self.shared.ledger);
        l.settle(self.shared.clock.now_ms());
        f(&l)
    }

    /// Changes the ledger (tests of the books).
    pub fn ledger_mut<R>(&self, f: impl FnOnce(&mut ledger::Ledger) -> R) -> R {
        f(&mut lock(&self.shared.ledger))
    }

    /// Request counts.
    pub fn stats(&self) -> server::Stats {
        lock(&self.shared.stats).clone()
    }

    /// The shared state, for the admin endpoint.
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Switches to platform-certificate mode: answers are signed with a platform certificate
    /// (not the public key), listed by `GET /v3/certificates` encrypted under `apiv3_key`.
    pub fn use_platform_certificates(&self, apiv3_key: Apiv3Key) -> Result<(), SimError> {
        let now = self.shared.clock.now_unix();
        *lock(&self.shared.certificates) = Some(cert::PlatformCertificates::new(apiv3_key, now)?);
        Ok(())
    }

    /// Rotates the platform certificate: a new one is issued and signs every answer from now
    /// on; the old one stays listed until it expires. Returns the new serial (platform-
    /// certificate mode only).
    pub fn rotate_certificate(&self) -> Result<Option<String>, SimError> {
        rotate(&self.shared)
    }

    /// Stops serving.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts an in-process simulator for `cfg`'s merchant on a free loopback port and a client
/// talking to it, with fresh keys and empty books in memory (tests).
pub async fn connect_in_process(
    cfg: &Config,
    clock: SharedClock,
) -> Result<(Client, SimHandle), SimError> {
    if cfg.wechatpay.api == crate::config::Api::V2 {
        only_direct_on_v2(cfg)?;
        let v2 =
            start_v2_in_process(&cfg.merchant.mchid, &cfg.merchant.appid, clock.clone()).await?;
        return connect_v2(cfg, clock, v2);
    }
    let keys = SimKeys::generate()?;
    let sim = simulator_for(cfg, &keys, clock.clone())?;
    connect_to(cfg, clock, keys, sim).await
}

/// What `mode = "simulator"` runs on: an in-process simulator whose keys and books live in
/// `dir` (`data_dir/simulator`), so that orders survive a restart of scanpay as they would
/// at WeChat Pay, and a client talking to it.
pub async fn connect_in_process_persistent(
    cfg: &Config,
    clock: SharedClock,
    dir: &Path,
) -> Result<(Client, SimHandle), SimError> {
    if cfg.wechatpay.api == crate::config::Api::V2 {
        only_direct_on_v2(cfg)?;
        let v2 = start_v2_in_process_persistent(
            &dir.join("v2"),
            &cfg.merchant.mchid,
            &cfg.merchant.appid,
            clock.clone(),
        )
        .await?;
        return connect_v2(cfg, clock, v2);
    }
    let keys = SimKeys::load_or_create(dir)?;
    let sim = simulator_for(cfg, &keys, clock.clone())?.persist_to(&dir.join("ledger.json"))?;
    connect_to(cfg, clock, keys, sim).await
}

/// The APIv2 face serves a direct merchant only (docs/simulator.md, "APIv2 face").
fn only_direct_on_v2(cfg: &Config) -> Result<(), SimError> {
    match &cfg.merchant.sub_mchid {
        None => Ok(()),
        Some(_) => Err(SimError::Client(
            "the simulator's APIv2 face serves a direct merchant only: remove merchant.sub_mchid or use api = \"v3\" with the simulator".into(),
        )),
    }
}

/// A client of `cfg` (its timeouts, its merchant) speaking APIv2 to the in-process simulator
/// `v2`: the simulator's APIv2 key and sign type, its CA as the one extra root, and the
/// merchant's client certificate for `/secapi/*`.
fn connect_v2(
    cfg: &Config,
    clock: SharedClock,
    v2: V2InProcess,
) -> Result<(Client, SimHandle), SimError> {
    use crate::wechat::client::{ClientIdentity, Protocol, V2Settings};
    let settings = Settings {
        base_url: v2.handle.base_url.clone(),
        backup_base_url: None,
        protocol: Protocol::V2(V2Settings {
            key: v2.keys.api_key.clone(),
            sign_type: cfg.wechatpay.v2_sign_type,
            client_identity: Some(ClientIdentity {
                certificate_pem: v2.keys.client_cert_pem.clone().into_bytes(),
                key_pem: v2.merchant_key_pem.clone().into_bytes(),
            }),
        }),
        extra_roots: vec![v2.keys.ca_pem.clone().into_bytes()],
        ..crate::connect::client_settings(cfg)
    };
    let client = Client::v2(settings, clock).map_err(|e| SimError::Client(e.to_string()))?;
    Ok((client, v2.handle))
}

/// The simulator `cfg`'s merchant talks to: a direct merchant's, or — with
/// `merchant.sub_mchid` — the service provider `mchid`/`appid` knowing that sub-merchant (with
/// its `sub_appid`) and the demo ones besides ([`sub_merchants_for`]).
fn simulator_for(cfg: &Config, keys: &SimKeys, clock: SharedClock) -> Result<Simulator, SimError> {
    let sim = Simulator::new(keys, &cfg.merchant.mchid, &cfg.merchant.appid, clock)?;
    match &cfg.merchant.sub_mchid {
        None => Ok(sim),
        Some(sub) => {
            sim.with_sub_merchants(sub_merchants_for(sub, cfg.merchant.sub_appid.as_deref()))
        }
    }
}

async fn connect_to(
    cfg: &Config,
    clock: SharedClock,
    keys: SimKeys,
    sim: Simulator,
) -> Result<(Client, SimHandle), SimError> {
    let sim = sim.start("127.0.0.1:0").await?;
    let settings = Settings {
        base_url: sim.base_url.clone(),
        backup_base_url: None,
        ..crate::connect::client_settings(cfg)
    };
    let signer = Signer::new(
        &cfg.merchant.mchid,
        &keys.merchant_serial_no,
        keys.merchant_key,
    );
    let trust = {
        let mut t = TrustStore::new();
        t.add_public_key(
            &keys.public_key_id,
            PublicKey::from_pem(
                keys.platform_key.public_pem()?.as_bytes(),
                Path::new("<sim>"),
            )?,
        );
        t
    };
    let client =
        Client::new(settings, signer, trust, clock).map_err(|e| SimError::Client(e.to_string()))?;
    Ok((client, sim))
}

fn rotate(shared: &Shared) -> Result<Option<String>, SimError> {
    let now = shared.clock.now_unix();
    let mut certs = lock(&shared.certificates);
    match certs.as_mut() {
        Some(p) => Ok(Some(p.rotate(now)?.serial_no.clone())),
        None => Ok(None),
    }
}

/// The APIv3 key file `scanpay sim --platform-cert` writes in its keys folder (mode 0600).
pub const APIV3_KEY_FILE: &str = "apiv3_key.txt";

/// Reads the APIv3 key from `dir`, or creates a random one there (mode 0600): the key the
/// simulator encrypts its certificate list with, and the merchant's configuration names.
pub fn load_or_create_apiv3_key(dir: &Path) -> Result<Apiv3Key, SimError> {
    let path = dir.join(APIV3_KEY_FILE);
    if path.exists() {
        return Ok(Apiv3Key::load(&path)?);
    }
    let text: String = crate::wechat::sign::new_nonce();
    write_secret(&path, &format!("{text}\n")).map_err(|source| SimError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(Apiv3Key::load(&path)?)
}

/// The configuration for a merchant on platform certificates: like [`client_config_toml`],
/// but with `apiv3_key` and no WeChat Pay public key.
pub fn platform_cert_config_toml(
    keys: &SimKeys,
    mchid: &str,
    appid: &str,
    base_url: &str,
) -> String {
    client_config_toml(keys, mchid, appid, base_url)
        .lines()
        .filter(|l| !l.starts_with("wechatpay_public_key"))
        .map(|l| {
            if l.starts_with("merchant_private_key") {
                format!("{l}\napiv3_key = \"{APIV3_KEY_FILE}\"")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// A configuration of [`client_config_toml`] (or [`platform_cert_config_toml`]) made a
/// service provider's sub-merchant's: `merchant.sub_mchid` added after `appid`, so that
/// `mchid`/`appid` are the service provider's (`scanpay sim --partner`).
pub fn partner_config_toml(text: &str, sub_mchid: &str) -> String {
    text.lines()
        .map(|l| {
            if l.starts_with("appid = ") {
                format!(
                    "{l}\n# Service-provider mode: mchid/appid above are the service provider's, the till\n\
                     # charges for this sub-merchant (特约商户).\nsub_mchid = \"{sub_mchid}\""
                )
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// The live-mode configuration that points scanpay at a standalone simulator.
pub fn client_config_toml(keys: &SimKeys, mchid: &str, appid: &str, base_url: &str) -> String {
    live_config_toml(
        "`scanpay sim`: a live-mode configuration",
        None,
        mchid,
        appid,
        base_url,
        &format!(
            r#"merchant_serial_no = "{serial}"
merchant_private_key = "apiclient_key.pem"
wechatpay_public_key_id = "{pkid}"
wechatpay_public_key = "pub_key.pem"
"#,
            serial = keys.merchant_serial_no,
            pkid = keys.public_key_id,
        ),
    )
}

/// A live-mode configuration for a simulator at `base_url`: the demo's shop and till, the
/// simulator's merchant, `api` (`Some("v2")`, or `None` for the default APIv3) and `keys` (the
/// API's own `[wechatpay]` lines).
fn live_config_toml(
    what: &str,
    api: Option<&str>,
    mchid: &str,
    appid: &str,
    base_url: &str,
    keys: &str,
) -> String {
    format!(
        r#"# Written by {what} pointing at the simulator at {base_url}.
# Use it with: scanpay --config {{this file}} …
language = "zh"
data_dir = "scanpay-data"

[merchant]
mchid = "{mchid}"
appid = "{appid}"
store_id = "SZ-001"
store_name = "示例便利店"
terminal_id = "POS01"
device_ip = "127.0.0.1"

[wechatpay]
mode = "live"
{api}base_url = "{base_url}"
{keys}connect_timeout_ms = 3000
request_timeout_ms = 10000

[payment]
query_interval_secs = 5
user_paying_timeout_secs = 45
max_amount = "5000.00"
"#,
        api = api.map_or(String::new(), |a| format!("api = \"{a}\"\n")),
    )
}

/// Serves the admin endpoint on a loopback address: `POST /faults` (a JSON rule or array of
/// rules), `DELETE /faults`, `GET /faults`, `GET /ledger`, `GET /stats`, and in
/// platform-certificate mode `GET /certificates` and `POST /certificates/rotate`.
pub async fn serve_admin(
    shared: Arc<Shared>,
    addr: SocketAddr,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), SimError> {
    if !addr.ip().is_loopback() {
        return Err(SimError::NotLoopback(addr));
    }
    use axum::Json;
    use axum::extract::State;
    use axum::routing::get;
    async fn add(
        State(s): State<Arc<Shared>>,
        Json(v): Json<serde_json::Value>,
    ) -> Result<Json<serde_json::Value>, (axum::http::StatusCode, String)> {
        let rules: Vec<FaultRule> = if v.is_array() {
            serde_json::from_value(v)
        } else {
            serde_json::from_value(v).map(|r| vec![r])
        }
        .map_err(|e| (axum::http::StatusCode::BAD_REQUEST, e.to_string()))?;
        let mut q = lock(&s.faults);
        for r in rules {
            q.push(r);
        }
        Ok(Json(serde_json::json!({"pending": q.pending().len()})))
    }
    async fn list(State(s): State<Arc<Shared>>) -> Json<serde_json::Value> {
        Json(serde_json::to_value(lock(&s.faults).pending()).unwrap_or_default())
    }
    async fn clear(State(s): State<Arc<Shared>>) -> Json<serde_json::Value> {
        lock(&s.faults).clear();
        Json(serde_json::json!({"pending": 0}))
    }
    async fn ledger(State(s): State<Arc<Shared>>) -> Json<serde_json::Value> {
        let mut l = lock(&s.ledger);
        l.settle(s.clock.now_ms());
        Json(serde_json::to_value(&*l).unwrap_or_default())
    }
    async fn stats(State(s): State<Arc<Shared>>) -> Json<serde_json::Value> {
        Json(serde_json::to_value(&*lock(&s.stats)).unwrap_or_default())
    }
    async fn certificates(State(s): State<Arc<Shared>>) -> Json<serde_json::Value> {
        Json(
            lock(&s.certificates)
                .as_ref()
                .map_or(serde_json::Value::Null, cert::PlatformCertificates::summary),
        )
    }
    async fn rotate_now(
        State(s): State<Arc<Shared>>,
    ) -> Result<Json<serde_json::Value>, (axum::http::StatusCode, String)> {
        match rotate(&s) {
            Ok(Some(serial)) => Ok(Json(serde_json::json!({"signing": serial}))),
            Ok(None) => Err((
                axum::http::StatusCode::CONFLICT,
                "not in platform-certificate mode (start with --platform-cert)".into(),
            )),
            Err(e) => Err((axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
        }
    }
    let app = Router::new()
        .route("/faults", get(list).post(add).delete(clear))
        .route("/ledger", get(ledger))
        .route("/stats", get(stats))
        .route("/certificates", get(certificates))
        .route("/certificates/rotate", axum::routing::post(rotate_now))
        .with_state(shared);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| SimError::Listen {
            addr: addr.to_string(),
            source,
        })?;
    let bound = listener.local_addr().map_err(|source| SimError::Listen {
        addr: addr.to_string(),
        source,
    })?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "simulator admin stopped");
        }
    });
    Ok((bound, task))
}

/// The APIv2 key file `scanpay sim --api v2` writes in its keys folder (mode 0600).
pub const APIV2_KEY_FILE: &str = "apiv2_key.txt";
/// The merchant's client certificate (for `apiclient_key.pem`), issued by the simulator's CA.
pub const CLIENT_CERT_FILE: &str = "apiclient_cert.pem";
/// The simulator's CA certificate: the till's `tls_root_certificate`.
pub const CA_CERT_FILE: &str = "sim_ca.pem";
/// The simulator's CA private key (mode 0600).
pub const CA_KEY_FILE: &str = "sim_ca_key.pem";

/// What a client of the APIv2 face needs, and what the simulator serves it with: the
/// merchant's APIv2 key, the simulator's CA (certificate and key) and the merchant's client
/// certificate. The merchant's private key is [`SimKeys::merchant_key`].
#[derive(Clone)]
pub struct V2Keys {
    /// The merchant's APIv2 key (32 letters and digits).
    pub api_key: crate::wechat::v2::sign::ApiKey,
    /// The same key as text (what `apiv2_key.txt` holds), for a client built from a file.
    pub api_key_text: String,
    /// The simulator's CA certificate, PEM: trust it as the TLS root.
    pub ca_pem: String,
    /// The CA's private key, PKCS#8 PEM (the simulator's secret).
    pub ca_key_pem: String,
    /// The merchant's client certificate, PEM, for the merchant key of [`SimKeys`].
    pub client_cert_pem: String,
}

impl std::fmt::Debug for V2Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("V2Keys(…)")
    }
}

fn new_api_key() -> Result<String, SimError> {
    crate::wechat::v2::request::nonce().map_err(|e| SimError::Client(format!("APIv2 key: {e}")))
}

fn api_key(text: &str, path: &Path) -> Result<crate::wechat::v2::sign::ApiKey, SimError> {
    crate::wechat::v2::sign::ApiKey::new(text).map_err(|source| SimError::V2Key {
        path: path.to_path_buf(),
        source,
    })
}

impl V2Keys {
    /// Fresh APIv2 material in memory, the client certificate issued for `keys`' merchant key
    /// and `mchid`.
    pub fn generate(keys: &SimKeys, mchid: &str) -> Result<V2Keys, SimError> {
        let ca = tls::SimCa::generate()?;
        let text = new_api_key()?;
        Ok(V2Keys {
            api_key: api_key(&text, Path::new("<new>"))?,
            api_key_text: text,
            ca_pem: ca.cert_pem(),
            ca_key_pem: ca.key_pem()?,
            client_cert_pem: ca.issue_client(&keys.merchant_key, mchid)?,
        })
    }

    /// Reads the APIv2 material from `dir`, or creates what is missing there:
    /// [`APIV2_KEY_FILE`] (0600), [`CA_KEY_FILE`] (0600), [`CA_CERT_FILE`] and
    /// [`CLIENT_CERT_FILE`] (issued for `keys`' merchant key and `mchid`; reissued when the
    /// CA is new).
    pub fn load_or_create(dir: &Path, keys: &SimKeys, mchid: &str) -> Result<V2Keys, SimError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SimError::Io { path, source }
        };
        let key_path = dir.join(APIV2_KEY_FILE);
        let api_key_text = if key_path.exists() {
            let text = std::fs::read_to_string(&key_path).map_err(io(&key_path))?;
            text.trim().to_string()
        } else {
            let text = new_api_key()?;
            write_secret(&key_path, &format!("{text}\n")).map_err(io(&key_path))?;
            text
        };
        let api_key = api_key(&api_key_text, &key_path)?;
        let ca_key_path = dir.join(CA_KEY_FILE);
        let ca_cert_path = dir.join(CA_CERT_FILE);
        let client_path = dir.join(CLIENT_CERT_FILE);
        let (ca, fresh) = if ca_key_path.exists() && ca_cert_path.exists() {
            let key = PrivateKey::load(&ca_key_path)?;
            let pem = std::fs::read(&ca_cert_path).map_err(io(&ca_cert_path))?;
            (tls::SimCa::from_pem(key, &pem)?, false)
        } else {
            let ca = tls::SimCa::generate()?;
            for p in [&ca_key_path, &ca_cert_path, &client_path] {
                if p.exists() {
                    std::fs::remove_file(p).map_err(io(p))?;
                }
            }
            write_secret(&ca_key_path, &ca.key_pem()?).map_err(io(&ca_key_path))?;
            std::fs::write(&ca_cert_path, ca.cert_pem()).map_err(io(&ca_cert_path))?;
            (ca, true)
        };
        let client_cert_pem = if client_path.exists() && !fresh {
            std::fs::read_to_string(&client_path).map_err(io(&client_path))?
        } else {
            let pem = ca.issue_client(&keys.merchant_key, mchid)?;
            std::fs::write(&client_path, &pem).map_err(io(&client_path))?;
            pem
        };
        Ok(V2Keys {
            api_key,
            api_key_text,
            ca_pem: ca.cert_pem(),
            ca_key_pem: ca.key_pem()?,
            client_cert_pem,
        })
    }
}

/// A running simulator with its APIv2 face, and what a v2 client needs to talk to it (see
/// [`start_v2_in_process`]).
pub struct V2InProcess {
    /// The simulator (its `base_url` is `https://127.0.0.1:PORT`).
    pub handle: SimHandle,
    /// The APIv2 key, CA certificate and client certificate.
    pub keys: V2Keys,
    /// The merchant's private key, PKCS#8 PEM (with `keys.client_cert_pem`: the client
    /// identity for `/secapi/*`).
    pub merchant_key_pem: String,
}

impl std::fmt::Debug for V2InProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "V2InProcess({})", self.handle.base_url)
    }
}

impl V2InProcess {
    /// The client identity for `/secapi/*` as one PEM (certificate, then private key): what
    /// `reqwest::Identity::from_pem` takes.
    pub fn identity_pem(&self) -> String {
        format!("{}{}", self.keys.client_cert_pem, self.merchant_key_pem)
    }
}

/// Starts an in-process simulator with its APIv2 face for `mchid`/`appid` over HTTPS on a free
/// loopback port, with fresh keys (APIv2 key, CA, merchant key and client certificate) and empty
/// books in memory: what `connect_in_process` needs for a v2 configuration. A client trusts
/// `keys.ca_pem` as its only root, signs with `keys.api_key`, and presents
/// [`V2InProcess::identity_pem`] on `/secapi/*`. The APIv3 face stays served too (over HTTPS).
pub async fn start_v2_in_process(
    mchid: &str,
    appid: &str,
    clock: SharedClock,
) -> Result<V2InProcess, SimError> {
    let keys = SimKeys::generate()?;
    let v2 = V2Keys::generate(&keys, mchid)?;
    let sim = Simulator::new(&keys, mchid, appid, clock)?;
    start_v2(sim, &keys, v2).await
}

/// Like [`start_v2_in_process`], but with its keys (`apiclient_key.pem`, `apiv2_key.txt`, the
/// CA and the client certificate, as [`V2Keys::load_or_create`] writes them) and its books
/// (`ledger.json`) in `dir`, reused at the next start: what a demo on APIv2 needs so that orders
/// survive a restart, as [`connect_in_process_persistent`] does for APIv3.
pub async fn start_v2_in_process_persistent(
    dir: &Path,
    mchid: &str,
    appid: &str,
    clock: SharedClock,
) -> Result<V2InProcess, SimError> {
    let keys = SimKeys::load_or_create(dir)?;
    let v2 = V2Keys::load_or_create(dir, &keys, mchid)?;
    let sim = Simulator::new(&keys, mchid, appid, clock)?.persist_to(&dir.join("ledger.json"))?;
    start_v2(sim, &keys, v2).await
}

async fn start_v2(sim: Simulator, keys: &SimKeys, v2: V2Keys) -> Result<V2InProcess, SimError> {
    let handle = sim.with_v2(&v2)?.start("127.0.0.1:0").await?;
    Ok(V2InProcess {
        handle,
        merchant_key_pem: keys.merchant_key.to_pkcs8_pem()?,
        keys: v2,
    })
}

/// The live-mode configuration of a merchant on APIv2 pointing at a standalone simulator
/// (`scanpay sim --api v2`): the APIv2 key, sign type, client certificate and the simulator's
/// CA as the TLS root. The `[wechatpay]` keys are those of issue 15's configuration.
pub fn v2_config_toml(mchid: &str, appid: &str, base_url: &str, sign_type: &str) -> String {
    live_config_toml(
        "`scanpay sim --api v2`: a live-mode APIv2 configuration",
        Some("v2"),
        mchid,
        appid,
        base_url,
        &format!(
            r#"v2_key = "{APIV2_KEY_FILE}"
v2_sign_type = "{sign_type}"
client_certificate = "{CLIENT_CERT_FILE}"
merchant_private_key = "apiclient_key.pem"
tls_root_certificate = "{CA_CERT_FILE}"
"#
        ),
    )
}
