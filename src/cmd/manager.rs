//! The manager's commands: refunds, supervisors, forced shift close, reconciliation, export
//! and backup.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use scanpay::clock::{Clock, SystemClock};
use scanpay::config::{Config, Mode};
use scanpay::engine::refund::RefundStatus;
use scanpay::money::Fen;
use scanpay::store;
use scanpay::supervisor;

use super::{EXIT_FAILED, EXIT_OK, EXIT_UNRESOLVED, Failure, Session};

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

fn approval(
    conn: &rusqlite::Connection,
    supervisor_id: &str,
    action: &str,
    detail: &str,
) -> Result<supervisor::Approval, Failure> {
    let pin = read_pin(&format!("Supervisor {supervisor_id} PIN / 主管密码: "))?;
    supervisor::approve(
        conn,
        supervisor_id,
        &pin,
        action,
        detail,
        SystemClock.now_ms(),
    )
    .map_err(|e| Failure::failed(format!("not approved: {e}")))
}

fn open_db(cfg: &Config) -> Result<rusqlite::Connection, Failure> {
    let path = cfg.data_dir.join(store::DB_FILE);
    store::create_private_dir(&cfg.data_dir)
        .map_err(|e| Failure::usage(format!("{}: {e}", cfg.data_dir.display())))?;
    let conn = store::open_connection(&path)
        .map_err(|e| Failure::usage(format!("shift log {}: {e}", path.display())))?;
    if cfg.wechatpay.mode == Mode::Simulator {
        supervisor::ensure_demo(&conn, SystemClock.now_ms())
            .map_err(|e| Failure::usage(e.to_string()))?;
    }
    Ok(conn)
}

/// `scanpay supervisor add ID`.
pub fn supervisor_add(cfg: &Config, id: &str) -> Result<u8, Failure> {
    supervisor::validate_id(id).map_err(|e| Failure::usage(e.to_string()))?;
    let conn = open_db(cfg)?;
    let pin = read_pin(&format!("New PIN for {id} (4–12 digits): "))?;
    supervisor::validate_pin(&pin).map_err(|e| Failure::usage(e.to_string()))?;
    if std::io::stdin().is_terminal() {
        let again = read_pin("Again: ")?;
        if again != pin {
            return Err(Failure::usage("the two PINs differ; nothing was changed"));
        }
    }
    supervisor::add(&conn, id, &pin, SystemClock.now_ms())
        .map_err(|e| Failure::usage(e.to_string()))?;
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
    // The supervisor approves before anything is written or sent.
    {
        let conn = open_db(&cfg)?;
        approval(
            &conn,
            supervisor_id,
            "refund",
            &format!("{out_trade_no} {amount} ({reason})"),
        )?;
    }
    let lang = cfg.language;
    let session = Session::open(cfg).await?;
    let r = session
        .engine
        .refund(
            out_trade_no,
            amount,
            reason,
            Some(supervisor_id),
            Some(Duration::from_secs(60)),
        )
        .await
        .map_err(|e| match e {
            scanpay::engine::EngineError::Refused(m) => Failure::failed(m),
            e @ scanpay::engine::EngineError::DuplicateCode { .. } => {
                Failure::failed(e.to_string())
            }
            scanpay::engine::EngineError::Store(s) => Failure::from(s),
        })?;
    let zh = lang == scanpay::config::Language::Zh;
    let message = match r.status {
        RefundStatus::Success => if zh { "退款成功" } else { "refunded" }.to_string(),
        RefundStatus::Processing | RefundStatus::Created => if zh {
            "退款处理中：稍后由 scanpay recover 跟进"
        } else {
            "refund processing: `scanpay recover` follows it up"
        }
        .to_string(),
        _ => r
            .machine
            .reason
            .clone()
            .unwrap_or_else(|| r.status.as_str().to_string()),
    };
    if json {
        println!(
            "{}",
            serde_json::json!({"out_refund_no": r.out_refund_no, "out_trade_no": r.out_trade_no, "status": r.status.as_str(),
                "amount_fen": r.amount.0, "refund_id": r.refund_id, "message": message})
        );
    } else {
        println!(
            "{}  {}  {}  {message}",
            r.status.as_str(),
            r.amount,
            r.out_refund_no
        );
    }
    Ok(match r.status {
        RefundStatus::Success | RefundStatus::Processing | RefundStatus::Created => EXIT_OK,
        RefundStatus::Closed | RefundStatus::Failed => EXIT_FAILED,
        RefundStatus::Abnormal => EXIT_UNRESOLVED,
    })
}

/// `scanpay shift close --force --supervisor ID`: the supervisor approves a close over orders
/// that are not settled; they are listed on the Z.
pub fn approve_forced_close(cfg: &Config, supervisor_id: &str) -> Result<String, Failure> {
    let conn = open_db(cfg)?;
    approval(
        &conn,
        supervisor_id,
        "force_close",
        &format!("shift on {}", cfg.merchant.terminal_id),
    )?;
    Ok(supervisor_id.to_string())
}

