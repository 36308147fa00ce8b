//! The windows themselves, in their own processes (see
//! `window_process.rs` for how the menu bar starts them): their labels, the
//! dashboard's views, and building each window.

use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

use gardener_core::monitor::run_loop::Recent;

/// Label of the setup window; capabilities/setup.json grants it its commands.
pub const SETUP: &str = "setup";
/// Label of the dashboard window; capabilities/dashboard.json grants its commands.
pub const DASHBOARD: &str = "dashboard";

/// The views of the dashboard, by the name the UI and `--view` use.
pub const VIEWS: [&str; 5] = ["overview", "services", "backups", "alerts", "settings"];

/// In the setup window's process: opens the window (it is destroyed on
/// close, and the process then exits).
pub fn open_setup_window<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let window = match app.get_webview_window(SETUP) {
        Some(window) => window,
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

/// In the dashboard's process: opens the dashboard window (the process
/// exits when it closes), with `recent` in the page before its scripts run
/// when it is known. Its first view comes with its first samples.
pub fn open_dashboard_window<R: Runtime>(
    app: &AppHandle<R>,
    recent: Option<&Recent>,
) -> tauri::Result<()> {
    let window = match app.get_webview_window(DASHBOARD) {
        Some(window) => window,
        None => {
            let mut builder =
                WebviewWindowBuilder::new(app, DASHBOARD, WebviewUrl::App("dashboard.html".into()))
                    .title("Gardener")
                    .inner_size(960.0, 680.0)
                    .min_inner_size(640.0, 480.0)
                    .center();
            // JSON is a JavaScript expression; the script is the webview's own
            // (a user script), not the page's, so the CSP stays as strict.
            if let Some(json) = recent.and_then(|r| serde_json::to_string(r).ok()) {
                builder =
                    builder.initialization_script(format!("window.__GARDENER_RECENT__ = {json};"));
            }
            builder.build()?
        }
    };
    window.set_focus()
}
