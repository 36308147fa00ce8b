//! Service definitions and the managers that run them: one [`ServiceSpec`] per
//! service, rendered to a launchd plist or a systemd user unit, and driven
//! through `launchctl` or `systemctl --user` by a [`ServiceManager`].
//!
//! Managers never build shell strings: every command is an argv run by a
//! [`Runner`], which tests replace to check exactly what would be executed.

pub mod launchd;
pub mod runner;
pub mod systemd;
#[cfg(test)]
pub(crate) mod testing;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::paths::Platform;
pub use runner::{Invocation, Output, Runner, SystemRunner};

/// The two services Gardener keeps alive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum ServiceId {
    /// The Ollama model server.
    Ollama,
    /// The Codebase Gardener web app.
    App,
}

impl ServiceId {
    /// Both services, in start order.
    pub const ALL: [Self; 2] = [Self::Ollama, Self::App];

    /// Short name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ollama => "ollama",
            Self::App => "app",
        }
    }

    /// launchd label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Ollama => "com.codebase-gardener.ollama",
            Self::App => "com.codebase-gardener.app",
        }
    }

    /// systemd unit name.
    pub fn unit_name(self) -> &'static str {
        match self {
            Self::Ollama => "gardener-ollama.service",
            Self::App => "gardener-app.service",
        }
    }

    /// Human name for messages.
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Ollama => "Ollama",
            Self::App => "Codebase Gardener app",
        }
    }
}

impl fmt::Display for ServiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// launchd's scheduling class for a job. systemd has no equivalent we use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ProcessType {
    /// Not throttled: Ollama needs the performance cores.
    Interactive,
    /// launchd's default.
    Standard,
}

impl ProcessType {
    /// The value launchd expects for the `ProcessType` key.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Interactive => "Interactive",
            Self::Standard => "Standard",
        }
    }
}

/// Everything needed to render and run one service, on any platform.
///
/// Built from the config by [`crate::context::Context::spec`]; every path is absolute.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServiceSpec {
    /// Which service this is.
    pub id: ServiceId,
    /// One-line description (unit `Description=`; a comment in the plist).
    pub description: String,
    /// Absolute path of the executable.
    pub program: PathBuf,
    /// Arguments after the program.
    pub args: Vec<String>,
    /// Environment variables, sorted for stable output.
    pub env: BTreeMap<String, String>,
    /// Working directory.
    pub working_dir: PathBuf,
    /// File that receives stdout (appended).
    pub stdout_log: PathBuf,
    /// File that receives stderr (appended).
    pub stderr_log: PathBuf,
    /// Delay before a crashed service is started again (launchd
    /// `ThrottleInterval`, systemd `RestartSec`); at least 2 s.
    pub restart_delay_secs: u32,
    /// systemd `MemoryHigh=` in bytes (not rendered for launchd).
    pub memory_high: Option<u64>,
    /// systemd `MemoryMax=` in bytes (not rendered for launchd).
    pub memory_max: Option<u64>,
    /// launchd `ProcessType`.
    pub process_type: ProcessType,
}

/// What a service is doing, normalised across managers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceState {
    /// The manager does not know the service (no unit / not bootstrapped).
    NotInstalled,
    /// Loaded and its process is running.
    Running,
    /// Being started or restarted (systemd `activating`, launchd `spawn scheduled`).
    Starting,
    /// Being stopped.
    Stopping,
    /// Loaded but not running.
    Stopped,
    /// Stopped after failing (systemd `failed`).
    Failed,
    /// The manager could not be asked (no user session bus, not logged in
    /// at the Mac): whether the service runs is not known.
    Unknown,
}

impl ServiceState {
    /// Lowercase words for human output.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::NotInstalled => "not installed",
            Self::Running => "running",
            Self::Starting => "starting",
            Self::Stopping => "stopping",
            Self::Stopped => "stopped",
            Self::Failed => "failed",
            Self::Unknown => "unknown",
        }
    }
}

/// How the last run of a service's main process ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum LastExit {
    /// Exited with this status code.
    Code {
        /// The exit status.
        code: i32,
    },
    /// Killed by this signal number.
    Signal {
        /// The signal number.
        signal: i32,
    },
}

/// A service's state as reported by its manager.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServiceStatus {
    /// Which service.
    pub id: ServiceId,
    /// Normalised state.
    pub state: ServiceState,
    /// The manager's own words for the state (`active (running)`, `spawn scheduled`, …).
    pub raw_state: String,
    /// Main process id, when running.
    pub pid: Option<u32>,
    /// How many times the manager restarted it (systemd `NRestarts`, launchd `runs - 1`).
    pub restarts: Option<u32>,
    /// How the previous run ended, when known.
    pub last_exit: Option<LastExit>,
}

impl ServiceStatus {
    /// Status of a service the manager does not know.
    pub fn not_installed(id: ServiceId) -> Self {
        Self {
            id,
            state: ServiceState::NotInstalled,
            raw_state: "not loaded".into(),
            pid: None,
            restarts: None,
            last_exit: None,
        }
    }

    /// Status of a service whose manager could not be asked; `raw_state`
    /// says why and what to do about it.
    pub fn unknown(id: ServiceId, why: &Error) -> Self {
        Self {
            state: ServiceState::Unknown,
            raw_state: why.to_string(),
            ..Self::not_installed(id)
        }
    }
}

