//! A stand-in for the Ollama server: the CLI surface and HTTP API shapes Gardener relies on.
//!
//! Ollama cannot be installed on the test machines, so the end-to-end tests supervise this
//! binary instead. It answers like Ollama 0.12.6 on the documented endpoints and keeps small
//! in-memory lists of installed and loaded models, so pulls, deletes, loads and unloads have
//! a visible effect.
//!
//! Knobs for tests, from the environment: `STAND_IN_OLLAMA_PULL_DELAY_MS` (pause after each
//! line of a pull's stream, default 20), `STAND_IN_OLLAMA_PULL_CUT_AFTER` (after that many
//! lines of a pull the process exits, as if Ollama crashed), `STAND_IN_OLLAMA_PULL_TOTAL`
//! (the first layer of a pull claims this many bytes), `STAND_IN_OLLAMA_PARTIAL_VRAM=1`
//! (`/api/ps` reports a quarter of each model outside VRAM), `STAND_IN_OLLAMA_PULL_STEPS`
//! (progress lines per layer, default 4; many make a stream as busy as a real download's).

mod catalog;
mod pull;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tiny_http::{Header, Method, Request, Response, Server};

const VERSION: &str = "0.12.6";
const DEFAULT_HOST: &str = "127.0.0.1:11434";
/// Ollama's default `OLLAMA_KEEP_ALIVE`; it shows up in `expires_at`.
const KEEP_ALIVE: Duration = Duration::from_secs(5 * 60);

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
    let state = Arc::new(State::new(Knobs::from_env()));
    for request in server.incoming_requests() {
        if *request.method() == Method::Post && request.url().split('?').next() == Some("/api/pull")
        {
            let state = Arc::clone(&state);
            std::thread::spawn(move || pull::pull(request, &state));
            continue;
        }
        handle(request, &state);
    }
    Ok(())
}

/// What tests can change about the answers (see the module's documentation).
pub struct Knobs {
    pull_delay: Duration,
    cut_after: Option<usize>,
    pull_total: Option<u64>,
    /// Progress lines per layer.
    pull_steps: u64,
    partial_vram: bool,
    /// More installed models than the catalog's (`STAND_IN_OLLAMA_EXTRA_MODELS`).
    extra_models: usize,
}

impl Knobs {
    fn from_env() -> Self {
        let number = |key: &str| {
            std::env::var(key)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        Self {
            pull_delay: pull::delay_from_env(),
            cut_after: number("STAND_IN_OLLAMA_PULL_CUT_AFTER")
                .and_then(|n| usize::try_from(n).ok()),
            pull_total: number("STAND_IN_OLLAMA_PULL_TOTAL"),
            pull_steps: number("STAND_IN_OLLAMA_PULL_STEPS").map_or(4, |n| n.max(1)),
            partial_vram: std::env::var("STAND_IN_OLLAMA_PARTIAL_VRAM").is_ok_and(|v| v == "1"),
            extra_models: number("STAND_IN_OLLAMA_EXTRA_MODELS")
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(0),
        }
    }
}

/// What the server holds: the models on "disk" and those in "memory".
pub struct State {
    installed: Mutex<Vec<&'static catalog::Model>>,
    loaded: Mutex<Vec<Loaded>>,
    knobs: Knobs,
}

impl State {
    fn new(knobs: Knobs) -> Self {
        Self {
            installed: Mutex::new(
                catalog::INSTALLED
                    .iter()
                    .chain(catalog::generated(knobs.extra_models))
                    .collect(),
            ),
            // Ollama starts with nothing loaded; one loaded model makes `/api/ps` worth testing.
            loaded: Mutex::new(vec![Loaded::new(&catalog::INSTALLED[0], KEEP_ALIVE)]),
            knobs,
        }
    }

    fn installed(&self) -> MutexGuard<'_, Vec<&'static catalog::Model>> {
        self.installed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn loaded(&self) -> MutexGuard<'_, Vec<Loaded>> {
        self.loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds the model a pull finished (once).
    fn install(&self, name: &str) {
        let Some(model) = pull::model(name) else {
            return;
        };
        let mut installed = self.installed();
        if !installed.iter().any(|m| m.name == model.name) {
            installed.push(model);
        }
    }

    fn find_installed(&self, name: &str) -> Option<&'static catalog::Model> {
        catalog::find(self.installed().iter().copied(), name)
    }
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
    model: &'static catalog::Model,
    expires_at: SystemTime,
}

impl Loaded {
    fn new(model: &'static catalog::Model, keep_alive: Duration) -> Self {
        Self {
            model,
            expires_at: SystemTime::now() + keep_alive,
        }
    }
}

fn handle(mut request: Request, state: &State) {
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
            json!({ "models": state.installed().iter().map(|m| catalog::tag_entry(m)).collect::<Vec<_>>() }),
        ),
        (Method::Get, "/api/ps") => {
            let partial = state.knobs.partial_vram;
            let entries: Vec<Value> = state
                .loaded()
                .iter()
                .map(|l| catalog::ps_entry(l.model, l.expires_at, partial))
                .collect();
            (200, json!({ "models": entries }))
        }
        (Method::Post, "/api/generate") => with_body(&mut request, |b| generate(b, state)),
        (Method::Post, "/api/show") => with_body(&mut request, |b| show(b, state)),
        (Method::Delete, "/api/delete") => with_body(&mut request, |b| delete(b, state)),
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
    // Ollama answers a delete with an empty body.
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    respond(request, status, "application/json; charset=utf-8", text);
}

