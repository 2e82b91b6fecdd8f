//! The in-process rig: the embedded demo configuration, the simulator of
//! `scanpay::sim::connect_in_process` on loopback, a real SQLite shift log in a temporary
//! folder, an open shift and an `Engine`, on tokio's clock (run the tests with
//! `#[tokio::test(start_paused = true)]` so the simulator's seconds pass instantly).
//!
//! Every mode: [`rig()`] is a directly connected merchant's till; [`rig_in`]`(Mode::Partner)`
//! is the same demo with `merchant.sub_mchid` added — a service provider's sub-merchant, the
//! simulator then a service provider knowing [`SUB_MCHID`] and [`OTHER_SUB_MCHID`];
//! [`rig_in`]`(Mode::V2)` is the demo with `wechatpay.api = "v2"` (the simulator's HTTPS APIv2 face).

use std::sync::Arc;

use scanpay::auth_code::AuthCode;
use scanpay::clock::{SharedClock, TokioClock};
use scanpay::config::{Config, Source};
use scanpay::engine::{Engine, OrderState, Progress, Sale};
use scanpay::money::Fen;
use scanpay::sim::{SimHandle, connect_in_process};
use scanpay::store::orders::{self, OrderRecord};
use scanpay::store::{Store, shifts};
use scanpay::wechat::Client;

use super::config;
use super::fixtures::{CASHIER, DESCRIPTION, TERMINAL, code};

/// Whom the till charges for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A directly connected merchant (the demo as it ships).
    Direct,
    /// A service provider's sub-merchant ([`SUB_MCHID`]).
    Partner,
    /// A directly connected merchant on APIv2 (XML, key-signed; the simulator's HTTPS face).
    V2,
}

/// Every mode, for tests that run in each.
pub const MODES: [Mode; 3] = [Mode::Direct, Mode::Partner, Mode::V2];

/// The sub-merchant a partner-mode till charges for.
pub const SUB_MCHID: &str = "1900000109";
/// Another sub-merchant of the same service provider.
pub const OTHER_SUB_MCHID: &str = "1900000110";

