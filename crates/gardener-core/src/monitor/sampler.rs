//! One sample of everything: service manager state (cached, re-read only when
//! something changed), process trees by pid, HTTP probes run concurrently,
//! and the machine's gauges. Cheap enough to run every few seconds.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::gauges::{Gauges, TreeUsage};
use super::probe::{Probed, Prober};
use super::snapshot::{
    InstalledModel, LoadedModel, OllamaSnapshot, RunState, ServiceSnapshot, Services, Snapshot,
    TargetCopies,
};
use crate::context::Context;
use crate::services::{
    LastExit, ServiceId, ServiceManager, ServiceState, ServiceStatus, status_or_unknown,
};

/// How long a service manager answer about a running service is trusted.
/// Asking costs a process spawn (`systemctl`, `launchctl`), many times the
/// rest of a tick, so it is asked again when the main pid vanishes (which is
/// how a death shows, restarted or not) or after this long.
const MANAGER_MAX_AGE: Duration = Duration::from_secs(300);

/// How long the answer for a stopped, failed or uninstalled service is
/// trusted: long enough not to spawn a process every tick for a service
/// someone stopped on purpose, short enough to notice it was started.
const STOPPED_MAX_AGE: Duration = Duration::from_secs(15);

struct Cached {
    status: ServiceStatus,
    at: Instant,
}

/// The version an Ollama gave, and which process of ours gave it (`None`:
/// one Gardener did not start). A version changes only with a new process,
/// so it is asked again when the pid changes, after Ollama stopped
/// answering, or every `models_every_secs`; `/api/ps`, asked every sample,
/// is the health check.
struct KnownVersion {
    pid: Option<u32>,
    at: Instant,
    text: String,
}

/// Takes snapshots for one config.
pub struct Sampler {
    ctx: Context,
    manager: Box<dyn ServiceManager>,
    prober: Prober,
    gauges: Gauges,
    cached: [Option<Cached>; 2],
    installed: Option<(Instant, Vec<InstalledModel>)>,
    version: Option<KnownVersion>,
    models_every: Duration,
    /// When the previous sample was taken (ms since the epoch).
    sampled_at: Option<u64>,
    /// Whether Ollama answered the previous sample's health check.
    ollama_answered: bool,
}

