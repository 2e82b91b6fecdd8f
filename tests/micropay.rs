//! The payment state machine, rule by rule, with explicit times; and a property test over
//! random event sequences.

use proptest::prelude::*;
use scanpay::engine::micropay::*;

const T0: i64 = 1_764_000_000_000;
const S: i64 = 1000;

fn timing() -> Timing {
    Timing::from_secs(5, 45)
}

fn paid(total: i64) -> Remote {
    Remote::Paid {
        transaction_id: Some("4200000000000000000000000001".into()),
        total: Some(total),
    }
}

/// Starts a 1.00 order at T0 and returns it after the pay call was sent.
fn started() -> Machine {
    let (m, cmds) = Machine::new(100, timing()).step(Event::Start, T0);
    assert_eq!(cmds, vec![Command::SendPay]);
    assert_eq!(m.pay_sent_at(), Some(T0));
    m
}

fn step(m: Machine, e: Event, now: i64) -> (Machine, Vec<Command>) {
    m.step(e, now)
}

#[test]
fn success_is_paid() {
    let (m, cmds) = step(
        started(),
        Event::Pay(PayResult::Answer(paid(100))),
        T0 + 300,
    );
    assert_eq!(cmds, vec![Command::Finished(OrderState::Paid)]);
    assert_eq!(m.state(), OrderState::Paid);
    assert_eq!(m.transaction_id(), Some("4200000000000000000000000001"));
}

#[test]
fn definite_failure_is_failed_with_a_reason() {
    let declined = PayResult::Declined {
        code: "NOTENOUGH".into(),
        en: "balance not enough".into(),
        zh: "余额不足".into(),
    };
    let (m, cmds) = step(started(), Event::Pay(declined), T0 + 300);
    assert_eq!(cmds, vec![Command::Finished(OrderState::Failed)]);
    let r = m.reason().cloned().unwrap();
    assert_eq!(r.code(), "NOTENOUGH");
    assert_eq!(
        scanpay::i18n::reason(&r, scanpay::config::Language::Zh),
        "余额不足"
    );
}

/// A pay call that provably never left (no host accepted a connection) ends FAILED at once,
/// with no query and no reverse: WeChat cannot have the order. Even a cancel that arrived
/// meanwhile needs no reverse.
#[test]
fn a_pay_call_that_never_left_is_failed_at_once_network_down() {
    let (m, cmds) = step(started(), Event::Pay(PayResult::NotSent), T0 + 20);
    assert_eq!(cmds, vec![Command::Finished(OrderState::Failed)]);
    assert_eq!(m.reason(), Some(&Reason::NetworkDown));
    assert_eq!(m.reason().unwrap().code(), "NETWORK_DOWN");
    assert_eq!(
        scanpay::i18n::reason(&Reason::NetworkDown, scanpay::config::Language::En),
        "network down: the payment request never left the till; not charged"
    );
    let (m, _) = step(started(), Event::Cancel, T0 + 10);
    let (m, cmds) = step(m, Event::Pay(PayResult::NotSent), T0 + 20);
    assert_eq!(cmds, vec![Command::Finished(OrderState::Failed)]);
    assert_eq!(m.reverse_attempts(), 0);
    // Unknown is still unknown: it is queried, never failed.
    let (m, cmds) = step(started(), Event::Pay(PayResult::Unknown), T0 + 20);
    assert!(!m.is_done());
    assert!(matches!(cmds[..], [Command::WakeAt(_)]), "{cmds:?}");
}

#[test]
fn a_rejected_pay_request_fails_at_once_naming_the_fix() {
    // An unsigned 401 to the pay call: refused before processing, so no query, no reverse.
    let rejected = PayResult::Rejected {
        code: "SIGN_ERROR".into(),
    };
    let (m, cmds) = step(started(), Event::Pay(rejected), T0 + 300);
    assert_eq!(cmds, vec![Command::Finished(OrderState::Failed)]);
    assert_eq!(m.state(), OrderState::Failed);
    let r = m.reason().cloned().unwrap();
    assert_eq!(r.code(), "REQUEST_REJECTED_SIGN_ERROR");
    let en = scanpay::i18n::reason(&r, scanpay::config::Language::En);
    assert!(en.contains("not charged"), "{en}");
    assert!(en.contains("scanpay check"), "{en}");
    assert!(en.contains("clock"), "{en}");
    let zh = scanpay::i18n::reason(&r, scanpay::config::Language::Zh);
    assert!(
        zh.contains("未扣款") && zh.contains("scanpay check"),
        "{zh}"
    );
}

