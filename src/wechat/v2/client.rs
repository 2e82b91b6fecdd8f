//! The APIv2 wire of [`Client`]'s typed calls (`docs/protocol.md`, "APIv2 wiring").
//!
//! [`Client::pay`] and the other calls dispatch here when [`Settings::protocol`] is
//! [`Protocol::V2`]: the request is built with [`super::request`], POSTed as `text/xml` over the
//! same routes as APIv3 (the pay call to the backup host only when nothing was sent, the refund
//! once, queries and reverse with failover), and the answer read with [`super::answer::read`]
//! (signature checked with the same key and sign type). What comes back is the same model
//! APIv3 gives — [`Transaction`], [`PayAnswer`], [`ReverseAnswer`], [`Refund`], [`ApiError`]
//! with its [`Call`] advice — so the engine does not know which API it spoke.
//!
//! `/secapi/*` (reverse, refund) goes through a second HTTP client, the only one that presents
//! the merchant's client certificate; every other call is sent without it.

use reqwest::Url;

use super::Fields;
use super::answer::{self, Answer, AnswerError};
use super::request::{self, Merchant, RequestError, V2Request};
use crate::wechat::bill::BillType;
use crate::wechat::client::{
    ApiError, Client, MAX_BILL_BYTES, PayAnswer, RawAnswer, Route, TransportKind, V2Settings,
    read_capped, transport,
};
use crate::wechat::model::{
    ErrorCode, Refund, RefundAmount, RefundRequest, RefundStatus, ReverseAnswer, TradeState,
    Transaction,
};
use crate::wechat::partner::{OrderRef, Party, PayRequest};
use crate::wechat::sign::VerifyError;

#[cfg(doc)]
use crate::wechat::client::Protocol;
#[cfg(doc)]
use crate::wechat::model::Call;

/// The `Content-Type` of every APIv2 request.
pub const CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// A request with the party's sub-merchant fields: a service provider's requests carry
/// `sub_mch_id` (and `sub_appid` when bound) besides its own `appid`/`mch_id`.
struct ForParty<'a, R> {
    request: &'a R,
    party: &'a Party,
}

impl<R: V2Request> V2Request for ForParty<'_, R> {
    const PATH: &'static str = R::PATH;
    const CLIENT_CERT: bool = R::CLIENT_CERT;
    fn fields(&self) -> Result<Fields, RequestError> {
        let mut f = self.request.fields()?;
        if let Party::Partner {
            sub_mchid,
            sub_appid,
            ..
        } = self.party
        {
            f.insert("sub_mch_id".into(), sub_mchid.clone());
            if let Some(a) = sub_appid {
                f.insert("sub_appid".into(), a.clone());
            }
        }
        Ok(f)
    }
}

/// The `appid`/`mch_id` every request carries: the merchant's, or the service provider's.
pub fn merchant(party: &Party) -> Merchant {
    match party {
        Party::Direct { mchid, appid } => Merchant {
            appid: appid.clone(),
            mch_id: mchid.clone(),
        },
        Party::Partner {
            sp_mchid, sp_appid, ..
        } => Merchant {
            appid: sp_appid.clone(),
            mch_id: sp_mchid.clone(),
        },
    }
}

/// The signed XML body of `request` for `party`.
pub fn body<R: V2Request>(
    request: &R,
    party: &Party,
    v2: &V2Settings,
    nonce: &str,
) -> Result<String, ApiError> {
    request::signed_xml(
        &ForParty { request, party },
        &merchant(party),
        nonce,
        &v2.key,
        v2.sign_type,
    )
    .map_err(|e| ApiError::Request(e.to_string()))
}

fn bad_request(e: RequestError) -> ApiError {
    ApiError::Request(e.to_string())
}

/// The micropay request for an APIv3-shaped pay request (the engine builds one shape; the
/// wire decides the fields): `description` → `body`, `amount.total` → `total_fee`,
/// `scene_info.device_ip` → `spbill_create_ip`, `scene_info.device_id` → `device_info`, the
/// store as `scene_info` JSON (`{"store_info":{"id":…}}`, the micropay page's shape).
pub fn micropay(req: &PayRequest) -> Result<request::Micropay, ApiError> {
    let (description, out_trade_no, attach, payer, amount, scene) = match req {
        PayRequest::Direct(r) => (
            &r.description,
            &r.out_trade_no,
            &r.attach,
            &r.payer,
            &r.amount,
            &r.scene_info,
        ),
        PayRequest::Partner(r) => (
            &r.description,
            &r.out_trade_no,
            &r.attach,
            &r.payer,
            &r.amount,
            &r.scene_info,
        ),
    };
    let total_fee = u64::try_from(amount.total)
        .map_err(|_| ApiError::Request("a negative amount cannot be paid".into()))?;
    let store_id = scene
        .store_info
        .out_id
        .as_deref()
        .or(scene.store_info.id.as_deref());
    let scene_info =
        store_id.map(|id| serde_json::json!({ "store_info": { "id": id } }).to_string());
    Ok(request::Micropay {
        body: description.clone(),
        out_trade_no: out_trade_no.clone(),
        total_fee,
        spbill_create_ip: scene.device_ip.clone().unwrap_or_default(),
        auth_code: payer.auth_code.clone(),
        device_info: scene.device_id.clone(),
        attach: attach.clone(),
        fee_type: amount.currency.clone(),
        scene_info,
        ..request::Micropay::default()
    })
}

