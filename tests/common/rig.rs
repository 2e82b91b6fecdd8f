//! The in-process rig: the embedded demo configuration, the simulator of
//! `scanpay::sim::connect_in_process` on loopback, a real SQLite shift log in a temporary
//! folder, an open shift and an `Engine`, on tokio's clock (run the tests with
//! `#[tokio::test(start_paused = true)]` so the simulator's seconds pass instantly).

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

use super::fixtures::{CASHIER, DESCRIPTION, TERMINAL, code};

pub struct Rig {
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

/// The rig, with a shift open. Call it inside a tokio test.
pub async fn rig() -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::load_from(Source::EmbeddedDemo).unwrap();
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

    /// The local state agrees with the simulator: charged there exactly when charged here.
    pub fn agrees(&self, o: &OrderRecord) {
        assert_eq!(
            self.charged(&o.out_trade_no),
            o.state.is_charged(),
            "{} {:?}",
            o.out_trade_no,
            o.state
        );
    }
}
