//! The install plan: an ordered list of steps (checks, directories, files,
//! commands, health waits) that can be printed as a dry run, serialized as
//! JSON, applied, and undone.

use std::path::PathBuf;

use serde::Serialize;

use crate::paths::Platform;
use crate::services::{Action, ServiceId};

/// Everything `gardener install` would do, in order.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Plan {
    /// The platform the plan is for.
    pub platform: Platform,
    /// The config file the plan was rendered from (it may not exist yet).
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub config_file: PathBuf,
    /// Whether Gardener installs its own Ollama service (false when an
    /// Ollama it did not install is used instead).
    pub manage_ollama: bool,
    /// The version of an Ollama that Gardener did not install, found
    /// answering on the configured port.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub external_ollama: Option<String>,
    /// The steps, in the order they run.
    pub steps: Vec<Step>,
}

impl Plan {
    /// True when some check failed: the plan must not be applied.
    pub fn blocked(&self) -> bool {
        self.checks().any(|c| c.outcome == Outcome::Fail)
    }

    /// Why the plan must not be applied: every failed check with its fix.
    pub fn blocked_error(&self) -> Option<super::Error> {
        let failures: Vec<String> = self
            .checks()
            .filter(|c| c.outcome == Outcome::Fail)
            .map(|c| match &c.fix {
                Some(fix) => format!("  ✗ {}: {}\n    fix: {fix}", c.title, c.detail),
                None => format!("  ✗ {}: {}", c.title, c.detail),
            })
            .collect();
        (!failures.is_empty()).then_some(super::Error::Blocked { failures })
    }

    /// The preflight checks.
    pub fn checks(&self) -> impl Iterator<Item = &Check> {
        self.steps.iter().filter_map(|s| match s {
            Step::Check(c) => Some(c),
            _ => None,
        })
    }

    /// True when applying would change nothing on disk and run no command.
    pub fn is_noop(&self) -> bool {
        !self.steps.iter().any(Step::is_change)
    }
}

/// One step of a plan.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Step {
    /// A preflight check and its result.
    Check(Check),
    /// A directory that must exist with `mode`.
    Dir {
        /// Absolute path.
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        path: PathBuf,
        /// Octal permission bits, e.g. `"0700"`.
        mode: String,
        /// What applying does to it.
        change: Change,
    },
    /// A file with exactly `content` and `mode`.
    File {
        /// Absolute path.
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        path: PathBuf,
        /// Octal permission bits, e.g. `"0644"`.
        mode: String,
        /// The whole content to write.
        content: String,
        /// What applying does to it.
        change: Change,
        /// Why the file exists ("Ollama service (systemd unit)").
        purpose: String,
    },
    /// A file that is removed (uninstall).
    Remove {
        /// Absolute path.
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        path: PathBuf,
        /// What it was.
        purpose: String,
    },
    /// A command that is run.
    Command {
        /// The program and its arguments, run without a shell.
        argv: Vec<String>,
        /// Why it runs.
        purpose: String,
        /// The service it acts on, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", ts(optional))]
        service: Option<ServiceId>,
        /// The service action it belongs to (one action may run several commands).
        #[serde(skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", ts(optional))]
        action: Option<Action>,
    },
    /// Wait (bounded) until a service answers its health check.
    WaitHealthy {
        /// Which service.
        service: ServiceId,
        /// The URL that must answer 2xx.
        url: String,
        /// How long to wait at most.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        timeout_secs: u64,
    },
}

impl Step {
    /// True when applying this step changes the machine: a directory or file
    /// that differs, a removal, a command. Checks and health waits do not.
    pub fn is_change(&self) -> bool {
        match self {
            Self::Check(_) | Self::WaitHealthy { .. } => false,
            Self::Dir { change, .. } | Self::File { change, .. } => *change != Change::Unchanged,
            Self::Command { .. } | Self::Remove { .. } => true,
        }
    }
}

/// A preflight check's result.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Check {
    /// Stable identifier (`ollama-binary`, `ollama-port`, …).
    pub id: String,
    /// What was checked, in a few words.
    pub title: String,
    /// Pass, warning or failure.
    pub outcome: Outcome,
    /// What was found.
    pub detail: String,
    /// How to fix it, when it is not OK.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub fix: Option<String>,
}

/// A check's verdict.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Outcome {
    /// Fine.
    Ok,
    /// Installing works, but something deserves attention.
    Warn,
    /// Installing would not work until this is fixed.
    Fail,
}

/// What applying a directory or file step changes.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Change {
    /// It does not exist yet.
    Create,
    /// It exists with other content or permissions.
    Update,
    /// It is already as wanted.
    Unchanged,
}

impl Change {
    /// What applying does, as a verb: `create`, `update`, `keep`.
    pub fn verb(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Unchanged => "keep",
        }
    }
}

/// Formats permission bits the way people read them.
pub fn mode_string(mode: u32) -> String {
    format!("{mode:04o}")
}