/// An answer body, read and verified, as fields or an error: a business failure is
/// [`ApiError::Service`] (`verified: true`, the APIv2 spelling kept), a communication failure
/// an unverified [`ApiError::Service`] with the `return_code` as its code (what it means for
/// each call: outcome unknown for a pay, retry for the others), a missing or wrong signature
/// [`ApiError::Unverified`], anything unreadable [`ApiError::Malformed`].
pub fn read(raw_status: u16, body: &[u8], v2: &V2Settings) -> Result<Fields, ApiError> {
    let malformed = |detail: String| ApiError::Malformed {
        status: raw_status,
        detail,
    };
    match answer::read(body, &v2.key, v2.sign_type) {
        Ok(Answer::Success(f)) => Ok(f),
        Ok(Answer::Business {
            code,
            err_code,
            description,
            ..
        }) => Err(ApiError::Service {
            status: raw_status,
            v2_spelling: code.as_str() != err_code,
            code,
            message: description,
            detail: Some(serde_json::json!({ "err_code": err_code })),
            verified: true,
            request_id: None,
        }),
        Ok(Answer::Communication {
            return_code,
            return_msg,
        }) => Err(ApiError::Service {
            status: raw_status,
            code: ErrorCode::Other(return_code),
            v2_spelling: true,
            message: return_msg,
            detail: None,
            verified: false,
            request_id: None,
        }),
        Err(AnswerError::Unsigned) => Err(VerifyError::MissingHeader("sign").into()),
        Err(AnswerError::BadSignature) => Err(VerifyError::BadSignature.into()),
        Err(e @ (AnswerError::Xml(_) | AnswerError::NoReturnCode | AnswerError::NoResultCode)) => {
            Err(malformed(e.to_string()))
        }
    }
}

/// A service provider's answer names the provider `appid`/`mch_id` and the sub-merchant
/// `sub_mch_id`; the shared model (and its party check) calls the provider `sp_*`.
fn as_party(party: &Party, mut t: Transaction) -> Result<Transaction, ApiError> {
    if matches!(party, Party::Partner { .. }) {
        t.sp_mchid = t.mchid.take();
        t.sp_appid = t.appid.take();
    }
    party.check_transaction(&t)?;
    Ok(t)
}

fn field_error(e: answer::FieldError) -> ApiError {
    ApiError::Malformed {
        status: 200,
        detail: e.to_string(),
    }
}

/// The micropay answer: both codes `SUCCESS` is paid; `USERPAYING` (verified) is
/// [`PayAnswer::UserPaying`]; every other failure is an error whose advice the engine follows
/// (`SYSTEMERROR`, `BANKERROR`, unknown codes and communication failures: query; definite
/// refusals: failed).
pub fn pay_answer(party: &Party, answer: Result<Fields, ApiError>) -> Result<PayAnswer, ApiError> {
    match answer {
        Ok(f) => {
            let t = as_party(party, answer::paid_transaction(&f).map_err(field_error)?)?;
            Ok(if t.trade_state == TradeState::Success {
                PayAnswer::Paid(t)
            } else {
                PayAnswer::NotFinal(t)
            })
        }
        Err(ApiError::Service {
            code: ErrorCode::UserPaying,
            verified: true,
            ..
        }) => Ok(PayAnswer::UserPaying),
        Err(e) => Err(e),
    }
}

/// The order query's answer (`ORDERNOTEXIST` stays a verified [`ErrorCode::OrderNotExist`]).
pub fn query_answer(
    party: &Party,
    answer: Result<Fields, ApiError>,
) -> Result<Transaction, ApiError> {
    as_party(
        party,
        answer::queried_transaction(&answer?).map_err(field_error)?,
    )
}

/// What `recall=Y` becomes: a reverse that must be called again ([`Call::Reverse`] advice
/// `Retry`).
pub const RECALL: &str = "RECALL_Y";

/// The reverse answer. Success with `recall=N` is done; `recall=Y` (or absent), on success or
/// failure, means "call reverse again" and is an error whose advice is `Retry`.
pub fn reverse_answer(
    party: &Party,
    out_trade_no: &str,
    status: u16,
    answer: Result<Fields, ApiError>,
) -> Result<ReverseAnswer, ApiError> {
    let recall = |message: String| ApiError::Service {
        status,
        code: ErrorCode::Other(RECALL.into()),
        v2_spelling: true,
        message,
        detail: None,
        verified: true,
        request_id: None,
    };
    match answer {
        Ok(f) if answer::reverse_again(&f) => Err(recall("recall=Y: call reverse again".into())),
        Ok(f) => {
            let get = |k: &str| f.get(k).filter(|v| !v.is_empty()).cloned();
            let (own_appid, own_mchid) = (get("appid"), get("mch_id"));
            let partner = matches!(party, Party::Partner { .. });
            let a = ReverseAnswer {
                appid: if partner { None } else { own_appid.clone() },
                mchid: if partner { None } else { own_mchid.clone() },
                sp_appid: if partner { own_appid } else { None },
                sp_mchid: if partner { own_mchid } else { None },
                sub_appid: get("sub_appid"),
                sub_mchid: get("sub_mch_id"),
                out_trade_no: Some(out_trade_no.to_string()),
            };
            party.check_reverse(&a)?;
            Ok(a)
        }
        // A failure that still asks to be called again: retry, whatever the code.
        Err(ApiError::Service {
            verified: true,
            detail,
            message,
            ..
        }) if detail
            .as_ref()
            .is_some_and(|d| d.get("recall").and_then(|v| v.as_str()) == Some("Y")) =>
        {
            Err(recall(message))
        }
        Err(e) => Err(e),
    }
}

