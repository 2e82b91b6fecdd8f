//! What leaves the process, through the real binary (security review "Counter security",
//! findings 4, 5, 6 and 10): training (simulator) mode says so on every command-line output
//! and on every receipt and report printed; logs go to `data_dir/logs/scanpay.log` and to
//! the terminal only with `-v` (never over the cashier screen); exported CSV cannot start a
//! spreadsheet formula; text from outside the process reaches no terminal with its control
//! characters.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::config::{demo, english_with_printer, set, write};
use common::fixtures::{code, customer};
use common::{BIN, run_in, spooled};

const ESC: u8 = 0x1b;

fn run(dir: &Path, args: &[&str], stdin: &str) -> Output {
    run_in(dir, args, stdin, &[])
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A paid demo sale (each with a fresh payment code); its order number.
fn paid(dir: &Path, cfg: &[&str], amount: &str, description: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut args = cfg.to_vec();
    let c = format!("13{n:014}{}", customer::PAYS_AT_ONCE);
    args.extend([
        "pay",
        "--amount",
        amount,
        "--code",
        c.as_str(),
        "--description",
        description,
        "--json",
    ]);
    let out = run(dir, &args, "");
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["out_trade_no"].as_str().unwrap().to_string()
}

/// Today in Beijing, `YYYY-MM-DD`.
fn today() -> String {
    let tz = jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(8));
    jiff::Timestamp::now().to_zoned(tz).date().to_string()
}

/// The cells of a CSV text (RFC 4180 quoting), row by row.
fn csv_rows(s: &str) -> Vec<Vec<String>> {
    let s = s.trim_start_matches('\u{feff}');
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    if !cell.is_empty() || !row.is_empty() {
        row.push(cell);
        rows.push(row);
    }
    rows
}

// ---- Finding 4: training (simulator) mode ----

#[test]
fn demo_pay_says_training_on_stderr_and_in_every_json() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = run(
        d,
        &[
            "pay",
            "--amount",
            "999.00",
            "--code",
            "130061098828009406",
            "--json",
        ],
        "",
    );
    assert!(out.status.success(), "{out:?}");
    let err = text(&out.stderr);
    assert_eq!(
        err.lines().filter(|l| l.contains("模拟")).count(),
        1,
        "one training line (the demo speaks Chinese): {err}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["state"], "PAID");
    assert_eq!(v["simulated"], true, "{v}");

    // Arrays: every object carries the field.
    let out = run(d, &["orders", "--json"], "");
    assert!(out.status.success(), "{out:?}");
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = list.as_array().expect("still an array");
    assert!(!list.is_empty());
    assert!(list.iter().all(|o| o["simulated"] == true), "{list:?}");
    assert!(text(&out.stderr).contains("模拟"), "{out:?}");

    // Objects: the X report, and English when the configuration says so.
    let cfg = english_with_printer(d);
    let out = run(d, &["--config", &cfg, "report", "x", "--json"], "");
    assert!(out.status.success(), "{out:?}");
    let x: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(x["simulated"], true, "{x}");
    let err = text(&out.stderr);
    assert!(
        err.contains("simulator (training) mode") && !err.contains("模拟"),
        "{err}"
    );
    // Human output says it too (on stderr, once).
    let out = run(d, &["orders"], "");
    assert_eq!(
        text(&out.stderr)
            .lines()
            .filter(|l| l.contains("模拟"))
            .count(),
        1,
        "{out:?}"
    );
}

#[test]
fn training_receipts_and_reports_are_marked_on_paper() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = english_with_printer(d);
    let no = paid(d, &["--config", &cfg], "12.00", "tea");

    // A copy on the (file) printer: ESC/POS bytes, marked (the ASCII part of the mark).
    let out = run(
        d,
        &["--config", &cfg, "reprint", &no, "--to", "printer"],
        "",
    );
    assert!(out.status.success(), "{out:?}");
    // A file printer is a folder with one `.bin` file per job.
    let printer: Vec<u8> = std::fs::read_dir(d.join("printer"))
        .unwrap()
        .filter_map(|e| e.ok())
        .flat_map(|e| std::fs::read(e.path()).unwrap())
        .collect();
    assert!(
        printer.windows(8).any(|w| w == b"TRAINING"),
        "{}",
        text(&printer)
    );

    // A reprint to the text spool: marked at the top and at the bottom.
    let out = run(d, &["--config", &cfg, "reprint", &no, "--to", "file"], "");
    assert!(out.status.success(), "{out:?}");
    let copy = text(&out.stdout);
    assert!(copy.matches("TRAINING").count() >= 2, "{copy}");
    assert!(copy.matches("模拟").count() >= 2, "{copy}");
    let first = copy.lines().find(|l| !l.trim().is_empty()).unwrap();
    assert!(first.contains("TRAINING"), "marked first: {copy}");
    let spool = spooled(d, &format!("{no}-copy-"));
    assert!(spool.matches("TRAINING").count() >= 2, "{spool}");

    // The X report on paper.
    let out = run(d, &["--config", &cfg, "report", "x", "--print"], "");
    assert!(out.status.success(), "{out:?}");
    let x = spooled(d, "report-");
    assert!(x.matches("TRAINING").count() >= 2, "{x}");
    assert!(x.contains("模拟"), "{x}");

    // The Z printed at the close.
    let out = run(d, &["--config", &cfg, "shift", "close"], "");
    assert!(out.status.success(), "{out:?}");
    let z = spooled(d, "z-");
    assert!(z.matches("TRAINING").count() >= 2, "{z}");
    // Every line still fits the paper (32 columns in the demo).
    for line in z.lines().chain(copy.lines()) {
        assert!(
            unicode_width::UnicodeWidthStr::width(line) <= 32,
            "{line:?} is wider than the paper"
        );
    }
}

