//! The tests that run the real `scanpay` binary: a standalone `scanpay sim` as a child
//! process, till configurations for it, the binary run as a command, and the till's log read
//! back.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use super::config;

pub const BIN: &str = env!("CARGO_BIN_EXE_scanpay");

/// A running `scanpay sim`, killed on drop.
pub struct Sim {
    pub child: Child,
    pub base: String,
    pub admin: String,
    pub keys: PathBuf,
    pub lines: Vec<String>,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_sim(keys: &Path) -> Sim {
    start_sim_with(keys, &[])
}

/// `scanpay sim` for a merchant in `mode`: a direct merchant, or (`--partner`) a service
/// provider whose written configuration charges for sub-merchant `rig::SUB_MCHID`.
pub fn start_sim_in(keys: &Path, mode: super::rig::Mode) -> Sim {
    match mode {
        super::rig::Mode::Direct => start_sim_with(keys, &[]),
        super::rig::Mode::Partner => start_sim_with(keys, &["--partner"]),
        super::rig::Mode::V2 => start_sim_with(keys, &["--api", "v2"]),
    }
}

/// `scanpay sim` with extra arguments (e.g. `--platform-cert`).
pub fn start_sim_with(keys: &Path, extra: &[&str]) -> Sim {
    let mut child = Command::new(BIN)
        .args(["sim", "--listen", "127.0.0.1:0", "--keys"])
        .arg(keys)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "sim exited early: {lines:?}"
        );
        let done = line.starts_with("Ctrl-C");
        lines.push(line.trim_end().to_string());
        if done {
            break;
        }
    }
    let find = |prefix: &str| {
        lines
            .iter()
            .find_map(|l| {
                l.trim_start()
                    .strip_prefix(prefix)
                    .map(|s| s.trim().to_string())
            })
            .unwrap()
    };
    // `--api v2` prints "APIv2 simulator" (and an https:// address).
    let base = if lines.iter().any(|l| l.contains("APIv2 simulator")) {
        find("scanpay sim: WeChat Pay APIv2 simulator listening on")
    } else {
        find("scanpay sim: WeChat Pay APIv3 simulator listening on")
    };
    let admin = find("admin").split_whitespace().next().unwrap().to_string();
    Sim {
        child,
        base,
        admin,
        keys: keys.to_path_buf(),
        lines,
    }
}

impl Sim {
    /// A till configuration for this simulator, built from the live-mode `scanpay.toml` the
    /// simulator wrote: its own data folder and terminal id, the simulator's key files by
    /// absolute path, English, and the shortest timings the configuration allows (3 s between
    /// queries, reverse after 15 s, 0.5 s connect and 1.5 s request timeouts). Opens a shift.
    pub fn till(&self, dir: &Path, terminal: &str) -> PathBuf {
        let mut t = config::read(&self.keys.join("scanpay.toml"));
        config::set(&mut t, "merchant.terminal_id", terminal);
        config::set(&mut t, "data_dir", dir.join("data").display().to_string());
        for (key, file) in [
            ("wechatpay.merchant_private_key", "apiclient_key.pem"),
            ("wechatpay.wechatpay_public_key", "pub_key.pem"),
            ("wechatpay.apiv3_key", "apiv3_key.txt"),
            // An `--api v2` configuration: the APIv2 key, client certificate and the CA.
            ("wechatpay.v2_key", "apiv2_key.txt"),
            ("wechatpay.client_certificate", "apiclient_cert.pem"),
            ("wechatpay.tls_root_certificate", "sim_ca.pem"),
        ] {
            // A --platform-cert configuration has the APIv3 key instead of the public key; an
            // --api v2 one has neither, and its own files.
            let name = key.trim_start_matches("wechatpay.");
            if t["wechatpay"].get(name).is_some() {
                config::set(&mut t, key, self.keys.join(file).display().to_string());
            }
        }
        config::set(&mut t, "payment.query_interval_secs", 3);
        config::set(&mut t, "payment.user_paying_timeout_secs", 15);
        config::set(&mut t, "wechatpay.connect_timeout_ms", 500);
        config::set(&mut t, "wechatpay.request_timeout_ms", 1500);
        config::set(&mut t, "language", "en");
        std::fs::create_dir_all(dir).unwrap();
        let path = config::write(&t, &dir.join("till.toml"));
        let out = scanpay(&path, &["shift", "open", "--cashier", "t1"], &[]);
        assert!(out.status.success(), "{out:?}");
        path
    }

