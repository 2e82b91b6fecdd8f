//! APIv3 request signing and answer verification (protocol reference §2).
//!
//! Request: `Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",timestamp="…",
//! serial_no="…",signature="…"` over `METHOD\nCANONICAL_URL\nTIMESTAMP\nNONCE\nBODY\n`.
//! Answer: `Wechatpay-Signature` over `TIMESTAMP\nNONCE\nBODY\n`, checked with the key named by
//! `Wechatpay-Serial`. Both sides are RSASSA-PKCS1-v1_5 with SHA-256, base64.

use std::collections::HashMap;

use super::keys::{KeyError, Missing, PrivateKey, TrustStore};

/// The Authorization scheme name.
pub const SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";
/// Prefix WeChat Pay puts on deliberately wrong signatures to check that merchants verify.
pub const SIGNTEST_PREFIX: &str = "WECHATPAY/SIGNTEST/";
/// Largest accepted difference between an answer's timestamp and our clock, in seconds.
pub const MAX_SKEW_SECS: i64 = 300;

/// Answer header names.
pub mod headers {
    /// Unix seconds of the answer's signature.
    pub const TIMESTAMP: &str = "Wechatpay-Timestamp";
    /// Random string of the answer's signature.
    pub const NONCE: &str = "Wechatpay-Nonce";
    /// Base64 signature.
    pub const SIGNATURE: &str = "Wechatpay-Signature";
    /// Serial of the key that signed (request: the key we want answers signed with).
    pub const SERIAL: &str = "Wechatpay-Serial";
    /// Always `WECHATPAY2-SHA256-RSA2048`.
    pub const SIGNATURE_TYPE: &str = "Wechatpay-Signature-Type";
    /// Request id, for support cases.
    pub const REQUEST_ID: &str = "Request-ID";
}

