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

use std::time::Duration;

use crate::clock::SharedClock;
use crate::config::{self, Config, Mode};
use crate::sim::{self, SimError, SimHandle};
use crate::wechat::client::{DEFAULT_MAX_BODY, StartupError};
use crate::wechat::keys::{KeyError, PrivateKey, TrustStore};
use crate::wechat::sign::Signer;
use crate::wechat::{Client, Settings};

/// A client, and the in-process simulator behind it in simulator mode.
pub struct Connection {
    /// The APIv3 client.
    pub client: Client,
    /// The in-process simulator (simulator mode only); dropping it stops it.
    pub sim: Option<SimHandle>,
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
    /// The built-in simulator could not start.
    #[error("HTTP client: built-in simulator: {0}")]
    Simulator(#[source] SimError),
}

/// Connects as `cfg` says. Keys are loaded (or, for the simulator, generated) once, here.
pub async fn connect(cfg: &Config, clock: SharedClock) -> Result<Connection, ConnectError> {
    match cfg.wechatpay.mode {
        Mode::Live => Ok(Connection {
            client: live_client(cfg, clock)?,
            sim: None,
        }),
        Mode::Simulator => {
            let dir = cfg.data_dir.join("simulator");
            let (client, sim) = sim::connect_in_process_persistent(cfg, clock, &dir)
                .await
                .map_err(ConnectError::Simulator)?;
            Ok(Connection {
                client,
                sim: Some(sim),
            })
        }
    }
}

/// The transport settings `cfg` implies: hosts and timeouts from `[wechatpay]`, ids from
/// `[merchant]`, the default answer cap.
pub fn client_settings(cfg: &Config) -> Settings {
    Settings {
        base_url: cfg.wechatpay.base_url.clone(),
        backup_base_url: cfg.wechatpay.backup_base_url.clone(),
        mchid: cfg.merchant.mchid.clone(),
        appid: cfg.merchant.appid.clone(),
        connect_timeout: Duration::from_millis(cfg.wechatpay.connect_timeout_ms),
        request_timeout: Duration::from_millis(cfg.wechatpay.request_timeout_ms),
        max_body_bytes: DEFAULT_MAX_BODY,
    }
}

/// A live-mode client for `cfg`: loads the merchant key and the trust store once. Every
/// missing, unreadable or malformed key file is a clear error.
pub fn live_client(cfg: &Config, clock: SharedClock) -> Result<Client, ConnectError> {
    let w = &cfg.wechatpay;
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
    let public = match (&w.wechatpay_public_key_id, &w.wechatpay_public_key) {
        (Some(id), Some(path)) => Some((id.as_str(), path.as_path())),
        _ => None,
    };
    let trust = TrustStore::load(public, &w.platform_certificates)?;
    if trust.is_empty() {
        return Err(ConnectError::Config(
            "no WeChat Pay public key or platform certificate configured".into(),
        ));
    }
    Ok(Client::new(
        client_settings(cfg),
        Signer::new(&cfg.merchant.mchid, serial, key),
        trust,
        clock,
    )?)
}
