//! The dashboard's process: what its window shows and where that comes from.
//! Started by the tray (`--window dashboard`, with [`feed::ENV`] set), it
//! reads the tray monitor's samples from stdin and asks for service actions
//! on stdout; started on its own, it runs a monitor of its own while open.
//! The window gets the recent past when it subscribes, then every sample,
//! over a channel that exists only while the window does.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use gardener_core::Platform;
use gardener_core::backup::Cancel;
use gardener_core::context::Context;
use gardener_core::logs::Follower;
use gardener_core::monitor::alerts::Event;
use gardener_core::monitor::history::Point;
use gardener_core::monitor::run_loop::{Recent, Request};
use gardener_core::monitor::{Monitor, Snapshot};
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager, Runtime};
use tokio::sync::{mpsc, oneshot};

use crate::feed::{self, Ask, Asked, Outcome, ToWindow};
use crate::lock::lock;
use crate::windows;

/// When the process started (set first thing in `main`), for the time to
/// the first paint.
pub static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
/// The same, by the wall clock the page's timestamps use.
pub static STARTED_AT: std::sync::OnceLock<std::time::SystemTime> = std::sync::OnceLock::new();

/// Milliseconds since the process started.
pub fn since_start() -> u128 {
    STARTED.get().map_or(0, |t| t.elapsed().as_millis())
}

/// How long the window waits for the tray's recent past before opening.
const FIRST_RECENT_WAIT: std::time::Duration = std::time::Duration::from_millis(300);

/// At most this many alert events are kept for the alerts view.
const EVENTS_KEPT: usize = 200;

/// What the window is sent while it is open.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export, rename = "DashEvent"))]
pub enum DashEvent {
    /// Everything known so far (sent when the window subscribes, and again
    /// if the tray's account of the past arrives later).
    Recent(Box<Recent>),
    /// A new sample and the alert events it raised.
    Tick {
        snapshot: Box<Snapshot>,
        events: Vec<Event>,
    },
    /// Turn to this view.
    Show { view: String },
    /// The window was asked to close while a backup, check or restore
    /// runs: it closes by itself when that is done.
    Closing,
}

/// Where the service actions go.
enum Asker {
    /// To the tray's monitor, over stdout; replies come in on stdin.
    Fed {
        next: AtomicU64,
        waiting: Mutex<HashMap<u64, oneshot::Sender<Outcome>>>,
    },
    /// To this process's own monitor.
    Own {
        requests: Mutex<Option<mpsc::UnboundedSender<Request>>>,
    },
}

/// The dashboard process's state, in Tauri's state.
pub struct Dash {
    recent: Mutex<Recent>,
    ui: Mutex<Option<Channel<DashEvent>>>,
    asker: Asker,
    /// The Cancel of the backup, verification or restore running now.
    pub busy: Mutex<Option<Cancel>>,
    /// The log the services view follows.
    pub log: Mutex<Option<Follower>>,
    /// The view to show when the window subscribes.
    first_view: String,
    /// Whether the tray's recent past has arrived.
    arrived: (Mutex<bool>, std::sync::Condvar),
    /// Closing was asked for while busy.
    close_when_done: std::sync::atomic::AtomicBool,
}

impl Dash {
    fn new(asker: Asker, first_view: &str) -> Self {
        Self {
            close_when_done: std::sync::atomic::AtomicBool::new(false),
            arrived: (Mutex::new(false), std::sync::Condvar::new()),
            first_view: first_view.to_owned(),
            recent: Mutex::new(Recent::default()),
            ui: Mutex::new(None),
            asker,
            busy: Mutex::new(None),
            log: Mutex::new(None),
        }
    }

    /// The window is asked to close. While a backup, check or restore runs,
    /// it must stay (closing ends the process, and with it the work: a
    /// restore stopped half-way leaves the services stopped until the next
    /// backup command); true then, and it closes when the work is done.
    pub fn close_requested(&self) -> bool {
        if lock(&self.busy).is_none() {
            return false;
        }
        self.close_when_done.store(true, Ordering::SeqCst);
        self.to_ui(DashEvent::Closing);
        true
    }

