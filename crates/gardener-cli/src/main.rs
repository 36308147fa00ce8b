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
}

/// Global options every subcommand sees.
pub struct Globals {
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--json`.
    pub json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GARDENER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .without_time()
        .init();
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
    };
    match result {
        Ok(code) => code,
        Err(e) => output::fail(&g, &e),
    }
}
