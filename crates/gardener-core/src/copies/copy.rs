//! Copying a backup to a target, with every earlier backup it needs (oldest
//! first, so a copy never sits on a target without its chain): each archive
//! is encrypted on the way (age, to the recovery key), hashed as it is sent,
//! stored atomically, and counts only once the target reports the size that
//! was sent. Then the target keeps its copies by its retention policy.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::time::Instant;

use serde::Serialize;

use super::key::Key;
use super::state::{CopiesState, CopyRecord, Failure};
use super::{Error, Result, Target, encrypted, find, object_key, open};
use crate::backup::catalog::{self, BackupInfo};
use crate::backup::retention::{self, Candidate};
use crate::backup::{Cancel, Phase, Progress};
use crate::context::Context;

/// What copying one backup to one target did.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CopyReport {
    /// The target.
    pub target: String,
    /// Where it is.
    pub location: String,
    /// The backup copied.
    pub backup: String,
    /// Backups uploaded now (the backup and what it needs that was not there).
    pub copied: Vec<String>,
    /// Backups of its chain already there.
    pub present: Vec<String>,
    /// Bytes sent.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub bytes: u64,
    /// Copies the target's retention policy deleted afterwards.
    pub pruned: Vec<String>,
    /// Wall time.
    pub seconds: f64,
}

/// One target's outcome after a backup.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CopyOutcome {
    /// The target.
    pub target: String,
    /// What was copied, when it worked.
    pub report: Option<CopyReport>,
    /// The error's stable code, when it failed.
    pub code: Option<crate::error::ErrorCode>,
    /// Why it failed.
    pub error: Option<String>,
}

fn now() -> String {
    crate::backup::rfc3339_seconds(jiff::Timestamp::now())
}

/// Counts and hashes what passes through to the target.
struct Counting<'w> {
    inner: &'w mut dyn Write,
    hasher: blake3::Hasher,
    count: u64,
}

impl Write for Counting<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(buf.get(..n).unwrap_or_default());
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Copies `from` to `to` in large blocks, checking `cancel` and reporting
/// the bytes read.
fn pump(
    from: &mut File,
    to: &mut dyn Write,
    cancel: &Cancel,
    progress: &mut dyn FnMut(u64),
) -> io::Result<()> {
    let mut block = vec![0u8; 1 << 20];
    loop {
        if cancel.is_cancelled() {
            return Err(io::Error::other("cancelled"));
        }
        let n = match from.read(&mut block) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(block.get(..n).unwrap_or_default())?;
        progress(n as u64);
    }
}

/// Hands what is written to it, in blocks, to another thread.
struct ToThread {
    tx: std::sync::mpsc::SyncSender<Vec<u8>>,
    block: Vec<u8>,
}

impl ToThread {
    const BLOCK: usize = 1 << 20;

    fn send(&mut self) -> io::Result<()> {
        let full = std::mem::replace(&mut self.block, Vec::with_capacity(Self::BLOCK));
        self.tx
            .send(full)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the writer stopped"))
    }
}

impl Write for ToThread {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.block.extend_from_slice(buf);
        if self.block.len() >= Self::BLOCK {
            self.send()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.block.is_empty() {
            Ok(())
        } else {
            self.send()
        }
    }
}

/// What the reading thread hands to the encrypting one.
enum Chunk {
    Block(Vec<u8>),
    /// All of the file was read: only now may the encryption be finished
    /// (an encrypted stream cut short must not end as if whole).
    End,
}

/// Reads `from` in blocks to `to`, until the end, a cancel or an error.
fn read_blocks(
    from: &mut File,
    to: &std::sync::mpsc::SyncSender<Chunk>,
    cancel: &Cancel,
) -> io::Result<()> {
    loop {
        if cancel.is_cancelled() {
            return Err(io::Error::other("cancelled"));
        }
        let mut block = Vec::with_capacity(ToThread::BLOCK);
        let n = Read::take(&mut *from, ToThread::BLOCK as u64).read_to_end(&mut block)?;
        let chunk = if n == 0 {
            Chunk::End
        } else {
            Chunk::Block(block)
        };
        // A closed channel: the encrypting side stopped and says why.
        if to.send(chunk).is_err() || n == 0 {
            return Ok(());
        }
    }
}

