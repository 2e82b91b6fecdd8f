//! `scanpay check`: is this till configured so that WeChat Pay accepts its requests and it can
//! trust the answers? One use case for both faces (the CLI prints it, the cashier screen runs it
//! at start and shows it in the status bar).
//!
//! What is checked, in order: the configuration; the key files and their modes; the main and
//! backup hosts (one unsigned probe each, `wechat::probe`); the till's clock against the main
//! host's `Date` (WeChat refuses a request whose timestamp is five minutes or more off); one
//! signed round trip — a query of an order that cannot exist must come back as a **signed**
//! 404 ORDER_NOT_EXIST, which proves that WeChat accepted our signature and that we can verify
//! its; and the keys trusted for answers. Nothing here moves money or writes to the shift log.
//!
//! Every problem names its fix. Texts are English (the command line's language for
//! diagnostics); the screen shows a localised summary (`crate::i18n::check_summary`).

use serde_json::json;

use crate::clock::SharedClock;
use crate::config::{self, Api, Config, Mode};
use crate::connect;
use crate::wechat::keys::{PrivateKey, TrustStore};
use crate::wechat::model::ErrorCode;
use crate::wechat::probe;
use crate::wechat::sign::{Signer, VerifyError, new_nonce};
use crate::wechat::{ApiError, Client};

/// WeChat refuses a request whose `Authorization` timestamp is this far from its clock.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;
/// Beyond this the clock is reported as a warning (still accepted, but drifting).
pub const WARN_CLOCK_SKEW_SECS: i64 = 60;

/// What one finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item {
    /// The configuration file as loaded.
    Configuration,
    /// The merchant private key, its file mode, the merchant serial.
    KeyFiles,
    /// The WeChat Pay public key / platform certificates trusted for answers.
    TrustedKeys,
    /// The main API host.
    MainHost,
    /// The backup API host.
    BackupHost,
    /// The till's clock against the service's `Date`.
    Clock,
    /// One signed query, answered and verified.
    RoundTrip,
    /// APIv2: the client certificate for `/secapi/*`.
    ClientCertificate,
    /// Orders left unsettled that were made over the other API than the one configured.
    OtherApiOrders,
}

impl Item {
    /// Stable name (JSON, logs).
    pub fn as_str(self) -> &'static str {
        match self {
            Item::Configuration => "configuration",
            Item::KeyFiles => "key_files",
            Item::TrustedKeys => "trusted_keys",
            Item::MainHost => "main_host",
            Item::BackupHost => "backup_host",
            Item::Clock => "clock",
            Item::RoundTrip => "round_trip",
            Item::ClientCertificate => "client_certificate",
            Item::OtherApiOrders => "other_api_orders",
        }
    }
}

/// How a finding went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Fine.
    Ok,
    /// Works, but worth a look (does not fail the check).
    Warning,
    /// Sales will fail or cannot be trusted until this is fixed.
    Problem,
    /// Not checked because an earlier problem makes it meaningless.
    Skipped,
}

impl Status {
    /// Stable name (JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Problem => "problem",
            Status::Skipped => "skipped",
        }
    }
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// What it is about.
    pub item: Item,
    /// How it went.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to do about it (problems and warnings).
    pub fix: Option<String>,
}

/// The whole check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// In the order checked.
    pub findings: Vec<Finding>,
}

impl Report {
    /// No problem found (warnings allowed).
    pub fn ok(&self) -> bool {
        !self.findings.iter().any(|f| f.status == Status::Problem)
    }

    /// The problems, in order.
    pub fn problems(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.status == Status::Problem)
    }

    /// The finding for `item`, if it was reached.
    pub fn get(&self, item: Item) -> Option<&Finding> {
        self.findings.iter().find(|f| f.item == item)
    }

    /// `{"ok": bool, "checks": [{"item", "status", "detail", "fix"}]}`.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "ok": self.ok(),
            "checks": self.findings.iter().map(|f| json!({
                "item": f.item.as_str(),
                "status": f.status.as_str(),
                "detail": f.detail,
                "fix": f.fix,
            })).collect::<Vec<_>>(),
        })
    }

    /// A report for a configuration that could not even be loaded.
    pub fn unloadable(error: &str) -> Report {
        Report {
            findings: vec![problem(
                Item::Configuration,
                format!("the configuration cannot be loaded: {error}"),
                "fix the setting named above (see docs/configuration.md), then run `scanpay check` again",
            )],
        }
    }

    fn push(&mut self, f: Finding) {
        self.findings.push(f);
    }
}

