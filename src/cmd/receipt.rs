//! `scanpay reprint`: one marked copy of a receipt, from the shift log alone — no network, no
//! payment service needed.

use scanpay::config::Config;
use scanpay::till::receipts::ReprintTo;

use super::{EXIT_OK, Failure, books};

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
    let to = to.map(|t| match t {
        Target::File => ReprintTo::File,
        Target::Printer => ReprintTo::Printer,
    });
    let copy = books(cfg).reprint(out_trade_no, to)?;
    match copy.to {
        ReprintTo::File => {
            // The layout drops control characters already; the terminal gets no raw one either way.
            print!("{}", scanpay::sanitize::terminal(&copy.text));
            eprintln!("scanpay: copy written to {}", copy.path.display());
        }
        ReprintTo::Printer => eprintln!("scanpay: copy of {out_trade_no} sent to the printer"),
    }
    Ok(EXIT_OK)
}
