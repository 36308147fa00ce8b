//! What an archive says about itself: the manifest (first entry: every path
//! of the backed-up tree with its type, size, mode, times and inode, and for
//! a file an incremental backup did not store again, which backup holds its
//! content and its BLAKE3) and the checksums (last entry: the BLAKE3 of every
//! file the archive stores, known only once the files have been read). Both
//! are untrusted on the way back in; [`Manifest::check`] rejects anything a
//! restore could be tricked by.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Version of the archive layout this build writes: 2 adds incremental
/// backups (`kind`, `parent`, `needs`, and per file `held_by` and `blake3`)
/// and each path's inode and ctime.
pub const FORMAT_VERSION: u32 = 2;
/// The oldest layout this build still reads (full backups only).
pub const OLDEST_FORMAT: u32 = 1;
/// Longest backup id accepted from an archive.
const MAX_ID_LEN: usize = 64;
/// Name of the first entry of every archive.
pub const MANIFEST_NAME: &str = "gardener-manifest.json";
/// Name of the last entry of every archive.
pub const CHECKSUMS_NAME: &str = "gardener-checksums.json";
/// Largest manifest or checksums entry read back (a million files is ~200 MiB).
pub const MAX_META_BYTES: u64 = 512 << 20;

/// Whether a backup stores every file or only what changed since its parent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum BackupKind {
    /// Every file's content is in the archive.
    #[default]
    Full,
    /// Only the files that changed since the parent are; the others are
    /// held by earlier backups (`needs`).
    Incremental,
}

impl BackupKind {
    /// The word for people.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Incremental => "incremental",
        }
    }
}

/// The kind of a stored path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A regular file.
    #[default]
    File,
    /// A directory.
    Dir,
    /// A symbolic link (stored as a link, never followed).
    Symlink,
}

/// How a source's root is laid out, which decides how it is restored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// A whole directory: restored by swapping the directory.
    #[default]
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
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRecord {
    /// Top-level directory of the source in the archive.
    pub name: String,
    /// Where it lives, `~/`-relative when under the home directory, so a
    /// restore on another machine or user finds the right place.
    pub path: String,
    /// Layout.
    pub kind: SourceKind,
    /// Being absent is normal for it (Gardener's own sources, and user
    /// sources marked `optional`).
    #[serde(default)]
    pub optional: bool,
}

/// One path of the backed-up tree.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Inode number when it was listed (format 2).
    #[serde(default)]
    pub inode: u64,
    /// Status-change time, seconds since the epoch (format 2).
    #[serde(default)]
    pub ctime: i64,
    /// Nanoseconds part of the status-change time (format 2).
    #[serde(default)]
    pub ctime_nsec: u32,
    /// For a file this archive does not store: the backup whose archive
    /// holds its content (one of the manifest's `needs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_by: Option<String>,
    /// BLAKE3 of the content, for a file held by another backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blake3: Option<String>,
}

impl Entry {
    /// Whether this archive holds the entry itself (a directory, a symlink,
    /// or a file whose content it stores).
    pub fn stored(&self) -> bool {
        self.held_by.is_none()
    }

    /// Whether the size, times, inode and kind of `self` and `other` are the
    /// same: an unchanged file (restic's rule).
    pub fn same_stat(&self, other: &Self) -> bool {
        self.kind == other.kind
            && self.size == other.size
            && self.mtime == other.mtime
            && self.mtime_nsec == other.mtime_nsec
            && self.inode == other.inode
            && self.ctime == other.ctime
            && self.ctime_nsec == other.ctime_nsec
    }
}

/// The first entry of an archive.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Full or incremental (format 1 backups are all full).
    #[serde(default)]
    pub kind: BackupKind,
    /// The backup an incremental one was compared with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Every other backup whose archive holds content of this one, oldest
    /// first: restoring this backup reads each of them once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<String>,
    /// How many incremental backups lead from the chain's full backup to
    /// this one (0: this is a full backup).
    #[serde(default)]
    pub depth: u32,
    /// When the chain's full backup was made, RFC 3339 UTC (its own
    /// `created` for a full backup; empty in format 1).
    #[serde(default)]
    pub chain_started: String,
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

/// Why entry `e` is refused.
fn refused(e: &Entry, why: impl std::fmt::Display) -> Refused {
    Refused(format!("entry `{}`: {why}", e.path))
}

/// An entry's place and shape: a top-level entry is a declared source
/// directory, any other comes after its parent directory; no setuid, setgid
/// or sticky bits; a symlink stays inside its source.
fn check_place(
    e: &Entry,
    sources: &std::collections::BTreeSet<&str>,
    by_path: &BTreeMap<&str, &Entry>,
) -> Result<(), Refused> {
    let (parent, _) = e.path.rsplit_once('/').unwrap_or(("", &e.path));
    if parent.is_empty() {
        if !sources.contains(e.path.as_str()) || e.kind != Kind::Dir {
            return Err(refused(
                e,
                "top-level entry that is not a declared source directory",
            ));
        }
    } else if by_path.get(parent).map(|p| p.kind) != Some(Kind::Dir) {
        return Err(refused(
            e,
            "listed before (or without) its parent directory",
        ));
    }
    if e.mode & FORBIDDEN_MODE_BITS != 0 {
        return Err(refused(
            e,
            format!("mode {:o} has setuid, setgid or sticky bits", e.mode),
        ));
    }
    if e.kind == Kind::Symlink {
        let target = e.target.as_deref().unwrap_or("");
        if resolve_link(&e.path, target).is_none() {
            return Err(refused(
                e,
                format!("symlink to `{target}` points outside its source"),
            ));
        }
    }
    Ok(())
}

