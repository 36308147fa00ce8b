//! The loaded config together with the resolved paths for one platform, and
//! the service specs rendered from them: what install, backup, monitor and
//! copies all start from. Loading one from the config file is
//! `Context::load`, in [`crate::install`], since its errors are the
//! installer's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::paths::{Paths, Platform};
use crate::services::{self, ProcessType, ServiceId, ServiceManager, ServiceSpec, SystemRunner};

/// Config + paths, resolved.
#[derive(Clone, Debug)]
pub struct Context {
    /// Platform defaults (home, config dir, service dir).
    pub paths: Paths,
    /// The config file in use (it may not exist).
    pub config_file: PathBuf,
    /// Whether it exists.
    pub config_exists: bool,
    /// The parsed config (defaults when the file is absent).
    pub config: Config,
    /// `[paths] data`, expanded.
    pub data_dir: PathBuf,
    /// `[paths] logs`, expanded.
    pub logs_dir: PathBuf,
    /// `[paths] backups`, expanded.
    pub backups_dir: PathBuf,
}

impl Context {
    /// Builds a context from parts (tests, the other platform's plan).
    pub fn new(paths: Paths, config_file: PathBuf, config_exists: bool, config: Config) -> Self {
        let pick = |set: &Option<PathBuf>, default: &Path| {
            set.as_deref()
                .map_or_else(|| default.to_path_buf(), |p| paths.expand(p))
        };
        Self {
            data_dir: pick(&config.paths.data, &paths.data_dir),
            logs_dir: pick(&config.paths.logs, &paths.logs_dir),
            backups_dir: pick(&config.paths.backups, &paths.backups_dir),
            paths,
            config_file,
            config_exists,
            config,
        }
    }

    /// The platform this context is for.
    pub fn platform(&self) -> Platform {
        self.paths.platform
    }

    /// The real service manager for this context's platform.
    pub fn manager(&self) -> Box<dyn ServiceManager> {
        services::manager_for(
            self.platform(),
            self.paths.service_dir.clone(),
            Box::new(SystemRunner),
        )
    }

    /// Whether Gardener runs its own Ollama service.
    pub fn manages_ollama(&self) -> bool {
        !self.config.ollama.external
    }

    /// The services Gardener installs, in start order.
    pub fn managed_services(&self) -> Vec<ServiceId> {
        ServiceId::ALL
            .into_iter()
            .filter(|id| *id != ServiceId::Ollama || self.manages_ollama())
            .collect()
    }

    /// Whether nothing has been set up yet: no config file and no service
    /// file of Gardener's (the menu-bar app opens its setup window then).
    pub fn is_first_run(&self) -> bool {
        let manager = self.manager();
        !self.config_exists
            && ServiceId::ALL
                .into_iter()
                .all(|id| !manager.file_path(id).exists())
    }

    /// The URL that says whether `id` is healthy.
    pub fn health_url(&self, id: ServiceId) -> String {
        match id {
            ServiceId::Ollama => crate::health::ollama_version_url(&self.config.ollama.host),
            ServiceId::App => self.config.app.health_url.clone(),
        }
    }

    /// The log files of `id`: (stdout, stderr).
    pub fn log_files(&self, id: ServiceId) -> (PathBuf, PathBuf) {
        (
            self.logs_dir.join(format!("{id}.log")),
            self.logs_dir.join(format!("{id}.err.log")),
        )
    }

    /// The log files of scheduled backups: (stdout, stderr).
    pub fn backup_log_files(&self) -> (PathBuf, PathBuf) {
        (
            self.logs_dir.join("backup.log"),
            self.logs_dir.join("backup.err.log"),
        )
    }

    fn expand_env(&self, env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        env.iter()
            .map(|(k, v)| {
                let v = match v.strip_prefix("~/") {
                    Some(rest) => self.paths.home.join(rest).display().to_string(),
                    None if v == "~" => self.paths.home.display().to_string(),
                    None => v.clone(),
                };
                (k.clone(), v)
            })
            .collect()
    }

    /// The spec of `id`, given the resolved executable paths.
    pub fn spec(&self, id: ServiceId, program: &Path) -> ServiceSpec {
        let c = &self.config;
        let (stdout_log, stderr_log) = self.log_files(id);
        let restart_delay_secs = c.services.restart_delay_secs.max(2);
        match id {
            ServiceId::Ollama => {
                let mut env = self.expand_env(&c.ollama.env);
                env.insert("OLLAMA_HOST".into(), c.ollama.host.clone());
                env.insert(
                    "OLLAMA_MODELS".into(),
                    self.paths
                        .expand(&c.ollama.models_dir)
                        .display()
                        .to_string(),
                );
                ServiceSpec {
                    id,
                    description: "Ollama model server (managed by Gardener)".into(),
                    program: program.to_path_buf(),
                    args: vec!["serve".into()],
                    env,
                    working_dir: self.paths.home.clone(),
                    stdout_log,
                    stderr_log,
                    restart_delay_secs,
                    memory_high: c.ollama.memory_high.map(|b| b.as_u64()),
                    memory_max: c.ollama.memory_max.map(|b| b.as_u64()),
                    process_type: ProcessType::Interactive,
                }
            }
            ServiceId::App => {
                let mut env = self.expand_env(&c.app.env);
                env.entry("CODEBASE_GARDENER_OLLAMA_BASE_URL".into())
                    .or_insert_with(|| format!("http://{}", c.ollama.host));
                ServiceSpec {
                    id,
                    description: "Codebase Gardener app (managed by Gardener)".into(),
                    program: program.to_path_buf(),
                    args: c.app.command.iter().skip(1).cloned().collect(),
                    env,
                    working_dir: self.paths.expand(&c.app.working_dir),
                    stdout_log,
                    stderr_log,
                    restart_delay_secs,
                    memory_high: c.app.memory_high.map(|b| b.as_u64()),
                    memory_max: c.app.memory_max.map(|b| b.as_u64()),
                    process_type: ProcessType::Standard,
                }
            }
        }
    }
}
