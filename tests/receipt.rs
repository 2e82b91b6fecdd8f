//! Receipts: golden text layouts (paid, refunded, reprinted; zh and en; 32 and 48 columns),
//! no line wider than the paper (property test), and the print queue against real sinks: a
//! loopback TCP printer, a spool folder, and a printer that hangs — which never delays a sale.

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use scanpay::config::Language;
use scanpay::engine::OrderState;
use scanpay::money::Fen;
use scanpay::receipt::layout::{self, RefundLine, SaleReceipt};
use scanpay::receipt::model::{Block, Size};
use scanpay::receipt::printer::{Job, PrintQueue, PrinterStatus, Sink};
use unicode_width::UnicodeWidthStr;

// 2025-11-25 14:32:07 Beijing.
const PAID_AT: i64 = 1_764_052_327_000;

fn data(lang: Language) -> SaleReceipt {
    SaleReceipt {
        lang,
        store_name: "示例便利店".into(),
        sub_merchant: None,
        terminal_id: "POS01".into(),
        cashier: "li".into(),
        shift_id: 12,
        at_ms: PAID_AT,
        tz: jiff::tz::TimeZone::get("Asia/Shanghai").unwrap(),
        amount: Fen(12_850),
        description: "矿泉水 x2, 面包".into(),
        code_masked: "1345 **** **** 6701".into(),
        out_trade_no: "POS01-20251125-AB-000231".into(),
        transaction_id: Some("4200002456202511250123456789".into()),
        state: OrderState::Paid,
        refunds: vec![],
        copy_at_ms: None,
        training: false,
    }
}

fn refunded(lang: Language) -> SaleReceipt {
    let mut d = data(lang);
    d.state = OrderState::PartiallyRefunded;
    d.refunds = vec![RefundLine {
        out_refund_no: "POS01-20251125-AB-000231-R1".into(),
        amount: Fen(3_000),
        at_ms: PAID_AT + 3_600_000,
        status: "SUCCESS".into(),
    }];
    d
}

fn reprinted(lang: Language) -> SaleReceipt {
    let mut d = data(lang);
    d.copy_at_ms = Some(PAID_AT + 7_200_000);
    d
}

#[test]
fn golden_text_layouts() {
    for lang in [Language::Zh, Language::En] {
        for width in [32, 48] {
            for (name, d) in [
                ("paid", data(lang)),
                ("refunded", refunded(lang)),
                ("reprint", reprinted(lang)),
            ] {
                let text = layout::to_text(&layout::sale(&d, width));
                insta::assert_snapshot!(format!("{lang:?}_{width}_{name}").to_lowercase(), text);
            }
        }
    }
}

fn sub_merchant() -> scanpay::order::SubMerchant {
    scanpay::order::SubMerchant {
        sub_mchid: "1900000109".into(),
        name: Some("示例便利店南山店".into()),
    }
}

/// A service provider's till: the sale was charged for a sub-merchant (特约商户).
fn partner(lang: Language) -> SaleReceipt {
    let mut d = data(lang);
    d.sub_merchant = Some(sub_merchant());
    d
}

#[test]
fn partner_receipts_name_the_sub_merchant_and_direct_ones_do_not() {
    for lang in [Language::Zh, Language::En] {
        for width in [32, 48] {
            let text = layout::to_text(&layout::sale(&partner(lang), width));
            let label = match lang {
                Language::Zh => "特约商户",
                Language::En => "Sub-merchant",
            };
            // On one line when it fits, else the value right-aligned below its label.
            let at = text
                .lines()
                .position(|l| l.starts_with(label))
                .unwrap_or_else(|| panic!("no sub-merchant line: {text}"));
            let shown: String = text.lines().skip(at).take(2).collect::<Vec<_>>().join(" ");
            assert!(
                shown.contains("1900000109 示例便利店南山店"),
                "{shown:?} in {text}"
            );
            assert!(text.lines().all(|l| l.width() <= width), "{text}");
            insta::assert_snapshot!(
                format!("partner_{lang:?}_{width}_paid").to_lowercase(),
                text
            );
            let direct = layout::to_text(&layout::sale(&data(lang), width));
            assert!(!direct.contains(label) && !direct.contains("1900000109"));
        }
    }
    // The number alone when no name is configured.
    let mut d = partner(Language::En);
    d.sub_merchant = Some(scanpay::order::SubMerchant {
        sub_mchid: "1900000109".into(),
        name: None,
    });
    let text = layout::to_text(&layout::sale(&d, 32));
    assert!(
        text.lines()
            .any(|l| l.starts_with("Sub-merchant") && l.ends_with(" 1900000109")),
        "{text}"
    );
    // The printer gets the same line (ESC/POS of the same layout).
    let opts = scanpay::receipt::escpos::EscPosOptions {
        cut: true,
        drawer: false,
        qr: scanpay::receipt::escpos::QrMode::Firmware,
    };
    let bytes = scanpay::receipt::escpos::encode(&layout::sale(&d, 32), &opts);
    let plain = scanpay::receipt::escpos::encode(&layout::sale(&data(Language::En), 32), &opts);
    let has = |b: &[u8], s: &[u8]| b.windows(s.len()).any(|w| w == s);
    assert!(has(&bytes, b"Sub-merchant") && has(&bytes, b"1900000109"));
    assert!(!has(&plain, b"Sub-merchant"));
}

