//! A snapshot in a few words: the overall state (ok, warning, critical, not
//! set up) and one short line each for Ollama, the app, the machine and the
//! last backup, as the menu-bar icon and its menu show them.

use serde::Serialize;

use super::snapshot::{AlertState, RunState, ServiceSnapshot, Snapshot};
use crate::backup::BackupKind;
use crate::words::ago;

/// How the stack is doing, worst first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Overall {
    /// A service is down or failing its health check, or the disk is nearly full.
    Critical,
    /// Some other alert fires, or the last backup failed.
    Warning,
    /// The service manager cannot be asked, so whether the services run is
    /// not known (their health checks pass).
    CannotTell,
    /// Neither service is installed.
    NotSetUp,
    /// All is well.
    Ok,
}

/// The summary of one snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Summary {
    /// The icon's state.
    pub overall: Overall,
    /// `Ollama — running · v0.12.6 · 2 models, 6.1 GB`.
    pub ollama: String,
    /// `App — healthy`.
    pub app: String,
    /// `CPU 23% · Memory 61% · Disk 45%`.
    pub system: String,
    /// `Last backup — 3 h ago ✓ incremental (12 files changed)`.
    pub backup: String,
}

/// Alerts that mean the stack is not doing its job.
const CRITICAL_RULES: [&str; 5] = [
    "ollama_down",
    "app_down",
    "ollama_health",
    "app_health",
    "disk",
];

fn gb(bytes: u64) -> String {
    // Decimal, like Ollama's own listing.
    #[allow(clippy::cast_precision_loss)]
    let g = bytes as f64 / 1e9;
    format!("{g:.1} GB")
}

fn service_words(s: &ServiceSnapshot) -> String {
    match s.state {
        RunState::Running if s.healthy => "healthy".into(),
        RunState::Running => match &s.error {
            Some(e) => format!("not answering ({e})"),
            None => "not answering".into(),
        },
        RunState::Unknown if s.healthy => "answering · cannot tell if it runs".into(),
        RunState::Unknown => "not answering · cannot tell if it runs".into(),
        other => other.as_str().into(),
    }
}

/// " full", " incremental (12 files changed)", or nothing when not known.
pub fn backup_kind(s: &Snapshot) -> String {
    match (s.last_backup_kind, s.last_backup_files) {
        (Some(BackupKind::Full), _) => " full".into(),
        (Some(BackupKind::Incremental), Some(1)) => " incremental (1 file changed)".into(),
        (Some(BackupKind::Incremental), Some(n)) => format!(" incremental ({n} files changed)"),
        (Some(BackupKind::Incremental), None) => " incremental".into(),
        (None, _) => String::new(),
    }
}

/// " · nas ✓ · offsite ✗": whether each target holds the newest backup
/// (✓), its last copy failed (✗), or it has not got the newest yet (–).
pub fn copies_marks(s: &Snapshot) -> String {
    s.copies
        .iter()
        .map(|t| {
            let mark = if t.failure.is_some() {
                "✗"
            } else if t.has_newest {
                "✓"
            } else {
                "–"
            };
            format!(" · {} {mark}", t.name)
        })
        .collect()
}

/// Summarizes `s`, taken at about `now` (seconds since the epoch).
pub fn summarize(s: &Snapshot, now: u64) -> Summary {
    let o = &s.services.ollama;
    let mut ollama = format!("Ollama — {}", service_words(&o.service));
    if o.service.healthy
        && let Some(v) = &o.version
    {
        ollama.push_str(&format!(" · v{v}"));
    }
    if !o.models.is_empty() {
        let bytes = o.models.iter().map(|m| m.size_bytes).sum();
        let n = o.models.len();
        let plural = if n == 1 { "model" } else { "models" };
        ollama.push_str(&format!(" · {n} {plural}, {}", gb(bytes)));
    }
    let app = format!("App — {}", service_words(&s.services.app));
    let sys = &s.system;
    let system = format!(
        "CPU {:.0}% · Memory {:.0}% · Disk {:.0}%",
        sys.cpu_percent, sys.memory.percent, sys.disk.percent
    );
    let backup = match (&s.last_backup_error, s.last_backup_at) {
        (Some(_), _) => "Last backup — failed ✗".to_owned(),
        (None, Some(at)) if !s.copies.is_empty() => format!(
            "Last backup — {} ✓ {}{}",
            ago(now.saturating_sub(at)),
            s.last_backup_kind.map_or("", BackupKind::as_str),
            copies_marks(s)
        ),
        (None, Some(at)) => format!(
            "Last backup — {} ✓{}",
            ago(now.saturating_sub(at)),
            backup_kind(s)
        ),
        (None, None) => "Last backup — never".to_owned(),
    };
    Summary {
        overall: overall(s),
        ollama,
        app,
        system,
        backup,
    }
}

