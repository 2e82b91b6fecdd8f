//! Telling a keyboard-wedge scan from a person typing, by timing alone — for every key,
//! control keys included.
//!
//! A wedge scanner types a whole code in a few milliseconds: ≥ `min_chars` characters with
//! ≤ `max_gap_ms` between them, usually ending in Enter or Tab. A person types far slower. A
//! scanner can also type *any* key a barcode asks for — Esc, Enter, Ctrl-Q, and through the
//! terminal's escape sequences arrows and function keys — so a printed "code" could drive the
//! cashier screen (change the amount waiting for a scan, quit to the shell). Hence the rule:
//!
//! 1. **Every key is held** (characters, Enter, Tab, Esc, function keys, Ctrl-anything, a
//!    paste) until `max_gap_ms` has passed without another key. The first key of a burst
//!    cannot be known to be one when it arrives, so it waits too; the caller passes the time
//!    of each key and ticks with the time while keys are held ([`Wedge::pending`]). Nothing
//!    here sleeps or reads a clock.
//! 2. A **burst** is a run of keys each at most `max_gap_ms` after the one before. It ends
//!    at the first silence longer than that (seen by the next key or a tick) and is judged
//!    as a whole ([`WedgeOut`]):
//!    - one key alone (silence before and after) is a person's key: it acts as it always did
//!      (a lone Esc, Enter or Ctrl-Q typed by hand works);
//!    - ≥ `min_chars` printable characters followed by nothing but at most two terminators
//!      (the scanner's suffix: CR, LF, CRLF or Tab) is a **scan**; what it is (a payment
//!      code or not) is for `auth_code` to say, as before;
//!    - printable characters only, fewer than `min_chars`, is fast **typing**: text for the
//!      focused field, and none of its characters acts (a `?` or `y` in it is text);
//!    - the same key that only moves or deletes (Backspace, arrows, Page up/down), repeated,
//!      is a held key's **auto-repeat**, delivered key by key;
//!    - anything else is **rejected**: none of its keys acts; a text field may take its
//!      printable characters, otherwise the burst is thrown away with one hint.
//!
//! So no key inside a burst ever acts: Esc, Enter, F-keys and Ctrl-Q act only when they
//! arrive alone, which is also why the till never quits in the middle of a burst. The price
//! is that every key a person types takes effect `max_gap_ms` (50 ms by default) late, and a
//! scan ends at the silence after its suffix rather than at the suffix itself. A scan never
//! lands in the amount field, and typed digits never become a charge (odoo #37411, #75710).
//! Pure: time is an argument.

/// Thresholds (from `[scanner]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WedgeConfig {
    /// Shortest burst that counts as a scan.
    pub min_chars: usize,
    /// Longest gap between two keys of one burst.
    pub max_gap_ms: i64,
}

impl Default for WedgeConfig {
    fn default() -> Self {
        WedgeConfig {
            min_chars: 8,
            max_gap_ms: 50,
        }
    }
}

/// What kind of key the classifier sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyClass {
    /// A printable character: text, or part of a code.
    Char(char),
    /// Enter, Ctrl-J or Tab: a scanner's suffix after a code, else a key that acts.
    Terminator,
    /// A key that repeats while held and only moves or deletes (Backspace, arrows, Page
    /// up/down).
    Repeatable,
    /// Any other key (Esc, function keys, Ctrl-anything) or a paste: it acts only alone.
    Control,
}

/// Anything the classifier can hold: it only needs to know the key's class.
pub trait Classify {
    /// The key's class.
    fn class(&self) -> KeyClass;
}

/// What a burst was judged to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WedgeOut<K> {
    /// One key alone: a person's key; it acts.
    Key(K),
    /// A held key repeating: delivered key by key.
    Repeat(Vec<K>),
    /// Fast typing: printable characters only, too few for a scan; text, nothing acts.
    Text(String),
    /// A scan: its characters, without the suffix.
    Scan(String),
    /// Neither: nothing in it acts. `text` is its printable characters, in order.
    Rejected {
        /// The burst's printable characters.
        text: String,
    },
}

/// Holds the keys of a possible burst.
#[derive(Clone, Debug)]
pub struct Wedge<K> {
    config: WedgeConfig,
    held: Vec<K>,
    last_at: i64,
}

impl<K: Classify + PartialEq> Wedge<K> {
    /// A classifier with these thresholds.
    pub fn new(config: WedgeConfig) -> Wedge<K> {
        Wedge {
            config,
            held: Vec::new(),
            last_at: 0,
        }
    }

