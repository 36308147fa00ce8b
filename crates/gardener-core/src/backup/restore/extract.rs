//! Extracting a backup into the staging directories: its own archive first
//! (directories, symlinks and the files it stores), then, for an incremental
//! backup, each earlier backup's archive it needs, read once, for the files
//! held there. Before anything is written every such archive must be there
//! and its index must hold those files with the hashes the backup recorded;
//! while reading, each file's content must hash to that too. Anything else
//! stops the restore before live data is touched.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use super::super::chain;
use super::super::index::Index;
use super::super::manifest::{Entry, Manifest};
use super::super::read::{self, Sink};
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
    stored_bytes: u64,
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

/// What each earlier backup must give for `units`, checked against its
/// index before anything is extracted.
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
        let index = Index::load(&path).map_err(|e| {
            corrupt(
                archive,
                format!("{first}: held by {holder}, which cannot be read: {e}"),
            )
        })?;
        let theirs = index.files();
        for (p, e) in &wanted {
            let record = theirs
                .get(p)
                .and_then(|t| index.record(t).map(|r| (t.size, r)));
            match record {
                Some((size, (hash, by)))
                    if by == holder && size == e.size && Some(&hash) == e.blake3.as_ref() => {}
                Some(_) => {
                    return Err(refused(
                        archive,
                        format!("{p}: held by {holder}, whose copy is not the one recorded here"),
                    ));
                }
                None => {
                    return Err(refused(
                        archive,
                        format!("{p}: held by {holder}, which does not hold it"),
                    ));
                }
            }
        }
        out.push(Taken {
            holder,
            archive: path,
            stored_bytes: index.manifest.stored_bytes(),
            wanted,
        });
    }
    Ok(out)
}

/// Extracts the backup at `archive` (whose checked manifest is `manifest`)
/// into the units' staging paths.
pub fn extract(
    archive: &Path,
    manifest: &Manifest,
    units: &[Unit],
    cancel: &Cancel,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Extracted> {
    let holders = plan(archive, manifest, units)?;
    let extra: u64 = holders.iter().map(|t| t.stored_bytes).sum();
    let mut done = Extracted { files: 0, bytes: 0 };
    let mut report = |p: &Progress, done: &Extracted| {
        progress(&Progress {
            bytes: done.bytes + p.bytes,
            total_bytes: manifest.stored_bytes() + extra,
            files: done.files + p.files,
            total_files: p.total_files,
            ..p.clone()
        });
    };
    let mut sink = Staging::new(units);
    let scanned = read::scan(archive, &mut sink, cancel, Phase::Extract, &mut |p| {
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
    for t in &holders {
        let mut from = FromHolder {
            staging: &mut sink,
            wanted: &t.wanted,
        };
        let scanned = read::scan(&t.archive, &mut from, cancel, Phase::Extract, &mut |p| {
            report(p, &done);
        })
        .map_err(|e| match e {
            Error::Hostile { message, .. } | Error::Corrupt { message, .. } => corrupt(
                archive,
                format!("files held by {}, which is damaged: {message}", t.holder),
            ),
            other => other,
        })?;
        for (p, e) in &t.wanted {
            if scanned.hashes.get(*p) != e.blake3.as_ref() {
                let why = scanned.problems.first().map_or_else(
                    || "whose copy is not the one recorded here".to_owned(),
                    |first| format!("which is damaged: {first}"),
                );
                return Err(corrupt(
                    archive,
                    format!("{p}: held by {}, {why}", t.holder),
                ));
            }
        }
        done.files += scanned.files;
        done.bytes += scanned.bytes;
    }
    sink.finish()?;
    Ok(done)
}
