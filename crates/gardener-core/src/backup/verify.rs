//! Checking backups. An archive is read back whole against its own manifest
//! and checksums; an incremental backup's files held by earlier backups are
//! read from their archives (each archive once, whole) and compared with the
//! hash the backup recorded for them, and a missing or damaged earlier
//! backup is named for each file it holds. The check right after a backup
//! reads only the new archive, and that each backup it needs is there and
//! has not failed a check.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::archive_reader::{Discard, Scanned, read_manifest, scan_stream};
use super::catalog::{self, BackupInfo, Catalog, Lock};
use super::chain;
use super::manifest::Entry;
use super::{Cancel, Error, Phase, Progress, Result, VerifyRecord};

/// Lines naming files of one missing or damaged earlier backup, at most.
const MAX_LINES_PER_HOLDER: usize = 10;

/// What verification found.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct VerifyReport {
    /// The backup's id (from its manifest; empty when unreadable).
    pub id: String,
    /// The archive.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub path: PathBuf,
    /// Files whose content was checked.
    pub files: u64,
    /// Bytes of content checked.
    pub bytes: u64,
    /// Everything wrong, one line each; empty when the backup is sound.
    pub problems: Vec<String>,
    /// Wall time.
    pub seconds: f64,
    /// Earlier backups whose archives were read for the files they hold.
    pub needs: Vec<String>,
    /// Those of them found missing or damaged.
    pub bad_needs: Vec<String>,
}

impl VerifyReport {
    /// Nothing was wrong.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// The line kept in the catalog.
    pub fn record(&self) -> VerifyRecord {
        VerifyRecord {
            at: super::rfc3339_seconds(jiff::Timestamp::now()),
            ok: self.ok(),
            problems: self.problems.clone(),
        }
    }
}

/// One archive read back: the manifest (`None` when it was refused or is
/// unreadable) and what was wrong. Refusals and damage become problems, so
/// a check always says what it found.
fn own_archive(
    path: &Path,
    own: Box<dyn Read + Send>,
    cancel: &Cancel,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(Option<Scanned>, Vec<String>)> {
    match scan_stream(path, own, &mut Discard, cancel, Phase::Verify, progress) {
        Ok(s) => {
            let problems = s.problems.clone();
            Ok((Some(s), problems))
        }
        Err(Error::Hostile { message, .. }) => Ok((None, vec![format!("refused: {message}")])),
        Err(Error::Corrupt { message, .. }) => Ok((None, vec![message])),
        Err(e) => Err(e),
    }
}

/// An archive opened for reading, and the name to give it in messages.
pub type Opened = (PathBuf, Box<dyn Read + Send>);

/// Where the earlier backups of a chain are read from: the directory of the
/// backup checked, or a target.
pub trait Source {
    /// Backup `id`'s archive and the name to give it in messages; `Ok(None)`
    /// when it is not there, `Err` with the reason when it cannot be read.
    fn open(&self, id: &str) -> std::result::Result<Option<Opened>, String>;
    /// Bytes of content its archive stores, when known without reading it.
    fn stored_bytes(&self, id: &str) -> Option<u64>;
}

/// The archives next to a given one.
struct Beside<'a>(&'a Path);

impl Source for Beside<'_> {
    fn open(&self, id: &str) -> std::result::Result<Option<Opened>, String> {
        let path = chain::archive_beside(self.0, id);
        if !path.is_file() {
            return Ok(None);
        }
        let file = File::open(&path).map_err(|e| e.to_string())?;
        Ok(Some((path, Box::new(file))))
    }

    fn stored_bytes(&self, id: &str) -> Option<u64> {
        read_manifest(&chain::archive_beside(self.0, id))
            .ok()
            .map(|m| m.stored_bytes())
    }
}

/// Checks the backup at `path` and every file it takes from earlier
/// backups, whose archives are read from the same directory.
pub fn verify(
    path: &Path,
    cancel: &Cancel,
    progress: &mut dyn FnMut(&Progress),
) -> Result<VerifyReport> {
    if !path.is_file() {
        return Err(Error::Usage(format!("{}: no such archive", path.display())));
    }
    let own = File::open(path).map_err(Error::io("open", path))?;
    verify_from(path, Box::new(own), &Beside(path), cancel, progress)
}

