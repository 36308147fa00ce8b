//! Copy-on-write clones of the app's data (APFS `clonefile`, btrfs/XFS
//! `FICLONE`, through `reflink-copy`), so the app is stopped only while the
//! data is cloned, not while it is compressed. Only files the backup will
//! read are cloned: for an incremental backup, the ones that changed. Any
//! failure means "this filesystem cannot": the caller keeps the app paused
//! instead.

use std::fs;
use std::path::{Path, PathBuf};

use super::manifest::{Entry, Kind};
use super::sources::Source;

/// Clone directories, removed when dropped.
#[derive(Debug, Default)]
pub struct Clones {
    roots: Vec<PathBuf>,
}

impl Clones {
    /// Whether anything was cloned.
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }
}

impl Drop for Clones {
    fn drop(&mut self) {
        for r in &self.roots {
            let removed = if r.is_dir() {
                fs::remove_dir_all(r)
            } else {
                fs::remove_file(r)
            };
            if let Err(e) = removed {
                tracing::warn!("cannot remove the snapshot clone {}: {e}", r.display());
            }
        }
    }
}

/// Clones every file of `sources` next to its source (the same filesystem)
/// and points `entries` at the clones. On failure nothing is left behind and
/// `entries` are unchanged.
pub fn clone_sources(
    sources: &[Source],
    entries: Vec<&mut Vec<(Entry, PathBuf)>>,
    id: &str,
) -> Result<Clones, String> {
    let mut clones = Clones::default();
    let mut remapped = Vec::new();
    for (source, list) in sources.iter().zip(entries.iter()) {
        if list.is_empty() {
            remapped.push(Vec::new());
            continue;
        }
        let parent = source
            .root
            .parent()
            .ok_or_else(|| format!("{} has no parent directory", source.root.display()))?;
        let clone_root = parent.join(format!(".gardener-snapshot-{id}-{}", source.name));
        let is_dir = source.root.is_dir();
        if is_dir {
            fs::create_dir(&clone_root)
                .map_err(|e| format!("cannot create {}: {e}", clone_root.display()))?;
        }
        clones.roots.push(clone_root.clone());
        let mut paths = Vec::with_capacity(list.len());
        for (e, abs) in list.iter() {
            let target = if is_dir {
                clone_path(&clone_root, &source.name, &e.path)
            } else {
                clone_root.clone()
            };
            match e.kind {
                Kind::Dir if is_dir && e.path != source.name => {
                    fs::create_dir(&target)
                        .map_err(|err| format!("cannot create {}: {err}", target.display()))?;
                    paths.push(target);
                }
                Kind::File if e.stored() => {
                    reflink_copy::reflink(abs, &target)
                        .map_err(|err| format!("cannot clone {}: {err}", abs.display()))?;
                    paths.push(target);
                }
                _ => paths.push(abs.clone()),
            }
        }
        remapped.push(paths);
    }
    for (list, paths) in entries.into_iter().zip(remapped) {
        for ((_, abs), p) in list.iter_mut().zip(paths) {
            *abs = p;
        }
    }
    Ok(clones)
}

fn clone_path(clone_root: &Path, name: &str, archive_path: &str) -> PathBuf {
    let rel = archive_path
        .strip_prefix(name)
        .map(|r| r.trim_start_matches('/'))
        .unwrap_or(archive_path);
    if rel.is_empty() {
        clone_root.to_path_buf()
    } else {
        clone_root.join(rel)
    }
}
