//! IPC commands the web UI may invoke. Each is one call into `gardener-core`
//! plus a mapping of its error to the stable `{ code, message }` shape.

use gardener_core::install::{self, Plan, Progress, SetUpReport};
use serde::Serialize;
use tauri::ipc::Channel;

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

/// What `gardener install` would do, computed without changing anything;
/// with `use_running_ollama`, using an Ollama that is already running.
#[tauri::command]
pub async fn setup_plan(use_running_ollama: bool) -> Result<Plan, IpcError> {
    // The dry run reads files and probes ports: keep it off the async executor.
    tauri::async_runtime::spawn_blocking(move || install::dry_run(None, use_running_ollama))
        .await
        .map_err(|error| {
            IpcError::internal(format!("the setup check stopped unexpectedly: {error}"))
        })?
        .map_err(IpcError::from)
}

/// Sets up (or repairs) the services like `gardener install --yes`, sending
/// each step's progress to `on_progress`. (The menu-bar process starts its
/// monitor over when the setup window's process ends.)
#[tauri::command]
pub async fn setup_apply(
    use_running_ollama: bool,
    on_progress: Channel<Progress>,
) -> Result<SetUpReport, IpcError> {
    // Commands, health waits: seconds to minutes of blocking work.
    tauri::async_runtime::spawn_blocking(move || {
        install::set_up(None, use_running_ollama, &mut |p| {
            // A closed window stops listening; setting up goes on regardless.
            let _ = on_progress.send(p);
        })
    })
    .await
    .map_err(|error| IpcError::internal(format!("setting up stopped unexpectedly: {error}")))?
    .map_err(IpcError::from)
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

/// The recovery key that copies off the machine are encrypted to (made now
/// if there is none), for the person to save somewhere else: shown only
/// when they ask for it.
#[tauri::command]
pub async fn recovery_key() -> Result<gardener_core::copies::key::Shown, IpcError> {
    tauri::async_runtime::spawn_blocking(|| {
        let ctx = gardener_core::context::Context::load(None, gardener_core::Platform::current())?;
        let (key, created) = gardener_core::copies::key::Key::load_or_create(&ctx)?;
        Ok(key.shown(created)?)
    })
    .await
    .map_err(|error| IpcError::internal(format!("reading the key stopped unexpectedly: {error}")))?
}
