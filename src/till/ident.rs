//! Whose data folder this is: a data folder belongs to one mode (simulator or live) and one
//! merchant for life. The identity is recorded in the shift log's `meta` table when the log is
//! created, and checked every time the log is opened for selling or reading ([`super::Till`],
//! [`super::Books`]). Another mode or merchant id is refused, naming both.
//!
//! A log written before identities were recorded adopts the configuration's identity on first
//! open — unless the folder shows simulator use (its `simulator/` folder, or the demo
//! supervisor) and the configuration is live (a demo or training folder never becomes live),
//! or it holds sales the simulator never saw and the configuration is the simulator (a live
//! folder never gets training sales).
//!
//! [`decide`] is the one place that says which identity is acceptable; the store only persists
//! the recorded text (`store::identity`, `store::record_identity`).

use std::fmt;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::config::{Config, Mode};
use crate::store::{self, StoreError};
use crate::supervisor;

/// The simulator's folder inside a data folder (made by `connect` in simulator mode).
pub const SIMULATOR_DIR: &str = "simulator";

/// Who a data folder belongs to: the payment service's mode and the merchant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// `simulator` or `live`.
    pub mode: String,
    /// The merchant id (商户号): a direct merchant's own, or the service provider's.
    pub mchid: String,
    /// The sub-merchant (特约商户) a service provider's till charges for
    /// (`merchant.sub_mchid`); `None` for a directly connected merchant. A folder of one
    /// sub-merchant is never opened for another, nor for the provider's direct business.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_mchid: Option<String>,
}

impl Identity {
    /// The identity a configuration asks for.
    pub fn of(cfg: &Config) -> Identity {
        Identity {
            mode: mode_word(cfg.wechatpay.mode).to_string(),
            mchid: cfg.merchant.mchid.clone(),
            sub_mchid: cfg.merchant.sub_mchid.clone(),
        }
    }

    fn is_live(&self) -> bool {
        self.mode == mode_word(Mode::Live)
    }

    fn is_simulator(&self) -> bool {
        self.mode == mode_word(Mode::Simulator)
    }

    /// As recorded in the log (JSON).
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// From the log's text.
    pub fn from_text(text: &str) -> Result<Identity, IdentityError> {
        serde_json::from_str(text).map_err(|e| IdentityError::Unreadable(e.to_string()))
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.sub_mchid {
            None => write!(f, "{} merchant {}", self.mode, self.mchid),
            Some(sub) => write!(
                f,
                "{} service provider {} for sub-merchant {sub}",
                self.mode, self.mchid
            ),
        }
    }
}

fn mode_word(mode: Mode) -> &'static str {
    match mode {
        Mode::Simulator => "simulator",
        Mode::Live => "live",
    }
}

/// What a log without a recorded identity shows of its past.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// The data folder has a `simulator/` folder.
    pub simulator_dir: bool,
    /// The log has the demo supervisor.
    pub demo_supervisor: bool,
    /// The log has orders.
    pub orders: bool,
}

/// Why a data folder is not opened with this configuration.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The recorded identity is another one.
    #[error(
        "this data folder belongs to {found}; the configuration is {wanted} — use another data_dir (data folder {dir})"
    )]
    Mismatch {
        /// The data folder.
        dir: PathBuf,
        /// Recorded in it.
        found: Box<Identity>,
        /// Asked for by the configuration.
        wanted: Box<Identity>,
    },
    /// A folder of an earlier version that the simulator used, opened live.
    #[error(
        "this data folder was used by the simulator ({sign}); the configuration is {wanted} — a demo or training folder never becomes live: use another data_dir (data folder {dir})"
    )]
    SimulatorFolder {
        /// The data folder.
        dir: PathBuf,
        /// What shows it (the `simulator/` folder, the demo supervisor).
        sign: String,
        /// Asked for by the configuration.
        wanted: Box<Identity>,
    },
    /// A folder of an earlier version with sales and no sign of the simulator, opened with the
    /// simulator.
    #[error(
        "this data folder holds sales made live (it has orders and the simulator never ran in it); the configuration is {wanted} — training never writes into a live folder: use another data_dir (data folder {dir})"
    )]
    LiveFolder {
        /// The data folder.
        dir: PathBuf,
        /// Asked for by the configuration.
        wanted: Box<Identity>,
    },
    /// The recorded identity cannot be read.
    #[error("the identity recorded in this data folder cannot be read ({0})")]
    Unreadable(String),
    /// The shift log failed while checking.
    #[error("shift log: {0}")]
    Store(#[from] StoreError),
}

/// What to do with a log's identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The recorded identity is the configuration's.
    Matches,
    /// Nothing recorded (a new log, or one of an earlier version): record the configuration's.
    Adopt,
}

