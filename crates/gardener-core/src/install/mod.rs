//! Installing, verifying, controlling and uninstalling the services.
//!
//! [`build_plan`] turns the config into a [`Plan`] (preflight checks,
//! directories, files, commands, health waits) without changing anything;
//! [`apply`] carries it out and undoes what it did if a step fails. The same
//! plan is printed by `gardener install --dry-run` and shown by the app.

mod apply;
mod build;
mod context;
mod preflight;
mod programs;
mod status;
#[cfg(test)]
mod tests;

pub mod plan;

use std::path::{Path, PathBuf};

pub(crate) use apply::wait_healthy;
pub use apply::{ApplyReport, Progress, apply};
pub(crate) use build::backup_logs;
pub use build::{build_plan, uninstall_plan};
pub use context::Context;
pub use plan::{Change, Check, Outcome, Plan, Step};
pub use preflight::{Preflight, PreflightOptions, preflight};
pub use status::{Drift, ServiceReport, control, service_reports};

use crate::services::ServiceId;
use crate::{Platform, config, paths, services};

/// Errors from planning or applying.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Finding the home directory failed.
    #[error(transparent)]
    Paths(#[from] paths::Error),
    /// The config is invalid.
    #[error(transparent)]
    Config(#[from] config::Error),
    /// A service manager command failed.
    #[error(transparent)]
    Service(#[from] services::Error),
    /// A file or directory operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done ("write", "create directory", …).
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Preflight checks failed; nothing was changed.
    #[error("preflight checks failed, nothing was changed:\n{}", failures.join("\n"))]
    Blocked {
        /// One line per failed check, with its fix.
        failures: Vec<String>,
    },
    /// A service did not become healthy; what was changed has been undone.
    #[error("{} did not become healthy within {secs} s: {detail}", service.display_name())]
    Unhealthy {
        /// Which service.
        service: ServiceId,
        /// How long it waited.
        secs: u64,
        /// The last probe's error and the end of the service's error log.
        detail: String,
    },
    /// A plan for another platform can only be printed.
    #[error(
        "this plan is for {plan}, but this machine runs {here}: it can only be printed (--dry-run)"
    )]
    OtherPlatform {
        /// The plan's platform.
        plan: Platform,
        /// This machine's.
        here: Platform,
    },
    /// A service that is not installed was asked to start.
    #[error("{} is not installed: run `gardener install` first", service.display_name())]
    NotInstalled {
        /// Which service.
        service: ServiceId,
    },
    /// The service is not Gardener's to control.
    #[error("{} is not managed by Gardener (`[ollama] external = true`): control it where you run it (Ollama.app, `brew services`)", service.display_name())]
    NotManaged {
        /// Which service.
        service: ServiceId,
    },
    /// Applying failed; what it had changed was undone (or could not be).
    #[error("{error}\n{}", rollback_summary(undone, problems))]
    RolledBack {
        /// The original failure.
        error: Box<Error>,
        /// What was undone.
        undone: Vec<String>,
        /// What could not be undone.
        problems: Vec<String>,
    },
}

impl Error {
    /// A stable code for machines (`--json`, the app's IPC errors).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Paths(_) => "paths",
            Self::Config(_) => "config",
            Self::Service(_) => "service",
            Self::Io { .. } => "io",
            Self::Blocked { .. } => "preflight",
            Self::Unhealthy { .. } => "unhealthy",
            Self::OtherPlatform { .. } => "other-platform",
            Self::NotInstalled { .. } => "not-installed",
            Self::NotManaged { .. } => "not-managed",
            Self::RolledBack { error, .. } => error.code(),
        }
    }

    /// True for errors in what the user asked for (config, usage) rather than
    /// in carrying it out: the CLI exits with 2 for these.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Self::Config(_) | Self::OtherPlatform { .. } | Self::NotManaged { .. }
        )
    }

    fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_path_buf();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}

fn rollback_summary(undone: &[String], problems: &[String]) -> String {
    if problems.is_empty() {
        if undone.is_empty() {
            "Nothing had been changed yet.".into()
        } else {
            format!(
                "What this run had changed was undone:\n  {}",
                undone.join("\n  ")
            )
        }
    } else {
        format!(
            "Undoing failed for some changes; run `gardener install` again to complete them:\n  {}",
            problems.join("\n  ")
        )
    }
}

/// Result alias for this module.
pub type Result<T> = std::result::Result<T, Error>;

/// The install plan for this machine, as the app shows it (no changes made).
pub fn dry_run(config: Option<&Path>) -> Result<Plan> {
    let ctx = Context::load(config, Platform::current())?;
    let manager = ctx.manager();
    build_plan(&ctx, manager.as_ref(), &PreflightOptions::default())
}
