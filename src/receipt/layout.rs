//! The one receipt layout: used for the screen preview, the text spool file and the printer.
//! CJK-aware: widths are terminal/printer cells (a Chinese character takes two), long text is
//! wrapped, and no line is ever wider than the paper (property-tested).

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::model::{Align, Block, Receipt, Size};
use crate::config::Language;
use crate::engine::OrderState;
use crate::money::Fen;

/// A refund line on a receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundLine {
    /// Our refund number.
    pub out_refund_no: String,
    /// Amount.
    pub amount: Fen,
    /// When (Unix ms).
    pub at_ms: i64,
    /// Status word (SUCCESS, PROCESSING, …).
    pub status: String,
}

/// Everything a sale receipt shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaleReceipt {
    /// Language.
    pub lang: Language,
    /// Store name.
    pub store_name: String,
    /// The sub-merchant the sale was charged for (service-provider mode; `None` for a
    /// directly connected merchant, whose receipt is unchanged).
    pub sub_merchant: Option<crate::order::SubMerchant>,
    /// Till.
    pub terminal_id: String,
    /// Cashier.
    pub cashier: String,
    /// Shift.
    pub shift_id: i64,
    /// Sale time (Unix ms).
    pub at_ms: i64,
    /// Time zone for printed times.
    pub tz: jiff::tz::TimeZone,
    /// Amount.
    pub amount: Fen,
    /// Goods description.
    pub description: String,
    /// Masked payment code.
    pub code_masked: String,
    /// Merchant order number.
    pub out_trade_no: String,
    /// WeChat order number.
    pub transaction_id: Option<String>,
    /// State.
    pub state: OrderState,
    /// Refunds.
    pub refunds: Vec<RefundLine>,
    /// A reprint: when it was made (Unix ms).
    pub copy_at_ms: Option<i64>,
    /// Training (simulator mode): no real money moved; marked 模拟 / TRAINING at the top and
    /// the bottom.
    pub training: bool,
}

struct L {
    lang: Language,
}

impl L {
    fn t(&self, zh: &'static str, en: &'static str) -> &'static str {
        match self.lang {
            Language::Zh => zh,
            Language::En => en,
        }
    }
}

