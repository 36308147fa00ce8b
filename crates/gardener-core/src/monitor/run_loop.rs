//! The monitor loop: sample → alert engine → events → sinks, once per
//! `[monitor] interval_secs`, with the memory watchdog and log rotation
//! riding on the same tick. The CLI's `status` takes one sample with the same
//! code, and the menu-bar app runs the same loop.

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::MissedTickBehavior;

use super::alerts::{AlertStore, Engine, Event, EventKind};
use super::history::{History, Point};
use super::probe::{ProbeError, Prober};
use super::sampler::Sampler;
use super::snapshot::{LoadedModel, Snapshot};
use crate::config::WatchdogAction;
use crate::context::Context;
use crate::error::{ErrorCode, Failure};
use crate::services::{Action, ServiceId};

/// How often the services' log files are checked for rotation.
const ROTATE_EVERY: Duration = Duration::from_secs(60);

/// The rule whose firing runs the memory watchdog.
pub const WATCHDOG_RULE: &str = "ollama_rss";

/// Errors starting the monitor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The HTTP client could not be built.
    #[error("cannot create the HTTP client: {0}")]
    Client(#[from] ProbeError),
}

impl Error {
    /// Stable machine-readable code for JSON output and the UI.
    pub fn code(&self) -> ErrorCode {
        ErrorCode::Monitor
    }
}

/// Result alias for this module.
pub type Result<T> = std::result::Result<T, Error>;

/// What the watchdog did about Ollama's memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchdogOutcome {
    /// Only the notification (the configured action is `notify`).
    Notified,
    /// These models were unloaded.
    Unloaded(Vec<String>),
    /// Nothing could be unloaded without unloading the model in use.
    NothingIdle,
    /// Ollama was restarted.
    Restarted,
    /// The action failed.
    Failed(String),
}

/// Something asked of a running monitor between two ticks. Each is done on
/// the monitor's own task, so a sample never lands in the middle of a
/// restart it asked for, and each is followed by a fresh sample.
#[derive(Debug)]
#[non_exhaustive]
pub enum Request {
    /// Sample now instead of at the next tick.
    SampleNow,
    /// Start, stop or restart one managed service; the reply carries the
    /// failure with its code (the install or service error's).
    Control {
        /// What to do.
        action: Action,
        /// To which service.
        service: ServiceId,
        /// Where the outcome goes.
        reply: oneshot::Sender<std::result::Result<(), Failure>>,
    },
    /// Unload every loaded model from Ollama, or only the one named; the
    /// reply lists those unloaded, or says why not (Ollama unreachable, the
    /// model not loaded, an unload refused: see [`super::unload::Error`]).
    UnloadModels {
        /// Only this model (`None`: all of them).
        only: Option<String>,
        /// Where the outcome goes.
        reply: oneshot::Sender<std::result::Result<Vec<String>, Failure>>,
    },
    /// Use these `[alerts]` settings from now on (the mute, say).
    Alerts(Box<crate::config::AlertsConfig>),
    /// The recent past, for a window opened now: the history points since
    /// `since_ms` (milliseconds since the epoch), the alert events the
    /// engine remembers, and the newest snapshot.
    Recent {
        /// The oldest point wanted.
        since_ms: u64,
        /// Where they go.
        reply: oneshot::Sender<Recent>,
    },
}

/// What [`Request::Recent`] answers.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Recent {
    /// Oldest first.
    pub history: Vec<Point>,
    /// Oldest first.
    pub events: Vec<Event>,
    /// The newest sample, when there has been one.
    pub latest: Option<Snapshot>,
}

impl WatchdogOutcome {
    /// What was done, to follow the alert's sentence ("" for a notice only).
    pub fn sentence(&self) -> String {
        match self {
            Self::Notified => String::new(),
            Self::Unloaded(names) => format!("; unloaded {} to free memory", names.join(", ")),
            Self::NothingIdle => "; only the model in use is loaded, so none was unloaded".into(),
            Self::Restarted => "; Ollama was restarted".into(),
            Self::Failed(why) => format!("; the watchdog could not act: {why}"),
        }
    }
}

/// The samples, alert state and history of one running monitor.
pub struct Monitor {
    sampler: Sampler,
    engine: Engine,
    store: Option<AlertStore>,
    history: History,
    latest: Option<Snapshot>,
    rotated_at: Option<Instant>,
    watchdog_action: WatchdogAction,
}

