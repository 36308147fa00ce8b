//! Turning a context into a plan: what exists is compared with what the config
//! renders, so a plan only contains the changes still needed.

use std::path::{Path, PathBuf};

use super::plan::{Change, Check, Outcome, Plan, Step, mode_string};
use super::preflight::{Preflight, PreflightOptions, preflight};
use super::{Error, Result};
use crate::backup::schedule::BackupTimer;
use crate::config::TEMPLATE;
use crate::context::Context;
use crate::fsutil::mode_of;
use crate::services::{Action, Invocation, ServiceId, ServiceManager, ServiceState, SystemRunner};

/// Mode of Gardener's private directories and config.
pub(crate) const PRIVATE_DIR: u32 = 0o700;
pub(crate) const PRIVATE_FILE: u32 = 0o600;
/// Mode of service files (the service manager must read them).
pub(crate) const SERVICE_FILE: u32 = 0o644;

fn dir_step(path: &Path, mode: u32, enforce_mode: bool) -> Result<Step> {
    let change = match mode_of(path).map_err(Error::io("inspect", path))? {
        None => Change::Create,
        Some(m) if enforce_mode && m != mode => Change::Update,
        Some(_) => Change::Unchanged,
    };
    Ok(Step::Dir {
        path: path.to_path_buf(),
        mode: mode_string(mode),
        change,
    })
}

fn file_change(path: &Path, content: &str, mode: u32) -> Result<Change> {
    let Some(current_mode) = mode_of(path).map_err(Error::io("inspect", path))? else {
        return Ok(Change::Create);
    };
    let current = std::fs::read(path).map_err(Error::io("read", path))?;
    Ok(if current == content.as_bytes() && current_mode == mode {
        Change::Unchanged
    } else {
        Change::Update
    })
}

/// One command step per invocation, as plans have them.
pub(crate) fn commands(
    service: Option<ServiceId>,
    action: Option<Action>,
    invs: Vec<Invocation>,
    purpose: &str,
) -> Vec<Step> {
    invs.into_iter()
        .map(|inv| Step::Command {
            argv: inv.0,
            purpose: purpose.to_owned(),
            service,
            action,
        })
        .collect()
}

/// What a plan needs for the scheduled-backup timer besides the context: the
/// driver that loads it, and the `gardener` binary its job runs. The service
/// manager cannot drive the timer (it knows only the two services), so the
/// timer gets its own driver, with its own runner that tests replace.
pub(crate) struct TimerInputs<'a> {
    /// Loads, unloads and inspects the timer.
    pub(crate) timer: &'a BackupTimer,
    /// Absolute path of the `gardener` CLI.
    pub(crate) gardener: &'a Path,
}

/// The backup timer of this machine's user, next to the services' files.
pub(crate) fn backup_timer(ctx: &Context) -> BackupTimer {
    BackupTimer::new(
        ctx.platform(),
        ctx.paths.service_dir.clone(),
        Box::new(SystemRunner),
    )
}

/// The `gardener` CLI that scheduled backups run: the running binary, or,
/// when that is the menu-bar app, the CLI installed beside it. A plan for
/// another platform names the typical place instead, as it does for Ollama.
/// Resolved once per plan; a binary that moves (a package upgrade) shows up as
/// a changed timer file and is repaired by the next `gardener install`.
pub(crate) fn gardener_binary(ctx: &Context) -> PathBuf {
    if ctx.platform() != crate::Platform::current() {
        return PathBuf::from(match ctx.platform() {
            crate::Platform::Macos => "/opt/homebrew/bin/gardener",
            crate::Platform::Linux => "/usr/local/bin/gardener",
        });
    }
    // Without it the unit would name a relative path, which rendering refuses
    // with a message that says so.
    let Ok(exe) = std::env::current_exe() else {
        return PathBuf::from("gardener");
    };
    let cli = format!("gardener{}", std::env::consts::EXE_SUFFIX);
    if exe.file_name().is_some_and(|n| n == cli.as_str()) {
        return exe;
    }
    match exe.parent().map(|dir| dir.join(&cli)) {
        Some(beside) if beside.is_file() => beside,
        _ => exe,
    }
}