/// [`read`] for the reverse: a verified failure keeps its `recall` (in the error's `detail`),
/// which [`reverse_answer`] obeys.
pub fn read_reverse(status: u16, body: &[u8], v2: &V2Settings) -> Result<Fields, ApiError> {
    match read(status, body, v2) {
        Err(ApiError::Service {
            status,
            code,
            v2_spelling,
            message,
            verified: true,
            request_id,
            ..
        }) => {
            // Verified just now by `read`: the fields can be taken from the same body.
            let recall = super::xml::parse(body)
                .ok()
                .and_then(|f| f.get("recall").cloned());
            Err(ApiError::Service {
                status,
                detail: Some(serde_json::json!({
                    "err_code": code.spelled(v2_spelling),
                    "recall": recall,
                })),
                code,
                v2_spelling,
                message,
                verified: true,
                request_id,
            })
        }
        other => other,
    }
}

/// Checks an answer's `appid`/`mch_id`/`sub_mch_id` against the party (refund answers).
fn check_named(party: &Party, f: &Fields) -> Result<(), ApiError> {
    reverse_answer(party, "", 200, Ok(with_recall_n(f))).map(|_| ())
}

fn with_recall_n(f: &Fields) -> Fields {
    let mut f = f.clone();
    f.insert("recall".into(), "N".into());
    f
}

fn fen(f: &Fields, k: &'static str) -> Result<Option<i64>, ApiError> {
    match f.get(k).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if v.bytes().all(|b| b.is_ascii_digit()) => v
            .parse()
            .map(Some)
            .map_err(|_| field_error(answer::FieldError::Amount(k))),
        Some(_) => Err(field_error(answer::FieldError::Amount(k))),
    }
}

/// The refund request for the shared model's refund.
pub fn refund_request(req: &RefundRequest) -> Result<request::Refund, ApiError> {
    let order = match (&req.transaction_id, &req.out_trade_no) {
        (Some(id), _) => request::OrderRef::TransactionId(id.clone()),
        (None, Some(no)) => request::OrderRef::OutTradeNo(no.clone()),
        (None, None) => {
            return Err(ApiError::Request(
                "a refund names its order (transaction_id or out_trade_no)".into(),
            ));
        }
    };
    let fen = |v: i64, what: &str| {
        u64::try_from(v).map_err(|_| ApiError::Request(format!("{what} is negative")))
    };
    Ok(request::Refund {
        order,
        out_refund_no: req.out_refund_no.clone(),
        total_fee: fen(req.amount.total, "total")?,
        refund_fee: fen(req.amount.refund, "refund")?,
        refund_desc: req.reason.clone(),
        notify_url: None,
    })
}

/// The refund answer: accepted means the refund is under way (`PROCESSING`); the refund query
/// says how it ends (ref §9.4: a refund is followed by query, as in APIv3).
pub fn refund_answer(
    party: &Party,
    out_refund_no: &str,
    answer: Result<Fields, ApiError>,
) -> Result<Refund, ApiError> {
    let f = answer?;
    check_named(party, &f)?;
    let get = |k: &str| f.get(k).filter(|v| !v.is_empty()).cloned();
    if let Some(no) = get("out_refund_no")
        && no != out_refund_no
    {
        return Err(ApiError::Malformed {
            status: 200,
            detail: format!("the answer is about refund {no:?}, not {out_refund_no:?}"),
        });
    }
    Ok(Refund {
        refund_id: get("refund_id"),
        out_refund_no: out_refund_no.to_string(),
        transaction_id: get("transaction_id"),
        out_trade_no: get("out_trade_no"),
        channel: get("refund_channel"),
        user_received_account: None,
        success_time: None,
        create_time: None,
        status: RefundStatus::Processing,
        amount: Some(RefundAmount {
            total: fen(&f, "total_fee")?.unwrap_or_default(),
            refund: fen(&f, "refund_fee")?.unwrap_or_default(),
            payer_total: fen(&f, "cash_fee")?,
            payer_refund: fen(&f, "cash_refund_fee")?,
            currency: get("fee_type"),
        }),
    })
}

/// An APIv2 `refund_status_$n` as the shared status: `SUCCESS`, `REFUNDCLOSE` → closed,
/// `PROCESSING`, `CHANGE` (the bank refused; handled by hand) → abnormal.
pub fn refund_status(s: &str) -> RefundStatus {
    match s {
        "SUCCESS" => RefundStatus::Success,
        "REFUNDCLOSE" => RefundStatus::Closed,
        "PROCESSING" => RefundStatus::Processing,
        "CHANGE" => RefundStatus::Abnormal,
        other => RefundStatus::Other(other.to_string()),
    }
}

