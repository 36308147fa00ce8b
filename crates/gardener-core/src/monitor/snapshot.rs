//! What one tick of the monitor sees: both services, the machine's gauges and
//! the state of every alert rule. Serialized as the `gardener status --json`
//! contract and sent to the UI.

use serde::{Deserialize, Serialize};

/// One sample of everything the monitor watches.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Snapshot {
    /// When it was taken, in milliseconds since the Unix epoch.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub taken_at_ms: u64,
    /// Ollama and the app.
    pub services: Services,
    /// CPU, memory, swap and disk.
    pub system: SystemGauges,
    /// Every enabled alert rule and its state.
    pub alerts: Vec<AlertStatus>,
    /// When the last successful backup finished (seconds since the epoch), if known.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub last_backup_at: Option<u64>,
    /// Why the last backup attempt failed, while no later one succeeded.
    #[serde(default)]
    pub last_backup_error: Option<String>,
    /// Full or incremental, for the last successful backup.
    #[serde(default)]
    pub last_backup_kind: Option<crate::backup::BackupKind>,
    /// Files the last successful backup stored (for an incremental one, the
    /// files that changed).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub last_backup_files: Option<u64>,
    /// What the `backup_failed` alert reports: a failure the menu-bar app
    /// did not already tell of, until a backup succeeds.
    #[serde(default)]
    pub backup_failure: Option<String>,
    /// Each backup target's copies, as the copy job last recorded them.
    #[serde(default)]
    pub copies: Vec<TargetCopies>,
}

/// One backup target, as `copies.json` records it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct TargetCopies {
    /// The target's name.
    pub name: String,
    /// When a copy to it last succeeded, seconds since the epoch.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub last_copy_at: Option<u64>,
    /// Why the last copy failed, while no later one succeeded.
    pub failure: Option<String>,
    /// Whether the newest local backup has a copy there.
    pub has_newest: bool,
}

/// Both services.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Services {
    /// The model server.
    pub ollama: OllamaSnapshot,
    /// The Codebase Gardener app.
    pub app: ServiceSnapshot,
}

/// How a service is doing, as one word.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum RunState {
    /// Its process is running.
    Running,
    /// Being started or restarted.
    Starting,
    /// Being stopped.
    Stopping,
    /// Loaded but not running.
    Stopped,
    /// Stopped after failing.
    Failed,
    /// Stopped by a running backup while it reads the app's data, or by a
    /// running restore while it swaps in the data; either starts it again.
    /// Not an outage: no alert.
    Paused,
    /// The service manager does not know it.
    #[default]
    NotInstalled,
    /// Not managed by Gardener (`[ollama] external = true`, or an Ollama
    /// Gardener did not install answers on the port).
    External,
    /// Gardener manages it but its service manager cannot be asked (no user
    /// session bus, not logged in at the Mac): whether it runs is not known.
    /// Its health check still says whether it answers. Not an outage.
    Unknown,
}

impl RunState {
    /// Lowercase words for human output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Starting => "starting",
            Self::Stopping => "stopping",
            Self::Stopped => "stopped",
            Self::Failed => "failed",
            Self::Paused => "paused for a backup or restore",
            Self::NotInstalled => "not installed",
            Self::External => "external",
            Self::Unknown => "unknown",
        }
    }
}

/// One service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ServiceSnapshot {
    /// Normalised state.
    pub state: RunState,
    /// Whether Gardener installed and manages it.
    pub managed: bool,
    /// Main process id.
    pub pid: Option<u32>,
    /// Whether its health check answered as expected.
    pub healthy: bool,
    /// How long the health check took, when it was made.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub latency_ms: Option<u64>,
    /// Why it is not healthy (or not running).
    pub error: Option<String>,
    /// Restarts by the service manager.
    pub restarts: Option<u32>,
    /// Resident memory of its process tree.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub rss_bytes: Option<u64>,
    /// CPU use of its process tree, in percent of one core.
    pub cpu_percent: Option<f32>,
    /// True when the service restarted since the previous sample (it died,
    /// even if it is running again now).
    #[serde(default)]
    pub restarted: bool,
}

