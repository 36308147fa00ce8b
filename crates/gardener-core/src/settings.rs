//! gardener.toml as a settings view shows it: the file's text (the
//! documented template when there is none yet), why it does not load if it
//! does not, and what the view lets one change — the sampling interval, the
//! alert pause and every alert rule's limits.

use std::path::Path;

use serde::Serialize;

use crate::config::{self, Config};
use crate::monitor::alerts::{RuleInfo, describe};

/// What the settings view shows of the config file.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ConfigFile {
    /// The config file.
    pub path: String,
    /// Its text (the documented template when there is no file yet).
    pub text: String,
    /// Why the file does not load now, if it does not.
    pub problem: Option<String>,
    /// `[monitor] interval_secs` (the default when the file does not load).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub interval_secs: u64,
    /// Alerts paused until then (seconds since the epoch).
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub mute_until: Option<u64>,
    /// Every alert rule and its limits.
    pub rules: Vec<RuleInfo>,
}

impl ConfigFile {
    /// Reads `path`; a file that does not parse is shown with its problem
    /// and the defaults, so that it can be fixed.
    pub fn read(path: &Path) -> config::Result<Self> {
        let text = Config::text(path)?;
        let (problem, config) = match Config::parse(&text, path) {
            Ok(config) => (None, config),
            Err(e) => (Some(e.to_string()), Config::default()),
        };
        Ok(Self {
            path: path.display().to_string(),
            text,
            problem,
            interval_secs: config.monitor.interval_secs,
            mute_until: config.alerts.mute_until_secs(),
            rules: describe(&config.alerts),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_shows_the_template_and_a_broken_one_its_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gardener.toml");
        let fresh = ConfigFile::read(&path).unwrap();
        assert_eq!(fresh.problem, None);
        assert!(fresh.text.starts_with("# Gardener configuration."));
        assert_eq!(fresh.interval_secs, Config::default().monitor.interval_secs);
        assert!(!fresh.rules.is_empty());

        std::fs::write(&path, "[monitor]\ninterval_secs = 7\n").unwrap();
        assert_eq!(ConfigFile::read(&path).unwrap().interval_secs, 7);

        std::fs::write(&path, "[monitor]\ninterval_secs = \"soon\"\n").unwrap();
        let broken = ConfigFile::read(&path).unwrap();
        assert!(
            broken
                .problem
                .as_deref()
                .is_some_and(|p| p.contains("interval_secs")),
            "{:?}",
            broken.problem
        );
        assert_eq!(broken.text, "[monitor]\ninterval_secs = \"soon\"\n");
        assert_eq!(
            broken.interval_secs,
            Config::default().monitor.interval_secs
        );
    }
}
