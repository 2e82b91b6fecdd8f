//! The simulator's APIv2 face: XML over HTTPS on the same ledger, scripted customers and
//! faults as the APIv3 face. `POST /pay/micropay`, `/pay/orderquery`, `/secapi/pay/reverse`,
//! `/secapi/pay/refund`, `/pay/refundquery`, `/pay/downloadbill`.
//!
//! Every request's signature is checked with the merchant's APIv2 key and the request's
//! `sign_type` (MD5 when absent); answers with `return_code=SUCCESS` are signed with the same
//! key and type, `return_code=FAIL` answers are not. `/secapi/*` needs the merchant's client
//! certificate on the TLS connection (see [`super::tls`]). Each behaviour and its source:
//! `docs/protocol.md`, "What the simulator imitates" (the APIv2 rows).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;

use super::fault::{Endpoint, Fault};
use super::ledger::{NewOrder, Order, PayOutcome, RefundRecord, RefundState, Refusal, Scenario};
use super::server::{HANG, Shared, dropped_with, lock};
use super::tls::{ClientCert, SimCa, TlsPeer};
use crate::clock::beijing;
use crate::wechat::bill::{self, BillType};
use crate::wechat::v2::Fields;
use crate::wechat::v2::sign::{self as v2sign, ApiKey, SIGN_FIELD, SIGN_TYPE_FIELD, SignType};
use crate::wechat::v2::xml;

/// What the APIv2 face needs besides the shared books: the merchant's APIv2 key and the
/// authority that issued the merchant's client certificate.
#[derive(Debug)]
pub struct V2Face {
    /// The merchant's APIv2 key (requests are checked and answers signed with it).
    pub key: ApiKey,
    /// The simulator's certificate authority (`/secapi/*` accepts only its certificates).
    pub ca: SimCa,
}

/// Largest request body read (the same cap as the APIv3 face).
const MAX_REQUEST: usize = 64 * 1024;

/// Whether a path belongs to the APIv2 face.
pub fn is_v2(path: &str) -> bool {
    path.starts_with("/pay/") || path.starts_with("/secapi/")
}

fn classify(method: &str, path: &str) -> Option<Endpoint> {
    if method != "POST" {
        return None;
    }
    match path {
        "/pay/micropay" => Some(Endpoint::Pay),
        "/pay/orderquery" => Some(Endpoint::Query),
        "/secapi/pay/reverse" => Some(Endpoint::Reverse),
        "/secapi/pay/refund" => Some(Endpoint::Refund),
        "/pay/refundquery" => Some(Endpoint::RefundQuery),
        "/pay/downloadbill" => Some(Endpoint::Bill),
        _ => None,
    }
}

/// An answer before signing and faults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum V2Answer {
    /// `return_code=FAIL`: the call did not get through; never signed.
    Fail {
        /// `return_msg`.
        return_msg: String,
        /// Extra fields (`error_code` of a bill refusal).
        extra: Fields,
    },
    /// `return_code=SUCCESS`: signed with the request's key and type. `result_code` and the
    /// business fields are in `fields`.
    Signed {
        /// Every field but `return_code`, `return_msg`, `appid`, `mch_id`, `nonce_str`, `sign`.
        fields: Fields,
        /// Signed with a key that is not the merchant's (scenario 10).
        forged: bool,
    },
    /// A bill: the text itself, not XML.
    Bill(Vec<u8>),
    /// An HTTP error page before the application (the nginx front): status and text.
    Page(u16, &'static str),
    /// Never answer (scenarios 07/08).
    Hang,
}

impl V2Answer {
    /// `return_code=FAIL` with `return_msg`.
    pub fn fail(return_msg: impl Into<String>) -> V2Answer {
        V2Answer::Fail {
            return_msg: return_msg.into(),
            extra: Fields::new(),
        }
    }

    /// Both codes `SUCCESS`, with these business fields.
    pub fn success(fields: Fields) -> V2Answer {
        let mut fields = fields;
        fields.insert("result_code".into(), "SUCCESS".into());
        V2Answer::Signed {
            fields,
            forged: false,
        }
    }

