//! The dashboard's process: what its window shows and where that comes from.
//! Started by the menu bar (`--window dashboard`, with [`window_pipe::ENV`] set), it
//! reads the tray monitor's samples from stdin and asks for service actions
//! on stdout; started on its own, it runs a monitor of its own while open.
//! The window gets the recent past when it subscribes, then every sample,
//! over a channel that exists only while the window does.

mod busy;
pub mod login_item;

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use gardener_core::Platform;
use gardener_core::backup::Cancel;
use gardener_core::context::Context;
use gardener_core::error::{ErrorCode, Failure};
use gardener_core::logs::Follower;
use gardener_core::monitor::alerts::Event;
use gardener_core::monitor::host::MonitorThread;
use gardener_core::monitor::recent::Kept;
use gardener_core::monitor::run_loop::{Recent, Request};
use gardener_core::monitor::{Monitor, Snapshot};
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager, Runtime};
use tokio::sync::oneshot;

use crate::lock::lock;
use crate::window::{self, View};
use crate::window_pipe::{self, Ask, Asked, Outcome, ToWindow, WorkLine};
pub use busy::{OnMenu, Then};

/// When the process started (taken first thing in `main`), for the time to
/// the first paint.
#[derive(Debug, Clone, Copy)]
pub struct Started {
    at: std::time::Instant,
    /// The same, by the wall clock the page's timestamps use.
    wall: std::time::SystemTime,
}

impl Started {
    /// Now.
    pub fn now() -> Self {
        Self {
            at: std::time::Instant::now(),
            wall: std::time::SystemTime::now(),
        }
    }

    /// Milliseconds since the process started.
    pub fn elapsed_ms(&self) -> u128 {
        self.at.elapsed().as_millis()
    }

    /// Milliseconds from the start to `at_ms` (since the epoch, by the
    /// page's clock).
    pub fn ms_until(&self, at_ms: f64) -> f64 {
        let start_ms = self
            .wall
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        (at_ms - start_ms).max(0.0)
    }
}

/// How long the window waits for the tray's recent past before opening.
const FIRST_RECENT_WAIT: std::time::Duration = std::time::Duration::from_millis(300);

/// What the window is sent while it is open.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export, rename = "DashEvent"))]
pub enum DashEvent {
    /// Everything known so far (sent when the window subscribes, and again
    /// if the tray's account of the past arrives later).
    Recent(Box<Recent>),
    /// A new sample, the alert events it raised, and how the recent past
    /// changed with it (the page applies that as it is).
    Tick {
        snapshot: Box<Snapshot>,
        events: Vec<Event>,
        kept: Kept,
    },
    /// Turn to this view.
    Show { view: View },
    /// The window was asked to close while a backup, check or restore
    /// runs: it closes by itself when that is done.
    Closing,
}

/// Where the service actions go.
enum Asker {
    /// To the menu bar's monitor, over stdout; replies come in on stdin.
    Fed {
        next: AtomicU64,
        waiting: Mutex<HashMap<u64, oneshot::Sender<Outcome>>>,
    },
    /// To this process's own monitor.
    Own {
        monitor: Mutex<Option<MonitorThread>>,
    },
}

/// Writes `ask` to the menu-bar process (this process's stdout is its end
/// of the pipe); false when it cannot.
fn to_menu_bar(ask: &Ask) -> bool {
    window_pipe::line(ask).is_some_and(|text| {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes()).is_ok() && out.flush().is_ok()
    })
}

/// Shows `text` on the menu's line `on` while a long operation runs, and
/// gives the line back with `None` (only when the menu bar feeds this
/// window; nothing waits for an answer).
pub fn show_working(on: WorkLine, text: Option<String>) {
    let ask = Ask {
        id: 0,
        asked: Asked::Working { on, text },
    };
    if !to_menu_bar(&ask) {
        tracing::debug!("the menu bar was not told of the work");
    }
}

/// The dashboard process's state, in Tauri's state.
pub struct Dash {
    recent: Mutex<Recent>,
    ui: Mutex<Option<Channel<DashEvent>>>,
    asker: Asker,
    /// The Cancel of the backup, verification or restore running now.
    busy: Mutex<Option<Cancel>>,
    /// The log the services view follows.
    log: Mutex<Option<Follower>>,
    /// The view to show when the window subscribes.
    first_view: View,
    /// Whether the tray's recent past has arrived.
    arrived: (Mutex<bool>, std::sync::Condvar),
    /// Closing was asked for while busy.
    close_when_done: std::sync::atomic::AtomicBool,
    /// When the process started.
    pub started: Started,
}

