//! The sources of a backup (the user's named paths plus Gardener's own) and
//! the walk that lists what each holds: regular files, directories and
//! symlinks, sorted, with excluded and unsupported paths left out (the
//! latter with a warning).

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::manifest::{Entry, Kind, SourceKind, SourceRecord, shorten_home};
use super::{Error, Result};
use crate::context::Context;
use crate::services::ServiceId;

/// One source, resolved for this machine.
#[derive(Clone, Debug)]
pub struct Source {
    /// Name inside the archive.
    pub name: String,
    /// Where it is (as found, symlinks in the root path resolved).
    pub root: PathBuf,
    /// Only these file names are taken (a shared directory); `None` = all.
    pub only: Option<Vec<String>>,
    /// zstd level for this source, when not the configured one.
    pub level: Option<i32>,
    /// Gardener's own source: being absent is normal, not worth a warning.
    pub optional: bool,
}

/// zstd level for data that does not compress (model blobs).
pub const FAST_LEVEL: i32 = 1;

/// The sources `ctx`'s config asks for, in archive order (blobs last, as
/// they are written at a different level).
pub fn configured(ctx: &Context) -> Vec<Source> {
    let b = &ctx.config.backup;
    let mut out: Vec<Source> = b
        .sources
        .iter()
        .map(|s| Source {
            name: s.name.clone(),
            // A source reached through a symlink is recorded (and restored)
            // where it really is, so a restore never replaces the link.
            root: {
                let p = ctx.paths.expand(&s.path);
                std::fs::canonicalize(&p).unwrap_or(p)
            },
            only: None,
            level: None,
            optional: s.optional,
        })
        .collect();
    if b.include_gardener {
        out.push(Source {
            name: "gardener-config".into(),
            root: ctx.config_file.clone(),
            only: None,
            level: None,
            optional: true,
        });
        let mut files: Vec<String> = ServiceId::ALL
            .iter()
            .map(|id| {
                let m = ctx.manager();
                m.file_path(*id)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .collect();
        files.extend(super::schedule::file_names(ctx.platform()));
        out.push(Source {
            name: "services".into(),
            root: ctx.paths.service_dir.clone(),
            only: Some(files),
            level: None,
            optional: true,
        });
    }
    let models = ctx.paths.expand(&ctx.config.ollama.models_dir);
    if b.include_ollama_manifests {
        out.push(Source {
            name: "ollama-manifests".into(),
            root: models.join("manifests"),
            only: None,
            level: None,
            optional: true,
        });
    }
    if b.include_model_blobs {
        out.push(Source {
            name: "ollama-blobs".into(),
            root: models.join("blobs"),
            only: None,
            level: Some(FAST_LEVEL),
            optional: true,
        });
    }
    out
}

/// The exclude patterns, split into name patterns and archive-path patterns.
pub struct Excludes {
    names: GlobSet,
    paths: GlobSet,
    /// Absolute paths never backed up (the destination, staging areas).
    pub skip: Vec<PathBuf>,
}

impl Excludes {
    /// Compiles `patterns` (already validated with the config).
    pub fn new(patterns: &[String], skip: Vec<PathBuf>) -> Result<Self> {
        let mut names = GlobSetBuilder::new();
        let mut paths = GlobSetBuilder::new();
        for p in patterns {
            let glob = Glob::new(p).map_err(|e| Error::Usage(format!("exclude `{p}`: {e}")))?;
            if p.contains('/') {
                paths.add(glob);
            } else {
                names.add(glob);
            }
        }
        let build = |b: GlobSetBuilder| b.build().map_err(|e| Error::Usage(e.to_string()));
        Ok(Self {
            names: build(names)?,
            paths: build(paths)?,
            skip,
        })
    }

    fn excluded(&self, archive_path: &str, name: &str, abs: &Path) -> bool {
        // Gardener's own restore safety copies and snapshot clones.
        name.starts_with(".gardener-before-restore-")
            || name.starts_with(".gardener-snapshot-")
            || self.names.is_match(name)
            || self.paths.is_match(archive_path)
            || self.skip.iter().any(|s| s == abs)
    }
}

/// What the walk found in one source.
pub struct Walked {
    /// The record for the manifest.
    pub record: SourceRecord,
    /// Entries with their absolute location.
    pub entries: Vec<(Entry, PathBuf)>,
}

fn entry_for(path: String, meta: &fs::Metadata, abs: &Path) -> std::io::Result<Option<Entry>> {
    let ft = meta.file_type();
    let (kind, size, target) = if ft.is_file() {
        (Kind::File, meta.len(), None)
    } else if ft.is_dir() {
        (Kind::Dir, 0, None)
    } else if ft.is_symlink() {
        let t = fs::read_link(abs)?;
        match t.to_str() {
            Some(t) => (Kind::Symlink, 0, Some(t.to_owned())),
            None => return Ok(None),
        }
    } else {
        return Ok(None);
    };
    Ok(Some(Entry {
        path,
        kind,
        size,
        mode: meta.permissions().mode() & 0o777,
        mtime: meta.mtime(),
        mtime_nsec: u32::try_from(meta.mtime_nsec()).unwrap_or(0),
        target,
        inode: meta.ino(),
        ctime: meta.ctime(),
        ctime_nsec: u32::try_from(meta.ctime_nsec()).unwrap_or(0),
        held_by: None,
        blake3: None,
    }))
}

fn kind_name(ft: fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_fifo() {
        "a fifo"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_block_device() || ft.is_char_device() {
        "a device"
    } else {
        "not a regular file, directory or symlink"
    }
}

/// Lists `source` read from `read_root` (the source itself, or a clone of
/// it), naming paths as in the source. Unsupported paths are skipped with a
/// warning pushed to `warnings`.
pub fn walk(
    source: &Source,
    read_root: &Path,
    home: &Path,
    excludes: &Excludes,
    warnings: &mut Vec<String>,
) -> Result<Walked> {
    let shown = shorten_home(&source.root, home);
    let meta = match fs::metadata(read_root) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return missing(source, shown),
        Err(e) => return Err(Error::io("read", read_root)(e)),
    };
    let mut entries = Vec::new();
    let mut top = Entry {
        path: source.name.clone(),
        kind: Kind::Dir,
        size: 0,
        mode: 0o700,
        mtime: meta.mtime(),
        mtime_nsec: u32::try_from(meta.mtime_nsec()).unwrap_or(0),
        ..Entry::default()
    };
    let kind = if meta.is_file() {
        entries.push((top, read_root.to_path_buf()));
        let name = read_root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into());
        let path = format!("{}/{name}", source.name);
        if let Some(e) = entry_for(path, &meta, read_root).map_err(Error::io("read", read_root))? {
            entries.push((e, read_root.to_path_buf()));
        }
        SourceKind::File
    } else if meta.is_dir() {
        if source.only.is_none() {
            top.mode = meta.permissions().mode() & 0o777;
        }
        entries.push((top, read_root.to_path_buf()));
        let tree = Tree {
            source,
            home,
            excludes,
        };
        tree.walk(read_root, &mut entries, warnings)?;
        if source.only.is_some() {
            SourceKind::Files
        } else {
            SourceKind::Dir
        }
    } else if source.optional {
        warnings.push(format!(
            "{}: {shown} is {}; skipped",
            source.name,
            kind_name(meta.file_type())
        ));
        SourceKind::Missing
    } else {
        return Err(Error::SourceMissing {
            name: source.name.clone(),
            path: shown,
            why: format!("is {}", kind_name(meta.file_type())),
        });
    };
    Ok(Walked {
        record: SourceRecord {
            name: source.name.clone(),
            path: shown,
            kind,
            optional: source.optional,
        },
        entries,
    })
}

/// What the walk of a source that does not exist finds: nothing, for an
/// optional source; an error otherwise.
fn missing(source: &Source, shown: String) -> Result<Walked> {
    if !source.optional {
        return Err(Error::SourceMissing {
            name: source.name.clone(),
            path: shown,
            why: "does not exist".into(),
        });
    }
    Ok(Walked {
        record: SourceRecord {
            name: source.name.clone(),
            path: shown,
            kind: SourceKind::Missing,
            optional: source.optional,
        },
        entries: Vec::new(),
    })
}

/// One step of the walk of a directory source.
enum Step {
    /// List this directory, whose archive path is the string.
    List(PathBuf, String),
    /// Take this entry, found at this path.
    Take(Entry, PathBuf),
}

/// The walk of a directory source: what it takes, what it leaves out.
struct Tree<'a> {
    source: &'a Source,
    home: &'a Path,
    excludes: &'a Excludes,
}

