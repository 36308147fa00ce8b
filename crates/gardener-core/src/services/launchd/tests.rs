//! Tests of the launchd manager's commands and of how `run` and `status` read
//! `launchctl`'s exit codes, against a scripted runner.

use super::*;
use crate::services::testing::ScriptedRunner;
use crate::services::{LastExit, ServiceState};

const DIR: &str = "/Users/ann/Library/LaunchAgents";
const PLIST: &str = "/Users/ann/Library/LaunchAgents/com.codebase-gardener.ollama.plist";
const TARGET: &str = "gui/501/com.codebase-gardener.ollama";
const LONG: Duration = Duration::from_secs(5);

const BOOTOUT: [&str; 3] = ["launchctl", "bootout", TARGET];
const BOOTSTRAP: [&str; 4] = ["launchctl", "bootstrap", "gui/501", PLIST];
const PRINT: [&str; 3] = ["launchctl", "print", TARGET];
const KICKSTART: [&str; 3] = ["launchctl", "kickstart", TARGET];
const KICKSTART_K: [&str; 4] = ["launchctl", "kickstart", "-k", TARGET];
const NOT_FOUND: &str =
    "Could not find service \"com.codebase-gardener.ollama\" in domain for user gui: 501\n";

fn manager(runner: &ScriptedRunner) -> Launchd {
    let mut m = Launchd::with_uid(DIR.into(), runner.boxed(), 501);
    m.poll_interval = Duration::from_millis(1);
    m
}

fn argv(inv: &Invocation) -> Vec<&str> {
    inv.0.iter().map(String::as_str).collect()
}

#[test]
fn paths_and_targets() {
    let m = manager(&ScriptedRunner::new());
    assert_eq!(m.platform(), Platform::Macos);
    assert_eq!(m.file_path(ServiceId::Ollama), PathBuf::from(PLIST));
    assert_eq!(
        m.file_path(ServiceId::App),
        PathBuf::from("/Users/ann/Library/LaunchAgents/com.codebase-gardener.app.plist")
    );
    assert_eq!(m.domain_target(), "gui/501");
    assert_eq!(
        m.service_target(ServiceId::App),
        "gui/501/com.codebase-gardener.app"
    );
    assert!(m.reload_commands().is_empty());
    assert!(m.reload().is_ok());
}

#[test]
fn new_uses_the_current_uid() {
    let m = Launchd::new(DIR.into(), ScriptedRunner::new().boxed());
    let uid = rustix::process::getuid().as_raw();
    assert_eq!(m.domain_target(), format!("gui/{uid}"));
}

#[test]
fn commands_for_every_action() {
    let m = manager(&ScriptedRunner::new());
    let cmds = |action| -> Vec<Vec<String>> {
        m.commands(action, ServiceId::Ollama)
            .into_iter()
            .map(|i| i.0)
            .collect()
    };
    let v = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(cmds(Action::Activate), [v(&BOOTOUT), v(&BOOTSTRAP)]);
    assert_eq!(cmds(Action::Start), [v(&BOOTSTRAP)]);
    assert_eq!(cmds(Action::Stop), [v(&BOOTOUT)]);
    assert_eq!(cmds(Action::Deactivate), [v(&BOOTOUT)]);
    assert_eq!(cmds(Action::Restart), [v(&KICKSTART_K)]);
}

#[test]
fn activate_waits_for_the_asynchronous_bootout_before_bootstrapping() {
    let r = ScriptedRunner::new();
    r.expect(&BOOTOUT, 0, "", "")
        .expect(&PRINT, 0, include_str!("testdata/running.txt"), "")
        .expect(&PRINT, 0, include_str!("testdata/not_running.txt"), "")
        .expect(&PRINT, 113, "", NOT_FOUND)
        .expect(&BOOTSTRAP, 0, "", "");
    manager(&r)
        .run(Action::Activate, ServiceId::Ollama, LONG)
        .unwrap();
    r.assert_done();
    // The common case runs exactly what `commands` shows, plus the polls.
    let ran: Vec<_> = r
        .calls()
        .into_iter()
        .filter(|i| i.0[1] != "print")
        .collect();
    assert_eq!(
        ran,
        manager(&r).commands(Action::Activate, ServiceId::Ollama)
    );
}

#[test]
fn activate_of_a_service_that_is_not_loaded_skips_the_wait() {
    for code in [3, 113] {
        let r = ScriptedRunner::new();
        r.expect(&BOOTOUT, code, "", "Boot-out failed: 3: No such process\n")
            .expect(&BOOTSTRAP, 0, "", "");
        manager(&r)
            .run(Action::Activate, ServiceId::Ollama, LONG)
            .unwrap();
        r.assert_done();
    }
}

#[test]
fn bootout_still_in_progress_is_waited_for() {
    let r = ScriptedRunner::new();
    r.expect(
        &BOOTOUT,
        36,
        "",
        "Boot-out failed: 36: Operation now in progress\n",
    )
    .expect(&PRINT, 0, include_str!("testdata/running.txt"), "")
    .expect(&PRINT, 113, "", NOT_FOUND);
    manager(&r)
        .run(Action::Stop, ServiceId::Ollama, LONG)
        .unwrap();
    r.assert_done();
}

