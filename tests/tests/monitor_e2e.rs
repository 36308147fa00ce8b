//! End to end on Linux: the real `gardener status`, `models` and `monitor` against the stand-ins
//! running as real systemd user services. Killing Ollama gives exactly one Firing and one
//! Resolved event, noticed within one interval plus the probe timeout.
//!
//! Needs root (for the private namespaces); without it each test prints a skip notice.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use gardener_e2e::machine::{Machine, sigkill};
use gardener_e2e::{gardener_bin, namespace, wait_until};
use serde_json::Value;

const INTERVAL_SECS: u64 = 1;
const PROBE_TIMEOUT_SECS: u64 = 1;

fn machine() -> Machine {
    Machine::installed(
        Path::new(env!("CARGO_BIN_EXE_stand-in-ollama")),
        INTERVAL_SECS,
        PROBE_TIMEOUT_SECS,
    )
}

#[test]
fn status_json_reports_both_services_the_machine_and_the_alerts() {
    if !namespace::enter("status_json_reports_both_services_the_machine_and_the_alerts") {
        return;
    }
    let machine = machine();
    let ollama_pid = machine.assert_active("gardener-ollama.service");
    let app_pid = machine.assert_active("gardener-app.service");

    let s = machine.gardener_json(&["status", "--json"]);
    let ollama = &s["services"]["ollama"];
    assert_eq!(ollama["state"], "running", "{s:#}");
    assert_eq!(ollama["managed"], true, "{s:#}");
    assert_eq!(ollama["pid"], ollama_pid, "{s:#}");
    assert_eq!(ollama["healthy"], true, "{s:#}");
    assert!(ollama["latency_ms"].is_u64(), "{s:#}");
    assert!(ollama["error"].is_null(), "{s:#}");
    assert_eq!(ollama["version"], "0.12.6", "{s:#}");
    assert!(ollama["rss_bytes"].as_u64().unwrap() > 0, "{s:#}");
    let model = &ollama["models"][0];
    assert_eq!(model["name"], "llama3.2:3b", "{s:#}");
    assert!(model["size_bytes"].as_u64().unwrap() > 0, "{s:#}");
    assert!(model["vram_bytes"].is_u64(), "{s:#}");
    assert!(model["expires_at"].is_string(), "{s:#}");

    let app = &s["services"]["app"];
    assert_eq!(app["state"], "running", "{s:#}");
    assert_eq!(app["pid"], app_pid, "{s:#}");
    assert_eq!(app["healthy"], true, "{s:#}");

    let sys = &s["system"];
    let cpu = sys["cpu_percent"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&cpu), "{s:#}");
    let mem = &sys["memory"];
    assert!(mem["used_bytes"].as_u64().unwrap() < mem["total_bytes"].as_u64().unwrap());
    assert!(mem["percent"].as_f64().unwrap() > 0.0, "{s:#}");
    assert!(sys["swap"]["total_bytes"].is_u64(), "{s:#}");
    assert!(sys["disk"]["path"].is_string(), "{s:#}");
    assert!(sys["disk"]["total_bytes"].as_u64().unwrap() > 0, "{s:#}");

    let alerts = s["alerts"].as_array().unwrap();
    let down = alerts.iter().find(|a| a["rule"] == "ollama_down").unwrap();
    assert_eq!(down["state"], "ok", "{s:#}");
    assert!(
        alerts
            .iter()
            .all(|a| a["state"].is_string() && a.get("value").is_some())
    );

    // The human view says the same.
    let text = String::from_utf8(machine.gardener_ok(&["status"]).stdout).unwrap();
    assert!(
        text.contains("Ollama") && text.contains("running"),
        "{text}"
    );
    assert!(text.contains(&format!("pid {ollama_pid}")), "{text}");
}

