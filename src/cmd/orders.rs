//! Read-only commands: `scanpay orders`, `scanpay query`, `scanpay report`.

use std::sync::Arc;

use scanpay::clock::{SharedClock, SystemClock};
use scanpay::config::Config;
use scanpay::store::{self, orders, shifts};

use super::{EXIT_FAILED, EXIT_OK, Failure, order_json, order_line};

/// A read-only connection to the shift log (no lock needed: WAL readers never block the till).
fn reader(cfg: &Config) -> Result<rusqlite::Connection, Failure> {
    let path = cfg.data_dir.join(store::DB_FILE);
    if !path.exists() {
        return Err(Failure::failed(format!(
            "no shift log yet at {}",
            path.display()
        )));
    }
    store::open_reader(&path)
        .map_err(|e| Failure::usage(format!("shift log {}: {e}", path.display())))
}

/// `scanpay orders [--all] [--json]`: this shift's orders (or all).
pub fn list(cfg: &Config, all: bool, json: bool) -> Result<u8, Failure> {
    let conn = reader(cfg)?;
    let list = if all {
        orders::all(&conn)?
    } else {
        match shifts::current(&conn, &cfg.merchant.terminal_id)? {
            Some(s) => orders::for_shift(&conn, s.id)?,
            None => Vec::new(),
        }
    };
    if json {
        let v: Vec<serde_json::Value> = list
            .iter()
            .map(|o| order_json(o, cfg.language, true))
            .collect();
        println!("{}", serde_json::Value::Array(v));
    } else {
        for o in &list {
            println!("{}", order_line(o, cfg.language));
        }
    }
    Ok(EXIT_OK)
}

/// `scanpay query <out_trade_no>`: the local record (if any) and WeChat Pay's verified answer.
pub async fn query(cfg: Config, out_trade_no: &str) -> Result<u8, Failure> {
    let local = match reader(&cfg) {
        Ok(conn) => orders::by_out_trade_no(&conn, out_trade_no)?,
        Err(_) => None,
    };
    let clock: SharedClock = Arc::new(SystemClock);
    let conn = scanpay::connect::connect(&cfg, clock)
        .await
        .map_err(|e| Failure::usage(e.to_string()))?;
    let remote = conn.client.query_by_out_trade_no(out_trade_no).await;
    let mut out = serde_json::json!({
        "local": local.as_ref().map(|o| order_json(o, cfg.language, true)),
    });
    let code = match &remote {
        Ok(t) => {
            out["wechat"] = serde_json::to_value(t).unwrap_or_default();
            EXIT_OK
        }
        Err(e) => {
            out["wechat_error"] = serde_json::json!(e.to_string());
            EXIT_FAILED
        }
    };
    println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    if let Err(e) = remote {
        eprintln!("scanpay: query {out_trade_no}: {e}");
    }
    Ok(code)
}

/// `scanpay report x|z [N] [--json]`.
pub fn report(
    cfg: &Config,
    kind: &str,
    number: Option<i64>,
    json: bool,
    print: bool,
) -> Result<u8, Failure> {
    let conn = reader(cfg)?;
    let (title, summary) = match kind {
        "x" => {
            let shift = shifts::current(&conn, &cfg.merchant.terminal_id)?.ok_or_else(|| {
                Failure::failed(format!("no shift is open on {}", cfg.merchant.terminal_id))
            })?;
            (
                match cfg.language {
                    scanpay::config::Language::Zh => {
                        format!("X 报表 · 班次 #{} · {} · 未结班", shift.id, shift.cashier)
                    }
                    scanpay::config::Language::En => format!(
                        "X report — shift #{} ({}), not closed",
                        shift.id, shift.cashier
                    ),
                },
                shifts::summary(&conn, shift.id)?,
            )
        }
        "z" => {
            let row: Option<(i64, String)> = match number {
                Some(n) => conn
                    .query_row(
                        "SELECT z_number, report FROM z_reports WHERE z_number = ?1",
                        [n],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .ok(),
                None => conn
                    .query_row(
                        "SELECT z_number, report FROM z_reports ORDER BY z_number DESC LIMIT 1",
                        [],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .ok(),
            };
            let (z, text) = row.ok_or_else(|| Failure::failed("no such Z report"))?;
            let summary: shifts::Summary = serde_json::from_str(&text)
                .map_err(|e| Failure::usage(format!("Z report {z}: {e}")))?;
            (
                match cfg.language {
                    scanpay::config::Language::Zh => {
                        format!("Z 报表 #{z} · 班次 #{}", summary.shift_id)
                    }
                    scanpay::config::Language::En => {
                        format!("Z report #{z} — shift #{}", summary.shift_id)
                    }
                },
                summary,
            )
        }
        other => {
            return Err(Failure::usage(format!(
                "unknown report {other:?}: use x or z"
            )));
        }
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        );
    } else {
        print!("{}", super::shift::summary_text(&title, &summary));
    }
    if print {
        super::receipt::print_summary(cfg, &title, &summary)?;
    }
    Ok(EXIT_OK)
}
