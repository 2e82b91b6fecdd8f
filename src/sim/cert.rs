//! The simulator's platform certificates (platform-certificate mode, `scanpay sim
//! --platform-cert`): self-signed X.509 certificates it signs answers with, the
//! `GET /v3/certificates` list encrypted under the merchant's APIv3 key, and rotation on
//! request. What the real service does, and the sources, are in `docs/protocol.md`
//! ("Platform certificates and rotation").

use base64::Engine as _;
use serde_json::{Value, json};

use crate::wechat::certs::{ALGORITHM, Apiv3Key};
use crate::wechat::keys::{KeyError, PrivateKey, pem_encode};

/// A certificate's lifetime: five years, like WeChat Pay's platform certificates.
pub const LIFETIME_SECS: i64 = 5 * 365 * 24 * 3600;

/// One platform certificate the simulator holds, with its private key.
pub struct SimCertificate {
    /// Serial, 40 upper-case hex digits.
    pub serial_no: String,
    /// Unix seconds.
    pub effective: i64,
    /// Unix seconds.
    pub expire: i64,
    /// The certificate, PEM.
    pub pem: String,
    /// Its private key: answers are signed with it.
    pub key: PrivateKey,
}

impl std::fmt::Debug for SimCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SimCertificate({})", self.serial_no)
    }
}

/// The simulator's platform certificates: the merchant's APIv3 key, the certificates, and the
/// one answers are signed with now (the newest, once rotated).
#[derive(Debug)]
pub struct PlatformCertificates {
    /// The merchant's APIv3 key (the list is encrypted with it).
    pub apiv3_key: Apiv3Key,
    /// Every certificate issued, oldest first.
    pub certificates: Vec<SimCertificate>,
}

impl PlatformCertificates {
    /// One fresh certificate valid from `now` for [`LIFETIME_SECS`].
    pub fn new(apiv3_key: Apiv3Key, now: i64) -> Result<PlatformCertificates, KeyError> {
        let mut p = PlatformCertificates {
            apiv3_key,
            certificates: Vec::new(),
        };
        p.rotate(now)?;
        Ok(p)
    }

    /// Issues a new certificate valid from `now`; answers are signed with it from now on.
    /// The old ones stay in the list until they expire, as during WeChat Pay's rotation.
    pub fn rotate(&mut self, now: i64) -> Result<&SimCertificate, KeyError> {
        let key = PrivateKey::generate()?;
        let cert = issue(&key, now, now + LIFETIME_SECS)?;
        self.certificates.push(cert);
        self.certificates.last().ok_or(KeyError::Generate)
    }

    /// The certificate answers are signed with.
    pub fn signing(&self) -> Option<&SimCertificate> {
        self.certificates.last()
    }

    /// The `GET /v3/certificates` answer body at `now`: every certificate not yet expired,
    /// each encrypted with a fresh nonce and `associated_data` "certificate".
    pub fn list_json(&self, now: i64) -> Value {
        let data: Vec<Value> = self
            .certificates
            .iter()
            .filter(|c| c.expire >= now)
            .map(|c| {
                let nonce: String = crate::wechat::sign::new_nonce()[..12].to_string();
                let ciphertext = self
                    .apiv3_key
                    .encrypt(&nonce, "certificate", c.pem.as_bytes())
                    .unwrap_or_default();
                json!({
                    "serial_no": c.serial_no,
                    "effective_time": rfc3339(c.effective),
                    "expire_time": rfc3339(c.expire),
                    "encrypt_certificate": {
                        "algorithm": ALGORITHM,
                        "nonce": nonce,
                        "associated_data": "certificate",
                        "ciphertext": ciphertext,
                    }
                })
            })
            .collect();
        json!({ "data": data })
    }

    /// Serials and validity, for the admin endpoint.
    pub fn summary(&self) -> Value {
        let signing = self.signing().map(|c| c.serial_no.clone());
        Value::Array(
            self.certificates
                .iter()
                .map(|c| {
                    json!({
                        "serial_no": c.serial_no,
                        "effective_time": rfc3339(c.effective),
                        "expire_time": rfc3339(c.expire),
                        "signing": Some(&c.serial_no) == signing.as_ref(),
                    })
                })
                .collect(),
        )
    }
}

