//! Probes against real local TCP servers that misbehave on purpose: silent,
//! trickling, endless, redirecting, refusing. Each test is bounded in time
//! (the prober's deadline plus a small margin) and in memory (the body cap).

use super::*;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;

/// Slack allowed past a deadline for scheduling.
const MARGIN: Duration = Duration::from_millis(500);

const VERSION_JSON: &str = r#"{"version":"0.12.6"}"#;

const PS_JSON: &str = r#"{"models":[
  {"name":"llama3.1:8b","model":"llama3.1:8b","size":6654289920,
   "digest":"46e0c10c039e019119339687c3c1757cc81b9da49709a3b3924863ba87ca666e",
   "details":{"parent_model":"","format":"gguf","family":"llama","families":["llama"],
              "parameter_size":"8.0B","quantization_level":"Q4_K_M"},
   "expires_at":"2025-10-17T16:47:07.93355-07:00","size_vram":5333539264,
   "context_length":4096,"some_future_field":{"nested":[1,2,3]}},
  {"name":"qwen2.5-coder:1.5b","model":"qwen2.5-coder:1.5b","size":1519600000,
   "digest":"abc","expires_at":"2025-10-17T16:50:00Z"}
]}"#;

const TAGS_JSON: &str = r#"{"models":[
  {"name":"llama3.1:8b","model":"llama3.1:8b","modified_at":"2025-10-01T10:00:00.123456+02:00",
   "size":4920753328,"digest":"46e0c10c",
   "details":{"format":"gguf","family":"llama","families":null,
              "parameter_size":"8.0B","quantization_level":"Q4_K_M"}},
  {"name":"nomic-embed-text:latest","model":"nomic-embed-text:latest",
   "modified_at":"2025-09-01T00:00:00Z","size":274302450,"digest":"0a10"}
]}"#;

fn prober(timeout: Duration) -> Prober {
    Prober::new(timeout).unwrap()
}

/// A complete HTTP/1.1 answer with a `Content-Length`.
fn http(status: &str, extra_headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra_headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Reads one request (headers and a `Content-Length` body); `None` when the
/// client closed the connection first.
fn read_request(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut req = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = req.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        req.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&req[..head_end]).to_ascii_lowercase();
    let body_len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    while req.len() < head_end + body_len {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        req.extend_from_slice(&buf[..n]);
    }
    Some(req)
}

/// A keep-alive server answering every request on every connection with
/// `response`; it counts connections and hands each raw request over.
struct Server {
    addr: String,
    accepted: Arc<AtomicUsize>,
    requests: mpsc::Receiver<Vec<u8>>,
}

