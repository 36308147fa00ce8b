//! Chains of backups: whether a new backup is full or builds on the newest
//! sound one (and why), which of its files did not change since that parent
//! (restic's rule: same size, modification time, inode, ctime and kind), and
//! which earlier backups hold what a backup does not store itself.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::PathBuf;

use super::catalog::{self, BackupInfo};
use super::hash::{Exact, Hashing};
use super::index::Index;
use super::manifest::{BackupKind, Entry, Kind, Manifest};
use super::sources::Source;
use super::{Cancel, Error, Result};
use crate::config::FullEvery;

/// How the next backup is made.
#[derive(Debug)]
pub struct Plan {
    /// The parent to store only the changes against; `None`: a full backup.
    pub parent: Option<Index>,
    /// Why the backup is full (`None` when it is incremental).
    pub full_because: Option<String>,
    /// The manifest of the newest sound backup, parent or not: a source it
    /// had files in must not be empty now.
    pub previous: Option<Manifest>,
}

/// What `force_full`, `[backup] full_every` and the backups in `dest`
/// (newest first, as [`catalog::list`] gives them) make of the next backup
/// of `sources`, at `now`.
pub fn plan(
    backups: &[BackupInfo],
    sources: &[Source],
    home: &std::path::Path,
    full_every: FullEvery,
    force_full: bool,
    now: jiff::Timestamp,
) -> Plan {
    let full = |why: String, previous: Option<Manifest>| Plan {
        parent: None,
        full_because: Some(why),
        previous,
    };
    let Some(base) = newest_sound(backups) else {
        return full(
            if backups.is_empty() {
                "the first backup".into()
            } else {
                "no earlier backup is sound to build on".into()
            },
            None,
        );
    };
    if base.format < 2 {
        // Its index would mean reading the whole archive; its manifest is enough.
        let previous = super::archive_reader::read_manifest(&base.path).ok();
        return full(
            format!("{} was made by an older Gardener", base.id),
            previous,
        );
    }
    let index = match Index::load(&base.path) {
        Ok(index) => index,
        Err(e) => {
            return full(
                format!("the index of {} cannot be read: {e}", base.id),
                None,
            );
        }
    };
    let m = &index.manifest;
    let why = if force_full {
        Some("asked for a full backup".to_owned())
    } else if !same_sources(m, sources, home) {
        Some("the list of sources changed".to_owned())
    } else {
        let started = m
            .chain_started
            .parse::<jiff::Timestamp>()
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let age = u64::try_from(now.duration_since(started).as_secs()).unwrap_or(0);
        full_every
            .due(m.depth + 1, age)
            .then(|| chain_is_due(full_every, m.depth + 1, age))
    };
    match why {
        Some(why) => full(why, Some(index.manifest)),
        None => Plan {
            previous: Some(index.manifest.clone()),
            parent: Some(index),
            full_because: None,
        },
    }
}

fn chain_is_due(full_every: FullEvery, len: u32, age_secs: u64) -> String {
    match full_every {
        FullEvery::Always => "[backup] full_every = \"always\"".into(),
        FullEvery::Count(n) => format!("the chain has {len} backups ([backup] full_every = {n})"),
        FullEvery::Every(_) => format!(
            "the chain's full backup is {} old ([backup] full_every = \"{full_every}\")",
            crate::words::ago(age_secs).trim_end_matches(" ago")
        ),
    }
}

/// The newest backup that is readable, has not failed a check, and whose
/// needed archives are all there and have not failed either.
fn newest_sound(backups: &[BackupInfo]) -> Option<&BackupInfo> {
    let by_id: BTreeMap<&str, &BackupInfo> = backups.iter().map(|b| (b.id.as_str(), b)).collect();
    backups.iter().find(|b| {
        b.unreadable.is_none()
            && !b.failed()
            && b.needs
                .iter()
                .all(|n| by_id.get(n.as_str()).is_some_and(|p| !p.failed()))
    })
}

/// Whether `m` backed up the same sources, from the same places.
fn same_sources(m: &Manifest, sources: &[Source], home: &std::path::Path) -> bool {
    let then: BTreeSet<(&str, &str)> = m
        .sources
        .iter()
        .map(|s| (s.name.as_str(), s.path.as_str()))
        .collect();
    let now: Vec<(String, String)> = sources
        .iter()
        .map(|s| {
            let path = super::manifest::shorten_home(&s.root, home);
            (s.name.clone(), path)
        })
        .collect();
    now.len() == then.len()
        && now
            .iter()
            .all(|(n, p)| then.contains(&(n.as_str(), p.as_str())))
}

