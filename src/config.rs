//! Typed configuration: where it is looked for, how it is read, and how it is checked.
//!
//! Lookup order (first match wins): `--config PATH`, env `SCANPAY_CONFIG`, `./scanpay.toml`,
//! `$XDG_CONFIG_HOME/scanpay/config.toml` (or `~/.config/scanpay/config.toml`), else the
//! embedded demo configuration (`config/demo.toml`). Relative paths inside a file resolve
//! against that file's folder; the demo's resolve against the current directory.
//!
//! A bad configuration never panics: [`ConfigError`] names the file, the field and what is
//! wrong. Every field is documented in `config/scanpay.example.toml` and `docs/configuration.md`.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::money::Fen;

/// The embedded demo configuration (`config/demo.toml`).
pub const DEMO_TOML: &str = include_str!("../config/demo.toml");

/// Name shown for the embedded demo configuration in messages.
pub const DEMO_NAME: &str = "<embedded demo config>";

/// Where the configuration came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A file on disk, and why it was chosen.
    File {
        /// The file.
        path: PathBuf,
        /// Which rule of the lookup order found it.
        found_by: FoundBy,
    },
    /// The embedded demo configuration.
    EmbeddedDemo,
}

/// Which rule of the lookup order chose a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FoundBy {
    /// `--config PATH`.
    Flag,
    /// `SCANPAY_CONFIG`.
    Env,
    /// `./scanpay.toml`.
    WorkingDir,
    /// `$XDG_CONFIG_HOME/scanpay/config.toml`.
    Xdg,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::EmbeddedDemo => f.write_str(DEMO_NAME),
            Source::File { path, found_by } => {
                let why = match found_by {
                    FoundBy::Flag => "--config",
                    FoundBy::Env => "SCANPAY_CONFIG",
                    FoundBy::WorkingDir => "./scanpay.toml",
                    FoundBy::Xdg => "XDG config dir",
                };
                write!(f, "{} (from {why})", path.display())
            }
        }
    }
}

/// The environment the lookup consults, passed in so that the rule is testable.
#[derive(Clone, Debug, Default)]
pub struct LookupEnv {
    /// Value of `--config`.
    pub flag: Option<PathBuf>,
    /// Value of `SCANPAY_CONFIG` (empty counts as unset).
    pub env_config: Option<PathBuf>,
    /// The current directory.
    pub cwd: PathBuf,
    /// Value of `XDG_CONFIG_HOME` (empty counts as unset).
    pub xdg_config_home: Option<PathBuf>,
    /// Value of `HOME`.
    pub home: Option<PathBuf>,
}

impl LookupEnv {
    /// Reads the real process environment.
    pub fn from_process(flag: Option<PathBuf>) -> LookupEnv {
        let non_empty = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        LookupEnv {
            flag,
            env_config: non_empty("SCANPAY_CONFIG"),
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            xdg_config_home: non_empty("XDG_CONFIG_HOME"),
            home: non_empty("HOME"),
        }
    }
}

/// Applies the lookup order. Explicit choices (`--config`, `SCANPAY_CONFIG`) are returned even
/// when the file does not exist, so that loading reports it instead of silently falling back.
pub fn locate(env: &LookupEnv, exists: impl Fn(&Path) -> bool) -> Source {
    if let Some(p) = &env.flag {
        return Source::File {
            path: p.clone(),
            found_by: FoundBy::Flag,
        };
    }
    if let Some(p) = &env.env_config {
        return Source::File {
            path: p.clone(),
            found_by: FoundBy::Env,
        };
    }
    let local = env.cwd.join("scanpay.toml");
    if exists(&local) {
        return Source::File {
            path: local,
            found_by: FoundBy::WorkingDir,
        };
    }
    let xdg_base = env
        .xdg_config_home
        .clone()
        .or_else(|| env.home.as_ref().map(|h| h.join(".config")));
    if let Some(base) = xdg_base {
        let p = base.join("scanpay").join("config.toml");
        if exists(&p) {
            return Source::File {
                path: p,
                found_by: FoundBy::Xdg,
            };
        }
    }
    Source::EmbeddedDemo
}

/// What is wrong with a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("config file {file}: cannot read it: {source}")]
    Read {
        /// The file.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML could not be parsed or does not fit the schema (unknown field, wrong type…).
    #[error("config file {file}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// toml's message, which names the field and the line.
        message: String,
    },
    /// A field has a value that parses but is not acceptable.
    #[error("config file {file}: field `{field}`: {problem}")]
    Invalid {
        /// The file.
        file: String,
        /// Dotted field name, e.g. `wechatpay.base_url`.
        field: String,
        /// What is wrong, and what would be right.
        problem: String,
    },
}

/// Interface language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Simplified Chinese (default).
    #[default]
    Zh,
    /// English.
    En,
}

/// The cashier screen's colours (`NO_COLOR` in the environment turns colours off whatever
/// this says).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ThemeName {
    /// Status colours (green/red/amber) beside words and symbols.
    #[default]
    Default,
    /// Bold, bright, maximum contrast.
    HighContrast,
}

/// Which payment service to talk to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The built-in simulator, started in-process; no credentials needed.
    #[default]
    Simulator,
    /// A real WeChat Pay APIv3 endpoint (or a standalone `scanpay sim`) at `base_url`.
    Live,
}