    /// `result_code=FAIL` with `err_code` and `err_code_des` (signed).
    pub fn business(err_code: &str, des: &str) -> V2Answer {
        let mut fields = Fields::new();
        fields.insert("result_code".into(), "FAIL".into());
        fields.insert("err_code".into(), err_code.into());
        fields.insert("err_code_des".into(), des.into());
        V2Answer::Signed {
            fields,
            forged: false,
        }
    }

    /// A ledger refusal, its code in the APIv2 spelling.
    fn refusal(r: &Refusal) -> V2Answer {
        V2Answer::business(v2_code(r.code), &r.message)
    }
}

/// The APIv2 spelling of a ledger code (the ledger speaks the APIv3 spellings; docs/protocol.md
/// "Error code spellings").
pub fn v2_code(v3: &str) -> &str {
    match v3 {
        "NOT_ENOUGH" => "NOTENOUGH",
        "SYSTEM_ERROR" => "SYSTEMERROR",
        "BANK_ERROR" => "BANKERROR",
        "ORDER_CLOSED" => "ORDERCLOSED",
        "ORDER_NOT_EXIST" | "RESOURCE_NOT_EXISTS" => "ORDERNOTEXIST",
        "SIGN_ERROR" => "SIGNERROR",
        other => other,
    }
}

/// Writes an answer's XML: `return_code`/`return_msg`, and for a signed answer the merchant
/// fields, a fresh `nonce_str` and the `sign` with `key` and `sign_type`.
pub fn render(
    answer: &V2Answer,
    merchant: (&str, &str),
    key: &ApiKey,
    sign_type: SignType,
) -> Vec<u8> {
    let mut f = Fields::new();
    match answer {
        V2Answer::Fail { return_msg, extra } => {
            f.insert("return_code".into(), "FAIL".into());
            f.insert("return_msg".into(), return_msg.clone());
            f.extend(extra.clone());
        }
        V2Answer::Signed { fields, .. } => {
            f.extend(fields.clone());
            f.insert("return_code".into(), "SUCCESS".into());
            f.insert("return_msg".into(), "OK".into());
            f.insert("appid".into(), merchant.0.into());
            f.insert("mch_id".into(), merchant.1.into());
            f.insert("nonce_str".into(), crate::wechat::sign::new_nonce());
            if sign_type != SignType::Md5 {
                f.insert(SIGN_TYPE_FIELD.into(), sign_type.as_str().into());
            }
            let s = v2sign::sign(&f, key, sign_type);
            f.insert(SIGN_FIELD.into(), s);
        }
        V2Answer::Bill(bytes) => return bytes.clone(),
        V2Answer::Page(status, text) => {
            return format!(
                "<html>\r\n<head><title>{status} {text}</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>{text}</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
            )
            .into_bytes();
        }
        V2Answer::Hang => return Vec::new(),
    }
    // Values are ours or echoed from a request that parsed; should one be unwritable (a
    // carriage return in an echoed `attach`), the answer is a plain communication failure.
    xml::write(&f)
        .or_else(|_| {
            let mut fail = Fields::new();
            fail.insert("return_code".into(), "FAIL".into());
            fail.insert("return_msg".into(), "系统错误".into());
            xml::write(&fail)
        })
        .map(String::into_bytes)
        .unwrap_or_default()
}

