//! The `scanpay` command: the cashier screen, and sub-commands for headless use.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

mod cmd;

use clap::{Parser, Subcommand};
use scanpay::clock::{SharedClock, SystemClock};
use scanpay::config::Config;
use scanpay::sim::{self, SimKeys, Simulator, ledger::Scenario};

/// Exit status for a usage or configuration error.
const EXIT_USAGE: u8 = 2;
/// Exit status for "the service said no" / "not found".
const EXIT_FAILED: u8 = 1;

#[derive(Parser)]
#[command(
    name = "scanpay",
    version,
    about = "WeChat Pay payment-code point of sale"
)]
struct Cli {
    /// Configuration file (else SCANPAY_CONFIG, ./scanpay.toml, $XDG_CONFIG_HOME/scanpay/config.toml,
    /// else the embedded demo).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,

    /// Read PINs from this open file descriptor, one per line, instead of the terminal or
    /// standard input (e.g. `scanpay refund … --pin-fd 3 3< pins`): no PIN on a command line,
    /// in a pipe from `echo`, or in the shell history.
    #[arg(long, global = true, value_name = "N")]
    pin_fd: Option<i32>,

    /// Also show the log on stderr (it always goes to DATA_DIR/logs/scanpay.log; the cashier
    /// screen never shows it).
    #[arg(short, long, global = true)]
    verbose: bool,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Print the resolved configuration and where it came from.
    Config,
    /// Check the configuration against WeChat Pay: key files and modes, the clock, the main and
    /// backup hosts, one signed round trip, the trusted keys. Exit 0 all good, 1 a problem
    /// (each named, with the fix).
    Check {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Charge a payment code: waits, queries and reverses as needed, then prints the outcome.
    /// Exit status: 0 paid, 1 not charged, 3 needs attention, 2 usage or configuration error.
    Pay {
        /// Amount in yuan, e.g. 12.34.
        #[arg(long)]
        amount: String,
        /// The customer's payment code (18 digits).
        #[arg(long)]
        code: String,
        /// Goods description (default: the store name).
        #[arg(long)]
        description: Option<String>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Show an order: the local record and WeChat Pay's verified answer (JSON).
    Query {
        /// The merchant order number.
        out_trade_no: String,
    },
    /// List this shift's orders (or all of them).
    Orders {
        /// Every order in the log, not just this shift's.
        #[arg(long)]
        all: bool,
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Settle every order left in flight, and retry unresolved ones.
    Recover {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Open or close a shift.
    Shift {
        #[command(subcommand)]
        action: ShiftAction,
    },
    /// Print one marked copy of a paid order's receipt, from the shift log (works offline).
    Reprint {
        /// The merchant order number.
        out_trade_no: String,
        /// `file` (text spool + stdout) or `printer` (default: the printer if configured).
        #[arg(long, value_enum)]
        to: Option<cmd::receipt::Target>,
    },
    /// Refund a paid order, fully or in part (a supervisor approves with their PIN).
    Refund {
        /// The merchant order number.
        out_trade_no: String,
        /// Amount to refund in yuan.
        #[arg(long)]
        amount: String,
        /// Why (shown to the customer, kept in the log).
        #[arg(long)]
        reason: String,
        /// The approving supervisor: required in live mode (in the demo it defaults to `demo`,
        /// PIN 0000).
        #[arg(long)]
        supervisor: Option<String>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Manage supervisors.
    Supervisor {
        #[command(subcommand)]
        action: SupervisorAction,
    },
    /// Compare a day's WeChat Pay trade bill with the log; exit 0 only when everything matches.
    Reconcile {
        /// The Beijing day, YYYY-MM-DD.
        #[arg(long)]
        date: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Print CSV.
        #[arg(long)]
        csv: bool,
    },
    /// Export orders (or refunds) between two days as CSV.
    Export {
        /// First day, YYYY-MM-DD (Beijing).
        #[arg(long)]
        from: String,
        /// Last day, YYYY-MM-DD (Beijing).
        #[arg(long)]
        to: String,
        /// Only `csv`.
        #[arg(long, default_value = "csv")]
        format: String,
        /// `orders` or `refunds`.
        #[arg(long, default_value = "orders")]
        what: String,
        /// Plain UTF-8 without the byte-order mark spreadsheets need.
        #[arg(long)]
        no_bom: bool,
    },
    /// Copy the shift log to PATH with SQLite's online backup (safe while the till runs).
    /// The copy is readable by its owner only; the live log is never a valid PATH.
    Backup {
        /// Destination file (a new file unless --force).
        path: PathBuf,
        /// Replace PATH if it exists (atomically, once the copy is whole).
        #[arg(long)]
        force: bool,
    },
    /// Print the X (current shift) or Z (closed shift) report.
    Report {
        /// `x` or `z`.
        kind: String,
        /// Z report number (default: the latest).
        number: Option<i64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Also print it on the receipt printer (or the text spool when there is none).
        #[arg(long)]
        print: bool,
    },
    /// Ship what this till recorded to the head office's PostgreSQL (`[sync]`): prints how
    /// many rows went and how far behind the till is. Exit 1 when the database cannot be reached.
    Sync {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The head office: central schema, the day's report over all tills, reconciliation of
    /// the merchant's bill against all tills (its own configuration: keys and `[sync]`).
    Hq {
        #[command(subcommand)]
        action: HqAction,
    },
    /// Run the WeChat Pay simulator as a standalone server.
    Sim {
        /// Address to listen on (port 0 picks a free port); loopback unless --public.
        #[arg(long, default_value = "127.0.0.1:8585")]
        listen: String,
        /// Allow --listen on an address beyond loopback (a warning is printed).
        #[arg(long)]
        public: bool,
        /// Folder for the key files and the generated client configuration: new or empty, or
        /// one this command made before (then reused); a folder with other files is refused.
        #[arg(long, default_value = "sim-keys")]
        keys: PathBuf,
        /// Loopback address for the admin endpoint (faults, ledger).
        #[arg(long, default_value = "127.0.0.1:0")]
        admin: SocketAddr,
        /// Merchant id to serve.
        #[arg(long, default_value = sim::DEMO_MCHID)]
        mchid: String,
        /// AppID to serve.
        #[arg(long, default_value = sim::DEMO_APPID)]
        appid: String,
        /// Platform-certificate mode: sign answers with platform certificates (served by
        /// `GET /v3/certificates`, encrypted under the APIv3 key it writes to
        /// `apiv3_key.txt`, 0600) instead of the public key; rotate with the admin endpoint's
        /// `POST /certificates/rotate`.
        #[arg(long)]
        platform_cert: bool,
        /// Service-provider mode (服务商): --mchid/--appid are the service provider's, bound to
        /// the sub-merchants 1900000109 and 1900000110 (and --sub-mchid); the configuration it
        /// writes charges for one of them (`merchant.sub_mchid`).
        #[arg(long)]
        partner: bool,
        /// With --partner: the sub-merchant the written configuration charges for (default
        /// 1900000109); the simulator knows it besides the demo ones.
        #[arg(long, requires = "partner")]
        sub_mchid: Option<String>,
        /// Which API the simulator is set up for: `v3` (plain HTTP) or `v2` (HTTPS with the
        /// simulator's own CA; writes `apiv2_key.txt`, `sim_ca.pem`, `apiclient_cert.pem` and an
        /// APIv2 `scanpay.toml`; `/secapi/*` needs the client certificate).
        #[arg(long, default_value = "v3", value_parser = ["v3", "v2"])]
        api: String,
        /// With `--api v2`: the sign type the written configuration uses.
        #[arg(long, default_value = "HMAC-SHA256", value_parser = ["HMAC-SHA256", "MD5"])]
        sign_type: String,
    },
}

/// Every change needs an existing supervisor's PIN (except `init`, while there is none) and is
/// audited. PINs are read without echo, or one per line from standard input or --pin-fd; they
/// have 6 to 12 digits (4 to 12 in the demo).
#[derive(Subcommand)]
enum SupervisorAction {
    /// Set up the first supervisor (only while there is none that can approve).
    Init {
        /// The supervisor's id.
        id: String,
    },
    /// Add a supervisor, approved by an existing one (their PIN first, then the new PIN).
    Add {
        /// The new supervisor's id.
        id: String,
        /// The approving supervisor.
        #[arg(long, value_name = "SUPERVISOR")]
        by: String,
    },
    /// Change a supervisor's PIN: the current PIN approves (or --by another supervisor's).
    Pin {
        /// The supervisor's id.
        id: String,
        /// Another supervisor who approves (a forgotten PIN).
        #[arg(long, value_name = "SUPERVISOR")]
        by: Option<String>,
    },
    /// Disable a supervisor (they approve nothing until enabled); the last one stays.
    Disable {
        /// The supervisor's id.
        id: String,
        /// The approving supervisor.
        #[arg(long, value_name = "SUPERVISOR")]
        by: String,
    },
    /// Enable a disabled supervisor again, approved by another one.
    Enable {
        /// The supervisor's id.
        id: String,
        /// The approving supervisor.
        #[arg(long, value_name = "SUPERVISOR")]
        by: String,
    },
    /// List the supervisors: id, enabled, when added and changed (never a PIN or hash).
    List {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum HqAction {
    /// Create or migrate the central schema (safe twice, and from two machines at once).
    Init,
    /// Per store and till: orders by state, charged, refunds, net, unsettled, last sync.
    Report {
        /// The Beijing day, YYYY-MM-DD.
        #[arg(long)]
        date: String,
        /// Only this store.
        #[arg(long)]
        store: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The merchant's trade bill against all tills' shipped orders; exit 0 only when clean.
    Reconcile {
        /// The Beijing day, YYYY-MM-DD.
        #[arg(long)]
        date: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Print CSV.
        #[arg(long)]
        csv: bool,
    },
}

#[derive(Subcommand)]
enum ShiftAction {
    /// Open a shift.
    Open {
        /// The cashier's id.
        #[arg(long)]
        cashier: String,
    },
    /// Close the open shift and print its Z report.
    Close {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Close even though orders are not settled (a supervisor approves; they are listed on the Z).
        #[arg(long)]
        force: bool,
        /// The approving supervisor for --force: required in live mode (in the demo it
        /// defaults to `demo`).
        #[arg(long)]
        supervisor: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The simulator needs no scanpay configuration of its own (and has no data folder: it
    // logs to its console).
    if let Some(Command::Sim {
        listen,
        public,
        keys,
        admin,
        mchid,
        appid,
        platform_cert,
        partner,
        sub_mchid,
        api,
        sign_type,
    }) = &cli.command
    {
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_env("SCANPAY_LOG")
                    .unwrap_or_else(|_| "warn".into()),
            )
            .with_writer(std::io::stderr)
            .init();
        return run_async(run_sim(
            listen,
            *public,
            keys,
            *admin,
            (mchid, appid),
            (*platform_cert, (api == "v2").then_some(sign_type.as_str())),
            partner.then(|| {
                sub_mchid
                    .clone()
                    .unwrap_or_else(|| sim::DEMO_SUB_MCHIDS[0].to_string())
            }),
        ));
    }
    // The check reports a configuration that does not load as one of its problems.
    if let Some(Command::Check { json }) = &cli.command {
        let json = *json;
        let config = Config::load(cli.config.clone());
        return run_async(async move { ExitCode::from(cmd::check::check(config, json).await) });
    }
    let config = match Config::load(cli.config.clone()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("scanpay: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    cmd::manager::set_pin_fd(cli.pin_fd);
    // The cashier screen installs its own logger (file only) and shows its training badge.
    if let Some(command) = &cli.command {
        command_preamble(&config, command, cli.verbose);
    }
    match cli.command {
        None => match scanpay::tui::run::run(config, Arc::new(SystemClock)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("scanpay: {}", scanpay::sanitize::terminal(&e.to_string()));
                ExitCode::from(EXIT_USAGE)
            }
        },
        // Handled before the configuration is loaded (above).
        Some(Command::Check { .. }) => ExitCode::from(EXIT_USAGE),
        Some(Command::Config) => {
            print!("{}", scanpay::sanitize::terminal(&config.describe()));
            ExitCode::SUCCESS
        }
        Some(Command::Pay {
            amount,
            code,
            description,
            json,
        }) => run_async(async move {
            cmd::finish(cmd::pay::pay(config, &amount, &code, description, json).await)
        }),
        Some(Command::Query { out_trade_no }) => {
            run_async(async move { cmd::finish(cmd::orders::query(config, &out_trade_no).await) })
        }
        Some(Command::Orders { all, json }) => cmd::finish(cmd::orders::list(&config, all, json)),
        Some(Command::Recover { json }) => {
            run_async(async move { cmd::finish(cmd::pay::recover_all(config, json).await) })
        }
        Some(Command::Shift {
            action: ShiftAction::Open { cashier },
        }) => run_async(async move { cmd::finish(cmd::shift::open(config, &cashier).await) }),
        Some(Command::Shift {
            action:
                ShiftAction::Close {
                    json,
                    force,
                    supervisor,
                },
        }) => {
            let by = if force {
                match cmd::manager::approver(&config, supervisor, "shift close --force") {
                    Ok(by) => Some(by),
                    Err(f) => return cmd::finish(Err(f)),
                }
            } else {
                None
            };
            run_async(async move { cmd::finish(cmd::shift::close(config, json, by).await) })
        }
        Some(Command::Refund {
            out_trade_no,
            amount,
            reason,
            supervisor,
            json,
        }) => {
            let supervisor = match cmd::manager::approver(&config, supervisor, "refund") {
                Ok(s) => s,
                Err(f) => return cmd::finish(Err(f)),
            };
            run_async(async move {
                cmd::finish(
                    cmd::manager::refund(
                        config,
                        &out_trade_no,
                        &amount,
                        &reason,
                        &supervisor,
                        json,
                    )
                    .await,
                )
            })
        }
        Some(Command::Supervisor { action }) => cmd::finish(match action {
            SupervisorAction::Init { id } => cmd::manager::supervisor_init(&config, &id),
            SupervisorAction::Add { id, by } => cmd::manager::supervisor_add(&config, &id, &by),
            SupervisorAction::Pin { id, by } => {
                cmd::manager::supervisor_pin(&config, &id, by.as_deref())
            }
            SupervisorAction::Disable { id, by } => {
                cmd::manager::supervisor_set_enabled(&config, &id, false, &by)
            }
            SupervisorAction::Enable { id, by } => {
                cmd::manager::supervisor_set_enabled(&config, &id, true, &by)
            }
            SupervisorAction::List { json } => cmd::manager::supervisor_list(&config, json),
        }),
        Some(Command::Reconcile { date, json, csv }) => run_async(async move {
            cmd::finish(cmd::manager::reconcile(config, &date, json, csv).await)
        }),
        Some(Command::Export {
            from,
            to,
            format,
            what,
            no_bom,
        }) => {
            if format != "csv" {
                eprintln!("scanpay: unknown format {format:?}: only csv");
                return ExitCode::from(EXIT_USAGE);
            }
            cmd::finish(cmd::manager::export(
                &config,
                &from,
                &to,
                what == "refunds",
                !no_bom,
            ))
        }
        Some(Command::Backup { path, force }) => {
            cmd::finish(cmd::manager::backup(&config, &path, force))
        }
        Some(Command::Reprint { out_trade_no, to }) => {
            cmd::finish(cmd::receipt::reprint(&config, &out_trade_no, to))
        }
        Some(Command::Report {
            kind,
            number,
            json,
            print,
        }) => cmd::finish(cmd::orders::report(&config, &kind, number, json, print)),
        Some(Command::Sync { json }) => {
            run_async(async move { cmd::finish(cmd::sync::sync(config, json).await) })
        }
        Some(Command::Hq { action }) => run_async(async move {
            cmd::finish(match action {
                HqAction::Init => cmd::sync::hq_init(config).await,
                HqAction::Report { date, store, json } => {
                    cmd::sync::hq_report(config, &date, store.as_deref(), json).await
                }
                HqAction::Reconcile { date, json, csv } => {
                    cmd::sync::hq_reconcile(config, &date, json, csv).await
                }
            })
        }),
        Some(Command::Sim { .. }) => ExitCode::SUCCESS,
    }
}

/// What every command does first: says on stderr, once, that simulator mode is training (no
/// real money), and installs the one logger — the log file, and stderr with `-v` — saying on
/// stderr when the file cannot be written. `scanpay config` only reads: it logs nothing.
fn command_preamble(config: &Config, command: &Command, verbose: bool) {
    if config.wechatpay.mode == scanpay::config::Mode::Simulator {
        eprintln!("{}", scanpay::i18n::training_notice(config.language));
    }
    if matches!(command, Command::Config) {
        return;
    }
    let face = scanpay::logging::Face::Command { verbose };
    match scanpay::logging::install(&config.data_dir, face) {
        Ok(_) => {}
        Err(e) => eprintln!(
            "scanpay: logging: {} (the command goes on without its log file{})",
            scanpay::sanitize::terminal(&e.to_string()),
            if verbose {
                "; -v shows the log here"
            } else {
                ""
            }
        ),
    }
    tracing::info!(
        command = command.name(),
        mode = ?config.wechatpay.mode,
        terminal = %config.merchant.terminal_id,
        "scanpay command"
    );
}

impl Command {
    /// The sub-command's name, for the log.
    fn name(&self) -> &'static str {
        match self {
            Command::Config => "config",
            Command::Check { .. } => "check",
            Command::Pay { .. } => "pay",
            Command::Query { .. } => "query",
            Command::Orders { .. } => "orders",
            Command::Recover { .. } => "recover",
            Command::Shift { .. } => "shift",
            Command::Reprint { .. } => "reprint",
            Command::Refund { .. } => "refund",
            Command::Supervisor { .. } => "supervisor",
            Command::Reconcile { .. } => "reconcile",
            Command::Export { .. } => "export",
            Command::Backup { .. } => "backup",
            Command::Report { .. } => "report",
            Command::Sync { .. } => "sync",
            Command::Hq { .. } => "hq",
            Command::Sim { .. } => "sim",
        }
    }
}

fn run_async(fut: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(fut),
        Err(e) => {
            eprintln!("scanpay: cannot start the async runtime: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

async fn run_sim(
    listen: &str,
    public: bool,
    keys_dir: &std::path::Path,
    admin: SocketAddr,
    (mchid, appid): (&str, &str),
    (platform_cert, v2_sign_type): (bool, Option<&str>),
    sub_mchid: Option<String>,
) -> ExitCode {
    if sub_mchid.is_some() && v2_sign_type.is_some() {
        eprintln!(
            "scanpay sim: --partner is for the APIv3 simulator (the APIv2 face serves a direct merchant only)"
        );
        return ExitCode::from(EXIT_USAGE);
    }
    if let Some(sub) = &sub_mchid
        && (sub.is_empty()
            || sub.len() > 32
            || !sub.bytes().all(|b| b.is_ascii_digit())
            || sub == mchid)
    {
        eprintln!(
            "scanpay sim: --sub-mchid {sub:?}: a sub-merchant's id is 1 to 32 digits, other than the service provider's --mchid"
        );
        return ExitCode::from(EXIT_USAGE);
    }
    // Checked before anything is written: loopback unless --public; a folder of its own.
    let at = match sim::standalone::check_listen(listen, public).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("scanpay sim: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if let Err(e) = sim::standalone::claim_keys_folder(keys_dir) {
        eprintln!("scanpay sim: {e}");
        return ExitCode::from(EXIT_USAGE);
    }
    let keys = match SimKeys::load_or_create(keys_dir) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("scanpay sim: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let v2_keys = match v2_sign_type {
        None => None,
        Some(_) => match sim::V2Keys::load_or_create(keys_dir, &keys, mchid) {
            Ok(k) => Some(k),
            Err(e) => {
                eprintln!("scanpay sim: {e}");
                return ExitCode::from(EXIT_USAGE);
            }
        },
    };
    let clock: SharedClock = Arc::new(SystemClock);
    let subs = sub_mchid
        .as_deref()
        .map(|sub| sim::sub_merchants_for(sub, None))
        .unwrap_or_default();
    let built = Simulator::new(&keys, mchid, appid, clock)
        .and_then(|s| s.with_sub_merchants(subs.clone()))
        .and_then(|s| match &v2_keys {
            Some(v2) => s.with_v2(v2),
            None => Ok(s),
        });
    let handle = match built {
        Ok(s) => match s.start_at(&at.addrs).await {
            Ok(h) => h,
            Err(e) => {
                eprintln!("scanpay sim: {e}");
                return ExitCode::from(EXIT_USAGE);
            }
        },
        Err(e) => {
            eprintln!("scanpay sim: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if platform_cert {
        let started = sim::load_or_create_apiv3_key(keys_dir)
            .and_then(|key| handle.use_platform_certificates(key));
        if let Err(e) = started {
            eprintln!("scanpay sim: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    }
    let (admin_addr, _admin_task) = match sim::serve_admin(handle.shared(), admin).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("scanpay sim: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let base = handle.base_url.as_str().trim_end_matches('/').to_string();
    let config_path = keys_dir.join("scanpay.toml");
    let note = match write_client_config(
        &config_path,
        &keys,
        (mchid, appid),
        &base,
        (platform_cert, v2_sign_type),
        sub_mchid.as_deref(),
    ) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("scanpay sim: {}: {e}", config_path.display());
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let dir = keys_dir.display();
    if !at.public.is_empty() {
        eprintln!(
            "scanpay sim: warning: listening on {} beyond loopback (--public): anyone who can reach this machine can use the simulator and its test keys{}",
            handle.addr,
            if v2_keys.is_some() {
                ""
            } else {
                "; it speaks plain http"
            }
        );
    }
    if let Some(sign_type) = v2_sign_type {
        println!("scanpay sim: WeChat Pay APIv2 simulator listening on {base}");
        println!(
            "  merchant    mchid {mchid}, appid {appid}, sign type {sign_type} (MD5 requests are answered in MD5)"
        );
        println!(
            "  keys        {dir}/{} (APIv2 key, 0600)",
            sim::APIV2_KEY_FILE
        );
        println!(
            "              {dir}/apiclient_key.pem (merchant private key, 0600) + {dir}/{} (its client certificate, for /secapi/*)",
            sim::CLIENT_CERT_FILE
        );
        println!(
            "              {dir}/{} (the simulator's CA: trust it as the TLS root)",
            sim::CA_CERT_FILE
        );
    } else {
        println!("scanpay sim: WeChat Pay APIv3 simulator listening on {base}");
    }
    if v2_sign_type.is_none() {
        if subs.is_empty() {
            println!(
                "  merchant    mchid {mchid}, appid {appid}, certificate serial {}",
                keys.merchant_serial_no
            );
        } else {
            println!(
                "  provider    service provider sp_mchid {mchid}, sp_appid {appid}, certificate serial {}",
                keys.merchant_serial_no
            );
            let names: Vec<&str> = subs.iter().map(|m| m.sub_mchid.as_str()).collect();
            println!(
                "              sub-merchants {} (the configuration charges for {})",
                names.join(", "),
                names[0]
            );
        }
        println!("  keys        {dir}/apiclient_key.pem (merchant private key, 0600)");
        if platform_cert {
            println!(
                "              {dir}/{} (APIv3 key, 0600; answers signed with platform certificates)",
                sim::APIV3_KEY_FILE
            );
        } else {
            println!(
                "              {dir}/pub_key.pem (simulator's WeChat Pay public key {})",
                keys.public_key_id
            );
        }
    }
    println!("  config      {} ({note})", config_path.display());
    println!("              scanpay --config {} …", config_path.display());
    println!(
        "  admin       http://{admin_addr} (POST/GET/DELETE /faults, GET /ledger, GET /stats; loopback only)"
    );
    if platform_cert {
        println!(
            "              GET /certificates, POST /certificates/rotate (platform certificates)"
        );
    }
    println!("  scenarios   by the last two digits of the payment code:");
    for (suffix, _, what) in Scenario::TABLE {
        println!("              {suffix:>5}  {what}");
    }
    println!("Ctrl-C stops it.");
    let _ = tokio::signal::ctrl_c().await;
    handle.stop();
    ExitCode::SUCCESS
}

/// Writes the client configuration, or updates the `base_url` line of an existing one (its
/// own: `sim::standalone::claim_keys_folder` has refused a folder with a file it did not write).
/// An existing one for the other mode (direct, or another sub-merchant) is written anew: a
/// till following it would only be refused.
fn write_client_config(
    path: &std::path::Path,
    keys: &SimKeys,
    (mchid, appid): (&str, &str),
    base: &str,
    (platform_cert, v2_sign_type): (bool, Option<&str>),
    sub_mchid: Option<&str>,
) -> std::io::Result<&'static str> {
    let wanted = format!("base_url = \"{base}\"");
    let fresh = || {
        let text = if let Some(sign_type) = v2_sign_type {
            sim::v2_config_toml(mchid, appid, base, sign_type)
        } else if platform_cert {
            sim::platform_cert_config_toml(keys, mchid, appid, base)
        } else {
            sim::client_config_toml(keys, mchid, appid, base)
        };
        match sub_mchid {
            Some(sub) => sim::partner_config_toml(&text, sub),
            None => text,
        }
    };
    let same_party = |text: &str| {
        let sub = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("sub_mchid = "))
            .map(|v| v.trim_matches('"'));
        sub == sub_mchid
    };
    match std::fs::read_to_string(path) {
        Ok(text) if !same_party(&text) => {
            std::fs::write(path, fresh())?;
            Ok("written anew: its merchant mode or sub-merchant differed")
        }
        Ok(text) if text.lines().any(|l| l.trim() == wanted) => Ok("reused"),
        Ok(text) => {
            let updated: Vec<String> = text
                .lines()
                .map(|l| {
                    if l.trim_start().starts_with("base_url") {
                        wanted.clone()
                    } else {
                        l.to_string()
                    }
                })
                .collect();
            std::fs::write(path, updated.join("\n") + "\n")?;
            Ok("reused, base_url updated")
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::write(path, fresh())?;
            Ok("written")
        }
        Err(e) => Err(e),
    }
}
