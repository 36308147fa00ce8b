//! CPU cost of one monitor tick: sample the machine, probe Ollama (`/api/version`, `/api/ps`)
//! and the app over real HTTP against stand-ins on loopback, evaluate the alert rules.
//!
//! `cargo bench -p gardener-e2e --bench tick` prints CPU time per tick (this process's, all
//! threads, read from `CLOCK_PROCESS_CPUTIME_ID`; the stand-ins run as separate processes so
//! their work is not counted) and the ratio to the 1 ms budget. Wall time per tick is printed
//! too; it includes waiting for the stand-ins to answer.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gardener_core::config::Config;
use gardener_core::context::Context;
use gardener_core::monitor::Monitor;
use gardener_core::paths::{Paths, Platform};
use gardener_core::services::{
    Action, Invocation, Result, ServiceId, ServiceManager, ServiceSpec, ServiceState, ServiceStatus,
};
use gardener_e2e::{free_port, http, wait_until};

const BUDGET_MS: f64 = 1.0;
const WARMUP: usize = 20;
const TICKS: usize = 500;

/// A service manager that reports both services running with the stand-ins' pids, so the
/// tick takes the same path as on a machine where everything is up.
struct Running {
    pids: [u32; 2],
}

impl ServiceManager for Running {
    fn platform(&self) -> Platform {
        Platform::Linux
    }
    fn file_path(&self, id: ServiceId) -> PathBuf {
        PathBuf::from("/nonexistent").join(id.unit_name())
    }
    fn render(&self, _: &ServiceSpec) -> Result<String> {
        Ok(String::new())
    }
    fn reload_commands(&self) -> Vec<Invocation> {
        Vec::new()
    }
    fn reload(&self) -> Result<()> {
        Ok(())
    }
    fn commands(&self, _: Action, _: ServiceId) -> Vec<Invocation> {
        Vec::new()
    }
    fn run(&self, _: Action, _: ServiceId, _: Duration) -> Result<()> {
        Ok(())
    }
    fn status(&self, id: ServiceId) -> Result<ServiceStatus> {
        Ok(ServiceStatus {
            state: ServiceState::Running,
            raw_state: "active (running)".into(),
            pid: Some(self.pids[usize::from(id == ServiceId::App)]),
            restarts: Some(0),
            ..ServiceStatus::not_installed(id)
        })
    }
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn stand_in(port: u16) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_stand-in-ollama"))
        .arg("serve")
        .env("OLLAMA_HOST", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start stand-in-ollama");
    let url = format!("http://127.0.0.1:{port}/api/version");
    assert!(
        wait_until(Duration::from_secs(10), || http::answers(&url, 200)),
        "stand-in on {port} did not answer"
    );
    Server(child)
}

fn cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap(),
        u32::try_from(t.tv_nsec).unwrap(),
    )
}

fn context(home: &Path, ollama_port: u16, app_port: u16) -> Context {
    let toml = format!(
        "[ollama]\nhost = \"127.0.0.1:{ollama_port}\"\n[app]\nhealth_url = \"http://127.0.0.1:{app_port}/\"\n"
    );
    let file = home.join("gardener.toml");
    let config = Config::parse(&toml, &file).unwrap();
    let paths = Paths::linux(
        home.to_path_buf(),
        &home.join(".config"),
        &home.join(".local/share"),
        &home.join(".local/state"),
    );
    Context::new(paths, file, true, config)
}

fn main() {
    // `cargo test --benches` runs this with `--test`-style flags; only measure under `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        println!("tick: run with `cargo bench -p gardener-e2e --bench tick`");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let (ollama_port, app_port) = (free_port(), free_port());
    let ollama = stand_in(ollama_port);
    // A second stand-in plays the app: its `/` answers 200 like the app's page.
    let app = stand_in(app_port);
    let manager = Running {
        pids: [ollama.0.id(), app.0.id()],
    };
    let ctx = context(home.path(), ollama_port, app_port);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut monitor = Monitor::with_manager(ctx, Box::new(manager), false).unwrap();
        monitor.prime().await;
        for _ in 0..WARMUP {
            let (snap, _) = monitor.tick().await;
            assert!(snap.services.ollama.service.healthy, "{snap:#?}");
            assert!(snap.services.app.healthy, "{snap:#?}");
        }
        let (cpu0, wall0) = (cpu_time(), Instant::now());
        for _ in 0..TICKS {
            let (snap, _) = monitor.tick().await;
            assert!(snap.services.ollama.service.healthy);
        }
        let cpu = cpu_time() - cpu0;
        let wall = wall0.elapsed();
        let per_tick_ms = cpu.as_secs_f64() * 1000.0 / TICKS as f64;
        println!(
            "monitor tick ({TICKS} ticks, 3 HTTP probes each, both services running):\n  \
             CPU {per_tick_ms:.3} ms/tick (budget {BUDGET_MS} ms: ratio {:.2}, {})\n  \
             wall {:.3} ms/tick (includes waiting for the stand-ins)",
            per_tick_ms / BUDGET_MS,
            if per_tick_ms <= BUDGET_MS {
                "within"
            } else {
                "OVER"
            },
            wall.as_secs_f64() * 1000.0 / TICKS as f64,
        );
    });
}