#[test]
fn userpaying_polls_every_interval_until_success() {
    let (m, cmds) = step(started(), Event::Pay(PayResult::UserPaying), T0 + 200);
    assert_eq!(m.state(), OrderState::Userpaying);
    assert_eq!(cmds, vec![Command::WakeAt(T0 + 5 * S)]);
    // An early timer only re-arms.
    let (m, cmds) = step(m, Event::Timer, T0 + 4 * S);
    assert_eq!(cmds, vec![Command::WakeAt(T0 + 5 * S)]);
    let (m, cmds) = step(m, Event::Timer, T0 + 5 * S);
    assert_eq!(cmds, vec![Command::Query]);
    let (m, cmds) = step(
        m,
        Event::Query(QueryResult::State(Remote::UserPaying)),
        T0 + 5 * S + 100,
    );
    assert_eq!(cmds, vec![Command::WakeAt(T0 + 10 * S + 100)]);
    assert_eq!(m.seconds_left(T0 + 5 * S + 100), 40);
    // A fast error answer waits one interval before the first query.
    let (_, cmds) = step(started(), Event::Pay(PayResult::Unknown), T0 + 300);
    assert_eq!(cmds, vec![Command::WakeAt(T0 + 5 * S)]);
    let (m, _) = step(m, Event::Timer, T0 + 10 * S + 100);
    let (m, cmds) = step(
        m,
        Event::Query(QueryResult::State(paid(100))),
        T0 + 10 * S + 200,
    );
    assert_eq!(cmds, vec![Command::Finished(OrderState::Paid)]);
    assert_eq!(m.queries(), 2);
}

#[test]
fn unknown_outcome_queries_and_never_resends_the_pay_call() {
    let (m, cmds) = step(started(), Event::Pay(PayResult::Unknown), T0 + 10 * S);
    // The pay call timed out after 10 s: query at once, never a second pay call.
    assert_eq!(cmds, vec![Command::WakeAt(T0 + 10 * S)]);
    let (m, cmds) = step(m, Event::Timer, T0 + 10 * S);
    assert_eq!(cmds, vec![Command::Query]);
    let (m, cmds) = step(m, Event::Query(QueryResult::NotFound), T0 + 15 * S);
    assert_eq!(cmds, vec![Command::WakeAt(T0 + 20 * S)]);
    let (m, cmds) = step(m, Event::Timer, T0 + 20 * S);
    assert_eq!(cmds, vec![Command::Query]);
    let (_, cmds) = step(m, Event::Query(QueryResult::State(paid(100))), T0 + 20 * S);
    assert_eq!(cmds, vec![Command::Finished(OrderState::Paid)]);
}

#[test]
fn deadline_reverses_and_the_confirming_query_settles() {
    let (mut m, _) = step(started(), Event::Pay(PayResult::UserPaying), T0);
    let mut now;
    // Poll until the deadline.
    loop {
        let at = match m.next_wake() {
            Some(at) => at,
            None => panic!("no timer"),
        };
        now = at;
        let (m2, cmds) = step(m, Event::Timer, now);
        m = m2;
        if cmds == vec![Command::Reverse] {
            break;
        }
        assert_eq!(cmds, vec![Command::Query]);
        let (m2, _) = step(m, Event::Query(QueryResult::State(Remote::UserPaying)), now);
        m = m2;
    }
    assert_eq!(now, T0 + 45 * S, "reverse exactly at the deadline");
    assert_eq!(m.queries(), 8);
    let (m, cmds) = step(m, Event::Reverse(ReverseResult::Done), now + 100);
    assert_eq!(cmds, vec![Command::Query]);
    let (m, cmds) = step(
        m,
        Event::Query(QueryResult::State(Remote::Revoked)),
        now + 200,
    );
    assert_eq!(cmds, vec![Command::Finished(OrderState::Reversed)]);
    assert_eq!(m.reason().cloned(), Some(Reason::NotConfirmedInTime));
}

