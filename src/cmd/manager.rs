//! The manager's commands: refunds, supervisors, reconciliation, export and backup.

use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::sync::{Mutex, OnceLock};

use scanpay::config::{Config, Mode};
use scanpay::engine::refund::RefundStatus;
use scanpay::money::Fen;
use scanpay::sanitize;
use scanpay::supervisor;
use scanpay::till::SupervisorPin;
use scanpay::till::refund::refund_message;

use super::{
    EXIT_FAILED, EXIT_OK, EXIT_UNRESOLVED, Failure, books, open_till, print_json, simulated,
};

/// `--pin-fd N`: PINs are read from this descriptor, one per line, instead of the terminal or
/// standard input.
static PIN_FD: OnceLock<i32> = OnceLock::new();
/// The reader on `--pin-fd`, opened at the first PIN and kept (its buffer holds the next ones).
static PIN_FD_READER: Mutex<Option<BufReader<std::fs::File>>> = Mutex::new(None);

/// Sets `--pin-fd` for this process (the binary calls it once, before any command).
pub fn set_pin_fd(fd: Option<i32>) {
    if let Some(fd) = fd {
        let _ = PIN_FD.set(fd);
    }
}

/// Whether PINs are typed at a terminal (then a new PIN is asked twice).
fn interactive() -> bool {
    PIN_FD.get().is_none() && std::io::stdin().is_terminal()
}

/// Reads the next line of the `--pin-fd` descriptor.
fn read_pin_fd(fd: i32) -> Result<String, Failure> {
    let mut guard = PIN_FD_READER
        .lock()
        .map_err(|_| Failure::usage("--pin-fd: the reader failed earlier"))?;
    if guard.is_none() {
        // SAFETY: fcntl(F_GETFD) only asks whether the descriptor is open.
        if fd < 0 || unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
            return Err(Failure::usage(format!(
                "--pin-fd {fd}: that file descriptor is not open (open it for the command, e.g. `3< pins`)"
            )));
        }
        // SAFETY: the descriptor is open (checked above) and nothing else in this process uses
        // it; from here on the File owns it.
        let file = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        *guard = Some(BufReader::new(file));
    }
    let Some(reader) = guard.as_mut() else {
        return Err(Failure::usage("--pin-fd: no reader"));
    };
    let mut line = String::new();
    let n = reader
        .read_line(&mut line)
        .map_err(|e| Failure::usage(format!("--pin-fd {fd}: reading the PIN: {e}")))?;
    if n == 0 {
        return Err(Failure::usage(format!(
            "--pin-fd {fd}: no PIN left to read (one PIN per line)"
        )));
    }
    Ok(line.trim().to_string())
}

/// Reads a PIN: from the `--pin-fd` descriptor if one was given, else from the terminal without
/// echo, or one line of standard input when it is not a terminal (scripts). Each call reads the
/// next line.
pub fn read_pin(prompt: &str) -> Result<String, Failure> {
    if let Some(&fd) = PIN_FD.get() {
        return read_pin_fd(fd);
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        let n = stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| Failure::usage(format!("reading the PIN: {e}")))?;
        if n == 0 {
            return Err(Failure::usage(
                "no PIN on standard input (one PIN per line; or use --pin-fd N)",
            ));
        }
        return Ok(line.trim().to_string());
    }
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let fd = libc::STDIN_FILENO;
    // SAFETY: termios is plain data; tcgetattr/tcsetattr on the standard input descriptor,
    // which is a terminal (checked above), with a pointer to a properly sized struct.
    let mut old: libc::termios = unsafe { std::mem::zeroed() };
    let have_termios = unsafe { libc::tcgetattr(fd, &mut old) } == 0;
    if have_termios {
        let mut quiet = old;
        quiet.c_lflag &= !(libc::ECHO);
        quiet.c_lflag |= libc::ECHONL;
        // SAFETY: as above.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
    }
    let mut line = String::new();
    let result = stdin.lock().read_line(&mut line);
    if have_termios {
        // SAFETY: restores the settings read above.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &old) };
    }
    result.map_err(|e| Failure::usage(format!("reading the PIN: {e}")))?;
    Ok(line.trim().to_string())
}

/// The supervisor who approves a refund or a forced close: the one named by `--supervisor`;
/// without it, `demo` in simulator mode, and a usage error in live mode (there is no default
/// outside the demo).
pub fn approver(cfg: &Config, named: Option<String>, command: &str) -> Result<String, Failure> {
    match (named, cfg.wechatpay.mode) {
        (Some(id), _) => Ok(id),
        (None, Mode::Simulator) => Ok(supervisor::DEMO_ID.to_string()),
        (None, Mode::Live) => Err(Failure::usage(format!(
            "`{command}` needs --supervisor ID in live mode: the supervisor who approves it"
        ))),
    }
}

