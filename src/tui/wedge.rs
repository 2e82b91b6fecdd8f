//! Telling a keyboard-wedge scan from a person typing, by timing alone.
//!
//! A wedge scanner types a whole code in a few milliseconds: ≥ `min_chars` characters with
//! ≤ `max_gap_ms` between them, usually ending in Enter or Tab. A person types far slower. So
//! printable keys are held back for at most `max_gap_ms`: if the burst grows long enough and
//! ends (terminator, or silence), it is a scan; otherwise the held keys are released to the
//! input field as typing. A scan never lands in the amount field, and typed digits never
//! become a charge (odoo #37411, #75710). Pure: time is an argument.

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

/// A key the classifier sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WedgeKey {
    /// A printable character.
    Char(char),
    /// Enter, Ctrl-J or Tab: a scanner suffix, or a person's confirm/next-field.
    Terminator(Terminator),
}

/// Which terminator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Terminator {
    /// Enter or Ctrl-J.
    Enter,
    /// Tab.
    Tab,
}

/// What the classifier decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WedgeOut {
    /// Typing: deliver these keys to the focused field, in order.
    Typed(Vec<WedgeKey>),
    /// A scan (without its terminator).
    Scan(String),
}

/// Holds back a possible burst.
#[derive(Clone, Debug, Default)]
pub struct Wedge {
    config: WedgeConfig,
    held: Vec<char>,
    last_at: i64,
}

