//! Checks rendered service files with the real tools that read them: CPython's
//! `plistlib` and libplist's `plistutil` for plists, `systemd-analyze verify`
//! for units. Missing tools fail the test, because CI must run these checks.

// Helpers outside #[test] functions are test code too.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{plistlib, plistutil_round_trip, run_tool, systemd_verify, user_home};
use gardener_core::services::launchd::Launchd;
use gardener_core::services::systemd::Systemd;
use gardener_core::services::{ProcessType, ServiceId, ServiceManager, ServiceSpec, SystemRunner};
use serde_json::{Value, json};

/// Arguments that each break a naive renderer somewhere.
const TRICKY_ARGS: &[&str] = &[
    "--title",
    "Ann's \"garden\"",
    "100% local",
    "$HOME",
    "${PATH}",
    r"back\slash",
    "",
    ";",
    "tab\there",
    "two\nlines",
    "{}",
    "<b>&amp;</b>",
];

/// A temp tree with real executables and directories, so that
/// `systemd-analyze verify` finds everything the units refer to.
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    specs: Vec<ServiceSpec>,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let support = root.join("Library/Application Support/Gardener 100%");
        let logs = root.join("Library/Logs/Gardener $USER");
        fs::create_dir_all(&logs).unwrap();
        let ollama = executable(&root.join("opt/homebrew/bin/ollama"));
        let python = executable(&support.join("venv $1/bin/python3"));
        let app_dir = support.join("app");
        fs::create_dir_all(&app_dir).unwrap();

        let mut ollama_env = BTreeMap::new();
        ollama_env.insert("OLLAMA_HOST".to_owned(), "127.0.0.1:11434".to_owned());
        ollama_env.insert(
            "OLLAMA_MODELS".to_owned(),
            support.join("models").display().to_string(),
        );
        ollama_env.insert("OLLAMA_KEEP_ALIVE".to_owned(), "5m".to_owned());
        let mut app_env = BTreeMap::new();
        app_env.insert(
            "GARDENER_BANNER".to_owned(),
            r#"say "hi" \o/ 100% $HOME"#.to_owned(),
        );
        app_env.insert(
            "GARDENER_NOTE".to_owned(),
            "two\nlines\tand a tab".to_owned(),
        );
        app_env.insert("PYTHONUNBUFFERED".to_owned(), "1".to_owned());

        let specs = vec![
            ServiceSpec {
                id: ServiceId::Ollama,
                description: "Ollama model server -- 100% local".into(),
                program: ollama,
                args: vec!["serve".into()],
                env: ollama_env,
                working_dir: root.clone(),
                stdout_log: logs.join("ollama.out.log"),
                stderr_log: logs.join("ollama.err.log"),
                restart_delay_secs: 5,
                memory_high: Some(4 << 30),
                memory_max: Some(5 << 30),
                process_type: ProcessType::Interactive,
            },
            ServiceSpec {
                id: ServiceId::App,
                description: "Codebase Gardener app".into(),
                program: python,
                args: ["-m", "codebase_gardener"]
                    .iter()
                    .chain(TRICKY_ARGS)
                    .map(|s| (*s).to_owned())
                    .collect(),
                env: app_env,
                working_dir: app_dir,
                stdout_log: logs.join("app out.log"),
                stderr_log: logs.join("app err.log"),
                restart_delay_secs: 2,
                memory_high: None,
                memory_max: Some(3 << 30),
                process_type: ProcessType::Standard,
            },
        ];
        Self {
            _dir: dir,
            root,
            specs,
        }
    }

    /// Renders every spec with `manager` into `dir`, named as installed.
    fn write_all(&self, manager: &dyn ServiceManager, dir: &Path) -> Vec<(ServiceSpec, PathBuf)> {
        fs::create_dir_all(dir).unwrap();
        self.specs
            .iter()
            .map(|spec| {
                let name = manager.file_path(spec.id);
                let path = dir.join(name.file_name().unwrap());
                fs::write(&path, manager.render(spec).unwrap()).unwrap();
                (spec.clone(), path)
            })
            .collect()
    }
}

