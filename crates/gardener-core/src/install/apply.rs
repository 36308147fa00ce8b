//! Carrying out a plan. Every change is journalled first; if a later step
//! fails (a command, or a service that never becomes healthy) the journal is
//! replayed backwards so the machine is left as it was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::plan::{Change, Plan, Step};
use super::planner::backup_timer;
use super::{Error, Result};
use crate::backup::schedule::BackupTimer;
use crate::context::Context;
use crate::fsutil::{self, atomic_write, create_dir, mode_of, set_mode};
use crate::health::{self, Health};
use crate::paths::Platform;
use crate::services::{Action, ServiceId, ServiceManager, ServiceState};

/// How long one manager action may take (launchd's bootout is asynchronous).
const ACTION_TIMEOUT: Duration = Duration::from_secs(30);

/// Live progress, for a terminal or the app.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, rename = "InstallProgress")
)]
pub enum Progress {
    /// A step is starting.
    Started {
        /// 0-based index in the plan.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        index: usize,
        /// What it does.
        description: String,
    },
    /// A step finished.
    Finished {
        /// 0-based index in the plan.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        index: usize,
        /// `done`, `unchanged` or `healthy`.
        result: String,
    },
}

/// Every step's start and end is news: none is held back.
impl crate::backup::Paced for Progress {
    type Stage = usize;
    fn stage(&self) -> (usize, bool) {
        match self {
            Self::Started { index, .. } => (*index, false),
            Self::Finished { index, .. } => (*index, true),
        }
    }
}

/// What applying did.
#[derive(Clone, Debug, Serialize)]
pub struct ApplyReport {
    /// False when the machine already matched the plan.
    pub changed: bool,
    /// One line per change made.
    pub done: Vec<String>,
    /// The final health of each service.
    pub health: BTreeMap<ServiceId, Health>,
}

enum Undo {
    RemoveDir(PathBuf),
    SetMode(PathBuf, u32),
    RestoreFile(PathBuf, Option<(Vec<u8>, u32)>),
    Service(ServiceId, ServiceState),
    /// The backup timer was acted on; whether it was scheduled before.
    Timer(bool),
}

/// Describes a step in one line.
pub fn describe(step: &Step) -> String {
    match step {
        Step::Check(c) => format!("check: {}", c.title),
        Step::Dir { path, mode, change } => {
            format!("{} directory {} ({mode})", change.verb(), path.display())
        }
        Step::File {
            path,
            mode,
            change,
            purpose,
            ..
        } => format!("{} {} ({mode}): {purpose}", change.verb(), path.display()),
        Step::Remove { path, purpose } => format!("remove {}: {purpose}", path.display()),
        Step::Command { argv, .. } => format!("run {}", crate::services::Invocation(argv.clone())),
        Step::WaitHealthy {
            service,
            url,
            timeout_secs,
        } => {
            format!(
                "wait up to {timeout_secs} s for {} to answer {url}",
                service.display_name()
            )
        }
    }
}

fn snapshot(path: &Path) -> Result<Option<(Vec<u8>, u32)>> {
    match mode_of(path).map_err(Error::io("inspect", path))? {
        Some(mode) => Ok(Some((
            std::fs::read(path).map_err(Error::io("read", path))?,
            mode,
        ))),
        None => Ok(None),
    }
}

fn parse_mode(mode: &str) -> u32 {
    u32::from_str_radix(mode, 8).unwrap_or(0o600)
}

struct Applier<'a> {
    ctx: &'a Context,
    manager: &'a dyn ServiceManager,
    timer: &'a BackupTimer,
    journal: Vec<Undo>,
    done: Vec<String>,
    health: BTreeMap<ServiceId, Health>,
    ran: Vec<(Option<ServiceId>, Option<Action>)>,
    /// Each service's state before the first step: by the time a service is
    /// acted on, a reload has already made its new file known to the manager.
    initial: BTreeMap<ServiceId, ServiceState>,
}

