//! Protocol answers → machine events: the only place the engine reads the wire's outcomes.
//! Every mapping keeps the rule that an unverified answer never decides that money was or
//! was not taken.

use serde_json::json;

use super::Answered;
use crate::engine::micropay::{Event, PayResult, QueryResult, Remote, ReverseResult};
use crate::engine::refund::{CreateResult, RefundEvent, RefundQueryResult, RefundStatus};
use crate::wechat::model::{
    Advice, Call, ErrorCode, RefundStatus as WireRefundStatus, ReverseAnswer, TradeState,
    Transaction,
};
use crate::wechat::{ApiError, PayAnswer, TransportKind};

fn remote(t: &Transaction) -> Remote {
    match &t.trade_state {
        TradeState::Success => Remote::Paid {
            transaction_id: t.transaction_id.clone(),
            total: t.amount.as_ref().and_then(|a| a.total),
        },
        TradeState::Refund => Remote::Refunded {
            transaction_id: t.transaction_id.clone(),
            total: t.amount.as_ref().and_then(|a| a.total),
        },
        TradeState::UserPaying => Remote::UserPaying,
        TradeState::NotPay | TradeState::Accept => Remote::NotPaid,
        TradeState::PayError => Remote::PayError,
        TradeState::Revoked => Remote::Revoked,
        TradeState::Closed => Remote::Closed,
        TradeState::Other(s) => Remote::Other(s.clone()),
    }
}

fn transaction_detail(t: &Transaction) -> serde_json::Value {
    json!({"result": "answer", "trade_state": t.trade_state.as_str(), "transaction_id": t.transaction_id})
}

fn error_detail(e: &ApiError) -> serde_json::Value {
    match e {
        ApiError::Service {
            status,
            verified,
            request_id,
            ..
        } => {
            // The code as the service spelled it (APIv2 or APIv3).
            json!({"result": "error", "http": status, "code": e.wire_code(), "verified": verified, "request_id": request_id})
        }
        ApiError::Transport {
            kind: TransportKind::Connect,
            ..
        } => json!({"result": "not_connected", "error": e.to_string()}),
        ApiError::Rejected {
            status,
            code,
            request_id,
            ..
        } => {
            json!({"result": "rejected", "http": status, "code": code.as_str(), "verified": false, "request_id": request_id})
        }
        other => json!({"result": "unknown", "error": other.to_string()}),
    }
}

fn answered<E>(event: E, detail: serde_json::Value) -> Answered<E> {
    Answered {
        event,
        detail,
        wechat_id: None,
    }
}

/// Whether a call reached WeChat Pay (for the screen's network badge).
pub(super) fn reached<T>(answer: &Result<T, ApiError>) -> bool {
    !matches!(answer, Err(ApiError::Transport { .. }))
}

/// A verified code meaning "no such order".
fn verified_code(e: &ApiError, want: &ErrorCode) -> bool {
    matches!(e, ApiError::Service { code, verified: true, .. } if code == want)
}

/// The pay call's answer.
pub(super) fn pay(answer: Result<PayAnswer, ApiError>) -> Answered<Event> {
    match answer {
        Ok(PayAnswer::Paid(t)) | Ok(PayAnswer::NotFinal(t)) => answered(
            Event::Pay(PayResult::Answer(remote(&t))),
            transaction_detail(&t),
        ),
        Ok(PayAnswer::UserPaying) => answered(
            Event::Pay(PayResult::UserPaying),
            json!({"result": "userpaying", "http": 202}),
        ),
        Err(e) => {
            let result = match (&e, e.advice(Call::Pay)) {
                // No host accepted a connection (the client moves on to the backup host only
                // then, and stops at any later failure): the request provably never left.
                (
                    ApiError::Transport {
                        kind: TransportKind::Connect,
                        ..
                    },
                    _,
                ) => PayResult::NotSent,
                // An unsigned 401: the pay request was refused before processing. The pay
                // call is sent once, so this was the only copy: nothing was charged.
                (ApiError::Rejected { code, .. }, Advice::Failed) => PayResult::Rejected {
                    code: code.as_str().to_string(),
                },
                (
                    ApiError::Service {
                        code, v2_spelling, ..
                    },
                    Advice::Failed,
                ) => PayResult::Declined {
                    code: code.spelled(*v2_spelling).to_string(),
                    en: code.meaning_en(Call::Pay).to_string(),
                    zh: code.meaning_zh(Call::Pay).to_string(),
                },
                _ => PayResult::Unknown,
            };
            answered(Event::Pay(result), error_detail(&e))
        }
    }
}

/// A pay call that was never sent (a resumed order has no payment code): the outcome is
/// unknown, so the order is queried.
pub(super) fn pay_not_sent() -> Answered<Event> {
    answered(
        Event::Pay(PayResult::Unknown),
        json!({"result": "not_sent"}),
    )
}

/// A query's answer.
pub(super) fn query(answer: Result<Transaction, ApiError>) -> Answered<Event> {
    match answer {
        Ok(t) => answered(
            Event::Query(QueryResult::State(remote(&t))),
            transaction_detail(&t),
        ),
        Err(e) => {
            let result = if verified_code(&e, &ErrorCode::OrderNotExist) {
                QueryResult::NotFound
            } else {
                QueryResult::Unknown
            };
            answered(Event::Query(result), error_detail(&e))
        }
    }
}

