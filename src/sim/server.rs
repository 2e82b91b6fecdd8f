//! The simulator's HTTP side: the same wire protocol as api.mch.weixin.qq.com — request
//! checks (User-Agent, Accept, signature, clock), field validation, signed answers — around
//! the [`Ledger`](super::ledger::Ledger), plus fault injection.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::fault::{Endpoint, Fault, FaultQueue};
use super::ledger::{Ledger, NewOrder, Order, PayOutcome, RefundRecord, Refusal};
use crate::clock::{SharedClock, beijing};
use crate::wechat::bill::{self, BillType};
use crate::wechat::keys::{PrivateKey, PublicKey};
use crate::wechat::sign::{
    self, Authorization, MAX_SKEW_SECS, headers, new_nonce, request_message,
};

/// How long a "hanging" pay call waits before dropping the connection: longer than any
/// client timeout scanpay allows (120 s).
pub const HANG: Duration = Duration::from_secs(600);
/// Largest request body accepted.
const MAX_REQUEST: usize = 64 * 1024;
/// How long a bill download URL stays valid (the real service: 5 minutes).
const BILL_URL_TTL_MS: i64 = 5 * 60 * 1000;

/// Who the simulator is and whom it serves.
#[derive(Debug)]
pub struct Identity {
    /// The merchant it accepts.
    pub mchid: String,
    /// The AppID bound to it.
    pub appid: String,
    /// The merchant certificate serial it expects in `Authorization`.
    pub merchant_serial_no: String,
    /// The merchant's public key, to check request signatures.
    pub merchant_key: PublicKey,
    /// The simulator's own (WeChat Pay) private key, to sign answers.
    pub platform_key: PrivateKey,
    /// The id of the simulator's public key (`PUB_KEY_ID_…`), sent as `Wechatpay-Serial`.
    pub public_key_id: String,
    /// A key that is not the simulator's, for forged answers.
    pub forger_key: PrivateKey,
    /// Service-provider mode: the sub-merchants bound to the merchant above, which is then a
    /// service provider (`sp_mchid` = `mchid`, `sp_appid` = `appid`) serving the partner paths
    /// only. Empty: a directly connected merchant, direct paths only.
    pub sub_merchants: Vec<SubMerchant>,
}

/// A sub-merchant (特约商户) bound to the simulator's service provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubMerchant {
    /// Its merchant id (`sub_mchid`).
    pub sub_mchid: String,
    /// The AppID bound to it (`sub_appid`), if any: a request may then name it, and no other.
    pub sub_appid: Option<String>,
}

impl Identity {
    /// Whether it is a service provider (it has sub-merchants).
    pub fn is_service_provider(&self) -> bool {
        !self.sub_merchants.is_empty()
    }

    /// Whose books a request reads, from the path kind and the `sub_mchid`/`sub_appid` it
    /// names (docs/protocol.md, "What the simulator imitates": the service-provider rows):
    /// - a direct merchant: a partner path or any `sub_mchid` → 400 PARAM_ERROR
    ///   普通商户不允许传sub_mch_id;
    /// - a service provider: a direct pay/query/reverse path or no `sub_mchid` → 400
    ///   PARAM_ERROR 受理机构必须传入sub_mch_id; a sub-merchant not bound to it → 403 NO_AUTH
    ///   受理关系不存在; a `sub_appid` other than the one bound to the sub-merchant → 400
    ///   APPID_MCHID_NOT_MATCH.
    pub fn owner(
        &self,
        partner_path: bool,
        sub_mchid: Option<&str>,
        sub_appid: Option<&str>,
    ) -> Result<Option<String>, Refusal> {
        if !self.is_service_provider() {
            if partner_path || sub_mchid.is_some() || sub_appid.is_some() {
                return Err(Refusal::new(
                    400,
                    "PARAM_ERROR",
                    "普通商户不允许传sub_mch_id",
                ));
            }
            return Ok(None);
        }
        let Some(sub) = sub_mchid.filter(|s| !s.is_empty()) else {
            return Err(Refusal::param("/sub_mchid", "受理机构必须传入sub_mch_id"));
        };
        let Some(bound) = self.sub_merchants.iter().find(|m| m.sub_mchid == sub) else {
            return Err(Refusal::new(403, "NO_AUTH", "受理关系不存在"));
        };
        if let Some(a) = sub_appid
            && bound.sub_appid.as_deref() != Some(a)
        {
            return Err(Refusal::new(
                400,
                "APPID_MCHID_NOT_MATCH",
                "sub_mchid与sub_appid不匹配",
            ));
        }
        Ok(Some(sub.to_string()))
    }
}

/// Counts of requests, by endpoint, for tests and the admin view.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Stats {
    /// Requests by endpoint name.
    pub requests: HashMap<String, u64>,
    /// Requests refused with 401 SIGN_ERROR.
    pub sign_errors: u64,
}