#[test]
fn models_lists_and_unloads_over_http() {
    if !namespace::enter("models_lists_and_unloads_over_http") {
        return;
    }
    let machine = machine();
    let listing = machine.gardener_json(&["models", "--json"]);
    assert_eq!(listing["loaded"][0]["name"], "llama3.2:3b", "{listing:#}");
    assert!(
        listing["installed"].as_array().unwrap().len() >= 2,
        "{listing:#}"
    );

    let out = machine.gardener(&["models", "unload", "qwen2.5-coder:7b"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "unloading a model that is not loaded fails"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("not loaded"));

    let unloaded = machine.gardener_json(&["models", "unload", "--all", "--json"]);
    assert_eq!(unloaded["unloaded"][0], "llama3.2:3b", "{unloaded:#}");
    let listing = machine.gardener_json(&["models", "--json"]);
    assert_eq!(
        listing["loaded"].as_array().unwrap().len(),
        0,
        "{listing:#}"
    );
}

/// `gardener monitor --json` in the background, its stdout lines collected as they come.
struct Monitor {
    child: Child,
    lines: Arc<Mutex<Vec<(Instant, Value)>>>,
}

impl Monitor {
    fn start(machine: &Machine) -> Self {
        let log = fs::File::create(machine.systemd.home().join("monitor.log")).unwrap();
        let mut child = machine
            .systemd
            .command(gardener_bin())
            .args(["--config"])
            .arg(&machine.config)
            .args(["--json", "-v", "monitor", "--no-notify"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let line = line.unwrap();
                let value: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("monitor printed non-JSON {line:?}: {e}"));
                sink.lock().unwrap().push((Instant::now(), value));
            }
        });
        Self { child, lines }
    }

    fn events(&self) -> Vec<(Instant, Value)> {
        self.lines.lock().unwrap().clone()
    }

    /// SIGTERM, which must end it cleanly; returns every event it printed.
    fn stop(mut self) -> Vec<Value> {
        let pid = rustix::process::Pid::from_raw(i32::try_from(self.child.id()).unwrap()).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "monitor exited with {status} on SIGTERM");
        self.events().into_iter().map(|(_, e)| e).collect()
    }
}

#[test]
fn killed_ollama_gives_one_firing_and_one_resolved_event() {
    if !namespace::enter("killed_ollama_gives_one_firing_and_one_resolved_event") {
        return;
    }
    let machine = machine();
    let monitor = Monitor::start(&machine);
    let log = machine.systemd.home().join("monitor.log");
    let show_log = || fs::read_to_string(&log).unwrap_or_default();

    // Healthy and settled: a few ticks without any event.
    thread::sleep(Duration::from_secs(4 * INTERVAL_SECS));
    assert!(
        monitor.events().is_empty(),
        "events while healthy: {:?}\n{}",
        monitor.events(),
        show_log()
    );

    let pid = machine.assert_active("gardener-ollama.service");
    let killed = Instant::now();
    sigkill(pid);

    let fired = wait_until(Duration::from_secs(10), || {
        monitor
            .events()
            .iter()
            .any(|(_, e)| e["rule"] == "ollama_down" && e["kind"] == "firing")
    });
    assert!(
        fired,
        "no firing event after the kill: {:?}\n{}",
        monitor.events(),
        show_log()
    );
    let (noticed_at, _) = monitor
        .events()
        .into_iter()
        .find(|(_, e)| e["kind"] == "firing")
        .unwrap();
    let noticed = noticed_at - killed;
    let budget = Duration::from_secs(INTERVAL_SECS + PROBE_TIMEOUT_SECS);
    eprintln!("death noticed after {noticed:?} (budget {budget:?} + 1 s scheduling slack)");
    assert!(
        noticed <= budget + Duration::from_secs(1),
        "noticed after {noticed:?}"
    );

    let resolved = wait_until(Duration::from_secs(30), || {
        monitor
            .events()
            .iter()
            .any(|(_, e)| e["rule"] == "ollama_down" && e["kind"] == "resolved")
    });
    assert!(
        resolved,
        "no resolved event: {:?}\n{}",
        monitor.events(),
        show_log()
    );
    assert_ne!(machine.assert_active("gardener-ollama.service"), pid);

    // Settle, then nothing more may have arrived: no storm.
    thread::sleep(Duration::from_secs(5 * INTERVAL_SECS));
    let events = monitor.stop();
    let seen: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e["rule"].as_str().unwrap(), e["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [("ollama_down", "firing"), ("ollama_down", "resolved")],
        "{events:#?}\n{}",
        show_log()
    );
    assert!(
        events[0]["message"].as_str().unwrap().contains("Ollama"),
        "{events:#?}"
    );
    // The alert state was saved, so a restarted monitor does not fire again.
    let saved = machine.systemd.data_home().join("gardener/alerts.json");
    assert!(saved.is_file(), "no alert state at {}", saved.display());
}

#[test]
fn restarting_ollama_with_new_settings_is_no_outage() {
    if !namespace::enter("restarting_ollama_with_new_settings_is_no_outage") {
        return;
    }
    let machine = machine();
    let monitor = Monitor::start(&machine);
    let log = machine.systemd.home().join("monitor.log");
    thread::sleep(Duration::from_secs(2 * INTERVAL_SECS));
    let before = machine.assert_active("gardener-ollama.service");

    machine.gardener_ok(&["ollama", "set", "OLLAMA_NUM_PARALLEL", "3", "--apply"]);
    assert_ne!(
        machine.assert_active("gardener-ollama.service"),
        before,
        "Ollama was not restarted"
    );
    // The samples around the restart and after it: none may call it an outage.
    thread::sleep(Duration::from_secs(3 * INTERVAL_SECS));
    let events = monitor.stop();
    assert!(
        events.is_empty(),
        "{events:#?}\n{}",
        fs::read_to_string(&log).unwrap_or_default()
    );
}
