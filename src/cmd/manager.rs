//! The manager's commands: refunds, supervisors, reconciliation, export and backup.

use std::io::{BufRead, IsTerminal, Write};

use scanpay::config::Config;
use scanpay::engine::refund::RefundStatus;
use scanpay::money::Fen;
use scanpay::sanitize;
use scanpay::supervisor;
use scanpay::till::SupervisorPin;
use scanpay::till::refund::refund_message;

use super::{
    EXIT_FAILED, EXIT_OK, EXIT_UNRESOLVED, Failure, books, open_till, print_json, simulated,
};

/// Reads a PIN: from the terminal without echo, or one line of standard input when it is not a
/// terminal (scripts).
pub fn read_pin(prompt: &str) -> Result<String, Failure> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| Failure::usage(format!("reading the PIN: {e}")))?;
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

/// `scanpay supervisor add ID`.
pub fn supervisor_add(cfg: &Config, id: &str) -> Result<u8, Failure> {
    supervisor::validate_id(id).map_err(|e| Failure::usage(e.to_string()))?;
    let pin = read_pin(&format!("New PIN for {id} (4–12 digits): "))?;
    supervisor::validate_pin(&pin).map_err(|e| Failure::usage(e.to_string()))?;
    if std::io::stdin().is_terminal() {
        let again = read_pin("Again: ")?;
        if again != pin {
            return Err(Failure::usage("the two PINs differ; nothing was changed"));
        }
    }
    books(cfg).supervisor_add(id, &pin)?;
    eprintln!("scanpay: supervisor {id} saved (PIN stored as an argon2id hash)");
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
    let by = SupervisorPin {
        supervisor: supervisor_id.to_string(),
        pin: read_pin(&format!("Supervisor {supervisor_id} PIN / 主管密码: "))?,
    };
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

/// `scanpay backup PATH`: SQLite's online backup, safe while the till runs.
pub fn backup(cfg: &Config, dest: &std::path::Path) -> Result<u8, Failure> {
    let n = books(cfg).backup(dest)?;
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
