//! Shipping the log to the head office, and the head office's own work (`scanpay sync`,
//! `scanpay hq …`, the cashier screen's background shipper). The shipper (`crate::sync`) and
//! the central side (`crate::hq`) do the work; this layer picks the store, the till's name and
//! the connections from the configuration.

use std::sync::Arc;
use std::time::Duration;

use super::{Books, Till, TillError, ident};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::hq::{self, reconcile::HqReconciliation, report::Report};
use crate::store::outbox::{self, Backlog};
use crate::store::{self, Store};
use crate::sync::{self, Shipped, TillName};

/// Where the till stands with the head office: the backlog and its lag at `now`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SyncStatus {
    /// The till's name at the head office.
    pub till: TillName,
    /// What this run shipped (`None`: nothing was tried).
    pub shipped: Option<Shipped>,
    /// The backlog now.
    pub backlog: Backlog,
    /// Seconds the oldest unshipped row has waited (0: none waits).
    pub lag_secs: i64,
}

/// The till's name at the head office: its data folder's till id and identity, and the
/// store and terminal it is configured as.
pub fn till_name(cfg: &Config, till_id: String) -> TillName {
    let id = ident::Identity::of(cfg);
    TillName {
        till_id,
        mode: id.mode,
        mchid: id.mchid,
        sub_mchid: id.sub_mchid,
        store_id: cfg.merchant.store_id.clone(),
        terminal_id: cfg.merchant.terminal_id.clone(),
    }
}

async fn ship(
    cfg: &Config,
    clock: &SharedClock,
    store: &Store,
    ship: bool,
) -> Result<SyncStatus, TillError> {
    let till_id = store.call(|c| outbox::till_id(c)).await?;
    let till = till_name(cfg, till_id);
    let shipped = if ship {
        Some(sync::sync_once(hq::settings(cfg)?, store, &till).await?)
    } else {
        None
    };
    let backlog = store.call(|c| outbox::backlog(c)).await?;
    Ok(SyncStatus {
        lag_secs: sync::lag_secs(&backlog, clock.now_ms()),
        till,
        shipped,
        backlog,
    })
}

impl Books {
    fn sync_store(&self) -> Result<Store, TillError> {
        let dir = &self.config().data_dir;
        let path = dir.join(store::DB_FILE);
        if !path.exists() {
            return Err(TillError::NoLog(path));
        }
        let st = Store::open(dir).map_err(|source| TillError::Open { path, source })?;
        Ok(st)
    }

    /// Ships everything not yet acknowledged (`scanpay sync`; safe while the screen runs,
    /// and while another shipper runs); `ship = false` only reports the backlog.
    pub async fn sync(&self, ship_now: bool) -> Result<SyncStatus, TillError> {
        let st = self.sync_store()?;
        let check = self.config().clone();
        st.call(move |c| Ok(ident::check_and_record(c, &check)))
            .await??;
        ship(self.config(), self.clock(), &st, ship_now).await
    }
}

impl Till {
    /// Ships everything not yet acknowledged, through the till's own store (the screen's
    /// background shipper; payments go on meanwhile).
    pub async fn sync(&self) -> Result<SyncStatus, TillError> {
        ship(&self.cfg, &self.clock, &self.store, true).await
    }

    /// The backlog, without shipping.
    pub async fn sync_backlog(&self) -> Result<Backlog, TillError> {
        Ok(self.store.call(|c| outbox::backlog(c)).await?)
    }

    /// The seconds between two background shipments, when `[sync]` is configured.
    pub fn sync_interval(&self) -> Option<Duration> {
        self.cfg
            .sync
            .as_ref()
            .map(|s| Duration::from_secs(s.interval_secs))
    }
}

/// The head office's side: its configuration holds the merchant's keys and `[sync]`, no till.
#[derive(Clone, Debug)]
pub struct HeadOffice {
    cfg: Arc<Config>,
    clock: SharedClock,
}

impl HeadOffice {
    /// The head office of a configuration.
    pub fn new(cfg: Config, clock: SharedClock) -> HeadOffice {
        HeadOffice {
            cfg: Arc::new(cfg),
            clock,
        }
    }

    async fn client(&self) -> Result<tokio_postgres::Client, TillError> {
        Ok(hq::connect(hq::settings(&self.cfg)?).await?)
    }

    /// Creates or migrates the central schema: `(version before, after)`.
    pub async fn init(&self) -> Result<(i32, i32), TillError> {
        let mut client = self.client().await?;
        Ok(hq::schema::init(&mut client).await?)
    }

    /// The day's report over all stores (or one).
    pub async fn report(&self, date: &str, store: Option<&str>) -> Result<Report, TillError> {
        let client = self.client().await?;
        Ok(hq::report::report(&client, date, store).await?)
    }

    /// The merchant's bill of the day against every till's shipped orders.
    pub async fn reconcile(&self, date: &str) -> Result<HqReconciliation, TillError> {
        let client = self.client().await?;
        let mchid = self.cfg.merchant.mchid.clone();
        let sub = self.cfg.merchant.sub_mchid.as_deref();
        let (orders, refunds, tills) = hq::reconcile::load_day(&client, date, &mchid, sub).await?;
        let conn = crate::connect::connect(&self.cfg, self.clock.clone()).await?;
        let bill = crate::reconcile::fetch_bill(&conn.client, date).await?;
        Ok(hq::reconcile::compare(
            date, &mchid, &bill, &orders, &refunds, tills,
        ))
    }
}
