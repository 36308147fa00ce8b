//! Turning a context into a plan: what exists is compared with what the config
//! renders, so a plan only contains the changes still needed.

use std::path::Path;

use super::plan::{Change, Plan, Step, mode_string};
use super::preflight::{Preflight, PreflightOptions, preflight};
use super::{Context, Error, Result};
use crate::config::TEMPLATE;
use crate::fsutil::mode_of;
use crate::services::{Action, Invocation, ServiceId, ServiceManager, ServiceState};

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

fn commands(
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

/// The plan that makes the machine match the config.
pub fn build_plan(
    ctx: &Context,
    manager: &dyn ServiceManager,
    opts: &PreflightOptions,
) -> Result<Plan> {
    plan_from(ctx, manager, opts, preflight(ctx, manager, opts))
}

/// [`build_plan`] with the preflight already run.
pub(crate) fn plan_from(
    ctx: &Context,
    manager: &dyn ServiceManager,
    opts: &PreflightOptions,
    pf: Preflight,
) -> Result<Plan> {
    let here = ctx.platform() == crate::Platform::current();
    // The user chose to use an Ollama already running: plan as if configured so.
    let mut ctx = ctx.clone();
    if opts.use_running_ollama && pf.external_ollama.is_some() {
        ctx.config.ollama.external = true;
    }
    let ctx = &ctx;
    let mut steps: Vec<Step> = pf.checks.iter().cloned().map(Step::Check).collect();

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
    for (i, (dir, mode, enforce)) in dirs.iter().enumerate() {
        // On macOS the config and data directories are the same.
        if !dirs[..i].iter().any(|(d, ..)| d == dir) {
            steps.push(dir_step(dir, *mode, *enforce)?);
        }
    }
    if !ctx.config_exists {
        steps.push(Step::File {
            path: ctx.config_file.clone(),
            mode: mode_string(PRIVATE_FILE),
            content: TEMPLATE.to_owned(),
            change: Change::Create,
            purpose: "Gardener configuration (every key commented, defaults apply)".into(),
        });
    } else if mode_of(&ctx.config_file).map_err(Error::io("inspect", &ctx.config_file))?
        != Some(PRIVATE_FILE)
    {
        let content = std::fs::read_to_string(&ctx.config_file)
            .map_err(Error::io("read", &ctx.config_file))?;
        steps.push(Step::File {
            path: ctx.config_file.clone(),
            mode: mode_string(PRIVATE_FILE),
            content,
            change: Change::Update,
            purpose: "Gardener configuration: only its permissions are tightened".into(),
        });
    }

    let kind = match ctx.platform() {
        crate::Platform::Macos => "launchd agent",
        crate::Platform::Linux => "systemd user unit",
    };
    let mut files_changed = false;
    let mut activations = Vec::new();
    for id in ctx.managed_services() {
        let program = match id {
            ServiceId::Ollama => &pf.ollama_binary,
            ServiceId::App => &pf.app_program,
        };
        let content = manager.render(&ctx.spec(id, program))?;
        let path = manager.file_path(id);
        let change = file_change(&path, &content, SERVICE_FILE)?;
        files_changed |= change != Change::Unchanged;
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
        steps.push(Step::File {
            path,
            mode: mode_string(SERVICE_FILE),
            content,
            change,
            purpose: format!("{} service ({kind})", id.display_name()),
        });
        activations.push((id, action));
    }
    let mut removals = Vec::new();
    if !ctx.manages_ollama() {
        let path = manager.file_path(ServiceId::Ollama);
        if path.exists() {
            files_changed = true;
            removals.extend(commands(
                Some(ServiceId::Ollama),
                Some(Action::Deactivate),
                manager.commands(Action::Deactivate, ServiceId::Ollama),
                "stop Gardener's Ollama service: the one already running is used instead",
            ));
            removals.push(Step::Remove {
                path,
                purpose: "Gardener's Ollama service, replaced by the running Ollama".into(),
            });
        }
    }
    steps.extend(removals);
    if files_changed {
        steps.extend(commands(
            None,
            None,
            manager.reload_commands(),
            "make the service manager read the new files",
        ));
    }
    let timeout_secs = ctx.config.install.health_timeout_secs;
    if !ctx.manages_ollama() {
        steps.push(Step::WaitHealthy {
            service: ServiceId::Ollama,
            url: ctx.health_url(ServiceId::Ollama),
            timeout_secs,
        });
    }
    for (id, action) in activations {
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
    Ok(Plan {
        platform: ctx.platform(),
        config_file: ctx.config_file.clone(),
        manage_ollama: ctx.manages_ollama(),
        external_ollama: pf.external_ollama,
        steps,
    })
}

/// The plan that stops and removes the services. With `purge`, Gardener's
/// config, data and logs go too; backups are always kept.
pub fn uninstall_plan(ctx: &Context, manager: &dyn ServiceManager, purge: bool) -> Result<Plan> {
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
    if any {
        steps.extend(commands(
            None,
            None,
            manager.reload_commands(),
            "make the service manager forget the removed files",
        ));
    }
    if purge {
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
    }
    Ok(Plan {
        platform: ctx.platform(),
        config_file: ctx.config_file.clone(),
        manage_ollama: ctx.manages_ollama(),
        external_ollama: None,
        steps,
    })
}