/// Checks the backup whose archive `own` reads (named `path` in messages)
/// and every file it takes from earlier backups, read from `source`.
pub fn verify_from(
    path: &Path,
    own: Box<dyn Read + Send>,
    source: &dyn Source,
    cancel: &Cancel,
    progress: &mut dyn FnMut(&Progress),
) -> Result<VerifyReport> {
    let started = Instant::now();
    let mut offset = Progress {
        phase: Phase::Verify,
        bytes: 0,
        total_bytes: 0,
        files: 0,
        total_files: 0,
    };
    // `offset`: what the archives read before hold; its `total_bytes`, what
    // all of them hold, once this one's manifest says which it needs.
    let mut report = |p: &Progress, offset: &Progress| {
        progress(&Progress {
            bytes: offset.bytes + p.bytes,
            total_bytes: offset.total_bytes.max(offset.bytes + p.total_bytes),
            files: offset.files + p.files,
            total_files: offset.total_files + p.total_files,
            ..p.clone()
        });
    };
    let (scanned, mut problems) = own_archive(path, own, cancel, &mut |p| report(p, &offset))?;
    let Some(scanned) = scanned else {
        return Ok(VerifyReport {
            id: String::new(),
            path: path.to_path_buf(),
            files: 0,
            bytes: 0,
            problems,
            seconds: started.elapsed().as_secs_f64(),
            needs: Vec::new(),
            bad_needs: Vec::new(),
        });
    };
    offset.bytes = scanned.bytes;
    offset.files = scanned.files;
    let m = &scanned.manifest;
    if !m.needs.is_empty() {
        offset.total_bytes = scanned.bytes
            + m.needs
                .iter()
                .filter_map(|h| source.stored_bytes(h))
                .sum::<u64>();
    }
    let (mut files, mut bytes) = (scanned.files, scanned.bytes);
    let mut bad_needs = Vec::new();
    for (holder, taken) in chain::taken(m) {
        let found = holder_archive(source, holder, cancel, &mut |p| report(p, &offset))?;
        let (f, b) = check_taken(holder, &taken, &found, &mut problems);
        let holder_bad = match &found {
            Holder::Missing | Holder::Unreadable(_) => true,
            Holder::Read(s) => !s.problems.is_empty() && f < taken.len() as u64,
        };
        if holder_bad {
            bad_needs.push(holder.to_owned());
        }
        files += f;
        bytes += b;
        if let Holder::Read(s) = &found {
            offset.bytes += s.bytes;
            offset.files += s.files;
        }
    }
    Ok(VerifyReport {
        id: m.id.clone(),
        path: path.to_path_buf(),
        files,
        bytes,
        problems,
        seconds: started.elapsed().as_secs_f64(),
        needs: m.needs.clone(),
        bad_needs,
    })
}

/// An earlier backup's archive as a check found it.
enum Holder {
    Missing,
    Unreadable(String),
    Read(Box<Scanned>),
}

