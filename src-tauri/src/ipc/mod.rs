//! The commands the windows may invoke, one file per subject: `setup` for
//! the setup window, `both` for either window, the rest for the dashboard
//! (the capability files grant each window exactly its own). Each command is
//! one call into `gardener-core`; errors reach the page as `{ code, message }`.

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
use tauri::ipc::Invoke;
use tauri::{Runtime, State};

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

/// The commands the setup window may call (capabilities/setup.json).
pub fn setup_handler<R: Runtime>() -> impl Fn(Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![setup::setup_plan, setup::setup_apply, both::recovery_key]
}

/// The commands the dashboard window may call (capabilities/dashboard.json).
pub fn dashboard_handler<R: Runtime>() -> impl Fn(Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        dashboard::dashboard_subscribe,
        dashboard::service_control,
        dashboard::models_unload,
        dashboard::log_open,
        dashboard::log_poll,
        backups::backups_list,
        backups::backup_create,
        backups::backup_verify,
        backups::backup_cancel,
        backups::restore_preview,
        backups::restore_apply,
        settings::alerts_pause,
        settings::settings_load,
        settings::settings_check,
        settings::settings_save,
        settings::settings_set_interval,
        settings::autostart_set,
        dashboard::setup_open,
        dashboard::dashboard_painted,
        targets::targets_list,
        targets::target_test,
        targets::target_add,
        targets::target_remove,
        targets::backup_copy,
        targets::copy_verify,
        targets::copy_fetch,
        both::recovery_key,
    ]
}

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
