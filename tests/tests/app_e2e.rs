//! End to end on Linux: the real menu-bar app on a headless desktop (Xvfb, a session bus,
//! dunst), with the stand-ins running as real systemd user services. Its tray menu is read and
//! clicked over D-Bus exactly as a panel's tray host does; its notifications are read back from
//! dunst.
//!
//! Needs root (for the private namespaces) and Xvfb, dbus and dunst; without them each test
//! prints a skip notice.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::fs;
use std::path::Path;
use std::process::{Child, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use gardener_e2e::desktop::{self, Desktop, TrayMenu};
use gardener_e2e::machine::Machine;
use gardener_e2e::{app_bin, namespace, wait_until};

const INTERVAL_SECS: u64 = 1;
/// Long enough for a slow CI machine to start the app, sample and update the menu.
const SETTLE: Duration = Duration::from_secs(30);

/// Whether this test can run here; prints why not. In CI (which installs the desktop's
/// programs) a missing one is a failure, not a skip.
fn can_run(test: &str) -> bool {
    if let Some(missing) = desktop::missing() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test} needs {missing}: scripts/install-deps.sh installs them"
        );
        println!("skipped: {test} needs {missing}");
        return false;
    }
    namespace::enter(test)
}

fn machine() -> Machine {
    Machine::installed(
        Path::new(env!("CARGO_BIN_EXE_stand-in-ollama")),
        INTERVAL_SECS,
        1,
    )
}

/// The app on `desktop`, for `machine`'s user manager and config; killed on drop.
struct App {
    child: Child,
    log: std::path::PathBuf,
}

impl App {
    fn start(machine: &Machine, desktop: &Desktop) -> Self {
        Self::start_without(machine, desktop, &[])
    }

    /// The app with the variables in `unset` taken out of its environment.
    fn start_without(machine: &Machine, desktop: &Desktop, unset: &[&str]) -> Self {
        let log = machine.systemd.home().join("app.log");
        let mut command = machine.systemd.command(app_bin());
        for name in unset {
            command.env_remove(name);
        }
        let child = command
            .envs(desktop.env())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(fs::File::create(&log).unwrap())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .expect("start gardener-app");
        Self { child, log }
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!("--- gardener-app log ---\n{}", self.log());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the menu's top-level labels satisfy `ok`; fails with what it showed last.
fn wait_for_menu(tray: &TrayMenu, what: &str, ok: impl Fn(&[String]) -> bool) -> Vec<String> {
    let mut last = Vec::new();
    let seen = wait_until(SETTLE, || {
        last = tray.labels();
        ok(&last)
    });
    assert!(seen, "the tray menu never showed {what}; last: {last:#?}");
    last
}

/// The stand-ins installed and healthy, the app started on a fresh desktop, and its tray menu
/// once it shows both services healthy (with the labels it showed). Bound in this order, they
/// are dropped app first.
fn app_showing_healthy() -> (Machine, Desktop, App, TrayMenu, Vec<String>) {
    let machine = machine();
    let desktop = Desktop::start();
    let app = App::start(&machine, &desktop);
    let tray = desktop.tray(app.child.id(), SETTLE);
    let labels = wait_for_menu(&tray, "both services healthy", healthy);
    (machine, desktop, app, tray, labels)
}

fn healthy(labels: &[String]) -> bool {
    labels[0].starts_with("Ollama — healthy · v0.12.6 · 1 model") && labels[1] == "App — healthy"
}

fn icon_bytes(tray: &TrayMenu) -> Vec<u8> {
    fs::read(tray.icon()).expect("read the tray icon file")
}

#[test]
fn the_tray_shows_live_status_and_a_stopped_ollama_gives_one_down_and_one_recovered_notice() {
    if !can_run(
        "the_tray_shows_live_status_and_a_stopped_ollama_gives_one_down_and_one_recovered_notice",
    ) {
        return;
    }
    let (machine, desktop, app, tray, labels) = app_showing_healthy();
    let system = regex_like_system_line(&labels[2]);
    assert!(system, "machine line: {:?}", labels[2]);
    assert_eq!(labels[3], "Last backup — never");
    for action in [
        "Restart Ollama",
        "Restart App",
        "Unload Models",
        "Back Up Now",
    ] {
        let item = tray.find(action).unwrap();
        assert!(item.enabled, "{action} should be enabled: {item:?}");
    }
    let pause = tray.find("Pause Alerts").unwrap();
    let sub: Vec<&str> = pause.children.iter().map(|i| i.label.as_str()).collect();
    assert_eq!(
        sub,
        ["For 1 Hour", "Until Tomorrow Morning", "Resume Alerts"]
    );
    assert!(!pause.children[2].enabled, "nothing to resume yet");
    let ok_icon = icon_bytes(&tray);
    assert!(desktop.notifications().is_empty());

    machine
        .systemd
        .systemctl(&["stop", "gardener-ollama.service"]);
    wait_for_menu(&tray, "Ollama stopped", |l| l[0] == "Ollama — stopped");
    let critical_icon = icon_bytes(&tray);
    assert_ne!(
        critical_icon, ok_icon,
        "the icon shows that something is down"
    );
    assert!(!tray.find("Unload Models").unwrap().enabled);

    machine
        .systemd
        .systemctl(&["start", "gardener-ollama.service"]);
    let started = Instant::now();
    wait_for_menu(&tray, "Ollama healthy again", healthy);
    // Its manager is asked again as soon as it answers, not when the stopped state's
    // 15 s in the cache run out (until then it would be shown as someone else's Ollama).
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "Ollama was seen healthy again {:?} after it started\n{}",
        started.elapsed(),
        app.log()
    );
    assert!(
        wait_until(SETTLE, || icon_bytes(&tray) == ok_icon),
        "the icon is back to all-is-well"
    );
    // A few more samples: nothing else may be sent.
    thread::sleep(Duration::from_secs(4 * INTERVAL_SECS));
    let notes = desktop.notifications();
    let titles: Vec<&str> = notes.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        titles,
        ["Ollama is down", "Ollama recovered"],
        "{notes:#?}\n{}",
        app.log()
    );
    assert!(notes[0].1.starts_with("Ollama is down"), "{notes:?}");
}

