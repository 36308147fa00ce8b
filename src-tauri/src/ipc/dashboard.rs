//! The dashboard's commands about the services and the window itself:
//! subscribing to samples, acting on a service or its models, following a
//! log, opening the setup window, and reporting the first paint.

use std::sync::Arc;

use gardener_core::logs::{self, watch::LogStream};
use gardener_core::services::{Action, ServiceId};
use tauri::ipc::Channel;

use super::{ErrorCode, IpcError, Shared, blocking, context, error};
use crate::dashboard::DashEvent;
use crate::window_pipe::Asked;

/// The window listens for samples from now on (the first event is the past hour).
#[tauri::command]
pub fn dashboard_subscribe(dash: Shared<'_>, on_event: Channel<DashEvent>) {
    dash.subscribe(on_event);
}

/// Start, stop or restart a service Gardener installed.
#[tauri::command]
pub async fn service_control(
    dash: Shared<'_>,
    action: Action,
    service: ServiceId,
) -> Result<(), IpcError> {
    if !matches!(action, Action::Start | Action::Stop | Action::Restart) {
        return Err(error(
            ErrorCode::Usage,
            "the dashboard can start, stop and restart services; install and uninstall are in the setup window",
        ));
    }
    dash.ask(Asked::Control { action, service }).await.map(drop)
}

/// Unloads `model` (or every loaded model); returns the names unloaded.
#[tauri::command]
pub async fn models_unload(
    dash: Shared<'_>,
    model: Option<String>,
) -> Result<Vec<String>, IpcError> {
    dash.ask(Asked::Unload { model }).await
}

/// The last `lines` lines of a service's log; `log_poll` then returns what
/// is written to it after them.
#[tauri::command]
pub async fn log_open(
    dash: Shared<'_>,
    service: ServiceId,
    stream: LogStream,
    lines: usize,
) -> Result<Vec<String>, IpcError> {
    let dash = Arc::clone(&dash);
    blocking("reading the log", move || {
        let (tail, follower) = logs::watch::open(&context()?, service, stream, lines)?;
        dash.follow_log(follower);
        Ok(tail)
    })
    .await
}

/// Lines written to the open log since the last call.
#[tauri::command]
pub async fn log_poll(dash: Shared<'_>) -> Result<Vec<String>, IpcError> {
    let dash = Arc::clone(&dash);
    blocking("reading the log", move || dash.poll_log()).await
}

/// Opens the setup window (to repair what differs from the config).
#[tauri::command]
pub async fn setup_open(dash: Shared<'_>) -> Result<(), IpcError> {
    dash.ask(Asked::OpenSetup).await.map(drop)
}

/// The window painted its first figures at `at_ms` (milliseconds since the
/// epoch, by the page's clock): logs that time and how long after the top of
/// `main` it was (what `bench/dashboard-open.sh` reads).
#[tauri::command]
pub fn dashboard_painted(dash: Shared<'_>, at_ms: f64) {
    let ms = dash.started.ms_until(at_ms).round();
    let at_ms = at_ms.round();
    tracing::info!(ms, at_ms, "the dashboard painted its first figures");
}
