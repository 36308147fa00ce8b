//! Installing, verifying, controlling and uninstalling the services.
//!
//! [`build_plan`] turns the config into a [`Plan`] (preflight checks,
//! directories, files, commands, health waits) without changing anything;
//! [`apply`] carries it out and undoes what it did if a step fails. The same
//! plan is printed by `gardener install --dry-run` and shown by the app.

mod apply;
pub(crate) mod planner;
mod preflight;
mod programs;
mod status;
#[cfg(test)]
mod tests;

pub mod plan;

use std::path::{Path, PathBuf};

pub use apply::{ApplyReport, Progress, apply};
pub use plan::{Change, Check, Outcome, Plan, Step};
pub use planner::{build_plan, uninstall_plan};
pub use preflight::{Preflight, PreflightOptions, preflight};
pub use status::{Drift, ServiceReport, control, service_reports};

pub(crate) use planner::SERVICE_FILE;
pub(crate) use programs::programs;

use crate::config::Config;
use crate::context::Context;
use crate::error::ErrorCode;
use crate::health::Unhealthy;
use crate::paths::Paths;
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
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Paths(e) => e.code(),
            Self::Config(e) => e.code(),
            Self::Service(e) => e.code(),
            Self::Io { .. } => ErrorCode::Io,
            Self::Blocked { .. } => ErrorCode::Preflight,
            Self::Unhealthy { .. } => ErrorCode::Unhealthy,
            Self::OtherPlatform { .. } => ErrorCode::OtherPlatform,
            Self::NotInstalled { .. } => ErrorCode::NotInstalled,
            Self::NotManaged { .. } => ErrorCode::NotManaged,
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

impl From<Unhealthy> for Error {
    fn from(e: Unhealthy) -> Self {
        Self::Unhealthy {
            service: e.service,
            secs: e.secs,
            detail: e.detail,
        }
    }
}

/// Loading a context: here rather than in [`crate::context`] because its
/// errors (no home directory, a bad config file) are [`Error`]s, which the
/// CLI and the app already report.
impl Context {
    /// Loads the config (`config` or the platform's default file) for `platform`.
    pub fn load(config: Option<&Path>, platform: Platform) -> Result<Self> {
        let paths = Paths::discover(platform)?;
        let config_file = config.map_or_else(|| paths.config_file.clone(), Path::to_path_buf);
        // Absolute, so that its directory can be synced and timers can find it.
        let config_file = std::path::absolute(&config_file).unwrap_or(config_file);
        let config_exists = config_file.exists();
        let config = Config::load(&config_file)?;
        Ok(Self::new(paths, config_file, config_exists, config))
    }
}

/// The install plan for this machine, as the app shows it (no changes made).
/// With `use_running_ollama`, an Ollama Gardener did not install that answers
/// on the port is used instead of installing one.
pub fn dry_run(config: Option<&Path>, use_running_ollama: bool) -> Result<Plan> {
    let ctx = Context::load(config, Platform::current())?;
    let manager = ctx.manager();
    build_plan(
        &ctx,
        manager.as_ref(),
        &PreflightOptions { use_running_ollama },
    )
}

/// When `opts` say to use an Ollama that is already running and `plan` does
/// so, writes `[ollama] external = true` (so later runs and the monitor
/// agree) and returns the context and plan for the changed config; `None`
/// when nothing needed changing.
pub fn adopt_running_ollama(
    ctx: &Context,
    plan: &Plan,
    opts: &PreflightOptions,
) -> Result<Option<(Context, Plan)>> {
    if !(opts.use_running_ollama && !plan.manage_ollama && !ctx.config.ollama.external) {
        return Ok(None);
    }
    Config::set_external_ollama(&ctx.config_file)?;
    let ctx = Context::load(Some(&ctx.config_file), ctx.platform())?;
    let plan = build_plan(&ctx, ctx.manager().as_ref(), opts)?;
    Ok(Some((ctx, plan)))
}

/// What [`set_up`] did.
#[derive(Clone, Debug, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export, rename = "SetUpReport"))]
pub struct SetUpReport {
    /// The plan that was applied.
    pub plan: Plan,
    /// One line per change made (empty: everything was already in place).
    pub done: Vec<String>,
    /// Each service's final health check.
    pub health: Vec<ServiceHealth>,
}

/// A service's health after setting up.
#[derive(Clone, Debug, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ServiceHealth {
    /// Which service.
    pub service: ServiceId,
    /// Whether it answered 2xx.
    pub healthy: bool,
    /// How long the answer took.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub latency_ms: u64,
}

/// Sets up or repairs this machine as `gardener install --yes` does: plans,
/// uses an Ollama that is already running when asked to, and applies the
/// plan (undoing everything on failure), reporting each step to `progress`.
pub fn set_up(
    config: Option<&Path>,
    use_running_ollama: bool,
    progress: &mut dyn FnMut(Progress),
) -> Result<SetUpReport> {
    let ctx = Context::load(config, Platform::current())?;
    let opts = PreflightOptions { use_running_ollama };
    let plan = build_plan(&ctx, ctx.manager().as_ref(), &opts)?;
    let (ctx, plan) = adopt_running_ollama(&ctx, &plan, &opts)?.unwrap_or((ctx, plan));
    if let Some(blocked) = plan.blocked_error() {
        return Err(blocked);
    }
    let report = apply(&ctx, &plan, ctx.manager().as_ref(), progress)?;
    Ok(SetUpReport {
        done: report.done,
        health: report
            .health
            .into_iter()
            .map(|(service, h)| ServiceHealth {
                service,
                healthy: h.healthy,
                latency_ms: h.latency_ms,
            })
            .collect(),
        plan,
    })
}
