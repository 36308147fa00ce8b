//! A stand-in for the Ollama server: the CLI surface and HTTP API shapes Gardener relies on.
//!
//! Ollama cannot be installed on the test machines, so the end-to-end tests supervise this
//! binary instead. It answers like Ollama 0.12.6 on the documented endpoints and keeps a
//! small in-memory "loaded models" list so unload requests have a visible effect.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tiny_http::{Header, Method, Request, Response, Server};

const VERSION: &str = "0.12.6";
const DEFAULT_HOST: &str = "127.0.0.1:11434";
/// Ollama's default `OLLAMA_KEEP_ALIVE`; it shows up in `expires_at`.
const KEEP_ALIVE: Duration = Duration::from_secs(5 * 60);

/// A model as it sits on disk: the fields of an `/api/tags` entry.
struct Model {
    name: &'static str,
    modified_at: &'static str,
    size: u64,
    digest: &'static str,
    family: &'static str,
    parameter_size: &'static str,
    quantization_level: &'static str,
    /// Bytes it occupies once loaded (weights plus KV cache), as `/api/ps` reports.
    loaded_size: u64,
    context_length: u64,
}

const MODELS: &[Model] = &[
    Model {
        name: "llama3.2:3b",
        modified_at: "2025-10-02T14:21:07.512306+02:00",
        size: 2_019_393_189,
        digest: "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
        family: "llama",
        parameter_size: "3.2B",
        quantization_level: "Q4_K_M",
        loaded_size: 3_271_557_120,
        context_length: 4096,
    },
    Model {
        name: "qwen2.5-coder:7b",
        modified_at: "2025-09-18T09:44:52.083517+02:00",
        size: 4_683_087_519,
        digest: "dae161e27b0e90dd1856c8bb3209201fd6736d8eb66298e75ed87571486f4364",
        family: "qwen2",
        parameter_size: "7.6B",
        quantization_level: "Q4_K_M",
        loaded_size: 6_087_401_472,
        context_length: 4096,
    },
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["--version" | "-v"] => println!("ollama version is {VERSION}"),
        ["serve"] => {
            if let Err(err) = serve() {
                eprintln!("Error: {err:#}");
                std::process::exit(1);
            }
        }
        _ => {
            eprintln!("usage: stand-in-ollama serve | --version  (got {args:?})");
            std::process::exit(2);
        }
    }
}

fn serve() -> Result<()> {
    let host = std::env::var("OLLAMA_HOST").unwrap_or_default();
    let addr = bind_address(&host)?;
    let server = Server::http(&addr)
        .map_err(|err| anyhow::anyhow!("{err}"))
        .with_context(|| format!("listen tcp {addr}"))?;
    eprintln!(
        "time={} level=INFO source=routes.go msg=\"Listening on {addr} (version {VERSION})\"",
        rfc3339(SystemTime::now())
    );
    // Ollama starts with nothing loaded; one loaded model makes `/api/ps` worth testing.
    let loaded = Mutex::new(vec![Loaded::new(&MODELS[0])]);
    for request in server.incoming_requests() {
        handle(request, &loaded);
    }
    Ok(())
}

/// Accepts what Ollama accepts in `OLLAMA_HOST`: `host`, `host:port`, `scheme://host:port[/]`.
fn bind_address(value: &str) -> Result<String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(DEFAULT_HOST.to_owned());
    }
    let without_scheme = value.split_once("://").map_or(value, |(_, rest)| rest);
    let hostport = without_scheme.trim_end_matches('/');
    if hostport.is_empty() || hostport.contains('/') {
        bail!("invalid OLLAMA_HOST {value:?}");
    }
    let has_port = match hostport.rsplit_once(':') {
        Some((_, port)) => !port.is_empty() && !hostport.ends_with(']'),
        None => false,
    };
    Ok(if has_port {
        hostport.to_owned()
    } else {
        format!("{hostport}:11434")
    })
}

struct Loaded {
    model: &'static Model,
    expires_at: SystemTime,
}

impl Loaded {
    fn new(model: &'static Model) -> Self {
        Self {
            model,
            expires_at: SystemTime::now() + KEEP_ALIVE,
        }
    }
}

fn handle(mut request: Request, loaded: &Mutex<Vec<Loaded>>) {
    let method = request.method().clone();
    let path = request.url().split('?').next().unwrap_or("/").to_owned();
    let (status, body) = match (&method, path.as_str()) {
        (Method::Get | Method::Head, "/") => {
            respond(
                request,
                200,
                "text/plain; charset=utf-8",
                "Ollama is running".into(),
            );
            return;
        }
        (Method::Get, "/api/version") => (200, json!({ "version": VERSION })),
        (Method::Get, "/api/tags") => (
            200,
            json!({ "models": MODELS.iter().map(tag_entry).collect::<Vec<_>>() }),
        ),
        (Method::Get, "/api/ps") => {
            let loaded = loaded
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            (
                200,
                json!({ "models": loaded.iter().map(ps_entry).collect::<Vec<_>>() }),
            )
        }
        (Method::Post, "/api/generate") => {
            let mut text = String::new();
            match request.as_reader().read_to_string(&mut text) {
                Ok(_) => generate(&text, loaded),
                Err(err) => (400, json!({ "error": format!("reading body: {err}") })),
            }
        }
        _ => {
            respond(
                request,
                404,
                "text/plain; charset=utf-8",
                "404 page not found".into(),
            );
            return;
        }
    };
    eprintln!("[GIN] {status} | {method} \"{path}\"");
    respond(
        request,
        status,
        "application/json; charset=utf-8",
        body.to_string(),
    );
}

