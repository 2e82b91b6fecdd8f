//! X and Z reports: the figures ([`Summary`], derived from the log by `store::shifts`) and the
//! ONE set of labelled lines every face shows — the screen (F3), the command line and paper.

use rusqlite::Connection;
use unicode_width::UnicodeWidthStr;

use super::{Books, Till, TillError};
use crate::config::{Config, Language};
use crate::engine::OrderState;
use crate::money::Fen;
use crate::store::shifts::{self, Shift, Summary};

/// Which report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportKind {
    /// The open shift, so far (changes nothing).
    X,
    /// A closed shift's report, with its number.
    Z(i64),
}

/// A report: its title and its figures, in a language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// X or Z.
    pub kind: ReportKind,
    /// The heading (shift, cashier or Z number).
    pub title: String,
    /// The figures.
    pub summary: Summary,
    /// The language of the labels.
    pub lang: Language,
}

/// What a line of a report is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineKind {
    /// Orders in one state.
    State,
    /// Paid orders (PAID, PARTIALLY_REFUNDED, REFUNDED).
    Collected,
    /// Refunds that succeeded in this shift.
    Refunds,
    /// Refunds still processing, or abnormal (only when there are some).
    RefundsOpen,
    /// Collected minus refunds.
    Net,
    /// Paid orders of one cashier.
    Cashier,
    /// Paid orders of one hour (Beijing time).
    Hour,
    /// First … last order number.
    Range,
    /// A forced close: who approved it.
    Forced,
    /// An order not settled at a forced close.
    Unsettled,
    /// The sub-merchant the shift sold for (service-provider mode only): its number and name.
    SubMerchant,
}

/// One labelled line of a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportLine {
    /// What it is.
    pub kind: LineKind,
    /// The label, in the report's language.
    pub label: String,
    /// A count, if the line has one.
    pub count: Option<i64>,
    /// An amount, if the line has one (refunds are negative).
    pub amount: Option<Fen>,
    /// Text in place of an amount (order numbers, a state).
    pub text: Option<String>,
}

impl ReportLine {
    fn figures(kind: LineKind, label: String, count: Option<i64>, amount: Option<Fen>) -> Self {
        ReportLine {
            kind,
            label,
            count,
            amount,
            text: None,
        }
    }

    fn text(kind: LineKind, label: String, text: String) -> Self {
        ReportLine {
            kind,
            label,
            count: None,
            amount: None,
            text: Some(text),
        }
    }

    /// The value column as the screen and paper show it: `count · ¥1,234.00`, the amount, or
    /// the text.
    pub fn value(&self) -> String {
        match (self.count, self.amount, &self.text) {
            (_, _, Some(t)) => t.clone(),
            (Some(n), Some(f), None) => format!("{n} · {}", f.grouped()),
            (None, Some(f), None) => f.grouped(),
            (Some(n), None, None) => n.to_string(),
            (None, None, None) => String::new(),
        }
    }
}

/// A line's label (from the i18n table; order states are labelled by their state name).
fn label(lang: Language, kind: LineKind) -> &'static str {
    use crate::i18n::{ReportLabel as L, report_label};
    let label = match kind {
        LineKind::Collected => L::Collected,
        LineKind::Refunds => L::Refunds,
        LineKind::RefundsOpen => L::RefundsOpen,
        LineKind::Net => L::Net,
        LineKind::Cashier => L::Cashier,
        LineKind::Range => L::Range,
        LineKind::Forced => L::Forced,
        LineKind::SubMerchant => L::SubMerchant,
        LineKind::State | LineKind::Hour | LineKind::Unsettled => return "",
    };
    report_label(lang, label)
}

/// An order state's name, from the one table the screen uses; unknown names as stored.
pub fn state_label(lang: Language, state: &str) -> String {
    OrderState::parse(state).map_or_else(
        || state.to_string(),
        |st| crate::i18n::state_name(lang, st).to_string(),
    )
}

/// The lines of a summary, in order: the sub-merchant (service-provider mode only), states,
/// paid total, refunds, refunds open (if any), net, per cashier, per hour, first … last, and a
/// forced close's approver and unsettled orders.
pub fn lines(lang: Language, s: &Summary) -> Vec<ReportLine> {
    use LineKind::*;
    let l = |k| label(lang, k).to_string();
    let mut out: Vec<ReportLine> = s
        .sub_merchant
        .iter()
        .map(|sub| ReportLine::text(SubMerchant, l(SubMerchant), crate::i18n::sub_merchant(sub)))
        .collect();
    out.extend(s.by_state.iter().map(|(st, n, f)| {
        ReportLine::figures(State, state_label(lang, st), Some(*n), Some(Fen(*f)))
    }));
    out.push(ReportLine::figures(
        Collected,
        l(Collected),
        Some(s.paid_count),
        Some(Fen(s.paid_fen)),
    ));
    out.push(ReportLine::figures(
        Refunds,
        l(Refunds),
        Some(s.refund_count),
        Some(Fen(-s.refund_fen)),
    ));
    if s.refund_open_count > 0 {
        out.push(ReportLine::figures(
            RefundsOpen,
            l(RefundsOpen),
            Some(s.refund_open_count),
            None,
        ));
    }
    out.push(ReportLine::figures(Net, l(Net), None, Some(Fen(s.net_fen))));
    for (c, n, f) in &s.by_cashier {
        out.push(ReportLine::figures(
            Cashier,
            format!("{} {c}", l(Cashier)),
            Some(*n),
            Some(Fen(*f)),
        ));
    }
    for (h, n, f) in &s.by_hour {
        out.push(ReportLine::figures(
            Hour,
            format!("{h:02}:00-{h:02}:59"),
            Some(*n),
            Some(Fen(*f)),
        ));
    }
    if let (Some(a), Some(b)) = (&s.first_out_trade_no, &s.last_out_trade_no) {
        out.push(ReportLine::text(Range, l(Range), format!("{a} … {b}")));
    }
    if let Some(sup) = &s.forced_by {
        let text = crate::i18n::forced_by(lang, sup);
        out.push(ReportLine::text(Forced, l(Forced), text));
        for (no, st) in &s.open_orders {
            out.push(ReportLine::text(
                Unsettled,
                no.clone(),
                state_label(lang, st),
            ));
        }
    }
    out
}

