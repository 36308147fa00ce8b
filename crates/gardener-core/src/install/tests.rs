//! Installer tests with a scripted service manager, real files in a temporary
//! home and a real HTTP server answering the health checks.

mod schedule;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use super::apply::apply_with;
use super::planner::{TimerInputs, plan_from, uninstall_plan_with};
use super::*;
use crate::backup::schedule::BackupTimer;
use crate::config::Config;
use crate::fsutil::mode_of;
use crate::paths::Paths;
use crate::services::{
    self, Action, Invocation, ServiceManager, ServiceSpec, ServiceState, ServiceStatus,
};

/// A service manager that keeps state in memory and can be told to fail.
struct Fake {
    dir: PathBuf,
    states: Mutex<BTreeMap<ServiceId, ServiceState>>,
    fail: Mutex<Option<(Action, ServiceId)>>,
    log: Mutex<Vec<String>>,
}

impl Fake {
    fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            states: Mutex::default(),
            fail: Mutex::default(),
            log: Mutex::default(),
        }
    }
    fn state(&self, id: ServiceId) -> ServiceState {
        self.states
            .lock()
            .unwrap()
            .get(&id)
            .cloned()
            .unwrap_or(ServiceState::NotInstalled)
    }
    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl ServiceManager for Fake {
    fn platform(&self) -> Platform {
        Platform::current()
    }
    fn file_path(&self, id: ServiceId) -> PathBuf {
        self.dir.join(id.unit_name())
    }
    fn render(&self, spec: &ServiceSpec) -> services::Result<String> {
        Ok(format!(
            "exec {} {}\nenv {:?}\n",
            spec.program.display(),
            spec.args.join(" "),
            spec.env
        ))
    }
    fn reload_commands(&self) -> Vec<Invocation> {
        vec![Invocation::new(["fake", "reload"])]
    }
    /// Like systemd: after a reload, a unit whose file exists is known
    /// (stopped) even before it is started.
    fn reload(&self) -> services::Result<()> {
        self.log.lock().unwrap().push("reload".into());
        let mut states = self.states.lock().unwrap();
        for id in ServiceId::ALL {
            let exists = self.file_path(id).exists();
            match states.get(&id) {
                None | Some(ServiceState::NotInstalled) if exists => {
                    states.insert(id, ServiceState::Stopped);
                }
                Some(ServiceState::Stopped) if !exists => {
                    states.insert(id, ServiceState::NotInstalled);
                }
                _ => {}
            }
        }
        Ok(())
    }
    fn commands(&self, action: Action, id: ServiceId) -> Vec<Invocation> {
        vec![Invocation::new([
            "fake".to_owned(),
            format!("{action:?}"),
            id.to_string(),
        ])]
    }
    fn run(&self, action: Action, id: ServiceId, _timeout: Duration) -> services::Result<()> {
        self.log.lock().unwrap().push(format!("{action:?} {id}"));
        if *self.fail.lock().unwrap() == Some((action, id)) {
            return Err(services::Error::Command {
                command: format!("fake {action:?} {id}"),
                code: 1,
                message: "scripted failure".into(),
            });
        }
        let state = match action {
            Action::Activate | Action::Start | Action::Restart => ServiceState::Running,
            Action::Stop => ServiceState::Stopped,
            Action::Deactivate => ServiceState::NotInstalled,
        };
        self.states.lock().unwrap().insert(id, state);
        Ok(())
    }
    fn status(&self, id: ServiceId) -> services::Result<ServiceStatus> {
        Ok(ServiceStatus {
            state: self.state(id),
            ..ServiceStatus::not_installed(id)
        })
    }
}

/// Answers every request with 200 and an Ollama version body.
fn health_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\nConnection: close\r\n\r\n{\"version\":\"0.12.6\"}",
            );
        }
    });
    port
}

fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Where the tests pretend the `gardener` CLI is.
const GARDENER: &str = "/opt/gardener/bin/gardener";

struct Setup {
    home: tempfile::TempDir,
    ctx: Context,
    fake: Fake,
    /// The backup timer's driver, running its commands in `timer_fake`.
    timer: BackupTimer,
    timer_fake: schedule::FakeTimer,
    gardener: PathBuf,
}

impl Setup {
    fn apply(&self, plan: &Plan) -> Result<ApplyReport> {
        apply_with(&self.ctx, plan, &self.fake, &self.timer, &mut |_| {})
    }

    fn uninstall(&self, purge: bool) -> Plan {
        uninstall_plan_with(&self.ctx, &self.fake, &self.timer, purge).unwrap()
    }
}

