//! Checks the scheduled-backup timer files with the real tools that read them,
//! like `service_files.rs` does for the services: CPython's `plistlib` and
//! libplist's `plistutil` for the plist, `systemd-analyze verify` for the
//! timer and its service. Missing tools fail the test, because CI must run them.

// Helpers outside #[test] functions are test code too.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{assert_ran, plistlib, plistutil_round_trip, run_tool, systemd_verify, user_home};
use gardener_core::backup::schedule::{
    LAUNCHD_LABEL, SYSTEMD_SERVICE, SYSTEMD_TIMER, launchd_plist, systemd_units,
};
use gardener_core::config::Schedule;
use serde_json::{Value, json};

const WEEKLY: Schedule = Schedule::Weekly {
    weekday: 6,
    hour: 23,
    minute: 59,
};

/// A temp tree with a real executable and log directory, with the spaces,
/// `%` and `$` that break naive renderers.
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    gardener: PathBuf,
    config: PathBuf,
    logs: (PathBuf, PathBuf),
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let gardener = root.join("Gardener 100%/bin $1/gardener");
        fs::create_dir_all(gardener.parent().unwrap()).unwrap();
        fs::write(&gardener, "#!/bin/sh\nexit 0\n").unwrap();
        fs::set_permissions(&gardener, fs::Permissions::from_mode(0o755)).unwrap();
        let logs = root.join("Logs/Gardener $USER");
        fs::create_dir_all(&logs).unwrap();
        Self {
            _dir: dir,
            config: root.join("Application Support/gardener ${HOME}.toml"),
            logs: (logs.join("backup.log"), logs.join("backup err.log")),
            gardener,
            root,
        }
    }

    fn logs(&self) -> (&Path, &Path) {
        (&self.logs.0, &self.logs.1)
    }
}

fn expected_plist(fx: &Fixture) -> Value {
    json!({
        "Label": LAUNCHD_LABEL,
        "ProgramArguments": [
            fx.gardener, "--config", fx.config, "backup", "create", "--scheduled"
        ],
        // Sunday is launchd's day 0.
        "StartCalendarInterval": { "Weekday": 0, "Hour": 23, "Minute": 59 },
        "ProcessType": "Background",
        "LowPriorityIO": true,
        "Nice": 10,
        "StandardOutPath": fx.logs.0,
        "StandardErrorPath": fx.logs.1,
    })
}

#[test]
fn backup_plist_reads_back_with_plistlib_and_plistutil() {
    let fx = Fixture::new();
    let xml = launchd_plist(WEEKLY, &fx.gardener, &fx.config, fx.logs())
        .unwrap()
        .unwrap();
    let path = fx.root.join(format!("{LAUNCHD_LABEL}.plist"));
    fs::write(&path, xml).unwrap();
    assert_eq!(plistlib(&path), expected_plist(&fx));

    let back = plistutil_round_trip(&path);
    assert_eq!(plistlib(&back), expected_plist(&fx));
}

#[test]
fn backup_timer_and_service_pass_systemd_analyze_verify() {
    let fx = Fixture::new();
    let (home, runtime) = user_home(&fx.root);
    let unit_dir = home.join(".config/systemd/user");
    fs::create_dir_all(&unit_dir).unwrap();
    for schedule in [Schedule::Daily { hour: 3, minute: 0 }, WEEKLY] {
        let (service, timer) = systemd_units(schedule, &fx.gardener, &fx.config, fx.logs())
            .unwrap()
            .unwrap();
        fs::write(unit_dir.join(SYSTEMD_SERVICE), &service).unwrap();
        fs::write(unit_dir.join(SYSTEMD_TIMER), &timer).unwrap();
        // Verifying the timer loads the service it starts as well.
        for unit in [SYSTEMD_TIMER, SYSTEMD_SERVICE] {
            let (status, text) = systemd_verify(&unit_dir.join(unit), &home, &runtime, &fx.root);
            assert!(
                status.success() && text.is_empty(),
                "systemd-analyze verify {unit} ({status}):\n{text}\n--- service ---\n{service}\n--- timer ---\n{timer}",
            );
        }
    }
}

#[test]
fn systemd_analyze_calendar_agrees_with_on_calendar() {
    // The weekly expression means Sunday 23:59 to systemd itself.
    let fx = Fixture::new();
    let (_, timer) = systemd_units(WEEKLY, &fx.gardener, &fx.config, fx.logs())
        .unwrap()
        .unwrap();
    let expr = timer
        .lines()
        .find_map(|l| l.strip_prefix("OnCalendar="))
        .unwrap();
    let out = run_tool(
        Command::new("systemd-analyze").args(["calendar", expr]),
        "systemd",
    );
    assert_ran(&out, &format!("systemd-analyze calendar {expr:?}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Normalized form: Sun *-*-* 23:59:00"),
        "{text}"
    );
    let next = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Next elapse: "))
        .unwrap();
    assert!(
        next.starts_with("Sun ") && next.contains(" 23:59:00"),
        "{text}"
    );
}
