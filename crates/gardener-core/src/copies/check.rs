//! Reading copies back from a target: checking a backup's copy (decrypted
//! on the way, every file against its hash, and every file it takes from
//! earlier copies on the same target), the backups a target holds, and
//! fetching a copy with the chain it needs into the local backups
//! directory for a restore (also on a new machine with only the config and
//! the recovery key).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::key::Key;
use super::state::{CheckRecord, CopiesState};
use super::{Error, Result, Target, encrypted, find, id_of, object_key, open};
use crate::backup::archive_reader::read_manifest_stream;
use crate::backup::manifest::BackupKind;
use crate::backup::verify::{Source, VerifyReport, verify_from};
use crate::backup::{Cancel, Phase, Progress};
use crate::config::TargetConfig;
use crate::context::Context;
use crate::fsutil;

/// A target opened for reading, with the key its copies need.
struct Opened {
    target: Box<dyn Target>,
    key: Option<Key>,
    encrypted: bool,
}

impl Opened {
    fn new(ctx: &Context, cfg: &TargetConfig) -> Result<Self> {
        let encrypted = encrypted(ctx, cfg);
        let key = if encrypted {
            Some(Key::load_from(&super::key::path(ctx))?)
        } else {
            None
        };
        Ok(Self {
            target: open(ctx, cfg)?,
            key,
            encrypted,
        })
    }

    /// Backup `id`'s archive from the target, decrypted.
    fn archive(&self, id: &str) -> Result<Box<dyn Read + Send>> {
        let raw = self.target.get(&object_key(id, self.encrypted))?;
        Ok(match &self.key {
            Some(k) => Box::new(k.decrypt(raw)?),
            None => raw,
        })
    }

    /// How an archive on the target is named in messages.
    fn label(&self, id: &str) -> PathBuf {
        PathBuf::from(format!(
            "{}:{}",
            self.target.name(),
            object_key(id, self.encrypted)
        ))
    }
}