#[test]
fn the_tray_cannot_tell_rather_than_red_when_the_user_manager_cannot_be_asked() {
    if !can_run("the_tray_cannot_tell_rather_than_red_when_the_user_manager_cannot_be_asked") {
        return;
    }
    let machine = machine();
    let desktop = Desktop::start();
    // A desktop whose session has no user manager to ask (as after `su`).
    let app = App::start_without(&machine, &desktop, &["XDG_RUNTIME_DIR"]);
    let tray = desktop.tray(app.child.id(), SETTLE);
    wait_for_menu(&tray, "both services answering, state unknown", |l| {
        l[0].starts_with("Ollama — answering · cannot tell if it runs · v0.12.6")
            && l[1] == "App — answering · cannot tell if it runs"
    });
    for action in ["Restart Ollama", "Restart App"] {
        let item = tray.find(action).unwrap();
        assert!(
            !item.enabled,
            "{action} cannot work without the manager: {item:?}"
        );
    }
    let icon = desktop::decode_png(&icon_bytes(&tray));
    let has = |rgb: [u8; 3]| icon.chunks(4).any(|p| p[3] == 255 && p[..3] == rgb);
    assert!(
        has([0x6b, 0x72, 0x80]),
        "no grey cannot-tell badge in the icon"
    );
    assert!(!has([0xd9, 0x30, 0x25]), "the icon is red");
    // Samples go by: nothing is down, so nothing is said.
    thread::sleep(Duration::from_secs(4 * INTERVAL_SECS));
    let notes = desktop.notifications();
    assert!(notes.is_empty(), "{notes:#?}\n{}", app.log());
}

/// `CPU 3% · Memory 41% · Disk 20%`.
fn regex_like_system_line(line: &str) -> bool {
    let parts: Vec<&str> = line.split(" · ").collect();
    let [cpu, mem, disk] = parts.as_slice() else {
        return false;
    };
    let pct = |s: &str, name: &str| {
        s.strip_prefix(name)
            .and_then(|r| r.strip_suffix('%'))
            .is_some_and(|n| n.parse::<u8>().is_ok_and(|n| n <= 100))
    };
    pct(cpu, "CPU ") && pct(mem, "Memory ") && pct(disk, "Disk ")
}

