#![no_main]
//! APIv2 answer bodies from the network: reading never panics, and what parses writes back.
//! The same fields signed with the key (MD5 and HMAC-SHA256) get past the signature check, so
//! the fuzzer also reaches what a trusted answer becomes: the order model, the advice for each
//! call, the reverse's `recall`.
use libfuzzer_sys::fuzz_target;
use scanpay::wechat::model::Call;
use scanpay::wechat::v2::answer::{self, Answer, AnswerError};
use scanpay::wechat::v2::sign::{self, ApiKey, SignType};
use scanpay::wechat::v2::xml;

const CALLS: [Call; 6] = [
    Call::Pay,
    Call::Query,
    Call::Reverse,
    Call::Refund,
    Call::RefundQuery,
    Call::Bill,
];

fuzz_target!(|data: &[u8]| {
    let Ok(key) = ApiKey::new("192006250b4c09247ec02edce69f6a2d") else {
        return;
    };
    let _ = answer::read(data, &key, SignType::Md5);
    let Ok(mut fields) = xml::parse(data) else {
        return;
    };
    if let Ok(text) = xml::write(&fields) {
        assert_eq!(xml::parse(text.as_bytes()).ok(), Some(fields.clone()));
    }
    let sign_type = if data.len() % 2 == 0 {
        SignType::Md5
    } else {
        SignType::HmacSha256
    };
    fields.remove("sign");
    let signature = sign::sign(&fields, &key, sign_type);
    fields.insert("sign".into(), signature);
    let Ok(text) = xml::write(&fields) else {
        return;
    };
    match answer::read(text.as_bytes(), &key, sign_type) {
        Ok(a) => {
            for call in CALLS {
                assert_eq!(
                    a.failure_advice(call).is_none(),
                    matches!(a, Answer::Success(_))
                );
            }
            if let Answer::Success(f) = &a {
                let _ = answer::paid_transaction(f);
                let _ = answer::queried_transaction(f);
                let _ = answer::reverse_again(f);
            }
        }
        Err(e) => assert!(
            !matches!(e, AnswerError::BadSignature | AnswerError::Unsigned),
            "re-signed fields refused: {e}"
        ),
    }
});
