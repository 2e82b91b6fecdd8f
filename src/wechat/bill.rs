//! The WeChat Pay APIv3 trade bill (交易账单): parse it, check its summary, write it.
//!
//! The trade bill is the daily statement of every payment and refund of a merchant
//! (`GET /v3/bill/tradebill`, then a download whose SHA-1 must equal the `hash_value` of the
//! first answer — see [`sha1_hex`]). It is what the till reconciles its shift log against.
//!
//! # Format
//!
//! - UTF-8 text, usually with a byte order mark (`EF BB BF`) and CRLF line ends.
//! - Line 1 is the detail header, plain (no backticks). Its exact column list selects the
//!   layout: [`BillType::All`] (27 columns), [`BillType::Success`] (20) or
//!   [`BillType::Refund`] (29: ALL with 退款申请时间,退款成功时间 right after 代金券金额). Any
//!   other header is refused ([`BillError::UnknownHeader`]), the old layout with 总金额 and
//!   企业红包金额 included: guessing columns in a money file is wrong.
//! - Then one line per record, comma-separated. WeChat strips commas from free text, so a
//!   line with more (or fewer) cells than the header is an error, never a guess.
//! - Then the summary header (it starts with 总交易单数) and one line of summary values.
//!   ALL and REFUND bills have 7 summary columns, SUCCESS bills 4 (the 7-column summary is
//!   accepted for SUCCESS bills too).
//! - Amounts are yuan with two decimals, except 手续费 (fee) which has five and may be
//!   negative on refund rows. No floats anywhere: amounts become [`Fen`], fees exact
//!   units of 0.00001 yuan ([`BillRow::fee_e5`]).
//!
//! # The one-backtick rule
//!
//! Every detail and summary cell starts with a backtick `` ` `` (it stops spreadsheets from
//! turning long numbers into scientific notation). The parser strips exactly **one** leading
//! backtick per cell — a second one is data — and also accepts a cell without one. The
//! writer puts exactly one in front of every detail and summary cell, none in header lines.
//!
//! # Parsing rules
//!
//! A leading BOM is stripped, CRLF and LF are both accepted, empty lines are skipped, and
//! line numbers in errors count every physical line from 1. Malformed input always gives a
//! [`BillError`], never a panic. [`parse`] checks the form only; [`check_summary`] checks that
//! the rows add up to the summary.

use std::fmt::Write as _;

use sha1::{Digest, Sha1};

use crate::money::Fen;

/// Which bill was asked for; each has its own column layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BillType {
    /// 当日所有订单: payments and refunds (27 columns).
    All,
    /// 当日成功支付的订单: payments only (20 columns).
    Success,
    /// 当日退款订单: refunds only (29 columns, with the refund times).
    Refund,
}

impl BillType {
    /// The `bill_type` query value: `"ALL"`, `"SUCCESS"` or `"REFUND"`.
    pub fn as_query(self) -> &'static str {
        match self {
            BillType::All => "ALL",
            BillType::Success => "SUCCESS",
            BillType::Refund => "REFUND",
        }
    }
}

/// A whole trade bill: its layout, its detail rows in file order, and its summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TradeBill {
    /// The layout, as selected by the header line.
    pub bill_type: BillType,
    /// The detail rows, in file order.
    pub rows: Vec<BillRow>,
    /// The summary line (as written in the file, not recomputed).
    pub summary: BillSummary,
}

/// One detail line. Text fields are kept exactly as in the file (one backtick stripped).
/// Fields that the bill's layout lacks are empty / zero / `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BillRow {
    /// 交易时间, `yyyy-MM-dd HH:mm:ss` Beijing time: payment time, or refund-initiation time
    /// on refund rows.
    pub trade_time: String,
    /// 公众账号ID.
    pub appid: String,
    /// 商户号.
    pub mchid: String,
    /// 特约商户号 (`0` for a direct merchant).
    pub sub_mchid: String,
    /// 设备号 (empty when none was sent).
    pub device_id: String,
    /// 微信订单号.
    pub transaction_id: String,
    /// 商户订单号.
    pub out_trade_no: String,
    /// 用户标识.
    pub openid: String,
    /// 交易类型: `MICROPAY`, `JSAPI`, `NATIVE`, ...
    pub trade_type: String,
    /// 交易状态: `SUCCESS`, `REFUND`, `REVOKED`, ...
    pub trade_state: String,
    /// 付款银行.
    pub bank_type: String,
    /// 货币种类.
    pub currency: String,
    /// 应结订单金额.
    pub settlement_total: Fen,
    /// 代金券金额.
    pub coupon: Fen,
    /// 退款申请时间: `Some` in REFUND bills only (an empty cell is `Some("")`).
    pub refund_apply_time: Option<String>,
    /// 退款成功时间: `Some` in REFUND bills only (an empty cell is `Some("")`).
    pub refund_success_time: Option<String>,
    /// 微信退款单号 (`0` in the file means none and is kept as is). ALL/REFUND only.
    pub refund_id: String,
    /// 商户退款单号. ALL/REFUND only.
    pub out_refund_no: String,
    /// 退款金额. ALL/REFUND only; `Fen(0)` for SUCCESS bills.
    pub refund: Fen,
    /// 充值券退款金额. ALL/REFUND only.
    pub recharge_coupon_refund: Fen,
    /// 退款类型. ALL/REFUND only.
    pub refund_type: String,
    /// 退款状态. ALL/REFUND only.
    pub refund_status: String,
    /// 商品名称.
    pub description: String,
    /// 商户数据包.
    pub attach: String,
    /// 手续费 in units of 0.00001 yuan (the file has five decimals), exact. Negative on refund
    /// rows of real bills (the fee is given back).
    pub fee_e5: i64,
    /// 费率, e.g. `0.60%`.
    pub rate: String,
    /// 订单金额.
    pub order_amount: Fen,
    /// 申请退款金额. ALL/REFUND only.
    pub refund_requested: Fen,
    /// 费率备注.
    pub rate_note: String,
}

/// The summary line, as written in the file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BillSummary {
    /// 总交易单数 (read from `45` or `45.0`).
    pub trade_count: u64,
    /// 应结订单总金额.
    pub settlement_total: Fen,
    /// 退款总金额 (ALL/REFUND; zero for SUCCESS).
    pub refund_total: Fen,
    /// 充值券退款总金额 (ALL/REFUND; zero for SUCCESS).
    pub recharge_coupon_refund_total: Fen,
    /// 手续费总金额. Read with up to five decimals (real bills print `4.33000`); digits
    /// below the fen are rounded half away from zero. May be negative.
    pub fee_total: Fen,
    /// 订单总金额.
    pub order_total: Fen,
    /// 申请退款总金额 (ALL/REFUND; zero for SUCCESS).
    pub refund_requested_total: Fen,
}

/// Why a bill was refused. Line numbers count every physical line from 1.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BillError {
    /// The file is not UTF-8.
    #[error("line {line}: the bill is not UTF-8 text")]
    NotUtf8 {
        /// The line holding the first invalid byte.
        line: usize,
    },
    /// Nothing but a BOM and empty lines.
    #[error("the bill is empty")]
    Empty,
    /// The header line is not one of the three known layouts (the old 总金额/企业红包金额
    /// layout included).
    #[error("unknown bill layout, header: {found:?}")]
    UnknownHeader {
        /// The header line (shortened when long).
        found: String,
    },
    /// A detail or summary line has more or fewer cells than its header.
    #[error("line {line}: {found} cells where the header has {expected}")]
    WrongColumnCount {
        /// The line.
        line: usize,
        /// Cells in the header.
        expected: usize,
        /// Cells on the line.
        found: usize,
    },
    /// A cell that must be an amount (or the trade count) is not one.
    #[error("line {line}: {column} is not a valid amount: {value:?}")]
    BadAmount {
        /// The line.
        line: usize,
        /// The column name as in the header (e.g. `应结订单金额`).
        column: &'static str,
        /// The cell, backtick stripped (shortened when long).
        value: String,
    },
    /// No summary header, or a summary header without a value line.
    #[error("the bill has no summary (总交易单数 header and value line)")]
    MissingSummary,
    /// The summary header is not the one of this layout.
    #[error("line {line}: unexpected summary header {found:?}")]
    BadSummary {
        /// The line.
        line: usize,
        /// The summary header line (shortened when long).
        found: String,
    },
    /// A non-empty line after the summary values.
    #[error("line {line}: unexpected text after the summary")]
    TrailingData {
        /// The line.
        line: usize,
    },
    /// The rows do not add up to the summary (see [`check_summary`]).
    #[error("{what}: the summary says {expected}, the rows give {found}")]
    SummaryMismatch {
        /// The summary column, e.g. `应结订单总金额`.
        what: &'static str,
        /// The summary's value.
        expected: String,
        /// The value recomputed from the rows.
        found: String,
    },
}