impl Manifest {
    /// Every path in the manifest, checked: valid and unique paths, each
    /// under a declared source and below a declared directory, sane modes,
    /// symlinks that stay inside their source, sizes adding up to the total.
    /// Returns the entries by path.
    pub fn check(&self) -> Result<BTreeMap<&str, &Entry>, Refused> {
        if !(OLDEST_FORMAT..=FORMAT_VERSION).contains(&self.format) {
            return Err(Refused(format!(
                "archive format {} is not supported by this Gardener (it reads formats \
                 {OLDEST_FORMAT} to {FORMAT_VERSION}); use a newer Gardener, or extract it with \
                 `tar --zstd -xf`",
                self.format
            )));
        }
        check_id(&self.id)?;
        self.check_chain()?;
        let names = self.check_sources()?;
        let mut used = std::collections::BTreeSet::new();
        let mut by_path = BTreeMap::new();
        let mut total: u64 = 0;
        for e in &self.entries {
            check_path(&e.path)?;
            check_place(e, &names, &by_path)?;
            if e.kind == Kind::File {
                total = total
                    .checked_add(e.size)
                    .ok_or_else(|| Refused("sizes overflow".into()))?;
            }
            if let Some(h) = self.check_content(e)? {
                used.insert(h);
            }
            if by_path.insert(e.path.as_str(), e).is_some() {
                return Err(refused(e, "listed twice"));
            }
        }
        if let Some(unused) = self.needs.iter().find(|n| !used.contains(n.as_str())) {
            return Err(Refused(format!(
                "the manifest says it needs backup `{unused}` but takes nothing from it"
            )));
        }
        if total != self.total_bytes {
            return Err(Refused(format!(
                "manifest total {} does not match the sum of its files {total}",
                self.total_bytes
            )));
        }
        Ok(by_path)
    }

    /// Valid source names, none repeated. Returns them.
    fn check_sources(&self) -> Result<std::collections::BTreeSet<&str>, Refused> {
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
        Ok(names)
    }

    /// A size only on files, and a checksum exactly on the files another
    /// backup this one needs holds. Returns that backup's id.
    fn check_content<'a>(&self, e: &'a Entry) -> Result<Option<&'a str>, Refused> {
        if e.kind != Kind::File && e.size != 0 {
            return Err(refused(e, "a directory or symlink with a size"));
        }
        match (&e.held_by, &e.blake3) {
            (Some(h), Some(hash)) => {
                if e.kind != Kind::File {
                    return Err(refused(e, "only a file can be held by another backup"));
                }
                if !self.needs.contains(h) {
                    return Err(refused(
                        e,
                        format!("held by `{h}`, which is not among the backups this one needs"),
                    ));
                }
                if !is_blake3_hex(hash) {
                    return Err(refused(e, "its checksum is not a BLAKE3 hash"));
                }
                Ok(Some(h.as_str()))
            }
            (Some(_), None) => Err(refused(e, "held by another backup without a checksum")),
            (None, Some(_)) => Err(refused(
                e,
                "a checksum in the manifest for a file the archive stores",
            )),
            (None, None) => Ok(None),
        }
    }

    /// Full, or incremental with a parent and only backups it may need.
    fn check_chain(&self) -> Result<(), Refused> {
        match (self.kind, &self.parent) {
            (BackupKind::Full, None) if self.needs.is_empty() => {}
            (BackupKind::Full, _) => {
                return Err(Refused(
                    "a full backup that names a parent or needs other backups".into(),
                ));
            }
            (BackupKind::Incremental, _) if self.format < 2 => {
                return Err(Refused(format!(
                    "an incremental backup in format {}",
                    self.format
                )));
            }
            (BackupKind::Incremental, None) => {
                return Err(Refused("an incremental backup without a parent".into()));
            }
            (BackupKind::Incremental, Some(_)) => {}
        }
        let mut seen = std::collections::BTreeSet::new();
        for id in self.needs.iter().chain(&self.parent) {
            check_id(id)?;
            if *id == self.id {
                return Err(Refused(format!(
                    "backup `{id}` names itself as a backup it needs (a cycle)"
                )));
            }
        }
        for id in &self.needs {
            if !seen.insert(id) {
                return Err(Refused(format!("backup `{id}` is listed twice as needed")));
            }
        }
        Ok(())
    }

    /// The number of files (not directories or links).
    pub fn file_count(&self) -> u64 {
        self.entries.iter().filter(|e| e.kind == Kind::File).count() as u64
    }

    /// The files whose content this archive holds (all of them for a full backup).
    pub fn stored_files(&self) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(|e| e.kind == Kind::File && e.stored())
    }

    /// Bytes of content this archive holds.
    pub fn stored_bytes(&self) -> u64 {
        self.stored_files().map(|e| e.size).sum()
    }

    /// The source record an archive path belongs to.
    pub fn source_of(&self, path: &str) -> Option<&SourceRecord> {
        let name = path.split('/').next()?;
        self.sources.iter().find(|s| s.name == name)
    }
}

/// Checks a backup id taken from an archive: it names files next to the
/// archive (`<id>.tar.zst`), so only `gardener-` and then letters, digits and
/// `-` are accepted.
pub fn check_id(id: &str) -> Result<(), Refused> {
    let ok = id.len() <= MAX_ID_LEN
        && id.strip_prefix("gardener-").is_some_and(|rest| {
            !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok {
        Ok(())
    } else {
        Err(Refused(format!(
            "`{}` is not a backup id",
            id.chars()
                .take(MAX_ID_LEN)
                .collect::<String>()
                .escape_debug()
        )))
    }
}

fn is_blake3_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
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