fn slot(id: ServiceId) -> usize {
    match id {
        ServiceId::Ollama => 0,
        ServiceId::App => 1,
    }
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Sampler {
    /// A sampler for `ctx`, driving services through `manager`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(
        ctx: Context,
        manager: Box<dyn ServiceManager>,
    ) -> Result<Self, super::probe::ProbeError> {
        let m = &ctx.config.monitor;
        let prober = Prober::new(Duration::from_secs(m.probe_timeout_secs))?;
        let models_every = Duration::from_secs(m.models_every_secs);
        let gauges = Gauges::new(ctx.data_dir.clone());
        Ok(Self {
            ctx,
            manager,
            prober,
            gauges,
            cached: [None, None],
            installed: None,
            version: None,
            models_every,
            sampled_at: None,
            ollama_answered: false,
        })
    }

    /// The config and paths this sampler watches.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// The service manager it asks.
    pub fn manager(&self) -> &dyn ServiceManager {
        self.manager.as_ref()
    }

    /// The HTTP client it probes with (also used to unload models).
    pub fn prober(&self) -> &Prober {
        &self.prober
    }

    /// Installed models as last listed (refreshed every `models_every_secs`).
    pub fn installed_models(&self) -> Option<&[InstalledModel]> {
        self.installed.as_ref().map(|(_, m)| m.as_slice())
    }

    /// Reads the CPU counters once so the next sample has a baseline; a
    /// one-off `status` calls this, waits a moment, then samples.
    pub fn prime(&mut self) {
        let _ = self.gauges.system();
    }

    /// Forgets what the service manager said, so the next sample asks again
    /// (after the monitor itself restarted a service).
    pub fn invalidate(&mut self) {
        self.cached = [None, None];
    }

    fn managed(&self, id: ServiceId) -> bool {
        id != ServiceId::Ollama || self.ctx.manages_ollama()
    }

    /// Service manager state of the managed services, re-asked where the
    /// cache is stale or contradicted; returns the statuses and whether
    /// each restarted since the previous sample.
    fn statuses(&mut self, alive: &[bool; 2]) -> Statuses {
        let mut out = [None, None];
        for id in ServiceId::ALL {
            if !self.managed(id) {
                continue;
            }
            let i = slot(id);
            let stale = match &self.cached[i] {
                None => true,
                Some(c) => {
                    let age = c.at.elapsed();
                    match c.status.state {
                        ServiceState::Running => {
                            age >= MANAGER_MAX_AGE || (c.status.pid.is_some() && !alive[i])
                        }
                        // In transition: the next answer will differ.
                        ServiceState::Starting | ServiceState::Stopping => true,
                        ServiceState::Stopped
                        | ServiceState::Failed
                        | ServiceState::NotInstalled
                        | ServiceState::Unknown => age >= STOPPED_MAX_AGE,
                    }
                }
            };
            out[i] = if stale {
                Some(self.ask(id))
            } else {
                self.cached[i].as_ref().map(|c| (c.status.clone(), false))
            };
        }
        out
    }

    /// Asks the manager for `id`'s status now; returns it with whether it
    /// restarted since the status cached before.
    fn ask(&mut self, id: ServiceId) -> (ServiceStatus, bool) {
        let i = slot(id);
        let status = status_or_unknown(self.manager.as_ref(), id);
        let restarted = self.cached[i]
            .as_ref()
            .is_some_and(|c| restarted(&c.status, &status));
        self.cached[i] = Some(Cached {
            status: status.clone(),
            at: Instant::now(),
        });
        (status, restarted)
    }

    /// Where Ollama starts answering while its cached status, asked before
    /// this tick, says it is not running, it was started since (by hand, or
    /// by its manager after a crash): asks again rather than take it for an
    /// Ollama Gardener did not install until the cached answer expires.
    fn recheck_started_ollama(
        &mut self,
        tick: Instant,
        answered: bool,
        statuses: &mut Statuses,
        trees: &mut Vec<Option<TreeUsage>>,
    ) {
        let started = answered && !self.ollama_answered;
        self.ollama_answered = answered;
        let stale_stopped = self.cached[0].as_ref().is_some_and(|c| {
            c.at < tick
                && matches!(
                    c.status.state,
                    ServiceState::Stopped | ServiceState::Failed | ServiceState::NotInstalled
                )
        });
        if !(started && stale_stopped) {
            return;
        }
        statuses[0] = Some(self.ask(ServiceId::Ollama));
        *trees = self.gauges.process_trees(&main_pids(statuses));
    }

    /// Takes one snapshot (its `alerts` are left empty for the engine).
    pub async fn sample(&mut self) -> Snapshot {
        let tick = Instant::now();
        let (mut statuses, mut trees) = self.statuses_and_trees();
        let probes = self.probe(&statuses).await;
        let answered = probes.ps.result.is_ok();
        self.recheck_started_ollama(tick, answered, &mut statuses, &mut trees);
        let host = &self.ctx.config.ollama.host;
        let [ollama_status, app_status] = statuses;
        let mut ollama = service(ollama_status, trees[0], self.managed(ServiceId::Ollama));
        ollama_answer(&mut ollama, &probes.ps, host);
        let version = self.version.as_ref().map(|v| v.text.clone());
        let models = probes.ps.result.unwrap_or_default();

        let mut app = service(app_status, trees[1], true);
        self.explain_pauses(&mut ollama, &mut app);
        if let Some(h) = probes.app {
            app_answer(&mut app, h);
        }

        // A few hundred bytes, read each tick so a backup made by the timer
        // shows up at once.
        let backup = crate::backup::catalog::State::load(&self.ctx);
        let taken_at_ms = now_ms();
        self.sampled_at = Some(taken_at_ms);
        Snapshot {
            taken_at_ms,
            services: Services {
                ollama: OllamaSnapshot {
                    service: ollama,
                    version,
                    models,
                },
                app,
            },
            system: self.gauges.system(),
            alerts: Vec::new(),
            last_backup_at: backup.last_success_unix(),
            last_backup_error: backup.last_attempt.filter(|a| !a.ok).and_then(|a| a.error),
            last_backup_kind: backup.last_success_kind,
            last_backup_files: backup.last_success_files,
            backup_failure: backup.alert_failure,
            copies: target_copies(&self.ctx, backup.last_success_id.as_deref()),
        }
    }

    /// Each service's status (with whether it restarted) and process tree:
    /// the trees of the pids known so far tell which services need their
    /// manager asked again, and are measured again only if a pid changed.
    fn statuses_and_trees(&mut self) -> (Statuses, Vec<Option<TreeUsage>>) {
        let roots: Vec<u32> = self
            .cached
            .iter()
            .map(|c| c.as_ref().and_then(|c| c.status.pid).unwrap_or(0))
            .collect();
        let trees = self.gauges.process_trees(&roots);
        let alive = [
            roots[0] != 0 && trees[0].is_some(),
            roots[1] != 0 && trees[1].is_some(),
        ];
        let statuses = self.statuses(&alive);
        let pids = main_pids(&statuses);
        let trees = if pids == roots {
            trees
        } else {
            self.gauges.process_trees(&pids)
        };
        (statuses, trees)
    }

    /// Runs this tick's HTTP probes concurrently: Ollama's loaded models
    /// always, its version and installed models when they may have changed,
    /// the app's health when it should be running. Keeps the version and
    /// installed models learnt.
    async fn probe(&mut self, statuses: &Statuses) -> Probes {
        let host = self.ctx.config.ollama.host.clone();
        let app_url = self.ctx.config.app.health_url.clone();
        let body = self.ctx.config.app.health_body.clone();
        // Where the manager cannot be asked, the health check is what is known.
        let app_running = statuses[1].as_ref().is_some_and(|(s, _)| {
            matches!(
                s.state,
                ServiceState::Running | ServiceState::Starting | ServiceState::Unknown
            )
        });
        let want_tags = self
            .installed
            .as_ref()
            .is_none_or(|(at, _)| at.elapsed() >= self.models_every);
        let ollama_pid = statuses[0].as_ref().and_then(|(s, _)| s.pid);
        let want_version = self
            .version
            .as_ref()
            .is_none_or(|v| v.pid != ollama_pid || v.at.elapsed() >= self.models_every);
        let prober = &self.prober;
        let (version, ps, tags, app) = tokio::join!(
            async {
                if want_version {
                    Some(prober.ollama_version(&host).await)
                } else {
                    None
                }
            },
            prober.ollama_ps(&host),
            async {
                if want_tags {
                    Some(prober.ollama_tags(&host).await)
                } else {
                    None
                }
            },
            async {
                if app_running {
                    Some(prober.health(&app_url, body.as_deref()).await)
                } else {
                    None
                }
            },
        );
        if let Some(tags) = tags
            && let Ok(models) = tags.result
        {
            self.installed = Some((Instant::now(), models));
        }
        self.keep_version(version, &ps, ollama_pid);
        Probes { ps, app }
    }

    /// Remembers the version Ollama gave (for the pid that gave it), and
    /// forgets it when Ollama stops answering.
    fn keep_version(
        &mut self,
        version: Option<Probed<String>>,
        ps: &Probed<Vec<LoadedModel>>,
        pid: Option<u32>,
    ) {
        match (version.map(|v| v.result), &ps.result) {
            (Some(Ok(text)), Ok(_)) => {
                self.version = Some(KnownVersion {
                    pid,
                    at: Instant::now(),
                    text,
                });
            }
            (Some(Err(_)), _) | (_, Err(_)) => self.version = None,
            (None, Ok(_)) => {}
        }
    }

    /// Marks services stopped by a restore or a backup as paused rather than
    /// down, and the new processes they leave behind as no crash.
    fn explain_pauses(&mut self, ollama: &mut ServiceSnapshot, app: &mut ServiceSnapshot) {
        // A restore stops both services while it swaps their data, and
        // starts them again: neither is an outage.
        let held = crate::backup::restore::held_services(&self.ctx);
        let since_last = self.sampled_at.map(|at| (at / 1000).saturating_sub(1));
        let restored =
            since_last.is_some_and(|since| crate::backup::restore::resumed_since(&self.ctx, since));
        for (i, (id, snap)) in [
            (ServiceId::Ollama, &mut *ollama),
            (ServiceId::App, &mut *app),
        ]
        .into_iter()
        .enumerate()
        {
            if held.contains(&id)
                && matches!(
                    snap.state,
                    RunState::Stopped | RunState::Stopping | RunState::Starting
                )
            {
                snap.state = RunState::Paused;
                snap.error = Some("stopped while a restore swaps in its data".into());
                self.cached[i] = None;
            }
            if snap.restarted && restored {
                snap.restarted = false;
            }
        }
        // Applying Ollama's settings restarts it on purpose.
        if crate::ollama_settings::restarting(&self.ctx) {
            if matches!(
                ollama.state,
                RunState::Stopped | RunState::Stopping | RunState::Starting
            ) {
                ollama.state = RunState::Paused;
                ollama.error = Some("restarting with new settings".into());
                self.cached[0] = None;
            }
            ollama.restarted = false;
        }
        if ollama.restarted
            && since_last
                .is_some_and(|since| crate::ollama_settings::restarted_since(&self.ctx, since))
        {
            ollama.restarted = false;
        }
        if matches!(
            app.state,
            RunState::Stopped | RunState::Stopping | RunState::Starting
        ) && crate::backup::app_paused_by_backup(&self.ctx)
        {
            app.state = RunState::Paused;
            app.error = Some("stopped while a backup reads its data".into());
            // The backup starts it again soon: ask the manager every tick
            // until then, rather than trusting "stopped" for a while.
            self.cached[1] = None;
        }
        // A backup that paused the app briefly, between two samples, leaves
        // a new process behind: that is not a crash.
        if app.restarted
            && self.sampled_at.is_some_and(|at| {
                crate::backup::app_resumed_since(&self.ctx, (at / 1000).saturating_sub(1))
            })
        {
            app.restarted = false;
        }
    }
}

