//! Checks the stand-in Ollama over real HTTP, so the end-to-end tests can trust what it serves.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use gardener_e2e::stand_ins::StandInOllama;
use gardener_e2e::{free_port, http, wait_until};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_stand-in-ollama");

/// The running stand-in and its address.
struct Server {
    ollama: StandInOllama,
    base: String,
}

impl Server {
    fn start(ollama_host: &str, port: u16) -> Self {
        Self::started(ollama_host, port, &[])
    }

    fn start_with(port: u16, env: &[(&str, &str)]) -> Self {
        Self::started(&format!("127.0.0.1:{port}"), port, env)
    }

    fn started(ollama_host: &str, port: u16, env: &[(&str, &str)]) -> Self {
        Self {
            ollama: StandInOllama::start(Path::new(BIN), ollama_host, port, env),
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    fn get(&self, path: &str) -> http::Response {
        http::get(&format!("{}{path}", self.base)).expect("GET")
    }

    fn loaded(&self) -> Vec<String> {
        let ps = self.get("/api/ps").json();
        ps["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap().into())
            .collect()
    }
}

#[test]
fn version_flag_matches_ollama() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ollama version is 0.12.6"
    );
}

#[test]
fn unknown_subcommand_exits_2() {
    let out = Command::new(BIN).arg("pull").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn serves_the_documented_api_shapes() {
    let port = free_port();
    // OLLAMA_HOST may carry a scheme; Gardener may write it either way.
    let server = Server::start(&format!("http://127.0.0.1:{port}"), port);

    let root = server.get("/");
    assert_eq!(
        (root.status, root.body.as_str()),
        (200, "Ollama is running")
    );
    assert!(
        root.header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );

    let version = server.get("/api/version");
    assert_eq!(version.status, 200);
    assert_eq!(version.json(), json!({ "version": "0.12.6" }));

    let tags = server.get("/api/tags").json();
    let models = tags["models"].as_array().unwrap();
    assert_eq!(models.len(), 2);
    for model in models {
        for key in ["name", "model", "modified_at", "digest"] {
            assert!(model[key].is_string(), "tags entry lacks {key}: {model}");
        }
        assert!(model["size"].as_u64().unwrap() > 1_000_000_000);
        assert_eq!(model["digest"].as_str().unwrap().len(), 64);
        for key in ["format", "family", "parameter_size", "quantization_level"] {
            assert!(
                model["details"][key].is_string(),
                "details lack {key}: {model}"
            );
        }
    }

    let ps = server.get("/api/ps").json();
    let loaded = ps["models"].as_array().unwrap();
    assert_eq!(loaded.len(), 1, "starts with one loaded model: {ps}");
    let first = &loaded[0];
    for key in ["name", "model", "digest", "expires_at"] {
        assert!(first[key].is_string(), "ps entry lacks {key}: {first}");
    }
    for key in ["size", "size_vram", "context_length"] {
        assert!(first[key].is_u64(), "ps entry lacks {key}: {first}");
    }
    assert!(first["details"]["family"].is_string());

    assert_eq!(server.get("/api/nope").status, 404);
}

#[test]
fn generate_loads_and_keep_alive_zero_unloads() {
    let port = free_port();
    let server = Server::start(&format!("127.0.0.1:{port}"), port);
    let generate = format!("{}/api/generate", server.base);
    assert_eq!(server.loaded(), ["llama3.2:3b"]);

    let answer = http::post_json(
        &generate,
        &json!({ "model": "qwen2.5-coder:7b", "prompt": "hi" }),
    )
    .unwrap();
    assert_eq!(answer.status, 200);
    let answer = answer.json();
    assert_eq!(answer["done"], Value::Bool(true));
    assert!(!answer["response"].as_str().unwrap().is_empty());
    assert_eq!(server.loaded(), ["llama3.2:3b", "qwen2.5-coder:7b"]);

    let unload = http::post_json(
        &generate,
        &json!({ "model": "llama3.2:3b", "keep_alive": 0 }),
    )
    .unwrap();
    assert_eq!(unload.status, 200);
    let unload = unload.json();
    assert_eq!(unload["model"], "llama3.2:3b");
    assert_eq!(unload["done_reason"], "unload");
    assert_eq!(unload["response"], "");
    assert_eq!(server.loaded(), ["qwen2.5-coder:7b"]);

    let missing = http::post_json(
        &generate,
        &json!({ "model": "mistral:7b", "keep_alive": 0 }),
    )
    .unwrap();
    assert_eq!(missing.status, 404);
    assert!(
        missing.json()["error"]
            .as_str()
            .unwrap()
            .contains("not found")
    );
}

#[test]
fn exits_on_sigterm() {
    let port = free_port();
    let mut server = Server::start(&format!("127.0.0.1:{port}"), port);
    let pid = rustix::process::Pid::from_child(&server.ollama.child);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    assert!(wait_until(Duration::from_secs(5), || matches!(
        server.ollama.child.try_wait(),
        Ok(Some(_))
    )));
    assert!(!http::port_open(port));
}

#[test]
fn refuses_a_port_in_use() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let out = Command::new(BIN)
        .arg("serve")
        .env("OLLAMA_HOST", format!("127.0.0.1:{port}"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&port.to_string()));
}

impl Server {
    fn post(&self, path: &str, body: &Value) -> http::Response {
        http::post_json(&format!("{}{path}", self.base), body).expect("POST")
    }

