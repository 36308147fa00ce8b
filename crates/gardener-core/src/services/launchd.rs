//! launchd user agents in the `gui/UID` domain: plist files, and `launchctl`
//! driven with the exit codes and asynchrony it really has.

mod print;
mod render;

use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

pub use print::{PrintInfo, parse_print, status_from_print};
pub use render::render_plist;

use super::{
    Action, Error, Invocation, Output, Result, Runner, ServiceId, ServiceManager, ServiceSpec,
    ServiceStatus, Wording,
};
use crate::paths::Platform;

/// `3: No such process` (bootout) and `113: Could not find service` (bootout,
/// print, kickstart): the job is not loaded.
const NOT_LOADED: [i32; 2] = [3, 113];
/// `36: Operation now in progress` (bootout while the job is still exiting)
/// and `37: Operation already in progress`.
const IN_PROGRESS: [i32; 2] = [36, 37];
/// `5: Input/output error`: bootstrap of a job that is loaded or still unloading.
const EIO: i32 = 5;
/// How often `bootstrap` is tried when launchd answers `5` or `37`.
pub(crate) const BOOTSTRAP_ATTEMPTS: u32 = 5;

/// A job in the user's `gui/UID` domain, whose plist is `LABEL.plist` in the
/// agents directory: one of the services, or another agent of Gardener's
/// (the backup timer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Job {
    /// A service: waiting for it too long is an [`Error::Timeout`].
    Service(ServiceId),
    /// Another agent, by label.
    Agent(&'static str),
}

impl Job {
    fn label(self) -> &'static str {
        match self {
            Self::Service(id) => id.label(),
            Self::Agent(label) => label,
        }
    }
}

/// Drives launchd user agents for one user.
pub struct Launchd {
    service_dir: PathBuf,
    runner: Box<dyn Runner>,
    uid: u32,
    poll_interval: Duration,
    wording: Wording,
}

impl Launchd {
    /// A manager for the current user's agents in `service_dir`
    /// (`~/Library/LaunchAgents`).
    pub fn new(service_dir: PathBuf, runner: Box<dyn Runner>) -> Self {
        Self::with_uid(service_dir, runner, rustix::process::getuid().as_raw())
    }

    /// A manager for the agents of user `uid`, for tests and dry runs.
    pub fn with_uid(service_dir: PathBuf, runner: Box<dyn Runner>, uid: u32) -> Self {
        Self {
            service_dir,
            runner,
            uid,
            poll_interval: Duration::from_millis(100),
            wording: Wording::Diagnosed,
        }
    }

    /// The same manager, wording failures as `wording` says.
    pub fn worded(self, wording: Wording) -> Self {
        Self { wording, ..self }
    }

    /// How long to wait between two looks at a job that is going away.
    #[cfg(test)]
    pub(crate) fn set_poll_interval(&mut self, interval: Duration) {
        self.poll_interval = interval;
    }

    /// `gui/UID`: the login session's domain, where user agents live.
    pub fn domain_target(&self) -> String {
        format!("gui/{}", self.uid)
    }

    /// `gui/UID/LABEL`.
    pub fn service_target(&self, id: ServiceId) -> String {
        self.target(Job::Service(id))
    }

    fn target(&self, job: Job) -> String {
        format!("gui/{}/{}", self.uid, job.label())
    }

    /// Where the plist of `job` is installed.
    pub(crate) fn plist_path(&self, job: Job) -> PathBuf {
        self.service_dir.join(format!("{}.plist", job.label()))
    }

    fn launchctl(&self, args: &[&str]) -> Invocation {
        Invocation::new(std::iter::once("launchctl").chain(args.iter().copied()))
    }

    /// `launchctl bootout gui/UID/LABEL`.
    pub(crate) fn bootout(&self, job: Job) -> Invocation {
        self.launchctl(&["bootout", &self.target(job)])
    }

    /// `launchctl bootstrap gui/UID PLIST`.
    pub(crate) fn bootstrap(&self, job: Job) -> Invocation {
        let plist = self.plist_path(job).display().to_string();
        self.launchctl(&["bootstrap", &self.domain_target(), &plist])
    }