/// RFC 3339 in China time, as WeChat Pay writes times.
fn rfc3339(unix: i64) -> String {
    let t = jiff::Timestamp::from_second(unix).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let offset = jiff::tz::Offset::constant(8);
    t.to_zoned(jiff::tz::TimeZone::fixed(offset))
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// A self-signed certificate for `key`, valid from `not_before` to `not_after`.
pub fn issue(
    key: &PrivateKey,
    not_before: i64,
    not_after: i64,
) -> Result<SimCertificate, KeyError> {
    let serial = random_serial::<20>()?;
    let serial_no: String = serial.iter().map(|b| format!("{b:02X}")).collect();
    let name = name("Tenpay.com Root CA (scanpay simulator)");
    let cert = certificate(
        &serial,
        (&name, key),
        (not_before, not_after),
        &name,
        &key.public_spki_der()?,
        &[],
    )?;
    Ok(SimCertificate {
        serial_no,
        effective: not_before,
        expire: not_after,
        pem: pem_encode("CERTIFICATE", &cert),
        key: PrivateKey::from_pem(
            key.to_pkcs8_pem()?.as_bytes(),
            std::path::Path::new("<sim>"),
        )?,
    })
}

/// A random certificate serial of `N` bytes: positive and without a leading zero byte, so
/// its hex is always `2 N` digits.
pub(crate) fn random_serial<const N: usize>() -> Result<[u8; N], KeyError> {
    let mut serial = [0u8; N];
    aws_lc_rs::rand::fill(&mut serial).map_err(|_| KeyError::Generate)?;
    if let Some(first) = serial.first_mut() {
        *first = (*first & 0x7f) | 0x10;
    }
    Ok(serial)
}

/// An X.509 name of one common name (`CN=…`).
pub(crate) fn name(common_name: &str) -> Vec<u8> {
    der(
        0x30,
        &der(
            0x31,
            &der(
                0x30,
                &[
                    der(0x06, &[0x55, 0x04, 0x03]),
                    der(0x0c, common_name.as_bytes()),
                ]
                .concat(),
            ),
        ),
    )
}

/// An X.509 v3 certificate (DER) for `spki` named `subject`, signed sha256WithRSAEncryption by
/// the issuer `(name, key)`, valid over `(not_before, not_after)` (Unix seconds); `extensions`
/// (each a DER `Extension`) only when not empty.
pub(crate) fn certificate(
    serial: &[u8],
    (issuer, issuer_key): (&[u8], &PrivateKey),
    (not_before, not_after): (i64, i64),
    subject: &[u8],
    spki: &[u8],
    extensions: &[Vec<u8>],
) -> Result<Vec<u8>, KeyError> {
    // AlgorithmIdentifier sha256WithRSAEncryption (1.2.840.113549.1.1.11), NULL parameters.
    let sha256_rsa = der(
        0x30,
        &[
            der(
                0x06,
                &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b],
            ),
            der(0x05, &[]),
        ]
        .concat(),
    );
    let mut tbs = [
        der(0xa0, &der(0x02, &[2])),
        der(0x02, serial),
        sha256_rsa.clone(),
        issuer.to_vec(),
        der(0x30, &[time(not_before), time(not_after)].concat()),
        subject.to_vec(),
        spki.to_vec(),
    ]
    .concat();
    if !extensions.is_empty() {
        tbs.extend(der(0xa3, &der(0x30, &extensions.concat())));
    }
    let tbs = der(0x30, &tbs);
    let signature = base64::engine::general_purpose::STANDARD
        .decode(issuer_key.sign_base64(&tbs)?)
        .map_err(|_| KeyError::Generate)?;
    let mut bits = vec![0u8];
    bits.extend_from_slice(&signature);
    Ok(der(0x30, &[tbs, sha256_rsa, der(0x03, &bits)].concat()))
}

/// UTCTime up to 2049, GeneralizedTime after (RFC 5280 §4.1.2.5).
pub(crate) fn time(unix: i64) -> Vec<u8> {
    let t = jiff::Timestamp::from_second(unix).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let z = t.to_zoned(jiff::tz::TimeZone::UTC);
    if z.year() < 2050 {
        der(0x17, z.strftime("%y%m%d%H%M%SZ").to_string().as_bytes())
    } else {
        der(0x18, z.strftime("%Y%m%d%H%M%SZ").to_string().as_bytes())
    }
}

/// One DER element.
pub(crate) fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wechat::certs::decrypt_list;
    use crate::wechat::keys::{certificate_from_pem, certificate_validity};
    use std::path::Path;

    #[test]
    fn issued_certificates_parse_and_the_list_decrypts() {
        let key = Apiv3Key::from_bytes(b"0123456789abcdef0123456789abcdef").unwrap();
        let now = 1_790_000_000;
        let mut p = PlatformCertificates::new(key.clone(), now).unwrap();
        let first = p.signing().unwrap().serial_no.clone();
        let (serial, public) =
            certificate_from_pem(p.signing().unwrap().pem.as_bytes(), Path::new("x")).unwrap();
        assert_eq!(serial, first);
        assert_eq!(
            certificate_validity(p.signing().unwrap().pem.as_bytes(), Path::new("x")).unwrap(),
            (now, now + LIFETIME_SECS)
        );
        let sig = p.signing().unwrap().key.sign_base64(b"m").unwrap();
        assert!(public.verify_base64(b"m", &sig));
        let second = p.rotate(now + 10).unwrap().serial_no.clone();
        assert_ne!(first, second);
        let body = serde_json::to_vec(&p.list_json(now + 20)).unwrap();
        let certs = decrypt_list(&body, &key).unwrap();
        let serials: Vec<&str> = certs.iter().map(|c| c.serial_no.as_str()).collect();
        assert_eq!(serials, [first.as_str(), second.as_str()]);
        assert_eq!(certs[1].effective, now + 10);
        // Past the first one's expiry it leaves the list.
        let later = serde_json::to_vec(&p.list_json(now + LIFETIME_SECS + 1)).unwrap();
        assert_eq!(decrypt_list(&later, &key).unwrap().len(), 1);
        let wrong = Apiv3Key::from_bytes(b"0123456789abcdef0123456789abcdeX").unwrap();
        assert!(decrypt_list(&body, &wrong).is_err());
    }
}
