//! `scanpay shift open|close`.

use scanpay::config::Config;
use scanpay::engine::recovery::{Scope, recover};
use scanpay::lock::DataDirLock;
use scanpay::money::Fen;
use scanpay::store::{Store, shifts};

use super::{EXIT_OK, Failure, Session};

/// Opens a shift for a cashier.
pub async fn open(cfg: Config, cashier: &str) -> Result<u8, Failure> {
    let _lock = DataDirLock::acquire(&cfg.data_dir).map_err(|e| Failure::usage(e.to_string()))?;
    let store =
        Store::open(&cfg.data_dir).map_err(|e| Failure::usage(format!("shift log: {e}")))?;
    let terminal = cfg.merchant.terminal_id.clone();
    let cashier = cashier.to_string();
    let now = scanpay::clock::Clock::now_ms(&scanpay::clock::SystemClock);
    let shift = store
        .call(move |c| shifts::open(c, &terminal, &cashier, now))
        .await?;
    println!(
        "shift #{} opened on {} for cashier {}",
        shift.id, shift.terminal_id, shift.cashier
    );
    Ok(EXIT_OK)
}

/// Settles what is in flight, then closes the shift with a Z report (refused while any order
/// is unresolved).
pub async fn close(cfg: Config, json: bool, force_by: Option<String>) -> Result<u8, Failure> {
    let forced = match &force_by {
        Some(sup) => Some(super::manager::approve_forced_close(&cfg, sup)?),
        None => None,
    };
    let session = Session::open(cfg).await?;
    recover(&session.engine, Scope::InFlight)
        .await
        .map_err(|e| Failure::usage(e.to_string()))?;
    let terminal = session.cfg.merchant.terminal_id.clone();
    let now = session.clock.now_ms();
    let (shift, summary) = session
        .store
        .call(move |c| shifts::close(c, &terminal, "cli", now, forced.as_deref()))
        .await?;
    // The automatic backup at every Z, keeping the newest 30.
    match scanpay::store::backup::at_z_close(&session.cfg.data_dir, shift.z_number.unwrap_or(0), 30)
    {
        Ok(p) => eprintln!("scanpay: backup written to {}", p.display()),
        Err(e) => eprintln!(
            "scanpay: the Z backup failed: {e} (the shift is closed; run `scanpay backup PATH`)"
        ),
    }
    if json {
        println!(
            "{}",
            serde_json::json!({"z_number": shift.z_number, "shift": shift, "summary": summary})
        );
    } else {
        print!(
            "{}",
            summary_text(
                &format!(
                    "Z report #{} — shift #{} closed",
                    shift.z_number.unwrap_or(0),
                    shift.id
                ),
                &summary
            )
        );
    }
    Ok(EXIT_OK)
}

/// A plain-text summary.
pub fn summary_text(title: &str, s: &shifts::Summary) -> String {
    let mut out = format!("{title}\n");
    for (state, n, sum) in &s.by_state {
        out.push_str(&format!(
            "  {state:<19} {n:>6}  {:>14}\n",
            Fen(*sum).to_string()
        ));
    }
    out.push_str(&format!(
        "  {:<19} {:>6}  {:>14}\n",
        "paid total",
        s.paid_count,
        Fen(s.paid_fen).to_string()
    ));
    out.push_str(&format!(
        "  {:<19} {:>6}  {:>14}\n",
        "refunds",
        s.refund_count,
        format!("-{}", Fen(s.refund_fen))
    ));
    out.push_str(&format!(
        "  {:<19} {:>6}  {:>14}\n",
        "net",
        "",
        Fen(s.net_fen).to_string()
    ));
    for (cashier, n, fen) in &s.by_cashier {
        out.push_str(&format!(
            "  cashier {cashier:<11} {n:>6}  {:>14}\n",
            Fen(*fen).to_string()
        ));
    }
    for (hour, n, fen) in &s.by_hour {
        out.push_str(&format!(
            "  {hour:02}:00-{hour:02}:59         {n:>6}  {:>14}\n",
            Fen(*fen).to_string()
        ));
    }
    if let (Some(a), Some(b)) = (&s.first_out_trade_no, &s.last_out_trade_no) {
        out.push_str(&format!("  orders {a} … {b}\n"));
    }
    if let Some(sup) = &s.forced_by {
        out.push_str(&format!(
            "  FORCED CLOSE approved by supervisor {sup}; not settled:\n"
        ));
        for (no, st) in &s.open_orders {
            out.push_str(&format!("    {no} {st}\n"));
        }
    }
    out
}