#[test]
fn partner_x_and_z_name_the_sub_merchant_on_screen_and_paper() {
    use scanpay::store::shifts::{Shift, Summary};
    use scanpay::till::reports::Report;
    let shift = Shift {
        id: 12,
        terminal_id: "POS01".into(),
        cashier: "li".into(),
        opened_at: PAID_AT,
        closed_at: None,
        z_number: None,
    };
    let summary = Summary {
        shift_id: 12,
        by_state: vec![("PAID".into(), 2, 22_850)],
        paid_count: 2,
        paid_fen: 22_850,
        net_fen: 22_850,
        by_cashier: vec![("li".into(), 2, 22_850)],
        first_out_trade_no: Some("POS01-20251125-AB-000231".into()),
        last_out_trade_no: Some("POS01-20251125-AB-000232".into()),
        sub_merchant: Some(sub_merchant()),
        ..Summary::default()
    };
    for lang in [Language::Zh, Language::En] {
        let x = Report::x(lang, &shift, summary.clone());
        let z = Report::z(lang, 7, summary.clone());
        for (name, report) in [("x", &x), ("z", &z)] {
            let text = report.to_text();
            let second = text.lines().nth(1).unwrap_or_default();
            let label = match lang {
                Language::Zh => "特约商户",
                Language::En => "sub-merchant",
            };
            assert_eq!(
                second,
                format!("  {label} 1900000109 示例便利店南山店"),
                "{text}"
            );
            let pairs: Vec<(String, String)> = report
                .lines()
                .into_iter()
                .map(|l| (l.label.clone(), l.value()))
                .collect();
            let paper = layout::to_text(&layout::summary(
                lang,
                &report.title,
                "示例便利店",
                &pairs,
                32,
                false,
            ));
            assert!(paper.lines().all(|l| l.width() <= 32), "{paper}");
            insta::assert_snapshot!(
                format!("partner_{lang:?}_{name}").to_lowercase(),
                format!("{text}\n{paper}")
            );
        }
        // The JSON of a direct merchant's report has no such field (unchanged).
        let mut direct = summary.clone();
        direct.sub_merchant = None;
        let json = serde_json::to_value(&direct).unwrap();
        assert!(json.get("sub_merchant").is_none(), "{json}");
        assert!(
            !Report::x(lang, &shift, direct)
                .to_text()
                .contains("1900000109")
        );
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["sub_merchant"]["sub_mchid"], "1900000109", "{json}");
    }
}

#[test]
fn a_reprint_is_marked_at_the_top_and_the_bottom() {
    let text = layout::to_text(&layout::sale(&reprinted(Language::Zh), 32));
    assert_eq!(
        text.matches("重印 / COPY 11-25 16:32:07").count(),
        2,
        "{text}"
    );
    let plain = layout::to_text(&layout::sale(&data(Language::Zh), 32));
    assert!(!plain.contains("COPY"));
}

#[test]
fn training_receipts_and_reports_are_marked_at_the_top_and_the_bottom_at_every_width() {
    for lang in [Language::Zh, Language::En] {
        for width in [32, 42, 48] {
            let mut d = reprinted(lang);
            d.training = true;
            let sale = layout::to_text(&layout::sale(&d, width));
            let lines = [("a".to_string(), "1".to_string())];
            let x = layout::to_text(&layout::summary(lang, "X", "店", &lines, width, true));
            for text in [&sale, &x] {
                assert_eq!(text.matches(layout::TRAINING_MARK).count(), 2, "{text}");
                let first = text.lines().find(|l| !l.trim().is_empty()).unwrap();
                assert!(first.contains("TRAINING"), "{text}");
                let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
                assert!(last.contains("TRAINING"), "{text}");
                assert!(text.lines().all(|l| l.width() <= width), "{text}");
            }
        }
    }
    let real = layout::to_text(&layout::summary(Language::En, "X", "s", &[], 32, false));
    assert!(
        !real.contains("TRAINING") && !real.contains("模拟"),
        "{real}"
    );
    assert!(!layout::to_text(&layout::sale(&data(Language::Zh), 32)).contains("模拟"));
}