    /// The long operation is over; true when the window should close now.
    pub fn finish_busy(&self) -> bool {
        lock(&self.busy).take();
        self.close_when_done.swap(false, Ordering::SeqCst)
    }

    /// Whether the samples come from the tray.
    pub fn fed(&self) -> bool {
        matches!(self.asker, Asker::Fed { .. })
    }

    /// The window listens from now on, starting with all that is known
    /// and the view it was opened for.
    pub fn subscribe(&self, channel: Channel<DashEvent>) {
        tracing::info!(ms = since_start(), "the dashboard's page subscribed");
        let recent = lock(&self.recent).clone();
        let view = DashEvent::Show {
            view: self.first_view.clone(),
        };
        if channel.send(DashEvent::Recent(Box::new(recent))).is_ok() && channel.send(view).is_ok() {
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
        *lock(&self.recent) = recent.clone();
        self.to_ui(DashEvent::Recent(Box::new(recent)));
        let (arrived, wake) = &self.arrived;
        *lock(arrived) = true;
        wake.notify_all();
    }

    /// Waits up to `timeout` for the tray's account of the recent past; the
    /// page then starts with it (see [`windows::open_dashboard_window`]).
    fn recent_within(&self, timeout: std::time::Duration) -> Option<Recent> {
        let (arrived, wake) = &self.arrived;
        let guard = lock(arrived);
        let (guard, _) = wake
            .wait_timeout_while(guard, timeout, |arrived| !*arrived)
            .unwrap_or_else(PoisonError::into_inner);
        guard.then(|| lock(&self.recent).clone())
    }

    fn on_tick(&self, snapshot: Snapshot, events: Vec<Event>) {
        {
            let mut recent = lock(&self.recent);
            keep_recent(&mut recent, &snapshot, &events);
        }
        self.to_ui(DashEvent::Tick {
            snapshot: Box::new(snapshot),
            events,
        });
    }

    /// Has the monitor do `asked` and waits for the outcome.
    pub async fn ask(&self, asked: Asked) -> Outcome {
        match &self.asker {
            Asker::Fed { next, waiting } => {
                let id = next.fetch_add(1, Ordering::Relaxed);
                let (reply, answer) = oneshot::channel();
                lock(waiting).insert(id, reply);
                let sent = feed::line(&Ask { id, asked }).is_some_and(|text| {
                    let mut out = std::io::stdout().lock();
                    out.write_all(text.as_bytes()).is_ok() && out.flush().is_ok()
                });
                if !sent {
                    lock(waiting).remove(&id);
                    return Err("the menu-bar app is not answering".into());
                }
                answer
                    .await
                    .map_err(|_| "the menu-bar app has quit".to_owned())?
            }
            Asker::Own { requests } => {
                let send = |request| {
                    lock(requests)
                        .as_ref()
                        .is_some_and(|r| r.send(request).is_ok())
                };
                if asked == Asked::ConfigChanged {
                    // This monitor reads the alert settings again; a new
                    // interval applies when the dashboard is next opened.
                    let ctx =
                        Context::load(None, Platform::current()).map_err(|e| e.to_string())?;
                    send(Request::Alerts(Box::new(ctx.config.alerts)));
                    return Ok(Vec::new());
                }
                feed::serve(asked, send).await
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

/// Adds a sample to the recent past, dropping what is older than an hour.
fn keep_recent(recent: &mut Recent, snapshot: &Snapshot, events: &[Event]) {
    recent.history.push(Point::of(snapshot));
    let oldest = snapshot.taken_at_ms.saturating_sub(feed::RECENT_MS);
    let stale = recent.history.partition_point(|p| p.t_ms < oldest);
    recent.history.drain(..stale);
    recent.events.extend_from_slice(events);
    let extra = recent.events.len().saturating_sub(EVENTS_KEPT);
    recent.events.drain(..extra);
    recent.latest = Some(snapshot.clone());
}

/// Runs the dashboard's process until its window closes.
pub fn run(view: &str) -> tauri::Result<()> {
    let fed = std::env::var_os(feed::ENV).is_some();
    let asker = if fed {
        Asker::Fed {
            next: AtomicU64::new(1),
            waiting: Mutex::new(HashMap::new()),
        }
    } else {
        Asker::Own {
            requests: Mutex::new(None),
        }
    };
    let dash = Arc::new(Dash::new(asker, view));
    tauri::Builder::default()
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            None,
        ))
        .invoke_handler(crate::ipc::dashboard_handler())
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
            tracing::info!(ms = since_start(), "opening the dashboard window");
            windows::open_dashboard_window(app.handle(), first.as_ref())?;
            tracing::info!(ms = since_start(), "the dashboard window is built");
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
                        if let Some(window) = app.get_webview_window(windows::DASHBOARD) {
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

/// Without the tray: a monitor of this process's own while the window is
/// open (it neither notifies nor writes the alert state; the tray does).
fn own_monitor(dash: &Arc<Dash>) -> std::io::Result<()> {
    let ctx = match Context::load(None, Platform::current()) {
        Ok(ctx) => ctx,
        Err(error) => {
            // The settings view shows the problem and lets it be fixed.
            tracing::warn!(%error, "no monitor in the dashboard: the config does not load");
            return Ok(());
        }
    };
    let (requests, rx) = mpsc::unbounded_channel();
    if let Asker::Own { requests: slot } = &dash.asker {
        *lock(slot) = Some(requests);
    }
    let dash = Arc::clone(dash);
    std::thread::Builder::new()
        .name("monitor".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(error) => return tracing::error!(%error, "the monitor did not start"),
            };
            runtime.block_on(async {
                let mut monitor = match Monitor::new(ctx, false) {
                    Ok(m) => m,
                    Err(error) => return tracing::error!(%error, "the monitor did not start"),
                };
                // Ends with the process; nothing to save.
                let (_stop, shutdown) = tokio::sync::watch::channel(false);
                monitor
                    .run(shutdown, Some(rx), |snap, events| {
                        dash.on_tick(snap.clone(), events.to_vec());
                    })
                    .await;
            });
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(t_ms: u64) -> Snapshot {
        Snapshot {
            taken_at_ms: t_ms,
            ..Snapshot::default()
        }
    }

    #[test]
    fn a_window_closed_mid_restore_stays_until_it_is_done() {
        let dash = Dash::new(
            Asker::Own {
                requests: Mutex::new(None),
            },
            "overview",
        );
        assert!(!dash.close_requested(), "idle: closes at once");
        *lock(&dash.busy) = Some(Cancel::new());
        assert!(dash.close_requested(), "busy: stays");
        assert!(dash.finish_busy(), "done: now it closes");
        assert!(lock(&dash.busy).is_none());
        *lock(&dash.busy) = Some(Cancel::new());
        assert!(!dash.finish_busy(), "nobody asked to close this time");
    }

    #[test]
    fn the_recent_past_is_an_hour_of_samples_and_the_newest_events() {
        let mut recent = Recent::default();
        let event = Event {
            rule: "cpu".into(),
            kind: gardener_core::monitor::alerts::EventKind::Firing,
            value: 93.0,
            threshold: 80.0,
            at: 1,
            message: "CPU at 93%".into(),
            repeat: false,
            muted: false,
        };
        for i in 0..800u64 {
            let events = if i % 3 == 0 {
                vec![event.clone()]
            } else {
                Vec::new()
            };
            keep_recent(&mut recent, &snap(i * 5_000), &events);
        }
        // 800 samples 5 s apart: the last hour is 721 of them.
        assert_eq!(recent.history.len(), 721);
        assert_eq!(
            recent.history.first().unwrap().t_ms,
            799 * 5_000 - 3_600_000
        );
        assert_eq!(recent.events.len(), EVENTS_KEPT);
        assert_eq!(recent.latest.unwrap().taken_at_ms, 799 * 5_000);
    }
}
