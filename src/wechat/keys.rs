//! Key material: the merchant's RSA private key, and the trust store of WeChat Pay public keys
//! and platform certificates, each looked up by the serial an answer names.
//!
//! Keys are loaded once at start; every failure is a [`KeyError`] that names the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, RsaKeyPair, UnparsedPublicKey};
use base64::Engine as _;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer, SubjectPublicKeyInfoDer};

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read.
    #[error("key file {path}: cannot read it: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file holds no usable key of the expected kind.
    #[error("key file {path}: {problem}")]
    Malformed {
        /// The file (or a description of in-memory material).
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// Key generation failed (simulator only).
    #[error("could not generate an RSA key")]
    Generate,
}

fn malformed(path: &Path, problem: impl Into<String>) -> KeyError {
    KeyError::Malformed {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, KeyError> {
    std::fs::read(path).map_err(|e| KeyError::Read {
        path: path.to_path_buf(),
        source: e,
    })
}

/// An RSA-2048 private key in memory, used to sign (merchant requests, or simulator answers).
pub struct PrivateKey {
    pair: RsaKeyPair,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(<redacted>)")
    }
}

impl PrivateKey {
    /// Reads a PKCS#8 PEM file (`-----BEGIN PRIVATE KEY-----`).
    pub fn load(path: &Path) -> Result<PrivateKey, KeyError> {
        Self::from_pem(&read(path)?, path)
    }

    /// Parses PKCS#8 PEM text; `origin` names it in messages.
    pub fn from_pem(pem: &[u8], origin: &Path) -> Result<PrivateKey, KeyError> {
        if contains(pem, b"BEGIN RSA PRIVATE KEY") {
            return Err(malformed(
                origin,
                "is a PKCS#1 key (BEGIN RSA PRIVATE KEY); convert it with \
                 `openssl pkcs8 -topk8 -nocrypt -in OLD -out apiclient_key.pem`",
            ));
        }
        if contains(pem, b"ENCRYPTED PRIVATE KEY") {
            return Err(malformed(
                origin,
                "is encrypted; scanpay needs the unencrypted PKCS#8 key",
            ));
        }
        let der = PrivatePkcs8KeyDer::from_pem_slice(pem).map_err(|e| {
            malformed(
                origin,
                format!("no PKCS#8 private key (BEGIN PRIVATE KEY) found: {e}"),
            )
        })?;
        let pair = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
            .map_err(|e| malformed(origin, format!("not a usable RSA private key: {e}")))?;
        if pair.public_modulus_len() * 8 < 2048 {
            return Err(malformed(origin, "RSA key is shorter than 2048 bits"));
        }
        Ok(PrivateKey { pair })
    }

    /// A fresh RSA-2048 key (the simulator's keys).
    pub fn generate() -> Result<PrivateKey, KeyError> {
        let pair =
            aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generate)?;
        Ok(PrivateKey { pair })
    }

    /// PKCS#8 PEM text of this key.
    pub fn to_pkcs8_pem(&self) -> Result<String, KeyError> {
        let der: Pkcs8V1Der<'static> = self.pair.as_der().map_err(|_| KeyError::Generate)?;
        Ok(pem_encode("PRIVATE KEY", der.as_ref()))
    }

    /// SPKI DER of the public half.
    pub fn public_spki_der(&self) -> Result<Vec<u8>, KeyError> {
        use aws_lc_rs::signature::KeyPair as _;
        let der: PublicKeyX509Der<'static> = self
            .pair
            .public_key()
            .as_der()
            .map_err(|_| KeyError::Generate)?;
        Ok(der.as_ref().to_vec())
    }

    /// SPKI PEM text (`-----BEGIN PUBLIC KEY-----`) of the public half.
    pub fn public_pem(&self) -> Result<String, KeyError> {
        Ok(pem_encode("PUBLIC KEY", &self.public_spki_der()?))
    }

    /// RSASSA-PKCS1-v1_5 / SHA-256 signature of `message`, standard base64 with padding.
    pub fn sign_base64(&self, message: &[u8]) -> Result<String, KeyError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig)
            .map_err(|_| malformed(Path::new("<signing key>"), "signing failed"))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(sig))
    }
}

/// A public key that can check RSA PKCS#1 v1.5 SHA-256 signatures.
#[derive(Clone)]
pub struct PublicKey {
    der: Vec<u8>,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({} bytes)", self.der.len())
    }
}

impl PublicKey {
    /// Reads an SPKI PEM file (`-----BEGIN PUBLIC KEY-----`).
    pub fn load(path: &Path) -> Result<PublicKey, KeyError> {
        Self::from_pem(&read(path)?, path)
    }

    /// Parses SPKI PEM text.
    pub fn from_pem(pem: &[u8], origin: &Path) -> Result<PublicKey, KeyError> {
        let der = SubjectPublicKeyInfoDer::from_pem_slice(pem).map_err(|e| {
            malformed(
                origin,
                format!("no public key (BEGIN PUBLIC KEY) found: {e}"),
            )
        })?;
        Self::from_spki_der(der.as_ref()).map_err(|p| malformed(origin, p))
    }

