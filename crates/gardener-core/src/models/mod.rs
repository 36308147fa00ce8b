//! Ollama's models beyond what the monitor watches: each installed model
//! with its details (`/api/show`), the models folder's size and free space,
//! whether each model would fit in memory, and pulling, deleting and
//! loading models. Everything goes over Ollama's HTTP API through the
//! monitor's [`Prober`] (its client, deadlines and size caps).

pub mod api;
pub mod fit;
pub mod ndjson;
pub mod ollama;
pub mod pull;
pub mod space;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::error::ErrorCode;
use crate::monitor::probe::{ProbeError, Prober};
use crate::monitor::{InstalledModel, LoadedModel};

pub use api::{DeletePlan, Loaded, delete, load, plan_delete};
pub use fit::{Budget, Fit, Verdict};
pub use ollama::Ollama;
pub use pull::{PullOptions, PullProgress, Pulled, pull};

/// The deadline for loading a model: reading gigabytes into memory takes far
/// longer than a probe's answer.
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(300);

/// Why a models request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Ollama did not answer.
    #[error("cannot reach Ollama at {host}: {source}")]
    Unreachable {
        /// Ollama's `host:port`.
        host: String,
        /// Why.
        source: ProbeError,
    },
    /// No model by that name.
    #[error("{model} is not installed (installed: {installed})")]
    NotFound {
        /// The name asked for.
        model: String,
        /// The installed models' names, `, `-separated, or `none`.
        installed: String,
    },
    /// The model is loaded and must not be for this request.
    #[error("{model} is loaded in memory; unload it first")]
    Loaded {
        /// The model.
        model: String,
    },
    /// The layers still to download need more space than is free.
    #[error(
        "{model} does not fit: it needs {} more, {} free on {}",
        human(*needs),
        human(*free),
        path.display()
    )]
    NoSpace {
        /// The model.
        model: String,
        /// Bytes still to download.
        needs: u64,
        /// Bytes free on the models folder's volume.
        free: u64,
        /// The folder whose volume was measured.
        path: PathBuf,
    },
    /// Ollama said the pull failed.
    #[error("Ollama could not pull {model}: {said}")]
    PullFailed {
        /// The model.
        model: String,
        /// Ollama's `error` text.
        said: String,
    },
    /// The pull's stream broke off or went silent before Ollama said success.
    #[error("the pull of {model} stopped before it finished: {detail}")]
    Interrupted {
        /// The model.
        model: String,
        /// What happened to the stream.
        detail: String,
    },
    /// Ollama refused a delete or a load.
    #[error("Ollama did not {action} {model}: {source}")]
    Refused {
        /// `delete`, `load`, `unload`.
        action: &'static str,
        /// The model.
        model: String,
        /// Why.
        source: ProbeError,
    },
    /// A keep-alive Ollama would not understand.
    #[error("keep-alive {0:?} is not a duration (like 30m, 2h, 90s, or -1 for ever)")]
    BadKeepAlive(String),
    /// The person cancelled it.
    #[error("cancelled")]
    Cancelled,
    /// The HTTP client, or a runtime for it, could not be started (the
    /// system's TLS or resolver setup, or its limits on threads and files).
    #[error("{0}")]
    Client(String),
}

impl Error {
    /// Stable machine-readable code for JSON output and the UI.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unreachable { .. } => ErrorCode::OllamaUnreachable,
            Self::NotFound { .. } => ErrorCode::ModelMissing,
            Self::Loaded { .. } => ErrorCode::ModelLoaded,
            Self::NoSpace { .. } => ErrorCode::NoSpace,
            Self::PullFailed { .. } | Self::Interrupted { .. } => ErrorCode::PullFailed,
            Self::Refused { .. } => ErrorCode::OllamaRefused,
            Self::BadKeepAlive(_) => ErrorCode::Usage,
            Self::Cancelled => ErrorCode::Cancelled,
            Self::Client(_) => ErrorCode::Internal,
        }
    }

    /// Whether the request itself was wrong (rather than its carrying out).
    pub fn is_usage(&self) -> bool {
        matches!(self, Self::Loaded { .. } | Self::BadKeepAlive(_))
    }
}