// ---- Finding 5: logs ----

#[test]
fn cli_logs_to_the_file_and_to_stderr_only_with_verbose() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let c = code(customer::PAYS_AT_ONCE);
    let out = run(d, &["pay", "--amount", "1.00", "--code", &c], "");
    assert!(out.status.success(), "{out:?}");
    let log = std::fs::read_to_string(d.join("scanpay-data/logs/scanpay.log"))
        .expect("the log file exists");
    assert!(log.contains("INFO"), "the file logger works: {log:?}");
    assert!(!log.contains(&c), "never a payment code: {log}");
    let err = text(&out.stderr);
    assert!(
        !err.contains("INFO") && !err.contains("WARN"),
        "no log lines on stderr without -v: {err}"
    );

    let out = run(d, &["-v", "orders"], "");
    assert!(out.status.success(), "{out:?}");
    assert!(text(&out.stderr).contains("INFO"), "-v: {out:?}");
    let out = run(d, &["orders", "--verbose"], "");
    assert!(text(&out.stderr).contains("INFO"), "--verbose: {out:?}");
    let log2 = std::fs::read_to_string(d.join("scanpay-data/logs/scanpay.log")).unwrap();
    assert!(log2.len() > log.len(), "the file gets them too");
}

#[test]
fn cli_says_so_when_the_log_cannot_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A file where the logs folder should be.
    std::fs::create_dir_all(d.join("scanpay-data")).unwrap();
    std::fs::write(d.join("scanpay-data/logs"), "in the way").unwrap();
    let out = run(d, &["orders"], "");
    assert!(
        text(&out.stderr).contains("log"),
        "the failure is visible: {out:?}"
    );
}

/// The cashier screen (the real binary) in a pseudo-terminal, with extra environment.
fn spawn_screen(dir: &Path, env: &[(&str, &str)]) -> common::pty::Tty {
    let mut c = Command::new(BIN);
    for (k, v) in env {
        c.env(k, v);
    }
    common::pty::spawn_cmd(c, dir)
}

#[test]
fn the_cashier_screen_logs_to_the_file_never_to_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = demo();
    set(&mut cfg, "language", "en");
    write(&cfg, &dir.path().join("scanpay.toml"));
    // The most talkative filter: anything logged would show.
    let mut tty = spawn_screen(dir.path(), &[("SCANPAY_LOG", "debug")]);
    let screen = tty.wait_for("Amount to charge", 20);
    assert!(screen.contains("SIMULATOR"), "training badge: {screen}");
    std::thread::sleep(Duration::from_millis(300));
    // Quitting asks; a second Ctrl-Q by hand (after the burst gap and the 250 ms guard) quits.
    tty.master.write_all(&[0x11]).unwrap();
    tty.wait_for("Ctrl-Q again", 5);
    std::thread::sleep(Duration::from_millis(400));
    tty.master.write_all(&[0x11]).unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    while tty.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < end, "did not quit");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(100));
    let raw = text(&tty.raw.lock().unwrap());
    for word in ["cashier screen starting", "INFO", "DEBUG"] {
        assert!(!raw.contains(word), "{word:?} reached the terminal:\n{raw}");
    }
    let log = std::fs::read_to_string(dir.path().join("scanpay-data/logs/scanpay.log")).unwrap();
    assert!(log.contains("cashier screen starting"), "{log:?}");
    assert!(log.contains("cashier screen stopped"), "{log:?}");
}

// ---- Finding 6: spreadsheet formulas ----