/// Which generation of the WeChat Pay API the till speaks (docs/configuration.md, "APIv2").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    /// APIv3: JSON, RSA signatures, the WeChat Pay public key or platform certificates.
    #[default]
    V3,
    /// APIv2: XML signed with the 32-character API key; the client certificate for
    /// `/secapi/*` (reverse, refund).
    V2,
}

impl Api {
    /// The configuration spelling (`v3`, `v2`), as the shift log records it.
    pub fn as_str(self) -> &'static str {
        match self {
            Api::V3 => "v3",
            Api::V2 => "v2",
        }
    }
}

/// How the barcode scanner is attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ScannerKind {
    /// A keyboard-wedge scanner typing into the terminal.
    #[default]
    Wedge,
    /// A serial / USB-CDC scanner.
    Serial,
}

// ---- the file as written (serde) ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    language: Language,
    #[serde(default)]
    theme: ThemeName,
    #[serde(default = "default_data_dir")]
    data_dir: PathBuf,
    merchant: RawMerchant,
    #[serde(default)]
    wechatpay: RawWechatpay,
    #[serde(default)]
    payment: RawPayment,
    #[serde(default)]
    scanner: RawScanner,
    #[serde(default)]
    printer: RawPrinter,
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("scanpay-data")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMerchant {
    mchid: String,
    appid: String,
    #[serde(default)]
    sub_mchid: Option<String>,
    #[serde(default)]
    sub_appid: Option<String>,
    #[serde(default)]
    sub_merchant_name: Option<String>,
    store_id: String,
    store_name: String,
    terminal_id: String,
    device_ip: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawWechatpay {
    mode: Mode,
    api: Api,
    v2_key: Option<PathBuf>,
    v2_sign_type: Option<String>,
    client_certificate: Option<PathBuf>,
    tls_root_certificate: Option<PathBuf>,
    base_url: String,
    backup_base_url: Option<String>,
    merchant_serial_no: Option<String>,
    merchant_private_key: Option<PathBuf>,
    wechatpay_public_key_id: Option<String>,
    wechatpay_public_key: Option<PathBuf>,
    platform_certificates: Vec<PathBuf>,
    apiv3_key: Option<PathBuf>,
    connect_timeout_ms: u64,
    request_timeout_ms: u64,
}

impl Default for RawWechatpay {
    fn default() -> Self {
        RawWechatpay {
            mode: Mode::Simulator,
            api: Api::V3,
            v2_key: None,
            v2_sign_type: None,
            client_certificate: None,
            tls_root_certificate: None,
            base_url: "https://api.mch.weixin.qq.com".into(),
            backup_base_url: None,
            merchant_serial_no: None,
            merchant_private_key: None,
            wechatpay_public_key_id: None,
            wechatpay_public_key: None,
            platform_certificates: Vec::new(),
            apiv3_key: None,
            connect_timeout_ms: 3000,
            request_timeout_ms: 10_000,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawPayment {
    query_interval_secs: u64,
    user_paying_timeout_secs: u64,
    max_amount: toml::Value,
}

impl Default for RawPayment {
    fn default() -> Self {
        RawPayment {
            query_interval_secs: 5,
            user_paying_timeout_secs: 45,
            max_amount: toml::Value::String("5000.00".into()),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawScanner {
    kind: ScannerKind,
    device: String,
    baud: u32,
    silence_ms: u64,
    wedge_min_chars: usize,
    wedge_max_gap_ms: u64,
}

impl Default for RawScanner {
    fn default() -> Self {
        RawScanner {
            kind: ScannerKind::Wedge,
            device: "/dev/ttyACM0".into(),
            baud: 9600,
            silence_ms: 100,
            wedge_min_chars: 8,
            wedge_max_gap_ms: 50,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawPrinter {
    kind: PrinterKind,
    path: Option<PathBuf>,
    address: Option<String>,
    baud: u32,
    width: usize,
    timezone: String,
    cut: bool,
    drawer: bool,
    qr: QrKind,
    timeout_ms: u64,
}

impl Default for RawPrinter {
    fn default() -> Self {
        RawPrinter {
            kind: PrinterKind::None,
            path: None,
            address: None,
            baud: 9600,
            width: 32,
            timezone: "Asia/Shanghai".into(),
            cut: true,
            drawer: false,
            qr: QrKind::Firmware,
            timeout_ms: 5000,
        }
    }
}

/// Where receipts are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PrinterKind {
    /// No printer (receipts are still kept as text in `data_dir/receipts`).
    #[default]
    None,
    /// ESC/POS files in a folder (`path`).
    File,
    /// A network printer (`address`, raw port 9100).
    Tcp,
    /// A printer device file (`path`, e.g. `/dev/usb/lp0`).
    Device,
    /// A serial printer (`path`, `baud`).
    Serial,
}

/// How QR codes are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum QrKind {
    /// The printer's own QR command (GS ( k).
    #[default]
    Firmware,
    /// A bitmap, for printers without QR firmware.
    Raster,
}

// ---- the checked configuration ----

/// A checked configuration. Paths are absolute or relative to the current directory.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where it came from.
    pub source: Source,
    /// Interface language.
    pub language: Language,
    /// Colours of the cashier screen.
    pub theme: ThemeName,
    /// Folder for the SQLite log, receipt spool and logs.
    pub data_dir: PathBuf,
    /// The merchant and this till.
    pub merchant: Merchant,
    /// The payment service.
    pub wechatpay: WechatPay,
    /// Payment-flow timing and limits.
    pub payment: Payment,
    /// The barcode scanner.
    pub scanner: Scanner,
    /// The receipt printer.
    pub printer: Printer,
}

/// `[printer]`.
#[derive(Clone, Debug)]
pub struct Printer {
    /// Where receipts go.
    pub kind: PrinterKind,
    /// Folder (file), device (device, serial).
    pub path: Option<PathBuf>,
    /// `host:port` (tcp).
    pub address: Option<String>,
    /// Serial speed.
    pub baud: u32,
    /// Paper width in columns: 32 (58 mm), 42 or 48 (80 mm).
    pub width: usize,
    /// Time zone of printed times.
    pub timezone: jiff::tz::TimeZone,
    /// Name of that time zone.
    pub timezone_name: String,
    /// Cut the paper after each receipt.
    pub cut: bool,
    /// Pulse the cash drawer after a paid receipt.
    pub drawer: bool,
    /// QR printing.
    pub qr: QrKind,
    /// Give up on a print after this long.
    pub timeout_ms: u64,
}

/// `[merchant]`.
#[derive(Clone, Debug)]
pub struct Merchant {
    /// WeChat Pay merchant id (商户号). In service-provider mode ([`Merchant::sub_mchid`]
    /// set) the service provider's (`sp_mchid`): the merchant key, certificate serial, APIv3
    /// key and WeChat Pay public key are then the service provider's too.
    pub mchid: String,
    /// AppID bound to the merchant; in service-provider mode the service provider's
    /// (`sp_appid`).
    pub appid: String,
    /// The sub-merchant (特约商户) the till charges for: set, it switches the till to
    /// service-provider mode (docs/protocol.md "Service-provider (partner) mode").
    pub sub_mchid: Option<String>,
    /// The sub-merchant's own AppID (`sub_appid`, optional); only with `sub_mchid`.
    pub sub_appid: Option<String>,
    /// The sub-merchant's name as receipts and X/Z reports print it beside its number
    /// (optional; only with `sub_mchid`). `store_name` stays the shop's name at the top.
    pub sub_merchant_name: Option<String>,
    /// The store's own code, sent as `scene_info.store_info.out_id`.
    pub store_id: String,
    /// Printed on receipts.
    pub store_name: String,
    /// This till; prefix of every `out_trade_no`.
    pub terminal_id: String,
    /// Sent as `scene_info.device_ip`.
    pub device_ip: IpAddr,
}

impl Merchant {
    /// The sub-merchant this till charges for (service-provider mode), as receipts and X/Z
    /// show it; `None` for a directly connected merchant.
    pub fn sub_merchant(&self) -> Option<crate::order::SubMerchant> {
        self.sub_mchid
            .as_ref()
            .map(|sub_mchid| crate::order::SubMerchant {
                sub_mchid: sub_mchid.clone(),
                name: self.sub_merchant_name.clone(),
            })
    }
}

/// `[wechatpay]`.
#[derive(Clone, Debug)]
pub struct WechatPay {
    /// Simulator or live.
    pub mode: Mode,
    /// APIv3 (default) or APIv2.
    pub api: Api,
    /// APIv2: file holding the 32-character API key (owner-only, like the private key).
    pub v2_key: Option<PathBuf>,
    /// APIv2: how requests are signed (and answers verified): HMAC-SHA256 (default) or MD5.
    pub v2_sign_type: crate::wechat::v2::sign::SignType,
    /// APIv2: the merchant API certificate (`apiclient_cert.pem`), presented with
    /// `merchant_private_key` as TLS client authentication on `/secapi/*` only.
    pub client_certificate: Option<PathBuf>,
    /// Extra trusted root CA (PEM) for the server's certificate: for the simulator's HTTPS face
    /// or a private gateway, never for api.mch.weixin.qq.com. Either API.
    pub tls_root_certificate: Option<PathBuf>,
    /// Main API host.
    pub base_url: reqwest::Url,
    /// Backup host for idempotent calls (query, reverse, bill), and for the pay call when the
    /// main host's connection could not be established (nothing sent).
    pub backup_base_url: Option<reqwest::Url>,
    /// Merchant API certificate serial (upper-case hex). Live mode only.
    pub merchant_serial_no: Option<String>,
    /// Merchant API private key (PKCS#8 PEM). Live mode only.
    pub merchant_private_key: Option<PathBuf>,
    /// WeChat Pay public key id (`PUB_KEY_ID_…`).
    pub wechatpay_public_key_id: Option<String>,
    /// WeChat Pay public key (SPKI PEM).
    pub wechatpay_public_key: Option<PathBuf>,
    /// Platform certificates (X.509 PEM), any number, side by side with the public key.
    pub platform_certificates: Vec<PathBuf>,
    /// File holding the 32-character APIv3 key: with it, platform certificates are downloaded
    /// (`GET /v3/certificates`), kept under `data_dir` and refreshed. Owner-only, like the
    /// private key.
    pub apiv3_key: Option<PathBuf>,
    /// TCP+TLS connect timeout.
    pub connect_timeout_ms: u64,
    /// Whole-request timeout.
    pub request_timeout_ms: u64,
}

/// `[payment]`.
#[derive(Clone, Debug)]
pub struct Payment {
    /// Seconds between queries while the outcome is open (3–10).
    pub query_interval_secs: u64,
    /// Seconds after the pay call before an unconfirmed order is reversed (15–120).
    pub user_paying_timeout_secs: u64,
    /// Largest amount one sale may charge.
    pub max_amount: Fen,
}

/// `[scanner]`.
#[derive(Clone, Debug)]
pub struct Scanner {
    /// Wedge or serial.
    pub kind: ScannerKind,
    /// Serial device path.
    pub device: PathBuf,
    /// Serial speed (8N1).
    pub baud: u32,
    /// A serial frame without a suffix ends after this much silence.
    pub silence_ms: u64,
    /// Keyboard wedge: the shortest fast burst that counts as a scan.
    pub wedge_min_chars: usize,
    /// Keyboard wedge: the longest gap between two keys of a scan.
    pub wedge_max_gap_ms: u64,
}

const BAUD_RATES: [u32; 8] = [1200, 2400, 4800, 9600, 19_200, 38_400, 57_600, 115_200];

impl Config {
    /// Finds and loads the configuration for this process.
    pub fn load(flag: Option<PathBuf>) -> Result<Config, ConfigError> {
        let env = LookupEnv::from_process(flag);
        Self::load_from(locate(&env, |p| p.is_file()))
    }

    /// Loads the configuration from a known source.
    pub fn load_from(source: Source) -> Result<Config, ConfigError> {
        match &source {
            Source::EmbeddedDemo => Self::from_toml(DEMO_TOML, source.clone(), Path::new("")),
            Source::File { path, .. } => {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
                    file: path.display().to_string(),
                    source: e,
                })?;
                let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
                Self::from_toml(&text, source.clone(), &base)
            }
        }
    }

    /// Parses and checks TOML text; relative paths resolve against `base`.
    pub fn from_toml(text: &str, source: Source, base: &Path) -> Result<Config, ConfigError> {
        let file = match &source {
            Source::EmbeddedDemo => DEMO_NAME.to_string(),
            Source::File { path, .. } => path.display().to_string(),
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            file: file.clone(),
            message: e.to_string().trim_end().replace('\n', "\n  "),
        })?;
        let invalid = |field: &str, problem: String| ConfigError::Invalid {
            file: file.clone(),
            field: field.to_string(),
            problem,
        };
        let resolve = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };

        // [merchant]
        let m = raw.merchant;
        check_id(
            "merchant.mchid",
            &m.mchid,
            32,
            |c| c.is_ascii_digit(),
            "digits",
        )
        .map_err(|p| invalid("merchant.mchid", p))?;
        check_id(
            "merchant.appid",
            &m.appid,
            32,
            |c| c.is_ascii_alphanumeric(),
            "letters and digits",
        )
        .map_err(|p| invalid("merchant.appid", p))?;
        // Service-provider mode: mchid/appid above are the provider's, these the sub-merchant's.
        if let Some(sub) = &m.sub_mchid {
            check_id(
                "merchant.sub_mchid",
                sub,
                32,
                |c| c.is_ascii_digit(),
                "digits",
            )
            .map_err(|p| {
                invalid(
                    "merchant.sub_mchid",
                    format!("{p} (the sub-merchant's 特约商户号)"),
                )
            })?;
            if *sub == m.mchid {
                return Err(invalid(
                    "merchant.sub_mchid",
                    format!(
                        "{sub:?} is also merchant.mchid: in service-provider mode merchant.mchid is \
                         the service provider's merchant id and merchant.sub_mchid the sub-merchant's"
                    ),
                ));
            }
        }
        if let Some(sub_appid) = &m.sub_appid {
            if m.sub_mchid.is_none() {
                return Err(invalid(
                    "merchant.sub_appid",
                    "is the sub-merchant's AppID and needs merchant.sub_mchid (service-provider \
                     mode); a directly connected merchant sets merchant.appid only"
                        .into(),
                ));
            }
            check_id(
                "merchant.sub_appid",
                sub_appid,
                32,
                |c| c.is_ascii_alphanumeric(),
                "letters and digits",
            )
            .map_err(|p| invalid("merchant.sub_appid", p))?;
        }
        let sub_merchant_name = match &m.sub_merchant_name {
            None => None,
            Some(name) => {
                if m.sub_mchid.is_none() {
                    return Err(invalid(
                        "merchant.sub_merchant_name",
                        "is the sub-merchant's name and needs merchant.sub_mchid (service-provider \
                         mode); a directly connected merchant's shop is merchant.store_name"
                            .into(),
                    ));
                }
                Some(
                    check_sub_merchant_name(name)
                        .map_err(|p| invalid("merchant.sub_merchant_name", p))?,
                )
            }
        };
        // Sent as scene_info.store_info.out_id: the documentation gives no character set, so
        // the till keeps to what every WeChat Pay identifier accepts (docs/protocol.md,
        // "Field limits").
        check_id(
            "merchant.store_id",
            &m.store_id,
            32,
            |c| c.is_ascii_alphanumeric() || c == '-' || c == '_',
            "letters, digits, '-' and '_' (it is sent as scene_info.store_info.out_id)",
        )
        .map_err(|p| invalid("merchant.store_id", p))?;
        if m.store_name.trim().is_empty() {
            return Err(invalid("merchant.store_name", "must not be empty".into()));
        }
        check_id(
            "merchant.terminal_id",
            &m.terminal_id,
            12,
            |c| c.is_ascii_alphanumeric(),
            "letters and digits (it starts every out_trade_no)",
        )
        .map_err(|p| invalid("merchant.terminal_id", p))?;
        let device_ip: IpAddr = m.device_ip.trim().parse().map_err(|_| {
            invalid(
                "merchant.device_ip",
                format!("{:?} is not an IPv4 or IPv6 address", m.device_ip),
            )
        })?;

        // [wechatpay]
        let w = raw.wechatpay;
        let base_url = check_url(&w.base_url).map_err(|p| invalid("wechatpay.base_url", p))?;
        let backup_base_url = match &w.backup_base_url {
            Some(u) if !u.trim().is_empty() => {
                Some(check_url(u).map_err(|p| invalid("wechatpay.backup_base_url", p))?)
            }
            _ => None,
        };
        if !(100..=60_000).contains(&w.connect_timeout_ms) {
            return Err(invalid(
                "wechatpay.connect_timeout_ms",
                format!("{} is out of range (100–60000)", w.connect_timeout_ms),
            ));
        }
        if !(w.connect_timeout_ms..=120_000).contains(&w.request_timeout_ms) {
            return Err(invalid(
                "wechatpay.request_timeout_ms",
                format!(
                    "{} is out of range ({}–120000; at least connect_timeout_ms)",
                    w.request_timeout_ms, w.connect_timeout_ms
                ),
            ));
        }
        let merchant_private_key = w.merchant_private_key.as_deref().map(resolve);
        let wechatpay_public_key = w.wechatpay_public_key.as_deref().map(resolve);
        let platform_certificates: Vec<PathBuf> =
            w.platform_certificates.iter().map(|p| resolve(p)).collect();
        let apiv3_key = w.apiv3_key.as_deref().map(resolve);
        let v2_key = w.v2_key.as_deref().map(resolve);
        let client_certificate = w.client_certificate.as_deref().map(resolve);
        let tls_root_certificate = w.tls_root_certificate.as_deref().map(resolve);
        let v2_sign_type = match w.v2_sign_type.as_deref() {
            None => crate::wechat::v2::sign::SignType::HmacSha256,
            Some(s) => crate::wechat::v2::sign::SignType::from_wire(s).ok_or_else(|| {
                invalid(
                    "wechatpay.v2_sign_type",
                    format!("{s:?} is neither \"HMAC-SHA256\" nor \"MD5\""),
                )
            })?,
        };
        if let Some(path) = &tls_root_certificate {
            let hosts = [Some(&base_url), backup_base_url.as_ref()];
            let live_hosts = if w.mode == Mode::Live {
                &hosts[..]
            } else {
                &[]
            };
            check_root_certificate(path, live_hosts)
                .map_err(|p| invalid("wechatpay.tls_root_certificate", p))?;
        }
        if w.mode == Mode::Live && w.api == Api::V2 {
            // APIv2 needs the API key and, for reverse and refund, the client certificate
            // with its key; not the certificate serial, APIv3 key or WeChat Pay public key
            // (docs/configuration.md, "APIv2"). Those APIv3 fields are ignored here, so one
            // file can hold both sets and switch with `api` alone.
            let key = v2_key.as_deref().ok_or_else(|| {
                invalid(
                    "wechatpay.v2_key",
                    "api = \"v2\" in live mode needs the file holding the 32-character APIv2 key"
                        .into(),
                )
            })?;
            check_v2_key_file(key).map_err(|p| invalid("wechatpay.v2_key", p))?;
            let cert = client_certificate.as_deref().ok_or_else(|| {
                invalid(
                    "wechatpay.client_certificate",
                    "api = \"v2\" in live mode needs the merchant API certificate \
                     (apiclient_cert.pem) for reverse and refund"
                        .into(),
                )
            })?;
            check_readable(cert).map_err(|p| invalid("wechatpay.client_certificate", p))?;
            let key = merchant_private_key.as_deref().ok_or_else(|| {
                invalid(
                    "wechatpay.merchant_private_key",
                    "api = \"v2\" in live mode needs the client certificate's private key \
                     (apiclient_key.pem)"
                        .into(),
                )
            })?;
            check_private_key_file(key)
                .map_err(|p| invalid("wechatpay.merchant_private_key", p))?;
        }
        if w.mode == Mode::Live && w.api == Api::V3 {
            let serial = w.merchant_serial_no.as_deref().unwrap_or("").trim();
            if serial.is_empty() || !serial.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(invalid(
                    "wechatpay.merchant_serial_no",
                    "live mode needs the merchant API certificate serial (hex, as printed by \
                     `openssl x509 -noout -serial`)"
                        .into(),
                ));
            }
            let key = merchant_private_key.as_deref().ok_or_else(|| {
                invalid(
                    "wechatpay.merchant_private_key",
                    "live mode needs the merchant API private key file".into(),
                )
            })?;
            check_private_key_file(key)
                .map_err(|p| invalid("wechatpay.merchant_private_key", p))?;
            match (&w.wechatpay_public_key_id, &wechatpay_public_key) {
                (Some(id), Some(path)) => {
                    if !id.starts_with("PUB_KEY_ID_") {
                        return Err(invalid(
                            "wechatpay.wechatpay_public_key_id",
                            format!("{id:?} does not start with PUB_KEY_ID_"),
                        ));
                    }
                    check_readable(path)
                        .map_err(|p| invalid("wechatpay.wechatpay_public_key", p))?;
                }
                (Some(_), None) => {
                    return Err(invalid(
                        "wechatpay.wechatpay_public_key",
                        "wechatpay_public_key_id is set but the key file is not".into(),
                    ));
                }
                (None, Some(_)) => {
                    return Err(invalid(
                        "wechatpay.wechatpay_public_key_id",
                        "wechatpay_public_key is set but its PUB_KEY_ID_… is not".into(),
                    ));
                }
                (None, None) if platform_certificates.is_empty() && apiv3_key.is_none() => {
                    return Err(invalid(
                        "wechatpay.wechatpay_public_key",
                        "live mode needs a WeChat Pay public key (wechatpay_public_key_id + \
                         wechatpay_public_key), platform_certificates or apiv3_key (to \
                         download the platform certificates) to verify answers"
                            .into(),
                    ));
                }
                (None, None) => {}
            }
            for (i, cert) in platform_certificates.iter().enumerate() {
                check_readable(cert)
                    .map_err(|p| invalid(&format!("wechatpay.platform_certificates[{i}]"), p))?;
            }
            if let Some(path) = &apiv3_key {
                check_apiv3_key_file(path).map_err(|p| invalid("wechatpay.apiv3_key", p))?;
            }
        }

        // [payment]
        let p = raw.payment;
        if !(3..=10).contains(&p.query_interval_secs) {
            return Err(invalid(
                "payment.query_interval_secs",
                format!(
                    "{} is out of range (3–10 seconds, per WeChat Pay's guidance)",
                    p.query_interval_secs
                ),
            ));
        }
        if !(15..=120).contains(&p.user_paying_timeout_secs) {
            return Err(invalid(
                "payment.user_paying_timeout_secs",
                format!(
                    "{} is out of range (15–120 seconds; WeChat forbids reversing sooner than 15 s)",
                    p.user_paying_timeout_secs
                ),
            ));
        }
        let max_amount = match &p.max_amount {
            toml::Value::String(s) => Fen::parse_unlimited(s).map_err(|e| {
                invalid("payment.max_amount", format!("{s:?} is not an amount: {e}"))
            })?,
            toml::Value::Integer(i) if *i > 0 => Fen::parse_unlimited(&i.to_string())
                .map_err(|e| invalid("payment.max_amount", format!("{i} is not an amount: {e}")))?,
            other => {
                return Err(invalid(
                    "payment.max_amount",
                    format!(
                        "must be an amount in yuan as a string, like \"5000.00\" (got {other})"
                    ),
                ));
            }
        };

        // [scanner]
        let s = raw.scanner;
        if !BAUD_RATES.contains(&s.baud) {
            return Err(invalid(
                "scanner.baud",
                format!("{} is not a standard rate ({BAUD_RATES:?})", s.baud),
            ));
        }
        if s.kind == ScannerKind::Serial && s.device.trim().is_empty() {
            return Err(invalid(
                "scanner.device",
                "serial scanners need a device path".into(),
            ));
        }
        if !(20..=1000).contains(&s.silence_ms) {
            return Err(invalid(
                "scanner.silence_ms",
                format!("{} is out of range (20–1000)", s.silence_ms),
            ));
        }
        if !(4..=32).contains(&s.wedge_min_chars) {
            return Err(invalid(
                "scanner.wedge_min_chars",
                format!("{} is out of range (4–32)", s.wedge_min_chars),
            ));
        }
        if !(5..=200).contains(&s.wedge_max_gap_ms) {
            return Err(invalid(
                "scanner.wedge_max_gap_ms",
                format!("{} is out of range (5–200)", s.wedge_max_gap_ms),
            ));
        }

        // [printer]
        let pr = raw.printer;
        if ![32, 42, 48].contains(&pr.width) {
            return Err(invalid(
                "printer.width",
                format!(
                    "{} is not a paper width: use 32 (58 mm), 42 or 48 (80 mm)",
                    pr.width
                ),
            ));
        }
        let timezone = jiff::tz::TimeZone::get(&pr.timezone).map_err(|_| {
            invalid(
                "printer.timezone",
                format!(
                    "{:?} is not a known time zone (e.g. \"Asia/Shanghai\")",
                    pr.timezone
                ),
            )
        })?;
        if !(500..=60_000).contains(&pr.timeout_ms) {
            return Err(invalid(
                "printer.timeout_ms",
                format!("{} is out of range (500–60000)", pr.timeout_ms),
            ));
        }
        let printer_path = pr.path.as_deref().map(resolve);
        match pr.kind {
            PrinterKind::File | PrinterKind::Device | PrinterKind::Serial
                if printer_path.is_none() =>
            {
                return Err(invalid(
                    "printer.path",
                    format!("printer kind {:?} needs a path", pr.kind).to_lowercase(),
                ));
            }
            PrinterKind::Tcp if pr.address.as_deref().is_none_or(|a| !a.contains(':')) => {
                return Err(invalid(
                    "printer.address",
                    "tcp printers need host:port, e.g. \"192.168.1.50:9100\"".into(),
                ));
            }
            _ => {}
        }
        if pr.kind == PrinterKind::Serial && !BAUD_RATES.contains(&pr.baud) {
            return Err(invalid(
                "printer.baud",
                format!("{} is not a standard rate ({BAUD_RATES:?})", pr.baud),
            ));
        }
        Ok(Config {
            data_dir: resolve(&raw.data_dir),
            source,
            language: raw.language,
            theme: raw.theme,
            merchant: Merchant {
                mchid: m.mchid,
                appid: m.appid,
                sub_mchid: m.sub_mchid,
                sub_appid: m.sub_appid,
                sub_merchant_name,
                store_id: m.store_id,
                store_name: m.store_name,
                terminal_id: m.terminal_id,
                device_ip,
            },
            wechatpay: WechatPay {
                mode: w.mode,
                api: w.api,
                v2_key,
                v2_sign_type,
                client_certificate,
                tls_root_certificate,
                base_url,
                backup_base_url,
                merchant_serial_no: w.merchant_serial_no.map(|s| s.trim().to_ascii_uppercase()),
                merchant_private_key,
                wechatpay_public_key_id: w.wechatpay_public_key_id,
                wechatpay_public_key,
                platform_certificates,
                apiv3_key,
                connect_timeout_ms: w.connect_timeout_ms,
                request_timeout_ms: w.request_timeout_ms,
            },
            payment: Payment {
                query_interval_secs: p.query_interval_secs,
                user_paying_timeout_secs: p.user_paying_timeout_secs,
                max_amount,
            },
            printer: Printer {
                kind: pr.kind,
                path: printer_path,
                address: pr.address,
                baud: pr.baud,
                width: pr.width,
                timezone,
                timezone_name: pr.timezone,
                cut: pr.cut,
                drawer: pr.drawer,
                qr: pr.qr,
                timeout_ms: pr.timeout_ms,
            },
            scanner: Scanner {
                kind: s.kind,
                device: PathBuf::from(s.device),
                baud: s.baud,
                silence_ms: s.silence_ms,
                wedge_min_chars: s.wedge_min_chars,
                wedge_max_gap_ms: s.wedge_max_gap_ms,
            },
        })
    }

    /// A human summary of the resolved configuration (no secrets: key files are named, never
    /// read out).
    pub fn describe(&self) -> String {
        let w = &self.wechatpay;
        let opt = |p: &Option<PathBuf>| {
            p.as_ref()
                .map_or("-".to_string(), |p| p.display().to_string())
        };
        let mut s = String::new();
        let mut line = |k: &str, v: String| s.push_str(&format!("{k:<28} {v}\n"));
        line("config", self.source.to_string());
        line("language", format!("{:?}", self.language).to_lowercase());
        line("theme", format!("{:?}", self.theme).to_lowercase());
        line("data_dir", self.data_dir.display().to_string());
        line(
            "merchant (party)",
            match &self.merchant.sub_mchid {
                None => "direct merchant (普通商户): mchid/appid and the keys are its own".into(),
                Some(sub) => format!(
                    "service provider (服务商) {} for sub-merchant (特约商户) {sub}: \
                     mchid/appid and the keys are the service provider's",
                    self.merchant.mchid
                ),
            },
        );
        line("merchant.mchid", self.merchant.mchid.clone());
        line("merchant.appid", self.merchant.appid.clone());
        if let Some(sub) = &self.merchant.sub_mchid {
            line("merchant.sub_mchid", sub.clone());
            line(
                "merchant.sub_appid",
                self.merchant
                    .sub_appid
                    .clone()
                    .unwrap_or_else(|| "-".into()),
            );
            line(
                "merchant.sub_merchant_name",
                self.merchant
                    .sub_merchant_name
                    .clone()
                    .unwrap_or_else(|| "-".into()),
            );
        }
        line("merchant.store_id", self.merchant.store_id.clone());
        line("merchant.store_name", self.merchant.store_name.clone());
        line("merchant.terminal_id", self.merchant.terminal_id.clone());
        line("merchant.device_ip", self.merchant.device_ip.to_string());
        line("wechatpay.mode", format!("{:?}", w.mode).to_lowercase());
        line("wechatpay.api", w.api.as_str().into());
        if w.api == Api::V2 {
            line("wechatpay.v2_key", opt(&w.v2_key));
            line("wechatpay.v2_sign_type", w.v2_sign_type.as_str().into());
            line("wechatpay.client_certificate", opt(&w.client_certificate));
        }
        if w.tls_root_certificate.is_some() {
            line(
                "wechatpay.tls_root_certificate",
                opt(&w.tls_root_certificate),
            );
        }
        line("wechatpay.base_url", w.base_url.to_string());
        line(
            "wechatpay.backup_base_url",
            w.backup_base_url
                .as_ref()
                .map_or("-".into(), |u| u.to_string()),
        );
        line(
            "wechatpay.merchant_serial_no",
            w.merchant_serial_no.clone().unwrap_or("-".into()),
        );
        line(
            "wechatpay.merchant_private_key",
            opt(&w.merchant_private_key),
        );
        line(
            "wechatpay.wechatpay_public_key_id",
            w.wechatpay_public_key_id.clone().unwrap_or("-".into()),
        );
        line(
            "wechatpay.wechatpay_public_key",
            opt(&w.wechatpay_public_key),
        );
        line(
            "wechatpay.platform_certificates",
            format!("{} file(s)", w.platform_certificates.len()),
        );
        line(
            "wechatpay.connect_timeout_ms",
            w.connect_timeout_ms.to_string(),
        );
        line(
            "wechatpay.request_timeout_ms",
            w.request_timeout_ms.to_string(),
        );
        line(
            "payment.query_interval_secs",
            self.payment.query_interval_secs.to_string(),
        );
        line(
            "payment.user_paying_timeout_secs",
            self.payment.user_paying_timeout_secs.to_string(),
        );
        line("payment.max_amount", self.payment.max_amount.to_string());
        line(
            "scanner.kind",
            format!("{:?}", self.scanner.kind).to_lowercase(),
        );
        line("scanner.device", self.scanner.device.display().to_string());
        line("scanner.baud", self.scanner.baud.to_string());
        line(
            "printer.kind",
            format!("{:?}", self.printer.kind).to_lowercase(),
        );
        line("printer.path", opt(&self.printer.path));
        line(
            "printer.address",
            self.printer.address.clone().unwrap_or("-".into()),
        );
        line("printer.width", self.printer.width.to_string());
        line("printer.timezone", self.printer.timezone_name.clone());
        line("scanner.silence_ms", self.scanner.silence_ms.to_string());
        line(
            "scanner.wedge_min_chars",
            self.scanner.wedge_min_chars.to_string(),
        );
        line(
            "scanner.wedge_max_gap_ms",
            self.scanner.wedge_max_gap_ms.to_string(),
        );
        s
    }
}

/// The longest `merchant.sub_merchant_name`, in characters: a name, not a paragraph (the
/// platform's 商户简称 is shorter still); it is wrapped on paper like any text.
pub const SUB_MERCHANT_NAME_MAX: usize = 64;

/// `merchant.sub_merchant_name`: trimmed, not empty, at most [`SUB_MERCHANT_NAME_MAX`]
/// characters, and terminal-safe — no control character (it is printed on the screen, on
/// paper and on the command line).
fn check_sub_merchant_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("must not be empty (leave it out to print the number alone)".into());
    }
    if name.chars().any(crate::sanitize::is_control) {
        return Err("must not contain control characters (escape, newline, tab …)".into());
    }
    let n = name.chars().count();
    if n > SUB_MERCHANT_NAME_MAX {
        return Err(format!(
            "is {n} characters long; at most {SUB_MERCHANT_NAME_MAX}"
        ));
    }
    Ok(name.to_string())
}

