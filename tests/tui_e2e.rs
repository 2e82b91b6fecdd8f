//! The real binary in a real terminal: a pseudo-terminal (openpty) at 80×24, its output fed
//! to a VT100 parser. A person types an amount, a wedge scanner sends a code as one burst,
//! the screen shows PAID; a confirming customer shows the countdown; Esc reverses; Ctrl-Q
//! (asked, then confirmed) leaves the terminal as it was. And the counter-security
//! regressions: a scanner burst with control keys in it neither changes the amount waiting
//! for a scan nor quits to the shell that started the till.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::config;
use common::pty::{Tty, spawn_cmd};

fn spawn(dir: &std::path::Path) -> Tty {
    spawn_cmd(Command::new(common::BIN), dir)
}

/// The till started by a shell, as a cashier's terminal does: when scanpay ends, the shell
/// reads whatever the terminal sends next.
fn spawn_under_shell(dir: &std::path::Path) -> Tty {
    let mut sh = Command::new("/bin/sh");
    sh.arg("-c")
        .arg("\"$0\"; echo SCANPAY-ENDED; exec /bin/sh")
        .arg(common::BIN);
    spawn_cmd(sh, dir)
}

#[test]
fn cashier_takes_payments_in_a_real_terminal() {
    let dir = tempfile::tempdir().unwrap();
    // The demo, in English, with the shortest timings the configuration allows.
    let mut cfg = config::demo();
    config::set(&mut cfg, "language", "en");
    config::set(&mut cfg, "payment.query_interval_secs", 3);
    config::set(&mut cfg, "payment.user_paying_timeout_secs", 15);
    config::write(&cfg, &dir.path().join("scanpay.toml"));
    let mut tty = spawn(dir.path());
    tty.wait_for("Amount to charge", 20);
    tty.wait_for("Cashier demo", 5);

    // 1. Typed amount, then a wedge burst with Enter: paid.
    tty.type_like_a_person("12.34");
    tty.wait_for("Enter confirm", 2);
    tty.send(b"\r");
    tty.wait_for("Scan the customer's payment code", 5);
    tty.send(b"134567890123456711\r");
    let screen = tty.wait_for("PAID", 10);
    assert!(screen.contains("¥12.34"), "{screen}");
    assert!(screen.contains("WeChat Pay no. 4200"), "{screen}");

    // 2. Typing the next amount starts the next sale; the customer confirms on the phone.
    tty.type_like_a_person("8");
    tty.wait_for("Amount to charge", 3);
    tty.send(b"\r");
    tty.wait_for("Scan the customer's payment code", 5);
    tty.send(b"134567890123456701\r");
    let screen = tty.wait_for("Ask the customer to enter the password", 10);
    assert!(screen.contains("s left"), "countdown shown: {screen}");
    assert!(screen.contains("1345 **** **** 6701"), "{screen}");
    assert!(
        !screen.contains("134567890123456701"),
        "the full code is never shown"
    );
    tty.wait_for("PAID", 15);

    // 3. A customer who never confirms: Esc asks, Enter cancels, the order is reversed.
    tty.send(b"\r");
    std::thread::sleep(Duration::from_millis(120));
    tty.type_like_a_person("3");
    tty.send(b"\r");
    tty.wait_for("Scan the customer's payment code", 5);
    tty.send(b"134567890123456703\r");
    tty.wait_for("Waiting for the customer", 10);
    tty.send(b"\x1b");
    tty.wait_for("Cancel this payment?", 5);
    tty.send(b"\r");
    tty.wait_for("Cancelling the order", 5);
    let screen = tty.wait_for("NOT CHARGED", 30);
    assert!(screen.contains("cancelled by the cashier"), "{screen}");

    // 4. Ctrl-Q asks; Ctrl-Q again, a moment later, quits and gives the terminal back.
    tty.send(&[0x11]);
    tty.wait_for("Ctrl-Q again", 5);
    std::thread::sleep(Duration::from_millis(400));
    tty.send(&[0x11]);
    let end = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = tty.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < end, "did not quit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !tty.screen.lock().unwrap().screen().alternate_screen(),
        "alternate screen left"
    );

    // The log holds the three orders; nothing of the codes but their masks.
    let db = rusqlite::Connection::open(dir.path().join("scanpay-data/scanpay.db")).unwrap();
    let states: Vec<String> = db
        .prepare("SELECT state FROM orders ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(states, ["PAID", "PAID", "REVERSED"]);
    let log = std::fs::read_to_string(dir.path().join("scanpay-data/logs/scanpay.log")).unwrap();
    assert!(!log.contains("134567890123456711") && !log.contains("134567890123456703"));
}

// ---- Counter security: a scanned "code" must not drive the cashier screen. ----

/// The demo in English, written to `dir`.
fn english_demo(dir: &std::path::Path) {
    let mut cfg = config::demo();
    config::set(&mut cfg, "language", "en");
    config::write(&cfg, &dir.join("scanpay.toml"));
}

