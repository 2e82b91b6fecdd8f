//! Connecting to the payment service a configuration names: the built-in simulator
//! (in-process, `mode = "simulator"`) or a live APIv3 endpoint (`mode = "live"`). Nothing
//! else differs between the two.

use crate::clock::SharedClock;
use crate::config::{Config, Mode};
use crate::sim::{self, SimHandle};
use crate::wechat::Client;
use crate::wechat::client::StartupError;

/// A client, and the in-process simulator behind it in simulator mode.
pub struct Connection {
    /// The APIv3 client.
    pub client: Client,
    /// The in-process simulator (simulator mode only); dropping it stops it.
    pub sim: Option<SimHandle>,
}

/// Connects as `cfg` says. Keys are loaded (or, for the simulator, generated) once, here.
pub async fn connect(cfg: &Config, clock: SharedClock) -> Result<Connection, StartupError> {
    match cfg.wechatpay.mode {
        Mode::Live => Ok(Connection {
            client: Client::from_config(cfg, clock)?,
            sim: None,
        }),
        Mode::Simulator => {
            let dir = cfg.data_dir.join("simulator");
            let (client, sim) = sim::connect_in_process_persistent(cfg, clock, &dir)
                .await
                .map_err(|e| StartupError::Http(format!("built-in simulator: {e}")))?;
            Ok(Connection {
                client,
                sim: Some(sim),
            })
        }
    }
}
