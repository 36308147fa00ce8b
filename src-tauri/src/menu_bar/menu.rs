//! What the tray menu shows: the newest sample's summary, and what the
//! menu bar's own work adds (a backup's progress, a restart under way, the
//! alert pause, why the monitor is not running).

use std::time::{Duration, Instant};

use gardener_core::models::human;
use gardener_core::monitor::summary::{self, Overall, Summary};
use gardener_core::monitor::{LoadedModel, RunState, Snapshot};

use crate::tray::{MenuState, ModelLine, local_time};
use crate::window_pipe::WorkLine;

/// What the menu shows besides the latest snapshot.
#[derive(Debug, Default)]
pub struct Extras {
    /// The newest snapshot's summary and the facts the actions need.
    pub latest: Option<Latest>,
    /// The backup line while a backup runs ("Backing up… 45%").
    pub backup: Option<String>,
    /// A line the dashboard's long operation shows while it runs ("Ollama
    /// — pulling llama3.2:3b… 45%").
    pub window_work: Option<(WorkLine, String)>,
    /// Lines replaced until the next sample ("Ollama — restarting…").
    pub pending: Vec<(usize, String)>,
    /// Alerts paused until (seconds since the epoch).
    pub mute_until: Option<u64>,
    /// Why the monitor is not running (config problem).
    pub problem: Option<String>,
    /// When the machine's line was last given new figures.
    pub system_shown_at: Option<Instant>,
}

impl Extras {
    /// What carries over to a monitor started anew: a backup from the menu
    /// goes on (its thread still reports here); what the old monitor saw
    /// does not.
    pub fn for_new_monitor(self) -> Self {
        Self {
            backup: self.backup,
            window_work: self.window_work,
            ..Self::default()
        }
    }

    /// Takes in a new sample: the services' lines and the icon follow it,
    /// the machine's line only every [`SYSTEM_LINE_EVERY`] (its figures
    /// change a little every sample, and redrawing the menu for each costs
    /// more than the sample itself); lines shown while an action ran give way.
    pub fn take_sample(&mut self, snap: &Snapshot, now: Instant) {
        let services = &snap.services;
        let mut latest = Latest {
            summary: summary::summarize(snap, now_secs()),
            ollama_controllable: controllable(
                services.ollama.service.managed,
                services.ollama.service.state,
            ),
            app_controllable: controllable(services.app.managed, services.app.state),
            models: services
                .ollama
                .models
                .iter()
                .map(|m| model_line(m, now_secs()))
                .collect(),
        };
        match (&self.latest, self.system_shown_at) {
            (Some(prev), Some(at)) if now.duration_since(at) < SYSTEM_LINE_EVERY => {
                latest.summary.system.clone_from(&prev.summary.system);
            }
            _ => self.system_shown_at = Some(now),
        }
        self.latest = Some(latest);
        self.pending.clear();
    }
}

/// How often the machine's line (CPU, memory, disk) gets new figures.
const SYSTEM_LINE_EVERY: Duration = Duration::from_secs(10);

/// The newest sample, as the menu needs it.
#[derive(Debug, Clone)]
pub struct Latest {
    summary: Summary,
    ollama_controllable: bool,
    app_controllable: bool,
    models: Vec<ModelLine>,
}

/// Beyond this, Ollama keeps a model for as long as it runs (a negative
/// keep-alive shows as an expiry centuries away).
const KEPT_FOR_GOOD_AFTER_SECS: u64 = 366 * 24 * 3600;

/// "Unload llama3.2:3b (3.2 GB, until 14:05)".
fn model_line(m: &LoadedModel, now: u64) -> ModelLine {
    let until = m
        .expires_at
        .as_deref()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .and_then(|t| u64::try_from(t.as_second()).ok());
    let until = match until {
        Some(at) if at > now.saturating_add(KEPT_FOR_GOOD_AFTER_SECS) => {
            ", until Ollama stops".to_owned()
        }
        Some(at) => local_time(at).map_or_else(String::new, |t| format!(", until {t}")),
        None => String::new(),
    };
    ModelLine {
        name: m.name.clone(),
        label: format!("Unload {} ({}{until})", m.name, human(m.size_bytes)),
    }
}

