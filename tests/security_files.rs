//! Files the counter writes or trusts, through the real binary: backups are private from the
//! start and never replace the live shift log; `scanpay sim --keys` never touches files it did
//! not create; `scanpay sim --listen` stays on loopback unless told `--public`; an empty shift
//! log is refused like a damaged one, never silently rebuilt.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{BIN, config, start_sim};

/// A payment code the simulator pays at once.
const PAID: &str = "134567890123456711";

/// The demo configuration (in-process simulator) with its data in `dir/data`, in English.
fn demo_config(dir: &Path) -> PathBuf {
    let mut t = config::demo();
    config::set(&mut t, "data_dir", dir.join("data").display().to_string());
    config::set(&mut t, "language", "en");
    config::write(&t, &dir.join("till.toml"))
}

/// The binary with `--config`, under the usual umask 022 (so that a file made with the
/// default mode would be world-readable).
fn scanpay(config: &Path, args: &[&str]) -> Output {
    scanpay_in(config, args, "")
}

/// [`scanpay`] with `input` on standard input (a PIN).
fn scanpay_in(config: &Path, args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut c = Command::new(BIN);
    c.arg("--config").arg(config).args(args);
    c.env_remove("SCANPAY_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: umask is async-signal-safe and touches only the child's own process state.
    unsafe {
        c.pre_exec(|| {
            libc::umask(0o022);
            Ok(())
        });
    }
    let mut child = c.spawn().unwrap();
    // A command that fails before reading its input closes the pipe: not an error here.
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// A till with one paid order; returns its configuration.
fn till_with_a_sale(dir: &Path) -> PathBuf {
    let cfg = demo_config(dir);
    let out = scanpay(&cfg, &["pay", "--amount", "1.23", "--code", PAID, "--json"]);
    assert!(out.status.success(), "{out:?}");
    cfg
}

fn orders_in(db: &Path) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM orders", [], |r| r.get(0))
        .unwrap()
}

// ---- Backups -----------------------------------------------------------------------------

/// `scanpay backup` and the automatic Z backup write files readable by their owner only, in a
/// folder only the owner can enter.
#[test]
fn backups_are_private_from_the_start() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = till_with_a_sale(tmp.path());
    let copy = tmp.path().join("out").join("copy.db");
    let out = scanpay(&cfg, &["backup", copy.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(mode(&copy), 0o600, "scanpay backup PATH");
    assert_eq!(orders_in(&copy), 1);

    let out = scanpay(&cfg, &["shift", "close"]);
    assert!(out.status.success(), "{out:?}");
    let backups = tmp.path().join("data").join("backups");
    let z = backups.join("scanpay-z00001.db");
    assert_eq!(mode(&z), 0o600, "the Z backup");
    assert_eq!(mode(&backups), 0o700, "the backups folder");
    assert_eq!(orders_in(&z), 1);
}

/// An existing file is never replaced without `--force`; with it, it is replaced by a whole,
/// private copy.
#[test]
fn a_backup_replaces_an_existing_file_only_with_force() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = till_with_a_sale(tmp.path());
    let target = tmp.path().join("precious.db");
    std::fs::write(&target, b"last year's accounts").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();

    let out = scanpay(&cfg, &["backup", target.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "refused: {out:?}");
    assert!(
        stderr(&out).contains("already exists") && stderr(&out).contains("--force"),
        "{out:?}"
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"last year's accounts");

    let out = scanpay(&cfg, &["backup", "--force", target.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(orders_in(&target), 1);
    assert_eq!(mode(&target), 0o600);
    // No temporary file is left beside it.
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial") || n.contains("tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// The live log, its `-wal` and `-shm` (present or not), and any symlink or hard link to them
/// are refused as backup targets, even with `--force`; the log is left exactly as it was.
#[test]
fn a_backup_never_replaces_the_live_log() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = till_with_a_sale(tmp.path());
    let data = tmp.path().join("data");
    let db = data.join("scanpay.db");
    let symlink = tmp.path().join("link.db");
    std::os::unix::fs::symlink(&db, &symlink).unwrap();
    let wal_link = tmp.path().join("wal-link.db");
    std::os::unix::fs::symlink(data.join("scanpay.db-wal"), &wal_link).unwrap();
    let hard = tmp.path().join("hard.db");
    std::fs::hard_link(&db, &hard).unwrap();
    let before = snapshot(&data);
    let inode = std::fs::metadata(&db).unwrap().ino();
    let targets = [
        db.clone(),
        data.join("..").join("data").join("scanpay.db"),
        data.join("scanpay.db-wal"),
        data.join("scanpay.db-shm"),
        symlink.clone(),
        wal_link.clone(),
        hard.clone(),
    ];
    for target in &targets {
        for force in [false, true] {
            let mut args = vec!["backup"];
            if force {
                args.push("--force");
            }
            args.push(target.to_str().unwrap());
            let out = scanpay(&cfg, &args);
            assert_eq!(
                out.status.code(),
                Some(1),
                "refused: {target:?} force={force}: {out:?}"
            );
            assert!(
                stderr(&out).contains("live shift log"),
                "{target:?} force={force}: {out:?}"
            );
        }
    }
    assert_eq!(std::fs::metadata(&db).unwrap().ino(), inode);
    assert_eq!(snapshot(&data), before, "the log, its -wal and -shm");
    assert!(std::fs::symlink_metadata(&symlink).unwrap().is_symlink());
    assert!(std::fs::symlink_metadata(&wal_link).unwrap().is_symlink());
    assert_eq!(std::fs::metadata(&hard).unwrap().ino(), inode);
    assert_eq!(orders_in(&db), 1);
}

// ---- The simulator's key folder and listening address -------------------------------------

/// Runs `scanpay sim ARGS` and waits up to `secs` for it to stop by itself: `None` if it was
/// still serving (then it is killed), else its exit code; with stdout and stderr.
fn sim_exits(args: &[&str], secs: u64) -> (Option<i32>, String, String) {
    let mut child = Command::new(BIN)
        .arg("sim")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status.code().unwrap_or(-1));
        }
        if start.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (mut out, mut err) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (code, out, err)
}

/// Every file in `dir` with its bytes (a folder's as empty).
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut all: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap_or_default(),
            )
        })
        .collect();
    all.sort();
    all
}