impl Dash {
    fn new(asker: Asker, first_view: View, started: Started) -> Self {
        Self {
            started,
            close_when_done: std::sync::atomic::AtomicBool::new(false),
            arrived: (Mutex::new(false), std::sync::Condvar::new()),
            first_view,
            recent: Mutex::new(Recent::default()),
            ui: Mutex::new(None),
            asker,
            busy: Mutex::new(None),
            log: Mutex::new(None),
        }
    }

    /// Follows `follower`'s log from now on (the services view shows one
    /// log at a time).
    pub fn follow_log(&self, follower: Follower) {
        *lock(&self.log) = Some(follower);
    }

    /// Lines written to the followed log since the last call.
    pub fn poll_log(&self) -> Result<Vec<String>, Failure> {
        match lock(&self.log).as_mut() {
            Some(follower) => Ok(follower.poll()?),
            None => Ok(Vec::new()),
        }
    }

    /// Whether the samples come from the tray.
    pub fn fed(&self) -> bool {
        matches!(self.asker, Asker::Fed { .. })
    }

    /// The window listens from now on, starting with all that is known
    /// and the view it was opened for.
    pub fn subscribe(&self, channel: Channel<DashEvent>) {
        tracing::info!(
            ms = self.started.elapsed_ms(),
            "the dashboard's page subscribed"
        );
        // Held until the channel is in place: no sample falls in between.
        let recent = lock(&self.recent);
        let view = DashEvent::Show {
            view: self.first_view,
        };
        if channel
            .send(DashEvent::Recent(Box::new(recent.clone())))
            .is_ok()
            && channel.send(view).is_ok()
        {
            *lock(&self.ui) = Some(channel);
        }
    }

    fn to_ui(&self, event: DashEvent) {
        let mut ui = lock(&self.ui);
        if let Some(channel) = ui.as_ref()
            && channel.send(event).is_err()
        {
            *ui = None;
        }
    }

    fn set_recent(&self, recent: Recent) {
        {
            let mut kept = lock(&self.recent);
            kept.clone_from(&recent);
            self.to_ui(DashEvent::Recent(Box::new(recent)));
        }
        let (arrived, wake) = &self.arrived;
        *lock(arrived) = true;
        wake.notify_all();
    }

    /// Waits up to `timeout` for the tray's account of the recent past; the
    /// page then starts with it (see [`window::open_dashboard_window`]).
    fn recent_within(&self, timeout: std::time::Duration) -> Option<Recent> {
        let (arrived, wake) = &self.arrived;
        let guard = lock(arrived);
        let (guard, _) = wake
            .wait_timeout_while(guard, timeout, |arrived| !*arrived)
            .unwrap_or_else(PoisonError::into_inner);
        guard.then(|| lock(&self.recent).clone())
    }

    fn on_tick(&self, snapshot: Snapshot, events: Vec<Event>) {
        // The page applies `kept` to what it was sent: the two stay one
        // while the lock orders samples and subscribing.
        let mut recent = lock(&self.recent);
        let kept = recent.keep(&snapshot, &events);
        self.to_ui(DashEvent::Tick {
            snapshot: Box::new(snapshot),
            events,
            kept,
        });
    }

    /// Has the monitor do `asked` and waits for the outcome.
    pub async fn ask(&self, asked: Asked) -> Outcome {
        match &self.asker {
            Asker::Fed { next, waiting } => {
                let id = next.fetch_add(1, Ordering::Relaxed);
                let (reply, answer) = oneshot::channel();
                lock(waiting).insert(id, reply);
                if !to_menu_bar(&Ask { id, asked }) {
                    lock(waiting).remove(&id);
                    return Err(Failure::new(
                        ErrorCode::Monitor,
                        "the menu-bar app is not answering",
                    ));
                }
                answer
                    .await
                    .map_err(|_| Failure::new(ErrorCode::Monitor, "the menu-bar app has quit"))?
            }
            Asker::Own { monitor } => {
                let send = |request| lock(monitor).as_ref().is_some_and(|m| m.ask(request));
                if asked == Asked::ConfigChanged {
                    // This monitor reads the alert settings again; a new
                    // interval applies when the dashboard is next opened.
                    let ctx = Context::load(None, Platform::current()).map_err(Failure::from)?;
                    send(Request::Alerts(Box::new(ctx.config.alerts)));
                    return Ok(Vec::new());
                }
                window_pipe::serve(asked, send).await
            }
        }
    }

    fn replied(&self, id: u64, outcome: Outcome) {
        if let Asker::Fed { waiting, .. } = &self.asker
            && let Some(reply) = lock(waiting).remove(&id)
        {
            let _ = reply.send(outcome);
        }
    }
}

