//! The menu-bar process's one owner of state: a loop on a thread of its own
//! that takes [`Event`]s one at a time — a sample, a menu item chosen, a
//! window's process ended or asking for something, a notification clicked,
//! off-loop work done — and alone holds the monitor, what the menu shows,
//! the windows' processes and the notifications shown. The tray, the
//! notifications, the windows' pipes and the workers only send events or
//! draw; none of them keeps state of its own or calls another.

mod menu;
pub(crate) mod work;

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use gardener_core::Platform;
use gardener_core::config::AlertsConfig;
use gardener_core::context::Context;
use gardener_core::monitor::alerts;
use gardener_core::monitor::host::MonitorThread;
use gardener_core::monitor::recent;
use gardener_core::monitor::run_loop::{Recent, Request};
use gardener_core::monitor::{Monitor, Snapshot};
use gardener_core::services::{Action, ServiceId};
use tauri::{AppHandle, Runtime};
use tokio::sync::oneshot;

use crate::args::Window;
use crate::notifications::{self, Note, Shown};
use crate::tray::{MenuItem, Tray};
use crate::window::View;
use crate::window_pipe::{self, Ask, Asked, Feed, Outcome, ToWindow};
use crate::window_process;
use menu::Extras;

/// How long quitting waits for the monitor to save its alert state.
const MONITOR_STOP_WAIT: Duration = Duration::from_secs(2);

/// Something the menu bar's loop takes in.
#[derive(Debug)]
pub enum Event {
    /// A sample and the alert events it raised.
    Tick(Box<Snapshot>, Vec<alerts::Event>),
    /// A menu item was chosen.
    Menu(MenuItem),
    /// Open the dashboard at this view (a second launch, `--open`).
    ShowDashboard(View),
    /// Open the setup window.
    ShowSetup,
    /// A notification was clicked (its id, when the desktop says).
    NotificationClicked(Option<i32>),
    /// A window's process ended.
    WindowExited { window: Window, pid: u32 },
    /// The dashboard asked for something.
    WindowAsked(Ask),
    /// The monitor answered a request (`None`: it stopped first).
    Answered { to: Asker, answer: Option<Outcome> },
    /// The monitor's recent past for the dashboard with this pid.
    RecentForWindow { pid: u32, recent: Box<Recent> },
    /// The menu's backup reached this point.
    BackupProgress(String),
    /// The menu's backup ended; what to tell.
    BackupEnded(Note),
    /// The alert pause was written to gardener.toml (the new settings).
    AlertsPaused(Result<Box<AlertsConfig>, String>),
    /// The app is exiting: stop the monitor, say so, and end the loop.
    Quit(Sender<()>),
}

/// Who waits for the monitor's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asker {
    /// The dashboard's ask with this id.
    Window(u64),
    /// The menu's Restart item.
    Restart(ServiceId),
    /// The menu's Unload Models item.
    Unload,
}

/// Where events for the menu bar's loop go; cheap to clone.
#[derive(Debug, Clone)]
pub struct Events(Sender<Event>);

impl Events {
    /// Hands `event` to the loop (dropped, and logged, once it has ended).
    pub fn send(&self, event: Event) {
        if self.0.send(event).is_err() {
            tracing::debug!("the menu bar's loop has ended; an event was dropped");
        }
    }

    /// Asks the loop to stop the monitor and end; waits up to `within`.
    pub fn quit(&self, within: Duration) {
        let (done, stopped) = std::sync::mpsc::channel();
        self.send(Event::Quit(done));
        if stopped.recv_timeout(within).is_err() {
            tracing::warn!("the monitor did not stop in time; exiting anyway");
        }
    }
}

/// A new loop's inbox and the way to it.
pub fn channel() -> (Events, Receiver<Event>) {
    let (tx, rx) = std::sync::mpsc::channel();
    (Events(tx), rx)
}

/// Starts the loop on a thread of its own; it starts the monitor first.
pub fn start<R: Runtime>(
    app: &AppHandle<R>,
    tray: Tray<R>,
    events: &Events,
    inbox: Receiver<Event>,
) -> std::io::Result<()> {
    let mut owner = Owner {
        app: app.clone(),
        events: events.clone(),
        tray: Arc::new(tray),
        menu: Extras::default(),
        monitor: None,
        setup: None,
        dashboard: None,
        shown: Shown::default(),
    };
    std::thread::Builder::new()
        .name("menu-bar".into())
        .spawn(move || {
            owner.start_monitor();
            for event in inbox {
                if !owner.take(event) {
                    break;
                }
            }
        })?;
    Ok(())
}

