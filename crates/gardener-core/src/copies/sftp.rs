//! An SFTP target, through the system's `sftp` in batch mode: the user's
//! keys, `~/.ssh/config` (or `ssh_config`) and `known_hosts` apply; it
//! never asks for a password (`BatchMode=yes`) and never accepts a host key
//! it does not know (`StrictHostKeyChecking=yes`). A copy is uploaded as
//! `<key>.partial` and renamed once complete. `sftp` reads and writes local
//! files, so a copy passes through a private temporary file in the backups
//! directory, removed afterwards.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{Error, Object, Result, Target};
use crate::config::{SftpLocation, TargetConfig};
use crate::context::Context;

/// A directory on an SFTP server.
pub struct SftpTarget {
    name: String,
    location: SftpLocation,
    ssh_config: Option<PathBuf>,
    /// Where copies pass through on their way (the backups directory).
    scratch: PathBuf,
}

impl SftpTarget {
    pub fn open(ctx: &Context, cfg: &TargetConfig) -> Result<Self> {
        let url = cfg
            .url
            .as_deref()
            .ok_or_else(|| Error::Config(format!("target {}: no `url`", cfg.name)))?;
        let location = SftpLocation::parse(url)
            .map_err(|e| Error::Config(format!("target {}: {e}", cfg.name)))?;
        Ok(Self {
            name: cfg.name.clone(),
            location,
            ssh_config: cfg.ssh_config.as_deref().map(|p| super::expand(ctx, p)),
            scratch: crate::backup::destination(ctx),
        })
    }

    fn remote(&self, key: &str) -> String {
        format!("\"{}/{key}\"", self.location.dir)
    }

    /// Runs `sftp -b -` with `batch` on stdin; its stdout.
    fn run(&self, batch: &str) -> Result<String> {
        let mut cmd = Command::new("sftp");
        cmd.args([
            "-b",
            "-",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
        ])
        .args(["-o", "ConnectTimeout=20", "-o", "ServerAliveInterval=15"]);
        if let Some(config) = &self.ssh_config {
            cmd.arg("-F").arg(config);
        }
        if let Some(port) = self.location.port {
            cmd.arg("-P").arg(port.to_string());
        }
        cmd.arg("--")
            .arg(&self.location.destination)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| Error::Io {
            target: self.name.clone(),
            message: format!("cannot run sftp (is OpenSSH's client installed?): {e}"),
        })?;
        if let Some(mut stdin) = child.stdin.take() {
            // A failed write shows as the command's own error below.
            let _ = stdin.write_all(batch.as_bytes());
        }
        let out = child.wait_with_output().map_err(|e| Error::Io {
            target: self.name.clone(),
            message: format!("sftp: {e}"),
        })?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        Err(self.failure(&String::from_utf8_lossy(&out.stderr)))
    }

    /// What `sftp` printed on failure, as the error it means.
    fn failure(&self, stderr: &str) -> Error {
        let said: Vec<&str> = stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("sftp>"))
            .collect();
        let message = said.join("; ");
        let target = self.name.clone();
        let has = |s: &str| message.contains(s);
        if has("Host key verification failed") || has("REMOTE HOST IDENTIFICATION HAS CHANGED") {
            Error::Refused {
                target,
                message: format!(
                    "the server's host key is unknown or has changed ({message}); check it, then \
                     add it to known_hosts (ssh {} once)",
                    self.location.destination
                ),
            }
        } else if has("Permission denied") || has("Too many authentication failures") {
            Error::Denied {
                target,
                message: format!(
                    "{message} (Gardener uses your ssh keys and never asks for a password)"
                ),
            }
        } else if has("Connection refused")
            || has("Could not resolve")
            || has("timed out")
            || has("No route to host")
            || has("Connection closed")
            || has("Network is unreachable")
        {
            Error::Unreachable { target, message }
        } else {
            Error::Io { target, message }
        }
    }

    fn scratch_file(&self, key: &str) -> PathBuf {
        self.scratch
            .join(format!(".gardener-sftp-{}-{key}", std::process::id()))
    }
}

/// Removes a scratch file when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

fn private_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

impl Target for SftpTarget {
    fn name(&self) -> &str {
        &self.name
    }

