//! Signing and verification against the official and SDK test vectors in `tests/vectors/`
//! (a copy of `shared/vectors/`). Every expected value is compared byte for byte.

use std::path::Path;

use scanpay::wechat::keys::{PrivateKey, PublicKey, TrustStore, certificate_from_pem};
use scanpay::wechat::model::{CodepayPayer, CodepayRequest, RequestAmount, SceneInfo, StoreInfo};
use scanpay::wechat::sign::{
    AnswerSignature, Signer, VerifyError, request_message, response_message,
};
use serde_json::Value;

fn dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors"))
}

fn json(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(dir().join(name)).unwrap()).unwrap()
}

fn key(name: &str) -> PrivateKey {
    PrivateKey::load(&dir().join(name)).unwrap()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str()
        .unwrap_or_else(|| panic!("vector field {k} missing"))
}

fn answer(headers: &Value) -> AnswerSignature {
    AnswerSignature::from_headers(|name| headers[name].as_str().map(str::to_string))
        .unwrap()
        .unwrap()
}

#[test]
fn official_doc_request_signatures() {
    let v = json("v3-official-doc-signing.json");
    let signer_key = key("official_doc_test_private_key_1900007291.pem");
    let mut exact = 0;
    for case in v["request_signatures"].as_array().unwrap() {
        let ts: i64 = s(case, "timestamp").parse().unwrap();
        let msg = request_message(
            s(case, "method"),
            s(case, "canonical_url"),
            ts,
            s(case, "nonce_str"),
            s(case, "body").as_bytes(),
        );
        assert_eq!(
            String::from_utf8(msg.clone()).unwrap(),
            s(case, "message"),
            "{}",
            s(case, "id")
        );
        let sig = signer_key.sign_base64(&msg).unwrap();
        if let Some(expected) = case["expected_signature"].as_str() {
            assert_eq!(sig, expected, "{}", s(case, "id"));
            exact += 1;
        }
        if let Some(prefix) = case["expected_signature_prefix"].as_str() {
            assert!(sig.starts_with(prefix), "{}: {sig}", s(case, "id"));
        }
    }
    assert!(exact >= 1);
    // The JSAPI pay-sign uses the same key over a different message layout.
    let pay = &v["jsapi_pay_sign"];
    assert_eq!(
        signer_key
            .sign_base64(s(pay, "message").as_bytes())
            .unwrap(),
        s(pay, "expected_signature")
    );
}

