//! Pulls against a real local TCP server that streams canned NDJSON, cuts
//! it, or goes silent; and the free-space check on its own.

use super::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;

/// Takes one connection, reads its request and answers with the head of a
/// chunked NDJSON body; the body is the caller's.
fn answer_chunked(listener: &TcpListener) -> std::net::TcpStream {
    let (mut sock, _) = listener.accept().unwrap();
    let mut buf = [0u8; 4096];
    let _ = sock.read(&mut buf);
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n";
    sock.write_all(head.as_bytes()).unwrap();
    sock
}

/// Serves one connection: reads the request, answers with chunked `lines`,
/// then ends the body (`finish`), closes mid-stream, or stays silent.
fn serve(lines: Vec<&'static str>, finish: bool, silent_for: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    thread::spawn(move || {
        let mut sock = answer_chunked(&listener);
        for line in lines {
            // Each line in two chunks, cut mid-way, as a network may.
            let data = format!("{line}\n");
            let (a, b) = data.split_at(data.len() / 2);
            for part in [a, b] {
                let _ = write!(sock, "{:x}\r\n{part}\r\n", part.len());
            }
            let _ = sock.flush();
        }
        thread::sleep(silent_for);
        if finish {
            let _ = sock.write_all(b"0\r\n\r\n");
        }
    });
    addr
}

fn opts(dir: &Path) -> PullOptions {
    PullOptions {
        cancel: Cancel::new(),
        models_dir: dir.to_path_buf(),
        idle_timeout: Duration::from_secs(5),
    }
}

async fn run(addr: &str, opts: &PullOptions) -> (Result<Pulled>, Vec<PullProgress>) {
    let prober = Prober::new(Duration::from_secs(2)).unwrap();
    let mut seen = Vec::new();
    let r = pull(&prober, addr, "tinyllama:1.1b", opts, &mut |p| {
        seen.push(p.clone())
    })
    .await;
    (r, seen)
}

/// Pulls from `addr`, cancels it 300 ms in, and checks it stopped as
/// cancelled before `limit`.
async fn cancelled_within(addr: &str, dir: &Path, limit: Duration) {
    let o = opts(dir);
    let cancel = o.cancel.clone();
    thread::spawn(move || {
        thread::sleep(Duration::from_millis(300));
        cancel.cancel();
    });
    let start = Instant::now();
    let e = run(addr, &o).await.0.unwrap_err();
    assert!(matches!(e, Error::Cancelled), "{e:?}");
    assert!(start.elapsed() < limit, "{:?}", start.elapsed());
}

const SUCCESS: &[&str] = &[
    r#"{"status":"pulling manifest"}"#,
    r#"{"status":"pulling 2af3b81862c6","digest":"sha256:2af3","total":1000,"completed":0}"#,
    r#"{"status":"pulling 2af3b81862c6","digest":"sha256:2af3","total":1000,"completed":500}"#,
    r#"{"status":"pulling 2af3b81862c6","digest":"sha256:2af3","total":1000,"completed":1000}"#,
    r#"{"status":"pulling af0ddbdaaa26","digest":"sha256:af0d","total":10,"completed":10}"#,
    r#"{"status":"verifying sha256 digest"}"#,
    r#"{"status":"success"}"#,
];

#[tokio::test]
async fn a_pull_streams_progress_to_success() {
    let dir = tempfile::tempdir().unwrap();
    let addr = serve(SUCCESS.to_vec(), true, Duration::ZERO);
    let (r, seen) = run(&addr, &opts(dir.path())).await;
    let pulled = r.unwrap();
    assert_eq!(pulled.bytes, 1010);
    let last = seen.last().unwrap();
    assert_eq!(
        (last.status.as_str(), last.completed, last.total),
        ("success", 1010, 1010)
    );
    assert!(
        seen.iter()
            .any(|p| p.digest.as_deref() == Some("sha256:2af3"))
    );
    // The burst of 500/1000 lines of one layer comes within the throttle's window.
    assert!(seen.len() < SUCCESS.len(), "{seen:?}");
}

#[tokio::test]
async fn ollamas_error_line_is_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let addr = serve(
        vec![
            r#"{"status":"pulling manifest"}"#,
            r#"{"error":"pull model manifest: file does not exist"}"#,
        ],
        true,
        Duration::ZERO,
    );
    let e = run(&addr, &opts(dir.path())).await.0.unwrap_err();
    assert_eq!(e.code(), crate::error::ErrorCode::PullFailed);
    assert_eq!(
        e.to_string(),
        "Ollama could not pull tinyllama:1.1b: pull model manifest: file does not exist"
    );
}

