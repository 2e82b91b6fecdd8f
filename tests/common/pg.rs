//! A throw-away PostgreSQL for the head-office tests: one cluster per test binary, in a
//! temporary folder, on a free loopback port, stopped when the test binary exits (a watchdog
//! shell waits on a pipe this process holds); a fresh database per test.
//!
//! PostgreSQL's `initdb` refuses to run as root: when the tests run as root (CI does), the
//! cluster runs as the `postgres` user (`runuser`), else as `nobody` (`setpriv`), with its
//! folder handed to that user. Without PostgreSQL ([`cluster`] is `None`) a test calls
//! [`skipped`], which says so loudly on stderr, and returns. The benches include this file too
//! (`benches/headoffice.rs`, `benches/payment.rs`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A running cluster.
pub struct Cluster {
    /// Its folder (data, socket, log).
    pub dir: PathBuf,
    /// Its loopback port.
    pub port: u16,
    bin: PathBuf,
    run_as: Option<Vec<String>>,
    _watchdog: std::sync::Mutex<Child>,
    _tmp: tempfile::TempDir,
}

static CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// Says loudly that a test did not run.
pub fn skipped(test: &str) {
    eprintln!(
        "SKIPPED: PostgreSQL not found ({test}): install postgresql-15 (initdb, pg_ctl) or set \
         SCANPAY_PG_BIN to its bin folder; .ci/run installs it"
    );
}

fn find_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SCANPAY_PG_BIN") {
        let p = PathBuf::from(p);
        return p.join("initdb").is_file().then_some(p);
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").is_file() && p.join("pg_ctl").is_file())
        .collect();
    candidates.sort();
    candidates.pop()
}

fn uid() -> u32 {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() }
}

impl Cluster {
    fn command(&self, program: &str) -> Command {
        command_as(&self.run_as, &self.bin.join(program))
    }

    /// The URL of a database of this cluster (plain loopback TCP).
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://scanpay@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }

    /// `psql` on a database: the rows of `sql`, unaligned, `|`-separated.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
            ])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "scanpay",
                "-d",
                db,
                "-c",
                sql,
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "psql {sql}: {out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// A new, empty database; its URL.
    pub fn fresh_db(&self) -> (String, String) {
        let name = format!("t{}", NEXT_DB.fetch_add(1, Ordering::SeqCst));
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        let url = self.url(&name);
        (name, url)
    }

    /// `pg_ctl restart` (fast shutdown: every connection is dropped), waiting until it
    /// accepts connections again.
    pub fn restart(&self) {
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-w", "-m", "fast", "restart"])
            .arg("-l")
            .arg(self.dir.join("log"))
            .stdout(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "pg_ctl restart: {out:?}");
    }
}

fn command_as(run_as: &Option<Vec<String>>, program: &Path) -> Command {
    match run_as {
        None => Command::new(program),
        Some(prefix) => {
            let mut c = Command::new(&prefix[0]);
            c.args(&prefix[1..]).arg(program);
            c
        }
    }
}

/// The test binary's cluster, started on first use; `None` without PostgreSQL.
pub fn cluster() -> Option<&'static Cluster> {
    CLUSTER.get_or_init(start).as_ref()
}

fn start() -> Option<Cluster> {
    use std::os::unix::fs::PermissionsExt;
    let bin = find_bin()?;
    // `SCANPAY_PG_PARENT` puts the cluster elsewhere than the system's temporary folder (the
    // payment bench puts it in memory: a head office has its own disk, not the till's).
    let mut builder = tempfile::Builder::new();
    builder.prefix("scanpay-pg");
    let tmp = match std::env::var_os("SCANPAY_PG_PARENT") {
        Some(parent) => builder.tempdir_in(parent),
        None => builder.tempdir(),
    }
    .ok()?;
    let dir = tmp.path().to_path_buf();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).ok()?;
    let run_as = if uid() == 0 {
        let has_postgres = Command::new("id")
            .arg("-u")
            .arg("postgres")
            .output()
            .is_ok_and(|o| o.status.success());
        let (user, prefix): (&str, Vec<String>) = if has_postgres {
            (
                "postgres",
                ["runuser", "-u", "postgres", "--"]
                    .map(String::from)
                    .to_vec(),
            )
        } else {
            (
                "nobody",
                [
                    "setpriv",
                    "--reuid=nobody",
                    "--regid=nogroup",
                    "--clear-groups",
                ]
                .map(String::from)
                .to_vec(),
            )
        };
        let ids = Command::new("id").arg("-u").arg(user).output().ok()?;
        let u: u32 = String::from_utf8_lossy(&ids.stdout).trim().parse().ok()?;
        let gids = Command::new("id").arg("-g").arg(user).output().ok()?;
        let g: u32 = String::from_utf8_lossy(&gids.stdout).trim().parse().ok()?;
        std::os::unix::fs::chown(&dir, Some(u), Some(g)).ok()?;
        Some(prefix)
    } else {
        None
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let data = dir.join("data");
    let out = command_as(&run_as, &bin.join("initdb"))
        .arg("-D")
        .arg(&data)
        .args(["-U", "scanpay", "--auth=trust", "-E", "UTF8", "--no-sync"])
        .output()
        .ok()?;
    assert!(out.status.success(), "initdb: {out:?}");
    // The tests run with `fsync=off` (their clusters are thrown away); the benches measure a
    // head office that keeps what it commits (`SCANPAY_PG_FSYNC=on`).
    let fsync = match std::env::var("SCANPAY_PG_FSYNC").as_deref() {
        Ok("on") => "on",
        _ => "off",
    };
    let opts = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync={fsync} -c max_connections=100",
        dir.display()
    );
    let out = command_as(&run_as, &bin.join("pg_ctl"))
        .arg("-D")
        .arg(&data)
        .args(["-w", "-o", &opts, "-l"])
        .arg(dir.join("log"))
        .arg("start")
        .stdout(Stdio::null())
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "pg_ctl start: {out:?}\n{}",
        std::fs::read_to_string(dir.join("log")).unwrap_or_default()
    );
    // `SCANPAY_PG_CPUS` (a `taskset` list) keeps the server's processes, present and forked
    // later, off the cores a bench measures on: a head office is another machine.
    if let Some(cpus) = std::env::var_os("SCANPAY_PG_CPUS") {
        let pid = std::fs::read_to_string(data.join("postmaster.pid")).unwrap_or_default();
        let pid = pid.lines().next().unwrap_or_default().trim().to_string();
        let pinned = Command::new("taskset")
            .arg("-a")
            .arg("-cp")
            .arg(&cpus)
            .arg(&pid)
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(pinned, "taskset -a -cp {cpus:?} {pid} failed");
    }
    // Stops the cluster when this process goes (its end of the pipe closes).
    let stop = format!(
        "read _; {} -D {} -m immediate stop >/dev/null 2>&1; rm -rf {}",
        bin.join("pg_ctl").display(),
        data.display(),
        dir.display()
    );
    let watchdog = command_as(&run_as, Path::new("/bin/sh"))
        .args(["-c", &stop])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    Some(Cluster {
        dir,
        port,
        bin,
        run_as,
        _watchdog: std::sync::Mutex::new(watchdog),
        _tmp: tmp,
    })
}