    fn location(&self) -> String {
        let port = self
            .location
            .port
            .map(|p| format!(":{p}"))
            .unwrap_or_default();
        format!(
            "sftp://{}{port}{}",
            self.location.destination, self.location.dir
        )
    }

    fn put(
        &self,
        key: &str,
        write: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
    ) -> Result<u64> {
        crate::fsutil::create_dir(&self.scratch, 0o700).map_err(|e| Error::Io {
            target: self.name.clone(),
            message: format!("cannot create {}: {e}", self.scratch.display()),
        })?;
        let scratch = Scratch(self.scratch_file(key));
        let local = (|| {
            let mut out = BufWriter::with_capacity(1 << 20, private_file(&scratch.0)?);
            write(&mut out)?;
            out.flush()
        })();
        local.map_err(|e| Error::Io {
            target: self.name.clone(),
            message: format!("cannot prepare the upload of {key}: {e}"),
        })?;
        let dir = &self.location.dir;
        let partial = self.remote(&format!("{key}.partial"));
        let done = self.remote(key);
        let batch = format!(
            "-mkdir \"{dir}\"\n-rm {partial}\nput \"{}\" {partial}\nrename {partial} {done}\nls -ln {done}\n",
            scratch.0.display()
        );
        let listed = self.run(&batch)?;
        size_in_listing(&listed).ok_or_else(|| Error::Corrupt {
            target: self.name.clone(),
            message: format!("{key} was uploaded but is not listed with a size"),
        })
    }

    fn get(&self, key: &str) -> Result<Box<dyn Read + Send>> {
        let scratch = Scratch(self.scratch_file(key));
        crate::fsutil::create_dir(&self.scratch, 0o700).map_err(|e| Error::Io {
            target: self.name.clone(),
            message: format!("cannot create {}: {e}", self.scratch.display()),
        })?;
        let batch = format!("get {} \"{}\"\n", self.remote(key), scratch.0.display());
        match self.run(&batch) {
            Ok(_) => {}
            Err(Error::Io { message, .. })
                if message.contains("not found") || message.contains("No such file") =>
            {
                return Err(Error::Missing {
                    target: self.name.clone(),
                    key: key.to_owned(),
                });
            }
            Err(e) => return Err(e),
        }
        // Open, then let the name go: the data stays readable until dropped.
        let file = File::open(&scratch.0).map_err(|e| Error::Io {
            target: self.name.clone(),
            message: format!("cannot read the download of {key}: {e}"),
        })?;
        drop(scratch);
        Ok(Box::new(file))
    }

    fn list(&self) -> Result<Vec<Object>> {
        let dir = &self.location.dir;
        let out = match self.run(&format!("ls -lna \"{dir}\"\n")) {
            Ok(out) => out,
            Err(Error::Io { message, .. })
                if message.contains("not found") || message.contains("No such file") =>
            {
                return Ok(Vec::new());
            }
            Err(e) => return Err(e),
        };
        let mut objects: Vec<Object> = out
            .lines()
            .filter(|l| l.starts_with('-'))
            .filter_map(|l| {
                let size = size_in_listing(l)?;
                let name = l.split_whitespace().nth(8)?;
                let key = name.rsplit('/').next()?.to_owned();
                (!key.ends_with(".partial")).then_some(Object { key, size })
            })
            .collect();
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(objects)
    }

    fn delete(&self, key: &str) -> Result<()> {
        // `-rm`: a copy already gone is fine.
        self.run(&format!("-rm {}\n", self.remote(key))).map(|_| ())
    }
}

/// The size column of an `ls -ln` line: mode, links, uid, gid, size, …
fn size_in_listing(listing: &str) -> Option<u64> {
    listing
        .lines()
        .find(|l| l.starts_with('-'))?
        .split_whitespace()
        .nth(4)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_come_from_ls_ln() {
        let line =
            "-rw-------    1 0        0          123456 Dec  6 05:00 /srv/g/gardener-x.tar.zst.age";
        assert_eq!(size_in_listing(line), Some(123_456));
        assert_eq!(size_in_listing("drwx------ 2 0 0 4096 Dec 6 05:00 d"), None);
    }
}