/// The plan that makes the machine match the config.
pub fn build_plan(
    ctx: &Context,
    manager: &dyn ServiceManager,
    opts: &PreflightOptions,
) -> Result<Plan> {
    let timer = backup_timer(ctx);
    let gardener = gardener_binary(ctx);
    let inputs = TimerInputs {
        timer: &timer,
        gardener: &gardener,
    };
    plan_from(ctx, manager, opts, preflight(ctx, manager, opts), &inputs)
}

/// The timer's part of an install plan.
#[derive(Default)]
struct TimerSteps {
    /// Set when the files cannot be rendered: it blocks the plan.
    check: Option<Check>,
    files: Vec<Step>,
    /// Unloading and removing a timer that is no longer wanted.
    removals: Vec<Step>,
    activation: Vec<Step>,
    files_changed: bool,
}

/// Files and commands that make the timer match `[backup] schedule`:
/// installed and scheduled when there is one, gone when it is off.
fn timer_steps(ctx: &Context, t: &TimerInputs<'_>, here: bool) -> Result<TimerSteps> {
    let schedule = ctx.config.backup.schedule;
    let timer = t.timer;
    // The job runs with `/` as its working directory.
    let config = std::path::absolute(&ctx.config_file).unwrap_or_else(|_| ctx.config_file.clone());
    let (out, err) = ctx.backup_log_files();
    // An unreachable manager is reported by preflight; plan as if nothing ran.
    let active = here && timer.is_active().unwrap_or(false);
    let mut s = TimerSteps::default();
    match timer.render(schedule, t.gardener, &config, (&out, &err)) {
        Err(e) => {
            s.check = Some(Check {
                id: "backup-schedule".into(),
                title: "Scheduled backups".into(),
                outcome: Outcome::Fail,
                detail: format!("cannot write the backup timer: {e}"),
                fix: Some(
                    "keep the gardener binary and gardener.toml at UTF-8 paths without \
                     control characters, or set `schedule = \"off\"` under [backup]"
                        .into(),
                ),
            });
        }
        Ok(Some(files)) => {
            for (path, content) in files {
                let change = file_change(&path, &content, SERVICE_FILE)?;
                s.files_changed |= change != Change::Unchanged;
                let purpose = if path.extension().is_some_and(|e| e == "service") {
                    "the backup job the timer starts (systemd user unit)".to_owned()
                } else {
                    format!("scheduled backups, {schedule} ({})", timer.kind())
                };
                s.files.push(Step::File {
                    path,
                    mode: mode_string(SERVICE_FILE),
                    content,
                    change,
                    purpose,
                });
            }
            // A changed systemd timer is rescheduled by the reload; launchd
            // only rereads a plist it loads again, which activating does.
            if s.files_changed || !active {
                s.activation = commands(
                    None,
                    Some(Action::Activate),
                    timer.commands(Action::Activate),
                    &format!("schedule backups ({schedule}), now and at every login"),
                );
            }
        }
        Ok(None) => {
            let installed: Vec<PathBuf> =
                timer.files().into_iter().filter(|p| p.exists()).collect();
            // systemd keeps the `timers.target.wants` link until disabled.
            if active || !installed.is_empty() {
                s.removals = commands(
                    None,
                    Some(Action::Deactivate),
                    timer.commands(Action::Deactivate),
                    "stop scheduled backups: `[backup] schedule` is off",
                );
            }
            s.files_changed = !installed.is_empty();
            s.removals
                .extend(installed.into_iter().map(|path| Step::Remove {
                    path,
                    purpose: "scheduled-backup timer (`[backup] schedule` is off)".into(),
                }));
        }
    }
    Ok(s)
}