fn finding(item: Item, status: Status, detail: impl Into<String>, fix: Option<String>) -> Finding {
    Finding {
        item,
        status,
        detail: detail.into(),
        fix,
    }
}

fn ok(item: Item, detail: impl Into<String>) -> Finding {
    finding(item, Status::Ok, detail, None)
}

fn problem(item: Item, detail: impl Into<String>, fix: impl Into<String>) -> Finding {
    finding(item, Status::Problem, detail, Some(fix.into()))
}

fn warning(item: Item, detail: impl Into<String>, fix: impl Into<String>) -> Finding {
    finding(item, Status::Warning, detail, Some(fix.into()))
}

fn skipped(item: Item, why: &str) -> Finding {
    finding(item, Status::Skipped, format!("not checked: {why}"), None)
}

impl super::Till {
    /// The check for this till's configuration. In simulator mode the round trip uses the
    /// till's own simulator (a second one on the same folder would be a second ledger).
    pub async fn check(&self) -> Report {
        run_with(&self.cfg, self.clock.clone(), Some(&self._held.0.client)).await
    }
}

/// Runs every check for `cfg`, with `clock` as the till's clock. In simulator mode the round
/// trip goes to a throw-away in-memory simulator (nothing in the data folder is touched).
pub async fn run(cfg: &Config, clock: SharedClock) -> Report {
    run_with(cfg, clock, None).await
}

async fn run_with(cfg: &Config, clock: SharedClock, own: Option<&Client>) -> Report {
    let mut report = Report {
        findings: Vec::new(),
    };
    let w = &cfg.wechatpay;
    report.push(ok(
        Item::Configuration,
        format!(
            "{}, mode {}, mchid {}, appid {}{}, terminal {}",
            cfg.source,
            match w.mode {
                Mode::Live => "live",
                Mode::Simulator => "simulator",
            },
            cfg.merchant.mchid,
            cfg.merchant.appid,
            match &cfg.merchant.sub_mchid {
                // Service-provider mode: mchid/appid are the provider's; then the
                // sub-merchant (特约商户) the till charges for, by number and name.
                Some(sub) => format!(
                    " (service provider), sub_mchid {sub} (sub-merchant{}){}",
                    cfg.merchant
                        .sub_merchant_name
                        .as_deref()
                        .map(|n| format!(" {n}"))
                        .unwrap_or_default(),
                    cfg.merchant
                        .sub_appid
                        .as_deref()
                        .map(|a| format!(", sub_appid {a}"))
                        .unwrap_or_default()
                ),
                None => String::new(),
            },
            cfg.merchant.terminal_id
        ),
    ));
    match w.mode {
        Mode::Simulator => {
            report.push(ok(
                Item::KeyFiles,
                "simulator mode: the built-in simulator makes its own keys",
            ));
            let started = match own {
                Some(c) => Ok((c.clone(), None)),
                None => crate::sim::connect_in_process(cfg, clock.clone())
                    .await
                    .map(|(c, sim)| (c, Some(sim))),
            };
            match started {
                Ok((client, sim)) => {
                    report.push(trust_status(None, Some(&client), 0));
                    report.push(ok(Item::MainHost, "the built-in simulator (in-process)"));
                    report.push(round_trip(&client).await);
                    drop(sim);
                }
                Err(e) => report.push(problem(
                    Item::MainHost,
                    format!("the built-in simulator did not start: {e}"),
                    "check that the data folder is writable, then run `scanpay check` again",
                )),
            }
        }
        Mode::Live => {
            let client = match w.api {
                Api::V3 => live_keys(cfg, clock.clone(), &mut report),
                Api::V2 => live_v2_keys(cfg, clock.clone(), &mut report),
            };
            hosts(cfg, &clock, &mut report).await;
            match client {
                Some(client) => report.push(round_trip(&client).await),
                None => report.push(skipped(Item::RoundTrip, "the key files have a problem")),
            }
        }
    }
    if let Some(f) = other_api_finding(cfg) {
        report.push(f);
    }
    report
}

