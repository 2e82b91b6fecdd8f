//! The payment flow: writing an order, then the one pay call, queries and reverses as the
//! machine says.

use serde_json::json;
use tokio::sync::watch;

use super::{
    ActiveGuard, Answered, Engine, EngineError, First, Flow, Limits, Next, Progress, Sale, answers,
    requests, run,
};
use crate::auth_code::AuthCode;
use crate::engine::micropay::{Command, Event, Machine};
use crate::failpoint;
use crate::order::{EventKind, Refusal};
use crate::store::orders::{self, Change, NewOrder, OrderRecord};

impl Engine {
    /// Writes a new order (PENDING) for a sale; nothing is sent yet. Refuses a payment code
    /// already used in this shift.
    pub async fn create_order(&self, sale: &Sale) -> Result<OrderRecord, EngineError> {
        let machine = Machine::new(sale.amount.0, self.timing);
        self.write_order(sale, &machine, None, self.clock.now_ms())
            .await
    }

    /// Writes the order with `first` (its first step) in one transaction.
    async fn write_order(
        &self,
        sale: &Sale,
        machine: &Machine,
        first: Option<(EventKind, Machine)>,
        now: i64,
    ) -> Result<OrderRecord, EngineError> {
        let (state, snapshot) = (machine.state(), machine.to_snapshot());
        let first = first.map(|(kind, m)| (kind, m.state(), m.to_snapshot()));
        let code = sale.code.expose().to_string();
        let shift_id = sale.shift_id;
        let new = NewOrder {
            shift_id,
            terminal_id: self.merchant.terminal_id.clone(),
            cashier: sale.cashier.clone(),
            amount: sale.amount,
            description: sale.description.clone(),
            code_masked: sale.code.masked().to_string(),
            code_fingerprint: String::new(),
            protocol: requests::api_of(&self.client),
            party: self.merchant.party_kind(),
            sub_mchid: self.merchant.sub_mchid(),
        };
        let result = self
            .store
            .call(move |c| {
                let fp = orders::fingerprint(c, &code)?;
                if let Some(prev) = orders::code_used_in_shift(c, shift_id, &fp)? {
                    return Ok(Err(Refusal::DuplicateCode {
                        previous: prev.out_trade_no,
                    }));
                }
                let new = NewOrder {
                    code_fingerprint: fp,
                    ..new
                };
                let change = first.as_ref().map(|(kind, state, snapshot)| Change {
                    kind: *kind,
                    detail: "{}",
                    state: *state,
                    snapshot,
                    transaction_id: None,
                    reason: None,
                });
                orders::create_with(c, &new, state, &snapshot, change.as_ref(), now).map(Ok)
            })
            .await?;
        Ok(result?)
    }

    /// Takes a payment: the order and its pay request are written in one commit (durable
    /// before the request leaves), then the one pay call, queries and reverses as the rules
    /// say; the answer's commit is the second. `cancel` turning true is the cashier's cancel.
    pub async fn pay(
        &self,
        sale: &Sale,
        on_progress: &mut (dyn FnMut(&Progress) + Send),
        cancel: Option<watch::Receiver<bool>>,
    ) -> Result<OrderRecord, EngineError> {
        let now = self.clock.now_ms();
        let fresh = Machine::new(sale.amount.0, self.timing);
        let (started, commands) = fresh.clone().step(Event::Start, now);
        let order = self
            .write_order(
                sale,
                &fresh,
                Some((EventKind::PayRequest, started.clone())),
                now,
            )
            .await?;
        let id = order.id;
        let Some(_guard) = ActiveGuard::claim(&self.active, id) else {
            return Ok(order);
        };
        let mut flow = PayFlow {
            engine: self,
            order,
            machine: started,
            code: Some(&sale.code),
            on_progress,
            network_ok: None,
        };
        flow.report(now);
        let limits = Limits {
            cancel,
            max_wait: None,
        };
        run(&mut flow, First::Commands(commands), &self.clock, limits).await?;
        Ok(flow.order)
    }

    /// Drives an order from `first` (Start for a new sale, Resume after a restart, Retry for an
    /// unresolved order) to the end of its flow.
    pub async fn drive(
        &self,
        order: OrderRecord,
        first: Event,
        code: Option<&AuthCode>,
        on_progress: &mut (dyn FnMut(&Progress) + Send),
        cancel: Option<watch::Receiver<bool>>,
    ) -> Result<OrderRecord, EngineError> {
        let id = order.id;
        requests::same_api(&order, &self.client)?;
        let Some(_guard) = ActiveGuard::claim(&self.active, id) else {
            // Another task of this process is driving it; report where it is.
            return Ok(self.store.call(move |c| orders::by_id(c, id)).await?);
        };
        let machine = Machine::from_snapshot(&order.snapshot)?;
        let mut flow = PayFlow {
            engine: self,
            order,
            machine,
            code,
            on_progress,
            network_ok: None,
        };
        let limits = Limits {
            cancel,
            max_wait: None,
        };
        run(&mut flow, First::Event(first), &self.clock, limits).await?;
        Ok(flow.order)
    }
}

