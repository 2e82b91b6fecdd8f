//! Shifts: opening one, and closing it with a Z — settle what is in flight first; refuse while
//! orders are not settled, or close over them with a supervisor's approval; back the log up
//! at the Z (keeping [`super::Z_BACKUPS_KEPT`]); print the Z.

use std::path::PathBuf;

use super::receipts::{Printed, report_job};
use super::reports::Report;
use super::{DEMO_CASHIER, SupervisorPin, Till, TillError, Z_BACKUPS_KEPT};
use crate::engine::recovery::{Scope, recover};
use crate::store::backup::BackupError;
use crate::store::shifts::{self, Shift, Summary};

/// A shift closed with its Z.
#[derive(Debug)]
pub struct Closed {
    /// The shift, closed.
    pub shift: Shift,
    /// Its figures, as stored with the Z.
    pub summary: Summary,
    /// The Z report.
    pub report: Report,
    /// The automatic backup (a failure does not undo the close).
    pub backup: Result<PathBuf, BackupError>,
    /// The Z on paper (a failure does not undo the close).
    pub printed: Result<Printed, TillError>,
}

impl Till {
    /// The open shift, if any.
    pub async fn current_shift(&self) -> Result<Option<Shift>, TillError> {
        let terminal = self.terminal();
        Ok(self
            .store
            .call(move |c| shifts::current(c, &terminal))
            .await?)
    }

    /// The shift to sell in: the open one; the demo opens one for [`DEMO_CASHIER`] when there
    /// is none; `None` on a live till with no open shift.
    pub async fn selling_shift(&self) -> Result<Option<Shift>, TillError> {
        let terminal = self.terminal();
        let demo = self.is_demo();
        let now = self.clock.now_ms();
        Ok(self
            .store
            .call(move |c| match shifts::current(c, &terminal)? {
                Some(s) => Ok(Some(s)),
                None if demo => shifts::open(c, &terminal, DEMO_CASHIER, now).map(Some),
                None => Ok(None),
            })
            .await?)
    }

    /// Opens a shift for a cashier (refused while one is open).
    pub async fn open_shift(&self, cashier: &str) -> Result<Shift, TillError> {
        let terminal = self.terminal();
        let cashier = cashier.to_string();
        let now = self.clock.now_ms();
        Ok(self
            .store
            .call(move |c| shifts::open(c, &terminal, &cashier, now))
            .await?)
    }

    /// Closes the open shift with a Z. Orders in flight are settled first; a close over orders
    /// still not settled is refused unless `force` carries a supervisor's approval (they are
    /// then listed on the Z). The log is backed up and the Z printed; `actor` is who closes,
    /// for the audit log.
    pub async fn close_shift(
        &self,
        actor: &str,
        force: Option<&SupervisorPin>,
    ) -> Result<Closed, TillError> {
        recover(&self.engine, Scope::InFlight)
            .await
            .map_err(|e| TillError::Recovery(e.to_string()))?;
        let terminal = self.terminal();
        let actor = actor.to_string();
        let force = force.cloned();
        let now = self.clock.now_ms();
        let mode = self.cfg.wechatpay.mode;
        let sub_merchant = self.cfg.merchant.sub_merchant();
        let (shift, summary) = self
            .store
            .call(move |c| {
                if let Some(f) = &force
                    && let Err(e) = crate::supervisor::approve(
                        c,
                        &f.supervisor,
                        &f.pin,
                        "force_close",
                        &format!("shift on {terminal}"),
                        mode,
                        now,
                    )
                {
                    return Ok(Err(TillError::NotApproved(e)));
                }
                let by = force.as_ref().map(|f| f.supervisor.as_str());
                shifts::close_for(c, &terminal, &actor, now, by, sub_merchant).map(Ok)
            })
            .await??;
        let z = shift.z_number.unwrap_or(0);
        let backup = crate::store::backup::at_z_close(&self.cfg.data_dir, z, Z_BACKUPS_KEPT);
        if let Err(e) = &backup {
            tracing::error!(error = %e, "Z backup failed");
        }
        let report = Report::z(self.cfg.language, z, summary.clone());
        let printed = self.print(report_job(&self.cfg, &report, format!("z-{z:05}")));
        Ok(Closed {
            shift,
            summary,
            report,
            backup,
            printed,
        })
    }
}
