//! The `scanpay` command: the cashier screen, and sub-commands for headless use.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use scanpay::config::Config;

/// Exit status for a usage or configuration error.
const EXIT_USAGE: u8 = 2;

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

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Print the resolved configuration and where it came from.
    Config,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.clone()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("scanpay: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match cli.command {
        // Until the cashier screen lands, the default action shows the configuration.
        None | Some(Command::Config) => {
            print!("{}", config.describe());
            ExitCode::SUCCESS
        }
    }
}
