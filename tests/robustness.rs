//! Bad input and damaged files: power-loss-like truncation of the WAL, random bytes as answer
//! bodies and as configuration files (the proptest twins of the fuzz targets in `fuzz/`), and
//! the checks that payment codes never reach the log, the database or a receipt; and the
//! inputs the coverage-guided fuzzer found (`fuzz/`, docs/robustness.md), kept as regressions.

use std::path::Path;

use proptest::prelude::*;
use scanpay::config::{Config, FoundBy, Source};
use scanpay::engine::micropay::{Machine, Timing};
use scanpay::money::Fen;
use scanpay::order::EventKind;
use scanpay::store::{open_connection, orders, shifts};
use scanpay::wechat::certs::{Apiv3Key, decrypt_list};
use scanpay::wechat::keys::certificate_from_pem;
use scanpay::wechat::model::{ErrorBody, Refund, Transaction};
use scanpay::wechat::v2::answer::{self, Answer, AnswerError};
use scanpay::wechat::v2::sign::{self, ApiKey, SignType};
use scanpay::wechat::v2::xml::{self, MAX_XML_BYTES, XmlError};

fn order(shift: i64, i: i64) -> orders::NewOrder {
    orders::NewOrder {
        shift_id: shift,
        terminal_id: "POS01".into(),
        cashier: "li".into(),
        amount: Fen(100 + i),
        description: String::new(),
        code_masked: "1345 **** **** 6711".into(),
        code_fingerprint: format!("f{i}"),
        protocol: scanpay::config::Api::V3,
        party: scanpay::order::PartyKind::Direct,
        sub_mchid: None,
    }
}

/// Power loss in the middle of writing the WAL, simulated on copies of the files: the database
/// opens (or reports), never panics, and every order it shows is whole.
#[test]
fn a_truncated_wal_never_panics_and_keeps_whole_commits() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db");
    let mut conn = open_connection(&db).unwrap();
    // Keep the WAL (no checkpoint) so the commits live in it.
    conn.execute_batch("PRAGMA wal_autocheckpoint = 0").unwrap();
    let shift = shifts::open(&mut conn, "POS01", "li", 0).unwrap();
    for i in 0..40 {
        let m = Machine::new(100 + i, Timing::from_secs(5, 45));
        let o = orders::create(
            &mut conn,
            &order(shift.id, i),
            m.state(),
            &m.to_snapshot(),
            i,
        )
        .unwrap();
        let paid = orders::Change {
            kind: EventKind::PayAnswer,
            detail: "{}",
            state: scanpay::engine::OrderState::Paid,
            snapshot: &m.to_snapshot(),
            transaction_id: None,
            reason: None,
        };
        orders::record(&mut conn, o.id, &paid, i).unwrap();
    }
    let wal = std::fs::read(dir.path().join("live.db-wal")).unwrap();
    let main = std::fs::read(&db).unwrap();
    assert!(wal.len() > 10_000, "the commits are in the WAL");
    let mut opened = 0;
    for cut in (0..wal.len())
        .step_by(wal.len() / 23 + 1)
        .chain([wal.len() - 1, 33, 4096 + 24 + 7])
    {
        let copy = dir.path().join(format!("cut{cut}.db"));
        std::fs::write(&copy, &main).unwrap();
        std::fs::write(dir.path().join(format!("cut{cut}.db-wal")), &wal[..cut]).unwrap();
        match open_connection(&copy) {
            Ok(c) => {
                opened += 1;
                // Every order present is whole: its events are there and its state is one of ours.
                let all = orders::all(&c).unwrap();
                for o in &all {
                    let ev = orders::events(&c, o.id).unwrap();
                    assert!(
                        !ev.is_empty() && ev[0].kind == EventKind::Created,
                        "cut {cut}: {} has no creation event",
                        o.out_trade_no
                    );
                }
                assert!(all.len() <= 40);
            }
            Err(e) => {
                // A clear error is acceptable; a panic is not.
                assert!(!e.to_string().is_empty());
            }
        }
    }
    assert!(opened > 0);
}

