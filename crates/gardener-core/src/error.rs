//! The stable codes of every failure Gardener reports, and a failure as it
//! leaves the process: `--json` output, the app's windows, the pipe between
//! the menu-bar process and the dashboard, the monitor's replies. Each
//! domain keeps its own error enum; its `code()` names one of these.

use serde::{Deserialize, Serialize};

/// The enum, its spelling and the list of every code, from one list: a code
/// added here is spelled, listed and tested at once.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $text:literal,)*) => {
        /// What kind of failure it is, for programs (the UI, scripts reading
        /// `--json`); stable across versions. People read the message instead.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "kebab-case")]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
        #[non_exhaustive]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &[Self] = &[$(Self::$variant),*];

            /// The code as `--json` and the UI spell it (`rolled-back`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }
        }
    };
}

error_codes! {
    /// The platform's directories cannot be found (no home, say).
    Paths = "paths",
    /// gardener.toml does not load, or a value in it is wrong.
    Config = "config",
    /// The service manager failed to do what it was asked.
    Service = "service",
    /// Reading or writing a file failed.
    Io = "io",
    /// A check before setting up failed; nothing was changed.
    Preflight = "preflight",
    /// A service did not answer its health check after starting.
    Unhealthy = "unhealthy",
    /// The plan was made for the other platform: it can only be printed.
    OtherPlatform = "other-platform",
    /// The service is not installed.
    NotInstalled = "not-installed",
    /// The service is not Gardener's to control.
    NotManaged = "not-managed",
    /// An archive, copy or record is damaged.
    Corrupt = "corrupt",
    /// Something was refused as unsafe (a hostile archive, a changed host
    /// key, a target on the data's own volume).
    Refused = "refused",
    /// Another backup, check or restore is running.
    Busy = "busy",
    /// The person cancelled it; nothing was left behind.
    Cancelled = "cancelled",
    /// What was asked for cannot be done as asked.
    Usage = "usage",
    /// A restore did not come up healthy and was undone.
    RolledBack = "rolled-back",
    /// A backup's source is missing or empty.
    SourceMissing = "source-missing",
    /// A backup target cannot be reached.
    Unreachable = "unreachable",
    /// A backup target refused the credentials.
    Denied = "denied",
    /// A copy is not where it should be.
    Missing = "missing",
    /// The recovery key cannot be read or made, or is not the one needed.
    Key = "key",
    /// Ollama cannot be reached.
    OllamaUnreachable = "ollama-unreachable",
    /// The model named is not loaded.
    NotLoaded = "not-loaded",
    /// Ollama did not unload a model.
    UnloadFailed = "unload-failed",
    /// Ollama has no model by that name (installed, or in its registry).
    ModelMissing = "model-missing",
    /// The model is loaded in memory, and the request needs it not to be.
    ModelLoaded = "model-loaded",
    /// The model does not fit in the free space of the models folder.
    NoSpace = "no-space",
    /// A pull failed: Ollama said why, or its stream broke off.
    PullFailed = "pull-failed",
    /// Ollama answered, but refused what it was asked (delete, load).
    OllamaRefused = "ollama-refused",
    /// The monitor (or the menu-bar app that runs it) is not running, not
    /// answering, or did not start.
    Monitor = "monitor",
    /// The metrics endpoint cannot listen on its address.
    MetricsBind = "metrics-bind",
    /// The metrics endpoint failed.
    Metrics = "metrics",
    /// A service's log file is not there.
    LogMissing = "log-missing",
    /// The setup window opens only from the menu-bar app.
    Setup = "setup",
    /// The login item cannot be changed or read.
    Autostart = "autostart",
    /// The runtime the work needs cannot start.
    Runtime = "runtime",
    /// The window could not reach the app (Tauri refused the call).
    Ipc = "ipc",
    /// A fault in Gardener itself rather than in what it was asked to do.
    Internal = "internal",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure with its code and the words for people, its causes included.
/// The windows know it as `IpcError`: every command fails with one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export, rename = "IpcError"))]
pub struct Failure {
    /// For programs.
    pub code: ErrorCode,
    /// For people: what failed and why, with every cause once.
    pub message: String,
}

impl Failure {
    /// A failure of kind `code`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// A fault in Gardener itself (a worker thread that died, say).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// `error` and its chain of sources in one line, each cause once (thiserror
/// messages often embed their source's text already).
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// The domain errors that carry a code, as failures.
macro_rules! failure_from {
    ($($error:ty),* $(,)?) => {$(
        impl From<$error> for Failure {
            fn from(error: $error) -> Self {
                Self::new(error.code(), with_causes(&error))
            }
        }
    )*};
}

failure_from!(
    crate::install::Error,
    crate::backup::Error,
    crate::copies::Error,
    crate::config::Error,
    crate::services::Error,
    crate::paths::Error,
    crate::logs::Error,
    crate::monitor::run_loop::Error,
    crate::monitor::unload::Error,
    crate::models::Error,
    crate::ollama_settings::Error,
);

#[cfg(test)]
mod tests;
