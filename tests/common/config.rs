//! Configurations for tests, built from a template by the real TOML parser — never by editing
//! text. A template is parsed into a `toml::Table`; `set` and `remove` change keys that must
//! already be in it (a renamed or moved key fails the test loudly instead of leaving the
//! template as it was), `insert` adds keys that are meant to be new; `text` and `write`
//! serialise the table back, and `load` builds a `scanpay::config::Config` from it through the
//! same parser and checks the program uses.

use std::path::{Path, PathBuf};

use scanpay::config::{Config, ConfigError, FoundBy, Source};
use toml::{Table, Value};

/// `config/demo.toml`, the embedded demo configuration.
pub const DEMO_TOML: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo.toml"));

/// Parses TOML text into a table (panics on a syntax error: templates are valid).
pub fn parse(text: &str) -> Table {
    text.parse::<Table>()
        .unwrap_or_else(|e| panic!("test bug: template is not valid TOML: {e}"))
}

/// The embedded demo configuration as a table.
pub fn demo() -> Table {
    parse(DEMO_TOML)
}

/// A configuration file as a table.
pub fn read(path: &Path) -> Table {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    parse(&text)
}

/// The table holding the last part of `path` (`"payment.query_interval_secs"` → the
/// `[payment]` table), and that last part. With `create`, missing tables on the way are made.
fn parent<'t>(t: &'t mut Table, path: &str, create: bool) -> (&'t mut Table, String) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().expect("a key");
    assert!(!last.is_empty(), "test bug: empty key in {path:?}");
    let mut here = t;
    for (i, part) in parts.iter().enumerate() {
        if create && !here.contains_key(*part) {
            here.insert((*part).to_string(), Value::Table(Table::new()));
        }
        let at = parts[..=i].join(".");
        here = match here.get_mut(*part) {
            Some(Value::Table(inner)) => inner,
            Some(other) => panic!("test bug: {at:?} is not a table but {other}"),
            None => {
                panic!("test bug: no table {at:?} in the template (while looking for {path:?})")
            }
        };
    }
    (here, last.to_string())
}

/// Sets an existing key, by dotted path. Panics if the template has no such key.
pub fn set(t: &mut Table, path: &str, value: impl Into<Value>) {
    let (table, key) = parent(t, path, false);
    match table.get_mut(&key) {
        Some(slot) => *slot = value.into(),
        None => {
            panic!("test bug: no key {path:?} in the template (renamed? use insert for new keys)")
        }
    }
}

/// Adds a key that is not in the template, creating its tables as needed. Panics if the key is
/// already there (then the test means `set`).
pub fn insert(t: &mut Table, path: &str, value: impl Into<Value>) {
    let (table, key) = parent(t, path, true);
    assert!(
        !table.contains_key(&key),
        "test bug: {path:?} is already in the template (use set)"
    );
    table.insert(key, value.into());
}

/// Removes an existing key (or a whole table), by dotted path, and returns its value. Panics if
/// the template has no such key.
pub fn remove(t: &mut Table, path: &str) -> Value {
    let (table, key) = parent(t, path, false);
    table
        .remove(&key)
        .unwrap_or_else(|| panic!("test bug: no key {path:?} in the template to remove"))
}

/// Reads a value by dotted path (panics if missing).
pub fn get<'t>(t: &'t Table, path: &str) -> &'t Value {
    let mut here = t;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let v = here
            .get(part)
            .unwrap_or_else(|| panic!("test bug: no key {path:?}"));
        if parts.peek().is_none() {
            return v;
        }
        here = v
            .as_table()
            .unwrap_or_else(|| panic!("test bug: {part:?} in {path:?} is not a table"));
    }
    unreachable!("a path has at least one part")
}

/// The table as TOML text.
pub fn text(t: &Table) -> String {
    toml::to_string(t).expect("a table serialises")
}

/// Writes the table to `path` as TOML, creating its folder, and returns the path.
pub fn write(t: &Table, path: &Path) -> PathBuf {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(path, text(t)).unwrap();
    path.to_path_buf()
}

/// A `Config` from the table, through scanpay's own parser and checks, as if it were read
/// from `path` (given with `--config`; relative paths resolve against its folder). Nothing is
/// written.
pub fn load(t: &Table, path: &Path) -> Result<Config, ConfigError> {
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Config::from_toml(
        &text(t),
        Source::File {
            path: path.to_path_buf(),
            found_by: FoundBy::Flag,
        },
        &base,
    )
}

/// The demo in English with a file "printer" at `dir/printer`, written as `dir/en.toml`; the
/// file's name (relative to `dir`).
pub fn english_with_printer(dir: &Path) -> String {
    let mut t = demo();
    set(&mut t, "language", "en");
    insert(&mut t, "printer.kind", "file");
    insert(
        &mut t,
        "printer.path",
        dir.join("printer").display().to_string(),
    );
    write(&t, &dir.join("en.toml"));
    "en.toml".into()
}
