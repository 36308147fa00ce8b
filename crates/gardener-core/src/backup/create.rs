//! Making a backup: choose full or incremental (see [`super::chain`]), list
//! the sources (with the app paused, or cloned while paused: only the files
//! that changed), write the archive ([`archive`]), its index, and give the
//! archive its final name; then check it. A crash or cancel leaves at most a
//! `.partial`, never listed and removed by the next backup.

mod archive;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use archive::{Compression, Listed};

use super::catalog::{self, BackupInfo, Lock};
use super::chain::{self, Plan};
use super::index;
use super::manifest::{BackupKind, FORMAT_VERSION, Manifest, SourceRecord};
use super::sources::{self, Excludes, Source};
use super::{Cancel, Error, Phase, Progress, Result, clone, pause};
use crate::context::Context;
use crate::fsutil;
use crate::services::ServiceManager;

/// How to run one backup.
#[derive(Clone, Debug, Default)]
pub struct CreateOptions {
    /// Verify after writing; `None` follows `[backup] verify`.
    pub verify: Option<bool>,
    /// Started by the timer (recorded, and shown in the catalog).
    pub scheduled: bool,
    /// Started from the menu-bar app, which tells of the outcome itself (so
    /// a failure does not also raise the `backup_failed` alert).
    pub from_app: bool,
    /// Store every file, starting a new chain.
    pub full: bool,
    /// Read and hash files whose size, times and inode did not change, to
    /// catch content changed behind those (stored again when it did).
    pub rehash: bool,
    /// Checked between blocks.
    pub cancel: Cancel,
}

/// What a backup did.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CreateReport {
    /// The new backup, as `list` shows it.
    pub backup: BackupInfo,
    /// Paths skipped, files that changed while read.
    pub warnings: Vec<String>,
    /// Seconds the app was stopped (`None`: not paused).
    pub app_paused_secs: Option<f64>,
    /// Whether the data was read from a filesystem clone.
    pub cloned: bool,
    /// Why the backup is full (`None`: it is incremental).
    pub full_because: Option<String>,
    /// Wall time of the whole backup.
    pub seconds: f64,
}

impl CreateReport {
    /// The outcome in a sentence, as notifications say it: "Full: 14000
    /// files (2.1 GiB), checked, in 12 s." or "Incremental: 12 of 14000
    /// files changed (1.2 MiB), checked, in 2 s."
    pub fn done_words(&self) -> String {
        let b = &self.backup;
        let checked = match &b.verified {
            Some(v) if v.ok => ", checked",
            _ => "",
        };
        let size = bytesize::ByteSize::b(b.size).display().iec();
        let secs = self.seconds;
        match b.kind {
            BackupKind::Full => {
                format!("Full: {} files ({size}){checked}, in {secs:.0} s.", b.files)
            }
            BackupKind::Incremental => format!(
                "Incremental: {} of {} files changed ({size}){checked}, in {secs:.0} s.",
                b.stored_files, b.files
            ),
        }
    }
}

/// A new backup id from the clock: `gardener-YYYYMMDDTHHMMSSZ`, with a
/// suffix if one already exists for this second.
fn new_id(dest: &Path, now: jiff::Timestamp) -> String {
    let base = format!("gardener-{}", now.strftime("%Y%m%dT%H%M%SZ"));
    let mut id = base.clone();
    let mut n = 2;
    while catalog::archive_path(dest, &id).exists() {
        id = format!("{base}-{n}");
        n += 1;
    }
    id
}

fn host_name() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

fn list_all(
    ctx: &Context,
    srcs: &[Source],
    excludes: &Excludes,
    warnings: &mut Vec<String>,
) -> Result<(Vec<SourceRecord>, Vec<Listed>)> {
    let mut records = Vec::new();
    let mut listed = Vec::new();
    for s in srcs {
        let w = sources::walk(s, &s.root, &ctx.paths.home, excludes, warnings)?;
        records.push(w.record);
        listed.push(Listed {
            entries: w.entries,
            level: s.level,
        });
    }
    Ok((records, listed))
}

