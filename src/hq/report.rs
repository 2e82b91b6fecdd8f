//! The head office's day: per store and per till, the orders of a Beijing day by state, what
//! was charged, refunded and is still unsettled, with each till's last shipment. The figures
//! follow the till's own X/Z (`store::shifts::summary`): charged = PAID, PARTIALLY_REFUNDED and
//! REFUNDED; refunds = SUCCESS; refunds open = CREATED, PROCESSING, ABNORMAL; unsettled =
//! PENDING, USERPAYING, UNRESOLVED; net = charged − refunded.

use std::collections::BTreeMap;

use serde::Serialize;
use tokio_postgres::Client;

use super::{HqError, beijing_day, schema};

/// Figures of one till, one store or the whole report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    /// Orders per state: `(state, count, sum_fen)`.
    pub by_state: Vec<(String, i64, i64)>,
    /// Charged orders (PAID, PARTIALLY_REFUNDED, REFUNDED).
    pub paid_count: i64,
    /// Their sum.
    pub paid_fen: i64,
    /// Orders not settled (PENDING, USERPAYING, UNRESOLVED).
    pub unsettled_count: i64,
    /// Refunds that succeeded.
    pub refund_count: i64,
    /// Their sum.
    pub refund_fen: i64,
    /// Refunds not final or abnormal.
    pub refund_open_count: i64,
    /// Charged minus refunded.
    pub net_fen: i64,
}

impl Figures {
    fn add(&mut self, o: &Figures) {
        let mut by: BTreeMap<String, (i64, i64)> = self
            .by_state
            .iter()
            .map(|(s, n, f)| (s.clone(), (*n, *f)))
            .collect();
        for (s, n, f) in &o.by_state {
            let e = by.entry(s.clone()).or_default();
            e.0 += n;
            e.1 += f;
        }
        self.by_state = by.into_iter().map(|(s, (n, f))| (s, n, f)).collect();
        self.paid_count += o.paid_count;
        self.paid_fen += o.paid_fen;
        self.unsettled_count += o.unsettled_count;
        self.refund_count += o.refund_count;
        self.refund_fen += o.refund_fen;
        self.refund_open_count += o.refund_open_count;
        self.net_fen += o.net_fen;
    }
}

/// One till in the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TillDay {
    /// The data folder's id.
    pub till_id: String,
    /// Its terminal id.
    pub terminal_id: String,
    /// When it last shipped (epoch ms), if ever.
    pub last_sync_ms: Option<i64>,
    /// The day's figures.
    pub figures: Figures,
}

/// One store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoreDay {
    /// The store id.
    pub store_id: String,
    /// Its tills.
    pub tills: Vec<TillDay>,
    /// The store's totals.
    pub totals: Figures,
}

/// The report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The Beijing day.
    pub date: String,
    /// Only this store, if asked.
    pub store: Option<String>,
    /// Per store.
    pub stores: Vec<StoreDay>,
    /// All stores.
    pub totals: Figures,
}

const CHARGED: [&str; 3] = ["PAID", "PARTIALLY_REFUNDED", "REFUNDED"];
const UNSETTLED: [&str; 3] = ["PENDING", "USERPAYING", "UNRESOLVED"];