impl Monitor {
    /// A monitor for `ctx`. With `persist`, alert state and history are
    /// read from and written to the data directory (the long-running
    /// monitor); without, they are only read (`status`).
    pub fn new(ctx: Context, persist: bool) -> Result<Self> {
        let manager = ctx.manager();
        Self::with_manager(ctx, manager, persist)
    }

    /// Same, with a given service manager (tests).
    pub fn with_manager(
        ctx: Context,
        manager: Box<dyn crate::services::ServiceManager>,
        persist: bool,
    ) -> Result<Self> {
        let store = AlertStore::new(&ctx.data_dir);
        let saved = store.load();
        let engine = Engine::new(&ctx.config.alerts, saved);
        let history = History::new(
            ctx.config.monitor.history_secs,
            ctx.config.monitor.interval_secs,
        );
        let watchdog_action = ctx.config.alerts.ollama_rss.action;
        let sampler = Sampler::new(ctx, manager)?;
        Ok(Self {
            sampler,
            engine,
            store: persist.then_some(store),
            history,
            latest: None,
            rotated_at: None,
            watchdog_action,
        })
    }

    /// One snapshot with alert states, for `gardener status`: primes the CPU
    /// counters, waits long enough for a meaningful CPU figure, then samples.
    pub async fn status(ctx: Context) -> Result<Snapshot> {
        let mut m = Self::new(ctx, false)?;
        m.prime().await;
        Ok(m.tick().await.0)
    }

    /// Reads the CPU counters and waits the minimum for a CPU percentage.
    pub async fn prime(&mut self) {
        self.sampler.prime();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    /// The history ring.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The newest snapshot.
    pub fn latest(&self) -> Option<&Snapshot> {
        self.latest.as_ref()
    }

    /// The alert engine (for its event history).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The sampler (its context, manager and prober).
    pub fn sampler(&self) -> &Sampler {
        &self.sampler
    }

    /// Samples, evaluates the alert rules, records history, runs the
    /// watchdog when its rule fires, and rotates logs when due.
    pub async fn tick(&mut self) -> (Snapshot, Vec<Event>) {
        let mut snap = self.sampler.sample().await;
        let now_secs = snap.taken_at_ms / 1000;
        let mut events = self.engine.evaluate(&snap, now_secs);
        snap.alerts = self.engine.statuses();
        self.history.push(Point::of(&snap));
        if let Some(store) = &self.store {
            if !events.is_empty()
                && let Err(e) = store.save(&self.engine)
            {
                tracing::warn!(error = %e, "cannot save the alert state");
            }
            if self.rotated_at.is_none_or(|t| t.elapsed() >= ROTATE_EVERY) {
                self.rotated_at = Some(Instant::now());
                rotate_logs(self.sampler.context());
            }
        }
        for e in &mut events {
            if e.rule == WATCHDOG_RULE && e.kind == EventKind::Firing {
                let outcome = self.watchdog(&snap.services.ollama.models).await;
                tracing::warn!(?outcome, "memory watchdog acted on Ollama");
                // The notification says what was done about it.
                e.message.push_str(&outcome.sentence());
            }
        }
        self.latest = Some(snap.clone());
        (snap, events)
    }

    /// Runs the configured action for Ollama using more memory than its budget.
    pub async fn watchdog(&mut self, loaded: &[LoadedModel]) -> WatchdogOutcome {
        match self.watchdog_action {
            WatchdogAction::Notify => WatchdogOutcome::Notified,
            WatchdogAction::UnloadIdle => {
                let host = self.sampler.context().config.ollama.host.clone();
                let idle = idle_models(loaded);
                if idle.is_empty() {
                    return WatchdogOutcome::NothingIdle;
                }
                let mut done = Vec::new();
                for m in idle {
                    match self.sampler.prober().unload(&host, &m).await {
                        Ok(()) => done.push(m),
                        Err(e) => return WatchdogOutcome::Failed(format!("unload {m}: {e}")),
                    }
                }
                WatchdogOutcome::Unloaded(done)
            }
            WatchdogAction::Restart => {
                if !self.sampler.context().manages_ollama() {
                    return WatchdogOutcome::Failed(
                        "Ollama is not managed by Gardener; not restarting it".into(),
                    );
                }
                let result = self.sampler.manager().run(
                    Action::Restart,
                    ServiceId::Ollama,
                    Duration::from_secs(30),
                );
                self.sampler.invalidate();
                match result {
                    Ok(()) => WatchdogOutcome::Restarted,
                    Err(e) => WatchdogOutcome::Failed(e.to_string()),
                }
            }
        }
    }

    /// Ticks every `[monitor] interval_secs` until `shutdown` turns true (or
    /// its sender is dropped), handing each snapshot and its events to
    /// `on_tick`. A tick that overruns skips the missed ones rather than
    /// bursting to catch up. `requests`, when given, are served between
    /// ticks, each followed by a sample.
    pub async fn run(
        &mut self,
        mut shutdown: watch::Receiver<bool>,
        mut requests: Option<mpsc::UnboundedReceiver<Request>>,
        mut on_tick: impl FnMut(&Snapshot, &[Event]),
    ) {
        let every = Duration::from_secs(self.sampler.context().config.monitor.interval_secs);
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
        self.sampler.prime();
        loop {
            let request = async {
                match requests.as_mut() {
                    Some(r) => r.recv().await,
                    None => std::future::pending().await,
                }
            };
            // In this order: stopping is never held up, and a person's
            // request goes before a routine tick.
            tokio::select! {
                biased;
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                    continue;
                }
                request = request => match request {
                    Some(request) => {
                        self.serve(request).await;
                        // The sample below stands in for the next tick.
                        interval.reset();
                    }
                    // Every sender is gone: no more requests, keep ticking.
                    None => {
                        requests = None;
                        continue;
                    }
                },
                _ = interval.tick() => {}
            }
            let (snap, events) = self.tick().await;
            on_tick(&snap, &events);
        }
        if let Some(store) = &self.store
            && let Err(e) = store.save(&self.engine)
        {
            tracing::warn!(error = %e, "cannot save the alert state");
        }
    }