/// Every request of the APIv2 face.
pub async fn handle(shared: Arc<Shared>, parts: Parts, body: Body) -> Response {
    let path = parts.uri.path().to_string();
    let endpoint = classify(parts.method.as_str(), &path);
    {
        let mut stats = lock(&shared.stats);
        let name = endpoint.map_or("unknown".to_string(), |e| format!("v2_{}", e.name()));
        *stats.requests.entry(name).or_default() += 1;
    }
    let Some(face) = shared.v2.as_ref() else {
        return plain(
            404,
            "this simulator was started without its APIv2 face (--api v2)",
        );
    };
    let Some(endpoint) = endpoint else {
        return plain(404, "Not Found");
    };
    // The TLS front checks the client certificate before the application sees the request.
    if path.starts_with("/secapi/") {
        let peer = parts.extensions.get::<ConnectInfo<TlsPeer>>();
        let cert = peer.and_then(|p| p.0.client_cert.as_deref());
        let check = face
            .ca
            .check_client(cert, &shared.identity.mchid, shared.clock.now_unix());
        let page = match check {
            ClientCert::Accepted => None,
            ClientCert::Absent => Some("No required SSL certificate was sent"),
            ClientCert::Refused => Some("The SSL certificate error"),
        };
        if let Some(text) = page {
            return respond(
                &shared,
                face,
                SignType::Md5,
                V2Answer::Page(400, text),
                None,
            )
            .await;
        }
    }
    let fault = lock(&shared.faults).take(endpoint);
    let Ok(bytes) = axum::body::to_bytes(body, MAX_REQUEST).await else {
        return respond(
            &shared,
            face,
            SignType::Md5,
            V2Answer::fail("请求体过大"),
            None,
        )
        .await;
    };
    let (answer, sign_type) = answer(&shared, face, endpoint, &bytes, fault.as_ref());
    if matches!(
        endpoint,
        Endpoint::Pay | Endpoint::Reverse | Endpoint::Refund
    ) {
        shared.save();
    }
    respond(&shared, face, sign_type, answer, fault).await
}

/// The answer to a request body, and the sign type to answer with.
fn answer(
    shared: &Shared,
    face: &V2Face,
    endpoint: Endpoint,
    body: &[u8],
    fault: Option<&Fault>,
) -> (V2Answer, SignType) {
    let bill = endpoint == Endpoint::Bill;
    let Ok(req) = xml::parse(body) else {
        return (V2Answer::fail("XML格式错误"), SignType::Md5);
    };
    let sign_type = match req.get(SIGN_TYPE_FIELD).map(String::as_str) {
        None | Some("") => SignType::Md5,
        Some(s) => match SignType::from_wire(s) {
            Some(t) => t,
            None => return (V2Answer::fail("sign_type参数错误"), SignType::Md5),
        },
    };
    let id = &shared.identity;
    if req.get("mch_id") != Some(&id.mchid) {
        return (V2Answer::fail("mch_id参数格式错误"), sign_type);
    }
    if v2sign::verify(&req, &face.key, sign_type).is_err() {
        lock(&shared.stats).sign_errors += 1;
        let mut a = V2Answer::fail("签名错误，请检查后再试");
        if bill && let V2Answer::Fail { extra, .. } = &mut a {
            extra.insert("error_code".into(), "20001".into());
        }
        return (a, sign_type);
    }
    if req
        .get("nonce_str")
        .is_none_or(|n| n.is_empty() || n.len() > 32)
    {
        return (V2Answer::fail("nonce_str参数错误"), sign_type);
    }
    // Faults answered before processing (nothing moves).
    match fault {
        Some(Fault::ErrorMessage { message }) => {
            return (V2Answer::fail(message.clone()), sign_type);
        }
        Some(Fault::Refuse { code, .. }) => {
            return (V2Answer::business(code, "业务规则拒绝"), sign_type);
        }
        Some(Fault::ServerError) => {
            return (
                V2Answer::business("SYSTEMERROR", "系统繁忙，请稍后重试"),
                sign_type,
            );
        }
        _ => {}
    }
    if req.get("appid") != Some(&id.appid) {
        return (
            V2Answer::business("APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配"),
            sign_type,
        );
    }
    // Whose books: this simulator serves a direct merchant, which may not name a sub-merchant.
    // (A service provider's sub-merchants are the partner simulator's, `Identity::owner`, to be
    // joined at merge: `sub_mch_id`/`sub_appid` then select the books and are echoed.)
    let sub = |k: &str| req.get(k).filter(|v| !v.is_empty());
    if sub("sub_mch_id").is_some() || sub("sub_appid").is_some() {
        return (
            V2Answer::business("PARAM_ERROR", "普通商户不允许传sub_mch_id"),
            sign_type,
        );
    }
    let now = shared.clock.now_ms();
    let a = match endpoint {
        Endpoint::Pay => micropay(shared, &req, now),
        Endpoint::Query => orderquery(shared, &req, now),
        Endpoint::Reverse => reverse(shared, &req, now),
        Endpoint::Refund => refund(shared, &req, now),
        Endpoint::RefundQuery => refundquery(shared, &req, now),
        Endpoint::Bill => downloadbill(shared, &req, now),
        _ => V2Answer::fail("Not Found"),
    };
    (a, sign_type)
}

