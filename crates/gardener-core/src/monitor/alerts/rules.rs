//! The alert rules: which value each reads from a snapshot, its limits from
//! `[alerts]`, and the sentences its notifications carry.

use super::offload;
use crate::config::{AlertsConfig, RuleSettings};
use crate::monitor::snapshot::{RunState, ServiceSnapshot, Snapshot, TargetCopies};

/// Longest piece of a service's error quoted in a notification: probe errors
/// can carry whole response bodies.
const MAX_ERROR_CHARS: usize = 200;

/// One of the two services.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Service {
    Ollama,
    App,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Self::Ollama => "Ollama",
            Self::App => "Codebase Gardener",
        }
    }

    fn of(self, s: &Snapshot) -> &ServiceSnapshot {
        match self {
            Self::Ollama => &s.services.ollama.service,
            Self::App => &s.services.app,
        }
    }
}

/// What a rule measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Metric {
    Cpu,
    Memory,
    Swap,
    Disk,
    Rss(Service),
    Down(Service),
    Health(Service),
    /// The largest share of a loaded model on the CPU, percent.
    Offload,
    BackupAge,
    BackupFailed,
    /// The last copy to the rule's target failed.
    CopyFailed,
    /// Hours since the last copy to the rule's target.
    CopyAge,
}

/// What a rule sees in one snapshot.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Reading {
    /// The measured value (finite).
    Value(f64),
    /// Not measurable now: the rule keeps its state.
    Unknown,
    /// The rule does not apply now (health of a service that is down): a
    /// pending alert is dropped so that its grace period starts over once
    /// the service is back; a firing one is kept until it can be judged.
    Suspended,
    /// Nothing to watch (the service is not installed): back to Ok without
    /// a notice, so an uninstalled service leaves no alert behind.
    Gone,
}

/// A rule with its limits in engine units.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Rule {
    pub id: String,
    pub metric: Metric,
    /// The target a copy rule watches.
    pub target: Option<String>,
    pub threshold: f64,
    pub clear: f64,
    pub for_secs: u64,
    pub cooldown_secs: u64,
    pub recovery: bool,
}

/// Every rule id, in the order `statuses` lists them.
pub const RULE_IDS: [&str; 13] = [
    "cpu",
    "memory",
    "swap",
    "disk",
    "ollama_rss",
    "app_rss",
    "ollama_down",
    "app_down",
    "ollama_health",
    "app_health",
    "model_offloaded",
    "backup_overdue",
    "backup_failed",
];

/// What rule `rule` watches, in words ("CPU use", "Copy to nas failed").
pub fn rule_name(rule: &str) -> String {
    match rule.split_once(':') {
        Some(("copy_failed", target)) => return format!("Copy to {target} failed"),
        Some(("copy_overdue", target)) => return format!("Copy to {target} overdue"),
        _ => {}
    }
    let name = match rule {
        "cpu" => "CPU use",
        "memory" => "Memory use",
        "swap" => "Swap use",
        "disk" => "Disk use",
        "ollama_rss" => "Ollama's memory",
        "app_rss" => "Codebase Gardener's memory",
        "ollama_down" => "Ollama stopped",
        "app_down" => "Codebase Gardener stopped",
        "ollama_health" => "Ollama not answering",
        "app_health" => "Codebase Gardener not answering",
        "model_offloaded" => "Model partly on the CPU",
        "backup_overdue" => "Backup overdue",
        "backup_failed" => "Backup failed",
        other => other,
    };
    name.to_owned()
}

/// The enabled rules of `config`, in [`RULE_IDS`] order, then the copy
/// rules of each target.
pub(super) fn rules(config: &AlertsConfig) -> Vec<Rule> {
    all(config)
        .into_iter()
        .filter(|(_, _, _, s)| s.enabled)
        .map(|(id, metric, target, s)| Rule {
            id,
            metric,
            target,
            threshold: s.threshold,
            clear: s.clear,
            for_secs: s.for_secs,
            cooldown_secs: s.cooldown_secs,
            recovery: s.recovery,
        })
        .collect()
}

/// One rule as the app's alerts view lists it, in the rule's unit
/// (percent, bytes, hours; up/down rules fire at 1 and clear at 0).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct RuleInfo {
    /// Rule id.
    pub rule: String,
    /// What it watches, in words.
    pub name: String,
    /// Evaluated at all.
    pub enabled: bool,
    /// Fires above this.
    pub threshold: f64,
    /// Resolves at or below this.
    pub clear: f64,
    /// Must hold this long before firing.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub for_secs: u64,
    /// Gap between reminders while firing (0: none).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub cooldown_secs: u64,
    /// Whether the end is notified.
    pub recovery: bool,
}

