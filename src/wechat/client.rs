//! The APIv3 client: typed calls over reqwest + rustls, every request signed, every signed
//! answer verified before it is believed.
//!
//! Rules this file keeps (protocol reference §1, §2, §8):
//! - the exact body bytes that are signed are the bytes sent;
//! - `User-Agent` and `Accept` on every request, `Wechatpay-Serial` naming the key we trust;
//! - no automatic retry of a money-moving POST: the caller (the payment engine) decides;
//! - idempotent calls (query, reverse, refund query, bill) may fail over to the backup host;
//! - the pay POST goes to the backup host only when the main host's connection could not
//!   even be established (nothing of the request was written): [`TransportKind::Connect`];
//! - which of those a request is, is its `Route`, named once per call below;
//! - an answer that fails verification is never a result: it is [`ApiError::Unverified`];
//! - answer bodies are capped; a larger answer is [`ApiError::TooLarge`].

use std::sync::{Arc, RwLock};
use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;

use super::bill::BillType;
use super::certs::{Apiv3Key, CertificateList, PlatformCertificate};
use super::keys::TrustStore;
use super::model::*;
use super::partner::{OrderRef, Party, PayRequest};
use super::sign::{AnswerSignature, Signer, VerifyError, headers, new_nonce};
use crate::clock::SharedClock;

/// The `User-Agent` scanpay sends (the service refuses requests without one).
pub const USER_AGENT: &str = concat!(
    "scanpay/",
    env!("CARGO_PKG_VERSION"),
    " (WeChatPay APIv3 POS)"
);
/// Default cap on an API answer body.
pub const DEFAULT_MAX_BODY: usize = 1 << 20;
/// Cap on a downloaded bill.
pub const MAX_BILL_BYTES: usize = 256 << 20;

/// What the client needs besides keys. The application maps its own configuration onto this
/// (`crate::connect::client_settings`); this module never reads that configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Main host.
    pub base_url: Url,
    /// Backup host for idempotent calls, and for the pay call when the main host's connection
    /// could not be established (nothing sent).
    pub backup_base_url: Option<Url>,
    /// Who the till charges for: a directly connected merchant, or a service provider's
    /// sub-merchant. Decides every call's path, query parameters and body fields, and what
    /// an answer must name ([`Party`]).
    pub party: Party,
    /// TCP+TLS connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout.
    pub request_timeout: Duration,
    /// Cap on an answer body.
    pub max_body_bytes: usize,
    /// Which API generation the calls use: APIv3 (JSON, RSA) or APIv2 (XML, the API key).
    pub protocol: Protocol,
    /// Extra trusted root CAs (PEM) for the server's certificate, added to the built-in ones:
    /// for the simulator's HTTPS face or a private gateway. Empty for WeChat Pay itself.
    pub extra_roots: Vec<Vec<u8>>,
}

/// The API generation a client speaks. The typed calls ([`Client::pay`], [`Client::query_by_out_trade_no`],
/// [`Client::reverse`], [`Client::refund`], [`Client::query_refund`], [`Client::bill`]) are
/// the same for both: only the wire differs (`docs/protocol.md`, "APIv2 wiring").
#[derive(Clone, Debug, Default)]
pub enum Protocol {
    /// APIv3: JSON, signed with the merchant's RSA key, answers verified with WeChat Pay's.
    #[default]
    V3,
    /// APIv2: XML signed with the API key (`crate::wechat::v2`).
    V2(V2Settings),
}

impl Protocol {
    /// `v3` or `v2`, as the configuration and the shift log spell it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Protocol::V3 => "v3",
            Protocol::V2(_) => "v2",
        }
    }
}

/// What an APIv2 client needs besides the hosts: the key, the sign type and, for
/// `/secapi/*` (reverse, refund), the client certificate.
#[derive(Clone, Debug)]
pub struct V2Settings {
    /// The merchant's 32-character API key: signs requests and verifies answers.
    pub key: super::v2::sign::ApiKey,
    /// MD5 or HMAC-SHA256 (requests and answers alike).
    pub sign_type: super::v2::sign::SignType,
    /// The merchant API certificate and its key, presented on `/secapi/*` only. Without it
    /// reverse and refund cannot be sent (the service refuses them without a certificate).
    pub client_identity: Option<ClientIdentity>,
}

/// A TLS client identity: the certificate chain and its private key, both PEM. `Debug` never
/// shows the key.
#[derive(Clone)]
pub struct ClientIdentity {
    /// `apiclient_cert.pem` (one or more `CERTIFICATE` blocks).
    pub certificate_pem: Vec<u8>,
    /// `apiclient_key.pem` (PKCS#8 or PKCS#1).
    pub key_pem: Vec<u8>,
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientIdentity")
            .field(
                "certificate_pem",
                &format_args!("{} bytes", self.certificate_pem.len()),
            )
            .field("key_pem", &format_args!("…"))
            .finish()
    }
}

