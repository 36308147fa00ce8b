//! The dashboard's IPC commands. Each is one call into `gardener-core` (or,
//! for service actions, one ask of the monitor), run off the async executor
//! when it blocks, with errors as `{ code, message }`.

use std::sync::Arc;

use gardener_core::Platform;
use gardener_core::backup::{
    self, BackupInfo, Cancel, CreateOptions, CreateReport, Progress, RestoreOptions, RestoreReport,
    VerifyReport, catalog,
};
use gardener_core::config::Config;
use gardener_core::context::Context;
use gardener_core::logs::{self, Follower};
use gardener_core::monitor::alerts::pause::PauseFor;
use gardener_core::monitor::alerts::{self, RuleInfo, describe};
use gardener_core::services::{Action, ServiceId};
use serde::{Deserialize, Serialize};
use tauri::ipc::{Channel, Invoke};
use tauri::{AppHandle, Runtime, State, WebviewWindow};
use tauri_plugin_autostart::ManagerExt;

use super::{Dash, DashEvent, lock};
use crate::commands::IpcError;
use crate::feed::Asked;

/// The commands the dashboard window may call (capabilities/dashboard.json
/// grants each; build.rs declares them).
pub fn handler<R: Runtime>() -> impl Fn(Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        dashboard_subscribe,
        service_control,
        models_unload,
        log_open,
        log_poll,
        backups_list,
        backup_create,
        backup_verify,
        backup_cancel,
        restore_preview,
        restore_apply,
        alerts_pause,
        settings_load,
        settings_check,
        settings_save,
        settings_set_interval,
        autostart_set,
        setup_open,
        dashboard_painted,
        super::targets::targets_list,
        super::targets::target_test,
        super::targets::target_add,
        super::targets::target_remove,
        super::targets::backup_copy,
        super::targets::copy_verify,
        super::targets::copy_fetch,
        crate::commands::recovery_key,
    ]
}

pub(super) type Shared<'a> = State<'a, Arc<Dash>>;

fn error(code: &str, message: impl Into<String>) -> IpcError {
    IpcError {
        code: code.to_owned(),
        message: message.into(),
    }
}

pub(super) fn context() -> Result<Context, IpcError> {
    Context::load(None, Platform::current()).map_err(IpcError::from)
}

impl From<backup::Error> for IpcError {
    fn from(e: backup::Error) -> Self {
        error(e.code(), crate::commands::with_causes(&e))
    }
}

impl From<gardener_core::config::Error> for IpcError {
    fn from(e: gardener_core::config::Error) -> Self {
        error("config", e.to_string())
    }
}

/// Runs blocking core work on the blocking pool.
pub(super) async fn blocking<T: Send + 'static>(
    what: &str,
    work: impl FnOnce() -> Result<T, IpcError> + Send + 'static,
) -> Result<T, IpcError> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|e| IpcError::internal(format!("{what} stopped unexpectedly: {e}")))?
}

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
            "usage",
            "the dashboard can start, stop and restart services; install and uninstall are in the setup window",
        ));
    }
    dash.ask(Asked::Control { action, service })
        .await
        .map(drop)
        .map_err(|m| error("service", m))
}

/// Unloads `model` (or every loaded model); returns the names unloaded.
#[tauri::command]
pub async fn models_unload(
    dash: Shared<'_>,
    model: Option<String>,
) -> Result<Vec<String>, IpcError> {
    dash.ask(Asked::Unload { model })
        .await
        .map_err(|m| error("ollama", m))
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
            Err(e) => return Err(error("io", e.to_string())),
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
        follower.poll().map_err(|e| error("io", e.to_string()))
    })
    .await
}

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
pub(super) fn start_busy(dash: &Dash) -> Result<Cancel, IpcError> {
    let mut busy = lock(&dash.busy);
    if busy.is_some() {
        return Err(error(
            "busy",
            "a backup, check or restore is already running in this window",
        ));
    }
    let cancel = Cancel::new();
    *busy = Some(cancel.clone());
    Ok(cancel)
}

/// Sends progress a few times a second at most.
pub(super) fn throttled(channel: Channel<Progress>) -> impl FnMut(&Progress) {
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
        Err(e) if e.code == "cancelled" => ("Backup cancelled", "Nothing was left behind.".into()),
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
pub(super) async fn while_busy<R: Runtime, T: Send + 'static>(
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
pub(super) fn close_if<R: Runtime>(close: bool, window: &WebviewWindow<R>) {
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
        Err(e) if e.code == "rolled-back" => ("Restore undone", e.message.clone()),
        Err(e) => ("Restore failed", e.message.clone()),
    }
}

/// A notification through the menu-bar app, which has them; a failure to
/// send one is only logged (the window shows the outcome too).
pub(super) async fn tell(dash: &Dash, title: &str, body: String) {
    let asked = Asked::Notify {
        title: title.to_owned(),
        body,
    };
    if let Err(why) = dash.ask(asked).await {
        tracing::warn!("no notification: {why}");
    }
}

