//! The refund flow: writing a refund (the engine decides whether it may be made), then its
//! request and queries as the refund machine says.

use std::time::Duration;

use super::{Answered, Engine, EngineError, First, Flow, Limits, Next, answers, requests, run};
use crate::engine::refund::{self, RefundCommand, RefundEvent, RefundMachine};
use crate::failpoint;
use crate::money::Fen;
use crate::order::{EventKind, Refusal};

use crate::store::orders::{self, OrderRecord};
use crate::store::refunds::{self, Change, RefundRecord};
use crate::store::shifts;

/// The order's state after a refund step: the payment's outcome (from its snapshot) and the
/// refunds that succeeded, by [`refund::order_state`].
fn order_state_after(order: &OrderRecord, refunded: Fen) -> crate::order::OrderState {
    let payment = crate::engine::micropay::Machine::from_snapshot(&order.snapshot)
        .map(|m| m.state())
        // An unreadable snapshot: the stored state is the best knowledge there is.
        .unwrap_or(order.state);
    refund::order_state(payment, order.amount, refunded)
}

impl Engine {
    /// Writes a refund (checked against what is left to refund) and drives it until it is
    /// final or `max_wait` passes (it then stays PROCESSING; recovery follows it up).
    pub async fn refund(
        &self,
        out_trade_no: &str,
        amount: Fen,
        reason: &str,
        approved_by: Option<&str>,
        max_wait: Option<Duration>,
    ) -> Result<RefundRecord, EngineError> {
        let now = self.clock.now_ms();
        let (no, reason, by) = (
            out_trade_no.to_string(),
            reason.to_string(),
            approved_by.map(str::to_string),
        );
        let terminal = self.merchant.terminal_id.clone();
        let snapshot = RefundMachine::new().to_snapshot();
        let client = self.client.clone();
        let rec = self
            .store
            .call(move |c| {
                let Some(shift) = shifts::current(c, &terminal)? else {
                    return Ok(Err(Refusal::NoShiftOpen { terminal }));
                };
                refunds::create(
                    c,
                    &no,
                    amount,
                    &reason,
                    by.as_deref(),
                    shift.id,
                    &snapshot,
                    now,
                    |order, tally| {
                        requests::same_api(order, &client)?;
                        refund::may_refund(
                            order.state,
                            &order.out_trade_no,
                            order.amount,
                            tally.left,
                            tally.count,
                            amount,
                        )
                    },
                )
            })
            .await??;
        self.drive_refund(rec, RefundEvent::Start, max_wait).await
    }

    /// Drives a refund from `first` (Start, or Resume after a restart).
    pub async fn drive_refund(
        &self,
        rec: RefundRecord,
        first: RefundEvent,
        max_wait: Option<Duration>,
    ) -> Result<RefundRecord, EngineError> {
        let oid = rec.order_id;
        let order_total = self
            .store
            .call(move |c| orders::by_id(c, oid))
            .await?
            .amount;
        let machine = RefundMachine::from_snapshot(&rec.snapshot)?;
        let mut flow = RefundFlow {
            engine: self,
            machine,
            current: rec,
            order_total,
        };
        let limits = Limits {
            cancel: None,
            max_wait,
        };
        run(&mut flow, First::Event(first), &self.clock, limits).await?;
        Ok(flow.current)
    }
}

/// One refund being driven.
struct RefundFlow<'a> {
    engine: &'a Engine,
    machine: RefundMachine,
    /// The refund as last committed.
    current: RefundRecord,
    order_total: Fen,
}

/// The event's entry in the order's timeline (a timer leaves none).
fn kind_of(event: &RefundEvent) -> Option<EventKind> {
    Some(match event {
        RefundEvent::Start => EventKind::RefundRequest,
        RefundEvent::Resume => EventKind::RefundResumed,
        RefundEvent::Create(_) => EventKind::RefundAnswer,
        RefundEvent::Query(_) => EventKind::RefundQueryAnswer,
        RefundEvent::Timer => return None,
    })
}

impl Flow for RefundFlow<'_> {
    type Event = RefundEvent;
    type Command = RefundCommand;
    const WAITING_POINT: Option<&'static str> = None;

    fn timer() -> RefundEvent {
        RefundEvent::Timer
    }

    fn done(&self) -> bool {
        self.machine.is_done()
    }

    fn is_request(cmd: &RefundCommand) -> bool {
        matches!(cmd, RefundCommand::SendCreate | RefundCommand::Query)
    }

    fn reference(&self) -> String {
        self.current.out_refund_no.clone()
    }

    async fn apply(
        &mut self,
        a: Answered<RefundEvent>,
        now: i64,
    ) -> Result<Vec<RefundCommand>, EngineError> {
        let kind = kind_of(&a.event);
        let (next, cmds) = self.machine.clone().step(a.event, now);
        self.machine = next;
        if let Some(kind) = kind {
            let id = self.current.id;
            let (detail, snapshot) = (a.detail.to_string(), self.machine.to_snapshot());
            let status = self.machine.status();
            let wechat_id = a.wechat_id;
            self.current = self
                .engine
                .store
                .call(move |c| {
                    let change = Change {
                        kind,
                        detail: &detail,
                        status,
                        snapshot: &snapshot,
                        wechat_refund_id: wechat_id.as_deref(),
                    };
                    refunds::record(c, id, &change, now, order_state_after)
                })
                .await?;
        }
        Ok(cmds)
    }

    async fn execute(&mut self, cmd: RefundCommand) -> Next<RefundEvent> {
        let client = &self.engine.client;
        match cmd {
            RefundCommand::SendCreate => {
                let req = requests::refund(&self.current, self.order_total);
                let answer = client.refund(&req).await;
                failpoint::hit("refund.after_send");
                Next::Answer(answers::refund_create(answer))
            }
            RefundCommand::Query => {
                let answer = client.query_refund(&self.current.out_refund_no).await;
                Next::Answer(answers::refund_query(answer))
            }
            RefundCommand::WakeAt(at) => Next::WakeAt(at),
            RefundCommand::Finished(_) => Next::Nothing,
        }
    }
}
