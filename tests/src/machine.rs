//! A temporary machine for end-to-end tests: a private systemd user manager, a
//! `gardener.toml` pointing at the stand-ins, and helpers to run the CLI against them.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use crate::{SystemdUser, free_port, http, output_text, stand_ins, wait_until};

/// Generous next to `RestartSec=2`: a slow CI box still restarts well within it.
pub const SETTLE: Duration = Duration::from_secs(30);

/// A temporary home with a systemd user manager and a `gardener.toml` for the stand-ins.
pub struct Machine {
    /// The private user manager.
    pub systemd: SystemdUser,
    /// The `gardener.toml` the CLI is given.
    pub config: PathBuf,
    /// Where the stand-in Ollama listens.
    pub ollama_port: u16,
    /// Where the stand-in app listens.
    pub app_port: u16,
}

impl Machine {
    /// A home with a user manager and a config for the stand-ins; `stand_in_ollama` is the
    /// stand-in binary (`env!("CARGO_BIN_EXE_stand-in-ollama")` in a test).
    pub fn new(stand_in_ollama: &Path) -> Self {
        let systemd = SystemdUser::start();
        let ollama_port = free_port();
        let app_port = std::iter::repeat_with(free_port)
            .find(|&p| p != ollama_port)
            .unwrap();
        let app = stand_ins::install_app(&systemd.home().join("bin"));
        let config = systemd.config_home().join("gardener/gardener.toml");
        fs::create_dir_all(config.parent().unwrap()).unwrap();
        let toml = format!(
            r#"[ollama]
binary = {binary}
host = "127.0.0.1:{ollama_port}"
models_dir = {models}

[app]
command = [{app}, "serve", "--host", "127.0.0.1", "--port", "{app_port}"]
health_url = "http://127.0.0.1:{app_port}/"

[services]
restart_delay_secs = 2

[install]
min_free_disk = "1MiB"
health_timeout_secs = 30

# What these machines watch is the services; the host's own load, memory and disk (a busy or
# nearly full test machine) must not raise alerts in them.
[alerts.cpu]
enabled = false
[alerts.memory]
enabled = false
[alerts.swap]
enabled = false
[alerts.disk]
enabled = false
"#,
            binary = toml_str(stand_in_ollama),
            models = toml_str(systemd.home().join(".ollama/models")),
            app = toml_str(app),
        );
        fs::write(&config, toml).unwrap();
        Self {
            systemd,
            config,
            ollama_port,
            app_port,
        }
    }

    /// A machine with both stand-ins installed by `gardener install` and healthy, sampled by the
    /// monitor every `interval_secs` with probes timing out after `probe_timeout_secs`.
    pub fn installed(stand_in_ollama: &Path, interval_secs: u64, probe_timeout_secs: u64) -> Self {
        Self::installed_with(stand_in_ollama, interval_secs, probe_timeout_secs, "")
    }

    /// [`Machine::installed`] with `extra` (whole TOML tables) added to its config first.
    pub fn installed_with(
        stand_in_ollama: &Path,
        interval_secs: u64,
        probe_timeout_secs: u64,
        extra: &str,
    ) -> Self {
        let machine = Self::new(stand_in_ollama);
        let mut toml = fs::read_to_string(&machine.config).unwrap();
        toml.push_str(&format!(
            "\n[monitor]\ninterval_secs = {interval_secs}\nprobe_timeout_secs = {probe_timeout_secs}\n{extra}"
        ));
        fs::write(&machine.config, toml).unwrap();
        machine.gardener_ok(&["install", "--yes"]);
        machine.assert_healthy();
        machine
    }

    /// Runs `gardener --config FILE ARGS` with the manager's environment.
    ///
    /// Prints the transcript: libtest shows it only when the test fails (or `--nocapture`).
    pub fn gardener(&self, args: &[&str]) -> Output {
        let out = crate::gardener(Some(&self.systemd))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .output()
            .expect("run gardener");
        eprintln!("$ gardener {}\n{}", args.join(" "), output_text(&out));
        out
    }

    pub fn gardener_ok(&self, args: &[&str]) -> Output {
        let out = self.gardener(args);
        assert!(
            out.status.success(),
            "gardener {args:?} failed:\n{}",
            output_text(&out)
        );
        out
    }

    pub fn gardener_json(&self, args: &[&str]) -> Value {
        let out = self.gardener_ok(args);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|err| {
            panic!(
                "gardener {args:?} did not print JSON ({err}):\n{}",
                output_text(&out)
            )
        })
    }

    /// `gardener service status --json`, and the entry for service `id` in it.
    pub fn status_of(&self, id: &str) -> Value {
        let status = self.gardener_json(&["service", "status", "--json"]);
        assert_eq!(status["platform"], "linux", "{status:#}");
        let services = status["services"].as_array().expect("services array");
        services
            .iter()
            .find(|s| s["id"] == id)
            .cloned()
            .unwrap_or_else(|| {
                panic!("no service {id:?} in status:\n{status:#}");
            })
    }

    pub fn unit_file(&self, unit: &str) -> PathBuf {
        self.systemd.unit_dir().join(unit)
    }

    pub fn ollama_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.ollama_port)
    }

    pub fn app_url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.app_port)
    }

    /// Ollama answers `/api/version` like 0.12.6 and the app answers its page, within `SETTLE`.
    pub fn assert_healthy(&self) {
        let version = self.ollama_url("/api/version");
        let ollama_ok = wait_until(SETTLE, || {
            http::get(&version).is_ok_and(|r| r.status == 200 && r.json()["version"] == "0.12.6")
        });
        assert!(
            ollama_ok,
            "Ollama stand-in not healthy at {version}: {:?}",
            http::get(&version)
        );
        let page = self.app_url();
        assert!(
            wait_until(SETTLE, || http::answers(&page, 200)),
            "app stand-in not healthy at {page}: {:?}",
            http::get(&page)
        );
    }

    /// `ActiveState=active` with a main process; returns that `MainPID`.
    pub fn assert_active(&self, unit: &str) -> u32 {
        let props = self
            .systemd
            .show(unit, &["ActiveState", "MainPID", "NRestarts"]);
        assert_eq!(props["ActiveState"], "active", "{unit}: {props:?}");
        let pid: u32 = props["MainPID"].parse().unwrap();
        assert_ne!(pid, 0, "{unit} is active without a main process: {props:?}");
        pid
    }
}

/// A TOML basic string; JSON's string escapes are valid TOML.
pub fn toml_str(value: impl AsRef<std::path::Path>) -> String {
    serde_json::to_string(&value.as_ref().to_string_lossy()).unwrap()
}

/// Sends SIGKILL to `pid`.
pub fn sigkill(pid: u32) {
    let pid = rustix::process::Pid::from_raw(i32::try_from(pid).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
}