fn overall(s: &Snapshot) -> Overall {
    let services = [&s.services.ollama.service, &s.services.app];
    if services.iter().all(|x| x.state == RunState::NotInstalled) {
        return Overall::NotSetUp;
    }
    let firing = |critical: bool| {
        s.alerts.iter().any(|a| {
            a.state == AlertState::Firing && CRITICAL_RULES.contains(&a.rule.as_str()) == critical
        })
    };
    let down = services
        .iter()
        .any(|x| x.managed && matches!(x.state, RunState::Stopped | RunState::Failed));
    if firing(true) || down {
        Overall::Critical
    } else if firing(false) || s.last_backup_error.is_some() {
        Overall::Warning
    } else if services.iter().any(|x| x.state == RunState::Unknown) {
        Overall::CannotTell
    } else {
        Overall::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::snapshot::{AlertStatus, LoadedModel, TargetCopies};

    fn healthy() -> Snapshot {
        let mut s = Snapshot::default();
        for svc in [&mut s.services.ollama.service, &mut s.services.app] {
            svc.state = RunState::Running;
            svc.managed = true;
            svc.healthy = true;
        }
        s.services.ollama.version = Some("0.12.6".into());
        s.services.ollama.models = [3_000_000_000, 3_100_000_000]
            .into_iter()
            .map(|size_bytes| LoadedModel {
                name: "m".into(),
                size_bytes,
                ..LoadedModel::default()
            })
            .collect();
        s.system.cpu_percent = 23.4;
        s.system.memory.percent = 61.0;
        s.system.disk.percent = 44.6;
        s.last_backup_at = Some(1_000_000);
        s
    }

    fn firing(rule: &str) -> AlertStatus {
        AlertStatus {
            rule: rule.into(),
            state: AlertState::Firing,
            ..AlertStatus::default()
        }
    }

    #[test]
    fn a_healthy_stack_reads_like_the_menu() {
        let sum = summarize(&healthy(), 1_000_000 + 3 * 3_600 + 5);
        assert_eq!(
            sum,
            Summary {
                overall: Overall::Ok,
                ollama: "Ollama — healthy · v0.12.6 · 2 models, 6.1 GB".into(),
                app: "App — healthy".into(),
                system: "CPU 23% · Memory 61% · Disk 45%".into(),
                backup: "Last backup — 3 h ago ✓".into(),
            }
        );
    }

    #[test]
    fn down_services_and_critical_alerts_are_critical_others_warn() {
        let mut s = healthy();
        s.services.app.state = RunState::Failed;
        s.services.app.healthy = false;
        let sum = summarize(&s, 1_000_060);
        assert_eq!(sum.overall, Overall::Critical);
        assert_eq!(sum.app, "App — failed");
        assert_eq!(sum.backup, "Last backup — just now ✓");

        let mut s = healthy();
        s.services.ollama.service.healthy = false;
        s.services.ollama.service.error = Some("answered HTTP 500".into());
        s.alerts.push(firing("ollama_health"));
        let sum = summarize(&s, 1_000_000);
        assert_eq!(sum.overall, Overall::Critical);
        assert_eq!(
            sum.ollama,
            "Ollama — not answering (answered HTTP 500) · 2 models, 6.1 GB"
        );

        let mut s = healthy();
        s.alerts.push(firing("cpu"));
        assert_eq!(summarize(&s, 0).overall, Overall::Warning);
        s.alerts.push(firing("disk"));
        assert_eq!(summarize(&s, 0).overall, Overall::Critical);
    }

    #[test]
    fn a_failed_or_missing_backup_and_a_fresh_machine() {
        let mut s = healthy();
        s.last_backup_error = Some("disk full".into());
        let sum = summarize(&s, 0);
        assert_eq!(sum.overall, Overall::Warning);
        assert_eq!(sum.backup, "Last backup — failed ✗");
        s.last_backup_error = None;
        s.last_backup_at = None;
        assert_eq!(summarize(&s, 0).backup, "Last backup — never");
        s.last_backup_at = Some(0);
        assert_eq!(
            summarize(&s, 3 * 86_400).backup,
            "Last backup — 3 days ago ✓"
        );
        s.last_backup_kind = Some(BackupKind::Full);
        assert_eq!(summarize(&s, 60).backup, "Last backup — just now ✓ full");
        s.last_backup_kind = Some(BackupKind::Incremental);
        s.last_backup_files = Some(12);
        assert_eq!(
            summarize(&s, 60).backup,
            "Last backup — just now ✓ incremental (12 files changed)"
        );
        let target = |name: &str, has_newest: bool, failure: Option<&str>| TargetCopies {
            name: name.into(),
            last_copy_at: Some(0),
            failure: failure.map(String::from),
            has_newest,
        };
        s.copies = vec![
            target("nas", true, None),
            target("offsite", false, Some("unreachable")),
            target("server", false, None),
        ];
        assert_eq!(
            summarize(&s, 3 * 3600).backup,
            "Last backup — 3 h ago ✓ incremental · nas ✓ · offsite ✗ · server –"
        );

        let fresh = Snapshot::default();
        let sum = summarize(&fresh, 0);
        assert_eq!(sum.overall, Overall::NotSetUp);
        assert_eq!(sum.ollama, "Ollama — not installed");
        // An Ollama Gardener did not install is shown, not judged.
        let mut ext = healthy();
        ext.services.ollama.service.state = RunState::External;
        ext.services.ollama.service.managed = false;
        assert_eq!(summarize(&ext, 0).overall, Overall::Ok);
    }

    #[test]
    fn services_whose_manager_cannot_be_asked_cannot_be_told() {
        let mut s = healthy();
        for svc in [&mut s.services.ollama.service, &mut s.services.app] {
            svc.state = RunState::Unknown;
            svc.error = Some("cannot tell whether it runs: cannot reach …".into());
        }
        let sum = summarize(&s, 1_000_000);
        assert_eq!(sum.overall, Overall::CannotTell);
        assert!(
            sum.app.starts_with("App — answering · cannot tell"),
            "{}",
            sum.app
        );
        // Not answering as well: its health alert makes it critical.
        s.services.app.healthy = false;
        assert_eq!(
            summarize(&s, 0).app,
            "App — not answering · cannot tell if it runs"
        );
        s.alerts.push(firing("app_health"));
        assert_eq!(summarize(&s, 0).overall, Overall::Critical);
        // Other alerts come first: the icon cannot show both.
        s.alerts = vec![firing("memory")];
        assert_eq!(summarize(&s, 0).overall, Overall::Warning);
    }
}
