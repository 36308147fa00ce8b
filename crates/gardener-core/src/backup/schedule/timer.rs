//! Loading, unloading and inspecting the backup timer: `systemctl --user
//! enable|disable --now gardener-backup.timer`, or `launchctl bootout` and
//! `bootstrap` of the backup agent in `gui/UID`, run by the same drivers as
//! the services ([`crate::services::launchd`], [`crate::services::systemd`]),
//! with their exit codes, waits and retries.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{LAUNCHD_LABEL, SYSTEMD_TIMER, launchd_plist, systemd_units};
use crate::config::Schedule;
use crate::paths::Platform;
use crate::services::launchd::{Job, Launchd};
use crate::services::systemd::Systemd;
use crate::services::{self, Action, Invocation, Runner, Wording};

/// The backup agent, as launchd knows it.
const JOB: Job = Job::Agent(LAUNCHD_LABEL);

/// The backup timer of one user, on one platform.
pub struct BackupTimer {
    platform: Platform,
    service_dir: PathBuf,
    driver: Driver,
}

/// The platform's manager. The timer's failures are worded as the tools
/// printed them.
enum Driver {
    Launchd(Launchd),
    Systemd(Systemd),
}

impl BackupTimer {
    /// The current user's timer, with files in `service_dir` (the same
    /// directory as the services': `~/Library/LaunchAgents` or
    /// `$XDG_CONFIG_HOME/systemd/user`).
    pub fn new(platform: Platform, service_dir: PathBuf, runner: Box<dyn Runner>) -> Self {
        Self::with_uid(
            platform,
            service_dir,
            runner,
            rustix::process::getuid().as_raw(),
        )
    }

    /// The timer of user `uid` (launchd's `gui/UID` domain), for tests.
    pub fn with_uid(
        platform: Platform,
        service_dir: PathBuf,
        runner: Box<dyn Runner>,
        uid: u32,
    ) -> Self {
        let dir = service_dir.clone();
        let driver = match platform {
            Platform::Macos => {
                Driver::Launchd(Launchd::with_uid(dir, runner, uid).worded(Wording::Printed))
            }
            Platform::Linux => Driver::Systemd(Systemd::new(dir, runner).worded(Wording::Printed)),
        };
        Self {
            platform,
            service_dir,
            driver,
        }
    }

    /// How long to wait between two looks at a job that is going away.
    #[cfg(test)]
    fn set_poll_interval(&mut self, interval: Duration) {
        if let Driver::Launchd(launchd) = &mut self.driver {
            launchd.set_poll_interval(interval);
        }
    }

    /// What kind of thing the timer is, for messages.
    pub fn kind(&self) -> &'static str {
        match self.platform {
            Platform::Macos => "launchd agent",
            Platform::Linux => "systemd user timer",
        }
    }

    /// Where the timer's files are installed: the plist, or the service and
    /// the timer unit.
    pub fn files(&self) -> Vec<PathBuf> {
        super::file_names(self.platform)
            .into_iter()
            .map(|name| self.service_dir.join(name))
            .collect()
    }

    /// The files for `schedule`, paired with where they go (in [`Self::files`]
    /// order); `None` when scheduled backups are off.
    pub fn render(
        &self,
        schedule: Schedule,
        gardener: &Path,
        config_file: &Path,
        logs: (&Path, &Path),
    ) -> super::Result<Option<Vec<(PathBuf, String)>>> {
        let contents = match self.platform {
            Platform::Macos => {
                launchd_plist(schedule, gardener, config_file, logs)?.map(|plist| vec![plist])
            }
            Platform::Linux => systemd_units(schedule, gardener, config_file, logs)?
                .map(|(service, timer)| vec![service, timer]),
        };
        Ok(contents.map(|c| self.files().into_iter().zip(c).collect()))
    }

    /// What `run(action)` executes when the manager behaves as usual. Activate
    /// (and Start, Restart) schedule the timer now and at every login; Stop
    /// and Deactivate unschedule it. On launchd, `run` also polls `launchctl
    /// print` until a `bootout` has finished, and retries a busy `bootstrap`.
    pub fn commands(&self, action: Action) -> Vec<Invocation> {
        let load = loads(action);
        match &self.driver {
            Driver::Systemd(systemd) => {
                let verb = if load { "enable" } else { "disable" };
                vec![systemd.systemctl(&[verb, "--now", SYSTEMD_TIMER])]
            }
            // launchd reads a plist only when it is bootstrapped: a changed one
            // must be unloaded first.
            Driver::Launchd(launchd) if load => vec![launchd.bootout(JOB), launchd.bootstrap(JOB)],
            Driver::Launchd(launchd) => vec![launchd.bootout(JOB)],
        }
    }

    /// Performs `action`, waiting at most `timeout` for launchd. Unloading a
    /// timer that is not loaded succeeds. A backup already running is left to
    /// finish on systemd (`disable --now` stops only the timer); launchd stops
    /// it with the job.
    pub fn run(&self, action: Action, timeout: Duration) -> services::Result<()> {
        let load = loads(action);
        match &self.driver {
            Driver::Systemd(systemd) => systemd.run_all(self.commands(action), !load),
            Driver::Launchd(launchd) => {
                let deadline = Instant::now() + timeout;
                launchd.unload(JOB, deadline, timeout)?;
                if load {
                    launchd.load(JOB, false, deadline, timeout)
                } else {
                    Ok(())
                }
            }
        }
    }

    /// True when the timer is scheduled: on systemd active and enabled (so it
    /// survives a logout), on launchd loaded in `gui/UID`.
    pub fn is_active(&self) -> services::Result<bool> {
        match &self.driver {
            Driver::Systemd(systemd) => {
                let (_, shown) = systemd.show("ActiveState,UnitFileState", SYSTEMD_TIMER)?;
                let value = |key: &str| {
                    shown
                        .lines()
                        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                        .unwrap_or("")
                };
                Ok(value("ActiveState") == "active"
                    && value("UnitFileState").starts_with("enabled"))
            }
            Driver::Launchd(launchd) => launchd.is_loaded(JOB),
        }
    }
}

