//! The `gardener` binary driven for real in a temporary home: dry-run plans
//! (snapshotted), config errors, exit codes, and refusals that change nothing.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::path::PathBuf;

use predicates::prelude::*;

mod common;

use common::TempHome as Home;

/// What these tests add to the shared temporary home.
trait HomeExt {
    fn config(&self, text: &str) -> PathBuf;
    fn tree(&self) -> Vec<PathBuf>;
}

impl HomeExt for Home {
    fn config(&self, text: &str) -> PathBuf {
        let p = self.path().join("gardener.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Every path under the home, relative.
    fn tree(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![self.path().to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                }
                out.push(e.path().strip_prefix(self.path()).unwrap().to_path_buf());
            }
        }
        out.sort();
        out
    }
}

// The macOS plan is rendered on Linux by the tests below; on a Mac it is
// the machine's own plan, which these snapshots do not describe.
#[cfg(target_os = "linux")]
const MAC_CONFIG: &str = r#"
[ollama]
binary = "/opt/homebrew/bin/ollama"
[ollama.env]
OLLAMA_NUM_PARALLEL = "2"
[app]
command = ["/Users/ann/.local/bin/codebase-gardener", "serve", "--host", "127.0.0.1", "--port", "7860"]
"#;

#[cfg(target_os = "linux")]
fn filtered<T>(home: &Home, f: impl FnOnce() -> T) -> T {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&regex_escape(&home.path().display().to_string()), "[HOME]");
    settings.add_filter(r"gui/\d+", "gui/[UID]");
    settings.bind(f)
}

#[cfg(target_os = "linux")]
fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

// The snapshot says "rendered for macos on linux"; on a Mac it is this machine's plan.
#[cfg(target_os = "linux")]
#[test]
fn dry_run_renders_the_macos_plan_on_linux() {
    let home = Home::new();
    let config = home.config(MAC_CONFIG);
    let out = home
        .cmd()
        .args(["install", "--dry-run", "--platform", "macos", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("<key>Label</key>") && text.contains("launchctl bootstrap"),
        "{text}"
    );
    assert!(!text.contains("ResidentSetSize"));
    filtered(&home, || insta::assert_snapshot!("macos_dry_run", text));
    assert!(
        home.tree() == [PathBuf::from("gardener.toml")],
        "a dry run writes nothing: {:?}",
        home.tree()
    );
}

#[cfg(target_os = "linux")]
#[test]
fn dry_run_json_has_steps_with_kinds_paths_modes_content_and_argv() {
    let home = Home::new();
    let config = home.config(MAC_CONFIG);
    let out = home
        .cmd()
        .args([
            "install",
            "--dry-run",
            "--platform",
            "macos",
            "--json",
            "--config",
        ])
        .arg(&config)
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let steps = v["steps"].as_array().unwrap();
    for s in steps {
        match s["kind"].as_str().unwrap() {
            "file" => assert!(
                s["path"].is_string() && s["mode"].is_string() && s["content"].is_string(),
                "{s}"
            ),
            "command" => assert!(s["argv"].as_array().is_some_and(|a| !a.is_empty()), "{s}"),
            "check" | "dir" | "wait-healthy" | "remove" => {}
            other => panic!("unexpected kind {other}"),
        }
    }
    let plist = steps
        .iter()
        .find(|s| {
            s["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("com.codebase-gardener.ollama.plist"))
        })
        .unwrap();
    assert_eq!(plist["mode"], "0644");
    filtered(&home, || {
        insta::assert_json_snapshot!("macos_dry_run_json", v)
    });
}

#[test]
fn platform_without_dry_run_is_a_usage_error() {
    let home = Home::new();
    let other = if cfg!(target_os = "macos") {
        "linux"
    } else {
        "macos"
    };
    home.cmd()
        .args(["install", "--yes", "--platform", other])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--dry-run"));
    assert!(home.tree().is_empty());
}

#[test]
fn invalid_config_exits_2_naming_file_line_and_key() {
    let home = Home::new();
    let config = home.config("[app]\nhealth_url = \"http://127.0.0.1:7860/\"\nworkers = 2\n");
    home.cmd()
        .args(["config", "validate", "--config"])
        .arg(&config)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{}:3:1: key `app.workers`: unknown key `workers`",
            config.display()
        )));
}

#[test]
fn errors_in_json_mode_have_a_stable_shape() {
    let home = Home::new();
    let config = home.config("[ollama]\nhost = \"0.0.0.0:11434\"\n");
    let out = home
        .cmd()
        .args(["--json", "service", "status", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["code"], "config");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("loopback"),
        "{v}"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn config_path_follows_xdg_config_home() {
    let home = Home::new();
    home.cmd()
        .args(["config", "path"])
        .assert()
        .success()
        .stdout(format!(
            "{}\n",
            home.path().join(".config/gardener/gardener.toml").display()
        ));
}

#[test]
fn config_show_prints_every_effective_key() {
    let home = Home::new();
    let config = home.config("[ollama.env]\nOLLAMA_NUM_PARALLEL = \"4\"\n");
    let out = home
        .cmd()
        .args(["config", "show", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "host = \"127.0.0.1:11434\"",
        "OLLAMA_NUM_PARALLEL = \"4\"",
        "OLLAMA_KEEP_ALIVE = \"5m\"",
        "restart_delay_secs = 5",
        "health_url =",
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn install_with_a_missing_ollama_says_how_to_fix_and_writes_nothing() {
    let home = Home::new();
    let config = home.config(&format!(
        "[ollama]\nbinary = \"{}/nope/ollama\"\n",
        home.path().display()
    ));
    let before = home.tree();
    home.cmd()
        .args(["install", "--yes", "--config"])
        .arg(&config)
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("nothing was changed")
                .and(predicate::str::contains("does not exist"))
                .and(predicate::str::contains("fix:")),
        );
    assert_eq!(home.tree(), before, "nothing half-installed");
}

#[test]
fn uninstall_with_nothing_installed_is_a_no_op() {
    let home = Home::new();
    home.cmd()
        .args(["uninstall", "--yes"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Nothing to remove"));
    assert!(home.tree().is_empty());
}

#[test]
fn help_lists_the_subcommands() {
    let home = Home::new();
    let out = home.cmd().arg("--help").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for sub in ["install", "uninstall", "service", "config", "doctor"] {
        assert!(text.contains(sub), "{text}");
    }
}