/// The dashboard's process while it runs.
struct OpenDashboard {
    pid: u32,
    feed: Feed,
    /// Samples go to it (once it has had the recent past).
    fed: bool,
}

/// Everything the menu-bar process keeps, owned by its loop.
struct Owner<R: Runtime> {
    app: AppHandle<R>,
    events: Events,
    tray: Arc<Tray<R>>,
    menu: Extras,
    monitor: Option<MonitorThread>,
    /// The setup window's process while it runs.
    setup: Option<u32>,
    dashboard: Option<OpenDashboard>,
    shown: Shown,
}

impl<R: Runtime> Owner<R> {
    /// Takes in one event; false when the loop should end.
    fn take(&mut self, event: Event) -> bool {
        match event {
            Event::Tick(snapshot, events) => self.on_tick(&snapshot, &events),
            Event::Menu(item) => self.on_menu(item),
            Event::ShowDashboard(view) => self.show_dashboard(view),
            Event::ShowSetup => self.show_setup(),
            Event::NotificationClicked(id) => {
                let view = self.shown.view_of(id);
                tracing::info!(view = view.name(), "notification clicked");
                self.show_dashboard(view);
            }
            Event::WindowExited { window, pid } => self.on_window_exited(window, pid),
            Event::WindowAsked(ask) => self.on_window_asked(ask),
            Event::Answered { to, answer } => self.on_answer(to, answer),
            Event::RecentForWindow { pid, recent } => self.on_recent(pid, recent),
            Event::BackupProgress(line) => {
                if self.menu.backup.is_some() {
                    self.menu.backup = Some(line);
                    self.draw();
                }
            }
            Event::BackupEnded(note) => {
                self.menu.backup = None;
                // So that the menu shows the new "last backup" at once.
                self.ask(Request::SampleNow);
                self.draw();
                self.notify(note);
            }
            Event::AlertsPaused(written) => self.on_alerts_paused(written),
            Event::Quit(done) => {
                self.stop_monitor();
                let _ = done.send(());
                return false;
            }
        }
        true
    }

    fn on_menu(&mut self, item: MenuItem) {
        tracing::info!(?item, "chosen from the tray menu");
        match item {
            MenuItem::Restart(service) => {
                let line = (
                    work::line_of(service),
                    format!("{} — restarting…", work::short_name(service)),
                );
                self.menu.pending.push(line);
                self.draw();
                self.control(Asker::Restart(service), Action::Restart, service);
            }
            MenuItem::UnloadModels => self.unload(Asker::Unload, None),
            MenuItem::UnloadModel(model) => self.unload(Asker::Unload, Some(model)),
            MenuItem::BackUp => self.back_up(),
            MenuItem::PauseAlerts(pause) => {
                if let Err(error) = work::pause_alerts(&self.events, pause) {
                    tracing::error!(%error, "cannot start the thread that pauses alerts");
                }
            }
            MenuItem::OpenLogs => {
                if let Some(note) = work::open_logs(&self.app) {
                    self.notify(note);
                }
            }
            MenuItem::SetUp => self.show_setup(),
            MenuItem::Dashboard(view) => self.show_dashboard(view),
            MenuItem::Quit => self.app.exit(0),
        }
    }

    fn on_tick(&mut self, snapshot: &Snapshot, events: &[alerts::Event]) {
        self.feed_window(snapshot, events);
        self.menu.take_sample(snapshot, Instant::now());
        self.draw();
        for note in events.iter().filter_map(notifications::for_event) {
            self.notify(note);
        }
    }

    /// Sends the sample to the dashboard, if one is open and has had the
    /// recent past.
    fn feed_window(&mut self, snapshot: &Snapshot, events: &[alerts::Event]) {
        let Some(open) = self.dashboard.as_mut().filter(|d| d.fed) else {
            return;
        };
        let tick = ToWindow::Tick {
            snapshot: Box::new(snapshot.clone()),
            events: events.to_vec(),
        };
        if !open.feed.send(&tick) {
            tracing::info!("the dashboard closed; samples are no longer sent");
            open.fed = false;
        }
    }

