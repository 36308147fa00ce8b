//! Parser for `launchctl print gui/UID/LABEL`, reading only the few top-level
//! fields Gardener needs: Apple documents the format as "not API".

use crate::services::{LastExit, ServiceId, ServiceState, ServiceStatus};

/// The top-level fields of one service dump that Gardener reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrintInfo {
    /// `state = …`: `running`, `not running`, `spawn scheduled`, `xpcproxy`, …
    pub state: Option<String>,
    /// `pid = …`, absent when no process is running.
    pub pid: Option<u32>,
    /// `runs = …`: how many times launchd has spawned the job since it was loaded.
    pub runs: Option<u32>,
    /// `last exit code = …`, verbatim.
    pub last_exit_code: Option<String>,
    /// `last terminating signal = …`, verbatim.
    pub last_terminating_signal: Option<String>,
}

/// Reads the top-level `key = value` lines of `text`.
///
/// Nested blocks (`environment = {`, `event triggers = {`, coalitions, …) are
/// skipped with everything inside them, because they contain their own
/// `state =` and `pid =` lines. Lines without ` = ` (argument lists,
/// `submitted job. ignore execute allowed`) are ignored, as are `\r` and
/// unusual indentation. An argument that is literally `}` would end the
/// `arguments` block early; launchd gives no way to tell it apart.
pub fn parse_print(text: &str) -> PrintInfo {
    let mut info = PrintInfo::default();
    let mut depth = 0usize;
    for line in text.lines() {
        let line = line.trim();
        if line == "}" {
            depth = depth.saturating_sub(1);
            continue;
        }
        if opens_block(line) {
            depth += 1;
            continue;
        }
        if depth != 1 {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.split_whitespace().collect::<Vec<_>>().join(" ");
        let value = value.trim();
        match key.as_str() {
            "state" => info.state = Some(value.split_whitespace().collect::<Vec<_>>().join(" ")),
            "pid" => info.pid = value.parse().ok().filter(|&pid| pid > 0),
            "runs" => info.runs = value.parse().ok(),
            "last exit code" => info.last_exit_code = Some(value.to_owned()),
            "last terminating signal" => info.last_terminating_signal = Some(value.to_owned()),
            _ => {}
        }
    }
    info
}

/// `name = {` (dictionaries) or `name => {` (event trigger entries).
fn opens_block(line: &str) -> bool {
    line.strip_suffix('{')
        .map(str::trim_end)
        .is_some_and(|head| head.ends_with('=') || head.ends_with("=>"))
}

/// Turns one `launchctl print` dump into a [`ServiceStatus`].
///
/// `xpcproxy` is launchd's exec trampoline: the job has a pid but the program
/// itself is not running yet, so it counts as `Starting`, like
/// `spawn scheduled` (waiting out `ThrottleInterval` after a crash). Unknown
/// states count as running when there is a pid and as stopped otherwise.
/// Fails when there is no top-level `state` line, which means the output is
/// not a service dump at all.
pub fn status_from_print(id: ServiceId, text: &str) -> Result<ServiceStatus, String> {
    let info = parse_print(text);
    let raw_state = info
        .state
        .clone()
        .ok_or_else(|| "no top-level `state = …` line".to_owned())?;
    let state = match raw_state.as_str() {
        "running" => ServiceState::Running,
        "spawn scheduled" | "xpcproxy" => ServiceState::Starting,
        "not running" | "waiting" | "exited" => ServiceState::Stopped,
        _ if info.pid.is_some() => ServiceState::Running,
        _ => ServiceState::Stopped,
    };
    let last_exit = info
        .last_terminating_signal
        .as_deref()
        .and_then(parse_signal)
        .or_else(|| info.last_exit_code.as_deref().and_then(parse_exit_code));
    Ok(ServiceStatus {
        id,
        state,
        raw_state,
        pid: info.pid,
        restarts: info.runs.map(|runs| runs.saturating_sub(1)),
        last_exit,
    })
}

/// `0`, `1`, `78: EX_CONFIG` are exit codes; `(never exited)` is nothing;
/// `9: Killed: 9` and `Killed: 9` name a signal; a negative number is a
/// signal too, as in `launchctl list`.
fn parse_exit_code(value: &str) -> Option<LastExit> {
    let value = value.trim();
    let digits_end = value
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && c == '-')))
        .map_or(value.len(), |(i, _)| i);
    let Ok(code) = value[..digits_end].parse::<i32>() else {
        return parse_signal(value);
    };
    if code < 0 {
        return Some(LastExit::Signal {
            signal: code.saturating_neg(),
        });
    }
    let rest = value[digits_end..].trim_start_matches(':').trim();
    match parse_signal(rest) {
        Some(signal) if rest.contains(':') => Some(signal),
        _ => Some(LastExit::Code { code }),
    }
}

