//! End to end on Linux: the real dashboard window (`gardener-app --window dashboard`, sampling
//! on its own as when started without the menu-bar app) driven through WebDriver
//! (`tauri-driver` + WebKitWebDriver) on a headless desktop, against the stand-ins running as
//! real systemd user services. It must show the machine's real figures, make a verified backup
//! with Back Up Now, and restore it; pull a model and restart Ollama with a new setting.
//!
//! Needs root (for the private namespaces), Xvfb, dbus, dunst, WebKitWebDriver and
//! tauri-driver; without them the test prints a skip notice (in CI it fails instead).
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gardener_e2e::desktop::{self, Desktop};
use gardener_e2e::machine::Machine;
use gardener_e2e::webdriver::{self, Driver};
use gardener_e2e::{app_bin, namespace};

/// A slow CI machine: starting the webview, a backup with the app paused, a restore with both
/// services restarted and health-checked.
const LONG: Duration = Duration::from_secs(120);
const SHORT: Duration = Duration::from_secs(30);

fn can_run(test: &str) -> bool {
    let missing = [desktop::missing(), webdriver::missing()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
    if !missing.is_empty() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test} needs {}: .ci/run installs them",
            missing.join(", ")
        );
        println!("skipped: {test} needs {}", missing.join(", "));
        return false;
    }
    namespace::enter(test)
}

/// Where screenshots of each view go: `GARDENER_SCREENSHOTS`, or `target/screenshots`.
fn screenshots() -> PathBuf {
    std::env::var_os("GARDENER_SCREENSHOTS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots"),
        PathBuf::from,
    )
}

/// Saves what the window shows as `dashboard-NAME.png`, checking it is a real PNG.
fn shoot(page: &webdriver::Session, name: &str) {
    let png = page.screenshot();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let dir = screenshots();
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(format!("dashboard-{name}.png")), png).unwrap();
}

/// The dashboard window (`gardener-app --window dashboard`, sampling on its own) on a desktop
/// of its own, driven through WebDriver; closed in that order when dropped.
struct Dashboard {
    page: webdriver::Session,
    _driver: Driver,
    _desktop: Desktop,
}

impl Dashboard {
    fn open(machine: &Machine) -> Self {
        let desktop = Desktop::start();
        let mut cmd = machine.systemd.command(webdriver::tauri_driver().unwrap());
        cmd.envs(desktop.env()).env("RUST_LOG", "info");
        let driver = Driver::start(cmd);
        Self {
            page: driver.session(&app_bin(), &["--window", "dashboard"]),
            _driver: driver,
            _desktop: desktop,
        }
    }
}

fn app_data(m: &Machine) -> PathBuf {
    m.systemd.home().join(".codebase-gardener")
}

fn write_notes(root: &Path, text: &str) {
    fs::create_dir_all(root.join("projects/demo")).unwrap();
    fs::write(root.join("projects/demo/notes.md"), text).unwrap();
}

