//! The real tools that check rendered service and timer files, shared by
//! `service_files.rs` and `schedule_files.rs`: CPython's `plistlib`,
//! libplist's `plistutil` and `systemd-analyze --user verify`. A missing
//! tool fails the test with what to install, because CI must run them.

// Helpers outside #[test] functions are test code too.
#![allow(clippy::unwrap_used, clippy::panic, dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output};

use serde_json::Value;

/// Runs a tool that CI installs; a missing one fails with what to install.
pub fn run_tool(cmd: &mut Command, package: &str) -> Output {
    match cmd.output() {
        Ok(out) => out,
        Err(e) => panic!(
            "could not run {:?} ({e}); install it with `apt-get install {package}`",
            cmd.get_program()
        ),
    }
}

pub fn assert_ran(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The plist as CPython's plistlib reads it, as JSON.
pub fn plistlib(path: &Path) -> Value {
    let script = "import json, plistlib, sys\n\
                  with open(sys.argv[1], 'rb') as f:\n    d = plistlib.load(f)\n\
                  print(json.dumps(d, sort_keys=True))\n";
    let out = run_tool(
        Command::new("python3").args(["-c", script]).arg(path),
        "python3",
    );
    assert_ran(&out, &format!("plistlib on {}", path.display()));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Converts the plist at `path` to binary and back to XML with libplist;
/// returns the XML libplist wrote (the binary one is checked to be binary).
pub fn plistutil_round_trip(path: &Path) -> PathBuf {
    let bin = path.with_extension("bin");
    let xml = path.with_extension("libplist.xml");
    for (from, to, format) in [(path, &bin, "bin"), (&bin, &xml, "xml")] {
        let out = run_tool(
            Command::new("plistutil")
                .arg("-i")
                .arg(from)
                .arg("-o")
                .arg(to)
                .args(["-f", format]),
            "libplist-utils",
        );
        assert_ran(
            &out,
            &format!("plistutil -i {} -f {format}", from.display()),
        );
    }
    assert!(fs::read(&bin).unwrap().starts_with(b"bplist00"));
    xml
}

/// A home with `.config` and a private runtime dir under `root`, as a user
/// manager would see them: (home, runtime dir).
pub fn user_home(root: &Path) -> (PathBuf, PathBuf) {
    let home = root.join("home");
    let runtime = root.join("runtime");
    fs::create_dir_all(home.join(".config")).unwrap();
    fs::create_dir_all(&runtime).unwrap();
    fs::set_permissions(&runtime, fs::Permissions::from_mode(0o700)).unwrap();
    (home, runtime)
}

/// `systemd-analyze --user verify UNIT` in that home, from `cwd`: how it
/// exited, and everything it printed (it reports most problems on stderr
/// with exit code 0).
pub fn systemd_verify(
    unit: &Path,
    home: &Path,
    runtime: &Path,
    cwd: &Path,
) -> (ExitStatus, String) {
    let out = run_tool(
        Command::new("systemd-analyze")
            .args(["--user", "verify"])
            .arg(unit)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_RUNTIME_DIR", runtime)
            .current_dir(cwd),
        "systemd",
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status, text)
}