/// Parses a trade bill (uncompressed bytes). Checks the form, not the sums: call
/// [`check_summary`] for those.
pub fn parse(bytes: &[u8]) -> Result<TradeBill, BillError> {
    let text = std::str::from_utf8(bytes).map_err(|e| BillError::NotUtf8 {
        line: line_of(bytes, e.valid_up_to()),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.is_empty());

    let (_, header) = lines.next().ok_or(BillError::Empty)?;
    let bill_type = layout_of(header).ok_or_else(|| BillError::UnknownHeader {
        found: excerpt(header),
    })?;
    let cols = columns(bill_type);

    let mut rows = Vec::new();
    let (summary_line, summary_header) = loop {
        let (n, line) = lines.next().ok_or(BillError::MissingSummary)?;
        if line.starts_with(SumCol::Count.name()) {
            break (n, line);
        }
        let cells: Vec<&str> = line.split(',').collect();
        if cells.len() != cols.len() {
            return Err(BillError::WrongColumnCount {
                line: n,
                expected: cols.len(),
                found: cells.len(),
            });
        }
        rows.push(parse_row(cols, &cells, n)?);
    };

    let sum_cols =
        summary_layout_of(bill_type, summary_header).ok_or_else(|| BillError::BadSummary {
            line: summary_line,
            found: excerpt(summary_header),
        })?;
    let (n, values) = lines.next().ok_or(BillError::MissingSummary)?;
    let cells: Vec<&str> = values.split(',').collect();
    if cells.len() != sum_cols.len() {
        return Err(BillError::WrongColumnCount {
            line: n,
            expected: sum_cols.len(),
            found: cells.len(),
        });
    }
    let summary = parse_summary(sum_cols, &cells, n)?;
    if let Some((n, _)) = lines.next() {
        return Err(BillError::TrailingData { line: n });
    }
    Ok(TradeBill {
        bill_type,
        rows,
        summary,
    })
}

/// Writes a bill in the format WeChat serves: UTF-8 BOM, CRLF after every line (the last
/// included), the plain header, one backtick before every detail and summary cell, the
/// summary header and the summary values.
///
/// Detail amounts have two decimals, fees five. Summary values are written as the reference
/// sample writes them: the trade count as `45.0` and amounts with the trailing zero dropped
/// but at least one decimal (`0.47`, `0.1`, `0.0`), so `render(&parse(sample)?)` gives the
/// sample back byte for byte. [`parse`] reads both this and the `45`/`0.00`/`4.33000` form.
///
/// A cell cannot hold `,` or a line break: those characters are dropped from text fields
/// (WeChat drops commas too). Fields that the layout lacks are not written (so
/// `refund_apply_time`/`refund_success_time` only in REFUND bills, where `None` is an empty
/// cell), and a SUCCESS bill gets the 4-column summary.
pub fn render(bill: &TradeBill) -> Vec<u8> {
    let mut out = String::from("\u{feff}");
    let cols = columns(bill.bill_type);
    push_line(&mut out, cols.iter().map(|c| c.name().to_owned()), false);
    for row in &bill.rows {
        push_line(&mut out, cols.iter().map(|&c| render_cell(row, c)), true);
    }
    let sum_cols = summary_columns(bill.bill_type);
    push_line(
        &mut out,
        sum_cols.iter().map(|c| c.name().to_owned()),
        false,
    );
    let s = &bill.summary;
    let values = sum_cols.iter().map(|c| match c {
        SumCol::Count => format!("{}.0", s.trade_count),
        SumCol::Settlement => summary_yuan(s.settlement_total),
        SumCol::Refund => summary_yuan(s.refund_total),
        SumCol::RechargeCouponRefund => summary_yuan(s.recharge_coupon_refund_total),
        SumCol::Fee => summary_yuan(s.fee_total),
        SumCol::Order => summary_yuan(s.order_total),
        SumCol::RefundRequested => summary_yuan(s.refund_requested_total),
    });
    push_line(&mut out, values, true);
    out.into_bytes()
}

/// Checks that the rows add up to the summary, in this order: row count = 总交易单数;
/// Σ应结订单金额 = 应结订单总金额; Σ退款金额 = 退款总金额; Σ充值券退款金额 = 充值券退款总金额;
/// Σ手续费 rounded half-up to the fen = 手续费总金额; Σ订单金额 = 订单总金额;
/// Σ申请退款金额 = 申请退款总金额. The first difference is returned as
/// [`BillError::SummaryMismatch`]. Sums are exact (no overflow, no floats).
pub fn check_summary(bill: &TradeBill) -> Result<(), BillError> {
    let s = &bill.summary;
    let count = u64::try_from(bill.rows.len()).unwrap_or(u64::MAX);
    if count != s.trade_count {
        return Err(BillError::SummaryMismatch {
            what: SumCol::Count.name(),
            expected: s.trade_count.to_string(),
            found: count.to_string(),
        });
    }
    let sum = |field: fn(&BillRow) -> Fen| -> i128 {
        bill.rows.iter().map(|r| i128::from(field(r).0)).sum()
    };
    let sums: [(SumCol, Fen, i128); 3] = [
        (
            SumCol::Settlement,
            s.settlement_total,
            sum(|r| r.settlement_total),
        ),
        (SumCol::Refund, s.refund_total, sum(|r| r.refund)),
        (
            SumCol::RechargeCouponRefund,
            s.recharge_coupon_refund_total,
            sum(|r| r.recharge_coupon_refund),
        ),
    ];
    compare(&sums)?;

    let fee_e5: i128 = bill.rows.iter().map(|r| i128::from(r.fee_e5)).sum();
    let fee_fen = round_e5_to_fen(fee_e5);
    if fee_fen != i128::from(s.fee_total.0) {
        return Err(BillError::SummaryMismatch {
            what: SumCol::Fee.name(),
            expected: s.fee_total.to_yuan_string(),
            found: format!(
                "{} (exact {})",
                yuan_string(fee_fen, 2),
                yuan_string(fee_e5, 5)
            ),
        });
    }

    compare(&[
        (SumCol::Order, s.order_total, sum(|r| r.order_amount)),
        (
            SumCol::RefundRequested,
            s.refund_requested_total,
            sum(|r| r.refund_requested),
        ),
    ])
}

/// The lower-case hex SHA-1 of `bytes` (compare it case-insensitively with the API's
/// `hash_value`; hash the uncompressed bill).
pub fn sha1_hex(bytes: &[u8]) -> String {
    let digest = Sha1::digest(bytes);
    let mut out = String::with_capacity(40);
    for b in digest {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Reads an exact, non-negative yuan amount with at most two decimals (`0.47`, `12`, `0.5`)
/// as fen. A sign, more than two decimals, an empty part (`.5`, `5.`), grouping, white space
/// or overflow give `None`.
pub fn yuan_to_fen(s: &str) -> Option<Fen> {
    parse_scaled(s, 2, false).map(Fen)
}

// ---------------------------------------------------------------------------------------
// Layouts

/// A detail column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Col {
    TradeTime,
    Appid,
    Mchid,
    SubMchid,
    DeviceId,
    TransactionId,
    OutTradeNo,
    Openid,
    TradeType,
    TradeState,
    BankType,
    Currency,
    SettlementTotal,
    Coupon,
    RefundApplyTime,
    RefundSuccessTime,
    RefundId,
    OutRefundNo,
    Refund,
    RechargeCouponRefund,
    RefundType,
    RefundStatus,
    Description,
    Attach,
    Fee,
    Rate,
    OrderAmount,
    RefundRequested,
    RateNote,
}

impl Col {
    const fn name(self) -> &'static str {
        match self {
            Col::TradeTime => "交易时间",
            Col::Appid => "公众账号ID",
            Col::Mchid => "商户号",
            Col::SubMchid => "特约商户号",
            Col::DeviceId => "设备号",
            Col::TransactionId => "微信订单号",
            Col::OutTradeNo => "商户订单号",
            Col::Openid => "用户标识",
            Col::TradeType => "交易类型",
            Col::TradeState => "交易状态",
            Col::BankType => "付款银行",
            Col::Currency => "货币种类",
            Col::SettlementTotal => "应结订单金额",
            Col::Coupon => "代金券金额",
            Col::RefundApplyTime => "退款申请时间",
            Col::RefundSuccessTime => "退款成功时间",
            Col::RefundId => "微信退款单号",
            Col::OutRefundNo => "商户退款单号",
            Col::Refund => "退款金额",
            Col::RechargeCouponRefund => "充值券退款金额",
            Col::RefundType => "退款类型",
            Col::RefundStatus => "退款状态",
            Col::Description => "商品名称",
            Col::Attach => "商户数据包",
            Col::Fee => "手续费",
            Col::Rate => "费率",
            Col::OrderAmount => "订单金额",
            Col::RefundRequested => "申请退款金额",
            Col::RateNote => "费率备注",
        }
    }
}

const ALL_COLUMNS: [Col; 27] = [
    Col::TradeTime,
    Col::Appid,
    Col::Mchid,
    Col::SubMchid,
    Col::DeviceId,
    Col::TransactionId,
    Col::OutTradeNo,
    Col::Openid,
    Col::TradeType,
    Col::TradeState,
    Col::BankType,
    Col::Currency,
    Col::SettlementTotal,
    Col::Coupon,
    Col::RefundId,
    Col::OutRefundNo,
    Col::Refund,
    Col::RechargeCouponRefund,
    Col::RefundType,
    Col::RefundStatus,
    Col::Description,
    Col::Attach,
    Col::Fee,
    Col::Rate,
    Col::OrderAmount,
    Col::RefundRequested,
    Col::RateNote,
];

const SUCCESS_COLUMNS: [Col; 20] = [
    Col::TradeTime,
    Col::Appid,
    Col::Mchid,
    Col::SubMchid,
    Col::DeviceId,
    Col::TransactionId,
    Col::OutTradeNo,
    Col::Openid,
    Col::TradeType,
    Col::TradeState,
    Col::BankType,
    Col::Currency,
    Col::SettlementTotal,
    Col::Coupon,
    Col::Description,
    Col::Attach,
    Col::Fee,
    Col::Rate,
    Col::OrderAmount,
    Col::RateNote,
];

const REFUND_COLUMNS: [Col; 29] = [
    Col::TradeTime,
    Col::Appid,
    Col::Mchid,
    Col::SubMchid,
    Col::DeviceId,
    Col::TransactionId,
    Col::OutTradeNo,
    Col::Openid,
    Col::TradeType,
    Col::TradeState,
    Col::BankType,
    Col::Currency,
    Col::SettlementTotal,
    Col::Coupon,
    Col::RefundApplyTime,
    Col::RefundSuccessTime,
    Col::RefundId,
    Col::OutRefundNo,
    Col::Refund,
    Col::RechargeCouponRefund,
    Col::RefundType,
    Col::RefundStatus,
    Col::Description,
    Col::Attach,
    Col::Fee,
    Col::Rate,
    Col::OrderAmount,
    Col::RefundRequested,
    Col::RateNote,
];

fn columns(bill_type: BillType) -> &'static [Col] {
    match bill_type {
        BillType::All => &ALL_COLUMNS,
        BillType::Success => &SUCCESS_COLUMNS,
        BillType::Refund => &REFUND_COLUMNS,
    }
}

