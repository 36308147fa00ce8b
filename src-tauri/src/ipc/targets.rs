//! The dashboard's commands for copies off the machine: the targets and what
//! each holds, adding, testing and removing one, copying a backup now,
//! checking a copy by reading it back, and fetching a copy so that the
//! restore wizard can put it back. Each is one call into
//! `gardener_core::copies`.

use gardener_core::backup::{Progress, VerifyReport};
use gardener_core::copies::copy::{self, CopyOutcome};
use gardener_core::copies::manage::{self, NewTarget, TargetSummary};
use gardener_core::copies::{self, TestReport, check};
use tauri::ipc::Channel;
use tauri::{Runtime, WebviewWindow};

use super::settings::tell_config_changed;
use super::{IpcError, Shared, blocking, context};
use crate::dashboard::{OnMenu, Then};

/// Every target: where it is, whether it answers now, which backups it holds.
#[tauri::command]
pub async fn targets_list() -> Result<Vec<TargetSummary>, IpcError> {
    blocking("listing the targets", || Ok(manage::overview(&context()?))).await
}

/// Writes, reads back and deletes a small object on target `name`.
#[tauri::command]
pub async fn target_test(name: String) -> Result<TestReport, IpcError> {
    blocking("testing the target", move || {
        let ctx = context()?;
        let target = copies::open(&ctx, copies::find(&ctx, &name)?)?;
        Ok(copies::test(target.as_ref())?)
    })
    .await
}

/// Adds a target to gardener.toml (an S3 target's keys beside it, 0600).
#[tauri::command]
pub async fn target_add(dash: Shared<'_>, target: NewTarget) -> Result<(), IpcError> {
    blocking("adding the target", move || {
        manage::add(&context()?, &target)?;
        Ok(())
    })
    .await?;
    tell_config_changed(&dash).await
}

/// Takes target `name` out of gardener.toml; its copies stay where they are.
#[tauri::command]
pub async fn target_remove(dash: Shared<'_>, name: String) -> Result<(), IpcError> {
    blocking("removing the target", move || {
        Ok(manage::remove(&context()?, &name)?)
    })
    .await?;
    tell_config_changed(&dash).await
}

/// Copies backup `id` with the chain it needs to `target` (every target
/// with `None`), with progress; `backup_cancel` stops it. A copy that failed
/// is also said in a notification.
#[tauri::command]
pub async fn backup_copy<R: Runtime>(
    window: WebviewWindow<R>,
    dash: Shared<'_>,
    id: String,
    target: Option<String>,
    on_progress: Channel<Progress>,
) -> Result<Vec<CopyOutcome>, IpcError> {
    let work = move |ctx: &_, cancel: &_, p: &mut dyn FnMut(&Progress)| {
        copy::copy_to(ctx, &id, target.as_deref(), cancel, p)
    };
    dash.while_busy(
        &window,
        on_progress,
        OnMenu::backup(),
        work,
        Then::after_copies,
    )
    .await
}

/// Reads backup `id`'s copy (the newest with `None`) back from `target`,
/// decrypts it and checks every file.
#[tauri::command]
pub async fn copy_verify<R: Runtime>(
    window: WebviewWindow<R>,
    dash: Shared<'_>,
    target: String,
    id: Option<String>,
    on_progress: Channel<Progress>,
) -> Result<VerifyReport, IpcError> {
    let work = move |ctx: &_, cancel: &_, p: &mut dyn FnMut(&Progress)| {
        check::verify(ctx, &target, id.as_deref(), cancel, p)
    };
    dash.while_busy(&window, on_progress, OnMenu::backup(), work, Then::nothing)
        .await
}

/// Brings backup `id` and every backup it needs from `target` into the
/// backups folder (decrypted), so that it can be restored like any other.
#[tauri::command]
pub async fn copy_fetch<R: Runtime>(
    window: WebviewWindow<R>,
    dash: Shared<'_>,
    target: String,
    id: String,
    on_progress: Channel<Progress>,
) -> Result<(), IpcError> {
    let work = move |ctx: &_, cancel: &_, p: &mut dyn FnMut(&Progress)| {
        check::fetch(ctx, &target, &id, cancel, p).map(drop)
    };
    dash.while_busy(&window, on_progress, OnMenu::backup(), work, Then::nothing)
        .await
}
