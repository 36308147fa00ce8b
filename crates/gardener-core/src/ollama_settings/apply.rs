//! Applying `[ollama.env]` to the running Ollama: its service file is
//! rendered and installed through the installer's apply (which undoes it
//! all if Ollama does not come back), Ollama restarts, and the environment
//! of its new process is read back to confirm the known settings took.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::environ::running_environment;
use super::{Error, KNOWN, Result};
use crate::context::Context;
use crate::install::plan::mode_string;
use crate::install::planner::commands;
use crate::install::{self, Change, Plan, Progress, Step};
use crate::services::{Action, ServiceId, ServiceManager};

/// What applying did.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Applied {
    /// Whether the service file changed.
    pub file_changed: bool,
    /// Whether Ollama was restarted (not when its file was already as
    /// rendered and its process already ran with every setting: a restart
    /// would only have unloaded its models).
    pub restarted: bool,
    /// The process, new or not.
    pub pid: u32,
    /// The known settings the process runs with (absent: Ollama's default).
    pub running: BTreeMap<String, Option<String>>,
    /// How long Ollama took to answer its health check after the restart,
    /// in milliseconds.
    pub latency_ms: Option<u64>,
}

/// Written while Ollama restarts with new settings (ending in this process's
/// id), so that a monitor sampling meanwhile reports it as paused, not down.
const RESTARTING: &str = "ollama-restarting";
/// When such a restart last ended (seconds since the epoch): a new Ollama
/// process since then is its doing, not a crash.
const RESTARTED: &str = "ollama-restarted";

/// Marks Ollama as restarting with new settings until dropped, which then
/// records when the restart ended, however it ended.
struct Restarting<'a> {
    ctx: &'a Context,
}

impl<'a> Restarting<'a> {
    fn mark(ctx: &'a Context) -> Self {
        if crate::fsutil::create_dir(&ctx.data_dir, 0o700).is_ok() {
            let text = format!("restarting with new settings, pid {}\n", std::process::id());
            let marker = ctx.data_dir.join(RESTARTING);
            let _ = crate::fsutil::atomic_write(&marker, text.as_bytes(), 0o600);
        }
        Self { ctx }
    }
}

impl Drop for Restarting<'_> {
    fn drop(&mut self) {
        crate::backup::pause::record_start(self.ctx, RESTARTED);
        let _ = std::fs::remove_file(self.ctx.data_dir.join(RESTARTING));
    }
}

/// Whether Ollama is being restarted with new settings now (by a process
/// that is still alive).
pub fn restarting(ctx: &Context) -> bool {
    crate::backup::pause::held_by_live_process(&ctx.data_dir.join(RESTARTING))
}

/// Whether a restart with new settings ended at or after `since` (seconds
/// since the epoch).
pub fn restarted_since(ctx: &Context, since: u64) -> bool {
    crate::backup::pause::resumed_since(ctx, RESTARTED, since)
}

/// The plan that installs Ollama's file as the config renders it, restarts
/// Ollama (loading the changed file), and waits for it to answer.
fn plan(ctx: &Context, manager: &dyn ServiceManager) -> Result<Plan> {
    let id = ServiceId::Ollama;
    let path = manager.file_path(id);
    if !path.exists() {
        return Err(install::Error::NotInstalled { service: id }.into());
    }
    let (program, _) = install::programs(ctx);
    let content = manager
        .render(&ctx.spec(id, &program))
        .map_err(install::Error::from)?;
    let current = std::fs::read(&path).map_err(|source| install::Error::Io {
        action: "read",
        path: path.clone(),
        source,
    })?;
    let change = if current == content.as_bytes() {
        Change::Unchanged
    } else {
        Change::Update
    };
    let mut steps = vec![Step::File {
        path,
        mode: mode_string(install::SERVICE_FILE),
        content,
        change,
        purpose: "Ollama service, with the settings of [ollama.env]".into(),
    }];
    // A changed file is loaded by activating (launchd rereads a plist only
    // when it is loaded again); an unchanged one only needs the restart.
    let action = if change == Change::Unchanged {
        Action::Restart
    } else {
        steps.extend(commands(
            None,
            None,
            manager.reload_commands(),
            "make the service manager read the new file",
        ));
        Action::Activate
    };
    steps.extend(commands(
        Some(id),
        Some(action),
        manager.commands(action, id),
        "restart Ollama with its new settings",
    ));
    steps.push(Step::WaitHealthy {
        service: id,
        url: ctx.health_url(id),
        timeout_secs: ctx.config.install.health_timeout_secs,
    });
    Ok(Plan {
        platform: ctx.platform(),
        config_file: ctx.config_file.clone(),
        manage_ollama: true,
        external_ollama: None,
        steps,
    })
}

/// `NAME=VALUE` of every known setting in `env`, for a person to set where
/// an Ollama Gardener does not run is started.
pub(super) fn assignments(env: &BTreeMap<String, String>) -> String {
    let set: Vec<String> = KNOWN
        .iter()
        .filter_map(|k| env.get(k.name).map(|v| format!("{}={v}", k.name)))
        .collect();
    if set.is_empty() {
        "the variables".to_owned()
    } else {
        set.join(" ")
    }
}