/// Fails when a source that must be there lists no files although
/// `previous` had files in it (an unmounted volume's empty mount point, a
/// folder emptied by mistake).
pub fn check_not_emptied(
    previous: Option<&Manifest>,
    sources: &[Source],
    listed: &[&[(Entry, PathBuf)]],
    home: &std::path::Path,
) -> Result<()> {
    let Some(previous) = previous else {
        return Ok(());
    };
    for (source, entries) in sources.iter().zip(listed) {
        if source.optional || entries.iter().any(|(e, _)| e.kind == Kind::File) {
            continue;
        }
        let prefix = format!("{}/", source.name);
        let had = previous
            .entries
            .iter()
            .filter(|e| e.kind == Kind::File && e.path.starts_with(&prefix))
            .count();
        if had > 0 {
            return Err(Error::SourceMissing {
                name: source.name.clone(),
                path: super::manifest::shorten_home(&source.root, home),
                why: format!(
                    "has no files, but the last backup ({}) had {had} in it",
                    previous.id
                ),
            });
        }
    }
    Ok(())
}

/// Marks the files of `listed` that did not change since `parent`: each
/// gets the backup holding its content and its hash from the parent's
/// index. With `rehash`, such a file is read and hashed, and kept only when
/// its content is the parent's too. Returns the backups now needed, oldest
/// first.
pub fn mark_unchanged(
    parent: &Index,
    listed: &mut [&mut Vec<(Entry, PathBuf)>],
    rehash: bool,
    cancel: &Cancel,
) -> Result<Vec<String>> {
    let before = parent.files();
    let mut needs = BTreeSet::new();
    for (e, abs) in listed.iter_mut().flat_map(|l| l.iter_mut()) {
        if e.kind != Kind::File {
            continue;
        }
        let Some(old) = before.get(e.path.as_str()) else {
            continue;
        };
        if !old.same_stat(e) {
            continue;
        }
        let Some((hash, holder)) = parent.record(old) else {
            continue;
        };
        if rehash && hash_of(abs, e.size, cancel)? != hash {
            continue;
        }
        needs.insert(holder.clone());
        e.held_by = Some(holder);
        e.blake3 = Some(hash);
    }
    // Ids sort in time order (`gardener-YYYYMMDDTHHMMSSZ[-n]`).
    Ok(needs.into_iter().collect())
}

fn hash_of(path: &std::path::Path, size: u64, cancel: &Cancel) -> Result<String> {
    let f = File::open(path).map_err(Error::io("read", path))?;
    let mut h = Hashing::new(Exact::new(f, size, cancel.clone()));
    std::io::copy(&mut h, &mut std::io::sink()).map_err(|e| {
        if cancel.is_cancelled() {
            Error::Cancelled
        } else {
            Error::io("read", path)(e)
        }
    })?;
    Ok(h.hex())
}

/// The kind, parent, depth and chain start of a new backup.
pub fn lineage(parent: Option<&Index>, created: &str) -> (BackupKind, Option<String>, u32, String) {
    match parent {
        None => (BackupKind::Full, None, 0, created.to_owned()),
        Some(p) => (
            BackupKind::Incremental,
            Some(p.manifest.id.clone()),
            p.manifest.depth + 1,
            p.manifest.chain_started.clone(),
        ),
    }
}

/// What `m` takes from each backup it needs: the files, by holder.
pub fn taken(m: &Manifest) -> BTreeMap<&str, Vec<&Entry>> {
    let mut out: BTreeMap<&str, Vec<&Entry>> = BTreeMap::new();
    for e in &m.entries {
        if let Some(h) = &e.held_by {
            out.entry(h.as_str()).or_default().push(e);
        }
    }
    out
}

/// Every backup in `dest` that `catalog` lists, by id.
pub fn by_id(backups: &[BackupInfo]) -> BTreeMap<&str, &BackupInfo> {
    backups.iter().map(|b| (b.id.as_str(), b)).collect()
}

/// The archive of backup `id` next to the archive at `beside`.
pub fn archive_beside(beside: &std::path::Path, id: &str) -> PathBuf {
    beside.with_file_name(format!("{id}{}", catalog::SUFFIX))
}
