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
    ServiceStatus,
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
const BOOTSTRAP_ATTEMPTS: u32 = 5;

/// Drives launchd user agents for one user.
pub struct Launchd {
    service_dir: PathBuf,
    runner: Box<dyn Runner>,
    uid: u32,
    poll_interval: Duration,
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
        }
    }

    /// `gui/UID`: the login session's domain, where user agents live.
    pub fn domain_target(&self) -> String {
        format!("gui/{}", self.uid)
    }

    /// `gui/UID/LABEL`.
    pub fn service_target(&self, id: ServiceId) -> String {
        format!("gui/{}/{}", self.uid, id.label())
    }

    fn launchctl(&self, args: &[&str]) -> Invocation {
        Invocation::new(std::iter::once("launchctl").chain(args.iter().copied()))
    }

    fn bootout(&self, id: ServiceId) -> Invocation {
        self.launchctl(&["bootout", &self.service_target(id)])
    }

    fn bootstrap(&self, id: ServiceId) -> Invocation {
        let plist = self.file_path(id).display().to_string();
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

    fn print(&self, id: ServiceId) -> Invocation {
        self.launchctl(&["print", &self.service_target(id)])
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
            Err(command_error(inv, &out, None))
        }
    }

    /// Whether launchd knows the job, from `launchctl print`'s exit code.
    fn is_loaded(&self, id: ServiceId) -> Result<bool> {
        let inv = self.print(id);
        let out = self.exec(&inv)?;
        match out.code {
            Some(0) => Ok(true),
            Some(code) if NOT_LOADED.contains(&code) => Ok(false),
            _ => Err(command_error(&inv, &out, None)),
        }
    }

    /// `bootout`, then waits until the job is really gone: bootout returns
    /// while launchd is still stopping the process, and a `bootstrap` in that
    /// window fails with `5: Input/output error`.
    fn unload(&self, id: ServiceId, deadline: Instant, timeout: Duration) -> Result<()> {
        let inv = self.bootout(id);
        let out = self.exec(&inv)?;
        match out.code {
            Some(code) if NOT_LOADED.contains(&code) => return Ok(()),
            Some(code) if code == 0 || IN_PROGRESS.contains(&code) => {}
            _ => return Err(command_error(&inv, &out, None)),
        }
        loop {
            if !self.is_loaded(id)? {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout {
                    service: id,
                    what: "unload",
                    secs: timeout.as_secs(),
                });
            }
            thread::sleep(self.poll_interval.min(deadline - now));
        }
    }

    /// `bootstrap`, retried while launchd says the job is busy. When `start`
    /// is set (Start, Restart) a job that turns out to be loaded already is
    /// kick-started instead; for Activate it is unloaded again, because a
    /// stale definition must not survive.
    fn load(&self, id: ServiceId, start: bool, deadline: Instant, timeout: Duration) -> Result<()> {
        let inv = self.bootstrap(id);
        let mut attempt = 1;
        loop {
            let out = self.exec(&inv)?;
            match out.code {
                Some(0) => return Ok(()),
                Some(code) if code == EIO || IN_PROGRESS.contains(&code) => {}
                _ => return Err(command_error(&inv, &out, None)),
            }
            if self.is_loaded(id)? {
                if start {
                    return self.exec_ok(&self.kickstart(id, false));
                }
                self.unload(id, deadline, timeout)?;
            }
            let now = Instant::now();
            if attempt >= BOOTSTRAP_ATTEMPTS || now >= deadline {
                let hint = format!(
                    "launchd refused to load {plist}: it may already be loaded or still \
                     unloading, be disabled (`launchctl enable {target}`), or be invalid \
                     (`plutil -lint {plist}`); check `launchctl print {target}`",
                    plist = self.file_path(id).display(),
                    target = self.service_target(id),
                );
                return Err(command_error(&inv, &out, Some(hint)));
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
        self.service_dir.join(format!("{}.plist", id.label()))
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
        match action {
            Action::Activate => vec![self.bootout(id), self.bootstrap(id)],
            Action::Start => vec![self.bootstrap(id)],
            Action::Stop | Action::Deactivate => vec![self.bootout(id)],
            Action::Restart => vec![self.kickstart(id, true)],
        }
    }

    fn run(&self, action: Action, id: ServiceId, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        match action {
            Action::Activate => {
                self.unload(id, deadline, timeout)?;
                self.load(id, false, deadline, timeout)
            }
            Action::Start => self.load(id, true, deadline, timeout),
            // An agent stays stopped after bootout until the next login, when
            // launchd loads everything in ~/Library/LaunchAgents again.
            Action::Stop | Action::Deactivate => self.unload(id, deadline, timeout),
            Action::Restart => {
                let inv = self.kickstart(id, true);
                let out = self.exec(&inv)?;
                match out.code {
                    Some(0) => Ok(()),
                    Some(code) if NOT_LOADED.contains(&code) => {
                        self.load(id, true, deadline, timeout)
                    }
                    _ => Err(command_error(&inv, &out, None)),
                }
            }
        }
    }

    fn status(&self, id: ServiceId) -> Result<ServiceStatus> {
        let inv = self.print(id);
        let out = self.exec(&inv)?;
        match out.code {
            Some(0) => status_from_print(id, &out.stdout).map_err(|message| Error::Parse {
                command: inv.to_string(),
                message,
            }),
            Some(code) if NOT_LOADED.contains(&code) => Ok(ServiceStatus::not_installed(id)),
            _ => Err(command_error(&inv, &out, None)),
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
    let printed = [out.stderr.trim(), out.stdout.trim()]
        .into_iter()
        .find(|s| !s.is_empty())
        .map(str::to_owned);
    let printed = printed.unwrap_or_else(|| match out.code {
        None => "killed by a signal".to_owned(),
        Some(5) => "Input/output error".to_owned(),
        Some(113) => "Could not find service".to_owned(),
        Some(125) => "Domain does not support specified action (is the user logged in \
                      at the GUI? `gui/UID` exists only in a login session)"
            .to_owned(),
        Some(code) => format!("exit status {code}"),
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