#[test]
fn control_characters_never_reach_the_paper_or_the_spool() {
    let mut d = data(Language::En);
    d.description = "tea\u{1b}[2J\u{9b}31m\u{7}".into();
    d.cashier = "li\u{1b}]0;x".into();
    let r = layout::sale(&d, 32);
    let text = layout::to_text(&r);
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{text:?}"
    );
    assert!(text.contains("tea[2J31m"), "{text}");
}

#[test]
fn refunds_show_and_net_is_derived() {
    let text = layout::to_text(&layout::sale(&refunded(Language::En), 32));
    assert!(
        text.contains("-¥30.00") && text.contains("Net ¥98.50"),
        "{text}"
    );
}

fn cells(b: &Block) -> Option<(usize, Size)> {
    match b {
        Block::Text { text, size, .. } => Some((text.width(), *size)),
        _ => None,
    }
}

proptest! {
    #[test]
    fn no_line_is_wider_than_the_paper(
        store in "\\PC{0,60}",
        desc in "[a-zA-Z0-9 中文测试矿泉水面包，。😀]{0,120}",
        cashier in "\\PC{1,32}",
        amount in 1i64..1_000_000_000_000,
        width in prop::sample::select(vec![32usize, 42, 48]),
        lang in prop::sample::select(vec![Language::Zh, Language::En]),
        training in any::<bool>(),
    ) {
        let mut d = refunded(lang);
        d.training = training;
        d.store_name = store;
        d.description = desc;
        d.cashier = cashier;
        d.amount = Fen(amount);
        let r = layout::sale(&d, width);
        for b in &r.blocks {
            if let Some((w, size)) = cells(b) {
                let limit = if size == Size::Double { width / 2 } else { width };
                prop_assert!(w <= limit, "{:?} is {} cells, limit {}", b, w, limit);
            }
        }
        for line in layout::to_text(&r).lines() {
            prop_assert!(line.width() <= width, "{:?}", line);
        }
    }

    #[test]
    fn wrap_never_exceeds_and_keeps_every_character(text in "\\PC{0,200}", cols in 2usize..60) {
        let lines = layout::wrap(&text, cols);
        for l in &lines {
            prop_assert!(l.width() <= cols);
        }
        let kept: String = lines.concat().chars().filter(|c| !c.is_whitespace()).collect();
        let want: usize = text.chars().filter(|c| !c.is_whitespace() && !c.is_control()).count();
        prop_assert_eq!(kept.chars().count(), want);
    }
}

fn job(name: &str) -> Job {
    Job {
        name: name.into(),
        bytes: format!("ESC/POS {name}\n").into_bytes(),
        text: format!("receipt {name}\n"),
    }
}

fn wait_status(q: &PrintQueue, want: impl Fn(&PrinterStatus) -> bool) -> PrinterStatus {
    for _ in 0..200 {
        let s = q.status();
        if want(&s) {
            return s;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    q.status()
}

#[test]
fn prints_to_a_loopback_tcp_printer_and_spools_text() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let spool = tempfile::tempdir().unwrap();
    let q = PrintQueue::start(
        Sink::Tcp(addr),
        spool.path().to_path_buf(),
        Duration::from_secs(2),
    );
    q.submit(job("A1"));
    let (mut conn, _) = listener.accept().unwrap();
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut conn, &mut got).unwrap();
    assert_eq!(got, b"ESC/POS A1\n");
    assert_eq!(
        wait_status(&q, |s| *s == PrinterStatus::Ready),
        PrinterStatus::Ready
    );
    assert_eq!(
        std::fs::read_to_string(spool.path().join("A1.txt")).unwrap(),
        "receipt A1\n"
    );
}

