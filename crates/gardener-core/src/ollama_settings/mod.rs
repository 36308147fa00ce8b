//! The Ollama settings Gardener knows by name (keep-alive, parallel
//! requests, context length…): what each one does, which values it takes,
//! its value in gardener.toml's `[ollama.env]`, changing it there, what that
//! does to the service file, and applying it to the running Ollama.

mod apply;
mod environ;
mod form;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

pub use apply::{Applied, apply, restarted_since, restarting};
pub use environ::{parse_launchctl_environment, parse_proc_environ};
pub use form::{Form, Written, form, write};

use crate::config::{self, Config};
use crate::context::Context;
use crate::error::ErrorCode;
use crate::services::ServiceId;

/// One setting Gardener knows: the variable as Ollama documents it.
#[derive(Clone, Copy, Debug)]
pub struct Known {
    /// The environment variable.
    pub name: &'static str,
    /// What it changes, in one line.
    pub about: &'static str,
    /// Which values it takes, in words.
    pub allowed: &'static str,
    check: fn(&str) -> bool,
}

impl Known {
    /// Whether `value` is one this setting takes.
    pub fn accepts(&self, value: &str) -> bool {
        (self.check)(value)
    }
}

fn positive(v: &str) -> bool {
    v.parse::<u64>().is_ok_and(|n| n > 0)
}

fn context_length(v: &str) -> bool {
    v.parse::<u64>().is_ok_and(|n| n >= 256)
}

fn boolean(v: &str) -> bool {
    matches!(v, "0" | "1" | "true" | "false")
}

fn kv_cache(v: &str) -> bool {
    matches!(v, "f16" | "q8_0" | "q4_0")
}

/// Seconds (negative: for as long as Ollama runs) or a Go duration (`5m`, `1h30m`).
fn keep_alive(v: &str) -> bool {
    crate::models::api::keep_alive_json(v).is_ok()
}

/// Every setting Gardener knows, by name.
pub const KNOWN: &[Known] = &[
    Known {
        name: "OLLAMA_KEEP_ALIVE",
        about: "How long an unused model stays loaded in memory.",
        allowed: "a duration like \"5m\" or \"1h\", seconds like \"300\", or \"-1\" to keep models loaded",
        check: keep_alive,
    },
    Known {
        name: "OLLAMA_MAX_LOADED_MODELS",
        about: "How many models may be loaded in memory at once.",
        allowed: "a whole number of 1 or more",
        check: positive,
    },
    Known {
        name: "OLLAMA_NUM_PARALLEL",
        about: "How many requests each loaded model answers at the same time.",
        allowed: "a whole number of 1 or more",
        check: positive,
    },
    Known {
        name: "OLLAMA_CONTEXT_LENGTH",
        about: "The context window (in tokens) models are loaded with.",
        allowed: "a whole number of tokens, 256 or more (e.g. \"8192\")",
        check: context_length,
    },
    Known {
        name: "OLLAMA_FLASH_ATTENTION",
        about: "Flash attention: less memory for long contexts on supported models.",
        allowed: "\"1\", \"0\", \"true\" or \"false\"",
        check: boolean,
    },
    Known {
        name: "OLLAMA_KV_CACHE_TYPE",
        about: "Precision of the context cache: q8_0 halves its memory, q4_0 quarters it.",
        allowed: "\"f16\", \"q8_0\" or \"q4_0\" (q8_0 and q4_0 need flash attention)",
        check: kv_cache,
    },
];

/// The `[ollama]` key that sets a variable Gardener derives itself.
fn derived_from(name: &str) -> Option<&'static str> {
    match name {
        "OLLAMA_HOST" => Some("host"),
        "OLLAMA_MODELS" => Some("models_dir"),
        _ => None,
    }
}

/// A setting that cannot be changed as asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The value is not one the setting takes; nothing was written.
    #[error("{name} cannot be {value:?}: it takes {allowed}")]
    BadValue {
        /// The variable.
        name: String,
        /// The value refused.
        value: String,
        /// What it takes.
        allowed: &'static str,
    },
    /// Gardener sets this variable from an `[ollama]` key.
    #[error(
        "{name} is set by Gardener from `[ollama] {key}` in gardener.toml: set that key instead"
    )]
    Derived {
        /// The variable.
        name: String,
        /// The `[ollama]` key.
        key: &'static str,
    },
    /// Not a setting Gardener knows.
    #[error(
        "{name} is not a setting Gardener knows; known: {}. Other variables can be written by hand under [ollama.env] in gardener.toml",
        known_names()
    )]
    Unknown {
        /// The name asked for.
        name: String,
    },
    /// Gardener does not run this Ollama.
    #[error(
        "Gardener does not run Ollama here (`[ollama] external = true`), so it cannot apply \
         [ollama.env]: set {names} where that Ollama is started (Ollama.app's or `brew services`' \
         environment, or the shell that runs `ollama serve`) and restart it there; Gardener does \
         not use `launchctl setenv`"
    )]
    External {
        /// The variables to set there, as `NAME=VALUE`.
        names: String,
    },
    /// Ollama restarted, but its process does not have the values.
    #[error("Ollama restarted, but its process (pid {pid}) does not run with the new settings: {}", mismatches.join(", "))]
    NotInEffect {
        /// The process.
        pid: u32,
        /// `NAME: wanted "A", running "B"` per setting.
        mismatches: Vec<String>,
    },
    /// The running process's environment could not be read.
    #[error("cannot read the environment of Ollama's process: {0}")]
    Environ(String),
    /// The config file could not be read or written.
    #[error(transparent)]
    Config(#[from] config::Error),
    /// Installing or restarting the service failed.
    #[error(transparent)]
    Install(#[from] crate::install::Error),
}

impl Error {
    /// Stable machine-readable code for JSON output and the UI.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::BadValue { .. } | Self::Derived { .. } | Self::Unknown { .. } => {
                ErrorCode::Config
            }
            Self::External { .. } => ErrorCode::NotManaged,
            Self::NotInEffect { .. } | Self::Environ(_) => ErrorCode::Service,
            Self::Config(e) => e.code(),
            Self::Install(e) => e.code(),
        }
    }

    /// True for errors in what was asked for (the CLI exits with 2).
    pub fn is_usage(&self) -> bool {
        match self {
            Self::BadValue { .. }
            | Self::Derived { .. }
            | Self::Unknown { .. }
            | Self::External { .. }
            | Self::Config(_) => true,
            Self::Install(e) => e.is_usage(),
            Self::NotInEffect { .. } | Self::Environ(_) => false,
        }
    }
}