/// The one rule: may a log with `recorded` identity (and, when none is recorded, this
/// `history`) be opened by a configuration asking for `wanted`?
pub fn decide(
    dir: &Path,
    recorded: Option<&Identity>,
    wanted: &Identity,
    history: &History,
) -> Result<Verdict, IdentityError> {
    match recorded {
        Some(found) if found == wanted => Ok(Verdict::Matches),
        Some(found) => Err(IdentityError::Mismatch {
            dir: dir.to_path_buf(),
            found: Box::new(found.clone()),
            wanted: Box::new(wanted.clone()),
        }),
        None if wanted.is_live() && (history.simulator_dir || history.demo_supervisor) => {
            let mut signs = Vec::new();
            if history.simulator_dir {
                signs.push(format!("it has a {SIMULATOR_DIR}/ folder"));
            }
            if history.demo_supervisor {
                signs.push("it has the demo supervisor".to_string());
            }
            Err(IdentityError::SimulatorFolder {
                dir: dir.to_path_buf(),
                sign: signs.join(", "),
                wanted: Box::new(wanted.clone()),
            })
        }
        None if wanted.is_simulator()
            && history.orders
            && !history.simulator_dir
            && !history.demo_supervisor =>
        {
            Err(IdentityError::LiveFolder {
                dir: dir.to_path_buf(),
                wanted: Box::new(wanted.clone()),
            })
        }
        None => Ok(Verdict::Adopt),
    }
}

/// What the data folder `dir` and its log `conn` show of their past.
fn history(conn: &Connection, dir: &Path) -> Result<History, IdentityError> {
    Ok(History {
        simulator_dir: dir.join(SIMULATOR_DIR).exists(),
        demo_supervisor: supervisor::has_demo(conn).map_err(|e| StoreError::Sql(e.to_string()))?,
        orders: store::has_orders(conn)?,
    })
}

/// The recorded identity, if any.
fn recorded(conn: &Connection) -> Result<Option<Identity>, IdentityError> {
    store::identity(conn)?
        .map(|t| Identity::from_text(&t))
        .transpose()
}

/// Checks a writable (migrated) log against the configuration, recording the configuration's
/// identity when none is recorded and [`decide`] allows it. Call it before anything else is
/// written or started (the simulator, the demo supervisor).
pub fn check_and_record(conn: &Connection, cfg: &Config) -> Result<(), IdentityError> {
    let wanted = Identity::of(cfg);
    let dir = &cfg.data_dir;
    let found = recorded(conn)?;
    let past = match found {
        Some(_) => History::default(),
        None => history(conn, dir)?,
    };
    match decide(dir, found.as_ref(), &wanted, &past)? {
        Verdict::Matches => Ok(()),
        Verdict::Adopt => {
            // Another process may have recorded one meanwhile: check what is recorded now.
            let now = Identity::from_text(&store::record_identity(conn, &wanted.to_text())?)?;
            decide(dir, Some(&now), &wanted, &History::default()).map(|_| ())
        }
    }
}