/// State shared by the request handlers.
#[derive(Debug)]
pub struct Shared {
    /// The books.
    pub ledger: Mutex<Ledger>,
    /// Pending faults.
    pub faults: Mutex<FaultQueue>,
    /// The clock for business time and signatures.
    pub clock: SharedClock,
    /// Keys and ids.
    pub identity: Identity,
    /// Rendered bills by download token, with their expiry (Unix ms).
    bills: Mutex<HashMap<String, (Vec<u8>, i64)>>,
    /// Base URL as clients see it (for `download_url`).
    pub base_url: Mutex<String>,
    /// Request counts.
    pub stats: Mutex<Stats>,
    /// Where the books are saved after every change (the demo's simulator), if anywhere.
    pub persist: Option<std::path::PathBuf>,
    /// Platform-certificate mode: answers are signed with the newest certificate (and
    /// `GET /v3/certificates` serves them) instead of the public key.
    pub certificates: Mutex<Option<super::cert::PlatformCertificates>>,
    /// The APIv2 face (`/pay/*`, `/secapi/*`), when started with one (`scanpay sim --api v2`).
    pub v2: Option<super::v2::V2Face>,
}

impl Shared {
    /// Handler state for an identity and a clock.
    pub fn new(identity: Identity, clock: SharedClock) -> Shared {
        Shared {
            ledger: Mutex::new(Ledger::new()),
            faults: Mutex::new(FaultQueue::default()),
            clock,
            identity,
            bills: Mutex::new(HashMap::new()),
            base_url: Mutex::new(String::new()),
            stats: Mutex::new(Stats::default()),
            persist: None,
            certificates: Mutex::new(None),
            v2: None,
        }
    }

    /// Saves the books if this simulator persists them.
    pub(super) fn save(&self) {
        if let Some(path) = &self.persist
            && let Err(e) = lock(&self.ledger).save(path)
        {
            tracing::error!(error = %e, path = %path.display(), "simulator ledger not saved");
        }
    }
}

/// Locks a mutex even if a handler panicked while holding it (the data is still consistent:
/// every ledger operation completes before it returns).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What a handler produced before faults are applied.
struct Answer {
    status: u16,
    body: Vec<u8>,
    signed: bool,
    forged: bool,
    hang: bool,
    content_type: &'static str,
}

impl Answer {
    fn json(status: u16, v: &Value) -> Answer {
        Answer {
            status,
            body: serde_json::to_vec(v).unwrap_or_default(),
            signed: true,
            forged: false,
            hang: false,
            content_type: "application/json",
        }
    }
    fn refusal(r: &Refusal) -> Answer {
        let mut v = json!({"code": r.code, "message": r.message});
        if let Some(field) = &r.field {
            v["detail"] = json!({"field": field, "location": "body", "issue": r.message});
        }
        Answer::json(r.status, &v)
    }
    fn error(status: u16, code: &str, message: &str) -> Answer {
        Answer::json(status, &json!({"code": code, "message": message}))
    }
}

/// The single entry point: every request of the APIv3 surface (and of the APIv2 face,
/// handed to [`super::v2::handle`]).
pub async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if super::v2::is_v2(parts.uri.path()) {
        return super::v2::handle(shared, parts, body).await;
    }
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().map(str::to_string);
    let endpoint = classify(&method, &path);
    {
        let mut stats = lock(&shared.stats);
        let name = endpoint.map_or("unknown".to_string(), |e| e.name().to_string());
        *stats.requests.entry(name).or_default() += 1;
    }
    let fault = endpoint.and_then(|e| lock(&shared.faults).take(e));
    let body = match axum::body::to_bytes(body, MAX_REQUEST).await {
        Ok(b) => b,
        Err(_) => {
            return finish(
                &shared,
                Answer::error(400, "PARAM_ERROR", "请求体过大"),
                None,
            )
            .await;
        }
    };
    if let Some(Fault::ErrorMessage { message }) = &fault {
        return finish(&shared, Answer::error(400, "PARAM_ERROR", message), None).await;
    }
    if let Some(Fault::Refuse { status, code }) = &fault {
        return finish(&shared, Answer::error(*status, code, "业务规则拒绝"), None).await;
    }
    if fault == Some(Fault::ServerError) {
        return finish(
            &shared,
            Answer::error(500, "SYSTEM_ERROR", "系统繁忙，请稍后重试"),
            None,
        )
        .await;
    }
    let answer = match check_request(
        &shared,
        &method,
        &path,
        query.as_deref(),
        &parts.headers,
        &body,
    ) {
        Err(a) => a,
        Ok(()) => match endpoint {
            None => Answer::error(404, "NOT_FOUND", "请求的资源不存在"),
            Some(e) => {
                let a = dispatch(&shared, e, &path, query.as_deref(), &body);
                if matches!(e, Endpoint::Pay | Endpoint::Reverse | Endpoint::Refund) {
                    shared.save();
                }
                a
            }
        },
    };
    finish(&shared, answer, fault).await
}