/// Reads the request's JSON body and answers with `f`, or 400 when it is not JSON.
fn with_body(request: &mut Request, f: impl FnOnce(&Value) -> (u16, Value)) -> (u16, Value) {
    let mut text = String::new();
    if let Err(err) = request.as_reader().read_to_string(&mut text) {
        return (400, json!({ "error": format!("reading body: {err}") }));
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(body) => f(&body),
        Err(_) => (400, json!({ "error": "invalid JSON body" })),
    }
}

fn respond(request: Request, status: u16, content_type: &str, body: String) {
    let mut response = Response::from_string(body).with_status_code(status);
    if let Ok(header) = Header::from_bytes("Content-Type", content_type) {
        response = response.with_header(header);
    }
    // A client that hung up is its own problem; the server carries on.
    let _ = request.respond(response);
}

/// `model` (or the older `name`) of a request body.
fn model_name(body: &Value) -> Option<&str> {
    body.get("model")
        .or_else(|| body.get("name"))
        .and_then(Value::as_str)
}

fn not_found(name: &str) -> (u16, Value) {
    (404, json!({ "error": format!("model '{name}' not found") }))
}

fn show(body: &Value, state: &State) -> (u16, Value) {
    let Some(name) = model_name(body) else {
        return (400, json!({ "error": "model is required" }));
    };
    match state.find_installed(name) {
        Some(model) => (200, catalog::show_entry(model)),
        None => not_found(name),
    }
}

fn delete(body: &Value, state: &State) -> (u16, Value) {
    let Some(name) = model_name(body) else {
        return (400, json!({ "error": "model is required" }));
    };
    let Some(model) = state.find_installed(name) else {
        return not_found(name);
    };
    // Like Ollama, deleting removes the files only: a loaded copy stays until it expires.
    state.installed().retain(|m| m.name != model.name);
    (200, Value::Null)
}

fn generate(body: &Value, state: &State) -> (u16, Value) {
    let Some(name) = body.get("model").and_then(Value::as_str) else {
        return (400, json!({ "error": "model is required" }));
    };
    let Some(model) = state.find_installed(name) else {
        return not_found(name);
    };
    let mut loaded = state.loaded();
    let created_at = rfc3339(SystemTime::now());
    let keep_alive = keep_alive(body.get("keep_alive"));
    if keep_alive.is_zero() {
        loaded.retain(|l| l.model.name != model.name);
        return (
            200,
            json!({ "model": model.name, "created_at": created_at, "response": "",
                    "done": true, "done_reason": "unload" }),
        );
    }
    loaded.retain(|l| l.model.name != model.name);
    loaded.push(Loaded::new(model, keep_alive));
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

/// `keep_alive` as Ollama reads it: seconds as a number, or a Go duration (`30m`, `1h`, `90s`);
/// negative keeps the model loaded "forever" (Ollama reports a date centuries away); absent
/// or unreadable means the default.
fn keep_alive(value: Option<&Value>) -> Duration {
    const FOREVER: Duration = Duration::from_secs(200 * 365 * 86_400);
    let secs = match value {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => go_duration_secs(s.trim()),
        _ => None,
    };
    match secs {
        None => KEEP_ALIVE,
        Some(s) if s < 0.0 => FOREVER,
        Some(s) => Duration::from_secs_f64(s),
    }
}

/// `90s`, `30m`, `1h`, `1h30m`, `0` → seconds.
fn go_duration_secs(text: &str) -> Option<f64> {
    if let Ok(n) = text.parse::<f64>() {
        return Some(n);
    }
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let mut total = 0.0;
    while !rest.is_empty() {
        let end = rest.find(|c: char| c.is_ascii_alphabetic())?;
        let number: f64 = rest[..end].parse().ok()?;
        let unit_end = rest[end..]
            .find(|c: char| !c.is_ascii_alphabetic())
            .map_or(rest.len(), |i| end + i);
        total += number
            * match &rest[end..unit_end] {
                "ms" => 0.001,
                "s" => 1.0,
                "m" => 60.0,
                "h" => 3600.0,
                _ => return None,
            };
        rest = &rest[unit_end..];
    }
    Some(if negative { -total } else { total })
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
    fn keep_alive_forms() {
        assert_eq!(keep_alive(None), KEEP_ALIVE);
        assert_eq!(keep_alive(Some(&json!(0))), Duration::ZERO);
        assert_eq!(keep_alive(Some(&json!("0s"))), Duration::ZERO);
        assert_eq!(keep_alive(Some(&json!("30m"))), Duration::from_secs(1800));
        assert_eq!(keep_alive(Some(&json!("1h30m"))), Duration::from_secs(5400));
        assert_eq!(keep_alive(Some(&json!(90))), Duration::from_secs(90));
        assert!(keep_alive(Some(&json!(-1))) > Duration::from_secs(100 * 365 * 86_400));
        assert_eq!(keep_alive(Some(&json!("soon"))), KEEP_ALIVE);
    }

    #[test]
    fn timestamps_are_utc_rfc3339() {
        let at = UNIX_EPOCH + Duration::new(1_760_000_000, 5);
        assert_eq!(rfc3339(at), "2025-10-09T08:53:20.000000005Z");
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
