//! `[alerts]`: one table per rule (threshold, clear level, sustained-for,
//! cooldown, recovery notice, enabled) and a global mute.
//!
//! Every rule gets its own struct, even where two look alike, because serde
//! fills a missing key from the struct's `Default`, and `[alerts.memory]
//! threshold = 90` must keep memory's own `clear` and `for_secs`, not CPU's.
//! A shared timing struct cannot be `#[serde(flatten)]`-ed either: flatten
//! silently disables `deny_unknown_fields`. Hence the macros.

use std::time::UNIX_EPOCH;

use bytesize::ByteSize;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `[alerts]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// Global switch for notifications. When false, rules are still evaluated,
    /// shown and recorded in the history, but nothing is notified.
    pub enabled: bool,
    /// Until this UTC time (RFC 3339, `"2026-11-25T18:00:00Z"`; a bare TOML
    /// datetime works too) alerts are recorded but not notified.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "timestamp_text"
    )]
    pub mute_until: Option<String>,
    /// `[alerts.cpu]`: CPU use of the whole machine, percent.
    pub cpu: CpuRule,
    /// `[alerts.memory]`: memory in use, percent.
    pub memory: MemoryRule,
    /// `[alerts.swap]`: swap in use, percent of the swap configured.
    pub swap: SwapRule,
    /// `[alerts.disk]`: the data directory's volume, percent full.
    pub disk: DiskRule,
    /// `[alerts.ollama_rss]`: Ollama's resident memory, and what to do about it.
    pub ollama_rss: OllamaRssRule,
    /// `[alerts.app_rss]`: the app's resident memory.
    pub app_rss: AppRssRule,
    /// `[alerts.service_down]`: either service stopped, failed or crashed.
    pub service_down: ServiceDownRule,
    /// `[alerts.health_failing]`: a running service failing its health check.
    pub health_failing: HealthFailingRule,
    /// `[alerts.model_offloaded]`: a loaded model partly on the CPU, percent
    /// of it that is not in GPU memory.
    pub model_offloaded: ModelOffloadedRule,
    /// `[alerts.backup_overdue]`: too long since the last successful backup.
    pub backup_overdue: BackupOverdueRule,
    /// `[alerts.backup_failed]`: the last backup attempt failed.
    pub backup_failed: BackupFailedRule,
    /// `[alerts.copy_failed]`: the last copy to a target failed (one alert
    /// per target, `copy_failed:NAME`).
    pub copy_failed: CopyFailedRule,
    /// `[alerts.copy_overdue]`: too long since the last copy to a target
    /// (`copy_overdue:NAME`).
    pub copy_overdue: CopyOverdueRule,
    /// The names of `[[backup.targets]]`, each watched by `copy_failed` and
    /// `copy_overdue`: filled in from `[backup]` when the config is loaded,
    /// not a key of its own.
    #[serde(skip)]
    pub copy_targets: Vec<String>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            mute_until: None,
            cpu: CpuRule::default(),
            memory: MemoryRule::default(),
            swap: SwapRule::default(),
            disk: DiskRule::default(),
            ollama_rss: OllamaRssRule::default(),
            app_rss: AppRssRule::default(),
            service_down: ServiceDownRule::default(),
            health_failing: HealthFailingRule::default(),
            model_offloaded: ModelOffloadedRule::default(),
            backup_overdue: BackupOverdueRule::default(),
            backup_failed: BackupFailedRule::default(),
            copy_failed: CopyFailedRule::default(),
            copy_overdue: CopyOverdueRule::default(),
            copy_targets: Vec::new(),
        }
    }
}

/// What every rule shares, with its limits as plain numbers in the rule's
/// unit (percent, bytes, hours; up/down rules fire at 1 and clear at 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RuleSettings {
    /// Whether the rule is evaluated at all.
    pub enabled: bool,
    /// The value it fires above.
    pub threshold: f64,
    /// The value it must drop to (or below) to resolve.
    pub clear: f64,
    /// How long the value must stay over the threshold before firing.
    pub for_secs: u64,
    /// Minimum gap between repeated notifications while firing (0: never).
    pub cooldown_secs: u64,
    /// Whether resolving is notified.
    pub recovery: bool,
}

/// What the monitor does when `[alerts.ollama_rss]` fires, besides notifying.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WatchdogAction {
    /// Only notify.
    #[default]
    Notify,
    /// Unload the models no request is using (`keep_alive: 0`).
    UnloadIdle,
    /// Restart the Ollama service.
    Restart,
}

/// Defines a threshold rule's table: the shared keys, the rule's defaults,
/// extra keys, and `settings()`.
macro_rules! threshold_rule {
    (
        $(#[$doc:meta])*
        $name:ident: $ty:ty, $unit:literal, $to_f64:expr, [$(#[$level:meta])*],
        threshold = $t:expr, clear = $c:expr, for_secs = $f:expr, cooldown_secs = $cd:expr
        $(, $(#[$fdoc:meta])* $field:ident: $fty:ty = $fdef:expr)* $(,)?
    ) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            /// Whether the rule is evaluated at all; a disabled rule is not shown.
            pub enabled: bool,
            #[doc = concat!("Fires when the value goes above this (", $unit, ").")]
            $(#[$level])*
            pub threshold: $ty,
            #[doc = concat!(
                "A firing alert resolves only once the value is back to or below this (",
                $unit,
                "); at most `threshold`. The gap stops a value hovering at the \
                 threshold from flapping."
            )]
            $(#[$level])*
            pub clear: $ty,
            /// Seconds the value must stay over `threshold` before the alert
            /// fires (0: on the first sample over it).
            pub for_secs: u64,
            /// Seconds between repeated notifications while it keeps firing
            /// (0: never repeat).
            pub cooldown_secs: u64,
            /// Whether to notify when it resolves.
            pub recovery: bool,
            $($(#[$fdoc])* pub $field: $fty,)*
        }

        impl Default for $name {
            fn default() -> Self {
                Self {
                    enabled: true,
                    threshold: $t,
                    clear: $c,
                    for_secs: $f,
                    cooldown_secs: $cd,
                    recovery: true,
                    $($field: $fdef,)*
                }
            }
        }

        impl $name {
            /// The shared settings, limits in the rule's unit.
            pub fn settings(&self) -> RuleSettings {
                let to_f64: fn($ty) -> f64 = $to_f64;
                RuleSettings {
                    enabled: self.enabled,
                    threshold: to_f64(self.threshold),
                    clear: to_f64(self.clear),
                    for_secs: self.for_secs,
                    cooldown_secs: self.cooldown_secs,
                    recovery: self.recovery,
                }
            }
        }
    };
}

/// Defines an up/down rule's table: no threshold, the value is 1 or 0.
macro_rules! state_rule {
    ($(#[$doc:meta])* $name:ident, for_secs = $f:expr, cooldown_secs = $cd:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            /// Whether the rule is evaluated at all; a disabled rule is not shown.
            pub enabled: bool,
            /// Seconds the condition must hold before the alert fires (0: on
            /// the first sample).
            pub for_secs: u64,
            /// Seconds between repeated notifications while it keeps firing
            /// (0: never repeat).
            pub cooldown_secs: u64,
            /// Whether to notify when it resolves.
            pub recovery: bool,
        }

        impl Default for $name {
            fn default() -> Self {
                Self {
                    enabled: true,
                    for_secs: $f,
                    cooldown_secs: $cd,
                    recovery: true,
                }
            }
        }

        impl $name {
            /// The shared settings: fires at 1, clears at 0.
            pub fn settings(&self) -> RuleSettings {
                RuleSettings {
                    enabled: self.enabled,
                    threshold: 1.0,
                    clear: 0.0,
                    for_secs: self.for_secs,
                    cooldown_secs: self.cooldown_secs,
                    recovery: self.recovery,
                }
            }
        }
    };
}

threshold_rule!(
    /// `[alerts.cpu]`: all cores busy = 100.
    CpuRule: u8, "percent", f64::from, [],
    threshold = 80, clear = 70, for_secs = 120, cooldown_secs = 3600
);
threshold_rule!(
    /// `[alerts.memory]`: memory in use, percent of installed.
    MemoryRule: u8, "percent", f64::from, [],
    threshold = 80, clear = 75, for_secs = 60, cooldown_secs = 3600
);
threshold_rule!(
    /// `[alerts.swap]`: swap in use, percent of the swap configured; a machine
    /// without swap never fires it.
    SwapRule: u8, "percent", f64::from, [],
    threshold = 50, clear = 40, for_secs = 300, cooldown_secs = 3600
);
threshold_rule!(
    /// `[alerts.disk]`: the volume holding the data directory, percent full.
    DiskRule: u8, "percent", f64::from, [],
    threshold = 90, clear = 85, for_secs = 0, cooldown_secs = 21600
);
threshold_rule!(
    /// `[alerts.ollama_rss]`: resident memory of Ollama's process tree, the
    /// memory watchdog (macOS cannot cap it without breaking mapped models).
    OllamaRssRule: ByteSize, "a size like \"5GiB\"", size_to_f64,
    [#[serde(serialize_with = "exact_size")]],
    threshold = ByteSize::gib(5), clear = ByteSize::mib(4608), for_secs = 60,
    cooldown_secs = 3600,
    /// What the monitor does when the rule fires: `"notify"` only,
    /// `"unload-idle"` models, or `"restart"` Ollama.
    action: WatchdogAction = WatchdogAction::Notify,
);
threshold_rule!(
    /// `[alerts.app_rss]`: resident memory of the app's process tree.
    AppRssRule: ByteSize, "a size like \"2GiB\"", size_to_f64,
    [#[serde(serialize_with = "exact_size")]],
    threshold = ByteSize::gib(2), clear = ByteSize::mib(1792), for_secs = 60,
    cooldown_secs = 3600
);
state_rule!(
    /// `[alerts.service_down]`: applies to each service (rules `ollama_down`,
    /// `app_down`). Down means stopped, failed, starting, restarted since the
    /// previous sample, or (external Ollama) not answering. A service that is
    /// not installed at all is not watched.
    ServiceDownRule,
    for_secs = 0,
    cooldown_secs = 3600
);
state_rule!(
    /// `[alerts.health_failing]`: a running service whose health check fails
    /// (rules `ollama_health`, `app_health`). Not evaluated while the service
    /// is down, so a dead service raises one alert, not two.
    HealthFailingRule,
    for_secs = 30,
    cooldown_secs = 3600
);
threshold_rule!(
    /// `[alerts.model_offloaded]`: the largest share of a loaded model that is
    /// not in GPU memory (`size_vram` below `size` in Ollama's `/api/ps`), in
    /// percent. Such a model runs partly on the CPU and is slow. A machine
    /// without a GPU (no loaded model has GPU memory) never fires it.
    ModelOffloadedRule: u8, "percent", f64::from, [],
    threshold = 0, clear = 0, for_secs = 30, cooldown_secs = 3600
);

state_rule!(
    /// `[alerts.backup_failed]`: the last backup attempt failed (made by the
    /// timer, the menu or the command line). Fires at once; the next
    /// successful backup resolves it. Reminds once a day.
    BackupFailedRule,
    for_secs = 0,
    cooldown_secs = 86400
);

state_rule!(
    /// `[alerts.copy_failed]`: the last copy to a target failed (rules
    /// `copy_failed:NAME`, one per target). The next copy that works resolves it.
    CopyFailedRule,
    for_secs = 0,
    cooldown_secs = 86400
);

/// `[alerts.copy_overdue]`: hours since the last copy to a target (rules
/// `copy_overdue:NAME`); clears when a copy completes.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CopyOverdueRule {
    /// Whether the rule is evaluated at all; a disabled rule is not shown.
    pub enabled: bool,
    /// Fires when the last copy to a target is older than this many hours.
    pub threshold: u32,
    /// Seconds between repeated notifications while overdue (0: never repeat).
    pub cooldown_secs: u64,
    /// Whether to notify when a copy completes after the alert fired.
    pub recovery: bool,
}

impl Default for CopyOverdueRule {
    fn default() -> Self {
        Self {
            enabled: true,
            threshold: 36,
            cooldown_secs: 86400,
            recovery: true,
        }
    }
}

impl CopyOverdueRule {
    /// The shared settings, in hours.
    pub fn settings(&self) -> RuleSettings {
        RuleSettings {
            enabled: self.enabled,
            threshold: f64::from(self.threshold),
            clear: f64::from(self.threshold),
            for_secs: 0,
            cooldown_secs: self.cooldown_secs,
            recovery: self.recovery,
        }
    }
}

/// `[alerts.backup_overdue]`: hours since the last successful backup. It
/// clears at the threshold: the age only drops when a backup completes.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackupOverdueRule {
    /// Whether the rule is evaluated at all; a disabled rule is not shown.
    pub enabled: bool,
    /// Fires when the last backup is older than this many hours (at least 1).
    pub threshold: u32,
    /// Seconds the backup must stay overdue before the alert fires.
    pub for_secs: u64,
    /// Seconds between repeated notifications while overdue (0: never repeat).
    pub cooldown_secs: u64,
    /// Whether to notify when a backup completes after the alert fired.
    pub recovery: bool,
}

impl Default for BackupOverdueRule {
    fn default() -> Self {
        Self {
            enabled: true,
            threshold: 36,
            for_secs: 0,
            // Once a day: an overdue backup is not urgent, just not forgotten.
            cooldown_secs: 86400,
            recovery: true,
        }
    }
}

impl BackupOverdueRule {
    /// The shared settings, in hours.
    pub fn settings(&self) -> RuleSettings {
        RuleSettings {
            enabled: self.enabled,
            threshold: f64::from(self.threshold),
            clear: f64::from(self.threshold),
            for_secs: self.for_secs,
            cooldown_secs: self.cooldown_secs,
            recovery: self.recovery,
        }
    }
}

impl AlertsConfig {
    /// `mute_until` in seconds since the epoch; `None` when unset or invalid
    /// (validation refuses invalid values, so that only happens for configs
    /// built in code).
    pub fn mute_until_secs(&self) -> Option<u64> {
        self.mute_until
            .as_deref()
            .and_then(|t| parse_timestamp(t).ok())
    }
}

fn parse_timestamp(text: &str) -> Result<u64, String> {
    let time = humantime::parse_rfc3339(text).map_err(|e| {
        format!(
            "`{text}` is not a UTC time like \"2026-11-25T18:00:00Z\" ({e}); only UTC (Z or \
             +00:00) is accepted"
        )
    })?;
    // Times before 1970 are pointless for a mute; treat them as "not muted".
    Ok(time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
}

// Precision loss only matters above 2^53 bytes, far beyond any memory size.
#[allow(clippy::cast_precision_loss)]
fn size_to_f64(size: ByteSize) -> f64 {
    size.as_u64() as f64
}

/// Accepts a quoted RFC 3339 string or a bare TOML datetime for `mute_until`.
fn timestamp_text<'de, D: Deserializer<'de>>(de: D) -> Result<Option<String>, D::Error> {
    match toml::Value::deserialize(de)? {
        toml::Value::String(s) => Ok(Some(s)),
        toml::Value::Datetime(d) => Ok(Some(d.to_string())),
        other => Err(serde::de::Error::custom(format!(
            "expected a UTC time like \"2026-11-25T18:00:00Z\", found {}",
            other.type_str()
        ))),
    }
}

/// Writes a size so that it reads back exactly: `ByteSize`'s own text keeps
/// one decimal, which would turn 1792MiB into "1.8 GiB" in `config show`.
fn exact_size<S: Serializer>(size: &ByteSize, ser: S) -> Result<S::Ok, S::Error> {
    let bytes = size.as_u64();
    let unit = [
        (1u64 << 40, "TiB"),
        (1 << 30, "GiB"),
        (1 << 20, "MiB"),
        (1 << 10, "KiB"),
    ]
    .into_iter()
    .find(|(factor, _)| bytes >= *factor && bytes.is_multiple_of(*factor));
    match unit {
        Some((factor, name)) => ser.serialize_str(&format!("{}{name}", bytes / factor)),
        None => ser.serialize_u64(bytes),
    }
}

/// Checks `[alerts]`; an error is the dotted key and what is wrong.
pub(super) fn validate(alerts: &AlertsConfig) -> Result<(), (String, String)> {
    if let Some(text) = &alerts.mute_until {
        parse_timestamp(text).map_err(|m| ("alerts.mute_until".to_owned(), m))?;
    }
    let percent = [
        ("cpu", alerts.cpu.threshold, alerts.cpu.clear),
        ("memory", alerts.memory.threshold, alerts.memory.clear),
        ("swap", alerts.swap.threshold, alerts.swap.clear),
        ("disk", alerts.disk.threshold, alerts.disk.clear),
        (
            "model_offloaded",
            alerts.model_offloaded.threshold,
            alerts.model_offloaded.clear,
        ),
    ];
    for (rule, threshold, clear) in percent {
        if threshold > 100 {
            return Err((
                format!("alerts.{rule}.threshold"),
                format!("({threshold}) is a percentage and must be at most 100"),
            ));
        }
        check_clear(rule, clear <= threshold, &clear, &threshold)?;
    }
    let sizes = [
        (
            "ollama_rss",
            alerts.ollama_rss.threshold,
            alerts.ollama_rss.clear,
        ),
        ("app_rss", alerts.app_rss.threshold, alerts.app_rss.clear),
    ];
    for (rule, threshold, clear) in sizes {
        check_clear(rule, clear <= threshold, &clear, &threshold)?;
    }
    for (key, hours) in [
        ("backup_overdue", alerts.backup_overdue.threshold),
        ("copy_overdue", alerts.copy_overdue.threshold),
    ] {
        if hours == 0 {
            return Err((
                format!("alerts.{key}.threshold"),
                "must be at least 1 (hours)".to_owned(),
            ));
        }
    }
    Ok(())
}

fn check_clear(
    rule: &str,
    ok: bool,
    clear: &dyn std::fmt::Display,
    threshold: &dyn std::fmt::Display,
) -> Result<(), (String, String)> {
    if ok {
        return Ok(());
    }
    Err((
        format!("alerts.{rule}.clear"),
        format!(
            "({clear}) is above `threshold` ({threshold}); an alert resolves once the value drops \
             to or below `clear`, so it must be at most the threshold (lower `clear` too when you \
             lower `threshold`)"
        ),
    ))
}

#[cfg(test)]
#[path = "alerts_tests.rs"]
mod tests;