#[tokio::test]
async fn a_stream_cut_mid_way_is_an_interruption() {
    let dir = tempfile::tempdir().unwrap();
    let addr = serve(SUCCESS[..3].to_vec(), false, Duration::ZERO);
    let e = run(&addr, &opts(dir.path())).await.0.unwrap_err();
    assert!(matches!(e, Error::Interrupted { .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with("the pull of tinyllama:1.1b stopped"),
        "{e}"
    );
}

#[tokio::test]
async fn a_stream_that_ends_without_success_is_an_interruption() {
    let dir = tempfile::tempdir().unwrap();
    let addr = serve(SUCCESS[..3].to_vec(), true, Duration::ZERO);
    let e = run(&addr, &opts(dir.path())).await.0.unwrap_err();
    assert!(e.to_string().contains("before Ollama said success"), "{e}");
    assert!(e.to_string().contains("pulling 2af3b81862c6"), "{e}");
}

#[tokio::test]
async fn cancel_stops_a_silent_stream_within_a_moment() {
    let dir = tempfile::tempdir().unwrap();
    let addr = serve(SUCCESS[..2].to_vec(), true, Duration::from_secs(10));
    cancelled_within(&addr, dir.path(), Duration::from_secs(2)).await;
}

#[tokio::test]
async fn silence_past_the_idle_timeout_is_an_interruption() {
    let dir = tempfile::tempdir().unwrap();
    let addr = serve(SUCCESS[..2].to_vec(), true, Duration::from_secs(10));
    let mut o = opts(dir.path());
    o.idle_timeout = Duration::from_millis(300);
    let e = run(&addr, &o).await.0.unwrap_err();
    assert!(e.to_string().contains("said nothing"), "{e}");
}

#[test]
fn a_layer_larger_than_the_free_space_stops_the_pull_with_the_figures() {
    let dir = tempfile::tempdir().unwrap();
    let mut stream = Stream::new("llama3.1:405b", dir.path());
    stream.take(br#"{"status":"pulling manifest"}"#).unwrap();
    let huge = format!(
        r#"{{"status":"pulling 6a07","digest":"sha256:6a07","total":{},"completed":0}}"#,
        u64::MAX / 2
    );
    let e = stream.take(huge.as_bytes()).unwrap_err();
    assert_eq!(e.code(), crate::error::ErrorCode::NoSpace);
    assert!(
        e.to_string().contains(&dir.path().display().to_string()),
        "{e}"
    );
}

#[test]
fn the_free_space_check_names_both_figures_and_the_place() {
    assert!(fits("m", 2_000, 2_000, Path::new("/home")).is_ok());
    let e = fits(
        "qwen2.5-coder:7b",
        4_100_000_000,
        2_000_000_000,
        Path::new("/home"),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "qwen2.5-coder:7b does not fit: it needs 4.1 GB more, 2.0 GB free on /home"
    );
}

#[test]
fn what_is_already_here_does_not_count_against_the_space() {
    let dir = tempfile::tempdir().unwrap();
    let mut stream = Stream::new("m", dir.path());
    let here = format!(
        r#"{{"status":"pulling 6a07","digest":"sha256:6a07","total":{0},"completed":{0}}}"#,
        u64::MAX / 2
    );
    stream.take(here.as_bytes()).unwrap();
    assert_eq!(stream.progress.total, u64::MAX / 2);
}

/// Serves a pull whose one layer reports `steps` times, one line every `every`.
fn serve_rush(steps: u64, every: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    thread::spawn(move || {
        let mut sock = answer_chunked(&listener);
        let lines = (0..=steps)
            .map(|i| format!(r#"{{"status":"pulling 2af3b81862c6","digest":"sha256:2af3","total":{steps},"completed":{i}}}"#))
            .chain([r#"{"status":"success"}"#.to_owned()]);
        for line in lines {
            let data = format!("{line}\n");
            if write!(sock, "{:x}\r\n{data}\r\n", data.len()).is_err() || sock.flush().is_err() {
                return; // the client went away (cancelled)
            }
            thread::sleep(every);
        }
        let _ = sock.write_all(b"0\r\n\r\n");
    });
    addr
}

#[tokio::test]
async fn a_stream_in_a_rush_is_read_whole_and_as_fast_as_it_comes() {
    let dir = tempfile::tempdir().unwrap();
    let every = Duration::from_millis(1);
    let addr = serve_rush(1000, every);
    let start = Instant::now();
    let (r, seen) = run(&addr, &opts(dir.path())).await;
    let pulled = r.unwrap();
    assert_eq!(pulled.bytes, 1000);
    let last = seen.last().unwrap();
    assert_eq!((last.status.as_str(), last.completed), ("success", 1000));
    // The lines gathered while it waits are read at once: the pull ends
    // with the stream, not a pause per line later.
    let stream = every * 1000;
    assert!(
        start.elapsed() < stream * 3,
        "{:?} for a {stream:?} stream",
        start.elapsed()
    );
}

#[tokio::test]
async fn cancel_stops_a_stream_in_a_rush_within_a_moment() {
    let dir = tempfile::tempdir().unwrap();
    let addr = serve_rush(100_000, Duration::from_millis(1));
    cancelled_within(&addr, dir.path(), Duration::from_secs(1)).await;
}
