//! `gardener service status|start|stop|restart [ollama|app]`.

use std::process::ExitCode;

use gardener_core::Platform;
use gardener_core::context::Context;
use gardener_core::install;
use gardener_core::services::{Action, ServiceId, ServiceState};

use crate::Globals;
use crate::output::{self, CliError};

/// Which service (both when omitted).
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Which {
    /// The Ollama model server.
    Ollama,
    /// The Codebase Gardener app.
    App,
}

/// The service subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Args {
    /// State, pid, restarts, last exit, health and drift.
    Status {
        /// One service (both by default).
        service: Option<Which>,
    },
    /// Start the service(s).
    Start {
        /// One service (both by default).
        service: Option<Which>,
    },
    /// Stop the service(s); they start again at next login.
    Stop {
        /// One service (both by default).
        service: Option<Which>,
    },
    /// Restart the service(s).
    Restart {
        /// One service (both by default).
        service: Option<Which>,
    },
}

fn ids(which: Option<Which>) -> Vec<ServiceId> {
    match which {
        Some(Which::Ollama) => vec![ServiceId::Ollama],
        Some(Which::App) => vec![ServiceId::App],
        None => ServiceId::ALL.to_vec(),
    }
}

/// Runs the subcommand.
pub fn run(g: &Globals, args: &Args) -> Result<ExitCode, CliError> {
    let ctx = Context::load(g.config.as_deref(), Platform::current())?;
    let manager = ctx.manager();
    let (action, which) = match *args {
        Args::Status { service } => (None, service),
        Args::Start { service } => (Some(Action::Start), service),
        Args::Stop { service } => (Some(Action::Stop), service),
        Args::Restart { service } => (Some(Action::Restart), service),
    };
    let reports = match action {
        None => install::service_reports(&ctx, manager.as_ref(), &ids(which), true)?,
        Some(action) => install::control(&ctx, manager.as_ref(), action, &ids(which))?,
    };
    if g.json {
        output::print_json(&serde_json::json!({ "platform": ctx.platform(), "services": reports }));
    } else {
        output::print_reports(&reports);
    }
    // Asked for their state and not able to tell: that is a failure to report.
    if reports.iter().any(|r| r.state == ServiceState::Unknown) {
        return Ok(ExitCode::from(output::FAILED));
    }
    Ok(ExitCode::SUCCESS)
}