#[test]
fn prints_to_a_spool_folder() {
    let dir = tempfile::tempdir().unwrap();
    let q = PrintQueue::start(
        Sink::File(dir.path().join("out")),
        dir.path().join("spool"),
        Duration::from_secs(2),
    );
    q.submit(job("B1"));
    wait_status(&q, |_| dir.path().join("out/B1.bin").exists());
    assert_eq!(
        std::fs::read(dir.path().join("out/B1.bin")).unwrap(),
        b"ESC/POS B1\n"
    );
}

#[test]
fn a_refusing_printer_is_reported_and_its_jobs_wait() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let spool = tempfile::tempdir().unwrap();
    let q = PrintQueue::start(
        Sink::Tcp(port.to_string()),
        spool.path().to_path_buf(),
        Duration::from_secs(1),
    );
    q.submit(job("C1"));
    let s = wait_status(&q, |s| matches!(s, PrinterStatus::Failed { .. }));
    assert!(
        matches!(s, PrinterStatus::Failed { waiting: 1, .. }),
        "{s:?}"
    );
    // The text copy is kept even though nothing printed.
    assert!(spool.path().join("C1.txt").exists());
}

#[tokio::test(start_paused = true)]
async fn a_hanging_printer_never_delays_the_next_sale() {
    // A printer device that never accepts data: opening a FIFO with no reader blocks forever.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("lp0");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let q = PrintQueue::start(
        Sink::Device(fifo.clone()),
        dir.path().join("spool"),
        Duration::from_secs(1),
    );
    q.submit(job("D1"));
    q.submit(job("D2"));

    // A whole payment goes through while the printer hangs.
    let cfg = scanpay::config::Config::load_from(scanpay::config::Source::EmbeddedDemo).unwrap();
    let clock: scanpay::clock::SharedClock = Arc::new(scanpay::clock::TokioClock::new());
    let (client, _sim) = scanpay::sim::connect_in_process(&cfg, clock.clone())
        .await
        .unwrap();
    let store = scanpay::store::Store::open_inline(dir.path()).unwrap();
    let shift = store
        .call(|c| scanpay::store::shifts::open(c, "POS01", "li", 0))
        .await
        .unwrap();
    let engine = scanpay::engine::Engine::new(&cfg, client, store, clock);
    let sale = scanpay::engine::Sale {
        amount: Fen(100),
        description: String::new(),
        code: scanpay::auth_code::AuthCode::parse("134567890123456711").unwrap(),
        shift_id: shift.id,
        cashier: "li".into(),
    };
    let mut quiet = |_: &scanpay::engine::Progress| {};
    let order = engine.pay(&sale, &mut quiet, None).await.unwrap();
    assert_eq!(order.state, OrderState::Paid);
    // The printer is still stuck on the first job, and nothing was printed twice.
    let s = q.status();
    assert!(
        matches!(s, PrinterStatus::Printing | PrinterStatus::Failed { .. }),
        "{s:?}"
    );
    // Let the worker go: open the FIFO for reading so the blocked open completes.
    let reader = std::thread::spawn(move || std::fs::read(&fifo).unwrap_or_default());
    let st = wait_status(&q, |s| {
        matches!(s, PrinterStatus::Failed { .. } | PrinterStatus::Ready)
    });
    drop(st);
    let _ = reader;
}

#[test]
fn escpos_bytes_of_one_receipt() {
    use scanpay::receipt::escpos::{EscPosOptions, QrMode, encode};
    let r = layout::sale(&data(Language::Zh), 32);
    let bytes = encode(
        &r,
        &EscPosOptions {
            cut: true,
            drawer: true,
            qr: QrMode::Firmware,
        },
    );
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    // Init, Chinese mode, GB18030 code system; the store name in GB18030; ￥ as a3a4; the QR
    // stored with GS ( k fn 80 and printed with fn 81; drawer pulse; full cut.
    assert!(hex.starts_with("1b401c261c4300"), "{}", &hex[..16]);
    assert!(hex.contains("cabec0fdb1e3c0fbb5ea"));
    assert!(hex.contains("a3a4"));
    assert!(hex.contains("1d286b") && hex.contains("315030") && hex.contains("1d286b0300315130"));
    assert!(
        hex.ends_with("1b700019fa1b64031d564100"),
        "{}",
        &hex[hex.len() - 24..]
    );
    let dump: Vec<String> = bytes
        .chunks(32)
        .map(|c| c.iter().map(|b| format!("{b:02x}")).collect())
        .collect();
    insta::assert_snapshot!("escpos_zh_32_paid_hex", dump.join("\n"));
}