/// Each service's status from its manager (None: not managed), and whether
/// it restarted since the last sample.
type Statuses = [Option<(ServiceStatus, bool)>; 2];

/// Each service's main pid (0: none), as the process trees are asked for.
fn main_pids(statuses: &Statuses) -> Vec<u32> {
    statuses
        .iter()
        .map(|s| s.as_ref().and_then(|(s, _)| s.pid).unwrap_or(0))
        .collect()
}

/// What this tick's HTTP probes learnt that the snapshot shows.
struct Probes {
    /// Ollama's loaded models (its health check).
    ps: Probed<Vec<LoadedModel>>,
    /// The app's health check, when it should be running.
    app: Option<Probed<()>>,
}

/// Ollama's health from its answer to `/api/ps`; an answer while our
/// service is not running comes from an Ollama Gardener did not install.
fn ollama_answer(ollama: &mut ServiceSnapshot, ps: &Probed<Vec<LoadedModel>>, host: &str) {
    ollama.latency_ms = Some(ps.latency_ms);
    // Running, or the manager could not be asked: an answer is then
    // no sign that it is someone else's Ollama.
    let ours = matches!(ollama.state, RunState::Running | RunState::Unknown);
    match &ps.result {
        Ok(_) if !ours && ollama.state != RunState::External => {
            // Something answers like Ollama but it is not our service:
            // report it for what it is rather than as ours.
            ollama.state = RunState::External;
            ollama.managed = false;
            ollama.pid = None;
            ollama.error = Some(format!(
                "an Ollama that Gardener did not install answers on {host}"
            ));
            ollama.healthy = true;
        }
        Ok(_) => ollama.healthy = true,
        Err(e) => {
            ollama.healthy = false;
            if ollama.error.is_none() {
                ollama.error = Some(e.to_string());
            }
        }
    }
}

