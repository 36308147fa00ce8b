//! The dashboard's commands for Ollama's models: the list with the room
//! for more, pulling one with progress (the window's one long operation,
//! cancelled like a backup), deleting one, and loading one now.

use gardener_core::backup::Cancel;
use gardener_core::models::{DeletePlan, Listing, Loaded, Ollama, PullProgress, Pulled};
use tauri::ipc::Channel;
use tauri::{Runtime, WebviewWindow};

use super::{IpcError, Shared, context};
use crate::dashboard::{OnMenu, Then};

/// Installed and loaded models, each with whether it fits in memory, and
/// the models folder's total and free space (as `gardener models`).
#[tauri::command]
pub async fn models_list() -> Result<Listing, IpcError> {
    Ok(Ollama::of(&context()?)?.list().await?)
}

/// Pulls `model` with progress (as `gardener models pull`); `models_pull_cancel`
/// stops it, and a notification says how it ended.
#[tauri::command]
pub async fn models_pull<R: Runtime>(
    window: WebviewWindow<R>,
    dash: Shared<'_>,
    model: String,
    on_progress: Channel<PullProgress>,
) -> Result<Pulled, IpcError> {
    let (menu, then) = (OnMenu::pull(model.clone()), Then::after_pull(model.clone()));
    let work = move |ctx: &_, cancel: &Cancel, p: &mut dyn FnMut(&PullProgress)| {
        Ollama::of(ctx)?.pull_blocking(&model, cancel.clone(), p)
    };
    dash.while_busy(&window, on_progress, menu, work, then)
        .await
}

/// Stops the running pull (Ollama keeps what it has for the next one).
#[tauri::command]
pub fn models_pull_cancel(dash: Shared<'_>) -> bool {
    dash.cancel_busy()
}

/// What deleting `model` would free, and whether it is loaded (changes nothing).
#[tauri::command]
pub async fn models_delete_plan(model: String) -> Result<DeletePlan, IpcError> {
    Ok(Ollama::of(&context()?)?.plan_delete(&model).await?)
}

/// Deletes `model`; a loaded one only with `unload` (it is unloaded first).
#[tauri::command]
pub async fn models_delete(model: String, unload: bool) -> Result<DeletePlan, IpcError> {
    Ok(Ollama::of(&context()?)?.delete(&model, unload).await?)
}

/// Loads `model` now and keeps it for `keep_alive` (`30m`, `-1`; Ollama's
/// default when absent).
#[tauri::command]
pub async fn models_load(model: String, keep_alive: Option<String>) -> Result<Loaded, IpcError> {
    let ollama = Ollama::of(&context()?)?;
    Ok(ollama.load(&model, keep_alive.as_deref()).await?)
}
