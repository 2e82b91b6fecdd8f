//! Platform certificates (平台证书): the APIv3 key, AEAD_AES_256_GCM, and the answer of
//! `GET /v3/certificates` (see `docs/protocol.md`, "Platform certificates and rotation").
//!
//! The certificate list arrives with each certificate encrypted under the merchant's APIv3 key
//! (AEAD_AES_256_GCM: 32-byte key, 12-byte `nonce`, `associated_data`, base64 of ciphertext
//! followed by the 16-byte tag). This module decrypts and parses it; keeping certificates on
//! disk and deciding when to download again is `crate::connect`'s business.

use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::keys::{KeyError, PublicKey, certificate_from_pem};

/// The only algorithm WeChat Pay names for encrypted resources.
pub const ALGORITHM: &str = "AEAD_AES_256_GCM";
/// Length of the APIv3 key, in bytes (32 ASCII characters).
pub const APIV3_KEY_LEN: usize = 32;
/// Length of the GCM nonce WeChat Pay uses, in bytes.
pub const NONCE_LEN: usize = 12;

/// Why something encrypted could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AeadError {
    /// Not `AEAD_AES_256_GCM`.
    #[error("unsupported algorithm {0:?} (only AEAD_AES_256_GCM)")]
    Algorithm(String),
    /// The key is not 32 bytes.
    #[error("the APIv3 key must be {APIV3_KEY_LEN} characters, not {0}")]
    KeyLength(usize),
    /// The nonce is not 12 bytes.
    #[error("the nonce must be {NONCE_LEN} bytes, not {0}")]
    NonceLength(usize),
    /// The ciphertext is not base64.
    #[error("the ciphertext is not base64")]
    Base64,
    /// Wrong key, nonce or associated data, or altered ciphertext.
    #[error("decryption failed (wrong APIv3 key, or altered data)")]
    Open,
}

/// The merchant's APIv3 key (32 ASCII characters). Never printed.
#[derive(Clone)]
pub struct Apiv3Key {
    key: [u8; APIV3_KEY_LEN],
}

impl std::fmt::Debug for Apiv3Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Apiv3Key(<redacted>)")
    }
}

impl Apiv3Key {
    /// The key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Apiv3Key, AeadError> {
        let key: [u8; APIV3_KEY_LEN] = bytes
            .try_into()
            .map_err(|_| AeadError::KeyLength(bytes.len()))?;
        Ok(Apiv3Key { key })
    }

    /// Reads the key file: the 32 characters, surrounding whitespace (a final newline)
    /// ignored. (Whether the file is too open is checked by the caller, like the private key.)
    pub fn load(path: &Path) -> Result<Apiv3Key, KeyError> {
        let bytes = std::fs::read(path).map_err(|e| KeyError::Read {
            path: path.to_path_buf(),
            source: e,
        })?;
        let text = bytes.trim_ascii();
        Apiv3Key::from_bytes(text).map_err(|e| KeyError::Malformed {
            path: PathBuf::from(path),
            problem: e.to_string(),
        })
    }

    fn sealing(&self) -> LessSafeKey {
        // 32 bytes is always a valid AES-256 key.
        LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &self.key).unwrap_or_else(|_| unreachable!()),
        )
    }

    /// Decrypts `ciphertext_b64` (ciphertext ‖ tag, base64) with `nonce` and
    /// `associated_data`, as WeChat Pay's encrypted resources require.
    pub fn decrypt(
        &self,
        nonce: &str,
        associated_data: &str,
        ciphertext_b64: &str,
    ) -> Result<Vec<u8>, AeadError> {
        let nonce = Nonce::try_assume_unique_for_key(nonce.as_bytes())
            .map_err(|_| AeadError::NonceLength(nonce.len()))?;
        let mut data = base64::engine::general_purpose::STANDARD
            .decode(ciphertext_b64.trim())
            .map_err(|_| AeadError::Base64)?;
        let plain = self
            .sealing()
            .open_in_place(nonce, Aad::from(associated_data.as_bytes()), &mut data)
            .map_err(|_| AeadError::Open)?;
        Ok(plain.to_vec())
    }

    /// Encrypts `plaintext` (the simulator's side): base64 of ciphertext ‖ tag.
    pub fn encrypt(
        &self,
        nonce: &str,
        associated_data: &str,
        plaintext: &[u8],
    ) -> Result<String, AeadError> {
        let n = Nonce::try_assume_unique_for_key(nonce.as_bytes())
            .map_err(|_| AeadError::NonceLength(nonce.len()))?;
        let mut data = plaintext.to_vec();
        self.sealing()
            .seal_in_place_append_tag(n, Aad::from(associated_data.as_bytes()), &mut data)
            .map_err(|_| AeadError::Open)?;
        Ok(base64::engine::general_purpose::STANDARD.encode(data))
    }
}

