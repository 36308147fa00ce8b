//! A private S3-compatible server for the S3 target's tests: `s3s-fs` (crates.io, installed by
//! `scripts/install-deps.sh --test`) on 127.0.0.1, storing objects as files under a directory
//! of the test, with one access key and secret it checks every request's signature against.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{free_port, wait_until};

/// The access key the server accepts.
pub const ACCESS_KEY: &str = "GARDENERTESTKEY";
/// Its secret (the tests check it never shows in any output).
pub const SECRET: &str = "gardener-test-secret-do-not-print";

/// A running server.
pub struct S3Server {
    root: PathBuf,
    log: PathBuf,
    /// The port on 127.0.0.1.
    pub port: u16,
    child: Option<Child>,
}

/// Where `s3s-fs` is, when installed.
pub fn binary() -> Option<PathBuf> {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|c| c.join("bin/s3s-fs"));
    cargo_bin
        .filter(|p| p.is_file())
        .or_else(|| which_on_path("s3s-fs"))
}

fn which_on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

impl S3Server {
    /// Starts a server storing under `root`, with an empty bucket `bucket`.
    pub fn start(root: &Path, bucket: &str) -> Self {
        fs::create_dir_all(root.join(bucket)).unwrap();
        let mut s = Self {
            root: root.to_path_buf(),
            log: root.with_extension("log"),
            port: free_port(),
            child: None,
        };
        s.run();
        s
    }

    fn run(&mut self) {
        let bin = binary().expect("s3s-fs is not installed: scripts/install-deps.sh --test");
        let child = Command::new(bin)
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET])
            .arg(&self.root)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&self.log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("start s3s-fs");
        self.child = Some(child);
        let addr = format!("127.0.0.1:{}", self.port);
        let up = wait_until(Duration::from_secs(15), || {
            std::net::TcpStream::connect(&addr).is_ok()
        });
        assert!(up, "s3s-fs did not listen on {addr}");
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Where the bucket's objects are stored as files.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Parts of multipart uploads in progress on the server.
    pub fn parts_in_progress(&self) -> usize {
        fs::read_dir(&self.root)
            .map(|items| {
                items
                    .flatten()
                    .filter(|i| i.file_name().to_string_lossy().contains(".part-"))
                    .count()
            })
            .unwrap_or(0)
    }

    /// Stops it (SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again, on the same port and storage.
    pub fn restart(&mut self) {
        self.kill();
        self.run();
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.kill();
    }
}