    fn kickstart(&self, id: ServiceId, kill: bool) -> Invocation {
        let target = self.service_target(id);
        if kill {
            self.launchctl(&["kickstart", "-k", &target])
        } else {
            self.launchctl(&["kickstart", &target])
        }
    }

    fn print(&self, job: Job) -> Invocation {
        self.launchctl(&["print", &self.target(job)])
    }

    fn exec(&self, inv: &Invocation) -> Result<Output> {
        super::run(self.runner.as_ref(), inv)
    }

    /// Runs `inv` and fails unless it exits 0.
    fn exec_ok(&self, inv: &Invocation) -> Result<()> {
        let out = self.exec(inv)?;
        if out.success() {
            Ok(())
        } else {
            Err(self.command_error(inv, &out, None))
        }
    }

    fn command_error(&self, inv: &Invocation, out: &Output, hint: Option<String>) -> Error {
        match self.wording {
            Wording::Diagnosed => command_error(inv, out, hint),
            Wording::Printed => Error::Command {
                command: inv.to_string(),
                code: out.code.unwrap_or(-1),
                message: super::printed(out, |code| {
                    (code == EIO).then(|| "Input/output error".to_owned())
                }),
            },
        }
    }

    /// Whether launchd knows the job, from `launchctl print`'s exit code.
    pub(crate) fn is_loaded(&self, job: Job) -> Result<bool> {
        let inv = self.print(job);
        let out = self.exec(&inv)?;
        match out.code {
            Some(0) => Ok(true),
            Some(code) if NOT_LOADED.contains(&code) => Ok(false),
            _ => Err(self.command_error(&inv, &out, None)),
        }
    }

    /// `bootout`, then waits until the job is really gone: bootout returns
    /// while launchd is still stopping the process, and a `bootstrap` in that
    /// window fails with `5: Input/output error`.
    pub(crate) fn unload(&self, job: Job, deadline: Instant, timeout: Duration) -> Result<()> {
        let inv = self.bootout(job);
        let out = self.exec(&inv)?;
        match out.code {
            Some(code) if NOT_LOADED.contains(&code) => return Ok(()),
            Some(code) if code == 0 || IN_PROGRESS.contains(&code) => {}
            _ => return Err(self.command_error(&inv, &out, None)),
        }
        loop {
            if !self.is_loaded(job)? {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(self.still_loaded(job, timeout));
            }
            thread::sleep(self.poll_interval.min(deadline - now));
        }
    }

    fn still_loaded(&self, job: Job, timeout: Duration) -> Error {
        match job {
            Job::Service(service) => Error::Timeout {
                service,
                what: "unload",
                secs: timeout.as_secs(),
            },
            Job::Agent(label) => Error::Command {
                command: self.print(job).to_string(),
                code: 0,
                message: format!("{label} is still loaded after `launchctl bootout`"),
            },
        }
    }

    /// `bootstrap`, retried while launchd says the job is busy. When `start`
    /// is set (Start, Restart of a service) a job that turns out to be loaded
    /// already is kick-started instead; otherwise it is unloaded again,
    /// because a stale definition must not survive.
    pub(crate) fn load(
        &self,
        job: Job,
        start: bool,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<()> {
        let inv = self.bootstrap(job);
        let mut attempt = 1;
        loop {
            let out = self.exec(&inv)?;
            match out.code {
                Some(0) => return Ok(()),
                Some(code) if code == EIO || IN_PROGRESS.contains(&code) => {}
                _ => return Err(self.command_error(&inv, &out, None)),
            }
            if self.is_loaded(job)? {
                if let (true, Job::Service(id)) = (start, job) {
                    return self.exec_ok(&self.kickstart(id, false));
                }
                self.unload(job, deadline, timeout)?;
            }
            let now = Instant::now();
            if attempt >= BOOTSTRAP_ATTEMPTS || now >= deadline {
                let hint = format!(
                    "launchd refused to load {plist}: it may already be loaded or still \
                     unloading, be disabled (`launchctl enable {target}`), or be invalid \
                     (`plutil -lint {plist}`); check `launchctl print {target}`",
                    plist = self.plist_path(job).display(),
                    target = self.target(job),
                );
                return Err(self.command_error(&inv, &out, Some(hint)));
            }
            // Back off: unloading a job that is slow to exit takes a while.
            let pause = self.poll_interval * 2u32.saturating_pow(attempt - 1);
            thread::sleep(pause.min(deadline - now));
            attempt += 1;
        }
    }
}

impl ServiceManager for Launchd {
    fn platform(&self) -> Platform {
        Platform::Macos
    }