/// The layout whose header is exactly `header`.
fn layout_of(header: &str) -> Option<BillType> {
    [BillType::All, BillType::Success, BillType::Refund]
        .into_iter()
        .find(|&t| header_matches(header, columns(t).iter().map(|c| c.name())))
}

fn header_matches<'a>(line: &str, mut names: impl Iterator<Item = &'a str>) -> bool {
    let mut cells = line.split(',');
    loop {
        match (cells.next(), names.next()) {
            (None, None) => return true,
            (Some(cell), Some(name)) if cell == name => {}
            _ => return false,
        }
    }
}

/// A summary column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SumCol {
    Count,
    Settlement,
    Refund,
    RechargeCouponRefund,
    Fee,
    Order,
    RefundRequested,
}

impl SumCol {
    const fn name(self) -> &'static str {
        match self {
            SumCol::Count => "总交易单数",
            SumCol::Settlement => "应结订单总金额",
            SumCol::Refund => "退款总金额",
            SumCol::RechargeCouponRefund => "充值券退款总金额",
            SumCol::Fee => "手续费总金额",
            SumCol::Order => "订单总金额",
            SumCol::RefundRequested => "申请退款总金额",
        }
    }
}

const SUMMARY_FULL: [SumCol; 7] = [
    SumCol::Count,
    SumCol::Settlement,
    SumCol::Refund,
    SumCol::RechargeCouponRefund,
    SumCol::Fee,
    SumCol::Order,
    SumCol::RefundRequested,
];

const SUMMARY_SUCCESS: [SumCol; 4] = [
    SumCol::Count,
    SumCol::Settlement,
    SumCol::Fee,
    SumCol::Order,
];

/// The summary layout [`render`] writes.
fn summary_columns(bill_type: BillType) -> &'static [SumCol] {
    match bill_type {
        BillType::Success => &SUMMARY_SUCCESS,
        BillType::All | BillType::Refund => &SUMMARY_FULL,
    }
}

/// The summary layout of `header`, if it is allowed for `bill_type`.
fn summary_layout_of(bill_type: BillType, header: &str) -> Option<&'static [SumCol]> {
    let allowed: &[&'static [SumCol]] = match bill_type {
        BillType::Success => &[&SUMMARY_SUCCESS, &SUMMARY_FULL],
        BillType::All | BillType::Refund => &[&SUMMARY_FULL],
    };
    allowed
        .iter()
        .copied()
        .find(|cols| header_matches(header, cols.iter().map(|c| c.name())))
}

// ---------------------------------------------------------------------------------------
// Cells

/// Strips exactly one leading backtick.
fn cell(raw: &str) -> &str {
    raw.strip_prefix('`').unwrap_or(raw)
}

fn parse_row(cols: &[Col], cells: &[&str], line: usize) -> Result<BillRow, BillError> {
    let mut row = BillRow::default();
    for (&col, &raw) in cols.iter().zip(cells) {
        let v = cell(raw);
        let amount = || {
            yuan_to_fen(v).ok_or_else(|| BillError::BadAmount {
                line,
                column: col.name(),
                value: excerpt(v),
            })
        };
        match col {
            Col::TradeTime => row.trade_time = v.to_owned(),
            Col::Appid => row.appid = v.to_owned(),
            Col::Mchid => row.mchid = v.to_owned(),
            Col::SubMchid => row.sub_mchid = v.to_owned(),
            Col::DeviceId => row.device_id = v.to_owned(),
            Col::TransactionId => row.transaction_id = v.to_owned(),
            Col::OutTradeNo => row.out_trade_no = v.to_owned(),
            Col::Openid => row.openid = v.to_owned(),
            Col::TradeType => row.trade_type = v.to_owned(),
            Col::TradeState => row.trade_state = v.to_owned(),
            Col::BankType => row.bank_type = v.to_owned(),
            Col::Currency => row.currency = v.to_owned(),
            Col::SettlementTotal => row.settlement_total = amount()?,
            Col::Coupon => row.coupon = amount()?,
            Col::RefundApplyTime => row.refund_apply_time = Some(v.to_owned()),
            Col::RefundSuccessTime => row.refund_success_time = Some(v.to_owned()),
            Col::RefundId => row.refund_id = v.to_owned(),
            Col::OutRefundNo => row.out_refund_no = v.to_owned(),
            Col::Refund => row.refund = amount()?,
            Col::RechargeCouponRefund => row.recharge_coupon_refund = amount()?,
            Col::RefundType => row.refund_type = v.to_owned(),
            Col::RefundStatus => row.refund_status = v.to_owned(),
            Col::Description => row.description = v.to_owned(),
            Col::Attach => row.attach = v.to_owned(),
            Col::Fee => {
                row.fee_e5 = parse_scaled(v, 5, true).ok_or_else(|| BillError::BadAmount {
                    line,
                    column: col.name(),
                    value: excerpt(v),
                })?;
            }
            Col::Rate => row.rate = v.to_owned(),
            Col::OrderAmount => row.order_amount = amount()?,
            Col::RefundRequested => row.refund_requested = amount()?,
            Col::RateNote => row.rate_note = v.to_owned(),
        }
    }
    Ok(row)
}

