//! Reading an APIv2 answer (protocol reference §9.1; `docs/protocol.md`, "APIv2 (XML)").
//!
//! Two levels: `return_code`/`return_msg` say whether the call got through (communication);
//! only when that is `SUCCESS` do `result_code`, `err_code` and `err_code_des` say what became of
//! the business request. An answer that carries a `sign` is verified; an answer with
//! `return_code=SUCCESS` and no valid `sign` is untrusted and never read further (the official
//! SDK's `processResponseXml` does the same).
//!
//! A communication failure (`return_code` anything but `SUCCESS`) does not promise that nothing
//! was processed: the documentation only calls the field a "communication mark", and a merchant
//! saw a micropay answered `FAIL` ("post数据为空") while the customer was asked to pay and did.
//! So for a payment it means "outcome unknown" ([`Advice::Query`]), like a lost answer.

use crate::wechat::model::{
    Advice, AnswerAmount, Call, ErrorCode, PayerInfo, TradeState, Transaction,
};

use super::Fields;
use super::sign::{self, ApiKey, SignType, VerifyError};
use super::xml::{self, XmlError};

/// `SUCCESS` in `return_code` and `result_code`.
pub const SUCCESS: &str = "SUCCESS";

/// What an answer says, once read and (where signed) verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// `return_code` is not `SUCCESS`: the call did not get through as a call. Unsigned as a
    /// rule; if it did carry a `sign`, that was verified.
    Communication {
        /// The `return_code` as sent (`FAIL`, and in the field also other words).
        return_code: String,
        /// The `return_msg` (human text, e.g. 签名错误), empty when absent.
        return_msg: String,
    },
    /// Both levels were read, the signature checked, and `result_code` is not `SUCCESS`.
    Business {
        /// `err_code` mapped onto the shared codes (unknown codes keep their text).
        code: ErrorCode,
        /// `err_code` exactly as sent (for the log).
        err_code: String,
        /// `err_code_des` (human text), empty when absent.
        description: String,
        /// Every field of the answer.
        fields: Fields,
    },
    /// Both codes `SUCCESS`, the signature checked: the fields can be trusted.
    Success(Fields),
}

impl Answer {
    /// What a caller of `call` should do when this answer is not a success; `None` for
    /// [`Answer::Success`].
    pub fn failure_advice(&self, call: Call) -> Option<Advice> {
        match self {
            Answer::Success(_) => None,
            Answer::Communication { .. } => Some(match call {
                // It may have been processed: find out, never resend a pay.
                Call::Pay => Advice::Query,
                // Reverse, refund (same out_refund_no), queries and bills are safe to repeat.
                _ => Advice::Retry,
            }),
            Answer::Business { code, .. } => Some(code.advice(call)),
        }
    }
}

/// Why an answer could not be trusted or read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AnswerError {
    /// Not a readable envelope.
    #[error("unreadable APIv2 answer: {0}")]
    Xml(#[from] XmlError),
    /// No `return_code` at all.
    #[error("the answer has no return_code")]
    NoReturnCode,
    /// `return_code=SUCCESS` without a `sign`: untrusted.
    #[error("the answer claims SUCCESS but is not signed")]
    Unsigned,
    /// A `sign` that does not match our key.
    #[error("the answer's signature does not match the APIv2 key")]
    BadSignature,
    /// `return_code=SUCCESS` without a `result_code`.
    #[error("the answer has no result_code")]
    NoResultCode,
}

/// Reads and checks an answer body. `sign_type` is the one the request was signed with: the
/// service answers with the same type.
pub fn read(body: &[u8], key: &ApiKey, sign_type: SignType) -> Result<Answer, AnswerError> {
    let fields = xml::parse(body)?;
    let return_code = fields
        .get("return_code")
        .ok_or(AnswerError::NoReturnCode)?
        .clone();
    match sign::verify(&fields, key, sign_type) {
        Ok(()) => {}
        Err(VerifyError::Mismatch) => return Err(AnswerError::BadSignature),
        Err(VerifyError::Missing) if return_code == SUCCESS => return Err(AnswerError::Unsigned),
        Err(VerifyError::Missing) => {}
    }
    if return_code != SUCCESS {
        let return_msg = fields.get("return_msg").cloned().unwrap_or_default();
        return Ok(Answer::Communication {
            return_code,
            return_msg,
        });
    }
    let result_code = fields.get("result_code").ok_or(AnswerError::NoResultCode)?;
    if result_code == SUCCESS {
        return Ok(Answer::Success(fields));
    }
    let err_code = fields.get("err_code").cloned().unwrap_or_default();
    let description = fields.get("err_code_des").cloned().unwrap_or_default();
    Ok(Answer::Business {
        code: error_code(&err_code),
        err_code,
        description,
        fields,
    })
}