    fn file_path(&self, id: ServiceId) -> PathBuf {
        self.plist_path(Job::Service(id))
    }

    fn render(&self, spec: &ServiceSpec) -> Result<String> {
        render_plist(spec)
    }

    fn reload_commands(&self) -> Vec<Invocation> {
        Vec::new()
    }

    fn reload(&self) -> Result<()> {
        Ok(())
    }

    /// What `run` executes when launchd behaves as usual. Beyond these, `run`
    /// polls `launchctl print` after every `bootout` until the job is gone
    /// (and skips that when bootout says it was not loaded); when `bootstrap`
    /// answers "busy" it checks `print` and retries, or, for Start, runs
    /// `kickstart` on the job that is already loaded; and Restart of a job
    /// that is not loaded falls back to `bootstrap`.
    fn commands(&self, action: Action, id: ServiceId) -> Vec<Invocation> {
        let job = Job::Service(id);
        match action {
            Action::Activate => vec![self.bootout(job), self.bootstrap(job)],
            Action::Start => vec![self.bootstrap(job)],
            Action::Stop | Action::Deactivate => vec![self.bootout(job)],
            Action::Restart => vec![self.kickstart(id, true)],
        }
    }

    fn run(&self, action: Action, id: ServiceId, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let job = Job::Service(id);
        match action {
            Action::Activate => {
                self.unload(job, deadline, timeout)?;
                self.load(job, false, deadline, timeout)
            }
            Action::Start => self.load(job, true, deadline, timeout),
            // An agent stays stopped after bootout until the next login, when
            // launchd loads everything in ~/Library/LaunchAgents again.
            Action::Stop | Action::Deactivate => self.unload(job, deadline, timeout),
            Action::Restart => {
                let inv = self.kickstart(id, true);
                let out = self.exec(&inv)?;
                match out.code {
                    Some(0) => Ok(()),
                    Some(code) if NOT_LOADED.contains(&code) => {
                        self.load(job, true, deadline, timeout)
                    }
                    _ => Err(self.command_error(&inv, &out, None)),
                }
            }
        }
    }

    fn status(&self, id: ServiceId) -> Result<ServiceStatus> {
        let inv = self.print(Job::Service(id));
        let out = self.exec(&inv)?;
        match out.code {
            Some(0) => status_from_print(id, &out.stdout).map_err(|message| Error::Parse {
                command: inv.to_string(),
                message,
            }),
            Some(code) if NOT_LOADED.contains(&code) => Ok(ServiceStatus::not_installed(id)),
            _ => Err(self.command_error(&inv, &out, None)),
        }
    }
}

/// What to do when launchd has no GUI domain for this user.
pub const UNREACHABLE_FIX: &str = "log in to the Mac's desktop as this user (at the screen or \
     through Screen Sharing): Gardener's services are agents of the desktop session, which an SSH \
     login does not start";

/// A failed `launchctl` call, with what it printed, or what its exit code
/// means when it printed nothing.
fn command_error(inv: &Invocation, out: &Output, hint: Option<String>) -> Error {
    let code = out.code.unwrap_or(-1);
    let printed = super::printed(out, |code| {
        Some(match code {
            5 => "Input/output error".to_owned(),
            113 => "Could not find service".to_owned(),
            125 => "Domain does not support specified action (is the user logged in \
                    at the GUI? `gui/UID` exists only in a login session)"
                .to_owned(),
            _ => return None,
        })
    });
    // No gui/UID domain: not logged in at the Mac's screen (an SSH login
    // has only a Background session).
    if code == 125 || printed.contains("Could not find domain") {
        return Error::Unreachable {
            manager: "launchd's gui domain",
            message: printed,
            fix: UNREACHABLE_FIX,
        };
    }
    let message = match hint {
        Some(hint) => format!("{hint} (launchctl said: {printed})"),
        None => printed,
    };
    Error::Command {
        command: inv.to_string(),
        code,
        message,
    }
}

#[cfg(test)]
mod tests;