fn parse_summary(cols: &[SumCol], cells: &[&str], line: usize) -> Result<BillSummary, BillError> {
    let mut s = BillSummary::default();
    for (&col, &raw) in cols.iter().zip(cells) {
        let v = cell(raw);
        let bad = || BillError::BadAmount {
            line,
            column: col.name(),
            value: excerpt(v),
        };
        let amount = || yuan_to_fen(v).ok_or_else(bad);
        match col {
            SumCol::Count => s.trade_count = parse_count(v).ok_or_else(bad)?,
            SumCol::Settlement => s.settlement_total = amount()?,
            SumCol::Refund => s.refund_total = amount()?,
            SumCol::RechargeCouponRefund => s.recharge_coupon_refund_total = amount()?,
            SumCol::Fee => {
                let e5 = parse_scaled(v, 5, true).ok_or_else(bad)?;
                let fen = i64::try_from(round_e5_to_fen(i128::from(e5))).map_err(|_| bad())?;
                s.fee_total = Fen(fen);
            }
            SumCol::Order => s.order_total = amount()?,
            SumCol::RefundRequested => s.refund_requested_total = amount()?,
        }
    }
    Ok(s)
}

/// The text of one detail cell, without its backtick.
fn render_cell(row: &BillRow, col: Col) -> String {
    let text = |s: &str| s.chars().filter(|c| !matches!(c, ',' | '\n')).collect();
    let opt = |s: &Option<String>| text(s.as_deref().unwrap_or(""));
    match col {
        Col::TradeTime => text(&row.trade_time),
        Col::Appid => text(&row.appid),
        Col::Mchid => text(&row.mchid),
        Col::SubMchid => text(&row.sub_mchid),
        Col::DeviceId => text(&row.device_id),
        Col::TransactionId => text(&row.transaction_id),
        Col::OutTradeNo => text(&row.out_trade_no),
        Col::Openid => text(&row.openid),
        Col::TradeType => text(&row.trade_type),
        Col::TradeState => text(&row.trade_state),
        Col::BankType => text(&row.bank_type),
        Col::Currency => text(&row.currency),
        Col::SettlementTotal => row.settlement_total.to_yuan_string(),
        Col::Coupon => row.coupon.to_yuan_string(),
        Col::RefundApplyTime => opt(&row.refund_apply_time),
        Col::RefundSuccessTime => opt(&row.refund_success_time),
        Col::RefundId => text(&row.refund_id),
        Col::OutRefundNo => text(&row.out_refund_no),
        Col::Refund => row.refund.to_yuan_string(),
        Col::RechargeCouponRefund => row.recharge_coupon_refund.to_yuan_string(),
        Col::RefundType => text(&row.refund_type),
        Col::RefundStatus => text(&row.refund_status),
        Col::Description => text(&row.description),
        Col::Attach => text(&row.attach),
        Col::Fee => yuan_string(i128::from(row.fee_e5), 5),
        Col::Rate => text(&row.rate),
        Col::OrderAmount => row.order_amount.to_yuan_string(),
        Col::RefundRequested => row.refund_requested.to_yuan_string(),
        Col::RateNote => text(&row.rate_note),
    }
}

fn push_line(out: &mut String, cells: impl Iterator<Item = String>, ticks: bool) {
    for (i, c) in cells.enumerate() {
        if i > 0 {
            out.push(',');
        }
        if ticks {
            out.push('`');
        }
        out.push_str(&c);
    }
    out.push_str("\r\n");
}

// ---------------------------------------------------------------------------------------
// Numbers (exact decimals, no floats)

/// `s` as an integer count of 10^-`scale` units: ASCII digits, then optionally `.` and 1 to
/// `scale` digits; a leading `-` only when `allow_negative`. `None` on anything else or on
/// overflow.
fn parse_scaled(s: &str, scale: usize, allow_negative: bool) -> Option<i64> {
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) if allow_negative => (true, rest),
        Some(_) => return None,
        None => (false, s),
    };
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) if !f.is_empty() && f.len() <= scale => (i, f),
        Some(_) => return None,
        None => (s, ""),
    };
    if int.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac = frac.as_bytes();
    let mut value: i64 = 0;
    let digits = int
        .bytes()
        .chain((0..scale).map(|i| frac.get(i).copied().unwrap_or(b'0')));
    for b in digits {
        value = value.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
    }
    Some(if negative { -value } else { value })
}