#[test]
fn bootout_that_never_finishes_times_out() {
    let r = ScriptedRunner::new();
    r.expect(&BOOTOUT, 0, "", "");
    r.expect_forever(&PRINT, 0, include_str!("testdata/running.txt"));
    let m = manager(&r);
    let started = Instant::now();
    let err = m
        .run(
            Action::Deactivate,
            ServiceId::Ollama,
            Duration::from_millis(50),
        )
        .unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        matches!(
            err,
            Error::Timeout {
                service: ServiceId::Ollama,
                what: "unload",
                ..
            }
        ),
        "{err}"
    );
    assert!(r.calls().len() > 2, "polled more than once");
}

#[test]
fn zero_timeout_polls_once() {
    let r = ScriptedRunner::new();
    r.expect(&BOOTOUT, 0, "", "").expect(&PRINT, 0, "", "");
    let err = manager(&r)
        .run(Action::Stop, ServiceId::Ollama, Duration::ZERO)
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { secs: 0, .. }), "{err}");
    r.assert_done();
}

#[test]
fn stop_of_a_service_that_is_not_loaded_succeeds() {
    let r = ScriptedRunner::new();
    r.expect(&BOOTOUT, 113, "", NOT_FOUND);
    manager(&r)
        .run(Action::Stop, ServiceId::Ollama, LONG)
        .unwrap();
    r.assert_done();
}

