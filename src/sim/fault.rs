//! Network and protocol faults the simulator can inject, for tests and training.
//!
//! A [`FaultRule`] applies to the next `times` requests to an [`Endpoint`]. Except for
//! `server_error`, `refuse` and `error_message` (answered before processing, and before the
//! request's own checks), the request is processed first (the ledger moves) and only the
//! answer is spoiled — the dangerous case for a till, where the money moved but the answer
//! was lost.

use serde::{Deserialize, Serialize};

/// Which requests a fault applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// Every request.
    Any,
    /// `POST /v3/pay/transactions/codepay` (and the partner path,
    /// `/v3/pay/partner/transactions/codepay`).
    Pay,
    /// Order queries (direct and partner paths).
    Query,
    /// Reverse (direct and partner paths).
    Reverse,
    /// Refund create.
    Refund,
    /// Refund query.
    RefundQuery,
    /// Trade-bill request.
    Bill,
    /// Bill file download.
    Download,
    /// `GET /v3/certificates`.
    Certificates,
}

impl Endpoint {
    /// The name used in fault rules and statistics (`pay`, `refund_query`, …).
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Any => "any",
            Endpoint::Pay => "pay",
            Endpoint::Query => "query",
            Endpoint::Reverse => "reverse",
            Endpoint::Refund => "refund",
            Endpoint::RefundQuery => "refund_query",
            Endpoint::Bill => "bill",
            Endpoint::Download => "download",
            Endpoint::Certificates => "certificates",
        }
    }

    /// Whether a rule for `self` applies to a request to `actual`.
    pub fn matches(self, actual: Endpoint) -> bool {
        self == Endpoint::Any || self == actual
    }
}

/// What goes wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// The answer is delayed by `ms` (beyond the client timeout, the client gives up).
    Latency {
        /// Delay in milliseconds.
        ms: u64,
    },
    /// The connection is reset halfway through the answer.
    Drop,
    /// 500 SYSTEM_ERROR before the request is processed.
    ServerError,
    /// The answer body is cut in half (and signed as sent).
    GarbledJson,
    /// The answer is signed with a key that is not the simulator's.
    WrongSignature,
    /// The answer carries a `WECHATPAY/SIGNTEST/` probe signature.
    SignTestProbe,
    /// The answer's timestamp is off by `secs` (consistently signed).
    ClockSkew {
        /// Seconds added to the answer's timestamp.
        secs: i64,
    },
    /// Test-only: 400 PARAM_ERROR with this `message`, before the request is processed (like
    /// `server_error`), correctly signed — a hostile or broken answer text (ANSI escapes,
    /// control characters) for the till's outputs to defuse.
    ErrorMessage {
        /// The answer's `message`, as given.
        message: String,
    },
    /// A business refusal from the APIv3 error tables (`403 ACCOUNT_ERROR`, `403 RULE_LIMIT`,
    /// `400 ORDER_CLOSED` …), correctly signed, before the request is processed (nothing moves):
    /// for refusals no scenario produces.
    Refuse {
        /// HTTP status.
        status: u16,
        /// The error code, spelled as given.
        code: String,
    },
}

/// A fault for the next `times` matching requests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    /// The fault.
    pub fault: Fault,
    /// Which requests.
    #[serde(default = "any")]
    pub endpoint: Endpoint,
    /// How many requests (default 1).
    #[serde(default = "one")]
    pub times: u32,
}

fn any() -> Endpoint {
    Endpoint::Any
}
fn one() -> u32 {
    1
}

impl FaultRule {
    /// `fault` once, for requests to `endpoint`.
    pub fn once(endpoint: Endpoint, fault: Fault) -> FaultRule {
        FaultRule {
            fault,
            endpoint,
            times: 1,
        }
    }
}

/// The pending faults, first match wins.
#[derive(Clone, Debug, Default)]
pub struct FaultQueue {
    rules: Vec<FaultRule>,
}

impl FaultQueue {
    /// Adds a rule at the end.
    pub fn push(&mut self, rule: FaultRule) {
        if rule.times > 0 {
            self.rules.push(rule);
        }
    }

    /// Removes every rule.
    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// Takes the fault for one request to `endpoint`, if any rule matches.
    pub fn take(&mut self, endpoint: Endpoint) -> Option<Fault> {
        let i = self
            .rules
            .iter()
            .position(|r| r.endpoint.matches(endpoint))?;
        let fault = self.rules[i].fault.clone();
        self.rules[i].times -= 1;
        if self.rules[i].times == 0 {
            self.rules.remove(i);
        }
        Some(fault)
    }

    /// Rules still pending.
    pub fn pending(&self) -> &[FaultRule] {
        &self.rules
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_apply_in_order_and_run_out() {
        let mut q = FaultQueue::default();
        q.push(FaultRule {
            fault: Fault::Drop,
            endpoint: Endpoint::Query,
            times: 2,
        });
        q.push(FaultRule::once(Endpoint::Any, Fault::ServerError));
        assert_eq!(q.take(Endpoint::Pay), Some(Fault::ServerError));
        assert_eq!(q.take(Endpoint::Pay), None);
        assert_eq!(q.take(Endpoint::Query), Some(Fault::Drop));
        assert_eq!(q.take(Endpoint::Query), Some(Fault::Drop));
        assert_eq!(q.take(Endpoint::Query), None);
        assert!(q.pending().is_empty());
    }

    #[test]
    fn json_form() {
        let r: FaultRule =
            serde_json::from_str(r#"{"fault":{"kind":"latency","ms":15000},"endpoint":"pay"}"#)
                .unwrap();
        assert_eq!(
            r,
            FaultRule {
                fault: Fault::Latency { ms: 15000 },
                endpoint: Endpoint::Pay,
                times: 1
            }
        );
        let r: FaultRule =
            serde_json::from_str(r#"{"fault":{"kind":"clock_skew","secs":-400}}"#).unwrap();
        assert_eq!(r.endpoint, Endpoint::Any);
    }
}
