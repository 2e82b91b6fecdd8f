//! The till's shipper: it sends what the till's log recorded to the head office's PostgreSQL,
//! off the payment path and in bounded batches.
//!
//! One shipment: read a batch of the outbox after the acknowledged `seq` (`store::outbox`, on
//! a read-only connection: the writer thread stays the payments'), write it to PostgreSQL in ONE transaction keyed by
//! `(till_id, row id)` with `seq` deciding between versions of a changing row
//! (`hq::schema::Table::upsert_sql`), commit, then record the acknowledgement locally. A kill
//! or a dropped connection before the commit loses nothing (the batch is sent again); after the
//! commit and before the acknowledgement, the batch is sent again and changes nothing. Two
//! shippers on one till write the same rows with the same keys. So every row arrives exactly
//! once in effect.

use std::time::Duration;

use crate::hq::{self, HqError, schema};
use crate::store::outbox::{self, Backlog};
use crate::store::{Store, StoreError};

/// Rows read and written per transaction (a week offline catches up in many of these).
pub const BATCH: usize = 2_000;

/// Who is shipping: the data folder's till id and identity, and where the till stands.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TillName {
    /// The data folder's id (created once, kept in the log).
    pub till_id: String,
    /// `live` or `simulator`.
    pub mode: String,
    /// The merchant.
    pub mchid: String,
    /// The sub-merchant (service-provider mode).
    pub sub_mchid: Option<String>,
    /// The store.
    pub store_id: String,
    /// The terminal.
    pub terminal_id: String,
}

/// What went wrong while shipping.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The head office's database.
    #[error(transparent)]
    Hq(#[from] HqError),
    /// The till's log.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    /// Whether the next attempt may succeed by itself (server down, network gone).
    pub fn is_transient(&self) -> bool {
        matches!(self, SyncError::Hq(e) if e.is_transient())
    }
}

/// The outcome of shipping until nothing was left (or an error stopped it).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Shipped {
    /// Rows written (a row changed several times in one batch counts once).
    pub rows: usize,
    /// Queue entries acknowledged.
    pub entries: usize,
    /// Transactions committed.
    pub batches: usize,
    /// The backlog after shipping.
    pub backlog: Backlog,
}

