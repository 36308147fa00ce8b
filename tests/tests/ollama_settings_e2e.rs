//! End to end on Linux: `gardener ollama set … --apply` under a real systemd user manager
//! restarts the stand-in Ollama with the new setting, read back from its `/proc/PID/environ`.
//!
//! Needs root (for the private namespaces); without it the test prints a skip notice.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;

use gardener_e2e::machine::Machine;
use gardener_e2e::namespace;

const OLLAMA_UNIT: &str = "gardener-ollama.service";

fn environ(pid: u32) -> BTreeMap<String, String> {
    let bytes = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    bytes
        .split(|b| *b == 0)
        .filter_map(|e| {
            let e = String::from_utf8_lossy(e);
            let (k, v) = e.split_once('=')?;
            Some((k.to_owned(), v.to_owned()))
        })
        .collect()
}

#[test]
fn a_setting_applied_reaches_the_running_ollama() {
    if !namespace::enter("a_setting_applied_reaches_the_running_ollama") {
        return;
    }
    let machine = Machine::new(Path::new(env!("CARGO_BIN_EXE_stand-in-ollama")));
    machine.gardener_ok(&["install", "--yes"]);
    machine.assert_healthy();
    let before = machine.assert_active(OLLAMA_UNIT);
    assert!(!environ(before).contains_key("OLLAMA_NUM_PARALLEL"));

    eprintln!("step: set OLLAMA_NUM_PARALLEL=3 --apply");
    let set = machine.gardener_json(&[
        "ollama",
        "set",
        "OLLAMA_NUM_PARALLEL",
        "3",
        "--apply",
        "--json",
    ]);
    assert_eq!(
        set["diff"],
        serde_json::json!(["+ Environment=\"OLLAMA_NUM_PARALLEL=3\""]),
        "{set:#}"
    );
    let pid = machine.assert_active(OLLAMA_UNIT);
    assert_ne!(pid, before, "Ollama was not restarted");
    assert_eq!(set["applied"]["pid"], pid, "{set:#}");
    assert_eq!(
        set["applied"]["running"]["OLLAMA_NUM_PARALLEL"], "3",
        "{set:#}"
    );
    assert_eq!(environ(pid)["OLLAMA_NUM_PARALLEL"], "3");
    assert!(
        std::fs::read_to_string(machine.unit_file(OLLAMA_UNIT))
            .unwrap()
            .contains("Environment=\"OLLAMA_NUM_PARALLEL=3\"")
    );
    assert_eq!(machine.status_of("ollama")["drift"], "in-sync");
    machine.assert_healthy();
    assert_eq!(set["applied"]["restarted"], true, "{set:#}");

    eprintln!("step: apply again, with nothing to change");
    let again = machine.gardener_json(&["ollama", "apply", "--json"]);
    assert_eq!(again["restarted"], false, "{again:#}");
    assert_eq!(again["latency_ms"], serde_json::Value::Null, "{again:#}");
    assert_eq!(again["pid"], pid, "{again:#}");
    assert_eq!(
        machine.assert_active(OLLAMA_UNIT),
        pid,
        "Ollama was restarted though it already ran with the settings"
    );

    eprintln!("step: --unset, then apply");
    machine.gardener_ok(&["ollama", "set", "OLLAMA_NUM_PARALLEL", "--unset"]);
    assert_eq!(
        machine.assert_active(OLLAMA_UNIT),
        pid,
        "set without --apply restarted Ollama"
    );
    let applied = machine.gardener_json(&["ollama", "apply", "--json"]);
    let last = machine.assert_active(OLLAMA_UNIT);
    assert_ne!(last, pid);
    assert_eq!(applied["pid"], last, "{applied:#}");
    assert_eq!(
        applied["running"]["OLLAMA_NUM_PARALLEL"],
        serde_json::Value::Null
    );
    assert!(!environ(last).contains_key("OLLAMA_NUM_PARALLEL"));
    assert_eq!(environ(last)["OLLAMA_KEEP_ALIVE"], "5m");
}