    fn installed(&self) -> Vec<String> {
        let tags = self.get("/api/tags").json();
        tags["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap().into())
            .collect()
    }
}

fn ndjson(body: &str) -> Vec<Value> {
    body.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn pull_streams_progress_and_installs_a_known_model() {
    let port = free_port();
    let server = Server::start_with(port, &[("STAND_IN_OLLAMA_PULL_DELAY_MS", "1")]);
    let answer = server.post("/api/pull", &json!({ "model": "tinyllama:1.1b" }));
    assert_eq!(answer.status, 200);
    assert!(answer.header("content-type").unwrap().contains("ndjson"));
    let lines = ndjson(&answer.body);
    assert_eq!(lines[0], json!({ "status": "pulling manifest" }));
    assert_eq!(lines.last().unwrap(), &json!({ "status": "success" }));
    let layer = lines.iter().find(|l| l["digest"].is_string()).unwrap();
    assert!(layer["status"].as_str().unwrap().starts_with("pulling "));
    assert!(layer["total"].is_u64() && layer["completed"].is_u64());
    assert!(
        lines
            .iter()
            .any(|l| l["status"] == "verifying sha256 digest")
    );
    assert!(server.installed().contains(&"tinyllama:1.1b".to_owned()));

    let unknown = ndjson(
        &server
            .post("/api/pull", &json!({ "model": "nope:1b" }))
            .body,
    );
    assert_eq!(
        unknown.last().unwrap(),
        &json!({ "error": "pull model manifest: file does not exist" })
    );
}

#[test]
fn pull_can_claim_a_huge_layer_or_crash_mid_way() {
    let port = free_port();
    let server = Server::start_with(
        port,
        &[
            ("STAND_IN_OLLAMA_PULL_DELAY_MS", "1"),
            ("STAND_IN_OLLAMA_PULL_TOTAL", "900000000000000"),
            ("STAND_IN_OLLAMA_PULL_CUT_AFTER", "3"),
        ],
    );
    let answer = server.post("/api/pull", &json!({ "model": "tinyllama:1.1b" }));
    let lines = ndjson(&answer.body);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[1]["total"], 900_000_000_000_000_u64);
    let mut server = server;
    assert!(wait_until(Duration::from_secs(5), || matches!(
        server.ollama.child.try_wait(),
        Ok(Some(_))
    )));
}

#[test]
fn show_delete_and_load_with_keep_alive() {
    let port = free_port();
    let server = Server::start_with(port, &[("STAND_IN_OLLAMA_PARTIAL_VRAM", "1")]);
    let show = server.post("/api/show", &json!({ "model": "qwen2.5-coder:7b" }));
    assert_eq!(show.status, 200);
    let info = &show.json()["model_info"];
    assert_eq!(info["general.architecture"], "qwen2");
    for key in ["context_length", "block_count", "embedding_length"] {
        assert!(info[format!("qwen2.{key}")].is_u64(), "{key}: {info}");
    }
    assert!(info["general.parameter_count"].is_u64());
    assert_eq!(
        server.post("/api/show", &json!({ "model": "x" })).status,
        404
    );

    let ps = server.get("/api/ps").json();
    let first = &ps["models"][0];
    assert!(first["size_vram"].as_u64() < first["size"].as_u64(), "{ps}");

    let load = server.post(
        "/api/generate",
        &json!({ "model": "qwen2.5-coder:7b", "prompt": "", "keep_alive": "30m" }),
    );
    assert_eq!(load.json()["done_reason"], "load");
    assert_eq!(server.loaded(), ["llama3.2:3b", "qwen2.5-coder:7b"]);

    let delete = |name: &str| {
        http::call(
            "DELETE",
            &format!("{}/api/delete", server.base),
            Some(json!({ "model": name }).to_string()),
            http::TIMEOUT,
        )
        .unwrap()
    };
    let gone = delete("qwen2.5-coder:7b");
    assert_eq!((gone.status, gone.body.as_str()), (200, ""));
    assert_eq!(server.installed(), ["llama3.2:3b"]);
    assert_eq!(
        server.loaded(),
        ["llama3.2:3b", "qwen2.5-coder:7b"],
        "deleting leaves a loaded copy to expire"
    );
    let missing = delete("qwen2.5-coder:7b");
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.json(),
        json!({ "error": "model 'qwen2.5-coder:7b' not found" })
    );
}

#[test]
fn extra_models_are_listed_and_shown_each_with_its_own_digest() {
    let port = free_port();
    let server = Server::start_with(port, &[("STAND_IN_OLLAMA_EXTRA_MODELS", "3")]);
    let tags = server.get("/api/tags").json();
    let models = tags["models"].as_array().unwrap();
    assert_eq!(
        models.len(),
        5,
        "two of the catalog's and three more: {tags}"
    );
    let digests: std::collections::BTreeSet<&str> = models
        .iter()
        .map(|m| m["digest"].as_str().unwrap())
        .collect();
    assert_eq!(digests.len(), 5, "each its own digest: {tags}");
    let show = server.post("/api/show", &json!({ "model": "generated-002:1b" }));
    assert_eq!(show.status, 200);
    assert!(show.json()["model_info"].is_object(), "{}", show.body);
}
