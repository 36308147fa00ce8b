//! What a restore would change, from the manifest alone: paths it would
//! add, change (type, size, mode, mtime or link target differ) and remove.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::super::manifest::{Entry, Kind, Manifest};
use super::staging::Unit;

/// The changes a restore makes, as live paths.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Diff {
    /// Not there now.
    pub added: Vec<String>,
    /// There, but different.
    pub changed: Vec<String>,
    /// There now, not in the backup (only inside restored directories).
    pub removed: Vec<String>,
}

fn live_path(unit: &Unit, path: &str) -> Option<PathBuf> {
    if path == unit.archive {
        return Some(unit.live.clone());
    }
    let rest = path.strip_prefix(&unit.archive)?.strip_prefix('/')?;
    Some(unit.live.join(rest))
}

fn differs(e: &Entry, live: &Path, meta: &fs::Metadata) -> bool {
    let ft = meta.file_type();
    match e.kind {
        Kind::File => {
            !ft.is_file()
                || meta.len() != e.size
                || meta.mtime() != e.mtime
                || meta.permissions().mode() & 0o777 != e.mode
        }
        // A directory's own mtime changes with every file in it: not a change.
        Kind::Dir => !ft.is_dir() || meta.permissions().mode() & 0o777 != e.mode,
        Kind::Symlink => {
            !ft.is_symlink()
                || fs::read_link(live)
                    .ok()
                    .and_then(|t| t.to_str().map(str::to_owned))
                    != e.target
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(items) = fs::read_dir(dir) else {
        return;
    };
    let mut items: Vec<PathBuf> = items.filter_map(|i| i.ok().map(|i| i.path())).collect();
    items.sort();
    for p in items {
        out.push(p.clone());
        if fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
            walk(&p, out);
        }
    }
}

/// Compares `units` of `manifest` with the live files; `show` turns a live
/// path into what is printed (`~/…`).
pub fn diff(manifest: &Manifest, units: &[Unit], show: &dyn Fn(&Path) -> String) -> Diff {
    let mut d = Diff::default();
    for unit in units {
        let mut wanted = BTreeSet::new();
        for e in &manifest.entries {
            let Some(live) = live_path(unit, &e.path) else {
                continue;
            };
            match fs::symlink_metadata(&live) {
                Err(_) => d.added.push(show(&live)),
                Ok(meta) if differs(e, &live, &meta) => d.changed.push(show(&live)),
                Ok(_) => {}
            }
            wanted.insert(live);
        }
        let unit_is_dir = manifest
            .entries
            .iter()
            .any(|e| e.path == unit.archive && e.kind == Kind::Dir);
        if unit_is_dir && unit.live.is_dir() {
            let mut present = Vec::new();
            walk(&unit.live, &mut present);
            for p in present {
                // Below a removed directory only the directory is reported.
                if !wanted.contains(&p) && p.parent().is_none_or(|parent| wanted.contains(parent)) {
                    d.removed.push(show(&p));
                }
            }
        }
    }
    d
}
