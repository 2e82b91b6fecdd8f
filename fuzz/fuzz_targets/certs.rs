#![no_main]
//! The platform-certificate list (`GET /v3/certificates` → decrypted certificates), with a
//! fixed APIv3 key (wechatpay-java's test key). Never panics, and:
//! - the input as a list body: JSON decoding, then AEAD open (wrong tags and nonces refused);
//! - the input as a certificate (PEM text, or DER wrapped in PEM), sealed correctly under the
//!   key into a one-entry list: the list is accepted exactly when the certificate parses on its
//!   own, and then with the serial inside it.
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use scanpay::wechat::certs::{Apiv3Key, decrypt_list};
use scanpay::wechat::keys::certificate_from_pem;

const KEY: &[u8; 32] = b"a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";
const NONCE: &str = "14b16c03dc1b";

fn sealed_list(key: &Apiv3Key, serial: &str, plaintext: &[u8]) -> Vec<u8> {
    let ciphertext = key
        .encrypt(NONCE, "certificate", plaintext)
        .unwrap_or_else(|e| panic!("sealing with a 12-byte nonce: {e}"));
    serde_json::to_vec(&serde_json::json!({"data": [{
        "serial_no": serial,
        "effective_time": "2024-01-01T00:00:00+08:00",
        "expire_time": "2029-01-01T00:00:00+08:00",
        "encrypt_certificate": {
            "algorithm": "AEAD_AES_256_GCM",
            "nonce": NONCE,
            "associated_data": "certificate",
            "ciphertext": ciphertext,
        },
    }]}))
    .unwrap_or_else(|e| panic!("a JSON value always serialises: {e}"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(key) = Apiv3Key::from_bytes(KEY) else {
        return;
    };
    let _ = decrypt_list(data, &key);

    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let pem = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        let b64 = base64::engine::general_purpose::STANDARD.encode(rest);
        format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n").into_bytes()
    };
    let alone = certificate_from_pem(&pem, std::path::Path::new("<fuzz>"));
    let serial = match &alone {
        Ok((serial, _)) => serial.clone(),
        Err(_) => "5DEA10EF".to_string(),
    };
    let listed = decrypt_list(&sealed_list(&key, &serial, &pem), &key);
    match (alone, listed) {
        (Ok((serial, _)), Ok(certs)) => {
            assert_eq!(certs.len(), 1);
            assert_eq!(certs[0].serial_no, serial.to_ascii_uppercase());
            assert!(certs[0].public_key().is_ok());
        }
        (Err(_), Err(_)) => {}
        // Text that is not UTF-8 may hold a certificate PEM can find but the list refuses.
        (Ok(_), Err(_)) if std::str::from_utf8(&pem).is_err() => {}
        (a, l) => panic!(
            "alone {:?} but listed {:?}",
            a.map(|(s, _)| s),
            l.map(|c| c.len())
        ),
    }
});