/// Reads the PIN of the supervisor `by`, who approves.
fn approver_pin(by: &str) -> Result<SupervisorPin, Failure> {
    Ok(SupervisorPin {
        supervisor: by.to_string(),
        pin: read_pin(&format!("Supervisor {by} PIN / 主管密码: "))?,
    })
}

/// Reads a new PIN for `id` (twice at a terminal) and checks it against the mode's rule.
fn new_pin(cfg: &Config, id: &str) -> Result<String, Failure> {
    let mode = cfg.wechatpay.mode;
    let min = supervisor::min_pin_digits(mode);
    let pin = read_pin(&format!("New PIN for {id} ({min}–12 digits): "))?;
    supervisor::validate_new_pin(&pin, mode).map_err(|e| Failure::usage(e.to_string()))?;
    if interactive() {
        let again = read_pin("Again: ")?;
        if again != pin {
            return Err(Failure::usage("the two PINs differ; nothing was changed"));
        }
    }
    Ok(pin)
}

fn valid_id(id: &str) -> Result<(), Failure> {
    supervisor::validate_id(id).map_err(|e| Failure::usage(e.to_string()))
}

/// `scanpay supervisor init ID`: the first supervisor, only while there is none.
pub fn supervisor_init(cfg: &Config, id: &str) -> Result<u8, Failure> {
    valid_id(id)?;
    let pin = new_pin(cfg, id)?;
    books(cfg).supervisor_init(id, &pin)?;
    eprintln!("scanpay: supervisor {id} set up (PIN stored as an argon2id hash)");
    Ok(EXIT_OK)
}

/// `scanpay supervisor add ID --by SUPERVISOR`: the approver's PIN first, then the new PIN.
pub fn supervisor_add(cfg: &Config, id: &str, by: &str) -> Result<u8, Failure> {
    valid_id(id)?;
    valid_id(by)?;
    let approval = approver_pin(by)?;
    let pin = new_pin(cfg, id)?;
    books(cfg).supervisor_add(id, &pin, &approval)?;
    eprintln!("scanpay: supervisor {id} added, approved by {by} (PIN stored as an argon2id hash)");
    Ok(EXIT_OK)
}

/// `scanpay supervisor pin ID [--by SUPERVISOR]`: the current PIN (or the other supervisor's)
/// first, then the new PIN.
pub fn supervisor_pin(cfg: &Config, id: &str, by: Option<&str>) -> Result<u8, Failure> {
    valid_id(id)?;
    let by = by.unwrap_or(id);
    valid_id(by)?;
    let approval = if by == id {
        SupervisorPin {
            supervisor: id.to_string(),
            pin: read_pin(&format!("Current PIN of {id} / 原密码: "))?,
        }
    } else {
        approver_pin(by)?
    };
    let pin = new_pin(cfg, id)?;
    books(cfg).supervisor_pin(id, &pin, &approval)?;
    eprintln!("scanpay: PIN of supervisor {id} changed, approved by {by}");
    Ok(EXIT_OK)
}

/// `scanpay supervisor enable|disable ID --by SUPERVISOR`.
pub fn supervisor_set_enabled(
    cfg: &Config,
    id: &str,
    enabled: bool,
    by: &str,
) -> Result<u8, Failure> {
    valid_id(id)?;
    valid_id(by)?;
    let approval = approver_pin(by)?;
    books(cfg).supervisor_set_enabled(id, enabled, &approval)?;
    let word = if enabled { "enabled" } else { "disabled" };
    eprintln!("scanpay: supervisor {id} {word}, approved by {by}");
    Ok(EXIT_OK)
}