/// How a request failed to get an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportKind {
    /// No answer within the timeout (the request may have been sent).
    Timeout,
    /// The connection (DNS, TCP or TLS handshake) could not be established: **nothing of the
    /// request was written**. This is the only kind that proves a request never left.
    Connect,
    /// The connection was established, then broke while the request or the answer was in
    /// flight: the request may have arrived.
    Interrupted,
    /// Anything else below HTTP, after connecting (the request may have arrived).
    Other,
}

/// Why a call did not produce a trusted result.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No (complete) answer. For a POST the outcome is unknown.
    #[error("no answer from WeChat Pay ({kind:?}): {detail}")]
    Transport {
        /// What went wrong.
        kind: TransportKind,
        /// The transport's message.
        detail: String,
    },
    /// The answer's signature was missing, forged, a probe, for an unknown key or stale.
    #[error("answer not trusted: {0}")]
    Unverified(#[from] VerifyError),
    /// The service answered with an error code.
    #[error("WeChat Pay answered HTTP {status} {}: {message}", code.spelled(*v2_spelling))]
    Service {
        /// HTTP status.
        status: u16,
        /// The code (both its APIv2 and APIv3 spellings parse to one variant).
        code: ErrorCode,
        /// Whether the service used the code's APIv2 spelling (`NOTENOUGH` for `NOT_ENOUGH`):
        /// `code.spelled(v2_spelling)` is what came over the wire, for the log.
        v2_spelling: bool,
        /// WeChat's message text.
        message: String,
        /// Field-level detail.
        detail: Option<serde_json::Value>,
        /// Whether the answer carried a valid signature. An unverified error is a hint only:
        /// it must never decide that money was or was not taken.
        verified: bool,
        /// `Request-ID`, for support cases.
        request_id: Option<String>,
    },
    /// An **unsigned** 401: the service refused the request's own signature (wrong merchant
    /// key or serial, the till's clock more than five minutes off, …) and did not execute it.
    /// WeChat signs an answer only to a request whose signature it verified, so such an
    /// answer cannot carry a signature; see `docs/protocol.md` "Unsigned 401". It proves that
    /// *this* request was not processed, nothing more (a 401 to a query says nothing about
    /// the order queried).
    #[error("WeChat Pay refused the request's signature (HTTP {status} {}, unsigned): {message}", code.as_str())]
    Rejected {
        /// HTTP status (401).
        status: u16,
        /// The code (normally `SIGN_ERROR`).
        code: ErrorCode,
        /// WeChat's message text (names the cause: serial, timestamp, signature …).
        message: String,
        /// Field-level detail (`sign_information` for a bad signature), when given.
        detail: Option<serde_json::Value>,
        /// `Request-ID`, for support cases.
        request_id: Option<String>,
    },
    /// A trusted (or, for errors, unsigned) answer we could not read.
    #[error("unreadable answer (HTTP {status}): {detail}")]
    Malformed {
        /// HTTP status.
        status: u16,
        /// What could not be read.
        detail: String,
    },
    /// The answer was larger than the cap.
    #[error("answer larger than {limit} bytes refused")]
    TooLarge {
        /// The cap.
        limit: usize,
    },
    /// A verified answer about another merchant's order than the request named: its `field`
    /// (`mchid`, `sp_mchid`, `sub_mchid`, …) is not ours, or is missing where the page marks
    /// it required. Never a result; see `docs/protocol.md` "Service-provider (partner) mode".
    #[error("answer names another merchant: {field} is {got:?}, the request named {expected:?}")]
    WrongParty {
        /// The answer field that does not match.
        field: &'static str,
        /// What the request named (`None`: the field should not be there).
        expected: Option<String>,
        /// What the answer carried (`None`: missing).
        got: Option<String>,
    },
    /// The request could not be signed or built.
    #[error("could not build the request: {0}")]
    Request(String),
    /// A downloaded bill did not match its announced hash.
    #[error("bill hash mismatch: announced {expected}, downloaded file has {actual}")]
    BillHash {
        /// From the trade-bill answer.
        expected: String,
        /// Of the bytes received.
        actual: String,
    },
}

impl ApiError {
    /// What the caller of `call` should do next.
    pub fn advice(&self, call: Call) -> Advice {
        let unknown = match call {
            Call::Pay => Advice::Query,
            Call::Refund => Advice::Query,
            _ => Advice::Retry,
        };
        match self {
            ApiError::Transport { .. }
            | ApiError::Unverified(_)
            | ApiError::Malformed { .. }
            | ApiError::TooLarge { .. }
            | ApiError::WrongParty { .. } => unknown,
            ApiError::Service {
                code,
                verified,
                status,
                ..
            } => {
                let advice = code.advice(call);
                // An unsigned "definite failure" is not trusted for money-moving calls, and a
                // 5xx never proves that nothing happened.
                let untrusted = !verified && matches!(call, Call::Pay | Call::Refund);
                if advice == Advice::Failed && (untrusted || *status >= 500) {
                    unknown
                } else {
                    advice
                }
            }
            // Refused before processing: this request was definitely not done. For a pay or
            // refund call that is the only copy of the request, so the money did not move; for
            // the other calls the caller reads "Failed" as "this call told us nothing".
            ApiError::Rejected { .. } => Advice::Failed,
            // A corrupted download may succeed the next time; a bad request will not.
            ApiError::BillHash { .. } => Advice::Retry,
            ApiError::Request(_) => Advice::Failed,
        }
    }

