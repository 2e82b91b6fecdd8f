//! Money as integer fen (分). No floats anywhere in the money path.
//!
//! [`Fen`] is the only money type in scanpay. [`Fen::parse`] takes what a cashier types and
//! either returns an amount or an [`AmountError`] that says what is wrong with it.
//!
//! Accepted input (after trimming surrounding white space):
//! - an optional currency sign `¥` or `￥` (with or without a space after it);
//! - whole yuan: `12`, `0`-prefixed forms such as `0.5` are fine, leading zeros like `007` too;
//! - up to two decimals: `12.3`, `12.30`, `0.01`, `.5` is refused (write `0.5`);
//! - thousands separators only in correct groups of three: `1,234.50` is accepted, `1,23` is
//!   refused (it could be a European decimal comma, and guessing with money is wrong);
//! - full-width digits and full-width `．` / `，` (as an IME produces) are read as ASCII.
//!
//! Refused with a reason: empty input, a minus sign, zero, three or more decimals, more than the
//! configured limit, and anything else.

use std::fmt;
use std::str::FromStr;

/// An amount of money in fen (1 yuan = 100 fen).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Fen(pub i64);

/// Why a typed amount was refused. The `Display` text is English; the TUI has its own
/// translations keyed by variant.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Nothing was typed.
    #[error("enter an amount")]
    Empty,
    /// A minus sign: charges are always positive (refunds are a separate operation).
    #[error("the amount cannot be negative")]
    Negative,
    /// Zero (or `0.00`).
    #[error("the amount must be more than zero")]
    Zero,
    /// `12.345`: fen is the smallest unit.
    #[error("at most two decimals (fen is the smallest unit)")]
    TooManyDecimals,
    /// Over the configured per-sale limit.
    #[error("the amount is over the limit of {limit}")]
    OverLimit {
        /// The configured limit.
        limit: Fen,
    },
    /// Not a number we can read.
    #[error("not an amount: use digits and at most one decimal point, e.g. 12.30")]
    Invalid,
}

impl Fen {
    /// Zero fen.
    pub const ZERO: Fen = Fen(0);
    /// The largest amount the parser accepts without a limit (10 billion yuan); keeps every
    /// sum of a shift far from `i64` overflow.
    pub const PARSE_CEILING: Fen = Fen(1_000_000_000_000);

    /// Builds an amount from whole yuan and fen (`from_yuan_fen(12, 34)` is ¥12.34).
    pub const fn from_yuan_fen(yuan: i64, fen: i64) -> Fen {
        Fen(yuan * 100 + fen)
    }

    /// The amount in fen.
    pub const fn fen(self) -> i64 {
        self.0
    }

    /// Parses a cashier's input and checks it against `limit` (inclusive).
    pub fn parse(input: &str, limit: Fen) -> Result<Fen, AmountError> {
        let fen = Self::parse_unlimited(input)?;
        if fen > limit {
            return Err(AmountError::OverLimit { limit });
        }
        Ok(fen)
    }

    /// Parses a positive amount with no per-sale limit (used for configuration values such as
    /// `max_amount`). Amounts over [`Fen::PARSE_CEILING`] are refused as invalid.
    pub fn parse_unlimited(input: &str) -> Result<Fen, AmountError> {
        let normal = normalise(input);
        let mut s = normal.trim();
        if s.is_empty() {
            return Err(AmountError::Empty);
        }
        if let Some(rest) = s.strip_prefix('¥') {
            s = rest.trim_start();
        }
        if s.starts_with('-') || s.starts_with('−') {
            return Err(AmountError::Negative);
        }
        if let Some(rest) = s.strip_prefix('+') {
            s = rest;
        }
        let (int_part, frac_part) = match s.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (s, None),
        };
        let yuan = parse_grouped_int(int_part)?;
        let fen_part = match frac_part {
            None => 0,
            Some(f) => {
                if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(AmountError::Invalid);
                }
                match f.len() {
                    1 => i64::from(f.as_bytes()[0] - b'0') * 10,
                    2 => i64::from(f.as_bytes()[0] - b'0') * 10 + i64::from(f.as_bytes()[1] - b'0'),
                    _ => return Err(AmountError::TooManyDecimals),
                }
            }
        };
        let total = yuan
            .checked_mul(100)
            .and_then(|v| v.checked_add(fen_part))
            .ok_or(AmountError::Invalid)?;
        if total == 0 {
            return Err(AmountError::Zero);
        }
        if total > Self::PARSE_CEILING.0 {
            return Err(AmountError::Invalid);
        }
        Ok(Fen(total))
    }

    /// `12.34` (no currency sign, no grouping): the form used in JSON output and bills.
    pub fn to_yuan_string(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }

    /// `¥1,234.50`: grouped for the big screen display.
    pub fn grouped(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let digits = (abs / 100).to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 4);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        format!("{sign}¥{out}.{:02}", abs % 100)
    }

    /// Adds, returning `None` on overflow.
    pub fn checked_add(self, other: Fen) -> Option<Fen> {
        self.0.checked_add(other.0).map(Fen)
    }

    /// Subtracts, returning `None` on overflow.
    pub fn checked_sub(self, other: Fen) -> Option<Fen> {
        self.0.checked_sub(other.0).map(Fen)
    }
}