proptest! {
    #[test]
    fn answer_bodies_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400), text in "\\PC{0,200}") {
        for b in [bytes.as_slice(), text.as_bytes()] {
            let _ = serde_json::from_slice::<Transaction>(b);
            let _ = serde_json::from_slice::<ErrorBody>(b);
            let _ = serde_json::from_slice::<Refund>(b);
        }
    }

    #[test]
    fn json_shaped_answers_never_panic(state in "[A-Z_]{0,12}", total in any::<i64>(), extra in "\\PC{0,40}") {
        let body = format!(r#"{{"trade_state":"{state}","amount":{{"total":{total}}},"x":"{}"}}"#, extra.replace(['"', '\\'], ""));
        if let Ok(t) = serde_json::from_str::<Transaction>(&body) {
            prop_assert_eq!(t.trade_state.as_str(), state.as_str());
        }
    }

    #[test]
    fn configuration_files_never_panic(text in "\\PC{0,300}", toml_like in "(\\[[a-z]{1,10}\\]\n)?([a-z_]{1,12} = (\"[^\"\n]{0,20}\"|[0-9]{1,6}|true)\n){0,8}") {
        let dir = tempfile::tempdir().unwrap();
        for t in [text, toml_like] {
            let p = dir.path().join("c.toml");
            std::fs::write(&p, &t).unwrap();
            if let Err(e) = Config::load_from(Source::File { path: p.clone(), found_by: FoundBy::Flag }) {
                prop_assert!(e.to_string().starts_with(&format!("config file {}", p.display())), "{}", e);
            }
        }
    }
}

/// Searches every file under `dir` for `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p)
                && bytes.windows(needle.len()).any(|w| w == needle)
            {
                hits.push(p.display().to_string());
            }
        }
    }
    hits
}

/// After real payments, reprints and a crash, no file of the data folder — database, WAL, log,
/// receipts, simulator books — holds a full payment code.
#[test]
fn payment_codes_never_reach_any_file() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_scanpay");
    let codes = [
        "134567890123456711",
        "134567890123456704",
        "134567890123456799",
    ];
    for code in codes {
        std::process::Command::new(bin)
            .current_dir(dir.path())
            .env_remove("SCANPAY_CONFIG")
            .env("SCANPAY_LOG", "debug")
            .args(["pay", "--amount", "1.23", "--code", code, "--json"])
            .output()
            .unwrap();
    }
    // A crash right after the pay call was answered, and the recovery.
    let crash_code = "134567890123456798";
    std::process::Command::new(bin)
        .current_dir(dir.path())
        .env_remove("SCANPAY_CONFIG")
        .env("SCANPAY_FAILPOINT", "pay.after_send")
        .args(["pay", "--amount", "2", "--code", crash_code])
        .output()
        .unwrap();
    std::process::Command::new(bin)
        .current_dir(dir.path())
        .env_remove("SCANPAY_CONFIG")
        .args(["recover"])
        .output()
        .unwrap();
    let paid = std::process::Command::new(bin)
        .current_dir(dir.path())
        .args(["orders", "--json"])
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&paid.stdout).unwrap();
    let no = list[0]["out_trade_no"].as_str().unwrap();
    std::process::Command::new(bin)
        .current_dir(dir.path())
        .args(["reprint", no, "--to", "file"])
        .output()
        .unwrap();
    let data = dir.path().join("scanpay-data");
    assert!(data.join("scanpay.db").exists());
    for code in codes.iter().chain([&crash_code]) {
        let hits = files_containing(&data, code.as_bytes());
        assert!(hits.is_empty(), "{code} found in {hits:?}");
        // The masked form is what is kept.
        let masked = format!("{} **** **** {}", &code[..4], &code[14..]);
        assert!(
            !files_containing(&data, masked.as_bytes()).is_empty(),
            "{masked} is kept"
        );
    }
}

/// The fuzz targets' fixed APIv3 key (wechatpay-java's test key, `tests/vectors/wechatpay-java.json`).
const FUZZ_APIV3_KEY: &[u8; 32] = b"a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";

/// `pem`, sealed under [`FUZZ_APIV3_KEY`] as the one entry of a `GET /v3/certificates` body
/// naming `serial` (what `fuzz/fuzz_targets/certs.rs` builds).
fn sealed_list(serial: &str, pem: &[u8]) -> Vec<u8> {
    let key = Apiv3Key::from_bytes(FUZZ_APIV3_KEY).unwrap();
    let ciphertext = key.encrypt("14b16c03dc1b", "certificate", pem).unwrap();
    serde_json::to_vec(&serde_json::json!({"data": [{
        "serial_no": serial,
        "effective_time": "2024-01-01T00:00:00+08:00",
        "expire_time": "2029-01-01T00:00:00+08:00",
        "encrypt_certificate": {
            "algorithm": "AEAD_AES_256_GCM", "nonce": "14b16c03dc1b",
            "associated_data": "certificate", "ciphertext": ciphertext,
        },
    }]}))
    .unwrap()
}

fn vector(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/vectors")
            .join(name),
    )
    .unwrap()
}