#[test]
fn payerror_ends_through_a_reverse_but_not_before_15s() {
    let (m, _) = step(started(), Event::Pay(PayResult::UserPaying), T0);
    let (m, _) = step(m, Event::Timer, T0 + 5 * S);
    let (m, cmds) = step(
        m,
        Event::Query(QueryResult::State(Remote::PayError)),
        T0 + 6 * S,
    );
    assert_eq!(
        cmds,
        vec![Command::WakeAt(T0 + 15 * S)],
        "never reverse sooner than 15 s after the pay call"
    );
    let (m, cmds) = step(m, Event::Timer, T0 + 15 * S);
    assert_eq!(cmds, vec![Command::Reverse]);
    let (m, _) = step(m, Event::Reverse(ReverseResult::Done), T0 + 15 * S);
    let (m, cmds) = step(
        m,
        Event::Query(QueryResult::State(Remote::Revoked)),
        T0 + 16 * S,
    );
    assert_eq!(cmds, vec![Command::Finished(OrderState::Reversed)]);
    assert_eq!(m.reason().cloned(), Some(Reason::CustomerCancelled));
}

#[test]
fn revoked_and_closed_end_polling() {
    let (m, _) = step(started(), Event::Pay(PayResult::UserPaying), T0);
    let (m, _) = step(m, Event::Timer, T0 + 5 * S);
    let (m2, cmds) = step(
        m.clone(),
        Event::Query(QueryResult::State(Remote::Revoked)),
        T0 + 5 * S,
    );
    assert_eq!(cmds, vec![Command::Finished(OrderState::Reversed)]);
    assert!(!m2.state().is_charged());
    let (m3, cmds) = step(
        m,
        Event::Query(QueryResult::State(Remote::Closed)),
        T0 + 5 * S,
    );
    assert_eq!(cmds, vec![Command::Finished(OrderState::Failed)]);
    assert_eq!(m3.reason(), Some(&Reason::Closed));
}

