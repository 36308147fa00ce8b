//! `gardener models [unload NAME|--all]`: what Ollama has installed and
//! loaded, and freeing the memory of loaded models.

use std::fmt::Write as _;
use std::process::ExitCode;

use bytesize::ByteSize;
use gardener_core::Platform;
use gardener_core::context::Context;
use gardener_core::error::ErrorCode;
use gardener_core::monitor::probe::ProbeError;
use gardener_core::monitor::run_loop;
use gardener_core::monitor::{InstalledModel, LoadedModel};
use serde::Serialize;

use crate::Globals;
use crate::output::{self, CliError};

/// `gardener models` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Option<Action>,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
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

#[derive(Serialize)]
struct Listing {
    host: String,
    loaded: Vec<LoadedModel>,
    installed: Vec<InstalledModel>,
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

/// Runs the subcommand.
pub fn run(g: &Globals, args: &Args) -> Result<ExitCode, CliError> {
    let ctx = Context::load(g.config.as_deref(), Platform::current())?;
    let host = ctx.config.ollama.host.clone();
    super::runtime()?.block_on(async {
        let prober = run_loop::prober(&ctx).map_err(|e| CliError {
            code: e.code(),
            message: e.to_string(),
            exit: output::FAILED,
        })?;
        let (ps, tags) = tokio::join!(prober.ollama_ps(&host), prober.ollama_tags(&host));
        let loaded = ps.result.map_err(|e| unreachable(&host, &e))?;
        match &args.action {
            None => {
                let installed = tags.result.map_err(|e| unreachable(&host, &e))?;
                let listing = Listing {
                    host,
                    loaded,
                    installed,
                };
                if g.json {
                    output::print_json(&listing);
                } else {
                    print!("{}", render(&listing));
                }
                Ok(ExitCode::SUCCESS)
            }
            Some(Action::Unload { name, all }) => {
                let targets: Vec<String> = if *all {
                    loaded.iter().map(|m| m.name.clone()).collect()
                } else {
                    let name = name.clone().unwrap_or_default();
                    // Asking Ollama to unload a model it has not loaded would
                    // load it first, which is the opposite of what was wanted.
                    if !loaded.iter().any(|m| m.name == name) {
                        let names: Vec<&str> = loaded.iter().map(|m| m.name.as_str()).collect();
                        return Err(CliError {
                            code: ErrorCode::NotLoaded,
                            message: format!(
                                "{name} is not loaded; loaded now: {}",
                                if names.is_empty() {
                                    "none".to_owned()
                                } else {
                                    names.join(", ")
                                }
                            ),
                            exit: output::FAILED,
                        });
                    }
                    vec![name]
                };
                let mut unloaded = Vec::new();
                for m in &targets {
                    prober.unload(&host, m).await.map_err(|e| CliError {
                        code: ErrorCode::UnloadFailed,
                        message: format!("Ollama did not unload {m}: {e}"),
                        exit: output::FAILED,
                    })?;
                    unloaded.push(m.clone());
                }
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
        }
    })
}

fn size(bytes: u64) -> String {
    ByteSize(bytes).display().iec().to_string()
}

fn render(l: &Listing) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Ollama at {}", l.host);
    let _ = writeln!(out, "Loaded in memory ({}):", l.loaded.len());
    for m in &l.loaded {
        let mut line = format!("  {:<28} {:>10}", m.name, size(m.size_bytes));
        if m.vram_bytes > 0 {
            let _ = write!(line, "  GPU {}", size(m.vram_bytes));
        }
        if let Some(c) = m.context_length {
            let _ = write!(line, "  context {c}");
        }
        if let Some(t) = &m.expires_at {
            let _ = write!(line, "  until {t}");
        }
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "Installed ({}):", l.installed.len());
    for m in &l.installed {
        let details: Vec<&str> = [&m.family, &m.parameter_size, &m.quantization]
            .into_iter()
            .filter_map(|d| d.as_deref())
            .collect();
        let _ = writeln!(
            out,
            "  {:<28} {:>10}  {}",
            m.name,
            size(m.size_bytes),
            details.join(" ")
        );
    }
    out
}