/// Checks a read-only connection: `Ok(true)` when the recorded identity is the
/// configuration's, `Ok(false)` when none is recorded yet (then open a writer and call
/// [`check_and_record`]), an error when it is another.
pub fn check_recorded(conn: &Connection, cfg: &Config) -> Result<bool, IdentityError> {
    let wanted = Identity::of(cfg);
    match recorded(conn)? {
        None => Ok(false),
        Some(found) => {
            decide(&cfg.data_dir, Some(&found), &wanted, &History::default()).map(|_| true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(mode: &str, mchid: &str) -> Identity {
        Identity {
            mode: mode.into(),
            mchid: mchid.into(),
            sub_mchid: None,
        }
    }

    const DIR: &str = "/shop/scanpay-data";

    fn decide_(
        recorded: Option<&Identity>,
        wanted: &Identity,
        h: &History,
    ) -> Result<Verdict, IdentityError> {
        decide(Path::new(DIR), recorded, wanted, h)
    }

    #[test]
    fn the_recorded_identity_must_be_the_configurations() {
        let live = id("live", "1900000001");
        let sim = id("simulator", "1900000001");
        let other = id("live", "1900000002");
        let none = History::default();
        assert_eq!(
            decide_(Some(&live), &live, &none).unwrap(),
            Verdict::Matches
        );
        let e = decide_(Some(&sim), &live, &none).unwrap_err().to_string();
        assert_eq!(
            e,
            "this data folder belongs to simulator merchant 1900000001; the configuration is \
             live merchant 1900000001 — use another data_dir (data folder /shop/scanpay-data)"
        );
        let e = decide_(Some(&live), &sim, &none).unwrap_err().to_string();
        assert!(e.contains("belongs to live merchant 1900000001; the configuration is simulator"));
        let e = decide_(Some(&live), &other, &none).unwrap_err().to_string();
        assert!(e.contains("live merchant 1900000001") && e.contains("live merchant 1900000002"));
        // A sub-merchant is part of the identity.
        let sub = Identity {
            sub_mchid: Some("1900000109".into()),
            ..live.clone()
        };
        let e = decide_(Some(&live), &sub, &none).unwrap_err().to_string();
        assert!(
            e.contains("live merchant 1900000001; the configuration is live service provider 1900000001 for sub-merchant 1900000109"),
            "{e}"
        );
        // History does not matter once an identity is recorded.
        let used = History {
            simulator_dir: true,
            demo_supervisor: true,
            orders: true,
        };
        assert_eq!(
            decide_(Some(&live), &live, &used).unwrap(),
            Verdict::Matches
        );
    }

    #[test]
    fn a_log_without_identity_adopts_unless_its_past_says_otherwise() {
        let live = id("live", "1900000001");
        let sim = id("simulator", "1900000001");
        let fresh = History::default();
        assert_eq!(decide_(None, &live, &fresh).unwrap(), Verdict::Adopt);
        assert_eq!(decide_(None, &sim, &fresh).unwrap(), Verdict::Adopt);
        for h in [
            History {
                simulator_dir: true,
                ..fresh.clone()
            },
            History {
                demo_supervisor: true,
                orders: true,
                ..fresh.clone()
            },
        ] {
            assert_eq!(decide_(None, &sim, &h).unwrap(), Verdict::Adopt);
            let e = decide_(None, &live, &h).unwrap_err();
            assert!(
                matches!(e, IdentityError::SimulatorFolder { .. }),
                "{h:?}: {e}"
            );
            assert!(e.to_string().contains("never becomes live"), "{e}");
        }
        let live_sales = History {
            orders: true,
            ..fresh
        };
        assert_eq!(decide_(None, &live, &live_sales).unwrap(), Verdict::Adopt);
        let e = decide_(None, &sim, &live_sales).unwrap_err();
        assert!(matches!(e, IdentityError::LiveFolder { .. }), "{e}");
    }

    #[test]
    fn the_recorded_text_round_trips_and_leaves_room_for_a_sub_merchant() {
        let live = id("live", "1900000001");
        assert_eq!(live.to_text(), r#"{"mode":"live","mchid":"1900000001"}"#);
        assert_eq!(Identity::from_text(&live.to_text()).unwrap(), live);
        let sp = Identity::from_text(
            r#"{"mode":"service_provider","mchid":"1900000001","sub_mchid":"1900000109"}"#,
        )
        .unwrap();
        assert_eq!(
            sp.to_string(),
            "service_provider service provider 1900000001 for sub-merchant 1900000109"
        );
        assert!(matches!(
            Identity::from_text("live"),
            Err(IdentityError::Unreadable(_))
        ));
    }

    #[test]
    fn check_and_record_on_a_log() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg =
            crate::config::Config::load_from(crate::config::Source::EmbeddedDemo).unwrap();
        cfg.data_dir = dir.path().to_path_buf();
        let conn = store::open_connection(&dir.path().join(store::DB_FILE)).unwrap();
        assert!(!check_recorded(&conn, &cfg).unwrap());
        check_and_record(&conn, &cfg).unwrap();
        assert!(check_recorded(&conn, &cfg).unwrap());
        check_and_record(&conn, &cfg).unwrap();
        cfg.merchant.mchid = "1900000002".into();
        assert!(matches!(
            check_and_record(&conn, &cfg),
            Err(IdentityError::Mismatch { .. })
        ));
        assert!(matches!(
            check_recorded(&conn, &cfg),
            Err(IdentityError::Mismatch { .. })
        ));
    }

    #[test]
    fn a_folder_of_one_sub_merchant_refuses_another() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg =
            crate::config::Config::load_from(crate::config::Source::EmbeddedDemo).unwrap();
        cfg.data_dir = dir.path().to_path_buf();
        cfg.merchant.sub_mchid = Some("1900000109".into());
        let conn = store::open_connection(&dir.path().join(store::DB_FILE)).unwrap();
        check_and_record(&conn, &cfg).unwrap();
        let text = store::identity(&conn).unwrap().unwrap();
        assert!(text.contains(r#""sub_mchid":"1900000109""#), "{text}");
        // The sub-merchant's AppID is not part of whose folder it is.
        cfg.merchant.sub_appid = Some("wx8888888888888888".into());
        assert!(check_recorded(&conn, &cfg).unwrap());
        cfg.merchant.sub_mchid = Some("1900000110".into());
        let e = check_and_record(&conn, &cfg).unwrap_err();
        assert!(matches!(e, IdentityError::Mismatch { .. }), "{e}");
        assert!(
            e.to_string().contains("sub-merchant 1900000109")
                && e.to_string().contains("sub-merchant 1900000110"),
            "{e}"
        );
        assert!(matches!(
            check_recorded(&conn, &cfg),
            Err(IdentityError::Mismatch { .. })
        ));
        // Nor is it the service provider's own (direct) folder.
        cfg.merchant.sub_mchid = None;
        assert!(matches!(
            check_and_record(&conn, &cfg),
            Err(IdentityError::Mismatch { .. })
        ));
    }
}
