//! `gardener uninstall`: stop and remove the services. Data is kept unless
//! `--purge`; backups are always kept.

use std::process::ExitCode;

use gardener_core::Platform;
use gardener_core::context::Context;
use gardener_core::install;

use crate::Globals;
use crate::output::{self, CliError};

/// `gardener uninstall` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also remove Gardener's config, data and logs (never backups).
    #[arg(long)]
    purge: bool,
    /// Do not ask for confirmation.
    #[arg(short, long)]
    yes: bool,
    /// Print what would be removed without removing it.
    #[arg(long)]
    dry_run: bool,
}

/// Runs the subcommand.
pub fn run(g: &Globals, args: &Args) -> Result<ExitCode, CliError> {
    let ctx = Context::load(g.config.as_deref(), Platform::current())?;
    let manager = ctx.manager();
    let plan = install::uninstall_plan(&ctx, manager.as_ref(), args.purge)?;
    if args.dry_run {
        if g.json {
            output::print_json(&plan);
        } else {
            output::print_plan(&plan);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if plan.steps.is_empty() {
        if g.json {
            output::print_json(&serde_json::json!({ "changed": false, "done": [] }));
        } else {
            println!("Nothing to remove: no Gardener services are installed.");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !args.yes {
        let what = if args.purge {
            "Stop and remove the services, and delete Gardener's config, data and logs?"
        } else {
            "Stop and remove the services (data is kept)?"
        };
        match output::confirm(what, false) {
            Some(true) => {}
            Some(false) => {
                println!("Nothing was changed.");
                return Ok(ExitCode::from(output::FAILED));
            }
            None => {
                return Err(CliError::usage(
                    "not a terminal, so cannot ask before removing services: pass --yes",
                ));
            }
        }
    }
    let report = install::apply(&ctx, &plan, manager.as_ref(), &mut |_| {})?;
    let kept: Vec<String> = [&ctx.data_dir, &ctx.logs_dir, &ctx.backups_dir]
        .into_iter()
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if g.json {
        output::print_json(
            &serde_json::json!({ "changed": report.changed, "done": report.done, "kept": kept }),
        );
    } else {
        for line in &report.done {
            println!("  ✓ {line}");
        }
        println!("Uninstalled.");
        if !kept.is_empty() {
            println!("Kept: {}", kept.join(", "));
            if !args.purge {
                println!(
                    "(`gardener uninstall --purge` also removes config, data and logs; backups are always kept.)"
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
