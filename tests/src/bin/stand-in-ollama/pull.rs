//! `POST /api/pull`: Ollama's NDJSON progress stream, one line per chunk with a settable delay,
//! an `error` line for a model the registry does not have, and a crash mid-stream on request.
//!
//! tiny_http buffers a streamed body until 8 KiB, so the whole answer is written by hand on the
//! request's writer (`Request::into_writer`), flushed line by line: chunked for HTTP/1.1
//! clients, delimited by the connection's close for HTTP/1.0 ones.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tiny_http::Request;

use crate::State;
use crate::catalog::{self, INSTALLED, Model, PULLABLE};

/// Streams the pull the request asks for; runs on its own thread so the server keeps answering.
pub fn pull(mut request: Request, state: &Arc<State>) {
    let mut text = String::new();
    let body: Value = match request.as_reader().read_to_string(&mut text) {
        Ok(_) => serde_json::from_str(&text).unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    let name = body
        .get("model")
        .or_else(|| body.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    eprintln!("[GIN] 200 | POST \"/api/pull\" {name}");
    let lines = plan(&name, &state.knobs);
    let http10 = request.http_version().0 == 1 && request.http_version().1 == 0;
    let head = format!(
        "HTTP/1.{} 200 OK\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n{}\r\n",
        u8::from(!http10),
        if http10 {
            ""
        } else {
            "Transfer-Encoding: chunked\r\n"
        }
    );
    let mut stream = request.into_writer();
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    for (i, line) in lines.iter().enumerate() {
        if state.knobs.cut_after.is_some_and(|n| i >= n) {
            // Ollama crashing mid-pull: the process goes, and every connection with it.
            eprintln!("stand-in-ollama: cut the pull of {name} after {i} lines");
            std::process::exit(1);
        }
        let data = format!("{line}\n");
        let frame = if http10 {
            data
        } else {
            format!("{:x}\r\n{data}\r\n", data.len())
        };
        if stream.write_all(frame.as_bytes()).is_err() || stream.flush().is_err() {
            return; // the client hung up (cancelled)
        }
        std::thread::sleep(state.knobs.pull_delay);
    }
    if !http10 {
        let _ = stream.write_all(b"0\r\n\r\n");
        let _ = stream.flush();
    }
    if lines
        .last()
        .is_some_and(|l| l.get("status") == Some(&json!("success")))
    {
        state.install(&name);
    }
}

/// The lines Ollama would send for pulling `name`.
fn plan(name: &str, knobs: &crate::Knobs) -> Vec<Value> {
    let mut lines = vec![json!({ "status": "pulling manifest" })];
    let known = catalog::find(INSTALLED.iter().chain(PULLABLE), name);
    let Some(model) = known else {
        lines.push(json!({ "error": "pull model manifest: file does not exist" }));
        return lines;
    };
    for (i, (digest, size)) in model.layers.iter().enumerate() {
        let total = match knobs.pull_total {
            Some(t) if i == 0 => t,
            _ => *size,
        };
        lines.extend(layer_lines(digest, total, knobs.pull_steps));
    }
    lines.push(json!({ "status": "verifying sha256 digest" }));
    lines.push(json!({ "status": "writing manifest" }));
    lines.push(json!({ "status": "success" }));
    lines
}

/// `pulling 6a0746a1ec1a` lines for one layer, from nothing to its total in `steps`.
fn layer_lines(digest: &str, total: u64, steps: u64) -> Vec<Value> {
    let short: String = digest
        .trim_start_matches("sha256:")
        .chars()
        .take(12)
        .collect();
    (0..=steps)
        .map(|step| {
            let completed = total / steps * step + if step == steps { total % steps } else { 0 };
            json!({ "status": format!("pulling {short}"), "digest": digest,
                    "total": total, "completed": completed })
        })
        .collect()
}

/// `STAND_IN_OLLAMA_PULL_DELAY_MS`: the pause after each line (default 20 ms).
pub fn delay_from_env() -> Duration {
    std::env::var("STAND_IN_OLLAMA_PULL_DELAY_MS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .map_or(Duration::from_millis(20), Duration::from_millis)
}

/// The model a finished pull installs.
pub fn model(name: &str) -> Option<&'static Model> {
    catalog::find(INSTALLED.iter().chain(PULLABLE), name)
}
