//! The dashboard's commands for copies off the machine: the targets and what
//! each holds, adding, testing and removing one, copying a backup now,
//! checking a copy by reading it back, and fetching a copy so that the
//! restore wizard can put it back. Each is one call into
//! `gardener_core::copies`.

use std::sync::Arc;

use gardener_core::backup::{Progress, VerifyReport};
use gardener_core::copies::copy::{self, CopyOutcome};
use gardener_core::copies::manage::{self, NewTarget, TargetSummary};
use gardener_core::copies::{self, TestReport, check};
use tauri::ipc::Channel;
use tauri::{Runtime, WebviewWindow};

use super::backups::{close_if, start_busy, tell, throttled, while_busy};
use super::settings::tell_config_changed;
use super::{IpcError, Shared, blocking, context};

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
/// with `None`), with progress; `backup_cancel` stops it.
#[tauri::command]
pub async fn backup_copy<R: Runtime>(
    window: WebviewWindow<R>,
    dash: Shared<'_>,
    id: String,
    target: Option<String>,
    on_progress: Channel<Progress>,
) -> Result<Vec<CopyOutcome>, IpcError> {
    let dash = Arc::clone(&dash);
    let cancel = start_busy(&dash)?;
    let result = blocking("the copy", move || {
        let ctx = context()?;
        let names = copies::names(&ctx, target.as_deref())?;
        let mut progress = throttled(on_progress);
        Ok(copy::copy_each(
            &ctx,
            &names,
            Some(&id),
            &cancel,
            &mut progress,
        ))
    })
    .await;
    if let Ok(outcomes) = &result {
        let failed: Vec<String> = outcomes
            .iter()
            .filter_map(|o| Some(format!("{}: {}", o.target, o.error.as_ref()?)))
            .collect();
        if !failed.is_empty() {
            tell(&dash, "Copy failed", failed.join("\n")).await;
        }
    }
    close_if(dash.finish_busy(), &window);
    result
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
    while_busy(
        &window,
        &dash,
        "the check",
        on_progress,
        move |cancel, progress| {
            Ok(check::verify(
                &context()?,
                &target,
                id.as_deref(),
                cancel,
                progress,
            )?)
        },
    )
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
    while_busy(
        &window,
        &dash,
        "fetching the copy",
        on_progress,
        move |cancel, progress| {
            check::fetch(&context()?, &target, &id, cancel, progress)?;
            Ok(())
        },
    )
    .await
}