#[test]
fn other_bootout_failures_are_errors_with_stderr() {
    let r = ScriptedRunner::new();
    r.expect(&BOOTOUT, 150, "", "Boot-out failed: 150: Operation not permitted while System Integrity Protection is engaged\n");
    let err = manager(&r)
        .run(Action::Deactivate, ServiceId::Ollama, LONG)
        .unwrap_err();
    match err {
        Error::Command {
            command,
            code,
            message,
        } => {
            assert_eq!(command, format!("launchctl bootout {TARGET}"));
            assert_eq!(code, 150);
            assert!(message.contains("System Integrity Protection"), "{message}");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn bootstrap_busy_while_still_unloading_is_retried() {
    let r = ScriptedRunner::new();
    r.expect(&BOOTOUT, 0, "", "")
        .expect(&PRINT, 113, "", NOT_FOUND)
        .expect(
            &BOOTSTRAP,
            5,
            "",
            "Bootstrap failed: 5: Input/output error\n",
        )
        .expect(&PRINT, 113, "", NOT_FOUND)
        .expect(
            &BOOTSTRAP,
            37,
            "",
            "Bootstrap failed: 37: Operation already in progress\n",
        )
        .expect(&PRINT, 113, "", NOT_FOUND)
        .expect(&BOOTSTRAP, 0, "", "");
    manager(&r)
        .run(Action::Activate, ServiceId::Ollama, LONG)
        .unwrap();
    r.assert_done();
}

#[test]
fn activate_unloads_again_when_bootstrap_finds_the_job_loaded() {
    let r = ScriptedRunner::new();
    r.expect(&BOOTOUT, 113, "", NOT_FOUND)
        .expect(
            &BOOTSTRAP,
            5,
            "",
            "Bootstrap failed: 5: Input/output error\n",
        )
        .expect(&PRINT, 0, include_str!("testdata/running.txt"), "")
        .expect(&BOOTOUT, 0, "", "")
        .expect(&PRINT, 113, "", NOT_FOUND)
        .expect(&BOOTSTRAP, 0, "", "");
    manager(&r)
        .run(Action::Activate, ServiceId::Ollama, LONG)
        .unwrap();
    r.assert_done();
}

#[test]
fn bootstrap_that_keeps_failing_explains_itself() {
    let r = ScriptedRunner::new();
    r.expect(&BOOTOUT, 113, "", NOT_FOUND);
    for _ in 0..BOOTSTRAP_ATTEMPTS {
        r.expect(
            &BOOTSTRAP,
            5,
            "",
            "Bootstrap failed: 5: Input/output error\n",
        )
        .expect(&PRINT, 113, "", NOT_FOUND);
    }
    let err = manager(&r)
        .run(Action::Activate, ServiceId::Ollama, LONG)
        .unwrap_err();
    r.assert_done();
    let Error::Command {
        command,
        code,
        message,
    } = err
    else {
        panic!("{err}");
    };
    assert_eq!(code, 5);
    assert_eq!(command, format!("launchctl bootstrap gui/501 {PLIST}"));
    assert!(
        message.contains(&format!("launchd refused to load {PLIST}")),
        "{message}"
    );
    assert!(
        message.contains("already be loaded or still unloading"),
        "{message}"
    );
    assert!(
        message.contains(&format!("launchctl print {TARGET}")),
        "{message}"
    );
    assert!(message.contains("Input/output error"), "{message}");
}

#[test]
fn start_bootstraps_an_unloaded_job() {
    let r = ScriptedRunner::new();
    r.expect(&BOOTSTRAP, 0, "", "");
    manager(&r)
        .run(Action::Start, ServiceId::Ollama, LONG)
        .unwrap();
    r.assert_done();
    assert_eq!(
        r.calls(),
        manager(&r).commands(Action::Start, ServiceId::Ollama)
    );
}

#[test]
fn start_kickstarts_a_job_that_is_already_loaded() {
    let r = ScriptedRunner::new();
    r.expect(
        &BOOTSTRAP,
        5,
        "",
        "Bootstrap failed: 5: Input/output error\n",
    )
    .expect(&PRINT, 0, include_str!("testdata/not_running.txt"), "")
    .expect(&KICKSTART, 0, "", "");
    manager(&r)
        .run(Action::Start, ServiceId::Ollama, LONG)
        .unwrap();
    r.assert_done();
}

#[test]
fn bootstrap_of_a_missing_plist_is_an_error_at_once() {
    let r = ScriptedRunner::new();
    r.expect(
        &BOOTSTRAP,
        2,
        "",
        "Bootstrap failed: 2: No such file or directory\n",
    );
    let err = manager(&r)
        .run(Action::Start, ServiceId::Ollama, LONG)
        .unwrap_err();
    assert!(
        err.to_string().contains("No such file or directory"),
        "{err}"
    );
    r.assert_done();
}

#[test]
fn restart_kills_and_restarts() {
    let r = ScriptedRunner::new();
    r.expect(&KICKSTART_K, 0, "", "");
    manager(&r)
        .run(Action::Restart, ServiceId::Ollama, LONG)
        .unwrap();
    assert_eq!(
        r.calls(),
        manager(&r).commands(Action::Restart, ServiceId::Ollama)
    );
}

#[test]
fn restart_of_an_unloaded_job_loads_it() {
    let r = ScriptedRunner::new();
    r.expect(&KICKSTART_K, 113, "", NOT_FOUND)
        .expect(&BOOTSTRAP, 0, "", "");
    manager(&r)
        .run(Action::Restart, ServiceId::Ollama, LONG)
        .unwrap();
    r.assert_done();
}

#[test]
fn missing_launchctl_is_a_spawn_error() {
    let r = ScriptedRunner::new();
    r.expect_spawn_error(&KICKSTART_K, std::io::ErrorKind::NotFound);
    let err = manager(&r)
        .run(Action::Restart, ServiceId::Ollama, LONG)
        .unwrap_err();
    assert!(
        matches!(&err, Error::Spawn { program, .. } if program == "launchctl"),
        "{err}"
    );
}

#[test]
fn killed_launchctl_reports_code_minus_one() {
    let r = ScriptedRunner::new();
    r.expect_killed(&KICKSTART_K);
    let err = manager(&r)
        .run(Action::Restart, ServiceId::Ollama, LONG)
        .unwrap_err();
    assert!(
        matches!(&err, Error::Command { code: -1, message, .. } if message.contains("signal")),
        "{err}"
    );
}

#[test]
fn silent_failures_get_a_known_meaning() {
    let r = ScriptedRunner::new();
    r.expect(&PRINT, 125, "", "");
    let err = manager(&r).status(ServiceId::Ollama).unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err}");
    let err = err.to_string();
    assert!(
        err.contains("logged in") && err.contains("Screen Sharing"),
        "{err}"
    );
}

#[test]
fn status_of_an_unloaded_service() {
    let r = ScriptedRunner::new();
    r.expect(&PRINT, 113, "", NOT_FOUND);
    assert_eq!(
        manager(&r).status(ServiceId::Ollama).unwrap(),
        ServiceStatus::not_installed(ServiceId::Ollama)
    );
}

#[test]
fn status_of_a_running_service() {
    let r = ScriptedRunner::new();
    r.expect(&PRINT, 0, include_str!("testdata/running.txt"), "");
    let s = manager(&r).status(ServiceId::Ollama).unwrap();
    assert_eq!(s.state, ServiceState::Running);
    assert_eq!(s.pid, Some(4242));
    assert_eq!(s.restarts, Some(2));
    assert_eq!(s.last_exit, Some(LastExit::Signal { signal: 9 }));
}

#[test]
fn unreadable_status_is_a_parse_error() {
    let r = ScriptedRunner::new();
    r.expect(&PRINT, 0, "something else entirely\n", "");
    let err = manager(&r).status(ServiceId::Ollama).unwrap_err();
    assert!(
        matches!(&err, Error::Parse { command, .. } if command == &format!("launchctl print {TARGET}")),
        "{err}"
    );
}

#[test]
fn uses_the_label_of_the_service_asked_for() {
    let r = ScriptedRunner::new();
    let m = manager(&r);
    let cmds = m.commands(Action::Activate, ServiceId::App);
    assert_eq!(
        argv(&cmds[0]),
        ["launchctl", "bootout", "gui/501/com.codebase-gardener.app"]
    );
    assert_eq!(
        argv(&cmds[1]),
        [
            "launchctl",
            "bootstrap",
            "gui/501",
            "/Users/ann/Library/LaunchAgents/com.codebase-gardener.app.plist"
        ]
    );
}
