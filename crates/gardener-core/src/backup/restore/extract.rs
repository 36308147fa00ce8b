//! Extracting a backup into the staging directories: its own archive first
//! (directories, symlinks and the files it stores), then, for an incremental
//! backup, each earlier backup's archive it needs, read once, for the files
//! held there. Every such archive must be there before anything is
//! extracted, must be the backup named, must store those files, and each
//! file's content must hash to what the restored backup recorded. Anything
//! else stops the restore before live data is touched.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use super::super::archive_reader::{self, Scanned, Sink};
use super::super::chain;
use super::super::manifest::{Entry, Manifest};
use super::super::{Cancel, Error, Phase, Progress, Result};
use super::staging::{Staging, Unit};

/// Files and bytes extracted.
pub struct Extracted {
    pub files: u64,
    pub bytes: u64,
}

/// The files one earlier backup's archive must give, by path.
struct Taken<'m> {
    holder: &'m str,
    archive: PathBuf,
    wanted: BTreeMap<&'m str, &'m Entry>,
}

/// The sink for an earlier backup's archive: only the wanted files go to
/// staging, as the restored backup recorded them.
struct FromHolder<'s, 'u, 'm> {
    staging: &'s mut Staging<'u>,
    wanted: &'s BTreeMap<&'m str, &'m Entry>,
}

fn ours<'m>(wanted: &BTreeMap<&'m str, &'m Entry>, e: &Entry) -> Result<&'m Entry> {
    wanted
        .get(e.path.as_str())
        .copied()
        .ok_or_else(|| Error::Usage(format!("{} is not being restored", e.path)))
}

impl Sink for FromHolder<'_, '_, '_> {
    fn dir(&mut self, _: &Entry) -> Result<()> {
        Ok(())
    }
    fn open_file(&mut self, e: &Entry) -> Result<Option<File>> {
        let ours = ours(self.wanted, e)?;
        self.staging.open_file(ours)
    }
    fn close_file(&mut self, e: &Entry, file: File) -> Result<()> {
        let ours = ours(self.wanted, e)?;
        self.staging.close_file(ours, file)
    }
    fn symlink(&mut self, _: &Entry) -> Result<()> {
        Ok(())
    }
    fn wants(&self, path: &str) -> bool {
        self.wanted.contains_key(path)
    }
}

fn refused(archive: &Path, message: String) -> Error {
    Error::Hostile {
        path: archive.to_path_buf(),
        message,
    }
}

fn corrupt(archive: &Path, message: String) -> Error {
    Error::Corrupt {
        path: archive.to_path_buf(),
        message: format!("{message}; nothing was changed"),
    }
}

/// What each earlier backup must give for `units`; each archive must be there.
fn plan<'m>(archive: &Path, manifest: &'m Manifest, units: &[Unit]) -> Result<Vec<Taken<'m>>> {
    let probe = Staging::new(units);
    let mut out = Vec::new();
    for (holder, entries) in chain::taken(manifest) {
        let wanted: BTreeMap<&str, &Entry> = entries
            .into_iter()
            .filter(|e| probe.wants(&e.path))
            .map(|e| (e.path.as_str(), e))
            .collect();
        let Some(first) = wanted.keys().next().copied() else {
            continue;
        };
        let path = chain::archive_beside(archive, holder);
        if !path.is_file() {
            return Err(corrupt(
                archive,
                format!("{first}: held by {holder}, which is missing"),
            ));
        }
        out.push(Taken {
            holder,
            archive: path,
            wanted,
        });
    }
    Ok(out)
}

/// Checks what an earlier backup's archive gave against what the restored
/// backup recorded for each file it takes from it.
fn check_given(archive: &Path, t: &Taken<'_>, scanned: &Scanned) -> Result<()> {
    let holder = t.holder;
    if scanned.manifest.id != holder {
        return Err(refused(
            archive,
            format!(
                "files held by {holder}, but that archive is backup {}",
                scanned.manifest.id
            ),
        ));
    }
    let theirs: BTreeMap<&str, &Entry> = scanned
        .manifest
        .stored_files()
        .map(|e| (e.path.as_str(), e))
        .collect();
    for (p, e) in &t.wanted {
        if scanned.hashes.get(*p) == e.blake3.as_ref() {
            continue;
        }
        let why = match (theirs.get(p), scanned.problems.first()) {
            (None, _) => {
                return Err(refused(
                    archive,
                    format!("{p}: held by {holder}, which does not hold it"),
                ));
            }
            (Some(_), Some(first)) => format!("which is damaged: {first}"),
            (Some(_), None) => {
                return Err(refused(
                    archive,
                    format!("{p}: held by {holder}, whose copy is not the one recorded here"),
                ));
            }
        };
        return Err(corrupt(archive, format!("{p}: held by {holder}, {why}")));
    }
    Ok(())
}

