//! `gardener doctor`: every preflight check with its fix, and each service's
//! state and drift. Exits 1 when a check fails.

use std::process::ExitCode;

use gardener_core::Platform;
use gardener_core::context::Context;
use gardener_core::install::{self, Outcome, PreflightOptions};
use gardener_core::services::ServiceId;

use crate::Globals;
use crate::output::{self, CliError};

/// Runs the subcommand.
pub fn run(g: &Globals) -> Result<ExitCode, CliError> {
    let ctx = Context::load(g.config.as_deref(), Platform::current())?;
    let manager = ctx.manager();
    let pf = install::preflight(&ctx, manager.as_ref(), &PreflightOptions::default());
    // The checks already explain an unreachable service manager; say it here too.
    let reports = install::service_reports(&ctx, manager.as_ref(), &ServiceId::ALL, true)
        .map_err(|e| e.to_string());
    let failed = pf.checks.iter().any(|c| c.outcome == Outcome::Fail) || reports.is_err();
    if g.json {
        let services = match &reports {
            Ok(r) => serde_json::json!(r),
            Err(e) => serde_json::json!({ "error": e }),
        };
        output::print_json(
            &serde_json::json!({ "ok": !failed, "checks": pf.checks, "services": services }),
        );
    } else {
        println!("Checks");
        pf.checks.iter().for_each(output::print_check);
        println!("\nServices");
        match &reports {
            Ok(r) => output::print_reports(r),
            Err(e) => println!("  ✗ cannot ask the service manager: {e}"),
        }
        println!();
        println!(
            "{}",
            if failed {
                "Some checks failed: apply the fixes above, then run `gardener install`."
            } else {
                "All checks passed."
            }
        );
    }
    Ok(if failed {
        ExitCode::from(output::FAILED)
    } else {
        ExitCode::SUCCESS
    })
}
