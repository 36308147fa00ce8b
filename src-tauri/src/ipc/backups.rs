//! The dashboard's commands for backups: listing, backing up, checking,
//! restoring, and cancelling what runs; one long operation at a time (see
//! `dashboard/busy.rs`).

use gardener_core::backup::{
    self, BackupInfo, Cancel, CreateReport, Progress, RestoreOptions, RestoreReport, VerifyReport,
};
use gardener_core::copies::copy;
use gardener_core::news;
use tauri::ipc::Channel;
use tauri::{Runtime, WebviewWindow};

use super::{IpcError, Shared, blocking, context};
use crate::dashboard::Then;
use crate::window_pipe::Asked;

/// Every backup, newest first, once what an interrupted backup or restore
/// left is put right (as `gardener backup list` does).
#[tauri::command]
pub async fn backups_list() -> Result<Vec<BackupInfo>, IpcError> {
    blocking("listing backups", || {
        let (backups, notes) = backup::list_after_recovery(&context()?)?;
        notes.iter().for_each(|n| tracing::info!("{n}"));
        Ok(backups)
    })
    .await
}

/// Back Up Now, like `gardener backup create`, then copied to every target,
/// with progress; `backup_cancel` stops it. The menu's last-backup line sees
/// it at once, and a notification says how it went.
#[tauri::command]
pub async fn backup_create<R: Runtime>(
    window: WebviewWindow<R>,
    dash: Shared<'_>,
    on_progress: Channel<Progress>,
) -> Result<CreateReport, IpcError> {
    let work = |cancel: &Cancel, progress: &mut dyn FnMut(&Progress)| {
        Ok(copy::back_up_now(&context()?, cancel.clone(), progress)?)
    };
    let then = |r: &_| Then {
        ask: Some(Asked::SampleNow),
        news: Some(news::backup_ended(r)),
    };
    let done = dash.while_busy(&window, on_progress, work, then).await;
    done.map(|(report, _)| report)
}

/// Reads backup `id` back and checks every file against its manifest.
#[tauri::command]
pub async fn backup_verify<R: Runtime>(
    window: WebviewWindow<R>,
    dash: Shared<'_>,
    id: String,
    on_progress: Channel<Progress>,
) -> Result<VerifyReport, IpcError> {
    let work = move |cancel: &Cancel, progress: &mut dyn FnMut(&Progress)| {
        Ok(backup::verify_named(&context()?, &id, cancel, progress)?)
    };
    dash.while_busy(&window, on_progress, work, |_| Then::default())
        .await
}

/// Stops the running backup, check or restore (it cleans up after itself).
#[tauri::command]
pub fn backup_cancel(dash: Shared<'_>) -> bool {
    dash.cancel_busy()
}

/// What restoring backup `id` would change (changes nothing).
#[tauri::command]
pub async fn restore_preview(id: String) -> Result<RestoreReport, IpcError> {
    let opts = RestoreOptions {
        dry_run: true,
        ..RestoreOptions::default()
    };
    let preview = move || Ok(backup::restore_named(&context()?, &id, &opts, &mut |_| {})?);
    blocking("the restore preview", preview).await
}

/// Restores backup `id` like `gardener backup restore --yes`: verified,
/// staged, services stopped and swapped, started and health-checked, rolled
/// back if they do not come up. A backup holds gardener.toml too: the monitor
/// then starts over from the restored one.
#[tauri::command]
pub async fn restore_apply<R: Runtime>(
    window: WebviewWindow<R>,
    dash: Shared<'_>,
    id: String,
    on_progress: Channel<Progress>,
) -> Result<RestoreReport, IpcError> {
    let work = move |cancel: &Cancel, progress: &mut dyn FnMut(&Progress)| {
        let opts = RestoreOptions {
            cancel: cancel.clone(),
            ..RestoreOptions::default()
        };
        Ok(backup::restore_named(&context()?, &id, &opts, progress)?)
    };
    let then = |r: &Result<_, _>| Then {
        ask: r.is_ok().then_some(Asked::ConfigChanged),
        news: Some(news::restore_ended(r)),
    };
    dash.while_busy(&window, on_progress, work, then).await
}
