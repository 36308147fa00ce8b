//! What an archive says about itself: the manifest (first entry: every path
//! with its type, size, mode and mtime) and the checksums (last entry: the
//! BLAKE3 hash of every file, known only once the files have been read).
//! Both are untrusted on the way back in; [`Manifest::check`] rejects
//! anything a restore could be tricked by.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Version of the archive layout this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Name of the first entry of every archive.
pub const MANIFEST_NAME: &str = "gardener-manifest.json";
/// Name of the last entry of every archive.
pub const CHECKSUMS_NAME: &str = "gardener-checksums.json";
/// Largest manifest or checksums entry read back (a million files is ~200 MiB).
pub const MAX_META_BYTES: u64 = 512 << 20;

/// The kind of a stored path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (stored as a link, never followed).
    Symlink,
}

/// How a source's root is laid out, which decides how it is restored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// A whole directory: restored by swapping the directory.
    Dir,
    /// One file: restored by replacing the file.
    File,
    /// Selected files of a shared directory (the service directory): each
    /// restored on its own, other files there are left alone.
    Files,
    /// Nothing was there when the backup ran.
    Missing,
}

/// One source as recorded in the archive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRecord {
    /// Top-level directory of the source in the archive.
    pub name: String,
    /// Where it lives, `~/`-relative when under the home directory, so a
    /// restore on another machine or user finds the right place.
    pub path: String,
    /// Layout.
    pub kind: SourceKind,
}

/// One stored path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Path inside the archive, `/`-separated, starting with the source name.
    pub path: String,
    /// File, directory or symlink.
    pub kind: Kind,
    /// Bytes of content (0 for directories and symlinks).
    #[serde(default)]
    pub size: u64,
    /// Permission bits (no setuid, setgid or sticky).
    pub mode: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Nanoseconds part of the modification time.
    #[serde(default)]
    pub mtime_nsec: u32,
    /// Link target, for symlinks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// The first entry of an archive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT_VERSION`] of the writer.
    pub format: u32,
    /// The backup's id (`gardener-YYYYMMDDTHHMMSSZ`).
    pub id: String,
    /// When the backup started, RFC 3339 UTC.
    pub created: String,
    /// Host name of the machine backed up.
    pub host: String,
    /// Version of Gardener that wrote it.
    pub gardener_version: String,
    /// Whether the timer started it.
    #[serde(default)]
    pub scheduled: bool,
    /// The sources, in archive order.
    pub sources: Vec<SourceRecord>,
    /// Every stored path, in archive order.
    pub entries: Vec<Entry>,
    /// Sum of the sizes of all files.
    pub total_bytes: u64,
    /// What was skipped, and why.
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// The last entry of an archive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksums {
    /// [`FORMAT_VERSION`] of the writer.
    pub format: u32,
    /// The same id as the manifest's.
    pub id: String,
    /// BLAKE3 of the manifest entry's bytes.
    pub manifest_blake3: String,
    /// BLAKE3 of every file's content, by archive path.
    pub files: BTreeMap<String, String>,
    /// Files whose size changed while they were read (stored as read, padded
    /// with zeros or cut to the size first seen).
    #[serde(default)]
    pub changed_while_read: Vec<String>,
}

/// Why a manifest cannot be trusted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct Refused(pub String);

/// Checks an archive path: relative, `/`-separated, only normal components,
/// no empty or `.`/`..` parts, no NUL, not one of the reserved entry names.
pub fn check_path(path: &str) -> Result<(), Refused> {
    let refuse = |why: &str| Err(Refused(format!("entry `{}`: {why}", path.escape_debug())));
    if path.is_empty() {
        return refuse("empty path");
    }
    if path.starts_with('/') {
        return refuse("absolute path");
    }
    if path.contains('\0') || path.contains('\\') {
        return refuse("path contains NUL or a backslash");
    }
    for part in path.split('/') {
        match part {
            "" | "." => return refuse("path has an empty or `.` component"),
            ".." => return refuse("path contains `..`"),
            _ => {}
        }
    }
    if path == MANIFEST_NAME || path == CHECKSUMS_NAME {
        return refuse("reserved name used for a stored path");
    }
    Ok(())
}

