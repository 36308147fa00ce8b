//! Parser for `systemctl --user show -p … UNIT`, which prints `Key=Value`
//! lines in systemd's own order, whatever order they were asked for in.

use std::collections::HashMap;

use crate::services::{LastExit, ServiceId, ServiceState, ServiceStatus};

/// The properties `status` asks for.
pub const PROPERTIES: &str =
    "Id,LoadState,ActiveState,SubState,MainPID,NRestarts,ExecMainCode,ExecMainStatus,Result";

/// `si_code` values systemd reports as `ExecMainCode` (from `<signal.h>`).
const CLD_EXITED: u32 = 1;
const CLD_KILLED: u32 = 2;
const CLD_DUMPED: u32 = 3;

/// `Key=Value` lines as a map; later duplicates win, lines without `=` are ignored.
pub fn parse_show(text: &str) -> HashMap<&str, &str> {
    text.lines()
        .filter_map(|line| line.trim_end_matches('\r').split_once('='))
        .map(|(key, value)| (key.trim(), value.trim()))
        .collect()
}

/// Turns `systemctl show` output into a [`ServiceStatus`].
///
/// `LoadState=not-found` with `ActiveState=inactive` (what an unknown unit
/// gives, with exit code 0) is `NotInstalled`. While systemd waits out `RestartSec` after a crash the
/// unit is `activating (auto-restart)`, which counts as `Starting`.
pub fn status_from_show(id: ServiceId, text: &str) -> Result<ServiceStatus, String> {
    let props = parse_show(text);
    let get = |key: &str| props.get(key).copied().filter(|v| !v.is_empty());
    let active = get("ActiveState").ok_or_else(|| "no ActiveState property".to_owned())?;
    // A unit whose file was removed while it ran is `not-found` but still active.
    if get("LoadState") == Some("not-found") && active == "inactive" {
        return Ok(ServiceStatus::not_installed(id));
    }
    let state = match active {
        "active" => ServiceState::Running,
        "activating" | "reloading" | "refreshing" => ServiceState::Starting,
        "deactivating" => ServiceState::Stopping,
        "inactive" | "maintenance" => ServiceState::Stopped,
        "failed" => ServiceState::Failed,
        other => return Err(format!("unknown ActiveState {other:?}")),
    };
    let raw_state = match get("SubState") {
        Some(sub) => format!("{active} ({sub})"),
        None => active.to_owned(),
    };
    let number = |key: &str| -> Result<Option<u32>, String> {
        get(key)
            .map(|v| {
                v.parse::<u32>()
                    .map_err(|_| format!("{key}={v} is not a number"))
            })
            .transpose()
    };
    let pid = number("MainPID")?.filter(|&pid| pid != 0);
    let restarts = number("NRestarts")?;
    let status = get("ExecMainStatus")
        .map(|v| {
            v.parse::<i32>()
                .map_err(|_| format!("ExecMainStatus={v} is not a number"))
        })
        .transpose()?;
    let last_exit = match (number("ExecMainCode")?, status) {
        (Some(CLD_EXITED), Some(code)) => Some(LastExit::Code { code }),
        (Some(CLD_KILLED | CLD_DUMPED), Some(signal)) => Some(LastExit::Signal { signal }),
        _ => None,
    };
    Ok(ServiceStatus {
        id,
        state,
        raw_state,
        pid,
        restarts,
        last_exit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recorded from systemd 252's user manager (Debian 12), for units that
    /// were running, crashed, failed and stopped.
    const UNKNOWN: &str = include_str!("testdata/unknown.txt");
    const INACTIVE: &str = include_str!("testdata/inactive.txt");
    const RUNNING: &str = include_str!("testdata/running.txt");
    const AUTO_RESTART_SIGNAL: &str = include_str!("testdata/auto_restart_signal.txt");
    const AUTO_RESTART_EXIT: &str = include_str!("testdata/auto_restart_exit.txt");
    const RUNNING_AFTER_RESTART: &str = include_str!("testdata/running_after_restart.txt");
    const FAILED: &str = include_str!("testdata/failed.txt");
    const STOPPED: &str = include_str!("testdata/stopped.txt");

    fn status(text: &str) -> ServiceStatus {
        status_from_show(ServiceId::App, text).unwrap()
    }

    #[test]
    fn unknown_unit_is_not_installed() {
        assert_eq!(
            status(UNKNOWN),
            ServiceStatus::not_installed(ServiceId::App)
        );
    }

    #[test]
    fn removed_unit_that_still_runs_is_not_reported_missing() {
        let s = status("LoadState=not-found\nActiveState=active\nSubState=running\nMainPID=5\n");
        assert_eq!((s.state, s.pid), (ServiceState::Running, Some(5)));
    }

    #[test]
    fn properties_come_in_systemds_order_not_ours() {
        let first = RUNNING.lines().next().unwrap();
        assert!(
            first.starts_with("MainPID="),
            "the recording is in systemd's order"
        );
        assert_eq!(parse_show(RUNNING)["Id"], "gardener-app.service");
    }

    #[test]
    fn loaded_but_never_started() {
        let s = status(INACTIVE);
        assert_eq!(s.state, ServiceState::Stopped);
        assert_eq!(s.raw_state, "inactive (dead)");
        assert_eq!((s.pid, s.restarts, s.last_exit), (None, Some(0), None));
    }

    #[test]
    fn running() {
        assert_eq!(
            status(RUNNING),
            ServiceStatus {
                id: ServiceId::App,
                state: ServiceState::Running,
                raw_state: "active (running)".into(),
                pid: Some(15730),
                restarts: Some(0),
                last_exit: None,
            }
        );
    }

    #[test]
    fn waiting_to_restart_after_kill_9() {
        let s = status(AUTO_RESTART_SIGNAL);
        assert_eq!(s.state, ServiceState::Starting);
        assert_eq!(s.raw_state, "activating (auto-restart)");
        assert_eq!(s.pid, None);
        assert_eq!(s.last_exit, Some(LastExit::Signal { signal: 9 }));
    }

    #[test]
    fn waiting_to_restart_after_exit_3() {
        let s = status(AUTO_RESTART_EXIT);
        assert_eq!(s.state, ServiceState::Starting);
        assert_eq!(s.last_exit, Some(LastExit::Code { code: 3 }));
    }

    #[test]
    fn running_again_counts_the_restart() {
        let s = status(RUNNING_AFTER_RESTART);
        assert_eq!(s.state, ServiceState::Running);
        assert_eq!((s.pid, s.restarts), (Some(15785), Some(1)));
    }

    #[test]
    fn failed() {
        let s = status(FAILED);
        assert_eq!(s.state, ServiceState::Failed);
        assert_eq!(s.raw_state, "failed (failed)");
        assert_eq!(s.last_exit, Some(LastExit::Code { code: 7 }));
    }

    #[test]
    fn stopped_by_sigterm() {
        let s = status(STOPPED);
        assert_eq!(s.state, ServiceState::Stopped);
        assert_eq!(s.restarts, Some(1));
        assert_eq!(s.last_exit, Some(LastExit::Signal { signal: 15 }));
    }

    #[test]
    fn other_states() {
        let with = |active: &str| status(&format!("ActiveState={active}\nSubState=x\n")).state;
        assert_eq!(with("deactivating"), ServiceState::Stopping);
        assert_eq!(with("reloading"), ServiceState::Starting);
        assert!(status_from_show(ServiceId::App, "ActiveState=bogus\n").is_err());
    }

    #[test]
    fn dumped_core_is_a_signal() {
        let s = status("ActiveState=failed\nSubState=failed\nExecMainCode=3\nExecMainStatus=11\n");
        assert_eq!(s.last_exit, Some(LastExit::Signal { signal: 11 }));
        assert_eq!(s.raw_state, "failed (failed)");
    }

    #[test]
    fn tolerates_crlf_and_missing_properties() {
        let s = status("ActiveState=active\r\nSubState=running\r\nMainPID=12\r\n");
        assert_eq!(
            (s.state, s.pid, s.restarts),
            (ServiceState::Running, Some(12), None)
        );
        assert_eq!(s.raw_state, "active (running)");
        // A value may itself contain `=`; only the first one splits.
        assert_eq!(parse_show("Result=a=b\n")["Result"], "a=b");
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(status_from_show(ServiceId::App, "").is_err());
        assert!(status_from_show(ServiceId::App, "Failed to connect to bus\n").is_err());
        let err =
            status_from_show(ServiceId::App, "ActiveState=active\nMainPID=abc\n").unwrap_err();
        assert!(err.contains("MainPID"), "{err}");
    }
}
