//! The dashboard's commands for backups: listing, backing up, checking,
//! restoring, and cancelling what runs; one long operation at a time.

use std::sync::Arc;

use gardener_core::backup::{
    self, BackupInfo, Cancel, CreateOptions, CreateReport, Progress, RestoreOptions, RestoreReport,
    VerifyReport, catalog,
};
use gardener_core::services::ServiceId;
use tauri::ipc::Channel;
use tauri::{Runtime, WebviewWindow};

use super::{ErrorCode, IpcError, Shared, blocking, context, error};
use crate::dashboard::Dash;
use crate::lock::lock;
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

/// Marks the dashboard busy with a long operation it can cancel; one at a time.
pub fn start_busy(dash: &Dash) -> Result<Cancel, IpcError> {
    let mut busy = lock(&dash.busy);
    if busy.is_some() {
        return Err(error(
            ErrorCode::Busy,
            "a backup, check or restore is already running in this window",
        ));
    }
    let cancel = Cancel::new();
    *busy = Some(cancel.clone());
    Ok(cancel)
}

/// Sends progress a few times a second at most.
pub fn throttled(channel: Channel<Progress>) -> impl FnMut(&Progress) {
    let mut throttle = backup::Throttle::default();
    move |p: &Progress| {
        if throttle.ready(p) {
            let _ = channel.send(p.clone());
        }
    }
}

/// Back Up Now, like `gardener backup create`, with progress; `backup_cancel` stops it.
#[tauri::command]
pub async fn backup_create<R: Runtime>(
    window: WebviewWindow<R>,
    dash: Shared<'_>,
    on_progress: Channel<Progress>,
) -> Result<CreateReport, IpcError> {
    let dash = Arc::clone(&dash);
    let cancel = start_busy(&dash)?;
    let result = blocking("the backup", move || {
        let ctx = context()?;
        let manager = ctx.manager();
        let opts = CreateOptions {
            verify: None,
            scheduled: false,
            from_app: true,
            cancel,
            ..CreateOptions::default()
        };
        let mut progress = throttled(on_progress);
        Ok(gardener_core::copies::copy::backup_and_copy(
            &ctx,
            manager.as_ref(),
            &opts,
            &mut progress,
        )?)
    })
    .await;
    let close = dash.finish_busy();
    // The menu's last-backup line and the overdue rule see it at once.
    if let Err(why) = dash.ask(Asked::SampleNow).await {
        tracing::warn!("no sample after the backup: {why}");
    }
    let (title, body) = match &result {
        Ok((report, copies)) => (
            "Backup done",
            gardener_core::copies::copy::done_words(report, copies),
        ),
        Err(e) if e.code == ErrorCode::Cancelled => {
            ("Backup cancelled", "Nothing was left behind.".into())
        }
        Err(e) => ("Backup failed", e.message.clone()),
    };
    tell(&dash, title, body).await;
    close_if(close, &window);
    result.map(|(report, _)| report)
}

/// Reads backup `id` back and checks every file against its manifest.
#[tauri::command]
pub async fn backup_verify<R: Runtime>(
    window: WebviewWindow<R>,
    dash: Shared<'_>,
    id: String,
    on_progress: Channel<Progress>,
) -> Result<VerifyReport, IpcError> {
    while_busy(
        &window,
        &dash,
        "the check",
        on_progress,
        move |cancel, progress| {
            let ctx = context()?;
            let dest = backup::destination(&ctx);
            let path = catalog::resolve(&dest, &id)?;
            Ok(backup::verify_recorded(&dest, &path, cancel, progress)?)
        },
    )
    .await
}

/// Runs `work` as the window's one long operation (see [`start_busy`]): off
/// the async executor, cancellable, its progress throttled to the window;
/// then closes the window if that was asked for meanwhile.
pub async fn while_busy<R: Runtime, T: Send + 'static>(
    window: &WebviewWindow<R>,
    dash: &Dash,
    what: &str,
    on_progress: Channel<Progress>,
    work: impl FnOnce(&Cancel, &mut dyn FnMut(&Progress)) -> Result<T, IpcError> + Send + 'static,
) -> Result<T, IpcError> {
    let cancel = start_busy(dash)?;
    let result = blocking(what, move || {
        let mut progress = throttled(on_progress);
        work(&cancel, &mut progress)
    })
    .await;
    close_if(dash.finish_busy(), window);
    result
}

/// Closes the window that was asked to close while the work ran.
pub fn close_if<R: Runtime>(close: bool, window: &WebviewWindow<R>) {
    if close && let Err(e) = window.close() {
        tracing::warn!("cannot close the dashboard: {e}");
    }
}