fn setup_with(edit: impl FnOnce(&mut Config)) -> Setup {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let paths = match Platform::current() {
        Platform::Macos => Paths::macos(h.to_path_buf()),
        Platform::Linux => Paths::linux(
            h.to_path_buf(),
            &h.join(".config"),
            &h.join(".local/share"),
            &h.join(".local/state"),
        ),
    };
    let port = health_server();
    let mut config = Config::default();
    config.ollama.host = format!("127.0.0.1:{port}");
    config.app.health_url = format!("http://127.0.0.1:{port}/");
    config.install.health_timeout_secs = 2;
    edit(&mut config);
    let fake = Fake::new(&paths.service_dir);
    let timer_fake = schedule::FakeTimer::new(&paths.service_dir);
    let config_file = paths.config_file.clone();
    Setup {
        ctx: Context::new(paths, config_file, false, config),
        fake,
        timer: timer_fake.driver(),
        timer_fake,
        gardener: PathBuf::from(GARDENER),
        home,
    }
}

fn setup() -> Setup {
    setup_with(|_| {})
}

fn preflight_ok(s: &Setup) -> Preflight {
    Preflight {
        checks: vec![Check {
            id: "x".into(),
            title: "x".into(),
            outcome: Outcome::Ok,
            detail: String::new(),
            fix: None,
        }],
        ollama_binary: s.home.path().join("bin/ollama"),
        app_program: s.home.path().join("bin/codebase-gardener"),
        external_ollama: None,
    }
}

fn plan_with(s: &Setup, opts: &PreflightOptions, pf: Preflight) -> Plan {
    let timer = TimerInputs {
        timer: &s.timer,
        gardener: &s.gardener,
    };
    plan_from(&s.ctx, &s.fake, opts, pf, &timer).unwrap()
}

fn plan(s: &Setup) -> Plan {
    plan_with(s, &PreflightOptions::default(), preflight_ok(s))
}

fn apply_plan(s: &Setup) -> Result<ApplyReport> {
    s.apply(&plan(s))
}

/// Every path under the home, for before/after comparisons.
fn tree(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p.strip_prefix(root).unwrap().to_path_buf());
        }
    }
    out.sort();
    out
}

#[test]
fn first_plan_creates_everything_in_order() {
    let s = setup();
    let p = plan(&s);
    let kinds: Vec<String> = p
        .steps
        .iter()
        .map(|st| {
            serde_json::to_value(st).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(kinds.iter().filter(|k| *k == "dir").count(), 5, "{kinds:?}");
    assert_eq!(
        kinds.iter().filter(|k| *k == "file").count(),
        3 + s.timer.files().len(),
        "config, two service files and the backup timer's: {kinds:?}"
    );
    let first_command = kinds.iter().position(|k| k == "command").unwrap();
    assert!(kinds[..first_command].iter().all(|k| k != "wait-healthy"));
    let actions: Vec<String> = p
        .steps
        .iter()
        .filter_map(|st| match st {
            Step::Command { argv, .. } => Some(argv.join(" ")),
            _ => None,
        })
        .collect();
    let mut want = vec!["fake reload", "fake Activate ollama", "fake Activate app"]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    // The default config schedules a daily backup.
    want.extend(
        s.timer
            .commands(Action::Activate)
            .iter()
            .map(|i| i.0.join(" ")),
    );
    assert_eq!(actions, want);
    assert!(!p.is_noop());
    let json = serde_json::to_value(&p).unwrap();
    let file = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|st| st["kind"] == "file")
        .unwrap();
    assert!(file["path"].is_string() && file["mode"] == "0600" && file["content"].is_string());
}

#[test]
fn apply_installs_with_modes_and_second_apply_changes_nothing() {
    let s = setup();
    let report = apply_plan(&s).unwrap();
    assert!(report.changed);
    assert!(report.health.values().all(|h| h.healthy));
    assert_eq!(s.fake.state(ServiceId::Ollama), ServiceState::Running);
    assert_eq!(s.fake.state(ServiceId::App), ServiceState::Running);
    for dir in [&s.ctx.data_dir, &s.ctx.logs_dir, &s.ctx.backups_dir] {
        assert_eq!(mode_of(dir).unwrap(), Some(0o700), "{}", dir.display());
    }
    assert_eq!(mode_of(&s.ctx.config_file).unwrap(), Some(0o600));
    assert_eq!(
        mode_of(&s.fake.file_path(ServiceId::App)).unwrap(),
        Some(0o644)
    );

    let mut s = s;
    s.ctx.config_exists = true;
    let again = plan(&s);
    assert!(again.is_noop(), "{again:#?}");
    let log_before = s.fake.log().len();
    let report = s.apply(&again).unwrap();
    assert!(!report.changed);
    assert_eq!(
        s.fake.log().len(),
        log_before,
        "no manager command on a no-op apply"
    );
}

#[test]
fn hand_edited_service_file_is_drift_and_install_repairs_it() {
    let mut s = setup();
    apply_plan(&s).unwrap();
    s.ctx.config_exists = true;
    let unit = s.fake.file_path(ServiceId::Ollama);
    let original = std::fs::read_to_string(&unit).unwrap();
    std::fs::write(&unit, format!("{original}# edited\n")).unwrap();

    let reports =
        service_reports(&s.ctx, &s.fake, &[ServiceId::Ollama, ServiceId::App], false).unwrap();
    // The fake renders with the programs `programs()` resolves, which differ
    // from the test's synthetic ones, so compare drift of the edit directly.
    assert_eq!(reports[0].drift, Drift::Modified);

    let p = plan(&s);
    let change = p.steps.iter().find_map(|st| match st {
        Step::File { path, change, .. } if *path == unit => Some(*change),
        _ => None,
    });
    assert_eq!(change, Some(Change::Update));
    s.apply(&p).unwrap();
    assert_eq!(std::fs::read_to_string(&unit).unwrap(), original);
    assert!(s.fake.log().contains(&"Activate ollama".to_owned()));
}

#[test]
fn failed_activation_undoes_everything() {
    let s = setup();
    let before = tree(s.home.path());
    *s.fake.fail.lock().unwrap() = Some((Action::Activate, ServiceId::App));
    let err = apply_plan(&s).unwrap_err();
    let Error::RolledBack {
        error,
        problems,
        undone,
    } = &err
    else {
        panic!("{err}")
    };
    assert!(matches!(**error, Error::Service(_)), "{error}");
    assert!(problems.is_empty(), "{problems:?}");
    assert!(!undone.is_empty());
    assert_eq!(tree(s.home.path()), before, "nothing left half-installed");
    assert_eq!(s.fake.state(ServiceId::Ollama), ServiceState::NotInstalled);
    assert!(err.to_string().contains("was undone"), "{err}");
}

#[test]
fn unhealthy_service_is_rolled_back_with_its_log() {
    let s = setup_with(|c| {
        c.app.health_url = format!("http://127.0.0.1:{}/", closed_port());
        c.install.health_timeout_secs = 1;
    });
    // The service wrote something before dying: it must be shown, and kept.
    std::fs::create_dir_all(&s.ctx.logs_dir).unwrap();
    std::fs::write(
        s.ctx.log_files(ServiceId::App).1,
        "Traceback: ModuleNotFoundError: lancedb\n",
    )
    .unwrap();
    let err = apply_plan(&s).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("did not become healthy") && msg.contains("ModuleNotFoundError"),
        "{msg}"
    );
    assert!(!s.fake.file_path(ServiceId::App).exists());
    assert!(!s.ctx.config_file.exists());
    assert_eq!(s.fake.state(ServiceId::App), ServiceState::NotInstalled);
}