/// [`build_plan`] with the preflight already run.
///
/// A command step with an action but no service drives the backup timer;
/// one with neither is the manager's reload.
pub(crate) fn plan_from(
    ctx: &Context,
    manager: &dyn ServiceManager,
    opts: &PreflightOptions,
    pf: Preflight,
    timer: &TimerInputs<'_>,
) -> Result<Plan> {
    let here = ctx.platform() == crate::Platform::current();
    // The user chose to use an Ollama already running: plan as if configured so.
    let mut ctx = ctx.clone();
    if opts.use_running_ollama && pf.external_ollama.is_some() {
        ctx.config.ollama.external = true;
    }
    let ctx = &ctx;
    let mut steps: Vec<Step> = pf.checks.iter().cloned().map(Step::Check).collect();
    let backup = timer_steps(ctx, timer, here)?;
    steps.extend(backup.check.map(Step::Check));
    steps.extend(dir_steps(ctx)?);
    steps.extend(config_step(ctx)?);
    let services = service_files(ctx, manager, &pf, here)?;
    steps.extend(services.steps);
    steps.extend(backup.files);
    let removals = replaced_ollama_steps(ctx, manager);
    let files_changed = services.changed || backup.files_changed || !removals.is_empty();
    steps.extend(removals);
    steps.extend(backup.removals);
    if files_changed {
        steps.extend(commands(
            None,
            None,
            manager.reload_commands(),
            "make the service manager read the new files",
        ));
    }
    steps.extend(start_steps(ctx, manager, services.actions));
    // Last: backups are scheduled once the services they back up are healthy.
    steps.extend(backup.activation);
    Ok(Plan {
        platform: ctx.platform(),
        config_file: ctx.config_file.clone(),
        manage_ollama: ctx.manages_ollama(),
        external_ollama: pf.external_ollama,
        steps,
    })
}

/// Steps for Gardener's directories: data, logs, backups, the service
/// manager's directory, and the config's when there is no config yet.
fn dir_steps(ctx: &Context) -> Result<Vec<Step>> {
    // (path, mode, enforce the mode on an existing directory)
    let mut dirs: Vec<(&Path, u32, bool)> = vec![
        (&ctx.data_dir, PRIVATE_DIR, true),
        (&ctx.logs_dir, PRIVATE_DIR, true),
        (&ctx.backups_dir, PRIVATE_DIR, true),
        (&ctx.paths.service_dir, 0o755, false),
    ];
    if let (false, Some(dir)) = (ctx.config_exists, ctx.config_file.parent()) {
        dirs.push((dir, PRIVATE_DIR, false));
    }
    let mut steps = Vec::new();
    for (i, (dir, mode, enforce)) in dirs.iter().enumerate() {
        // On macOS the config and data directories are the same.
        if !dirs[..i].iter().any(|(d, ..)| d == dir) {
            steps.push(dir_step(dir, *mode, *enforce)?);
        }
    }
    Ok(steps)
}

/// The step for the config file: written from the template when there is
/// none, its permissions tightened when they are too open.
fn config_step(ctx: &Context) -> Result<Option<Step>> {
    if !ctx.config_exists {
        return Ok(Some(Step::File {
            path: ctx.config_file.clone(),
            mode: mode_string(PRIVATE_FILE),
            content: TEMPLATE.to_owned(),
            change: Change::Create,
            purpose: "Gardener configuration (every key commented, defaults apply)".into(),
        }));
    }
    if mode_of(&ctx.config_file).map_err(Error::io("inspect", &ctx.config_file))?
        == Some(PRIVATE_FILE)
    {
        return Ok(None);
    }
    let content =
        std::fs::read_to_string(&ctx.config_file).map_err(Error::io("read", &ctx.config_file))?;
    Ok(Some(Step::File {
        path: ctx.config_file.clone(),
        mode: mode_string(PRIVATE_FILE),
        content,
        change: Change::Update,
        purpose: "Gardener configuration: only its permissions are tightened".into(),
    }))
}