/// The earlier archive with the most bytes, and the others.
fn split_largest<'h, 'm>(holders: &'h [Taken<'m>]) -> (Option<&'h Taken<'m>>, Vec<&'h Taken<'m>>) {
    let size = |h: &Taken<'_>| std::fs::metadata(&h.archive).map_or(0, |m| m.len());
    let largest = holders.iter().max_by_key(|h| size(h));
    let others = holders
        .iter()
        .filter(|h| largest.is_none_or(|l| !std::ptr::eq(*h, l)))
        .collect();
    (largest, others)
}

/// Reads one earlier archive for the files taken from it, and checks them.
fn scan_holder(
    archive: &Path,
    h: &Taken<'_>,
    staging: &mut Staging<'_>,
    cancel: &Cancel,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Scanned> {
    let mut from = FromHolder {
        staging,
        wanted: &h.wanted,
    };
    let scanned = archive_reader::scan(&h.archive, &mut from, cancel, Phase::Extract, progress)
        .map_err(|e| match e {
            Error::Hostile { message, .. } | Error::Corrupt { message, .. } => corrupt(
                archive,
                format!("files held by {}, which is damaged: {message}", h.holder),
            ),
            other => other,
        })?;
    check_given(archive, h, &scanned)?;
    tracing::debug!("restore: {} read", h.holder);
    Ok(scanned)
}

/// Extracts the backup at `archive` (whose checked manifest is `manifest`)
/// into the units' staging paths. `holders_bytes` is what the archives it
/// needs store, for progress (0 when not known).
pub fn extract(
    archive: &Path,
    manifest: &Manifest,
    units: &[Unit],
    holders_bytes: u64,
    cancel: &Cancel,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Extracted> {
    let t = std::time::Instant::now();
    let holders = plan(archive, manifest, units)?;
    // Once: progress is reported for every file.
    let total_bytes = manifest.stored_bytes() + holders_bytes;
    let mut done = Extracted { files: 0, bytes: 0 };
    let mut report = |p: &Progress, done: &Extracted| {
        progress(&Progress {
            bytes: done.bytes + p.bytes,
            total_bytes: total_bytes.max(done.bytes + p.bytes),
            files: done.files + p.files,
            total_files: p.total_files,
            ..p.clone()
        });
    };
    let mut sink = Staging::new(units);
    let scanned = archive_reader::scan(archive, &mut sink, cancel, Phase::Extract, &mut |p| {
        report(p, &done);
    })?;
    if !scanned.problems.is_empty() {
        return Err(corrupt(
            archive,
            format!("verification failed: {}", scanned.problems.join("; ")),
        ));
    }
    done.files += scanned.files;
    done.bytes += scanned.bytes;
    tracing::debug!(
        "restore: own archive read at {} ms",
        t.elapsed().as_millis()
    );
    // The largest earlier archive is read here, with progress; the others
    // (the small archives of incremental backups) at the same time on a
    // thread of their own, into the directories made above.
    let (largest, others) = split_largest(&holders);
    let mut side = sink.for_files();
    let (read, others_read) = std::thread::scope(|scope| {
        let helper = scope.spawn(|| {
            others
                .iter()
                .map(|h| scan_holder(archive, h, &mut side, cancel, &mut |_| {}))
                .collect::<Vec<_>>()
        });
        let read =
            largest.map(|h| scan_holder(archive, h, &mut sink, cancel, &mut |p| report(p, &done)));
        (read, helper.join())
    });
    let others_read = others_read.map_err(|_| Error::Usage("reading an archive failed".into()))?;
    for scanned in read.into_iter().chain(others_read) {
        let scanned = scanned?;
        done.files += scanned.files;
        done.bytes += scanned.bytes;
    }
    tracing::debug!(
        "restore: earlier archives read at {} ms",
        t.elapsed().as_millis()
    );
    sink.finish()?;
    Ok(done)
}