/// The path prefix of the service provider's pay, query and reverse calls.
const PARTNER: &str = "/v3/pay/partner/";

fn classify(method: &str, path: &str) -> Option<Endpoint> {
    // The partner paths are the direct ones with `partner/` after `pay/`: same endpoints,
    // same faults.
    let direct;
    let path = match path.strip_prefix(PARTNER) {
        Some(rest) => {
            direct = format!("/v3/pay/{rest}");
            direct.as_str()
        }
        None => path,
    };
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, segs.as_slice()) {
        ("POST", ["v3", "pay", "transactions", "codepay"]) => Some(Endpoint::Pay),
        ("GET", ["v3", "pay", "transactions", "out-trade-no", _]) => Some(Endpoint::Query),
        ("GET", ["v3", "pay", "transactions", "id", _]) => Some(Endpoint::Query),
        ("POST", ["v3", "pay", "transactions", "out-trade-no", _, "reverse"]) => {
            Some(Endpoint::Reverse)
        }
        ("POST", ["v3", "refund", "domestic", "refunds"]) => Some(Endpoint::Refund),
        ("GET", ["v3", "refund", "domestic", "refunds", _]) => Some(Endpoint::RefundQuery),
        ("GET", ["v3", "bill", "tradebill"]) => Some(Endpoint::Bill),
        ("GET", ["v3", "billdownload", "file"]) => Some(Endpoint::Download),
        ("GET", ["v3", "certificates"]) => Some(Endpoint::Certificates),
        _ => None,
    }
}

/// Protocol checks every request must pass, as the real service makes them.
fn check_request(
    shared: &Shared,
    method: &str,
    path: &str,
    query: Option<&str>,
    h: &HeaderMap,
    body: &[u8],
) -> Result<(), Answer> {
    let header = |name: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.trim().is_empty())
    };
    if header("user-agent").is_none() || header("accept").is_none() {
        return Err(Answer::error(
            400,
            "INVALID_REQUEST",
            "Http头缺少Accept或User-Agent",
        ));
    }
    let sign_error = |message: &str, detail: Option<Value>| {
        lock(&shared.stats).sign_errors += 1;
        let mut v = json!({"code": "SIGN_ERROR", "message": message});
        if let Some(d) = detail {
            v["detail"] = d;
        }
        // The service signs an answer only to a request whose signature it verified; a
        // refused request gets an unsigned 401 (docs/protocol.md "Unsigned 401").
        let mut a = Answer::json(401, &v);
        a.signed = false;
        Err(a)
    };
    let Some(auth) = header("authorization").and_then(Authorization::parse) else {
        return sign_error(
            "Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》",
            None,
        );
    };
    let id = &shared.identity;
    if auth.mchid != id.mchid {
        return sign_error("商户号与请求头Authorization中的mchid不符", None);
    }
    if !auth.serial_no.eq_ignore_ascii_case(&id.merchant_serial_no) {
        return sign_error("商户证书序列号有误。请使用签名私钥匹配的证书序列号", None);
    }
    let Ok(ts) = auth.timestamp.parse::<i64>() else {
        return sign_error("Http头Authorization中的timestamp格式错误", None);
    };
    if (shared.clock.now_unix() - ts).abs() > MAX_SKEW_SECS {
        return sign_error(
            "Http头Authorization中的timestamp与发起请求的时间不得超过5分钟",
            None,
        );
    }
    let canonical = match query {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    };
    let message = request_message(method, &canonical, ts, &auth.nonce_str, body);
    if !id.merchant_key.verify_base64(&message, &auth.signature) {
        let shown = String::from_utf8_lossy(&message);
        let truncated: String = shown.chars().take(120).collect();
        return sign_error(
            "签名错误，请检查后再试",
            Some(
                json!({"sign_information": {"method": method, "url": canonical,
                "truncated_sign_message": truncated, "sign_message_length": message.len()}}),
            ),
        );
    }
    Ok(())
}