/// Every rule of `config`, enabled or not, in [`RULE_IDS`] order, then
/// the copy rules of each target.
pub fn describe(config: &AlertsConfig) -> Vec<RuleInfo> {
    all(config)
        .into_iter()
        .map(|(rule, _, _, s)| RuleInfo {
            name: rule_name(&rule),
            rule,
            enabled: s.enabled && config.enabled,
            threshold: s.threshold,
            clear: s.clear,
            for_secs: s.for_secs,
            cooldown_secs: s.cooldown_secs,
            recovery: s.recovery,
        })
        .collect()
}

type RuleSpec = (String, Metric, Option<String>, RuleSettings);

fn all(config: &AlertsConfig) -> Vec<RuleSpec> {
    let c = config;
    let fixed: [(&str, Metric, RuleSettings); 13] = [
        ("cpu", Metric::Cpu, c.cpu.settings()),
        ("memory", Metric::Memory, c.memory.settings()),
        ("swap", Metric::Swap, c.swap.settings()),
        ("disk", Metric::Disk, c.disk.settings()),
        (
            "ollama_rss",
            Metric::Rss(Service::Ollama),
            c.ollama_rss.settings(),
        ),
        ("app_rss", Metric::Rss(Service::App), c.app_rss.settings()),
        (
            "ollama_down",
            Metric::Down(Service::Ollama),
            c.service_down.settings(),
        ),
        (
            "app_down",
            Metric::Down(Service::App),
            c.service_down.settings(),
        ),
        (
            "ollama_health",
            Metric::Health(Service::Ollama),
            c.health_failing.settings(),
        ),
        (
            "app_health",
            Metric::Health(Service::App),
            c.health_failing.settings(),
        ),
        (
            "model_offloaded",
            Metric::Offload,
            c.model_offloaded.settings(),
        ),
        (
            "backup_overdue",
            Metric::BackupAge,
            c.backup_overdue.settings(),
        ),
        (
            "backup_failed",
            Metric::BackupFailed,
            c.backup_failed.settings(),
        ),
    ];
    let mut out: Vec<RuleSpec> = fixed
        .into_iter()
        .map(|(id, m, s)| (id.to_owned(), m, None, s))
        .collect();
    for t in &c.copy_targets {
        out.push((
            format!("copy_failed:{t}"),
            Metric::CopyFailed,
            Some(t.clone()),
            c.copy_failed.settings(),
        ));
        out.push((
            format!("copy_overdue:{t}"),
            Metric::CopyAge,
            Some(t.clone()),
            c.copy_overdue.settings(),
        ));
    }
    out
}

/// Percent of `used` in `total`; unknown when there is no total.
// Precision loss only matters above 2^53 bytes.
#[allow(clippy::cast_precision_loss)]
fn percent(used: u64, total: u64) -> Reading {
    if total == 0 {
        Reading::Unknown
    } else {
        Reading::Value(used as f64 / total as f64 * 100.0)
    }
}

fn flag(on: bool) -> Reading {
    Reading::Value(if on { 1.0 } else { 0.0 })
}

fn is_gone(s: &ServiceSnapshot) -> bool {
    // Before setup (or after uninstall) there is nothing to alert about;
    // `gardener status` and the setup window say what to do instead.
    s.state == RunState::NotInstalled
}

fn is_down(s: &ServiceSnapshot) -> bool {
    // `restarted`: it died and came back between two samples, which must be
    // noticed even though it is running again now.
    match s.state {
        RunState::Running => s.restarted,
        // Gardener cannot see an external Ollama's process, only its answer.
        RunState::External => s.restarted || !s.healthy,
        // A backup stopped it on purpose and will start it again.
        RunState::Paused => false,
        // Its manager cannot be asked: that says nothing about the service
        // (its health rule still runs on what the health check sees).
        RunState::Unknown => false,
        _ => true,
    }
}

