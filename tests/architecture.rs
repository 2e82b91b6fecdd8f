//! The dependency rules of `docs/architecture.md`, checked on the source: a rule that only
//! lives in a document is broken by the first hurried change.

use std::path::Path;

/// Every `.rs` file under `src/<dir>` with its text.
fn sources(dir: &str) -> Vec<(String, String)> {
    fn walk(p: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(p).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push((
                    path.display().to_string(),
                    std::fs::read_to_string(&path).unwrap(),
                ));
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir);
    let mut out = Vec::new();
    if root.is_dir() {
        walk(&root, &mut out);
    } else {
        let file = root.with_extension("rs");
        out.push((
            file.display().to_string(),
            std::fs::read_to_string(&file).unwrap(),
        ));
    }
    out
}

/// Fails naming each file of `dir` that mentions one of `forbidden` (`crate::engine`, …).
fn assert_no_use(dir: &str, forbidden: &[&str]) {
    let mut offenders = Vec::new();
    for (file, text) in sources(dir) {
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for f in forbidden {
                if code.contains(f) {
                    offenders.push(format!("{file}:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "src/{dir} must not depend on {forbidden:?}:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_order_vocabulary_depends_on_nothing_of_the_application() {
    assert_no_use(
        "order",
        &[
            "crate::engine",
            "crate::store",
            "crate::wechat",
            "crate::config",
            "crate::tui",
        ],
    );
}

#[test]
fn sanitizing_output_is_a_leaf() {
    assert_no_use("sanitize", &["crate::", "scanpay::"]);
}

#[test]
fn the_store_persists_and_does_not_decide() {
    assert_no_use(
        "store",
        &[
            "crate::engine",
            "crate::wechat",
            "crate::tui",
            "crate::till",
        ],
    );
}

#[test]
fn the_protocol_layer_knows_no_application_config() {
    assert_no_use(
        "wechat",
        &[
            "crate::config",
            "crate::engine",
            "crate::store",
            "crate::tui",
            "crate::till",
        ],
    );
}

#[test]
fn the_engine_knows_neither_face() {
    assert_no_use("engine", &["crate::tui", "crate::till"]);
}

#[test]
fn the_head_office_and_the_shipper_know_neither_face_nor_till() {
    assert_no_use("hq", &["crate::tui", "crate::till", "crate::sync"]);
    assert_no_use("sync", &["crate::tui", "crate::till"]);
    // The log knows nothing of PostgreSQL: the outbox is read and acknowledged, no more.
    assert_no_use("store", &["crate::hq", "crate::sync", "tokio_postgres"]);
}