fn check_id(
    _field: &str,
    value: &str,
    max: usize,
    ok: impl Fn(char) -> bool,
    what: &str,
) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value.chars().count() > max {
        return Err(format!("{value:?} is longer than {max} characters"));
    }
    if !value.chars().all(ok) {
        return Err(format!("{value:?} may only contain {what}"));
    }
    Ok(())
}

/// `https://` anywhere; `http://` only for loopback hosts (the simulator, a local proxy).
pub fn check_url(raw: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(raw.trim()).map_err(|e| format!("{raw:?} is not a URL: {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" => {
            if !is_loopback_host(&url) {
                return Err(format!(
                    "{raw:?} uses http:// with a host that is not loopback; payment traffic must use https://"
                ));
            }
        }
        other => return Err(format!("{raw:?} has scheme {other:?}; use https://")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{raw:?} has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{raw:?} must not have a query or fragment"));
    }
    Ok(url)
}

/// Whether a URL's host is `localhost`, 127.0.0.0/8 or `::1`.
pub fn is_loopback_host(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn check_readable(path: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("key file {} cannot be opened: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a file", path.display()));
    }
    std::fs::File::open(path)
        .map_err(|e| format!("key file {} cannot be read: {e}", path.display()))?;
    Ok(())
}

/// Checks the APIv3 key file: owner-only (like the private key) and 32 characters.
pub fn check_apiv3_key_file(path: &Path) -> Result<(), String> {
    check_private_key_file(path)?;
    crate::wechat::certs::Apiv3Key::load(path)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Checks the APIv2 key file: owner-only (like the private key) and 32 letters or digits.
/// The key itself never appears in the message.
pub fn check_v2_key_file(path: &Path) -> Result<(), String> {
    check_private_key_file(path)?;
    load_v2_key(path).map(|_| ())
}

/// Reads the APIv2 key from its file (surrounding whitespace, such as the final newline,
/// ignored). Checks the shape, not the permissions ([`check_v2_key_file`] does both).
pub fn load_v2_key(path: &Path) -> Result<crate::wechat::v2::sign::ApiKey, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("key file {} cannot be read: {e}", path.display()))?;
    crate::wechat::v2::sign::ApiKey::new(text.trim())
        .map_err(|e| format!("key file {}: {e}", path.display()))
}