/// Ships one batch; returns `(rows, entries, last seq)`, `entries == 0` when nothing is left.
pub async fn ship_batch(
    store: &Store,
    client: &mut tokio_postgres::Client,
    till: &TillName,
    limit: usize,
) -> Result<(usize, usize), SyncError> {
    // Read on a read-only connection of its own (a WAL reader blocks no writer), so the
    // store's writer thread stays free for the payments; only the acknowledgement below goes
    // through it.
    let path = store.path().to_path_buf();
    let (batch, local_acked, local_last) = tokio::task::spawn_blocking(move || {
        let c = crate::store::open_reader(&path)?;
        let after = outbox::acked(&c)?;
        let last = outbox::backlog(&c)?.last_seq;
        Ok::<_, StoreError>((outbox::read_batch(&c, after, limit)?, after, last))
    })
    .await
    .map_err(|e| StoreError::Sql(format!("the shipper's reader stopped: {e}")))??;
    // A log behind what the head office has for this till was restored from an older copy:
    // its next rows would reuse ids the head office holds with other contents.
    let central: Option<i64> = client
        .query_opt(
            "SELECT shipped_seq FROM hq_tills WHERE till_id = $1",
            &[&till.till_id],
        )
        .await
        .map_err(HqError::from)?
        .map(|r| r.get(0));
    if let Some(central) = central.filter(|c| *c > local_last) {
        return Err(HqError::Diverged {
            central,
            local: local_last,
        }
        .into());
    }
    if batch.entries == 0 {
        return Ok((0, 0));
    }
    // Sending again what the head office may have (after a kill between commit and
    // acknowledgement, or from a restored copy): the rows that never change must be the same
    // rows. A restored copy that went on writing reuses their ids with other contents.
    if let Some(central) = central.filter(|c| *c > local_acked) {
        for table in schema::TABLES.iter().filter(|t| !t.changes) {
            let Some(list) = batch.rows.get(table.local) else {
                continue;
            };
            let json = serde_json::to_string(list)
                .map_err(|e| SyncError::Store(StoreError::Sql(e.to_string())))?;
            let sql = format!(
                "SELECT COUNT(*) FROM {} t JOIN jsonb_array_elements($2::text::jsonb) AS r
                   ON t.till_id = $1 AND t.{} = (r->>'{}')::bigint
                 WHERE t.row <> r - '_seq'",
                table.central, table.key, table.key
            );
            let differ: i64 = client
                .query_one(&sql, &[&till.till_id, &json])
                .await
                .map_err(HqError::from)?
                .get(0);
            if differ > 0 {
                return Err(HqError::Diverged {
                    central,
                    local: local_last,
                }
                .into());
            }
        }
    }
    let tx = client.transaction().await.map_err(HqError::from)?;
    tx.execute(
        "INSERT INTO hq_tills (till_id, mode, mchid, sub_mchid, store_id, terminal_id)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (till_id) DO UPDATE SET store_id = excluded.store_id,
             terminal_id = excluded.terminal_id",
        &[
            &till.till_id,
            &till.mode,
            &till.mchid,
            &till.sub_mchid,
            &till.store_id,
            &till.terminal_id,
        ],
    )
    .await
    .map_err(HqError::from)?;
    let mut rows = 0;
    for table in schema::TABLES {
        let Some(list) = batch.rows.get(table.local) else {
            continue;
        };
        let json = serde_json::to_string(list)
            .map_err(|e| SyncError::Store(StoreError::Sql(e.to_string())))?;
        tx.execute(&table.upsert_sql(), &[&till.till_id, &json])
            .await
            .map_err(HqError::from)?;
        rows += list.len();
    }
    tx.execute(
        "UPDATE hq_tills SET shipped_seq = GREATEST(shipped_seq, $2), last_sync = now()
         WHERE till_id = $1",
        &[&till.till_id, &batch.last_seq],
    )
    .await
    .map_err(HqError::from)?;
    crate::failpoint::hit("sync.before_commit");
    tx.commit().await.map_err(HqError::from)?;
    crate::failpoint::hit("sync.after_commit");
    let last = batch.last_seq;
    store.call(move |c| outbox::ack(c, last)).await?;
    Ok((rows, batch.entries))
}

/// Ships batch after batch until the backlog is empty; `pause` between batches leaves the
/// log's writer to the payments (shipping never holds it for long).
pub async fn ship_all(
    store: &Store,
    client: &mut tokio_postgres::Client,
    till: &TillName,
    pause: Duration,
) -> Result<Shipped, SyncError> {
    schema::check(client).await?;
    let mut out = Shipped::default();
    loop {
        let (rows, entries) = ship_batch(store, client, till, BATCH).await?;
        if entries == 0 {
            break;
        }
        out.rows += rows;
        out.entries += entries;
        out.batches += 1;
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
    out.backlog = store.call(|c| outbox::backlog(c)).await?;
    Ok(out)
}

/// Connects and ships everything (`scanpay sync`, the screen's background shipper).
pub async fn sync_once(
    sync: &crate::config::Sync,
    store: &Store,
    till: &TillName,
) -> Result<Shipped, SyncError> {
    let mut client = hq::connect(sync).await?;
    ship_all(store, &mut client, till, Duration::ZERO).await
}

/// The lag in seconds at `now_ms`: how long the oldest row not yet acknowledged has waited (0
/// when nothing waits).
pub fn lag_secs(backlog: &Backlog, now_ms: i64) -> i64 {
    backlog
        .oldest_pending_at
        .map_or(0, |at| (now_ms - at).max(0) / 1000)
}