    /// The error code as the service spelled it, when it gave one.
    pub fn wire_code(&self) -> Option<&str> {
        match self {
            ApiError::Service {
                code, v2_spelling, ..
            } => Some(code.spelled(*v2_spelling)),
            _ => None,
        }
    }

    /// The error code, when the service gave one.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            ApiError::Service { code, .. } | ApiError::Rejected { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// What the codepay call answered.
#[derive(Clone, Debug, PartialEq)]
pub enum PayAnswer {
    /// 200 with `trade_state` SUCCESS, verified: paid.
    Paid(Transaction),
    /// 202: the customer is confirming on the phone. Query, do not resend.
    UserPaying,
    /// 200 with any other `trade_state`: go to the query loop.
    NotFinal(Transaction),
}

/// What [`Client::download_certificates`] brought: the list as sent (still encrypted, for a
/// cache whose integrity the APIv3 key protects) and its certificates, decrypted and checked.
#[derive(Clone, Debug)]
pub struct DownloadedCertificates {
    /// The answer body, parsed.
    pub list: CertificateList,
    /// The certificates.
    pub certificates: Vec<PlatformCertificate>,
}

/// Why [`Client::new`] could not make a client. (Key files and settings are the caller's
/// business: see `crate::connect`.)
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The HTTP stack could not start.
    #[error("HTTP client: {0}")]
    Http(String),
}

/// A signed, verifying client (APIv3, or APIv2 as [`Settings::protocol`] says). Cheap to clone.
#[derive(Clone)]
pub struct Client {
    pub(in crate::wechat) http: reqwest::Client,
    /// APIv2 with a client identity: the client for `/secapi/*`, the only one that presents it.
    pub(in crate::wechat) secapi: Option<reqwest::Client>,
    pub(in crate::wechat) settings: Arc<Settings>,
    /// The APIv3 signer; `None` for an APIv2 client made by [`Client::v2`].
    signer: Option<Arc<Signer>>,
    trust: Arc<RwLock<TrustStore>>,
    unknown_serial: Option<tokio::sync::mpsc::UnboundedSender<String>>,
    clock: SharedClock,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.settings.base_url.as_str())
            .finish()
    }
}

pub(in crate::wechat) struct RawAnswer {
    pub(in crate::wechat) status: StatusCode,
    pub(in crate::wechat) headers: reqwest::header::HeaderMap,
    pub(in crate::wechat) body: Vec<u8>,
}

/// A reqwest client with the settings' timeouts and extra roots, and `identity` when given.
fn http_client(
    settings: &Settings,
    identity: Option<&ClientIdentity>,
) -> Result<reqwest::Client, StartupError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.request_timeout)
        .user_agent(USER_AGENT)
        .redirect(reqwest::redirect::Policy::none());
    let mut roots = Vec::new();
    for pem in &settings.extra_roots {
        roots.extend(
            reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| StartupError::Http(format!("extra trusted root: {e}")))?,
        );
    }
    if !roots.is_empty() {
        builder = builder.tls_certs_merge(roots);
    }
    if let Some(id) = identity {
        let mut pem = id.certificate_pem.clone();
        pem.push(b'\n');
        pem.extend_from_slice(&id.key_pem);
        let identity = reqwest::Identity::from_pem(&pem)
            .map_err(|e| StartupError::Http(format!("client certificate: {e}")))?;
        builder = builder.identity(identity);
    }
    builder
        .build()
        .map_err(|e| StartupError::Http(e.to_string()))
}

impl Client {
    /// A client with explicit keys.
    pub fn new(
        settings: Settings,
        signer: Signer,
        trust: TrustStore,
        clock: SharedClock,
    ) -> Result<Client, StartupError> {
        Client::build(settings, Some(signer), trust, clock)
    }

    /// An APIv2 client: no APIv3 signer or trusted keys (the API key in
    /// [`Settings::protocol`] signs and verifies). With any other protocol every call is
    /// refused as [`ApiError::Request`].
    pub fn v2(settings: Settings, clock: SharedClock) -> Result<Client, StartupError> {
        Client::build(settings, None, TrustStore::new(), clock)
    }

    fn build(
        settings: Settings,
        signer: Option<Signer>,
        trust: TrustStore,
        clock: SharedClock,
    ) -> Result<Client, StartupError> {
        let http = http_client(&settings, None)?;
        let secapi = match &settings.protocol {
            Protocol::V2(V2Settings {
                client_identity: Some(id),
                ..
            }) => Some(http_client(&settings, Some(id))?),
            _ => None,
        };
        Ok(Client {
            http,
            secapi,
            settings: Arc::new(settings),
            signer: signer.map(Arc::new),
            trust: Arc::new(RwLock::new(trust)),
            unknown_serial: None,
            clock,
        })
    }

