//! `gardener`: installs, controls and inspects the local AI stack (Ollama and
//! the Codebase Gardener app). Each subcommand is one file under `cmd/` that
//! calls into `gardener-core` and prints the result.

mod cmd;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Keeps Ollama and the Codebase Gardener app running as user services.
#[derive(Debug, Parser)]
#[command(name = "gardener", version, about, propagate_version = true)]
pub struct Cli {
    /// Use this config file instead of the platform's gardener.toml.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Log what happens (repeat for more detail).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Install (or repair) both services and start them.
    Install(cmd::install::Args),
    /// Stop and remove the services; data is kept unless --purge.
    Uninstall(cmd::uninstall::Args),
    /// Show or change the services' state.
    #[command(subcommand)]
    Service(cmd::service::Args),
    /// Find, show or check the config file.
    #[command(subcommand)]
    Config(cmd::config::Args),
    /// Run every preflight check and say how to fix what fails.
    Doctor,
    /// Both services, the machine and the alerts, now (or live with --watch).
    Status(cmd::status::Args),
    /// Watch continuously: alerts, notifications, optional Prometheus metrics.
    Monitor(cmd::monitor::Args),
    /// Ollama's installed and loaded models; unload models from memory.
    Models(cmd::models::Args),
    /// Ollama's settings (keep-alive, parallel requests, context length…):
    /// show, change, apply.
    #[command(subcommand)]
    Ollama(cmd::ollama::Args),
    /// Show the last lines of the services' or Gardener's logs (or follow them).
    Logs(cmd::logs::Args),
    /// Back up, list, verify, restore and prune backups of the stack's data.
    Backup(cmd::backup::Args),
}

/// Global options every subcommand sees.
pub struct Globals {
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--json`.
    pub json: bool,
}

/// Logs go to stderr at the `-v` level; the long-running monitor also keeps
/// Gardener's daily log file (at info level, so alert events are on record).
fn init_tracing(level: &str, cli: &Cli) {
    use tracing_subscriber::{EnvFilter, Layer, layer::SubscriberExt, util::SubscriberInitExt};
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .without_time()
        .with_filter(
            EnvFilter::try_from_env("GARDENER_LOG").unwrap_or_else(|_| EnvFilter::new(level)),
        );
    let file = matches!(cli.command, Command::Monitor(_))
        .then(|| {
            // A config error is reported by the command itself; the file log is then skipped.
            let ctx = gardener_core::context::Context::load(
                cli.config.as_deref(),
                gardener_core::Platform::current(),
            )
            .ok()?;
            gardener_core::logs::gardener_log_appender(&ctx.logs_dir, ctx.config.logs.keep_days)
                .map_err(|e| eprintln!("warning: no log file: {e}"))
                .ok()
        })
        .flatten()
        .map(|appender| {
            tracing_subscriber::fmt::layer()
                .with_writer(appender)
                .with_ansi(false)
                .with_filter(EnvFilter::new("info"))
        });
    tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    init_tracing(level, &cli);
    let g = Globals {
        config: cli.config,
        json: cli.json,
    };
    let result = match cli.command {
        Command::Install(args) => cmd::install::run(&g, &args),
        Command::Uninstall(args) => cmd::uninstall::run(&g, &args),
        Command::Service(args) => cmd::service::run(&g, &args),
        Command::Config(args) => cmd::config::run(&g, &args),
        Command::Doctor => cmd::doctor::run(&g),
        Command::Status(args) => cmd::status::run(&g, &args),
        Command::Monitor(args) => cmd::monitor::run(&g, &args),
        Command::Models(args) => cmd::models::run(&g, &args),
        Command::Ollama(args) => cmd::ollama::run(&g, &args),
        Command::Logs(args) => cmd::logs::run(&g, &args),
        Command::Backup(args) => cmd::backup::run(&g, &args),
    };
    match result {
        Ok(code) => code,
        Err(e) => output::fail(&g, &e),
    }
}
