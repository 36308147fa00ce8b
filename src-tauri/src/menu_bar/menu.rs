//! The app's monitor: core's `Monitor` loop on a thread of its own (its
//! service-manager calls block), feeding the tray menu and notifications
//! after every tick, and serving the menu's requests between ticks.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gardener_core::Platform;
use gardener_core::context::Context;
use gardener_core::monitor::alerts::Event;
use gardener_core::monitor::run_loop::Request;
use gardener_core::monitor::summary::{self, Overall, Summary};
use gardener_core::monitor::{Monitor, RunState, Snapshot};
use tauri::{AppHandle, Manager, Runtime};
use tokio::sync::{mpsc, watch};

use crate::feed::{Feed, ToWindow};
use crate::lock::lock;
use crate::notify;
use crate::tray::{MenuState, Tray};

/// What the menu shows besides the latest snapshot.
#[derive(Debug, Default)]
struct Extras {
    /// The newest snapshot's summary and the facts the actions need.
    latest: Option<Latest>,
    /// The backup line while a backup runs ("Backing up… 45%").
    backup: Option<String>,
    /// Lines replaced until the next sample ("Ollama — restarting…").
    pending: Vec<(usize, String)>,
    /// Alerts paused until (seconds since the epoch).
    mute_until: Option<u64>,
    /// Why the monitor is not running (config problem).
    problem: Option<String>,
    /// When the machine's line was last given new figures.
    system_shown_at: Option<Instant>,
}

impl Extras {
    /// What carries over to a monitor started anew: a backup from the menu
    /// goes on (its thread still reports here); what the old monitor saw
    /// does not.
    fn for_new_monitor(self) -> Self {
        Self {
            backup: self.backup,
            ..Self::default()
        }
    }
}

/// How often the machine's line (CPU, memory, disk) gets new figures.
const SYSTEM_LINE_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
struct Latest {
    summary: Summary,
    ollama_controllable: bool,
    app_controllable: bool,
    models_loaded: usize,
}

/// The running monitor and what the menu shows; kept in Tauri's state.
pub struct Live<R: Runtime> {
    app: AppHandle<R>,
    tray: Arc<Tray<R>>,
    extras: Mutex<Extras>,
    requests: Mutex<Option<mpsc::UnboundedSender<Request>>>,
    stop: Mutex<Option<(watch::Sender<bool>, std::sync::mpsc::Receiver<()>)>>,
    /// The open dashboard's pipe: samples are sent only while there is one.
    feed: Mutex<Option<Feed>>,
}

fn now_secs() -> u64 {
    jiff::Timestamp::now().as_second().try_into().unwrap_or(0)
}

impl<R: Runtime> Live<R> {
    /// Starts the monitor for the config at its default place. A config
    /// that does not load leaves the monitor off and says why in the menu.
    pub fn start(app: &AppHandle<R>, tray: Tray<R>) -> Arc<Self> {
        let live = Arc::new(Self {
            app: app.clone(),
            tray: Arc::new(tray),
            extras: Mutex::new(Extras::default()),
            requests: Mutex::new(None),
            stop: Mutex::new(None),
            feed: Mutex::new(None),
        });
        live.load_and_spawn(app);
        live
    }

    /// Stops the monitor and starts it again from the config as it is now
    /// (after setting up, which may have changed it). Waits for the old
    /// monitor: call it off the main thread and the async executor.
    pub fn restart(self: &Arc<Self>, app: &AppHandle<R>) {
        self.stop();
        {
            let mut extras = lock(&self.extras);
            *extras = std::mem::take(&mut *extras).for_new_monitor();
        }
        self.load_and_spawn(app);
    }

    fn load_and_spawn(self: &Arc<Self>, app: &AppHandle<R>) {
        match Context::load(None, Platform::current()) {
            Ok(ctx) => {
                lock(&self.extras).mute_until = ctx.config.alerts.mute_until_secs();
                if let Err(e) = self.spawn(app, ctx) {
                    self.set_problem(format!("The monitor did not start: {e}"));
                }
            }
            Err(e) => self.set_problem(format!("Configuration problem: {e}")),
        }
        self.refresh();
    }