/// The managed services' files as the config renders them.
struct ServiceFiles {
    /// One file step per service.
    steps: Vec<Step>,
    /// Whether any file is new or differs.
    changed: bool,
    /// What each service needs once its file is in place: loading, a
    /// start, or nothing.
    actions: Vec<(ServiceId, Option<Action>)>,
}

/// Renders each managed service's file and compares it with what is
/// installed and running.
fn service_files(
    ctx: &Context,
    manager: &dyn ServiceManager,
    pf: &Preflight,
    here: bool,
) -> Result<ServiceFiles> {
    let kind = match ctx.platform() {
        crate::Platform::Macos => "launchd agent",
        crate::Platform::Linux => "systemd user unit",
    };
    let mut out = ServiceFiles {
        steps: Vec::new(),
        changed: false,
        actions: Vec::new(),
    };
    for id in ctx.managed_services() {
        let program = match id {
            ServiceId::Ollama => &pf.ollama_binary,
            ServiceId::App => &pf.app_program,
        };
        let content = manager.render(&ctx.spec(id, program))?;
        let path = manager.file_path(id);
        let change = file_change(&path, &content, SERVICE_FILE)?;
        out.changed |= change != Change::Unchanged;
        // An unreachable manager is reported by preflight; plan as if nothing ran.
        let state = match here {
            true => manager
                .status(id)
                .map_or(ServiceState::NotInstalled, |s| s.state),
            false => ServiceState::NotInstalled,
        };
        let action = match (change, state) {
            (Change::Create | Change::Update, _) | (_, ServiceState::NotInstalled) => {
                Some(Action::Activate)
            }
            (_, ServiceState::Stopped | ServiceState::Failed) => Some(Action::Start),
            _ => None,
        };
        out.steps.push(Step::File {
            path,
            mode: mode_string(SERVICE_FILE),
            content,
            change,
            purpose: format!("{} service ({kind})", id.display_name()),
        });
        out.actions.push((id, action));
    }
    Ok(out)
}

/// Steps that stop and remove Gardener's own Ollama service when the config
/// uses an Ollama already running instead.
fn replaced_ollama_steps(ctx: &Context, manager: &dyn ServiceManager) -> Vec<Step> {
    let path = manager.file_path(ServiceId::Ollama);
    if ctx.manages_ollama() || !path.exists() {
        return Vec::new();
    }
    let mut steps = commands(
        Some(ServiceId::Ollama),
        Some(Action::Deactivate),
        manager.commands(Action::Deactivate, ServiceId::Ollama),
        "stop Gardener's Ollama service: the one already running is used instead",
    );
    steps.push(Step::Remove {
        path,
        purpose: "Gardener's Ollama service, replaced by the running Ollama".into(),
    });
    steps
}

/// Steps that load or start each service as `actions` say and wait for it
/// to be healthy (an Ollama Gardener does not manage is only waited for).
fn start_steps(
    ctx: &Context,
    manager: &dyn ServiceManager,
    actions: Vec<(ServiceId, Option<Action>)>,
) -> Vec<Step> {
    let timeout_secs = ctx.config.install.health_timeout_secs;
    let mut steps = Vec::new();
    if !ctx.manages_ollama() {
        steps.push(Step::WaitHealthy {
            service: ServiceId::Ollama,
            url: ctx.health_url(ServiceId::Ollama),
            timeout_secs,
        });
    }
    for (id, action) in actions {
        if let Some(action) = action {
            let purpose = match action {
                Action::Start => format!("start {}", id.display_name()),
                _ => format!("load {} and start it now and at login", id.display_name()),
            };
            steps.extend(commands(
                Some(id),
                Some(action),
                manager.commands(action, id),
                &purpose,
            ));
        }
        steps.push(Step::WaitHealthy {
            service: id,
            url: ctx.health_url(id),
            timeout_secs,
        });
    }
    steps
}

/// The plan that stops and removes the services and the backup timer. With
/// `purge`, Gardener's config, data and logs go too; backups are always kept.
pub fn uninstall_plan(ctx: &Context, manager: &dyn ServiceManager, purge: bool) -> Result<Plan> {
    uninstall_plan_with(ctx, manager, &backup_timer(ctx), purge)
}

