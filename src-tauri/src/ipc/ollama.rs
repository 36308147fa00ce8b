//! The dashboard's commands for Ollama's settings: the form, writing one
//! setting (with the change to the service file), and restarting Ollama
//! with them (the window's one long operation).

use gardener_core::Platform;
use gardener_core::backup::Cancel;
use gardener_core::install::Progress;
use gardener_core::ollama_settings::{self as settings, Applied, Form, Written};
use tauri::ipc::Channel;
use tauri::{Runtime, WebviewWindow};

use super::{IpcError, Shared, blocking, context, settings::tell_config_changed};
use crate::dashboard::{OnMenu, Then};

/// Each setting with its value, where it comes from and what it does.
#[tauri::command]
pub async fn ollama_settings() -> Result<Form, IpcError> {
    blocking("reading Ollama's settings", || {
        Ok(settings::form(&context()?)?)
    })
    .await
}

/// Writes `name` (removes it when `value` is absent or empty) into
/// gardener.toml's `[ollama.env]`; the running Ollama keeps its old values
/// until `ollama_settings_apply`.
#[tauri::command]
pub async fn ollama_setting_set(
    dash: Shared<'_>,
    name: String,
    value: Option<String>,
) -> Result<Written, IpcError> {
    let write = move || {
        Ok(settings::write(
            None,
            Platform::current(),
            &name,
            value.as_deref(),
        )?)
    };
    let written = blocking("writing the setting", write).await?;
    tell_config_changed(&dash).await.map(|()| written)
}

/// Installs Ollama's service file from the settings, restarts Ollama, and
/// confirms its new process runs with them.
#[tauri::command]
pub async fn ollama_settings_apply<R: Runtime>(
    window: WebviewWindow<R>,
    dash: Shared<'_>,
    on_progress: Channel<Progress>,
) -> Result<Applied, IpcError> {
    let work = |ctx: &_, _: &Cancel, p: &mut dyn FnMut(&Progress)| {
        settings::apply(ctx, ctx.manager().as_ref(), &mut |step| p(&step))
    };
    dash.while_busy(&window, on_progress, OnMenu::restart(), work, Then::nothing)
        .await
}