#[test]
fn the_dashboard_shows_real_figures_backs_up_and_restores() {
    if !can_run("the_dashboard_shows_real_figures_backs_up_and_restores") {
        return;
    }
    let machine = Machine::new(Path::new(env!("CARGO_BIN_EXE_stand-in-ollama")));
    let mut toml = fs::read_to_string(&machine.config).unwrap();
    toml.push_str("\n[monitor]\ninterval_secs = 1\n");
    fs::write(&machine.config, toml).unwrap();
    let data = app_data(&machine);
    write_notes(&data, "notes as backed up\n");
    machine.gardener_ok(&["install", "--yes"]);
    machine.assert_healthy();

    let dashboard = Dashboard::open(&machine);
    let page = &dashboard.page;

    // The overview: figures from this machine.
    let cpu = page.wait_text("[data-gauge=cpu] .value", LONG, |t| {
        t.strip_suffix('%')
            .is_some_and(|n| n.parse::<u32>().is_ok())
    });
    println!("cpu gauge: {cpu}");
    let home = machine.systemd.home().display().to_string();
    page.wait_text("[data-gauge=disk] .detail", SHORT, |t| t.contains(&home));
    if std::env::var_os("GARDENER_SCREENSHOTS").is_some() {
        // For the README: let the sparklines draw half a minute of samples.
        std::thread::sleep(Duration::from_secs(30));
    }
    shoot(page, "overview");

    // The services: the real process ids and the stand-in's loaded model.
    page.click("#tab-services");
    let ollama_pid = machine.assert_active("gardener-ollama.service");
    let app_pid = machine.assert_active("gardener-app.service");
    page.wait_text("[data-service=ollama] dd", SHORT, |t| {
        t == ollama_pid.to_string()
    });
    page.wait_text("[data-service=app] dd", SHORT, |t| t == app_pid.to_string());
    shoot(page, "services");

    // The models: the stand-in's loaded model, now on a tab of its own.
    page.click("#tab-models");
    page.wait_text(".models-loaded table.models td", SHORT, |t| {
        t == "llama3.2:3b"
    });

    // Back Up Now: a backup that `gardener backup list` shows, checked.
    page.click("#tab-backups");
    page.wait_text(".backup-list", SHORT, |t| t.contains("No backups yet"));
    page.click_button("Back Up Now");
    let done = page.wait_text(".status-line", LONG, |t| t.starts_with("Backup"));
    assert!(done.starts_with("Backup done"), "{done}");
    assert!(done.contains("checked"), "{done}");
    let list = machine.gardener_json(&["backup", "list", "--json"]);
    let backups = list["backups"].as_array().unwrap();
    assert_eq!(backups.len(), 1, "{list:#}");
    assert_eq!(backups[0]["verified"]["ok"], true, "{list:#}");
    let id = backups[0]["id"].as_str().unwrap().to_owned();
    page.wait_text(&format!("[data-backup={id}]"), SHORT, |t| {
        t.contains("✓ checked")
    });
    shoot(page, "backups");

    // A restore round trip: newer notes, then the backup's come back, the services healthy.
    write_notes(&data, "notes written later\n");
    page.click(&format!("[aria-label='Restore {id}']"));
    let diff = page.wait_text(".diff-view", LONG, |t| t.contains("would be changed"));
    assert!(diff.contains("notes.md"), "{diff}");
    shoot(page, "restore");
    page.click_button("Restore this backup");
    // Ends with the outcome, or with an error box that says what went wrong.
    let outcome = page.wait_text(".backup-work", LONG, |t| {
        t.contains("healthy") || t.contains("Error code")
    });
    assert!(
        outcome.contains("Ollama and Codebase Gardener restarted and healthy."),
        "{outcome}"
    );
    shoot(page, "restored");
    assert_eq!(
        fs::read_to_string(data.join("projects/demo/notes.md")).unwrap(),
        "notes as backed up\n"
    );
    machine.assert_healthy();
    assert_ne!(
        machine.assert_active("gardener-app.service"),
        app_pid,
        "the app was restarted on the restored data"
    );

    // Copies off the machine: a target added in the Targets section (a "drive": a tmpfs, so
    // another volume than the data), Copy now, and the recovery key shown when asked.
    let drive = machine.systemd.home().join("drive");
    fs::create_dir_all(&drive).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64m", "test-drive"])
        .arg(&drive)
        .status()
        .unwrap();
    assert!(mounted.success());
    let path = drive.join("gardener").display().to_string();
    page.execute(
        "const form = document.querySelector('form.add-target');\n\
         form.querySelector('[name=name]').value = 'drive';\n\
         form.querySelector('[name=path]').value = arguments[0];\n\
         form.requestSubmit();",
        &[serde_json::Value::String(path)],
    );
    page.wait_text(".status-line", SHORT, |t| t.contains("Added drive"));
    page.wait_text("[data-target=drive]", LONG, |t| {
        t.contains(" reachable") && !t.contains("not reachable")
    });
    let config = fs::read_to_string(&machine.config).unwrap();
    assert!(config.contains("[[backup.targets]]"), "{config}");
    page.click(&format!("[aria-label='Copy {id}']"));
    let copied = page.wait_text(".status-line", LONG, |t| {
        t.contains("opied to") || t.contains("copy to")
    });
    assert_eq!(copied, "Copied to drive.");
    assert!(drive.join(format!("gardener/{id}.tar.zst.age")).is_file());
    page.wait_text(&format!("[data-backup={id}] .copies"), SHORT, |t| {
        t == "drive ✓"
    });
    shoot(page, "targets");
    page.click_button("Show the recovery key");
    let key = page.wait_text(".key-file", SHORT, |t| t.contains("AGE-SECRET-KEY-"));
    let saved = machine
        .systemd
        .config_home()
        .join("gardener/backup-key.txt");
    assert_eq!(key.trim(), fs::read_to_string(saved).unwrap().trim());

    page.click("#tab-alerts");
    page.wait_text("[data-rule=cpu]", SHORT, |t| t.contains("over 80%"));
    shoot(page, "alerts");
    page.click("#tab-settings");
    page.wait_text(".setting", SHORT, |t| t.contains("log in"));
    shoot(page, "settings");
}