impl Source for Opened {
    fn open(&self, id: &str) -> std::result::Result<Option<crate::backup::verify::Opened>, String> {
        match self.archive(id) {
            Ok(r) => Ok(Some((self.label(id), r))),
            Err(Error::Missing { .. }) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn stored_bytes(&self, _: &str) -> Option<u64> {
        None
    }
}

/// Checks backup `id`'s copy on target `name` (default: its newest copy)
/// by reading it back, and records the result.
pub fn verify(
    ctx: &Context,
    name: &str,
    id: Option<&str>,
    cancel: &Cancel,
    progress: &mut dyn FnMut(&Progress),
) -> Result<VerifyReport> {
    let cfg = find(ctx, name)?;
    let opened = Opened::new(ctx, cfg)?;
    let listed = opened.target.list()?;
    let id = match id {
        Some(id) => id.to_owned(),
        None => listed
            .iter()
            .filter_map(|o| id_of(&o.key))
            .max()
            .map(str::to_owned)
            .ok_or_else(|| crate::backup::Error::Usage(format!("{name} holds no copy yet")))?,
    };
    let own = opened.archive(&id)?;
    let report = verify_from(&opened.label(&id), own, &opened, cancel, progress)?;
    let record = report.record();
    CopiesState::update(ctx, name, |t| {
        if let Some(c) = t.copies.get_mut(&id) {
            c.checked = Some(CheckRecord {
                at: record.at.clone(),
                ok: record.ok,
                problems: record.problems.clone(),
            });
        }
    })?;
    Ok(report)
}

/// One backup on a target, as `backup list --target` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct TargetBackup {
    /// The backup's id.
    pub id: String,
    /// When it was made, RFC 3339.
    pub created: String,
    /// Full or incremental.
    pub kind: BackupKind,
    /// The backups it needs.
    pub needs: Vec<String>,
    /// The copy's size on the target.
    pub size: u64,
    /// The last time it was read back.
    pub checked: Option<CheckRecord>,
}

/// The backups target `name` holds, newest first (a copy Gardener has no
/// record of, as on a new machine, is read for its manifest).
pub fn list(ctx: &Context, name: &str) -> Result<Vec<TargetBackup>> {
    let cfg = find(ctx, name)?;
    let opened = Opened::new(ctx, cfg)?;
    let state = CopiesState::load(ctx);
    let known = state.targets.get(name).cloned().unwrap_or_default();
    let mut out = Vec::new();
    for object in opened.target.list()? {
        let Some(id) = id_of(&object.key) else {
            continue;
        };
        let entry = match known.copies.get(id) {
            Some(c) => TargetBackup {
                id: id.to_owned(),
                created: c.created.clone(),
                kind: if c.needs.is_empty() {
                    BackupKind::Full
                } else {
                    BackupKind::Incremental
                },
                needs: c.needs.clone(),
                size: object.size,
                checked: c.checked.clone(),
            },
            None => {
                let m = read_manifest_stream(&opened.label(id), opened.archive(id)?)?;
                TargetBackup {
                    id: id.to_owned(),
                    created: m.created,
                    kind: m.kind,
                    needs: m.needs,
                    size: object.size,
                    checked: None,
                }
            }
        };
        out.push(entry);
    }
    out.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
    Ok(out)
}

/// Brings backup `id` from target `name` into the local backups directory
/// with every backup it needs that is not there yet, decrypted, each
/// written durably (`.partial`, fsync, rename); returns its local path. A
/// restore then checks every file as it extracts.
pub fn fetch(
    ctx: &Context,
    name: &str,
    id: &str,
    cancel: &Cancel,
    progress: &mut dyn FnMut(&Progress),
) -> Result<PathBuf> {
    crate::backup::manifest::check_id(id).map_err(|r| crate::backup::Error::Usage(r.0))?;
    let cfg = find(ctx, name)?;
    let opened = Opened::new(ctx, cfg)?;
    let dest = crate::backup::destination(ctx);
    fsutil::create_dir(&dest, 0o700).map_err(crate::backup::Error::io("create", &dest))?;
    let _lock = crate::backup::catalog::Lock::acquire(&dest)?;
    let sizes: BTreeMap<String, u64> = opened
        .target
        .list()?
        .into_iter()
        .filter_map(|o| Some((id_of(&o.key)?.to_owned(), o.size)))
        .collect();
    let total: u64 = sizes.values().sum();
    let mut done = 0u64;
    let mut wanted = vec![id.to_owned()];
    let mut fetched = Vec::new();
    while let Some(next) = wanted.pop() {
        let local = crate::backup::catalog::archive_path(&dest, &next);
        if !local.exists() {
            if !sizes.contains_key(&next) {
                return Err(Error::Missing {
                    target: name.to_owned(),
                    key: object_key(&next, opened.encrypted),
                });
            }
            let mut report = |n: u64| {
                done += n;
                progress(&Progress {
                    phase: Phase::Copy,
                    bytes: done,
                    total_bytes: total,
                    files: 0,
                    total_files: 0,
                });
            };
            write_local(&local, opened.archive(&next)?, cancel, &mut report)?;
            fetched.push(next.clone());
        }
        let file = File::open(&local).map_err(crate::backup::Error::io("open", &local))?;
        let m = read_manifest_stream(&local, file)?;
        if m.id != next {
            return Err(Error::Corrupt {
                target: name.to_owned(),
                message: format!("the copy of {next} holds backup {}", m.id),
            });
        }
        if next == id {
            wanted.extend(m.needs.iter().cloned());
        }
    }
    tracing::info!("fetched {fetched:?} from {name}");
    Ok(crate::backup::catalog::archive_path(&dest, id))
}

fn write_local(
    path: &Path,
    mut from: Box<dyn Read + Send>,
    cancel: &Cancel,
    progress: &mut dyn FnMut(u64),
) -> Result<()> {
    let partial = path.with_extension("zst.partial");
    let written = (|| {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&partial)?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut block = vec![0u8; 1 << 20];
        loop {
            if cancel.is_cancelled() {
                return Err(io::Error::other("cancelled"));
            }
            let n = match from.read(&mut block) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            out.write_all(block.get(..n).unwrap_or_default())?;
            progress(n as u64);
        }
        let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        std::fs::rename(&partial, path)?;
        fsutil::sync_dir(path.parent().unwrap_or(Path::new(".")))
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        if cancel.is_cancelled() {
            return Err(crate::backup::Error::Cancelled.into());
        }
        return Err(crate::backup::Error::io("fetch into", path)(e).into());
    }
    Ok(())
}

/// Reads one copy of each target back whose last check is older than
/// `[backup] check_targets` (a random one of its copies), as `restic check
/// --read-data-subset` does; returns each target's report or error.
pub fn check_due(ctx: &Context, cancel: &Cancel) -> Vec<(String, Result<VerifyReport>)> {
    let every = ctx.config.backup.check_targets.0;
    let now = u64::try_from(jiff::Timestamp::now().as_second()).unwrap_or(0);
    let state = CopiesState::load(ctx);
    let mut out = Vec::new();
    for t in &ctx.config.backup.targets {
        let Some(ts) = state.targets.get(&t.name) else {
            continue;
        };
        let last = ts
            .last_check()
            .and_then(|c| super::state::unix(&c.at))
            .unwrap_or(0);
        if now.saturating_sub(last) < every || ts.copies.is_empty() {
            continue;
        }
        // Any copy, the seconds of the clock as the dice.
        let ids: Vec<&String> = ts.copies.keys().collect();
        let pick = ids
            .get(usize::try_from(now).unwrap_or(0) % ids.len())
            .map(|s| s.as_str());
        out.push((
            t.name.clone(),
            verify(ctx, &t.name, pick, cancel, &mut |_| {}),
        ));
    }
    out
}