    fn spawn(self: &Arc<Self>, app: &AppHandle<R>, ctx: Context) -> std::io::Result<()> {
        let (requests, rx) = mpsc::unbounded_channel();
        let (stop, shutdown) = watch::channel(false);
        let (finished, ended) = std::sync::mpsc::channel();
        let live = Arc::clone(self);
        let app = app.clone();
        std::thread::Builder::new()
            .name("monitor".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => return live.set_problem(format!("The monitor did not start: {e}")),
                };
                runtime.block_on(async {
                    let mut monitor = match Monitor::new(ctx, true) {
                        Ok(m) => m,
                        Err(e) => {
                            return live.set_problem(format!("The monitor did not start: {e}"));
                        }
                    };
                    tracing::info!("monitor started");
                    monitor
                        .run(shutdown, Some(rx), |snap, events| {
                            live.on_tick(snap, events);
                            for note in events.iter().filter_map(notify::for_event) {
                                notify::show(&app, &note);
                            }
                        })
                        .await;
                    tracing::info!("monitor stopped");
                });
                let _ = finished.send(());
            })?;
        *lock(&self.requests) = Some(requests);
        *lock(&self.stop) = Some((stop, ended));
        Ok(())
    }

    fn set_problem(&self, problem: String) {
        tracing::error!("{problem}");
        lock(&self.extras).problem = Some(problem);
        self.refresh();
    }

    fn on_tick(&self, snap: &Snapshot, events: &[Event]) {
        self.send_to_window(snap, events);
        let services = &snap.services;
        let mut latest = Latest {
            summary: summary::summarize(snap, now_secs()),
            ollama_controllable: controllable(
                services.ollama.service.managed,
                services.ollama.service.state,
            ),
            app_controllable: controllable(services.app.managed, services.app.state),
            models_loaded: services.ollama.models.len(),
        };
        {
            let mut extras = lock(&self.extras);
            // The machine's figures change a little every sample; redrawing
            // the menu for each costs more than the sample itself, so they
            // are shown anew every SYSTEM_LINE_EVERY (the services' lines and
            // the icon follow every sample).
            let now = Instant::now();
            match (&extras.latest, extras.system_shown_at) {
                (Some(prev), Some(at)) if now.duration_since(at) < SYSTEM_LINE_EVERY => {
                    latest.summary.system.clone_from(&prev.summary.system);
                }
                _ => extras.system_shown_at = Some(now),
            }
            extras.latest = Some(latest);
            extras.pending.clear();
        }
        self.refresh();
    }

    /// Shows the current state in the tray. The tray is only ever touched
    /// on the main thread, and this never waits for it: a thread that waited
    /// for the main thread while holding a lock the main thread wants would
    /// hang the app.
    pub fn refresh(&self) {
        let state = {
            let extras = lock(&self.extras);
            menu_state(&extras, now_secs())
        };
        let tray = Arc::clone(&self.tray);
        if let Err(error) = self.app.run_on_main_thread(move || tray.show(&state)) {
            tracing::debug!(%error, "the app is exiting; the tray is not updated");
        }
    }

    /// Samples go to `feed` from now on (`None`: to nobody).
    pub fn set_feed(&self, feed: Option<Feed>) {
        *lock(&self.feed) = feed;
    }

    fn send_to_window(&self, snap: &Snapshot, events: &[Event]) {
        let mut feed = lock(&self.feed);
        let Some(open) = feed.as_ref() else { return };
        let tick = ToWindow::Tick {
            snapshot: Box::new(snap.clone()),
            events: events.to_vec(),
        };
        if !open.send(&tick) {
            tracing::info!("the dashboard closed; samples are no longer sent");
            *feed = None;
        }
    }

    /// Sends `request` to the monitor; false when it is not running.
    pub fn ask(&self, request: Request) -> bool {
        lock(&self.requests)
            .as_ref()
            .is_some_and(|r| r.send(request).is_ok())
    }

    /// Shows `text` instead of line `index` until the next sample.
    pub fn set_pending(&self, index: usize, text: String) {
        lock(&self.extras).pending.push((index, text));
        self.refresh();
    }

    /// The backup line while a backup runs; `None` when it ends.
    pub fn set_backup_line(&self, line: Option<String>) {
        lock(&self.extras).backup = line;
        self.refresh();
    }

    /// Whether a backup started from the menu is running.
    pub fn backing_up(&self) -> bool {
        lock(&self.extras).backup.is_some()
    }

    /// Records the alert pause shown in the menu.
    pub fn set_mute_until(&self, until: Option<u64>) {
        lock(&self.extras).mute_until = until;
        self.refresh();
    }

    /// Stops the monitor thread and waits a little for it to save the alert
    /// state (not for ever: quitting must not hang on a slow probe).
    pub fn stop(&self) {
        lock(&self.requests).take();
        if let Some((stop, ended)) = lock(&self.stop).take() {
            let _ = stop.send(true);
            if ended.recv_timeout(Duration::from_secs(2)).is_err() {
                tracing::warn!("the monitor did not stop within 2 s; exiting anyway");
            }
        }
    }
}

/// Gardener may start, stop and restart a service it installed, when its
/// service manager can be asked.
fn controllable(managed: bool, state: RunState) -> bool {
    managed && !matches!(state, RunState::NotInstalled | RunState::Unknown)
}