fn lack(field: &str) -> V2Answer {
    V2Answer::business("LACK_PARAMS", &format!("缺少参数{field}"))
}

fn param(message: &str) -> V2Answer {
    V2Answer::business("PARAM_ERROR", message)
}

/// Letters, digits and `_-|*@`, 1 to `max` characters: `out_trade_no` and `out_refund_no`.
fn valid_no(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-|*@".contains(&b))
}

/// A positive whole number of fen.
fn fen(s: Option<&String>) -> Option<i64> {
    let s = s?;
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|n| *n > 0)
}

fn time_end(ms: i64) -> String {
    beijing::datetime(ms)
        .chars()
        .filter(char::is_ascii_digit)
        .collect()
}

fn micropay(shared: &Shared, req: &Fields, now: i64) -> V2Answer {
    let get = |k: &str| req.get(k).filter(|v| !v.is_empty());
    for k in [
        "body",
        "out_trade_no",
        "total_fee",
        "spbill_create_ip",
        "auth_code",
    ] {
        if get(k).is_none() {
            return lack(k);
        }
    }
    let body = get("body").cloned().unwrap_or_default();
    if body.len() > 128 {
        return param("body超过128字节");
    }
    let out_trade_no = get("out_trade_no").cloned().unwrap_or_default();
    if !valid_no(&out_trade_no, 32) {
        return param("out_trade_no应为32个字符内的数字、大小写字母_-|*@");
    }
    let Some(total) = fen(get("total_fee")).filter(|t| *t <= 100_000_000) else {
        return param("total_fee应为正整数（分）");
    };
    if get("fee_type").is_some_and(|t| t != "CNY") {
        return param("fee_type只能是CNY");
    }
    if get("spbill_create_ip").is_some_and(|ip| ip.len() > 64) {
        return param("spbill_create_ip超过64字符");
    }
    for (k, max) in [("device_info", 32), ("attach", 127), ("scene_info", 256)] {
        if get(k).is_some_and(|v| v.len() > max) {
            return param(&format!("{k}超过{max}字节"));
        }
    }
    let code = get("auth_code").cloned().unwrap_or_default();
    if code.len() > 128
        || !matches!(
            crate::auth_code::classify(&code),
            crate::auth_code::Classified::WeChat(_)
        )
        || crate::auth_code::normalise(&code) != code
    {
        return V2Answer::business("AUTH_CODE_INVALID", "请扫描微信支付授权码");
    }
    let id = &shared.identity;
    let new = NewOrder {
        out_trade_no: out_trade_no.clone(),
        appid: id.appid.clone(),
        mchid: id.mchid.clone(),
        // The APIv2 face serves a direct merchant only.
        sub_mchid: None,
        sub_appid: None,
        description: body,
        total,
        auth_code: code,
    };
    let mut ledger = lock(&shared.ledger);
    match ledger.pay(new, now) {
        PayOutcome::Paid | PayOutcome::PaidForged => {
            let Some(o) = ledger.order_of(None, &out_trade_no) else {
                return V2Answer::business("SYSTEMERROR", "系统错误");
            };
            let mut f = paid_fields(o);
            for k in ["attach", "device_info"] {
                if let Some(v) = get(k) {
                    f.insert(k.into(), v.clone());
                }
            }
            let forged = o.scenario == Scenario::ForgedAnswer;
            match V2Answer::success(f) {
                V2Answer::Signed { fields, .. } => V2Answer::Signed { fields, forged },
                other => other,
            }
        }
        PayOutcome::UserPaying => V2Answer::business("USERPAYING", "需要用户输入支付密码"),
        PayOutcome::Refused(r) => V2Answer::refusal(&r),
        PayOutcome::Hang => V2Answer::Hang,
    }
}