/// A folder holding a file the simulator did not create is refused, naming the file, and
/// nothing in it changes.
#[test]
fn sim_keys_refuses_a_folder_with_files_it_did_not_create() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    std::fs::write(keys.join("notes.txt"), "the shop's wifi password").unwrap();
    let before = snapshot(&keys);
    let (code, _, err) = sim_exits(
        &["--listen", "127.0.0.1:0", "--keys", keys.to_str().unwrap()],
        20,
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("notes.txt"), "{err}");
    assert_eq!(snapshot(&keys), before);
}

/// A real merchant's `pub_key.pem` or `scanpay.toml` in the folder is never overwritten or
/// edited.
#[test]
fn sim_keys_never_overwrites_a_foreign_pub_key_or_config() {
    let tmp = tempfile::tempdir().unwrap();
    // A merchant folder with WeChat Pay's real public key.
    let merchant = tmp.path().join("merchant");
    std::fs::create_dir(&merchant).unwrap();
    std::fs::write(
        merchant.join("pub_key.pem"),
        "-----BEGIN PUBLIC KEY-----\nthe real one\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    // A folder with the shop's live configuration.
    let shop = tmp.path().join("shop");
    let mut t = config::demo();
    config::set(&mut t, "wechatpay.mode", "live");
    config::insert(
        &mut t,
        "wechatpay.base_url",
        "https://api.mch.weixin.qq.com/",
    );
    config::write(&t, &shop.join("scanpay.toml"));
    for dir in [&merchant, &shop] {
        let before = snapshot(dir);
        let (code, _, err) = sim_exits(
            &["--listen", "127.0.0.1:0", "--keys", dir.to_str().unwrap()],
            20,
        );
        assert_eq!(code, Some(2), "{dir:?}: {err}");
        assert_eq!(snapshot(dir), before, "{dir:?}");
    }
    let cfg = config::read(&shop.join("scanpay.toml"));
    assert_eq!(
        config::get(&cfg, "wechatpay.base_url").as_str(),
        Some("https://api.mch.weixin.qq.com/")
    );
}

/// Its own folder is reused run after run (keys kept, `base_url` updated), also once a till
/// has used the configuration it wrote; a file slipped in later makes it refuse.
#[test]
fn sim_keys_reuses_its_own_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys");
    let first = start_sim(&keys);
    assert!(first.lines.iter().any(|l| l.contains("(written)")));
    let key = std::fs::read(keys.join("apiclient_key.pem")).unwrap();
    // A till uses the configuration it wrote: its data folder appears beside it.
    let out = scanpay(
        &keys.join("scanpay.toml"),
        &["shift", "open", "--cashier", "t1"],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(keys.join("scanpay-data").is_dir());
    drop(first);

    let second = start_sim(&keys);
    assert!(
        second.lines.iter().any(|l| l.contains("(reused")),
        "{:?}",
        second.lines
    );
    assert_eq!(std::fs::read(keys.join("apiclient_key.pem")).unwrap(), key);
    drop(second);

    std::fs::write(keys.join("extra.pem"), "someone else's").unwrap();
    let (code, _, err) = sim_exits(
        &["--listen", "127.0.0.1:0", "--keys", keys.to_str().unwrap()],
        20,
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("extra.pem"), "{err}");
}

/// `--listen` on every interface is refused unless `--public` is given; then a warning says so.
#[test]
fn sim_listens_beyond_loopback_only_with_public() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys");
    let (code, _, err) = sim_exits(
        &["--listen", "0.0.0.0:0", "--keys", keys.to_str().unwrap()],
        20,
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--public"), "{err}");

    // With --public it serves, and warns on stderr. (No traffic is sent to it.)
    let mut child = Command::new(BIN)
        .args(["sim", "--public", "--listen", "0.0.0.0:0", "--keys"])
        .arg(&keys)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        let done = line.starts_with("Ctrl-C");
        lines.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("listening on http://0.0.0.0:")),
        "{lines:?} {err}"
    );
    assert!(err.contains("warning") && err.contains("0.0.0.0"), "{err}");

    // A name that resolves to loopback only is fine.
    let (code, out, err) = sim_exits(
        &["--listen", "localhost:0", "--keys", keys.to_str().unwrap()],
        5,
    );
    assert_eq!(code, None, "still serving: {out} {err}");
}

