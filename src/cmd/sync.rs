//! `scanpay sync` (the till ships its log to the head office) and `scanpay hq …` (the head
//! office: schema, report, reconciliation).

use scanpay::config::Config;
use scanpay::sanitize;
use scanpay::till::TillError;
use scanpay::till::sync::HeadOffice;

use super::{EXIT_FAILED, EXIT_OK, Failure, books, print_json, simulated, system_clock};

/// A database that cannot be reached or refuses is "not done" (1); a configuration problem
/// is a usage error (2).
fn failure(e: TillError) -> Failure {
    match &e {
        TillError::Sync(_) | TillError::Hq(scanpay::hq::HqError::Connect(_)) => {
            Failure::failed(e.to_string())
        }
        _ => Failure::from(e),
    }
}

/// Ships what is not yet acknowledged and says how many rows went and how far behind the
/// till is.
pub async fn sync(cfg: Config, json: bool) -> Result<u8, Failure> {
    let status = books(&cfg).sync(true).await.map_err(failure)?;
    let shipped = status.shipped.clone().unwrap_or_default();
    if json {
        print_json(
            serde_json::to_value(&status).unwrap_or_default(),
            simulated(&cfg),
            true,
        );
    } else {
        println!(
            "shipped {} row(s) in {} batch(es); {} change(s) waiting, lag {} s (till {}, acknowledged up to #{})",
            shipped.rows,
            shipped.batches,
            status.backlog.pending,
            status.lag_secs,
            sanitize::terminal(&status.till.till_id),
            status.backlog.acked_seq
        );
    }
    Ok(EXIT_OK)
}

fn head_office(cfg: Config) -> HeadOffice {
    HeadOffice::new(cfg, system_clock())
}

/// Creates or migrates the central schema.
pub async fn hq_init(cfg: Config) -> Result<u8, Failure> {
    let (before, after) = head_office(cfg).init().await.map_err(failure)?;
    if before == after {
        println!("head-office schema is up to date (version {after})");
    } else {
        println!("head-office schema migrated from version {before} to {after}");
    }
    Ok(EXIT_OK)
}

/// The day's report over all stores and tills.
pub async fn hq_report(
    cfg: Config,
    date: &str,
    store: Option<&str>,
    json: bool,
) -> Result<u8, Failure> {
    let sim = simulated(&cfg);
    let r = head_office(cfg)
        .report(date, store)
        .await
        .map_err(failure)?;
    if json {
        print_json(serde_json::to_value(&r).unwrap_or_default(), sim, true);
    } else {
        print!("{}", sanitize::terminal(&scanpay::hq::report::to_text(&r)));
    }
    Ok(EXIT_OK)
}

/// The merchant's bill against every till's shipped orders; exit 0 only when clean.
pub async fn hq_reconcile(cfg: Config, date: &str, json: bool, csv: bool) -> Result<u8, Failure> {
    let sim = simulated(&cfg);
    let r = head_office(cfg).reconcile(date).await.map_err(failure)?;
    if json {
        let mut v = serde_json::to_value(&r).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("clean".into(), r.is_clean().into());
        }
        print_json(v, sim, true);
    } else if csv {
        print!("{}", scanpay::hq::reconcile::to_csv(&r));
    } else {
        print!(
            "{}",
            sanitize::terminal(&scanpay::hq::reconcile::to_text(&r))
        );
    }
    Ok(if r.is_clean() { EXIT_OK } else { EXIT_FAILED })
}