/// `scanpay backup PATH`: SQLite's online backup, safe while the till runs.
pub fn backup(cfg: &Config, dest: &std::path::Path) -> Result<u8, Failure> {
    let path = cfg.data_dir.join(store::DB_FILE);
    if !path.exists() {
        return Err(Failure::failed(format!(
            "no shift log yet at {}",
            path.display()
        )));
    }
    let n = store::backup::to_file(&path, dest).map_err(|e| Failure::failed(e.to_string()))?;
    eprintln!("scanpay: backed up {} pages to {}", n, dest.display());
    Ok(EXIT_OK)
}

/// `scanpay export --from DATE --to DATE [--what orders|refunds] [--no-bom]`: CSV on standard
/// output, UTF-8 with a byte-order mark (so spreadsheets read the Chinese right) unless
/// `--no-bom`. Dates are Beijing days, both included.
pub fn export(cfg: &Config, from: &str, to: &str, refunds: bool, bom: bool) -> Result<u8, Failure> {
    let day = |d: &str| -> Result<i64, Failure> {
        let date: jiff::civil::Date = d
            .parse()
            .map_err(|_| Failure::usage(format!("{d:?} is not a date (YYYY-MM-DD)")))?;
        let z = date
            .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(8)))
            .map_err(|e| Failure::usage(e.to_string()))?;
        Ok(z.timestamp().as_millisecond())
    };
    let (from_ms, to_ms) = (day(from)?, day(to)? + 24 * 3600 * 1000);
    if to_ms <= from_ms {
        return Err(Failure::usage("--to is before --from"));
    }
    let path = cfg.data_dir.join(store::DB_FILE);
    if !path.exists() {
        return Err(Failure::failed(format!(
            "no shift log yet at {}",
            path.display()
        )));
    }
    let conn = store::open_reader(&path).map_err(|e| Failure::usage(format!("shift log: {e}")))?;
    let mut out = String::new();
    if bom {
        out.push('\u{feff}');
    }
    let q = |s: &str| -> String {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let t = |ms: i64| scanpay::clock::beijing::datetime(ms);
    if refunds {
        out.push_str("out_refund_no,out_trade_no,created_at,amount,status,reason,approved_by,refund_id,shift\r\n");
        for r in store::refunds::between(&conn, from_ms, to_ms)? {
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{}\r\n",
                q(&r.out_refund_no),
                q(&r.out_trade_no),
                t(r.created_at),
                r.amount.to_yuan_string(),
                r.status.as_str(),
                q(&r.reason),
                q(r.approved_by.as_deref().unwrap_or("")),
                q(r.refund_id.as_deref().unwrap_or("")),
                r.shift_id
            ));
        }
    } else {
        out.push_str("out_trade_no,created_at,terminal,cashier,shift,amount,state,transaction_id,code,description,reason\r\n");
        let mut stmt = conn
            .prepare("SELECT id FROM orders WHERE created_at >= ?1 AND created_at < ?2 ORDER BY id")
            .map_err(|e| Failure::usage(e.to_string()))?;
        let ids: Vec<i64> = stmt
            .query_map([from_ms, to_ms], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| Failure::usage(e.to_string()))?;
        for id in ids {
            let o = store::orders::by_id(&conn, id)?;
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{},{}\r\n",
                q(&o.out_trade_no),
                t(o.created_at),
                q(&o.terminal_id),
                q(&o.cashier),
                o.shift_id,
                o.amount.to_yuan_string(),
                o.state.as_str(),
                q(o.transaction_id.as_deref().unwrap_or("")),
                q(&o.code_masked),
                q(&o.description),
                q(o.reason_code.as_deref().unwrap_or(""))
            ));
        }
    }
    print!("{out}");
    Ok(EXIT_OK)
}

/// `scanpay reconcile --date YYYY-MM-DD [--json|--csv]`: exit 0 only when everything matches.
pub async fn reconcile(cfg: Config, date: &str, json: bool, csv: bool) -> Result<u8, Failure> {
    let clock: scanpay::clock::SharedClock = std::sync::Arc::new(SystemClock);
    store::create_private_dir(&cfg.data_dir)
        .map_err(|e| Failure::usage(format!("{}: {e}", cfg.data_dir.display())))?;
    let st =
        store::Store::open(&cfg.data_dir).map_err(|e| Failure::usage(format!("shift log: {e}")))?;
    let conn = scanpay::connect::connect(&cfg, clock)
        .await
        .map_err(|e| Failure::usage(e.to_string()))?;
    let r = scanpay::reconcile::fetch_and_compare(&conn.client, &st, &cfg.merchant.mchid, date)
        .await
        .map_err(|e| Failure::failed(e.to_string()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
    } else if csv {
        print!("{}", scanpay::reconcile::to_csv(&r));
    } else {
        print!(
            "{}",
            scanpay::reconcile::to_table(&r, cfg.language == scanpay::config::Language::Zh)
        );
    }
    Ok(if r.is_clean() { EXIT_OK } else { EXIT_FAILED })
}