#[test]
fn export_neutralises_formulas_and_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let plain = paid(d, &[], "3.00", "=1+1");
    paid(
        d,
        &[],
        "4.00",
        "=HYPERLINK(\"http://evil.example/\",\"click\")",
    );
    paid(d, &[], "5.00", "+1-2\tand\rmore");
    let out = run(
        d,
        &[
            "refund",
            &plain,
            "--amount",
            "1.00",
            "--reason",
            "@SUM(A1:A9)",
        ],
        "0000\n",
    );
    assert!(out.status.success(), "{out:?}");
    let day = today();
    let formula = |cell: &str| cell.starts_with(['=', '+', '-', '@', '\t', '\r']);

    let out = run(d, &["export", "--from", &day, "--to", &day], "");
    assert!(out.status.success(), "{out:?}");
    let csv = text(&out.stdout);
    let rows = csv_rows(&csv);
    assert_eq!(rows.len(), 4, "{csv}");
    for cell in rows.iter().flatten() {
        assert!(!formula(cell), "{cell:?} starts a formula:\n{csv}");
        assert!(!cell.chars().any(char::is_control), "{cell:?}");
    }
    let descriptions: Vec<&str> = rows[1..].iter().map(|r| r[9].as_str()).collect();
    assert_eq!(descriptions[0], "'=1+1");
    assert_eq!(
        descriptions[1],
        "'=HYPERLINK(\"http://evil.example/\",\"click\")"
    );
    assert!(descriptions[2].starts_with("'+1-2"), "{descriptions:?}");

    let out = run(
        d,
        &["export", "--from", &day, "--to", &day, "--what", "refunds"],
        "",
    );
    assert!(out.status.success(), "{out:?}");
    let csv = text(&out.stdout);
    let rows = csv_rows(&csv);
    assert_eq!(rows.len(), 2, "{csv}");
    assert_eq!(rows[1][5], "'@SUM(A1:A9)", "{csv}");
    for cell in rows.iter().flatten() {
        assert!(!formula(cell), "{cell:?}:\n{csv}");
    }
}

// ---- Finding 10: control characters from outside ----

#[test]
fn a_description_with_escapes_reaches_no_terminal_raw() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let evil = "tea\u{1b}[2J\u{1b}]0;owned\u{7}\u{9b}31m";
    let no = paid(d, &[], "2.00", evil);
    let out = run(
        d,
        &[
            "refund",
            &no,
            "--amount",
            "1.00",
            "--reason",
            "bad\u{1b}[31m",
        ],
        "0000\n",
    );
    assert!(out.status.success(), "{out:?}");
    let raw = |o: &Output| o.stdout.contains(&ESC) || o.stderr.contains(&ESC);

    let out = run(d, &["reprint", &no, "--to", "file"], "");
    assert!(out.status.success(), "{out:?}");
    assert!(!raw(&out), "reprint: {out:?}");
    let spool = spooled(d, &format!("{no}-copy-"));
    assert!(
        !spool.contains('\u{1b}') && !spool.contains('\u{9b}'),
        "{spool:?}"
    );
    assert!(spool.contains("tea"), "{spool}");

    let day = today();
    for what in ["orders", "refunds"] {
        let out = run(
            d,
            &["export", "--from", &day, "--to", &day, "--what", what],
            "",
        );
        assert!(out.status.success(), "{out:?}");
        assert!(!raw(&out), "export {what}: {out:?}");
        assert!(!text(&out.stdout).contains('\u{9b}'), "{out:?}");
    }
    for args in [&["orders"][..], &["orders", "--json"], &["report", "x"]] {
        let out = run(d, args, "");
        assert!(out.status.success(), "{out:?}");
        assert!(!raw(&out), "{args:?}: {out:?}");
    }
}

/// Adds a fault at a standalone simulator's admin endpoint.
async fn fault(admin: &str, rule: serde_json::Value) {
    let r = reqwest::Client::new()
        .post(format!("{admin}/faults"))
        .json(&rule)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body = r.text().await.unwrap_or_default();
    assert!(status.is_success(), "{status} {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_and_reconcile_escape_a_crafted_answer_message() {
    let keys = tempfile::tempdir().unwrap();
    let sim = common::start_sim(keys.path());
    let till_dir = tempfile::tempdir().unwrap();
    let cfg = sim.till(till_dir.path(), "SEC01");
    let crafted = "\u{1b}[2J\u{1b}]0;pwned\u{7}\u{1b}[31mRED\u{9b}0m\u{7f}";

    fault(
        &sim.admin,
        serde_json::json!({"fault": {"kind": "error_message", "message": crafted}, "endpoint": "query"}),
    )
    .await;
    let cfg2 = cfg.clone();
    let out =
        tokio::task::spawn_blocking(move || common::scanpay(&cfg2, &["query", "SEC01X0001"], &[]))
            .await
            .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(!out.stdout.contains(&ESC), "query stdout: {out:?}");
    assert!(!out.stderr.contains(&ESC), "query stderr: {out:?}");
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        !all.contains('\u{9b}') && !all.contains('\u{7f}'),
        "{all:?}"
    );
    assert!(all.contains("RED"), "the message is still shown: {all}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["simulated"], false, "a live configuration: {v}");

    fault(
        &sim.admin,
        serde_json::json!({"fault": {"kind": "error_message", "message": crafted}, "endpoint": "bill"}),
    )
    .await;
    let day = today();
    let out = tokio::task::spawn_blocking(move || {
        common::scanpay(&cfg, &["reconcile", "--date", &day], &[])
    })
    .await
    .unwrap();
    assert!(!out.status.success(), "{out:?}");
    assert!(!out.stdout.contains(&ESC), "reconcile stdout: {out:?}");
    assert!(!out.stderr.contains(&ESC), "reconcile stderr: {out:?}");
    assert!(text(&out.stderr).contains("RED"), "{out:?}");
}
