//! A directory target: an external drive or a mounted network share. A copy
//! is written as `<key>.partial`, synced, renamed and the directory synced.
//! The directory must be on another volume than Gardener's data: a drive
//! that is not connected leaves an empty mount point on the system disk,
//! and a "copy" there would protect nothing.

use std::fs::{self, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::{Error, Object, Result, Target};
use crate::config::TargetConfig;
use crate::context::Context;
use crate::fsutil;

const PARTIAL: &str = ".partial";

/// A directory on another volume.
pub struct DirTarget {
    name: String,
    root: PathBuf,
    /// Volumes a copy must not be on: Gardener's data and the backups'.
    local: Vec<(PathBuf, u64)>,
}

impl DirTarget {
    pub fn open(ctx: &Context, cfg: &TargetConfig) -> Result<Self> {
        let path = cfg
            .path
            .as_deref()
            .ok_or_else(|| Error::Config(format!("target {}: no `path`", cfg.name)))?;
        let local = [ctx.data_dir.clone(), crate::backup::destination(ctx)]
            .into_iter()
            .filter_map(|p| {
                let existing = fsutil::existing_ancestor(&p)?.to_path_buf();
                let dev = fs::metadata(&existing).ok()?.dev();
                Some((existing, dev))
            })
            .collect();
        Ok(Self {
            name: cfg.name.clone(),
            root: super::expand(ctx, path),
            local,
        })
    }

    fn io(&self, action: &str, path: &Path) -> impl FnOnce(io::Error) -> Error {
        let message = format!("cannot {action} {}", path.display());
        let target = self.name.clone();
        move |e| Error::Io {
            target,
            message: format!("{message}: {e}"),
        }
    }

    /// Refuses a directory on the same volume as the data, and one whose
    /// volume is not there; makes the directory (0700) on a volume that is.
    fn ready(&self) -> Result<()> {
        self.check_volume()?;
        fsutil::create_dir(&self.root, 0o700).map_err(self.io("create", &self.root))
    }

    fn check_volume(&self) -> Result<()> {
        let existing = fsutil::existing_ancestor(&self.root).ok_or_else(|| Error::Unreachable {
            target: self.name.clone(),
            message: format!("{} does not exist", self.root.display()),
        })?;
        let dev = fs::metadata(existing)
            .map_err(self.io("inspect", existing))?
            .dev();
        if let Some((local, _)) = self.local.iter().find(|(_, d)| *d == dev) {
            return Err(Error::Refused {
                target: self.name.clone(),
                message: format!(
                    "{} is on the same volume as {} (is the drive connected?); a copy there \
                     would not survive that disk",
                    self.root.display(),
                    local.display()
                ),
            });
        }
        Ok(())
    }
}

impl Target for DirTarget {
    fn name(&self) -> &str {
        &self.name
    }

    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn put(
        &self,
        key: &str,
        write: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
    ) -> Result<u64> {
        self.ready()?;
        let partial = self.root.join(format!("{key}{PARTIAL}"));
        let done = self.root.join(key);
        let written = (|| {
            let file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&partial)?;
            let mut out = BufWriter::with_capacity(1 << 20, file);
            write(&mut out)?;
            let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
            file.sync_all()?;
            fs::rename(&partial, &done)?;
            fsutil::sync_dir(&self.root)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&partial);
            return Err(self.io("write", &done)(e));
        }
        Ok(fs::metadata(&done)
            .map_err(self.io("inspect", &done))?
            .len())
    }

    fn get(&self, key: &str) -> Result<Box<dyn Read + Send>> {
        let path = self.root.join(key);
        match fs::File::open(&path) {
            Ok(f) => Ok(Box::new(f)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::Missing {
                target: self.name.clone(),
                key: key.to_owned(),
            }),
            Err(e) => Err(self.io("read", &path)(e)),
        }
    }

    fn list(&self) -> Result<Vec<Object>> {
        self.check_volume()?;
        let items = match fs::read_dir(&self.root) {
            Ok(items) => items,
            // On its own volume, and nothing copied there yet.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io("list", &self.root)(e)),
        };
        let mut out = Vec::new();
        for item in items {
            let item = item.map_err(self.io("list", &self.root))?;
            let Ok(key) = item.file_name().into_string() else {
                continue;
            };
            let meta = item.metadata().map_err(self.io("inspect", &item.path()))?;
            if meta.is_file() && !key.ends_with(PARTIAL) {
                out.push(Object {
                    key,
                    size: meta.len(),
                });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    fn delete(&self, key: &str) -> Result<()> {
        let path = self.root.join(key);
        match fs::remove_file(&path) {
            Ok(()) => fsutil::sync_dir(&self.root).map_err(self.io("sync", &self.root)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io("delete", &path)(e)),
        }
    }
}
