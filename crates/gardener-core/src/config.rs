//! `gardener.toml`: every key has a default, unknown keys are errors, and every
//! error names the file, the line and the key. The service files are rendered
//! from this config, so settings here survive reinstalls and upgrades.

mod alerts;
mod backup;
mod comments;
mod targets;
mod template;
pub(crate) mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytesize::ByteSize;
use serde::{Deserialize, Deserializer, Serialize};

pub use alerts::*;
pub use backup::{
    BackupConfig, BackupSource, FullEvery, RESERVED_SOURCE_NAMES, RetentionConfig, Schedule,
    WEEKDAYS,
};
pub use targets::{CheckEvery, SftpLocation, TargetConfig, TargetKind};
pub use template::TEMPLATE;

/// The whole configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[ollama]`: the model server.
    pub ollama: OllamaConfig,
    /// `[app]`: the Codebase Gardener app.
    pub app: AppConfig,
    /// `[paths]`: where Gardener keeps its own files.
    pub paths: PathsConfig,
    /// `[services]`: how the service manager runs both services.
    pub services: ServicesConfig,
    /// `[install]`: installer limits.
    pub install: InstallConfig,
    /// `[monitor]`: how often and how long the services are watched.
    pub monitor: MonitorConfig,
    /// `[alerts]`: when to raise a notification.
    pub alerts: AlertsConfig,
    /// `[logs]`: rotation of the services' log files and Gardener's own.
    pub logs: LogsConfig,
    /// `[backup]`: what is backed up, where, how long it is kept, when.
    pub backup: BackupConfig,
}

/// `[ollama]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct OllamaConfig {
    /// The `ollama` executable; found on PATH and in the usual install places
    /// when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary: Option<PathBuf>,
    /// Address Ollama listens on (`OLLAMA_HOST`); must be loopback.
    pub host: String,
    /// Where models are stored (`OLLAMA_MODELS`).
    pub models_dir: PathBuf,
    /// Use an Ollama that Gardener did not install (Ollama.app, `brew
    /// services`) instead of installing the Ollama service.
    pub external: bool,
    /// systemd `MemoryHigh=` for Ollama (unset: no limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_high: Option<ByteSize>,
    /// systemd `MemoryMax=` for Ollama (unset: no limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_max: Option<ByteSize>,
    /// Extra environment for Ollama, merged over the defaults; an empty value
    /// removes a default.
    #[serde(deserialize_with = "merge_ollama_env")]
    pub env: BTreeMap<String, String>,
}

/// `[app]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppConfig {
    /// The app's command line (program found on PATH when not absolute).
    pub command: Vec<String>,
    /// Working directory of the app.
    pub working_dir: PathBuf,
    /// URL that answers 2xx when the app is healthy; must be loopback.
    pub health_url: String,
    /// When set, a healthy answer's body must also contain this text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_body: Option<String>,
    /// systemd `MemoryHigh=` for the app.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_high: Option<ByteSize>,
    /// systemd `MemoryMax=` for the app.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_max: Option<ByteSize>,
    /// Extra environment for the app, merged over the defaults; an empty value
    /// removes a default. `CODEBASE_GARDENER_OLLAMA_BASE_URL` is derived from
    /// `[ollama] host` unless set here.
    #[serde(deserialize_with = "merge_app_env")]
    pub env: BTreeMap<String, String>,
}

/// `[paths]`: unset keys take the platform defaults (see [`crate::Paths`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PathsConfig {
    /// Gardener's own data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
    /// The services' log files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs: Option<PathBuf>,
    /// Where backups are written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backups: Option<PathBuf>,
}

/// `[services]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServicesConfig {
    /// Seconds before a crashed service is started again (at least 2).
    pub restart_delay_secs: u32,
}

/// `[install]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct InstallConfig {
    /// Installing refuses to start with less free disk than this.
    pub min_free_disk: ByteSize,
    /// How long installing waits for both services to answer their health checks.
    pub health_timeout_secs: u64,
}

/// `[monitor]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitorConfig {
    /// Seconds between two samples (1..=3600).
    pub interval_secs: u64,
    /// How much history is kept in memory for the sparklines, in seconds.
    pub history_secs: u64,
    /// Longest wait for one HTTP probe, in seconds (1..=60).
    pub probe_timeout_secs: u64,
    /// Seconds between two listings of Ollama's installed models (and asks
    /// for its version, which otherwise changes only with its process).
    pub models_every_secs: u64,
}

/// `[logs]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogsConfig {
    /// A service log file larger than this is rotated.
    pub max_size: ByteSize,
    /// Rotated files kept per log (older ones are deleted); 1..=100.
    pub keep: u32,
    /// Days of Gardener's own daily logs kept.
    pub keep_days: u32,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self {
            interval_secs: 5,
            history_secs: 3600,
            probe_timeout_secs: 2,
            models_every_secs: 60,
        }
    }
}

