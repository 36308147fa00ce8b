//! Unloading Ollama's models on request (the dashboard's and the menu's
//! Unload Models), and why it can fail: each way has its own code, so a
//! window can tell an Ollama that is down from a model that is not loaded.

use super::probe::{ProbeError, Prober};
use crate::error::ErrorCode;

/// Why models could not be unloaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Ollama did not say which models it has loaded.
    #[error("cannot reach Ollama at {host}: {source}")]
    Unreachable {
        /// Ollama's `host:port`.
        host: String,
        /// Why.
        source: ProbeError,
    },
    /// The model asked for is not loaded (asking Ollama to unload it would
    /// load it first).
    #[error("{model} is not loaded")]
    NotLoaded {
        /// The model asked for.
        model: String,
        /// The models that are loaded.
        loaded: Vec<String>,
    },
    /// Ollama refused to unload a model (those before it were unloaded).
    #[error("cannot unload {model}: {source}")]
    Failed {
        /// The model.
        model: String,
        /// Why.
        source: ProbeError,
    },
}

impl Error {
    /// Stable machine-readable code for JSON output and the UI.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unreachable { .. } => ErrorCode::OllamaUnreachable,
            Self::NotLoaded { .. } => ErrorCode::NotLoaded,
            Self::Failed { .. } => ErrorCode::UnloadFailed,
        }
    }
}

/// Result alias for this module.
pub type Result<T> = std::result::Result<T, Error>;

/// Unloads every model Ollama at `host` has loaded now (or only `only`);
/// returns their names.
pub async fn unload(prober: &Prober, host: &str, only: Option<&str>) -> Result<Vec<String>> {
    let loaded = prober
        .ollama_ps(host)
        .await
        .result
        .map_err(|source| Error::Unreachable {
            host: host.to_owned(),
            source,
        })?;
    if let Some(name) = only
        && !loaded.iter().any(|m| m.name == name)
    {
        return Err(Error::NotLoaded {
            model: name.to_owned(),
            loaded: loaded.into_iter().map(|m| m.name).collect(),
        });
    }
    let mut done = Vec::new();
    for m in loaded
        .into_iter()
        .filter(|m| only.is_none_or(|n| m.name == n))
    {
        prober
            .unload(host, &m.name)
            .await
            .map_err(|source| Error::Failed {
                model: m.name.clone(),
                source,
            })?;
        done.push(m.name);
    }
    Ok(done)
}
