//! Stopping the app while its data is read, and starting it again whatever
//! happens: on success, error, cancel or panic (the guard's `Drop`), and
//! after a crash (a marker file the next backup finds).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::Result;
use crate::context::Context;
use crate::services::{Action, ServiceId, ServiceManager, ServiceState};

const TIMEOUT: Duration = Duration::from_secs(30);

fn marker(ctx: &Context) -> PathBuf {
    ctx.data_dir.join("backup-paused-app")
}

/// Holds when a backup last started the app again (seconds since the
/// epoch), so the monitor can tell that restart from a crash. Next to the
/// marker.
const RESUMED: &str = "backup-resumed-app";
/// The same for a restore, which starts both services again.
pub(crate) const RESTORE_RESUMED: &str = "restore-resumed-services";

fn write_now(path: &std::path::Path) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let _ = crate::fsutil::atomic_write(path, format!("{now}\n").as_bytes(), 0o600);
}

fn record_resume(marker: &std::path::Path) {
    if let Some(dir) = marker.parent() {
        write_now(&dir.join(RESUMED));
    }
}

/// Records now as when `name`'s services were started again.
pub(crate) fn record_start(ctx: &Context, name: &str) {
    if crate::fsutil::create_dir(&ctx.data_dir, 0o700).is_ok() {
        write_now(&ctx.data_dir.join(name));
    }
}

/// Whether `name` records a start at or after `since`.
pub(crate) fn resumed_since(ctx: &Context, name: &str, since: u64) -> bool {
    std::fs::read_to_string(ctx.data_dir.join(name))
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok())
        .is_some_and(|at| at >= since)
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
        // Written before stopping, so a crash in between still leads to a
        // start. The pid tells the monitor whether the pause is still on.
        if crate::fsutil::create_dir(&ctx.data_dir, 0o700).is_ok() {
            let text = format!("paused by a backup, pid {}\n", std::process::id());
            let _ = crate::fsutil::atomic_write(&marker, text.as_bytes(), 0o600);
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
        record_resume(&self.marker);
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
                    record_resume(&self.marker);
                    let _ = std::fs::remove_file(&self.marker);
                }
                Err(e) => tracing::error!("could not start the app again after the backup: {e}"),
            }
        }
    }
}

/// Whether a backup that is still running has the app stopped: the marker
/// exists and the process that wrote it is alive. A marker left by a killed
/// backup does not count, so its stopped app is reported as down.
pub fn app_paused_by_backup(ctx: &Context) -> bool {
    held_by_live_process(&marker(ctx))
}

/// Whether the marker at `path` ends in `pid N` of a process that is alive.
pub(crate) fn held_by_live_process(path: &std::path::Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    text.trim()
        .rsplit_once("pid ")
        .and_then(|(_, pid)| pid.parse::<i32>().ok())
        .and_then(rustix::process::Pid::from_raw)
        .is_some_and(|pid| rustix::process::test_kill_process(pid).is_ok())
}

/// Whether a backup started the app again at or after `since` (seconds
/// since the epoch): a new app process since then is the backup's doing.
pub fn app_resumed_since(ctx: &Context, since: u64) -> bool {
    resumed_since(ctx, RESUMED, since)
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
