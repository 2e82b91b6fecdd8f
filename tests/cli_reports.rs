//! X and Z reports through the real binary on the demo: the screen's labels, refunds still
//! open, the full Z on paper, and `shift close` sending its Z to the printer.

mod common;

use std::path::Path;
use std::process::Output;

use common::config::english_with_printer;
use common::{run_in, spooled, stdout};

fn run(dir: &Path, args: &[&str], stdin: &str) -> Output {
    run_in(dir, args, stdin, &[])
}

/// A paid sale of ¥10.00 and a refund of ¥3.00 (approved with the demo PIN).
fn sale_and_refund(d: &Path, cfg: &[&str]) -> String {
    let mut args = cfg.to_vec();
    args.extend([
        "pay",
        "--amount",
        "10.00",
        "--code",
        "134567890123456711",
        "--json",
    ]);
    let paid: serde_json::Value = serde_json::from_slice(&run(d, &args, "").stdout).unwrap();
    let no = paid["out_trade_no"].as_str().unwrap().to_string();
    let mut args = cfg.to_vec();
    args.extend(["refund", &no, "--amount", "3.00", "--reason", "damaged"]);
    let out = run(d, &args, "0000\n");
    assert!(out.status.success(), "{out:?}");
    no
}

#[test]
fn report_x_uses_the_screens_state_names_and_shows_open_refunds() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    sale_and_refund(d, &[]);

    // Chinese (the demo): the screen's names, never the contract's.
    let out = run(d, &["report", "x"], "");
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("部分退款"), "{text}");
    assert!(!text.contains("PARTIALLY_REFUNDED"), "{text}");
    assert!(text.contains("净收") && text.contains("¥7.00"), "{text}");

    // English: "part refunded", as on the screen.
    let cfg = english_with_printer(d);
    let out = run(d, &["--config", &cfg, "report", "x"], "");
    let text = stdout(&out);
    assert!(text.contains("part refunded"), "{text}");
    assert!(!text.contains("PARTIALLY_REFUNDED"), "{text}");
    assert!(!text.contains("refunds open"), "none open yet: {text}");

    // A refund left ABNORMAL is counted as open, on screen output and on paper.
    let db = rusqlite::Connection::open(d.join("scanpay-data/scanpay.db")).unwrap();
    db.execute("UPDATE refunds SET status = 'ABNORMAL'", [])
        .unwrap();
    let out = run(d, &["--config", &cfg, "report", "x", "--print"], "");
    assert!(out.status.success(), "{out:?}");
    let line = stdout(&out)
        .lines()
        .find(|l| l.contains("refunds open"))
        .map(str::to_string);
    assert!(
        line.as_deref().is_some_and(|l| l.trim_end().ends_with('1')),
        "{out:?}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("report sent to the printer"),
        "{out:?}"
    );
    let paper = spooled(d, "report-");
    assert!(paper.contains("refunds open"), "{paper}");
    // The JSON contract is unchanged.
    let out = run(d, &["report", "x", "--json"], "");
    let x: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(x["refund_open_count"], 1);
}

#[test]
fn shift_close_prints_the_full_z_and_report_z_print_reprints_it_in_full() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = english_with_printer(d);
    sale_and_refund(d, &["--config", &cfg]);

    let out = run(d, &["--config", &cfg, "shift", "close"], "");
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Z report sent to the printer"), "{err}");
    assert!(d.join("printer/z-00001.bin").exists(), "{err}");
    let z = spooled(d, "z-00001");
    for want in [
        "Z report #1",
        "part refunded",
        "paid total",
        "refunds",
        "net",
        "cashier demo",
        ":00-",
        "orders",
    ] {
        assert!(z.contains(want), "{want} missing from the Z:\n{z}");
    }

    // `report z --print` prints the same full Z (per cashier, per hour), not a short one.
    let out = run(d, &["--config", &cfg, "report", "z", "--print"], "");
    assert!(out.status.success(), "{out:?}");
    let again = spooled(d, "report-");
    for want in ["Z report #1", "cashier demo", ":00-", "refunds", "net"] {
        assert!(
            again.contains(want),
            "{want} missing from the reprint:\n{again}"
        );
    }

    // Without a printer configured the Z goes to the spool, and the close says so.
    let out = run(d, &["shift", "open", "--cashier", "li"], "");
    assert!(out.status.success(), "{out:?}");
    let out = run(d, &["shift", "close"], "");
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no printer configured; Z report written to"),
        "{out:?}"
    );
    assert!(spooled(d, "z-00002").contains("Z 报表 #2"));
}

/// A service provider's till (the demo with a sub-merchant): an order written in-process (not
/// charged: nothing reaches the payment service), then read by the real binary — `orders
/// --json` and the CSV export say whose it is, `report x` names the sub-merchant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_orders_export_and_x_name_the_sub_merchant() {
    use scanpay::auth_code::AuthCode;
    use scanpay::clock::{SharedClock, TokioClock};
    use scanpay::engine::Sale;
    use scanpay::money::Fen;
    use scanpay::till::{Printing, Till};

    let dir = tempfile::tempdir().unwrap();
    let mut t = common::config::demo();
    common::config::set(&mut t, "language", "en");
    common::config::insert(&mut t, "merchant.sub_mchid", "1900000109");
    common::config::insert(&mut t, "merchant.sub_merchant_name", "示例便利店南山店");
    let path = common::config::write(&t, &dir.path().join("partner.toml"));
    let cfg = common::config::load(&t, &path).unwrap();
    let (no, created_at) = {
        let clock: SharedClock = std::sync::Arc::new(TokioClock::new());
        let till = Till::open(cfg, clock, Printing::Wait).await.unwrap();
        let shift = till.open_shift("li").await.unwrap();
        let sale = Sale {
            amount: Fen(1234),
            description: String::new(),
            code: AuthCode::parse("134567890123456711").unwrap(),
            shift_id: shift.id,
            cashier: shift.cashier,
        };
        let o = till.engine().create_order(&sale).await.unwrap();
        (o.out_trade_no, o.created_at)
    };
    let cfg_arg = path.to_str().unwrap();
    let orders = common::json(&run(
        dir.path(),
        &["--config", cfg_arg, "orders", "--all", "--json"],
        "",
    ));
    let o = &orders[0];
    assert_eq!(o["out_trade_no"], no.as_str());
    assert_eq!(o["party"], "service_provider", "{o}");
    assert_eq!(o["sub_mchid"], "1900000109", "{o}");

    let x = run(dir.path(), &["--config", cfg_arg, "report", "x"], "");
    assert!(
        stdout(&x).contains("sub-merchant 1900000109 示例便利店南山店"),
        "{}",
        stdout(&x)
    );
    let xj = common::json(&run(
        dir.path(),
        &["--config", cfg_arg, "report", "x", "--json"],
        "",
    ));
    assert_eq!(xj["sub_merchant"]["sub_mchid"], "1900000109", "{xj}");
    assert_eq!(xj["sub_merchant"]["name"], "示例便利店南山店", "{xj}");

    let day = scanpay::clock::beijing::date(created_at);
    let csv = run(
        dir.path(),
        &["--config", cfg_arg, "export", "--from", &day, "--to", &day],
        "",
    );
    let text = stdout(&csv);
    let mut lines = text.lines();
    assert!(
        lines.next().unwrap().ends_with(",party,sub_mchid"),
        "{text}"
    );
    assert!(
        lines
            .next()
            .unwrap()
            .ends_with(",service_provider,1900000109"),
        "{text}"
    );
}