impl Wedge {
    /// A classifier with these thresholds.
    pub fn new(config: WedgeConfig) -> Wedge {
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

    /// A key at `at` (ms).
    pub fn key(&mut self, key: WedgeKey, at: i64) -> Vec<WedgeOut> {
        let mut out = Vec::new();
        // A gap ends whatever was held.
        if self.pending() && at - self.last_at > self.config.max_gap_ms {
            out.extend(self.release());
        }
        match key {
            WedgeKey::Char(c) => {
                self.held.push(c);
                self.last_at = at;
            }
            WedgeKey::Terminator(t) => {
                if self.held.len() >= self.config.min_chars {
                    out.push(WedgeOut::Scan(self.held.drain(..).collect()));
                } else {
                    out.extend(self.release());
                    out.push(WedgeOut::Typed(vec![WedgeKey::Terminator(t)]));
                }
            }
        }
        out
    }

    /// Time passes: a burst that went silent ends.
    pub fn tick(&mut self, at: i64) -> Vec<WedgeOut> {
        if self.pending() && at - self.last_at > self.config.max_gap_ms {
            self.release().into_iter().collect()
        } else {
            Vec::new()
        }
    }

    /// A key that no scanner sends (Esc, arrows, function keys) ends any burst now.
    pub fn flush(&mut self) -> Vec<WedgeOut> {
        self.release().into_iter().collect()
    }

    /// Ends the held burst: long enough → a scan without suffix; else typing.
    fn release(&mut self) -> Option<WedgeOut> {
        if self.held.is_empty() {
            return None;
        }
        let held: Vec<char> = self.held.drain(..).collect();
        Some(if held.len() >= self.config.min_chars {
            WedgeOut::Scan(held.into_iter().collect())
        } else {
            WedgeOut::Typed(held.into_iter().map(WedgeKey::Char).collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn burst(w: &mut Wedge, s: &str, start: i64, gap: i64) -> (Vec<WedgeOut>, i64) {
        let mut out = Vec::new();
        let mut t = start;
        for c in s.chars() {
            out.extend(w.key(WedgeKey::Char(c), t));
            t += gap;
        }
        (out, t)
    }

    #[test]
    fn a_fast_burst_with_enter_is_a_scan() {
        let mut w = Wedge::new(WedgeConfig::default());
        let (out, t) = burst(&mut w, "134567890123456789", 1000, 3);
        assert!(out.is_empty());
        assert_eq!(
            w.key(WedgeKey::Terminator(Terminator::Enter), t),
            vec![WedgeOut::Scan("134567890123456789".into())]
        );
        assert!(!w.pending());
    }

    #[test]
    fn a_fast_burst_without_suffix_ends_on_silence() {
        let mut w = Wedge::new(WedgeConfig::default());
        let (_, t) = burst(&mut w, "134567890123456789", 1000, 5);
        assert!(w.tick(t + 20).is_empty());
        assert_eq!(
            w.tick(t + 60),
            vec![WedgeOut::Scan("134567890123456789".into())]
        );
    }

    #[test]
    fn typing_is_released_as_typing() {
        let mut w = Wedge::new(WedgeConfig::default());
        // A person types 1, 2, 8 at 150 ms intervals, then Enter.
        let mut out = Vec::new();
        out.extend(w.key(WedgeKey::Char('1'), 0));
        out.extend(w.key(WedgeKey::Char('2'), 150));
        out.extend(w.key(WedgeKey::Char('8'), 300));
        out.extend(w.key(WedgeKey::Terminator(Terminator::Enter), 450));
        assert_eq!(
            out,
            vec![
                WedgeOut::Typed(vec![WedgeKey::Char('1')]),
                WedgeOut::Typed(vec![WedgeKey::Char('2')]),
                WedgeOut::Typed(vec![WedgeKey::Char('8')]),
                WedgeOut::Typed(vec![WedgeKey::Terminator(Terminator::Enter)]),
            ]
        );
    }

    #[test]
    fn fast_short_typing_is_still_typing() {
        let mut w = Wedge::new(WedgeConfig::default());
        // "12.5" rolled quickly, Enter right after: too short for a scan.
        let (out, t) = burst(&mut w, "12.5", 0, 30);
        assert!(out.is_empty());
        let out = w.key(WedgeKey::Terminator(Terminator::Enter), t);
        assert_eq!(
            out,
            vec![
                WedgeOut::Typed("12.5".chars().map(WedgeKey::Char).collect()),
                WedgeOut::Typed(vec![WedgeKey::Terminator(Terminator::Enter)])
            ]
        );
    }

    #[test]
    fn a_slow_long_sequence_is_typing_not_a_scan() {
        let mut w = Wedge::new(WedgeConfig::default());
        let (out, t) = burst(&mut w, "134567890123456789", 0, 120);
        let mut all = out;
        all.extend(w.tick(t + 200));
        assert!(
            all.iter().all(|o| matches!(o, WedgeOut::Typed(_))),
            "{all:?}"
        );
        let typed: String = all
            .iter()
            .flat_map(|o| match o {
                WedgeOut::Typed(k) => k.clone(),
                WedgeOut::Scan(_) => vec![],
            })
            .map(|k| match k {
                WedgeKey::Char(c) => c,
                WedgeKey::Terminator(_) => '\n',
            })
            .collect();
        assert_eq!(typed, "134567890123456789");
    }

    #[test]
    fn typing_then_a_scan() {
        let mut w = Wedge::new(WedgeConfig::default());
        let mut out = w.key(WedgeKey::Char('9'), 0);
        let (b, t) = burst(&mut w, "134567890123456789", 500, 2);
        out.extend(b);
        out.extend(w.key(WedgeKey::Terminator(Terminator::Tab), t));
        assert_eq!(
            out,
            vec![
                WedgeOut::Typed(vec![WedgeKey::Char('9')]),
                WedgeOut::Scan("134567890123456789".into())
            ]
        );
    }

    proptest! {
        #[test]
        fn nothing_is_lost_or_duplicated(keys in prop::collection::vec((prop::char::range('0', '9'), 0i64..200), 0..60)) {
            let mut w = Wedge::new(WedgeConfig::default());
            let mut t = 0;
            let mut seen = String::new();
            let mut sent = String::new();
            for (c, gap) in keys {
                t += gap;
                sent.push(c);
                for o in w.key(WedgeKey::Char(c), t) {
                    match o {
                        WedgeOut::Scan(s) => seen.push_str(&s),
                        WedgeOut::Typed(k) => seen.extend(k.into_iter().filter_map(|k| match k { WedgeKey::Char(c) => Some(c), _ => None })),
                    }
                }
            }
            for o in w.tick(t + 1000) {
                match o {
                    WedgeOut::Scan(s) => seen.push_str(&s),
                    WedgeOut::Typed(k) => seen.extend(k.into_iter().filter_map(|k| match k { WedgeKey::Char(c) => Some(c), _ => None })),
                }
            }
            prop_assert_eq!(seen, sent);
            prop_assert!(!w.pending());
        }
    }
}
