//! Read-only commands: `scanpay orders`, `scanpay query`, `scanpay report`.

use scanpay::config::Config;

use scanpay::sanitize;

use super::{
    EXIT_FAILED, EXIT_OK, Failure, books, order_json, order_line, print_json, simulated,
    tell_printed,
};

/// `scanpay orders [--all] [--json]`: this shift's orders (or all).
pub fn list(cfg: &Config, all: bool, json: bool) -> Result<u8, Failure> {
    let list = books(cfg).orders(all)?;
    if json {
        let v: Vec<serde_json::Value> = list
            .iter()
            .map(|o| order_json(o, cfg.language, true))
            .collect();
        print_json(serde_json::Value::Array(v), simulated(cfg), false);
    } else {
        for o in &list {
            println!("{}", order_line(o, cfg.language));
        }
    }
    Ok(EXIT_OK)
}

/// `scanpay query <out_trade_no>`: the local record (if any) and WeChat Pay's verified answer.
pub async fn query(cfg: Config, out_trade_no: &str) -> Result<u8, Failure> {
    let books = books(&cfg);
    let local = books.order(out_trade_no).unwrap_or(None);
    let remote = books.query_remote(out_trade_no).await?;
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
    print_json(out, simulated(&cfg), true);
    if let Err(e) = remote {
        let e = e.to_string();
        eprintln!(
            "scanpay: query {}: {}",
            sanitize::terminal_line(out_trade_no),
            sanitize::terminal_line(&e)
        );
    }
    Ok(code)
}

/// `scanpay report x|z [N] [--json] [--print]`.
pub fn report(
    cfg: &Config,
    kind: &str,
    number: Option<i64>,
    json: bool,
    print: bool,
) -> Result<u8, Failure> {
    let books = books(cfg);
    let report = match kind {
        "x" => books.x_report()?,
        "z" => books.z_report(number)?,
        other => {
            return Err(Failure::usage(format!(
                "unknown report {other:?}: use x or z"
            )));
        }
    };
    if json {
        print_json(
            serde_json::to_value(&report.summary).unwrap_or_default(),
            simulated(cfg),
            true,
        );
    } else {
        print!("{}", sanitize::terminal(&report.to_text()));
    }
    if print {
        tell_printed("report", &books.print_report(&report)?);
    }
    Ok(EXIT_OK)
}