    /// Does what `request` asks; the sample after it is the caller's.
    async fn serve(&mut self, request: Request) {
        match request {
            Request::SampleNow => {}
            Request::Control {
                action,
                service,
                reply,
            } => {
                let ctx = self.sampler.context();
                let result =
                    crate::install::control(ctx, self.sampler.manager(), action, &[service])
                        .map(drop)
                        .map_err(Failure::from);
                self.sampler.invalidate();
                // The asker may have gone away; the outcome is logged anyway.
                if let Err(e) = &result {
                    tracing::warn!(%service, ?action, error = %e, "service action failed");
                }
                let _ = reply.send(result);
            }
            Request::UnloadModels { only, reply } => {
                let ctx = self.sampler.context();
                let result = super::unload::unload(
                    self.sampler.prober(),
                    &ctx.config.ollama.host,
                    only.as_deref(),
                )
                .await
                .map_err(Failure::from);
                let _ = reply.send(result);
            }
            Request::Alerts(config) => self.engine.reconfigure(&config),
            Request::Recent { since_ms, reply } => {
                let _ = reply.send(Recent {
                    history: self.history.since(since_ms),
                    events: self.engine.history().to_vec(),
                    latest: self.latest.clone(),
                });
            }
        }
    }
}

/// Models that can go without disturbing work in progress: all but the most
/// recently used one (Ollama pushes a model's expiry forward each time it is
/// used, so the latest expiry is the one in use).
fn idle_models(loaded: &[LoadedModel]) -> Vec<String> {
    let newest = loaded
        .iter()
        .enumerate()
        .max_by(|(_, a), (_, b)| a.expires_at.cmp(&b.expires_at))
        .map(|(i, _)| i);
    loaded
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != newest)
        .map(|(_, m)| m.name.clone())
        .collect()
}

fn rotate_logs(ctx: &Context) {
    for (path, result) in crate::logs::rotate_services(ctx) {
        match result {
            Ok(Some(_)) => tracing::info!(path = %path.display(), "rotated log"),
            Ok(None) => {}
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot rotate log"),
        }
    }
}

