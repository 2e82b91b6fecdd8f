//! `scanpay pay` and `scanpay recover`.

use scanpay::auth_code::{self, Classified};
use scanpay::config::{Config, Language};
use scanpay::engine::micropay::Phase;
use scanpay::engine::recovery::{Scope, pending, recover, settle};
use scanpay::engine::{OrderState, Progress, Sale};
use scanpay::money::Fen;

use super::{Failure, Session, exit_for, message, order_json};

/// Runs one whole payment and prints its outcome.
pub async fn pay(
    cfg: Config,
    amount: &str,
    code: &str,
    description: Option<String>,
    json: bool,
) -> Result<u8, Failure> {
    let amount = Fen::parse(amount, cfg.payment.max_amount)
        .map_err(|e| Failure::usage(format!("amount {amount:?}: {e}")))?;
    let code = match auth_code::classify(code) {
        Classified::WeChat(c) => c,
        other => {
            let masked = auth_code::Masked::of(&auth_code::normalise(code));
            return Err(Failure::usage(format!(
                "payment code {masked}: {}",
                other.message_en().unwrap_or_default()
            )));
        }
    };
    let lang = cfg.language;
    let session = Session::open(cfg).await?;
    let shift = session.shift().await?;

    // Orders a previous run left in flight settle alongside this one (listed before this sale
    // is written, so it is not among them).
    let earlier = pending(&session.engine, Scope::InFlight)
        .await
        .map_err(|e| Failure::usage(e.to_string()))?;
    let engine = session.engine.clone();
    let recovering = tokio::spawn(async move { settle(&engine, earlier).await });

    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("scanpay: cancelling — the order is being reversed, please wait");
            let _ = cancel_tx.send(true);
        }
    });

    let sale = Sale {
        amount,
        description: description.unwrap_or_default(),
        code,
        shift_id: shift.id,
        cashier: shift.cashier.clone(),
    };
    let mut last: Option<(OrderState, i64, Phase)> = None;
    let mut show = |p: &Progress| {
        if json {
            return;
        }
        let key = (p.state, p.seconds_left, p.phase);
        if last == Some(key) {
            return;
        }
        last = Some(key);
        let line = match (p.phase, p.state, lang) {
            (Phase::Done, _, _) => return,
            (Phase::Reversing | Phase::Confirming, _, Language::Zh) => format!(
                "{}: 正在撤销（第 {} 次）…",
                p.out_trade_no, p.reverse_attempts
            ),
            (Phase::Reversing | Phase::Confirming, _, Language::En) => format!(
                "{}: reversing (attempt {})…",
                p.out_trade_no, p.reverse_attempts
            ),
            (_, OrderState::Userpaying, Language::Zh) => format!(
                "{}: 请顾客在手机上输入支付密码（剩余 {} 秒，已查询 {} 次）",
                p.out_trade_no, p.seconds_left, p.queries
            ),
            (_, OrderState::Userpaying, Language::En) => format!(
                "{}: waiting for the customer to confirm ({} s left, {} queries)",
                p.out_trade_no, p.seconds_left, p.queries
            ),
            (_, _, Language::Zh) => format!("{}: 等待支付结果…", p.out_trade_no),
            (_, _, Language::En) => format!("{}: waiting for the result…", p.out_trade_no),
        };
        eprintln!("{line}");
    };
    let order = session
        .engine
        .pay(&sale, &mut show, Some(cancel_rx))
        .await
        .map_err(|e| match e {
            scanpay::engine::EngineError::Refused(m) => Failure::failed(m),
            e @ scanpay::engine::EngineError::DuplicateCode { .. } => {
                Failure::failed(e.to_string())
            }
            scanpay::engine::EngineError::Store(s) => Failure::from(s),
        })?;
    if json {
        println!("{}", order_json(&order, lang, false));
    } else {
        println!(
            "{}  {}  {}  {}",
            order.state,
            order.amount,
            order.out_trade_no,
            message(&order, lang)
        );
        if let Some(t) = &order.transaction_id {
            println!("transaction_id {t}");
        }
    }
    match recovering.await {
        Ok(Ok(done)) => {
            for o in done {
                eprintln!(
                    "scanpay: recovered {} → {} ({})",
                    o.out_trade_no,
                    o.state,
                    message(&o, lang)
                );
            }
        }
        Ok(Err(e)) => eprintln!("scanpay: recovery of earlier orders: {e}"),
        Err(e) => eprintln!("scanpay: recovery of earlier orders: {e}"),
    }
    Ok(exit_for(order.state))
}

/// Settles everything in flight and everything unresolved; prints what happened.
pub async fn recover_all(cfg: Config, json: bool) -> Result<u8, Failure> {
    let lang = cfg.language;
    let session = Session::open(cfg).await?;
    let done = recover(&session.engine, Scope::InFlightAndUnresolved)
        .await
        .map_err(|e| Failure::usage(e.to_string()))?;
    // Refunds in flight too (waiting at most a minute each; the rest stays for the next run).
    let refunds = scanpay::engine::recovery::recover_refunds(
        &session.engine,
        Some(std::time::Duration::from_secs(60)),
    )
    .await
    .map_err(|e| Failure::usage(e.to_string()))?;
    for r in &refunds {
        eprintln!(
            "scanpay: refund {} of {} → {}",
            r.out_refund_no,
            r.amount,
            r.status.as_str()
        );
    }
    if json {
        let v: Vec<serde_json::Value> = done.iter().map(|o| order_json(o, lang, true)).collect();
        println!("{}", serde_json::Value::Array(v));
    } else if done.is_empty() {
        println!("nothing to recover");
    } else {
        for o in &done {
            println!("{}", super::order_line(o, lang));
        }
    }
    Ok(if done.iter().any(|o| o.state == OrderState::Unresolved) {
        super::EXIT_UNRESOLVED
    } else {
        super::EXIT_OK
    })
}