    /// Tells `tx` the serial of every answer signed with a key the trust store does not hold
    /// (the hook for "download the platform certificates again": `crate::connect` owns the
    /// schedule). Clones made afterwards share the hook.
    pub fn with_unknown_serial_hook(
        mut self,
        tx: tokio::sync::mpsc::UnboundedSender<String>,
    ) -> Client {
        self.unknown_serial = Some(tx);
        self
    }

    /// A copy of the keys trusted now.
    pub fn trust(&self) -> TrustStore {
        self.trust
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Changes the trusted keys in place (shared by every clone of this client): how
    /// downloaded platform certificates join without a restart.
    pub fn update_trust<R>(&self, f: impl FnOnce(&mut TrustStore) -> R) -> R {
        let mut guard = self
            .trust
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }

    /// `GET /v3/certificates` (main host, then backup): the platform certificates, decrypted
    /// with the APIv3 key. The answer is verified with the keys already trusted **or** the
    /// certificates it carries, as the official SDKs do (wechatpay-go `core/downloader`,
    /// wechatpay-java `AutoCertificateService`): a forged list fails the signature check
    /// because only WeChat can both encrypt under the APIv3 key and sign with the certificate
    /// inside. The caller adds them ([`Client::update_trust`]).
    pub async fn download_certificates(
        &self,
        key: &Apiv3Key,
    ) -> Result<DownloadedCertificates, ApiError> {
        let raw = self
            .send(Method::GET, "/v3/certificates", None, Route::Failover)
            .await?;
        if !raw.status.is_success() {
            return Err(self.decode::<serde_json::Value>(raw).err().unwrap_or(
                ApiError::Malformed {
                    status: 0,
                    detail: "certificate download failed".into(),
                },
            ));
        }
        let malformed = |detail: String| ApiError::Malformed {
            status: raw.status.as_u16(),
            detail,
        };
        let list: CertificateList =
            serde_json::from_slice(&raw.body).map_err(|e| malformed(e.to_string()))?;
        let certs = list.decrypt(key).map_err(|e| malformed(e.to_string()))?;
        let mut candidate = self.trust();
        for c in &certs {
            candidate
                .add_downloaded(c)
                .map_err(|e| malformed(e.to_string()))?;
        }
        self.verify_with(&raw, &candidate)?;
        Ok(DownloadedCertificates {
            list,
            certificates: certs,
        })
    }

    /// The settings in use.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// `POST /v3/pay/transactions/codepay`. Never retried on the same host; sent to the backup
    /// host (same body, same `out_trade_no`) only when no connection to the main host could be
    /// established ([`Route::MainThenBackupIfUnsent`]). An error of kind
    /// [`TransportKind::Connect`] means neither host accepted a connection: nothing was sent.
    /// On any other error other than a verified definite failure the outcome is unknown and
    /// the order must be queried.
    ///
    /// A directly connected merchant's request; [`Client::pay`] takes either kind.
    pub async fn codepay(&self, req: &CodepayRequest) -> Result<PayAnswer, ApiError> {
        self.pay(&PayRequest::Direct(req.clone())).await
    }

    /// The pay call for either party (`POST /v3/pay/transactions/codepay` or
    /// `POST /v3/pay/partner/transactions/codepay`), with [`Client::codepay`]'s rules. A
    /// request addressed to another party than this client's [`Settings::party`] is refused
    /// before anything is sent; an answer naming another merchant is
    /// [`ApiError::WrongParty`].
    pub async fn pay(&self, req: &PayRequest) -> Result<PayAnswer, ApiError> {
        if let Protocol::V2(v2) = &self.settings.protocol {
            return self.v2_pay(v2, req).await;
        }
        let (path, body) = req.wire(&self.settings.party)?;
        let raw = self
            .send(
                Method::POST,
                path,
                Some(body),
                Route::MainThenBackupIfUnsent,
            )
            .await?;
        if raw.status == StatusCode::ACCEPTED {
            self.verify(&raw)?;
            return Ok(PayAnswer::UserPaying);
        }
        let t: Transaction = self.decode(raw)?;
        self.settings.party.check_transaction(&t)?;
        Ok(if t.trade_state == TradeState::Success {
            PayAnswer::Paid(t)
        } else {
            PayAnswer::NotFinal(t)
        })
    }

    /// `GET /v3/pay/transactions/out-trade-no/{no}?mchid=…` (service provider:
    /// `GET /v3/pay/partner/transactions/out-trade-no/{no}?sp_mchid=…&sub_mchid=…`).
    pub async fn query_by_out_trade_no(&self, out_trade_no: &str) -> Result<Transaction, ApiError> {
        self.query(OrderRef::OutTradeNo(out_trade_no)).await
    }

    /// `GET /v3/pay/transactions/id/{transaction_id}?mchid=…` (service provider:
    /// `GET /v3/pay/partner/transactions/id/{transaction_id}?sp_mchid=…&sub_mchid=…`).
    pub async fn query_by_transaction_id(
        &self,
        transaction_id: &str,
    ) -> Result<Transaction, ApiError> {
        self.query(OrderRef::TransactionId(transaction_id)).await
    }

    async fn query(&self, order: OrderRef<'_>) -> Result<Transaction, ApiError> {
        if let Protocol::V2(v2) = &self.settings.protocol {
            return self.v2_query(v2, order).await;
        }
        let path = self.settings.party.query_path(order)?;
        let raw = self.send(Method::GET, &path, None, Route::Failover).await?;
        let t: Transaction = self.decode(raw)?;
        self.settings.party.check_transaction(&t)?;
        Ok(t)
    }

    /// `POST /v3/pay/transactions/out-trade-no/{no}/reverse`. Idempotent; may use the backup host.
    /// Service provider: `POST /v3/pay/partner/transactions/out-trade-no/{no}/reverse`.
    pub async fn reverse(&self, out_trade_no: &str) -> Result<ReverseAnswer, ApiError> {
        if let Protocol::V2(v2) = &self.settings.protocol {
            return self.v2_reverse(v2, out_trade_no).await;
        }
        let path = self.settings.party.reverse_path(out_trade_no)?;
        let body = self.settings.party.reverse_body()?;
        let raw = self
            .send(Method::POST, &path, Some(body), Route::Failover)
            .await?;
        if raw.status == StatusCode::NO_CONTENT || (raw.status.is_success() && raw.body.is_empty())
        {
            self.verify(&raw)?;
            return Ok(ReverseAnswer {
                appid: None,
                mchid: None,
                sp_appid: None,
                sp_mchid: None,
                sub_appid: None,
                sub_mchid: None,
                out_trade_no: Some(out_trade_no.to_string()),
            });
        }
        let a: ReverseAnswer = self.decode(raw)?;
        self.settings.party.check_reverse(&a)?;
        Ok(a)
    }

    /// `POST /v3/refund/domestic/refunds`. Retrying is the caller's choice, always with the
    /// same `out_refund_no`. A service provider's body carries `sub_mchid` first.
    pub async fn refund(&self, req: &RefundRequest) -> Result<Refund, ApiError> {
        if let Protocol::V2(v2) = &self.settings.protocol {
            return self.v2_refund(v2, req).await;
        }
        let body = self.settings.party.refund_body(req)?;
        let raw = self
            .send(
                Method::POST,
                "/v3/refund/domestic/refunds",
                Some(body),
                Route::MainOnly,
            )
            .await?;
        self.decode(raw)
    }

    /// `GET /v3/refund/domestic/refunds/{out_refund_no}` (service provider: `?sub_mchid=…`).
    pub async fn query_refund(&self, out_refund_no: &str) -> Result<Refund, ApiError> {
        if let Protocol::V2(v2) = &self.settings.protocol {
            return self.v2_query_refund(v2, out_refund_no).await;
        }
        let path = self.settings.party.refund_query_path(out_refund_no)?;
        let raw = self.send(Method::GET, &path, None, Route::Failover).await?;
        self.decode(raw)
    }

    /// The day's bill text (`bill_date` is `YYYY-MM-DD`, Beijing date), either API: APIv3
    /// asks for it ([`Client::trade_bill`]) and downloads it ([`Client::download_bill`],
    /// hash checked); APIv2's `POST /pay/downloadbill` answers the text itself. A day without
    /// trades is [`ErrorCode::NoStatementExist`] in both.
    pub async fn bill(&self, bill_date: &str, bill_type: BillType) -> Result<Vec<u8>, ApiError> {
        if let Protocol::V2(v2) = &self.settings.protocol {
            return self.v2_bill(v2, bill_date, bill_type).await;
        }
        let answer = self.trade_bill(bill_date, bill_type).await?;
        self.download_bill(&answer).await
    }

    /// `GET /v3/bill/tradebill?bill_date=YYYY-MM-DD&bill_type=…` (plain text, not GZIP); a
    /// service provider adds `sub_mchid=…` for its sub-merchant's bill only.
    pub async fn trade_bill(
        &self,
        bill_date: &str,
        bill_type: BillType,
    ) -> Result<TradeBillAnswer, ApiError> {
        let ok = bill_date.len() == 10
            && bill_date.bytes().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        if !ok {
            return Err(ApiError::Request(format!(
                "bill date {bill_date:?} is not YYYY-MM-DD"
            )));
        }
        let path = self.settings.party.trade_bill_path(bill_date, bill_type)?;
        let raw = self.send(Method::GET, &path, None, Route::Failover).await?;
        self.decode(raw)
    }

    /// Downloads the bill a [`TradeBillAnswer`] points at and checks its SHA-1 over the exact
    /// bytes received. The download is not signed by WeChat; only the hash vouches for it. The
    /// URL must be on the main or backup host of the [`Settings`] (a signed request goes
    /// nowhere else).
    pub async fn download_bill(&self, answer: &TradeBillAnswer) -> Result<Vec<u8>, ApiError> {
        if !answer.hash_type.eq_ignore_ascii_case("SHA1") {
            return Err(ApiError::Malformed {
                status: 200,
                detail: format!("unknown hash_type {:?}", answer.hash_type),
            });
        }
        let url = Url::parse(&answer.download_url).map_err(|e| ApiError::Malformed {
            status: 200,
            detail: format!("download_url: {e}"),
        })?;
        let same_origin = |base: &Url| {
            base.scheme() == url.scheme()
                && base.host() == url.host()
                && base.port_or_known_default() == url.port_or_known_default()
        };
        let origin = if same_origin(&self.settings.base_url) {
            self.settings.base_url.clone()
        } else if let Some(b) = self
            .settings
            .backup_base_url
            .as_ref()
            .filter(|b| same_origin(b))
        {
            b.clone()
        } else {
            return Err(ApiError::Malformed {
                status: 200,
                detail: format!(
                    "download_url host {:?} is not the configured API host",
                    url.host_str()
                ),
            });
        };
        let mut path = url.path().to_string();
        if let Some(q) = url.query() {
            path.push('?');
            path.push_str(q);
        }
        let raw = self
            .send(
                Method::GET,
                &path,
                None,
                Route::Download {
                    origin,
                    max_bytes: MAX_BILL_BYTES,
                },
            )
            .await?;
        if !raw.status.is_success() {
            return Err(self.decode::<serde_json::Value>(raw).err().unwrap_or(
                ApiError::Malformed {
                    status: 0,
                    detail: "bill download failed".into(),
                },
            ));
        }
        let actual = super::bill::sha1_hex(&raw.body);
        if !actual.eq_ignore_ascii_case(answer.hash_value.trim()) {
            return Err(ApiError::BillHash {
                expected: answer.hash_value.clone(),
                actual,
            });
        }
        Ok(raw.body)
    }

    /// Sends one signed request to the hosts its `route` allows, in order; only a transport
    /// failure moves on to the next host.
    async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Vec<u8>>,
        route: Route,
    ) -> Result<RawAnswer, ApiError> {
        let only_unsent = route.moves_on_only_when_unsent();
        let (bases, cap) = route.targets(&self.settings);
        let mut last_err = None;
        for base in bases {
            match self
                .send_once(&method, &base, path_and_query, body.as_deref(), cap)
                .await
            {
                Ok(raw) => return Ok(raw),
                Err(e @ ApiError::Transport { kind, .. }) => {
                    tracing::warn!(host = %base, error = %e, "request failed");
                    // Bytes may have left: the next host would be a second request.
                    if only_unsent && kind != TransportKind::Connect {
                        return Err(e);
                    }
                    last_err = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or(ApiError::Transport {
            kind: TransportKind::Other,
            detail: "no host".into(),
        }))
    }

    async fn send_once(
        &self,
        method: &Method,
        base: &Url,
        path_and_query: &str,
        body: Option<&[u8]>,
        cap: usize,
    ) -> Result<RawAnswer, ApiError> {
        let url_text = format!("{}{}", base.as_str().trim_end_matches('/'), path_and_query);
        let url =
            Url::parse(&url_text).map_err(|e| ApiError::Request(format!("{url_text}: {e}")))?;
        let mut canonical = url.path().to_string();
        if let Some(q) = url.query() {
            canonical.push('?');
            canonical.push_str(q);
        }
        let body_bytes = body.unwrap_or_default();
        let timestamp = self.clock.now_unix();
        let nonce = new_nonce();
        let signer = self.signer.as_ref().ok_or_else(|| {
            ApiError::Request(format!(
                "{canonical} is an APIv3 call and this client speaks APIv2"
            ))
        })?;
        let auth = signer
            .authorization(method.as_str(), &canonical, timestamp, &nonce, body_bytes)
            .map_err(|e| ApiError::Request(e.to_string()))?;
        let mut req = self
            .http
            .request(method.clone(), url)
            .header(reqwest::header::AUTHORIZATION, auth)
            .header(reqwest::header::ACCEPT, "application/json");
        let preferred = self
            .trust
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .preferred_serial()
            .map(str::to_string);
        if let Some(serial) = preferred {
            req = req.header(headers::SERIAL, serial);
        }
        if let Some(b) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b.to_vec());
        }
        let raw = read_capped(req.send().await.map_err(transport)?, cap).await?;
        tracing::debug!(status = %raw.status, path = %canonical, request_id = ?raw.headers.get(headers::REQUEST_ID), "answer");
        Ok(raw)
    }

