//! End to end on Linux: the real `gardener` CLI installs, supervises, repairs and removes the
//! two services under a real systemd user manager, with the stand-ins as the services.
//!
//! Needs root (for the private namespaces); without it each test prints a skip notice.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::fs;
use std::net::TcpListener;
use std::path::Path;

use gardener_e2e::machine::{Machine, SETTLE, sigkill, toml_str};
use gardener_e2e::{http, namespace, output_text, wait_until};

const OLLAMA_UNIT: &str = "gardener-ollama.service";
const APP_UNIT: &str = "gardener-app.service";

#[test]
fn install_kill_restart_uninstall_under_systemd() {
    if !namespace::enter("install_kill_restart_uninstall_under_systemd") {
        return;
    }
    let machine = Machine::new(Path::new(env!("CARGO_BIN_EXE_stand-in-ollama")));
    let systemd = &machine.systemd;

    eprintln!("step: fresh install");
    let installed = machine.gardener_json(&["install", "--yes", "--json"]);
    assert_eq!(
        installed["changed"], true,
        "a fresh install changes things: {installed:#}"
    );
    for unit in [OLLAMA_UNIT, APP_UNIT] {
        assert!(
            machine.unit_file(unit).is_file(),
            "{unit} not written to the unit dir"
        );
    }
    let ollama_pid = machine.assert_active(OLLAMA_UNIT);
    let app_pid = machine.assert_active(APP_UNIT);
    machine.assert_healthy();

    let ollama = machine.status_of("ollama");
    assert_eq!(ollama["unit"], OLLAMA_UNIT, "{ollama:#}");
    assert_eq!(
        ollama["file"],
        machine.unit_file(OLLAMA_UNIT).to_string_lossy().as_ref()
    );
    assert_eq!(ollama["drift"], "in-sync", "{ollama:#}");
    assert_eq!(ollama["state"], "running", "{ollama:#}");
    assert_eq!(
        ollama["pid"], ollama_pid,
        "status pid vs systemd MainPID: {ollama:#}"
    );
    let app = machine.status_of("app");
    assert_eq!(app["unit"], APP_UNIT, "{app:#}");
    assert_eq!(app["drift"], "in-sync", "{app:#}");
    assert_eq!(app["state"], "running", "{app:#}");
    assert_eq!(app["pid"], app_pid, "{app:#}");

    eprintln!("step: install again changes nothing");
    let again = machine.gardener_json(&["install", "--yes", "--json"]);
    assert_eq!(
        again["changed"], false,
        "second install must be a no-op: {again:#}"
    );
    assert_eq!(
        machine.assert_active(OLLAMA_UNIT),
        ollama_pid,
        "no-op install restarted Ollama"
    );
    assert_eq!(
        machine.assert_active(APP_UNIT),
        app_pid,
        "no-op install restarted the app"
    );

    eprintln!("step: kill -9 Ollama, systemd brings it back");
    sigkill(ollama_pid);
    let restarted = wait_until(SETTLE, || {
        let props = systemd.show(OLLAMA_UNIT, &["ActiveState", "MainPID", "NRestarts"]);
        props["ActiveState"] == "active"
            && !["0", &ollama_pid.to_string()].contains(&props["MainPID"].as_str())
            && props["NRestarts"].parse::<u32>().is_ok_and(|n| n >= 1)
    });
    assert!(
        restarted,
        "Ollama not restarted after SIGKILL: {:?}",
        systemd.show(
            OLLAMA_UNIT,
            &["ActiveState", "SubState", "MainPID", "NRestarts", "Result"]
        )
    );
    let new_ollama_pid = machine.assert_active(OLLAMA_UNIT);
    machine.assert_healthy();
    let ollama = machine.status_of("ollama");
    assert!(
        ollama["restarts"].as_u64().is_some_and(|n| n >= 1),
        "restarts ≥ 1: {ollama:#}"
    );
    assert_eq!(ollama["state"], "running", "{ollama:#}");
    assert_eq!(ollama["pid"], new_ollama_pid, "{ollama:#}");

    eprintln!("step: gardener service restart app");
    machine.gardener_ok(&["service", "restart", "app"]);
    let moved = wait_until(SETTLE, || {
        systemd.main_pid(APP_UNIT).is_some_and(|p| p != app_pid)
    });
    assert!(moved, "app MainPID still {app_pid} after restart");
    machine.assert_active(APP_UNIT);
    machine.assert_healthy();
    assert_eq!(
        machine.assert_active(OLLAMA_UNIT),
        new_ollama_pid,
        "restarting app hit Ollama"
    );

    eprintln!("step: hand edit is drift, install repairs it");
    let unit_path = machine.unit_file(OLLAMA_UNIT);
    let pristine = fs::read_to_string(&unit_path).unwrap();
    fs::write(&unit_path, format!("{pristine}# edited by hand\n")).unwrap();
    assert_eq!(machine.status_of("ollama")["drift"], "modified");
    assert_eq!(machine.status_of("app")["drift"], "in-sync");
    let repaired = machine.gardener_json(&["install", "--yes", "--json"]);
    assert_eq!(
        repaired["changed"], true,
        "repairing drift is a change: {repaired:#}"
    );
    assert_eq!(
        fs::read_to_string(&unit_path).unwrap(),
        pristine,
        "unit not restored"
    );
    assert_eq!(machine.status_of("ollama")["drift"], "in-sync");
    machine.assert_active(OLLAMA_UNIT);
    machine.assert_active(APP_UNIT);
    machine.assert_healthy();

    eprintln!("step: uninstall keeps data");
    machine.gardener_ok(&["uninstall", "--yes"]);
    for unit in [OLLAMA_UNIT, APP_UNIT] {
        assert!(
            !machine.unit_file(unit).exists(),
            "{unit} still on disk after uninstall"
        );
        let load = systemd.show(unit, &["LoadState"]);
        assert_eq!(
            load["LoadState"], "not-found",
            "{unit} still known to systemd"
        );
    }
    for port in [machine.ollama_port, machine.app_port] {
        assert!(
            wait_until(SETTLE, || !http::port_open(port)),
            "port {port} still open"
        );
    }
    let data = systemd.data_home().join("gardener");
    let logs = systemd.state_home().join("gardener/logs");
    assert!(
        data.is_dir(),
        "uninstall removed the data dir {}",
        data.display()
    );
    assert!(
        logs.is_dir(),
        "uninstall removed the log dir {}",
        logs.display()
    );
}

