//! What the tray menu's actions do. Each hands the work to the monitor's
//! thread (service control, unloading: so no sample lands mid-restart) or to
//! a thread of its own (a backup), and reports the outcome in the menu and,
//! when there is something to say, in a notification. Nothing here runs long
//! on the UI thread.

use gardener_core::Platform;
use gardener_core::backup::{Cancel, CreateOptions, Phase, Progress, Throttle};
use gardener_core::context::Context;
use gardener_core::copies::copy;
use gardener_core::monitor::alerts::{self, pause::PauseFor};
use gardener_core::monitor::run_loop::Request;
use gardener_core::services::{Action, ServiceId};
use tauri::{AppHandle, Runtime};
use tauri_plugin_opener::OpenerExt;
use tokio::sync::oneshot;

use crate::live::{self, Live};
use crate::notify::{self, Note};

/// Index of each service's line in the menu.
fn line_of(service: ServiceId) -> usize {
    match service {
        ServiceId::Ollama => 0,
        ServiceId::App => 1,
    }
}

fn short_name(service: ServiceId) -> &'static str {
    match service {
        ServiceId::Ollama => "Ollama",
        ServiceId::App => "App",
    }
}

fn tell<R: Runtime>(app: &AppHandle<R>, title: impl Into<String>, body: impl Into<String>) {
    let title = title.into();
    // Backup news opens the backups; the rest is about the services.
    let view = if title.starts_with("Backup") {
        "backups"
    } else {
        "services"
    };
    notify::show(
        app,
        &Note {
            title,
            body: body.into(),
            view,
        },
    );
}

/// Hands `request` to the monitor and `outcome` its reply when it comes.
fn ask<R: Runtime, T: Send + 'static>(
    app: &AppHandle<R>,
    live: &Live<R>,
    request: impl FnOnce(oneshot::Sender<T>) -> Request,
    outcome: impl FnOnce(&AppHandle<R>, Option<T>) + Send + 'static,
) {
    let (reply, answer) = oneshot::channel();
    if !live.ask(request(reply)) {
        outcome(app, None);
        return;
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move { outcome(&app, answer.await.ok()) });
}

/// Restart Ollama / Restart App.
pub fn restart<R: Runtime>(app: &AppHandle<R>, service: ServiceId) {
    let Some(live) = live::get(app) else { return };
    tracing::info!(%service, "restart chosen from the tray menu");
    live.set_pending(
        line_of(service),
        format!("{} — restarting…", short_name(service)),
    );
    ask(
        app,
        &live,
        |reply| Request::Control {
            action: Action::Restart,
            service,
            reply,
        },
        move |app, outcome| match outcome {
            Some(Ok(())) => {}
            Some(Err(why)) => tell(
                app,
                format!("Could not restart {}", short_name(service)),
                why,
            ),
            None => tell(
                app,
                "Gardener is not monitoring",
                "The monitor is not running; see the first line of the menu.",
            ),
        },
    );
}

/// Unload Models.
pub fn unload_models<R: Runtime>(app: &AppHandle<R>) {
    let Some(live) = live::get(app) else { return };
    tracing::info!("unload models chosen from the tray menu");
    ask(
        app,
        &live,
        |reply| Request::UnloadModels { only: None, reply },
        |app, outcome| match outcome {
            Some(Ok(names)) if names.is_empty() => {
                tell(
                    app,
                    "No models were loaded",
                    "Ollama had nothing in memory.",
                );
            }
            Some(Ok(names)) => tell(
                app,
                "Models unloaded",
                format!(
                    "Freed the memory of {}. They load again when next used.",
                    names.join(", ")
                ),
            ),
            Some(Err(why)) => tell(app, "Could not unload the models", why),
            None => tell(
                app,
                "Gardener is not monitoring",
                "The monitor is not running; see the first line of the menu.",
            ),
        },
    );
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

/// Back Up Now: a backup like `gardener backup create`, on its own thread,
/// its progress in the menu's backup line.
pub fn back_up<R: Runtime>(app: &AppHandle<R>) {
    let Some(live) = live::get(app) else { return };
    if live.backing_up() {
        return;
    }
    tracing::info!("back up now chosen from the tray menu");
    live.set_backup_line(Some("Backing up…".into()));
    let worker = std::sync::Arc::clone(&live);
    let app = app.clone();
    let spawned = std::thread::Builder::new()
        .name("backup".into())
        .spawn(move || run_backup(&app, &worker));
    if let Err(e) = spawned {
        tracing::error!("cannot start the backup thread: {e}");
        live.set_backup_line(None);
    }
}

fn run_backup<R: Runtime>(app: &AppHandle<R>, live: &Live<R>) {
    let result = Context::load(None, Platform::current())
        .map_err(|e| e.to_string())
        .and_then(|ctx| {
            let manager = ctx.manager();
            let opts = CreateOptions {
                verify: None,
                scheduled: false,
                from_app: true,
                cancel: Cancel::new(),
                ..CreateOptions::default()
            };
            let mut throttle = Throttle::default();
            copy::backup_and_copy(&ctx, manager.as_ref(), &opts, &mut |p| {
                if throttle.ready(p) {
                    live.set_backup_line(Some(progress_line(p)));
                }
            })
            .map_err(|e| e.to_string())
        });
    live.set_backup_line(None);
    // So that the menu shows the new "last backup" at once.
    live.ask(Request::SampleNow);
    match result {
        Ok((report, copies)) => tell(app, "Backup done", copy::done_words(&report, &copies)),
        Err(why) => tell(app, "Backup failed", why),
    }
}

/// Pause Alerts ▸: writes `[alerts] mute_until` into gardener.toml (so the
/// pause holds across restarts and for `gardener monitor` too) and hands the
/// new settings to the running monitor.
pub fn pause_alerts<R: Runtime>(app: &AppHandle<R>, pause: PauseFor) {
    let app = app.clone();
    // Reads and rewrites gardener.toml: not on the UI thread.
    let spawned = std::thread::Builder::new()
        .name("pause-alerts".into())
        .spawn(move || write_pause(&app, pause));
    if let Err(e) = spawned {
        tracing::error!("cannot start the thread that pauses alerts: {e}");
    }
}

fn write_pause<R: Runtime>(app: &AppHandle<R>, pause: PauseFor) {
    let Some(live) = live::get(app) else { return };
    let result = Context::load(None, Platform::current())
        .map_err(|e| e.to_string())
        .and_then(|ctx| alerts::pause::set(&ctx.config_file, pause).map_err(|e| e.to_string()));
    match result {
        Ok(config) => {
            live.set_mute_until(config.alerts.mute_until_secs());
            live.ask(Request::Alerts(Box::new(config.alerts)));
        }
        Err(why) => tell(app, "Could not change the alert pause", why),
    }
}

/// Open Logs: the logs folder in the file manager.
pub fn open_logs<R: Runtime>(app: &AppHandle<R>) {
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
    if let Err(why) = result {
        tell(app, "Could not open the logs", why);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