fn dispatch(
    shared: &Shared,
    endpoint: Endpoint,
    path: &str,
    query: Option<&str>,
    body: &[u8],
) -> Answer {
    let now = shared.clock.now_ms();
    let params = parse_query(query);
    let id = &shared.identity;
    let last = path.rsplit('/').next().unwrap_or("");
    let partner = path.starts_with(PARTNER);
    match endpoint {
        Endpoint::Pay => match if partner {
            validate_partner_codepay(id, body)
        } else {
            validate_codepay(id, body)
        } {
            Err(r) => Answer::refusal(&r),
            Ok(new) => {
                let no = new.out_trade_no.clone();
                let owner = new.sub_mchid.clone();
                let mut ledger = lock(&shared.ledger);
                match ledger.pay(new, now) {
                    PayOutcome::Paid | PayOutcome::PaidForged => {
                        let order = ledger.order_of(owner.as_deref(), &no);
                        let forged = order.map(|o| o.scenario)
                            == Some(super::ledger::Scenario::ForgedAnswer);
                        let mut a = match order {
                            Some(o) => Answer::json(200, &transaction_json(o)),
                            None => Answer::error(500, "SYSTEM_ERROR", "系统错误"),
                        };
                        a.forged = forged;
                        a
                    }
                    PayOutcome::UserPaying => {
                        Answer::json(202, &json!({"trade_state": "USERPAYING"}))
                    }
                    PayOutcome::Refused(r) => Answer::refusal(&r),
                    PayOutcome::Hang => Answer {
                        hang: true,
                        ..Answer::error(500, "SYSTEM_ERROR", "")
                    },
                }
            }
        },
        Endpoint::Query => {
            let owner = match query_owner(id, partner, &params) {
                Ok(o) => o,
                Err(r) => return Answer::refusal(&r),
            };
            let mut ledger = lock(&shared.ledger);
            let found = if path.contains("/out-trade-no/") {
                ledger.query(owner.as_deref(), last, now)
            } else {
                ledger.query_by_transaction_id(owner.as_deref(), last, now)
            };
            match found {
                Ok(o) => Answer::json(200, &transaction_json(o)),
                Err(r) => Answer::refusal(&r),
            }
        }
        Endpoint::Reverse => {
            let segs: Vec<&str> = path.split('/').collect();
            let no = segs.get(segs.len().wrapping_sub(2)).copied().unwrap_or("");
            let v: Value = match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(_) => return Answer::error(400, "PARAM_ERROR", "请求体不是合法的JSON"),
            };
            let owner = match reverse_owner(id, partner, &v) {
                Ok(o) => o,
                Err(r) => return Answer::refusal(&r),
            };
            match lock(&shared.ledger).reverse(owner.as_deref(), no, now) {
                Ok(()) => Answer::json(
                    200,
                    &match &owner {
                        None => json!({"appid": id.appid, "mchid": id.mchid, "out_trade_no": no}),
                        // The partner reverse page: sp_appid and sub_appid optional in the
                        // answer; sub_appid only when the request named one.
                        Some(sub) => {
                            let mut a = json!({"sp_appid": id.appid, "sp_mchid": id.mchid,
                                "sub_mchid": sub, "out_trade_no": no});
                            if let Some(sub_appid) = v["sub_appid"].as_str() {
                                a["sub_appid"] = json!(sub_appid);
                            }
                            a
                        }
                    },
                ),
                Err(r) => Answer::refusal(&r),
            }
        }
        Endpoint::Refund => {
            let v: Value = match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(_) => return Answer::error(400, "PARAM_ERROR", "请求体不是合法的JSON"),
            };
            // A service provider names the sub-merchant in the body (refund page, partner).
            let owner = match id.owner(false, v["sub_mchid"].as_str(), None) {
                Ok(o) => o,
                Err(r) => return Answer::refusal(&r),
            };
            let owner = owner.as_deref();
            let out_refund_no = v["out_refund_no"].as_str().unwrap_or("");
            if !valid_id(out_refund_no, 1, 64, b"_-|*@") {
                return Answer::refusal(&Refusal::param("/out_refund_no", "out_refund_no格式错误"));
            }
            let (Some(refund), Some(total)) = (
                v["amount"]["refund"].as_i64(),
                v["amount"]["total"].as_i64(),
            ) else {
                return Answer::refusal(&Refusal::param("/amount", "缺少退款金额或原订单金额"));
            };
            if v["amount"]["currency"].as_str() != Some("CNY") {
                return Answer::refusal(&Refusal::param("/amount/currency", "币种必须为CNY"));
            }
            let mut ledger = lock(&shared.ledger);
            let out_trade_no = match (v["out_trade_no"].as_str(), v["transaction_id"].as_str()) {
                (Some(no), _) => no.to_string(),
                (None, Some(tid)) => match ledger.query_by_transaction_id(owner, tid, now) {
                    Ok(o) => o.out_trade_no.clone(),
                    Err(_) => return Answer::error(404, "RESOURCE_NOT_EXISTS", "订单不存在"),
                },
                (None, None) => {
                    return Answer::refusal(&Refusal::param(
                        "/out_trade_no",
                        "缺少out_trade_no或transaction_id",
                    ));
                }
            };
            let reason = v["reason"].as_str().map(str::to_string);
            // The refund page: reason is at most 80 bytes (docs/protocol.md, "Field limits").
            if reason.as_ref().is_some_and(|r| r.len() > 80) {
                return Answer::refusal(&Refusal::param("/reason", "reason超过80字节"));
            }
            let result = ledger
                .refund(
                    owner,
                    &out_trade_no,
                    out_refund_no,
                    refund,
                    total,
                    reason,
                    now,
                )
                .map(|r| refund_json(r, total));
            let (tid, answer) = match result {
                Ok(mut j) => {
                    let tid = ledger
                        .order_of(owner, &out_trade_no)
                        .and_then(|o| o.transaction_id.clone());
                    if let Some(t) = &tid {
                        j["transaction_id"] = json!(t);
                    }
                    (tid, Answer::json(200, &j))
                }
                Err(r) => (None, Answer::refusal(&r)),
            };
            let _ = tid;
            answer
        }
        Endpoint::RefundQuery => {
            // A service provider names the sub-merchant in the query string.
            let owner = match id.owner(false, params.get("sub_mchid").map(String::as_str), None) {
                Ok(o) => o,
                Err(r) => return Answer::refusal(&r),
            };
            let mut ledger = lock(&shared.ledger);
            match ledger.query_refund(owner.as_deref(), last, now).cloned() {
                Ok(r) => {
                    let order = ledger.order_of(owner.as_deref(), &r.out_trade_no).cloned();
                    let mut j = refund_json(&r, order.as_ref().map_or(0, |o| o.total));
                    if let Some(t) = order.and_then(|o| o.transaction_id) {
                        j["transaction_id"] = json!(t);
                    }
                    Answer::json(200, &j)
                }
                Err(r) => Answer::refusal(&r),
            }
        }
        Endpoint::Bill => bill_request(shared, &params, now),
        Endpoint::Download => {
            let token = params.get("token").cloned().unwrap_or_default();
            let mut bills = lock(&shared.bills);
            bills.retain(|_, (_, exp)| *exp > now);
            match bills.get(&token) {
                Some((bytes, _)) => Answer {
                    status: 200,
                    body: bytes.clone(),
                    signed: false,
                    forged: false,
                    hang: false,
                    content_type: "text/plain; charset=utf-8",
                },
                None => Answer::error(400, "INVALID_REQUEST", "下载链接无效或已过期"),
            }
        }
        Endpoint::Certificates => match &*lock(&shared.certificates) {
            Some(p) => Answer::json(200, &p.list_json(shared.clock.now_unix())),
            // A merchant on the public key has no platform certificates to list: WeChat's
            // answer as quoted in wechatpay-java issues #354/#400 (docs/protocol.md,
            // "Platform certificates and rotation").
            None => Answer::error(
                404,
                "RESOURCE_NOT_EXISTS",
                "无可用的平台证书，请在商户平台-API安全申请使用微信支付公钥。可查看指引https://pay.weixin.qq.com/doc/v3/merchant/4012153196",
            ),
        },
        Endpoint::Any => Answer::error(404, "NOT_FOUND", "请求的资源不存在"),
    }
}