impl Applier<'_> {
    fn step(&mut self, step: &Step) -> Result<&'static str> {
        match step {
            Step::Check(_) => Ok("ok"),
            Step::Dir {
                change: Change::Unchanged,
                ..
            }
            | Step::File {
                change: Change::Unchanged,
                ..
            } => Ok("unchanged"),
            Step::Dir { path, mode, change } => self.dir(path, parse_mode(mode), *change),
            Step::File {
                path,
                mode,
                content,
                ..
            } => {
                let old = snapshot(path)?;
                self.journal.push(Undo::RestoreFile(path.clone(), old));
                atomic_write(path, content.as_bytes(), parse_mode(mode))
                    .map_err(Error::io("write", path))?;
                Ok("done")
            }
            Step::Remove { path, .. } => self.remove(path),
            Step::Command {
                service, action, ..
            } => self.command(*service, *action),
            Step::WaitHealthy {
                service,
                url,
                timeout_secs,
            } => {
                let (_, stderr_log) = self.ctx.log_files(*service);
                let timeout = Duration::from_secs(*timeout_secs);
                let h = health::wait_healthy(*service, url, &stderr_log, timeout)?;
                self.health.insert(*service, h);
                Ok("healthy")
            }
        }
    }

    /// Creates directory `path` (journalling each missing ancestor) or, for an
    /// update, sets its mode (journalling the old one).
    fn dir(&mut self, path: &Path, mode: u32, change: Change) -> Result<&'static str> {
        if change == Change::Update {
            if let Some(old) = mode_of(path).map_err(Error::io("inspect", path))? {
                self.journal.push(Undo::SetMode(path.to_path_buf(), old));
            }
            set_mode(path, mode).map_err(Error::io("set permissions of", path))?;
        } else {
            let missing: Vec<PathBuf> = path
                .ancestors()
                .take_while(|p| !p.exists())
                .map(Path::to_path_buf)
                .collect();
            create_dir(path, mode).map_err(Error::io("create directory", path))?;
            self.journal
                .extend(missing.into_iter().rev().map(Undo::RemoveDir));
        }
        Ok("done")
    }

    /// Removes `path`: a directory for good, a file journalled first.
    fn remove(&mut self, path: &Path) -> Result<&'static str> {
        if path.is_dir() {
            std::fs::remove_dir_all(path).map_err(Error::io("remove", path))?;
        } else if path.exists() {
            let old = snapshot(path)?;
            self.journal
                .push(Undo::RestoreFile(path.to_path_buf(), old));
            std::fs::remove_file(path).map_err(Error::io("remove", path))?;
        }
        if let Some(dir) = path.parent() {
            let _ = fsutil::sync_dir(dir);
        }
        Ok("done")
    }

    /// Runs a manager action on a service, the backup timer's action (no
    /// service), or the manager's reload (neither), once per plan.
    fn command(
        &mut self,
        service: Option<ServiceId>,
        action: Option<Action>,
    ) -> Result<&'static str> {
        // One manager action may be several commands: run it once.
        if self.ran.contains(&(service, action)) {
            return Ok("done");
        }
        self.ran.push((service, action));
        match (service, action) {
            (Some(id), Some(action)) => {
                let before = self
                    .initial
                    .get(&id)
                    .cloned()
                    .unwrap_or(ServiceState::NotInstalled);
                self.journal.push(Undo::Service(id, before));
                self.manager.run(action, id, ACTION_TIMEOUT)?;
            }
            // An action without a service is the backup timer's.
            (None, Some(action)) => {
                // Asked now, after any reload: only the timer's own
                // commands change whether it is scheduled.
                let before = self.timer.is_active().unwrap_or(false);
                self.journal.push(Undo::Timer(before));
                self.timer.run(action, ACTION_TIMEOUT)?;
            }
            _ => self.manager.reload()?,
        }
        Ok("done")
    }

    /// Replays the journal backwards; returns what could not be undone.
    fn undo(&mut self) -> (Vec<String>, Vec<String>) {
        let journal = std::mem::take(&mut self.journal);
        let mut notes = Notes::default();
        self.stop_new(&journal, &mut notes);
        if restore_files(&journal, &mut notes) {
            notes.note(
                self.manager.reload().map_err(|e| e.to_string()),
                "reloaded the service manager".into(),
            );
        }
        self.restart_old(&journal, &mut notes);
        (notes.undone, notes.problems)
    }

    /// Services that were not running stop first, so nothing runs from
    /// files about to go; new ones are unloaded as well, and a timer that
    /// was not scheduled is unscheduled.
    fn stop_new(&self, journal: &[Undo], notes: &mut Notes) {
        for u in journal.iter().rev() {
            if let Undo::Timer(false) = u {
                notes.note(
                    self.timer
                        .run(Action::Deactivate, ACTION_TIMEOUT)
                        .map_err(|e| e.to_string()),
                    "unscheduled backups".into(),
                );
                continue;
            }
            let (id, action) = match u {
                Undo::Service(id, ServiceState::NotInstalled) => (id, Action::Deactivate),
                Undo::Service(
                    id,
                    ServiceState::Stopped | ServiceState::Stopping | ServiceState::Failed,
                ) => (id, Action::Stop),
                _ => continue,
            };
            notes.note(
                self.manager
                    .run(action, *id, ACTION_TIMEOUT)
                    .map_err(|e| e.to_string()),
                format!("stopped {}", id.display_name()),
            );
        }
    }

    /// Services that ran before run again, from their restored files, and
    /// a timer that was scheduled is scheduled again.
    fn restart_old(&self, journal: &[Undo], notes: &mut Notes) {
        for u in journal {
            match u {
                Undo::Service(id, ServiceState::Running | ServiceState::Starting) => notes.note(
                    self.manager
                        .run(Action::Activate, *id, ACTION_TIMEOUT)
                        .map_err(|e| e.to_string()),
                    format!("restarted {}", id.display_name()),
                ),
                Undo::Timer(true) => notes.note(
                    self.timer
                        .run(Action::Activate, ACTION_TIMEOUT)
                        .map_err(|e| e.to_string()),
                    "scheduled backups again".into(),
                ),
                _ => {}
            }
        }
    }
}