/// Formats a time in a zone: `2025-11-25 14:32:07`.
pub fn local_time(ms: i64, tz: &jiff::tz::TimeZone) -> String {
    let ts = jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    ts.to_zoned(tz.clone())
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Builds the receipt of a sale at a paper width (32, 42 or 48 columns).
pub fn sale(r: &SaleReceipt, width: usize) -> Receipt {
    let l = L { lang: r.lang };
    let mut b = Builder {
        width,
        blocks: Vec::new(),
    };
    if r.training {
        b.training(&l, true);
    }
    b.text(&r.store_name, Align::Center, true, Size::Double);
    b.text(
        l.t("微信支付 付款码收款", "WeChat Pay payment receipt"),
        Align::Center,
        false,
        Size::Normal,
    );
    if let Some(copy) = r.copy_at_ms {
        b.text(
            &format!("重印 / COPY {}", &local_time(copy, &r.tz)[5..]),
            Align::Center,
            true,
            Size::Normal,
        );
    }
    b.rule();
    if let Some(sub) = &r.sub_merchant {
        b.kv(
            crate::i18n::receipt_sub_merchant_label(r.lang),
            &crate::i18n::sub_merchant(sub),
        );
    }
    b.kv(l.t("终端", "Till"), &r.terminal_id);
    b.kv(l.t("班次", "Shift"), &format!("#{}", r.shift_id));
    b.kv(l.t("收银员", "Cashier"), &r.cashier);
    b.kv(l.t("时间", "Time"), &local_time(r.at_ms, &r.tz));
    b.rule();
    if !r.description.trim().is_empty() {
        b.kv(l.t("商品", "Item"), r.description.trim());
    }
    let amount_line = format!("{} {}", l.t("金额", "Total"), r.amount.grouped());
    b.text(&amount_line, Align::Left, true, Size::Double);
    b.kv(l.t("状态", "Status"), state_word(&l, r.state));
    b.kv(l.t("付款码", "Code"), &r.code_masked);
    b.kv(l.t("商户单号", "Order no."), &r.out_trade_no);
    if let Some(t) = &r.transaction_id {
        b.kv(l.t("微信支付单号", "WeChat Pay no."), t);
    }
    if !r.refunds.is_empty() {
        b.rule();
        let mut refunded = Fen(0);
        for f in &r.refunds {
            b.kv(
                &format!("{} {}", l.t("退款", "Refund"), local_time(f.at_ms, &r.tz)),
                &format!("-{}", f.amount.grouped()),
            );
            b.kv(&format!("  {}", f.out_refund_no), &f.status);
            if f.status == "SUCCESS" || f.status == "PROCESSING" {
                refunded = refunded.checked_add(f.amount).unwrap_or(refunded);
            }
        }
        let net = r.amount.checked_sub(refunded).unwrap_or(Fen(0));
        b.kv(
            l.t("退款合计", "Refunded"),
            &format!("-{}", refunded.grouped()),
        );
        b.text(
            &format!("{} {}", l.t("实收", "Net"), net.grouped()),
            Align::Left,
            true,
            Size::Normal,
        );
    }
    b.rule();
    b.blocks.push(Block::Qr(
        r.transaction_id
            .clone()
            .unwrap_or_else(|| r.out_trade_no.clone()),
    ));
    b.text(
        l.t("谢谢惠顾", "Thank you"),
        Align::Center,
        false,
        Size::Normal,
    );
    if let Some(copy) = r.copy_at_ms {
        b.text(
            &format!("重印 / COPY {}", &local_time(copy, &r.tz)[5..]),
            Align::Center,
            true,
            Size::Normal,
        );
    }
    if r.training {
        b.training(&l, false);
    }
    b.blocks.push(Block::Feed(2));
    Receipt {
        width,
        blocks: b.blocks,
    }
}

/// The training mark, in both languages whatever the receipt's language (a training receipt
/// must not pass for a real one in anyone's hands).
pub const TRAINING_MARK: &str = "** 模拟 / TRAINING **";

fn state_word(l: &L, s: OrderState) -> &'static str {
    match s {
        OrderState::Paid => l.t("已收款", "PAID"),
        OrderState::PartiallyRefunded => l.t("部分退款", "PARTIALLY REFUNDED"),
        OrderState::Refunded => l.t("已全额退款", "REFUNDED"),
        OrderState::Failed | OrderState::Reversed => l.t("未扣款", "NOT CHARGED"),
        OrderState::Unresolved => l.t("需要处理", "NEEDS ATTENTION"),
        OrderState::Pending | OrderState::Userpaying => l.t("待确认", "PENDING"),
    }
}

/// Builds blocks that always fit.
pub struct Builder {
    /// Paper width.
    pub width: usize,
    /// Blocks so far.
    pub blocks: Vec<Block>,
}

impl Builder {
    /// The training mark (simulator mode): [`TRAINING_MARK`], and at the top a line saying no
    /// real money moved. Wrapped like any text, so it fits every paper width.
    fn training(&mut self, l: &L, top: bool) {
        self.text(TRAINING_MARK, Align::Center, true, Size::Normal);
        if top {
            self.text(
                l.t("培训模式，未真实收款", "Training: no real payment"),
                Align::Center,
                false,
                Size::Normal,
            );
        }
    }

    /// A wrapped text block (each wrapped line is its own block).
    pub fn text(&mut self, text: &str, align: Align, bold: bool, size: Size) {
        let cols = match size {
            Size::Normal => self.width,
            Size::Double => self.width / 2,
        };
        for line in wrap(text, cols) {
            self.blocks.push(Block::Text {
                text: line,
                align,
                bold,
                size,
            });
        }
    }

    /// A separator.
    pub fn rule(&mut self) {
        self.blocks.push(Block::Rule);
    }

