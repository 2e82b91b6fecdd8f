//! The APIv2 signature (protocol reference §9.2; `docs/protocol.md`, "APIv2 (XML)").
//!
//! 1. Every field except `sign`, with an empty value left out, sorted by name (ASCII), joined as
//!    `name=value` with `&` (raw values, no URL encoding) → `stringA`.
//! 2. `stringSignTemp = stringA + "&key=" + API key`.
//! 3. `MD5(stringSignTemp)` or `HMAC-SHA256(key = API key, message = stringSignTemp)`, hex, upper
//!    case. `sign_type` is an ordinary field and is signed when it is sent.
//!
//! Answers are verified the same way, over every field they carry (new fields included), with a
//! constant-time comparison.

use std::fmt;

use aws_lc_rs::{constant_time, hmac};
use md5::{Digest, Md5};

use super::Fields;

/// The field that carries the signature (never signed itself).
pub const SIGN_FIELD: &str = "sign";
/// The field that names the signature type (`MD5` when absent).
pub const SIGN_TYPE_FIELD: &str = "sign_type";

/// Which hash signs a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignType {
    /// `MD5`: the documented default when `sign_type` is not sent.
    Md5,
    /// `HMAC-SHA256`, keyed with the API key.
    HmacSha256,
}

impl SignType {
    /// The wire spelling (`MD5`, `HMAC-SHA256`).
    pub fn as_str(self) -> &'static str {
        match self {
            SignType::Md5 => "MD5",
            SignType::HmacSha256 => "HMAC-SHA256",
        }
    }

    /// From the wire spelling; `None` for anything else.
    pub fn from_wire(s: &str) -> Option<SignType> {
        match s {
            "MD5" => Some(SignType::Md5),
            "HMAC-SHA256" => Some(SignType::HmacSha256),
            _ => None,
        }
    }
}

/// Why an API key was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// The merchant platform issues 32-character keys of letters and digits.
    #[error("the APIv2 key must be 32 letters or digits (got {0} characters)")]
    Shape(usize),
}

/// The merchant's APIv2 key (32 letters or digits, set on the merchant platform). Its `Debug`
/// never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Length of every APIv2 key.
    pub const LEN: usize = 32;

    /// Checks the shape: 32 ASCII letters or digits.
    pub fn new(key: impl Into<String>) -> Result<ApiKey, KeyError> {
        let key = key.into();
        if key.len() != Self::LEN || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(KeyError::Shape(key.chars().count()));
        }
        Ok(ApiKey(key))
    }

    fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(…)")
    }
}

/// `stringA`: the fields to sign, sorted, `sign` and empty values left out.
pub fn string_a(fields: &Fields) -> String {
    let mut out = String::new();
    for (k, v) in fields {
        if k == SIGN_FIELD || v.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// `stringSignTemp`: `stringA&key=API_KEY` (what is hashed).
fn string_sign_temp(fields: &Fields, key: &ApiKey) -> String {
    let a = string_a(fields);
    let mut t = String::with_capacity(a.len() + 5 + ApiKey::LEN);
    t.push_str(&a);
    if !a.is_empty() {
        t.push('&');
    }
    t.push_str("key=");
    t.push_str(&key.0);
    t
}

/// The signature of `fields` (upper-case hex).
pub fn sign(fields: &Fields, key: &ApiKey, sign_type: SignType) -> String {
    let temp = string_sign_temp(fields, key);
    match sign_type {
        SignType::Md5 => upper_hex(&Md5::digest(temp.as_bytes())),
        SignType::HmacSha256 => {
            let k = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
            upper_hex(hmac::sign(&k, temp.as_bytes()).as_ref())
        }
    }
}

/// Why an answer's signature was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// The answer carries no `sign` field.
    #[error("the answer is not signed")]
    Missing,
    /// The `sign` field does not match the fields and our key.
    #[error("the answer's signature does not match")]
    Mismatch,
}

/// Checks the `sign` field of `fields` against every other field, with `key` and `sign_type`,
/// in constant time.
pub fn verify(fields: &Fields, key: &ApiKey, sign_type: SignType) -> Result<(), VerifyError> {
    let given = fields.get(SIGN_FIELD).ok_or(VerifyError::Missing)?;
    let expected = sign(fields, key, sign_type);
    constant_time::verify_slices_are_equal(given.as_bytes(), expected.as_bytes())
        .map_err(|_| VerifyError::Mismatch)
}

fn upper_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 0x0f)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const KEY: &str = "192006250b4c09247ec02edce69f6a2d";

    #[test]
    fn empty_values_and_sign_are_left_out_and_order_is_ascii() {
        let f = fields(&[("b", "2"), ("a", "1"), ("sign", "X"), ("c", ""), ("B", "0")]);
        assert_eq!(string_a(&f), "B=0&a=1&b=2");
    }

    #[test]
    fn verification_accepts_its_own_signature_and_rejects_any_change() {
        let key = ApiKey::new(KEY).unwrap();
        for ty in [SignType::Md5, SignType::HmacSha256] {
            let mut f = fields(&[("appid", "wx1"), ("return_code", "SUCCESS")]);
            assert_eq!(verify(&f, &key, ty), Err(VerifyError::Missing));
            f.insert("sign".into(), sign(&f, &key, ty));
            assert_eq!(verify(&f, &key, ty), Ok(()));
            // A new field the service added is signed too: without re-signing it fails.
            let mut added = f.clone();
            added.insert("new_field".into(), "v".into());
            assert_eq!(verify(&added, &key, ty), Err(VerifyError::Mismatch));
            // An empty new field is not signed, so it does not disturb the signature.
            let mut empty = f.clone();
            empty.insert("new_field".into(), String::new());
            assert_eq!(verify(&empty, &key, ty), Ok(()));
            let mut lower = f.clone();
            let s = lower["sign"].to_ascii_lowercase();
            lower.insert("sign".into(), s);
            assert_eq!(verify(&lower, &key, ty), Err(VerifyError::Mismatch));
        }
        let other = ApiKey::new("0".repeat(32)).unwrap();
        let mut f = fields(&[("appid", "wx1")]);
        f.insert("sign".into(), sign(&f, &other, SignType::Md5));
        assert_eq!(verify(&f, &key, SignType::Md5), Err(VerifyError::Mismatch));
        // The other type does not verify either.
        assert_eq!(
            verify(&f, &other, SignType::HmacSha256),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn keys_have_the_platform_shape_and_never_print() {
        assert!(ApiKey::new(KEY).is_ok());
        assert_eq!(ApiKey::new("short"), Err(KeyError::Shape(5)));
        assert!(ApiKey::new(format!("{}!", &KEY[..31])).is_err());
        assert!(!format!("{:?}", ApiKey::new(KEY).unwrap()).contains(KEY));
        assert_eq!(
            SignType::from_wire("HMAC-SHA256"),
            Some(SignType::HmacSha256)
        );
        assert_eq!(SignType::from_wire("md5"), None);
    }
}
