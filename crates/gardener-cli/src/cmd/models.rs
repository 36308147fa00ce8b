//! `gardener models [pull|rm|load|unload]`: what Ollama has installed and
//! loaded (with details, disk space and whether each model fits in memory),
//! pulling, deleting and loading models, and freeing the memory of loaded
//! ones.

use std::process::ExitCode;

use gardener_core::Platform;
use gardener_core::context::Context;
use gardener_core::error::ErrorCode;
use gardener_core::models;
use gardener_core::monitor::probe::{ProbeError, Prober};
use gardener_core::monitor::unload::Error as UnloadError;
use gardener_core::monitor::{self, run_loop};

use crate::Globals;
use crate::output::{self, CliError};

mod load;
mod pull;
mod rm;
mod show;

/// `gardener models` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Option<Action>,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Download a model from Ollama's registry, with progress (Ctrl-C stops it;
    /// Ollama resumes it next time).
    Pull {
        /// The model (`name:tag`, as on ollama.com).
        name: String,
    },
    /// Delete an installed model and free its disk space.
    Rm {
        /// The model (`name:tag`, as `gardener models` shows it).
        name: String,
        /// Do not ask for confirmation (needed without a terminal).
        #[arg(long, short)]
        yes: bool,
        /// Unload the model first if it is loaded (otherwise a loaded model is refused).
        #[arg(long)]
        unload: bool,
    },
    /// Load a model into memory now and keep it there for a while.
    Load {
        /// The model (`name:tag`, as `gardener models` shows it).
        name: String,
        /// How long it stays loaded when unused: `30m`, `2h`, seconds, or `-1`
        /// for as long as Ollama runs (default: Ollama's `OLLAMA_KEEP_ALIVE`).
        #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
        keep_alive: Option<String>,
    },
    /// Unload a loaded model from memory now (it loads again when next used).
    Unload {
        /// The model (`name:tag`, as `gardener models` shows it).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        name: Option<String>,
        /// Unload every loaded model.
        #[arg(long)]
        all: bool,
    },
}

fn unreachable(host: &str, e: &ProbeError) -> CliError {
    CliError {
        code: ErrorCode::OllamaUnreachable,
        message: format!(
            "cannot reach Ollama at {host}: {e}\n  check it with `gardener status`; start it with `gardener service start ollama`"
        ),
        exit: output::FAILED,
    }
}

/// A models error as the CLI reports it.
fn err(e: models::Error) -> CliError {
    let message = match &e {
        models::Error::Unreachable { host, source } => return unreachable(host, source),
        models::Error::Loaded { model } => {
            format!("{e} (`gardener models unload {model}`), or pass --unload")
        }
        models::Error::NoSpace { .. } => {
            format!("{e}\n  free some space (`gardener models rm NAME`) and pull again")
        }
        _ => e.to_string(),
    };
    CliError::domain(e.code(), e.is_usage(), message)
}

/// Runs the subcommand.
pub fn run(g: &Globals, args: &Args) -> Result<ExitCode, CliError> {
    let ctx = Context::load(g.config.as_deref(), Platform::current())?;
    let host = ctx.config.ollama.host.clone();
    let models_dir = ctx.paths.expand(&ctx.config.ollama.models_dir);
    super::runtime()?.block_on(async {
        let prober = run_loop::prober(&ctx).map_err(|e| CliError {
            code: e.code(),
            message: e.to_string(),
            exit: output::FAILED,
        })?;
        match &args.action {
            None => {
                let listing = models::Ollama::of(&ctx)
                    .map_err(err)?
                    .list()
                    .await
                    .map_err(err)?;
                if g.json {
                    output::print_json(&listing);
                } else {
                    print!("{}", show::render(&listing));
                }
                Ok(ExitCode::SUCCESS)
            }
            Some(Action::Pull { name }) => pull::run(g, &prober, &host, name, models_dir).await,
            Some(Action::Rm { name, yes, unload }) => {
                rm::run(g, &prober, &host, name, *yes, *unload).await
            }
            Some(Action::Load { name, keep_alive }) => {
                load::run(g, &host, name, keep_alive.as_deref()).await
            }
            Some(Action::Unload { name, all }) => {
                unload(g, &prober, &host, name.as_deref(), *all).await
            }
        }
    })
}

async fn unload(
    g: &Globals,
    prober: &Prober,
    host: &str,
    name: Option<&str>,
    all: bool,
) -> Result<ExitCode, CliError> {
    let only = if all { None } else { name };
    let unloaded = monitor::unload::unload(prober, host, only)
        .await
        .map_err(|e| match e {
            UnloadError::Unreachable { host, source } => unreachable(&host, &source),
            UnloadError::NotLoaded { model, loaded } => CliError {
                code: ErrorCode::NotLoaded,
                message: format!(
                    "{model} is not loaded; loaded now: {}",
                    if loaded.is_empty() {
                        "none".to_owned()
                    } else {
                        loaded.join(", ")
                    }
                ),
                exit: output::FAILED,
            },
            UnloadError::Failed { model, source } => CliError {
                code: ErrorCode::UnloadFailed,
                message: format!("Ollama did not unload {model}: {source}"),
                exit: output::FAILED,
            },
            e => CliError::domain(e.code(), false, e.to_string()),
        })?;
    if g.json {
        output::print_json(&serde_json::json!({ "unloaded": unloaded }));
    } else if unloaded.is_empty() {
        println!("No model is loaded.");
    } else {
        for m in &unloaded {
            println!("Unloaded {m}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
