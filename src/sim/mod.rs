//! The built-in WeChat Pay simulator: a real HTTP server speaking APIv3 byte for byte
//! (signed answers, request signature checks), with a ledger and scripted customers, so the
//! demo, the tests and cashier training run without credentials. See `docs/simulator.md`.
//!
//! - In-process: [`Simulator::start`] on a loopback port; [`connect_in_process`] also builds a
//!   [`Client`] for it (what `mode = "simulator"` does).
//! - Standalone: `scanpay sim --listen ADDR --keys DIR` ([`SimKeys::load_or_create`] writes the
//!   key files and a live-mode `scanpay.toml` pointing at it).
//! - Faults: [`SimHandle::inject`], or the admin endpoint ([`serve_admin`], loopback only).

pub mod cert;
pub mod fault;
pub mod ledger;
pub mod server;
pub mod standalone;

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
    /// Where it listens, as `http://127.0.0.1:PORT`.
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
        let base = format!("http://{bound}");
        *lock(&self.shared.base_url) = base.clone();
        let app = Router::new()
            .fallback(server::handle)
            .with_state(self.shared.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "simulator stopped");
            }
        });
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
    let keys = SimKeys::load_or_create(dir)?;
    let sim = simulator_for(cfg, &keys, clock.clone())?.persist_to(&dir.join("ledger.json"))?;
    connect_to(cfg, clock, keys, sim).await
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
    format!(
        r#"# Written by `scanpay sim`: a live-mode configuration pointing at the simulator at {base_url}.
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
base_url = "{base_url}"
merchant_serial_no = "{serial}"
merchant_private_key = "apiclient_key.pem"
wechatpay_public_key_id = "{pkid}"
wechatpay_public_key = "pub_key.pem"
connect_timeout_ms = 3000
request_timeout_ms = 10000

[payment]
query_interval_secs = 5
user_paying_timeout_secs = 45
max_amount = "5000.00"
"#,
        serial = keys.merchant_serial_no,
        pkid = keys.public_key_id,
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
