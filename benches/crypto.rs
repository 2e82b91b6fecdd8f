//! APIv3 request signing and answer verification, each beside its physical floor measured in
//! the same run: one bare RSA-2048 PKCS#1 v1.5 / SHA-256 signature, and one bare verification
//! with an already parsed public key (aws-lc-rs, the library scanpay signs with).
//!
//! The only benchmark of RSA on its own: `payment` uses the same primitives inside its
//! payment floor but does not time them separately.
//!
//! Run: `cargo bench --bench crypto` (results and how to read them: docs/performance.md).

use std::hint::black_box;
use std::path::Path;

use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, ParsedPublicKey};
use criterion::{Criterion, criterion_group, criterion_main};
use scanpay::wechat::keys::{PrivateKey, PublicKey, TrustStore};
use scanpay::wechat::sign::{
    AnswerSignature, Signer, new_nonce, request_message, response_message,
};

/// A codepay request body of the size the engine sends.
const BODY: &str = r#"{"appid":"wxd678efh567hg6787","mchid":"1900000001","description":"示例便利店","out_trade_no":"POS01-20261127-AB-000001","payer":{"auth_code":"134567890123456711"},"amount":{"total":1234,"currency":"CNY"},"scene_info":{"store_info":{"out_id":"SZ-001"},"device_ip":"10.0.0.8","device_id":"POS01"}}"#;
/// A paid-transaction answer body of the size the simulator sends.
const ANSWER: &str = r#"{"appid":"wxd678efh567hg6787","mchid":"1900000001","out_trade_no":"POS01-20261127-AB-000001","transaction_id":"4200000256202611270123456789","trade_type":"MICROPAY","trade_state":"SUCCESS","trade_state_desc":"支付成功","bank_type":"OTHERS","success_time":"2026-11-27T10:00:00+08:00","payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},"amount":{"total":1234,"payer_total":1234,"currency":"CNY","payer_currency":"CNY"}}"#;
const NOW: i64 = 1_764_208_800;

fn crypto(c: &mut Criterion) {
    let mut g = c.benchmark_group("crypto");

    // Floors: the bare primitives, nothing around them.
    let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA key");
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let message = request_message(
        "POST",
        "/v3/pay/transactions/codepay",
        NOW,
        &new_nonce(),
        BODY.as_bytes(),
    );
    let mut sig = vec![0u8; pair.public_modulus_len()];
    g.bench_function("floor_rsa2048_sign", |b| {
        b.iter(|| {
            pair.sign(
                &signature::RSA_PKCS1_SHA256,
                &rng,
                black_box(&message),
                &mut sig,
            )
            .expect("sign")
        })
    });
    let spki = {
        use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
        use aws_lc_rs::signature::KeyPair as _;
        let der: PublicKeyX509Der<'static> = pair.public_key().as_der().expect("SPKI");
        der.as_ref().to_vec()
    };
    let parsed = ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &spki).expect("key");
    g.bench_function("floor_rsa2048_verify", |b| {
        b.iter(|| {
            parsed
                .verify_sig(black_box(&message), black_box(&sig))
                .expect("verify")
        })
    });

    // What scanpay does per request: build the signed message, sign, base64, the header.
    let key = PrivateKey::from_pem(
        pair_pem(&pair).as_bytes(),
        Path::new("<bench merchant key>"),
    )
    .expect("key");
    let signer = Signer::new(
        "1900000001",
        "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
        key,
    );
    g.bench_function("sign_request", |b| {
        b.iter(|| {
            signer
                .authorization(
                    "POST",
                    "/v3/pay/transactions/codepay",
                    NOW,
                    &new_nonce(),
                    black_box(BODY.as_bytes()),
                )
                .expect("authorization")
        })
    });

    // What scanpay does per answer: headers → AnswerSignature::verify against the trust store
    // (probe check, timestamp skew, key lookup by serial, base64 decode, RSA verify).
    let platform = PrivateKey::generate().expect("key");
    let mut trust = TrustStore::new();
    let id = "PUB_KEY_ID_0114232134912410000000000000000001";
    trust.add_public_key(
        id,
        PublicKey::from_pem(
            platform.public_pem().expect("pem").as_bytes(),
            Path::new("<bench platform key>"),
        )
        .expect("public key"),
    );
    let nonce = new_nonce();
    let ts = NOW.to_string();
    let answer = AnswerSignature {
        signature: platform
            .sign_base64(&response_message(&ts, &nonce, ANSWER.as_bytes()))
            .expect("sign"),
        timestamp: ts,
        nonce,
        serial: id.to_string(),
    };
    g.bench_function("verify_answer", |b| {
        b.iter(|| {
            answer
                .verify(&trust, black_box(ANSWER.as_bytes()), NOW + 1)
                .expect("verified")
        })
    });
    g.finish();
}

/// The PKCS#8 PEM of an aws-lc key pair, so the floor and scanpay sign with the same key.
fn pair_pem(pair: &KeyPair) -> String {
    use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
    let der: Pkcs8V1Der<'static> = pair.as_der().expect("PKCS#8");
    scanpay::wechat::keys::pem_encode("PRIVATE KEY", der.as_ref())
}

criterion_group!(benches, crypto);
criterion_main!(benches);