/// The fields of a paid order, as micropay and orderquery answer them.
fn paid_fields(o: &Order) -> Fields {
    let mut f = Fields::new();
    let mut put = |k: &str, v: String| {
        f.insert(k.into(), v);
    };
    put("openid", o.openid.clone());
    put("is_subscribe", "N".into());
    put("trade_type", "MICROPAY".into());
    put("bank_type", "OTHERS".into());
    put("fee_type", "CNY".into());
    put("total_fee", o.total.to_string());
    put("cash_fee_type", "CNY".into());
    put("cash_fee", o.total.to_string());
    put("out_trade_no", o.out_trade_no.clone());
    if let Some(t) = &o.transaction_id {
        put("transaction_id", t.clone());
    }
    if let Some(paid) = o.paid_ms {
        put("time_end", time_end(paid));
    }
    f
}

/// The order a query, reverse or refund names: `transaction_id` first, then `out_trade_no`.
fn order_no(
    ledger: &mut super::ledger::Ledger,
    req: &Fields,
    now: i64,
) -> Result<String, V2Answer> {
    if let Some(tid) = req.get("transaction_id").filter(|v| !v.is_empty()) {
        return ledger
            .query_by_transaction_id(None, tid, now)
            .map(|o| o.out_trade_no.clone())
            .map_err(|_| V2Answer::business("ORDERNOTEXIST", "此交易订单号不存在"));
    }
    match req.get("out_trade_no").filter(|v| !v.is_empty()) {
        Some(no) if valid_no(no, 32) => Ok(no.clone()),
        Some(_) => Err(param("out_trade_no格式错误")),
        None => Err(param("transaction_id和out_trade_no至少填一个")),
    }
}

fn orderquery(shared: &Shared, req: &Fields, now: i64) -> V2Answer {
    let mut ledger = lock(&shared.ledger);
    let no = match order_no(&mut ledger, req, now) {
        Ok(n) => n,
        Err(a) => return a,
    };
    match ledger.query(None, &no, now) {
        Ok(o) => {
            let mut f = paid_fields(o);
            f.insert("trade_state".into(), o.state.as_str().into());
            f.insert("trade_state_desc".into(), o.state_desc.clone());
            if o.paid_ms.is_none() {
                // Not paid: no payer amounts.
                f.remove("cash_fee");
                f.remove("cash_fee_type");
                f.remove("bank_type");
            }
            V2Answer::success(f)
        }
        Err(_) => V2Answer::business("ORDERNOTEXIST", "此交易订单号不存在"),
    }
}

fn reverse(shared: &Shared, req: &Fields, now: i64) -> V2Answer {
    let mut ledger = lock(&shared.ledger);
    let no = match order_no(&mut ledger, req, now) {
        Ok(n) => n,
        Err(a) => return a,
    };
    let recall = |a: V2Answer, again: bool| match a {
        V2Answer::Signed { mut fields, forged } => {
            fields.insert("recall".into(), if again { "Y" } else { "N" }.into());
            V2Answer::Signed { fields, forged }
        }
        other => other,
    };
    match ledger.reverse(None, &no, now) {
        Ok(()) => recall(V2Answer::success(Fields::new()), false),
        // A system error: the reverse may not have happened; call it again.
        Err(r) if r.code == "SYSTEM_ERROR" => recall(V2Answer::refusal(&r), true),
        Err(r) => recall(V2Answer::refusal(&r), false),
    }
}

