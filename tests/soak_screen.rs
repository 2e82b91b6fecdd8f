//! A till selling continuously: the real binary's cashier screen in a pseudo-terminal, against a
//! standalone simulator (so the till's memory is the till's alone), sale after sale — an amount
//! typed as a person types it, the code as a scanner's burst, PAID on the screen — while the
//! till process's resident memory and open file descriptors are sampled. They must stay flat.
//!
//! `cargo test` sells for 15 s, sampling every 3 s. `scripts/soak-screen.sh` sells for an hour,
//! sampling every minute (`SCANPAY_SOAK_SECS`, `SCANPAY_SOAK_SAMPLE_SECS`); results in
//! docs/robustness.md, "Soak".

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::pty::spawn_cmd;
use common::*;

fn env_secs(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Whether the screen shows `what` within `secs` (no panic: the caller decides).
fn shows(tty: &common::pty::Tty, what: &str, secs: u64) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if tty.text().contains(what) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// (resident kB, open descriptors) of a process.
fn sample(pid: u32) -> (u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    (rss, fds)
}

#[test]
fn a_till_selling_continuously_stays_flat() {
    let total = Duration::from_secs(env_secs("SCANPAY_SOAK_SECS", 15));
    let every = Duration::from_secs(env_secs("SCANPAY_SOAK_SAMPLE_SECS", 3));
    let tmp = tempfile::tempdir().unwrap();
    let sim = start_sim(&tmp.path().join("keys"));
    let dir = tmp.path().join("till");
    let cfg = sim.till(&dir, "SOAK");
    let mut cmd = Command::new(BIN);
    cmd.arg("--config").arg(&cfg);
    let mut tty = spawn_cmd(cmd, &dir);
    let pid = tty.child.id();
    tty.wait_for("Amount to charge", 20);

    let start = Instant::now();
    let mut next_sample = start;
    let mut samples: Vec<(u64, u64, usize, u64)> = Vec::new(); // (secs, rss kB, fds, sales)
    let mut sales = 0u64;
    let mut retyped = 0u64;
    while start.elapsed() < total {
        if Instant::now() >= next_sample {
            let (rss, fds) = sample(pid);
            samples.push((start.elapsed().as_secs(), rss, fds, sales));
            eprintln!(
                "soak: {:>5} s  {rss:>7} kB  {fds:>3} fds  {sales:>6} sales",
                start.elapsed().as_secs()
            );
            next_sample += every;
        }
        let fen = 100 + (sales + retyped) % 9_000;
        tty.type_like_a_person(&format!("{}.{:02}", fen / 100, fen % 100));
        tty.send(b"\r");
        // On a loaded machine a person's keys can reach the till close enough together to look
        // like a scanner's burst, which the amount field refuses (docs/security.md): the
        // cashier clears the field and types the amount again.
        if !shows(&tty, "Scan the customer's payment code", 5) {
            retyped += 1;
            tty.send(b"\x1b");
            std::thread::sleep(Duration::from_millis(300));
            tty.send(b"\x1b");
            assert!(
                retyped <= 50 + sales / 10,
                "the amount was refused too often: {retyped} times in {sales} sales"
            );
            continue;
        }
        sales += 1;
        tty.send(format!("13{:014}11\r", sales + retyped).as_bytes());
        tty.wait_for("PAID", 30);
    }
    let (rss, fds) = sample(pid);
    samples.push((start.elapsed().as_secs(), rss, fds, sales));
    eprintln!(
        "soak: {:>5} s  {rss:>7} kB  {fds:>3} fds  {sales:>6} sales (end; {retyped} amounts typed again)",
        start.elapsed().as_secs()
    );

    // The books agree: every sale is in the log as PAID.
    let out = scanpay(&cfg, &["report", "x", "--json"], &[]);
    let x = json(&out);
    assert_eq!(x["paid_count"].as_u64(), Some(sales), "{x}");

    // Flat: after the first sample (start-up, first connections), memory grows by less than
    // 20 % + 4 MB however long the till sells, and descriptors do not grow.
    assert!(samples.len() >= 3, "too few samples: {samples:?}");
    let (_, rss0, fds0, _) = samples[1];
    for &(secs, rss, fds, n) in &samples[1..] {
        assert!(
            rss <= rss0 + rss0 / 5 + 4096,
            "memory grew to {rss} kB after {secs} s ({n} sales), from {rss0} kB: {samples:?}"
        );
        assert!(
            fds <= fds0 + 2,
            "descriptors grew to {fds} after {secs} s ({n} sales), from {fds0}: {samples:?}"
        );
    }
}
