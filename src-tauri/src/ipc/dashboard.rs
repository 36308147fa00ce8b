//! The dashboard's commands about the services and the window itself:
//! subscribing to samples, acting on a service or its models, following a
//! log, opening the setup window, and reporting the first paint.

use std::sync::Arc;

use gardener_core::logs::{self, Follower};
use gardener_core::services::{Action, ServiceId};
use serde::{Deserialize, Serialize};
use tauri::ipc::Channel;

use super::{ErrorCode, IpcError, Shared, blocking, context, error};
use crate::dashboard::DashEvent;
use crate::lock::lock;
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

/// Which of a service's two logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum LogStream {
    Out,
    Err,
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
        let ctx = context()?;
        let (out, err) = ctx.log_files(service);
        let path = if stream == LogStream::Out { out } else { err };
        let tail = match logs::tail(&path, lines.min(2_000)) {
            Ok(tail) => tail,
            // Not written yet: the service has not started (or logs elsewhere).
            Err(e) if e.is_not_found() => logs::Tail::default(),
            Err(e) => return Err(e.into()),
        };
        *lock(&dash.log) = Some(Follower::new(&path, tail.end));
        Ok(tail.lines)
    })
    .await
}

/// Lines written to the open log since the last call.
#[tauri::command]
pub async fn log_poll(dash: Shared<'_>) -> Result<Vec<String>, IpcError> {
    let dash = Arc::clone(&dash);
    blocking("reading the log", move || {
        let mut log = lock(&dash.log);
        let Some(follower) = log.as_mut() else {
            return Ok(Vec::new());
        };
        follower.poll().map_err(IpcError::from)
    })
    .await
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