fn bill_request(shared: &Shared, params: &HashMap<String, String>, now: i64) -> Answer {
    let date = params.get("bill_date").cloned().unwrap_or_default();
    let valid_date = date.len() == 10
        && date.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !valid_date {
        return Answer::refusal(&Refusal {
            status: 400,
            code: "PARAM_ERROR",
            message: "bill_date格式错误，应为yyyy-MM-dd".into(),
            field: Some("bill_date".into()),
        });
    }
    let bill_type = match params.get("bill_type").map(String::as_str) {
        None | Some("ALL") => BillType::All,
        Some("SUCCESS") => BillType::Success,
        Some("REFUND") => BillType::Refund,
        Some(_) => {
            return Answer::refusal(&Refusal {
                status: 400,
                code: "PARAM_ERROR",
                message: "bill_type取值错误".into(),
                field: Some("bill_type".into()),
            });
        }
    };
    if params.get("tar_type").is_some_and(|t| !t.is_empty()) {
        return Answer::refusal(&Refusal {
            status: 400,
            code: "PARAM_ERROR",
            message: "模拟器只提供未压缩账单，请不要传tar_type".into(),
            field: Some("tar_type".into()),
        });
    }
    // A service provider's bill: one sub-merchant's with `sub_mchid`, every sub-merchant's
    // without (the partner trade-bill page); a direct merchant may not name one.
    let scope = match params.get("sub_mchid") {
        None => None,
        Some(sub) => match shared.identity.owner(false, Some(sub), None) {
            Ok(o) => o,
            Err(r) => return Answer::refusal(&r),
        },
    };
    let Some(bill) = lock(&shared.ledger).trade_bill(scope.as_deref(), &date, bill_type, now)
    else {
        return Answer::error(400, "NO_STATEMENT_EXIST", "该日期不存在账单");
    };
    let bytes = bill::render(&bill);
    let hash = bill::sha1_hex(&bytes);
    let token = new_nonce();
    lock(&shared.bills).insert(token.clone(), (bytes, now + BILL_URL_TTL_MS));
    let base = lock(&shared.base_url).clone();
    Answer::json(
        200,
        &json!({"hash_type": "SHA1", "hash_value": hash, "download_url": format!("{base}/v3/billdownload/file?token={token}")}),
    )
}

