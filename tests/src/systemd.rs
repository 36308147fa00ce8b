//! A real systemd user manager in the test's private namespaces, with a temporary home.
//!
//! Follows DESIGN.md's recipe: a tmpfs on `/run` (so `/run/systemd/system` exists and systemd
//! believes it may run), `XDG_RUNTIME_DIR=/run/user/0`, then `systemd --user`. Units are read
//! from `$XDG_CONFIG_HOME/systemd/user` under the temporary home, exactly where Gardener writes.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::{namespace, wait_until};

/// The systemd binary Debian installs.
pub const SYSTEMD: &str = "/lib/systemd/systemd";

const RUNTIME_DIR: &str = "/run/user/0";
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
const EXIT_TIMEOUT: Duration = Duration::from_secs(15);

/// Guard for a running `systemd --user`; dropping it stops the manager and everything it ran.
///
/// Only one per namespaced test: it owns `/run` of the namespace.
pub struct SystemdUser {
    home: TempDir,
    manager: Child,
    log: PathBuf,
}

impl SystemdUser {
    /// Mounts the runtime directories, starts the manager and waits until it is running.
    ///
    /// Must be called inside [`namespace::enter`]'s child.
    pub fn start() -> Self {
        assert!(
            namespace::inside(),
            "SystemdUser::start outside namespace::enter's namespace"
        );
        run_ok(Command::new("mount").args(["-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/run"]));
        fs::create_dir_all("/run/systemd/system").expect("mkdir /run/systemd/system");
        fs::create_dir_all(RUNTIME_DIR).expect("mkdir /run/user/0");
        fs::set_permissions(RUNTIME_DIR, fs::Permissions::from_mode(0o700)).expect("chmod");

        let home = tempfile::Builder::new()
            .prefix("gardener-e2e-home-")
            .tempdir()
            .expect("home");
        let log = home.path().join("systemd-user.log");
        let log_file = fs::File::create(&log).expect("create manager log");
        let mut manager = Command::new(SYSTEMD);
        manager
            .arg("--user")
            .env_clear()
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
            )
            .env("LANG", "C.UTF-8")
            // No journald in here: whatever the manager logs lands in the log file instead.
            .env("SYSTEMD_LOG_TARGET", "console")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("dup log"))
            .stderr(log_file);
        let mut systemd = Self {
            manager: manager
                .envs(env_for(home.path()))
                .spawn()
                .expect("spawn systemd --user"),
            home,
            log,
        };
        for dir in [
            systemd.config_home(),
            systemd.data_home(),
            systemd.state_home(),
        ] {
            fs::create_dir_all(dir).expect("create XDG dir");
        }

        let mut state = String::new();
        let up = wait_until(STARTUP_TIMEOUT, || {
            let out = systemd.systemctl(&["is-system-running"]);
            state = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            state == "running" || state == "degraded"
        });
        if !up {
            let _ = systemd.manager.kill();
            panic!(
                "systemd --user did not come up within {STARTUP_TIMEOUT:?} (state {state:?}); \
                 manager log:\n{}",
                systemd.manager_log()
            );
        }
        if state == "degraded" {
            let failed = systemd.systemctl(&["--failed", "--no-legend", "--plain"]);
            eprintln!(
                "warning: systemd --user is degraded; failed units:\n{}",
                String::from_utf8_lossy(&failed.stdout)
            );
        }
        systemd
    }

    /// The temporary `$HOME`.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// `$XDG_CONFIG_HOME`.
    pub fn config_home(&self) -> PathBuf {
        self.home().join(".config")
    }

    /// `$XDG_DATA_HOME`.
    pub fn data_home(&self) -> PathBuf {
        self.home().join(".local/share")
    }

    /// `$XDG_STATE_HOME`.
    pub fn state_home(&self) -> PathBuf {
        self.home().join(".local/state")
    }

    /// Where the manager reads user units from, and where Gardener writes them.
    pub fn unit_dir(&self) -> PathBuf {
        self.config_home().join("systemd/user")
    }

    /// Variables every command talking to this manager (or using this home) must get.
    pub fn env(&self) -> Vec<(&'static str, OsString)> {
        env_for(self.home())
    }

    /// A command with this manager's environment and no session bus address.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_remove("DBUS_SESSION_BUS_ADDRESS").envs(self.env());
        cmd
    }

    /// Runs `systemctl --user ARGS` against this manager.
    pub fn systemctl(&self, args: &[&str]) -> Output {
        self.command("systemctl")
            .arg("--user")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run systemctl")
    }

    /// `systemctl --user show -p PROPS UNIT`, parsed by key (systemd picks the order).
    pub fn show(&self, unit: &str, props: &[&str]) -> HashMap<String, String> {
        let out = self.systemctl(&["show", "-p", &props.join(","), unit]);
        assert!(
            out.status.success(),
            "systemctl show {unit}: {}",
            crate::output_text(&out)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// The unit's `MainPID`, or `None` when it has no running main process.
    pub fn main_pid(&self, unit: &str) -> Option<u32> {
        let pid = self.show(unit, &["MainPID"]).get("MainPID")?.parse().ok()?;
        (pid != 0).then_some(pid)
    }

    /// The manager's own output so far.
    pub fn manager_log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_else(|err| format!("(no log: {err})"))
    }

    /// What a failing test wants to see: every unit the manager knows of and its own log.
    fn print_diagnostics(&self) {
        let units = self.systemctl(&["list-units", "--all", "--no-pager", "--plain"]);
        eprintln!(
            "--- systemctl --user list-units --all ---\n{}\n--- systemd --user log ---\n{}",
            String::from_utf8_lossy(&units.stdout),
            self.manager_log()
        );
    }
}

impl Drop for SystemdUser {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.print_diagnostics();
        }
        // An orderly exit stops every unit with its configured signal, like a logout would.
        let _ = self.systemctl(&["exit"]);
        let exited = wait_until(EXIT_TIMEOUT, || {
            matches!(self.manager.try_wait(), Ok(Some(_)))
        });
        if !exited {
            eprintln!("warning: systemd --user did not exit within {EXIT_TIMEOUT:?}; killing it");
            let _ = self.manager.kill();
            let _ = self.manager.wait();
        }
        let survivors = kill_other_processes();
        if !survivors.is_empty() {
            eprintln!("warning: killed processes that outlived the manager: {survivors:?}");
        }
    }
}

fn env_for(home: &Path) -> Vec<(&'static str, OsString)> {
    vec![
        ("HOME", home.into()),
        ("XDG_CONFIG_HOME", home.join(".config").into()),
        ("XDG_DATA_HOME", home.join(".local/share").into()),
        ("XDG_STATE_HOME", home.join(".local/state").into()),
        ("XDG_CACHE_HOME", home.join(".cache").into()),
        ("XDG_RUNTIME_DIR", RUNTIME_DIR.into()),
    ]
}

fn run_ok(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|err| panic!("run {cmd:?}: {err}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        crate::output_text(&out)
    );
}

/// SIGKILLs every live process in this PID namespace except ourselves (PID 1); returns their
/// command lines. Nothing else lives here, so anything found is a leaked service process.
fn kill_other_processes() -> Vec<String> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut killed = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The state letter follows the parenthesised command name, which may contain spaces.
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next());
        if pid == 1 || state == Some("Z") {
            continue;
        }
        let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if let Some(target) = rustix::process::Pid::from_raw(pid)
            && rustix::process::kill_process(target, rustix::process::Signal::KILL).is_ok()
        {
            killed.push(format!("{pid} {}", cmdline.trim()));
        }
    }
    killed
}
