//! `scanpay pay` and `scanpay recover`.

use scanpay::auth_code::{self, Classified};
use scanpay::config::Config;
use scanpay::engine::micropay::Phase;
use scanpay::engine::{DESCRIPTION_MAX_CHARS, OrderState, Progress, Sale};
use scanpay::money::Fen;
use scanpay::till::TillError;
use scanpay::till::sale::order_message as message;

use scanpay::sanitize::terminal_line;

use super::{Failure, exit_for, open_till, order_json, print_json, simulated};

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
    // The codepay page allows 127 characters; the engine also makes it bill-safe.
    if let Some(d) = &description
        && d.trim().chars().count() > DESCRIPTION_MAX_CHARS
    {
        return Err(Failure::usage(format!(
            "description: at most {} characters (WeChat Pay's limit), this one has {}",
            DESCRIPTION_MAX_CHARS,
            d.trim().chars().count()
        )));
    }
    let lang = cfg.language;
    let sim = simulated(&cfg);
    let till = open_till(cfg).await?;
    let shift = till.selling_shift().await?.ok_or_else(|| {
        Failure::usage(format!(
            "{}: open one with `scanpay shift open --cashier ID`",
            TillError::NoShift(till.config().merchant.terminal_id.clone())
        ))
    })?;

    // Orders a previous run left in flight settle alongside this one (listed when the till
    // opened, before this sale was written, so it is not among them).
    let earlier = till.clone();
    let recovering = tokio::spawn(async move { earlier.settle_left().await });

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
        let Some(line) = scanpay::i18n::progress_line(lang, p) else {
            return;
        };
        eprintln!("{line}");
    };
    let order = till.pay(&sale, &mut show, Some(cancel_rx)).await?;
    if json {
        print_json(order_json(&order, lang, false), sim, false);
    } else {
        println!(
            "{}  {}  {}  {}",
            order.state,
            order.amount,
            order.out_trade_no,
            terminal_line(&message(&order, lang))
        );
        if let Some(t) = &order.transaction_id {
            println!("transaction_id {}", terminal_line(t));
        }
    }
    match recovering.await {
        Ok(Ok(done)) => {
            for o in done {
                eprintln!(
                    "scanpay: recovered {} → {} ({})",
                    o.out_trade_no,
                    o.state,
                    terminal_line(&message(&o, lang))
                );
            }
        }
        Ok(Err(e)) => eprintln!(
            "scanpay: recovery of earlier orders: {}",
            terminal_line(&e.to_string())
        ),
        Err(e) => eprintln!("scanpay: recovery of earlier orders: {e}"),
    }
    Ok(exit_for(order.state))
}

/// Settles everything in flight and everything unresolved; prints what happened.
pub async fn recover_all(cfg: Config, json: bool) -> Result<u8, Failure> {
    let lang = cfg.language;
    let sim = simulated(&cfg);
    let till = open_till(cfg).await?;
    let recovered = till.recover_all().await?;
    let done = recovered.orders;
    for r in &recovered.other_api {
        eprintln!(
            "scanpay: {}",
            scanpay::sanitize::terminal(&scanpay::i18n::engine_refusal(lang, r))
        );
    }
    for r in &recovered.refunds {
        eprintln!(
            "scanpay: refund {} of {} → {}",
            r.out_refund_no,
            r.amount,
            r.status.as_str()
        );
    }
    if json {
        let v: Vec<serde_json::Value> = done.iter().map(|o| order_json(o, lang, true)).collect();
        print_json(serde_json::Value::Array(v), sim, false);
    } else if done.is_empty() {
        println!("nothing to recover");
    } else {
        for o in &done {
            println!("{}", super::order_line(o, lang));
        }
    }
    Ok(
        if done.iter().any(|o| o.state == OrderState::Unresolved) || !recovered.other_api.is_empty()
        {
            super::EXIT_UNRESOLVED
        } else {
            super::EXIT_OK
        },
    )
}