/// Result alias for this module.
pub type Result<T> = std::result::Result<T, Error>;

fn known_names() -> String {
    KNOWN.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
}

/// The setting called `name` (case as Ollama spells it, any case accepted),
/// or why it cannot be changed here.
pub fn find(name: &str) -> Result<&'static Known> {
    let upper = name.to_ascii_uppercase();
    if let Some(key) = derived_from(&upper) {
        return Err(Error::Derived { name: upper, key });
    }
    KNOWN
        .iter()
        .find(|k| k.name == upper)
        .ok_or(Error::Unknown { name: upper })
}

/// Checks `value` for the setting `name`.
pub fn validate(name: &str, value: &str) -> Result<&'static Known> {
    let known = find(name)?;
    if known.accepts(value) {
        Ok(known)
    } else {
        Err(Error::BadValue {
            name: known.name.to_owned(),
            value: value.to_owned(),
            allowed: known.allowed,
        })
    }
}

/// Where a setting's value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Source {
    /// Written in gardener.toml's `[ollama.env]`.
    File,
    /// Gardener's own default (gardener.toml does not set it).
    Gardener,
    /// Not set: Ollama uses its built-in default.
    Ollama,
}

/// One known setting and its value now.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Setting {
    /// The environment variable.
    pub name: &'static str,
    /// Its value, `None` when Ollama's default applies.
    pub value: Option<String>,
    /// Where the value comes from.
    pub source: Source,
    /// What it changes.
    pub about: &'static str,
    /// Which values it takes.
    pub allowed: &'static str,
}

/// The keys written in the file's `[ollama.env]` (as opposed to defaults).
fn written_keys(config_file: &Path) -> Result<BTreeMap<String, String>> {
    let text = Config::text(config_file)?;
    let doc: toml::Table = toml::from_str(&text).unwrap_or_default();
    let env = doc
        .get("ollama")
        .and_then(|o| o.get("env"))
        .and_then(|e| e.as_table())
        .map(|t| {
            t.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    Ok(env)
}

/// Every known setting with its value in `ctx`'s config.
pub fn current(ctx: &Context) -> Result<Vec<Setting>> {
    let written = if ctx.config_exists {
        written_keys(&ctx.config_file)?
    } else {
        BTreeMap::new()
    };
    Ok(KNOWN
        .iter()
        .map(|k| {
            let value = ctx.config.ollama.env.get(k.name).cloned();
            let source = match (&value, written.contains_key(k.name)) {
                (None, _) => Source::Ollama,
                (Some(_), true) => Source::File,
                (Some(_), false) => Source::Gardener,
            };
            Setting {
                name: k.name,
                value,
                source,
                about: k.about,
                allowed: k.allowed,
            }
        })
        .collect())
}

/// Writes `NAME = "VALUE"` under `[ollama.env]` of the file at `path`, or
/// removes the key with `None` or an empty value, keeping the file's
/// comments and layout. A value the setting does not take is refused and
/// nothing is written. Returns the setting's name as Ollama spells it.
pub fn set(path: &Path, name: &str, value: Option<&str>) -> Result<&'static str> {
    let value = value.filter(|v| !v.is_empty());
    let known = match value {
        Some(v) => validate(name, v)?,
        None => find(name)?,
    };
    Config::set_ollama_env(path, known.name, value)?;
    Ok(known.name)
}

/// What changing the config does to Ollama's service file.
#[derive(Clone, Debug, Serialize)]
pub struct ServiceChange {
    /// Where the file is installed.
    pub path: String,
    /// The file as the old config renders it.
    pub before: String,
    /// The file as the new config renders it.
    pub after: String,
}

impl ServiceChange {
    /// The changed lines: `- old` and `+ new`.
    pub fn diff_lines(&self) -> Vec<String> {
        similar::TextDiff::from_lines(&self.before, &self.after)
            .iter_all_changes()
            .filter_map(|c| {
                let sign = match c.tag() {
                    similar::ChangeTag::Delete => "-",
                    similar::ChangeTag::Insert => "+",
                    similar::ChangeTag::Equal => return None,
                };
                Some(format!("{sign} {}", c.value().trim_end()))
            })
            .collect()
    }
}

/// Ollama's service file rendered from `before` and from `after` (the same
/// machine with the config before and after a change).
pub fn service_change(before: &Context, after: &Context) -> Result<ServiceChange> {
    let manager = after.manager();
    let render = |ctx: &Context| -> Result<String> {
        let (program, _) = crate::install::programs(ctx);
        let spec = ctx.spec(ServiceId::Ollama, &program);
        manager.render(&spec).map_err(|e| Error::Install(e.into()))
    };
    Ok(ServiceChange {
        path: manager.file_path(ServiceId::Ollama).display().to_string(),
        before: render(before)?,
        after: render(after)?,
    })
}