impl Default for LogsConfig {
    fn default() -> Self {
        Self {
            max_size: ByteSize::mib(10),
            keep: 5,
            keep_days: 7,
        }
    }
}

/// Default Ollama address.
pub const DEFAULT_OLLAMA_HOST: &str = "127.0.0.1:11434";

impl Default for OllamaConfig {
    fn default() -> Self {
        Self {
            binary: None,
            host: DEFAULT_OLLAMA_HOST.into(),
            models_dir: PathBuf::from("~/.ollama/models"),
            external: false,
            memory_high: None,
            memory_max: None,
            env: default_ollama_env(),
        }
    }
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            command: [
                "codebase-gardener",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                "7860",
            ]
            .map(String::from)
            .to_vec(),
            working_dir: PathBuf::from("~"),
            health_url: "http://127.0.0.1:7860/".into(),
            health_body: None,
            memory_high: Some(ByteSize::gib(2)),
            memory_max: Some(ByteSize::gib(3)),
            env: default_app_env(),
        }
    }
}

impl Default for ServicesConfig {
    fn default() -> Self {
        Self {
            restart_delay_secs: 5,
        }
    }
}

impl Default for InstallConfig {
    fn default() -> Self {
        Self {
            min_free_disk: ByteSize::gib(2),
            health_timeout_secs: 60,
        }
    }
}

fn default_ollama_env() -> BTreeMap<String, String> {
    // At most two models resident, as the deployment this replaces ran; flash
    // attention and a q8 KV cache roughly halve context memory on small machines.
    [
        ("OLLAMA_KEEP_ALIVE", "5m"),
        ("OLLAMA_MAX_LOADED_MODELS", "2"),
        ("OLLAMA_FLASH_ATTENTION", "1"),
        ("OLLAMA_KV_CACHE_TYPE", "q8_0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn default_app_env() -> BTreeMap<String, String> {
    BTreeMap::from([(
        "CODEBASE_GARDENER_DATA_DIR".to_owned(),
        "~/.codebase-gardener".to_owned(),
    )])
}

fn merge_env<'de, D: Deserializer<'de>>(
    de: D,
    mut base: BTreeMap<String, String>,
) -> std::result::Result<BTreeMap<String, String>, D::Error> {
    let user = BTreeMap::<String, String>::deserialize(de)?;
    for (k, v) in user {
        if v.is_empty() {
            base.remove(&k);
        } else {
            base.insert(k, v);
        }
    }
    Ok(base)
}

fn merge_ollama_env<'de, D: Deserializer<'de>>(
    de: D,
) -> std::result::Result<BTreeMap<String, String>, D::Error> {
    merge_env(de, default_ollama_env())
}

fn merge_app_env<'de, D: Deserializer<'de>>(
    de: D,
) -> std::result::Result<BTreeMap<String, String>, D::Error> {
    merge_env(de, default_app_env())
}

/// A config problem, located as precisely as possible.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file exists but could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The config file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The config file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key, or a value of the wrong type.
    #[error("{}: {message}", location(path, *line, *column, key.as_deref()))]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
        /// Dotted key (`ollama.host`), when known.
        key: Option<String>,
        /// What is wrong and, where possible, what to write instead.
        message: String,
    },
}

fn location(path: &Path, line: Option<usize>, column: Option<usize>, key: Option<&str>) -> String {
    let mut s = path.display().to_string();
    if let Some(line) = line {
        s.push_str(&format!(":{line}"));
        if let Some(column) = column {
            s.push_str(&format!(":{column}"));
        }
    }
    if let Some(key) = key {
        s.push_str(&format!(": key `{key}`"));
    }
    s
}

impl Error {
    /// Stable machine-readable code for JSON output and the UI.
    pub fn code(&self) -> crate::error::ErrorCode {
        crate::error::ErrorCode::Config
    }
}

/// Result alias for this module.
pub type Result<T> = std::result::Result<T, Error>;

/// 1-based line and column of a byte offset.
fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let before = source.get(..offset.min(source.len())).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