/// 总交易单数: an integer, optionally with a zero fraction (`45`, `45.0`, `45.00`).
fn parse_count(s: &str) -> Option<u64> {
    let int = match s.split_once('.') {
        Some((i, f)) if !f.is_empty() && f.bytes().all(|b| b == b'0') => i,
        Some(_) => return None,
        None => s,
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    int.parse().ok()
}

/// Units of 0.00001 yuan to fen, half away from zero.
fn round_e5_to_fen(e5: i128) -> i128 {
    let (q, r) = (e5 / 1000, e5 % 1000);
    if r >= 500 {
        q + 1
    } else if r <= -500 {
        q - 1
    } else {
        q
    }
}

/// `units` of 10^-`decimals` yuan as a decimal string with exactly `decimals` decimals.
fn yuan_string(units: i128, decimals: u32) -> String {
    let sign = if units < 0 { "-" } else { "" };
    let abs = units.unsigned_abs();
    let unit = 10u128.pow(decimals);
    let width = decimals as usize;
    format!("{sign}{}.{:0width$}", abs / unit, abs % unit)
}

/// A summary amount as the sample writes it: one trailing zero dropped (`0.47`, `0.1`,
/// `0.0`, `12.0`), like a float's shortest form.
fn summary_yuan(f: Fen) -> String {
    let s = f.to_yuan_string();
    match s.strip_suffix('0') {
        Some(shorter) => shorter.to_owned(),
        None => s,
    }
}

fn compare(sums: &[(SumCol, Fen, i128)]) -> Result<(), BillError> {
    for &(col, expected, found) in sums {
        if i128::from(expected.0) != found {
            return Err(BillError::SummaryMismatch {
                what: col.name(),
                expected: expected.to_yuan_string(),
                found: yuan_string(found, 2),
            });
        }
    }
    Ok(())
}

/// The 1-based line holding byte `offset`.
fn line_of(bytes: &[u8], offset: usize) -> usize {
    bytes
        .get(..offset)
        .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
        + 1
}

/// At most 80 characters of `s` for an error message.
fn excerpt(s: &str) -> String {
    const MAX: usize = 80;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    const SAMPLE: &[u8] = include_bytes!("../../tests/vectors/tradebill-ALL-sample.csv");
    const EXPECTED: &str = include_str!("../../tests/vectors/tradebill-ALL-sample.expected.json");

    fn sample_text() -> &'static str {
        std::str::from_utf8(SAMPLE).unwrap()
    }

    fn expected() -> Value {
        serde_json::from_str(EXPECTED).unwrap()
    }

    /// The ALL-layout cells of a row, written out by hand (independent of `Col`).
    fn fields(r: &BillRow) -> Vec<(&'static str, String)> {
        let fee = format!("{}.{:05}", r.fee_e5 / 100_000, r.fee_e5 % 100_000);
        vec![
            ("交易时间", r.trade_time.clone()),
            ("公众账号ID", r.appid.clone()),
            ("商户号", r.mchid.clone()),
            ("特约商户号", r.sub_mchid.clone()),
            ("设备号", r.device_id.clone()),
            ("微信订单号", r.transaction_id.clone()),
            ("商户订单号", r.out_trade_no.clone()),
            ("用户标识", r.openid.clone()),
            ("交易类型", r.trade_type.clone()),
            ("交易状态", r.trade_state.clone()),
            ("付款银行", r.bank_type.clone()),
            ("货币种类", r.currency.clone()),
            ("应结订单金额", r.settlement_total.to_yuan_string()),
            ("代金券金额", r.coupon.to_yuan_string()),
            ("微信退款单号", r.refund_id.clone()),
            ("商户退款单号", r.out_refund_no.clone()),
            ("退款金额", r.refund.to_yuan_string()),
            ("充值券退款金额", r.recharge_coupon_refund.to_yuan_string()),
            ("退款类型", r.refund_type.clone()),
            ("退款状态", r.refund_status.clone()),
            ("商品名称", r.description.clone()),
            ("商户数据包", r.attach.clone()),
            ("手续费", fee),
            ("费率", r.rate.clone()),
            ("订单金额", r.order_amount.to_yuan_string()),
            ("申请退款金额", r.refund_requested.to_yuan_string()),
            ("费率备注", r.rate_note.clone()),
        ]
    }

    fn assert_row_matches(row: &BillRow, want: &Value) {
        let want = want.as_object().unwrap();
        let got = fields(row);
        assert_eq!(got.len(), want.len());
        for (name, value) in got {
            assert_eq!(want[name].as_str(), Some(value.as_str()), "column {name}");
        }
        assert_eq!(row.refund_apply_time, None);
        assert_eq!(row.refund_success_time, None);
    }

    fn str_list(v: &Value) -> Vec<&str> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect()
    }

    #[test]
    fn parses_the_sample_as_the_expected_json_says() {
        let e = expected();
        let bill = parse(SAMPLE).unwrap();
        assert_eq!(bill.bill_type, BillType::All);

        // File facts.
        assert_eq!(SAMPLE.len() as u64, e["bytes"].as_u64().unwrap());
        assert_eq!(sha1_hex(SAMPLE), e["sha1_hex"].as_str().unwrap());
        assert_eq!(
            SAMPLE.starts_with(b"\xEF\xBB\xBF"),
            e["starts_with_utf8_bom"].as_bool().unwrap()
        );
        assert_eq!(e["line_terminator"], "CRLF");
        assert!(SAMPLE.ends_with(b"\r\n"));
        assert!(e["ends_with_line_terminator"].as_bool().unwrap());

        // Header.
        let names: Vec<&str> = ALL_COLUMNS.iter().map(|c| c.name()).collect();
        assert_eq!(names, str_list(&e["header_columns"]));
        assert_eq!(
            names.len() as u64,
            e["header_column_count"].as_u64().unwrap()
        );
        let header = sample_text()
            .trim_start_matches('\u{feff}')
            .lines()
            .next()
            .unwrap();
        assert_eq!(
            header.contains('`'),
            e["header_has_backticks"].as_bool().unwrap()
        );

        // Rows.
        assert_eq!(bill.rows.len(), 45);
        assert_eq!(
            bill.rows.len() as u64,
            e["detail_row_count"].as_u64().unwrap()
        );
        assert_row_matches(&bill.rows[0], &e["first_row"]);
        assert_row_matches(&bill.rows[44], &e["last_row"]);
        let refunds = bill
            .rows
            .iter()
            .filter(|r| r.trade_state == "REFUND")
            .count();
        let successes = bill
            .rows
            .iter()
            .filter(|r| r.trade_state == "SUCCESS")
            .count();
        assert_eq!((refunds, successes), (14, 31));
        let by_kind = e["rows_by_trade_type_and_state"].as_object().unwrap();
        let mut total = 0;
        for (kind, n) in by_kind {
            let found = bill
                .rows
                .iter()
                .filter(|r| format!("{}/{}", r.trade_type, r.trade_state) == *kind)
                .count();
            assert_eq!(found as u64, n.as_u64().unwrap(), "{kind}");
            total += found;
        }
        assert_eq!(total, bill.rows.len());
        if e["every_detail_cell_starts_with_backtick"]
            .as_bool()
            .unwrap()
        {
            let lines: Vec<&str> = sample_text().lines().collect();
            for line in &lines[1..46] {
                assert!(line.split(',').all(|c| c.starts_with('`')), "{line}");
            }
        }

        // Summary.
        let sum_names: Vec<&str> = SUMMARY_FULL.iter().map(|c| c.name()).collect();
        assert_eq!(sum_names, str_list(&e["summary_header"]));
        let raw = str_list(&e["summary_values_raw"]);
        for (i, name) in sum_names.iter().enumerate() {
            assert_eq!(e["summary"][*name].as_str(), Some(raw[i]));
        }
        let s = &bill.summary;
        assert_eq!(raw[0], "45.0");
        assert_eq!(s.trade_count, 45);
        let fens = [
            s.settlement_total,
            s.refund_total,
            s.recharge_coupon_refund_total,
            s.fee_total,
            s.order_total,
            s.refund_requested_total,
        ];
        for (fen, raw) in fens.iter().zip(&raw[1..]) {
            assert_eq!(Some(*fen), yuan_to_fen(raw), "{raw}");
        }
        assert_eq!(s.settlement_total, Fen(47));
        assert_eq!(s.refund_total, Fen(14));
        assert_eq!(s.fee_total, Fen(8));

        // Recomputed sums.
        let r = &e["recomputed"];
        let sum = |f: fn(&BillRow) -> Fen| Fen(bill.rows.iter().map(|r| f(r).0).sum());
        let want = |k: &str| yuan_to_fen(r[k].as_str().unwrap()).unwrap();
        assert_eq!(sum(|r| r.settlement_total), want("应结订单金额_sum"));
        assert_eq!(sum(|r| r.refund), want("退款金额_sum"));
        assert_eq!(
            sum(|r| r.recharge_coupon_refund),
            want("充值券退款金额_sum")
        );
        assert_eq!(sum(|r| r.order_amount), want("订单金额_sum"));
        assert_eq!(sum(|r| r.refund_requested), want("申请退款金额_sum"));
        assert_eq!(sum(|r| r.coupon), want("代金券金额_sum"));
        let fee_sum: i64 = bill.rows.iter().map(|r| r.fee_e5).sum();
        assert_eq!(
            Some(fee_sum),
            parse_scaled(r["手续费_sum"].as_str().unwrap(), 5, false)
        );

        check_summary(&bill).unwrap();
    }

    #[test]
    fn render_reproduces_the_sample_byte_for_byte() {
        let out = render(&parse(SAMPLE).unwrap());
        assert_eq!(String::from_utf8_lossy(&out), sample_text());
        assert_eq!(out, SAMPLE);
        assert_eq!(sha1_hex(&out), expected()["sha1_hex"].as_str().unwrap());
    }

    #[test]
    fn sha1_is_lower_case_hex() {
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    }

    #[test]
    fn bill_type_query_values() {
        assert_eq!(BillType::All.as_query(), "ALL");
        assert_eq!(BillType::Success.as_query(), "SUCCESS");
        assert_eq!(BillType::Refund.as_query(), "REFUND");
    }

    #[test]
    fn yuan_to_fen_is_exact_and_strict() {
        let ok = [
            ("0.47", 47),
            ("12", 1200),
            ("0.5", 50),
            ("0.0", 0),
            ("0", 0),
            ("007.01", 701),
            ("10000000000.00", 1_000_000_000_000),
        ];
        for (s, fen) in ok {
            assert_eq!(yuan_to_fen(s), Some(Fen(fen)), "{s}");
        }
        let bad = [
            "",
            "-0.01",
            "+1",
            "1.234",
            "abc",
            ".5",
            "5.",
            "1,000",
            " 1",
            "1 ",
            "1e3",
            "0.1.2",
            "¥1",
            "９",
            "99999999999999999999",
        ];
        for s in bad {
            assert_eq!(yuan_to_fen(s), None, "{s:?}");
        }
    }

    #[test]
    fn fee_cells_are_exact_to_five_decimals() {
        assert_eq!(parse_scaled("0.01000", 5, true), Some(1000));
        assert_eq!(parse_scaled("0.00600", 5, true), Some(600));
        assert_eq!(parse_scaled("-0.27000", 5, true), Some(-27000));
        assert_eq!(parse_scaled("1.5", 5, true), Some(150_000));
        assert_eq!(parse_scaled("0.000001", 5, true), None);
        assert_eq!(yuan_string(-27000, 5), "-0.27000");
        assert_eq!(yuan_string(600, 5), "0.00600");
        assert_eq!(round_e5_to_fen(8000), 8);
        assert_eq!(round_e5_to_fen(1499), 1);
        assert_eq!(round_e5_to_fen(1500), 2);
        assert_eq!(round_e5_to_fen(-1500), -2);
        assert_eq!(round_e5_to_fen(-1499), -1);
    }

    #[test]
    fn reads_the_summary_forms_of_real_bills() {
        // Real bills print `29` and `4.33000`, the sample `45.0` and `0.08`.
        let text = sample_text().replace(
            "`45.0,`0.47,`0.14,`0.0,`0.08,",
            "`45,`0.47,`0.14,`0.00,`0.08000,",
        );
        let bill = parse(text.as_bytes()).unwrap();
        assert_eq!(bill, parse(SAMPLE).unwrap());
        let text = sample_text().replace("`45.0,", "`45.00,");
        assert_eq!(parse(text.as_bytes()).unwrap().summary.trade_count, 45);
        // Sub-fen fee totals are rounded half away from zero.
        let text = sample_text().replace("`0.08,", "`0.07500,");
        assert_eq!(parse(text.as_bytes()).unwrap().summary.fee_total, Fen(8));
        let text = sample_text().replace("`0.08,", "`-0.27000,");
        assert_eq!(parse(text.as_bytes()).unwrap().summary.fee_total, Fen(-27));
    }

    #[test]
    fn accepts_lf_no_bom_blank_lines_and_missing_backticks() {
        let lf = sample_text()
            .trim_start_matches('\u{feff}')
            .replace("\r\n", "\n\n");
        assert_eq!(parse(lf.as_bytes()).unwrap(), parse(SAMPLE).unwrap());
        let plain = sample_text().replace('`', "");
        assert_eq!(parse(plain.as_bytes()).unwrap(), parse(SAMPLE).unwrap());
        // Exactly one backtick is stripped: a second one is data.
        let two = sample_text().replacen("`autotest_20190216081946_82335", "``x", 1);
        assert_eq!(parse(two.as_bytes()).unwrap().rows[0].out_trade_no, "`x");
    }

    fn row(state: &str, n: i64) -> BillRow {
        let refund = state == "REFUND";
        BillRow {
            trade_time: format!("2024-07-09 10:06:{n:02}"),
            appid: "wxe1696e7c7db8e7f4".into(),
            mchid: "1579507281".into(),
            sub_mchid: "0".into(),
            device_id: "till-1".into(),
            transaction_id: format!("42000023602024070911506507{n:02}"),
            out_trade_no: format!("SP20240709{n:04}"),
            openid: "oVgfJ5TrnzDOSuaxbFc33mw-5LUY".into(),
            trade_type: "MICROPAY".into(),
            trade_state: state.into(),
            bank_type: "OTHERS".into(),
            currency: "CNY".into(),
            settlement_total: Fen(if refund { 0 } else { 6000 + n }),
            coupon: Fen(n),
            refund_apply_time: None,
            refund_success_time: None,
            refund_id: if refund {
                format!("5030{n}")
            } else {
                "0".into()
            },
            out_refund_no: if refund { format!("RF{n}") } else { "0".into() },
            refund: Fen(if refund { 5000 } else { 0 }),
            recharge_coupon_refund: Fen(0),
            refund_type: if refund {
                "ORIGINAL".into()
            } else {
                String::new()
            },
            refund_status: if refund {
                "SUCCESS".into()
            } else {
                String::new()
            },
            description: "咖啡 大杯".into(),
            attach: "{\"statement_id\":\"5622334254839656448\"}".into(),
            fee_e5: if refund { -27000 } else { 32000 },
            rate: "0.54%".into(),
            order_amount: Fen(if refund { 0 } else { 6000 + n }),
            refund_requested: Fen(if refund { 5000 } else { 0 }),
            rate_note: String::new(),
        }
    }

    fn summary_of(rows: &[BillRow]) -> BillSummary {
        let sum = |f: fn(&BillRow) -> Fen| Fen(rows.iter().map(|r| f(r).0).sum());
        let fee: i64 = rows.iter().map(|r| r.fee_e5).sum();
        BillSummary {
            trade_count: rows.len() as u64,
            settlement_total: sum(|r| r.settlement_total),
            refund_total: sum(|r| r.refund),
            recharge_coupon_refund_total: sum(|r| r.recharge_coupon_refund),
            fee_total: Fen(i64::try_from(round_e5_to_fen(i128::from(fee))).unwrap()),
            order_total: sum(|r| r.order_amount),
            refund_requested_total: sum(|r| r.refund_requested),
        }
    }

    fn lines(bytes: &[u8]) -> Vec<String> {
        let text = std::str::from_utf8(bytes).unwrap();
        assert!(text.starts_with('\u{feff}') && text.ends_with("\r\n"));
        text.trim_start_matches('\u{feff}')
            .split_terminator("\r\n")
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn success_layout_round_trips() {
        let rows: Vec<BillRow> = (1..=3).map(|n| row("SUCCESS", n)).collect();
        let mut bill = TradeBill {
            bill_type: BillType::Success,
            summary: summary_of(&rows),
            rows,
        };
        // SUCCESS bills carry no refund columns.
        for r in &mut bill.rows {
            r.refund_id.clear();
            r.out_refund_no.clear();
        }
        check_summary(&bill).unwrap();
        let out = render(&bill);
        let l = lines(&out);
        assert_eq!(l.len(), 6);
        assert_eq!(l[0].split(',').count(), 20);
        assert!(l[0].starts_with("交易时间,公众账号ID,") && l[0].ends_with(",订单金额,费率备注"));
        assert_eq!(l[1].split(',').count(), 20);
        assert_eq!(l[4], "总交易单数,应结订单总金额,手续费总金额,订单总金额");
        assert_eq!(l[5], "`3.0,`180.06,`0.96,`180.06");
        assert_eq!(parse(&out).unwrap(), bill);
    }

    #[test]
    fn refund_layout_round_trips() {
        let mut rows: Vec<BillRow> = (1..=2).map(|n| row("REFUND", n)).collect();
        rows[0].refund_apply_time = Some("2024-07-09 10:06:01".into());
        rows[0].refund_success_time = Some("2024-07-09 10:06:09".into());
        rows[1].refund_apply_time = Some("2024-07-09 11:00:00".into());
        rows[1].refund_success_time = Some(String::new());
        let bill = TradeBill {
            bill_type: BillType::Refund,
            summary: summary_of(&rows),
            rows,
        };
        check_summary(&bill).unwrap();
        let out = render(&bill);
        let l = lines(&out);
        assert_eq!(l.len(), 5);
        assert_eq!(l[0].split(',').count(), 29);
        assert!(l[0].contains(",代金券金额,退款申请时间,退款成功时间,微信退款单号,"));
        assert!(l[1].contains(",`2024-07-09 10:06:01,`2024-07-09 10:06:09,"));
        assert!(l[1].contains(",`-0.27000,"));
        assert_eq!(l[4], "`2.0,`0.0,`100.0,`0.0,`-0.54,`0.0,`100.0");
        assert_eq!(parse(&out).unwrap(), bill);
    }

    #[test]
    fn all_layout_round_trips_and_drops_unrepresentable_characters() {
        let mut rows = vec![row("SUCCESS", 1), row("REFUND", 2)];
        rows[0].description = "a,b\nc".into();
        let bill = TradeBill {
            bill_type: BillType::All,
            summary: summary_of(&rows),
            rows,
        };
        let back = parse(&render(&bill)).unwrap();
        assert_eq!(back.rows[0].description, "abc");
        let mut want = bill.clone();
        want.rows[0].description = "abc".into();
        assert_eq!(back, want);
    }

    fn sample_with(from: &str, to: &str) -> Vec<u8> {
        let text = sample_text();
        assert!(text.contains(from), "{from}");
        text.replacen(from, to, 1).into_bytes()
    }

    const ALL_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";

    #[test]
    fn not_utf8() {
        let mut bytes = SAMPLE.to_vec();
        let second = bytes.iter().position(|&b| b == b'\n').unwrap() + 5;
        bytes[second] = 0xFF;
        assert_eq!(parse(&bytes), Err(BillError::NotUtf8 { line: 2 }));
        assert_eq!(parse(b"\xC3"), Err(BillError::NotUtf8 { line: 1 }));
    }

    #[test]
    fn empty() {
        assert_eq!(parse(b""), Err(BillError::Empty));
        assert_eq!(parse(b"\xEF\xBB\xBF"), Err(BillError::Empty));
        assert_eq!(parse(b"\r\n\n\r\n"), Err(BillError::Empty));
    }

    #[test]
    fn unknown_header() {
        let found = |bytes: &[u8]| match parse(bytes) {
            Err(BillError::UnknownHeader { found }) => found,
            other => panic!("{other:?}"),
        };
        assert_eq!(found(b"foo,bar\r\n`1,`2\r\n"), "foo,bar");
        // The old layout (总金额 / 企业红包金额).
        let old = sample_with("应结订单金额,代金券金额", "总金额,企业红包金额");
        assert!(found(&old).starts_with("交易时间,"));
        // A header with backticks, an extra column, a missing column.
        assert!(matches!(
            parse(&sample_with("交易时间,", "`交易时间,")),
            Err(BillError::UnknownHeader { .. })
        ));
        assert!(matches!(
            parse(&sample_with(",费率备注", ",费率备注,其他")),
            Err(BillError::UnknownHeader { .. })
        ));
        assert!(matches!(
            parse(&sample_with(",费率备注", "")),
            Err(BillError::UnknownHeader { .. })
        ));
        // Long headers are shortened.
        let long = "x".repeat(1000);
        assert_eq!(found(long.as_bytes()).chars().count(), 81);
    }

    #[test]
    fn wrong_column_count() {
        // A comma in 商品名称 (row 1 is line 2).
        let extra = sample_with(
            "`系统拨测-cheeryin-test_micropay_succ,",
            "`系统拨测,cheeryin,",
        );
        assert_eq!(
            parse(&extra),
            Err(BillError::WrongColumnCount {
                line: 2,
                expected: 27,
                found: 28
            })
        );
        let fewer = sample_with(",`39.00%,`0.00,`0.01,`\r\n", ",`39.00%,`0.00,`0.01\r\n");
        assert_eq!(
            parse(&fewer),
            Err(BillError::WrongColumnCount {
                line: 2,
                expected: 27,
                found: 26
            })
        );
        let summary = sample_with("`0.47,`0.14\r\n", "`0.47\r\n");
        assert_eq!(
            parse(&summary),
            Err(BillError::WrongColumnCount {
                line: 48,
                expected: 7,
                found: 6
            })
        );
    }

    #[test]
    fn bad_amount() {
        let cases = [
            // (from, to, line, column, value)
            (
                "13391,`wxab8acd865bb1637e,`NATIVE,`SUCCESS,`OTHERS,`CNY,`0.03,`0.01,",
                "13391,`wxab8acd865bb1637e,`NATIVE,`SUCCESS,`OTHERS,`CNY,`1.234,`0.01,",
                46,
                "应结订单金额",
                "1.234",
            ),
            (
                "13391,`wxab8acd865bb1637e,`NATIVE,`SUCCESS,`OTHERS,`CNY,`0.03,`0.01,",
                "13391,`wxab8acd865bb1637e,`NATIVE,`SUCCESS,`OTHERS,`CNY,`0.03,`abc,",
                46,
                "代金券金额",
                "abc",
            ),
            (
                "13391,`wxab8acd865bb1637e,`NATIVE,`SUCCESS,`OTHERS,`CNY,`0.03,`0.01,",
                "13391,`wxab8acd865bb1637e,`NATIVE,`SUCCESS,`OTHERS,`CNY,`-0.03,`0.01,",
                46,
                "应结订单金额",
                "-0.03",
            ),
            (
                ",`0.01000,`39.00%,",
                ",`0.010001,`39.00%,",
                4,
                "手续费",
                "0.010001",
            ),
            ("`45.0,", "`45.5,", 48, "总交易单数", "45.5"),
            ("`45.0,`0.47,", "`45.0,`0.4x,", 48, "应结订单总金额", "0.4x"),
            (",`0.08,", ",`0.080001,", 48, "手续费总金额", "0.080001"),
        ];
        for (from, to, line, column, value) in cases {
            assert_eq!(
                parse(&sample_with(from, to)),
                Err(BillError::BadAmount {
                    line,
                    column,
                    value: value.into()
                }),
                "{to}"
            );
        }
    }

    #[test]
    fn missing_summary() {
        let text = sample_text();
        let cut = text.find("总交易单数").unwrap();
        assert_eq!(parse(&SAMPLE[..cut]), Err(BillError::MissingSummary));
        let no_values = text.rsplit_once("`45.0").unwrap().0;
        assert_eq!(parse(no_values.as_bytes()), Err(BillError::MissingSummary));
        let header_only = format!("{ALL_HEADER}\r\n");
        assert_eq!(
            parse(header_only.as_bytes()),
            Err(BillError::MissingSummary)
        );
    }

    #[test]
    fn bad_summary() {
        assert_eq!(
            parse(&sample_with("充值券退款总金额,", "")),
            Err(BillError::BadSummary {
                line: 47,
                found:
                    "总交易单数,应结订单总金额,退款总金额,手续费总金额,订单总金额,申请退款总金额"
                        .into()
            })
        );
        // The 4-column SUCCESS summary is not an ALL summary.
        let success_summary = format!(
            "{ALL_HEADER}\r\n总交易单数,应结订单总金额,手续费总金额,订单总金额\r\n`0,`0.00,`0.00,`0.00\r\n"
        );
        assert!(matches!(
            parse(success_summary.as_bytes()),
            Err(BillError::BadSummary { line: 2, .. })
        ));
    }

    #[test]
    fn trailing_data() {
        let mut bytes = SAMPLE.to_vec();
        bytes.extend_from_slice(b"\r\n`1\r\n");
        assert_eq!(parse(&bytes), Err(BillError::TrailingData { line: 50 }));
    }

    #[test]
    fn summary_mismatch() {
        let bill = parse(&sample_with(
            "13391,`wxab8acd865bb1637e,`NATIVE,`SUCCESS,`OTHERS,`CNY,`0.03,`0.01,",
            "13391,`wxab8acd865bb1637e,`NATIVE,`SUCCESS,`OTHERS,`CNY,`0.04,`0.01,",
        ))
        .unwrap();
        assert_eq!(
            check_summary(&bill),
            Err(BillError::SummaryMismatch {
                what: "应结订单总金额",
                expected: "0.47".into(),
                found: "0.48".into()
            })
        );
        let good = parse(SAMPLE).unwrap();
        type Mutation = (&'static str, fn(&mut TradeBill));
        let mutations: [Mutation; 7] = [
            ("总交易单数", |b| {
                b.rows.pop();
            }),
            ("退款总金额", |b| b.rows[0].refund = Fen(2)),
            ("充值券退款总金额", |b| {
                b.rows[0].recharge_coupon_refund = Fen(1)
            }),
            ("手续费总金额", |b| b.rows[0].fee_e5 += 500),
            ("订单总金额", |b| b.rows[1].order_amount = Fen(1)),
            ("申请退款总金额", |b| {
                b.rows[1].refund_requested = Fen(0)
            }),
            ("应结订单总金额", |b| {
                b.summary.settlement_total = Fen(46)
            }),
        ];
        for (what, mutate) in mutations {
            let mut bill = good.clone();
            mutate(&mut bill);
            match check_summary(&bill) {
                Err(BillError::SummaryMismatch { what: w, .. }) => assert_eq!(w, what),
                other => panic!("{what}: {other:?}"),
            }
        }
        // Below half a fen the fee still matches.
        let mut bill = good.clone();
        bill.rows[0].fee_e5 += 499;
        assert_eq!(check_summary(&bill), Ok(()));
    }

    #[test]
    fn messages_name_the_line_and_column() {
        let err = parse(&sample_with(
            "13391,`wxab8acd865bb1637e,`NATIVE,`SUCCESS,`OTHERS,`CNY,`0.03,`0.01,",
            "13391,`wxab8acd865bb1637e,`NATIVE,`SUCCESS,`OTHERS,`CNY,`1.234,`0.01,",
        ))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 46: 应结订单金额 is not a valid amount: \"1.234\""
        );
    }

    /// What `render` keeps of a bill, for the layout it is written in.
    fn project(mut b: TradeBill) -> TradeBill {
        for r in &mut b.rows {
            match b.bill_type {
                BillType::Success => {
                    let keep = BillRow {
                        refund_apply_time: None,
                        refund_success_time: None,
                        refund_id: String::new(),
                        out_refund_no: String::new(),
                        refund: Fen(0),
                        recharge_coupon_refund: Fen(0),
                        refund_type: String::new(),
                        refund_status: String::new(),
                        refund_requested: Fen(0),
                        ..r.clone()
                    };
                    *r = keep;
                }
                BillType::All => {
                    r.refund_apply_time = None;
                    r.refund_success_time = None;
                }
                BillType::Refund => {
                    r.refund_apply_time = Some(r.refund_apply_time.take().unwrap_or_default());
                    r.refund_success_time = Some(r.refund_success_time.take().unwrap_or_default());
                }
            }
        }
        if b.bill_type == BillType::Success {
            b.summary.refund_total = Fen(0);
            b.summary.recharge_coupon_refund_total = Fen(0);
            b.summary.refund_requested_total = Fen(0);
        }
        b
    }

    const MAX_FEN: i64 = 1_000_000_000_000;

    fn arb_row() -> impl Strategy<Value = BillRow> {
        (
            prop::collection::vec("[^,\n]{0,8}", 20),
            prop::collection::vec(prop::option::of("[^,\n]{0,8}"), 2),
            prop::collection::vec(0..MAX_FEN, 6),
            -100 * MAX_FEN..100 * MAX_FEN,
        )
            .prop_map(|(t, o, f, fee_e5)| BillRow {
                trade_time: t[0].clone(),
                appid: t[1].clone(),
                mchid: t[2].clone(),
                sub_mchid: t[3].clone(),
                device_id: t[4].clone(),
                transaction_id: t[5].clone(),
                out_trade_no: t[6].clone(),
                openid: t[7].clone(),
                trade_type: t[8].clone(),
                trade_state: t[9].clone(),
                bank_type: t[10].clone(),
                currency: t[11].clone(),
                settlement_total: Fen(f[0]),
                coupon: Fen(f[1]),
                refund_apply_time: o[0].clone(),
                refund_success_time: o[1].clone(),
                refund_id: t[12].clone(),
                out_refund_no: t[13].clone(),
                refund: Fen(f[2]),
                recharge_coupon_refund: Fen(f[3]),
                refund_type: t[14].clone(),
                refund_status: t[15].clone(),
                description: t[16].clone(),
                attach: t[17].clone(),
                fee_e5,
                rate: t[18].clone(),
                order_amount: Fen(f[4]),
                refund_requested: Fen(f[5]),
                rate_note: t[19].clone(),
            })
    }

    fn arb_bill() -> impl Strategy<Value = TradeBill> {
        (
            prop::sample::select(vec![BillType::All, BillType::Success, BillType::Refund]),
            prop::collection::vec(arb_row(), 0..5),
            any::<u64>(),
            prop::collection::vec(0..MAX_FEN, 6),
            -MAX_FEN..MAX_FEN,
        )
            .prop_map(|(bill_type, rows, trade_count, f, fee)| TradeBill {
                bill_type,
                rows,
                summary: BillSummary {
                    trade_count,
                    settlement_total: Fen(f[0]),
                    refund_total: Fen(f[1]),
                    recharge_coupon_refund_total: Fen(f[2]),
                    fee_total: Fen(fee),
                    order_total: Fen(f[3]),
                    refund_requested_total: Fen(f[4]),
                },
            })
    }

    /// If a mutated input parses, its rendering parses back to the same bill.
    fn check_stable(bytes: &[u8]) -> Result<(), TestCaseError> {
        if let Ok(bill) = parse(bytes) {
            let _ = check_summary(&bill);
            prop_assert_eq!(parse(&render(&bill)), Ok(bill));
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            check_stable(&bytes)?;
        }

        #[test]
        fn never_panics_on_bill_like_text(
            header in prop::sample::select(vec![0usize, 1, 2, 3]),
            lines in prop::collection::vec(
                prop::collection::vec("`?-?[0-9]{0,3}\\.?[0-9]{0,6}|[a-z%`]{0,3}", 1..30),
                0..6,
            ),
            summary in prop::sample::select(vec![0usize, 1, 2]),
        ) {
            let headers = [ALL_HEADER.to_owned(), columns(BillType::Success).iter().map(|c| c.name()).collect::<Vec<_>>().join(","),
                columns(BillType::Refund).iter().map(|c| c.name()).collect::<Vec<_>>().join(","), String::new()];
            let summaries = ["总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额",
                "总交易单数,应结订单总金额,手续费总金额,订单总金额", ""];
            let mut text = format!("{}\r\n", headers[header]);
            let n = lines.len();
            for (i, cells) in lines.into_iter().enumerate() {
                if i + 1 == n {
                    text.push_str(summaries[summary]);
                    text.push_str("\r\n");
                }
                text.push_str(&cells.join(","));
                text.push_str("\r\n");
            }
            check_stable(text.as_bytes())?;
        }

        #[test]
        fn never_panics_on_a_truncated_sample(at in 0..SAMPLE.len()) {
            check_stable(&SAMPLE[..at])?;
        }

        #[test]
        fn never_panics_on_a_flipped_byte(at in 0..SAMPLE.len(), mask in 1u8..=255) {
            let mut bytes = SAMPLE.to_vec();
            bytes[at] ^= mask;
            check_stable(&bytes)?;
        }

        #[test]
        fn never_panics_on_spliced_bytes(
            at in 0..SAMPLE.len(),
            cut in 0usize..40,
            insert in prop::collection::vec(
                prop::sample::select(b"`,.-0123456789\r\n\xEF\xBB\xBFa".to_vec()), 0..6),
        ) {
            let mut bytes = SAMPLE.to_vec();
            let end = (at + cut).min(bytes.len());
            bytes.splice(at..end, insert);
            check_stable(&bytes)?;
        }

        #[test]
        fn yuan_round_trips(n in 0..MAX_FEN) {
            prop_assert_eq!(yuan_to_fen(&Fen(n).to_yuan_string()), Some(Fen(n)));
            prop_assert_eq!(yuan_to_fen(&summary_yuan(Fen(n))), Some(Fen(n)));
        }

        #[test]
        fn fee_round_trips(e5 in any::<i64>()) {
            prop_assume!(e5 != i64::MIN);
            prop_assert_eq!(parse_scaled(&yuan_string(i128::from(e5), 5), 5, true), Some(e5));
        }

        #[test]
        fn render_then_parse_round_trips(bill in arb_bill()) {
            let out = render(&bill);
            prop_assert_eq!(parse(&out), Ok(project(bill)));
        }
    }
}