/// Seconds since the epoch, now.
pub fn now_secs() -> u64 {
    jiff::Timestamp::now().as_second().try_into().unwrap_or(0)
}

/// Gardener may start, stop and restart a service it installed, when its
/// service manager can be asked.
fn controllable(managed: bool, state: RunState) -> bool {
    managed && !matches!(state, RunState::NotInstalled | RunState::Unknown)
}

/// What the menu shows now.
pub fn menu_state(extras: &Extras, now: u64) -> MenuState {
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
            unload_models: !l.models.is_empty(),
            back_up: l.ollama_controllable || l.app_controllable,
            paused_until: None,
            models: l.models.clone(),
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
    if let Some((on, text)) = &extras.window_work {
        let index = match on {
            WorkLine::Ollama => 0,
            WorkLine::Backup => 3,
        };
        state.lines[index].clone_from(text);
    }
    if let Some(line) = &extras.backup {
        state.lines[3].clone_from(line);
        state.back_up = false;
    }
    state.paused_until = extras.mute_until.filter(|&until| until > now);
    state
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
                models: Vec::new(),
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
    fn the_dashboards_work_shows_on_its_line_until_it_ends() {
        let mut e = extras();
        e.window_work = Some((WorkLine::Ollama, "Ollama — pulling qwen… 45%".into()));
        let state = menu_state(&e, 100);
        assert_eq!(state.lines[0], "Ollama — pulling qwen… 45%");
        assert_eq!(state.lines[3], "Last backup — never");
        e.window_work = Some((WorkLine::Backup, "Checking the backup… 80%".into()));
        let state = menu_state(&e, 100);
        assert_eq!(state.lines[0], "Ollama — healthy");
        assert_eq!(state.lines[3], "Checking the backup… 80%");
        let e = e.for_new_monitor();
        assert!(
            e.window_work.is_some(),
            "the work goes on under a new monitor"
        );
    }

    #[test]
    fn a_new_monitor_keeps_running_work_and_nothing_else() {
        let mut e = extras();
        e.backup = Some("Backing up… 45%".into());
        e.pending.push((0, "Ollama — restarting…".into()));
        e.problem = Some("old".into());
        let e = e.for_new_monitor();
        assert_eq!(e.backup.as_deref(), Some("Backing up… 45%"));
        assert!(e.latest.is_none() && e.pending.is_empty() && e.problem.is_none());
    }

    #[test]
    fn each_loaded_model_has_its_line_with_memory_and_until_when() {
        let model = |expires_at: Option<String>| LoadedModel {
            name: "llama3.2:3b".into(),
            size_bytes: 3_200_000_000,
            vram_bytes: 0,
            expires_at,
            context_length: None,
        };
        let now = now_secs();
        let soon = jiff::Timestamp::from_second(i64::try_from(now + 600).unwrap()).unwrap();
        let line = model_line(&model(Some(soon.to_string())), now);
        assert_eq!(line.name, "llama3.2:3b");
        let local = local_time(now + 600).unwrap();
        assert_eq!(
            line.label,
            format!("Unload llama3.2:3b (3.2 GB, until {local})")
        );
        let forever = model_line(&model(Some("2318-01-01T00:00:00Z".into())), now);
        assert_eq!(
            forever.label,
            "Unload llama3.2:3b (3.2 GB, until Ollama stops)"
        );
        let unknown = model_line(&model(None), now);
        assert_eq!(unknown.label, "Unload llama3.2:3b (3.2 GB)");

        let mut e = extras();
        if let Some(l) = &mut e.latest {
            l.models = vec![line.clone()];
        }
        let state = menu_state(&e, now);
        assert!(state.unload_models);
        assert_eq!(state.models, vec![line]);
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
