//! Extracting into staging directories, trusting only what was checked:
//! every path is created fresh (`O_EXCL`, `O_NOFOLLOW`) under a directory
//! this extraction made itself, so no entry can write through a symlink or
//! outside its staging root. Directory modes and times are applied last.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, CWD, Timespec, Timestamps, UTIME_OMIT};

use super::super::archive_reader::Sink;
use super::super::manifest::Entry;
use super::super::{Error, Result};

/// One thing restored as a whole: a source directory, one file, or a
/// `--only` subtree, with where it goes and where it is staged.
#[derive(Clone, Debug)]
pub struct Unit {
    /// Archive path of its root.
    pub archive: String,
    /// Where it lives.
    pub live: PathBuf,
    /// Where it is extracted first (same directory as `live`'s parent, so
    /// the same filesystem and the swap is a rename).
    pub staged: PathBuf,
}

impl Unit {
    /// Where `path` (inside this unit) is staged.
    pub fn staged_path(&self, path: &str) -> Option<PathBuf> {
        if path == self.archive {
            return Some(self.staged.clone());
        }
        let rest = path.strip_prefix(&self.archive)?.strip_prefix('/')?;
        Some(self.staged.join(rest))
    }
}

/// The sink writing into the units' staging paths.
pub struct Staging<'a> {
    units: &'a [Unit],
    created: HashSet<PathBuf>,
    dirs: Vec<(PathBuf, u32, i64, u32)>,
}

impl<'a> Staging<'a> {
    /// A sink for `units`, whose staging parents exist and are empty.
    pub fn new(units: &'a [Unit]) -> Self {
        let created = units
            .iter()
            .filter_map(|u| u.staged.parent().map(Path::to_path_buf))
            .collect();
        Self {
            units,
            created,
            dirs: Vec::new(),
        }
    }

    fn target(&self, path: &str) -> Result<PathBuf> {
        let t = self
            .units
            .iter()
            .find_map(|u| u.staged_path(path))
            .ok_or_else(|| Error::Usage(format!("{path} is not being restored")))?;
        // The parent must be a directory this extraction created: never a
        // symlink from the archive, never something already there.
        let parent = t.parent().map(Path::to_path_buf).unwrap_or_default();
        if !self.created.contains(&parent) {
            return Err(Error::Usage(format!(
                "{path}: its parent directory was not restored first"
            )));
        }
        Ok(t)
    }

    /// A sink for the same staging paths that only writes files, into
    /// directories this one has created: for reading another archive of a
    /// chain at the same time.
    pub fn for_files(&self) -> Self {
        Self {
            units: self.units,
            created: self.created.clone(),
            dirs: Vec::new(),
        }
    }

    /// Applies directories' modes and times, deepest first (writing into a
    /// directory changes its mtime, and a read-only one could not be filled).
    pub fn finish(&mut self) -> Result<()> {
        for (dir, mode, mtime, nsec) in self.dirs.iter().rev() {
            fs::set_permissions(dir, fs::Permissions::from_mode(*mode))
                .map_err(Error::io("set the mode of", dir))?;
            set_mtime(dir, *mtime, *nsec)?;
        }
        self.dirs.clear();
        Ok(())
    }
}

fn set_mtime(path: &Path, secs: i64, nsec: u32) -> Result<()> {
    let times = Timestamps {
        last_access: Timespec {
            tv_sec: 0,
            tv_nsec: UTIME_OMIT,
        },
        last_modification: Timespec {
            tv_sec: secs,
            tv_nsec: i64::from(nsec),
        },
    };
    rustix::fs::utimensat(CWD, path, &times, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| Error::io("set the time of", path)(e.into()))
}

impl Sink for Staging<'_> {
    fn dir(&mut self, e: &Entry) -> Result<()> {
        let t = self.target(&e.path)?;
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&t)
            .map_err(Error::io("create", &t))?;
        self.created.insert(t.clone());
        self.dirs.push((t, e.mode, e.mtime, e.mtime_nsec));
        Ok(())
    }

    fn open_file(&mut self, e: &Entry) -> Result<Option<File>> {
        let t = self.target(&e.path)?;
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&t)
            .map_err(Error::io("create", &t))?;
        Ok(Some(f))
    }

    fn close_file(&mut self, e: &Entry, file: File) -> Result<()> {
        let t = self.target(&e.path)?;
        file.set_permissions(fs::Permissions::from_mode(e.mode))
            .map_err(Error::io("set the mode of", &t))?;
        drop(file);
        set_mtime(&t, e.mtime, e.mtime_nsec)
    }

    fn symlink(&mut self, e: &Entry) -> Result<()> {
        let t = self.target(&e.path)?;
        let target = e.target.as_deref().unwrap_or_default();
        std::os::unix::fs::symlink(target, &t).map_err(Error::io("create", &t))?;
        set_mtime(&t, e.mtime, e.mtime_nsec)
    }

    fn wants(&self, path: &str) -> bool {
        self.units.iter().any(|u| u.staged_path(path).is_some())
    }
}

/// Flushes the trees under `root` to disk before they replace live data:
/// one `syncfs` on Linux, an fsync per file and directory elsewhere.
#[cfg(target_os = "linux")]
pub fn sync_fs(root: &Path) -> Result<()> {
    let f = File::open(root).map_err(Error::io("open", root))?;
    rustix::fs::syncfs(&f).map_err(|e| Error::io("sync", root)(e.into()))
}

/// Flushes the trees under `root` to disk before they replace live data:
/// one `syncfs` on Linux, an fsync per file and directory elsewhere.
#[cfg(not(target_os = "linux"))]
pub fn sync_fs(root: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(root).map_err(Error::io("inspect", root))?;
    if meta.is_dir() {
        for item in fs::read_dir(root).map_err(Error::io("read", root))? {
            let item = item.map_err(Error::io("read", root))?;
            sync_fs(&item.path())?;
        }
    }
    if !meta.file_type().is_symlink() {
        File::open(root)
            .and_then(|f| f.sync_all())
            .map_err(Error::io("fsync", root))?;
    }
    Ok(())
}