/// Whether `action` schedules the timer (rather than unscheduling it).
fn loads(action: Action) -> bool {
    !matches!(action, Action::Stop | Action::Deactivate)
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::services::launchd::BOOTSTRAP_ATTEMPTS;
    use crate::services::{Error, Output};

    /// One expected command line and its exit code, stdout and stderr.
    type Expected = (String, i32, &'static str, &'static str);

    /// Answers commands from a script, in order; anything else fails the test.
    #[derive(Clone, Default)]
    struct Script(Arc<Mutex<VecDeque<Expected>>>);

    impl Script {
        fn expect(
            &self,
            argv: &str,
            code: i32,
            stdout: &'static str,
            stderr: &'static str,
        ) -> &Self {
            self.0
                .lock()
                .unwrap()
                .push_back((argv.to_owned(), code, stdout, stderr));
            self
        }
        fn assert_done(&self) {
            let left = self.0.lock().unwrap();
            assert!(left.is_empty(), "never ran: {left:?}");
        }
    }

    impl Runner for Script {
        fn run(&self, inv: &Invocation) -> std::io::Result<Output> {
            let (argv, code, stdout, stderr) = self
                .0
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or_else(|| panic!("unexpected command: {inv}"));
            assert_eq!(inv.to_string(), argv);
            Ok(Output {
                code: Some(code),
                stdout: stdout.into(),
                stderr: stderr.into(),
            })
        }
    }

    const AGENTS: &str = "/Users/ann/Library/LaunchAgents";
    const UNITS: &str = "/home/ann/.config/systemd/user";
    const BOOTOUT: &str = "launchctl bootout gui/501/com.codebase-gardener.backup";
    const PRINT: &str = "launchctl print gui/501/com.codebase-gardener.backup";
    const BOOTSTRAP: &str = "launchctl bootstrap gui/501 \
                             /Users/ann/Library/LaunchAgents/com.codebase-gardener.backup.plist";
    const LONG: Duration = Duration::from_secs(5);

    fn timer(platform: Platform, s: &Script) -> BackupTimer {
        let dir = match platform {
            Platform::Macos => AGENTS,
            Platform::Linux => UNITS,
        };
        let mut t = BackupTimer::with_uid(platform, dir.into(), Box::new(s.clone()), 501);
        t.set_poll_interval(Duration::from_millis(1));
        t
    }

    fn shown(invs: Vec<Invocation>) -> Vec<String> {
        invs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn files_and_commands_per_platform() {
        let s = Script::default();
        let linux = timer(Platform::Linux, &s);
        assert_eq!(
            linux.files(),
            [
                PathBuf::from(UNITS).join("gardener-backup.service"),
                PathBuf::from(UNITS).join("gardener-backup.timer")
            ]
        );
        assert_eq!(
            shown(linux.commands(Action::Activate)),
            ["systemctl --user enable --now gardener-backup.timer"]
        );
        assert_eq!(
            shown(linux.commands(Action::Deactivate)),
            ["systemctl --user disable --now gardener-backup.timer"]
        );
        let mac = timer(Platform::Macos, &s);
        assert_eq!(
            mac.files(),
            [PathBuf::from(AGENTS).join("com.codebase-gardener.backup.plist")]
        );
        assert_eq!(shown(mac.commands(Action::Activate)), [BOOTOUT, BOOTSTRAP]);
        assert_eq!(shown(mac.commands(Action::Deactivate)), [BOOTOUT]);
    }

    #[test]
    fn render_pairs_contents_with_paths_and_is_none_when_off() {
        let s = Script::default();
        let logs = (Path::new("/l/backup.log"), Path::new("/l/backup.err.log"));
        let daily = Schedule::Daily { hour: 3, minute: 0 };
        for platform in [Platform::Linux, Platform::Macos] {
            let t = timer(platform, &s);
            let files = t
                .render(
                    daily,
                    Path::new("/bin/gardener"),
                    Path::new("/c.toml"),
                    logs,
                )
                .unwrap()
                .unwrap();
            let paths: Vec<PathBuf> = files.iter().map(|(p, _)| p.clone()).collect();
            assert_eq!(paths, t.files());
            assert!(files[0].1.contains("/bin/gardener"), "{files:?}");
            let off = t.render(Schedule::Off, Path::new("/g"), Path::new("/c"), logs);
            assert!(off.unwrap().is_none());
        }
    }

    #[test]
    fn systemd_disable_of_an_unknown_timer_is_fine_but_enable_is_not() {
        let s = Script::default();
        s.expect(
            "systemctl --user disable --now gardener-backup.timer",
            1,
            "",
            "Failed to disable unit: Unit file gardener-backup.timer does not exist.\n",
        );
        timer(Platform::Linux, &s)
            .run(Action::Deactivate, LONG)
            .unwrap();
        s.expect(
            "systemctl --user enable --now gardener-backup.timer",
            1,
            "",
            "Failed to enable unit: Unit file gardener-backup.timer does not exist.\n",
        );
        let err = timer(Platform::Linux, &s)
            .run(Action::Activate, LONG)
            .unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
        s.assert_done();
    }

    #[test]
    fn systemd_timer_is_active_only_when_enabled_too() {
        let show = "systemctl --user show -p ActiveState,UnitFileState gardener-backup.timer";
        let s = Script::default();
        s.expect(show, 0, "ActiveState=active\nUnitFileState=enabled\n", "")
            .expect(show, 0, "UnitFileState=disabled\nActiveState=active\n", "")
            .expect(show, 0, "ActiveState=inactive\nUnitFileState=\n", "")
            .expect(show, 1, "", "Failed to connect to bus: No medium found\n");
        let t = timer(Platform::Linux, &s);
        assert!(t.is_active().unwrap());
        assert!(!t.is_active().unwrap());
        assert!(!t.is_active().unwrap());
        assert!(matches!(t.is_active(), Err(Error::Command { .. })));
        s.assert_done();
    }

    #[test]
    fn launchd_activate_waits_for_bootout_and_retries_a_busy_bootstrap() {
        let s = Script::default();
        s.expect(BOOTOUT, 0, "", "")
            .expect(PRINT, 0, "state = not running\n", "")
            .expect(PRINT, 113, "", "Could not find service\n")
            .expect(
                BOOTSTRAP,
                5,
                "",
                "Bootstrap failed: 5: Input/output error\n",
            )
            .expect(PRINT, 113, "", "")
            .expect(BOOTSTRAP, 0, "", "");
        let t = timer(Platform::Macos, &s);
        t.run(Action::Activate, LONG).unwrap();
        s.assert_done();
    }

    #[test]
    fn launchd_deactivate_of_an_unloaded_job_and_status() {
        let s = Script::default();
        s.expect(BOOTOUT, 113, "", "Boot-out failed: 113\n")
            .expect(PRINT, 0, "state = not running\n", "")
            .expect(PRINT, 113, "", "")
            .expect(PRINT, 125, "", "");
        let t = timer(Platform::Macos, &s);
        t.run(Action::Deactivate, LONG).unwrap();
        assert!(t.is_active().unwrap());
        assert!(!t.is_active().unwrap());
        let err = t.is_active().unwrap_err().to_string();
        assert!(err.contains("exit status 125"), "{err}");
        s.assert_done();
    }

    #[test]
    fn launchd_bootstrap_that_keeps_failing_is_an_error() {
        let s = Script::default();
        s.expect(BOOTOUT, 3, "", "");
        for _ in 0..BOOTSTRAP_ATTEMPTS {
            s.expect(BOOTSTRAP, 5, "", "").expect(PRINT, 113, "", "");
        }
        let err = timer(Platform::Macos, &s)
            .run(Action::Activate, LONG)
            .unwrap_err();
        assert!(
            matches!(&err, Error::Command { code: 5, message, .. } if message == "Input/output error"),
            "{err}"
        );
        s.assert_done();
    }
}
