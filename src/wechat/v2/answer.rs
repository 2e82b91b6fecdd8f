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

use crate::wechat::model::{Advice, Call, ErrorCode};

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