/// `encrypt_certificate` of one list entry (also the shape of any encrypted resource).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedResource {
    /// `AEAD_AES_256_GCM`.
    pub algorithm: String,
    /// 12-character nonce.
    pub nonce: String,
    /// Associated data (`certificate` for the list).
    #[serde(default)]
    pub associated_data: String,
    /// Base64 of ciphertext ‖ tag.
    pub ciphertext: String,
}

impl EncryptedResource {
    /// The plaintext.
    pub fn decrypt(&self, key: &Apiv3Key) -> Result<Vec<u8>, AeadError> {
        if self.algorithm != ALGORITHM {
            return Err(AeadError::Algorithm(self.algorithm.clone()));
        }
        key.decrypt(&self.nonce, &self.associated_data, &self.ciphertext)
    }
}

/// One entry of the `GET /v3/certificates` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateEntry {
    /// Serial of the certificate (upper-case hex).
    pub serial_no: String,
    /// RFC 3339, e.g. `2023-09-19T23:15:58+08:00`.
    pub effective_time: String,
    /// RFC 3339.
    pub expire_time: String,
    /// The certificate, encrypted.
    pub encrypt_certificate: EncryptedResource,
}

/// The `GET /v3/certificates` answer body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateList {
    /// The certificates.
    pub data: Vec<CertificateEntry>,
}

/// A decrypted platform certificate: what the trust store holds and the cache on disk keeps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformCertificate {
    /// Serial (upper-case hex), read from the certificate itself.
    pub serial_no: String,
    /// Unix seconds from which it is valid.
    pub effective: i64,
    /// Unix seconds after which it must not be used.
    pub expire: i64,
    /// The certificate, PEM.
    pub pem: String,
}

/// Why a certificate list could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// The body is not a certificate list.
    #[error("certificate list: {0}")]
    Json(String),
    /// An entry could not be decrypted.
    #[error("certificate {serial}: {source}")]
    Decrypt {
        /// The entry's serial.
        serial: String,
        /// Why.
        source: AeadError,
    },
    /// An entry decrypted to something that is not a usable certificate, or whose serial or
    /// times are not what the list says.
    #[error("certificate {serial}: {problem}")]
    Invalid {
        /// The entry's serial.
        serial: String,
        /// What is wrong.
        problem: String,
    },
}

/// Parses an RFC 3339 time (with offset) to Unix seconds.
pub fn parse_time(s: &str) -> Option<i64> {
    s.parse::<jiff::Timestamp>().ok().map(|t| t.as_second())
}

/// Decrypts and checks every entry of a `GET /v3/certificates` body: the serial inside each
/// certificate must be the one the list names.
pub fn decrypt_list(
    body: &[u8],
    key: &Apiv3Key,
) -> Result<Vec<PlatformCertificate>, CertificateError> {
    let list: CertificateList =
        serde_json::from_slice(body).map_err(|e| CertificateError::Json(e.to_string()))?;
    list.decrypt(key)
}

impl CertificateList {
    /// Decrypts and checks every entry (see [`decrypt_list`]).
    pub fn decrypt(&self, key: &Apiv3Key) -> Result<Vec<PlatformCertificate>, CertificateError> {
        self.data.iter().map(|e| e.decrypt(key)).collect()
    }
}

impl CertificateEntry {
    /// Decrypts this entry; the serial inside must be the one named.
    pub fn decrypt(&self, key: &Apiv3Key) -> Result<PlatformCertificate, CertificateError> {
        let entry = self;
        let serial = entry.serial_no.to_ascii_uppercase();
        let invalid = |problem: String| CertificateError::Invalid {
            serial: serial.clone(),
            problem,
        };
        let pem =
            entry
                .encrypt_certificate
                .decrypt(key)
                .map_err(|source| CertificateError::Decrypt {
                    serial: serial.clone(),
                    source,
                })?;
        let pem = String::from_utf8(pem).map_err(|_| invalid("not text".into()))?;
        let (inner, _) = certificate_from_pem(pem.as_bytes(), Path::new("<certificate list>"))
            .map_err(|e| invalid(e.to_string()))?;
        if inner != serial {
            return Err(invalid(format!(
                "the certificate inside has serial {inner}"
            )));
        }
        let effective = parse_time(&entry.effective_time)
            .ok_or_else(|| invalid(format!("effective_time {:?}", entry.effective_time)))?;
        let expire = parse_time(&entry.expire_time)
            .ok_or_else(|| invalid(format!("expire_time {:?}", entry.expire_time)))?;
        Ok(PlatformCertificate {
            serial_no: serial,
            effective,
            expire,
            pem,
        })
    }
}

impl PlatformCertificate {
    /// The certificate's public key.
    pub fn public_key(&self) -> Result<PublicKey, KeyError> {
        certificate_from_pem(self.pem.as_bytes(), Path::new("<platform certificate>"))
            .map(|(_, k)| k)
    }
}