/// An APIv2 `err_code` as one of the shared codes. [`ErrorCode::from_wire`] already knows the
/// APIv2 spellings of shared codes (`SYSTEMERROR`, `NOTENOUGH`, `ORDERNOTEXIST` …); this adds the
/// APIv2-only names of the same meanings (micropay error table, protocol reference §9.3).
/// Anything else keeps its text ([`ErrorCode::Other`]), which a payment treats as "outcome
/// unknown".
pub fn error_code(err_code: &str) -> ErrorCode {
    match err_code {
        "NOAUTH" => ErrorCode::NoAuth,
        "MCHID_NOT_EXIST" => ErrorCode::MchNotExists,
        // Protocol errors: the request was refused as malformed, like PARAM_ERROR.
        "XML_FORMAT_ERROR" | "REQUIRE_POST_METHOD" | "LACK_PARAMS" | "NOT_UTF8" => {
            ErrorCode::ParamError
        }
        other => ErrorCode::from_wire(other),
    }
}

/// Why the fields of a trusted answer do not make an order.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FieldError {
    /// A query answer without `trade_state`.
    #[error("the answer has no trade_state")]
    NoTradeState,
    /// An amount that is not a whole number of fen.
    #[error("field {0} is not an amount in fen")]
    Amount(&'static str),
    /// `time_end` that is not `yyyyMMddHHmmss`.
    #[error("time_end is not a yyyyMMddHHmmss time")]
    Time,
}

/// A successful `/pay/micropay` answer as the shared order model. The answer has no
/// `trade_state`: both codes `SUCCESS` on a micropay mean paid (the micropay page, ref §9.1), so the
/// state is `SUCCESS` unless the answer names one.
pub fn paid_transaction(fields: &Fields) -> Result<Transaction, FieldError> {
    transaction(fields, TradeState::Success)
}

/// A successful `/pay/orderquery` answer as the shared order model; `trade_state` is required.
pub fn queried_transaction(fields: &Fields) -> Result<Transaction, FieldError> {
    if !fields.contains_key("trade_state") {
        return Err(FieldError::NoTradeState);
    }
    transaction(fields, TradeState::Success)
}

fn transaction(fields: &Fields, default_state: TradeState) -> Result<Transaction, FieldError> {
    let get = |k: &str| fields.get(k).filter(|v| !v.is_empty()).cloned();
    let fen = |k: &'static str| -> Result<Option<i64>, FieldError> {
        match fields.get(k).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) if v.bytes().all(|b| b.is_ascii_digit()) => {
                v.parse().map(Some).map_err(|_| FieldError::Amount(k))
            }
            Some(_) => Err(FieldError::Amount(k)),
        }
    };
    let total = fen("total_fee")?;
    let payer_total = fen("cash_fee")?;
    let currency = get("fee_type");
    let payer_currency = get("cash_fee_type");
    let amount = (total.is_some()
        || payer_total.is_some()
        || currency.is_some()
        || payer_currency.is_some())
    .then_some(AnswerAmount {
        total,
        payer_total,
        currency,
        payer_currency,
    });
    Ok(Transaction {
        appid: get("appid"),
        mchid: get("mch_id"),
        out_trade_no: get("out_trade_no"),
        transaction_id: get("transaction_id"),
        trade_type: get("trade_type"),
        trade_state: fields
            .get("trade_state")
            .map_or(default_state, |s| TradeState::from_wire(s)),
        trade_state_desc: get("trade_state_desc"),
        bank_type: get("bank_type"),
        attach: get("attach"),
        success_time: get("time_end").map(|t| beijing_rfc3339(&t)).transpose()?,
        payer: get("openid").map(|openid| PayerInfo {
            openid: Some(openid),
        }),
        amount,
        // APIv2 names a service provider's sub-merchant `sub_mch_id`/`sub_appid`; the provider
        // is `mch_id`/`appid` then (the party check belongs to the wiring, next step).
        sp_appid: None,
        sp_mchid: None,
        sub_appid: get("sub_appid"),
        sub_mchid: get("sub_mch_id"),
    })
}