#[test]
fn failed_repair_restores_the_previous_file_and_restarts_it() {
    let mut s = setup();
    apply_plan(&s).unwrap();
    s.ctx.config_exists = true;
    let unit = s.fake.file_path(ServiceId::App);
    std::fs::write(&unit, "old by hand\n").unwrap();
    *s.fake.fail.lock().unwrap() = Some((Action::Activate, ServiceId::App));
    let err = apply_plan(&s).unwrap_err();
    assert!(matches!(err, Error::RolledBack { .. }), "{err}");
    assert_eq!(std::fs::read_to_string(&unit).unwrap(), "old by hand\n");
    let log = s.fake.log();
    assert_eq!(
        log.last().map(String::as_str),
        Some("Activate app"),
        "{log:?}"
    );
}

#[test]
fn blocked_plan_changes_nothing() {
    let s = setup();
    let before = tree(s.home.path());
    let mut pf = preflight_ok(&s);
    pf.checks.push(Check {
        id: "ollama-port".into(),
        title: "Ollama port".into(),
        outcome: Outcome::Fail,
        detail: "in use".into(),
        fix: Some("stop it".into()),
    });
    let p = plan_with(&s, &PreflightOptions::default(), pf);
    let err = s.apply(&p).unwrap_err();
    assert!(matches!(err, Error::Blocked { .. }));
    assert!(err.to_string().contains("fix: stop it"));
    assert_eq!(tree(s.home.path()), before);
    assert!(s.fake.log().is_empty());
}

#[test]
fn external_ollama_is_not_installed_and_ours_is_removed() {
    let mut s = setup();
    apply_plan(&s).unwrap();
    s.ctx.config_exists = true;
    s.ctx.config.ollama.external = true;
    let p = plan(&s);
    assert!(!p.manage_ollama);
    assert!(p.steps.iter().any(
        |st| matches!(st, Step::Remove { path, .. } if *path == s.fake.file_path(ServiceId::Ollama))
    ));
    s.apply(&p).unwrap();
    assert!(!s.fake.file_path(ServiceId::Ollama).exists());
    assert_eq!(s.fake.state(ServiceId::Ollama), ServiceState::NotInstalled);
    assert_eq!(s.fake.state(ServiceId::App), ServiceState::Running);
}