/// The day's report (`store`: only that store).
pub async fn report(client: &Client, date: &str, store: Option<&str>) -> Result<Report, HqError> {
    schema::check(client).await?;
    let (start, end) = beijing_day(date)?;
    let tills = client
        .query(
            "SELECT till_id, store_id, terminal_id,
                    (EXTRACT(EPOCH FROM last_sync) * 1000)::bigint
             FROM hq_tills WHERE $1::text IS NULL OR store_id = $1
             ORDER BY store_id, terminal_id, till_id",
            &[&store],
        )
        .await?;
    let mut days: BTreeMap<String, (String, TillDay)> = BTreeMap::new();
    for r in &tills {
        let till_id: String = r.get(0);
        days.insert(
            till_id.clone(),
            (
                r.get(1),
                TillDay {
                    till_id,
                    terminal_id: r.get(2),
                    last_sync_ms: r.get(3),
                    figures: Figures::default(),
                },
            ),
        );
    }
    let orders = client
        .query(
            "SELECT o.till_id, o.state, COUNT(*), COALESCE(SUM(o.amount_fen), 0)::bigint
             FROM hq_orders o JOIN hq_tills t USING (till_id)
             WHERE o.created_at >= $1 AND o.created_at < $2
               AND ($3::text IS NULL OR t.store_id = $3)
             GROUP BY 1, 2 ORDER BY 1, 2",
            &[&start, &end, &store],
        )
        .await?;
    for r in &orders {
        let till_id: String = r.get(0);
        let state: String = r.get(1);
        let (n, sum): (i64, i64) = (r.get(2), r.get(3));
        let Some((_, day)) = days.get_mut(&till_id) else {
            continue;
        };
        let f = &mut day.figures;
        if CHARGED.contains(&state.as_str()) {
            f.paid_count += n;
            f.paid_fen += sum;
        }
        if UNSETTLED.contains(&state.as_str()) {
            f.unsettled_count += n;
        }
        f.by_state.push((state, n, sum));
    }
    let refunds = client
        .query(
            "SELECT r.till_id,
                    COUNT(*) FILTER (WHERE r.status = 'SUCCESS'),
                    COALESCE(SUM(r.amount_fen) FILTER (WHERE r.status = 'SUCCESS'), 0)::bigint,
                    COUNT(*) FILTER (WHERE r.status IN ('CREATED', 'PROCESSING', 'ABNORMAL'))
             FROM hq_refunds r JOIN hq_tills t USING (till_id)
             WHERE r.created_at >= $1 AND r.created_at < $2
               AND ($3::text IS NULL OR t.store_id = $3)
             GROUP BY 1",
            &[&start, &end, &store],
        )
        .await?;
    for r in &refunds {
        let till_id: String = r.get(0);
        if let Some((_, day)) = days.get_mut(&till_id) {
            day.figures.refund_count = r.get(1);
            day.figures.refund_fen = r.get(2);
            day.figures.refund_open_count = r.get(3);
        }
    }
    let mut stores: BTreeMap<String, StoreDay> = BTreeMap::new();
    let mut totals = Figures::default();
    let mut list: Vec<(String, TillDay)> = days.into_values().collect();
    list.sort_by(|a, b| (&a.0, &a.1.terminal_id).cmp(&(&b.0, &b.1.terminal_id)));
    for (store_id, mut day) in list {
        day.figures.net_fen = day.figures.paid_fen - day.figures.refund_fen;
        let s = stores.entry(store_id.clone()).or_insert_with(|| StoreDay {
            store_id,
            tills: Vec::new(),
            totals: Figures::default(),
        });
        s.totals.add(&day.figures);
        totals.add(&day.figures);
        s.tills.push(day);
    }
    Ok(Report {
        date: date.into(),
        store: store.map(str::to_string),
        stores: stores.into_values().collect(),
        totals,
    })
}

fn yuan(fen: i64) -> String {
    crate::money::Fen(fen).to_yuan_string()
}

fn when(ms: Option<i64>) -> String {
    ms.and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(8)))
                .strftime("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|| "never".into())
}

/// A plain-text table (English; identifiers from outside go through `sanitize` in the face).
pub fn to_text(r: &Report) -> String {
    let mut s = format!("Head office report {} (Beijing day)\n", r.date);
    let head = format!(
        "  {:<14} {:>6} {:>12} {:>6} {:>12} {:>12} {:>9}  {}\n",
        "till", "paid", "paid CNY", "refd", "refunds CNY", "net CNY", "unsettled", "last sync"
    );
    for st in &r.stores {
        s.push_str(&format!("store {}\n", st.store_id));
        s.push_str(&head);
        for t in &st.tills {
            let f = &t.figures;
            s.push_str(&format!(
                "  {:<14} {:>6} {:>12} {:>6} {:>12} {:>12} {:>9}  {}\n",
                t.terminal_id,
                f.paid_count,
                yuan(f.paid_fen),
                f.refund_count,
                yuan(f.refund_fen),
                yuan(f.net_fen),
                f.unsettled_count,
                when(t.last_sync_ms)
            ));
        }
        let f = &st.totals;
        s.push_str(&format!(
            "  {:<14} {:>6} {:>12} {:>6} {:>12} {:>12} {:>9}\n",
            "store total",
            f.paid_count,
            yuan(f.paid_fen),
            f.refund_count,
            yuan(f.refund_fen),
            yuan(f.net_fen),
            f.unsettled_count
        ));
    }
    let f = &r.totals;
    s.push_str(&format!(
        "total: {} paid {} CNY, {} refunds {} CNY, net {} CNY, {} unsettled\n",
        f.paid_count,
        yuan(f.paid_fen),
        f.refund_count,
        yuan(f.refund_fen),
        yuan(f.net_fen),
        f.unsettled_count
    ));
    s
}
