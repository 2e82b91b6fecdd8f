//! Receipts and printed reports: a sale's receipt, a marked copy (reprint), the X/Z on paper;
//! and how a job reaches the printer — queued (the screen never waits) or sent and waited for
//! (the command line, which exits right after).

use std::path::PathBuf;
use std::time::Duration;

use rusqlite::Connection;

use super::reports::Report;
use super::{Books, Till, TillError};
use crate::config::Config;
use crate::receipt::printer::{Job, PrintQueue, PrinterStatus};
use crate::receipt::{self, layout};
use crate::store::orders::{self, OrderEvent, OrderRecord};

/// How a till prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Printing {
    /// A print queue on a worker thread: jobs are handed over and the caller goes on.
    Queue,
    /// Each job is spooled and sent now, and the caller waits for the printer.
    Wait,
}

/// What became of a print job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Printed {
    /// Handed to the print queue.
    Queued,
    /// Sent to the printer (and spooled as text at the path).
    Sent(PathBuf),
    /// No printer is configured: written to the text spool only, at the path.
    Spooled(PathBuf),
}

/// The printer of an open till.
#[derive(Clone, Debug)]
pub(crate) enum Printer {
    Queue(PrintQueue),
    Wait,
}

impl Printer {
    pub(crate) fn start(mode: Printing, cfg: &Config) -> Printer {
        match mode {
            Printing::Queue => Printer::Queue(receipt::queue(cfg)),
            Printing::Wait => Printer::Wait,
        }
    }

    pub(crate) fn status(&self) -> PrinterStatus {
        match self {
            Printer::Queue(q) => q.status(),
            Printer::Wait => PrinterStatus::Ready,
        }
    }

    pub(crate) fn deliver(&self, cfg: &Config, job: Job) -> Result<Printed, TillError> {
        match self {
            Printer::Queue(q) => {
                q.submit(job);
                Ok(Printed::Queued)
            }
            Printer::Wait => send_now(cfg, &job),
        }
    }
}