/// The refund query's answer: the refund numbered `out_refund_no` among the `_$n` lists (an
/// order can have several; queried by `out_refund_no`, the service lists that one).
pub fn refund_query_answer(
    party: &Party,
    out_refund_no: &str,
    answer: Result<Fields, ApiError>,
) -> Result<Refund, ApiError> {
    let f = answer?;
    check_named(party, &f)?;
    let count: usize = f
        .get("refund_count")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let n = (0..count.min(50))
        .find(|n| f.get(&format!("out_refund_no_{n}")).map(String::as_str) == Some(out_refund_no))
        .ok_or_else(|| ApiError::Malformed {
            status: 200,
            detail: format!("the refund query does not list refund {out_refund_no:?}"),
        })?;
    let get = |k: &str| f.get(k).filter(|v| !v.is_empty()).cloned();
    let nth = |k: &str| get(&format!("{k}_{n}"));
    let status = nth("refund_status")
        .map(|s| refund_status(&s))
        .ok_or_else(|| ApiError::Malformed {
            status: 200,
            detail: format!("refund_status_{n} is missing"),
        })?;
    let success_time = nth("refund_success_time")
        .map(|t| beijing_time(&t))
        .transpose()?;
    let refund = match nth("refund_fee") {
        None => None,
        Some(v) if v.bytes().all(|b| b.is_ascii_digit()) => Some(
            v.parse::<i64>()
                .map_err(|_| field_error(answer::FieldError::Amount("refund_fee_$n")))?,
        ),
        Some(_) => return Err(field_error(answer::FieldError::Amount("refund_fee_$n"))),
    };
    Ok(Refund {
        refund_id: nth("refund_id"),
        out_refund_no: out_refund_no.to_string(),
        transaction_id: get("transaction_id"),
        out_trade_no: get("out_trade_no"),
        channel: nth("refund_channel"),
        user_received_account: nth("refund_recv_accout"),
        success_time,
        create_time: None,
        status,
        amount: Some(RefundAmount {
            total: fen(&f, "total_fee")?.unwrap_or_default(),
            refund: refund.unwrap_or_default(),
            payer_total: fen(&f, "cash_fee")?,
            payer_refund: None,
            currency: get("fee_type"),
        }),
    })
}

/// `2016-07-25 15:26:26` (Beijing time, the refund query's `refund_success_time_$n`) as RFC 3339.
fn beijing_time(t: &str) -> Result<String, ApiError> {
    let dt: jiff::civil::DateTime = t.trim().parse().map_err(|_| ApiError::Malformed {
        status: 200,
        detail: format!("refund_success_time {t:?} is not a time"),
    })?;
    Ok(format!("{}+08:00", dt.strftime("%Y-%m-%dT%H:%M:%S")))
}

/// The bill answer: the bill text itself, or an XML failure. `No Bill Exist` (a day without
/// trades) is [`ErrorCode::NoStatementExist`], `Bill Creating` [`ErrorCode::StatementCreating`],
/// as APIv3 says them.
pub fn bill_answer(status: u16, body: Vec<u8>, v2: &V2Settings) -> Result<Vec<u8>, ApiError> {
    // As the official SDK tells them apart: an answer whose text starts with `<` is the XML
    // failure, anything else the bill ([sdk-java] `WXPay.downloadBill`).
    let head = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    if !body[head..].starts_with(b"<") {
        if !(200..300).contains(&status) {
            return Err(ApiError::Malformed {
                status,
                detail: "the bill download failed".into(),
            });
        }
        return Ok(body);
    }
    match read(status, &body, v2) {
        Ok(_) => Err(ApiError::Malformed {
            status,
            detail: "the bill answer is XML without a bill".into(),
        }),
        Err(ApiError::Service {
            code: ErrorCode::Other(c),
            message,
            verified,
            request_id,
            detail,
            ..
        }) => {
            let m = message.to_ascii_lowercase();
            let code = if m.contains("no bill exist") {
                ErrorCode::NoStatementExist
            } else if m.contains("bill creating") {
                ErrorCode::StatementCreating
            } else {
                ErrorCode::Other(c)
            };
            Err(ApiError::Service {
                status,
                code,
                v2_spelling: true,
                message,
                detail,
                verified,
                request_id,
            })
        }
        Err(e) => Err(e),
    }
}

impl Client {
    /// The APIv2 settings, or an error for a call that only APIv2 has.
    fn v2_settings(&self) -> Result<&V2Settings, ApiError> {
        match &self.settings.protocol {
            crate::wechat::client::Protocol::V2(v2) => Ok(v2),
            crate::wechat::client::Protocol::V3 => {
                Err(ApiError::Request("an APIv2 call on an APIv3 client".into()))
            }
        }
    }