/// [`uninstall_plan`] with the timer's driver given.
pub(crate) fn uninstall_plan_with(
    ctx: &Context,
    manager: &dyn ServiceManager,
    timer: &BackupTimer,
    purge: bool,
) -> Result<Plan> {
    // The timer first, so that no backup starts while the services go.
    let (mut steps, timer_files) = timer_removal(timer)?;
    let (services, service_files) = service_removal(manager)?;
    steps.extend(services);
    if timer_files || service_files {
        steps.extend(commands(
            None,
            None,
            manager.reload_commands(),
            "make the service manager forget the removed files",
        ));
    }
    if purge {
        steps.extend(purge_steps(ctx));
    }
    Ok(Plan {
        platform: ctx.platform(),
        config_file: ctx.config_file.clone(),
        manage_ollama: ctx.manages_ollama(),
        external_ollama: None,
        steps,
    })
}

/// Steps that stop the backup timer and remove its files, and whether
/// there were files to remove.
fn timer_removal(timer: &BackupTimer) -> Result<(Vec<Step>, bool)> {
    let mut steps = Vec::new();
    let installed: Vec<PathBuf> = timer.files().into_iter().filter(|p| p.exists()).collect();
    let active = match timer.is_active() {
        Ok(active) => active,
        Err(_) if installed.is_empty() => false,
        Err(e) => return Err(e.into()),
    };
    if active || !installed.is_empty() {
        steps.extend(commands(
            None,
            Some(Action::Deactivate),
            timer.commands(Action::Deactivate),
            "stop scheduled backups",
        ));
    }
    let any = !installed.is_empty();
    steps.extend(installed.into_iter().map(|path| Step::Remove {
        path,
        purpose: "file of the scheduled-backup timer".into(),
    }));
    Ok((steps, any))
}

/// Steps that stop and unload each service the manager knows and remove
/// its file, and whether there were files to remove.
fn service_removal(manager: &dyn ServiceManager) -> Result<(Vec<Step>, bool)> {
    let mut steps = Vec::new();
    let mut any = false;
    for id in ServiceId::ALL.into_iter().rev() {
        let path = manager.file_path(id);
        // Without a file, an unreachable manager has nothing of ours to stop.
        let known = match manager.status(id) {
            Ok(s) => s.state != ServiceState::NotInstalled,
            Err(_) if !path.exists() => false,
            Err(e) => return Err(e.into()),
        };
        if known {
            steps.extend(commands(
                Some(id),
                Some(Action::Deactivate),
                manager.commands(Action::Deactivate, id),
                &format!("stop {} and unload it", id.display_name()),
            ));
        }
        if path.exists() {
            steps.push(Step::Remove {
                path,
                purpose: format!("{} service file", id.display_name()),
            });
            any = true;
        }
    }
    Ok((steps, any))
}

/// Steps that remove Gardener's config, data and logs, keeping the backups
/// wherever they are inside them.
fn purge_steps(ctx: &Context) -> Vec<Step> {
    let mut steps = Vec::new();
    for (path, purpose) in [
        (&ctx.config_file, "Gardener configuration"),
        (&ctx.data_dir, "Gardener's data"),
        (&ctx.logs_dir, "service logs"),
    ] {
        if path.exists() && !ctx.backups_dir.starts_with(path) {
            steps.push(Step::Remove {
                path: path.clone(),
                purpose: purpose.into(),
            });
        } else if path.exists() {
            // Backups live inside: remove everything but them.
            if let Ok(entries) = std::fs::read_dir(path) {
                for entry in entries.flatten() {
                    let p = entry.path();
                    if !ctx.backups_dir.starts_with(&p) {
                        steps.push(Step::Remove {
                            path: p,
                            purpose: purpose.into(),
                        });
                    }
                }
            }
        }
    }
    steps
}