/// Orders in the shift log, in flight or unresolved, made over the other WeChat Pay API than
/// `cfg` configures: a problem naming each and the `api` that settles them (recovery leaves them
/// as they are). Read-only; no log, or one that cannot be read, gives nothing here (the till
/// reports that itself).
pub fn other_api_finding(cfg: &Config) -> Option<Finding> {
    let path = cfg.data_dir.join(crate::store::DB_FILE);
    if !path.exists() {
        return None;
    }
    let conn = crate::store::open_reader(&path).ok()?;
    let configured = cfg.wechatpay.api;
    let open = "state IN ('PENDING', 'USERPAYING', 'UNRESOLVED')";
    let rows: Vec<(String, String)> = match conn.prepare(&format!(
        "SELECT out_trade_no, protocol FROM orders WHERE {open} AND protocol != ?1 ORDER BY id"
    )) {
        Ok(mut stmt) => stmt
            .query_map([configured.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .ok()?
            .collect::<Result<_, _>>()
            .ok()?,
        // A log this version has not opened yet (no `protocol` column): every order is APIv3's.
        Err(_) if configured == Api::V2 => {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT out_trade_no, 'v3' FROM orders WHERE {open} ORDER BY id"
                ))
                .ok()?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .ok()?
                .collect::<Result<_, _>>()
                .ok()?
        }
        Err(_) => return None,
    };
    let refusals: Vec<crate::order::Refusal> = rows
        .into_iter()
        .filter_map(|(no, api)| {
            crate::store::orders::parse_api(&api).map(|made| crate::order::Refusal::OtherApi {
                out_trade_no: no,
                made_over: made.as_str(),
                configured: configured.as_str(),
            })
        })
        .collect();
    let made_over = match refusals.first()? {
        crate::order::Refusal::OtherApi { made_over, .. } => *made_over,
        _ => return None,
    };
    let detail = refusals
        .iter()
        .map(|r| crate::i18n::engine_refusal(cfg.language, r))
        .collect::<Vec<_>>()
        .join("; ");
    Some(problem(
        Item::OtherApiOrders,
        detail,
        format!(
            "set `api = \"{made_over}\"` in [wechatpay] (with its keys), run `scanpay recover`, then switch back"
        ),
    ))
}

/// APIv2's key files: the API key (present, owner-only, 32 characters; never shown), the
/// client certificate (parses, belongs to `merchant_private_key`, its expiry); the client when
/// all of them are usable. No trusted keys: APIv2 answers are checked with the API key.
fn live_v2_keys(cfg: &Config, clock: SharedClock, report: &mut Report) -> Option<Client> {
    let w = &cfg.wechatpay;
    let mut usable = true;
    match w.v2_key.as_deref() {
        None => {
            usable = false;
            report.push(problem(
                Item::KeyFiles,
                "wechatpay.v2_key is not set (api = \"v2\")",
                "put the 32-character API key (【API安全】→【设置APIv2密钥】) in a file only the till's user can read and set wechatpay.v2_key to it",
            ));
        }
        Some(path) => match config::check_v2_key_file(path) {
            Ok(()) => report.push(ok(
                Item::KeyFiles,
                format!(
                    "APIv2 key {} (owner-only, 32 characters), signing with {}",
                    path.display(),
                    w.v2_sign_type.as_str()
                ),
            )),
            Err(e) => {
                usable = false;
                report.push(problem(
                    Item::KeyFiles,
                    e,
                    format!(
                        "the file must hold only the 32-character APIv2 key and be readable by the till's user only (`chmod 600 {}`)",
                        path.display()
                    ),
                ));
            }
        },
    }
    report.push(client_certificate_finding(cfg, clock.now_unix()));
    if !usable {
        return None;
    }
    match connect::live_settings(cfg)
        .map_err(|e| e.to_string())
        .and_then(|s| Client::v2(s, clock).map_err(|e| e.to_string()))
    {
        Ok(c) => Some(c),
        Err(e) => {
            report.push(problem(
                Item::KeyFiles,
                e,
                "check wechatpay.v2_key, wechatpay.client_certificate and wechatpay.merchant_private_key",
            ));
            None
        }
    }
}