fn refund(shared: &Shared, req: &Fields, now: i64) -> V2Answer {
    let get = |k: &str| req.get(k).filter(|v| !v.is_empty());
    for k in ["out_refund_no", "total_fee", "refund_fee"] {
        if get(k).is_none() {
            return lack(k);
        }
    }
    let out_refund_no = get("out_refund_no").cloned().unwrap_or_default();
    if !valid_no(&out_refund_no, 64) {
        return param("out_refund_no应为64个字符内的数字、大小写字母_-|*@");
    }
    let (Some(total), Some(amount)) = (fen(get("total_fee")), fen(get("refund_fee"))) else {
        return param("total_fee和refund_fee应为正整数（分）");
    };
    if get("refund_fee_type").is_some_and(|t| t != "CNY") {
        return param("refund_fee_type只能是CNY");
    }
    let reason = get("refund_desc").cloned();
    if reason.as_ref().is_some_and(|r| r.len() > 80) {
        return param("refund_desc超过80字节");
    }
    let mut ledger = lock(&shared.ledger);
    let no = match order_no(&mut ledger, req, now) {
        Ok(n) => n,
        Err(a) => return a,
    };
    let record = match ledger.refund(None, &no, &out_refund_no, amount, total, reason, now) {
        Ok(r) => r.clone(),
        Err(r) if r.code == "RESOURCE_NOT_EXISTS" => {
            return V2Answer::business(
                "ORDERNOTEXIST",
                "订单号不存在或未支付，未支付的订单不能发起退款",
            );
        }
        Err(r) => return V2Answer::refusal(&r),
    };
    let mut f = Fields::new();
    f.insert("out_trade_no".into(), no.clone());
    if let Some(t) = ledger
        .order_of(None, &no)
        .and_then(|o| o.transaction_id.clone())
    {
        f.insert("transaction_id".into(), t);
    }
    f.insert("out_refund_no".into(), record.out_refund_no.clone());
    f.insert("refund_id".into(), record.refund_id.clone());
    f.insert("refund_fee".into(), record.amount.to_string());
    f.insert("cash_refund_fee".into(), record.amount.to_string());
    f.insert("total_fee".into(), total.to_string());
    f.insert("cash_fee".into(), total.to_string());
    V2Answer::success(f)
}

fn refund_status(r: &RefundRecord) -> &'static str {
    match r.status {
        RefundState::Processing => "PROCESSING",
        RefundState::Success => "SUCCESS",
        // APIv3's ABNORMAL is APIv2's CHANGE (退款异常).
        RefundState::Abnormal => "CHANGE",
    }
}

fn refundquery(shared: &Shared, req: &Fields, now: i64) -> V2Answer {
    let get = |k: &str| req.get(k).filter(|v| !v.is_empty());
    let mut ledger = lock(&shared.ledger);
    ledger.settle(now);
    // The most specific reference wins: refund_id, out_refund_no, transaction_id, out_trade_no.
    let records: Vec<RefundRecord> = if let Some(id) = get("refund_id") {
        ledger
            .refunds()
            .filter(|r| &r.refund_id == id && r.sub_mchid.is_none())
            .cloned()
            .collect()
    } else if let Some(no) = get("out_refund_no") {
        ledger
            .refunds()
            .filter(|r| &r.out_refund_no == no && r.sub_mchid.is_none())
            .cloned()
            .collect()
    } else if get("transaction_id").is_some() || get("out_trade_no").is_some() {
        let no = match order_no(&mut ledger, req, now) {
            Ok(n) => n,
            Err(_) => return V2Answer::business("REFUNDNOTEXIST", "退款单不存在"),
        };
        let mut v: Vec<RefundRecord> = ledger
            .refunds()
            .filter(|r| r.out_trade_no == no && r.sub_mchid.is_none())
            .cloned()
            .collect();
        v.sort_by_key(|r| r.created_ms);
        v
    } else {
        return param("refund_id、out_refund_no、transaction_id、out_trade_no至少填一个");
    };
    let Some(first) = records.first() else {
        return V2Answer::business("REFUNDNOTEXIST", "退款单不存在");
    };
    let Some(order) = ledger.order_of(None, &first.out_trade_no).cloned() else {
        return V2Answer::business("REFUNDNOTEXIST", "退款单不存在");
    };
    let offset: usize = get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
    let page: Vec<&RefundRecord> = records.iter().skip(offset).take(10).collect();
    if page.is_empty() {
        return param("offset超过退款笔数");
    }
    let mut f = Fields::new();
    f.insert("out_trade_no".into(), order.out_trade_no.clone());
    if let Some(t) = &order.transaction_id {
        f.insert("transaction_id".into(), t.clone());
    }
    f.insert("total_fee".into(), order.total.to_string());
    f.insert("cash_fee".into(), order.total.to_string());
    f.insert("fee_type".into(), "CNY".into());
    f.insert(
        "refund_fee".into(),
        records.iter().map(|r| r.amount).sum::<i64>().to_string(),
    );
    f.insert("refund_count".into(), page.len().to_string());
    if get("offset").is_some() {
        f.insert("total_refund_count".into(), records.len().to_string());
    }
    for (n, r) in page.iter().enumerate() {
        let mut put = |k: &str, v: String| {
            f.insert(format!("{k}_{n}"), v);
        };
        put("out_refund_no", r.out_refund_no.clone());
        put("refund_id", r.refund_id.clone());
        put("refund_channel", "ORIGINAL".into());
        put("refund_fee", r.amount.to_string());
        put("settlement_refund_fee", r.amount.to_string());
        put("refund_status", refund_status(r).into());
        put("refund_recv_accout", "支付用户的零钱".into());
        if let Some(t) = r.settled_ms.filter(|_| r.status == RefundState::Success) {
            put("refund_success_time", beijing::datetime(t));
        }
    }
    V2Answer::success(f)
}