/// Runs the dashboard's process until its window closes.
pub fn run(
    view: View,
    started: Started,
    commands: impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static,
) -> tauri::Result<()> {
    let fed = std::env::var_os(window_pipe::ENV).is_some();
    let asker = if fed {
        Asker::Fed {
            next: AtomicU64::new(1),
            waiting: Mutex::new(HashMap::new()),
        }
    } else {
        Asker::Own {
            monitor: Mutex::new(None),
        }
    };
    let dash = Arc::new(Dash::new(asker, view, started));
    tauri::Builder::default()
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            None,
        ))
        .invoke_handler(commands)
        .manage(Arc::clone(&dash))
        .on_window_event({
            let dash = Arc::clone(&dash);
            move |_, event| {
                if let tauri::WindowEvent::CloseRequested { api, .. } = event
                    && dash.close_requested()
                {
                    api.prevent_close();
                }
            }
        })
        .setup(move |app| {
            #[cfg(target_os = "macos")]
            app.set_activation_policy(tauri::ActivationPolicy::Accessory);
            if fed {
                read_feed(app.handle(), Arc::clone(&dash))?;
            } else {
                own_monitor(&dash)?;
            }
            // The tray sends its past at once; with it in the page from the
            // start, the first figures need no round trip (a few ms' wait
            // saves tens of them).
            let first = if fed {
                dash.recent_within(FIRST_RECENT_WAIT)
            } else {
                None
            };
            tracing::info!(
                ms = dash.started.elapsed_ms(),
                "opening the dashboard window"
            );
            window::open_dashboard_window(app.handle(), first.as_ref())?;
            tracing::info!(
                ms = dash.started.elapsed_ms(),
                "the dashboard window is built"
            );
            Ok(())
        })
        .run(tauri::generate_context!())
}

/// Reads the tray's lines from stdin; when the tray goes away, so does the
/// dashboard.
fn read_feed<R: Runtime>(app: &AppHandle<R>, dash: Arc<Dash>) -> std::io::Result<()> {
    let app = app.clone();
    std::thread::Builder::new()
        .name("feed".into())
        .spawn(move || {
            let mut ticks = 0u64;
            for text in std::io::stdin().lock().lines() {
                let Ok(text) = text else { break };
                match serde_json::from_str::<ToWindow>(&text) {
                    Ok(ToWindow::Recent(recent)) => {
                        tracing::info!(
                            samples = recent.history.len(),
                            "the menu-bar app sent its recent past"
                        );
                        dash.set_recent(*recent);
                    }
                    Ok(ToWindow::Tick { snapshot, events }) => {
                        ticks += 1;
                        if ticks == 1 {
                            tracing::info!("samples arrive from the menu-bar app");
                        }
                        dash.on_tick(*snapshot, events);
                    }
                    Ok(ToWindow::Reply { id, outcome }) => dash.replied(id, outcome),
                    Ok(ToWindow::Show { view }) => {
                        if let Some(window) = app.get_webview_window(window::DASHBOARD) {
                            let _ = window.set_focus();
                        }
                        dash.to_ui(DashEvent::Show { view });
                    }
                    Err(error) => tracing::warn!(%error, "unreadable line from the menu-bar app"),
                }
            }
            tracing::info!("the menu-bar app has gone; closing the dashboard");
            app.exit(0);
        })?;
    Ok(())
}

/// Without the menu bar: a monitor of this process's own while the window
/// is open (it neither notifies nor writes the alert state; the menu bar
/// does). It stops with the process.
fn own_monitor(dash: &Arc<Dash>) -> std::io::Result<()> {
    let Asker::Own { monitor: slot } = &dash.asker else {
        return Ok(());
    };
    let monitor = Context::load(None, Platform::current())
        .map_err(|e| e.to_string())
        .and_then(|ctx| Monitor::new(ctx, false).map_err(|e| e.to_string()));
    let monitor = match monitor {
        Ok(monitor) => monitor,
        Err(error) => {
            // The settings view shows the problem and lets it be fixed.
            tracing::warn!(%error, "no monitor in the dashboard");
            return Ok(());
        }
    };
    let fed = Arc::clone(dash);
    let hosted = MonitorThread::spawn(monitor, move |snap, events| {
        fed.on_tick(snap.clone(), events.to_vec());
    })?;
    *lock(slot) = Some(hosted);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_closed_mid_restore_stays_until_it_is_done() {
        let dash = Dash::new(
            Asker::Own {
                monitor: Mutex::new(None),
            },
            View::Overview,
            Started::now(),
        );
        assert!(!dash.close_requested(), "idle: closes at once");
        *lock(&dash.busy) = Some(Cancel::new());
        assert!(dash.close_requested(), "busy: stays");
        assert!(dash.finish_busy(), "done: now it closes");
        assert!(lock(&dash.busy).is_none());
        *lock(&dash.busy) = Some(Cancel::new());
        assert!(!dash.finish_busy(), "nobody asked to close this time");
    }
}
