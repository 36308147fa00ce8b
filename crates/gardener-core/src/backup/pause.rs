//! Stopping the app while its data is read, and starting it again whatever
//! happens: on success, error, cancel or panic (the guard's `Drop`), and
//! after a crash (a marker file the next backup finds).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::Result;
use crate::install::Context;
use crate::services::{Action, ServiceId, ServiceManager, ServiceState};

const TIMEOUT: Duration = Duration::from_secs(30);

fn marker(ctx: &Context) -> PathBuf {
    ctx.data_dir.join("backup-paused-app")
}

/// The app, stopped for a backup until [`Paused::resume`] or drop.
pub struct Paused<'a> {
    manager: &'a dyn ServiceManager,
    marker: PathBuf,
    since: Instant,
    resumed: bool,
}

impl<'a> Paused<'a> {
    /// Stops the app if it is running; `None` when there is nothing to stop.
    pub fn pause(ctx: &Context, manager: &'a dyn ServiceManager) -> Result<Option<Self>> {
        // Not installed by Gardener: not ours to stop.
        if !manager.file_path(ServiceId::App).exists() {
            return Ok(None);
        }
        let status = manager.status(ServiceId::App)?;
        if !matches!(status.state, ServiceState::Running | ServiceState::Starting) {
            return Ok(None);
        }
        let marker = marker(ctx);
        // Written before stopping, so a crash in between still leads to a start.
        if crate::fsutil::create_dir(&ctx.data_dir, 0o700).is_ok() {
            let _ = crate::fsutil::atomic_write(&marker, b"paused by a backup\n", 0o600);
        }
        let since = Instant::now();
        let mut paused = Self {
            manager,
            marker,
            since,
            resumed: false,
        };
        if let Err(e) = manager.run(Action::Stop, ServiceId::App, TIMEOUT) {
            // Not stopped: nothing to resume, but do not leave the marker.
            paused.resumed = true;
            let _ = std::fs::remove_file(&paused.marker);
            return Err(e.into());
        }
        tracing::info!("app stopped for the backup");
        Ok(Some(paused))
    }

    /// Starts the app again; returns how long it was stopped, in seconds.
    pub fn resume(mut self) -> Result<f64> {
        self.resumed = true;
        let secs = self.since.elapsed().as_secs_f64();
        self.manager.run(Action::Start, ServiceId::App, TIMEOUT)?;
        let _ = std::fs::remove_file(&self.marker);
        tracing::info!("app started again after {secs:.2} s");
        Ok(secs)
    }
}

impl Drop for Paused<'_> {
    fn drop(&mut self) {
        if !self.resumed {
            match self.manager.run(Action::Start, ServiceId::App, TIMEOUT) {
                Ok(()) => {
                    let _ = std::fs::remove_file(&self.marker);
                }
                Err(e) => tracing::error!("could not start the app again after the backup: {e}"),
            }
        }
    }
}

/// Starts the app if an earlier backup was killed while it was paused;
/// returns what was done, for the report.
pub fn recover(ctx: &Context, manager: &dyn ServiceManager) -> Option<String> {
    let marker = marker(ctx);
    if !marker.exists() {
        return None;
    }
    let result = manager.run(Action::Start, ServiceId::App, TIMEOUT);
    let _ = std::fs::remove_file(&marker);
    Some(match result {
        Ok(()) => "an earlier backup stopped without starting the app again; started it".into(),
        Err(e) => format!(
            "an earlier backup stopped without starting the app again, and starting it failed: {e}"
        ),
    })
}
