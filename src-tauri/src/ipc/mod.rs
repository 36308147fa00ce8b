//! The commands the windows may invoke, one file per subject. A command's
//! file says which window may call it: `setup.rs` the setup window, `both.rs`
//! both windows, every other file the dashboard. These functions are the only
//! list of commands: `make bindings` generates from them each window's handler
//! (`handlers.rs`), the names build.rs declares (`list.rs`), the capability
//! files granting each window exactly its own, and the UI's typed calls
//! (`ui/src/bindings/commands.ts`); `make check-bindings` fails when those are
//! stale. Each command is one call into `gardener-core`; errors reach the page
//! as `{ code, message }`.

pub mod backups;
pub mod both;
pub mod dashboard;
pub mod settings;
pub mod setup;
pub mod targets;

use std::sync::Arc;

use gardener_core::Platform;
use gardener_core::context::Context;
use gardener_core::install;
use gardener_core::{backup, copies};
use serde::Serialize;
use tauri::State;

use crate::dashboard::Dash;

/// The error every command returns to the UI. `code` is stable and meant for
/// program logic; `message` is for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct IpcError {
    /// Stable machine-readable code (`config`, `internal`, …).
    pub code: String,
    /// Human-readable explanation, including underlying causes.
    pub message: String,
}

impl IpcError {
    /// A failure in the app itself rather than in what it was asked to do.
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            code: "internal".to_owned(),
            message: message.into(),
        }
    }
}

impl From<install::Error> for IpcError {
    fn from(error: install::Error) -> Self {
        Self {
            code: error.code().to_owned(),
            message: with_causes(&error),
        }
    }
}

/// The error and its chain of sources, since the UI shows only this string.
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        // thiserror messages often already embed their source's text.
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

// Each window's invoke handler, and the command names build.rs declares:
// generated from the command functions by `make bindings`.
mod handlers;
#[cfg(test)]
mod list;

pub use handlers::{dashboard_handler, setup_handler};

pub type Shared<'a> = State<'a, Arc<Dash>>;

pub fn error(code: &str, message: impl Into<String>) -> IpcError {
    IpcError {
        code: code.to_owned(),
        message: message.into(),
    }
}

pub fn context() -> Result<Context, IpcError> {
    Context::load(None, Platform::current()).map_err(IpcError::from)
}

impl From<backup::Error> for IpcError {
    fn from(e: backup::Error) -> Self {
        error(e.code(), with_causes(&e))
    }
}

impl From<gardener_core::config::Error> for IpcError {
    fn from(e: gardener_core::config::Error) -> Self {
        error("config", e.to_string())
    }
}

/// Runs blocking core work on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    what: &str,
    work: impl FnOnce() -> Result<T, IpcError> + Send + 'static,
) -> Result<T, IpcError> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|e| IpcError::internal(format!("{what} stopped unexpectedly: {e}")))?
}

impl From<copies::Error> for IpcError {
    fn from(e: copies::Error) -> Self {
        error(e.code(), with_causes(&e))
    }
}

#[cfg(test)]
mod tests {
    use std::fmt;

    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl fmt::Display for Layer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn serializes_as_code_and_message() {
        let json = serde_json::to_value(IpcError::internal("boom")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({ "code": "internal", "message": "boom" })
        );
    }

    #[test]
    fn message_carries_every_cause_once() {
        let inner = Layer("permission denied", None);
        let middle = Layer(
            "cannot read gardener.toml: permission denied",
            Some(Box::new(inner)),
        );
        let outer = Layer("config", Some(Box::new(middle)));
        assert_eq!(
            with_causes(&outer),
            "config: cannot read gardener.toml: permission denied"
        );
    }
}