/// The models module's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An installed model with what `/api/show` and `/api/ps` add to `/api/tags`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ModelDetails {
    /// What `/api/tags` says (name, size, family, parameters, quantization,
    /// modified time).
    #[serde(flatten)]
    #[cfg_attr(feature = "ts", ts(flatten))]
    pub installed: InstalledModel,
    /// The manifest's digest (the same for two names of one model).
    pub digest: Option<String>,
    /// The longest context the model takes (`<arch>.context_length`).
    pub context_length: Option<u64>,
    /// `general.parameter_count`.
    pub parameter_count: Option<u64>,
    /// Whether Ollama has it in memory now.
    pub loaded_now: bool,
    /// Whether it would fit in memory.
    pub fit: Fit,
}

/// `gardener models`: what is installed and loaded, and the room for more.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Listing {
    /// Ollama's `host:port`.
    pub host: String,
    /// The models folder (`[ollama] models_dir`).
    pub models_dir: PathBuf,
    /// Bytes the installed models take, each manifest counted once.
    pub total_bytes: u64,
    /// Bytes free on the models folder's volume (`None`: it cannot be read).
    pub free_bytes: Option<u64>,
    /// The memory the fit estimates count on.
    pub memory: Budget,
    /// The models in memory.
    pub loaded: Vec<LoadedModel>,
    /// The models on disk.
    pub installed: Vec<ModelDetails>,
}

/// What a listing needs besides Ollama: the folder, the context Ollama
/// gives models, and the memory the machine has available now.
#[derive(Clone, Debug)]
pub struct ListOptions {
    /// `[ollama] models_dir`, expanded.
    pub models_dir: PathBuf,
    /// The context length Ollama loads models with.
    pub context: u64,
    /// Memory available to new allocations now.
    pub available_memory: u64,
}

/// Asks Ollama for its models (tags, loaded models, then each model's
/// details, once per manifest digest) and adds the folder's figures and the
/// fit estimates.
///
/// # Errors
/// [`Error::Unreachable`] when `/api/tags` or `/api/ps` does not answer; a
/// model whose details do not come is listed without them.
pub async fn list(prober: &Prober, host: &str, opts: &ListOptions) -> Result<Listing> {
    let unreachable = |source| Error::Unreachable {
        host: host.to_owned(),
        source,
    };
    let (tags, ps) = tokio::join!(api::tags(prober, host), prober.ollama_ps(host));
    let tags = tags.map_err(unreachable)?;
    let loaded = ps.result.map_err(unreachable)?;
    let budget = Budget {
        available_bytes: opts.available_memory,
        freed_by_unloading_bytes: loaded.iter().map(|m| m.size_bytes).sum(),
    };
    let mut shown: HashMap<String, Option<api::Show>> = HashMap::new();
    let mut installed = Vec::with_capacity(tags.len());
    for tag in &tags {
        let key = tag.digest.clone().unwrap_or_else(|| tag.model.name.clone());
        if !shown.contains_key(&key) {
            let show = api::show(prober, host, &tag.model.name).await;
            if let Err(e) = &show {
                tracing::debug!(model = %tag.model.name, error = %e, "no details from /api/show");
            }
            shown.insert(key.clone(), show.ok());
        }
        let show = shown.get(&key).cloned().flatten().unwrap_or_default();
        let fit = fit::estimate(
            tag.model.size_bytes,
            show.shape.as_ref(),
            show.context_length
                .map_or(opts.context, |c| c.min(opts.context)),
            &budget,
        );
        installed.push(ModelDetails {
            installed: tag.model.clone(),
            digest: tag.digest.clone(),
            context_length: show.context_length,
            parameter_count: show.parameter_count,
            loaded_now: loaded.iter().any(|l| l.name == tag.model.name),
            fit,
        });
    }
    let free_bytes = space::free_space(&opts.models_dir)
        .ok()
        .map(|(_, free)| free);
    Ok(Listing {
        host: host.to_owned(),
        total_bytes: space::total_on_disk(&tags),
        models_dir: opts.models_dir.clone(),
        free_bytes,
        memory: budget,
        loaded,
        installed,
    })
}

/// `4.1 GB`: sizes in messages, decimal like Ollama's own.
pub fn human(bytes: u64) -> String {
    bytesize::ByteSize(bytes).display().si().to_string()
}
