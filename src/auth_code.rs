//! Payment codes (付款码): normalise what a scanner or a person produced, and classify it.
//!
//! A WeChat Pay payment code is 18 digits starting `10`–`15`. Other wallets' codes are
//! recognised so the cashier can tell the customer which app to open instead; anything else
//! is not a payment code at all. See `docs/configuration.md` and the protocol reference §8.3.
//!
//! The full code is a bearer credential for about a minute: [`AuthCode`] never prints it
//! (its `Debug` and `Display` are masked) and only [`AuthCode::expose`] hands it out, for the
//! one request that needs it.

use std::fmt;

/// A normalised, valid WeChat Pay payment code.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthCode(String);

/// Another wallet whose codes a scanner may read at the counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtherWallet {
    /// Alipay (支付宝): 16–24 digits starting 25–30.
    Alipay,
    /// UnionPay QuickPass (云闪付): 19 digits starting 62.
    UnionPay,
}

impl OtherWallet {
    /// English name.
    pub fn name_en(self) -> &'static str {
        match self {
            OtherWallet::Alipay => "Alipay",
            OtherWallet::UnionPay => "UnionPay",
        }
    }
    /// Chinese name.
    pub fn name_zh(self) -> &'static str {
        match self {
            OtherWallet::Alipay => "支付宝",
            OtherWallet::UnionPay => "云闪付",
        }
    }
}

/// Why an input is not a payment code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotACode {
    /// Nothing left after normalising.
    Empty,
    /// Letters or symbols (a product barcode, a URL QR code, …).
    NotDigits,
    /// One digit repeated (a stuck key, a test pattern).
    Repeated,
    /// Digits, but no wallet uses this length and prefix.
    UnknownFormat,
}

/// The result of classifying a scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Classified {
    /// A WeChat Pay payment code, ready to charge.
    WeChat(AuthCode),
    /// Another wallet's payment code: tell the customer to open WeChat.
    OtherWallet(OtherWallet),
    /// Not a payment code.
    Invalid(NotACode),
}

impl Classified {
    /// A message a cashier can act on; `None` for a valid WeChat code.
    pub fn message_en(&self) -> Option<String> {
        Some(match self {
            Classified::WeChat(_) => return None,
            Classified::OtherWallet(w) => format!(
                "this is {} {} code, not WeChat Pay: ask the customer to open WeChat's payment code",
                if matches!(w, OtherWallet::Alipay) {
                    "an"
                } else {
                    "a"
                },
                w.name_en()
            ),
            Classified::Invalid(NotACode::Empty) => "nothing was scanned".to_string(),
            Classified::Invalid(NotACode::NotDigits) => {
                "not a payment code (it contains letters or symbols)".to_string()
            }
            Classified::Invalid(NotACode::Repeated) => {
                "not a payment code (one digit repeated)".to_string()
            }
            Classified::Invalid(NotACode::UnknownFormat) => {
                "not a WeChat payment code (WeChat codes are 18 digits starting 10–15)".to_string()
            }
        })
    }
}

/// Trims, drops CR/LF/Tab and inner spaces, and turns full-width digits into ASCII.
pub fn normalise(input: &str) -> String {
    input
        .chars()
        .filter_map(|c| match c {
            '０'..='９' => Some(char::from(b'0' + (c as u32 - '０' as u32) as u8)),
            '\r' | '\n' | '\t' | ' ' | '\u{3000}' | '\u{a0}' => None,
            other => Some(other),
        })
        .collect()
}

/// Normalises and classifies a scanned or typed input.
pub fn classify(input: &str) -> Classified {
    let code = normalise(input);
    if code.is_empty() {
        return Classified::Invalid(NotACode::Empty);
    }
    if !code.bytes().all(|b| b.is_ascii_digit()) {
        return Classified::Invalid(NotACode::NotDigits);
    }
    let bytes = code.as_bytes();
    if bytes.iter().all(|&b| b == bytes[0]) {
        return Classified::Invalid(NotACode::Repeated);
    }
    let prefix = (bytes[0] - b'0') * 10 + (bytes.get(1).copied().unwrap_or(b'0') - b'0');
    let len = code.len();
    if len == 18 && (10..=15).contains(&prefix) {
        return Classified::WeChat(AuthCode(code));
    }
    if (16..=24).contains(&len) && (25..=30).contains(&prefix) {
        return Classified::OtherWallet(OtherWallet::Alipay);
    }
    if len == 19 && prefix == 62 {
        return Classified::OtherWallet(OtherWallet::UnionPay);
    }
    Classified::Invalid(NotACode::UnknownFormat)
}

impl AuthCode {
    /// Parses a WeChat code (normalising first), or says why it is not one.
    pub fn parse(input: &str) -> Result<AuthCode, Classified> {
        match classify(input) {
            Classified::WeChat(code) => Ok(code),
            other => Err(other),
        }
    }