/// Runs test functions taking a [`Mode`] once per mode, as `direct::NAME` and
/// `partner::NAME`, without copying them (one invocation per test file):
/// `both_modes!(async #[tokio::test(start_paused = true)] name_a, name_b; sync name_c);`
/// (`async` functions under the given test attribute, `sync` ones under `#[test]`; either
/// part may be left out).
#[allow(unused_macros)]
macro_rules! both_modes {
    ($(async #[$attr:meta] $($a:ident),+ $(,)?)? $(;)? $(sync $($s:ident),+ $(,)?)?) => {
        mod direct {
            $( $( #[$attr] async fn $a() { super::$a(crate::common::rig::Mode::Direct).await } )+ )?
            $( $( #[test] fn $s() { super::$s(crate::common::rig::Mode::Direct) } )+ )?
        }
        mod partner {
            $( $( #[$attr] async fn $a() { super::$a(crate::common::rig::Mode::Partner).await } )+ )?
            $( $( #[test] fn $s() { super::$s(crate::common::rig::Mode::Partner) } )+ )?
        }
        mod v2 {
            $( $( #[$attr] async fn $a() { super::$a(crate::common::rig::Mode::V2).await } )+ )?
            $( $( #[test] fn $s() { super::$s(crate::common::rig::Mode::V2) } )+ )?
        }
    };
}
#[allow(unused_imports)]
pub(crate) use both_modes;

/// The embedded demo configuration in `mode` (through the TOML parser and the program's
/// checks): partner mode adds `merchant.sub_mchid`, nothing else.
pub fn demo_config(mode: Mode) -> Config {
    match mode {
        Mode::Direct => Config::load_from(Source::EmbeddedDemo).unwrap(),
        Mode::Partner => {
            let mut t = config::demo();
            config::insert(&mut t, "merchant.sub_mchid", SUB_MCHID);
            config::load(&t, std::path::Path::new("/nonexistent/scanpay.toml")).unwrap()
        }
        Mode::V2 => {
            let mut t = config::demo();
            config::insert(&mut t, "wechatpay.api", "v2");
            config::load(&t, std::path::Path::new("/nonexistent/scanpay.toml")).unwrap()
        }
    }
}

pub struct Rig {
    /// Direct merchant or a service provider's sub-merchant.
    pub mode: Mode,
    pub cfg: Config,
    pub engine: Engine,
    /// The client the engine uses (for calls made around the engine).
    pub client: Client,
    pub store: Store,
    pub clock: SharedClock,
    pub sim: SimHandle,
    /// The shift opened at set-up, on `TERMINAL` by `CASHIER`.
    pub shift: i64,
    /// The data folder: the shift log is `dir/scanpay.db`.
    pub dir: tempfile::TempDir,
}

/// The rig of a direct merchant, with a shift open. Call it inside a tokio test.
pub async fn rig() -> Rig {
    rig_in(Mode::Direct).await
}

/// The rig in `mode`, with a shift open.
pub async fn rig_in(mode: Mode) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let cfg = demo_config(mode);
    let clock: SharedClock = Arc::new(TokioClock::new());
    let (client, sim) = connect_in_process(&cfg, clock.clone()).await.unwrap();
    let store = Store::open_inline(dir.path()).unwrap();
    let now = clock.now_ms();
    let shift = store
        .call(move |c| shifts::open(c, TERMINAL, CASHIER, now))
        .await
        .unwrap()
        .id;
    let engine = Engine::new(&cfg, client.clone(), store.clone(), clock.clone());
    Rig {
        mode,
        cfg,
        engine,
        client,
        store,
        clock,
        sim,
        shift,
        dir,
    }
}

impl Rig {
    /// A sale in the rig's shift with an explicit payment code.
    pub fn sale_with_code(&self, code: &str, fen: i64) -> Sale {
        Sale {
            amount: Fen(fen),
            description: DESCRIPTION.into(),
            code: AuthCode::parse(code).unwrap(),
            shift_id: self.shift,
            cashier: CASHIER.into(),
        }
    }

    /// A sale whose code ends in `suffix`: the simulator's scripted customer for that suffix
    /// (see `fixtures::customer`; any other suffix pays at once).
    pub fn sale(&self, suffix: &str, fen: i64) -> Sale {
        self.sale_with_code(&code(suffix), fen)
    }

    /// Takes a payment, collecting the progress the engine reports.
    pub async fn pay_sale(&self, sale: &Sale) -> (OrderRecord, Vec<Progress>) {
        let mut seen = Vec::new();
        let mut on = |p: &Progress| seen.push(p.clone());
        let o = self.engine.pay(sale, &mut on, None).await.unwrap();
        (o, seen)
    }

    /// Takes a payment of `fen` from the customer `suffix`, whatever its outcome.
    pub async fn pay(&self, suffix: &str, fen: i64) -> OrderRecord {
        self.pay_sale(&self.sale(suffix, fen)).await.0
    }

    /// Takes a payment that must end PAID; returns its `out_trade_no`.
    pub async fn paid(&self, suffix: &str, fen: i64) -> String {
        let o = self.pay(suffix, fen).await;
        assert_eq!(o.state, OrderState::Paid, "{}", o.out_trade_no);
        o.out_trade_no
    }

    /// Every order of the log.
    pub async fn orders(&self) -> Vec<OrderRecord> {
        self.store.call(|c| orders::all(c)).await.unwrap()
    }

    /// An order's state in the log.
    pub async fn order_state(&self, out_trade_no: &str) -> OrderState {
        let no = out_trade_no.to_string();
        self.store
            .call(move |c| Ok(orders::by_out_trade_no(c, &no)?.unwrap().state))
            .await
            .unwrap()
    }

    /// The kinds of an order's events, oldest first.
    pub async fn kinds(&self, order_id: i64) -> Vec<String> {
        self.store
            .call(move |c| orders::events(c, order_id))
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind.as_str().to_string())
            .collect()
    }

    /// Whether the simulator has the order as charged now.
    pub fn charged(&self, out_trade_no: &str) -> bool {
        self.sim
            .ledger(|l| l.order(out_trade_no).is_some_and(|x| x.is_charged()))
    }

    /// The sub-merchant whose books the rig's orders are in (`None`: a direct merchant).
    pub fn owner(&self) -> Option<&'static str> {
        match self.mode {
            Mode::Direct | Mode::V2 => None,
            Mode::Partner => Some(SUB_MCHID),
        }
    }

    /// The local state agrees with the simulator: charged there exactly when charged here,
    /// and the simulator's order (if it has one) is in the books of the rig's merchant — in
    /// partner mode, the sub-merchant's, placed on the partner path.
    pub fn agrees(&self, o: &OrderRecord) {
        let owner = self.owner();
        if let Some(sub) = self
            .sim
            .ledger(|l| l.order(&o.out_trade_no).map(|x| x.sub_mchid.clone()))
        {
            assert_eq!(sub.as_deref(), owner, "{}: whose order", o.out_trade_no);
        }
        assert_eq!(
            self.charged(&o.out_trade_no),
            o.state.is_charged(),
            "{} {:?}",
            o.out_trade_no,
            o.state
        );
    }
}
