//! `gardener install`: print, or apply, the plan that makes this machine match
//! the config. Applying twice changes nothing; a failed apply is undone.

use std::process::ExitCode;

use gardener_core::Platform;
use gardener_core::context::Context;
use gardener_core::install::{self, ApplyReport, Plan, PreflightOptions, Progress};
use gardener_core::services::ServiceManager;

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
    let platform = platform(args)?;
    let ctx = Context::load(g.config.as_deref(), platform)?;
    let manager = ctx.manager();
    let opts = PreflightOptions {
        use_running_ollama: args.use_running_ollama,
    };
    let plan = install::build_plan(&ctx, manager.as_ref(), &opts)?;

    if args.dry_run {
        if g.json {
            output::print_json(&plan);
        } else {
            output::print_plan(&plan);
        }
        return Ok(ExitCode::SUCCESS);
    }

    let (ctx, plan) = settle_ollama(g, args, ctx, manager.as_ref(), opts, plan)?;
    if let Some(blocked) = plan.blocked_error() {
        return Err(blocked.into());
    }
    if !plan.is_noop() && !args.yes && !confirm(&plan)? {
        println!("Nothing was changed.");
        return Ok(ExitCode::from(output::FAILED));
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
    print_report(g, &plan, &report);
    Ok(ExitCode::SUCCESS)
}

/// The platform to plan for: `--platform`, which only a dry run may set to
/// another one than this machine's.
fn platform(args: &Args) -> Result<Platform, CliError> {
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
    Ok(platform)
}

/// When an Ollama Gardener did not install is running, offers to use it,
/// and sets `[ollama] external = true` when it is used. Returns the context
/// and plan to apply.
fn settle_ollama(
    g: &Globals,
    args: &Args,
    ctx: Context,
    manager: &dyn ServiceManager,
    mut opts: PreflightOptions,
    mut plan: Plan,
) -> Result<(Context, Plan), CliError> {
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
        plan = install::build_plan(&ctx, manager, &opts)?;
    }
    let Some((ctx, plan)) = install::adopt_running_ollama(&ctx, &plan, &opts)? else {
        return Ok((ctx, plan));
    };
    if !g.json {
        println!(
            "Set `[ollama] external = true` in {}.",
            ctx.config_file.display()
        );
    }
    Ok((ctx, plan))
}

/// Asks before applying the plan's changes: whether the answer is yes.
/// Without a terminal to ask on, that is a usage error.
fn confirm(plan: &Plan) -> Result<bool, CliError> {
    let changes = plan.steps.iter().filter(|s| s.is_change()).count();
    let question = format!(
        "Apply {changes} change{} (see them with --dry-run)?",
        if changes == 1 { "" } else { "s" }
    );
    output::confirm(&question, false).ok_or_else(|| {
        CliError::usage("not a terminal, so cannot ask before changing the system: pass --yes")
    })
}

/// Prints what the apply did: JSON with the plan, or a line per change
/// count and healthy service.
fn print_report(g: &Globals, plan: &Plan, report: &ApplyReport) {
    if g.json {
        output::print_json(&serde_json::json!({
            "changed": report.changed,
            "done": report.done,
            "health": report.health,
            "plan": plan,
        }));
        return;
    }
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
