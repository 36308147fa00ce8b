//! What the CLI's integration tests share: a temporary home the `gardener`
//! binary runs in, with nothing of the machine's environment.

use std::path::Path;

use assert_cmd::Command;

/// A temporary home directory; `gardener` runs with only it (and a PATH).
pub struct TempHome {
    dir: tempfile::TempDir,
}

impl TempHome {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `gardener` with this home as HOME and its XDG directories under it.
    pub fn command(&self) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_gardener"));
        let h = self.path();
        c.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", h)
            .env("XDG_CONFIG_HOME", h.join(".config"))
            .env("XDG_DATA_HOME", h.join(".local/share"))
            .env("XDG_STATE_HOME", h.join(".local/state"))
            .env("XDG_RUNTIME_DIR", h.join("run"));
        c
    }

    /// [`Self::command`] for `assert_cmd`'s assertions.
    #[allow(
        dead_code,
        reason = "each test binary compiles this module; not all use every part"
    )]
    pub fn cmd(&self) -> Command {
        Command::from_std(self.command())
    }
}