    /// `label        value` on one line if it fits, else the label and the value wrapped
    /// below it, right-aligned. Control characters are dropped (as [`wrap`] does).
    pub fn kv(&mut self, label: &str, value: &str) {
        let printable = |s: &str| s.chars().filter(|c| !c.is_control()).collect::<String>();
        let (label, value) = (printable(label), printable(value));
        let (label, value) = (label.as_str(), value.as_str());
        let (lw, vw) = (label.width(), value.width());
        if lw + 1 + vw <= self.width {
            let gap = self.width - lw - vw;
            self.blocks.push(Block::Text {
                text: format!("{label}{}{value}", " ".repeat(gap)),
                align: Align::Left,
                bold: false,
                size: Size::Normal,
            });
        } else {
            self.text(label, Align::Left, false, Size::Normal);
            self.text(value, Align::Right, false, Size::Normal);
        }
    }
}

/// Wraps text to `cols` display cells: breaks at spaces where it can, anywhere in CJK text or
/// very long words. Control characters are dropped. Never returns a line wider than `cols`
/// (a single character wider than `cols` is replaced by `?`).
pub fn wrap(text: &str, cols: usize) -> Vec<String> {
    let cols = cols.max(2);
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        let mut w = 0;
        for c in para.chars().filter(|c| !c.is_control()) {
            let cw = c.width().unwrap_or(0);
            let (c, cw) = if cw > cols { ('?', 1) } else { (c, cw) };
            if w + cw > cols {
                // Break at the last space if that keeps a reasonable line.
                if let Some(pos) = line.rfind(' ').filter(|p| *p > 0) {
                    let rest = line[pos + 1..].to_string();
                    line.truncate(pos);
                    lines.push(line.trim_end().to_string());
                    line = rest;
                } else {
                    lines.push(std::mem::take(&mut line));
                }
                w = line.width();
                if c == ' ' {
                    continue;
                }
            }
            line.push(c);
            w += cw;
        }
        lines.push(line.trim_end().to_string());
    }
    if lines.iter().all(String::is_empty) {
        return Vec::new();
    }
    lines
}

/// The receipt as plain text (screen preview, spool file): aligned in `width` columns (a
/// double-size line is shown at normal size), the QR code as its payload in brackets.
pub fn to_text(r: &Receipt) -> String {
    let mut out = String::new();
    for b in &r.blocks {
        match b {
            Block::Text { text, align, .. } => out.push_str(&aligned(text, *align, r.width)),
            Block::Rule => out.push_str(&"-".repeat(r.width)),
            Block::Qr(payload) => {
                let lines: Vec<String> = wrap(&format!("[QR {payload}]"), r.width)
                    .iter()
                    .map(|l| aligned(l, Align::Center, r.width))
                    .collect();
                out.push_str(&lines.join("\n"));
            }
            Block::Feed(n) => {
                for _ in 1..*n {
                    out.push('\n');
                }
            }
        }
        out.push('\n');
    }
    out
}

fn aligned(text: &str, align: Align, width: usize) -> String {
    let w = text.width();
    if w >= width {
        return text.to_string();
    }
    let pad = width - w;
    match align {
        Align::Left => text.to_string(),
        Align::Right => format!("{}{text}", " ".repeat(pad)),
        Align::Center => format!("{}{text}", " ".repeat(pad / 2)),
    }
}

/// The X or Z summary as a receipt; `training` (simulator mode) marks it 模拟 / TRAINING at
/// the top and the bottom.
pub fn summary(
    lang: Language,
    title: &str,
    store_name: &str,
    lines: &[(String, String)],
    width: usize,
    training: bool,
) -> Receipt {
    let l = L { lang };
    let mut b = Builder {
        width,
        blocks: Vec::new(),
    };
    if training {
        b.training(&l, true);
    }
    b.text(store_name, Align::Center, true, Size::Double);
    b.text(title, Align::Center, true, Size::Normal);
    b.rule();
    for (k, v) in lines {
        b.kv(k, v);
    }
    b.rule();
    b.text(
        l.t("—— 结束 ——", "—— end ——"),
        Align::Center,
        false,
        Size::Normal,
    );
    if training {
        b.training(&l, false);
    }
    b.blocks.push(Block::Feed(2));
    Receipt {
        width,
        blocks: b.blocks,
    }
}
