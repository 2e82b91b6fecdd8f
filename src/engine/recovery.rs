//! Start-up recovery: every order the log says is still in flight is resumed by the same
//! rules, from where the log says it was. Never a second pay call: a resumed order only
//! queries and reverses.

use tokio::task::JoinSet;

use super::driver::requests::{api_of, same_api};
use super::driver::{Engine, EngineError, Progress};
use super::micropay::Event;
use crate::store::orders::{self, OrderRecord};

/// Which orders to settle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// PENDING and USERPAYING orders (every start).
    InFlight,
    /// Those, and UNRESOLVED orders too (`scanpay recover`, a person asking).
    InFlightAndUnresolved,
}

/// The orders to settle now, with the event that restarts each.
pub async fn pending(
    engine: &Engine,
    scope: Scope,
) -> Result<Vec<(OrderRecord, Event)>, EngineError> {
    Ok(engine
        .store()
        .call(move |c| {
            let mut v: Vec<(OrderRecord, Event)> = orders::in_flight(c)?
                .into_iter()
                .map(|o| (o, Event::Resume))
                .collect();
            if scope == Scope::InFlightAndUnresolved {
                v.extend(
                    orders::unresolved(c)?
                        .into_iter()
                        .map(|o| (o, Event::Retry)),
                );
            }
            Ok(v)
        })
        .await?
        .into_iter()
        // Made over the other API: left as it is ([`other_api`] lists them).
        .filter(|(o, _)| o.protocol == api_of(engine.client()))
        .collect())
}

/// Orders in flight or unresolved that were made over the other WeChat Pay API than the one
/// configured: recovery leaves them as they are (they are never queried over the wrong API),
/// and `recover`, `check` and the screen name them with the `api` that settles them
/// ([`crate::order::Refusal::OtherApi`]).
pub async fn other_api(engine: &Engine) -> Result<Vec<crate::order::Refusal>, EngineError> {
    let client = engine.client().clone();
    Ok(engine
        .store()
        .call(|c| {
            let mut v = orders::in_flight(c)?;
            v.extend(orders::unresolved(c)?);
            Ok(v)
        })
        .await?
        .iter()
        .filter_map(|o| same_api(o, &client).err())
        .collect())
}

/// Settles the given orders concurrently and returns them in their final state. Take the
/// list with [`pending`] *before* starting new sales, so a new sale is never also "recovered".
pub async fn settle(
    engine: &Engine,
    todo: Vec<(OrderRecord, Event)>,
) -> Result<Vec<OrderRecord>, EngineError> {
    let mut set = JoinSet::new();
    for (order, event) in todo {
        let engine = engine.clone();
        set.spawn(async move {
            tracing::info!(out_trade_no = %order.out_trade_no, state = %order.state, "recovering");
            let mut quiet = |_: &Progress| {};
            engine.drive(order, event, None, &mut quiet, None).await
        });
    }
    let mut done = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(result) => done.push(result?),
            Err(e) => return Err(EngineError::Task(format!("recovery task failed: {e}"))),
        }
    }
    done.sort_by_key(|o| o.id);
    Ok(done)
}

/// Settles the orders in `scope` ([`pending`] then [`settle`]).
pub async fn recover(engine: &Engine, scope: Scope) -> Result<Vec<OrderRecord>, EngineError> {
    let todo = pending(engine, scope).await?;
    settle(engine, todo).await
}

/// Resumes every refund the log shows in flight (CREATED or PROCESSING), waiting at most
/// `max_wait` for each; returns them as they stand.
pub async fn recover_refunds(
    engine: &Engine,
    max_wait: Option<std::time::Duration>,
) -> Result<Vec<crate::store::refunds::RefundRecord>, EngineError> {
    let client = engine.client().clone();
    let todo = engine
        .store()
        .call(move |c| {
            // A refund follows its order's API: one of an order made over the other API waits.
            let mut todo = Vec::new();
            for r in crate::store::refunds::in_flight(c)? {
                match orders::by_out_trade_no(c, &r.out_trade_no)? {
                    Some(o) if same_api(&o, &client).is_err() => {}
                    _ => todo.push(r),
                }
            }
            Ok(todo)
        })
        .await?;
    let mut set = JoinSet::new();
    for r in todo {
        let engine = engine.clone();
        set.spawn(async move {
            engine
                .drive_refund(r, super::refund::RefundEvent::Resume, max_wait)
                .await
        });
    }
    let mut done = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(result) => done.push(result?),
            Err(e) => {
                return Err(EngineError::Task(format!(
                    "refund recovery task failed: {e}"
                )));
            }
        }
    }
    done.sort_by_key(|r| r.id);
    Ok(done)
}
