//! Blocking HTTP health checks of the services, bounded in time and in bytes
//! read, no redirects followed, and the wait for a service to become healthy:
//! what install, preflight, status and restore use, outside any runtime. The
//! monitor's checks run every tick on its Tokio runtime through one
//! long-lived client, in [`crate::monitor::probe`].

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::services::ServiceId;

/// Most bytes of a response body ever read.
const MAX_BODY: u64 = 64 * 1024;

/// The result of one health probe.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Health {
    /// True for a 2xx answer.
    pub healthy: bool,
    /// HTTP status, when an answer came.
    pub status: Option<u16>,
    /// Time until the answer (or the failure).
    pub latency_ms: u64,
    /// Why it is not healthy.
    pub error: Option<String>,
    /// The start of the body (at most 64 KiB), when it answered.
    #[serde(skip)]
    pub body: String,
}

/// GETs `url` once, giving up after `timeout`.
pub fn probe(url: &str, timeout: Duration) -> Health {
    let start = Instant::now();
    let result = reqwest::blocking::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .and_then(|c| c.get(url).send());
    let latency_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    match result {
        Ok(resp) => {
            let status = resp.status();
            let mut body = String::new();
            // A failed read leaves a partial body; the status is what counts.
            let _ = resp.take(MAX_BODY).read_to_string(&mut body);
            Health {
                healthy: status.is_success(),
                status: Some(status.as_u16()),
                latency_ms,
                error: (!status.is_success()).then(|| format!("answered HTTP {status}")),
                body,
            }
        }
        Err(e) => Health {
            healthy: false,
            status: None,
            latency_ms,
            error: Some(describe(&e)),
            body: String::new(),
        },
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer in time (timeout)".into()
    } else if e.is_connect() {
        "connection refused: nothing is listening".into()
    } else {
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            msg = format!("{msg}: {s}");
            source = s.source();
        }
        msg
    }
}

/// The URL Ollama's version answers on, for a `host:port` address.
pub fn ollama_version_url(host: &str) -> String {
    format!("http://{host}/api/version")
}

/// Asks an Ollama at `host` for its version; `None` when what answers is not
/// an Ollama (or nothing answers).
pub fn ollama_version(host: &str, timeout: Duration) -> Option<String> {
    let h = probe(&ollama_version_url(host), timeout);
    if !h.healthy {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&h.body).ok()?;
    v.get("version")?.as_str().map(str::to_owned)
}

/// A service that did not answer 2xx in time.
#[derive(Debug, thiserror::Error)]
#[error("{} did not become healthy within {secs} s: {detail}", service.display_name())]
pub struct Unhealthy {
    /// Which service.
    pub service: ServiceId,
    /// How long it waited.
    pub secs: u64,
    /// The last probe's error and the end of the service's error log.
    pub detail: String,
}

/// The last `n` lines of a log file, for explaining a failure.
fn tail(path: &Path, n: usize) -> String {
    let Ok(text) = std::fs::read_to_string(path) else {
        return String::new();
    };
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Polls `id`'s health URL until it answers 2xx or `timeout` passes; the
/// failure quotes the end of its `stderr_log`.
pub fn wait_healthy(
    id: ServiceId,
    url: &str,
    stderr_log: &Path,
    timeout: Duration,
) -> Result<Health, Unhealthy> {
    let deadline = Instant::now() + timeout;
    loop {
        let h = probe(url, Duration::from_secs(2));
        if h.healthy {
            return Ok(h);
        }
        if Instant::now() >= deadline {
            let log = tail(stderr_log, 10);
            let mut detail = h.error.unwrap_or_else(|| "no answer".into());
            if !log.is_empty() {
                detail.push_str(&format!("\nlast lines of {}:\n{log}", stderr_log.display()));
            }
            return Err(Unhealthy {
                service: id,
                secs: timeout.as_secs(),
                detail,
            });
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    fn serve_once(response: &'static str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = std::io::Read::read(&mut s, &mut buf);
            s.write_all(response.as_bytes()).unwrap();
        });
        addr.to_string()
    }

    #[test]
    fn healthy_on_2xx_and_reads_version() {
        let addr = serve_once(
            "HTTP/1.1 200 OK\r\nContent-Length: 20\r\nConnection: close\r\n\r\n{\"version\":\"0.12.6\"}",
        );
        assert_eq!(
            ollama_version(&addr, Duration::from_secs(2)).as_deref(),
            Some("0.12.6")
        );
    }

    #[test]
    fn server_error_is_unhealthy_with_reason() {
        let addr = serve_once("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
        let h = probe(&format!("http://{addr}/"), Duration::from_secs(2));
        assert!(!h.healthy);
        assert_eq!(h.status, Some(500));
        assert!(h.error.unwrap().contains("500"));
    }

    #[test]
    fn redirect_is_not_followed() {
        let addr = serve_once(
            "HTTP/1.1 302 Found\r\nLocation: http://example.com/\r\nContent-Length: 0\r\n\r\n",
        );
        let h = probe(&format!("http://{addr}/"), Duration::from_secs(2));
        assert_eq!(h.status, Some(302));
        assert!(!h.healthy);
    }

    #[test]
    fn refused_connection_says_so() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let h = probe(&format!("http://127.0.0.1:{port}/"), Duration::from_secs(2));
        assert!(!h.healthy);
        assert!(h.error.unwrap().contains("refused"));
    }

    #[test]
    fn silent_server_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let h = probe(&format!("http://{addr}/"), Duration::from_millis(300));
        assert!(!h.healthy);
        assert!(h.error.unwrap().contains("timeout"));
        drop(listener);
    }
}