/// Signs (or spoils) and sends an answer.
async fn finish(shared: &Shared, mut a: Answer, fault: Option<Fault>) -> Response {
    if a.hang {
        tokio::time::sleep(HANG).await;
        return dropped(Vec::new());
    }
    if let Some(Fault::Latency { ms }) = fault {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if fault == Some(Fault::GarbledJson) {
        let half = a.body.len() / 2;
        a.body.truncate(half);
        a.body.extend_from_slice(b"\x00\xff");
    }
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(a.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(headers::REQUEST_ID, new_nonce().to_lowercase());
    if !a.body.is_empty() {
        builder = builder.header("content-type", a.content_type);
    }
    if a.signed {
        let skew = match fault {
            Some(Fault::ClockSkew { secs }) => secs,
            _ => 0,
        };
        let ts = (shared.clock.now_unix() + skew).to_string();
        let nonce = new_nonce();
        let message = sign::response_message(&ts, &nonce, &a.body);
        // Platform-certificate mode signs with the newest certificate, whatever serial the
        // request named (as WeChat Pay does until the merchant switches to the public key).
        let (mut signature, serial) = {
            let certs = lock(&shared.certificates);
            let cert = certs.as_ref().and_then(|p| p.signing());
            let key = if a.forged || fault == Some(Fault::WrongSignature) {
                &shared.identity.forger_key
            } else {
                cert.map_or(&shared.identity.platform_key, |c| &c.key)
            };
            (
                key.sign_base64(&message).unwrap_or_default(),
                cert.map_or(shared.identity.public_key_id.clone(), |c| {
                    c.serial_no.clone()
                }),
            )
        };
        if fault == Some(Fault::SignTestProbe) {
            signature = format!(
                "{}{}",
                sign::SIGNTEST_PREFIX,
                &signature[..signature.len().min(40)]
            );
        }
        let hv = |s: &str| HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static(""));
        builder = builder
            .header(headers::TIMESTAMP, hv(&ts))
            .header(headers::NONCE, hv(&nonce))
            .header(headers::SIGNATURE, hv(&signature))
            .header(headers::SERIAL, hv(&serial))
            .header(headers::SIGNATURE_TYPE, sign::SCHEME);
    }
    if fault == Some(Fault::Drop) {
        return dropped_with(builder, a.body);
    }
    builder
        .body(Body::from(a.body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// A response whose body breaks off halfway: the connection is reset mid-answer.
fn dropped(body: Vec<u8>) -> Response {
    dropped_with(Response::builder().status(StatusCode::OK), body)
}

pub(super) fn dropped_with(builder: axum::http::response::Builder, body: Vec<u8>) -> Response {
    let full = body.len().max(2);
    let half = body[..body.len() / 2].to_vec();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![
        Ok(half),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "simulated reset",
        )),
    ];
    builder
        .header("content-length", full.to_string())
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn parse_query(q: Option<&str>) -> HashMap<String, String> {
    q.unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn valid_id(s: &str, min: usize, max: usize, extra: &[u8]) -> bool {
    (min..=max).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
}

/// The query's merchant parameters: `mchid` (direct) or `sp_mchid` and `sub_mchid` (partner
/// path), as the query pages require; the owner of the books it reads.
fn query_owner(
    id: &Identity,
    partner: bool,
    params: &HashMap<String, String>,
) -> Result<Option<String>, Refusal> {
    let param = |name: &str| params.get(name).map(String::as_str);
    let wrong = |field: &str| Refusal {
        status: 400,
        code: "PARAM_ERROR",
        message: format!("{field}参数错误"),
        field: Some(field.into()),
    };
    if !partner {
        // The direct query defines no sub-merchant parameter (wechatpay-php#64: the service's
        // answer to `sub_mch_id` on it); a service provider must use the partner path.
        if let Some(name) = ["sub_mchid", "sub_mch_id"]
            .into_iter()
            .find(|n| params.contains_key(*n))
        {
            return Err(Refusal {
                status: 400,
                code: "PARAM_ERROR",
                message: "请求中含有未在API文档中定义的参数".into(),
                field: Some(format!("/query/{name}")),
            });
        }
        id.owner(false, None, None)?;
        if param("mchid") != Some(id.mchid.as_str()) {
            return Err(wrong("mchid"));
        }
        return Ok(None);
    }
    if !id.is_service_provider() {
        return id.owner(true, param("sub_mchid"), None);
    }
    if param("sp_mchid") != Some(id.mchid.as_str()) {
        return Err(wrong("sp_mchid"));
    }
    id.owner(true, param("sub_mchid"), None)
}

/// The reverse body's merchant fields: `{appid, mchid}` (direct) or `{sp_appid?, sp_mchid,
/// sub_appid?, sub_mchid}` (partner path); the owner of the order it names.
fn reverse_owner(id: &Identity, partner: bool, v: &Value) -> Result<Option<String>, Refusal> {
    if !partner {
        // A service provider must use the partner path.
        id.owner(false, None, None)?;
        if v["mchid"].as_str() != Some(&id.mchid) {
            return Err(Refusal::param("/mchid", "mchid与商户号不符"));
        }
        if v["appid"].as_str() != Some(&id.appid) {
            return Err(Refusal::new(
                400,
                "APPID_MCHID_NOT_MATCH",
                "appid和mch_id不匹配",
            ));
        }
        return Ok(None);
    }
    if !id.is_service_provider() {
        return id.owner(true, v["sub_mchid"].as_str(), None);
    }
    if v["sp_mchid"].as_str() != Some(&id.mchid) {
        return Err(Refusal::param(
            "/sp_mchid",
            "sp_mchid与请求头中的商户号不一致",
        ));
    }
    if v["sp_appid"].as_str().is_some_and(|a| a != id.appid) {
        return Err(Refusal::new(
            400,
            "APPID_MCHID_NOT_MATCH",
            "sp_appid和sp_mchid不匹配",
        ));
    }
    id.owner(true, v["sub_mchid"].as_str(), v["sub_appid"].as_str())
}

/// Field checks of the codepay body, with the answers the real service gives.
fn validate_codepay(id: &Identity, body: &[u8]) -> Result<NewOrder, Refusal> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| Refusal::new(400, "PARAM_ERROR", "请求体不是合法的JSON"))?;
    // A service provider must use the partner path (and name a sub-merchant).
    id.owner(false, None, None)?;
    let text = |ptr: &str| v.pointer(ptr).and_then(Value::as_str);
    let mchid = text("/mchid").ok_or_else(|| Refusal::param("/mchid", "缺少参数mchid"))?;
    if mchid != id.mchid {
        return Err(Refusal::param("/mchid", "mchid与请求头中的商户号不一致"));
    }
    let appid = text("/appid").ok_or_else(|| Refusal::param("/appid", "缺少参数appid"))?;
    if appid != id.appid {
        return Err(Refusal::new(
            400,
            "APPID_MCHID_NOT_MATCH",
            "appid和mch_id不匹配",
        ));
    }
    order_fields(&v, mchid, appid, None, None)
}

/// Field checks of the partner codepay body (`sp_appid, sp_mchid, [sub_appid,] sub_mchid`,
/// then the same order fields as the direct call).
fn validate_partner_codepay(id: &Identity, body: &[u8]) -> Result<NewOrder, Refusal> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| Refusal::new(400, "PARAM_ERROR", "请求体不是合法的JSON"))?;
    let text = |ptr: &str| v.pointer(ptr).and_then(Value::as_str);
    if !id.is_service_provider() {
        id.owner(true, text("/sub_mchid"), text("/sub_appid"))?;
    }
    let sp_mchid =
        text("/sp_mchid").ok_or_else(|| Refusal::param("/sp_mchid", "缺少参数sp_mchid"))?;
    if sp_mchid != id.mchid {
        return Err(Refusal::param(
            "/sp_mchid",
            "sp_mchid与请求头中的商户号不一致",
        ));
    }
    let sp_appid =
        text("/sp_appid").ok_or_else(|| Refusal::param("/sp_appid", "缺少参数sp_appid"))?;
    if sp_appid != id.appid {
        return Err(Refusal::new(
            400,
            "APPID_MCHID_NOT_MATCH",
            "sp_appid和sp_mchid不匹配",
        ));
    }
    let sub_appid = text("/sub_appid");
    let owner = id.owner(true, text("/sub_mchid"), sub_appid)?;
    order_fields(&v, sp_mchid, sp_appid, owner, sub_appid.map(str::to_string))
}