/// Encrypts `from` to `out` on three threads: one reads the archive, one
/// encrypts, and this one hashes and writes (age's CLI does less per byte:
/// it hashes nothing). Reports the bytes written.
fn encrypt_beside(
    key: &Key,
    from: &mut File,
    out: &mut dyn Write,
    cancel: &Cancel,
    progress: &mut dyn FnMut(u64),
) -> io::Result<()> {
    std::thread::scope(|scope| {
        let (read_tx, read_rx) = std::sync::mpsc::sync_channel::<Chunk>(4);
        let (out_tx, out_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
        let reading = scope.spawn(move || read_blocks(from, &read_tx, cancel));
        let encrypting = scope.spawn(move || -> io::Result<()> {
            let mut sink = ToThread {
                tx: out_tx,
                block: Vec::with_capacity(ToThread::BLOCK),
            };
            let mut enc = key.encrypt(&mut sink)?;
            for chunk in read_rx {
                match chunk {
                    Chunk::Block(block) => enc.write_all(&block)?,
                    Chunk::End => {
                        enc.finish()?;
                        return sink.flush();
                    }
                }
            }
            Err(io::Error::other("the archive was not read to its end"))
        });
        let mut written = Ok(());
        for block in out_rx {
            written = out.write_all(&block);
            if written.is_err() {
                // Dropping the receiver stops the other two threads.
                break;
            }
            progress(block.len() as u64);
        }
        let panicked = |what: &str| io::Error::other(format!("the {what} thread panicked"));
        let read = reading.join().unwrap_or_else(|_| Err(panicked("reading")));
        let encrypted = encrypting
            .join()
            .unwrap_or_else(|_| Err(panicked("encrypting")));
        // The first cause: the target, then the archive, then the encryption.
        written.and(read).and(encrypted)
    })
}

/// Uploads one local archive as `object`; returns its size and hash as sent.
fn upload(
    target: &dyn Target,
    key: Option<&Key>,
    info: &BackupInfo,
    object: &str,
    cancel: &Cancel,
    progress: &mut dyn FnMut(u64),
) -> Result<(u64, String)> {
    let mut file = File::open(&info.path).map_err(crate::backup::Error::io("read", &info.path))?;
    let mut sent = (0u64, String::new());
    let stored = target.put(object, &mut |w| {
        let mut out = Counting {
            inner: w,
            hasher: blake3::Hasher::new(),
            count: 0,
        };
        match key {
            Some(k) => encrypt_beside(k, &mut file, &mut out, cancel, progress)?,
            None => pump(&mut file, &mut out, cancel, progress)?,
        }
        sent = (out.count, out.hasher.finalize().to_hex().to_string());
        Ok(())
    });
    if cancel.is_cancelled() {
        return Err(crate::backup::Error::Cancelled.into());
    }
    let stored = stored?;
    if stored != sent.0 {
        let _ = target.delete(object);
        return Err(Error::Corrupt {
            target: target.name().to_owned(),
            message: format!(
                "{object}: the target holds {stored} bytes but {} were sent; the copy was removed",
                sent.0
            ),
        });
    }
    Ok(sent)
}

/// The backup `id` (or the newest) and every backup it needs, oldest first.
fn chain_of<'a>(all: &'a [BackupInfo], id: Option<&str>) -> Result<Vec<&'a BackupInfo>> {
    let by_id: BTreeMap<&str, &BackupInfo> = all.iter().map(|b| (b.id.as_str(), b)).collect();
    let wanted = match id {
        Some(id) => by_id.get(id).copied().ok_or_else(|| {
            crate::backup::Error::Usage(format!("no backup `{id}` (see `gardener backup list`)"))
        })?,
        None => all
            .iter()
            .find(|b| b.unreadable.is_none())
            .ok_or_else(|| crate::backup::Error::Usage("there is no backup to copy yet".into()))?,
    };
    if wanted.failed() {
        return Err(crate::backup::Error::Usage(format!(
            "{} failed its check; it is not copied",
            wanted.id
        ))
        .into());
    }
    let mut out = Vec::new();
    for need in &wanted.needs {
        let b = by_id.get(need.as_str()).copied().ok_or_else(|| {
            crate::backup::Error::Usage(format!(
                "{} needs {need}, which is not here, so it cannot be copied",
                wanted.id
            ))
        })?;
        out.push(b);
    }
    out.push(wanted);
    Ok(out)
}