    /// Signs `request` and POSTs it to the hosts `route` allows (only a transport failure
    /// moves on, and for the pay call only one that never connected). `/secapi/*` requests
    /// go through the client that presents the client certificate; without one they are
    /// refused before anything is sent.
    async fn v2_post<R: V2Request>(
        &self,
        request: &R,
        route: Route,
    ) -> Result<RawAnswer, ApiError> {
        let v2 = self.v2_settings()?;
        let nonce = request::nonce().map_err(bad_request)?;
        let xml = body(request, &self.settings.party, v2, &nonce)?;
        let http = if R::CLIENT_CERT {
            self.secapi.as_ref().ok_or_else(|| {
                ApiError::Request(format!(
                    "{} needs the client certificate (wechatpay.client_certificate)",
                    R::PATH
                ))
            })?
        } else {
            &self.http
        };
        let only_unsent = route.moves_on_only_when_unsent();
        let (bases, cap) = route.targets(&self.settings);
        let mut last_err = None;
        for base in bases {
            let url = v2_url(&base, R::PATH)?;
            let sent = http
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
                .body(xml.clone())
                .send()
                .await
                .map_err(transport);
            let raw = match sent {
                Ok(resp) => read_capped(resp, cap).await,
                Err(e) => Err(e),
            };
            match raw {
                Ok(raw) => {
                    tracing::debug!(status = %raw.status, path = R::PATH, "APIv2 answer");
                    return Ok(raw);
                }
                Err(e @ ApiError::Transport { kind, .. }) => {
                    tracing::warn!(host = %base, error = %e, "request failed");
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

    async fn v2_fields<R: V2Request>(
        &self,
        v2: &V2Settings,
        request: &R,
        route: Route,
    ) -> Result<(u16, Result<Fields, ApiError>), ApiError> {
        let raw = self.v2_post(request, route).await?;
        let status = raw.status.as_u16();
        Ok((status, read(status, &raw.body, v2)))
    }

    pub(in crate::wechat) async fn v2_pay(
        &self,
        v2: &V2Settings,
        req: &PayRequest,
    ) -> Result<PayAnswer, ApiError> {
        // The same party rule as APIv3: a request of the other kind is never sent.
        req.wire(&self.settings.party)?;
        let m = micropay(req)?;
        let (_, answer) = self
            .v2_fields(v2, &m, Route::MainThenBackupIfUnsent)
            .await?;
        pay_answer(&self.settings.party, answer)
    }

    pub(in crate::wechat) async fn v2_query(
        &self,
        v2: &V2Settings,
        order: OrderRef<'_>,
    ) -> Result<Transaction, ApiError> {
        let order = match order {
            OrderRef::OutTradeNo(no) => request::OrderRef::OutTradeNo(no.into()),
            OrderRef::TransactionId(id) => request::OrderRef::TransactionId(id.into()),
        };
        let (_, answer) = self
            .v2_fields(v2, &request::OrderQuery { order }, Route::Failover)
            .await?;
        query_answer(&self.settings.party, answer)
    }

    pub(in crate::wechat) async fn v2_reverse(
        &self,
        v2: &V2Settings,
        out_trade_no: &str,
    ) -> Result<ReverseAnswer, ApiError> {
        let r = request::Reverse {
            order: request::OrderRef::OutTradeNo(out_trade_no.into()),
        };
        let raw = self.v2_post(&r, Route::Failover).await?;
        let status = raw.status.as_u16();
        let answer = read_reverse(status, &raw.body, v2);
        reverse_answer(&self.settings.party, out_trade_no, status, answer)
    }

    pub(in crate::wechat) async fn v2_refund(
        &self,
        v2: &V2Settings,
        req: &RefundRequest,
    ) -> Result<Refund, ApiError> {
        let r = refund_request(req)?;
        let (_, answer) = self.v2_fields(v2, &r, Route::MainOnly).await?;
        refund_answer(&self.settings.party, &req.out_refund_no, answer)
    }

    pub(in crate::wechat) async fn v2_query_refund(
        &self,
        v2: &V2Settings,
        out_refund_no: &str,
    ) -> Result<Refund, ApiError> {
        let q = request::RefundQuery {
            refund: request::RefundRef::OutRefundNo(out_refund_no.into()),
            offset: None,
        };
        let (_, answer) = self.v2_fields(v2, &q, Route::Failover).await?;
        refund_query_answer(&self.settings.party, out_refund_no, answer)
    }

    pub(in crate::wechat) async fn v2_bill(
        &self,
        v2: &V2Settings,
        bill_date: &str,
        bill_type: BillType,
    ) -> Result<Vec<u8>, ApiError> {
        let date: String = bill_date.chars().filter(|c| *c != '-').collect();
        let d = request::DownloadBill {
            bill_date: date,
            bill_type: match bill_type {
                BillType::All => request::BillType::All,
                BillType::Success => request::BillType::Success,
                BillType::Refund => request::BillType::Refund,
            },
        };
        let raw = self
            .v2_post(
                &d,
                Route::FailoverWithCap {
                    max_bytes: MAX_BILL_BYTES,
                },
            )
            .await?;
        bill_answer(raw.status.as_u16(), raw.body, v2)
    }
}

fn v2_url(base: &Url, path: &str) -> Result<Url, ApiError> {
    let text = format!("{}{}", base.as_str().trim_end_matches('/'), path);
    Url::parse(&text).map_err(|e| ApiError::Request(format!("{text}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wechat::model::{Advice, Call, CodepayPayer, CodepayRequest, RefundRequestAmount};
    use crate::wechat::model::{RequestAmount, SceneInfo, StoreInfo};
    use crate::wechat::v2::sign::{self, ApiKey, SignType};
    use crate::wechat::v2::xml;

    const KEY: &str = "192006250b4c09247ec02edce69f6a2d";

    fn v2(sign_type: SignType) -> V2Settings {
        V2Settings {
            key: ApiKey::new(KEY).unwrap(),
            sign_type,
            client_identity: None,
        }
    }

    fn direct() -> Party {
        Party::Direct {
            mchid: "1900000001".into(),
            appid: "wx0000000000000001".into(),
        }
    }

    fn partner() -> Party {
        Party::Partner {
            sp_mchid: "1900000100".into(),
            sp_appid: "wx00000000000000sp".into(),
            sub_mchid: "1900000109".into(),
            sub_appid: None,
        }
    }

    /// A signed answer body (HMAC-SHA256 unless said), as the service would send it.
    fn signed(pairs: &[(&str, &str)], ty: SignType) -> Vec<u8> {
        let mut f: Fields = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        f.insert(
            "sign".into(),
            sign::sign(&f, &ApiKey::new(KEY).unwrap(), ty),
        );
        xml::write(&f).unwrap().into_bytes()
    }

    fn ok(extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = [
            ("return_code", "SUCCESS"),
            ("return_msg", "OK"),
            ("appid", "wx0000000000000001"),
            ("mch_id", "1900000001"),
            ("nonce_str", "n0nce"),
            ("result_code", "SUCCESS"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, val) in extra {
            v.retain(|(kk, _)| kk != k);
            v.push((k.to_string(), val.to_string()));
        }
        v
    }

    fn body_of(pairs: &[(String, String)]) -> Vec<u8> {
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        signed(&refs, SignType::HmacSha256)
    }

    fn fail(err_code: &str, extra: &[(&str, &str)]) -> Vec<u8> {
        let mut e = vec![
            ("result_code", "FAIL"),
            ("err_code", err_code),
            ("err_code_des", "d"),
        ];
        e.extend_from_slice(extra);
        body_of(&ok(&e))
    }

    fn settings() -> V2Settings {
        v2(SignType::HmacSha256)
    }

    fn paid_fields() -> Vec<(String, String)> {
        ok(&[
            ("out_trade_no", "POS01A0001"),
            ("transaction_id", "4200000001"),
            ("trade_type", "MICROPAY"),
            ("total_fee", "888"),
            ("cash_fee", "888"),
            ("fee_type", "CNY"),
            ("openid", "oUpF8"),
            ("bank_type", "CMC"),
            ("time_end", "20261130193525"),
        ])
    }

    fn pay(body: &[u8]) -> Result<PayAnswer, ApiError> {
        pay_answer(&direct(), read(200, body, &settings()))
    }

    #[test]
    fn micropay_success_is_paid_with_the_shared_model() {
        let Ok(PayAnswer::Paid(t)) = pay(&body_of(&paid_fields())) else {
            panic!("not paid");
        };
        assert_eq!(t.transaction_id.as_deref(), Some("4200000001"));
        assert_eq!(t.amount.and_then(|a| a.total), Some(888));
        assert_eq!(t.success_time.as_deref(), Some("2026-11-30T19:35:25+08:00"));
        // Verified with the configured type only: an MD5-signed answer does not pass.
        let pairs = paid_fields();
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let md5 = signed(&refs, SignType::Md5);
        let e = pay(&md5).unwrap_err();
        assert!(matches!(e, ApiError::Unverified(_)), "{e:?}");
        assert_eq!(e.advice(Call::Pay), Advice::Query);
    }

    #[test]
    fn userpaying_systemerror_and_bankerror_mean_query() {
        assert_eq!(
            pay(&fail("USERPAYING", &[])).unwrap(),
            PayAnswer::UserPaying
        );
        for code in ["SYSTEMERROR", "BANKERROR", "SOMETHING_NEW"] {
            let e = pay(&fail(code, &[])).unwrap_err();
            assert_eq!(e.advice(Call::Pay), Advice::Query, "{code}");
            assert_eq!(e.wire_code(), Some(code), "{code}");
        }
    }

    #[test]
    fn definite_refusals_fail_the_payment_with_the_v2_spelling() {
        for code in [
            "NOTENOUGH",
            "AUTHCODEEXPIRE",
            "AUTH_CODE_INVALID",
            "ORDERCLOSED",
            "NOAUTH",
            "PARAM_ERROR",
        ] {
            let e = pay(&fail(code, &[])).unwrap_err();
            assert_eq!(e.advice(Call::Pay), Advice::Failed, "{code}");
            assert_eq!(e.wire_code(), Some(code), "{code}");
            assert!(matches!(e, ApiError::Service { verified: true, .. }));
        }
    }

    #[test]
    fn an_unsigned_or_forged_answer_never_decides_money() {
        // A "refusal" without a signature: untrusted, so the payment is queried.
        let unsigned = b"<xml><return_code>SUCCESS</return_code><result_code>FAIL</result_code>\
                         <err_code>NOTENOUGH</err_code></xml>";
        let e = pay(unsigned).unwrap_err();
        assert!(matches!(e, ApiError::Unverified(_)), "{e:?}");
        assert_eq!(e.advice(Call::Pay), Advice::Query);
        // A paid answer altered after signing.
        let forged = String::from_utf8(body_of(&paid_fields()))
            .unwrap()
            .replace("888", "1");
        let e = pay(forged.as_bytes()).unwrap_err();
        assert!(matches!(e, ApiError::Unverified(_)), "{e:?}");
        // A FAIL at the communication level: unknown for a pay, retry for the others.
        let comm = b"<xml><return_code>FAIL</return_code><return_msg>sign error</return_msg></xml>";
        let e = pay(comm).unwrap_err();
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
        let e = read(200, comm, &settings()).unwrap_err();
        assert_eq!(e.advice(Call::Reverse), Advice::Retry);
        assert_eq!(e.advice(Call::Refund), Advice::Retry);
        // Not XML at all (a proxy's error page).
        let e = pay(b"<html>502</html>").unwrap_err();
        assert!(matches!(e, ApiError::Malformed { .. }), "{e:?}");
    }

    #[test]
    fn an_answer_about_another_merchant_is_not_a_result() {
        let other = body_of(&ok(&[
            ("mch_id", "1900000999"),
            ("out_trade_no", "POS01A0001"),
            ("total_fee", "1"),
        ]));
        assert!(matches!(
            pay(&other),
            Err(ApiError::WrongParty { field: "mchid", .. })
        ));
        // A service provider's answer names the provider and the sub-merchant.
        let mine = body_of(&ok(&[
            ("appid", "wx00000000000000sp"),
            ("mch_id", "1900000100"),
            ("sub_mch_id", "1900000109"),
            ("trade_state", "SUCCESS"),
        ]));
        let t = query_answer(&partner(), read(200, &mine, &settings())).unwrap();
        assert_eq!(t.sp_mchid.as_deref(), Some("1900000100"));
        assert_eq!(t.sub_mchid.as_deref(), Some("1900000109"));
        assert_eq!(t.mchid, None);
        let theirs = body_of(&ok(&[
            ("appid", "wx00000000000000sp"),
            ("mch_id", "1900000100"),
            ("sub_mch_id", "1900000110"),
            ("trade_state", "SUCCESS"),
        ]));
        assert!(matches!(
            query_answer(&partner(), read(200, &theirs, &settings())),
            Err(ApiError::WrongParty {
                field: "sub_mchid",
                ..
            })
        ));
    }

    #[test]
    fn query_states_and_a_verified_missing_order() {
        for (state, want) in [
            ("SUCCESS", TradeState::Success),
            ("USERPAYING", TradeState::UserPaying),
            ("PAYERROR", TradeState::PayError),
            ("REVOKED", TradeState::Revoked),
            ("NOTPAY", TradeState::NotPay),
        ] {
            let b = body_of(&ok(&[("trade_state", state), ("out_trade_no", "A1")]));
            let t = query_answer(&direct(), read(200, &b, &settings())).unwrap();
            assert_eq!(t.trade_state, want);
        }
        let e = query_answer(
            &direct(),
            read(200, &fail("ORDERNOTEXIST", &[]), &settings()),
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                ApiError::Service {
                    code: ErrorCode::OrderNotExist,
                    verified: true,
                    ..
                }
            ),
            "{e:?}"
        );
        assert_eq!(e.wire_code(), Some("ORDERNOTEXIST"));
        let e =
            query_answer(&direct(), read(200, &fail("SYSTEMERROR", &[]), &settings())).unwrap_err();
        assert_eq!(e.advice(Call::Query), Advice::Retry);
    }

    fn reverse(body: &[u8]) -> Result<ReverseAnswer, ApiError> {
        reverse_answer(&direct(), "A1", 200, read_reverse(200, body, &settings()))
    }

    #[test]
    fn reverse_recall_y_is_retried_and_recall_n_is_done() {
        let done = reverse(&body_of(&ok(&[("recall", "N")]))).unwrap();
        assert_eq!(done.out_trade_no.as_deref(), Some("A1"));
        assert_eq!(done.mchid.as_deref(), Some("1900000001"));
        let again = reverse(&body_of(&ok(&[("recall", "Y")]))).unwrap_err();
        assert_eq!(again.advice(Call::Reverse), Advice::Retry);
        assert_eq!(again.wire_code(), Some(RECALL));
        // A failure that asks for another call is retried even with a definite-looking code.
        let e = reverse(&fail("REVERSE_EXPIRE", &[("recall", "Y")])).unwrap_err();
        assert_eq!(e.advice(Call::Reverse), Advice::Retry);
        let e = reverse(&fail("REVERSE_EXPIRE", &[("recall", "N")])).unwrap_err();
        assert_eq!(e.advice(Call::Reverse), Advice::Failed);
        let e = reverse(&fail("SYSTEMERROR", &[("recall", "Y")])).unwrap_err();
        assert_eq!(e.advice(Call::Reverse), Advice::Retry);
        let e = reverse(&fail("ORDERNOTEXIST", &[("recall", "N")])).unwrap_err();
        assert_eq!(e.code(), Some(&ErrorCode::OrderNotExist));
    }

    fn refund_req() -> RefundRequest {
        RefundRequest {
            transaction_id: None,
            out_trade_no: Some("A1".into()),
            out_refund_no: "A1R1".into(),
            reason: None,
            amount: RefundRequestAmount {
                refund: 300,
                total: 888,
                currency: "CNY".into(),
            },
        }
    }

    #[test]
    fn refund_accepted_is_processing_and_its_request_is_typed() {
        let r = refund_request(&refund_req()).unwrap();
        assert_eq!((r.total_fee, r.refund_fee), (888, 300));
        assert_eq!(r.order, request::OrderRef::OutTradeNo("A1".into()));
        let b = body_of(&ok(&[
            ("out_refund_no", "A1R1"),
            ("refund_id", "50000001"),
            ("total_fee", "888"),
            ("refund_fee", "300"),
            ("cash_fee", "888"),
        ]));
        let got = refund_answer(&direct(), "A1R1", read(200, &b, &settings())).unwrap();
        assert_eq!(got.status, RefundStatus::Processing);
        assert_eq!(got.refund_id.as_deref(), Some("50000001"));
        assert_eq!(got.amount.unwrap().refund, 300);
        let e = refund_answer(
            &direct(),
            "A1R1",
            read(200, &fail("NOTENOUGH", &[]), &settings()),
        )
        .unwrap_err();
        assert_eq!(e.advice(Call::Refund), Advice::Failed);
        let e = refund_answer(
            &direct(),
            "A1R1",
            read(200, &fail("SYSTEMERROR", &[]), &settings()),
        )
        .unwrap_err();
        assert_eq!(e.advice(Call::Refund), Advice::Retry);
    }

    #[test]
    fn refund_query_finds_our_refund_and_maps_every_status() {
        for (wire, want) in [
            ("SUCCESS", RefundStatus::Success),
            ("REFUNDCLOSE", RefundStatus::Closed),
            ("PROCESSING", RefundStatus::Processing),
            ("CHANGE", RefundStatus::Abnormal),
        ] {
            let b = body_of(&ok(&[
                ("total_fee", "888"),
                ("refund_count", "2"),
                ("out_refund_no_0", "A1R0"),
                ("refund_status_0", "SUCCESS"),
                ("refund_fee_0", "100"),
                ("out_refund_no_1", "A1R1"),
                ("refund_id_1", "50000002"),
                ("refund_status_1", wire),
                ("refund_fee_1", "300"),
                ("refund_success_time_1", "2026-11-30 19:40:01"),
            ]));
            let r = refund_query_answer(&direct(), "A1R1", read(200, &b, &settings())).unwrap();
            assert_eq!(r.status, want, "{wire}");
            assert_eq!(r.refund_id.as_deref(), Some("50000002"));
            assert_eq!(r.amount.as_ref().unwrap().refund, 300);
            assert_eq!(r.success_time.as_deref(), Some("2026-11-30T19:40:01+08:00"));
        }
        let e = refund_query_answer(
            &direct(),
            "A1R1",
            read(200, &fail("REFUNDNOTEXIST", &[]), &settings()),
        )
        .unwrap_err();
        assert_eq!(e.code(), Some(&ErrorCode::ResourceNotExists));
        assert_eq!(e.wire_code(), Some("REFUNDNOTEXIST"));
        // A list without our refund is not read as any status.
        let b = body_of(&ok(&[
            ("refund_count", "1"),
            ("out_refund_no_0", "X"),
            ("refund_status_0", "SUCCESS"),
        ]));
        assert!(matches!(
            refund_query_answer(&direct(), "A1R1", read(200, &b, &settings())),
            Err(ApiError::Malformed { .. })
        ));
    }

    #[test]
    fn the_bill_is_the_answer_text_and_no_bill_is_no_statement() {
        let text = "交易时间,公众账号ID\n`2026-11-30 10:00:00,`wx1\n"
            .as_bytes()
            .to_vec();
        assert_eq!(bill_answer(200, text.clone(), &settings()).unwrap(), text);
        let none = b"<xml><return_code><![CDATA[FAIL]]></return_code>\
                     <return_msg><![CDATA[No Bill Exist]]></return_msg></xml>"
            .to_vec();
        let e = bill_answer(200, none, &settings()).unwrap_err();
        assert_eq!(e.code(), Some(&ErrorCode::NoStatementExist));
        let creating =
            b"<xml><return_code>FAIL</return_code><return_msg>Bill Creating</return_msg></xml>"
                .to_vec();
        let e = bill_answer(200, creating, &settings()).unwrap_err();
        assert_eq!(e.code(), Some(&ErrorCode::StatementCreating));
        assert_eq!(e.advice(Call::Bill), Advice::Retry);
        assert!(bill_answer(502, b"bad gateway".to_vec(), &settings()).is_err());
    }

    #[test]
    fn requests_carry_the_party_and_verify_with_the_key() {
        let order = CodepayRequest {
            appid: "x".into(),
            mchid: "x".into(),
            description: "coffee".into(),
            out_trade_no: "POS01A0001".into(),
            attach: None,
            payer: CodepayPayer {
                auth_code: "134567890123456789".into(),
            },
            amount: RequestAmount {
                total: 888,
                currency: Some("CNY".into()),
            },
            scene_info: SceneInfo {
                store_info: StoreInfo {
                    out_id: Some("S01".into()),
                    id: None,
                },
                device_ip: Some("10.0.0.8".into()),
                device_id: Some("POS01".into()),
            },
        };
        let m = micropay(&PayRequest::new(&partner(), order)).unwrap();
        assert_eq!(
            (m.total_fee, m.spbill_create_ip.as_str()),
            (888, "10.0.0.8")
        );
        assert_eq!(m.device_info.as_deref(), Some("POS01"));
        let xml_text = body(&m, &partner(), &settings(), "n0nce").unwrap();
        let f = xml::parse(xml_text.as_bytes()).unwrap();
        assert_eq!(f["mch_id"], "1900000100");
        assert_eq!(f["appid"], "wx00000000000000sp");
        assert_eq!(f["sub_mch_id"], "1900000109");
        assert_eq!(f["sign_type"], "HMAC-SHA256");
        assert_eq!(
            sign::verify(&f, &ApiKey::new(KEY).unwrap(), SignType::HmacSha256),
            Ok(())
        );
        let direct_xml = body(&m, &direct(), &v2(SignType::Md5), "n0nce").unwrap();
        let f = xml::parse(direct_xml.as_bytes()).unwrap();
        assert!(!f.contains_key("sub_mch_id") && !f.contains_key("sign_type"));
        assert_eq!(
            sign::verify(&f, &ApiKey::new(KEY).unwrap(), SignType::Md5),
            Ok(())
        );
    }
}