/// `¥12.34`.
impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 0 {
            write!(f, "-¥{}", Fen(-self.0).to_yuan_string())
        } else {
            write!(f, "¥{}", self.to_yuan_string())
        }
    }
}

impl FromStr for Fen {
    type Err = AmountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Fen::parse_unlimited(s)
    }
}

/// Full-width digits and punctuation (as typed through a Chinese IME) become ASCII; the
/// full-width yen sign becomes `¥`.
fn normalise(input: &str) -> String {
    input
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
            '．' | '。' => '.',
            '，' => ',',
            '￥' => '¥',
            '　' => ' ',
            other => other,
        })
        .collect()
}

/// Whole yuan, optionally with `,` thousands separators in groups of exactly three.
fn parse_grouped_int(s: &str) -> Result<i64, AmountError> {
    if s.is_empty() {
        return Err(AmountError::Invalid);
    }
    let groups: Vec<&str> = s.split(',').collect();
    if groups.len() > 1 {
        let first = groups[0];
        if first.is_empty() || first.len() > 3 || groups[1..].iter().any(|g| g.len() != 3) {
            return Err(AmountError::Invalid);
        }
    }
    let mut value: i64 = 0;
    for g in groups {
        for b in g.bytes() {
            if !b.is_ascii_digit() {
                return Err(AmountError::Invalid);
            }
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(i64::from(b - b'0')))
                .ok_or(AmountError::Invalid)?;
        }
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LIMIT: Fen = Fen(500_000);

    #[test]
    fn accepts_what_cashiers_type() {
        let cases = [
            ("12", 1200),
            ("12.3", 1230),
            ("12.30", 1230),
            ("0.01", 1),
            ("0.1", 10),
            (" 7 ", 700),
            ("¥12.34", 1234),
            ("￥ 12.34", 1234),
            ("1,234.50", 123_450),
            ("１２．３４", 1234),
            ("007", 700),
            ("+5", 500),
            ("5000", 500_000),
        ];
        for (input, fen) in cases {
            assert_eq!(Fen::parse(input, LIMIT), Ok(Fen(fen)), "input {input:?}");
        }
    }

    #[test]
    fn refuses_with_a_reason() {
        let cases = [
            ("", AmountError::Empty),
            ("   ", AmountError::Empty),
            ("-1", AmountError::Negative),
            ("-0.01", AmountError::Negative),
            ("0", AmountError::Zero),
            ("0.00", AmountError::Zero),
            ("12.345", AmountError::TooManyDecimals),
            ("5000.01", AmountError::OverLimit { limit: LIMIT }),
            ("99999999", AmountError::OverLimit { limit: LIMIT }),
            ("abc", AmountError::Invalid),
            ("12a", AmountError::Invalid),
            ("1.2.3", AmountError::Invalid),
            (".5", AmountError::Invalid),
            ("5.", AmountError::Invalid),
            ("1,23", AmountError::Invalid),
            ("1,2345", AmountError::Invalid),
            (",123", AmountError::Invalid),
            ("1e3", AmountError::Invalid),
            ("99999999999999999999999", AmountError::Invalid),
            ("12 34", AmountError::Invalid),
        ];
        for (input, err) in cases {
            assert_eq!(Fen::parse(input, LIMIT), Err(err), "input {input:?}");
        }
    }

    #[test]
    fn messages_say_what_is_wrong() {
        assert_eq!(
            AmountError::OverLimit { limit: LIMIT }.to_string(),
            "the amount is over the limit of ¥5000.00"
        );
        assert_eq!(
            AmountError::Negative.to_string(),
            "the amount cannot be negative"
        );
        assert_eq!(
            AmountError::TooManyDecimals.to_string(),
            "at most two decimals (fen is the smallest unit)"
        );
    }

    #[test]
    fn formats() {
        assert_eq!(Fen(1234).to_string(), "¥12.34");
        assert_eq!(Fen(5).to_string(), "¥0.05");
        assert_eq!(Fen(-150).to_string(), "-¥1.50");
        assert_eq!(Fen(123_456_789).grouped(), "¥1,234,567.89");
        assert_eq!(Fen(100).grouped(), "¥1.00");
        assert_eq!(Fen(100_000).grouped(), "¥1,000.00");
        assert_eq!(Fen(1).to_yuan_string(), "0.01");
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(fen in 1i64..=LIMIT.0) {
            let f = Fen(fen);
            prop_assert_eq!(Fen::parse(&f.to_string(), LIMIT), Ok(f));
            prop_assert_eq!(Fen::parse(&f.to_yuan_string(), LIMIT), Ok(f));
            prop_assert_eq!(Fen::parse(&f.grouped(), LIMIT), Ok(f));
        }

        #[test]
        fn round_trips_up_to_the_ceiling(fen in 1i64..=Fen::PARSE_CEILING.0) {
            let f = Fen(fen);
            prop_assert_eq!(Fen::parse_unlimited(&f.grouped()), Ok(f));
        }

        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = Fen::parse(&s, LIMIT);
        }

        #[test]
        fn accepted_amounts_are_in_range(s in "[0-9.,¥ -]{0,16}") {
            if let Ok(f) = Fen::parse(&s, LIMIT) {
                prop_assert!(f.0 > 0 && f <= LIMIT);
            }
        }
    }
}