    /// Shows what the menu shows now. The tray is only ever touched on the
    /// main thread, and the loop never waits for it.
    fn draw(&self) {
        let state = menu::menu_state(&self.menu, menu::now_secs());
        let tray = Arc::clone(&self.tray);
        if let Err(error) = self.app.run_on_main_thread(move || tray.show(&state)) {
            tracing::debug!(%error, "the app is exiting; the tray is not updated");
        }
    }

    fn notify(&mut self, note: Note) {
        let id = self.shown.record(note.view);
        notifications::show(&self.app, id, &note);
    }

    fn back_up(&mut self) {
        if self.menu.backup.is_some() {
            return;
        }
        self.menu.backup = Some("Backing up…".into());
        if let Err(error) = work::back_up(&self.events) {
            tracing::error!(%error, "cannot start the backup thread");
            self.menu.backup = None;
        }
        self.draw();
    }

    fn on_alerts_paused(&mut self, written: Result<Box<AlertsConfig>, String>) {
        match written {
            Ok(alerts) => {
                self.menu.mute_until = alerts.mute_until_secs();
                self.ask(Request::Alerts(alerts));
                self.draw();
            }
            Err(why) => self.notify(Note {
                title: "Could not change the alert pause".into(),
                body: why,
                view: View::Services,
            }),
        }
    }

    /// Stops the monitor, if one runs, and starts it again from the config
    /// as it is now; a config that does not load leaves it off and the menu
    /// says why. What the menu showed of the old monitor goes.
    fn start_monitor(&mut self) {
        self.stop_monitor();
        self.menu = std::mem::take(&mut self.menu).for_new_monitor();
        let started = Context::load(None, Platform::current())
            .map_err(|e| format!("Configuration problem: {e}"))
            .and_then(|ctx| {
                self.menu.mute_until = ctx.config.alerts.mute_until_secs();
                let monitor = Monitor::new(ctx, true)
                    .map_err(|e| format!("The monitor did not start: {e}"))?;
                let events = self.events.clone();
                MonitorThread::spawn(monitor, move |snapshot, alerts| {
                    events.send(Event::Tick(Box::new(snapshot.clone()), alerts.to_vec()));
                })
                .map_err(|e| format!("The monitor did not start: {e}"))
            });
        match started {
            Ok(monitor) => self.monitor = Some(monitor),
            Err(problem) => {
                tracing::error!("{problem}");
                self.menu.problem = Some(problem);
            }
        }
        self.draw();
    }

    /// Stops the monitor and waits a little for it to save the alert state
    /// (not for ever: quitting must not hang on a slow probe).
    fn stop_monitor(&mut self) {
        if let Some(monitor) = self.monitor.take()
            && !monitor.stop(MONITOR_STOP_WAIT)
        {
            tracing::warn!("the monitor did not stop within 2 s; going on without it");
        }
    }

    /// Hands `request` to the monitor; false when none runs.
    fn ask(&self, request: Request) -> bool {
        self.monitor.as_ref().is_some_and(|m| m.ask(request))
    }

