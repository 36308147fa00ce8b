//! The app's windows. Each is created when asked for and destroyed when
//! closed (Tauri's default on close), so an idle Gardener runs no webview.

use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

/// Label of the setup window; capabilities/default.json grants it its commands.
pub const SETUP: &str = "setup";

/// Opens the setup window, or brings it to the front if it is already open.
/// Failures are logged: the callers are menu and single-instance callbacks,
/// which have nobody to return an error to.
pub fn show_setup<R: Runtime>(app: &AppHandle<R>) {
    if let Err(error) = try_show_setup(app) {
        tracing::error!(%error, "cannot open the setup window");
    }
}

fn try_show_setup<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let window = match app.get_webview_window(SETUP) {
        Some(window) => {
            window.unminimize()?;
            window.show()?;
            window
        }
        None => WebviewWindowBuilder::new(app, SETUP, WebviewUrl::App("index.html".into()))
            .title("Set Up Gardener")
            .inner_size(720.0, 560.0)
            .min_inner_size(480.0, 360.0)
            .center()
            .build()?,
    };
    // An accessory (menu-bar) app on macOS is not active by default; focusing
    // also activates it so the window comes to the front.
    window.set_focus()
}