#[test]
fn install_refuses_a_busy_ollama_port_and_writes_nothing() {
    if !namespace::enter("install_refuses_a_busy_ollama_port_and_writes_nothing") {
        return;
    }
    let machine = Machine::new(Path::new(env!("CARGO_BIN_EXE_stand-in-ollama")));
    // Something that is not Ollama holds the port: it accepts connections and never answers.
    let squatter = TcpListener::bind(("127.0.0.1", machine.ollama_port)).unwrap();

    let out = machine.gardener(&["install", "--yes"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "expected exit code 1:\n{text}");
    assert!(
        text.contains(&machine.ollama_port.to_string()),
        "port not mentioned:\n{text}"
    );
    let lower = text.to_lowercase();
    assert!(
        ["host", "stop", "free", "change"]
            .iter()
            .any(|hint| lower.contains(hint)),
        "no hint at how to fix it:\n{text}"
    );
    for unit in [OLLAMA_UNIT, APP_UNIT] {
        assert!(
            !machine.unit_file(unit).exists(),
            "{unit} written despite failed preflight"
        );
        let load = machine.systemd.show(unit, &["LoadState"]);
        assert_eq!(
            load["LoadState"], "not-found",
            "{unit} known to systemd:\n{text}"
        );
    }
    drop(squatter);
}

#[test]
fn install_refuses_an_unwritable_log_directory_and_writes_nothing() {
    if !namespace::enter("install_refuses_an_unwritable_log_directory_and_writes_nothing") {
        return;
    }
    let machine = Machine::new(Path::new(env!("CARGO_BIN_EXE_stand-in-ollama")));
    // A read-only mount refuses writes even to root, so the check is real here.
    let ro = machine.systemd.home().join("readonly");
    fs::create_dir_all(&ro).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "ro", "tmpfs"])
        .arg(&ro)
        .status()
        .unwrap();
    assert!(mounted.success());
    let logs = ro.join("logs");
    let mut toml = fs::read_to_string(&machine.config).unwrap();
    toml.push_str(&format!("\n[paths]\nlogs = {}\n", toml_str(&logs)));
    fs::write(&machine.config, toml).unwrap();

    let out = machine.gardener(&["install", "--yes"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "expected exit code 1:\n{text}");
    assert!(
        text.contains("not writable") && text.contains(&ro.display().to_string()),
        "{text}"
    );
    assert!(text.contains("fix:"), "no fix offered:\n{text}");
    for unit in [OLLAMA_UNIT, APP_UNIT] {
        assert!(
            !machine.unit_file(unit).exists(),
            "{unit} written despite failed preflight"
        );
    }
    assert!(
        !machine.systemd.data_home().join("gardener").exists(),
        "data dir created"
    );
}