    /// Hands a request with a reply to the monitor; its answer comes back
    /// as [`Event::Answered`] for `to`.
    fn ask_for<T: Send + 'static>(
        &mut self,
        to: Asker,
        request: impl FnOnce(oneshot::Sender<T>) -> Request,
        outcome: impl FnOnce(T) -> Outcome + Send + 'static,
    ) {
        let (reply, answer) = oneshot::channel();
        if !self.ask(request(reply)) {
            return self.on_answer(to, None);
        }
        let events = self.events.clone();
        tauri::async_runtime::spawn(async move {
            let answer = answer.await.ok().map(outcome);
            events.send(Event::Answered { to, answer });
        });
    }

    fn control(&mut self, to: Asker, action: Action, service: ServiceId) {
        self.ask_for(
            to,
            |reply| Request::Control {
                action,
                service,
                reply,
            },
            |done| done.map(|()| Vec::new()),
        );
    }

    fn unload(&mut self, to: Asker, only: Option<String>) {
        self.ask_for(
            to,
            |reply| Request::UnloadModels { only, reply },
            |done| done,
        );
    }

    fn on_answer(&mut self, to: Asker, answer: Option<Outcome>) {
        match to {
            Asker::Window(id) => {
                let outcome = answer.unwrap_or_else(|| Err(window_pipe::not_running()));
                self.reply(id, outcome);
            }
            Asker::Restart(service) => {
                if let Some(note) = work::restart_news(service, answer) {
                    self.notify(note);
                }
            }
            Asker::Unload => self.notify(work::unload_news(answer)),
        }
    }

    fn reply(&self, id: u64, outcome: Outcome) {
        if let Some(open) = &self.dashboard {
            open.feed.send(&ToWindow::Reply { id, outcome });
        }
    }

    fn on_window_asked(&mut self, ask: Ask) {
        let to = Asker::Window(ask.id);
        match ask.asked {
            Asked::Control { action, service } => self.control(to, action, service),
            Asked::Unload { model } => self.unload(to, model),
            Asked::SampleNow => {
                let outcome = if self.ask(Request::SampleNow) {
                    Ok(Vec::new())
                } else {
                    Err(window_pipe::not_running())
                };
                self.reply(ask.id, outcome);
            }
            Asked::ConfigChanged => {
                self.start_monitor();
                self.reply(ask.id, Ok(Vec::new()));
            }
            Asked::OpenSetup => {
                self.show_setup();
                self.reply(ask.id, Ok(Vec::new()));
            }
            Asked::Notify { title, body, view } => {
                self.notify(Note { title, body, view });
                self.reply(ask.id, Ok(Vec::new()));
            }
            Asked::Working { on, text } => {
                self.menu.window_work = text.map(|t| (on, t));
                self.draw();
            }
        }
    }

    /// Opens the setup window in its own process, unless it is open already.
    /// When that process ends, the monitor starts over (setting up may have
    /// changed the config).
    fn show_setup(&mut self) {
        if let Some(pid) = self.setup {
            tracing::info!(pid, "the setup window is already open");
            return;
        }
        let events = self.events.clone();
        let ended = move |pid| {
            events.send(Event::WindowExited {
                window: Window::Setup,
                pid,
            })
        };
        match window_process::start_setup(ended) {
            Ok(pid) => self.setup = Some(pid),
            Err(error) => tracing::error!(%error, "cannot start the setup window's process"),
        }
    }

    /// Opens the dashboard at `view` in its own process, fed by the monitor;
    /// if it is open already, it turns to `view` instead.
    fn show_dashboard(&mut self, view: View) {
        if let Some(open) = &self.dashboard {
            tracing::info!(
                pid = open.pid,
                view = view.name(),
                "the dashboard is open: turning to the view"
            );
            open.feed.send(&ToWindow::Show { view });
            return;
        }
        let (asks, ends) = (self.events.clone(), self.events.clone());
        let asked = move |ask| asks.send(Event::WindowAsked(ask));
        let ended = move |pid| {
            let window = Window::Dashboard;
            ends.send(Event::WindowExited { window, pid });
        };
        let (pid, feed) = match window_process::start_dashboard(view, asked, ended) {
            Ok(started) => started,
            Err(error) => return tracing::error!(%error, "cannot start the dashboard's process"),
        };
        self.dashboard = Some(OpenDashboard {
            pid,
            feed,
            fed: false,
        });
        // Its first line is the recent past; samples follow.
        let (reply, answer) = oneshot::channel();
        let since_ms = recent::since_ms();
        if self.ask(Request::Recent { since_ms, reply }) {
            let events = self.events.clone();
            tauri::async_runtime::spawn(async move {
                let recent = Box::new(answer.await.unwrap_or_default());
                events.send(Event::RecentForWindow { pid, recent });
            });
        } else {
            // No monitor (config problem): the window shows that it has no figures.
            self.on_recent(pid, Box::default());
        }
    }

    fn on_recent(&mut self, pid: u32, recent: Box<Recent>) {
        if let Some(open) = self.dashboard.as_mut().filter(|d| d.pid == pid) {
            open.fed = open.feed.send(&ToWindow::Recent(recent));
        }
    }

    fn on_window_exited(&mut self, window: Window, pid: u32) {
        match window {
            Window::Setup if self.setup == Some(pid) => {
                self.setup = None;
                self.start_monitor();
            }
            Window::Dashboard if self.dashboard.as_ref().is_some_and(|d| d.pid == pid) => {
                self.dashboard = None;
                // Its work ended with it, whether or not it said so.
                if self.menu.window_work.take().is_some() {
                    self.draw();
                }
            }
            _ => {}
        }
    }
}
