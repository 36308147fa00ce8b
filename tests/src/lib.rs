//! Harness for Gardener's end-to-end tests: a private systemd user manager, stand-ins, probes.
//!
//! The tests drive the real `gardener` binary against real components. This crate holds what
//! they share: entering private mount and PID namespaces ([`namespace`]), running a systemd user
//! manager there ([`SystemdUser`]), installing the stand-in app ([`stand_ins`]), and small
//! loopback probes ([`http`]). The backup tests share a temporary home for the CLI and tree
//! snapshots ([`backup_home`]). The menu-bar app's tests run it on a headless desktop
//! ([`desktop`]: Xvfb, a session bus, dunst) and read its tray menu over D-Bus.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

pub mod backup_home;
pub mod desktop;
pub mod http;
pub mod machine;
pub mod mounts;
pub mod namespace;
pub mod s3;
pub mod sshd;
pub mod stand_ins;
pub mod systemd;
pub mod webdriver;

use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use systemd::SystemdUser;

/// A TCP port on 127.0.0.1 that was free a moment ago, below the kernel's ephemeral range.
///
/// A stand-in service is stopped and started again by some tests (a backup pauses the app); while
/// it is stopped its port must not be taken. Ports handed out by `bind(0)` and to outgoing
/// connections all come from the ephemeral range (`ip_local_port_range`), so a port below it
/// is only ever taken by another test choosing one the same way, at random among thousands.
pub fn free_port() -> u16 {
    use std::hash::BuildHasher;
    let ephemeral_from = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    let (low, high) = (10_000u16, ephemeral_from.max(10_001));
    let mut attempt = 0u64;
    loop {
        attempt += 1;
        let seed = (std::process::id(), attempt, Instant::now());
        let n = std::hash::RandomState::new().hash_one(seed);
        let port = low + u16::try_from(n % u64::from(high - low)).unwrap_or(0);
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
}

/// Polls `done` every 100 ms until it returns true or `timeout` passes; returns its last answer.
pub fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Path of the `gardener` CLI binary built by the `gardener-cli` package of this workspace.
/// `GARDENER_BIN` overrides it.
pub fn gardener_bin() -> PathBuf {
    built_bin("gardener", "GARDENER_BIN", "gardener-cli")
}

/// Path of the menu-bar app built by the `gardener-app` package. `GARDENER_APP_BIN` overrides it.
pub fn app_bin() -> PathBuf {
    built_bin("gardener-app", "GARDENER_APP_BIN", "gardener-app")
}

/// Cargo only exposes `CARGO_BIN_EXE_*` for the test's own package, so other packages'
/// binaries are looked up next to the test executable (`target/<profile>/deps/..`).
fn built_bin(name: &str, env: &str, package: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env) {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe
        .parent()
        .expect("test binary has a directory")
        .to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{name} is not built at {}: run `cargo build -p {package}` first (`make test` does)",
        path.display()
    );
    path
}

/// A command for the `gardener` CLI, with the manager's environment when one is given.
pub fn gardener(systemd: Option<&SystemdUser>) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(gardener_bin());
    if let Some(systemd) = systemd {
        cmd.env_remove("DBUS_SESSION_BUS_ADDRESS")
            .envs(systemd.env());
    }
    cmd.timeout(Duration::from_secs(120));
    cmd
}

/// Both output streams of a finished command, for assertions and failure messages.
pub fn output_text(output: &std::process::Output) -> String {
    format!(
        "status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