/// Where a symlink at `link` (archive path) pointing to `target` ends up,
/// resolved lexically; `None` when it leaves the source it belongs to.
pub fn resolve_link(link: &str, target: &str) -> Option<String> {
    let target_path = Path::new(target);
    if target.is_empty() || target_path.is_absolute() || target.contains('\0') {
        return None;
    }
    let mut parts: Vec<&str> = link.split('/').collect();
    parts.pop();
    let source = *parts.first()?;
    for c in target_path.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str()?),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    // Staying inside the source: its name must still be the first part.
    (parts.first() == Some(&source)).then(|| parts.join("/"))
}

const FORBIDDEN_MODE_BITS: u32 = 0o7000;

impl Manifest {
    /// Every path in the manifest, checked: valid and unique paths, each
    /// under a declared source and below a declared directory, sane modes,
    /// symlinks that stay inside their source, sizes adding up to the total.
    /// Returns the entries by path.
    pub fn check(&self) -> Result<BTreeMap<&str, &Entry>, Refused> {
        if self.format != FORMAT_VERSION {
            return Err(Refused(format!(
                "archive format {} is not supported by this Gardener (it reads format {FORMAT_VERSION}); \
                 use a newer Gardener, or extract it with `tar --zstd -xf`",
                self.format
            )));
        }
        let mut names = std::collections::BTreeSet::new();
        for s in &self.sources {
            check_path(&s.name)?;
            if s.name.contains('/') || !names.insert(s.name.as_str()) {
                return Err(Refused(format!(
                    "source name `{}` is invalid or repeated",
                    s.name
                )));
            }
        }
        let mut by_path = BTreeMap::new();
        let mut total: u64 = 0;
        for e in &self.entries {
            check_path(&e.path)?;
            let refuse = |why: String| Err(Refused(format!("entry `{}`: {why}", e.path)));
            let (parent, _) = e.path.rsplit_once('/').unwrap_or(("", &e.path));
            if parent.is_empty() {
                if !names.contains(e.path.as_str()) || e.kind != Kind::Dir {
                    return refuse(
                        "top-level entry that is not a declared source directory".into(),
                    );
                }
            } else if by_path.get(parent).map(|p: &&Entry| p.kind) != Some(Kind::Dir) {
                return refuse("listed before (or without) its parent directory".into());
            }
            if e.mode & FORBIDDEN_MODE_BITS != 0 {
                return refuse(format!(
                    "mode {:o} has setuid, setgid or sticky bits",
                    e.mode
                ));
            }
            match e.kind {
                Kind::Symlink => {
                    let target = e.target.as_deref().unwrap_or("");
                    if resolve_link(&e.path, target).is_none() {
                        return refuse(format!("symlink to `{target}` points outside its source"));
                    }
                }
                Kind::File => {
                    total = total
                        .checked_add(e.size)
                        .ok_or_else(|| Refused("sizes overflow".into()))?;
                }
                Kind::Dir => {}
            }
            if e.kind != Kind::File && e.size != 0 {
                return refuse("a directory or symlink with a size".into());
            }
            if by_path.insert(e.path.as_str(), e).is_some() {
                return refuse("listed twice".into());
            }
        }
        if total != self.total_bytes {
            return Err(Refused(format!(
                "manifest total {} does not match the sum of its files {total}",
                self.total_bytes
            )));
        }
        Ok(by_path)
    }

    /// The number of files (not directories or links).
    pub fn file_count(&self) -> u64 {
        self.entries.iter().filter(|e| e.kind == Kind::File).count() as u64
    }

    /// The source record an archive path belongs to.
    pub fn source_of(&self, path: &str) -> Option<&SourceRecord> {
        let name = path.split('/').next()?;
        self.sources.iter().find(|s| s.name == name)
    }
}

/// `~/x` → `<home>/x`; absolute paths unchanged.
pub fn expand_home(path: &str, home: &Path) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => home.join(rest),
        None if path == "~" => home.to_path_buf(),
        None => PathBuf::from(path),
    }
}

/// `<home>/x` → `~/x`; other paths unchanged.
pub fn shorten_home(path: &Path, home: &Path) -> String {
    match path.strip_prefix(home) {
        Ok(rest) if rest.as_os_str().is_empty() => "~".into(),
        Ok(rest) => format!("~/{}", rest.display()),
        Err(_) => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests;
