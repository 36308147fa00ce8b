//! The menu bar's work that must not hold up its loop, each reporting back
//! as an [`Event`]: a backup on a thread of its own (its progress too),
//! the alert pause written to gardener.toml; and the words each outcome of
//! the menu's actions is told in.

use gardener_core::Platform;
use gardener_core::backup::{Cancel, Phase, Progress, Throttle};
use gardener_core::context::Context;
use gardener_core::copies::copy;
use gardener_core::error::Failure;
use gardener_core::monitor::alerts::{self, pause::PauseFor};
use gardener_core::news;
use gardener_core::services::ServiceId;
use tauri::{AppHandle, Runtime};
use tauri_plugin_opener::OpenerExt;

use super::{Event, Events};
use crate::notifications::Note;
use crate::window::View;
use crate::window_pipe::Outcome;

/// Index of each service's line in the menu.
pub fn line_of(service: ServiceId) -> usize {
    match service {
        ServiceId::Ollama => 0,
        ServiceId::App => 1,
    }
}

/// The service's name in the menu.
pub fn short_name(service: ServiceId) -> &'static str {
    match service {
        ServiceId::Ollama => "Ollama",
        ServiceId::App => "App",
    }
}

fn note(title: impl Into<String>, body: impl Into<String>, view: View) -> Note {
    Note {
        title: title.into(),
        body: body.into(),
        view,
    }
}

/// Said when the menu asks a monitor that is not running.
fn not_monitoring() -> Note {
    note(
        "Gardener is not monitoring",
        "The monitor is not running; see the first line of the menu.",
        View::Services,
    )
}

/// What a restart from the menu ends with (`None`: no monitor to ask); a
/// restart that worked shows in the next sample, not in a notification.
pub fn restart_news(service: ServiceId, answer: Option<Outcome>) -> Option<Note> {
    match answer {
        Some(Ok(_)) => None,
        Some(Err(failure)) => Some(note(
            format!("Could not restart {}", short_name(service)),
            failure.message,
            View::Services,
        )),
        None => Some(not_monitoring()),
    }
}

/// What Unload Models ends with.
pub fn unload_news(answer: Option<Outcome>) -> Note {
    match answer {
        Some(Ok(names)) if names.is_empty() => note(
            "No models were loaded",
            "Ollama had nothing in memory.",
            View::Models,
        ),
        Some(Ok(names)) => note(
            "Models unloaded",
            format!(
                "Freed the memory of {}. They load again when next used.",
                names.join(", ")
            ),
            View::Models,
        ),
        Some(Err(failure)) => note("Could not unload the models", failure.message, View::Models),
        None => not_monitoring(),
    }
}

/// "Backing up… 45%" for the menu.
pub fn progress_line(p: &Progress) -> String {
    let what = match p.phase {
        Phase::Scan => "Backing up: listing files…",
        Phase::Snapshot => "Backing up: pausing the app…",
        Phase::Archive => "Backing up…",
        Phase::Verify => "Checking the backup…",
        Phase::Extract | Phase::Swap => "Restoring…",
        Phase::Copy => "Copying the backup…",
    };
    match (p.bytes * 100).checked_div(p.total_bytes) {
        Some(pct) if matches!(p.phase, Phase::Archive | Phase::Verify | Phase::Copy) => {
            format!("{what} {}%", pct.min(100))
        }
        _ => what.to_owned(),
    }
}

/// Back Up Now: a backup like `gardener backup create` on a thread of its
/// own, reporting its progress and its end as events.
pub fn back_up(events: &Events) -> std::io::Result<()> {
    let events = events.clone();
    std::thread::Builder::new()
        .name("backup".into())
        .spawn(move || {
            let ended = run_backup(&events);
            events.send(Event::BackupEnded(ended));
        })?;
    Ok(())
}

/// The backup's notification.
fn run_backup(events: &Events) -> Note {
    let mut throttle = Throttle::default();
    let mut progress = |p: &Progress| {
        if throttle.ready(p) {
            events.send(Event::BackupProgress(progress_line(p)));
        }
    };
    let result = Context::load(None, Platform::current())
        .map_err(Failure::from)
        .and_then(|ctx| Ok(copy::back_up_now(&ctx, Cancel::new(), &mut progress)?));
    let news = news::backup_ended(&result);
    note(news.title, news.body, View::Backups)
}

/// Pause Alerts ▸: writes `[alerts] mute_until` into gardener.toml (so the
/// pause holds across restarts and for `gardener monitor` too), off the
/// loop; the new settings come back as [`Event::AlertsPaused`].
pub fn pause_alerts(events: &Events, pause: PauseFor) -> std::io::Result<()> {
    let events = events.clone();
    std::thread::Builder::new()
        .name("pause-alerts".into())
        .spawn(move || {
            let written = Context::load(None, Platform::current())
                .map_err(|e| e.to_string())
                .and_then(|ctx| {
                    alerts::pause::set(&ctx.config_file, pause).map_err(|e| e.to_string())
                });
            events.send(Event::AlertsPaused(written.map(|c| Box::new(c.alerts))));
        })?;
    Ok(())
}

/// Open Logs: the logs folder in the file manager.
pub fn open_logs<R: Runtime>(app: &AppHandle<R>) -> Option<Note> {
    let result = Context::load(None, Platform::current())
        .map_err(|e| e.to_string())
        .and_then(|ctx| {
            let dir = ctx.logs_dir;
            if !dir.is_dir() {
                return Err(format!(
                    "{} does not exist yet: it is made when Gardener is set up",
                    dir.display()
                ));
            }
            app.opener()
                .open_path(dir.to_string_lossy(), None::<&str>)
                .map_err(|e| format!("cannot open {}: {e}", dir.display()))
        });
    result
        .err()
        .map(|why| note("Could not open the logs", why, View::Services))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_told_in_words() {
        let exit =
            gardener_core::error::Failure::new(gardener_core::error::ErrorCode::Service, "exit 5");
        let failed = restart_news(ServiceId::Ollama, Some(Err(exit))).unwrap();
        assert_eq!(failed.title, "Could not restart Ollama");
        assert_eq!(failed.body, "exit 5");
        assert_eq!(restart_news(ServiceId::App, Some(Ok(Vec::new()))), None);
        let nobody = restart_news(ServiceId::App, None).unwrap();
        assert_eq!(nobody.title, "Gardener is not monitoring");
        let unloaded = unload_news(Some(Ok(vec!["qwen".into(), "llama".into()])));
        assert_eq!(unloaded.title, "Models unloaded");
        assert!(unloaded.body.contains("qwen, llama"), "{}", unloaded.body);
        assert_eq!(
            unload_news(Some(Ok(Vec::new()))).title,
            "No models were loaded"
        );
    }

    #[test]
    fn progress_reads_as_a_percentage_while_writing_and_checking() {
        let p = |phase, bytes, total_bytes| Progress {
            phase,
            bytes,
            total_bytes,
            files: 0,
            total_files: 0,
        };
        assert_eq!(
            progress_line(&p(Phase::Archive, 45, 100)),
            "Backing up… 45%"
        );
        assert_eq!(
            progress_line(&p(Phase::Verify, 100, 100)),
            "Checking the backup… 100%"
        );
        assert_eq!(progress_line(&p(Phase::Archive, 5, 0)), "Backing up…");
        assert_eq!(
            progress_line(&p(Phase::Scan, 0, 0)),
            "Backing up: listing files…"
        );
    }
}