/// The client certificate APIv2 presents on `/secapi/*` (reverse, refund): present, an X.509
/// certificate, of the key in `merchant_private_key`, and within its validity. A problem here
/// does not stop sales, but a payment that must be reversed, and every refund, would fail.
pub fn client_certificate_finding(cfg: &Config, now_unix: i64) -> Finding {
    let w = &cfg.wechatpay;
    let item = Item::ClientCertificate;
    let (Some(cert_path), Some(key_path)) = (&w.client_certificate, &w.merchant_private_key) else {
        return problem(
            item,
            "wechatpay.client_certificate or wechatpay.merchant_private_key is not set: reverse and refund (/secapi/*) cannot be sent",
            "set wechatpay.client_certificate to apiclient_cert.pem and wechatpay.merchant_private_key to apiclient_key.pem (for a .p12: `openssl pkcs12 -in apiclient_cert.p12 -out apiclient_cert.pem -clcerts -nokeys` and `… -nocerts -nodes -out apiclient_key.pem`)",
        );
    };
    let checked = (|| -> Result<(i64, i64), String> {
        let pem = std::fs::read(cert_path).map_err(|e| format!("{}: {e}", cert_path.display()))?;
        let (_, public) = crate::wechat::keys::certificate_from_pem(&pem, cert_path)
            .map_err(|e| e.to_string())?;
        let validity = crate::wechat::keys::certificate_validity(&pem, cert_path)
            .map_err(|e| e.to_string())?;
        config::check_private_key_file(key_path)?;
        let key = PrivateKey::load(key_path).map_err(|e| e.to_string())?;
        let probe = b"scanpay check: does the certificate belong to this key";
        let sig = key.sign_base64(probe).map_err(|e| e.to_string())?;
        if !public.verify_base64(probe, &sig) {
            return Err(format!(
                "{} is not the certificate of the key in {}",
                cert_path.display(),
                key_path.display()
            ));
        }
        Ok(validity)
    })();
    let date = |s: i64| crate::clock::beijing::datetime(s.saturating_mul(1000));
    match checked {
        Err(e) => problem(
            item,
            e,
            "use apiclient_cert.pem and apiclient_key.pem of the same download from 【API安全】→【API证书】",
        ),
        Ok((_, not_after)) if not_after <= now_unix => problem(
            item,
            format!("the client certificate expired on {}", date(not_after)),
            "apply for a new merchant API certificate (【API安全】→【API证书】) and configure it",
        ),
        Ok((not_before, _)) if not_before > now_unix => problem(
            item,
            format!(
                "the client certificate is valid only from {}",
                date(not_before)
            ),
            "check the till's clock, or use the current certificate",
        ),
        Ok((_, not_after)) if not_after - now_unix < 30 * 86_400 => warning(
            item,
            format!("the client certificate expires on {}", date(not_after)),
            "renew the merchant API certificate (【API安全】→【API证书】) before then",
        ),
        Ok((_, not_after)) => ok(
            item,
            format!(
                "client certificate {} belongs to the merchant key, valid until {}",
                cert_path.display(),
                date(not_after)
            ),
        ),
    }
}