fn downloadbill(shared: &Shared, req: &Fields, now: i64) -> V2Answer {
    let bill_fail = |msg: &str, code: &str| {
        let mut extra = Fields::new();
        if !code.is_empty() {
            extra.insert("error_code".into(), code.into());
        }
        V2Answer::Fail {
            return_msg: msg.into(),
            extra,
        }
    };
    let date = req.get("bill_date").cloned().unwrap_or_default();
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return bill_fail("invalid bill_date", "20001");
    }
    let bill_type = match req.get("bill_type").map(String::as_str) {
        None | Some("") | Some("ALL") => BillType::All,
        Some("SUCCESS") => BillType::Success,
        Some("REFUND") => BillType::Refund,
        Some(_) => return bill_fail("invalid bill_type", "20001"),
    };
    if req.get("tar_type").is_some_and(|t| !t.is_empty()) {
        return bill_fail("模拟器只提供未压缩账单，请不要传tar_type", "20001");
    }
    let dashed = format!("{}-{}-{}", &date[0..4], &date[4..6], &date[6..8]);
    match lock(&shared.ledger).trade_bill(None, &dashed, bill_type, now) {
        Some(b) => V2Answer::Bill(bill::render(&b)),
        None => bill_fail("No Bill Exist", "20002"),
    }
}

