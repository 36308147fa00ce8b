//! File systems a test mounts inside its private mount namespace, unmounted when dropped.
//!
//! A mount point inside a temporary directory keeps that directory from being removed (its
//! removal stops at the busy mount point), so each mount is undone before its directory goes:
//! declare the [`Mounted`] after the directory that holds it.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A mounted file system; unmounted (lazily: services may still hold files on it) when dropped.
pub struct Mounted {
    at: PathBuf,
}

impl Mounted {
    /// Runs `mount ARGS… AT`; the error names the command and what it printed.
    pub fn new<S: AsRef<OsStr>>(args: &[S], at: &Path) -> Result<Self, String> {
        let mut mount = Command::new("mount");
        mount.args(args).arg(at);
        let out = mount.output().map_err(|e| format!("{mount:?}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{mount:?}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Self {
            at: at.to_path_buf(),
        })
    }

    /// A tmpfs of `size` (as mount's `size=` option reads it) at `at`, made first if missing.
    pub fn tmpfs(size: &str, at: &Path) -> Self {
        std::fs::create_dir_all(at).expect("make the mount point");
        Self::new(
            &["-t", "tmpfs", "-o", &format!("size={size}"), "test-drive"],
            at,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        // A test may have unmounted it already; then this fails, harmlessly.
        let _ = Command::new("umount").arg("--lazy").arg(&self.at).output();
    }
}