/// Key files, modes and the trust store; the client when all of them are usable.
fn live_keys(cfg: &Config, clock: SharedClock, report: &mut Report) -> Option<Client> {
    let w = &cfg.wechatpay;
    let key = match w.merchant_private_key.as_deref() {
        None => Err(problem(
            Item::KeyFiles,
            "wechatpay.merchant_private_key is not set",
            "set it to the path of apiclient_key.pem (the merchant API private key)",
        )),
        Some(path) => config::check_private_key_file(path)
            .map_err(|e| {
                problem(
                    Item::KeyFiles,
                    e,
                    format!(
                        "make {} a file only the till's user can read (`chmod 600`)",
                        path.display()
                    ),
                )
            })
            .and_then(|()| {
                PrivateKey::load(path).map_err(|e| {
                    problem(
                        Item::KeyFiles,
                        e.to_string(),
                        "use apiclient_key.pem as downloaded from the merchant platform (PKCS#8 PEM)",
                    )
                })
            })
            .map(|k| (k, path)),
    };
    let serial = w.merchant_serial_no.as_deref().ok_or_else(|| {
        problem(
            Item::KeyFiles,
            "wechatpay.merchant_serial_no is not set",
            "copy the merchant API certificate serial from 【API安全】→【API证书】 in the merchant platform",
        )
    });
    let trust = connect::load_trust(cfg)
        .map_err(|e| {
            problem(
                Item::TrustedKeys,
                e.to_string(),
                "download the WeChat Pay public key (pub_key.pem) again from 【API安全】 and set wechatpay.wechatpay_public_key",
            )
        })
        .and_then(|t| {
            if t.is_empty() {
                Err(problem(
                    Item::TrustedKeys,
                    "no WeChat Pay public key or platform certificate configured: answers cannot be verified",
                    "set wechatpay.wechatpay_public_key_id and wechatpay.wechatpay_public_key (or wechatpay.platform_certificates)",
                ))
            } else {
                Ok(t)
            }
        });
    let mut usable = true;
    match (&key, &serial) {
        (Ok((_, path)), Ok(serial)) => report.push(ok(
            Item::KeyFiles,
            format!(
                "merchant key {} (owner-only), merchant serial {serial}",
                path.display()
            ),
        )),
        _ => {
            usable = false;
            for e in [key.as_ref().err(), serial.as_ref().err()]
                .into_iter()
                .flatten()
            {
                report.push(e.clone());
            }
        }
    }
    match &trust {
        Ok(t) => report.push(trust_status(Some(t), None, clock.now_ms() / 1000)),
        Err(e) => {
            usable = false;
            report.push(e.clone());
        }
    }
    if !usable {
        return None;
    }
    let (Ok((key, _)), Ok(serial), Ok(trust)) = (key, serial, trust) else {
        return None;
    };
    match Client::new(
        connect::client_settings(cfg),
        Signer::new(&cfg.merchant.mchid, serial, key),
        trust,
        clock,
    ) {
        Ok(c) => Some(c),
        Err(e) => {
            report.push(problem(
                Item::KeyFiles,
                e.to_string(),
                "report this: the HTTP client could not start",
            ));
            None
        }
    }
}

