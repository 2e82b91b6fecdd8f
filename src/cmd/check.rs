//! `scanpay check [--json]`: the configuration check (`scanpay::till::check`), printed. Exit 0
//! when nothing is a problem, 1 otherwise (each problem named, with its fix).

use scanpay::config::{Config, ConfigError};
use scanpay::sanitize;
use scanpay::till::check::{self, Report, Status};

use super::{EXIT_FAILED, EXIT_OK, system_clock};

/// Runs the check for a configuration (or reports why it could not be loaded) and prints it.
pub async fn check(config: Result<Config, ConfigError>, json: bool) -> u8 {
    let report = match &config {
        Ok(cfg) => check::run(cfg, system_clock()).await,
        Err(e) => Report::unloadable(&e.to_string()),
    };
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{}", sanitize::terminal(&text(&report)));
    }
    if report.ok() { EXIT_OK } else { EXIT_FAILED }
}

/// One line per finding, the fix indented under it, and a verdict.
fn text(report: &Report) -> String {
    let mut s = String::new();
    for f in &report.findings {
        let mark = match f.status {
            Status::Ok => "ok     ",
            Status::Warning => "WARN   ",
            Status::Problem => "PROBLEM",
            Status::Skipped => "-      ",
        };
        s.push_str(&format!("{mark} {:<14} {}\n", f.item.as_str(), f.detail));
        if let Some(fix) = &f.fix {
            s.push_str(&format!("        {:<14} fix: {fix}\n", ""));
        }
    }
    let problems = report.problems().count();
    if problems == 0 {
        s.push_str("scanpay check: all good\n");
    } else {
        s.push_str(&format!(
            "scanpay check: {problems} problem(s); sales will fail until they are fixed\n"
        ));
    }
    s
}