fn respond(request: Request, status: u16, content_type: &str, body: String) {
    let mut response = Response::from_string(body).with_status_code(status);
    if let Ok(header) = Header::from_bytes("Content-Type", content_type) {
        response = response.with_header(header);
    }
    // A client that hung up is its own problem; the server carries on.
    let _ = request.respond(response);
}

fn generate(body: &str, loaded: &Mutex<Vec<Loaded>>) -> (u16, Value) {
    let Ok(body) = serde_json::from_str::<Value>(body) else {
        return (400, json!({ "error": "invalid JSON body" }));
    };
    let Some(name) = body.get("model").and_then(Value::as_str) else {
        return (400, json!({ "error": "model is required" }));
    };
    let Some(model) = MODELS
        .iter()
        .find(|m| m.name == name || m.name == format!("{name}:latest"))
    else {
        return (404, json!({ "error": format!("model '{name}' not found") }));
    };
    let mut loaded = loaded
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let created_at = rfc3339(SystemTime::now());
    if is_zero_keep_alive(body.get("keep_alive")) {
        loaded.retain(|l| l.model.name != model.name);
        return (
            200,
            json!({ "model": model.name, "created_at": created_at, "response": "",
                    "done": true, "done_reason": "unload" }),
        );
    }
    loaded.retain(|l| l.model.name != model.name);
    loaded.push(Loaded::new(model));
    let prompt = body
        .get("prompt")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // An empty prompt is Ollama's "preload" request: load and answer with nothing.
    let (response, reason) = if prompt.is_empty() {
        ("", "load")
    } else {
        ("Hello! How can I help?", "stop")
    };
    (
        200,
        json!({ "model": model.name, "created_at": created_at, "response": response,
                "done": true, "done_reason": reason, "total_duration": 412_577_042_u64,
                "load_duration": 21_803_917_u64, "prompt_eval_count": 26,
                "eval_count": 7, "eval_duration": 180_145_000_u64 }),
    )
}

/// `keep_alive` may be a number of seconds or a Go duration string; only zero matters here.
fn is_zero_keep_alive(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        Some(Value::String(s)) => matches!(s.trim(), "0" | "0s" | "0m" | "0h"),
        _ => false,
    }
}

fn details(model: &Model) -> Value {
    json!({ "parent_model": "", "format": "gguf", "family": model.family,
            "families": [model.family], "parameter_size": model.parameter_size,
            "quantization_level": model.quantization_level })
}

fn tag_entry(model: &Model) -> Value {
    json!({ "name": model.name, "model": model.name, "modified_at": model.modified_at,
            "size": model.size, "digest": model.digest, "details": details(model) })
}

fn ps_entry(loaded: &Loaded) -> Value {
    let model = loaded.model;
    // Apple silicon has unified memory, so everything loaded counts as VRAM.
    json!({ "name": model.name, "model": model.name, "size": model.loaded_size,
            "digest": model.digest, "details": details(model),
            "expires_at": rfc3339(loaded.expires_at), "size_vram": model.loaded_size,
            "context_length": model.context_length })
}

/// UTC RFC 3339 with nanoseconds, like Go's `time.Time` JSON encoding.
fn rfc3339(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(i64::try_from(days).unwrap_or(0));
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_nanos()
    )
}

/// Howard Hinnant's days-to-civil algorithm; saves a date crate for one timestamp.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ollama_host_forms() {
        assert_eq!(bind_address("").unwrap(), "127.0.0.1:11434");
        assert_eq!(bind_address("127.0.0.1:5000").unwrap(), "127.0.0.1:5000");
        assert_eq!(
            bind_address("http://127.0.0.1:5000/").unwrap(),
            "127.0.0.1:5000"
        );
        assert_eq!(bind_address("0.0.0.0").unwrap(), "0.0.0.0:11434");
        assert_eq!(bind_address("[::1]").unwrap(), "[::1]:11434");
        assert_eq!(bind_address("[::1]:5000").unwrap(), "[::1]:5000");
        assert!(bind_address("http://a:1/x").is_err());
    }

    #[test]
    fn timestamps_are_utc_rfc3339() {
        let at = UNIX_EPOCH + Duration::new(1_760_000_000, 5);
        assert_eq!(rfc3339(at), "2025-10-09T08:53:20.000000005Z");
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