/// What `manager` says about `id`, or [`ServiceState::Unknown`] with the
/// reason when it cannot be asked: never "not installed" for a manager that
/// did not answer.
pub fn status_or_unknown(manager: &dyn ServiceManager, id: ServiceId) -> ServiceStatus {
    manager.status(id).unwrap_or_else(|e| {
        tracing::debug!(service = %id, error = %e, "cannot read the service's state");
        ServiceStatus::unknown(id, &e)
    })
}

/// Something a manager can be asked to do to a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Action {
    /// Load the (new or changed) service file and start it; make it start at login.
    Activate,
    /// Start a loaded service.
    Start,
    /// Stop it (it stays installed and starts again at next login).
    Stop,
    /// Stop and start it.
    Restart,
    /// Stop it and unload it so the file can be removed.
    Deactivate,
}

/// Errors from rendering or driving services.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The command could not be started at all (not on PATH, not executable).
    #[error("could not run `{program}`: {source}")]
    Spawn {
        /// argv\[0\].
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// The command ran and failed.
    #[error("`{command}` failed (exit {code}): {message}")]
    Command {
        /// The whole argv, joined for display.
        command: String,
        /// Exit status (-1 when killed by a signal).
        code: i32,
        /// What it printed on stderr (or a known meaning of the exit code).
        message: String,
    },
    /// The manager cannot be reached from this session.
    #[error("cannot reach {manager}: {message}; {fix}")]
    Unreachable {
        /// "the systemd user manager", "launchd's gui domain".
        manager: &'static str,
        /// What the command printed.
        message: String,
        /// What to do about it.
        fix: &'static str,
    },
    /// A manager's output did not parse.
    #[error("could not understand the output of `{command}`: {message}")]
    Parse {
        /// The command.
        command: String,
        /// What was wrong.
        message: String,
    },
    /// The service did not reach the wanted state in time.
    #[error("{service} did not {what} within {secs} s")]
    Timeout {
        /// Which service.
        service: ServiceId,
        /// What it was waiting for ("stop", "unload", …).
        what: &'static str,
        /// How long it waited.
        secs: u64,
    },
    /// Rendering a service file failed.
    #[error("could not render the service file for {service}: {message}")]
    Render {
        /// Which service.
        service: ServiceId,
        /// Why.
        message: String,
    },
}

impl Error {
    /// Stable machine-readable code for JSON output and the UI.
    pub fn code(&self) -> crate::error::ErrorCode {
        crate::error::ErrorCode::Service
    }
}

/// Result alias for this module.
pub type Result<T> = std::result::Result<T, Error>;

/// Drives one platform's service manager.
///
/// `commands` says exactly which argv `run` will execute for an action, so a
/// dry run can print it; `run` also interprets exit codes and waits where the
/// manager is asynchronous (launchd's `bootout`).
pub trait ServiceManager: Send + Sync {
    /// Which platform this manager is for.
    fn platform(&self) -> Platform;
    /// Where the service file for `id` is installed.
    fn file_path(&self, id: ServiceId) -> PathBuf;
    /// The service file's full text.
    fn render(&self, spec: &ServiceSpec) -> Result<String>;
    /// Commands to run once after service files were written or removed
    /// (`systemctl --user daemon-reload`; nothing for launchd).
    fn reload_commands(&self) -> Vec<Invocation>;
    /// Runs [`ServiceManager::reload_commands`].
    fn reload(&self) -> Result<()>;
    /// The commands `run(action, id)` executes, for display.
    fn commands(&self, action: Action, id: ServiceId) -> Vec<Invocation>;
    /// Performs `action` on `id`, waiting (bounded by `timeout`) where the
    /// manager acts asynchronously.
    fn run(&self, action: Action, id: ServiceId, timeout: Duration) -> Result<()>;
    /// The service's current status; `NotInstalled` when the manager does not know it.
    fn status(&self, id: ServiceId) -> Result<ServiceStatus>;
}

/// How a driver words a command that failed.
///
/// Services get a diagnosis: a manager that cannot be reached from this
/// session says what to do, and a job launchd keeps refusing says where to
/// look. The backup timer reports only what the tool printed, or its exit
/// status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Wording {
    /// What the tool printed, or what its exit code is known to mean, with
    /// what to do when the manager cannot be reached.
    #[default]
    Diagnosed,
    /// Only what the tool printed, or its exit status.
    Printed,
}

/// What a failed command printed (stderr, else stdout, trimmed), or when it
/// printed nothing `meaning(code)`, else its exit status.
pub(crate) fn printed(out: &Output, meaning: impl Fn(i32) -> Option<String>) -> String {
    [out.stderr.trim(), out.stdout.trim()]
        .into_iter()
        .find(|s| !s.is_empty())
        .map_or_else(
            || match out.code {
                None => "killed by a signal".to_owned(),
                Some(code) => meaning(code).unwrap_or_else(|| format!("exit status {code}")),
            },
            str::to_owned,
        )
}

/// Runs `inv` through `runner`; a command that cannot start is a
/// [`Error::Spawn`], whatever it exits with is left to the caller.
pub(crate) fn run(runner: &dyn Runner, inv: &Invocation) -> Result<Output> {
    runner.run(inv).map_err(|source| Error::Spawn {
        program: inv.program().to_owned(),
        source,
    })
}

/// The manager for `platform`, running commands through `runner`.
pub fn manager_for(
    platform: Platform,
    service_dir: PathBuf,
    runner: Box<dyn Runner>,
) -> Box<dyn ServiceManager> {
    match platform {
        Platform::Macos => Box::new(launchd::Launchd::new(service_dir, runner)),
        Platform::Linux => Box::new(systemd::Systemd::new(service_dir, runner)),
    }
}