/// The order fields both pay calls share.
fn order_fields(
    v: &Value,
    mchid: &str,
    appid: &str,
    sub_mchid: Option<String>,
    sub_appid: Option<String>,
) -> Result<NewOrder, Refusal> {
    let text = |ptr: &str| v.pointer(ptr).and_then(Value::as_str);
    let description = text("/description")
        .ok_or_else(|| Refusal::param("/description", "缺少参数description"))?;
    let chars = description.chars().count();
    if chars == 0 || chars > 127 {
        return Err(Refusal::param(
            "/description",
            "description长度应为1到127个字符",
        ));
    }
    if description.chars().any(|c| c as u32 > 0xFFFF) {
        return Err(Refusal::param(
            "/description",
            "description包含不支持的字符（如emoji）",
        ));
    }
    let out_trade_no = text("/out_trade_no")
        .ok_or_else(|| Refusal::param("/out_trade_no", "缺少参数out_trade_no"))?;
    if !valid_id(out_trade_no, 6, 32, b"_-*") {
        return Err(Refusal::param(
            "/out_trade_no",
            "out_trade_no应为6到32位数字、字母、_-*",
        ));
    }
    if text("/attach").is_some_and(|a| a.len() > 128) {
        return Err(Refusal::param("/attach", "attach超过128字节"));
    }
    let code = text("/payer/auth_code")
        .ok_or_else(|| Refusal::param("/payer/auth_code", "缺少参数auth_code"))?;
    if !matches!(
        crate::auth_code::classify(code),
        crate::auth_code::Classified::WeChat(_)
    ) || crate::auth_code::normalise(code) != code
    {
        return Err(Refusal::new(
            403,
            "AUTH_CODE_INVALID",
            "付款码无效，请用户出示微信付款码",
        ));
    }
    let total = v
        .pointer("/amount/total")
        .and_then(Value::as_i64)
        .ok_or_else(|| Refusal::param("/amount/total", "缺少参数amount.total"))?;
    if !(1..=100_000_000).contains(&total) {
        return Err(Refusal::param(
            "/amount/total",
            "订单金额应在0.01元到100万元之间",
        ));
    }
    if let Some(c) = v.pointer("/amount/currency")
        && c.as_str() != Some("CNY")
    {
        return Err(Refusal::param(
            "/amount/currency",
            "Currency code is invalid",
        ));
    }
    let store = v
        .pointer("/scene_info/store_info")
        .ok_or_else(|| Refusal::param("/scene_info/store_info", "缺少参数store_info"))?;
    let has_store = ["out_id", "id"].iter().any(|k| {
        store[k]
            .as_str()
            .is_some_and(|s| !s.is_empty() && s.len() <= 32)
    });
    if !has_store {
        return Err(Refusal::param(
            "/scene_info/store_info",
            "store_info需要id或out_id",
        ));
    }
    if let Some(ip) = text("/scene_info/device_ip")
        && ip.parse::<std::net::IpAddr>().is_err()
    {
        return Err(Refusal::param("/scene_info/device_ip", "device_ip格式错误"));
    }
    Ok(NewOrder {
        out_trade_no: out_trade_no.to_string(),
        appid: appid.to_string(),
        mchid: mchid.to_string(),
        sub_mchid,
        sub_appid,
        description: description.to_string(),
        total,
        auth_code: code.to_string(),
    })
}

