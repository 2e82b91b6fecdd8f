//! The shift log without the till: what works while another process sells — orders, export,
//! backup, supervisors, reconciliation, and a query of one order at WeChat Pay. (Reports and
//! reprints are in [`super::reports`] and [`super::receipts`].)

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::Connection;

use super::{SupervisorPin, Till, TillError, ident};
use crate::clock::{SharedClock, beijing};
use crate::config::{Config, Mode};
use crate::reconcile::{Reconciliation, fetch_and_compare};
use crate::store::orders::OrderRecord;
use crate::store::{self, Store, orders, refunds, shifts};
use crate::supervisor;

/// The shift log of a data folder, without the lock. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Books {
    cfg: Arc<Config>,
    clock: SharedClock,
}

impl Books {
    /// The books of a configuration's data folder.
    pub fn new(cfg: Config, clock: SharedClock) -> Books {
        Books {
            cfg: Arc::new(cfg),
            clock,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The clock.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    fn db_path(&self) -> PathBuf {
        self.cfg.data_dir.join(store::DB_FILE)
    }

    fn existing(&self) -> Result<PathBuf, TillError> {
        let path = self.db_path();
        if path.exists() {
            Ok(path)
        } else {
            Err(TillError::NoLog(path))
        }
    }

    /// A read-only connection (WAL readers never block the till), to a log that belongs to
    /// the configuration's mode and merchant ([`super::ident`]). A log with no identity yet
    /// adopts it first, through a writer.
    pub fn reader(&self) -> Result<Connection, TillError> {
        let path = self.existing()?;
        let open = || {
            store::open_reader(&path).map_err(|source| TillError::Open {
                path: path.clone(),
                source,
            })
        };
        let conn = open()?;
        if ident::check_recorded(&conn, &self.cfg)? {
            return Ok(conn);
        }
        drop(conn);
        drop(self.writer()?);
        open()
    }

    /// A writing connection to an existing log (audit entries), checked like [`Books::reader`].
    pub(crate) fn writer(&self) -> Result<Connection, TillError> {
        let path = self.existing()?;
        let conn =
            store::open_connection(&path).map_err(|source| TillError::Open { path, source })?;
        ident::check_and_record(&conn, &self.cfg)?;
        Ok(conn)
    }

    /// A writing connection, creating the log if needed (its identity recorded); the demo
    /// supervisor exists in simulator mode.
    fn created(&self) -> Result<Connection, TillError> {
        let dir = &self.cfg.data_dir;
        store::create_private_dir(dir).map_err(|source| TillError::Io {
            path: dir.clone(),
            source,
        })?;
        let path = self.db_path();
        let conn =
            store::open_connection(&path).map_err(|source| TillError::Open { path, source })?;
        ident::check_and_record(&conn, &self.cfg)?;
        if self.mode() == Mode::Simulator {
            supervisor::ensure_demo(&conn, self.clock.now_ms()).map_err(TillError::Supervisor)?;
        }
        Ok(conn)
    }

    fn mode(&self) -> Mode {
        self.cfg.wechatpay.mode
    }

    /// This shift's orders, or every order in the log.
    pub fn orders(&self, all: bool) -> Result<Vec<OrderRecord>, TillError> {
        let conn = self.reader()?;
        Ok(if all {
            orders::all(&conn)?
        } else {
            match shifts::current(&conn, &self.cfg.merchant.terminal_id)? {
                Some(s) => orders::for_shift(&conn, s.id)?,
                None => Vec::new(),
            }
        })
    }

    /// One order from the log, if there is a log and the order is in it.
    pub fn order(&self, out_trade_no: &str) -> Result<Option<OrderRecord>, TillError> {
        let conn = match self.reader() {
            Ok(c) => c,
            Err(TillError::NoLog(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(orders::by_out_trade_no(&conn, out_trade_no)?)
    }

    /// `supervisor init`: the first supervisor, only while no supervisor could approve
    /// anything (in simulator mode the demo supervisor can). Audited.
    pub fn supervisor_init(&self, id: &str, pin: &str) -> Result<(), TillError> {
        let mode = self.mode();
        supervisor::validate_id(id).map_err(TillError::Supervisor)?;
        supervisor::validate_new_pin(pin, mode).map_err(TillError::Supervisor)?;
        let conn = self.created()?;
        supervisor::init(&conn, id, pin, mode, self.clock.now_ms()).map_err(TillError::Supervisor)
    }

    /// A supervisor approves a change to the supervisors (`action`, about `id`).
    fn approve_change(
        &self,
        conn: &Connection,
        action: &str,
        id: &str,
        by: &SupervisorPin,
    ) -> Result<supervisor::Approval, TillError> {
        supervisor::approve(
            conn,
            &by.supervisor,
            &by.pin,
            action,
            &format!("supervisor '{id}'"),
            self.mode(),
            self.clock.now_ms(),
        )
        .map_err(TillError::NotApproved)
    }

    /// Audits a change the rules refused after a supervisor approved it, and hands the refusal
    /// on.
    fn refused_change(
        &self,
        conn: &Connection,
        ap: &supervisor::Approval,
        action: &str,
        id: &str,
        e: supervisor::SupervisorError,
    ) -> TillError {
        if e.is_refusal() {
            let text = format!("refused {action}: supervisor '{id}' — {e}");
            if let Err(a) = store::audit(conn, self.clock.now_ms(), &ap.supervisor, "refuse", &text)
            {
                tracing::error!(error = %a, "audit of a refused supervisor change failed");
            }
        }
        TillError::Supervisor(e)
    }

    /// `supervisor add`: a new supervisor, approved by an existing one. Audited.
    pub fn supervisor_add(&self, id: &str, pin: &str, by: &SupervisorPin) -> Result<(), TillError> {
        let mode = self.mode();
        supervisor::validate_id(id).map_err(TillError::Supervisor)?;
        supervisor::validate_new_pin(pin, mode).map_err(TillError::Supervisor)?;
        let conn = self.created()?;
        let ap = self.approve_change(&conn, "supervisor_add", id, by)?;
        supervisor::add(&conn, id, pin, &ap, mode, self.clock.now_ms())
            .map_err(|e| self.refused_change(&conn, &ap, "supervisor_add", id, e))
    }

    /// `supervisor pin`: a new PIN, approved by the supervisor's old PIN or by another
    /// supervisor. Audited.
    pub fn supervisor_pin(&self, id: &str, pin: &str, by: &SupervisorPin) -> Result<(), TillError> {
        let mode = self.mode();
        supervisor::validate_id(id).map_err(TillError::Supervisor)?;
        supervisor::validate_new_pin(pin, mode).map_err(TillError::Supervisor)?;
        let conn = self.created()?;
        let ap = self.approve_change(&conn, "supervisor_pin", id, by)?;
        supervisor::set_pin(&conn, id, pin, &ap, mode, self.clock.now_ms())
            .map_err(|e| self.refused_change(&conn, &ap, "supervisor_pin", id, e))
    }

    /// `supervisor enable` / `disable`, approved by a supervisor (the last enabled one stays).
    /// Audited.
    pub fn supervisor_set_enabled(
        &self,
        id: &str,
        enabled: bool,
        by: &SupervisorPin,
    ) -> Result<(), TillError> {
        supervisor::validate_id(id).map_err(TillError::Supervisor)?;
        let conn = self.created()?;
        let action = if enabled {
            "supervisor_enable"
        } else {
            "supervisor_disable"
        };
        let ap = self.approve_change(&conn, action, id, by)?;
        supervisor::set_enabled(&conn, id, enabled, &ap, self.mode(), self.clock.now_ms())
            .map_err(|e| self.refused_change(&conn, &ap, action, id, e))
    }

    /// `supervisor list`: ids, enabled, when added (never a hash). Empty without a log.
    pub fn supervisors(&self) -> Result<Vec<supervisor::Listed>, TillError> {
        let conn = match self.reader() {
            Ok(c) => c,
            Err(TillError::NoLog(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        supervisor::list(&conn).map_err(TillError::Supervisor)
    }

    /// SQLite's online backup of the log to `dest` (safe while the till runs); the pages
    /// copied. The copy is private (0600) from the start; an existing `dest` is refused unless
    /// `replace`, and the live log (or its -wal/-shm, under any name) always.
    pub fn backup(&self, dest: &Path, replace: bool) -> Result<i64, TillError> {
        let path = self.existing()?;
        let existing = if replace {
            store::backup::Existing::Replace
        } else {
            store::backup::Existing::Refuse
        };
        store::backup::to_file_with(&path, dest, existing).map_err(TillError::Backup)
    }

    /// Orders (or refunds) created between two Beijing days, both included, as CSV: CRLF line
    /// ends, quoted where needed, a byte-order mark first when `bom` (spreadsheets need it).
    /// Text fields go through `sanitize::csv_cell`: a cell never starts a formula and holds no
    /// control character.
    pub fn export(
        &self,
        from: &str,
        to: &str,
        refunds: bool,
        bom: bool,
    ) -> Result<String, TillError> {
        let (from_ms, to_ms) = (day_start(from)?, day_start(to)? + 24 * 3600 * 1000);
        if to_ms <= from_ms {
            return Err(TillError::Input("--to is before --from".into()));
        }
        let conn = self.reader()?;
        let mut out = String::new();
        if bom {
            out.push('\u{feff}');
        }
        let t = beijing::datetime;
        if refunds {
            out.push_str("out_refund_no,out_trade_no,created_at,amount,status,reason,approved_by,refund_id,shift\r\n");
            for r in refunds::between(&conn, from_ms, to_ms)? {
                out.push_str(&format!(
                    "{},{},{},{},{},{},{},{},{}\r\n",
                    csv(&r.out_refund_no),
                    csv(&r.out_trade_no),
                    t(r.created_at),
                    r.amount.to_yuan_string(),
                    r.status.as_str(),
                    csv(&r.reason),
                    csv(r.approved_by.as_deref().unwrap_or("")),
                    csv(r.refund_id.as_deref().unwrap_or("")),
                    r.shift_id
                ));
            }
        } else {
            out.push_str("out_trade_no,created_at,terminal,cashier,shift,amount,state,transaction_id,code,description,reason,party,sub_mchid\r\n");
            let ids: Vec<i64> = conn
                .prepare(
                    "SELECT id FROM orders WHERE created_at >= ?1 AND created_at < ?2 ORDER BY id",
                )
                .and_then(|mut stmt| {
                    stmt.query_map([from_ms, to_ms], |r| r.get(0))
                        .and_then(|rows| rows.collect())
                })
                .map_err(store::StoreError::from)?;
            for id in ids {
                let o = orders::by_id(&conn, id)?;
                out.push_str(&format!(
                    "{},{},{},{},{},{},{},{},{},{},{},{},{}\r\n",
                    csv(&o.out_trade_no),
                    t(o.created_at),
                    csv(&o.terminal_id),
                    csv(&o.cashier),
                    o.shift_id,
                    o.amount.to_yuan_string(),
                    o.state.as_str(),
                    csv(o.transaction_id.as_deref().unwrap_or("")),
                    csv(&o.code_masked),
                    csv(&o.description),
                    csv(o.reason_code.as_deref().unwrap_or("")),
                    o.party.as_str(),
                    csv(o.sub_mchid.as_deref().unwrap_or(""))
                ));
            }
        }
        Ok(out)
    }

    /// Reconciles a Beijing day (`YYYY-MM-DD`) against WeChat Pay's trade bill.
    pub async fn reconcile(&self, date: &str) -> Result<Reconciliation, TillError> {
        let dir = &self.cfg.data_dir;
        store::create_private_dir(dir).map_err(|source| TillError::Io {
            path: dir.clone(),
            source,
        })?;
        let st = Store::open(dir).map_err(|source| TillError::Open {
            path: self.db_path(),
            source,
        })?;
        let check = (*self.cfg).clone();
        st.call(move |c| Ok(ident::check_and_record(c, &check)))
            .await??;
        let conn = crate::connect::connect(&self.cfg, self.clock.clone()).await?;
        Ok(fetch_and_compare(
            &conn.client,
            &st,
            &self.cfg.merchant.mchid,
            &self.cfg.merchant.terminal_id,
            date,
        )
        .await?)
    }

    /// WeChat Pay's verified answer about an order (the local record is [`Books::order`]).
    pub async fn query_remote(
        &self,
        out_trade_no: &str,
    ) -> Result<Result<crate::wechat::model::Transaction, crate::wechat::ApiError>, TillError> {
        let conn = crate::connect::connect(&self.cfg, self.clock.clone()).await?;
        Ok(conn.client.query_by_out_trade_no(out_trade_no).await)
    }
}

impl Till {
    /// Reconciles a Beijing day (`YYYY-MM-DD`) with the till's own connection (the shift
    /// screen's F8).
    pub async fn reconcile(&self, date: &str) -> Result<Reconciliation, TillError> {
        Ok(fetch_and_compare(
            self.engine.client(),
            &self.store,
            &self.cfg.merchant.mchid,
            &self.cfg.merchant.terminal_id,
            date,
        )
        .await?)
    }
}

/// The start of a Beijing day, Unix ms.
fn day_start(d: &str) -> Result<i64, TillError> {
    let bad = || TillError::Input(format!("{d:?} is not a date (YYYY-MM-DD)"));
    let date: jiff::civil::Date = d.parse().map_err(|_| bad())?;
    let z = date
        .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(8)))
        .map_err(|e| TillError::Input(e.to_string()))?;
    Ok(z.timestamp().as_millisecond())
}

/// A CSV text field: quoted where needed, never a formula, no control characters
/// (`sanitize::csv_cell`).
fn csv(s: &str) -> String {
    crate::sanitize::csv_cell(s)
}