/// Installs Ollama's service file from `ctx`'s config, restarts Ollama,
/// waits until it answers, and confirms from its process's environment that
/// it runs with every known setting of the config.
pub fn apply(
    ctx: &Context,
    manager: &dyn ServiceManager,
    progress: &mut dyn FnMut(Progress),
) -> Result<Applied> {
    if !ctx.manages_ollama() {
        return Err(Error::External {
            names: assignments(&ctx.config.ollama.env),
        });
    }
    let plan = plan(ctx, manager)?;
    let file_changed = plan
        .steps
        .iter()
        .any(|s| s.is_change() && matches!(s, Step::File { .. }));
    if !file_changed && let Some(applied) = already_running(ctx, manager) {
        return Ok(applied);
    }
    let report = {
        let _restarting = Restarting::mark(ctx);
        install::apply(ctx, &plan, manager, progress)?
    };
    let latency_ms = report.health.get(&ServiceId::Ollama).map(|h| h.latency_ms);
    let pid = main_pid(manager)?;
    let (running, mismatches) = compare(ctx, &running_environment(ctx, pid)?);
    if !mismatches.is_empty() {
        return Err(Error::NotInEffect { pid, mismatches });
    }
    Ok(Applied {
        file_changed,
        restarted: true,
        pid,
        running,
        latency_ms,
    })
}

/// The known settings in `env` (a process's environment), and how each
/// differs from the config (`NAME: wanted "A", running "B"`).
fn compare(
    ctx: &Context,
    env: &BTreeMap<String, String>,
) -> (BTreeMap<String, Option<String>>, Vec<String>) {
    let mut running = BTreeMap::new();
    let mut mismatches = Vec::new();
    for k in KNOWN {
        let wanted = ctx.config.ollama.env.get(k.name);
        let got = env.get(k.name);
        if wanted != got {
            mismatches.push(format!("{}: wanted {wanted:?}, running {got:?}", k.name));
        }
        running.insert(k.name.to_owned(), got.cloned());
    }
    (running, mismatches)
}

/// Ollama as it runs now, when its process already has every setting (what
/// cannot be read counts as different: then it is restarted).
fn already_running(ctx: &Context, manager: &dyn ServiceManager) -> Option<Applied> {
    let pid = manager.status(ServiceId::Ollama).ok()?.pid?;
    let (running, mismatches) = compare(ctx, &running_environment(ctx, pid).ok()?);
    mismatches.is_empty().then_some(Applied {
        file_changed: false,
        restarted: false,
        pid,
        running,
        latency_ms: None,
    })
}

/// The main process of Ollama's service, once the manager reports one.
fn main_pid(manager: &dyn ServiceManager) -> Result<u32> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = manager
            .status(ServiceId::Ollama)
            .map_err(install::Error::from)?;
        if let Some(pid) = status.pid {
            return Ok(pid);
        }
        if std::time::Instant::now() >= deadline {
            return Err(Error::Environ(format!(
                "the service manager reports no process for Ollama (state: {})",
                status.raw_state
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::paths::Paths;
    use crate::services::systemd::Systemd;
    use crate::services::testing::ScriptedRunner;

    fn argvs(plan: &Plan) -> Vec<String> {
        plan.steps
            .iter()
            .filter_map(|s| match s {
                Step::Command { argv, .. } => Some(argv[2..].join(" ")),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_changed_file_is_loaded_and_an_unchanged_one_only_restarted() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        let paths = Paths::linux(
            h.to_path_buf(),
            &h.join(".config"),
            &h.join(".local/share"),
            &h.join(".local/state"),
        );
        let ctx = Context::new(paths, h.join("gardener.toml"), false, Config::default());
        // Nothing is run while planning: the runner expects no command.
        let manager = Systemd::new(
            ctx.paths.service_dir.clone(),
            Box::new(ScriptedRunner::new()),
        );
        let e = plan(&ctx, &manager).unwrap_err();
        assert!(e.to_string().contains("gardener install"), "{e}");

        let path = manager.file_path(ServiceId::Ollama);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "[Service]\n").unwrap();
        let changed = plan(&ctx, &manager).unwrap();
        assert!(matches!(
            &changed.steps[0],
            Step::File {
                change: Change::Update,
                ..
            }
        ));
        assert_eq!(
            argvs(&changed),
            [
                "daemon-reload",
                "enable gardener-ollama.service",
                "restart gardener-ollama.service"
            ]
        );
        assert!(matches!(
            changed.steps.last(),
            Some(Step::WaitHealthy { .. })
        ));

        let Step::File { content, .. } = &changed.steps[0] else {
            panic!("the first step writes the file");
        };
        std::fs::write(&path, content).unwrap();
        let same = plan(&ctx, &manager).unwrap();
        assert!(matches!(
            &same.steps[0],
            Step::File {
                change: Change::Unchanged,
                ..
            }
        ));
        assert_eq!(argvs(&same), ["restart gardener-ollama.service"]);
    }
}
