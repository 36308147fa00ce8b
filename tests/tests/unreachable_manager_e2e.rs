//! End to end on Linux: the stand-ins run as real systemd user services, and the CLI and the
//! monitor are then run from a session that cannot reach the user manager (no
//! `XDG_RUNTIME_DIR`, no session bus: `su`, a bare SSH login, a container). Both services must
//! read as `unknown` with the reason and the fix, their health checks must still run and count,
//! Ollama must not be taken for someone else's, and no `*_down` alert may fire.
//!
//! Needs root (for the private namespaces); without it each test prints a skip notice.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::io::Read;
use std::path::Path;
use std::process::{Output, Stdio};
use std::thread;
use std::time::Duration;

use gardener_e2e::machine::Machine;
use gardener_e2e::{gardener_bin, namespace, output_text};
use serde_json::Value;

const INTERVAL_SECS: u64 = 1;

/// `gardener --config FILE ARGS` in the machine's home, but without the manager's runtime
/// directory or any session bus.
fn cut_off(machine: &Machine) -> std::process::Command {
    let mut cmd = machine.systemd.command(gardener_bin());
    cmd.env_remove("XDG_RUNTIME_DIR")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .arg("--config")
        .arg(&machine.config)
        .stdin(Stdio::null());
    cmd
}

fn run(machine: &Machine, args: &[&str]) -> Output {
    let out = cut_off(machine).args(args).output().unwrap();
    eprintln!(
        "$ gardener {} (cut off)\n{}",
        args.join(" "),
        output_text(&out)
    );
    out
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", output_text(out)))
}

/// The reason and the fix that every unknown state must carry.
fn says_why_and_what_to_do(text: &str) {
    assert!(
        text.contains("cannot reach the systemd user manager"),
        "no reason in {text:?}"
    );
    assert!(
        text.contains("loginctl enable-linger") && text.contains("XDG_RUNTIME_DIR"),
        "no fix in {text:?}"
    );
}

#[test]
fn without_the_user_manager_services_are_unknown_and_still_checked() {
    if !namespace::enter("without_the_user_manager_services_are_unknown_and_still_checked") {
        return;
    }
    let machine = Machine::installed(
        Path::new(env!("CARGO_BIN_EXE_stand-in-ollama")),
        INTERVAL_SECS,
        1,
    );

    let out = run(&machine, &["status", "--json"]);
    assert!(out.status.success(), "{}", output_text(&out));
    let s = json(&out);
    for svc in [&s["services"]["ollama"], &s["services"]["app"]] {
        assert_eq!(svc["state"], "unknown", "{s:#}");
        assert_eq!(svc["managed"], true, "{s:#}");
        assert_eq!(svc["healthy"], true, "the health check still runs: {s:#}");
        assert!(svc["latency_ms"].is_u64(), "{s:#}");
        says_why_and_what_to_do(svc["error"].as_str().unwrap());
    }
    // An Ollama that answers is still ours, with its version.
    assert_eq!(s["services"]["ollama"]["version"], "0.12.6", "{s:#}");
    for rule in ["ollama_down", "app_down", "ollama_health", "app_health"] {
        let alert = s["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["rule"] == rule)
            .unwrap_or_else(|| panic!("no {rule} in {s:#}"));
        assert_eq!(alert["state"], "ok", "{rule}: {s:#}");
    }

    // `service status` cannot tell, says how to fix that, and fails.
    let out = run(&machine, &["service", "status"]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(
        text.matches("cannot tell whether it runs").count(),
        2,
        "{text}"
    );
    assert!(
        text.contains("ollama  unknown") && text.contains("app     unknown"),
        "{text}"
    );
    says_why_and_what_to_do(&text);
    let out = run(&machine, &["service", "status", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let report = json(&out);
    for svc in report["services"].as_array().unwrap() {
        assert_eq!(svc["state"], "unknown", "{report:#}");
        assert_eq!(svc["healthy"], true, "{report:#}");
        says_why_and_what_to_do(svc["raw_state"].as_str().unwrap());
    }

    // The monitor samples for a while: nothing is down, so nothing is said.
    let mut monitor = cut_off(&machine)
        .args(["--json", "monitor", "--no-notify"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    thread::sleep(Duration::from_secs(6 * INTERVAL_SECS));
    let pid = rustix::process::Pid::from_raw(i32::try_from(monitor.id()).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = monitor.wait().unwrap();
    let (mut events, mut log) = (String::new(), String::new());
    monitor
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut events)
        .unwrap();
    monitor
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(status.success(), "monitor: {status}\n{log}");
    assert!(
        events.trim().is_empty(),
        "events with both services answering: {events}\n{log}"
    );

    // With the manager reachable again, the same command knows.
    let known = machine.gardener_json(&["status", "--json"]);
    assert_eq!(known["services"]["app"]["state"], "running", "{known:#}");
}