    /// Takes SPKI DER, checking that it is an RSA key of at least 2048 bits.
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, String> {
        let key = aws_lc_rs::rsa::PublicEncryptingKey::from_der(der)
            .map_err(|e| format!("not an RSA public key: {e}"))?;
        if key.key_size_bits() < 2048 {
            return Err("RSA key is shorter than 2048 bits".into());
        }
        Ok(PublicKey { der: der.to_vec() })
    }

    /// Whether `signature_b64` is a valid signature of `message`.
    pub fn verify_base64(&self, message: &[u8], signature_b64: &str) -> bool {
        let Ok(sig) = base64::engine::general_purpose::STANDARD.decode(signature_b64.trim()) else {
            return false;
        };
        UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &self.der)
            .verify(message, &sig)
            .is_ok()
    }
}

/// A platform certificate's serial (upper-case hex) and public key.
pub fn certificate_from_pem(pem: &[u8], origin: &Path) -> Result<(String, PublicKey), KeyError> {
    let der = CertificateDer::from_pem_slice(pem).map_err(|e| {
        malformed(
            origin,
            format!("no certificate (BEGIN CERTIFICATE) found: {e}"),
        )
    })?;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
        .map_err(|e| malformed(origin, format!("not an X.509 certificate: {e}")))?;
    let serial = cert
        .tbs_certificate
        .raw_serial()
        .iter()
        .skip_while(|b| **b == 0)
        .map(|b| format!("{b:02X}"))
        .collect::<String>();
    let key = PublicKey::from_spki_der(cert.public_key().raw).map_err(|p| malformed(origin, p))?;
    Ok((serial, key))
}

/// A platform certificate file's validity (Unix seconds), besides its serial and key.
pub fn certificate_validity(pem: &[u8], origin: &Path) -> Result<(i64, i64), KeyError> {
    let der = CertificateDer::from_pem_slice(pem).map_err(|e| {
        malformed(
            origin,
            format!("no certificate (BEGIN CERTIFICATE) found: {e}"),
        )
    })?;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
        .map_err(|e| malformed(origin, format!("not an X.509 certificate: {e}")))?;
    let v = cert.validity();
    Ok((v.not_before.timestamp(), v.not_after.timestamp()))
}

/// Where a trusted key came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    /// The WeChat Pay public key (`wechatpay_public_key`).
    PublicKey,
    /// A platform certificate file named in `platform_certificates`.
    PinnedCertificate,
    /// A platform certificate downloaded with `GET /v3/certificates`.
    DownloadedCertificate,
}

/// How a trusted key stands at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// Usable, and not about to expire (or it never expires: a public key).
    Valid,
    /// Usable, but it expires within [`EXPIRY_WARNING_SECS`].
    ExpiresSoon,
    /// Past its expiry: answers naming it are not trusted.
    Expired,
    /// Not valid yet.
    NotYetValid,
}

/// A certificate expiring within this many seconds is reported (`scanpay check`): WeChat Pay
/// issues the new platform certificate ten days before the old one expires (see
/// `docs/protocol.md`).
pub const EXPIRY_WARNING_SECS: i64 = 10 * 24 * 3600;

/// One trusted key, as [`TrustStore::status`] reports it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KeyStatus {
    /// `PUB_KEY_ID_…` or the certificate serial.
    pub serial: String,
    /// Where it came from.
    pub source: KeySource,
    /// Unix seconds from which a certificate is valid (none for a public key).
    pub effective: Option<i64>,
    /// Unix seconds of a certificate's expiry (none for a public key).
    pub expire: Option<i64>,
    /// Its state at the time asked.
    pub state: KeyState,
    /// Whether another certificate that stays valid longer is held (its successor).
    pub has_successor: bool,
}

/// Why [`TrustStore::get_at`] found no usable key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missing {
    /// No key with that serial.
    Unknown,
    /// The certificate with that serial has expired (or is not valid yet).
    Expired,
}

#[derive(Clone, Debug)]
struct Entry {
    key: PublicKey,
    source: KeySource,
    effective: Option<i64>,
    expire: Option<i64>,
}

/// The keys scanpay trusts for WeChat Pay answers, by the serial in `Wechatpay-Serial`: a
/// WeChat Pay public key (`PUB_KEY_ID_…`) and any number of platform certificates side by side
/// (pinned files and downloaded ones: the migration period). Certificates carry their validity;
/// one past its expiry is not used.
#[derive(Clone, Debug, Default)]
pub struct TrustStore {
    keys: BTreeMap<String, Entry>,
    public_key_id: Option<String>,
    downloaded: BTreeMap<String, crate::wechat::certs::PlatformCertificate>,
}

impl TrustStore {
    /// An empty store.
    pub fn new() -> TrustStore {
        TrustStore::default()
    }

    /// Adds a WeChat Pay public key under its `PUB_KEY_ID_…`; it becomes the serial scanpay
    /// asks WeChat to sign with (`Wechatpay-Serial` on requests).
    pub fn add_public_key(&mut self, id: &str, key: PublicKey) {
        self.keys.insert(
            id.to_string(),
            Entry {
                key,
                source: KeySource::PublicKey,
                effective: None,
                expire: None,
            },
        );
        self.public_key_id = Some(id.to_string());
    }