impl Rule {
    /// The copies of this rule's target in `s`.
    fn copies<'s>(&self, s: &'s Snapshot) -> Option<&'s TargetCopies> {
        let name = self.target.as_deref()?;
        s.copies.iter().find(|t| t.name == name)
    }

    /// Whether `value` is over the threshold. Up/down rules (threshold 1)
    /// fire at 1; the others strictly above, so that `clear == threshold`
    /// can never be over and cleared at once.
    pub fn over(&self, value: f64) -> bool {
        match self.metric {
            Metric::Down(_) | Metric::Health(_) | Metric::BackupFailed | Metric::CopyFailed => {
                value >= self.threshold
            }
            _ => value > self.threshold,
        }
    }

    /// Whether a firing alert resolves at `value`.
    pub fn cleared(&self, value: f64) -> bool {
        value <= self.clear
    }

    /// The rule's value in `s` at `now` (seconds since the epoch).
    pub fn read(&self, s: &Snapshot, now: u64) -> Reading {
        let reading = match self.metric {
            Metric::Cpu => Reading::Value(f64::from(s.system.cpu_percent)),
            Metric::Memory => percent(s.system.memory.used_bytes, s.system.memory.total_bytes),
            Metric::Swap => percent(s.system.swap.used_bytes, s.system.swap.total_bytes),
            // As `df` and the gauge count it: root's reserved blocks are not
            // room a person has, so a volume is full before used = total.
            Metric::Disk if s.system.disk.total_bytes == 0 => Reading::Unknown,
            Metric::Disk => Reading::Value(f64::from(s.system.disk.percent)),
            Metric::Rss(svc) => {
                // Precision loss only matters above 2^53 bytes.
                #[allow(clippy::cast_precision_loss)]
                let rss = svc.of(s).rss_bytes.map(|b| b as f64);
                rss.map_or(Reading::Unknown, Reading::Value)
            }
            Metric::Down(svc) => {
                let s = svc.of(s);
                if is_gone(s) {
                    Reading::Gone
                } else {
                    flag(is_down(s))
                }
            }
            Metric::Health(svc) => {
                let s = svc.of(s);
                if is_gone(s) {
                    Reading::Gone
                } else if is_down(s) || matches!(s.state, RunState::External | RunState::Paused) {
                    // External: `service_down` already covers "not healthy".
                    Reading::Suspended
                } else {
                    flag(!s.healthy)
                }
            }
            Metric::Offload => {
                let o = &s.services.ollama.service;
                if is_gone(o) {
                    Reading::Gone
                } else if is_down(o) || !o.healthy {
                    // Its loaded models cannot be known now.
                    Reading::Unknown
                } else {
                    Reading::Value(offload::highest_share(&s.services.ollama.models))
                }
            }
            Metric::BackupAge => match s.last_backup_at {
                // Precision loss only matters after millions of years.
                #[allow(clippy::cast_precision_loss)]
                Some(at) => Reading::Value(now.saturating_sub(at) as f64 / 3600.0),
                None => Reading::Unknown,
            },
            Metric::BackupFailed => flag(s.backup_failure.is_some()),
            Metric::CopyFailed => match self.copies(s) {
                Some(t) => flag(t.failure.is_some()),
                None => Reading::Gone,
            },
            Metric::CopyAge => match self.copies(s).map(|t| t.last_copy_at) {
                // Precision loss only matters after millions of years.
                #[allow(clippy::cast_precision_loss)]
                Some(Some(at)) => Reading::Value(now.saturating_sub(at) as f64 / 3600.0),
                Some(None) => Reading::Unknown,
                None => Reading::Gone,
            },
        };
        // NaN would also poison alerts.json: serde_json writes it as null.
        match reading {
            Reading::Value(v) if !v.is_finite() => Reading::Unknown,
            r => r,
        }
    }

    /// The notification text when the alert fires; `over_secs` is how long
    /// the value has been over the threshold.
    pub fn firing_message(&self, value: f64, s: &Snapshot, over_secs: u64, repeat: bool) -> String {
        let lasting = if over_secs > 0 {
            format!(" for {}", duration(over_secs))
        } else {
            String::new()
        };
        let t = self.threshold;
        let text = match self.metric {
            Metric::Cpu => format!("CPU at {}{lasting} (threshold {})", pct(value), pct(t)),
            Metric::Memory => format!("Memory at {}{lasting} (threshold {})", pct(value), pct(t)),
            Metric::Swap => format!("Swap at {}{lasting} (threshold {})", pct(value), pct(t)),
            Metric::Disk => {
                let on = &s.system.disk.path;
                let on = if on.is_empty() {
                    String::new()
                } else {
                    format!(" on {on}")
                };
                format!("Disk at {}{on} (threshold {})", pct(value), pct(t))
            }
            Metric::Rss(svc) => {
                format!("{} uses {} (budget {})", svc.name(), bytes(value), bytes(t))
            }
            Metric::Down(svc) => {
                let snap = svc.of(s);
                let why = snap.error.as_deref().map(quote);
                match (snap.state, why) {
                    (RunState::Running, Some(why)) => {
                        format!("{} died and was restarted: {why}", svc.name())
                    }
                    (RunState::Running, None) => format!("{} died and was restarted", svc.name()),
                    (_, Some(why)) => format!("{} is down: {why}", svc.name()),
                    (state, None) => format!("{} is down ({})", svc.name(), state.as_str()),
                }
            }
            Metric::Health(svc) => match svc.of(s).error.as_deref().map(quote) {
                Some(why) => format!(
                    "{} is running but its health check fails: {why}",
                    svc.name()
                ),
                None => format!("{} is running but its health check fails", svc.name()),
            },
            Metric::Offload => offload::firing_text(&s.services.ollama.models),
            Metric::BackupAge => format!(
                "Last backup was {} ago (threshold {})",
                duration(hours_to_secs(value)),
                duration(hours_to_secs(t))
            ),
            Metric::BackupFailed => match s.backup_failure.as_deref().map(quote) {
                Some(why) => format!("The last backup failed: {why}"),
                None => "The last backup failed".to_owned(),
            },
            Metric::CopyFailed => {
                let target = self.target.as_deref().unwrap_or("?");
                match self.copies(s).and_then(|t| t.failure.as_deref()).map(quote) {
                    Some(why) => format!("The last copy to {target} failed: {why}"),
                    None => format!("The last copy to {target} failed"),
                }
            }
            Metric::CopyAge => format!(
                "No copy to {} for {} (threshold {})",
                self.target.as_deref().unwrap_or("?"),
                duration(hours_to_secs(value)),
                duration(hours_to_secs(t))
            ),
        };
        if repeat {
            format!("Still: {text}")
        } else {
            text
        }
    }

    /// The notification text when the alert resolves.
    pub fn resolved_message(&self, value: f64) -> String {
        let t = self.threshold;
        match self.metric {
            Metric::Cpu => format!("CPU back to {} (threshold {})", pct(value), pct(t)),
            Metric::Memory => format!("Memory back to {} (threshold {})", pct(value), pct(t)),
            Metric::Swap => format!("Swap back to {} (threshold {})", pct(value), pct(t)),
            Metric::Disk => format!("Disk back to {} (threshold {})", pct(value), pct(t)),
            Metric::Rss(svc) => format!(
                "{} is back to {} (budget {})",
                svc.name(),
                bytes(value),
                bytes(t)
            ),
            Metric::Down(svc) => format!("{} is back up", svc.name()),
            Metric::Health(svc) => format!("{}'s health check passes again", svc.name()),
            Metric::Offload => offload::resolved_text(),
            Metric::BackupAge => format!(
                "Backups are current again (last one {} ago)",
                duration(hours_to_secs(value))
            ),
            Metric::BackupFailed => "A backup succeeded again".to_owned(),
            Metric::CopyFailed => format!(
                "Copies to {} work again",
                self.target.as_deref().unwrap_or("?")
            ),
            Metric::CopyAge => format!(
                "Copies to {} are current again",
                self.target.as_deref().unwrap_or("?")
            ),
        }
    }
}

fn quote(error: &str) -> String {
    let error = error.trim();
    match error.char_indices().nth(MAX_ERROR_CHARS) {
        Some((cut, _)) => format!("{}…", &error[..cut]),
        None => error.to_owned(),
    }
}

// Values are finite and non-negative here; rounding to whole units is the point.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn hours_to_secs(hours: f64) -> u64 {
    (hours * 3600.0).round().max(0.0) as u64
}

fn pct(v: f64) -> String {
    format!("{v:.0}%")
}

/// `5 GiB`, `5.6 GiB`, `512 MiB`: one decimal at most, none when whole.
pub(super) fn bytes(v: f64) -> String {
    const UNITS: [(f64, &str); 4] = [
        (1_099_511_627_776.0, "TiB"),
        (1_073_741_824.0, "GiB"),
        (1_048_576.0, "MiB"),
        (1024.0, "KiB"),
    ];
    let (factor, unit) = UNITS
        .into_iter()
        .find(|(f, _)| v >= *f)
        .unwrap_or((1.0, "B"));
    let text = format!("{:.1}", v / factor);
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text} {unit}")
}

/// `45 s`, `2 min`, `1 h 5 min`, `2 d 3 h`: the two largest units.
pub(super) fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}