/// Hosts that are WeChat Pay's own: their certificates chain to public roots, so an extra
/// trusted root for them could only ever help an impostor.
fn is_wechat_host(url: &reqwest::Url) -> bool {
    url.host_str().is_some_and(|h| {
        let h = h.to_ascii_lowercase();
        h == "weixin.qq.com" || h.ends_with(".weixin.qq.com") || h.ends_with(".wechatpay.cn")
    })
}

/// `tls_root_certificate`: a readable PEM file with at least one certificate, and never
/// next to WeChat Pay's own hosts (it is for the simulator or a private gateway).
fn check_root_certificate(path: &Path, hosts: &[Option<&reqwest::Url>]) -> Result<(), String> {
    if hosts.iter().flatten().any(|u| is_wechat_host(u)) {
        return Err(
            "an extra trusted root is for the simulator or a private gateway, never for \
             WeChat Pay's own hosts: remove it or change base_url"
                .into(),
        );
    }
    let pem = std::fs::read(path)
        .map_err(|e| format!("certificate file {} cannot be read: {e}", path.display()))?;
    match reqwest::Certificate::from_pem_bundle(&pem) {
        Ok(certs) if !certs.is_empty() => Ok(()),
        _ => Err(format!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        )),
    }
}

/// A private key must exist, be readable, and not be readable or writable by group or others.
pub fn check_private_key_file(path: &Path) -> Result<(), String> {
    check_readable(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| e.to_string())?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "key file {} is readable by group/others (mode {:o}); run `chmod 600 {}`",
                path.display(),
                mode & 0o777,
                path.display()
            ));
        }
    }
    Ok(())
}
