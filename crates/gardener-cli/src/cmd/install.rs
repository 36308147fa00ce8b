//! `gardener install`: print, or apply, the plan that makes this machine match
//! the config. Applying twice changes nothing; a failed apply is undone.

use std::process::ExitCode;

use gardener_core::Platform;
use gardener_core::context::Context;
use gardener_core::install::{self, PreflightOptions, Progress};

use crate::Globals;
use crate::output::{self, CliError};

/// Platforms `--platform` accepts.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum PlatformArg {
    /// launchd user agents.
    Macos,
    /// systemd user units.
    Linux,
}

/// `gardener install` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print every step, file and command without changing anything.
    #[arg(long)]
    dry_run: bool,
    /// Render the plan for another platform (with --dry-run only).
    #[arg(long, value_enum)]
    platform: Option<PlatformArg>,
    /// Do not ask for confirmation.
    #[arg(short, long)]
    yes: bool,
    /// If an Ollama that Gardener did not install is already running, use it
    /// (sets `[ollama] external = true`) instead of installing a second one.
    #[arg(long)]
    use_running_ollama: bool,
}

/// Runs the subcommand.
pub fn run(g: &Globals, args: &Args) -> Result<ExitCode, CliError> {
    let platform = match args.platform {
        Some(PlatformArg::Macos) => Platform::Macos,
        Some(PlatformArg::Linux) => Platform::Linux,
        None => Platform::current(),
    };
    if platform != Platform::current() && !args.dry_run {
        return Err(CliError::usage(format!(
            "--platform {platform} can only render a plan on this {} machine: add --dry-run",
            Platform::current()
        )));
    }
    let mut ctx = Context::load(g.config.as_deref(), platform)?;
    let manager = ctx.manager();
    let mut opts = PreflightOptions {
        use_running_ollama: args.use_running_ollama,
    };
    let mut plan = install::build_plan(&ctx, manager.as_ref(), &opts)?;

    if args.dry_run {
        if g.json {
            output::print_json(&plan);
        } else {
            output::print_plan(&plan);
        }
        return Ok(ExitCode::SUCCESS);
    }

    // An Ollama we did not install holds the port: offer to use it.
    // Found an Ollama we did not install, and the plan still wants our own.
    let external_found = plan.external_ollama.is_some() && plan.manage_ollama;
    if external_found
        && !g.json
        && !args.yes
        && output::confirm(
            "An Ollama that Gardener did not install is already running. Use it instead of installing a second one?",
            true,
        ) == Some(true)
    {
        opts.use_running_ollama = true;
        plan = install::build_plan(&ctx, manager.as_ref(), &opts)?;
    }
    if let Some((adopted_ctx, adopted_plan)) = install::adopt_running_ollama(&ctx, &plan, &opts)? {
        (ctx, plan) = (adopted_ctx, adopted_plan);
        if !g.json {
            println!(
                "Set `[ollama] external = true` in {}.",
                ctx.config_file.display()
            );
        }
    }

    if let Some(blocked) = plan.blocked_error() {
        return Err(blocked.into());
    }
    if !plan.is_noop() && !args.yes {
        let changes = plan.steps.iter().filter(|s| s.is_change()).count();
        let question = format!(
            "Apply {changes} change{} (see them with --dry-run)?",
            if changes == 1 { "" } else { "s" }
        );
        match output::confirm(&question, false) {
            Some(true) => {}
            Some(false) => {
                println!("Nothing was changed.");
                return Ok(ExitCode::from(output::FAILED));
            }
            None => {
                return Err(CliError::usage(
                    "not a terminal, so cannot ask before changing the system: pass --yes",
                ));
            }
        }
    }

    let show = !g.json;
    let mut progress = |p: Progress| {
        if !show {
            return;
        }
        match p {
            Progress::Started { description, .. } => eprintln!("  … {description}"),
            Progress::Finished { result, .. } => eprintln!("    {result}"),
        }
    };
    let report = install::apply(&ctx, &plan, manager.as_ref(), &mut progress)?;
    if g.json {
        output::print_json(&serde_json::json!({
            "changed": report.changed,
            "done": report.done,
            "health": report.health,
            "plan": plan,
        }));
    } else {
        if report.changed {
            println!(
                "Installed: {} change{} made.",
                report.done.len(),
                if report.done.len() == 1 { "" } else { "s" }
            );
        } else {
            println!("Nothing to change: everything was already installed as configured.");
        }
        for (id, h) in &report.health {
            println!("  ✓ {} is healthy ({} ms)", id.display_name(), h.latency_ms);
        }
    }
    Ok(ExitCode::SUCCESS)
}