/// The app's health from its health check.
fn app_answer(app: &mut ServiceSnapshot, h: Probed<()>) {
    app.latency_ms = Some(h.latency_ms);
    match h.result {
        Ok(()) => app.healthy = true,
        Err(e) => {
            app.healthy = false;
            // Where the manager cannot be asked, both things are news.
            app.error = Some(match app.error.take() {
                Some(why) if app.state == RunState::Unknown => format!("{e}; {why}"),
                _ => e.to_string(),
            });
        }
    }
}

/// Each configured target's copies, from `copies.json` (never the network).
fn target_copies(ctx: &Context, newest: Option<&str>) -> Vec<TargetCopies> {
    if ctx.config.backup.targets.is_empty() {
        return Vec::new();
    }
    let state = crate::copies::state::CopiesState::load(ctx);
    ctx.config
        .backup
        .targets
        .iter()
        .map(|t| {
            let known = state.targets.get(&t.name);
            TargetCopies {
                name: t.name.clone(),
                last_copy_at: known.and_then(crate::copies::state::TargetState::last_copy_unix),
                failure: known
                    .and_then(|k| k.last_failure.as_ref())
                    .map(|f| f.error.clone()),
                has_newest: newest
                    .is_some_and(|id| known.is_some_and(|k| k.copies.contains_key(id))),
            }
        })
        .collect()
}

