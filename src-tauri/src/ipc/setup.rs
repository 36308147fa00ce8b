//! The setup window's commands: what setting up would do, and doing it.

use gardener_core::install::{self, Plan, Progress, SetUpReport};
use tauri::ipc::Channel;

use super::{IpcError, blocking};

/// What `gardener install` would do, computed without changing anything;
/// with `use_running_ollama`, using an Ollama that is already running.
#[tauri::command]
pub async fn setup_plan(use_running_ollama: bool) -> Result<Plan, IpcError> {
    // The dry run reads files and probes ports: off the async executor.
    let plan = move || Ok(install::dry_run(None, use_running_ollama)?);
    blocking("the setup check", plan).await
}

/// Sets up (or repairs) the services like `gardener install --yes`, sending
/// each step's progress to `on_progress`. (The menu-bar process starts its
/// monitor over when the setup window's process ends.)
#[tauri::command]
pub async fn setup_apply(
    use_running_ollama: bool,
    on_progress: Channel<Progress>,
) -> Result<SetUpReport, IpcError> {
    // A closed window stops listening; setting up goes on regardless.
    let mut progress = move |p| drop(on_progress.send(p));
    let set_up = move || Ok(install::set_up(None, use_running_ollama, &mut progress)?);
    blocking("setting up", set_up).await
}
