//! `gardener logs` driven for real against a temporary logs directory: tails,
//! `--lines`, `--err`, missing files, JSON shape, usage errors, Gardener's
//! daily logs, and `--follow`.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;

mod common;

use common::TempHome;

struct Home {
    home: TempHome,
    config: PathBuf,
}

impl Home {
    /// A temp home whose config puts the logs in `<home>/logs`.
    fn new() -> Self {
        let home = TempHome::new();
        let logs = home.path().join("logs");
        std::fs::create_dir(&logs).unwrap();
        let config = home.path().join("gardener.toml");
        std::fs::write(&config, format!("[paths]\nlogs = \"{}\"\n", logs.display())).unwrap();
        Self { home, config }
    }

    fn logs(&self) -> PathBuf {
        self.home.path().join("logs")
    }

    fn write_log(&self, name: &str, text: &str) -> PathBuf {
        let p = self.logs().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// `gardener --config <home>/gardener.toml`.
    fn command(&self) -> std::process::Command {
        let mut c = self.home.command();
        c.arg("--config").arg(&self.config);
        c
    }

    fn cmd(&self) -> Command {
        Command::from_std(self.command())
    }
}

fn numbered(n: usize) -> String {
    (1..=n).map(|i| format!("line {i}\n")).collect()
}

fn stdout_lines(out: &std::process::Output) -> Vec<String> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn service_log_tail_defaults_to_fifty_lines() {
    let home = Home::new();
    home.write_log("app.log", &numbered(80));
    let out = home.cmd().args(["logs", "app"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let lines = stdout_lines(&out);
    assert_eq!(lines.len(), 50);
    assert_eq!(lines[0], "line 31");
    assert_eq!(lines[49], "line 80");
}

#[test]
fn lines_option_and_err_pick_the_stderr_log() {
    let home = Home::new();
    home.write_log("ollama.log", "stdout line\n");
    home.write_log("ollama.err.log", &numbered(5));
    let out = home
        .cmd()
        .args(["logs", "ollama", "--err", "-n", "2"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout_lines(&out), ["line 4", "line 5"]);
    let out = home
        .cmd()
        .args(["logs", "ollama", "--lines", "1"])
        .output()
        .unwrap();
    assert_eq!(stdout_lines(&out), ["stdout line"]);
}

#[test]
fn missing_log_says_where_it_looked_and_exits_1() {
    let home = Home::new();
    let expected = home.logs().join("app.log");
    home.cmd()
        .args(["logs", "app"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            predicate::str::contains(expected.display().to_string())
                .and(predicate::str::contains("may not have started yet")),
        );
}

#[test]
fn no_target_shows_every_service_log_under_headers() {
    let home = Home::new();
    let out_log = home.write_log("ollama.log", "o1\no2\n");
    let err_log = home.write_log("app.err.log", "e1\n");
    let out = home.cmd().args(["logs", "-n", "1"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        stdout_lines(&out),
        [
            format!("==> {} <==", out_log.display()),
            "o2".into(),
            String::new(),
            format!("==> {} <==", err_log.display()),
            "e1".into(),
        ]
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("ollama.err.log"), "{stderr}");
    assert!(stderr.contains("app.log"), "{stderr}");

    // None at all: a failure naming the directory.
    let empty = Home::new();
    empty
        .cmd()
        .args(["logs"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(empty.logs().display().to_string()));
}

#[test]
fn json_lists_files_with_path_and_lines() {
    let home = Home::new();
    let p = home.write_log("app.log", "a\nb\nc\n");
    let out = home
        .cmd()
        .args(["--json", "logs", "app", "-n", "2"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({ "files": [
            { "path": p.display().to_string(), "exists": true, "lines": ["b", "c"] }
        ] })
    );
}

#[test]
fn follow_with_json_and_err_with_gardener_are_usage_errors() {
    let home = Home::new();
    home.write_log("app.log", "a\n");
    home.cmd()
        .args(["--json", "logs", "app", "--follow"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("\"usage\""));
    home.cmd()
        .args(["logs", "gardener", "--err"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--err"));
}

#[test]
fn gardener_target_picks_the_newest_daily_file() {
    let home = Home::new();
    home.write_log("gardener.2024-03-09.log", "older\n");
    home.write_log("gardener.2024-03-10.log", "newest\n");
    home.write_log("gardener.2024-02-28.log", "oldest\n");
    home.write_log("app.log", "not gardener\n");
    let out = home.cmd().args(["logs", "gardener"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout_lines(&out), ["newest"]);

    let none = Home::new();
    none.cmd()
        .args(["logs", "gardener"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("gardener.YYYY-MM-DD.log"));
}

/// Kills the child when the test ends, pass or fail.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn follow_prints_lines_appended_after_the_tail() {
    let home = Home::new();
    let log = home.write_log("app.log", "before\n");
    let mut c = home.command();
    let mut child = Killed(
        c.args(["logs", "app", "-f"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let next = || rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(next(), "before");
    append(&log, "after 1\n");
    assert_eq!(next(), "after 1");
    // Copy-truncate as rotation does: the follower starts over at 0.
    std::fs::copy(&log, home.logs().join("app.log.1")).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    std::thread::sleep(Duration::from_millis(600));
    append(&log, "x\n");
    assert_eq!(next(), "x");
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}