/// What the trust store holds and how each key stands now: an expired certificate is a
/// problem unless a successor is held, one expiring within ten days a warning without one.
fn trust_status(trust: Option<&TrustStore>, client: Option<&Client>, now_unix: i64) -> Finding {
    use crate::wechat::keys::KeyState;
    let Some(t) = trust else {
        return ok(
            Item::TrustedKeys,
            format!(
                "the built-in simulator's public key{}",
                client.map_or(String::new(), |_| " (loaded)".into())
            ),
        );
    };
    let keys = t.status(now_unix);
    let date = |secs: Option<i64>| {
        secs.map_or_else(
            || "-".to_string(),
            |s| crate::clock::beijing::datetime(s.saturating_mul(1000)),
        )
    };
    let summary = keys
        .iter()
        .map(|k| match k.expire {
            Some(_) => format!("{} (until {})", k.serial, date(k.expire)),
            None => k.serial.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let lone = |state: KeyState| {
        keys.iter()
            .filter(|k| k.state == state && !k.has_successor)
            .map(|k| format!("{} ({})", k.serial, date(k.expire)))
            .collect::<Vec<_>>()
    };
    let (expired, soon) = (lone(KeyState::Expired), lone(KeyState::ExpiresSoon));
    let usable = keys
        .iter()
        .any(|k| matches!(k.state, KeyState::Valid | KeyState::ExpiresSoon));
    if !usable {
        return problem(
            Item::TrustedKeys,
            if keys.is_empty() {
                "no WeChat Pay public key or platform certificate is held yet".to_string()
            } else {
                format!("no usable key: {summary}")
            },
            "set wechatpay.wechatpay_public_key, or wechatpay.apiv3_key so the platform certificates are downloaded at start (run the till once with the network)",
        );
    }
    if !expired.is_empty() || !soon.is_empty() {
        let mut what = Vec::new();
        if !expired.is_empty() {
            what.push(format!(
                "expired without a successor: {}",
                expired.join(", ")
            ));
        }
        if !soon.is_empty() {
            what.push(format!(
                "expiring soon without a successor: {}",
                soon.join(", ")
            ));
        }
        return warning(
            Item::TrustedKeys,
            what.join("; "),
            "start the till with the network so it downloads the new platform certificate (wechatpay.apiv3_key), or switch to the WeChat Pay public key",
        );
    }
    ok(
        Item::TrustedKeys,
        format!(
            "{} key(s) trusted for answers: {summary}; requests ask WeChat to sign with {}",
            keys.len(),
            t.preferred_serial().unwrap_or("-")
        ),
    )
}

/// Reachability of the main and backup hosts, and the clock against the main host's `Date`.
async fn hosts(cfg: &Config, clock: &SharedClock, report: &mut Report) {
    let w = &cfg.wechatpay;
    let connect = std::time::Duration::from_millis(w.connect_timeout_ms);
    let request = std::time::Duration::from_millis(w.request_timeout_ms);
    let roots: Vec<Vec<u8>> = w
        .tls_root_certificate
        .as_deref()
        .and_then(|p| std::fs::read(p).ok())
        .into_iter()
        .collect();
    let main = probe::reach(&w.base_url, connect, request, &roots).await;
    match &main {
        Ok(a) => report.push(ok(
            Item::MainHost,
            format!(
                "{} answered (HTTP {}) in {} ms",
                w.base_url,
                a.status,
                a.elapsed.as_millis()
            ),
        )),
        Err(e) => report.push(problem(
            Item::MainHost,
            format!("{} cannot be reached: {e}", w.base_url),
            "check the network, DNS, proxy and firewall, and wechatpay.base_url",
        )),
    }
    if let Some(backup) = &w.backup_base_url {
        match probe::reach(backup, connect, request, &roots).await {
            Ok(a) => report.push(ok(
                Item::BackupHost,
                format!(
                    "{backup} answered (HTTP {}) in {} ms",
                    a.status,
                    a.elapsed.as_millis()
                ),
            )),
            Err(e) => report.push(warning(
                Item::BackupHost,
                format!("{backup} cannot be reached: {e}"),
                "queries and reverses cannot fail over; check the network and wechatpay.backup_base_url",
            )),
        }
    }
    let date = main.as_ref().ok().and_then(|a| a.date_unix);
    report.push(match (main.is_ok(), date) {
        (false, _) => skipped(Item::Clock, "the main host gave no answer"),
        (true, None) => warning(
            Item::Clock,
            "the main host sent no readable Date header, so the clock could not be compared",
            "make sure the till's clock is synchronised (NTP)",
        ),
        (true, Some(theirs)) => clock_finding(clock.now_unix() - theirs),
    });
}

/// The finding for a clock `skew` seconds ahead of the service (negative: behind).
pub fn clock_finding(skew: i64) -> Finding {
    let words = if skew >= 0 { "ahead of" } else { "behind" };
    let detail = format!("the till's clock is {} s {words} WeChat Pay's", skew.abs());
    let fix = "set the till's date and time (enable automatic time / NTP), then run `scanpay check` again";
    if skew.abs() >= MAX_CLOCK_SKEW_SECS {
        problem(
            Item::Clock,
            format!("{detail}: WeChat refuses requests five minutes or more off"),
            fix,
        )
    } else if skew.abs() > WARN_CLOCK_SKEW_SECS {
        warning(Item::Clock, detail, fix)
    } else {
        ok(Item::Clock, detail)
    }
}

/// One signed query of an order that cannot exist: a signed 404 ORDER_NOT_EXIST proves both
/// directions.
async fn round_trip(client: &Client) -> Finding {
    let no = format!("CHECK{}", &new_nonce()[..24]);
    match client.query_by_out_trade_no(&no).await {
        Err(ApiError::Service {
            code: ErrorCode::OrderNotExist,
            verified: true,
            ..
        }) => ok(
            Item::RoundTrip,
            match client.settings().protocol {
                crate::wechat::client::Protocol::V3 => {
                    "a signed query was accepted and its signed 404 ORDER_NOT_EXIST verified: both directions work"
                }
                crate::wechat::client::Protocol::V2(_) => {
                    "a signed APIv2 orderquery was accepted and its signed ORDERNOTEXIST verified: the API key and sign type work"
                }
            },
        ),
        Ok(_) => warning(
            Item::RoundTrip,
            format!("order {no} unexpectedly exists, but the signed answer verified"),
            "nothing to fix for sales; report this",
        ),
        Err(e) => round_trip_problem(&e),
    }
}

/// What a failed round trip means and how to fix it.
pub fn round_trip_problem(e: &ApiError) -> Finding {
    let item = Item::RoundTrip;
    match e {
        ApiError::Rejected { code, message, .. } => {
            let fix = if message.contains("序列号") {
                "wechatpay.merchant_serial_no is not the serial of the merchant API certificate: copy it from 【API安全】→【API证书】"
            } else if message.contains("timestamp") || message.contains("5分钟") {
                "the till's clock is five minutes or more off: set the date and time (NTP)"
            } else {
                "check that wechatpay.merchant_private_key is the private key of the certificate wechatpay.merchant_serial_no names, that mchid is right, and that the till's clock is right"
            };
            problem(
                item,
                format!(
                    "WeChat Pay refused the request's signature (unsigned 401 {}): {message}",
                    code.as_str()
                ),
                fix,
            )
        }
        ApiError::Unverified(VerifyError::Skewed { skew, .. }) => problem(
            item,
            format!("WeChat's answer is {skew} s away from the till's clock"),
            "set the till's date and time (NTP)",
        ),
        ApiError::Unverified(v) => problem(
            item,
            format!("WeChat's answer could not be verified: {v}"),
            "check wechatpay.wechatpay_public_key_id and wechatpay.wechatpay_public_key (or the platform certificates) against 【API安全】 in the merchant platform",
        ),
        ApiError::Transport { .. } => problem(
            item,
            format!("no answer to the signed query: {e}"),
            "check the network and wechatpay.base_url",
        ),
        ApiError::Service { code, .. } => problem(
            item,
            format!("the signed query was refused: {e}"),
            match code {
                ErrorCode::MchNotExists | ErrorCode::AppidMchidNotMatch => {
                    "check merchant.mchid and merchant.appid"
                }
                _ => "check the configuration against the merchant platform",
            },
        ),
        other => problem(
            item,
            format!("the signed query failed: {other}"),
            "check the configuration and the network",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_is_reported_by_its_expiry() {
        let pem = std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/wechatpay-java_wechatpay_certificate_44002404.pem"
        ));
        let Ok(t) = TrustStore::load(None, &[pem]) else {
            panic!("the vector certificate loads");
        };
        let k = &t.status(0)[0];
        let (from, until) = (k.effective.unwrap_or(0), k.expire.unwrap_or(0));
        assert!(until > from);
        assert_eq!(trust_status(Some(&t), None, from + 1).status, Status::Ok);
        let soon = trust_status(Some(&t), None, until - 3600);
        assert_eq!(soon.status, Status::Warning, "{}", soon.detail);
        assert!(soon.detail.contains("expiring soon"), "{}", soon.detail);
        let gone = trust_status(Some(&t), None, until + 1);
        assert_eq!(gone.status, Status::Problem, "{}", gone.detail);
    }

    #[test]
    fn clock_limits() {
        assert_eq!(clock_finding(0).status, Status::Ok);
        assert_eq!(clock_finding(-60).status, Status::Ok);
        assert_eq!(clock_finding(61).status, Status::Warning);
        assert_eq!(clock_finding(299).status, Status::Warning);
        assert_eq!(clock_finding(-300).status, Status::Problem);
        assert!(clock_finding(-400).detail.contains("400 s behind"));
    }

    #[test]
    fn a_rejected_round_trip_names_the_fix_from_the_message() {
        let rejected = |message: &str| ApiError::Rejected {
            status: 401,
            code: ErrorCode::SignError,
            message: message.into(),
            detail: None,
            request_id: None,
        };
        let f = round_trip_problem(&rejected(
            "商户证书序列号有误。请使用签名私钥匹配的证书序列号",
        ));
        assert_eq!(f.status, Status::Problem);
        assert!(f.fix.unwrap().contains("merchant_serial_no"));
        let f = round_trip_problem(&rejected(
            "Http头Authorization中的timestamp与发起请求的时间不得超过5分钟",
        ));
        assert!(f.fix.unwrap().contains("clock"));
        let f = round_trip_problem(&rejected("签名错误，请检查后再试"));
        assert!(f.fix.unwrap().contains("merchant_private_key"));
    }

    #[test]
    fn report_ok_only_without_problems() {
        let mut r = Report {
            findings: vec![ok(Item::Configuration, "x"), warning(Item::Clock, "y", "z")],
        };
        assert!(r.ok());
        r.push(problem(Item::RoundTrip, "a", "b"));
        assert!(!r.ok());
        assert_eq!(r.problems().count(), 1);
        assert_eq!(r.to_json()["ok"], false);
        assert_eq!(r.to_json()["checks"][2]["item"], "round_trip");
        assert!(!Report::unloadable("bad").ok());
    }
}