/// Whether `now` shows a restart since `before`: the manager counted one,
/// or the main pid changed under a running service.
fn restarted(before: &ServiceStatus, now: &ServiceStatus) -> bool {
    let counted = matches!((before.restarts, now.restarts), (Some(a), Some(b)) if b > a);
    let new_pid = matches!((before.pid, now.pid), (Some(a), Some(b)) if a != b);
    counted || new_pid
}

fn run_state(s: &ServiceState) -> RunState {
    match s {
        ServiceState::NotInstalled => RunState::NotInstalled,
        ServiceState::Running => RunState::Running,
        ServiceState::Starting => RunState::Starting,
        ServiceState::Stopping => RunState::Stopping,
        ServiceState::Stopped => RunState::Stopped,
        ServiceState::Failed => RunState::Failed,
        ServiceState::Unknown => RunState::Unknown,
    }
}

fn why_not_running(s: &ServiceStatus) -> Option<String> {
    let exit = match &s.last_exit {
        Some(LastExit::Code { code }) if *code != 0 => format!(" (last exit code {code})"),
        Some(LastExit::Signal { signal }) => format!(" (killed by signal {signal})"),
        _ => String::new(),
    };
    match s.state {
        ServiceState::Running => None,
        ServiceState::NotInstalled => Some("not installed: run `gardener install`".into()),
        ServiceState::Unknown => Some(format!("cannot tell whether it runs: {}", s.raw_state)),
        ServiceState::Starting => Some(format!("starting ({}){exit}", s.raw_state)),
        ServiceState::Stopping => Some("stopping".into()),
        ServiceState::Stopped => Some(format!("stopped{exit}")),
        ServiceState::Failed => Some(format!("failed{exit}")),
    }
}

/// The snapshot of one service from its manager status (None: not managed)
/// and process tree.
fn service(
    status: Option<(ServiceStatus, bool)>,
    tree: Option<TreeUsage>,
    managed: bool,
) -> ServiceSnapshot {
    let Some((status, restarted)) = status else {
        return ServiceSnapshot {
            state: RunState::External,
            managed,
            ..ServiceSnapshot::default()
        };
    };
    let running = status.state == ServiceState::Running;
    ServiceSnapshot {
        state: run_state(&status.state),
        managed,
        pid: status.pid,
        healthy: false,
        latency_ms: None,
        error: why_not_running(&status),
        restarts: status.restarts,
        rss_bytes: tree.filter(|_| running).map(|t| t.rss_bytes),
        cpu_percent: tree.filter(|_| running).map(|t| t.cpu_percent),
        restarted,
    }
}

#[cfg(test)]
mod tests;
