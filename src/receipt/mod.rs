//! Receipts: one layout ([`layout`]) rendered as text (screen, spool) and as ESC/POS bytes
//! ([`escpos`], GB18030 Chinese, firmware QR with a raster fallback), sent by the print queue
//! ([`printer`]) to a file, TCP, device or serial printer. See `docs/printing.md`.

pub mod escpos;
pub mod layout;
pub mod model;
pub mod printer;

use std::path::PathBuf;
use std::time::Duration;

use crate::config::{Config, Mode, PrinterKind, QrKind};
use crate::store::StoreError;
use crate::store::orders::{self, OrderRecord};
use escpos::{EscPosOptions, QrMode};
use layout::{RefundLine, SaleReceipt};
use printer::{Job, PrintQueue, Sink};

/// The sink a configuration names.
pub fn sink(cfg: &Config) -> Sink {
    let p = &cfg.printer;
    match (p.kind, &p.path, &p.address) {
        (PrinterKind::File, Some(path), _) => Sink::File(path.clone()),
        (PrinterKind::Tcp, _, Some(addr)) => Sink::Tcp(addr.clone()),
        (PrinterKind::Device, Some(path), _) => Sink::Device(path.clone()),
        (PrinterKind::Serial, Some(path), _) => Sink::Serial {
            path: path.clone(),
            baud: p.baud,
        },
        _ => Sink::None,
    }
}

/// The text spool folder: `data_dir/receipts`.
pub fn spool_dir(cfg: &Config) -> PathBuf {
    cfg.data_dir.join("receipts")
}

/// Starts the print queue a configuration names.
pub fn queue(cfg: &Config) -> PrintQueue {
    PrintQueue::start(
        sink(cfg),
        spool_dir(cfg),
        Duration::from_millis(cfg.printer.timeout_ms),
    )
}

/// ESC/POS options from the configuration (`drawer` only for a sale's first receipt).
pub fn escpos_options(cfg: &Config, drawer: bool) -> EscPosOptions {
    EscPosOptions {
        cut: cfg.printer.cut,
        drawer: drawer && cfg.printer.drawer,
        qr: match cfg.printer.qr {
            QrKind::Firmware => QrMode::Firmware,
            QrKind::Raster => QrMode::Raster,
        },
    }
}

/// The receipt of an order, read from the shift log (works with no network). `copy_at_ms`
/// marks a reprint; simulator mode marks it as training.
pub fn sale_receipt(
    conn: &rusqlite::Connection,
    cfg: &Config,
    order: &OrderRecord,
    copy_at_ms: Option<i64>,
) -> Result<SaleReceipt, StoreError> {
    let refunds = orders::refunds_of(conn, order.id)?
        .into_iter()
        .map(|(out_refund_no, amount, at_ms, status)| RefundLine {
            out_refund_no,
            amount,
            at_ms,
            status,
        })
        .collect();
    Ok(SaleReceipt {
        lang: cfg.language,
        store_name: cfg.merchant.store_name.clone(),
        sub_merchant: order_sub_merchant(cfg, order),
        terminal_id: order.terminal_id.clone(),
        cashier: order.cashier.clone(),
        shift_id: order.shift_id,
        at_ms: order.created_at,
        tz: cfg.printer.timezone.clone(),
        amount: order.amount,
        description: order.description.clone(),
        code_masked: order.code_masked.clone(),
        out_trade_no: order.out_trade_no.clone(),
        transaction_id: order.transaction_id.clone(),
        state: order.state,
        refunds,
        copy_at_ms,
        training: cfg.wechatpay.mode == Mode::Simulator,
    })
}

/// The sub-merchant an order was charged for, as its receipt shows it: the number the log
/// recorded with the order, and the configured name when the configuration is that same
/// sub-merchant's (a data folder belongs to one sub-merchant, so it is).
fn order_sub_merchant(cfg: &Config, order: &OrderRecord) -> Option<crate::order::SubMerchant> {
    let sub_mchid = order.sub_mchid.clone()?;
    let name = cfg
        .merchant
        .sub_merchant()
        .filter(|s| s.sub_mchid == sub_mchid)
        .and_then(|s| s.name);
    Some(crate::order::SubMerchant { sub_mchid, name })
}

/// A print job for a receipt.
pub fn job(cfg: &Config, receipt: &model::Receipt, name: String, drawer: bool) -> Job {
    Job {
        name,
        bytes: escpos::encode(receipt, &escpos_options(cfg, drawer)),
        text: layout::to_text(receipt),
    }
}