/// The amounts (fen) of the orders in the till's log.
fn order_amounts(dir: &std::path::Path) -> Vec<i64> {
    let db = rusqlite::Connection::open_with_flags(
        dir.join("scanpay-data/scanpay.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    db.prepare("SELECT amount_fen FROM orders ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

impl Tty {
    /// Whether scanpay still holds the screen (the shell's marker has not appeared).
    fn till_running(&self) -> bool {
        let p = self.screen.lock().unwrap();
        p.screen().alternate_screen() && !p.screen().contents().contains("SCANPAY-ENDED")
    }
}

/// (a) With ¥500.00 waiting for a scan, a scanner burst `Esc Esc 0.01 Enter <code> Enter`
/// (one write: scanner speed) must not charge ¥0.01.
#[test]
fn a_scanned_burst_cannot_change_the_amount_waiting_for_a_scan() {
    let dir = tempfile::tempdir().unwrap();
    english_demo(dir.path());
    let mut tty = spawn(dir.path());
    tty.wait_for("Amount to charge", 20);
    tty.wait_for("Cashier demo", 5);
    tty.type_like_a_person("500");
    tty.wait_for("Enter confirm", 2);
    tty.send(b"\r");
    tty.wait_for("Scan the customer's payment code", 5);

    // crossterm reads `ESC ESC` arriving together as one Esc key, so the burst is sent both
    // as written in the finding and with each Esc doubled (two Esc keys, as a scanner typing
    // Esc twice produces when each key is read on its own).
    for attack in [
        &b"\x1b\x1b\x1b\x1b0.01\r134567890123456711\r"[..],
        &b"\x1b\x1b0.01\r134567890123456711\r"[..],
    ] {
        tty.send(attack);
        std::thread::sleep(Duration::from_millis(1500));
        let screen = tty.text();
        let amounts = order_amounts(dir.path());
        assert!(
            amounts.iter().all(|&a| a == 50_000),
            "charged {amounts:?}:\n{screen}"
        );
        assert!(!screen.contains("¥0.01"), "{screen}");
        // The burst was thrown away: ¥500.00 still waits for a scan.
        assert!(amounts.is_empty(), "{amounts:?}");
        assert!(screen.contains("¥500.00"), "{screen}");
        assert!(
            screen.contains("Scan the customer's payment code"),
            "{screen}"
        );
        assert!(screen.contains("not a payment code"), "{screen}");
    }
    // A real scan charges the amount that was waiting.
    tty.send(b"134567890123456711\r");
    let screen = tty.wait_for("PAID", 10);
    assert!(screen.contains("¥500.00"), "{screen}");
    assert_eq!(order_amounts(dir.path()), [50_000]);
}

/// (b) A burst `Ctrl-Q touch FILE Enter` must not quit the till, and nothing reaches the
/// shell that started it.
#[test]
fn a_scanned_burst_cannot_quit_to_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    english_demo(dir.path());
    let mut tty = spawn_under_shell(dir.path());
    tty.wait_for("Amount to charge", 20);
    tty.wait_for("Cashier demo", 5);

    tty.send(b"\x11touch PWNED\r");
    std::thread::sleep(Duration::from_millis(1500));
    let screen = tty.text();
    assert!(tty.till_running(), "the till quit:\n{screen}");
    assert!(!dir.path().join("PWNED").exists(), "the shell ran it");
    assert!(screen.contains("Amount to charge"), "{screen}");
    assert!(!screen.contains("Ctrl-Q again"), "{screen}");
}

/// (c) Ctrl-Q typed by hand asks; only a second Ctrl-Q, by hand, quits.
#[test]
fn ctrl_q_by_hand_asks_and_only_the_confirmation_quits() {
    let dir = tempfile::tempdir().unwrap();
    english_demo(dir.path());
    let mut tty = spawn_under_shell(dir.path());
    tty.wait_for("Amount to charge", 20);
    tty.wait_for("Cashier demo", 5);

    tty.send(&[0x11]);
    tty.wait_for("Ctrl-Q again", 5);
    std::thread::sleep(Duration::from_millis(400));
    assert!(tty.till_running(), "quit without confirmation");
    // Esc keeps the till; a second Ctrl-Q is needed again.
    tty.send(b"\x1b");
    std::thread::sleep(Duration::from_millis(400));
    assert!(!tty.text().contains("Ctrl-Q again"), "{}", tty.text());
    tty.send(&[0x11]);
    tty.wait_for("Ctrl-Q again", 5);
    std::thread::sleep(Duration::from_millis(400));
    assert!(tty.till_running());
    tty.send(&[0x11]);
    tty.wait_for("SCANPAY-ENDED", 10);
    assert!(!tty.screen.lock().unwrap().screen().alternate_screen());
}

/// Counter security, finding 8, on the screen: the disk fills after the pay call left. The
/// screen says "needs attention" with the order number and "do not charge again until
/// `scanpay recover`", never "nothing was written"; the next start settles the order.
#[test]
fn a_full_disk_after_the_pay_call_shows_the_order_and_do_not_charge_again() {
    let dir = tempfile::tempdir().unwrap();
    english_demo(dir.path());
    let mut cmd = Command::new(common::BIN);
    cmd.env("SCANPAY_FAILPOINT", "pay.after_send:disk_full");
    let mut tty = spawn_cmd(cmd, dir.path());
    tty.wait_for("Amount to charge", 20);
    tty.wait_for("Cashier demo", 5);
    tty.type_like_a_person("12");
    tty.wait_for("Enter confirm", 2);
    tty.send(b"\r");
    tty.wait_for("Scan the customer's payment code", 5);
    tty.send(b"134567890123456711\r");
    let screen = tty.wait_for("scanpay recover", 15);
    assert!(!screen.contains("nothing was written"), "{screen}");
    assert!(
        !screen.contains("PAID"),
        "not recorded, so not shown as paid:\n{screen}"
    );
    let no: String = {
        let db = rusqlite::Connection::open_with_flags(
            dir.path().join("scanpay-data/scanpay.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        db.query_row("SELECT out_trade_no FROM orders", [], |r| r.get(0))
            .unwrap()
    };
    // The order number is on the screen (possibly wrapped: compare without spaces/newlines).
    let flat: String = screen.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(flat.contains(&no), "{no} not on screen:\n{screen}");
}