#[test]
fn menu_actions_restart_back_up_unload_and_pause() {
    if !can_run("menu_actions_restart_back_up_unload_and_pause") {
        return;
    }
    let (machine, desktop, app, tray, _) = app_showing_healthy();

    // Restart Ollama: a new process, and no "down" notice for a restart asked for.
    let before = machine.assert_active("gardener-ollama.service");
    tray.click("Restart Ollama");
    assert!(
        wait_until(SETTLE, || machine
            .systemd
            .main_pid("gardener-ollama.service")
            .is_some_and(|p| p != before)),
        "Ollama was not restarted\n{}",
        app.log()
    );
    wait_for_menu(&tray, "Ollama healthy after the restart", healthy);

    // Back Up Now: a verified backup, the app paused for it without a "down" notice.
    tray.click("Back Up Now");
    wait_for_menu(&tray, "the new backup", |l| {
        l[3] == "Last backup — just now ✓ full"
    });
    let list = machine.gardener_json(&["backup", "list", "--json"]);
    let backups = list["backups"].as_array().unwrap();
    assert_eq!(backups.len(), 1, "{list:#}");
    assert_eq!(backups[0]["verified"]["ok"], true, "{list:#}");
    wait_for_menu(&tray, "the app running again", healthy);

    // Unload Models: the stand-in's one loaded model goes.
    tray.click("Unload Models");
    wait_for_menu(&tray, "no models loaded", |l| {
        l[0] == "Ollama — healthy · v0.12.6"
    });
    let models = machine.gardener_json(&["models", "--json"]);
    assert_eq!(models["loaded"].as_array().unwrap().len(), 0, "{models:#}");

    // Pause Alerts for an hour: written to the config, shown in the menu, and a stop of
    // Ollama is then recorded without a notification.
    tray.click("For 1 Hour");
    let resume = || {
        tray.items()
            .into_iter()
            .find(|i| i.label.contains("Pause") || i.label.contains("Paused"))
            .and_then(|p| p.children.get(2).cloned())
            .unwrap()
    };
    assert!(
        wait_until(SETTLE, || resume()
            .label
            .starts_with("Resume Alerts (paused until ")),
        "the menu does not show the pause: {:?}",
        resume()
    );
    assert!(resume().enabled);
    let config = fs::read_to_string(&machine.config).unwrap();
    assert!(config.contains("mute_until = \""), "{config}");
    machine
        .systemd
        .systemctl(&["stop", "gardener-ollama.service"]);
    wait_for_menu(&tray, "Ollama stopped", |l| l[0] == "Ollama — stopped");
    thread::sleep(Duration::from_secs(3 * INTERVAL_SECS));

    tray.click(&resume().label);
    assert!(
        wait_until(SETTLE, || resume().label == "Resume Alerts"
            && !resume().enabled),
        "the menu still shows a pause: {:?}",
        resume()
    );
    let config = fs::read_to_string(&machine.config).unwrap();
    assert!(!config.contains("mute_until"), "{config}");

    // The reminder comes with the next sample.
    assert!(
        wait_until(SETTLE, || desktop.notifications().len() >= 3),
        "{:#?}",
        desktop.notifications()
    );
    thread::sleep(Duration::from_secs(2 * INTERVAL_SECS));
    let notes = desktop.notifications();
    let titles: Vec<&str> = notes.iter().map(|(t, _)| t.as_str()).collect();
    // Only what the actions themselves report: the backup and the unload. The stop came
    // while paused; resuming tells once about an alert still firing.
    assert_eq!(
        titles,
        ["Backup done", "Models unloaded", "Ollama is down"],
        "{notes:#?}\n{}",
        app.log()
    );
}

