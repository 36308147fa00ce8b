//! `gardener ollama settings|set|apply` driven for real in a temporary
//! home: values shown, written with comments kept, refused, removed.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::path::PathBuf;

use predicates::prelude::*;

mod common;

use common::TempHome as Home;

/// What these tests add to the shared temporary home.
trait HomeExt {
    fn config_file(&self) -> PathBuf;
    fn write_config(&self, text: &str);
    fn config(&self) -> String;
}

impl HomeExt for Home {
    /// The default config file.
    fn config_file(&self) -> PathBuf {
        self.path().join(".config/gardener/gardener.toml")
    }

    fn write_config(&self, text: &str) {
        let p = self.config_file();
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
    }

    fn config(&self) -> String {
        std::fs::read_to_string(self.config_file()).unwrap()
    }
}

const CONFIG: &str = "# mine\n[ollama.env]\n# the team's box\nOLLAMA_DEBUG = \"1\"\n\n[monitor]\ninterval_secs = 7 # slow\n";

#[test]
fn settings_show_each_value_or_default_with_what_it_does() {
    let home = Home::new();
    home.cmd()
        .args(["ollama", "settings"])
        .assert()
        .success()
        .stdout(predicate::str::contains("OLLAMA_KEEP_ALIVE"))
        .stdout(predicate::str::contains("5m (Gardener's default)"))
        .stdout(predicate::str::contains("OLLAMA_CONTEXT_LENGTH"))
        .stdout(predicate::str::contains("default"))
        .stdout(predicate::str::contains(
            "How many requests each loaded model",
        ));
    let out = home
        .cmd()
        .args(["ollama", "settings", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let all = v["settings"].as_array().unwrap();
    assert_eq!(all.len(), 6);
    let parallel = all
        .iter()
        .find(|s| s["name"] == "OLLAMA_NUM_PARALLEL")
        .unwrap();
    assert_eq!(parallel["value"], serde_json::Value::Null);
    assert_eq!(parallel["source"], "ollama");
}

#[test]
fn set_writes_the_value_keeping_comments_and_shows_the_service_change() {
    let home = Home::new();
    home.write_config(CONFIG);
    home.cmd()
        .args(["ollama", "set", "OLLAMA_NUM_PARALLEL", "3"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "OLLAMA_NUM_PARALLEL = \"3\" written",
        ))
        .stdout(predicate::str::contains(
            "+ Environment=\"OLLAMA_NUM_PARALLEL=3\"",
        ))
        .stdout(predicate::str::contains("gardener ollama apply"));
    assert_eq!(
        home.config(),
        CONFIG.replace(
            "OLLAMA_DEBUG = \"1\"\n",
            "OLLAMA_DEBUG = \"1\"\nOLLAMA_NUM_PARALLEL = \"3\"\n"
        )
    );
    home.cmd()
        .args(["ollama", "settings", "--json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"file\""));
    let out = home
        .cmd()
        .args(["ollama", "set", "OLLAMA_KEEP_ALIVE", "-1", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        v["diff"],
        serde_json::json!([
            "- Environment=\"OLLAMA_KEEP_ALIVE=5m\"",
            "+ Environment=\"OLLAMA_KEEP_ALIVE=-1\""
        ])
    );
    assert_eq!(v["applied"], serde_json::Value::Null);
}

#[test]
fn bad_values_and_names_are_refused_and_nothing_is_written() {
    let home = Home::new();
    home.write_config(CONFIG);
    for (args, says) in [
        (
            ["OLLAMA_NUM_PARALLEL", "0"],
            "OLLAMA_NUM_PARALLEL cannot be \"0\"",
        ),
        (
            ["OLLAMA_KV_CACHE_TYPE", "q5"],
            "\"f16\", \"q8_0\" or \"q4_0\"",
        ),
        (["OLLAMA_KEEP_ALIVE", "soon"], "OLLAMA_KEEP_ALIVE"),
        (["OLLAMA_HOST", "127.0.0.1:1"], "`[ollama] host`"),
        (["OLLAMA_MODELS", "/tmp"], "`[ollama] models_dir`"),
        (["OLLAMA_DEBUG", "2"], "by hand under [ollama.env]"),
    ] {
        home.cmd()
            .args(["ollama", "set"])
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::starts_with("error: "))
            .stderr(predicate::str::contains(says));
    }
    home.cmd()
        .args(["ollama", "set", "OLLAMA_NUM_PARALLEL", "0", "--json"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("\"code\": \"config\""));
    assert_eq!(home.config(), CONFIG);
}

#[test]
fn unset_removes_the_key() {
    let home = Home::new();
    home.write_config(CONFIG);
    home.cmd()
        .args(["ollama", "set", "OLLAMA_CONTEXT_LENGTH", "8192"])
        .assert()
        .success();
    assert!(home.config().contains("OLLAMA_CONTEXT_LENGTH = \"8192\""));
    home.cmd()
        .args(["ollama", "set", "OLLAMA_CONTEXT_LENGTH", "--unset"])
        .assert()
        .success()
        .stdout(predicate::str::contains("OLLAMA_CONTEXT_LENGTH removed"))
        .stdout(predicate::str::contains(
            "- Environment=\"OLLAMA_CONTEXT_LENGTH=8192\"",
        ));
    assert_eq!(home.config(), CONFIG);
    home.cmd()
        .args(["ollama", "set", "OLLAMA_CONTEXT_LENGTH"])
        .assert()
        .code(2);
}

#[test]
fn apply_refuses_an_ollama_gardener_does_not_run() {
    let home = Home::new();
    home.write_config("[ollama]\nexternal = true\n");
    home.cmd()
        .args(["ollama", "set", "OLLAMA_NUM_PARALLEL", "2", "--apply"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains(
            "Gardener does not run Ollama here",
        ))
        .stderr(predicate::str::contains("OLLAMA_NUM_PARALLEL=2"))
        .stderr(predicate::str::contains("where that Ollama is started"));
}

#[test]
fn apply_without_an_installed_service_says_to_install() {
    let home = Home::new();
    home.cmd()
        .args(["ollama", "apply"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("gardener install"));
}
