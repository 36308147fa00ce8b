//! Starting Gardener at login, through the autostart plugin (a launch agent
//! on macOS, an XDG autostart entry on Linux).

use gardener_core::error::{ErrorCode, Failure};
use tauri::{AppHandle, Runtime};
use tauri_plugin_autostart::ManagerExt;

/// Whether Gardener starts at login (false when that cannot be read).
pub fn enabled<R: Runtime>(app: &AppHandle<R>) -> bool {
    app.autolaunch().is_enabled().unwrap_or(false)
}

/// Turns starting at login on or off; returns the setting as it now is.
pub fn set<R: Runtime>(app: &AppHandle<R>, enabled: bool) -> Result<bool, Failure> {
    let autolaunch = app.autolaunch();
    let changed = if enabled {
        autolaunch.enable()
    } else {
        autolaunch.disable()
    };
    let failed = |what: &str, e: tauri_plugin_autostart::Error| {
        Failure::new(
            ErrorCode::Autostart,
            format!("cannot {what} the login item: {e}"),
        )
    };
    changed.map_err(|e| failed("change", e))?;
    autolaunch.is_enabled().map_err(|e| failed("read", e))
}
