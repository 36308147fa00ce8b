//! The setup window's commands: what setting up would do, and doing it.

use gardener_core::install::{self, Plan, Progress, SetUpReport};
use tauri::ipc::Channel;

use super::IpcError;

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