// ---- A damaged or empty shift log ---------------------------------------------------------

/// A 0-byte `scanpay.db` is refused like a damaged file by every command that opens the log,
/// and left as it was; so is a file that is not a database.
#[test]
fn an_empty_or_foreign_shift_log_is_refused_and_left_alone() {
    for content in [&b""[..], b"this is not a database, it is a shopping list\n"] {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = demo_config(tmp.path());
        let data = tmp.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let db = data.join("scanpay.db");
        std::fs::write(&db, content).unwrap();
        for args in [
            &["shift", "open", "--cashier", "t1"][..],
            &["pay", "--amount", "1.00", "--code", PAID],
            &["orders"],
            &["supervisor", "add", "boss", "--by", "demo"],
            &["backup", tmp.path().join("copy.db").to_str().unwrap()],
        ] {
            // Enough PINs for any command that asks (approver, new PIN, again).
            let out = scanpay_in(&cfg, args, "0000\n471100\n471100\n");
            assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
            assert!(
                stderr(&out).contains("damaged or not a scanpay database"),
                "{args:?}: {out:?}"
            );
            assert_eq!(std::fs::read(&db).unwrap(), content, "{args:?}");
            assert!(!data.join("scanpay.db-wal").exists(), "{args:?}");
        }
    }
}

/// A missing log is still created on the first run (and private).
#[test]
fn a_missing_shift_log_is_created() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = demo_config(tmp.path());
    let out = scanpay(&cfg, &["shift", "open", "--cashier", "t1"]);
    assert!(out.status.success(), "{out:?}");
    let db = tmp.path().join("data").join("scanpay.db");
    assert_eq!(mode(&db), 0o600);
    assert!(std::fs::metadata(&db).unwrap().len() > 0);
}