#[test]
fn uninstall_keeps_data_and_purge_keeps_backups() {
    let mut s = setup();
    apply_plan(&s).unwrap();
    s.ctx.config_exists = true;
    std::fs::write(s.ctx.data_dir.join("state.json"), "{}").unwrap();
    std::fs::write(s.ctx.backups_dir.join("b.tar.zst"), "x").unwrap();
    let p = s.uninstall(false);
    s.apply(&p).unwrap();
    for id in ServiceId::ALL {
        assert!(!s.fake.file_path(id).exists());
        assert_eq!(s.fake.state(id), ServiceState::NotInstalled);
    }
    assert!(s.timer.files().iter().all(|f| !f.exists()));
    assert!(!s.timer_fake.active());
    assert!(s.ctx.data_dir.join("state.json").exists() && s.ctx.config_file.exists());

    let p = s.uninstall(true);
    s.apply(&p).unwrap();
    assert!(!s.ctx.data_dir.join("state.json").exists());
    assert!(!s.ctx.config_file.exists() && !s.ctx.logs_dir.exists());
    assert!(
        s.ctx.backups_dir.join("b.tar.zst").exists(),
        "backups are never purged"
    );
}

#[test]
fn spec_derives_ollama_env_and_app_base_url_from_host() {
    let s = setup_with(|c| c.ollama.host = "127.0.0.1:12345".into());
    let o = s.ctx.spec(ServiceId::Ollama, Path::new("/bin/ollama"));
    assert_eq!(o.env["OLLAMA_HOST"], "127.0.0.1:12345");
    assert_eq!(
        o.env["OLLAMA_MODELS"],
        s.home.path().join(".ollama/models").display().to_string()
    );
    assert_eq!(o.args, ["serve"]);
    let a = s.ctx.spec(ServiceId::App, Path::new("/bin/cg"));
    assert_eq!(
        a.env["CODEBASE_GARDENER_OLLAMA_BASE_URL"],
        "http://127.0.0.1:12345"
    );
    assert_eq!(
        a.env["CODEBASE_GARDENER_DATA_DIR"],
        s.home
            .path()
            .join(".codebase-gardener")
            .display()
            .to_string()
    );
    assert_eq!(a.args, ["serve", "--host", "127.0.0.1", "--port", "7860"]);
    assert_eq!(a.memory_max, Some(3 << 30));
}

#[test]
fn controlling_an_external_ollama_by_name_is_refused() {
    let s = setup_with(|c| c.ollama.external = true);
    apply_plan(&s).unwrap();
    let err = control(&s.ctx, &s.fake, Action::Restart, &[ServiceId::Ollama]).unwrap_err();
    assert!(
        matches!(err, Error::NotManaged { .. }) && err.is_usage(),
        "{err}"
    );
    let both = control(&s.ctx, &s.fake, Action::Restart, &ServiceId::ALL).unwrap();
    assert_eq!(
        both.iter().map(|r| r.id).collect::<Vec<_>>(),
        [ServiceId::App]
    );
}

#[test]
fn plan_reports_an_ollama_it_did_not_install_and_can_use_it() {
    let s = setup();
    let mut pf = preflight_ok(&s);
    pf.external_ollama = Some("0.12.6".into());
    let p = plan_with(&s, &PreflightOptions::default(), pf.clone());
    assert_eq!(p.external_ollama.as_deref(), Some("0.12.6"));
    assert!(p.manage_ollama, "not used unless chosen");
    let chosen = PreflightOptions {
        use_running_ollama: true,
    };
    let p = plan_with(&s, &chosen, pf);
    assert!(!p.manage_ollama);
    assert!(!p.steps.iter().any(
        |st| matches!(st, Step::File { path, .. } if *path == s.fake.file_path(ServiceId::Ollama))
    ));
}

#[test]
fn only_differing_files_and_commands_count_as_changes() {
    let mut s = setup();
    apply_plan(&s).unwrap();
    s.ctx.config_exists = true;
    let unit = s.fake.file_path(ServiceId::App);
    std::fs::write(&unit, "edited\n").unwrap();
    let p = plan(&s);
    let changes: Vec<String> = p
        .steps
        .iter()
        .filter(|st| st.is_change())
        .map(apply::describe)
        .collect();
    assert_eq!(
        changes.len(),
        3,
        "the unit, the reload and the app's activation: {changes:#?}"
    );
}

#[test]
fn first_run_means_no_config_and_no_service_files() {
    let s = setup();
    assert!(s.ctx.is_first_run());
    apply_plan(&s).unwrap();
    assert!(!s.ctx.is_first_run(), "the services are installed");
    let mut with_config = setup();
    with_config.ctx.config_exists = true;
    assert!(!with_config.ctx.is_first_run(), "someone wrote a config");
}