#[test]
fn a_sealed_real_certificate_is_accepted_with_its_own_serial() {
    let pem = vector("wechatpay-java_decrypted_platform_cert_5DEA10EF.pem");
    let (serial, _) = certificate_from_pem(&pem, Path::new("<test>")).unwrap();
    let key = Apiv3Key::from_bytes(FUZZ_APIV3_KEY).unwrap();
    let certs = decrypt_list(&sealed_list(&serial, &pem), &key).unwrap();
    assert_eq!(certs.len(), 1);
    assert_eq!(certs[0].serial_no, serial);
    // The same list naming another serial is refused.
    assert!(decrypt_list(&sealed_list("5DEA10EF", &pem), &key).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Twin of the `certs` fuzz target: a list body never panics; a correctly sealed
    /// certificate (here: a real one with bytes flipped) is accepted exactly when it parses alone.
    #[test]
    fn certificate_lists_never_panic_and_agree_with_the_certificate(
        bytes in prop::collection::vec(any::<u8>(), 0..400),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let key = Apiv3Key::from_bytes(FUZZ_APIV3_KEY).unwrap();
        let _ = decrypt_list(&bytes, &key);
        let mut pem = vector("wechatpay-java_decrypted_platform_cert_5DEA10EF.pem");
        for (i, b) in flips {
            let i = i.index(pem.len());
            pem[i] = b;
        }
        let alone = certificate_from_pem(&pem, Path::new("<test>"));
        let serial = alone.as_ref().map(|(s, _)| s.clone()).unwrap_or_default();
        let listed = decrypt_list(&sealed_list(&serial, &pem), &key);
        if std::str::from_utf8(&pem).is_ok() {
            prop_assert_eq!(alone.is_ok(), listed.is_ok(), "{:?}", listed.err());
        }
    }

    /// Twin of the `answer_xml` fuzz target: any bytes read as an answer never panic, and the
    /// fields of any envelope, signed with the key, are never refused for their signature and
    /// reach the order model.
    #[test]
    fn v2_answers_never_panic_and_signed_fields_reach_the_order_model(
        bytes in prop::collection::vec(any::<u8>(), 0..300),
        fields in prop::collection::btree_map(
            prop::sample::select(vec!["return_code", "result_code", "err_code", "total_fee", "cash_fee", "time_end", "trade_state", "recall", "transaction_id"]),
            "(SUCCESS|FAIL|USERPAYING|[0-9]{0,20}|20[0-9]{12}|[ -~]{0,8})",
            0..9,
        ),
        hmac in any::<bool>(),
    ) {
        let key = ApiKey::new("192006250b4c09247ec02edce69f6a2d").unwrap();
        let _ = answer::read(&bytes, &key, SignType::Md5);
        let sign_type = if hmac { SignType::HmacSha256 } else { SignType::Md5 };
        let mut fields: scanpay::wechat::v2::Fields =
            fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let signature = sign::sign(&fields, &key, sign_type);
        fields.insert("sign".into(), signature);
        let text = xml::write(&fields).unwrap();
        match answer::read(text.as_bytes(), &key, sign_type) {
            Ok(Answer::Success(f)) => {
                let _ = answer::paid_transaction(&f);
                let _ = answer::queried_transaction(&f);
                let _ = answer::reverse_again(&f);
            }
            Ok(_) => {}
            Err(e) => prop_assert!(!matches!(e, AnswerError::BadSignature | AnswerError::Unsigned), "{}", e),
        }
    }

    /// Twin of the `v2_xml` fuzz target: whatever the bytes, a document type declaration in
    /// front is refused as such, the bytes padded past the cap are refused by size, and the
    /// bytes inside a field never make a second level.
    #[test]
    fn the_v2_xml_limits_hold_for_any_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..300),
        near in "(<xml>|</xml>|<a>|</a>|<a/>|<!\\[CDATA\\[|\\]\\]>|&[a-z#0-9]{0,5};|<!DOCTYPE|<!--|-->|<\\?|[ -~]){0,40}",
    ) {
        for b in [bytes.as_slice(), near.as_bytes()] {
            let mut dtd = b"<!DOCTYPE xml [<!ENTITY e \"x\">]>".to_vec();
            dtd.extend_from_slice(b);
            let expected = if std::str::from_utf8(b).is_ok() { XmlError::Doctype } else { XmlError::NotUtf8 };
            prop_assert_eq!(xml::parse(&dtd), Err(expected));
            let mut big = b.to_vec();
            big.resize(MAX_XML_BYTES + 1, b' ');
            prop_assert_eq!(xml::parse(&big), Err(XmlError::TooLarge { len: MAX_XML_BYTES + 1, max: MAX_XML_BYTES }));
            let mut nested = b"<xml><f>".to_vec();
            nested.extend_from_slice(b);
            nested.extend_from_slice(b"</f></xml>");
            if let Ok(fields) = xml::parse(&nested) {
                prop_assert!(fields.len() == 1 && fields.contains_key("f"));
            }
        }
    }
}
