//! What is installed and how it is doing: per-service state from the service
//! manager, drift between installed files and what the config renders, and
//! starting, stopping and restarting.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::programs::programs;
use super::{Error, Result};
use crate::context::Context;
use crate::health;
use crate::paths::Platform;
use crate::services::{self, Action, LastExit, ServiceId, ServiceManager, ServiceState};

/// How an installed service file compares with what the config renders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Drift {
    /// Identical.
    InSync,
    /// Different (edited by hand, or the config changed): `gardener install` repairs it.
    Modified,
    /// Not installed.
    Missing,
    /// Gardener does not manage this service (`[ollama] external = true`).
    NotManaged,
}

/// One service, as `gardener service status` reports it.
#[derive(Clone, Debug, Serialize)]
pub struct ServiceReport {
    /// Which service.
    pub id: ServiceId,
    /// systemd unit name or launchd label.
    pub unit: String,
    /// The installed service file.
    pub file: PathBuf,
    /// Whether Gardener manages it.
    pub managed: bool,
    /// File versus config.
    pub drift: Drift,
    /// Normalised state.
    pub state: ServiceState,
    /// The manager's own words.
    pub raw_state: String,
    /// Main process id.
    pub pid: Option<u32>,
    /// Restarts by the manager.
    pub restarts: Option<u32>,
    /// How the previous run ended.
    pub last_exit: Option<LastExit>,
    /// Health check result, when probed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthy: Option<bool>,
    /// Why the health check failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_error: Option<String>,
}

fn drift(
    ctx: &Context,
    manager: &dyn ServiceManager,
    id: ServiceId,
    program: &Path,
) -> Result<Drift> {
    let managed = id != ServiceId::Ollama || ctx.manages_ollama();
    let path = manager.file_path(id);
    let installed = match std::fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(Error::Io {
                action: "read",
                path,
                source: e,
            });
        }
    };
    Ok(match (managed, installed) {
        (false, _) => Drift::NotManaged,
        (true, None) => Drift::Missing,
        (true, Some(bytes)) => {
            if manager.render(&ctx.spec(id, program))?.as_bytes() == bytes {
                Drift::InSync
            } else {
                Drift::Modified
            }
        }
    })
}

/// Reports on `ids`; with `probe`, each running service's health URL is tried once.
pub fn service_reports(
    ctx: &Context,
    manager: &dyn ServiceManager,
    ids: &[ServiceId],
    probe: bool,
) -> Result<Vec<ServiceReport>> {
    let (ollama, app) = programs(ctx);
    ids.iter()
        .map(|&id| {
            let program = if id == ServiceId::Ollama {
                &ollama
            } else {
                &app
            };
            let status = services::status_or_unknown(manager, id);
            let drift = drift(ctx, manager, id, program)?;
            // Where the manager cannot be asked, the health check is all there is.
            let health = (probe
                && (matches!(status.state, ServiceState::Running | ServiceState::Unknown)
                    || drift == Drift::NotManaged))
                .then(|| health::probe(&ctx.health_url(id), Duration::from_secs(2)));
            Ok(ServiceReport {
                id,
                unit: match ctx.platform() {
                    Platform::Macos => id.label().to_owned(),
                    Platform::Linux => id.unit_name().to_owned(),
                },
                file: manager.file_path(id),
                managed: drift != Drift::NotManaged,
                drift,
                state: status.state,
                raw_state: status.raw_state,
                pid: status.pid,
                restarts: status.restarts,
                last_exit: status.last_exit,
                healthy: health.as_ref().map(|h| h.healthy),
                health_error: health.and_then(|h| h.error),
            })
        })
        .collect()
}

/// Starts, stops or restarts `ids`, then reports on them.
pub fn control(
    ctx: &Context,
    manager: &dyn ServiceManager,
    action: Action,
    ids: &[ServiceId],
) -> Result<Vec<ServiceReport>> {
    let managed = ctx.managed_services();
    // Asked for by name, an unmanaged service is an error; "both" means ours.
    if let [id] = ids
        && !managed.contains(id)
    {
        return Err(Error::NotManaged { service: *id });
    }
    let ids: Vec<ServiceId> = ids
        .iter()
        .copied()
        .filter(|id| managed.contains(id))
        .collect();
    for &id in &ids {
        if action != Action::Stop && !manager.file_path(id).exists() {
            return Err(Error::NotInstalled { service: id });
        }
    }
    // Stop in reverse start order: the app depends on Ollama.
    let ordered: Vec<ServiceId> = if action == Action::Stop {
        ids.iter().rev().copied().collect()
    } else {
        ids.clone()
    };
    for id in ordered {
        manager.run(action, id, Duration::from_secs(30))?;
    }
    service_reports(ctx, manager, &ids, false)
}