/// One order's payment being driven.
struct PayFlow<'a> {
    engine: &'a Engine,
    order: OrderRecord,
    machine: Machine,
    /// Only a fresh sale has its code; a resumed order never pays again.
    code: Option<&'a AuthCode>,
    on_progress: &'a mut (dyn FnMut(&Progress) + Send),
    network_ok: Option<bool>,
}

impl PayFlow<'_> {
    /// Commits the machine as it now stands with an event, and keeps the flow's copy of the
    /// order as written (so nothing is read back). The future holds no borrow of the flow
    /// (which is not `Sync`: it holds the progress callback).
    fn record(
        &mut self,
        kind: EventKind,
        detail: serde_json::Value,
        now: i64,
    ) -> impl Future<Output = Result<(), EngineError>> + Send + 'static {
        let m = &self.machine;
        let (id, detail, snapshot) = (self.order.id, detail.to_string(), m.to_snapshot());
        let (state, transaction_id, reason) = (
            m.state(),
            m.transaction_id().map(str::to_string),
            m.reason().cloned(),
        );
        let change = Change {
            kind,
            detail: &detail,
            state,
            snapshot: &snapshot,
            transaction_id: transaction_id.as_deref(),
            reason: reason.as_ref(),
        };
        self.order.apply(&change, now);
        let store = self.engine.store.clone();
        async move {
            store
                .call(move |c| {
                    let change = Change {
                        kind,
                        detail: &detail,
                        state,
                        snapshot: &snapshot,
                        transaction_id: transaction_id.as_deref(),
                        reason: reason.as_ref(),
                    };
                    orders::record(c, id, &change, now)
                })
                .await?;
            Ok(())
        }
    }

    /// Tells the face where the payment stands.
    fn report(&mut self, now: i64) {
        let m = &self.machine;
        (self.on_progress)(&Progress {
            out_trade_no: self.order.out_trade_no.clone(),
            state: m.state(),
            phase: m.phase(),
            seconds_left: m.seconds_left(now),
            queries: m.queries(),
            reverse_attempts: m.reverse_attempts(),
            cancelling: m.cancel_requested(),
            deadline_ms: m.deadline(),
            network_ok: self.network_ok,
        });
    }
}

/// The event's entry in the order's timeline (a timer leaves none).
fn kind_of(event: &Event) -> Option<EventKind> {
    Some(match event {
        Event::Start => EventKind::PayRequest,
        Event::Resume => EventKind::Resumed,
        Event::Retry => EventKind::Retry,
        Event::Pay(_) => EventKind::PayAnswer,
        Event::Query(_) => EventKind::QueryAnswer,
        Event::Reverse(_) => EventKind::ReverseAnswer,
        Event::Cancel => EventKind::Cancel,
        Event::Timer => return None,
    })
}

impl Flow for PayFlow<'_> {
    type Event = Event;
    type Command = Command;
    const WAITING_POINT: Option<&'static str> = Some("poll.waiting");

    fn timer() -> Event {
        Event::Timer
    }

    fn cancel() -> Option<Event> {
        Some(Event::Cancel)
    }

    fn done(&self) -> bool {
        self.machine.is_done()
    }

    fn is_request(cmd: &Command) -> bool {
        matches!(cmd, Command::SendPay | Command::Query | Command::Reverse)
    }

    fn reference(&self) -> String {
        self.order.out_trade_no.clone()
    }

    async fn apply(&mut self, a: Answered<Event>, now: i64) -> Result<Vec<Command>, EngineError> {
        let kind = kind_of(&a.event);
        let (next, cmds) = self.machine.clone().step(a.event, now);
        self.machine = next;
        if let Some(kind) = kind {
            self.record(kind, a.detail, now).await?;
        }
        if cmds.contains(&Command::Reverse) {
            let attempt = json!({"attempt": self.machine.reverse_attempts()});
            self.record(EventKind::ReverseRequest, attempt, now).await?;
        }
        self.report(now);
        Ok(cmds)
    }

    async fn execute(&mut self, cmd: Command) -> Next<Event> {
        let client = &self.engine.client;
        let no = &self.order.out_trade_no;
        let answer = match cmd {
            Command::SendPay => {
                let Some(code) = self.code else {
                    return Next::Answer(answers::pay_not_sent());
                };
                failpoint::hit("pay.before_send");
                let req = requests::codepay(&self.engine.merchant, &self.order, code);
                let answer = client.pay(&req).await;
                failpoint::hit("pay.after_send");
                self.network_ok = Some(answers::reached(&answer));
                answers::pay(answer)
            }
            Command::Query => {
                let answer = client.query_by_out_trade_no(no).await;
                self.network_ok = Some(answers::reached(&answer));
                answers::query(answer)
            }
            Command::Reverse => {
                failpoint::hit("reverse.before_send");
                let answer = client.reverse(no).await;
                failpoint::hit("reverse.after_send");
                self.network_ok = Some(answers::reached(&answer));
                answers::reverse(answer)
            }
            Command::WakeAt(at) => return Next::WakeAt(at),
            Command::Finished(_) => return Next::Nothing,
        };
        Next::Answer(answer)
    }
}
