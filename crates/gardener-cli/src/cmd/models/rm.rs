//! `gardener models rm NAME [--yes] [--unload]`: deletes a model like
//! `ollama rm`, after saying how much space it frees.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use gardener_core::models;
use gardener_core::monitor::probe::Prober;

use super::{err, show::size};
use crate::Globals;
use crate::output::{self, CliError};

/// Runs `models rm`.
pub(super) async fn run(
    g: &Globals,
    prober: &Prober,
    host: &str,
    name: &str,
    yes: bool,
    unload: bool,
) -> Result<ExitCode, CliError> {
    let plan = models::plan_delete(prober, host, name).await.map_err(err)?;
    if plan.loaded && !unload {
        return Err(err(models::Error::Loaded { model: plan.model }));
    }
    let freed = if plan.freed_bytes > 0 {
        format!("freeing {}", size(plan.freed_bytes))
    } else {
        "freeing nothing: another name shares its files".to_owned()
    };
    if !yes {
        if g.json || !std::io::stdin().is_terminal() {
            return Err(CliError::usage(format!(
                "deleting {} cannot be undone ({freed}); pass --yes to confirm",
                plan.model
            )));
        }
        let unloading = if plan.loaded {
            ", unloading it first"
        } else {
            ""
        };
        let question = format!("Delete {}{unloading}, {freed}?", plan.model);
        if output::confirm(&question, false) != Some(true) {
            println!("Nothing deleted.");
            return Ok(ExitCode::SUCCESS);
        }
    }
    models::delete(prober, host, &plan, unload)
        .await
        .map_err(err)?;
    if g.json {
        output::print_json(&serde_json::json!({
            "deleted": plan.model,
            "freed_bytes": plan.freed_bytes,
            "unloaded": plan.loaded,
        }));
    } else {
        let unloaded = if plan.loaded { " (unloaded first)" } else { "" };
        println!("Deleted {}{unloaded}, {freed}", plan.model);
    }
    Ok(ExitCode::SUCCESS)
}