/// What an undo did and what it could not do.
#[derive(Default)]
struct Notes {
    undone: Vec<String>,
    problems: Vec<String>,
}

impl Notes {
    /// Notes `what` as undone, or as a problem with the error of `r`.
    fn note(&mut self, r: std::result::Result<(), String>, what: String) {
        match r {
            Ok(()) => self.undone.push(what),
            Err(e) => self.problems.push(format!("{what}: {e}")),
        }
    }
}

/// Puts back the directories, modes and files the journal names, newest
/// first. Returns whether any file was restored (then the manager reloads).
fn restore_files(journal: &[Undo], notes: &mut Notes) -> bool {
    let mut files = false;
    for u in journal.iter().rev() {
        match u {
            Undo::RemoveDir(p) => match std::fs::remove_dir(p) {
                // A service may have logged there before failing: keep what it wrote.
                Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty => {
                    notes.note(Ok(()), format!("kept {} (not empty)", p.display()));
                }
                r => notes.note(
                    r.map_err(|e| e.to_string()),
                    format!("removed {}", p.display()),
                ),
            },
            Undo::SetMode(p, m) => notes.note(
                set_mode(p, *m).map_err(|e| e.to_string()),
                format!("restored permissions of {}", p.display()),
            ),
            Undo::RestoreFile(p, old) => {
                files = true;
                let r = match old {
                    Some((bytes, mode)) => atomic_write(p, bytes, *mode),
                    None => std::fs::remove_file(p).or_else(|e| {
                        if e.kind() == std::io::ErrorKind::NotFound {
                            Ok(())
                        } else {
                            Err(e)
                        }
                    }),
                };
                notes.note(
                    r.map_err(|e| e.to_string()),
                    format!("restored {}", p.display()),
                );
            }
            Undo::Service(..) | Undo::Timer(_) => {}
        }
    }
    files
}

/// Applies `plan` on this machine, reporting each step to `progress`. On
/// failure, everything this run changed is undone before the error returns.
pub fn apply(
    ctx: &Context,
    plan: &Plan,
    manager: &dyn ServiceManager,
    progress: &mut dyn FnMut(Progress),
) -> Result<ApplyReport> {
    apply_with(ctx, plan, manager, &backup_timer(ctx), progress)
}

/// [`apply`] with the backup timer's driver given.
pub(crate) fn apply_with(
    ctx: &Context,
    plan: &Plan,
    manager: &dyn ServiceManager,
    timer: &BackupTimer,
    progress: &mut dyn FnMut(Progress),
) -> Result<ApplyReport> {
    if plan.platform != Platform::current() {
        return Err(Error::OtherPlatform {
            plan: plan.platform,
            here: Platform::current(),
        });
    }
    if let Some(blocked) = plan.blocked_error() {
        return Err(blocked);
    }
    let mut a = Applier {
        ctx,
        manager,
        timer,
        journal: Vec::new(),
        done: Vec::new(),
        health: BTreeMap::new(),
        ran: Vec::new(),
        // A manager that cannot answer here fails the first command anyway.
        initial: ServiceId::ALL
            .into_iter()
            .map(|id| {
                (
                    id,
                    manager
                        .status(id)
                        .map_or(ServiceState::NotInstalled, |s| s.state),
                )
            })
            .collect(),
    };
    for (index, step) in plan.steps.iter().enumerate() {
        // Checks already ran, and what is already as wanted needs no work;
        // health waits change nothing but must still run.
        if !step.is_change() && !matches!(step, Step::WaitHealthy { .. }) {
            continue;
        }
        let description = describe(step);
        progress(Progress::Started {
            index,
            description: description.clone(),
        });
        match a.step(step) {
            Ok(result) => {
                if result == "done" {
                    a.done.push(description);
                }
                progress(Progress::Finished {
                    index,
                    result: result.into(),
                });
            }
            Err(error) => {
                tracing::warn!(%error, "install step failed, undoing");
                let (undone, problems) = a.undo();
                return Err(Error::RolledBack {
                    error: Box::new(error),
                    undone,
                    problems,
                });
            }
        }
    }
    Ok(ApplyReport {
        changed: !a.done.is_empty(),
        done: a.done,
        health: a.health,
    })
}
