//! `scanpay reprint`: one marked copy of a receipt, from the shift log alone — no network, no
//! payment service needed.

use std::time::Duration;

use scanpay::clock::{Clock, SystemClock};
use scanpay::config::Config;
use scanpay::receipt::{self, layout};
use scanpay::store::{self, orders};

use super::{EXIT_OK, Failure};

/// Where a reprint goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// The text spool (`data_dir/receipts/`), also printed on standard output.
    File,
    /// The configured printer.
    Printer,
}

/// Prints exactly one copy, marked as a copy with the reprint time, and records it in the
/// audit log.
pub fn reprint(cfg: &Config, out_trade_no: &str, to: Option<Target>) -> Result<u8, Failure> {
    let path = cfg.data_dir.join(store::DB_FILE);
    if !path.exists() {
        return Err(Failure::failed(format!(
            "no shift log yet at {}",
            path.display()
        )));
    }
    let conn = store::open_connection(&path)
        .map_err(|e| Failure::usage(format!("shift log {}: {e}", path.display())))?;
    let order = orders::by_out_trade_no(&conn, out_trade_no)?
        .ok_or_else(|| Failure::failed(format!("no order {out_trade_no} in the shift log")))?;
    if !order.state.is_charged() {
        return Err(Failure::failed(format!(
            "order {out_trade_no} is {}: there is no receipt for it",
            order.state
        )));
    }
    let now = SystemClock.now_ms();
    let data = receipt::sale_receipt(&conn, cfg, &order, Some(now))?;
    let r = layout::sale(&data, cfg.printer.width);
    let name = format!("{out_trade_no}-copy-{now}");
    let job = receipt::job(cfg, &r, name.clone(), false);
    let sink = receipt::sink(cfg);
    let to = to.unwrap_or(if sink.enabled() {
        Target::Printer
    } else {
        Target::File
    });
    let spool = receipt::spool_dir(cfg);
    std::fs::create_dir_all(&spool)
        .map_err(|e| Failure::usage(format!("{}: {e}", spool.display())))?;
    std::fs::write(spool.join(format!("{name}.txt")), &job.text)
        .map_err(|e| Failure::usage(format!("{}: {e}", spool.display())))?;
    match to {
        Target::File => {
            print!("{}", job.text);
            eprintln!(
                "scanpay: copy written to {}",
                spool.join(format!("{name}.txt")).display()
            );
        }
        Target::Printer => {
            if !sink.enabled() {
                return Err(Failure::usage(
                    "no printer is configured ([printer] kind = \"none\"); use --to file",
                ));
            }
            sink.send(
                &name,
                &job.bytes,
                Duration::from_millis(cfg.printer.timeout_ms),
            )
            .map_err(|e| Failure::failed(format!("printer: {e}")))?;
            eprintln!("scanpay: copy of {out_trade_no} sent to the printer");
        }
    }
    store::audit(
        &conn,
        now,
        "cli",
        "reprint",
        &format!(
            "{out_trade_no} ({})",
            if to == Target::File {
                "file"
            } else {
                "printer"
            }
        ),
    )?;
    Ok(EXIT_OK)
}

/// Prints a summary (X or Z report) through the same machinery as receipts: spooled as text,
/// and sent to the printer when one is configured.
pub fn print_summary(
    cfg: &Config,
    title: &str,
    summary: &scanpay::store::shifts::Summary,
) -> Result<(), Failure> {
    use scanpay::money::Fen;
    let zh = cfg.language == scanpay::config::Language::Zh;
    let mut lines: Vec<(String, String)> = summary
        .by_state
        .iter()
        .map(|(state, n, fen)| (state.clone(), format!("{n} · {}", Fen(*fen).grouped())))
        .collect();
    lines.push((
        if zh {
            "实收合计".into()
        } else {
            "Collected".into()
        },
        format!(
            "{} · {}",
            summary.paid_count,
            Fen(summary.paid_fen).grouped()
        ),
    ));
    if let (Some(a), Some(b)) = (&summary.first_out_trade_no, &summary.last_out_trade_no) {
        lines.push((if zh { "首笔".into() } else { "First".into() }, a.clone()));
        lines.push((if zh { "末笔".into() } else { "Last".into() }, b.clone()));
    }
    let r = layout::summary(
        cfg.language,
        title,
        &cfg.merchant.store_name,
        &lines,
        cfg.printer.width,
    );
    let now = SystemClock.now_ms();
    let name = format!("report-{}-{now}", summary.shift_id);
    let job = receipt::job(cfg, &r, name.clone(), false);
    let spool = receipt::spool_dir(cfg);
    std::fs::create_dir_all(&spool)
        .map_err(|e| Failure::usage(format!("{}: {e}", spool.display())))?;
    std::fs::write(spool.join(format!("{name}.txt")), &job.text)
        .map_err(|e| Failure::usage(format!("{}: {e}", spool.display())))?;
    let sink = receipt::sink(cfg);
    if sink.enabled() {
        sink.send(
            &name,
            &job.bytes,
            Duration::from_millis(cfg.printer.timeout_ms),
        )
        .map_err(|e| Failure::failed(format!("printer: {e}")))?;
        eprintln!("scanpay: report sent to the printer");
    } else {
        eprintln!(
            "scanpay: no printer configured; report written to {}",
            spool.join(format!("{name}.txt")).display()
        );
    }
    Ok(())
}