/// The text of the whole page.
fn page_text(page: &webdriver::Session) -> String {
    page.text("body").unwrap_or_default()
}

#[test]
fn the_models_tab_pulls_a_model_and_restarts_ollama_with_a_new_setting() {
    if !can_run("the_models_tab_pulls_a_model_and_restarts_ollama_with_a_new_setting") {
        return;
    }
    let machine = Machine::new(Path::new(env!("CARGO_BIN_EXE_stand-in-ollama")));
    machine.gardener_ok(&["install", "--yes"]);
    machine.assert_healthy();
    let dashboard = Dashboard::open(&machine);
    let page = &dashboard.page;

    // The installed models with their fit; then a pull, after which the new model is listed.
    page.click("#tab-models");
    page.wait_text("[data-model='llama3.2:3b']", LONG, |t| {
        t.contains("fits") || t.contains("tight") || t.contains("will not fit")
    });
    page.execute(
        "document.getElementById('model-pull-name').value = 'tinyllama:1.1b';",
        &[],
    );
    page.click_button("Pull");
    page.wait_text("body", LONG, |t| t.contains("Pulled tinyllama:1.1b ("));
    page.wait_text("[data-model='tinyllama:1.1b']", SHORT, |t| {
        t.contains("tinyllama:1.1b")
    });
    let listed = machine.gardener_json(&["models", "--json"]);
    let names: Vec<&str> = listed["installed"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert!(names.contains(&"tinyllama:1.1b"), "{listed:#}");
    assert!(
        page.find_all("progress").is_empty(),
        "a progress bar outlived the pull: {}",
        page_text(page)
    );

    // A setting saved, shown as the service file's change, then applied: Ollama restarts
    // and its new process has the value in its environment.
    let before = machine.assert_active("gardener-ollama.service");
    page.execute(
        "const f = document.getElementById('ollama-OLLAMA_NUM_PARALLEL');\n\
         f.value = '3';\n\
         f.dispatchEvent(new Event('input', { bubbles: true }));",
        &[],
    );
    page.click_button("Save");
    page.wait_text("pre.diff", SHORT, |t| t.contains("OLLAMA_NUM_PARALLEL"));
    page.click_button("Restart Ollama with these settings");
    let outcome = page.wait_text("body", LONG, |t| {
        t.contains("Ollama restarted (pid") || t.contains("Not applied")
    });
    assert!(outcome.contains("OLLAMA_NUM_PARALLEL=3"), "{outcome}");
    let pid = machine.assert_active("gardener-ollama.service");
    assert_ne!(pid, before, "Ollama was not restarted");
    let environ = fs::read(format!("/proc/{pid}/environ")).unwrap();
    assert!(
        environ
            .split(|b| *b == 0)
            .any(|v| v == b"OLLAMA_NUM_PARALLEL=3"),
        "the new process runs without the setting"
    );
    let config = fs::read_to_string(&machine.config).unwrap();
    assert!(config.contains("OLLAMA_NUM_PARALLEL = \"3\""), "{config}");
    page.execute("window.scrollTo(0, 0);", &[]);
    shoot(page, "models");
    // The end of the form: the service file's change and what Ollama now runs with.
    page.execute("window.scrollTo(0, document.body.scrollHeight);", &[]);
    shoot(page, "ollama-settings");
}
