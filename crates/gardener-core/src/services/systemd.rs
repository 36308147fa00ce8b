//! systemd user units: unit files, and `systemctl --user` with the failures
//! that only mean "already done" told apart from real ones.

mod show;
mod unit;

use std::path::PathBuf;
use std::time::Duration;

pub use show::{PROPERTIES, parse_show, status_from_show};
pub use unit::{quote_always, quote_word, render_unit, valid_env_name};

use super::{
    Action, Error, Invocation, Output, Result, Runner, ServiceId, ServiceManager, ServiceSpec,
    ServiceStatus, Wording,
};
use crate::paths::Platform;

/// `systemctl` exits 5 when the unit is not loaded (`Unit … not loaded.`).
const NOT_LOADED: i32 = 5;

/// Drives systemd user units through `systemctl --user`.
pub struct Systemd {
    service_dir: PathBuf,
    runner: Box<dyn Runner>,
    wording: Wording,
}

impl Systemd {
    /// A manager for units in `service_dir` (`$XDG_CONFIG_HOME/systemd/user`).
    pub fn new(service_dir: PathBuf, runner: Box<dyn Runner>) -> Self {
        Self {
            service_dir,
            runner,
            wording: Wording::Diagnosed,
        }
    }

    /// The same manager, wording failures as `wording` says.
    pub fn worded(self, wording: Wording) -> Self {
        Self { wording, ..self }
    }

    /// `systemctl --user ARGS…`.
    pub(crate) fn systemctl(&self, args: &[&str]) -> Invocation {
        Invocation::new(
            ["systemctl", "--user"]
                .into_iter()
                .chain(args.iter().copied()),
        )
    }

    fn exec(&self, inv: &Invocation) -> Result<Output> {
        super::run(self.runner.as_ref(), inv)
    }

    fn exec_ok(&self, inv: &Invocation) -> Result<()> {
        let out = self.exec(inv)?;
        if out.success() {
            Ok(())
        } else {
            Err(self.command_error(inv, &out))
        }
    }

    fn command_error(&self, inv: &Invocation, out: &Output) -> Error {
        match self.wording {
            Wording::Diagnosed => command_error(inv, out),
            Wording::Printed => Error::Command {
                command: inv.to_string(),
                code: out.code.unwrap_or(-1),
                message: super::printed(out, |_| None),
            },
        }
    }

    /// Runs `commands` in order, stopping at the first failure. When
    /// `stopping`, a unit systemd does not know is no failure: it is as
    /// stopped as it gets.
    pub(crate) fn run_all(&self, commands: Vec<Invocation>, stopping: bool) -> Result<()> {
        for inv in commands {
            let out = self.exec(&inv)?;
            if out.success() {
                continue;
            }
            if stopping && unit_unknown(&out) {
                tracing::debug!(command = %inv, "unit not known to systemd; nothing to stop");
                continue;
            }
            return Err(self.command_error(&inv, &out));
        }
        Ok(())
    }

    /// `systemctl --user show -p PROPERTIES UNIT`: the command and what it printed.
    pub(crate) fn show(&self, properties: &str, unit: &str) -> Result<(Invocation, String)> {
        let inv = self.systemctl(&["show", "-p", properties, unit]);
        let out = self.exec(&inv)?;
        if !out.success() {
            return Err(self.command_error(&inv, &out));
        }
        Ok((inv, out.stdout))
    }
}

impl ServiceManager for Systemd {
    fn platform(&self) -> Platform {
        Platform::Linux
    }

    fn file_path(&self, id: ServiceId) -> PathBuf {
        self.service_dir.join(id.unit_name())
    }

    fn render(&self, spec: &ServiceSpec) -> Result<String> {
        render_unit(spec)
    }

    fn reload_commands(&self) -> Vec<Invocation> {
        vec![self.systemctl(&["daemon-reload"])]
    }

    fn reload(&self) -> Result<()> {
        self.reload_commands()
            .iter()
            .try_for_each(|inv| self.exec_ok(inv))
    }

    /// Activate restarts rather than starts, so that a changed unit file
    /// takes effect in a running service as well as starting a stopped one.
    fn commands(&self, action: Action, id: ServiceId) -> Vec<Invocation> {
        let unit = id.unit_name();
        match action {
            Action::Activate => vec![
                self.systemctl(&["enable", unit]),
                self.systemctl(&["restart", unit]),
            ],
            Action::Start => vec![self.systemctl(&["start", unit])],
            Action::Stop => vec![self.systemctl(&["stop", unit])],
            Action::Restart => vec![self.systemctl(&["restart", unit])],
            Action::Deactivate => vec![self.systemctl(&["disable", "--now", unit])],
        }
    }

    /// Runs exactly [`ServiceManager::commands`]. `systemctl` itself waits
    /// for each job to finish (bounded by the unit's own start and stop
    /// timeouts), so `timeout` is not needed here. Stopping or deactivating
    /// a unit systemd does not know succeeds: it is as stopped as it gets.
    fn run(&self, action: Action, id: ServiceId, _timeout: Duration) -> Result<()> {
        let stopping = matches!(action, Action::Stop | Action::Deactivate);
        self.run_all(self.commands(action, id), stopping)
    }

