//! The head-office outbox (migration 10): every row the head office receives is queued here, in
//! the transaction that wrote it, as `(seq, table, row id)`. The shipper (`crate::sync`) reads
//! a batch after the last acknowledged `seq`, each queued row as it is now (every column, so a
//! new column ships without a change here), and records the acknowledgement once the head
//! office committed. Reading and acknowledging are all this module does: it knows nothing of
//! PostgreSQL.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, types::ValueRef};

use super::StoreError;

/// The tables whose rows are queued, and each one's key column.
pub const SHIPPED: &[(&str, &str)] = &[
    ("shifts", "id"),
    ("orders", "id"),
    ("order_events", "id"),
    ("refunds", "id"),
    ("z_reports", "z_number"),
    ("audit_log", "id"),
];

/// A batch of queued rows, ready to ship.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// Per table, its rows (all columns as JSON, plus `_seq`: the latest queued change of the
    /// row in this batch), in key order; a row changed several times in the batch is in it once.
    pub rows: BTreeMap<&'static str, Vec<serde_json::Map<String, serde_json::Value>>>,
    /// Queue entries the batch covers (including the ones a later change superseded).
    pub entries: usize,
    /// The highest `seq` in the batch (0: the batch is empty).
    pub last_seq: i64,
}

/// How far the head office is behind this log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Backlog {
    /// The highest `seq` the head office acknowledged.
    pub acked_seq: i64,
    /// The highest `seq` queued.
    pub last_seq: i64,
    /// Queue entries not acknowledged yet.
    pub pending: i64,
    /// When the oldest of them was queued (epoch ms), if any.
    pub oldest_pending_at: Option<i64>,
}

/// This data folder's till id (created once by migration 10).
pub fn till_id(conn: &Connection) -> Result<String, StoreError> {
    conn.query_row("SELECT value FROM meta WHERE key = 'till_id'", [], |r| {
        r.get(0)
    })
    .optional()?
    .ok_or_else(|| StoreError::NotFound("the shift log has no till id".into()))
}

/// The highest acknowledged `seq`.
pub fn acked(conn: &Connection) -> Result<i64, StoreError> {
    let v: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'sync_acked'", [], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// Records that the head office has everything up to `seq`. Never moves backwards (two
/// shippers on one till may acknowledge out of order).
pub fn ack(conn: &Connection, seq: i64) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO meta(key, value) VALUES ('sync_acked', ?1)
         ON CONFLICT(key) DO UPDATE SET value = CAST(MAX(CAST(value AS INTEGER), ?1) AS TEXT)",
        [seq],
    )?;
    Ok(())
}

/// The backlog: what is queued and not acknowledged.
pub fn backlog(conn: &Connection) -> Result<Backlog, StoreError> {
    let acked_seq = acked(conn)?;
    let (last_seq, pending, oldest): (i64, i64, Option<i64>) = conn.query_row(
        "SELECT COALESCE((SELECT MAX(seq) FROM sync_outbox), 0),
                (SELECT COUNT(*) FROM sync_outbox WHERE seq > ?1),
                (SELECT at FROM sync_outbox WHERE seq > ?1 ORDER BY seq LIMIT 1)",
        [acked_seq],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok(Backlog {
        acked_seq,
        last_seq,
        pending,
        oldest_pending_at: oldest,
    })
}

fn value(v: ValueRef<'_>) -> serde_json::Value {
    match v {
        ValueRef::Null => serde_json::Value::Null,
        ValueRef::Integer(i) => i.into(),
        ValueRef::Real(f) => f.into(),
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned().into(),
        // No shipped table has a BLOB column; hex keeps one readable if one ever does.
        ValueRef::Blob(b) => b
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
            .into(),
    }
}

/// Reads up to `limit` queue entries after `after`, each queued row as it is now.
pub fn read_batch(conn: &Connection, after: i64, limit: usize) -> Result<Batch, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, tbl, row_id FROM sync_outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let entries = stmt
        .query_map(
            rusqlite::params![after, i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            },
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let mut batch = Batch {
        entries: entries.len(),
        last_seq: entries.last().map_or(0, |e| e.0),
        ..Batch::default()
    };
    // The latest queued change of each row.
    let mut latest: BTreeMap<(&'static str, i64), i64> = BTreeMap::new();
    for (seq, tbl, row_id) in &entries {
        let (name, _) = SHIPPED.iter().find(|(t, _)| t == tbl).ok_or_else(|| {
            StoreError::Sql(format!("sync_outbox names an unknown table {tbl:?}"))
        })?;
        latest.insert((name, *row_id), *seq);
    }
    for ((tbl, row_id), seq) in latest {
        let key = SHIPPED
            .iter()
            .find(|(t, _)| *t == tbl)
            .map_or("id", |(_, k)| *k);
        // Table and key names come from the fixed list above, never from outside.
        let mut stmt = conn.prepare_cached(&format!("SELECT * FROM {tbl} WHERE {key} = ?1"))?;
        let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
        let row = stmt
            .query_row([row_id], |r| {
                let mut m = serde_json::Map::new();
                for (i, n) in names.iter().enumerate() {
                    m.insert(n.clone(), value(r.get_ref(i)?));
                }
                Ok(m)
            })
            .optional()?;
        let Some(mut row) = row else {
            return Err(StoreError::NotFound(format!(
                "queued row {tbl} #{row_id} is not in the log"
            )));
        };
        row.insert("_seq".into(), seq.into());
        batch.rows.entry(tbl).or_default().push(row);
    }
    Ok(batch)
}