/// `Killed: 9`, `Terminated: 15`, `Segmentation fault: 11`, or a bare number.
fn parse_signal(value: &str) -> Option<LastExit> {
    let number = value.rsplit_once(':').map_or(value, |(_, n)| n).trim();
    number
        .parse::<i32>()
        .ok()
        .filter(|&signal| signal > 0)
        .map(|signal| LastExit::Signal { signal })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUNNING: &str = include_str!("testdata/running.txt");
    const NOT_RUNNING: &str = include_str!("testdata/not_running.txt");
    const SPAWN_SCHEDULED: &str = include_str!("testdata/spawn_scheduled.txt");
    const XPCPROXY: &str = include_str!("testdata/xpcproxy.txt");

    fn status(text: &str) -> ServiceStatus {
        status_from_print(ServiceId::Ollama, text).unwrap()
    }

    #[test]
    fn running_agent_with_every_section() {
        assert_eq!(
            parse_print(RUNNING),
            PrintInfo {
                state: Some("running".into()),
                pid: Some(4242),
                runs: Some(3),
                last_exit_code: None,
                last_terminating_signal: Some("Killed: 9".into()),
            }
        );
        assert_eq!(
            status(RUNNING),
            ServiceStatus {
                id: ServiceId::Ollama,
                state: ServiceState::Running,
                raw_state: "running".into(),
                pid: Some(4242),
                restarts: Some(2),
                last_exit: Some(LastExit::Signal { signal: 9 }),
            }
        );
    }

    #[test]
    fn not_running_after_exit_code_1() {
        let s = status(NOT_RUNNING);
        assert_eq!(s.state, ServiceState::Stopped);
        assert_eq!(s.raw_state, "not running");
        assert_eq!(s.pid, None);
        assert_eq!(s.restarts, Some(0));
        assert_eq!(s.last_exit, Some(LastExit::Code { code: 1 }));
    }

    #[test]
    fn spawn_scheduled_ignores_state_and_pid_inside_event_triggers() {
        let info = parse_print(SPAWN_SCHEDULED);
        assert_eq!(info.state.as_deref(), Some("spawn scheduled"));
        assert_eq!(
            info.pid, None,
            "the pid = 77 line is nested two levels deep"
        );
        let s = status(SPAWN_SCHEDULED);
        assert_eq!(s.state, ServiceState::Starting);
        assert_eq!(s.restarts, Some(11));
        assert_eq!(s.last_exit, Some(LastExit::Code { code: 78 }));
    }

    #[test]
    fn xpcproxy_is_starting_with_a_pid() {
        let s = status(XPCPROXY);
        assert_eq!(s.state, ServiceState::Starting);
        assert_eq!(s.pid, Some(901));
        assert_eq!(s.restarts, Some(778));
        assert_eq!(s.last_exit, Some(LastExit::Signal { signal: 1 }));
    }

    #[test]
    fn nested_state_lines_do_not_leak_into_the_top_level() {
        // The coalition blocks say `state = active`; the top level says running.
        assert_eq!(parse_print(RUNNING).state.as_deref(), Some("running"));
        let text = "gui/501/x = {\n\tresource coalition = {\n\t\tstate = running\n\t\tpid = 12\n\t}\n\tstate = not running\n\tevent triggers = {\n\t\ta => {\n\t\t\tpid = 13\n\t\t}\n\t}\n}\n";
        let info = parse_print(text);
        assert_eq!(info.state.as_deref(), Some("not running"));
        assert_eq!(info.pid, None);
    }

    #[test]
    fn crlf_and_odd_whitespace() {
        let text = "gui/501/com.codebase-gardener.app = {\r\n    state   =   running  \r\n  pid = 321\r\n\tlast  exit   code = (never exited)\r\n\truns=1\r\n   environment = {  \r\n      pid => 5\r\n   }\r\n}\r\n";
        let s = status(text);
        assert_eq!(s.state, ServiceState::Running);
        assert_eq!(s.raw_state, "running");
        assert_eq!(s.pid, Some(321));
        assert_eq!(s.restarts, Some(0));
        assert_eq!(s.last_exit, None);
    }

    #[test]
    fn missing_pid_while_running_is_tolerated() {
        let s = status("gui/501/x = {\n\tstate = running\n\truns = 1\n}\n");
        assert_eq!(s.state, ServiceState::Running);
        assert_eq!(s.pid, None);
    }

    #[test]
    fn unknown_state_falls_back_on_the_pid() {
        let s = status("gui/501/x = {\n\tstate = stopping\n\tpid = 9\n}\n");
        assert_eq!(
            (s.state, s.raw_state.as_str()),
            (ServiceState::Running, "stopping")
        );
        let s = status("gui/501/x = {\n\tstate = frobnicated\n}\n");
        assert_eq!(s.state, ServiceState::Stopped);
    }

    #[test]
    fn output_without_a_state_line_is_an_error() {
        assert!(status_from_print(ServiceId::App, "").is_err());
        // A bare `state =` line outside any block is not a service dump.
        assert!(status_from_print(ServiceId::App, "state = running\n").is_err());
        let err = status_from_print(ServiceId::App, "gui/501/x = {\n\tpid = 3\n}\n").unwrap_err();
        assert!(err.contains("state"), "{err}");
    }

    #[test]
    fn exit_code_forms() {
        let code = |code| Some(LastExit::Code { code });
        let signal = |signal| Some(LastExit::Signal { signal });
        assert_eq!(parse_exit_code("0"), code(0));
        assert_eq!(parse_exit_code("1"), code(1));
        assert_eq!(parse_exit_code(" 78: EX_CONFIG "), code(78));
        assert_eq!(parse_exit_code("(never exited)"), None);
        assert_eq!(parse_exit_code("9: Killed: 9"), signal(9));
        assert_eq!(parse_exit_code("Killed: 9"), signal(9));
        assert_eq!(parse_exit_code("-15"), signal(15));
        assert_eq!(parse_exit_code("garbage"), None);
        assert_eq!(parse_exit_code(""), None);
        assert_eq!(parse_signal("Segmentation fault: 11"), signal(11));
        assert_eq!(parse_signal("Terminated: 15"), signal(15));
        assert_eq!(parse_signal("Killed"), None);
    }

    #[test]
    fn a_signal_line_wins_over_an_exit_code_line() {
        let text = "gui/501/x = {\n\tstate = not running\n\tlast exit code = 0\n\tlast terminating signal = Terminated: 15\n}\n";
        assert_eq!(
            status(text).last_exit,
            Some(LastExit::Signal { signal: 15 })
        );
        // An unreadable signal line does not hide a readable exit code.
        let text = "gui/501/x = {\n\tstate = not running\n\tlast exit code = 2\n\tlast terminating signal = ?\n}\n";
        assert_eq!(status(text).last_exit, Some(LastExit::Code { code: 2 }));
    }
}