    /// The thresholds.
    pub fn config(&self) -> WedgeConfig {
        self.config
    }

    /// Whether keys are being held (the caller should tick within `max_gap_ms`).
    pub fn pending(&self) -> bool {
        !self.held.is_empty()
    }

    /// A key at `at` (ms). It is held; if the silence before it ended an earlier burst, that
    /// burst's verdict is returned.
    pub fn key(&mut self, key: K, at: i64) -> Option<WedgeOut<K>> {
        let out = self.tick(at);
        self.held.push(key);
        self.last_at = at;
        out
    }

    /// Time passes: a burst that went silent for longer than `max_gap_ms` ends and is judged.
    pub fn tick(&mut self, at: i64) -> Option<WedgeOut<K>> {
        if self.pending() && at - self.last_at > self.config.max_gap_ms {
            let held = std::mem::take(&mut self.held);
            Some(judge(held, self.config.min_chars))
        } else {
            None
        }
    }
}

/// The verdict on one finished burst (the rule in the module doc).
fn judge<K: Classify + PartialEq>(mut keys: Vec<K>, min_chars: usize) -> WedgeOut<K> {
    if keys.len() == 1 {
        return WedgeOut::Key(keys.remove(0));
    }
    let classes: Vec<KeyClass> = keys.iter().map(Classify::class).collect();
    let text: String = classes
        .iter()
        .filter_map(|c| match c {
            KeyClass::Char(c) => Some(*c),
            _ => None,
        })
        .collect();
    let lead = classes
        .iter()
        .take_while(|c| matches!(c, KeyClass::Char(_)))
        .count();
    let suffix = &classes[lead..];
    if suffix.len() <= 2 && suffix.iter().all(|c| *c == KeyClass::Terminator) {
        if lead >= min_chars {
            return WedgeOut::Scan(text);
        }
        if suffix.is_empty() {
            return WedgeOut::Text(text);
        }
    }
    if classes[0] == KeyClass::Repeatable && keys.iter().all(|k| *k == keys[0]) {
        return WedgeOut::Repeat(keys);
    }
    WedgeOut::Rejected { text }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A test key.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum K {
        C(char),
        Enter,
        Esc,
        Back,
    }

    impl Classify for K {
        fn class(&self) -> KeyClass {
            match self {
                K::C(c) => KeyClass::Char(*c),
                K::Enter => KeyClass::Terminator,
                K::Esc => KeyClass::Control,
                K::Back => KeyClass::Repeatable,
            }
        }
    }

    fn keys(s: &str) -> Vec<K> {
        s.chars()
            .map(|c| match c {
                '\r' => K::Enter,
                '\x1b' => K::Esc,
                '\x08' => K::Back,
                c => K::C(c),
            })
            .collect()
    }

    /// Sends `s` with `gap` ms between keys from `start`; returns the verdicts and the time
    /// of the last key.
    fn send(w: &mut Wedge<K>, s: &str, start: i64, gap: i64) -> (Vec<WedgeOut<K>>, i64) {
        let mut out = Vec::new();
        let mut t = start;
        for k in keys(s) {
            out.extend(w.key(k, t));
            t += gap;
        }
        (out, t - gap)
    }

    #[test]
    fn a_fast_burst_with_enter_is_a_scan_once_silent() {
        let mut w = Wedge::new(WedgeConfig::default());
        let (out, t) = send(&mut w, "134567890123456789\r", 1000, 3);
        assert!(out.is_empty());
        assert_eq!(w.tick(t + 50), None, "still inside the gap");
        assert_eq!(
            w.tick(t + 51),
            Some(WedgeOut::Scan("134567890123456789".into()))
        );
        assert!(!w.pending());
    }

    #[test]
    fn crlf_and_no_suffix_are_scans_too() {
        let mut w = Wedge::new(WedgeConfig::default());
        let (_, t) = send(&mut w, "134567890123456789\r\r", 0, 3);
        assert_eq!(
            w.tick(t + 60),
            Some(WedgeOut::Scan("134567890123456789".into()))
        );
        let (_, t) = send(&mut w, "134567890123456789", 1000, 5);
        assert_eq!(
            w.tick(t + 60),
            Some(WedgeOut::Scan("134567890123456789".into()))
        );
    }

    #[test]
    fn typing_is_released_key_by_key() {
        let mut w = Wedge::new(WedgeConfig::default());
        // A person types 1, 2, 8 at 150 ms intervals, then Enter.
        let (mut out, t) = send(&mut w, "128\r", 0, 150);
        out.extend(w.tick(t + 100));
        assert_eq!(
            out,
            vec![
                WedgeOut::Key(K::C('1')),
                WedgeOut::Key(K::C('2')),
                WedgeOut::Key(K::C('8')),
                WedgeOut::Key(K::Enter),
            ]
        );
    }

    #[test]
    fn a_lone_esc_waits_for_the_gap_then_acts() {
        let mut w = Wedge::new(WedgeConfig::default());
        assert_eq!(w.key(K::Esc, 0), None);
        assert!(w.pending());
        assert_eq!(w.tick(30), None);
        assert_eq!(w.tick(51), Some(WedgeOut::Key(K::Esc)));
    }

    #[test]
    fn control_keys_inside_a_burst_never_act() {
        let mut w = Wedge::new(WedgeConfig::default());
        let (out, t) = send(&mut w, "\x1b\x1b0.01\r134567890123456711\r", 0, 2);
        assert!(out.is_empty());
        assert_eq!(
            w.tick(t + 60),
            Some(WedgeOut::Rejected {
                text: "0.01134567890123456711".into()
            })
        );
    }

    #[test]
    fn fast_short_typing_is_text_and_its_enter_does_not_act() {
        let mut w = Wedge::new(WedgeConfig::default());
        let (_, t) = send(&mut w, "12.5", 0, 30);
        assert_eq!(w.tick(t + 60), Some(WedgeOut::Text("12.5".into())));
        let (_, t) = send(&mut w, "12.5\r", 1000, 30);
        assert_eq!(
            w.tick(t + 60),
            Some(WedgeOut::Rejected {
                text: "12.5".into()
            })
        );
    }

    #[test]
    fn a_held_backspace_repeats_but_mixed_with_esc_is_rejected() {
        let mut w = Wedge::new(WedgeConfig::default());
        let (_, t) = send(&mut w, "\x08\x08\x08", 0, 30);
        assert_eq!(
            w.tick(t + 60),
            Some(WedgeOut::Repeat(vec![K::Back, K::Back, K::Back]))
        );
        let (_, t) = send(&mut w, "\x08\x1b", 1000, 30);
        assert_eq!(
            w.tick(t + 60),
            Some(WedgeOut::Rejected {
                text: String::new()
            })
        );
    }

    #[test]
    fn a_slow_long_sequence_is_typing_not_a_scan() {
        let mut w = Wedge::new(WedgeConfig::default());
        let (mut out, t) = send(&mut w, "134567890123456789", 0, 120);
        out.extend(w.tick(t + 200));
        let typed: String = out
            .iter()
            .map(|o| match o {
                WedgeOut::Key(K::C(c)) => *c,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(typed, "134567890123456789");
    }

    #[test]
    fn typing_then_a_scan() {
        let mut w = Wedge::new(WedgeConfig::default());
        let mut out: Vec<_> = w.key(K::C('9'), 0).into_iter().collect();
        let (b, t) = send(&mut w, "134567890123456789\r", 500, 2);
        out.extend(b);
        out.extend(w.tick(t + 60));
        assert_eq!(
            out,
            vec![
                WedgeOut::Key(K::C('9')),
                WedgeOut::Scan("134567890123456789".into())
            ]
        );
    }

    proptest! {
        #[test]
        fn nothing_acts_inside_a_burst_and_no_character_is_lost(
            sent in prop::collection::vec((0usize..4, prop::char::range('0', '9'), 0i64..120), 0..60)
        ) {
            let mut w = Wedge::new(WedgeConfig::default());
            let mut t = 0;
            let mut chars = String::new();
            let mut outs = Vec::new();
            for (kind, c, gap) in sent {
                t += gap;
                let k = match kind { 0 => K::Esc, 1 => K::Enter, _ => K::C(c) };
                if let K::C(c) = k { chars.push(c); }
                outs.extend(w.key(k, t));
            }
            outs.extend(w.tick(t + 1000));
            prop_assert!(!w.pending());
            let mut seen = String::new();
            for o in outs {
                match o {
                    WedgeOut::Key(K::C(c)) => seen.push(c),
                    // A key that acts only ever comes alone.
                    WedgeOut::Key(_) | WedgeOut::Repeat(_) => {}
                    WedgeOut::Text(s) | WedgeOut::Scan(s) => seen.push_str(&s),
                    WedgeOut::Rejected { text } => seen.push_str(&text),
                }
            }
            prop_assert_eq!(seen, chars);
        }
    }
}
