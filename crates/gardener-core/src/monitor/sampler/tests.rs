//! Tests of the sampler: restarts, why a service is not running, tree usage,
//! when Ollama's version is asked again, and when its manager is.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::*;

fn status(state: ServiceState, pid: Option<u32>, restarts: Option<u32>) -> ServiceStatus {
    ServiceStatus {
        state,
        pid,
        restarts,
        ..ServiceStatus::not_installed(ServiceId::Ollama)
    }
}

#[test]
fn a_counted_restart_or_a_new_pid_is_a_restart() {
    let before = status(ServiceState::Running, Some(10), Some(0));
    assert!(restarted(
        &before,
        &status(ServiceState::Running, Some(11), Some(1))
    ));
    assert!(restarted(
        &before,
        &status(ServiceState::Running, Some(11), None)
    ));
    assert!(restarted(
        &before,
        &status(ServiceState::Starting, None, Some(1))
    ));
    assert!(!restarted(
        &before,
        &status(ServiceState::Running, Some(10), Some(0))
    ));
    // Stopped by hand: no pid now, no restart counted.
    assert!(!restarted(
        &before,
        &status(ServiceState::Stopped, None, Some(0))
    ));
}

#[test]
fn a_stopped_service_says_why() {
    let s = ServiceStatus {
        last_exit: Some(LastExit::Code { code: 3 }),
        ..status(ServiceState::Failed, None, Some(2))
    };
    let snap = service(Some((s, false)), None, true);
    assert_eq!(snap.state, RunState::Failed);
    assert_eq!(snap.error.as_deref(), Some("failed (last exit code 3)"));
    assert_eq!(snap.rss_bytes, None);
}

#[test]
fn a_running_service_carries_its_tree_usage() {
    let tree = TreeUsage {
        rss_bytes: 123,
        cpu_percent: 4.0,
        pids: 2,
    };
    let snap = service(
        Some((status(ServiceState::Running, Some(7), Some(0)), true)),
        Some(tree),
        true,
    );
    assert_eq!(snap.rss_bytes, Some(123));
    assert_eq!(snap.error, None);
    assert!(snap.restarted);
}

/// An Ollama stand-in on a real socket: answers `/api/version`, `/api/ps`
/// and `/api/tags` (or HTTP 500 for `/api/ps` while `broken`), one request
/// per connection, and records each path asked.
struct Ollama {
    host: String,
    asked: Arc<Mutex<Vec<String>>>,
    broken: Arc<AtomicBool>,
}

impl Ollama {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let broken = Arc::new(AtomicBool::new(false));
        let (log, fail) = (Arc::clone(&asked), Arc::clone(&broken));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head);
                let path = head.split(' ').nth(1).unwrap_or("").to_owned();
                let (status, body) = match path.as_str() {
                    "/api/version" => ("200 OK", r#"{"version":"0.12.6"}"#),
                    "/api/ps" if fail.load(Ordering::SeqCst) => ("500 Internal Server Error", "{}"),
                    "/api/ps" | "/api/tags" => ("200 OK", r#"{"models":[]}"#),
                    _ => ("404 Not Found", "{}"),
                };
                log.lock().unwrap().push(path);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Self {
            host,
            asked,
            broken,
        }
    }

    fn times_asked(&self, path: &str) -> usize {
        self.asked
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == path)
            .count()
    }
}

#[test]
fn the_version_is_asked_once_and_again_after_ollama_stopped_answering() {
    let ollama = Ollama::start();
    let home = tempfile::tempdir().unwrap();
    let bare = crate::services::testing::NoServices {
        dir: home.path().join("units"),
    };
    let (mut sampler, runtime) = sampler_of(&ollama, Box::new(bare), home.path());
    runtime.block_on(async {
        for _ in 0..3 {
            let snap = sampler.sample().await.services.ollama;
            assert!(snap.service.healthy, "{:?}", snap.service.error);
            assert_eq!(snap.version.as_deref(), Some("0.12.6"));
        }
        assert_eq!(ollama.times_asked("/api/ps"), 3);
        assert_eq!(ollama.times_asked("/api/version"), 1);

        ollama.broken.store(true, Ordering::SeqCst);
        let snap = sampler.sample().await.services.ollama;
        // Not Gardener's Ollama, and not answering: the error says the
        // former (installing one is the fix), health the latter.
        assert!(!snap.service.healthy);
        assert_eq!(snap.service.state, RunState::NotInstalled);
        assert_eq!(snap.version, None);

        // Answering again, it may be another Ollama (upgraded, restarted).
        ollama.broken.store(false, Ordering::SeqCst);
        let snap = sampler.sample().await.services.ollama;
        assert!(snap.service.healthy);
        assert_eq!(snap.version.as_deref(), Some("0.12.6"));
        assert_eq!(ollama.times_asked("/api/version"), 2);
        assert_eq!(ollama.times_asked("/api/ps"), 5);
    });
}

#[test]
fn an_unmanaged_service_is_external() {
    let snap = service(None, None, false);
    assert_eq!(snap.state, RunState::External);
    assert!(!snap.managed);
}

