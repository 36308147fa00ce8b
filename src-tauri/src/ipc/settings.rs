//! The dashboard's commands for settings: the config file, the sampling
//! interval, pausing alerts, and starting at login.

use gardener_core::Platform;
use gardener_core::config::Config;
use gardener_core::monitor::alerts::pause::PauseFor;
use gardener_core::monitor::alerts::{self, RuleInfo, describe};
use serde::Serialize;
use tauri::{AppHandle, Runtime};
use tauri_plugin_autostart::ManagerExt;

use super::{ErrorCode, IpcError, Shared, blocking, context, error};
use crate::dashboard::Dash;
use crate::window_pipe::Asked;

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

pub async fn tell_config_changed(dash: &Dash) -> Result<(), IpcError> {
    // The failure keeps its code (the monitor's, or the config's when the
    // window's own monitor cannot read the file again).
    dash.ask(Asked::ConfigChanged).await.map(drop).map_err(|f| {
        error(
            f.code,
            format!("saved, but the monitor did not take it up: {}", f.message),
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
    result.map_err(|e| {
        error(
            ErrorCode::Autostart,
            format!("cannot change the login item: {e}"),
        )
    })?;
    autolaunch.is_enabled().map_err(|e| {
        error(
            ErrorCode::Autostart,
            format!("cannot read the login item: {e}"),
        )
    })
}
