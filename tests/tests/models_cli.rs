//! The real `gardener models` verbs against the stand-in Ollama over HTTP: the listing with
//! details, disk and fit figures; pull (progress, Ollama's error, a crash mid-stream, no
//! space, Ctrl-C); rm (with --yes, refused while loaded, --unload, no terminal); load with a
//! keep-alive. No root needed: the stand-in runs as a plain child process.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use gardener_e2e::stand_ins::StandInOllama;
use gardener_e2e::{free_port, gardener_bin, output_text, wait_until};
use serde_json::Value;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_stand-in-ollama");

/// A stand-in Ollama and a config pointing `gardener` at it; both go when dropped.
struct Setup {
    _ollama: StandInOllama,
    tmp: TempDir,
}

impl Setup {
    fn start(env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let tmp = tempfile::tempdir().unwrap();
        let config = format!(
            "[ollama]\nhost = \"127.0.0.1:{port}\"\nmodels_dir = \"{}\"\n",
            tmp.path().join("models").display()
        );
        std::fs::write(tmp.path().join("gardener.toml"), config).unwrap();
        std::fs::create_dir_all(tmp.path().join("home")).unwrap();
        let env = [&[("STAND_IN_OLLAMA_PULL_DELAY_MS", "5")], env].concat();
        let host = format!("127.0.0.1:{port}");
        let ollama = StandInOllama::start(Path::new(BIN), &host, port, &env);
        Self {
            _ollama: ollama,
            tmp,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(gardener_bin());
        cmd.arg("--config")
            .arg(self.tmp.path().join("gardener.toml"))
            .args(args)
            .env("HOME", self.tmp.path().join("home"))
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", output_text(&out));
        out
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_slice(&self.ok(args).stdout).unwrap()
    }

    fn listing(&self) -> Value {
        self.json(&["models", "--json"])
    }

    fn models_dir(&self) -> PathBuf {
        self.tmp.path().join("models")
    }
}

fn names(models: &Value) -> Vec<&str> {
    models
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect()
}

fn model<'a>(listing: &'a Value, name: &str) -> &'a Value {
    listing["installed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("{name} not installed: {listing:#}"))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn list_shows_details_the_folder_and_whether_each_model_fits() {
    let s = Setup::start(&[]);
    let l = s.listing();
    assert_eq!(names(&l["loaded"]), ["llama3.2:3b"], "{l:#}");
    assert_eq!(l["models_dir"], s.models_dir().display().to_string());
    assert_eq!(l["total_bytes"], 2_019_393_189_u64 + 4_683_087_519, "{l:#}");
    assert!(l["free_bytes"].as_u64().unwrap() > 0, "{l:#}");
    assert!(
        l["memory"]["available_bytes"].as_u64().unwrap() > 0,
        "{l:#}"
    );
    assert_eq!(l["memory"]["freed_by_unloading_bytes"], 3_271_557_120_u64);

    let llama = model(&l, "llama3.2:3b");
    assert_eq!(llama["context_length"], 131_072, "{llama:#}");
    assert_eq!(llama["loaded_now"], true);
    assert_eq!(llama["family"], "llama");
    assert_eq!(llama["quantization"], "Q4_K_M");
    assert_eq!(llama["parameter_count"], 3_212_749_888_u64);
    // 2 × 28 layers × 4096 tokens × (3072 × 8/24) × 2 bytes
    assert_eq!(llama["fit"]["kv_cache_bytes"], 469_762_048_u64, "{llama:#}");
    assert_eq!(llama["fit"]["context"], 4096);
    let qwen = model(&l, "qwen2.5-coder:7b");
    assert_eq!(qwen["loaded_now"], false);
    assert_eq!(qwen["context_length"], 32_768);
    for m in [llama, qwen] {
        let verdict = m["fit"]["verdict"].as_str().unwrap();
        assert!(
            ["fits", "tight", "will-not-fit"].contains(&verdict),
            "{m:#}"
        );
    }

    let text = String::from_utf8(s.ok(&["models"]).stdout).unwrap();
    assert!(
        text.contains("context 131072") && text.contains("loaded"),
        "{text}"
    );
    assert!(text.contains("Models folder: 6.2 GiB"), "{text}");
    assert!(text.contains("KV cache"), "{text}");
}

#[test]
fn pull_shows_progress_and_installs_the_model() {
    let s = Setup::start(&[]);
    let out = s.ok(&["models", "pull", "tinyllama:1.1b"]);
    let progress = stderr(&out);
    for status in [
        "pulling manifest",
        "pulling 2af3b81862c6",
        "verifying sha256 digest",
        "success",
    ] {
        assert!(progress.contains(status), "{status}: {}", output_text(&out));
    }
    assert!(String::from_utf8_lossy(&out.stdout).contains("Pulled tinyllama:1.1b (608.2 MiB)"));
    assert!(model(&s.listing(), "tinyllama:1.1b")["size_bytes"] == 637_700_138_u64);

    let again = s.json(&["models", "pull", "tinyllama:1.1b", "--json"]);
    assert_eq!(again["model"], "tinyllama:1.1b");
    assert_eq!(again["bytes"], 637_700_138_u64);
    assert!(again["seconds"].is_f64());
}

#[test]
fn pull_of_an_unknown_model_says_what_ollama_said() {
    let s = Setup::start(&[]);
    let out = s.run(&["models", "pull", "nope:1b"]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(
        stderr(&out).contains(
            "error: Ollama could not pull nope:1b: pull model manifest: file does not exist"
        ),
        "{}",
        output_text(&out)
    );
    let json: Value =
        serde_json::from_slice(&s.run(&["models", "pull", "nope:1b", "--json"]).stdout).unwrap();
    assert_eq!(json["error"]["code"], "pull-failed");
}

#[test]
fn a_stream_cut_mid_way_is_a_clear_error() {
    let s = Setup::start(&[("STAND_IN_OLLAMA_PULL_CUT_AFTER", "4")]);
    let out = s.run(&["models", "pull", "tinyllama:1.1b"]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(
        stderr(&out).contains("error: the pull of tinyllama:1.1b stopped before it finished"),
        "{}",
        output_text(&out)
    );
}

#[test]
fn pull_is_refused_when_the_model_cannot_fit_on_disk() {
    let s = Setup::start(&[("STAND_IN_OLLAMA_PULL_TOTAL", "900000000000000")]);
    let out = s.run(&["models", "pull", "tinyllama:1.1b", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["error"]["code"], "no-space", "{json:#}");
    let message = json["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("tinyllama:1.1b does not fit: it needs 900.0 TB more"),
        "{message}"
    );
    assert!(
        message.contains(&format!("free on {}", s.tmp.path().display())),
        "{message}"
    );
    assert!(!names(&s.listing()["installed"]).contains(&"tinyllama:1.1b"));
}

#[test]
fn sigint_cancels_a_pull_promptly() {
    let s = Setup::start(&[("STAND_IN_OLLAMA_PULL_DELAY_MS", "400")]);
    let mut child = s
        .command(&["models", "pull", "tinyllama:1.1b"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let signalled = Instant::now();
    assert!(wait_until(Duration::from_secs(3), || matches!(
        child.try_wait(),
        Ok(Some(_))
    )));
    assert!(
        signalled.elapsed() < Duration::from_secs(2),
        "{:?}",
        signalled.elapsed()
    );
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(
        stderr(&out).contains("cancelled: the pull of tinyllama:1.1b stopped"),
        "{}",
        output_text(&out)
    );
    assert!(!names(&s.listing()["installed"]).contains(&"tinyllama:1.1b"));
}

#[test]
fn rm_with_yes_deletes_and_says_what_it_freed() {
    let s = Setup::start(&[]);
    let out = s.ok(&["models", "rm", "qwen2.5-coder:7b", "--yes"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "Deleted qwen2.5-coder:7b, freeing 4.4 GiB"
    );
    assert_eq!(names(&s.listing()["installed"]), ["llama3.2:3b"]);
    let again = s.run(&["models", "rm", "qwen2.5-coder:7b", "--yes"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("qwen2.5-coder:7b is not installed (installed: llama3.2:3b)"));
}

#[test]
fn rm_without_yes_or_a_terminal_refuses_rather_than_waits() {
    let s = Setup::start(&[]);
    let out = s.run(&["models", "rm", "qwen2.5-coder:7b"]);
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert!(stderr(&out).contains("pass --yes"), "{}", output_text(&out));
    assert_eq!(names(&s.listing()["installed"]).len(), 2);
}

#[test]
fn rm_of_a_loaded_model_is_refused_unless_unloaded_first() {
    let s = Setup::start(&[]);
    let out = s.run(&["models", "rm", "llama3.2:3b", "--yes", "--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["error"]["code"], "model-loaded", "{json:#}");
    assert_eq!(names(&s.listing()["installed"]).len(), 2);

    let done = s.json(&["models", "rm", "llama3.2:3b", "--yes", "--unload", "--json"]);
    assert_eq!(done["deleted"], "llama3.2:3b");
    assert_eq!(done["unloaded"], true);
    assert_eq!(done["freed_bytes"], 2_019_393_189_u64);
    let l = s.listing();
    assert!(names(&l["loaded"]).is_empty(), "{l:#}");
    assert_eq!(names(&l["installed"]), ["qwen2.5-coder:7b"]);
}

#[test]
fn load_with_keep_alive_then_listed_as_loaded() {
    let s = Setup::start(&[]);
    let out = s.ok(&["models", "load", "qwen2.5-coder:7b", "--keep-alive", "30m"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("Loaded qwen2.5-coder:7b; it unloads at "),
        "{text}"
    );
    assert!(text.contains("(in 30m)"), "{text}");
    let l = s.listing();
    assert_eq!(names(&l["loaded"]), ["llama3.2:3b", "qwen2.5-coder:7b"]);
    assert_eq!(model(&l, "qwen2.5-coder:7b")["loaded_now"], true);
    let bad = s.run(&["models", "load", "qwen2.5-coder:7b", "--keep-alive", "soon"]);
    assert_eq!(bad.status.code(), Some(2), "{}", output_text(&bad));
    let missing = s.run(&["models", "load", "mistral:7b"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("mistral:7b is not installed"),
        "{}",
        output_text(&missing)
    );
}

#[test]
fn a_model_partly_outside_vram_shows_both_figures() {
    let s = Setup::start(&[("STAND_IN_OLLAMA_PARTIAL_VRAM", "1")]);
    let l = s.listing();
    let loaded = &l["loaded"][0];
    assert!(
        loaded["vram_bytes"].as_u64() < loaded["size_bytes"].as_u64(),
        "{l:#}"
    );
    let text = String::from_utf8(s.ok(&["models"]).stdout).unwrap();
    assert!(text.contains("3.0 GiB  GPU 2.3 GiB"), "{text}");
}