    fn status(&self, id: ServiceId) -> Result<ServiceStatus> {
        let (inv, stdout) = self.show(PROPERTIES, id.unit_name())?;
        status_from_show(id, &stdout).map_err(|message| Error::Parse {
            command: inv.to_string(),
            message,
        })
    }
}

/// `Unit x.service not loaded.` (exit 5) from stop, `Unit file x.service does
/// not exist.` (exit 1) from disable.
fn unit_unknown(out: &Output) -> bool {
    out.code == Some(NOT_LOADED)
        || out.stderr.contains("not loaded")
        || out.stderr.contains("does not exist")
}

/// What to do when no systemd user manager answers.
pub const UNREACHABLE_FIX: &str = "log in through a normal session (not `su`), or on a headless \
     machine enable lingering with `sudo loginctl enable-linger $USER` and log in again; \
     XDG_RUNTIME_DIR must be set (to /run/user/$UID)";

/// A failed `systemctl` call with what it printed; no reachable user
/// manager is [`Error::Unreachable`] with what to do, since that is the
/// usual first-run problem on servers.
fn command_error(inv: &Invocation, out: &Output) -> Error {
    let printed = super::printed(out, |_| None);
    // "Failed to connect to bus: …" (systemd 252), "Failed to connect to
    // user scope bus via local transport: …" (later ones).
    if printed.contains("Failed to connect to") && printed.contains("bus") {
        return Error::Unreachable {
            manager: "the systemd user manager",
            message: printed,
            fix: UNREACHABLE_FIX,
        };
    }
    Error::Command {
        command: inv.to_string(),
        code: out.code.unwrap_or(-1),
        message: printed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::testing::ScriptedRunner;
    use crate::services::{LastExit, ServiceState};

    const UNIT: &str = "gardener-ollama.service";
    const LONG: Duration = Duration::from_secs(5);

    fn manager(r: &ScriptedRunner) -> Systemd {
        Systemd::new("/home/ann/.config/systemd/user".into(), r.boxed())
    }

    fn argvs(invs: Vec<Invocation>) -> Vec<String> {
        invs.iter().map(Invocation::to_string).collect()
    }

    #[test]
    fn paths() {
        let m = manager(&ScriptedRunner::new());
        assert_eq!(m.platform(), Platform::Linux);
        assert_eq!(
            m.file_path(ServiceId::Ollama),
            PathBuf::from("/home/ann/.config/systemd/user/gardener-ollama.service")
        );
        assert_eq!(
            m.file_path(ServiceId::App),
            PathBuf::from("/home/ann/.config/systemd/user/gardener-app.service")
        );
    }

    #[test]
    fn commands_for_every_action() {
        let m = manager(&ScriptedRunner::new());
        let cmds = |a| argvs(m.commands(a, ServiceId::Ollama));
        assert_eq!(
            argvs(m.reload_commands()),
            ["systemctl --user daemon-reload"]
        );
        assert_eq!(
            cmds(Action::Activate),
            [
                format!("systemctl --user enable {UNIT}"),
                format!("systemctl --user restart {UNIT}")
            ]
        );
        assert_eq!(
            cmds(Action::Start),
            [format!("systemctl --user start {UNIT}")]
        );
        assert_eq!(
            cmds(Action::Stop),
            [format!("systemctl --user stop {UNIT}")]
        );
        assert_eq!(
            cmds(Action::Restart),
            [format!("systemctl --user restart {UNIT}")]
        );
        assert_eq!(
            cmds(Action::Deactivate),
            [format!("systemctl --user disable --now {UNIT}")]
        );
    }

    #[test]
    fn run_executes_exactly_the_commands() {
        for action in [
            Action::Activate,
            Action::Start,
            Action::Stop,
            Action::Restart,
            Action::Deactivate,
        ] {
            let r = ScriptedRunner::new();
            let m = manager(&r);
            for inv in m.commands(action, ServiceId::Ollama) {
                let argv: Vec<&str> = inv.0.iter().map(String::as_str).collect();
                r.expect(&argv, 0, "", "Created symlink …\n");
            }
            m.run(action, ServiceId::Ollama, LONG).unwrap();
            r.assert_done();
        }
    }

    #[test]
    fn reload_runs_daemon_reload() {
        let r = ScriptedRunner::new();
        r.expect(&["systemctl", "--user", "daemon-reload"], 0, "", "");
        manager(&r).reload().unwrap();
        r.assert_done();
    }

    #[test]
    fn activate_stops_at_the_first_failure() {
        let r = ScriptedRunner::new();
        r.expect(
            &["systemctl", "--user", "enable", UNIT],
            1,
            "",
            "Failed to enable unit: Unit file gardener-ollama.service does not exist.\n",
        );
        let err = manager(&r)
            .run(Action::Activate, ServiceId::Ollama, LONG)
            .unwrap_err();
        r.assert_done();
        let Error::Command {
            command,
            code,
            message,
        } = err
        else {
            panic!("{err}");
        };
        assert_eq!(command, format!("systemctl --user enable {UNIT}"));
        assert_eq!(code, 1);
        assert!(message.contains("does not exist"), "{message}");
    }

    #[test]
    fn deactivate_of_an_unknown_unit_is_fine() {
        let r = ScriptedRunner::new();
        r.expect(
            &["systemctl", "--user", "disable", "--now", UNIT],
            1,
            "",
            "Failed to disable unit: Unit file gardener-ollama.service does not exist.\n",
        );
        manager(&r)
            .run(Action::Deactivate, ServiceId::Ollama, LONG)
            .unwrap();
        r.assert_done();
    }

    #[test]
    fn stop_of_an_unloaded_unit_is_fine() {
        let r = ScriptedRunner::new();
        r.expect(
            &["systemctl", "--user", "stop", UNIT],
            5,
            "",
            "Failed to stop gardener-ollama.service: Unit gardener-ollama.service not loaded.\n",
        );
        manager(&r)
            .run(Action::Stop, ServiceId::Ollama, LONG)
            .unwrap();
        // The stop did run (and nothing else did): "not loaded" is what made it fine.
        r.assert_done();
        let ran: Vec<String> = r.calls().iter().map(ToString::to_string).collect();
        assert_eq!(ran, [format!("systemctl --user stop {UNIT}")]);
    }

    #[test]
    fn start_of_an_unknown_unit_is_an_error() {
        let r = ScriptedRunner::new();
        r.expect(
            &["systemctl", "--user", "start", UNIT],
            5,
            "",
            "Failed to start gardener-ollama.service: Unit gardener-ollama.service not found.\n",
        );
        let err = manager(&r)
            .run(Action::Start, ServiceId::Ollama, LONG)
            .unwrap_err();
        assert!(
            matches!(&err, Error::Command { code: 5, message, .. } if message.contains("not found")),
            "{err}"
        );
    }

    #[test]
    fn missing_user_manager_gets_a_hint() {
        let r = ScriptedRunner::new();
        r.expect(
            &["systemctl", "--user", "daemon-reload"],
            1,
            "",
            "Failed to connect to bus: No medium found\n",
        );
        let err = manager(&r).reload().unwrap_err().to_string();
        assert!(
            err.contains("No medium found") && err.contains("enable-linger"),
            "{err}"
        );
    }

    #[test]
    fn missing_systemctl_is_a_spawn_error() {
        let r = ScriptedRunner::new();
        r.expect_spawn_error(
            &["systemctl", "--user", "restart", UNIT],
            std::io::ErrorKind::NotFound,
        );
        let err = manager(&r)
            .run(Action::Restart, ServiceId::Ollama, LONG)
            .unwrap_err();
        assert!(
            matches!(&err, Error::Spawn { program, .. } if program == "systemctl"),
            "{err}"
        );
    }

    #[test]
    fn status_asks_for_the_properties_it_parses() {
        let show = ["systemctl", "--user", "show", "-p", PROPERTIES, UNIT];
        let r = ScriptedRunner::new();
        r.expect(
            &show,
            0,
            include_str!("systemd/testdata/auto_restart_signal.txt"),
            "",
        );
        let s = manager(&r).status(ServiceId::Ollama).unwrap();
        assert_eq!(s.id, ServiceId::Ollama);
        assert_eq!(s.state, ServiceState::Starting);
        assert_eq!(s.last_exit, Some(LastExit::Signal { signal: 9 }));

        r.expect(&show, 0, include_str!("systemd/testdata/unknown.txt"), "");
        assert_eq!(
            manager(&r).status(ServiceId::Ollama).unwrap(),
            ServiceStatus::not_installed(ServiceId::Ollama)
        );

        r.expect(&show, 1, "", "Failed to connect to bus: No medium found\n");
        assert!(matches!(
            manager(&r).status(ServiceId::Ollama),
            Err(Error::Unreachable { .. })
        ));
        let later = "Failed to connect to user scope bus via local transport: \
                     $DBUS_SESSION_BUS_ADDRESS and $XDG_RUNTIME_DIR not defined\n";
        r.expect(&show, 1, "", later);
        assert!(matches!(
            manager(&r).status(ServiceId::Ollama),
            Err(Error::Unreachable { .. })
        ));
        r.expect(&show, 1, "", "Access denied\n");
        assert!(matches!(
            manager(&r).status(ServiceId::Ollama),
            Err(Error::Command { code: 1, .. })
        ));

        r.expect(&show, 0, "nonsense\n", "");
        assert!(matches!(
            manager(&r).status(ServiceId::Ollama),
            Err(Error::Parse { .. })
        ));
        r.assert_done();
    }
}