/// Renders, spoils (faults) and sends an answer.
async fn respond(
    shared: &Shared,
    face: &V2Face,
    sign_type: SignType,
    answer: V2Answer,
    fault: Option<Fault>,
) -> Response {
    if answer == V2Answer::Hang {
        tokio::time::sleep(HANG).await;
        return dropped_with(axum::http::Response::builder().status(200), Vec::new());
    }
    if let Some(Fault::Latency { ms }) = fault {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let forged = matches!(answer, V2Answer::Signed { forged: true, .. })
        || (fault == Some(Fault::WrongSignature) && matches!(answer, V2Answer::Signed { .. }));
    let other;
    let key = if forged {
        other = forger_key();
        &other
    } else {
        &face.key
    };
    let id = &shared.identity;
    let mut body = render(&answer, (&id.appid, &id.mchid), key, sign_type);
    if fault == Some(Fault::GarbledJson) {
        let half = body.len() / 2;
        body.truncate(half);
        body.extend_from_slice(b"\x00\xff");
    }
    let (status, content_type) = match &answer {
        V2Answer::Page(status, _) => (*status, "text/html"),
        V2Answer::Bill(_) => (200, "text/plain; charset=utf-8"),
        _ => (200, "text/xml; charset=utf-8"),
    };
    let builder = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST))
        .header("content-type", content_type);
    if fault == Some(Fault::Drop) {
        return dropped_with(builder, body);
    }
    builder
        .body(Body::from(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// A well-formed key that is not the merchant's, for forged answers.
fn forger_key() -> ApiKey {
    crate::wechat::v2::request::nonce()
        .ok()
        .and_then(|n| ApiKey::new(n).ok())
        .unwrap_or_else(|| {
            // 32 letters: always the right shape.
            ApiKey::new("FORGEDFORGEDFORGEDFORGEDFORGEDFO").expect("a constant 32-letter key")
        })
}

fn plain(status: u16, text: &'static str) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::NOT_FOUND))
        .header("content-type", "text/plain; charset=utf-8")
        .body(Body::from(text))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wechat::v2::answer::{self, Answer};

    fn key() -> ApiKey {
        ApiKey::new("192006250b4c09247ec02edce69f6a2d").unwrap()
    }

    const M: (&str, &str) = ("wx1", "100");

    #[test]
    fn success_answers_are_signed_with_the_request_type_and_read_back() {
        for ty in [SignType::Md5, SignType::HmacSha256] {
            let mut f = Fields::new();
            f.insert("transaction_id".into(), "4200".into());
            let body = render(&V2Answer::success(f), M, &key(), ty);
            let Answer::Success(fields) = answer::read(&body, &key(), ty).unwrap() else {
                panic!("not a success");
            };
            assert_eq!(fields["transaction_id"], "4200");
            assert_eq!(fields["appid"], "wx1");
            assert_eq!(fields["mch_id"], "100");
            assert_eq!(fields["return_msg"], "OK");
            assert_eq!(fields.contains_key("sign_type"), ty == SignType::HmacSha256);
            // The other type does not verify.
            let other = match ty {
                SignType::Md5 => SignType::HmacSha256,
                SignType::HmacSha256 => SignType::Md5,
            };
            assert!(answer::read(&body, &key(), other).is_err());
        }
    }

    #[test]
    fn business_failures_are_signed_and_communication_failures_are_not() {
        let body = render(
            &V2Answer::business("NOTENOUGH", "余额不足"),
            M,
            &key(),
            SignType::Md5,
        );
        let fields = xml::parse(&body).unwrap();
        assert!(fields.contains_key("sign"));
        assert_eq!(fields["return_code"], "SUCCESS");
        assert_eq!(fields["result_code"], "FAIL");
        assert!(matches!(
            answer::read(&body, &key(), SignType::Md5).unwrap(),
            Answer::Business { err_code, .. } if err_code == "NOTENOUGH"
        ));
        let body = render(
            &V2Answer::fail("签名错误，请检查后再试"),
            M,
            &key(),
            SignType::Md5,
        );
        let fields = xml::parse(&body).unwrap();
        assert!(!fields.contains_key("sign"));
        assert!(!fields.contains_key("result_code"));
        assert_eq!(fields["return_code"], "FAIL");
        assert_eq!(fields["return_msg"], "签名错误，请检查后再试");
    }

    #[test]
    fn an_unwritable_echo_becomes_a_communication_failure() {
        let mut f = Fields::new();
        f.insert("attach".into(), "a\rb".into());
        let body = render(&V2Answer::success(f), M, &key(), SignType::Md5);
        let fields = xml::parse(&body).unwrap();
        assert_eq!(fields["return_code"], "FAIL");
        assert!(!fields.contains_key("sign"));
    }

    #[test]
    fn ledger_codes_get_their_v2_spelling() {
        assert_eq!(v2_code("NOT_ENOUGH"), "NOTENOUGH");
        assert_eq!(v2_code("SYSTEM_ERROR"), "SYSTEMERROR");
        assert_eq!(v2_code("ORDER_CLOSED"), "ORDERCLOSED");
        assert_eq!(v2_code("ORDER_NOT_EXIST"), "ORDERNOTEXIST");
        assert_eq!(v2_code("AUTHCODEEXPIRE"), "AUTHCODEEXPIRE");
        assert_eq!(v2_code("ORDERPAID"), "ORDERPAID");
        assert_eq!(time_end(1_560_268_800_000), "20190612000000");
        assert!(valid_no("A-1|*@_", 32));
        assert!(!valid_no("A 1", 32));
        assert_eq!(fen(Some(&"12".to_string())), Some(12));
        assert_eq!(fen(Some(&"0".to_string())), None);
        assert_eq!(fen(Some(&"1.5".to_string())), None);
    }

    #[test]
    fn the_forger_key_is_not_the_merchant_key() {
        let f = Fields::new();
        let body = render(&V2Answer::success(f), M, &forger_key(), SignType::Md5);
        assert_eq!(
            answer::read(&body, &key(), SignType::Md5),
            Err(answer::AnswerError::BadSignature)
        );
    }
}