/// A manager whose answer for Ollama a test sets, counting how often it is asked.
#[derive(Clone)]
struct Told {
    ollama: Arc<Mutex<ServiceStatus>>,
    asked: Arc<Mutex<usize>>,
}

impl Told {
    fn asked(&self) -> usize {
        *self.asked.lock().unwrap()
    }
}

impl ServiceManager for Told {
    fn platform(&self) -> crate::paths::Platform {
        crate::paths::Platform::Linux
    }
    fn file_path(&self, id: ServiceId) -> std::path::PathBuf {
        std::path::PathBuf::from("/nonexistent").join(id.unit_name())
    }
    fn render(&self, _: &crate::services::ServiceSpec) -> crate::services::Result<String> {
        Ok(String::new())
    }
    fn reload_commands(&self) -> Vec<crate::services::Invocation> {
        Vec::new()
    }
    fn reload(&self) -> crate::services::Result<()> {
        Ok(())
    }
    fn commands(
        &self,
        _: crate::services::Action,
        _: ServiceId,
    ) -> Vec<crate::services::Invocation> {
        Vec::new()
    }
    fn run(
        &self,
        action: crate::services::Action,
        id: ServiceId,
        _: Duration,
    ) -> crate::services::Result<()> {
        panic!("the sampler ran {action:?} {id}");
    }
    fn status(&self, id: ServiceId) -> crate::services::Result<ServiceStatus> {
        if id != ServiceId::Ollama {
            return Ok(ServiceStatus::not_installed(id));
        }
        *self.asked.lock().unwrap() += 1;
        Ok(self.ollama.lock().unwrap().clone())
    }
}

/// A sampler of `ollama` managed by `manager`, and the runtime to drive it.
fn sampler_of(
    ollama: &Ollama,
    manager: Box<dyn ServiceManager>,
    home: &std::path::Path,
) -> (Sampler, tokio::runtime::Runtime) {
    let toml = format!(
        "[ollama]\nhost = \"{}\"\n[app]\nhealth_url = \"http://127.0.0.1:9/\"\n\
         [monitor]\ninterval_secs = 3600\nmodels_every_secs = 3600\n",
        ollama.host
    );
    let file = home.join("gardener.toml");
    let config = crate::config::Config::parse(&toml, &file).unwrap();
    let paths = crate::paths::Paths::linux(
        home.to_path_buf(),
        &home.join(".config"),
        &home.join(".local/share"),
        &home.join(".local/state"),
    );
    let ctx = Context::new(paths, file, true, config);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    (Sampler::new(ctx, manager).unwrap(), runtime)
}

/// An Ollama whose manager says it is stopped, sampled once while it does not answer.
struct StoppedOllama {
    ollama: Ollama,
    told: Told,
    sampler: Sampler,
    runtime: tokio::runtime::Runtime,
    _home: tempfile::TempDir,
}

impl StoppedOllama {
    fn new() -> Self {
        let ollama = Ollama::start();
        ollama.broken.store(true, Ordering::SeqCst);
        let told = Told {
            ollama: Arc::new(Mutex::new(status(ServiceState::Stopped, None, Some(0)))),
            asked: Arc::new(Mutex::new(0)),
        };
        let home = tempfile::tempdir().unwrap();
        let (mut sampler, runtime) = sampler_of(&ollama, Box::new(told.clone()), home.path());
        let snap = runtime.block_on(sampler.sample()).services.ollama.service;
        assert_eq!(snap.state, RunState::Stopped);
        assert_eq!(told.asked(), 1);
        Self {
            ollama,
            told,
            sampler,
            runtime,
            _home: home,
        }
    }

    fn sample(&mut self) -> ServiceSnapshot {
        let sampling = self.sampler.sample();
        self.runtime.block_on(sampling).services.ollama.service
    }
}

#[test]
fn an_ollama_started_while_cached_as_stopped_is_asked_about_at_once() {
    let mut t = StoppedOllama::new();
    // Started by hand, or by its manager after its first start crashed:
    // the next sample knows it as ours, running, and the restart counted.
    let pid = std::process::id();
    *t.told.ollama.lock().unwrap() = status(ServiceState::Running, Some(pid), Some(1));
    t.ollama.broken.store(false, Ordering::SeqCst);
    let snap = t.sample();
    assert_eq!(snap.state, RunState::Running, "{:?}", snap.error);
    assert!(snap.managed && snap.healthy);
    assert_eq!(snap.pid, Some(pid));
    assert!(snap.restarted, "the manager counted a restart");
    assert_eq!(t.told.asked(), 2);

    // Running and its process alive: the answer stays trusted.
    let snap = t.sample();
    assert_eq!(snap.state, RunState::Running);
    assert!(!snap.restarted);
    assert_eq!(t.told.asked(), 2);
}

#[test]
fn another_ollama_answering_while_ours_is_stopped_is_asked_about_once() {
    let mut t = StoppedOllama::new();
    t.ollama.broken.store(false, Ordering::SeqCst);
    for _ in 0..3 {
        let snap = t.sample();
        assert_eq!(snap.state, RunState::External);
        assert!(snap.healthy && !snap.managed);
    }
    // Asked when it started answering, then trusted until it expires.
    assert_eq!(t.told.asked(), 2);
}