/// Stops the running backup, check or restore (it cleans up after itself).
#[tauri::command]
pub fn backup_cancel(dash: Shared<'_>) -> bool {
    lock(&dash.busy).as_ref().map(Cancel::cancel).is_some()
}

/// What restoring backup `id` would change (changes nothing).
#[tauri::command]
pub async fn restore_preview(id: String) -> Result<RestoreReport, IpcError> {
    blocking("the restore preview", move || {
        let ctx = context()?;
        let dest = backup::destination(&ctx);
        let path = catalog::resolve(&dest, &id)?;
        let opts = RestoreOptions {
            dry_run: true,
            ..RestoreOptions::default()
        };
        Ok(backup::restore(
            &ctx,
            ctx.manager().as_ref(),
            &path,
            &opts,
            &mut |_| {},
        )?)
    })
    .await
}

/// Restores backup `id` like `gardener backup restore --yes`: verified,
/// staged, services stopped and swapped, started and health-checked, rolled
/// back if they do not come up.
#[tauri::command]
pub async fn restore_apply<R: Runtime>(
    window: WebviewWindow<R>,
    dash: Shared<'_>,
    id: String,
    on_progress: Channel<Progress>,
) -> Result<RestoreReport, IpcError> {
    let dash = Arc::clone(&dash);
    let cancel = start_busy(&dash)?;
    let result = blocking("the restore", move || {
        let ctx = context()?;
        let dest = backup::destination(&ctx);
        let path = catalog::resolve(&dest, &id)?;
        let opts = RestoreOptions {
            cancel,
            ..RestoreOptions::default()
        };
        let mut progress = throttled(on_progress);
        Ok(backup::restore(
            &ctx,
            ctx.manager().as_ref(),
            &path,
            &opts,
            &mut progress,
        )?)
    })
    .await;
    let close = dash.finish_busy();
    // A backup holds gardener.toml too: the monitor starts over from the
    // restored one (and samples the restarted services at once).
    if result.is_ok()
        && let Err(why) = dash.ask(Asked::ConfigChanged).await
    {
        tracing::warn!("the monitor did not take up the restored settings: {why}");
    }
    let (title, body) = restore_news(&result);
    tell(&dash, title, body).await;
    close_if(close, &window);
    result
}

/// The notification a restore from the dashboard ends with.
fn restore_news(result: &Result<RestoreReport, IpcError>) -> (&'static str, String) {
    match result {
        Ok(report) if report.services.is_empty() => (
            "Restore done",
            format!("Restored {}; no service needed restarting.", report.id),
        ),
        Ok(report) => {
            let names: Vec<&str> = report
                .services
                .iter()
                .map(|s| match s {
                    ServiceId::Ollama => "Ollama",
                    ServiceId::App => "Codebase Gardener",
                })
                .collect();
            (
                "Restore done",
                format!(
                    "Restored {}; {} restarted and healthy.",
                    report.id,
                    names.join(" and ")
                ),
            )
        }
        Err(e) if e.code == ErrorCode::RolledBack => ("Restore undone", e.message.clone()),
        Err(e) => ("Restore failed", e.message.clone()),
    }
}

/// A notification through the menu-bar app, which has them; a failure to
/// send one is only logged (the window shows the outcome too).
pub async fn tell(dash: &Dash, title: &str, body: String) {
    let asked = Asked::Notify {
        title: title.to_owned(),
        body,
    };
    if let Err(why) = dash.ask(asked).await {
        tracing::warn!("no notification: {why}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(services: Vec<ServiceId>) -> RestoreReport {
        RestoreReport {
            id: "gardener-x".into(),
            dry_run: false,
            restored: vec!["~/.codebase-gardener".into()],
            diff: Default::default(),
            safety_copies: Vec::new(),
            services,
            seconds: 1.0,
        }
    }

    #[test]
    fn a_restore_ends_with_a_notification_that_says_how() {
        let both = restore_news(&Ok(report(vec![ServiceId::Ollama, ServiceId::App])));
        assert_eq!(both.0, "Restore done");
        assert_eq!(
            both.1,
            "Restored gardener-x; Ollama and Codebase Gardener restarted and healthy."
        );
        let none = restore_news(&Ok(report(Vec::new())));
        assert_eq!(none.1, "Restored gardener-x; no service needed restarting.");
        let undone = restore_news(&Err(error(ErrorCode::RolledBack, "the app did not answer")));
        assert_eq!(
            undone,
            ("Restore undone", "the app did not answer".to_owned())
        );
        let failed = restore_news(&Err(error(ErrorCode::Corrupt, "bad")));
        assert_eq!(failed.0, "Restore failed");
    }
}
