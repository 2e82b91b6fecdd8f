//! One set of fixtures for every test: the simulator's scripted customers (chosen by the last
//! two digits of a payment code, `scanpay::sim::ledger::Scenario::of_code`), the till and
//! cashier of the demo, and amounts with a meaning to the simulator.

use scanpay::money::Fen;

/// A WeChat payment code is `1345678901234567` + two digits that pick the customer.
pub const CODE_PREFIX: &str = "1345678901234567";

/// The full payment code (18 digits) of the customer `suffix`.
pub fn code(suffix: &str) -> String {
    assert_eq!(suffix.len(), 2, "test bug: a customer is two digits");
    format!("{CODE_PREFIX}{suffix}")
}

/// The simulator's scripted customers, by code suffix. Any suffix not listed pays at once, so
/// tests that need several distinct paid orders in one shift use `12`, `13`, … as well.
pub mod customer {
    /// Paid at once.
    pub const PAYS_AT_ONCE: &str = "11";
    /// USERPAYING, paid 8 s after the pay call.
    pub const PAYS_AFTER_8S: &str = "01";
    /// USERPAYING, cancels after 6 s.
    pub const CANCELS_AFTER_6S: &str = "02";
    /// USERPAYING forever.
    pub const NEVER_PAYS: &str = "03";
    /// NOT_ENOUGH (403).
    pub const NOT_ENOUGH: &str = "04";
    /// AUTHCODEEXPIRE.
    pub const CODE_EXPIRED: &str = "05";
    /// The pay call answers SYSTEM_ERROR, but the order was paid.
    pub const SYSTEM_ERROR_BUT_PAID: &str = "06";
    /// The pay call hangs; the order was paid.
    pub const HANGS_BUT_PAID: &str = "07";
    /// The pay call hangs; no order was made.
    pub const HANGS_NO_ORDER: &str = "08";
    /// Never confirms; the reverse fails twice, then works.
    pub const REVERSE_FAILS_TWICE: &str = "09";
    /// Paid, but the pay answer's signature is forged.
    pub const FORGED_ANSWER: &str = "10";

    /// Every scripted customer, the paid-at-once one first.
    pub const ALL: [&str; 11] = [
        PAYS_AT_ONCE,
        PAYS_AFTER_8S,
        CANCELS_AFTER_6S,
        NEVER_PAYS,
        NOT_ENOUGH,
        CODE_EXPIRED,
        SYSTEM_ERROR_BUT_PAID,
        HANGS_BUT_PAID,
        HANGS_NO_ORDER,
        REVERSE_FAILS_TWICE,
        FORGED_ANSWER,
    ];
}

/// The demo's till.
pub const TERMINAL: &str = "POS01";
/// The cashier the rigs open their shift for.
pub const CASHIER: &str = "li";
/// The description of a rig's sales.
pub const DESCRIPTION: &str = "矿泉水";
/// The usual sale: ¥12.50.
pub const PRICE_FEN: i64 = 1250;
/// The simulator ends a refund ABNORMAL when its amount ends in .99.
pub const ABNORMAL_REFUND: Fen = Fen(199);

/// The shift log written by scanpay 0.1 (`tests/fixtures/v1-shift-log`, see its README).
pub const V1_SHIFT_LOG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/v1-shift-log");

/// Copies the folder `from` to `to` as a till keeps its data folder (folders 0700, files 0600).
pub fn copy_private_dir(from: &std::path::Path, to: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(to).unwrap();
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700)).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_private_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }
}