impl Tree<'_> {
    /// Appends everything under `root` to `entries`, depth-first in name
    /// order, as tar itself writes archives: each directory's whole subtree
    /// follows it at once. GNU tar sets a directory's mtime once extraction
    /// leaves its subtree, so any other order leaves `tar -xf` with wrong
    /// directory times.
    fn walk(
        &self,
        root: &Path,
        entries: &mut Vec<(Entry, PathBuf)>,
        warnings: &mut Vec<String>,
    ) -> Result<()> {
        let mut stack = vec![Step::List(root.to_path_buf(), self.source.name.clone())];
        while let Some(step) = stack.pop() {
            match step {
                Step::Take(e, abs) => entries.push((e, abs)),
                Step::List(dir, prefix) => {
                    let steps = self.list(&dir, &prefix, warnings)?;
                    stack.extend(steps.into_iter().rev());
                }
            }
        }
        Ok(())
    }

    /// The steps for the children of `dir` (archive path `prefix`), in name
    /// order: each entry taken, and each directory listed after it.
    fn list(&self, dir: &Path, prefix: &str, warnings: &mut Vec<String>) -> Result<Vec<Step>> {
        let mut steps = Vec::new();
        for (name, item) in children(dir, warnings)? {
            let abs = item.path();
            if let Some(only) = &self.source.only
                && !only.contains(&name)
            {
                continue;
            }
            let path = format!("{prefix}/{name}");
            if self.excludes.excluded(&path, &name, &abs) {
                continue;
            }
            // Relative to the open directory, not resolved from the root
            // again: the walk is most of an incremental backup's work.
            let meta = match item.metadata() {
                Ok(m) => m,
                // Gone between listing and looking: it is simply not in this backup.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io("read", &abs)(e)),
            };
            if self.source.only.is_some() && !meta.is_file() {
                continue;
            }
            match entry_for(path.clone(), &meta, &abs).map_err(Error::io("read", &abs))? {
                Some(e) => {
                    let is_dir = e.kind == Kind::Dir;
                    steps.push(Step::Take(e, abs.clone()));
                    if is_dir {
                        steps.push(Step::List(abs, path));
                    }
                }
                None => warnings.push(format!(
                    "skipped {}: {}",
                    shorten_home(&abs, self.home),
                    kind_name(meta.file_type())
                )),
            }
        }
        Ok(steps)
    }
}

/// The entries of `dir` sorted by name; names that are not UTF-8 are
/// skipped with a warning.
fn children(dir: &Path, warnings: &mut Vec<String>) -> Result<Vec<(String, fs::DirEntry)>> {
    let mut children: Vec<(String, fs::DirEntry)> = Vec::new();
    for item in fs::read_dir(dir).map_err(Error::io("read", dir))? {
        let item = item.map_err(Error::io("read", dir))?;
        match item.file_name().into_string() {
            Ok(name) => children.push((name, item)),
            Err(_) => warnings.push(format!(
                "skipped {}: the name is not valid UTF-8",
                item.path().display()
            )),
        }
    }
    children.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(children)
}