    /// The full code, for the one codepay request that needs it. Never log or store this.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `1345 **** **** 6789`: the only form that may be shown, printed or stored.
    pub fn masked(&self) -> Masked {
        Masked::of(&self.0)
    }
}

/// A masked payment code: the first 4 and the last 4 digits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Masked(String);

impl Masked {
    /// Masks any string: at most the first 4 and last 4 characters stay visible, and never
    /// more than half of it.
    pub fn of(code: &str) -> Masked {
        let chars: Vec<char> = code.chars().collect();
        let keep = (chars.len() / 4).min(4);
        let head: String = chars[..keep].iter().collect();
        let tail: String = chars[chars.len() - keep..].iter().collect();
        Masked(format!("{head} **** **** {tail}").trim().to_string())
    }

    /// The masked text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Masked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AuthCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthCode({})", self.masked())
    }
}

impl fmt::Display for AuthCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.masked(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn shared_classification_table() {
        let raw = include_str!("../tests/vectors/authcode-classification.json");
        let table: serde_json::Value = serde_json::from_str(raw).unwrap();
        let cases = table["cases"].as_array().unwrap();
        assert!(cases.len() >= 16);
        for case in cases {
            let input = case["input"].as_str().unwrap();
            let got = match classify(input) {
                Classified::WeChat(_) => "wechat",
                Classified::OtherWallet(OtherWallet::Alipay) => "alipay",
                Classified::OtherWallet(OtherWallet::UnionPay) => "unionpay",
                Classified::Invalid(_) => "reject",
            };
            assert_eq!(got, case["expected"].as_str().unwrap(), "input {input}");
        }
    }

    #[test]
    fn normalises_scanner_and_ime_noise() {
        let want = Classified::WeChat(AuthCode("130061098828009406".into()));
        for input in [
            "130061098828009406\r\n",
            " 130061098828009406\t",
            "1300 6109 8828 0094 06",
            "１３００６１０９８８２８００９４０６",
            "\n130061098828009406\n",
        ] {
            assert_eq!(classify(input), want, "input {input:?}");
        }
    }

    #[test]
    fn says_why_not() {
        assert_eq!(classify(""), Classified::Invalid(NotACode::Empty));
        assert_eq!(classify("\r\n"), Classified::Invalid(NotACode::Empty));
        assert_eq!(
            classify("6901234567892"),
            Classified::Invalid(NotACode::UnknownFormat)
        );
        assert_eq!(
            classify("https://u.wechat.com/x"),
            Classified::Invalid(NotACode::NotDigits)
        );
        assert_eq!(
            classify("111111111111111111"),
            Classified::Invalid(NotACode::Repeated)
        );
        assert_eq!(
            classify("13006109882800940"),
            Classified::Invalid(NotACode::UnknownFormat)
        );
        let ali = classify("289431869362714645");
        assert_eq!(ali, Classified::OtherWallet(OtherWallet::Alipay));
        assert!(ali.message_en().unwrap().contains("Alipay"));
        let up = classify("6212345678901234567");
        assert!(up.message_en().unwrap().contains("UnionPay"));
        assert!(
            classify("6901234567892")
                .message_en()
                .unwrap()
                .contains("18 digits")
        );
        assert!(
            classify("111111111111111111")
                .message_en()
                .unwrap()
                .contains("repeated")
        );
        assert!(classify("abc").message_en().unwrap().contains("letters"));
    }

    #[test]
    fn masks_everywhere() {
        let code = AuthCode::parse("134567890123456789").unwrap();
        assert_eq!(code.masked().as_str(), "1345 **** **** 6789");
        assert_eq!(format!("{code}"), "1345 **** **** 6789");
        assert_eq!(format!("{code:?}"), "AuthCode(1345 **** **** 6789)");
        assert_eq!(Masked::of("12").as_str(), "**** ****");
        assert_eq!(Masked::of("12345678").as_str(), "12 **** **** 78");
    }

    proptest! {
        #[test]
        fn no_input_panics(s in "\\PC{0,64}") {
            let c = classify(&s);
            let _ = c.message_en();
            let _ = Masked::of(&s);
        }

        #[test]
        fn every_valid_code_round_trips(prefix in 10u8..=15, rest in "[0-9]{16}") {
            let raw = format!("{prefix}{rest}");
            prop_assume!(!raw.bytes().all(|b| b == raw.as_bytes()[0]));
            let code = AuthCode::parse(&raw).unwrap();
            prop_assert_eq!(code.expose(), raw.as_str());
            // What a scanner adds does not change it.
            let noisy = format!(" {raw}\r\n");
            prop_assert_eq!(AuthCode::parse(&noisy).unwrap(), code.clone());
            // The mask never shows more than 8 digits.
            let shown = code.masked().as_str().chars().filter(char::is_ascii_digit).count();
            prop_assert_eq!(shown, 8);
        }
    }
}