/// Ollama: the service plus what it reports about itself.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct OllamaSnapshot {
    /// Process and health.
    #[serde(flatten)]
    pub service: ServiceSnapshot,
    /// `GET /api/version`.
    pub version: Option<String>,
    /// Models loaded in memory (`GET /api/ps`).
    pub models: Vec<LoadedModel>,
}

/// A model Ollama holds in memory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct LoadedModel {
    /// `name:tag`.
    pub name: String,
    /// Memory it takes in all.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub size_bytes: u64,
    /// Of which in GPU memory.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub vram_bytes: u64,
    /// When Ollama unloads it unless used (RFC 3339, as Ollama wrote it).
    pub expires_at: Option<String>,
    /// Context window it was loaded with.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub context_length: Option<u64>,
}

/// A model installed on disk (`GET /api/tags`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct InstalledModel {
    /// `name:tag`.
    pub name: String,
    /// Size on disk.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub size_bytes: u64,
    /// When it was last pulled or changed (RFC 3339).
    pub modified_at: Option<String>,
    /// Model family (`llama`, `qwen2`, …).
    pub family: Option<String>,
    /// `8B`, `7.6B`, …
    pub parameter_size: Option<String>,
    /// `Q4_K_M`, …
    pub quantization: Option<String>,
}

/// The machine.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SystemGauges {
    /// All cores busy = 100.
    pub cpu_percent: f32,
    /// Memory in use.
    pub memory: Memory,
    /// Swap in use.
    pub swap: Swap,
    /// The volume holding the data directory.
    pub disk: Disk,
}

/// Memory: on Linux total − `MemAvailable`; on macOS what Activity Monitor
/// calls used (app memory + wired + compressed).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Memory {
    /// In use.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub used_bytes: u64,
    /// Installed.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub total_bytes: u64,
    /// `used / total × 100`.
    pub percent: f32,
    /// macOS memory pressure (`normal`, `warning`, `critical`); absent elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pressure: Option<String>,
}

/// Swap.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Swap {
    /// In use.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub used_bytes: u64,
    /// Configured.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub total_bytes: u64,
}

/// One volume.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Disk {
    /// The directory whose volume this is.
    pub path: String,
    /// Used (blocks in use).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub used_bytes: u64,
    /// Size.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub total_bytes: u64,
    /// `used / (used + available to unprivileged users) × 100`, as `df` shows it.
    pub percent: f32,
}

/// Whether a rule's condition holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum AlertState {
    /// Below the threshold (or cleared).
    #[default]
    Ok,
    /// Over the threshold, not yet for long enough.
    Pending,
    /// Over the threshold for long enough: notified.
    Firing,
}

/// One alert rule's current state, as `status` shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct AlertStatus {
    /// Rule id (`cpu`, `memory`, `ollama_down`, …).
    pub rule: String,
    /// Its state.
    pub state: AlertState,
    /// The measured value it was last evaluated on (percent, bytes, hours,
    /// or 1/0 for up/down rules); absent when unknown.
    pub value: Option<f64>,
    /// The threshold it fires at.
    pub threshold: f64,
    /// Since when it has been in this state (seconds since the epoch).
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub since: Option<u64>,
}

impl Snapshot {
    /// Percent, with a total of zero giving zero rather than NaN.
    pub fn percent(used: u64, total: u64) -> f32 {
        if total == 0 {
            0.0
        } else {
            // Precision loss is irrelevant at the scale of a percentage.
            #[allow(clippy::cast_precision_loss)]
            let p = used as f64 / total as f64 * 100.0;
            #[allow(clippy::cast_possible_truncation)]
            let p = p as f32;
            p
        }
    }
}