/// Pads to a display width (CJK characters take two cells).
fn pad(s: &str, width: usize) -> String {
    format!("{s}{}", " ".repeat(width.saturating_sub(s.width())))
}

impl Report {
    /// The X report of an open shift.
    pub fn x(lang: Language, shift: &Shift, summary: Summary) -> Report {
        let title = crate::i18n::x_title(lang, shift.id, &shift.cashier);
        Report {
            kind: ReportKind::X,
            title,
            summary,
            lang,
        }
    }

    /// The Z report number `z`.
    pub fn z(lang: Language, z: i64, summary: Summary) -> Report {
        let title = crate::i18n::z_title(lang, z, summary.shift_id);
        Report {
            kind: ReportKind::Z(z),
            title,
            summary,
            lang,
        }
    }

    /// Its lines ([`lines`]).
    pub fn lines(&self) -> Vec<ReportLine> {
        lines(self.lang, &self.summary)
    }

    /// Plain text for a terminal: the title, then `label  count  amount` columns.
    pub fn to_text(&self) -> String {
        let mut out = format!("{}\n", self.title);
        for l in self.lines() {
            let line = match l.kind {
                LineKind::Range => format!("  {} {}", l.label, l.value()),
                LineKind::Forced | LineKind::SubMerchant => {
                    format!("  {} {}", l.label, l.value())
                }
                LineKind::Unsettled => format!("    {} {}", l.label, l.value()),
                _ => format!(
                    "  {} {:>6}  {:>14}",
                    pad(&l.label, 19),
                    l.count.map(|n| n.to_string()).unwrap_or_default(),
                    l.amount.map(|f| f.to_string()).unwrap_or_default()
                ),
            };
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// The report as a receipt for the printer (and the text spool); marked as training in
    /// simulator mode.
    pub fn to_receipt(&self, cfg: &Config) -> crate::receipt::model::Receipt {
        let pairs: Vec<(String, String)> = self
            .lines()
            .into_iter()
            .map(|l| (l.label.clone(), l.value()))
            .collect();
        crate::receipt::layout::summary(
            self.lang,
            &self.title,
            &cfg.merchant.store_name,
            &pairs,
            cfg.printer.width,
            cfg.wechatpay.mode == crate::config::Mode::Simulator,
        )
    }
}

/// The X report of a till's open shift, read on `conn`.
pub fn x_report(conn: &Connection, cfg: &Config) -> Result<Report, TillError> {
    let terminal = &cfg.merchant.terminal_id;
    let shift =
        shifts::current(conn, terminal)?.ok_or_else(|| TillError::NoShift(terminal.clone()))?;
    let mut summary = shifts::summary(conn, shift.id)?;
    summary.sub_merchant = cfg.merchant.sub_merchant();
    Ok(Report::x(cfg.language, &shift, summary))
}

/// Z report `number` (the latest when `None`), as stored at its close.
pub fn z_report(
    conn: &Connection,
    lang: Language,
    number: Option<i64>,
) -> Result<Report, TillError> {
    let row = |sql: &str, p: &[&dyn rusqlite::ToSql]| {
        conn.query_row(sql, p, |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })
    };
    let found = match number {
        Some(n) => row(
            "SELECT z_number, report FROM z_reports WHERE z_number = ?1",
            &[&n],
        ),
        None => row(
            "SELECT z_number, report FROM z_reports ORDER BY z_number DESC LIMIT 1",
            &[],
        ),
    };
    let (z, text) = match found {
        Ok(r) => r,
        Err(rusqlite::Error::QueryReturnedNoRows) => return Err(TillError::NoSuchZ),
        Err(e) => return Err(TillError::Store(e.into())),
    };
    let summary: Summary = serde_json::from_str(&text).map_err(|e| TillError::BadZ {
        z,
        detail: e.to_string(),
    })?;
    Ok(Report::z(lang, z, summary))
}

impl Till {
    /// The open shift's figures (`None` when no shift is open): what the shift screen shows.
    pub async fn x_summary(&self) -> Result<Option<Summary>, TillError> {
        let cfg = self.cfg.clone();
        match self.store.call(move |c| Ok(x_report(c, &cfg))).await? {
            Ok(r) => Ok(Some(r.summary)),
            Err(TillError::NoShift(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl Books {
    /// The X report of the open shift.
    pub fn x_report(&self) -> Result<Report, TillError> {
        x_report(&self.reader()?, self.config())
    }

    /// Z report `number` (the latest when `None`).
    pub fn z_report(&self, number: Option<i64>) -> Result<Report, TillError> {
        z_report(&self.reader()?, self.config().language, number)
    }
}
