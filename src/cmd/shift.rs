//! `scanpay shift open|close`.

use scanpay::config::Config;
use scanpay::till::SupervisorPin;

use scanpay::sanitize;

use super::{EXIT_OK, Failure, open_till, print_json, simulated, tell_printed};

/// Opens a shift for a cashier.
pub async fn open(cfg: Config, cashier: &str) -> Result<u8, Failure> {
    let till = open_till(cfg).await?;
    let shift = till.open_shift(cashier).await?;
    println!(
        "shift #{} opened on {} for cashier {}",
        shift.id,
        sanitize::terminal_line(&shift.terminal_id),
        sanitize::terminal_line(&shift.cashier)
    );
    Ok(EXIT_OK)
}

/// Closes the shift with a Z (the till settles what is in flight first, backs up and prints
/// the Z); `force_by` names the supervisor who approves a close over unsettled orders.
pub async fn close(cfg: Config, json: bool, force_by: Option<String>) -> Result<u8, Failure> {
    let force = match force_by {
        Some(supervisor) => Some(SupervisorPin {
            pin: super::manager::read_pin(&format!("Supervisor {supervisor} PIN / 主管密码: "))?,
            supervisor,
        }),
        None => None,
    };
    let sim = simulated(&cfg);
    let till = open_till(cfg).await?;
    let closed = till.close_shift("cli", force.as_ref()).await?;
    match &closed.backup {
        Ok(p) => eprintln!("scanpay: backup written to {}", p.display()),
        Err(e) => eprintln!(
            "scanpay: the Z backup failed: {e} (the shift is closed; run `scanpay backup PATH`)"
        ),
    }
    if json {
        print_json(
            serde_json::json!({"z_number": closed.shift.z_number, "shift": closed.shift, "summary": closed.summary}),
            sim,
            false,
        );
    } else {
        print!("{}", sanitize::terminal(&closed.report.to_text()));
    }
    match &closed.printed {
        Ok(p) => tell_printed("Z report", p),
        Err(e) => eprintln!(
            "scanpay: the Z was not printed: {e} (the shift is closed; run `scanpay report z --print`)"
        ),
    }
    Ok(EXIT_OK)
}
