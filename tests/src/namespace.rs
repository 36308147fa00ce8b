//! Running one test inside private mount and PID namespaces, where it may mount over `/run`.
//!
//! A multithreaded process cannot `unshare(CLONE_NEWNS)` itself, and the test harness is
//! multithreaded. So the test re-runs its own binary, filtered to itself, under `unshare`; the
//! child sees `GARDENER_E2E_IN_NAMESPACE` and runs the body, the parent relays the outcome.
//!
//! The PID namespace is for cleanup: the child is its PID 1, and when PID 1 exits the kernel
//! kills everything else in the namespace — the systemd manager and every service it started,
//! even if the test is killed before its guards run.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Set in the re-run child to the host's mount namespace (`mnt:[inode]`), which the child
/// checks it is not in.
pub const ENV: &str = "GARDENER_E2E_IN_NAMESPACE";

/// How long a whole namespaced test may take before the parent kills it.
const CHILD_TIMEOUT: Duration = Duration::from_secs(300);

/// Where the test body should run. Call first in a test and return unless it says `true`.
///
/// * Not root: prints a skip notice and returns `false` (the test passes without running).
/// * Root, outside the namespace: re-runs `test_name` in a fresh namespace, asserts it passed,
///   returns `false`.
/// * Inside the namespace: returns `true`.
///
/// `test_name` must be the test function's name as libtest knows it (module path included if
/// the test is in a module); it is checked that exactly one test ran.
pub fn enter(test_name: &str) -> bool {
    if let Some(host_ns) = std::env::var_os(ENV) {
        assert_private_mount_namespace(&host_ns);
        return true;
    }
    if !rustix::process::getuid().is_root() {
        println!("skipped: {test_name} needs root to start a private systemd user manager");
        return false;
    }
    for tool in ["/usr/bin/unshare", crate::systemd::SYSTEMD] {
        if !Path::new(tool).exists() {
            println!("skipped: {test_name} needs {tool} (Debian packages util-linux, systemd)");
            return false;
        }
    }
    run_child(test_name);
    false
}

/// True in the re-run child (where [`enter`] returned `true`).
pub fn inside() -> bool {
    std::env::var_os(ENV).is_some()
}

/// Mounting over `/run` in the host's namespace would break the machine; refuse to.
fn assert_private_mount_namespace(host_ns: &std::ffi::OsStr) {
    let ours = std::fs::read_link("/proc/self/ns/mnt").expect("read /proc/self/ns/mnt");
    assert_ne!(
        ours.as_os_str(),
        host_ns,
        "{ENV} is set but this process is in the host's mount namespace; refusing to touch /run"
    );
    assert_eq!(
        std::process::id(),
        1,
        "expected to be PID 1 of a private PID namespace"
    );
}

fn run_child(test_name: &str) {
    let exe = std::env::current_exe().expect("current_exe");
    let host_ns = std::fs::read_link("/proc/self/ns/mnt").expect("read /proc/self/ns/mnt");
    // --kill-child: if unshare dies (or we kill it on timeout), the namespace's PID 1 dies too.
    let mut child = Command::new("/usr/bin/unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "--pid",
            "--fork",
            "--kill-child",
        ])
        .args(["--mount-proc", "--"])
        .arg(&exe)
        .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(ENV, &host_ns)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn unshare");

    // Both streams are relayed line by line: libtest captures them like the test's own output
    // (shown on failure, live with `--nocapture`). The transcript is kept to check the summary.
    let transcript = Arc::new(Mutex::new(String::new()));
    let relays: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|stream| {
        let transcript = Arc::clone(&transcript);
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                println!("  | {line}");
                let mut t = transcript
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                t.push_str(&line);
                t.push('\n');
            }
        })
    })
    .collect();

    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for namespaced test") {
            break Some(status);
        }
        if started.elapsed() > CHILD_TIMEOUT {
            // Killing unshare kills the namespace's PID 1 and with it every process inside.
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    for relay in relays {
        let _ = relay.join();
    }
    let transcript = transcript
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    // The child's output was relayed line by line above; the messages point there.
    match status {
        None => panic!("{test_name} did not finish within {CHILD_TIMEOUT:?} in its namespace"),
        Some(status) if !status.success() => {
            panic!("{test_name} failed in its namespace ({status}); its output is above")
        }
        Some(_) => assert!(
            transcript.contains("test result: ok. 1 passed"),
            "{test_name}: the namespaced run did not run exactly one test (wrong name?)"
        ),
    }
}