#[test]
fn install_of_an_app_that_crashes_at_start_is_rolled_back() {
    if !namespace::enter("install_of_an_app_that_crashes_at_start_is_rolled_back") {
        return;
    }
    let machine = Machine::new(Path::new(env!("CARGO_BIN_EXE_stand-in-ollama")));
    let crasher = machine.systemd.home().join("bin/crashing-app");
    fs::write(
        &crasher,
        "#!/bin/sh\necho 'boom: the vector store is missing' >&2\nexit 1\n",
    )
    .unwrap();
    fs::set_permissions(
        &crasher,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let toml = fs::read_to_string(&machine.config)
        .unwrap()
        .replace(
            &format!(
                "command = [{}",
                toml_str(machine.systemd.home().join("bin/codebase-gardener"))
            ),
            &format!("command = [{}", toml_str(&crasher)),
        )
        .replace("health_timeout_secs = 30", "health_timeout_secs = 6");
    assert!(toml.contains("crashing-app"), "{toml}");
    fs::write(&machine.config, toml).unwrap();

    let out = machine.gardener(&["install", "--yes"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "expected exit code 1:\n{text}");
    assert!(text.contains("did not become healthy"), "{text}");
    assert!(
        text.contains("boom: the vector store is missing"),
        "the app's own error is shown:\n{text}"
    );
    assert!(text.contains("was undone"), "{text}");
    for unit in [OLLAMA_UNIT, APP_UNIT] {
        assert!(
            !machine.unit_file(unit).exists(),
            "{unit} left behind:\n{text}"
        );
        let state = machine.systemd.show(unit, &["LoadState", "ActiveState"]);
        assert_eq!(
            state["LoadState"], "not-found",
            "{unit} still loaded:\n{text}"
        );
    }
    assert!(
        wait_until(SETTLE, || !http::port_open(machine.ollama_port)),
        "Ollama still running after the rollback"
    );
}

#[test]
fn install_schedules_the_backup_timer_and_uninstall_removes_it() {
    if !namespace::enter("install_schedules_the_backup_timer_and_uninstall_removes_it") {
        return;
    }
    const TIMER: &str = "gardener-backup.timer";
    const JOB: &str = "gardener-backup.service";
    let machine = Machine::new(Path::new(env!("CARGO_BIN_EXE_stand-in-ollama")));
    let systemd = &machine.systemd;
    let with_schedule = |schedule: &str| {
        let toml = fs::read_to_string(&machine.config).unwrap();
        let base = toml.split("\n[backup]\n").next().unwrap().to_owned();
        fs::write(
            &machine.config,
            format!("{base}\n[backup]\nschedule = \"{schedule}\"\n"),
        )
        .unwrap();
    };
    let timer_state = || {
        systemd.show(
            TIMER,
            &[
                "LoadState",
                "ActiveState",
                "UnitFileState",
                "NextElapseUSecRealtime",
            ],
        )
    };

    eprintln!("step: install with a weekly schedule");
    with_schedule("weekly sun 23:59");
    machine.gardener_ok(&["install", "--yes"]);
    for unit in [JOB, TIMER] {
        assert!(machine.unit_file(unit).is_file(), "{unit} not written");
    }
    let state = timer_state();
    assert_eq!(state["ActiveState"], "active", "{state:?}");
    assert_eq!(state["UnitFileState"], "enabled", "{state:?}");
    // e.g. `Sun 2026-11-29 23:59:00 UTC`: systemd read the calendar as meant.
    let next = &state["NextElapseUSecRealtime"];
    assert!(
        next.starts_with("Sun ") && next.contains(" 23:59:00"),
        "next elapse {next:?}: {state:?}"
    );
    let timers = systemd.systemctl(&["list-timers", "--all", "--no-legend", "--no-pager"]);
    let listed = String::from_utf8_lossy(&timers.stdout);
    assert!(
        listed
            .lines()
            .any(|l| l.contains(TIMER) && l.contains(JOB) && l.starts_with("Sun ")),
        "not listed with its next elapse:\n{listed}"
    );
    let job = systemd.show(
        JOB,
        &["LoadState", "Type", "ExecStart", "Nice", "ActiveState"],
    );
    assert_eq!(job["LoadState"], "loaded", "{job:?}");
    assert_eq!(job["Type"], "oneshot", "{job:?}");
    assert_eq!(job["Nice"], "10", "{job:?}");
    assert_eq!(
        job["ActiveState"], "inactive",
        "runs only on schedule: {job:?}"
    );
    let argv = format!(
        "--config {} backup create --scheduled",
        machine.config.display()
    );
    assert!(job["ExecStart"].contains(&argv), "{job:?}");

    eprintln!("step: install again changes nothing");
    let again = machine.gardener_json(&["install", "--yes", "--json"]);
    assert_eq!(again["changed"], false, "{again:#}");

    eprintln!("step: a new schedule reschedules the running timer");
    with_schedule("daily 03:00");
    machine.gardener_ok(&["install", "--yes"]);
    let state = timer_state();
    assert_eq!(state["ActiveState"], "active", "{state:?}");
    assert!(
        state["NextElapseUSecRealtime"].contains(" 03:00:00"),
        "{state:?}"
    );

    eprintln!("step: uninstall unschedules and removes the timer");
    machine.gardener_ok(&["uninstall", "--yes"]);
    for unit in [JOB, TIMER] {
        assert!(!machine.unit_file(unit).exists(), "{unit} left on disk");
        let load = systemd.show(unit, &["LoadState"]);
        assert_eq!(load["LoadState"], "not-found", "{unit} still known");
    }
    let wants = systemd.unit_dir().join("timers.target.wants").join(TIMER);
    assert!(
        fs::symlink_metadata(&wants).is_err(),
        "{} left behind",
        wants.display()
    );
    let timers = systemd.systemctl(&["list-timers", "--all", "--no-legend", "--no-pager"]);
    assert!(
        !String::from_utf8_lossy(&timers.stdout).contains(TIMER),
        "{}",
        output_text(&timers)
    );
}
