//! The dashboard's commands for settings: the config file, the sampling
//! interval, pausing alerts, and starting at login.

use gardener_core::Platform;
use gardener_core::config::Config;
use gardener_core::monitor::alerts;
use gardener_core::monitor::alerts::pause::PauseFor;
use gardener_core::settings::ConfigFile;
use serde::Serialize;
use tauri::{AppHandle, Runtime};

use super::{IpcError, Shared, blocking, context, error};
use crate::dashboard::{Dash, login_item};
use crate::window_pipe::Asked;

/// Pauses (or resumes) alerts like the menu's Pause Alerts; returns when the
/// pause ends (seconds since the epoch).
#[tauri::command]
pub async fn alerts_pause(dash: Shared<'_>, pause: PauseFor) -> Result<Option<u64>, IpcError> {
    let set = move || Ok(alerts::pause::set(&context()?.config_file, pause)?.alerts);
    let until = blocking("pausing alerts", set).await?.mute_until_secs();
    tell_config_changed(&dash).await.map(|()| until)
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

/// What the settings view shows: the config file, and the app's own.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Settings {
    /// gardener.toml: its text, its problem, the values the view changes.
    #[serde(flatten)]
    #[cfg_attr(feature = "ts", ts(flatten))]
    pub file: ConfigFile,
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
    let (fed, autostart) = (dash.fed(), login_item::enabled(&app));
    let read = || Ok(ConfigFile::read(&config_path()?)?);
    let file = blocking("reading the settings", read).await?;
    Ok(Settings {
        file,
        autostart,
        fed,
    })
}

/// Whether `text` is a valid config; the error names the line and key.
#[tauri::command]
pub async fn settings_check(text: String) -> Result<(), IpcError> {
    blocking("checking the settings", move || {
        Ok(Config::parse(&text, &config_path()?).map(drop)?)
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
    let save = move || Ok(Config::save_text(&config_path()?, &text).map(drop)?);
    blocking("saving the settings", save).await?;
    tell_config_changed(&dash).await
}

/// Sets how often the monitor samples.
#[tauri::command]
pub async fn settings_set_interval(dash: Shared<'_>, secs: u64) -> Result<(), IpcError> {
    let save = move || Ok(Config::set_interval(&config_path()?, secs)?);
    blocking("saving the settings", save).await?;
    tell_config_changed(&dash).await
}

/// Turns starting Gardener at login on or off; returns the new setting.
#[tauri::command]
pub fn autostart_set<R: Runtime>(app: AppHandle<R>, enabled: bool) -> Result<bool, IpcError> {
    login_item::set(&app, enabled)
}
