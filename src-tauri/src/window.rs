//! The app's windows. Each is shown by a process of its own (`gardener-app
//! --window setup|dashboard`) that exits when its window closes, so the menu-bar
//! process never loads a webview: WebKitGTK keeps its network process and
//! much of its memory for as long as the process that used it lives.

use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

use gardener_core::monitor::run_loop::Recent;

use crate::feed::{self, Feed, ToWindow};
use crate::live;
use crate::lock::lock;

/// Label of the setup window; capabilities/setup.json grants it its commands.
pub const SETUP: &str = "setup";
/// Label of the dashboard window; capabilities/dashboard.json grants its commands.
pub const DASHBOARD: &str = "dashboard";

/// The views of the dashboard, by the name the UI and `--view` use.
pub const VIEWS: [&str; 5] = ["overview", "services", "backups", "alerts", "settings"];

/// The setup window's process while it runs.
static SETUP_PROCESS: Mutex<Option<u32>> = Mutex::new(None);
/// The dashboard's process while it runs, and its pipe.
static DASHBOARD_PROCESS: Mutex<Option<(u32, Feed)>> = Mutex::new(None);

/// Opens the setup window in its own process, unless it is open already.
/// When that process ends, the monitor starts over (setting up may have
/// changed the config). Failures are logged: the callers are menu and
/// single-instance callbacks, which have nobody to return an error to.
pub fn show_setup<R: Runtime>(app: &AppHandle<R>) {
    let mut running = lock(&SETUP_PROCESS);
    if let Some(pid) = *running {
        tracing::info!(pid, "the setup window is already open");
        return;
    }
    let child = std::env::current_exe().and_then(|exe| {
        let mut cmd = Command::new(exe);
        cmd.args(["--window", SETUP]).stdin(Stdio::null());
        software_rendering_manners(&mut cmd);
        cmd.spawn()
    });
    let child = match child {
        Ok(child) => child,
        Err(error) => {
            tracing::error!(%error, "cannot start the setup window's process");
            return;
        }
    };
    *running = Some(child.id());
    let app = app.clone();
    wait_for(child, "setup", move || {
        *lock(&SETUP_PROCESS) = None;
        if let Some(live) = live::get(&app) {
            live.restart(&app);
        }
    });
}

/// Opens the dashboard at `view` in its own process, fed by the monitor; if
/// it is open already, it turns to `view` instead.
pub fn show_dashboard<R: Runtime>(app: &AppHandle<R>, view: &str) {
    let mut running = lock(&DASHBOARD_PROCESS);
    if let Some((pid, feed)) = running.as_ref() {
        tracing::info!(
            pid,
            view,
            "the dashboard is already open: turning to the view"
        );
        feed.send(&ToWindow::Show { view: view.into() });
        return;
    }
    let child = std::env::current_exe().and_then(|exe| {
        let mut cmd = Command::new(exe);
        cmd.args(["--window", DASHBOARD, "--view", view])
            .env(feed::ENV, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        software_rendering_manners(&mut cmd);
        cmd.spawn()
    });
    let mut child = match child {
        Ok(child) => child,
        Err(error) => {
            tracing::error!(%error, "cannot start the dashboard's process");
            return;
        }
    };
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        tracing::error!("the dashboard's process has no pipes");
        let _ = child.kill();
        return;
    };
    match feed::connect(app, stdin, stdout) {
        Ok(feed) => *running = Some((child.id(), feed)),
        Err(error) => {
            tracing::error!(%error, "cannot feed the dashboard");
            let _ = child.kill();
            let _ = child.wait();
            return;
        }
    }
    let app = app.clone();
    wait_for(child, "dashboard", move || {
        *lock(&DASHBOARD_PROCESS) = None;
        if let Some(live) = live::get(&app) {
            live.set_feed(None);
        }
    });
}

/// WebKitGTK composites through OpenGL; without a GPU (virtual machines,
/// remote desktops) that is emulated, and each frame of the dashboard took
/// ~90 ms and its first paint ~550 ms. Pages this simple need no
/// compositing; drawing without it cut the first paint by a third. A
/// setting the person made is kept.
fn software_rendering_manners(cmd: &mut Command) {
    const NO_COMPOSITING: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";
    if cfg!(target_os = "linux") && std::env::var_os(NO_COMPOSITING).is_none() {
        cmd.env(NO_COMPOSITING, "1");
    }
}

/// Waits for a window's process on a thread of its own, then runs `ended`.
fn wait_for(mut child: Child, name: &'static str, ended: impl FnOnce() + Send + 'static) {
    let waiter = std::thread::Builder::new()
        .name(format!("{name}-window"))
        .spawn(move || {
            match child.wait() {
                Ok(status) if !status.success() => {
                    tracing::warn!(%status, "the {name} window's process failed");
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "cannot wait for the {name} window"),
            }
            ended();
        });
    if let Err(error) = waiter {
        tracing::error!(%error, "cannot watch the {name} window's process");
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