/// A probe client for one-off use outside a monitor (the `models` command).
pub fn prober(ctx: &Context) -> Result<Prober> {
    Ok(Prober::new(Duration::from_secs(
        ctx.config.monitor.probe_timeout_secs,
    ))?)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::Config;
    use crate::paths::Paths;
    use crate::services::testing::NoServices;

    /// A monitor's context whose probes fail at once and whose interval is an hour.
    pub(crate) fn context(home: &std::path::Path) -> Context {
        // Nothing listens on port 9: probes fail at once.
        let toml = "[ollama]\nhost = \"127.0.0.1:9\"\n[app]\nhealth_url = \"http://127.0.0.1:9/\"\n\
                    [monitor]\ninterval_secs = 3600\nmodels_every_secs = 3600\nhistory_secs = 86400\n";
        let file = home.join("gardener.toml");
        let config = Config::parse(toml, &file).unwrap();
        let paths = Paths::linux(
            home.to_path_buf(),
            &home.join(".config"),
            &home.join(".local/share"),
            &home.join(".local/state"),
        );
        Context::new(paths, file, true, config)
    }

    #[test]
    fn requests_are_served_between_ticks_each_followed_by_a_sample() {
        let home = tempfile::tempdir().unwrap();
        // It fails the test if anything is started, stopped or restarted.
        let bare = NoServices {
            dir: PathBuf::from("/nonexistent"),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut monitor =
                Monitor::with_manager(context(home.path()), Box::new(bare), false).unwrap();
            let (requests, rx) = mpsc::unbounded_channel();
            let (stop, shutdown) = watch::channel(false);
            let (control, control_done) = oneshot::channel();
            let (unload, unload_done) = oneshot::channel();
            let mut muted = mute_for_a_day();
            muted.enabled = true;
            requests.send(Request::SampleNow).unwrap();
            requests.send(Request::Alerts(Box::new(muted))).unwrap();
            requests
                .send(Request::Control {
                    action: Action::Restart,
                    service: ServiceId::App,
                    reply: control,
                })
                .unwrap();
            requests
                .send(Request::UnloadModels {
                    only: None,
                    reply: unload,
                })
                .unwrap();
            let (recent, recent_done) = oneshot::channel();
            requests
                .send(Request::Recent {
                    since_ms: 0,
                    reply: recent,
                })
                .unwrap();
            let mut ticks = 0;
            // Requests go before the interval's first tick, and each sample
            // after one resets the hour-long interval: all five samples come
            // from the requests.
            let run = monitor.run(shutdown, Some(rx), |_, _| {
                ticks += 1;
                if ticks == 5 {
                    let _ = stop.send(true);
                }
            });
            tokio::time::timeout(Duration::from_secs(30), run)
                .await
                .expect("five samples well within the hour-long interval");
            assert_eq!(ticks, 5);
            assert!(monitor.engine().muted_at(sampler_now()));
            // Gardener installed nothing, so it refuses to restart the app.
            let refused = control_done.await.unwrap().unwrap_err();
            assert!(refused.message.contains("not installed"), "{refused}");
            assert_eq!(refused.code, ErrorCode::NotInstalled);
            let unreachable = unload_done.await.unwrap().unwrap_err();
            assert!(
                unreachable.message.contains("cannot reach Ollama"),
                "{unreachable}"
            );
            assert_eq!(unreachable.code, ErrorCode::OllamaUnreachable);
            // Asked after four samples: it sees those four, the newest last.
            let recent = recent_done.await.unwrap();
            assert_eq!(recent.history.len(), 4);
            let newest = recent.latest.expect("a sample was taken");
            assert_eq!(recent.history[3].t_ms, newest.taken_at_ms);
            assert!(recent.history.windows(2).all(|w| w[0].t_ms <= w[1].t_ms));
        });
    }

    fn mute_for_a_day() -> crate::config::AlertsConfig {
        let until = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24);
        crate::config::AlertsConfig {
            mute_until: Some(until.round(jiff::Unit::Second).unwrap().to_string()),
            ..crate::config::AlertsConfig::default()
        }
    }

    fn sampler_now() -> u64 {
        super::super::sampler::now_ms() / 1000
    }

    fn model(name: &str, expires: &str) -> LoadedModel {
        LoadedModel {
            name: name.into(),
            expires_at: Some(expires.into()),
            ..LoadedModel::default()
        }
    }

    #[test]
    fn the_watchdog_says_what_it_did() {
        assert_eq!(WatchdogOutcome::Notified.sentence(), "");
        assert_eq!(
            WatchdogOutcome::Unloaded(vec!["a".into(), "b".into()]).sentence(),
            "; unloaded a, b to free memory"
        );
        assert!(
            WatchdogOutcome::Failed("x".into())
                .sentence()
                .ends_with(": x")
        );
    }

    #[test]
    fn the_most_recently_used_model_is_not_idle() {
        let loaded = [
            model("a", "2026-11-25T10:05:00Z"),
            model("b", "2026-11-25T10:09:00Z"),
            model("c", "2026-11-25T10:01:00Z"),
        ];
        assert_eq!(idle_models(&loaded), ["a", "c"]);
        assert!(idle_models(&loaded[..1]).is_empty());
        assert!(idle_models(&[]).is_empty());
    }
}