/// Pauses (or resumes) alerts like the menu's Pause Alerts; returns when the
/// pause ends (seconds since the epoch).
#[tauri::command]
pub async fn alerts_pause(dash: Shared<'_>, pause: PauseFor) -> Result<Option<u64>, IpcError> {
    let until = blocking("pausing alerts", move || {
        let config = alerts::pause::set(&context()?.config_file, pause)?;
        Ok(config.alerts.mute_until_secs())
    })
    .await?;
    tell_config_changed(&dash).await?;
    Ok(until)
}

pub(super) async fn tell_config_changed(dash: &Dash) -> Result<(), IpcError> {
    dash.ask(Asked::ConfigChanged).await.map(drop).map_err(|m| {
        error(
            "monitor",
            format!("saved, but the monitor did not take it up: {m}"),
        )
    })
}

/// What the settings view shows.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Settings {
    /// The config file.
    pub path: String,
    /// Its text (the documented template when there is no file yet).
    pub text: String,
    /// Why the file does not load now, if it does not.
    pub problem: Option<String>,
    /// `[monitor] interval_secs` (the default when the file does not load).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub interval_secs: u64,
    /// Alerts paused until then (seconds since the epoch).
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub mute_until: Option<u64>,
    /// Every alert rule and its limits.
    pub rules: Vec<RuleInfo>,
    /// Gardener starts at login.
    pub autostart: bool,
    /// Samples come from the menu-bar app (false: from this window alone).
    pub fed: bool,
}

/// The config file as it is, and the login item.
#[tauri::command]
pub async fn settings_load<R: Runtime>(
    app: AppHandle<R>,
    dash: Shared<'_>,
) -> Result<Settings, IpcError> {
    let fed = dash.fed();
    let autostart = app.autolaunch().is_enabled().unwrap_or(false);
    blocking("reading the settings", move || {
        let path = config_path()?;
        let text = Config::text(&path)?;
        let (problem, config) = match Config::parse(&text, &path) {
            Ok(c) => (None, c),
            Err(e) => (Some(e.to_string()), Config::default()),
        };
        Ok(Settings {
            path: path.display().to_string(),
            text,
            problem,
            interval_secs: config.monitor.interval_secs,
            mute_until: config.alerts.mute_until_secs(),
            rules: describe(&config.alerts),
            autostart,
            fed,
        })
    })
    .await
}

/// Whether `text` is a valid config; the error names the line and key.
#[tauri::command]
pub async fn settings_check(text: String) -> Result<(), IpcError> {
    blocking("checking the settings", move || {
        let ctx_path = config_path()?;
        Config::parse(&text, &ctx_path)
            .map(drop)
            .map_err(IpcError::from)
    })
    .await
}

fn config_path() -> Result<std::path::PathBuf, IpcError> {
    gardener_core::paths::Paths::discover(Platform::current())
        .map(|p| p.config_file)
        .map_err(|e| IpcError::internal(e.to_string()))
}

/// Saves `text` as gardener.toml if it is valid (atomically, 0600), and has
/// the monitor start over from it.
#[tauri::command]
pub async fn settings_save(dash: Shared<'_>, text: String) -> Result<(), IpcError> {
    blocking("saving the settings", move || {
        Config::save_text(&config_path()?, &text)
            .map(drop)
            .map_err(IpcError::from)
    })
    .await?;
    tell_config_changed(&dash).await
}

/// Sets how often the monitor samples.
#[tauri::command]
pub async fn settings_set_interval(dash: Shared<'_>, secs: u64) -> Result<(), IpcError> {
    blocking("saving the settings", move || {
        Config::set_interval(&config_path()?, secs).map_err(IpcError::from)
    })
    .await?;
    tell_config_changed(&dash).await
}

/// Turns starting Gardener at login on or off; returns the new setting.
#[tauri::command]
pub fn autostart_set<R: Runtime>(app: AppHandle<R>, enabled: bool) -> Result<bool, IpcError> {
    let autolaunch = app.autolaunch();
    let result = if enabled {
        autolaunch.enable()
    } else {
        autolaunch.disable()
    };
    result.map_err(|e| error("autostart", format!("cannot change the login item: {e}")))?;
    autolaunch
        .is_enabled()
        .map_err(|e| error("autostart", format!("cannot read the login item: {e}")))
}

/// Opens the setup window (to repair what differs from the config).
#[tauri::command]
pub async fn setup_open(dash: Shared<'_>) -> Result<(), IpcError> {
    dash.ask(Asked::OpenSetup)
        .await
        .map(drop)
        .map_err(|m| error("setup", m))
}

/// The window painted its first figures at `at_ms` (milliseconds since the
/// epoch, by the page's clock): logs that time and how long after the top of
/// `main` it was (what `bench/dashboard-open.sh` reads).
#[tauri::command]
pub fn dashboard_painted(at_ms: f64) {
    let started = super::STARTED_AT
        .get()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    let ms = (at_ms - started).max(0.0).round();
    let at_ms = at_ms.round();
    tracing::info!(ms, at_ms, "the dashboard painted its first figures");
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
        let undone = restore_news(&Err(error("rolled-back", "the app did not answer")));
        assert_eq!(
            undone,
            ("Restore undone", "the app did not answer".to_owned())
        );
        let failed = restore_news(&Err(error("corrupt", "bad")));
        assert_eq!(failed.0, "Restore failed");
    }
}
