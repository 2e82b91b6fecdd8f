//! Selling: one payment with progress and the cashier's cancel, retrying an order that needs
//! attention, this shift's orders, and what to tell the cashier about an order.

use tokio::sync::watch;

use super::{Till, TillError};
use crate::config::Language;
use crate::engine::micropay::Event;
use crate::engine::{Progress, Sale};
use crate::store::orders::{self, OrderRecord};
use crate::store::shifts;

impl Till {
    /// Charges a sale and drives it to its end: the one pay call, then queries and reverses
    /// as the rules say. `cancel` turning true is the cashier's cancel (a reverse).
    /// [`TillError::Refused`]: refused before anything was sent; [`TillError::Store`]: the
    /// bookkeeping failed after the order was written (it settles at the next start).
    pub async fn pay(
        &self,
        sale: &Sale,
        on_progress: &mut (dyn FnMut(&Progress) + Send),
        cancel: Option<watch::Receiver<bool>>,
    ) -> Result<OrderRecord, TillError> {
        Ok(self.engine.pay(sale, on_progress, cancel).await?)
    }

    /// Settles an order again (a person asked: an order that needs attention).
    pub async fn retry(&self, order_id: i64) -> Result<OrderRecord, TillError> {
        let order = self.store.call(move |c| orders::by_id(c, order_id)).await?;
        let mut quiet = |_: &Progress| {};
        Ok(self
            .engine
            .drive(order, Event::Retry, None, &mut quiet, None)
            .await?)
    }

    /// The open shift's orders (none when no shift is open).
    pub async fn history(&self) -> Result<Vec<OrderRecord>, TillError> {
        let terminal = self.terminal();
        Ok(self
            .store
            .call(move |c| match shifts::current(c, &terminal)? {
                Some(s) => orders::for_shift(c, s.id),
                None => Ok(Vec::new()),
            })
            .await?)
    }
}

/// Why an order ended as it did, in words (`None` when the flow gave no reason). The one place
/// that turns an order's reason into words.
pub fn order_reason(o: &OrderRecord, lang: Language) -> Option<String> {
    o.reason.as_ref().map(|r| crate::i18n::reason(r, lang))
}

/// What to tell the cashier about an order: the reason if there is one, else its state in
/// words.
pub fn order_message(o: &OrderRecord, lang: Language) -> String {
    if let Some(r) = order_reason(o, lang) {
        return r;
    }
    crate::i18n::order_word(lang, o.state).to_string()
}