fn serve(response: String) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let accepted = Arc::new(AtomicUsize::new(0));
    let (tx, requests) = mpsc::channel();
    let count = Arc::clone(&accepted);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            count.fetch_add(1, Ordering::SeqCst);
            let (tx, response) = (tx.clone(), response.clone());
            thread::spawn(move || {
                while let Some(req) = read_request(&mut stream) {
                    let _ = tx.send(req);
                    if stream.write_all(response.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    Server {
        addr,
        accepted,
        requests,
    }
}

/// A server that reads one request on its first connection and then hands
/// the stream to `behave`.
fn serve_with(behave: impl FnOnce(TcpStream) + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept()
            && read_request(&mut stream).is_some()
        {
            behave(stream);
        }
    });
    addr
}

/// Writes `head`, then zeros until the client hangs up (or `limit` bytes);
/// reports how many body bytes were written.
fn serve_flood(head: &'static str, limit: u64) -> (String, mpsc::Receiver<u64>) {
    let (tx, rx) = mpsc::channel();
    let addr = serve_with(move |mut stream| {
        let mut written = 0u64;
        if stream.write_all(head.as_bytes()).is_ok() {
            let chunk = vec![b'0'; 64 * 1024];
            while written < limit {
                match stream.write(&chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => written += n as u64,
                }
            }
        }
        let _ = tx.send(written);
    });
    (addr, rx)
}

/// Waits (without blocking the runtime, whose tasks are what close the
/// abandoned connection) for a flood server to report its total.
async fn flood_total(written: &mpsc::Receiver<u64>) -> u64 {
    let start = Instant::now();
    loop {
        match written.try_recv() {
            Ok(n) => return n,
            Err(mpsc::TryRecvError::Empty) if start.elapsed() < Duration::from_secs(5) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => panic!("flood server did not stop: {e}"),
        }
    }
}

/// Waits until the client closes the connection (so the server never
/// answers, but does not hang up either).
fn hold_until_closed(mut stream: TcpStream) {
    let mut buf = [0u8; 64];
    while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
}

fn assert_within(start: Instant, deadline: Duration) {
    let elapsed = start.elapsed();
    assert!(
        elapsed < deadline + MARGIN,
        "took {elapsed:?}, deadline {deadline:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn silent_server_times_out_at_deadline() {
    let addr = serve_with(hold_until_closed);
    let timeout = Duration::from_millis(500);
    let start = Instant::now();
    let got = prober(timeout).ollama_version(&addr).await;
    assert_eq!(got.result, Err(ProbeError::Timeout { secs: 0.5 }));
    assert!(start.elapsed() >= timeout);
    assert_within(start, timeout);
    assert!(got.latency_ms >= 500);
}

#[tokio::test(flavor = "current_thread")]
async fn headers_trickled_byte_by_byte_time_out_at_deadline() {
    let addr = serve_with(|mut stream| {
        for b in http("200 OK", "", VERSION_JSON).bytes() {
            if stream.write_all(&[b]).is_err() {
                return;
            }
            thread::sleep(Duration::from_secs(1));
        }
    });
    let timeout = Duration::from_millis(1500);
    let start = Instant::now();
    let got = prober(timeout).ollama_version(&addr).await;
    assert_eq!(got.result, Err(ProbeError::Timeout { secs: 1.5 }));
    assert!(start.elapsed() >= timeout);
    assert_within(start, timeout);
}

#[tokio::test(flavor = "current_thread")]
async fn body_trickled_byte_by_byte_times_out_at_deadline() {
    // Each byte arrives well within any per-read timeout; only a deadline on
    // the whole exchange stops this.
    let addr = serve_with(|mut stream| {
        let head = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{";
        if stream.write_all(head.as_bytes()).is_err() {
            return;
        }
        for _ in 0..100 {
            thread::sleep(Duration::from_millis(300));
            if stream.write_all(b" ").is_err() {
                return;
            }
        }
    });
    let timeout = Duration::from_millis(1500);
    let start = Instant::now();
    let got = prober(timeout).ollama_ps(&addr).await;
    assert_eq!(got.result, Err(ProbeError::Timeout { secs: 1.5 }));
    assert!(start.elapsed() >= timeout);
    assert_within(start, timeout);
}

#[tokio::test(flavor = "current_thread")]
async fn gigabyte_with_content_length_is_refused_unread() {
    let (addr, written) = serve_flood(
        "HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n",
        1 << 30,
    );
    let timeout = Duration::from_secs(5);
    let start = Instant::now();
    let got = prober(timeout).ollama_version(&addr).await;
    assert_eq!(
        got.result,
        Err(ProbeError::TooLarge {
            limit: DEFAULT_MAX_BYTES
        })
    );
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    let written = flood_total(&written).await;
    assert!(written < 64 << 20, "server wrote {written} bytes");
}

#[tokio::test(flavor = "current_thread")]
async fn gigabyte_without_length_is_cut_at_the_cap() {
    // No Content-Length: the only way to know is to read, so reading must
    // stop at the cap.
    let (addr, written) = serve_flood("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", 1 << 30);
    let timeout = Duration::from_secs(5);
    let start = Instant::now();
    let got = prober(timeout).ollama_ps(&addr).await;
    assert_eq!(
        got.result,
        Err(ProbeError::TooLarge {
            limit: DEFAULT_MAX_BYTES
        })
    );
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    let written = flood_total(&written).await;
    assert!(written < 64 << 20, "server wrote {written} bytes");
}

#[tokio::test(flavor = "current_thread")]
async fn health_with_huge_page_is_healthy_unless_text_is_wanted() {
    let head = "HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n";
    let p = prober(Duration::from_secs(5)).with_max_bytes(64 * 1024);
    let (addr, _) = serve_flood(head, 1 << 30);
    let start = Instant::now();
    let got = p.health(&format!("http://{addr}/"), None).await;
    assert_eq!(got.result, Ok(()));
    let (addr, _) = serve_flood(head, 1 << 30);
    let got = p.health(&format!("http://{addr}/"), Some("Gradio")).await;
    assert_eq!(got.result, Err(ProbeError::TooLarge { limit: 64 * 1024 }));
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[tokio::test(flavor = "current_thread")]
async fn garbage_json_is_unparsable_with_detail() {
    let server = serve(http("200 OK", "", "<html>not json</html>"));
    let p = prober(Duration::from_secs(2));
    for result in [
        p.ollama_version(&server.addr).await.result.map(|_| ()),
        p.ollama_ps(&server.addr).await.result.map(|_| ()),
    ] {
        let Err(ProbeError::Unparsable { detail }) = result else {
            panic!("expected Unparsable, got {result:?}");
        };
        assert!(detail.contains("expected value"), "{detail}");
        assert!(detail.contains("<html>not json"), "{detail}");
    }
    // Valid JSON of the wrong shape is just as wrong.
    let server = serve(http("200 OK", "", r#"{"models":"none"}"#));
    let got = p.ollama_ps(&server.addr).await.result;
    assert!(matches!(got, Err(ProbeError::Unparsable { .. })), "{got:?}");
    let got = p.ollama_version(&server.addr).await.result;
    assert!(matches!(got, Err(ProbeError::Unparsable { .. })), "{got:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn redirect_is_reported_not_followed() {
    let server = serve(http(
        "302 Found",
        "Location: http://example.invalid/\r\n",
        "",
    ));
    let got = prober(Duration::from_secs(2))
        .health(&format!("http://{}/", server.addr), None)
        .await;
    assert_eq!(
        got.result,
        Err(ProbeError::Redirect {
            location: "http://example.invalid/".into()
        })
    );
}

#[tokio::test(flavor = "current_thread")]
async fn redirect_to_a_listening_port_connects_nowhere() {
    let trap = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = format!("http://{}/api/version", trap.local_addr().unwrap());
    let server = serve(http(
        "307 Temporary Redirect",
        &format!("Location: {target}\r\n"),
        "",
    ));
    let got = prober(Duration::from_secs(2))
        .ollama_version(&server.addr)
        .await;
    assert_eq!(got.result, Err(ProbeError::Redirect { location: target }));
    trap.set_nonblocking(true).unwrap();
    assert_eq!(
        trap.accept().map(|_| ()).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
}

#[tokio::test(flavor = "current_thread")]
async fn server_error_is_status() {
    let server = serve(http("500 Internal Server Error", "", "{}"));
    let p = prober(Duration::from_secs(2));
    let got = p.ollama_tags(&server.addr).await;
    assert_eq!(got.result, Err(ProbeError::Status { code: 500 }));
    let got = p.unload(&server.addr, "llama3.1:8b").await;
    assert_eq!(got, Err(ProbeError::Status { code: 500 }));
    // A 3xx without a Location is just a status.
    let server = serve(http("304 Not Modified", "", ""));
    let got = p.health(&format!("http://{}/", server.addr), None).await;
    assert_eq!(got.result, Err(ProbeError::Status { code: 304 }));
}

#[tokio::test(flavor = "current_thread")]
async fn refused_connection_names_the_address() {
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let start = Instant::now();
    let p = prober(Duration::from_secs(2));
    let got = p.ollama_version(&addr).await;
    assert_eq!(got.result, Err(ProbeError::Refused { addr: addr.clone() }));
    let got = p.health(&format!("http://{addr}/healthz"), None).await;
    assert_eq!(got.result, Err(ProbeError::Refused { addr: addr.clone() }));
    assert!(start.elapsed() < Duration::from_secs(1));
    let msg = ProbeError::Refused { addr: addr.clone() }.to_string();
    assert_eq!(
        msg,
        format!("connection refused: nothing is listening on {addr}")
    );
}

#[tokio::test(flavor = "current_thread")]
async fn version_happy_path() {
    let server = serve(http("200 OK", "", VERSION_JSON));
    let got = prober(Duration::from_secs(2))
        .ollama_version(&server.addr)
        .await;
    assert_eq!(got.result.as_deref(), Ok("0.12.6"));
    let req = String::from_utf8(server.requests.recv().unwrap()).unwrap();
    assert!(req.starts_with("GET /api/version HTTP/1.1\r\n"), "{req}");
}

#[tokio::test(flavor = "current_thread")]
async fn ps_maps_sizes_and_tolerates_missing_and_unknown_fields() {
    let server = serve(http("200 OK", "", PS_JSON));
    let got = prober(Duration::from_secs(2)).ollama_ps(&server.addr).await;
    assert_eq!(
        got.result,
        Ok(vec![
            LoadedModel {
                name: "llama3.1:8b".into(),
                size_bytes: 6_654_289_920,
                vram_bytes: 5_333_539_264,
                expires_at: Some("2025-10-17T16:47:07.93355-07:00".into()),
                context_length: Some(4096),
            },
            LoadedModel {
                name: "qwen2.5-coder:1.5b".into(),
                size_bytes: 1_519_600_000,
                vram_bytes: 0,
                expires_at: Some("2025-10-17T16:50:00Z".into()),
                context_length: None,
            },
        ])
    );
    // Nothing loaded.
    let server = serve(http("200 OK", "", r#"{"models":[]}"#));
    let got = prober(Duration::from_secs(2)).ollama_ps(&server.addr).await;
    assert_eq!(got.result, Ok(vec![]));
}

#[tokio::test(flavor = "current_thread")]
async fn tags_maps_details() {
    let server = serve(http("200 OK", "", TAGS_JSON));
    let got = prober(Duration::from_secs(2))
        .ollama_tags(&server.addr)
        .await;
    assert_eq!(
        got.result,
        Ok(vec![
            InstalledModel {
                name: "llama3.1:8b".into(),
                size_bytes: 4_920_753_328,
                modified_at: Some("2025-10-01T10:00:00.123456+02:00".into()),
                family: Some("llama".into()),
                parameter_size: Some("8.0B".into()),
                quantization: Some("Q4_K_M".into()),
            },
            InstalledModel {
                name: "nomic-embed-text:latest".into(),
                size_bytes: 274_302_450,
                modified_at: Some("2025-09-01T00:00:00Z".into()),
                family: None,
                parameter_size: None,
                quantization: None,
            },
        ])
    );
    let req = String::from_utf8(server.requests.recv().unwrap()).unwrap();
    assert!(req.starts_with("GET /api/tags HTTP/1.1\r\n"), "{req}");
}

#[tokio::test(flavor = "current_thread")]
async fn health_checks_status_and_optional_text() {
    let server = serve(http("200 OK", "", "<title>Codebase Gardener</title>"));
    let url = format!("http://{}/", server.addr);
    let p = prober(Duration::from_secs(2));
    assert_eq!(p.health(&url, None).await.result, Ok(()));
    assert_eq!(
        p.health(&url, Some("Codebase Gardener")).await.result,
        Ok(())
    );
    assert_eq!(
        p.health(&url, Some("Ollama is running")).await.result,
        Err(ProbeError::BodyMismatch {
            expected: "Ollama is running".into()
        })
    );
    let got = p.health("not a url", None).await.result;
    assert!(matches!(got, Err(ProbeError::Other { .. })), "{got:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn unload_posts_keep_alive_zero() {
    let server = serve(http(
        "200 OK",
        "",
        r#"{"model":"llama3.1:8b","created_at":"2025-10-17T16:47:07Z","response":"","done":true,"done_reason":"unload"}"#,
    ));
    let got = prober(Duration::from_secs(2))
        .unload(&server.addr, "llama3.1:8b")
        .await;
    assert_eq!(got, Ok(()));
    let req = server.requests.recv().unwrap();
    let head_end = req.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&req[..head_end]);
    assert!(
        head.starts_with("POST /api/generate HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    let body: serde_json::Value = serde_json::from_slice(&req[head_end..]).unwrap();
    assert_eq!(
        body,
        serde_json::json!({ "model": "llama3.1:8b", "keep_alive": 0 })
    );
}

#[tokio::test(flavor = "current_thread")]
async fn probes_reuse_one_connection() {
    let server = serve(http("200 OK", "", VERSION_JSON));
    let p = prober(Duration::from_secs(2));
    for _ in 0..3 {
        let got = p.ollama_version(&server.addr).await;
        assert_eq!(got.result.as_deref(), Ok("0.12.6"));
    }
    assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn ipv6_and_localhost_hosts_work() {
    // IPv6 may be disabled on a build machine; then only localhost is checked.
    if let Ok(listener) = TcpListener::bind("[::1]:0") {
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let got = prober(Duration::from_secs(2))
            .ollama_version(&format!("[::1]:{port}"))
            .await;
        assert_eq!(
            got.result,
            Err(ProbeError::Refused {
                addr: format!("[::1]:{port}")
            })
        );
    }
    let server = serve(http("200 OK", "", VERSION_JSON));
    let port = server.addr.rsplit(':').next().unwrap();
    let got = prober(Duration::from_secs(2))
        .ollama_version(&format!("localhost:{port}"))
        .await;
    assert_eq!(got.result.as_deref(), Ok("0.12.6"));
}

#[test]
fn messages_say_why_and_serialize_with_a_kind() {
    let cases = [
        (ProbeError::Timeout { secs: 2.0 }, "no answer within 2 s"),
        (ProbeError::Status { code: 500 }, "answered HTTP 500"),
        (
            ProbeError::Redirect {
                location: "http://x/".into(),
            },
            "redirected to http://x/ (not followed)",
        ),
        (
            ProbeError::TooLarge { limit: 1 << 20 },
            "answer larger than 1 MiB (not read)",
        ),
        (
            ProbeError::Unparsable {
                detail: "EOF".into(),
            },
            "answered, but not with the expected JSON: EOF",
        ),
        (
            ProbeError::BodyMismatch {
                expected: "ok".into(),
            },
            "answered, but the page does not contain \"ok\"",
        ),
    ];
    for (err, msg) in cases {
        assert_eq!(err.to_string(), msg);
    }
    assert_eq!(
        serde_json::to_value(ProbeError::TooLarge { limit: 5 }).unwrap(),
        serde_json::json!({ "kind": "too-large", "limit": 5 })
    );
    assert_eq!(
        serde_json::to_value(ProbeError::BodyMismatch {
            expected: "x".into()
        })
        .unwrap(),
        serde_json::json!({ "kind": "body-mismatch", "expected": "x" })
    );
    assert_eq!(human_bytes(64 * 1024), "64 KiB");
    assert_eq!(human_bytes(1000), "1000 bytes");
}