/// Makes a backup of everything `ctx`'s config names.
pub fn create(
    ctx: &Context,
    manager: &dyn ServiceManager,
    opts: &CreateOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<CreateReport> {
    let started = Instant::now();
    let dest = super::destination(ctx);
    fsutil::create_dir(&dest, 0o700).map_err(Error::io("create", &dest))?;
    let _lock = Lock::acquire(&dest)?;
    catalog::remove_stale_partials(&dest)?;
    index::remove_orphans(&dest)?;
    // The timer appends this run's output to these; nothing else may be
    // rotating them when the menu-bar app is not open.
    let (out, err) = ctx.backup_log_files();
    for log in [out, err] {
        let c = &ctx.config.logs;
        if let Err(e) = crate::logs::rotate_if_needed(&log, c.max_size.as_u64(), c.keep) {
            tracing::warn!("{e}");
        }
    }
    let mut notes = Vec::new();
    notes.extend(pause::recover(ctx, manager));
    notes.extend(super::restore::recover(ctx, manager));
    let mut warnings = Vec::new();
    let result = create_locked(ctx, manager, opts, &dest, &mut warnings, progress);
    let state_warning = catalog::record_attempt(ctx, &result, opts);
    let mut report = result?;
    report.warnings.splice(0..0, notes);
    report.warnings.extend(state_warning);
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

fn scanning() -> Progress {
    Progress {
        phase: Phase::Scan,
        bytes: 0,
        total_bytes: 0,
        files: 0,
        total_files: 0,
    }
}

fn create_locked(
    ctx: &Context,
    manager: &dyn ServiceManager,
    opts: &CreateOptions,
    dest: &Path,
    warnings: &mut Vec<String>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<CreateReport> {
    let cfg = &ctx.config.backup;
    let now = jiff::Timestamp::now();
    let id = new_id(dest, now);
    let srcs = sources::configured(ctx);
    let excludes = Excludes::new(&cfg.exclude, vec![dest.to_path_buf()])?;
    progress(&scanning());
    let backups = catalog::list(dest)?;
    let plan = chain::plan(
        &backups,
        &srcs,
        &ctx.paths.home,
        cfg.full_every,
        opts.full,
        now,
    );
    // Stop the app (when asked) for as short as possible: only while its data
    // is listed and what changed is cloned where the filesystem can, else
    // for the whole archive.
    let mut paused = if cfg.pause_app {
        pause::Paused::pause(ctx, manager)?
    } else {
        None
    };
    opts.cancel.check()?;
    let t = Instant::now();
    let step = |what: &str| tracing::debug!("backup: {what} at {} ms", t.elapsed().as_millis());
    step("planned");
    let (records, mut listed, needs) =
        list_and_compare(ctx, &srcs, &excludes, &plan, opts, warnings, &step)?;
    let user_sources = cfg.sources.len();
    step("compared with the parent");
    let (clones, mut paused_secs) =
        snapshot(&srcs, &mut listed, &id, user_sources, &mut paused, progress)?;
    let cloned = !clones.is_empty();
    let manifest = new_manifest(&id, now, opts, &plan, needs, records, &listed, warnings);
    let compression = Compression {
        level: cfg.level,
        threads: threads(cfg.threads),
    };
    step("snapshot");
    let written = archive::write(
        catalog::archive_path(dest, &id),
        manifest,
        &listed,
        &compression,
        &opts.cancel,
        progress,
    );
    drop(clones);
    if let Some(p) = paused.take() {
        paused_secs = Some(p.resume()?);
    }
    let written = written?;
    step("archive written");
    let (manifest, mut backup) = commit(dest, written, &step)?;
    if opts.verify.unwrap_or(cfg.verify) {
        check_new(dest, &mut backup, &opts.cancel, progress)?;
    }
    Ok(CreateReport {
        backup,
        warnings: manifest.warnings,
        app_paused_secs: paused_secs,
        cloned,
        full_because: plan.full_because,
        seconds: 0.0,
    })
}

/// Lists every source, refuses a listing that lost what the previous
/// backup had, and marks what did not change since the parent backup.
/// Returns the sources' records, their listings and the backups this one
/// needs.
fn list_and_compare(
    ctx: &Context,
    srcs: &[Source],
    excludes: &Excludes,
    plan: &Plan,
    opts: &CreateOptions,
    warnings: &mut Vec<String>,
    step: &dyn Fn(&str),
) -> Result<(Vec<SourceRecord>, Vec<Listed>, Vec<String>)> {
    let (records, mut listed) = list_all(ctx, srcs, excludes, warnings)?;
    step("listed");
    let lists: Vec<&[(super::manifest::Entry, PathBuf)]> =
        listed.iter().map(|l| l.entries.as_slice()).collect();
    chain::check_not_emptied(plan.previous.as_ref(), srcs, &lists, &ctx.paths.home)?;
    let needs = match &plan.parent {
        Some(parent) => {
            let mut lists: Vec<&mut Vec<_>> = listed.iter_mut().map(|l| &mut l.entries).collect();
            chain::mark_unchanged(parent, &mut lists, opts.rehash, &opts.cancel)?
        }
        None => Vec::new(),
    };
    Ok((records, listed, needs))
}

/// Writes the written archive's index, gives the archive its final name
/// and adds it to the catalog of `dest`.
fn commit(
    dest: &Path,
    written: archive::Unfinished,
    step: &dyn Fn(&str),
) -> Result<(Manifest, BackupInfo)> {
    index::write_raw(
        written.final_path(),
        &written.manifest_json,
        &written.hashes,
    )?;
    step("index written");
    let (manifest, path) = written.commit()?;
    let size = fs::metadata(&path)
        .map_err(Error::io("inspect", &path))?
        .len();
    let backup = BackupInfo::from_manifest(&manifest, &path, size);
    catalog::Catalog::update(dest, |c| c.insert(backup.clone()))?;
    step("catalog updated");
    Ok((manifest, backup))
}

/// Clones what will be read of the user's sources while the app is paused,
/// then lets it run again; where cloning is not possible it stays paused.
fn snapshot<'m>(
    srcs: &[Source],
    listed: &mut [Listed],
    id: &str,
    user_sources: usize,
    paused: &mut Option<pause::Paused<'m>>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(clone::Clones, Option<f64>)> {
    if paused.is_none() {
        return Ok((clone::Clones::default(), None));
    }
    progress(&Progress {
        phase: Phase::Snapshot,
        ..scanning()
    });
    let user = user_sources.min(listed.len());
    let to_clone = listed
        .iter_mut()
        .take(user)
        .map(|l| &mut l.entries)
        .collect();
    match clone::clone_sources(srcs.get(..user).unwrap_or_default(), to_clone, id) {
        Ok(c) => {
            let secs = match paused.take() {
                Some(p) => Some(p.resume()?),
                None => None,
            };
            Ok((c, secs))
        }
        Err(why) => {
            tracing::info!("no clone, the app stays paused for the archive: {why}");
            Ok((clone::Clones::default(), None))
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn new_manifest(
    id: &str,
    now: jiff::Timestamp,
    opts: &CreateOptions,
    plan: &Plan,
    needs: Vec<String>,
    sources: Vec<SourceRecord>,
    listed: &[Listed],
    warnings: &[String],
) -> Manifest {
    let entries: Vec<_> = listed
        .iter()
        .flat_map(|l| l.entries.iter().map(|(e, _)| e.clone()))
        .collect();
    let total_bytes = entries
        .iter()
        .filter(|e| e.kind == super::manifest::Kind::File)
        .map(|e| e.size)
        .sum();
    let created = super::rfc3339_seconds(now);
    let (kind, parent, depth, chain_started) = chain::lineage(plan.parent.as_ref(), &created);
    debug_assert!(kind == BackupKind::Full || parent.is_some());
    Manifest {
        format: FORMAT_VERSION,
        id: id.to_owned(),
        created,
        host: host_name(),
        gardener_version: env!("CARGO_PKG_VERSION").to_owned(),
        scheduled: opts.scheduled,
        sources,
        entries,
        total_bytes,
        warnings: warnings.to_vec(),
        kind,
        parent,
        needs,
        depth,
        chain_started,
    }
}

fn threads(configured: u32) -> u32 {
    match configured {
        0 => {
            std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(1))
        }
        n => n,
    }
}

/// Reads the new archive back and records the result; a backup that fails
/// its own check is an error (and stays listed as failed).
fn check_new(
    dest: &Path,
    backup: &mut BackupInfo,
    cancel: &Cancel,
    progress: &mut dyn FnMut(&Progress),
) -> Result<()> {
    let all = catalog::list(dest)?;
    let report = super::verify::verify_new(&backup.path, &all, cancel, progress)?;
    backup.verified = Some(report.record());
    catalog::Catalog::update(dest, |c| c.insert(backup.clone()))?;
    if report.ok() {
        Ok(())
    } else {
        Err(Error::Corrupt {
            path: backup.path.clone(),
            message: format!(
                "the new backup failed its own verification: {}",
                report.problems.join("; ")
            ),
        })
    }
}