    /// Verifies a signed answer; `Ok(false)` when an error answer carries no signature at all.
    fn verify(&self, raw: &RawAnswer) -> Result<bool, ApiError> {
        let result = {
            let trust = self
                .trust
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            self.verify_with(raw, &trust)
        };
        if let Err(ApiError::Unverified(VerifyError::UnknownSerial(serial))) = &result
            && let Some(tx) = &self.unknown_serial
        {
            // The receiver may be gone (shutting down); nothing to do then.
            let _ = tx.send(serial.clone());
        }
        result
    }

    fn verify_with(&self, raw: &RawAnswer, trust: &TrustStore) -> Result<bool, ApiError> {
        let get = |name: &str| {
            raw.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        match AnswerSignature::from_headers(get)? {
            Some(sig) => {
                sig.verify(trust, &raw.body, self.clock.now_unix())?;
                Ok(true)
            }
            None if raw.status.is_success() => {
                Err(VerifyError::MissingHeader(headers::SIGNATURE).into())
            }
            None => Ok(false),
        }
    }

    fn decode<T: DeserializeOwned>(&self, raw: RawAnswer) -> Result<T, ApiError> {
        let verified = self.verify(&raw)?;
        let status = raw.status.as_u16();
        if raw.status.is_success() {
            return serde_json::from_slice(&raw.body).map_err(|e| ApiError::Malformed {
                status,
                detail: e.to_string(),
            });
        }
        let request_id = raw
            .headers
            .get(headers::REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        match serde_json::from_slice::<ErrorBody>(&raw.body) {
            // Only a 401 on which no signature at all was present: a signed 401 is a
            // `Service` error like any other, a 401 with a bad signature is `Unverified`.
            Ok(e) if !verified && raw.status == StatusCode::UNAUTHORIZED => {
                Err(ApiError::Rejected {
                    status,
                    code: ErrorCode::from_wire(&e.code),
                    message: e.message,
                    detail: e.detail,
                    request_id,
                })
            }
            Ok(e) => Err(ApiError::Service {
                status,
                code: ErrorCode::from_wire(&e.code),
                v2_spelling: ErrorCode::from_wire(&e.code).as_str() != e.code,
                message: e.message,
                detail: e.detail,
                verified,
                request_id,
            }),
            Err(e) => Err(ApiError::Malformed {
                status,
                detail: format!("error answer: {e}"),
            }),
        }
    }
}

/// Reads an answer, refusing a body larger than `cap`.
pub(in crate::wechat) async fn read_capped(
    mut resp: reqwest::Response,
    cap: usize,
) -> Result<RawAnswer, ApiError> {
    let status = resp.status();
    let headers = resp.headers().clone();
    if let Some(len) = resp.content_length()
        && len > cap as u64
    {
        return Err(ApiError::TooLarge { limit: cap });
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > cap {
            return Err(ApiError::TooLarge { limit: cap });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(RawAnswer {
        status,
        headers,
        body,
    })
}

/// Where a request may be sent, and how large its answer may be. Every call names one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(in crate::wechat) enum Route {
    /// The main host only, once. For the money-moving POSTs (codepay, refund): after a
    /// transport failure their outcome is unknown, so sending again — to any host — is the
    /// caller's decision, made after a query; never this client's.
    MainOnly,
    /// The main host, then the backup host (when set) only if the main host's connection
    /// could not be established ([`TransportKind::Connect`]: nothing of the request was
    /// written). For the pay POST: the same request (same `out_trade_no`) to the other host
    /// is then the first request, never a second one. Any failure after connecting ends it.
    MainThenBackupIfUnsent,
    /// The main host, then the backup host (when set) if the main one gave no answer. For
    /// idempotent calls (queries, reverse, trade bill): repeating them changes nothing.
    Failover,
    /// Like `Failover`, with its own answer cap: APIv2's bill, which comes as the answer
    /// itself.
    FailoverWithCap {
        /// Cap on the answer body.
        max_bytes: usize,
    },
    /// Exactly `origin` (the main or backup host the download URL named, checked by the
    /// caller) with its own answer cap. No failover: the URL names one host.
    Download {
        /// The host the download URL is on.
        origin: Url,
        /// Cap on the downloaded body (a bill is far larger than an API answer).
        max_bytes: usize,
    },
}

impl Route {
    /// Whether only a connection that was never established moves on to the next host.
    pub(in crate::wechat) fn moves_on_only_when_unsent(&self) -> bool {
        matches!(self, Route::MainThenBackupIfUnsent)
    }

    /// The hosts to try, in order, and the answer cap.
    pub(in crate::wechat) fn targets(self, settings: &Settings) -> (Vec<Url>, usize) {
        match self {
            Route::MainOnly => (vec![settings.base_url.clone()], settings.max_body_bytes),
            Route::Failover | Route::MainThenBackupIfUnsent => {
                let mut hosts = vec![settings.base_url.clone()];
                hosts.extend(settings.backup_base_url.clone());
                (hosts, settings.max_body_bytes)
            }
            Route::FailoverWithCap { max_bytes } => {
                let mut hosts = vec![settings.base_url.clone()];
                hosts.extend(settings.backup_base_url.clone());
                (hosts, max_bytes)
            }
            Route::Download { origin, max_bytes } => (vec![origin], max_bytes),
        }
    }
}

pub(in crate::wechat) fn transport(e: reqwest::Error) -> ApiError {
    // `is_connect` first: a connect timeout is also a timeout, but it happened before any byte
    // of the request was written, which is what `Connect` promises. reqwest marks as connect
    // errors only those of its connector (DNS, TCP connect, TLS handshake, proxy tunnel).
    let kind = if e.is_connect() {
        TransportKind::Connect
    } else if e.is_timeout() {
        TransportKind::Timeout
    } else if e.is_body() || e.is_decode() || e.is_request() {
        TransportKind::Interrupted
    } else {
        TransportKind::Other
    };
    // reqwest's Display omits the cause; include the chain for the log.
    let mut detail = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        src = s.source();
    }
    ApiError::Transport { kind, detail }
}

/// Identifiers go into paths unescaped, so only the characters WeChat allows in them pass.
pub(super) fn path_segment(s: &str) -> Result<&str, ApiError> {
    if !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-*|@".contains(&b))
    {
        Ok(s)
    } else {
        Err(ApiError::Request(format!(
            "{s:?} is not a valid identifier"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(backup: Option<&str>) -> Settings {
        let url = |s: &str| Url::parse(s).unwrap();
        Settings {
            base_url: url("https://main.example/"),
            backup_base_url: backup.map(url),
            party: Party::Direct {
                mchid: "1900000001".into(),
                appid: "wx0000000000000001".into(),
            },
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
            max_body_bytes: 1000,
            protocol: Protocol::V3,
            extra_roots: Vec::new(),
        }
    }

    fn hosts(route: Route, s: &Settings) -> (Vec<String>, usize) {
        let (urls, cap) = route.targets(s);
        (urls.iter().map(Url::to_string).collect(), cap)
    }

    fn client() -> Client {
        let key = super::super::keys::PrivateKey::generate().unwrap();
        Client::new(
            settings(None),
            Signer::new("1900000001", "SERIAL", key),
            TrustStore::new(),
            std::sync::Arc::new(crate::clock::ManualClock::at_ms(1_764_000_000_000)),
        )
        .unwrap()
    }

    fn raw(status: u16, signed: bool) -> RawAnswer {
        let mut headers = reqwest::header::HeaderMap::new();
        if signed {
            for (k, v) in [
                (headers::TIMESTAMP, "1764000000"),
                (headers::NONCE, "N"),
                (headers::SIGNATURE, "c2ln"),
                (headers::SERIAL, "PUB_KEY_ID_UNKNOWN"),
            ] {
                headers.insert(k, reqwest::header::HeaderValue::from_static(v));
            }
        }
        RawAnswer {
            status: StatusCode::from_u16(status).unwrap(),
            headers,
            body: br#"{"code":"SIGN_ERROR","message":"m"}"#.to_vec(),
        }
    }

    #[test]
    fn only_a_401_without_any_signature_is_a_rejected_request() {
        let c = client();
        let e = c.decode::<serde_json::Value>(raw(401, false)).unwrap_err();
        assert!(
            matches!(
                &e,
                ApiError::Rejected {
                    status: 401,
                    code: ErrorCode::SignError,
                    ..
                }
            ),
            "{e:?}"
        );
        assert_eq!(e.advice(Call::Pay), Advice::Failed);
        assert_eq!(e.code(), Some(&ErrorCode::SignError));
        // A 401 that carries a signature we cannot verify is not trusted either way.
        let e = c.decode::<serde_json::Value>(raw(401, true)).unwrap_err();
        assert!(matches!(e, ApiError::Unverified(_)), "{e:?}");
        assert_eq!(e.advice(Call::Pay), Advice::Query);
        // Another unsigned error stays a hint.
        let e = c.decode::<serde_json::Value>(raw(400, false)).unwrap_err();
        assert!(
            matches!(
                e,
                ApiError::Service {
                    verified: false,
                    ..
                }
            ),
            "{e:?}"
        );
        assert_eq!(e.advice(Call::Pay), Advice::Query);
    }

    #[test]
    fn main_only_never_uses_the_backup_host() {
        let s = settings(Some("https://backup.example/"));
        assert_eq!(
            hosts(Route::MainOnly, &s),
            (vec!["https://main.example/".to_string()], 1000)
        );
    }

    #[test]
    fn failover_tries_main_then_backup_when_there_is_one() {
        let s = settings(Some("https://backup.example/"));
        assert_eq!(
            hosts(Route::Failover, &s),
            (
                vec![
                    "https://main.example/".to_string(),
                    "https://backup.example/".to_string()
                ],
                1000
            )
        );
        assert_eq!(
            hosts(Route::Failover, &settings(None)),
            (vec!["https://main.example/".to_string()], 1000)
        );
    }

    #[test]
    fn pay_tries_main_then_backup_and_only_when_unsent() {
        let s = settings(Some("https://backup.example/"));
        assert_eq!(
            hosts(Route::MainThenBackupIfUnsent, &s).0,
            vec![
                "https://main.example/".to_string(),
                "https://backup.example/".to_string()
            ]
        );
        assert!(Route::MainThenBackupIfUnsent.moves_on_only_when_unsent());
        assert!(!Route::Failover.moves_on_only_when_unsent());
    }

    #[test]
    fn download_goes_to_its_origin_only_with_its_own_cap() {
        let s = settings(Some("https://backup.example/"));
        let route = Route::Download {
            origin: Url::parse("https://backup.example/").unwrap(),
            max_bytes: MAX_BILL_BYTES,
        };
        assert_eq!(
            hosts(route, &s),
            (vec!["https://backup.example/".to_string()], MAX_BILL_BYTES)
        );
    }
}