fn menu_state(extras: &Extras, now: u64) -> MenuState {
    let mut state = match (&extras.latest, &extras.problem) {
        (_, Some(problem)) => MenuState::problem(problem),
        (None, None) => MenuState::checking(),
        (Some(l), None) => MenuState {
            overall: l.summary.overall,
            lines: [
                l.summary.ollama.clone(),
                l.summary.app.clone(),
                l.summary.system.clone(),
                l.summary.backup.clone(),
            ],
            restart_ollama: l.ollama_controllable,
            restart_app: l.app_controllable,
            unload_models: l.models_loaded > 0,
            back_up: l.ollama_controllable || l.app_controllable,
            paused_until: None,
        },
    };
    if state.overall == Overall::NotSetUp && extras.latest.is_some() {
        state.lines[0] = "Gardener is not set up yet".into();
        state.lines[1] = "Choose Set Up… to install Ollama and the app".into();
    }
    for (index, text) in &extras.pending {
        if let Some(line) = state.lines.get_mut(*index) {
            line.clone_from(text);
        }
    }
    if let Some(line) = &extras.backup {
        state.lines[3].clone_from(line);
        state.back_up = false;
    }
    state.paused_until = extras.mute_until.filter(|&until| until > now);
    state
}

/// The `Live` in Tauri's state, when the app has one.
pub fn get<R: Runtime>(app: &AppHandle<R>) -> Option<Arc<Live<R>>> {
    app.try_state::<Arc<Live<R>>>().map(|s| Arc::clone(&s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extras() -> Extras {
        Extras {
            latest: Some(Latest {
                summary: Summary {
                    overall: Overall::Ok,
                    ollama: "Ollama — healthy".into(),
                    app: "App — healthy".into(),
                    system: "CPU 1% · Memory 2% · Disk 3%".into(),
                    backup: "Last backup — never".into(),
                },
                ollama_controllable: true,
                app_controllable: false,
                models_loaded: 0,
            }),
            ..Extras::default()
        }
    }

    #[test]
    fn the_menu_follows_the_latest_sample() {
        let state = menu_state(&extras(), 100);
        assert_eq!(state.overall, Overall::Ok);
        assert_eq!(state.lines[0], "Ollama — healthy");
        assert!(state.restart_ollama && !state.restart_app);
        assert!(!state.unload_models, "no model is loaded");
        assert!(state.back_up);
        assert_eq!(state.paused_until, None);
    }

    #[test]
    fn actions_in_progress_replace_their_lines() {
        let mut e = extras();
        e.pending.push((0, "Ollama — restarting…".into()));
        e.backup = Some("Backing up… 45%".into());
        let state = menu_state(&e, 100);
        assert_eq!(state.lines[0], "Ollama — restarting…");
        assert_eq!(state.lines[3], "Backing up… 45%");
        assert!(!state.back_up, "one backup at a time");
    }

    #[test]
    fn a_new_monitor_keeps_a_running_backup_and_nothing_else() {
        let mut e = extras();
        e.backup = Some("Backing up… 45%".into());
        e.pending.push((0, "Ollama — restarting…".into()));
        e.problem = Some("old".into());
        let e = e.for_new_monitor();
        assert_eq!(e.backup.as_deref(), Some("Backing up… 45%"));
        assert!(e.latest.is_none() && e.pending.is_empty() && e.problem.is_none());
    }

    #[test]
    fn a_pause_shows_until_it_ends() {
        let mut e = extras();
        e.mute_until = Some(200);
        assert_eq!(menu_state(&e, 100).paused_until, Some(200));
        assert_eq!(menu_state(&e, 200).paused_until, None);
    }

    #[test]
    fn before_setup_the_menu_says_what_to_do() {
        let mut e = extras();
        if let Some(l) = &mut e.latest {
            l.summary.overall = Overall::NotSetUp;
        }
        let state = menu_state(&e, 0);
        assert_eq!(state.lines[0], "Gardener is not set up yet");
        assert!(state.lines[1].contains("Set Up…"), "{}", state.lines[1]);
        assert_eq!(state.lines[2], "CPU 1% · Memory 2% · Disk 3%");
    }

    #[test]
    fn a_service_manager_that_cannot_be_asked_cannot_be_told_to_act() {
        assert!(controllable(true, RunState::Running));
        assert!(controllable(true, RunState::Failed));
        assert!(!controllable(true, RunState::Unknown));
        assert!(!controllable(true, RunState::NotInstalled));
        assert!(!controllable(false, RunState::Running));
    }

    #[test]
    fn a_config_problem_disables_the_actions() {
        let mut e = extras();
        e.problem = Some("Configuration problem: bad key".into());
        let state = menu_state(&e, 0);
        assert_eq!(state.overall, Overall::Warning);
        assert_eq!(state.lines[0], "Configuration problem: bad key");
        assert!(!state.restart_ollama && !state.restart_app && !state.back_up);
        let checking = menu_state(&Extras::default(), 0);
        assert_eq!(checking.lines[0], "Checking status…");
    }
}
