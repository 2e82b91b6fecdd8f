//! Text that leaves the process: the one place that makes outside text safe for a terminal,
//! for a JSON document printed on one, and for a spreadsheet cell.
//!
//! "Outside" text is anything the process did not write itself: WeChat Pay's answers and
//! bill fields, descriptions, refund reasons, cashier ids. A terminal obeys control
//! characters (ESC starts a command that can clear the screen, retitle the window or, on some
//! terminals, write files), so every face prints such text through [`terminal`] or
//! [`terminal_json`]; a spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a
//! formula, so every CSV cell the project writes goes through [`csv_cell`]. The receipt layout
//! drops control characters itself (paper and spool), and the ESC/POS encoder escapes nothing
//! it did not build.
//!
//! Leaf module: it uses nothing of the application.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether a character is a control: C0 (U+0000–U+001F), DEL (U+007F) or C1 (U+0080–U+009F).
pub fn is_control(c: char) -> bool {
    c.is_control()
}

/// `c` written as a visible escape: `\u{1b}`.
fn escaped(out: &mut String, c: char) {
    let _ = write!(out, "\\u{{{:x}}}", c as u32);
}

/// Text for a terminal: every control character except line feed and tab is written as a
/// visible escape (`ESC` becomes `\u{1b}`, DEL `\u{7f}`, the C1 CSI `\u{9b}`), and a
/// backslash that would start such an escape stays as it is (the escape is for a person to
/// read, not to be parsed back). Chinese and every other printable character are kept.
/// Borrows when there is nothing to change.
pub fn terminal(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| is_control(c) && c != '\n' && c != '\t') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_control(c) && c != '\n' && c != '\t' {
            escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// One line of outside text for a terminal: like [`terminal`], and line feeds and tabs are
/// escaped too (a message cannot fake a second line of output).
pub fn terminal_line(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_control(c) {
            escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A serialised JSON document made safe for a terminal without changing what it means.
/// `serde_json` already writes C0 controls inside strings as `\u00XX`; DEL and the C1 controls
/// it leaves raw, so they are rewritten as `\u00XX` too. Outside strings JSON has only
/// structure and plain white space, so the result parses to exactly the same value.
pub fn terminal_json(json: &str) -> Cow<'_, str> {
    let needs = |c: char| ('\u{7f}'..='\u{9f}').contains(&c);
    if !json.chars().any(needs) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        if needs(c) {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The characters a spreadsheet reads as the start of a formula (ASCII and full-width).
const FORMULA_START: [char; 8] = ['=', '+', '-', '@', '＝', '＋', '－', '＠'];

/// A CSV field (RFC 4180) that a spreadsheet will not run, as OWASP recommends for CSV
/// injection: control characters (tab, CR and LF included) are written as visible escapes
/// (`\u{9}`), then a cell whose first non-blank character starts a formula (`=`, `+`, `-`,
/// `@`, or their full-width forms) gets a leading `'`, which spreadsheets show as text; the
/// field is quoted when it holds a comma or a quote. Used for every text field of every CSV
/// the project writes (`scanpay export`, `scanpay reconcile --csv`); amounts the program
/// formats itself do not go through it.
pub fn csv_cell(s: &str) -> String {
    let mut cell = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if is_control(c) {
            escaped(&mut cell, c);
        } else {
            cell.push(c);
        }
    }
    if cell
        .trim_start()
        .starts_with(|c: char| FORMULA_START.contains(&c))
    {
        cell.insert(0, '\'');
    }
    if cell.contains([',', '"']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn terminal_escapes_c0_del_and_c1_and_keeps_lines_and_chinese() {
        assert_eq!(terminal("奶茶 tea"), "奶茶 tea");
        assert!(matches!(terminal("plain\nline\ttab"), Cow::Borrowed(_)));
        assert_eq!(terminal("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(terminal("\u{7f}\u{9b}31m\u{7}"), "\\u{7f}\\u{9b}31m\\u{7}");
        assert_eq!(terminal("a\r\nb"), "a\\u{d}\nb");
        assert_eq!(terminal_line("a\nb\tc"), "a\\u{a}b\\u{9}c");
    }

    #[test]
    fn terminal_json_is_the_same_document() {
        let v = serde_json::json!({"message": "x\u{1b}[31m\u{9b}0m\u{7f}y", "n": 1});
        let text = serde_json::to_string(&v).unwrap();
        assert!(text.contains('\u{9b}'), "serde_json leaves C1 raw: {text}");
        let safe = terminal_json(&text);
        assert!(!safe.chars().any(is_control), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn csv_cells_never_start_a_formula() {
        assert_eq!(csv_cell("=1+1"), "'=1+1");
        assert_eq!(
            csv_cell("=HYPERLINK(\"http://x/\",\"y\")"),
            "\"'=HYPERLINK(\"\"http://x/\"\",\"\"y\"\")\""
        );
        assert_eq!(csv_cell("+86 10"), "'+86 10");
        assert_eq!(csv_cell("-2+3"), "'-2+3");
        assert_eq!(csv_cell("@SUM(A1:A9)"), "'@SUM(A1:A9)");
        assert_eq!(csv_cell("  =1"), "'  =1");
        assert_eq!(csv_cell("＝1+1"), "'＝1+1");
    }

    #[test]
    fn csv_cells_escape_control_characters() {
        assert_eq!(csv_cell("\t=1"), "\\u{9}=1");
        assert_eq!(csv_cell("\r=1"), "\\u{d}=1");
        assert_eq!(csv_cell("a\nb"), "a\\u{a}b");
        assert_eq!(csv_cell("x\u{1b}[2J"), "x\\u{1b}[2J");
    }

    #[test]
    fn csv_cells_keep_ordinary_text() {
        assert_eq!(csv_cell("奶茶 2 杯"), "奶茶 2 杯");
        assert_eq!(
            csv_cell("POS01-20251125-7K-000042"),
            "POS01-20251125-7K-000042"
        );
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell(""), "");
    }

    /// Reads one CSV field back (the reverse of the quoting only).
    fn unquote(f: &str) -> String {
        match f.strip_prefix('"').and_then(|f| f.strip_suffix('"')) {
            Some(inner) => inner.replace("\"\"", "\""),
            None => f.to_string(),
        }
    }

    proptest! {
        #[test]
        fn no_cell_starts_a_formula_or_holds_a_control(s in "\\PC*|[=+@\\-\t\r\n\u{1b}\u{9b} ].*") {
            let cell = unquote(&csv_cell(&s));
            prop_assert!(!cell.trim_start().starts_with(|c: char| FORMULA_START.contains(&c)), "{cell:?}");
            prop_assert!(!cell.starts_with(['\t', '\r']), "{cell:?}");
            prop_assert!(!cell.chars().any(is_control), "{cell:?}");
        }

        #[test]
        fn ordinary_text_round_trips(s in "[a-zA-Z0-9\u{4e00}-\u{9fa5} .,:;!?()\"'/]*") {
            prop_assume!(!s.trim_start().starts_with(|c: char| FORMULA_START.contains(&c)));
            prop_assert_eq!(unquote(&csv_cell(&s)), s);
        }

        #[test]
        fn terminal_text_holds_no_control_but_line_ends(s in ".*") {
            let t = terminal(&s);
            prop_assert!(!t.chars().any(|c| is_control(c) && c != '\n' && c != '\t'));
            prop_assert!(!terminal_line(&s).chars().any(is_control));
        }

        #[test]
        fn printable_text_is_untouched(s in "\\PC*") {
            let t = terminal(&s);
            prop_assert_eq!(t.as_ref(), s.as_str());
        }
    }
}