    /// The simulator's books.
    pub fn ledger(&self) -> serde_json::Value {
        blocking_get(&format!("{}/ledger", self.admin))
    }

    /// An order of the simulator's books by its number, whoever's it is (a direct merchant's
    /// is keyed by its number, a sub-merchant's by `SUB_MCHID/NUMBER`).
    pub fn order(&self, out_trade_no: &str) -> serde_json::Value {
        let l = self.ledger();
        l["orders"]
            .as_object()
            .and_then(|m| {
                m.values()
                    .find(|o| o["out_trade_no"].as_str() == Some(out_trade_no))
            })
            .cloned()
            .unwrap_or_default()
    }

    /// Whether the simulator has the order as charged now.
    pub fn charged(&self, out_trade_no: &str) -> bool {
        matches!(
            self.order(out_trade_no)["state"].as_str(),
            Some("SUCCESS" | "REFUND")
        )
    }
}

/// A GET to the admin endpoint, its JSON answer.
pub fn blocking_get(url: &str) -> serde_json::Value {
    blocking_request("GET", url)
}

/// A POST without a body to the admin endpoint (e.g. `/certificates/rotate`).
pub fn blocking_post(url: &str) -> serde_json::Value {
    blocking_request("POST", url)
}

fn blocking_request(method: &str, url: &str) -> serde_json::Value {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "{method} /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let body = out.split_once("\r\n\r\n").unwrap().1;
    // Chunked or plain: find the JSON object (or array).
    let start = body.find(['{', '[']).unwrap();
    let end = body.rfind(['}', ']']).unwrap();
    serde_json::from_str(&body[start..=end]).unwrap()
}

pub fn scanpay(config: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.arg("--config").arg(config).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// Event kinds of an order, from the till's log.
pub fn event_kinds(config_dir: &Path, out_trade_no: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(config_dir.join("data").join("scanpay.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT e.kind FROM order_events e JOIN orders o ON o.id = e.order_id WHERE o.out_trade_no = ?1 ORDER BY e.id")
        .unwrap();
    stmt.query_map([out_trade_no], |r| r.get(0))
        .unwrap()
        .collect::<Result<Vec<String>, _>>()
        .unwrap()
}

/// Every order of a till: (out_trade_no, state).
pub fn local_orders(config_dir: &Path) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open(config_dir.join("data").join("scanpay.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT out_trade_no, state FROM orders ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

/// The real binary run in `dir` as a person at that till would run it: the configuration is
/// `dir/scanpay.toml` or else the embedded demo, nothing from the developer's own machine
/// (`SCANPAY_CONFIG`, `SCANPAY_LOG`, `XDG_CONFIG_HOME`), `stdin` typed in, `env` added.
pub fn run_in(dir: &Path, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env("XDG_CONFIG_HOME", dir.join("no-config"))
        .args(args);
    run_command(c, stdin, env)
}

/// The real binary with `--config cfg`, `stdin` typed in, `env` added.
pub fn run_config(cfg: &Path, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.arg("--config").arg(cfg).args(args);
    run_command(c, stdin, env)
}

fn run_command(mut c: Command, stdin: &str, env: &[(&str, &str)]) -> Output {
    use std::io::Write;
    c.env_remove("SCANPAY_CONFIG")
        .env_remove("SCANPAY_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    // The binary may exit before reading (a usage error): a broken pipe is fine.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Standard output as JSON (the command must have succeeded).
pub fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{o:?}");
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {o:?}"))
}

/// The newest text file in the till's receipt spool (`dir/scanpay-data/receipts`) whose name
/// starts with `prefix`.
pub fn spooled(dir: &Path, prefix: &str) -> String {
    let folder = dir.join("scanpay-data/receipts");
    let mut found: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| e.path())
        .collect();
    found.sort();
    let last = found
        .last()
        .unwrap_or_else(|| panic!("no {prefix}* in {folder:?}"));
    std::fs::read_to_string(last).unwrap()
}