/// `yyyyMMddHHmmss` (Beijing time, ref §9.3 `time_end`) as RFC 3339 with `+08:00`, the form
/// APIv3's `success_time` has.
fn beijing_rfc3339(t: &str) -> Result<String, FieldError> {
    if t.len() != 14 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::Time);
    }
    let n = |r: std::ops::Range<usize>| t[r].parse::<i16>().map_err(|_| FieldError::Time);
    let (y, mo, d, h, mi, s) = (
        n(0..4)?,
        n(4..6)?,
        n(6..8)?,
        n(8..10)?,
        n(10..12)?,
        n(12..14)?,
    );
    let narrow = |v: i16| i8::try_from(v).map_err(|_| FieldError::Time);
    jiff::civil::DateTime::new(
        y,
        narrow(mo)?,
        narrow(d)?,
        narrow(h)?,
        narrow(mi)?,
        narrow(s)?,
        0,
    )
    .map_err(|_| FieldError::Time)?;
    Ok(format!(
        "{}-{}-{}T{}:{}:{}+08:00",
        &t[0..4],
        &t[4..6],
        &t[6..8],
        &t[8..10],
        &t[10..12],
        &t[12..14]
    ))
}

/// Whether a successful `/secapi/pay/reverse` answer asks for the reverse to be called again
/// (`recall=Y`, ref §9.4). Anything but `N` — `Y`, absent, unknown — is "call again": reversing
/// is idempotent, and stopping early could leave a payable order open (ours).
pub fn reverse_again(fields: &Fields) -> bool {
    fields.get("recall").map(String::as_str) != Some("N")
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "192006250b4c09247ec02edce69f6a2d";

    fn key() -> ApiKey {
        ApiKey::new(KEY).unwrap()
    }

    fn signed(pairs: &[(&str, &str)], ty: SignType) -> Vec<u8> {
        let mut f: Fields = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        f.insert("sign".into(), sign::sign(&f, &key(), ty));
        xml::write(&f).unwrap().into_bytes()
    }

    #[test]
    fn success_needs_both_codes_and_a_valid_signature() {
        let body = signed(
            &[
                ("return_code", "SUCCESS"),
                ("return_msg", "OK"),
                ("result_code", "SUCCESS"),
                ("transaction_id", "4200000001"),
            ],
            SignType::HmacSha256,
        );
        let Answer::Success(f) = read(&body, &key(), SignType::HmacSha256).unwrap() else {
            panic!("not a success");
        };
        assert_eq!(f["transaction_id"], "4200000001");
        // Verified with the type the request used: the other type does not match.
        assert_eq!(
            read(&body, &key(), SignType::Md5),
            Err(AnswerError::BadSignature)
        );
        // The same answer unsigned, or tampered with, is not trusted.
        let unsigned =
            b"<xml><return_code>SUCCESS</return_code><result_code>SUCCESS</result_code></xml>";
        assert_eq!(
            read(unsigned, &key(), SignType::Md5),
            Err(AnswerError::Unsigned)
        );
        let tampered = String::from_utf8(body)
            .unwrap()
            .replace("4200000001", "4200000002");
        assert_eq!(
            read(tampered.as_bytes(), &key(), SignType::HmacSha256),
            Err(AnswerError::BadSignature)
        );
    }

    #[test]
    fn business_failures_carry_the_shared_code() {
        let body = signed(
            &[
                ("return_code", "SUCCESS"),
                ("result_code", "FAIL"),
                ("err_code", "USERPAYING"),
                ("err_code_des", "需要用户输入支付密码"),
            ],
            SignType::Md5,
        );
        let a = read(&body, &key(), SignType::Md5).unwrap();
        let Answer::Business {
            code,
            err_code,
            description,
            ..
        } = &a
        else {
            panic!("not a business failure: {a:?}");
        };
        assert_eq!(*code, ErrorCode::UserPaying);
        assert_eq!(err_code, "USERPAYING");
        assert_eq!(description, "需要用户输入支付密码");
        assert_eq!(a.failure_advice(Call::Pay), Some(Advice::Query));
        let notenough = signed(
            &[
                ("return_code", "SUCCESS"),
                ("result_code", "FAIL"),
                ("err_code", "NOTENOUGH"),
            ],
            SignType::Md5,
        );
        let a = read(&notenough, &key(), SignType::Md5).unwrap();
        assert_eq!(a.failure_advice(Call::Pay), Some(Advice::Failed));
        // A failure without result_code is not guessed at.
        let bare = signed(&[("return_code", "SUCCESS")], SignType::Md5);
        assert_eq!(
            read(&bare, &key(), SignType::Md5),
            Err(AnswerError::NoResultCode)
        );
    }

    #[test]
    fn communication_failures_are_unknown_for_a_payment() {
        let body = "<xml><return_code><![CDATA[FAIL]]></return_code>\
                    <return_msg><![CDATA[签名错误]]></return_msg></xml>";
        let a = read(body.as_bytes(), &key(), SignType::Md5).unwrap();
        assert_eq!(
            a,
            Answer::Communication {
                return_code: "FAIL".into(),
                return_msg: "签名错误".into()
            }
        );
        assert_eq!(a.failure_advice(Call::Pay), Some(Advice::Query));
        assert_eq!(a.failure_advice(Call::Reverse), Some(Advice::Retry));
        // Other words in return_code (seen in the field) are communication failures too.
        let odd = b"<xml><return_code>PARAM_ERROR</return_code></xml>";
        assert!(matches!(
            read(odd, &key(), SignType::Md5),
            Ok(Answer::Communication { .. })
        ));
        // A FAIL that carries a sign has it checked.
        let forged = b"<xml><return_code>FAIL</return_code><sign>00</sign></xml>";
        assert_eq!(
            read(forged, &key(), SignType::Md5),
            Err(AnswerError::BadSignature)
        );
        assert_eq!(
            read(b"<xml><a>1</a></xml>", &key(), SignType::Md5),
            Err(AnswerError::NoReturnCode)
        );
        assert!(matches!(
            read(b"<html>502</html>", &key(), SignType::Md5),
            Err(AnswerError::Xml(_))
        ));
    }

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn success_fields_make_the_shared_order_model() {
        let paid = fields(&[
            ("appid", "wx1"),
            ("mch_id", "100"),
            ("out_trade_no", "A1"),
            ("transaction_id", "4200000001"),
            ("trade_type", "MICROPAY"),
            ("bank_type", "CMC"),
            ("openid", "oUpF8"),
            ("total_fee", "888"),
            ("cash_fee", "800"),
            ("fee_type", "CNY"),
            ("time_end", "20141030133525"),
            ("attach", ""),
        ]);
        let t = paid_transaction(&paid).unwrap();
        assert_eq!(t.trade_state, TradeState::Success);
        assert_eq!(t.mchid.as_deref(), Some("100"));
        assert_eq!(t.success_time.as_deref(), Some("2014-10-30T13:35:25+08:00"));
        assert_eq!(t.payer.and_then(|p| p.openid).as_deref(), Some("oUpF8"));
        let a = t.amount.unwrap();
        assert_eq!((a.total, a.payer_total), (Some(888), Some(800)));
        assert_eq!(t.attach, None);
        // A query answer must say the state.
        assert_eq!(queried_transaction(&paid), Err(FieldError::NoTradeState));
        let mut q = paid.clone();
        q.insert("trade_state".into(), "USERPAYING".into());
        assert_eq!(
            queried_transaction(&q).unwrap().trade_state,
            TradeState::UserPaying
        );
        for (k, v, e) in [
            ("total_fee", "8.88", FieldError::Amount("total_fee")),
            ("cash_fee", "-1", FieldError::Amount("cash_fee")),
            (
                "total_fee",
                "99999999999999999999",
                FieldError::Amount("total_fee"),
            ),
            ("time_end", "20141330133525", FieldError::Time),
            ("time_end", "2014-10-30", FieldError::Time),
        ] {
            let mut bad = paid.clone();
            bad.insert(k.into(), v.into());
            assert_eq!(paid_transaction(&bad), Err(e), "{k}={v}");
        }
    }

    #[test]
    fn reverse_stops_only_on_recall_n() {
        assert!(!reverse_again(&fields(&[("recall", "N")])));
        assert!(reverse_again(&fields(&[("recall", "Y")])));
        assert!(reverse_again(&fields(&[])));
        assert!(reverse_again(&fields(&[("recall", "n")])));
    }

    #[test]
    fn v2_only_codes_map_onto_the_shared_ones() {
        assert_eq!(error_code("NOAUTH"), ErrorCode::NoAuth);
        assert_eq!(error_code("MCHID_NOT_EXIST"), ErrorCode::MchNotExists);
        assert_eq!(error_code("XML_FORMAT_ERROR"), ErrorCode::ParamError);
        assert_eq!(error_code("SYSTEMERROR"), ErrorCode::SystemError);
        assert_eq!(error_code("BANKERROR"), ErrorCode::BankError);
        assert_eq!(error_code("ORDERCLOSED"), ErrorCode::OrderClosed);
        assert_eq!(error_code("AUTHCODEEXPIRE"), ErrorCode::AuthCodeExpire);
        assert_eq!(error_code("AUTH_CODE_INVALID"), ErrorCode::AuthCodeInvalid);
        assert_eq!(error_code("ORDERNOTEXIST"), ErrorCode::OrderNotExist);
        assert_eq!(error_code("SIGNERROR"), ErrorCode::SignError);
        assert_eq!(error_code("NEW_CODE"), ErrorCode::Other("NEW_CODE".into()));
        assert_eq!(error_code("NEW_CODE").advice(Call::Pay), Advice::Query);
    }
}