/// The processes `pid` started.
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .flat_map(|task| {
            let children = fs::read_to_string(task.path().join("children")).unwrap_or_default();
            children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn cmdline_has(pid: u32, arg: &str) -> bool {
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&cmdline).contains(arg)
}

/// The processes below `pid`, at any depth, whose command line contains `arg`.
fn descendants_with(pid: u32, arg: &str) -> Vec<u32> {
    let mut found = Vec::new();
    let mut queue = vec![pid];
    while let Some(p) = queue.pop() {
        for child in children(p) {
            if cmdline_has(child, arg) {
                found.push(child);
            }
            queue.push(child);
        }
    }
    found
}

/// The menu-bar process's window processes whose command line contains `arg`: its own
/// children only, since a window's process, forking its webview's processes, may briefly
/// have children with its own command line.
fn windows_with(app: u32, arg: &str) -> Vec<u32> {
    children(app)
        .into_iter()
        .filter(|&child| cmdline_has(child, arg))
        .collect()
}

#[test]
fn set_up_opens_its_window_in_a_process_of_its_own() {
    if !can_run("set_up_opens_its_window_in_a_process_of_its_own") {
        return;
    }
    let (_machine, _desktop, app, tray, _) = app_showing_healthy();

    tray.click("Set Up…");
    let mut window = Vec::new();
    assert!(
        wait_until(SETTLE, || {
            window = windows_with(app.child.id(), "--window\0setup");
            !window.is_empty()
        }),
        "no setup window process\n{}",
        app.log()
    );
    // Its webview's processes belong to it, not to the menu-bar process.
    let webkit = || descendants_with(window[0], "WebKit");
    assert!(
        wait_until(SETTLE, || !webkit().is_empty()),
        "no webview under the window's process"
    );
    // A second Set Up… while it is open starts no second window.
    tray.click("Set Up…");
    thread::sleep(Duration::from_secs(1));
    assert_eq!(windows_with(app.child.id(), "--window\0setup"), window);

    let pid = rustix::process::Pid::from_raw(i32::try_from(window[0]).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    assert!(
        wait_until(SETTLE, || windows_with(app.child.id(), "--window\0setup")
            .is_empty()
            && descendants_with(app.child.id(), "WebKit").is_empty()),
        "the window's process or its webview outlived it"
    );
    // The menu-bar app carries on, its monitor started over.
    assert!(
        wait_until(SETTLE, || app.log().matches("monitor started").count() == 2),
        "{}",
        app.log()
    );
    wait_for_menu(&tray, "both services healthy again", healthy);
}

#[test]
fn the_dashboard_opens_in_a_process_of_its_own_fed_by_the_tray_and_a_click_on_a_notice_opens_it() {
    if !can_run(
        "the_dashboard_opens_in_a_process_of_its_own_fed_by_the_tray_and_a_click_on_a_notice_opens_it",
    ) {
        return;
    }
    let (machine, desktop, app, tray, _) = app_showing_healthy();
    let dashboards = |view: &str| {
        windows_with(
            app.child.id(),
            &format!("--window\0dashboard\0--view\0{view}"),
        )
    };

    tray.click("Open Dashboard…");
    let mut window = Vec::new();
    assert!(
        wait_until(SETTLE, || {
            window = dashboards("overview");
            !window.is_empty()
        }),
        "no dashboard process\n{}",
        app.log()
    );
    assert!(
        wait_until(SETTLE, || !descendants_with(window[0], "WebKit").is_empty()),
        "no webview under the dashboard's process"
    );
    // It gets the tray monitor's past and then its samples, rather than sampling itself.
    assert!(
        wait_until(SETTLE, || {
            let log = app.log();
            log.contains("the menu-bar app sent its recent past")
                && log.contains("samples arrive from the menu-bar app")
        }),
        "{}",
        app.log()
    );
    // Open Dashboard… and Settings… while it is open turn it; they start no second one.
    tray.click("Open Dashboard…");
    tray.click("Settings…");
    thread::sleep(Duration::from_secs(1));
    assert_eq!(windows_with(app.child.id(), "--window\0dashboard"), window);

    let pid = rustix::process::Pid::from_raw(i32::try_from(window[0]).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    assert!(
        wait_until(SETTLE, || windows_with(app.child.id(), "--window")
            .is_empty()
            && descendants_with(app.child.id(), "WebKit").is_empty()),
        "the dashboard's process or its webview outlived it"
    );

    // A click on "Ollama is down" opens the dashboard at the services.
    machine
        .systemd
        .systemctl(&["stop", "gardener-ollama.service"]);
    wait_for_menu(&tray, "Ollama stopped", |l| l[0] == "Ollama — stopped");
    assert!(
        wait_until(SETTLE, || desktop.click_notification()),
        "dunst never showed a notification; it has {:?}",
        desktop.notifications()
    );
    assert!(
        wait_until(SETTLE, || !dashboards("services").is_empty()),
        "a click on the notification opened no dashboard at the services\n{}",
        app.log()
    );
    let titles: Vec<String> = desktop
        .notifications()
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(titles, ["Ollama is down"], "the one clicked");
    machine
        .systemd
        .systemctl(&["start", "gardener-ollama.service"]);
}

#[test]
fn the_models_submenu_unloads_one_model_and_pull_model_opens_the_models_tab() {
    if !can_run("the_models_submenu_unloads_one_model_and_pull_model_opens_the_models_tab") {
        return;
    }
    let (machine, desktop, app, tray, _) = app_showing_healthy();
    let submenu = || -> Vec<(String, bool)> {
        let models = tray.find("Models").expect("a Models submenu");
        models
            .children
            .iter()
            .map(|i| (i.label.clone(), i.enabled))
            .collect()
    };
    let listed = submenu();
    assert_eq!(listed.len(), 3, "{listed:?}");
    let (unload, enabled) = &listed[0];
    assert!(
        unload.starts_with("Unload llama3.2:3b (") && unload.contains(" GB, until "),
        "{listed:?}"
    );
    assert!(enabled);
    assert_eq!(listed[2], ("Pull Model…".to_owned(), true));

    tray.click(unload);
    assert!(
        wait_until(SETTLE, || submenu()[0]
            == ("No Model Loaded".to_owned(), false)),
        "the submenu still lists a model: {:?}\n{}",
        submenu(),
        app.log()
    );
    let models = machine.gardener_json(&["models", "--json"]);
    assert_eq!(models["loaded"].as_array().unwrap().len(), 0, "{models:#}");
    assert!(
        wait_until(SETTLE, || desktop
            .notifications()
            .iter()
            .any(|(t, b)| t == "Models unloaded" && b.contains("llama3.2:3b"))),
        "{:?}",
        desktop.notifications()
    );

    tray.click("Pull Model…");
    assert!(
        wait_until(SETTLE, || !windows_with(
            app.child.id(),
            "--window\0dashboard\0--view\0models"
        )
        .is_empty()),
        "Pull Model… opened no dashboard at the models\n{}",
        app.log()
    );
}

#[test]
fn a_model_partly_on_the_cpu_is_told_once_while_it_holds_and_again_once_unloaded() {
    if !can_run("a_model_partly_on_the_cpu_is_told_once_while_it_holds_and_again_once_unloaded") {
        return;
    }
    // The stand-in keeps a quarter of each loaded model outside GPU memory.
    let machine = Machine::installed_with(
        Path::new(env!("CARGO_BIN_EXE_stand-in-ollama")),
        INTERVAL_SECS,
        1,
        "\n[ollama.env]\nSTAND_IN_OLLAMA_PARTIAL_VRAM = \"1\"\n\
         \n[alerts.model_offloaded]\nfor_secs = 2\n",
    );
    let desktop = Desktop::start();
    let app = App::start(&machine, &desktop);
    let tray = desktop.tray(app.child.id(), SETTLE);
    wait_for_menu(&tray, "both services healthy", healthy);
    let offloaded = |notes: &[(String, String)]| {
        notes
            .iter()
            .filter(|(t, _)| t == "Models run partly on the CPU")
            .count()
    };
    assert!(
        wait_until(SETTLE, || offloaded(&desktop.notifications()) > 0),
        "no notice of the offloaded model: {:?}\n{}",
        desktop.notifications(),
        app.log()
    );
    // It holds for several more samples; the cooldown (an hour) keeps it to one notice.
    thread::sleep(Duration::from_secs(5 * INTERVAL_SECS));
    let notes = desktop.notifications();
    assert_eq!(offloaded(&notes), 1, "{notes:#?}");
    assert_eq!(notes.len(), 1, "{notes:#?}");
    assert_eq!(
        notes[0].1,
        "llama3.2:3b runs 25% on the CPU: unload other models or choose a smaller one"
    );

    tray.click("Unload Models");
    assert!(
        wait_until(SETTLE, || desktop.notifications().len() >= 3),
        "{:#?}\n{}",
        desktop.notifications(),
        app.log()
    );
    thread::sleep(Duration::from_secs(2 * INTERVAL_SECS));
    let mut titles: Vec<String> = desktop
        .notifications()
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    // The unload's own notice and the alert's end come in either order.
    titles[1..].sort();
    assert_eq!(
        titles,
        [
            "Models run partly on the CPU",
            "Models back on the GPU",
            "Models unloaded"
        ],
        "{}",
        app.log()
    );
}