fn holder_archive(
    source: &dyn Source,
    holder: &str,
    cancel: &Cancel,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Holder> {
    let (archive, reader) = match source.open(holder) {
        Ok(Some(found)) => found,
        Ok(None) => return Ok(Holder::Missing),
        Err(why) => return Ok(Holder::Unreadable(format!("which cannot be read: {why}"))),
    };
    Ok(
        match scan_stream(
            &archive,
            reader,
            &mut Discard,
            cancel,
            Phase::Verify,
            progress,
        ) {
            Ok(s) if s.manifest.id != holder => {
                Holder::Unreadable(format!("whose archive is backup {}", s.manifest.id))
            }
            Ok(s) => Holder::Read(Box::new(s)),
            Err(Error::Cancelled) => return Err(Error::Cancelled),
            Err(Error::Hostile { message, .. }) => {
                Holder::Unreadable(format!("which is refused: {message}"))
            }
            Err(Error::Corrupt { message, .. }) => {
                Holder::Unreadable(format!("which is damaged: {message}"))
            }
            Err(e) => Holder::Unreadable(format!("which cannot be read: {e}")),
        },
    )
}

/// Compares the files taken from `holder` with what its archive held;
/// returns the files and bytes found sound.
fn check_taken(
    holder: &str,
    taken: &[&Entry],
    found: &Holder,
    problems: &mut Vec<String>,
) -> (u64, u64) {
    let mut bad: Vec<(&str, String)> = Vec::new();
    let (mut files, mut bytes) = (0, 0);
    for e in taken {
        let why = match found {
            Holder::Missing => Some("which is missing".to_owned()),
            Holder::Unreadable(why) => Some(why.clone()),
            Holder::Read(s) => match s.hashes.get(&e.path) {
                Some(h) if Some(h) == e.blake3.as_ref() => None,
                _ if !s.problems.is_empty() => Some(format!("which is damaged: {}", s.problems[0])),
                Some(_) => Some("whose copy is not the one this backup recorded".to_owned()),
                None => Some("which does not hold it".to_owned()),
            },
        };
        match why {
            Some(why) => bad.push((&e.path, why)),
            None => {
                files += 1;
                bytes += e.size;
            }
        }
    }
    for (p, why) in bad.iter().take(MAX_LINES_PER_HOLDER) {
        problems.push(format!("{p}: held by {holder}, {why}"));
    }
    if bad.len() > MAX_LINES_PER_HOLDER {
        problems.push(format!(
            "… and {} more files held by {holder}",
            bad.len() - MAX_LINES_PER_HOLDER
        ));
    }
    (files, bytes)
}

/// Verifies the archive at `path` and, when it is one of `dest`'s backups,
/// records the result in the catalog for `list` (unless another backup or
/// restore holds the catalog; the report is returned either way). Earlier
/// backups it needs that were found damaged are recorded as failed too, so
/// no new backup builds on them.
pub fn verify_recorded(
    dest: &Path,
    path: &Path,
    cancel: &Cancel,
    progress: &mut dyn FnMut(&Progress),
) -> Result<VerifyReport> {
    let report = verify(path, cancel, progress)?;
    if let Ok(_lock) = Lock::acquire(dest)
        && let Ok(all) = catalog::list(dest)
        && let Some(mut info) = all.iter().find(|b| b.path == path).cloned()
    {
        info.verified = Some(report.record());
        let mut damaged: Vec<BackupInfo> = all
            .into_iter()
            .filter(|b| report.bad_needs.contains(&b.id))
            .collect();
        for d in &mut damaged {
            d.verified = Some(VerifyRecord {
                at: super::rfc3339_seconds(jiff::Timestamp::now()),
                ok: false,
                problems: vec![format!(
                    "found damaged or incomplete while checking {}",
                    report.id
                )],
            });
        }
        let recorded = Catalog::update(dest, |c| {
            c.insert(info);
            for d in damaged {
                c.insert(d);
            }
        });
        if let Err(e) = recorded {
            tracing::warn!("cannot record the verification: {e}");
        }
    }
    Ok(report)
}

/// The check right after a backup: its own archive read back whole, and
/// each backup it needs listed in `backups`, not failed.
pub fn verify_new(
    path: &Path,
    backups: &[BackupInfo],
    cancel: &Cancel,
    progress: &mut dyn FnMut(&Progress),
) -> Result<VerifyReport> {
    let started = Instant::now();
    let own = File::open(path).map_err(Error::io("open", path))?;
    let (scanned, mut problems) = own_archive(path, Box::new(own), cancel, progress)?;
    let by_id = chain::by_id(backups);
    let (id, files, bytes, needs) = match &scanned {
        Some(s) => (
            s.manifest.id.clone(),
            s.files,
            s.bytes,
            s.manifest.needs.clone(),
        ),
        None => (String::new(), 0, 0, Vec::new()),
    };
    for n in &needs {
        match by_id.get(n.as_str()) {
            None => problems.push(format!("it needs backup {n}, which is missing")),
            Some(b) if b.failed() => {
                problems.push(format!("it needs backup {n}, which failed its check"));
            }
            Some(_) => {}
        }
    }
    Ok(VerifyReport {
        id,
        path: path.to_path_buf(),
        files,
        bytes,
        problems,
        seconds: started.elapsed().as_secs_f64(),
        needs,
        bad_needs: Vec::new(),
    })
}