fn executable(path: &Path) -> PathBuf {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, "#!/bin/sh\nexec sleep 1000\n").unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    path.to_path_buf()
}

/// What the plist for `spec` must contain.
fn expected_plist(spec: &ServiceSpec) -> Value {
    let mut argv = vec![spec.program.display().to_string()];
    argv.extend(spec.args.iter().cloned());
    json!({
        "Label": spec.id.label(),
        "ProgramArguments": argv,
        "EnvironmentVariables": spec.env,
        "WorkingDirectory": spec.working_dir,
        "RunAtLoad": true,
        "KeepAlive": { "SuccessfulExit": false },
        "ThrottleInterval": spec.restart_delay_secs.max(2),
        "ProcessType": spec.process_type.as_str(),
        "StandardOutPath": spec.stdout_log,
        "StandardErrorPath": spec.stderr_log,
    })
}

#[test]
fn plists_read_back_with_cpython_plistlib() {
    let fx = Fixture::new();
    let launchd = Launchd::with_uid(fx.root.join("LaunchAgents"), Box::new(SystemRunner), 501);
    for (spec, path) in fx.write_all(&launchd, &fx.root.join("plists")) {
        assert!(path.ends_with(format!("{}.plist", spec.id.label())));
        let parsed = plistlib(&path);
        assert_eq!(parsed, expected_plist(&spec), "{}", path.display());
        assert!(parsed.get("ResidentSetSize").is_none());
    }
}

#[test]
fn plists_convert_with_libplist_plistutil() {
    let fx = Fixture::new();
    let launchd = Launchd::with_uid(fx.root.join("LaunchAgents"), Box::new(SystemRunner), 501);
    for (spec, path) in fx.write_all(&launchd, &fx.root.join("plists")) {
        // XML -> binary -> XML through libplist, then compare what CPython
        // reads from libplist's XML with what the spec says.
        let xml = plistutil_round_trip(&path);
        assert_eq!(plistlib(&xml), expected_plist(&spec), "{}", xml.display());
    }
}

#[test]
fn units_pass_systemd_analyze_verify() {
    let fx = Fixture::new();
    let (home, runtime) = user_home(&fx.root);
    let unit_dir = home.join(".config/systemd/user");
    let systemd = Systemd::new(unit_dir.clone(), Box::new(SystemRunner));
    for (spec, path) in fx.write_all(&systemd, &unit_dir) {
        assert!(path.ends_with(spec.id.unit_name()));
        let (status, text) = systemd_verify(&path, &home, &runtime, &fx.root);
        assert!(
            status.success() && text.is_empty(),
            "systemd-analyze verify {} ({status}):\n{text}\n--- unit ---\n{}",
            path.display(),
            fs::read_to_string(&path).unwrap()
        );
    }
}

#[test]
fn verify_does_catch_a_broken_unit() {
    // Guards the test above against passing because verify checks nothing.
    let fx = Fixture::new();
    let home = fx.root.join("home");
    let runtime = fx.root.join("runtime");
    fs::create_dir_all(&runtime).unwrap();
    fs::set_permissions(&runtime, fs::Permissions::from_mode(0o700)).unwrap();
    let mut spec = fx.specs[0].clone();
    spec.program = fx.root.join("no/such/ollama");
    let unit = fx.root.join("gardener-ollama.service");
    let systemd = Systemd::new(fx.root.clone(), Box::new(SystemRunner));
    fs::write(&unit, systemd.render(&spec).unwrap()).unwrap();
    let out = run_tool(
        Command::new("systemd-analyze")
            .args(["--user", "verify"])
            .arg(&unit)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &home)
            .env("XDG_RUNTIME_DIR", &runtime),
        "systemd",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is not executable"), "{stderr}");
}