#[test]
fn official_doc_public_key_verification() {
    let v = json("v3-official-doc-signing.json");
    let rv = &v["response_verification"];
    let mut trust = TrustStore::new();
    let id = s(&rv["headers"], "Wechatpay-Serial");
    trust.add_public_key(
        id,
        PublicKey::load(&dir().join("official_doc_wechatpay_public_key_example.pem")).unwrap(),
    );
    let sig = answer(&rv["headers"]);
    let body = s(rv, "body").as_bytes();
    assert_eq!(
        response_message(&sig.timestamp, &sig.nonce, body),
        s(rv, "message").as_bytes()
    );
    let ts: i64 = sig.timestamp.parse().unwrap();
    assert_eq!(sig.verify(&trust, body, ts), Ok(()));
    assert_eq!(
        sig.verify(&trust, b"{\"code_url\":\"weixin://x\"}", ts),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(trust.preferred_serial(), Some(id));
}

#[test]
fn wechatpay_go_vectors() {
    let v = json("wechatpay-go.json");
    let k = key("wechatpay-go_test_private_key.pem");
    let sign = &v["sign_source"];
    assert_eq!(
        k.sign_base64(s(sign, "message").as_bytes()).unwrap(),
        s(sign, "expected_signature")
    );

    let (serial, cert_key) = certificate_from_pem(
        &std::fs::read(dir().join("wechatpay-go_test_cert_F5765756002FDD77.pem")).unwrap(),
        Path::new("c"),
    )
    .unwrap();
    assert_eq!(serial, "F5765756002FDD77");
    assert!(cert_key.verify_base64(s(sign, "message").as_bytes(), s(sign, "expected_signature")));
    let neg = &v["verify_negative"];
    assert!(!cert_key.verify_base64(s(neg, "message").as_bytes(), s(neg, "signature")));
    let public = PublicKey::load(&dir().join("wechatpay-go_test_public_key.pem")).unwrap();
    assert!(public.verify_base64(s(sign, "message").as_bytes(), s(sign, "expected_signature")));

    // The signed notification verifies with certificate D7CE59D1F522D701 by its serial.
    let n = &v["notification"];
    let trust = TrustStore::load(
        None,
        &[dir().join("wechatpay-go_test_cert_D7CE59D1F522D701.pem")],
    )
    .unwrap();
    let sig = answer(&n["headers"]);
    let ts: i64 = sig.timestamp.parse().unwrap();
    assert_eq!(sig.verify(&trust, s(n, "body").as_bytes(), ts + 10), Ok(()));

    // The Authorization layout: scheme, space, five key="value" pairs, no spaces.
    let layout = &v["authorization_header_format"];
    for case in layout["cases"].as_array().unwrap() {
        let expected = s(case, "expected");
        let rest = expected.split_once(' ').unwrap().1;
        let keys: Vec<&str> = rest
            .split(',')
            .map(|p| p.split_once('=').unwrap().0)
            .collect();
        assert_eq!(
            keys,
            ["mchid", "nonce_str", "timestamp", "serial_no", "signature"]
        );
    }
}

#[test]
fn wechatpay_java_vectors() {
    let v = json("wechatpay-java.json");
    let m = &v["sign_message"];
    let k = key("wechatpay-java_merchant_private_key.pem");
    assert_eq!(
        k.sign_base64(s(m, "message").as_bytes()).unwrap(),
        s(m, "expected_signature")
    );
    let (serial, merchant_cert) = certificate_from_pem(
        &std::fs::read(dir().join("wechatpay-java_merchant_certificate_5F1C72E2.pem")).unwrap(),
        Path::new("c"),
    )
    .unwrap();
    assert_eq!(serial, s(&v["merchant"], "serial_no"));
    assert!(merchant_cert.verify_base64(s(m, "message").as_bytes(), s(m, "expected_signature")));
    let platform = PublicKey::load(&dir().join("wechatpay-java_wechatpay_public_key.pem")).unwrap();
    assert!(!platform.verify_base64(s(m, "message").as_bytes(), s(m, "expected_signature")));
    let (pserial, _) = certificate_from_pem(
        &std::fs::read(dir().join("wechatpay-java_wechatpay_certificate_44002404.pem")).unwrap(),
        Path::new("c"),
    )
    .unwrap();
    assert_eq!(pserial, s(&v["platform"], "serial_no"));

    // Canonical URL keeps the raw query string.
    let a = &v["authorization_layout"];
    let url = reqwest::Url::parse(s(a, "uri")).unwrap();
    let canonical = format!("{}?{}", url.path(), url.query().unwrap());
    let msg = request_message(
        s(a, "method"),
        &canonical,
        a["timestamp"].as_i64().unwrap(),
        s(a, "nonce"),
        b"",
    );
    assert_eq!(String::from_utf8(msg).unwrap(), s(a, "expected_message"));
}

#[test]
fn derived_codepay_requests_byte_for_byte() {
    let v = json("derived-simulator-vectors.json");
    let cases = v["requests"].as_array().unwrap();
    let signer = Signer::new(
        "1900007291",
        "408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB",
        key("official_doc_test_private_key_1900007291.pem"),
    );
    // Our own serialisation of the codepay body is the vector's body, byte for byte.
    let req = CodepayRequest {
        appid: "wxd678efh567hg6787".into(),
        mchid: "1900007291".into(),
        description: "Image形象店-深圳腾大-QQ公仔".into(),
        out_trade_no: "1217752501201407033233368018".into(),
        attach: None,
        payer: CodepayPayer {
            auth_code: "130061098828009406".into(),
        },
        amount: RequestAmount {
            total: 100,
            currency: Some("CNY".into()),
        },
        scene_info: SceneInfo {
            store_info: StoreInfo {
                out_id: Some("A1111".into()),
                id: None,
            },
            device_ip: Some("14.23.150.211".into()),
            device_id: None,
        },
    };
    assert_eq!(serde_json::to_string(&req).unwrap(), s(&cases[0], "body"));
    for case in cases {
        let ts: i64 = s(case, "timestamp").parse().unwrap();
        let body = s(case, "body").as_bytes();
        let msg = request_message(
            s(case, "method"),
            s(case, "canonical_url"),
            ts,
            s(case, "nonce_str"),
            body,
        );
        assert_eq!(
            String::from_utf8(msg).unwrap(),
            s(case, "message"),
            "{}",
            s(case, "id")
        );
        let auth = signer
            .authorization(
                s(case, "method"),
                s(case, "canonical_url"),
                ts,
                s(case, "nonce_str"),
                body,
            )
            .unwrap();
        if let Some(expected) = case["expected_authorization"].as_str() {
            assert_eq!(auth, expected, "{}", s(case, "id"));
        }
        if let Some(expected) = case["expected_signature"].as_str() {
            assert!(
                auth.ends_with(&format!("signature=\"{expected}\"")),
                "{}",
                s(case, "id")
            );
        }
    }
}

#[test]
fn derived_answers_verify_or_are_rejected_for_the_right_reason() {
    let v = json("derived-simulator-vectors.json");
    let mut trust = TrustStore::new();
    let (serial, key) = certificate_from_pem(
        &std::fs::read(dir().join("wechatpay-java_wechatpay_certificate_44002404.pem")).unwrap(),
        Path::new("c"),
    )
    .unwrap();
    trust.add_certificate(&serial, key);
    let mut seen = 0;
    for case in v["responses"].as_array().unwrap() {
        let sig = answer(&case["headers"]);
        let ts: i64 = sig.timestamp.parse().unwrap();
        let body = s(case, "body").as_bytes();
        let got = sig.verify(&trust, body, ts);
        let expected = s(case, "expected");
        match s(case, "id") {
            "signature-probe" => assert_eq!(got, Err(VerifyError::Probe)),
            "unknown-serial" => {
                assert!(matches!(got, Err(VerifyError::UnknownSerial(_))), "{got:?}")
            }
            "tampered-body" => assert_eq!(got, Err(VerifyError::BadSignature)),
            id => assert_eq!(got, Ok(()), "{id}"),
        }
        assert_eq!(got.is_ok(), expected == "valid", "{}", s(case, "id"));
        // The same answers, with our clock five minutes off, are refused.
        if expected == "valid" {
            assert!(matches!(
                sig.verify(&trust, body, ts + 300),
                Err(VerifyError::Skewed { skew: 300, .. })
            ));
            assert!(matches!(
                sig.verify(&trust, body, ts - 300),
                Err(VerifyError::Skewed { .. })
            ));
            assert_eq!(sig.verify(&trust, body, ts + 299), Ok(()));
        }
        seen += 1;
    }
    assert_eq!(seen, 6);
}

#[test]
fn key_files_are_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("k.pem");
    std::fs::write(
        &p,
        "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
    )
    .unwrap();
    let err = PrivateKey::load(&p).unwrap_err().to_string();
    assert!(
        err.contains("PKCS#1") && err.contains("openssl pkcs8"),
        "{err}"
    );
    std::fs::write(&p, "hello").unwrap();
    let err = PrivateKey::load(&p).unwrap_err().to_string();
    assert!(err.contains("no PKCS#8 private key"), "{err}");
    std::fs::write(
        &p,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let err = PrivateKey::load(&p).unwrap_err().to_string();
    assert!(err.contains("k.pem"), "{err}");
    let err = PrivateKey::load(&tmp.path().join("missing.pem"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.pem: cannot read it"), "{err}");
    let err = PublicKey::load(&dir().join("wechatpay-go_test_cert_F5765756002FDD77.pem"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no public key"), "{err}");
}

#[test]
fn generated_keys_round_trip_through_pem() {
    let k = PrivateKey::generate().unwrap();
    let again =
        PrivateKey::from_pem(k.to_pkcs8_pem().unwrap().as_bytes(), Path::new("mem")).unwrap();
    let public = PublicKey::from_pem(k.public_pem().unwrap().as_bytes(), Path::new("mem")).unwrap();
    let sig = again.sign_base64(b"hello").unwrap();
    assert!(public.verify_base64(b"hello", &sig));
    assert!(!public.verify_base64(b"hellp", &sig));
}

// ---- APIv2 (XML): v2-sign.json, every vector byte for byte ----

mod v2 {
    use super::{json, s};
    use scanpay::wechat::v2::Fields;
    use scanpay::wechat::v2::request::{Merchant, Micropay, signed_fields, signed_xml};
    use scanpay::wechat::v2::sign::{ApiKey, SignType, VerifyError, sign, string_a, verify};
    use scanpay::wechat::v2::xml;
    use serde_json::Value;

    fn fields(v: &Value) -> Fields {
        v.as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect()
    }

    #[test]
    fn official_example_string_a_md5_and_hmac() {
        let v = json("v2-sign.json");
        let key = ApiKey::new(s(&v, "key")).unwrap();
        let params = fields(&v["params"]);
        assert_eq!(string_a(&params), s(&v, "stringA"));
        assert_eq!(
            format!("{}&key={}", string_a(&params), s(&v, "key")),
            s(&v, "stringSignTemp")
        );
        assert_eq!(sign(&params, &key, SignType::Md5), s(&v["expected"], "MD5"));
        assert_eq!(
            sign(&params, &key, SignType::HmacSha256),
            s(&v["expected"], "HMAC-SHA256")
        );
        // The same values verify as an answer's `sign`, and only with the right type.
        for (ty, name) in [
            (SignType::Md5, "MD5"),
            (SignType::HmacSha256, "HMAC-SHA256"),
        ] {
            let mut signed = params.clone();
            signed.insert("sign".into(), s(&v["expected"], name).into());
            assert_eq!(verify(&signed, &key, ty), Ok(()), "{name}");
            let other = if ty == SignType::Md5 {
                SignType::HmacSha256
            } else {
                SignType::Md5
            };
            assert_eq!(verify(&signed, &key, other), Err(VerifyError::Mismatch));
        }
    }

    #[test]
    fn derived_micropay_string_a_and_signatures() {
        let v = json("v2-sign.json");
        let key = ApiKey::new(s(&v, "key")).unwrap();
        let d = &v["derived_micropay_example"];
        let params = fields(&d["params"]);
        assert_eq!(string_a(&params), s(d, "stringA"));
        assert_eq!(sign(&params, &key, SignType::Md5), s(d, "expected_MD5"));
        assert_eq!(
            sign(&params, &key, SignType::HmacSha256),
            s(d, "expected_HMAC-SHA256")
        );
    }

    fn derived_micropay(d: &Value) -> (Micropay, Merchant, String) {
        let p = &d["params"];
        let micropay = Micropay {
            body: s(p, "body").into(),
            out_trade_no: s(p, "out_trade_no").into(),
            total_fee: s(p, "total_fee").parse().unwrap(),
            spbill_create_ip: s(p, "spbill_create_ip").into(),
            auth_code: s(p, "auth_code").into(),
            // Sent empty in the vector: left out of the XML and the signature.
            device_info: Some(s(p, "device_info").into()),
            attach: Some(s(p, "attach").into()),
            ..Micropay::default()
        };
        let merchant = Merchant {
            appid: s(p, "appid").into(),
            mch_id: s(p, "mch_id").into(),
        };
        (micropay, merchant, s(p, "nonce_str").into())
    }

    #[test]
    fn derived_micropay_request_xml_byte_for_byte() {
        let v = json("v2-sign.json");
        let key = ApiKey::new(s(&v, "key")).unwrap();
        let d = &v["derived_micropay_example"];
        let (micropay, merchant, nonce) = derived_micropay(d);
        let body = signed_xml(&micropay, &merchant, &nonce, &key, SignType::Md5).unwrap();
        let expected = format!(
            "<xml>\
             <appid><![CDATA[wxd930ea5d5a258f4f]]></appid>\
             <auth_code><![CDATA[120061098828009406]]></auth_code>\
             <body><![CDATA[image形象店-深圳腾大-QQ公仔]]></body>\
             <mch_id><![CDATA[10000100]]></mch_id>\
             <nonce_str><![CDATA[5K8264ILTKCH16CQ2502SI8ZNMTM67VS]]></nonce_str>\
             <out_trade_no><![CDATA[1217752501201407033233368018]]></out_trade_no>\
             <sign><![CDATA[{}]]></sign>\
             <spbill_create_ip><![CDATA[8.8.8.8]]></spbill_create_ip>\
             <total_fee><![CDATA[888]]></total_fee>\
             </xml>",
            s(d, "expected_MD5")
        );
        assert_eq!(body, expected);
        // What the service reads back is what was signed.
        let read = xml::parse(body.as_bytes()).unwrap();
        assert_eq!(string_a(&read), s(d, "stringA"));
        assert_eq!(verify(&read, &key, SignType::Md5), Ok(()));

        // HMAC-SHA256 requests must name their type, which is then signed too: the vector's
        // HMAC value (computed without sign_type) is for the bare parameters only.
        let hmac = signed_fields(&micropay, &merchant, &nonce, &key, SignType::HmacSha256).unwrap();
        assert_eq!(hmac["sign_type"], "HMAC-SHA256");
        assert_eq!(
            string_a(&hmac),
            s(d, "stringA").replace(
                "&spbill_create_ip=",
                "&sign_type=HMAC-SHA256&spbill_create_ip="
            )
        );
        assert_ne!(hmac["sign"], s(d, "expected_HMAC-SHA256"));
        assert_eq!(verify(&hmac, &key, SignType::HmacSha256), Ok(()));
    }
}
