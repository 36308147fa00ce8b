//! The app's windows. Each is shown by a process of its own (`gardener-app
//! --window setup`) that exits when its window closes, so the menu-bar
//! process never loads a webview: WebKitGTK keeps its network process and
//! much of its memory for as long as the process that used it lives.

use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError};

use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

use crate::live;

/// Label of the setup window; capabilities/default.json grants it its commands.
pub const SETUP: &str = "setup";

/// The setup window's process while it runs.
static SETUP_PROCESS: Mutex<Option<u32>> = Mutex::new(None);

/// Opens the setup window in its own process, unless it is open already.
/// When that process ends, the monitor starts over (setting up may have
/// changed the config). Failures are logged: the callers are menu and
/// single-instance callbacks, which have nobody to return an error to.
pub fn show_setup<R: Runtime>(app: &AppHandle<R>) {
    let mut running = SETUP_PROCESS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(pid) = *running {
        tracing::info!(pid, "the setup window is already open");
        return;
    }
    let child = std::env::current_exe().and_then(|exe| {
        Command::new(exe)
            .args(["--window", SETUP])
            .stdin(Stdio::null())
            .spawn()
    });
    let mut child = match child {
        Ok(child) => child,
        Err(error) => {
            tracing::error!(%error, "cannot start the setup window's process");
            return;
        }
    };
    *running = Some(child.id());
    let app = app.clone();
    let waiter = std::thread::Builder::new()
        .name("setup-window".into())
        .spawn(move || {
            match child.wait() {
                Ok(status) if !status.success() => {
                    tracing::warn!(%status, "the setup window's process failed");
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "cannot wait for the setup window"),
            }
            *SETUP_PROCESS.lock().unwrap_or_else(PoisonError::into_inner) = None;
            if let Some(live) = live::get(&app) {
                live.restart(&app);
            }
        });
    if let Err(error) = waiter {
        tracing::error!(%error, "cannot watch the setup window's process");
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
