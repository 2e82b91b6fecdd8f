//! Refunds: a supervisor approves (PIN checked, audited) before anything is written or sent;
//! then the engine refunds, waiting at most [`super::REFUND_WAIT`].

use super::{REFUND_WAIT, SupervisorPin, Till, TillError};
use crate::config::Language;
use crate::money::Fen;
use crate::store::refunds::RefundRecord;

impl Till {
    /// Refunds `amount` of a paid order, approved by a supervisor. A refund still processing
    /// after [`REFUND_WAIT`] is returned as it stands; recovery follows it up.
    pub async fn refund(
        &self,
        out_trade_no: &str,
        amount: Fen,
        reason: &str,
        by: &SupervisorPin,
    ) -> Result<RefundRecord, TillError> {
        let now = self.clock.now_ms();
        let (sup, pin) = (by.supervisor.clone(), by.pin.clone());
        let what = format!("{out_trade_no} {amount} ({reason})");
        let mode = self.cfg.wechatpay.mode;
        self.store
            .call(move |c| {
                Ok(
                    crate::supervisor::approve(c, &sup, &pin, "refund", &what, mode, now)
                        .map_err(TillError::NotApproved),
                )
            })
            .await
            .map_err(TillError::Store)??;
        Ok(self
            .engine
            .refund(
                out_trade_no,
                amount,
                reason,
                Some(&by.supervisor),
                Some(REFUND_WAIT),
            )
            .await?)
    }
}

/// Why a refund ended as it did (`None` when the flow gave no reason). The one place that
/// reads the refund's machine.
pub fn refund_reason(r: &RefundRecord) -> Option<String> {
    crate::engine::refund::RefundMachine::reason_in(&r.snapshot)
}

/// What to tell the cashier or manager about a refund.
pub fn refund_message(r: &RefundRecord, lang: Language) -> String {
    match crate::i18n::refund_word(lang, r.status) {
        Some(word) => word.to_string(),
        None => refund_reason(r).unwrap_or_else(|| r.status.as_str().to_string()),
    }
}