/// Copies backup `id` (default: the newest) to the target named `name`.
pub fn copy(
    ctx: &Context,
    name: &str,
    id: Option<&str>,
    cancel: &Cancel,
    progress: &mut dyn FnMut(&Progress),
) -> Result<CopyReport> {
    let result = copy_inner(ctx, name, id, cancel, progress);
    let recorded = CopiesState::update(ctx, name, |t| match &result {
        Ok(_) => {
            t.last_copy = Some(now());
            t.last_failure = None;
        }
        Err(e) => {
            t.last_failure = Some(Failure {
                at: now(),
                error: e.to_string(),
            });
        }
    });
    if let Err(e) = recorded {
        tracing::warn!("copy state not saved: {e}");
    }
    result
}

fn copy_inner(
    ctx: &Context,
    name: &str,
    id: Option<&str>,
    cancel: &Cancel,
    progress: &mut dyn FnMut(&Progress),
) -> Result<CopyReport> {
    let started = Instant::now();
    let cfg = find(ctx, name)?;
    let target = open(ctx, cfg)?;
    let dest = crate::backup::destination(ctx);
    let all = catalog::list(&dest)?;
    let chain = chain_of(&all, id)?;
    let enc = encrypted(ctx, cfg);
    let key = if enc {
        Some(Key::load_or_create(ctx)?.0)
    } else {
        None
    };
    let there: BTreeMap<String, u64> = target
        .list()?
        .into_iter()
        .map(|o| (o.key, o.size))
        .collect();
    let state = CopiesState::load(ctx);
    let known = state.targets.get(name).cloned().unwrap_or_default();
    let mut uploads = Uploads {
        target: target.as_ref(),
        key: key.as_ref(),
        cancel,
        done: 0,
        total: chain.iter().map(|b| b.size).sum(),
    };
    let mut report = CopyReport {
        target: name.to_owned(),
        location: target.location(),
        backup: chain.last().map(|b| b.id.clone()).unwrap_or_default(),
        copied: Vec::new(),
        present: Vec::new(),
        bytes: 0,
        pruned: Vec::new(),
        seconds: 0.0,
    };
    for b in chain {
        let object = object_key(&b.id, enc);
        let recorded = known.copies.get(&b.id);
        if let Some(size) = there.get(&object)
            && recorded.is_none_or(|r| r.size == *size)
        {
            report.present.push(b.id.clone());
            uploads.done += b.size;
            continue;
        }
        let (size, hash) = uploads.send(b, &object, progress)?;
        report.bytes += size;
        report.copied.push(b.id.clone());
        let record = CopyRecord {
            key: object,
            size,
            blake3: hash,
            encrypted: enc,
            at: now(),
            created: b.created.clone(),
            needs: b.needs.clone(),
            checked: None,
        };
        CopiesState::update(ctx, name, |t| {
            t.copies.insert(b.id.clone(), record);
        })?;
    }
    report.pruned = prune(ctx, name, target.as_ref(), false)?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The uploads of one chain to one target, with progress counted over the
/// whole chain.
struct Uploads<'a> {
    target: &'a dyn Target,
    key: Option<&'a Key>,
    cancel: &'a Cancel,
    /// Bytes of the chain done (archives already there count whole).
    done: u64,
    /// Bytes of the whole chain.
    total: u64,
}

impl Uploads<'_> {
    /// Uploads backup `b` as `object`, telling `progress` of every block
    /// sent. Returns the size stored and its BLAKE3 hash.
    fn send(
        &mut self,
        b: &BackupInfo,
        object: &str,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<(u64, String)> {
        let base = self.done;
        let total = self.total;
        let done = &mut self.done;
        let mut on_bytes = |n: u64| {
            *done += n;
            progress(&Progress {
                phase: Phase::Copy,
                bytes: *done,
                total_bytes: total,
                files: 0,
                total_files: 0,
            });
        };
        let sent = upload(self.target, self.key, b, object, self.cancel, &mut on_bytes)?;
        self.done = base + b.size;
        Ok(sent)
    }
}

/// Applies the target's retention (`retention` in its table, else
/// `[backup.retention]`) to the copies recorded there; "newest verified"
/// is the newest copy whose check passed. Returns the ids deleted (or that
/// would be, with `dry_run`).
pub fn prune(ctx: &Context, name: &str, target: &dyn Target, dry_run: bool) -> Result<Vec<String>> {
    let cfg = find(ctx, name)?;
    let policy = cfg
        .retention
        .clone()
        .unwrap_or_else(|| ctx.config.backup.retention.clone());
    let state = CopiesState::load(ctx);
    let Some(ts) = state.targets.get(name) else {
        return Ok(Vec::new());
    };
    let candidates: Vec<Candidate> = ts
        .copies
        .iter()
        .filter_map(|(id, c)| {
            Some(Candidate {
                id: id.clone(),
                created: c.created.parse().ok()?,
                verified: c.checked.as_ref().is_some_and(|k| k.ok),
                counts: c.checked.as_ref().is_none_or(|k| k.ok),
                needs: c.needs.clone(),
            })
        })
        .collect();
    let decisions = retention::decide(&policy, &candidates, &jiff::tz::TimeZone::system());
    let mut gone = Vec::new();
    for d in decisions.iter().filter(|d| !d.keep) {
        if let Some(c) = ts.copies.get(&d.id) {
            if !dry_run {
                target.delete(&c.key)?;
                CopiesState::update(ctx, name, |t| {
                    t.copies.remove(&d.id);
                })?;
            }
            gone.push(d.id.clone());
        }
    }
    Ok(gone)
}

