//! The windows themselves, in their own processes (see
//! `window_process.rs` for how the menu bar starts them): their labels, the
//! dashboard's views, and building each window.

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

use gardener_core::monitor::run_loop::Recent;

/// Label of the setup window; capabilities/setup.json grants it its commands.
pub const SETUP: &str = "setup";
/// Label of the dashboard window; capabilities/dashboard.json grants its commands.
pub const DASHBOARD: &str = "dashboard";

/// A view of the dashboard, by the name the page and `--view` use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export, rename = "ViewName"))]
pub enum View {
    #[default]
    Overview,
    Services,
    Models,
    Backups,
    Alerts,
    Settings,
}

impl View {
    /// Every view, in the order of the dashboard's tabs.
    pub const ALL: [Self; 6] = [
        Self::Overview,
        Self::Services,
        Self::Models,
        Self::Backups,
        Self::Alerts,
        Self::Settings,
    ];

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Overview => "overview",
            Self::Services => "services",
            Self::Models => "models",
            Self::Backups => "backups",
            Self::Alerts => "alerts",
            Self::Settings => "settings",
        }
    }

    /// The view called `name`.
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.name() == name)
    }
}

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