/// The exact bytes a request signature covers.
pub fn request_message(
    method: &str,
    canonical_url: &str,
    timestamp: i64,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut m = Vec::with_capacity(canonical_url.len() + body.len() + 64);
    m.extend_from_slice(method.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(canonical_url.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(timestamp.to_string().as_bytes());
    m.push(b'\n');
    m.extend_from_slice(nonce.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(body);
    m.push(b'\n');
    m
}

/// The exact bytes an answer signature covers.
pub fn response_message(timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(body.len() + 64);
    m.extend_from_slice(timestamp.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(nonce.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(body);
    m.push(b'\n');
    m
}

/// 32 upper-case hex characters from the operating system's CSPRNG.
pub fn new_nonce() -> String {
    let mut bytes = [0u8; 16];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        // The OS random source failing is not recoverable in a payment system; fall back to a
        // value that is still unique per process and time, so a request is never unsigned.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        bytes.copy_from_slice(&t.to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Signs requests as one merchant.
#[derive(Debug)]
pub struct Signer {
    mchid: String,
    serial_no: String,
    key: PrivateKey,
}

impl Signer {
    /// A signer for `mchid` with the API certificate `serial_no` and its private key.
    pub fn new(mchid: &str, serial_no: &str, key: PrivateKey) -> Signer {
        Signer {
            mchid: mchid.to_string(),
            serial_no: serial_no.to_ascii_uppercase(),
            key,
        }
    }

    /// The merchant id.
    pub fn mchid(&self) -> &str {
        &self.mchid
    }

    /// The `Authorization` header value for one request.
    pub fn authorization(
        &self,
        method: &str,
        canonical_url: &str,
        timestamp: i64,
        nonce: &str,
        body: &[u8],
    ) -> Result<String, KeyError> {
        let signature = self.key.sign_base64(&request_message(
            method,
            canonical_url,
            timestamp,
            nonce,
            body,
        ))?;
        Ok(format!(
            "{SCHEME} mchid=\"{}\",nonce_str=\"{nonce}\",timestamp=\"{timestamp}\",serial_no=\"{}\",signature=\"{signature}\"",
            self.mchid, self.serial_no
        ))
    }
}

/// A parsed `Authorization` header (the simulator's side).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    /// Merchant id.
    pub mchid: String,
    /// Nonce.
    pub nonce_str: String,
    /// Unix seconds, as sent.
    pub timestamp: String,
    /// Merchant certificate serial.
    pub serial_no: String,
    /// Base64 signature.
    pub signature: String,
}

impl Authorization {
    /// Parses `WECHATPAY2-SHA256-RSA2048 k="v",…` (the pairs in any order).
    pub fn parse(header: &str) -> Option<Authorization> {
        let rest = header.strip_prefix(SCHEME)?.strip_prefix(' ')?;
        let mut map: HashMap<&str, &str> = HashMap::new();
        for pair in rest.split(',') {
            let (k, v) = pair.trim().split_once('=')?;
            let v = v.strip_prefix('"')?.strip_suffix('"')?;
            if map.insert(k, v).is_some() {
                return None;
            }
        }
        Some(Authorization {
            mchid: map.get("mchid")?.to_string(),
            nonce_str: map.get("nonce_str")?.to_string(),
            timestamp: map.get("timestamp")?.to_string(),
            serial_no: map.get("serial_no")?.to_string(),
            signature: map.get("signature")?.to_string(),
        })
    }
}

/// The four signature headers of an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnswerSignature {
    /// `Wechatpay-Timestamp`.
    pub timestamp: String,
    /// `Wechatpay-Nonce`.
    pub nonce: String,
    /// `Wechatpay-Signature`.
    pub signature: String,
    /// `Wechatpay-Serial`.
    pub serial: String,
}

/// Why an answer's signature was not accepted. Such an answer is never taken as a result.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A signature header is missing.
    #[error("answer has no {0} header")]
    MissingHeader(&'static str),
    /// `Wechatpay-Serial` names a key we do not hold.
    #[error("answer is signed with unknown key serial {0}")]
    UnknownSerial(String),
    /// `Wechatpay-Serial` names a platform certificate that has expired (or is not valid
    /// yet): it is not used.
    #[error("answer is signed with platform certificate {0}, which is outside its validity")]
    ExpiredKey(String),
    /// A `WECHATPAY/SIGNTEST/` probe signature.
    #[error("answer carries a WECHATPAY/SIGNTEST probe signature")]
    Probe,
    /// `Wechatpay-Timestamp` is not a number.
    #[error("answer timestamp {0:?} is not a number")]
    BadTimestamp(String),
    /// The answer's timestamp is 5 minutes or more away from our clock.
    #[error("answer timestamp {answer} is {skew} s away from our clock (limit 300 s)")]
    Skewed {
        /// The answer's timestamp.
        answer: i64,
        /// Seconds between it and our clock.
        skew: i64,
    },
    /// The signature does not match the body.
    #[error("answer signature does not match (forged or altered answer)")]
    BadSignature,
}

impl AnswerSignature {
    /// Reads the four headers; `Ok(None)` when there is no signature at all, an error when only
    /// some are present.
    pub fn from_headers(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<AnswerSignature>, VerifyError> {
        let ts = get(headers::TIMESTAMP);
        let nonce = get(headers::NONCE);
        let sig = get(headers::SIGNATURE);
        let serial = get(headers::SERIAL);
        if ts.is_none() && nonce.is_none() && sig.is_none() && serial.is_none() {
            return Ok(None);
        }
        Ok(Some(AnswerSignature {
            timestamp: ts.ok_or(VerifyError::MissingHeader(headers::TIMESTAMP))?,
            nonce: nonce.ok_or(VerifyError::MissingHeader(headers::NONCE))?,
            signature: sig.ok_or(VerifyError::MissingHeader(headers::SIGNATURE))?,
            serial: serial.ok_or(VerifyError::MissingHeader(headers::SERIAL))?,
        }))
    }

    /// Checks the signature over `body` against `trust`, with `now_unix` as our clock.
    pub fn verify(
        &self,
        trust: &TrustStore,
        body: &[u8],
        now_unix: i64,
    ) -> Result<(), VerifyError> {
        if self.signature.starts_with(SIGNTEST_PREFIX) {
            return Err(VerifyError::Probe);
        }
        let answer: i64 = self
            .timestamp
            .trim()
            .parse()
            .map_err(|_| VerifyError::BadTimestamp(self.timestamp.clone()))?;
        let skew = (now_unix - answer).abs();
        if skew >= MAX_SKEW_SECS {
            return Err(VerifyError::Skewed { answer, skew });
        }
        let key = trust.get_at(&self.serial, now_unix).map_err(|m| match m {
            Missing::Unknown => VerifyError::UnknownSerial(self.serial.clone()),
            Missing::Expired => VerifyError::ExpiredKey(self.serial.clone()),
        })?;
        if key.verify_base64(
            &response_message(&self.timestamp, &self.nonce, body),
            &self.signature,
        ) {
            Ok(())
        } else {
            Err(VerifyError::BadSignature)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_is_32_hex_and_fresh() {
        let a = new_nonce();
        let b = new_nonce();
        assert_eq!(a.len(), 32);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())
        );
        assert_ne!(a, b);
    }

    #[test]
    fn authorization_parses_in_any_order() {
        let h = r#"WECHATPAY2-SHA256-RSA2048 serial_no="AB",signature="c2ln",mchid="1900007291",timestamp="1554208460",nonce_str="N""#;
        let a = Authorization::parse(h).unwrap();
        assert_eq!(a.mchid, "1900007291");
        assert_eq!(a.signature, "c2ln");
        assert!(Authorization::parse("Bearer x").is_none());
        assert!(Authorization::parse(&h.replace("mchid=\"1900007291\",", "")).is_none());
        assert!(
            Authorization::parse(&format!("{h},mchid=\"2\"")).is_none(),
            "duplicate key"
        );
    }

    #[test]
    fn partial_signature_headers_are_an_error() {
        let only_ts = |k: &str| (k == headers::TIMESTAMP).then(|| "1".to_string());
        assert_eq!(
            AnswerSignature::from_headers(only_ts),
            Err(VerifyError::MissingHeader(headers::NONCE))
        );
        assert_eq!(AnswerSignature::from_headers(|_| None), Ok(None));
    }
}