#[test]
fn reverse_retries_with_backoff_then_gives_up() {
    let (m, _) = step(started(), Event::Pay(PayResult::UserPaying), T0);
    let (mut m, _) = step(m, Event::Cancel, T0 + 2 * S);
    assert_eq!(m.next_wake(), Some(T0 + 15 * S));
    let mut now = T0 + 15 * S;
    let mut waits = Vec::new();
    loop {
        let (m2, cmds) = step(m, Event::Timer, now);
        assert_eq!(cmds, vec![Command::Reverse], "at {now}");
        let (m3, cmds) = step(m2, Event::Reverse(ReverseResult::Retry), now);
        m = m3;
        match cmds.as_slice() {
            [Command::WakeAt(at)] => {
                waits.push(at - now);
                now = *at;
            }
            [Command::Finished(OrderState::Unresolved)] => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(waits, vec![2 * S, 4 * S, 8 * S, 16 * S, 30 * S]);
    assert_eq!(
        m.reason().cloned(),
        Some(Reason::ReverseExhausted { attempts: 6 })
    );
    // A person may try again later.
    let (m, cmds) = step(m, Event::Retry, now + 3600 * S);
    assert_eq!(cmds, vec![Command::Query]);
    let (m, cmds) = step(
        m,
        Event::Query(QueryResult::State(Remote::UserPaying)),
        now + 3600 * S,
    );
    assert_eq!(cmds, vec![Command::Reverse]);
    let (m, _) = step(m, Event::Reverse(ReverseResult::Done), now + 3600 * S);
    let (m, cmds) = step(
        m,
        Event::Query(QueryResult::State(Remote::Revoked)),
        now + 3600 * S,
    );
    assert_eq!(cmds, vec![Command::Finished(OrderState::Reversed)]);
    assert_eq!(m.reason().cloned(), Some(Reason::CashierCancelled));
}

/// `ORDERPAID` is not a documented reverse refusal (a paid order is reversed and its money
/// returned): if a service ever sent it, an order never seen paid is not recorded PAID.
#[test]
fn an_undocumented_orderpaid_reverse_refusal_does_not_make_the_order_paid() {
    let (m, _) = step(started(), Event::Pay(PayResult::Unknown), T0 + 10 * S);
    let (m, _) = step(m, Event::Cancel, T0 + 11 * S);
    let (m, cmds) = step(m, Event::Timer, T0 + 15 * S);
    assert_eq!(cmds, vec![Command::Reverse]);
    let refused = ReverseResult::Refused {
        code: "ORDERPAID".into(),
    };
    let (m, cmds) = step(m, Event::Reverse(refused), T0 + 15 * S);
    assert_eq!(cmds, vec![Command::Finished(OrderState::Unresolved)]);
    assert!(!m.state().is_charged());
}

fn refunded(total: i64) -> Remote {
    Remote::Refunded {
        transaction_id: Some("4200000000000000000000000001".into()),
        total: Some(total),
    }
}

/// A paid order the cashier cancelled is reversed; the confirming query answers REFUND or
/// REVOKED: the customer has the money back, so the order is REVERSED (money returned), not
/// PAID.
#[test]
fn a_reversed_paid_order_confirmed_as_refund_or_revoked_is_reversed() {
    for after in [refunded(100), Remote::Revoked] {
        let (m, _) = step(started(), Event::Pay(PayResult::UserPaying), T0);
        let (m, _) = step(m, Event::Timer, T0 + 5 * S);
        let (m, _) = step(m, Event::Cancel, T0 + 5 * S + 10);
        let (m, cmds) = step(m, Event::Query(QueryResult::State(paid(100))), T0 + 6 * S);
        assert_eq!(cmds, vec![Command::WakeAt(T0 + 15 * S)]);
        let (m, cmds) = step(m, Event::Timer, T0 + 15 * S);
        assert_eq!(cmds, vec![Command::Reverse]);
        let (m, cmds) = step(m, Event::Reverse(ReverseResult::Done), T0 + 15 * S);
        assert_eq!(cmds, vec![Command::Query]);
        let (m, cmds) = step(
            m,
            Event::Query(QueryResult::State(after.clone())),
            T0 + 16 * S,
        );
        assert_eq!(
            cmds,
            vec![Command::Finished(OrderState::Reversed)],
            "{after:?}"
        );
        assert_eq!(m.state(), OrderState::Reversed);
        assert!(!m.state().is_charged());
        assert_eq!(
            m.reason().cloned(),
            Some(Reason::MoneyReturned),
            "{after:?}"
        );
        assert_eq!(m.transaction_id(), Some("4200000000000000000000000001"));
    }
}

/// While paying (no reverse sent), REFUND still says the order was paid.
#[test]
fn refund_while_paying_is_paid() {
    let (m, _) = step(started(), Event::Pay(PayResult::Unknown), T0);
    let (m, _) = step(m, Event::Timer, T0 + 5 * S);
    let (m, cmds) = step(
        m,
        Event::Query(QueryResult::State(refunded(100))),
        T0 + 6 * S,
    );
    assert_eq!(cmds, vec![Command::Finished(OrderState::Paid)]);
    assert!(m.state().is_charged());
}

#[test]
fn cashier_cancel_is_a_reverse_even_if_the_customer_paid_meanwhile() {
    let (m, _) = step(started(), Event::Pay(PayResult::UserPaying), T0);
    let (m, _) = step(m, Event::Timer, T0 + 5 * S);
    // Cancel while a query is in flight: the answer leads to the reverse.
    let (m, cmds) = step(m, Event::Cancel, T0 + 5 * S + 10);
    assert!(cmds.is_empty());
    let (m, cmds) = step(m, Event::Query(QueryResult::State(paid(100))), T0 + 6 * S);
    assert_eq!(cmds, vec![Command::WakeAt(T0 + 15 * S)]);
    let (m, _) = step(m, Event::Timer, T0 + 15 * S);
    let (m, _) = step(m, Event::Reverse(ReverseResult::Done), T0 + 15 * S);
    let (m, cmds) = step(
        m,
        Event::Query(QueryResult::State(Remote::Revoked)),
        T0 + 15 * S,
    );
    assert_eq!(cmds, vec![Command::Finished(OrderState::Reversed)]);
    assert_eq!(m.reason().cloned(), Some(Reason::MoneyReturned));
}

#[test]
fn paid_in_the_race_with_the_reverse_reverses_again() {
    let (m, _) = step(started(), Event::Pay(PayResult::UserPaying), T0);
    let (m, _) = step(m, Event::Cancel, T0 + S);
    let (m, _) = step(m, Event::Timer, T0 + 15 * S);
    let (m, _) = step(m, Event::Reverse(ReverseResult::Done), T0 + 15 * S);
    let (m, cmds) = step(m, Event::Query(QueryResult::State(paid(100))), T0 + 16 * S);
    assert_eq!(cmds, vec![Command::WakeAt(T0 + 18 * S)]);
    let (m, cmds) = step(m, Event::Timer, T0 + 18 * S);
    assert_eq!(cmds, vec![Command::Reverse]);
    assert_eq!(m.reverse_attempts(), 2);
}

#[test]
fn reverse_of_an_order_that_does_not_exist_is_not_charged() {
    let (m, _) = step(started(), Event::Pay(PayResult::Unknown), T0 + 10 * S);
    let mut m = m;
    let mut now;
    loop {
        let at = m.next_wake().unwrap();
        now = at;
        let (m2, cmds) = step(m, Event::Timer, now);
        m = m2;
        if cmds == vec![Command::Reverse] {
            break;
        }
        let (m2, _) = step(m, Event::Query(QueryResult::NotFound), now);
        m = m2;
    }
    assert_eq!(now, T0 + 45 * S);
    let (m, cmds) = step(m, Event::Reverse(ReverseResult::NotFound), now);
    assert_eq!(cmds, vec![Command::Finished(OrderState::Failed)]);
    assert_eq!(m.reason().cloned(), Some(Reason::NoSuchOrder));
}

#[test]
fn another_amount_for_our_order_number_is_unresolved_not_paid() {
    let (m, cmds) = step(started(), Event::Pay(PayResult::Answer(paid(999))), T0);
    assert_eq!(cmds, vec![Command::Finished(OrderState::Unresolved)]);
    assert_eq!(
        m.reason().cloned(),
        Some(Reason::AmountMismatch {
            ours: 100,
            theirs: 999
        })
    );
}

#[test]
fn resume_after_a_crash_queries_or_reverses_never_pays() {
    // Crashed with the pay call in flight.
    let m = started();
    let (m, cmds) = step(m, Event::Resume, T0 + 60 * S);
    assert_eq!(cmds, vec![Command::Query]);
    let (_, cmds) = step(
        m,
        Event::Query(QueryResult::State(Remote::UserPaying)),
        T0 + 60 * S,
    );
    assert_eq!(
        cmds,
        vec![Command::Reverse],
        "past the deadline: reverse at once"
    );
    // Crashed while reversing.
    let (m, _) = step(started(), Event::Pay(PayResult::UserPaying), T0);
    let (m, _) = step(m, Event::Cancel, T0 + S);
    let (m, cmds) = step(m, Event::Timer, T0 + 15 * S);
    assert_eq!(cmds, vec![Command::Reverse]);
    let (_, cmds) = step(m, Event::Resume, T0 + 100 * S);
    assert_eq!(cmds, vec![Command::Reverse]);
}

#[test]
fn finished_orders_ignore_everything_but_a_retry_of_unresolved() {
    let (m, _) = step(started(), Event::Pay(PayResult::Answer(paid(100))), T0);
    for e in [
        Event::Timer,
        Event::Cancel,
        Event::Resume,
        Event::Retry,
        Event::Query(QueryResult::State(Remote::Revoked)),
    ] {
        let (m2, cmds) = step(m.clone(), e.clone(), T0 + 60 * S);
        assert!(cmds.is_empty(), "{e:?}");
        assert_eq!(m2.state(), OrderState::Paid);
    }
}

#[test]
fn state_names_are_the_contract() {
    for s in [
        "PENDING",
        "USERPAYING",
        "PAID",
        "FAILED",
        "REVERSED",
        "UNRESOLVED",
        "PARTIALLY_REFUNDED",
        "REFUNDED",
    ] {
        assert_eq!(OrderState::parse(s).unwrap().as_str(), s);
        assert_eq!(
            serde_json::to_string(&OrderState::parse(s).unwrap()).unwrap(),
            format!("\"{s}\"")
        );
    }
}

// ---- property test: random environments ----

#[derive(Clone, Debug)]
enum Env {
    Answer(u8),
    Cancel,
    SpuriousTimer,
    Wait(u16),
}

fn env() -> impl Strategy<Value = Env> {
    prop_oneof![
        6 => any::<u8>().prop_map(Env::Answer),
        1 => Just(Env::Cancel),
        1 => Just(Env::SpuriousTimer),
        2 => any::<u16>().prop_map(Env::Wait),
    ]
}

fn pay_answer(x: u8, amount: i64) -> PayResult {
    match x % 9 {
        7 => PayResult::NotSent,
        0 => PayResult::Answer(paid(amount)),
        1 | 2 => PayResult::UserPaying,
        3 => PayResult::Declined {
            code: "NOTENOUGH".into(),
            en: String::new(),
            zh: String::new(),
        },
        4 => PayResult::Answer(Remote::NotPaid),
        5 => PayResult::Rejected {
            code: "SIGN_ERROR".into(),
        },
        _ => PayResult::Unknown,
    }
}

fn query_answer(x: u8, amount: i64) -> QueryResult {
    QueryResult::State(match x % 10 {
        0 => paid(amount),
        8 => refunded(amount),
        1 => Remote::UserPaying,
        2 => Remote::NotPaid,
        3 => Remote::PayError,
        4 => Remote::Revoked,
        5 => Remote::Closed,
        6 => return QueryResult::NotFound,
        7 => Remote::Other("NEW".into()),
        _ => return QueryResult::Unknown,
    })
}

fn reverse_answer(x: u8) -> ReverseResult {
    match x % 6 {
        0 | 1 => ReverseResult::Done,
        2 | 3 => ReverseResult::Retry,
        4 => ReverseResult::NotFound,
        _ => ReverseResult::Refused {
            code: "ORDERPAID".into(),
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn invariants_hold_for_random_environments(amount in 1i64..1_000_000, script in prop::collection::vec(env(), 0..80)) {
        let mut m = Machine::new(amount, timing());
        let mut now = T0;
        let mut pending: Option<Command> = None;
        let mut pays = 0;
        let mut finished = Vec::new();
        let mut verified_paid = false;
        let apply = |m: Machine, e: Event, now: i64, pending: &mut Option<Command>, pays: &mut u32, finished: &mut Vec<OrderState>| {
            let (m2, cmds) = m.step(e, now);
            prop_assert_eq!(m2.amount(), amount, "amount never changes");
            let back = Machine::from_snapshot(&m2.to_snapshot());
            prop_assert_eq!(back.as_ref().ok(), Some(&m2), "the snapshot round-trips");
            for c in cmds {
                match c {
                    Command::SendPay => { *pays += 1; *pending = Some(Command::SendPay); }
                    Command::Query => *pending = Some(Command::Query),
                    Command::Reverse => {
                        let t0 = m2.pay_sent_at().unwrap_or(i64::MIN);
                        prop_assert!(now >= t0 + 15_000, "reverse at {} is sooner than 15 s after {}", now, t0);
                        *pending = Some(Command::Reverse);
                    }
                    Command::WakeAt(_) => {}
                    Command::Finished(s) => finished.push(s),
                }
            }
            Ok(m2)
        };
        m = apply(m, Event::Start, now, &mut pending, &mut pays, &mut finished)?;
        // The scripted, possibly hostile, environment.
        for step in script {
            match step {
                Env::Answer(x) => {
                    let e = match pending.take() {
                        Some(Command::SendPay) => {
                            let a = pay_answer(x, amount);
                            if matches!(a, PayResult::Answer(Remote::Paid { .. })) { verified_paid = true; }
                            Event::Pay(a)
                        }
                        Some(Command::Query) => {
                            let a = query_answer(x, amount);
                            if matches!(a, QueryResult::State(Remote::Paid { .. } | Remote::Refunded { .. })) { verified_paid = true; }
                            Event::Query(a)
                        }
                        Some(Command::Reverse) => {
                            Event::Reverse(reverse_answer(x))
                        }
                        _ => match m.next_wake() { Some(at) => { now = now.max(at); Event::Timer } None => continue },
                    };
                    now += i64::from(x) * 10;
                    m = apply(m, e, now, &mut pending, &mut pays, &mut finished)?;
                }
                Env::Cancel => m = apply(m, Event::Cancel, now, &mut pending, &mut pays, &mut finished)?,
                Env::SpuriousTimer => m = apply(m, Event::Timer, now, &mut pending, &mut pays, &mut finished)?,
                Env::Wait(ms) => now += i64::from(ms),
            }
        }
        // Then a dull environment (no answer is ever trusted) must still bring it to an end.
        for _ in 0..200 {
            if m.phase() == Phase::Done { break; }
            let e = match pending.take() {
                Some(Command::SendPay) => Event::Pay(PayResult::Unknown),
                Some(Command::Query) => Event::Query(QueryResult::Unknown),
                Some(Command::Reverse) => Event::Reverse(ReverseResult::Retry),
                _ => { now = now.max(m.next_wake().unwrap_or(now)); Event::Timer }
            };
            m = apply(m, e, now, &mut pending, &mut pays, &mut finished)?;
        }
        prop_assert_eq!(pays, 1, "exactly one pay call, never a second after an unknown outcome");
        prop_assert_eq!(finished.len(), 1, "exactly one final state: {:?}", finished);
        prop_assert!(m.state().is_final());
        prop_assert!(matches!(m.state(), OrderState::Paid | OrderState::Failed | OrderState::Reversed | OrderState::Unresolved));
        if m.state() == OrderState::Paid {
            prop_assert!(verified_paid, "PAID only after a verified paid answer");
        }
    }
}

/// A machine stored by the first version (flat fields) is converted, and resumes from where
/// it was: a reverse waiting out its back-off keeps waiting, never re-pays.
#[test]
fn version_1_snapshots_are_converted_and_resume_where_they_were() {
    let v1 = |phase: &str, state: &str, in_flight: bool, next_at: &str, reverse_reason: &str| {
        format!(
            r#"{{"amount":100,"timing":{{"query_interval_ms":5000,"user_paying_timeout_ms":45000,"min_reverse_after_ms":15000,"max_reverse_attempts":6}},
            "state":"{state}","phase":"{phase}","pay_sent_at":{T0},"next_at":{next_at},"in_flight":{in_flight},"queries":3,
            "reverse_attempts":2,"confirm_failures":0,"cancel_requested":false,"seen_paid":false,"seen_user_paying":true,
            "reverse_reason":{reverse_reason},"transaction_id":null,"reason":null}}"#
        )
    };
    let timeout = r#"{"kind":"not_confirmed_in_time"}"#;
    let m = Machine::from_snapshot(&v1(
        "reversing",
        "USERPAYING",
        false,
        &(T0 + 60 * S).to_string(),
        timeout,
    ))
    .unwrap();
    assert_eq!(
        (m.phase(), m.state(), m.reverse_attempts(), m.queries()),
        (Phase::Reversing, OrderState::Userpaying, 2, 3)
    );
    assert_eq!(m.reversing_for(), Some(&Reason::NotConfirmedInTime));
    let (m, cmds) = m.step(Event::Resume, T0 + 50 * S);
    assert_eq!(
        cmds,
        vec![Command::WakeAt(T0 + 60 * S)],
        "the back-off still holds"
    );
    let (_, cmds) = m.step(Event::Timer, T0 + 60 * S);
    assert_eq!(cmds, vec![Command::Reverse]);

    let m = Machine::from_snapshot(&v1("polling", "USERPAYING", true, "null", "null")).unwrap();
    let (m, cmds) = m.step(Event::Resume, T0 + 20 * S);
    assert_eq!(
        cmds,
        vec![Command::Query],
        "a resumed order queries, never pays"
    );
    assert!(m.awaits_answer());

    // An impossible version 1 state is refused, not guessed.
    assert!(Machine::from_snapshot(&v1("done", "USERPAYING", false, "null", "null")).is_err());
    assert!(Machine::from_snapshot(&v1("polling", "PAID", false, "null", "null")).is_err());
    assert!(Machine::from_snapshot("{}").is_err());
}

#[test]
fn refunds_move_a_paid_order_and_nothing_else() {
    use scanpay::engine::refund::order_state;
    use scanpay::money::Fen;
    assert_eq!(
        order_state(OrderState::Paid, Fen(100), Fen(0)),
        OrderState::Paid
    );
    assert_eq!(
        order_state(OrderState::Paid, Fen(100), Fen(1)),
        OrderState::PartiallyRefunded
    );
    assert_eq!(
        order_state(OrderState::Paid, Fen(100), Fen(100)),
        OrderState::Refunded
    );
    assert_eq!(
        order_state(OrderState::Reversed, Fen(100), Fen(100)),
        OrderState::Reversed
    );
    assert_eq!(
        order_state(OrderState::Unresolved, Fen(100), Fen(50)),
        OrderState::Unresolved
    );
}