/// An order as the pay 200 and the query answer it: a direct merchant's with `appid`,
/// `mchid`, `payer.openid`; a sub-merchant's in the partner shape — `sp_appid`, `sp_mchid`,
/// `sub_mchid`, `sub_appid` only if the pay call sent one, payer `sp_openid` (and
/// `sub_openid` with a `sub_appid`), as the partner query page and wechatpay-go
/// `services/partnerpayments/models.go` have them.
fn transaction_json(o: &Order) -> Value {
    let mut v = match &o.sub_mchid {
        None => json!({
            "appid": o.appid,
            "mchid": o.mchid,
            "payer": {"openid": o.openid},
        }),
        Some(sub) => {
            let mut v = json!({
                "sp_appid": o.appid,
                "sp_mchid": o.mchid,
                "sub_mchid": sub,
                "payer": {"sp_openid": o.openid},
            });
            if let Some(a) = &o.sub_appid {
                v["sub_appid"] = json!(a);
                v["payer"]["sub_openid"] = json!(sub_openid(&o.openid, a));
            }
            v
        }
    };
    v["out_trade_no"] = json!(o.out_trade_no);
    v["trade_type"] = json!("MICROPAY");
    v["trade_state"] = json!(o.state.as_str());
    v["trade_state_desc"] = json!(o.state_desc);
    v["amount"] = json!({"total": o.total, "currency": "CNY"});
    if let Some(t) = &o.transaction_id {
        v["transaction_id"] = json!(t);
    }
    if let Some(paid) = o.paid_ms {
        v["success_time"] = json!(beijing::rfc3339(paid));
        v["bank_type"] = json!("OTHERS");
        v["amount"]["payer_total"] = json!(o.total);
        v["amount"]["payer_currency"] = json!("CNY");
    }
    v
}

/// The payer's openid under a sub-merchant's AppID: stable per payer and AppID, unlike the
/// service provider's (an openid is per AppID).
fn sub_openid(sp_openid: &str, sub_appid: &str) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(format!("{sp_openid}/{sub_appid}").as_bytes());
    let s: String = h.iter().take(13).map(|b| format!("{b:02x}")).collect();
    format!("oSub{s}")
}

fn refund_json(r: &RefundRecord, total: i64) -> Value {
    let mut v = json!({
        "refund_id": r.refund_id,
        "out_refund_no": r.out_refund_no,
        "out_trade_no": r.out_trade_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "create_time": beijing::rfc3339(r.created_ms),
        "status": r.status.as_str(),
        "amount": {"total": total, "refund": r.amount, "payer_total": total, "payer_refund": r.amount, "currency": "CNY"},
    });
    if let Some(t) = r
        .settled_ms
        .filter(|_| r.status == super::ledger::RefundState::Success)
    {
        v["success_time"] = json!(beijing::rfc3339(t));
    }
    v
}