/// Writes a job's text to the spool folder; returns the file.
pub fn spool(cfg: &Config, job: &Job) -> Result<PathBuf, TillError> {
    let dir = receipt::spool_dir(cfg);
    let io = |source| TillError::Io {
        path: dir.clone(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    let path = dir.join(format!("{}.txt", job.name));
    std::fs::write(&path, &job.text).map_err(io)?;
    Ok(path)
}

/// Spools a job and, when a printer is configured, sends it and waits (within the printer
/// timeout).
pub fn send_now(cfg: &Config, job: &Job) -> Result<Printed, TillError> {
    let path = spool(cfg, job)?;
    let sink = receipt::sink(cfg);
    if !sink.enabled() {
        return Ok(Printed::Spooled(path));
    }
    sink.send(
        &job.name,
        &job.bytes,
        Duration::from_millis(cfg.printer.timeout_ms),
    )?;
    Ok(Printed::Sent(path))
}

/// The print job of an order's receipt; `copy_at` (Unix ms) makes it a marked copy. Orders
/// that were not charged have no receipt.
pub fn sale_job(
    conn: &Connection,
    cfg: &Config,
    order: &OrderRecord,
    copy_at: Option<i64>,
) -> Result<Job, TillError> {
    if !order.state.is_charged() {
        return Err(TillError::NoReceipt {
            out_trade_no: order.out_trade_no.clone(),
            state: order.state.to_string(),
        });
    }
    let data = receipt::sale_receipt(conn, cfg, order, copy_at)?;
    let r = layout::sale(&data, cfg.printer.width);
    Ok(match copy_at {
        Some(at) => receipt::job(cfg, &r, format!("{}-copy-{at}", order.out_trade_no), false),
        None => receipt::job(cfg, &r, order.out_trade_no.clone(), true),
    })
}

/// The print job of an X or Z report; the job is named `name` in the spool.
pub fn report_job(cfg: &Config, report: &Report, name: String) -> Job {
    receipt::job(cfg, &report.to_receipt(cfg), name, false)
}

/// An order, its timeline, and (if it was charged) its receipt as the screen previews it.
pub type OrderDetail = (OrderRecord, Vec<OrderEvent>, Option<String>);

impl Till {
    /// Prints an order's receipt through the till's printer; `copy` marks a reprint (one
    /// copy, audited as the order's cashier).
    pub async fn print_receipt(&self, order_id: i64, copy: bool) -> Result<Printed, TillError> {
        let now = self.clock.now_ms();
        let cfg = self.cfg.clone();
        let job = self
            .store
            .call(move |c| {
                let order = orders::by_id(c, order_id)?;
                let job = sale_job(c, &cfg, &order, copy.then_some(now));
                if copy && job.is_ok() {
                    crate::store::audit(
                        c,
                        now,
                        &order.cashier,
                        "reprint",
                        &format!("{} (screen)", order.out_trade_no),
                    )?;
                }
                Ok(job)
            })
            .await??;
        self.print(job)
    }

    /// An order with its timeline and receipt preview (the history screen's detail).
    pub async fn order_detail(&self, order_id: i64) -> Result<OrderDetail, TillError> {
        let cfg = self.cfg.clone();
        Ok(self
            .store
            .call(move |c| {
                let o = orders::by_id(c, order_id)?;
                let events = orders::events(c, order_id)?;
                // The same layout the printer gets, as the screen preview.
                let preview = if o.state.is_charged() {
                    let data = receipt::sale_receipt(c, &cfg, &o, None)?;
                    Some(layout::to_text(&layout::sale(&data, 32)))
                } else {
                    None
                };
                Ok((o, events, preview))
            })
            .await?)
    }
}

/// Where a reprint goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReprintTo {
    /// The text spool only.
    File,
    /// The configured printer (and the spool).
    Printer,
}

/// A reprint made.
#[derive(Clone, Debug)]
pub struct Reprint {
    /// Where it went.
    pub to: ReprintTo,
    /// The copy as text.
    pub text: String,
    /// The spooled text file.
    pub path: PathBuf,
}

impl Books {
    /// One marked copy of a paid order's receipt, from the shift log alone (no network), to
    /// the printer (the default when one is configured) or the spool; audited.
    pub fn reprint(&self, out_trade_no: &str, to: Option<ReprintTo>) -> Result<Reprint, TillError> {
        let cfg = self.config();
        let conn = self.writer()?;
        let order = orders::by_out_trade_no(&conn, out_trade_no)?
            .ok_or_else(|| TillError::NoOrder(out_trade_no.to_string()))?;
        let now = self.clock().now_ms();
        let job = sale_job(&conn, cfg, &order, Some(now))?;
        let enabled = receipt::sink(cfg).enabled();
        let to = to.unwrap_or(if enabled {
            ReprintTo::Printer
        } else {
            ReprintTo::File
        });
        let path = match to {
            ReprintTo::File => spool(cfg, &job)?,
            ReprintTo::Printer if !enabled => {
                spool(cfg, &job)?;
                return Err(TillError::NoPrinter);
            }
            ReprintTo::Printer => match send_now(cfg, &job)? {
                Printed::Sent(p) | Printed::Spooled(p) => p,
                Printed::Queued => receipt::spool_dir(cfg),
            },
        };
        let target = if to == ReprintTo::File {
            "file"
        } else {
            "printer"
        };
        crate::store::audit(
            &conn,
            now,
            "cli",
            "reprint",
            &format!("{out_trade_no} ({target})"),
        )?;
        Ok(Reprint {
            to,
            text: job.text,
            path,
        })
    }

    /// Prints an X or Z report now (spool, and the printer when one is configured).
    pub fn print_report(&self, report: &Report) -> Result<Printed, TillError> {
        let name = format!(
            "report-{}-{}",
            report.summary.shift_id,
            self.clock().now_ms()
        );
        send_now(self.config(), &report_job(self.config(), report, name))
    }
}
