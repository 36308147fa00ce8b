//! The Ollama a config points at, for callers that start from a
//! [`Context`] (the dashboard's commands): its address, models folder and
//! context setting read once, each request one call.

use std::path::PathBuf;

use super::{
    DeletePlan, Error, ListOptions, Listing, Loaded, PullOptions, PullProgress, Pulled, Result,
    api, fit, pull,
};
use crate::backup::Cancel;
use crate::context::Context;
use crate::monitor::probe::Prober;

/// Ollama as `[ollama]` describes it.
#[derive(Debug)]
pub struct Ollama {
    prober: Prober,
    host: String,
    models_dir: PathBuf,
    context: u64,
}

impl Ollama {
    /// The Ollama of `ctx`'s config, asked within its probe deadline.
    ///
    /// # Errors
    /// [`Error::Client`] when no HTTP client can be made.
    pub fn of(ctx: &Context) -> Result<Self> {
        let timeout = std::time::Duration::from_secs(ctx.config.monitor.probe_timeout_secs);
        Ok(Self {
            prober: Prober::new(timeout)
                .map_err(|e| Error::Client(format!("cannot make an HTTP client: {e}")))?,
            host: ctx.config.ollama.host.clone(),
            models_dir: ctx.paths.expand(&ctx.config.ollama.models_dir),
            context: fit::context_setting(&ctx.config.ollama.env),
        })
    }

    /// What is installed and loaded, and the room for more (see [`super::list`]).
    ///
    /// # Errors
    /// As [`super::list`].
    pub async fn list(&self) -> Result<Listing> {
        let opts = ListOptions {
            models_dir: self.models_dir.clone(),
            context: self.context,
            available_memory: fit::available_memory(),
        };
        super::list(&self.prober, &self.host, &opts).await
    }

    /// Pulls `model` until done or `cancel` (see [`pull::pull`]).
    ///
    /// # Errors
    /// As [`pull::pull`].
    pub async fn pull(
        &self,
        model: &str,
        cancel: Cancel,
        on_progress: &mut dyn FnMut(&PullProgress),
    ) -> Result<Pulled> {
        let opts = PullOptions {
            cancel,
            models_dir: self.models_dir.clone(),
            idle_timeout: pull::IDLE_TIMEOUT,
        };
        pull::pull(&self.prober, &self.host, model, &opts, on_progress).await
    }

    /// [`Self::pull`] from a thread that may block (not an async task): the
    /// stream and its connection run on one thread of their own, so no line
    /// is handed from one thread to another.
    ///
    /// # Errors
    /// As [`pull::pull`]; [`Error::Client`] when no runtime can be started.
    pub fn pull_blocking(
        &self,
        model: &str,
        cancel: Cancel,
        on_progress: &mut dyn FnMut(&PullProgress),
    ) -> Result<Pulled> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Client(format!("cannot start a runtime for the pull: {e}")))?;
        runtime.block_on(self.pull(model, cancel, on_progress))
    }

    /// What deleting `model` would free, and whether it is loaded.
    ///
    /// # Errors
    /// As [`api::plan_delete`].
    pub async fn plan_delete(&self, model: &str) -> Result<DeletePlan> {
        api::plan_delete(&self.prober, &self.host, model).await
    }

    /// Deletes `model` (a loaded one only with `unload_first`); returns
    /// what it freed.
    ///
    /// # Errors
    /// As [`api::plan_delete`] and [`api::delete`].
    pub async fn delete(&self, model: &str, unload_first: bool) -> Result<DeletePlan> {
        let plan = self.plan_delete(model).await?;
        api::delete(&self.prober, &self.host, &plan, unload_first).await?;
        Ok(plan)
    }

    /// Loads `model` now and keeps it for `keep_alive` (Ollama's default
    /// when `None`), waiting up to [`super::LOAD_TIMEOUT`].
    ///
    /// # Errors
    /// As [`api::load`]; [`Error::Client`] when no HTTP client can be made.
    pub async fn load(&self, model: &str, keep_alive: Option<&str>) -> Result<Loaded> {
        let patient = Prober::new(super::LOAD_TIMEOUT)
            .map_err(|e| Error::Client(format!("cannot make an HTTP client: {e}")))?;
        api::load(&patient, &self.host, model, keep_alive).await
    }
}