/// After a backup: copies it to every target, each on its own; a target
/// that fails does not stop the others.
pub fn copy_to_all(
    ctx: &Context,
    id: &str,
    cancel: &Cancel,
    progress: &mut dyn FnMut(&Progress),
) -> Vec<CopyOutcome> {
    // Every target: no name to look up, nothing to fail.
    let names = super::names(ctx, None).unwrap_or_default();
    copy_each(ctx, &names, Some(id), cancel, progress)
}

/// Copies backup `id` to `target` (to every target with `None`), each on
/// its own: an unknown target is an error, a copy that fails is an outcome.
pub fn copy_to(
    ctx: &Context,
    id: &str,
    target: Option<&str>,
    cancel: &Cancel,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Vec<CopyOutcome>> {
    let names = super::names(ctx, target)?;
    Ok(copy_each(ctx, &names, Some(id), cancel, progress))
}

/// Copies backup `id` (the newest with `None`) to each target in `names`,
/// each on its own: one that fails does not stop the others.
pub fn copy_each(
    ctx: &Context,
    names: &[&str],
    id: Option<&str>,
    cancel: &Cancel,
    progress: &mut dyn FnMut(&Progress),
) -> Vec<CopyOutcome> {
    names
        .iter()
        .map(|name| match copy(ctx, name, id, cancel, progress) {
            Ok(report) => CopyOutcome {
                target: (*name).to_owned(),
                report: Some(report),
                code: None,
                error: None,
            },
            Err(e) => {
                tracing::info!("copy to {name} failed: {e}");
                CopyOutcome {
                    target: (*name).to_owned(),
                    report: None,
                    code: Some(e.code()),
                    error: Some(e.to_string()),
                }
            }
        })
        .collect()
}

/// Makes a backup, then copies it to every target (as the menu-bar app's
/// Back Up Now and the dashboard do); a copy that fails does not fail the
/// backup. Returns the backup and each target's outcome.
pub fn backup_and_copy(
    ctx: &Context,
    manager: &dyn crate::services::ServiceManager,
    opts: &crate::backup::CreateOptions,
    progress: &mut dyn FnMut(&Progress),
) -> crate::backup::Result<(crate::backup::CreateReport, Vec<CopyOutcome>)> {
    let report = crate::backup::create(ctx, manager, opts, progress)?;
    let outcomes = copy_to_all(ctx, &report.backup.id, &opts.cancel, progress);
    Ok((report, outcomes))
}

/// Back Up Now from the app: a backup like `gardener backup create`
/// (checked as the config says), then copied to every target.
pub fn back_up_now(
    ctx: &Context,
    cancel: crate::backup::Cancel,
    progress: &mut dyn FnMut(&Progress),
) -> crate::backup::Result<(crate::backup::CreateReport, Vec<CopyOutcome>)> {
    let opts = crate::backup::CreateOptions {
        verify: None,
        scheduled: false,
        from_app: true,
        cancel,
        ..crate::backup::CreateOptions::default()
    };
    backup_and_copy(ctx, ctx.manager().as_ref(), &opts, progress)
}

/// The outcome of a backup and its copies in a sentence or two, as a
/// notification says it.
pub fn done_words(report: &crate::backup::CreateReport, outcomes: &[CopyOutcome]) -> String {
    let mut text = report.done_words();
    let copied: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.error.is_none())
        .map(|o| o.target.as_str())
        .collect();
    if !copied.is_empty() {
        text.push_str(&format!(" Copied to {}.", copied.join(", ")));
    }
    for o in outcomes {
        if let Some(e) = &o.error {
            text.push_str(&format!(" The copy to {} failed: {e}", o.target));
        }
    }
    text
}

#[cfg(test)]
mod tests;