impl Config {
    /// Parses and validates `source`, read from `path` (used in messages only).
    pub fn parse(source: &str, path: &Path) -> Result<Self> {
        let invalid =
            |span: Option<std::ops::Range<usize>>, key: Option<String>, message: String| {
                let (line, column) = match span {
                    Some(span) => {
                        let (l, c) = line_col(source, span.start);
                        (Some(l), Some(c))
                    }
                    None => (None, None),
                };
                Error::Invalid {
                    path: path.to_path_buf(),
                    line,
                    column,
                    key,
                    message,
                }
            };
        let de = toml::Deserializer::parse(source)
            .map_err(|e| invalid(e.span(), None, e.message().to_owned()))?;
        let mut config: Self = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let key = (!key.is_empty() && key != ".").then_some(key);
            let inner = e.inner();
            invalid(inner.span(), key, friendly(inner.message()))
        })?;
        validate::validate(&config)
            .map_err(|v| invalid(validate::span_of(source, &v.key), Some(v.key), v.message))?;
        config.alerts.copy_targets = config
            .backup
            .targets
            .iter()
            .map(|t| t.name.clone())
            .collect();
        Ok(config)
    }

    /// Reads `path`; a missing file gives the defaults.
    pub fn load(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(source) => Self::parse(&source, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(Error::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Sets `[ollama] external = true` in the file at `path` (written from
    /// the template when absent), keeping its comments and layout.
    pub fn set_external_ollama(path: &Path) -> Result<()> {
        Self::edit(path, |doc| {
            doc["ollama"]["external"] = toml_edit::value(true)
        })
    }

    /// Sets `[alerts] mute_until` to `until` (an RFC 3339 UTC time), or
    /// removes it with `None`, in the file at `path` (written from the
    /// template when absent), keeping its comments and layout.
    pub fn set_mute_until(path: &Path, until: Option<&str>) -> Result<()> {
        Self::edit(path, |doc| match until {
            Some(t) => doc["alerts"]["mute_until"] = toml_edit::value(t),
            None => {
                if let Some(alerts) = doc.get_mut("alerts").and_then(|a| a.as_table_like_mut()) {
                    alerts.remove("mute_until");
                }
            }
        })
    }

    /// Sets `[ollama.env] NAME = "VALUE"`, or removes the key with `None`,
    /// in the file at `path` (written from the template when absent),
    /// keeping its comments and layout.
    pub fn set_ollama_env(path: &Path, name: &str, value: Option<&str>) -> Result<()> {
        Self::edit(path, |doc| match value {
            Some(v) => {
                let new = doc
                    .get("ollama")
                    .and_then(|o| o.get("env"))
                    .and_then(|e| e.get(name))
                    .is_none();
                doc["ollama"]["env"][name] = toml_edit::value(v);
                if new {
                    comments::key_below_comments(doc, name);
                }
            }
            None => comments::remove_keeping_comments(doc, name),
        })
    }

    /// Sets `[monitor] interval_secs`, keeping the file's comments and layout.
    pub fn set_interval(path: &Path, secs: u64) -> Result<()> {
        let secs = i64::try_from(secs).unwrap_or(i64::MAX);
        Self::edit(path, |doc| {
            doc["monitor"]["interval_secs"] = toml_edit::value(secs)
        })
    }

    /// Replaces the file at `path` with `text` (written whole by a person in
    /// the app's editor) if it is a valid config; an invalid one is refused
    /// with the line and key at fault and the file is left as it was.
    pub fn save_text(path: &Path, text: &str) -> Result<Self> {
        let config = Self::parse(text, path)?;
        let write = |source| Error::Write {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            crate::fsutil::create_dir(dir, 0o700).map_err(write)?;
        }
        crate::fsutil::atomic_write(path, text.as_bytes(), 0o600).map_err(write)?;
        Ok(config)
    }

    /// The file's text as a person edits it: the template when there is
    /// no file yet.
    pub fn text(path: &Path) -> Result<String> {
        match std::fs::read_to_string(path) {
            Ok(s) => Ok(s),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TEMPLATE.to_owned()),
            Err(source) => Err(Error::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Applies `change` to the file at `path` with toml_edit. The file must
    /// be valid before and after; it is replaced atomically (0600).
    fn edit(path: &Path, change: impl FnOnce(&mut toml_edit::DocumentMut)) -> Result<()> {
        let source = Self::text(path)?;
        // Parse first so a broken file is reported, not rewritten.
        Self::parse(&source, path)?;
        let mut doc: toml_edit::DocumentMut =
            source
                .parse()
                .map_err(|e: toml_edit::TomlError| Error::Invalid {
                    path: path.to_path_buf(),
                    line: None,
                    column: None,
                    key: None,
                    message: e.message().to_owned(),
                })?;
        change(&mut doc);
        let text = doc.to_string();
        Self::parse(&text, path)?;
        let write = |source| Error::Write {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            crate::fsutil::create_dir(dir, 0o700).map_err(write)?;
        }
        crate::fsutil::atomic_write(path, text.as_bytes(), 0o600).map_err(write)
    }

    /// The config as TOML, with every key (the effective configuration).
    pub fn to_toml(&self) -> String {
        // Serialization of these plain types cannot fail; fall back to Debug
        // rather than panic if it ever did.
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

/// Rewords serde's messages where they would puzzle a person editing a file.
fn friendly(message: &str) -> String {
    let m = message.replace("unknown field", "unknown key");
    if m.contains("expected parsable string") {
        return format!("{m} (write sizes like \"512MiB\" or \"4GiB\")");
    }
    m
}

#[cfg(test)]
mod tests;
