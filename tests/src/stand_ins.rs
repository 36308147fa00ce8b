//! Installing the stand-in Codebase Gardener app the way pip installs an entry point, and
//! running the stand-in Ollama on its own.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Source of the stand-in app script in this repository.
pub fn app_script_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("stand-ins/codebase-gardener")
}

/// The Python interpreter behind `python3` on `PATH`, as an absolute path.
///
/// Asking the interpreter for `sys.executable` sees through wrappers such as pyenv shims,
/// which is also the path pip would write into an entry point's shebang.
pub fn python3() -> PathBuf {
    let output = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 must be on PATH to run the stand-in app");
    assert!(output.status.success(), "python3 failed: {output:?}");
    let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    assert!(
        path.is_absolute(),
        "python3 reported a relative sys.executable: {path:?}"
    );
    path
}

/// Copies the stand-in app to `bin_dir/codebase-gardener` with an absolute shebang; returns it.
pub fn install_app(bin_dir: &Path) -> PathBuf {
    let script = fs::read_to_string(app_script_source()).expect("read stand-in app script");
    let body = script.split_once('\n').map_or("", |(_, rest)| rest);
    let target = bin_dir.join("codebase-gardener");
    fs::create_dir_all(bin_dir).expect("create bin dir");
    fs::write(&target, format!("#!{}\n{body}", python3().display())).expect("write app");
    fs::set_permissions(&target, fs::Permissions::from_mode(0o755)).expect("chmod app");
    target
}

/// The stand-in Ollama (`bin`) as a plain child process, no service manager: serving on
/// `OLLAMA_HOST=ollama_host` (which names `port`) with `env` added. Killed when dropped, so a
/// failing assertion leaves nothing behind.
pub struct StandInOllama {
    /// The process.
    pub child: Child,
}

impl StandInOllama {
    /// Starts it and waits until it listens on `port`.
    pub fn start(bin: &Path, ollama_host: &str, port: u16, env: &[(&str, &str)]) -> Self {
        let child = Command::new(bin)
            .arg("serve")
            .env("OLLAMA_HOST", ollama_host)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn stand-in-ollama");
        let server = Self { child };
        assert!(
            crate::wait_until(Duration::from_secs(10), || crate::http::port_open(port)),
            "stand-in-ollama did not listen on {port}"
        );
        server
    }
}

impl Drop for StandInOllama {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