    /// Adds a platform certificate's key under its serial, with no known validity.
    pub fn add_certificate(&mut self, serial: &str, key: PublicKey) {
        self.insert_certificate(serial, key, KeySource::PinnedCertificate, None, None);
    }

    fn insert_certificate(
        &mut self,
        serial: &str,
        key: PublicKey,
        source: KeySource,
        effective: Option<i64>,
        expire: Option<i64>,
    ) {
        let serial = serial.to_ascii_uppercase();
        // A pinned file stays pinned even when the same certificate is downloaded too.
        let source = match self.keys.get(&serial) {
            Some(e) if e.source == KeySource::PinnedCertificate => e.source,
            _ => source,
        };
        self.keys.insert(
            serial,
            Entry {
                key,
                source,
                effective,
                expire,
            },
        );
    }

    /// Adds (or refreshes) a downloaded platform certificate.
    pub fn add_downloaded(
        &mut self,
        cert: &crate::wechat::certs::PlatformCertificate,
    ) -> Result<(), KeyError> {
        let key = cert.public_key()?;
        self.insert_certificate(
            &cert.serial_no,
            key,
            KeySource::DownloadedCertificate,
            Some(cert.effective),
            Some(cert.expire),
        );
        self.downloaded
            .insert(cert.serial_no.to_ascii_uppercase(), cert.clone());
        Ok(())
    }

    /// The downloaded certificates held (what the cache on disk keeps).
    pub fn downloaded(&self) -> Vec<crate::wechat::certs::PlatformCertificate> {
        self.downloaded.values().cloned().collect()
    }

    /// Loads the WeChat Pay public key (its id and file) and the platform certificate files.
    pub fn load(
        public_key: Option<(&str, &Path)>,
        certificates: &[PathBuf],
    ) -> Result<TrustStore, KeyError> {
        let mut store = TrustStore::new();
        for path in certificates {
            let pem = read(path)?;
            let (serial, key) = certificate_from_pem(&pem, path)?;
            let (effective, expire) = certificate_validity(&pem, path)?;
            store.insert_certificate(
                &serial,
                key,
                KeySource::PinnedCertificate,
                Some(effective),
                Some(expire),
            );
        }
        if let Some((id, path)) = public_key {
            store.add_public_key(id, PublicKey::load(path)?);
        }
        Ok(store)
    }

    fn entry(&self, serial: &str) -> Option<&Entry> {
        self.keys
            .get(serial)
            .or_else(|| self.keys.get(&serial.to_ascii_uppercase()))
    }

    /// The key for a serial (certificate serials match case-insensitively), whatever its
    /// validity.
    pub fn get(&self, serial: &str) -> Option<&PublicKey> {
        self.entry(serial).map(|e| &e.key)
    }

    /// The key for a serial if it is usable at `now` (Unix seconds): a certificate outside
    /// its validity is [`Missing::Expired`].
    pub fn get_at(&self, serial: &str, now: i64) -> Result<&PublicKey, Missing> {
        let e = self.entry(serial).ok_or(Missing::Unknown)?;
        match Self::state(e, now) {
            KeyState::Expired | KeyState::NotYetValid => Err(Missing::Expired),
            KeyState::Valid | KeyState::ExpiresSoon => Ok(&e.key),
        }
    }

    fn state(e: &Entry, now: i64) -> KeyState {
        match (e.effective, e.expire) {
            (Some(from), _) if now < from => KeyState::NotYetValid,
            (_, Some(until)) if now > until => KeyState::Expired,
            (_, Some(until)) if until - now <= EXPIRY_WARNING_SECS => KeyState::ExpiresSoon,
            _ => KeyState::Valid,
        }
    }

    /// Every key held and how it stands at `now` (Unix seconds): what `scanpay check`
    /// reports. A certificate that [`KeyState::ExpiresSoon`] without a successor needs a
    /// new certificate (or the public key) before it expires.
    pub fn status(&self, now: i64) -> Vec<KeyStatus> {
        let latest = self
            .keys
            .values()
            .filter_map(|e| e.expire)
            .max()
            .unwrap_or(i64::MIN);
        self.keys
            .iter()
            .map(|(serial, e)| KeyStatus {
                serial: serial.clone(),
                source: e.source,
                effective: e.effective,
                expire: e.expire,
                state: Self::state(e, now),
                has_successor: e.expire.is_some_and(|x| x < latest),
            })
            .collect()
    }

    /// The serial to name in a request's `Wechatpay-Serial` header: the public key if there is
    /// one, else the certificate that stays valid longest.
    pub fn preferred_serial(&self) -> Option<&str> {
        if let Some(id) = &self.public_key_id {
            return Some(id);
        }
        self.keys
            .iter()
            .max_by_key(|(_, e)| e.expire.unwrap_or(i64::MAX))
            .map(|(s, _)| s.as_str())
    }

    /// How many keys are held.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// PEM-encodes DER with 64-column lines.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
