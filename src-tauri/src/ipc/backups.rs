//! The dashboard's commands for backups: listing, backing up, checking,
//! restoring, and cancelling what runs; one long operation at a time (see
//! `dashboard/busy.rs`).

use gardener_core::backup::{
    self, BackupInfo, Cancel, CreateReport, Progress, RestoreOptions, RestoreReport, VerifyReport,
};
use gardener_core::copies::copy;
use tauri::ipc::Channel;
use tauri::{Runtime, WebviewWindow};

use super::{IpcError, Shared, blocking, context};
use crate::dashboard::{OnMenu, Then};

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
    let work = |ctx: &_, cancel: &Cancel, p: &mut dyn FnMut(&Progress)| {
        copy::back_up_now(ctx, cancel.clone(), p)
    };
    dash.while_busy(
        &window,
        on_progress,
        OnMenu::backup(),
        work,
        Then::after_backup,
    )
    .await
    .map(|(report, _)| report)
}

/// Reads backup `id` back and checks every file against its manifest.
#[tauri::command]
pub async fn backup_verify<R: Runtime>(
    window: WebviewWindow<R>,
    dash: Shared<'_>,
    id: String,
    on_progress: Channel<Progress>,
) -> Result<VerifyReport, IpcError> {
    let work = move |ctx: &_, cancel: &_, p: &mut dyn FnMut(&Progress)| {
        backup::verify_named(ctx, &id, cancel, p)
    };
    dash.while_busy(&window, on_progress, OnMenu::backup(), work, Then::nothing)
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
    let work = move |ctx: &_, cancel: &Cancel, p: &mut dyn FnMut(&Progress)| {
        let opts = RestoreOptions::cancelled_by(cancel);
        backup::restore_named(ctx, &id, &opts, p)
    };
    dash.while_busy(
        &window,
        on_progress,
        OnMenu::backup(),
        work,
        Then::after_restore,
    )
    .await
}