/// A reverse's answer.
pub(super) fn reverse(answer: Result<ReverseAnswer, ApiError>) -> Answered<Event> {
    match answer {
        Ok(_) => answered(
            Event::Reverse(ReverseResult::Done),
            json!({"result": "done"}),
        ),
        Err(e) => {
            let result = if verified_code(&e, &ErrorCode::OrderNotExist) {
                ReverseResult::NotFound
            } else {
                // No documented reverse refusal means "paid": a paid order is reversed and
                // its money returned (docs/protocol.md, "Reversing a paid order"). Any other
                // verified refusal (an undocumented ORDERPAID included) leaves the order to a
                // person unless it was seen paid.
                match (&e, e.advice(Call::Reverse)) {
                    (
                        ApiError::Service {
                            code,
                            v2_spelling,
                            verified: true,
                            ..
                        },
                        Advice::Failed,
                    ) => ReverseResult::Refused {
                        code: code.spelled(*v2_spelling).to_string(),
                    },
                    _ => ReverseResult::Retry,
                }
            };
            answered(Event::Reverse(result), error_detail(&e))
        }
    }
}

fn refund_status(s: &WireRefundStatus) -> RefundStatus {
    match s {
        WireRefundStatus::Success => RefundStatus::Success,
        WireRefundStatus::Closed => RefundStatus::Closed,
        WireRefundStatus::Abnormal => RefundStatus::Abnormal,
        WireRefundStatus::Processing | WireRefundStatus::Other(_) => RefundStatus::Processing,
    }
}

/// A refund request's answer.
pub(super) fn refund_create(
    answer: Result<crate::wechat::model::Refund, ApiError>,
) -> Answered<RefundEvent> {
    match answer {
        Ok(r) => Answered {
            event: RefundEvent::Create(CreateResult::Accepted(refund_status(&r.status))),
            detail: json!({"result": "answer", "status": r.status.as_str()}),
            wechat_id: r.refund_id.clone(),
        },
        Err(e) => {
            let result = match (&e, e.advice(Call::Refund)) {
                (_, Advice::Retry) => CreateResult::Retry,
                (
                    ApiError::Service {
                        code, v2_spelling, ..
                    },
                    Advice::Failed,
                ) => CreateResult::Failed {
                    code: code.spelled(*v2_spelling).to_string(),
                    en: code.meaning_en(Call::Refund).to_string(),
                    zh: code.meaning_zh(Call::Refund).to_string(),
                },
                _ => CreateResult::Unknown,
            };
            answered(RefundEvent::Create(result), error_detail(&e))
        }
    }
}

/// A refund query's answer.
pub(super) fn refund_query(
    answer: Result<crate::wechat::model::Refund, ApiError>,
) -> Answered<RefundEvent> {
    match answer {
        Ok(r) => Answered {
            event: RefundEvent::Query(RefundQueryResult::Status(refund_status(&r.status))),
            detail: json!({"result": "answer", "status": r.status.as_str()}),
            wechat_id: r.refund_id.clone(),
        },
        Err(e) => {
            let result = if verified_code(&e, &ErrorCode::ResourceNotExists) {
                RefundQueryResult::NotFound
            } else {
                RefundQueryResult::Unknown
            };
            answered(RefundEvent::Query(result), error_detail(&e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected() -> ApiError {
        ApiError::Rejected {
            status: 401,
            code: ErrorCode::SignError,
            message: "签名错误".into(),
            detail: None,
            request_id: None,
        }
    }

    fn signed_401() -> ApiError {
        ApiError::Service {
            status: 401,
            code: ErrorCode::SignError,
            message: "签名错误".into(),
            detail: None,
            verified: true,
            request_id: None,
            v2_spelling: false,
        }
    }

    #[test]
    fn an_unsigned_401_to_the_pay_call_is_a_definite_refusal() {
        let a = pay(Err(rejected()));
        assert_eq!(
            a.event,
            Event::Pay(PayResult::Rejected {
                code: "SIGN_ERROR".into()
            })
        );
        assert_eq!(a.detail["result"], "rejected");
        assert_eq!(a.detail["verified"], false);
    }

    #[test]
    fn a_signed_401_is_trusted_as_before() {
        let Event::Pay(PayResult::Declined { code, .. }) = pay(Err(signed_401())).event else {
            panic!("a signed SIGN_ERROR is a verified decline");
        };
        assert_eq!(code, "SIGN_ERROR");
    }

    #[test]
    fn an_unsigned_401_to_a_query_or_reverse_says_nothing_about_the_order() {
        // The pay call was sent; a refused query does not prove it was refused too.
        assert_eq!(
            query(Err(rejected())).event,
            Event::Query(QueryResult::Unknown)
        );
        assert_eq!(
            reverse(Err(rejected())).event,
            Event::Reverse(ReverseResult::Retry)
        );
    }

    #[test]
    fn an_unsigned_non_401_error_stays_unknown_for_the_pay_call() {
        let e = ApiError::Service {
            status: 400,
            code: ErrorCode::ParamError,
            message: String::new(),
            detail: None,
            verified: false,
            request_id: None,
            v2_spelling: false,
        };
        assert_eq!(pay(Err(e)).event, Event::Pay(PayResult::Unknown));
    }
}
