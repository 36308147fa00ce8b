//! `<data_dir>/alerts.json`: the alert engine's rule states and event
//! history, so a restart neither re-notifies a firing alert nor forgets one.
//! A damaged file never stops the monitor: it is set aside and the engine
//! starts fresh.

use std::io;
use std::path::{Path, PathBuf};

use super::{Engine, PersistedAlerts};

/// Reads and writes `alerts.json` in the data directory.
#[derive(Clone, Debug)]
pub struct AlertStore {
    path: PathBuf,
}

impl AlertStore {
    /// The file name inside the data directory.
    pub const FILE_NAME: &'static str = "alerts.json";

    /// The store in `data_dir` (nothing is read or created yet).
    pub fn new(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join(Self::FILE_NAME),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where a file that cannot be read is moved: `alerts.json.corrupt`.
    pub fn corrupt_path(&self) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(".corrupt");
        PathBuf::from(name)
    }

    /// The saved state; `None` when there is none yet or it cannot be read.
    /// An unreadable or corrupt file is logged and moved to
    /// [`corrupt_path`](Self::corrupt_path) (not deleted: it may help explain
    /// what happened), so the next save starts clean.
    pub fn load(&self) -> Option<PersistedAlerts> {
        let problem = match std::fs::read(&self.path) {
            Ok(bytes) => match serde_json::from_slice::<PersistedAlerts>(&bytes) {
                Ok(state) => return Some(state),
                Err(e) => e.to_string(),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
            Err(e) => e.to_string(),
        };
        let aside = self.corrupt_path();
        match std::fs::rename(&self.path, &aside) {
            Ok(()) => tracing::warn!(
                path = %self.path.display(),
                moved_to = %aside.display(),
                error = %problem,
                "cannot read the alert state; starting fresh"
            ),
            Err(e) => tracing::warn!(
                path = %self.path.display(),
                error = %problem,
                rename_error = %e,
                "cannot read the alert state, nor move it aside; starting fresh"
            ),
        }
        None
    }

    /// Saves `engine`'s state. Worth calling after an evaluation that
    /// produced events and at shutdown: other changes (pending states, silent
    /// resolutions) are re-derived from the next samples after a restart.
    pub fn save(&self, engine: &Engine) -> io::Result<()> {
        self.write(&engine.save_state())
    }

    /// Writes `state` atomically, readable only by the user (it holds
    /// service error messages).
    pub fn write(&self, state: &PersistedAlerts) -> io::Result<()> {
        let json = serde_json::to_vec_pretty(state).map_err(io::Error::other)?;
        if let Some(dir) = self.path.parent() {
            crate::fsutil::create_dir(dir, 0o700)?;
        }
        crate::fsutil::atomic_write(&self.path, &json, 0o600)
    }
}

#[cfg(test)]
mod tests {
    //! Persistence: restarts, damaged files, changed configs, bounded history.

    use super::super::tests::*;
    use super::super::*;

    #[test]
    fn restart_does_not_refire_and_resolves_later() {
        let dir = tempfile::tempdir().unwrap();
        let store = AlertStore::new(dir.path());
        let config = AlertsConfig::default();
        let mut e = engine(&config);
        assert_eq!(drive(&mut e, [(0, disk(95))]).len(), 1);
        store.save(&e).unwrap();
        assert_eq!(crate::fsutil::mode_of(store.path()).unwrap(), Some(0o600));

        let mut e = Engine::new(&config, store.load());
        assert_eq!(state_of(&e, "disk"), Some(AlertState::Firing));
        assert_eq!(e.history().len(), 1);
        assert!(drive(&mut e, [(60, disk(95)), (120, disk(95))]).is_empty());
        // Still firing a cooldown (6 h) after the original notification: reminded.
        assert_eq!(
            seen(&drive(&mut e, [(21600, disk(95))])),
            vec![(21600, Firing, true, false)]
        );
        store.save(&e).unwrap();

        let mut e = Engine::new(&config, store.load());
        assert_eq!(
            seen(&drive(&mut e, [(21700, disk(50))])),
            vec![(21700, Resolved, false, false)]
        );
        assert_eq!(e.history().len(), 3);
    }

    #[test]
    fn restart_forgets_pending_rules() {
        let config = AlertsConfig::default();
        let mut e = engine(&config);
        drive(&mut e, cpu_run(0, 100, 10, 95.0));
        let mut e = Engine::new(&config, Some(e.save_state()));
        assert_eq!(state_of(&e, "cpu"), Some(AlertState::Ok));
        // Sustained-for counts from the first sample after the restart.
        let events = drive(&mut e, cpu_run(3600, 3800, 10, 95.0));
        assert_eq!(seen(&events), vec![(3720, Firing, false, false)]);
    }

    #[test]
    fn corrupt_file_is_set_aside_and_the_engine_starts_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let store = AlertStore::new(dir.path());
        for bad in [&b"{ not json"[..], b"", br#"{"history":[{"rule":"cpu"}]}"#] {
            std::fs::write(store.path(), bad).unwrap();
            assert_eq!(store.load(), None);
            assert!(!store.path().exists());
            assert_eq!(std::fs::read(store.corrupt_path()).unwrap(), bad);
        }
        let mut e = Engine::new(&AlertsConfig::default(), store.load());
        assert_eq!(drive(&mut e, [(0, disk(95))]).len(), 1);
        store.save(&e).unwrap();
        assert!(store.load().is_some());
    }

    #[test]
    fn missing_file_and_missing_directory_are_fine() {
        let dir = tempfile::tempdir().unwrap();
        let store = AlertStore::new(&dir.path().join("not/yet"));
        assert_eq!(store.load(), None);
        store.save(&engine(&AlertsConfig::default())).unwrap();
        assert_eq!(store.load().unwrap().version, 1);
    }

    #[test]
    fn config_changes_do_not_break_loading() {
        let mut config = AlertsConfig::default();
        config.cpu.cooldown_secs = 60;
        let mut e = engine(&config);
        drive(&mut e, [(0, disk(95))]);
        let mut json = serde_json::to_value(e.save_state()).unwrap();
        // A rule from some other version and a field nobody knows.
        json["rules"]["gpu"] = serde_json::json!({"state": "firing", "since": 1});
        json["future"] = serde_json::json!(true);
        let saved: PersistedAlerts = serde_json::from_value(json).unwrap();
        config.disk.enabled = false;
        let mut e = Engine::new(&config, Some(saved));
        assert_eq!(state_of(&e, "disk"), None);
        assert!(drive(&mut e, [(5, disk(95))]).is_empty());
        // Re-enabled later: a fresh start, not a stale firing state.
        config.disk.enabled = true;
        e.reconfigure(&config);
        assert_eq!(state_of(&e, "disk"), Some(AlertState::Ok));
    }

    #[test]
    fn history_keeps_the_latest_500() {
        let mut e = engine(&AlertsConfig::default());
        let samples = (0..600u64).map(|i| (i, disk(if i % 2 == 0 { 95 } else { 50 })));
        assert_eq!(drive(&mut e, samples).len(), 600);
        assert_eq!(e.history().len(), HISTORY_LEN);
        assert_eq!(e.history()[0].at, T0 + 100);
        assert_eq!(e.history()[499].at, T0 + 599);
        let e = Engine::new(&AlertsConfig::default(), Some(e.save_state()));
        assert_eq!(e.history().len(), HISTORY_LEN);
    }
}