/// `scanpay supervisor list [--json]`: ids, enabled, when added and changed (never a hash).
pub fn supervisor_list(cfg: &Config, json: bool) -> Result<u8, Failure> {
    let all = books(cfg).supervisors()?;
    if json {
        let rows: Vec<serde_json::Value> = all
            .iter()
            .map(|s| {
                serde_json::json!({"id": s.id, "enabled": s.enabled, "demo": s.demo,
                    "created_at": scanpay::clock::beijing::rfc3339(s.created_ms),
                    "updated_at": scanpay::clock::beijing::rfc3339(s.updated_ms)})
            })
            .collect();
        super::print_json(
            serde_json::Value::Array(rows),
            cfg.wechatpay.mode == scanpay::config::Mode::Simulator,
            false,
        );
        return Ok(EXIT_OK);
    }
    for s in &all {
        println!(
            "{:<32}  {:<8}  added {}  changed {}{}",
            s.id,
            if s.enabled { "enabled" } else { "disabled" },
            scanpay::clock::beijing::datetime(s.created_ms),
            scanpay::clock::beijing::datetime(s.updated_ms),
            if s.demo { "  (simulator demo)" } else { "" }
        );
    }
    if all.is_empty() {
        eprintln!(
            "scanpay: no supervisors yet: set up the first with `scanpay supervisor init ID`"
        );
    }
    Ok(EXIT_OK)
}

/// `scanpay refund <out_trade_no> --amount 5.00 --reason TEXT --supervisor ID`.
pub async fn refund(
    cfg: Config,
    out_trade_no: &str,
    amount: &str,
    reason: &str,
    supervisor_id: &str,
    json: bool,
) -> Result<u8, Failure> {
    let amount = Fen::parse(amount, cfg.payment.max_amount)
        .map_err(|e| Failure::usage(format!("amount {amount:?}: {e}")))?;
    if reason.trim().is_empty() {
        return Err(Failure::usage(
            "give a reason (--reason), it is shown to the customer and kept in the log",
        ));
    }
    // The supervisor approves (in the till) before anything is written or sent.
    let by = approver_pin(supervisor_id)?;
    let lang = cfg.language;
    let sim = simulated(&cfg);
    let till = open_till(cfg).await?;
    let r = till.refund(out_trade_no, amount, reason, &by).await?;
    let message = refund_message(&r, lang);
    if json {
        print_json(
            serde_json::json!({"out_refund_no": r.out_refund_no, "out_trade_no": r.out_trade_no, "status": r.status.as_str(),
                "amount_fen": r.amount.0, "refund_id": r.refund_id, "message": message}),
            sim,
            false,
        );
    } else {
        println!(
            "{}  {}  {}  {}",
            r.status.as_str(),
            r.amount,
            sanitize::terminal_line(&r.out_refund_no),
            sanitize::terminal_line(&message)
        );
    }
    Ok(match r.status {
        RefundStatus::Success | RefundStatus::Processing | RefundStatus::Created => EXIT_OK,
        RefundStatus::Closed | RefundStatus::Failed => EXIT_FAILED,
        RefundStatus::Abnormal => EXIT_UNRESOLVED,
    })
}

/// `scanpay backup [--force] PATH`: SQLite's online backup, safe while the till runs; a new
/// private file, replacing an existing one only with `--force`, never the live log.
pub fn backup(cfg: &Config, dest: &std::path::Path, force: bool) -> Result<u8, Failure> {
    let n = books(cfg).backup(dest, force)?;
    eprintln!("scanpay: backed up {} pages to {}", n, dest.display());
    Ok(EXIT_OK)
}

/// `scanpay export --from DATE --to DATE [--what orders|refunds] [--no-bom]`: CSV on standard
/// output, UTF-8 with a byte-order mark (so spreadsheets read the Chinese right) unless
/// `--no-bom`. Dates are Beijing days, both included. Every text cell is formula-safe and
/// holds no control character (`sanitize::csv_cell`), so the output is terminal-safe too.
pub fn export(cfg: &Config, from: &str, to: &str, refunds: bool, bom: bool) -> Result<u8, Failure> {
    print!("{}", books(cfg).export(from, to, refunds, bom)?);
    Ok(EXIT_OK)
}

/// `scanpay reconcile --date YYYY-MM-DD [--json|--csv]`: exit 0 only when everything matches.
pub async fn reconcile(cfg: Config, date: &str, json: bool, csv: bool) -> Result<u8, Failure> {
    let r = books(&cfg).reconcile(date).await?;
    if json {
        print_json(
            serde_json::to_value(&r).unwrap_or_default(),
            simulated(&cfg),
            true,
        );
    } else if csv {
        // Cells from the bill go through `sanitize::csv_cell` (no formula, no control).
        print!("{}", scanpay::reconcile::to_csv(&r));
    } else {
        let table = scanpay::reconcile::to_table(&r, cfg.language == scanpay::config::Language::Zh);
        print!("{}", sanitize::terminal(&table));
    }
    Ok(if r.is_clean() { EXIT_OK } else { EXIT_FAILED })
}
