//! Restoring a backup: verify while extracting into staging directories
//! next to the live data (touching nothing live if anything is wrong; an
//! incremental backup's unchanged files come from the earlier archives that
//! hold them, each read once),
//! stop the services, swap each tree atomically (`RENAME_EXCHANGE` /
//! `RENAME_SWAP`), start the services, wait for health and swap back if
//! they are not healthy. The replaced trees stay as safety copies until the
//! next successful backup. A journal lets the next run undo a restore that
//! was killed half way.

mod diff;
mod extract;
mod journal;
mod staging;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

pub use diff::Diff;
use journal::Journal;
use staging::Unit;

use super::archive_reader::read_manifest;
use super::catalog::{self, Lock, SafetyCopy, State};
use super::manifest::{Kind, Manifest, SourceKind, expand_home, shorten_home};
use super::{Cancel, Error, Phase, Progress, Result};
use crate::context::Context;
use crate::services::{Action, ServiceId, ServiceManager, ServiceState};

/// What to restore, and how.
#[derive(Clone, Debug, Default)]
pub struct RestoreOptions {
    /// Only show what would change.
    pub dry_run: bool,
    /// Restore only these archive paths (`app-data/projects/x`) or live paths.
    pub only: Vec<String>,
    /// Restore into this directory instead, without touching services.
    pub to: Option<PathBuf>,
    /// Checked between blocks.
    pub cancel: Cancel,
}

impl RestoreOptions {
    /// A whole restore in place that `cancel` can stop.
    pub fn cancelled_by(cancel: &Cancel) -> Self {
        Self {
            cancel: cancel.clone(),
            ..Self::default()
        }
    }
}

/// What a restore did (or would do).
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct RestoreReport {
    /// The backup restored.
    pub id: String,
    /// Nothing was changed.
    pub dry_run: bool,
    /// Live paths replaced (or created).
    pub restored: Vec<String>,
    /// Paths added, changed and removed.
    pub diff: Diff,
    /// Where the replaced trees are kept.
    pub safety_copies: Vec<String>,
    /// Services stopped for the swap and started again.
    pub services: Vec<ServiceId>,
    /// Seconds.
    pub seconds: f64,
}

const SERVICE_TIMEOUT: Duration = Duration::from_secs(30);

/// Where archive path `path` of `manifest` lives on this machine.
fn live_of(manifest: &Manifest, path: &str, home: &Path, to: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = to {
        return Some(dir.join(path));
    }
    let source = manifest.source_of(path)?;
    let root = expand_home(&source.path, home);
    let rest = path.strip_prefix(&source.name)?.trim_start_matches('/');
    match source.kind {
        SourceKind::Dir | SourceKind::Files if rest.is_empty() => Some(root),
        SourceKind::Dir | SourceKind::Files => Some(root.join(rest)),
        // A file source holds one file, stored under its name.
        SourceKind::File if !rest.is_empty() && !rest.contains('/') => Some(root),
        _ => None,
    }
}

/// The units a restore replaces, each with its live and staging path.
fn units(
    manifest: &Manifest,
    opts: &RestoreOptions,
    home: &Path,
    stage_name: &str,
) -> Result<Vec<Unit>> {
    let to = opts.to.as_deref();
    let roots = if opts.only.is_empty() {
        whole_backup_roots(manifest, to.is_some())
    } else {
        chosen_roots(manifest, &opts.only, home)?
    };
    roots
        .into_iter()
        .map(|archive| {
            let live = live_of(manifest, &archive, home, to)
                .ok_or_else(|| Error::Usage(format!("{archive}: no place to restore it to")))?;
            let parent = live
                .parent()
                .ok_or_else(|| Error::Usage(format!("{}: has no parent", live.display())))?;
            let base = live.file_name().map(|n| n.to_owned()).unwrap_or_default();
            Ok(Unit {
                archive,
                staged: parent.join(stage_name).join(base),
                live,
            })
        })
        .collect()
}

/// The archive paths a restore of the whole backup replaces: each
/// directory source, and each file of the file sources (or, restoring
/// into another directory, every source there is).
fn whole_backup_roots(manifest: &Manifest, elsewhere: bool) -> Vec<String> {
    if elsewhere {
        return manifest
            .sources
            .iter()
            .filter(|s| s.kind != SourceKind::Missing)
            .map(|s| s.name.clone())
            .collect();
    }
    let mut roots: Vec<String> = Vec::new();
    for s in &manifest.sources {
        match s.kind {
            SourceKind::Dir => roots.push(s.name.clone()),
            SourceKind::File | SourceKind::Files => roots.extend(
                manifest
                    .entries
                    .iter()
                    .filter(|e| e.kind == Kind::File && e.path.starts_with(&format!("{}/", s.name)))
                    .map(|e| e.path.clone()),
            ),
            SourceKind::Missing => {}
        }
    }
    roots
}

/// The archive paths `--only` names, given as archive paths or as the live
/// paths the backup holds; a path inside another one is left out.
fn chosen_roots(manifest: &Manifest, only: &[String], home: &Path) -> Result<Vec<String>> {
    let mut roots: Vec<String> = Vec::new();
    for o in only {
        let p = o.trim_end_matches('/');
        let found = manifest.entries.iter().any(|e| e.path == p);
        let by_live = (!found)
            .then(|| {
                let wanted = expand_home(p, home);
                manifest
                    .entries
                    .iter()
                    .find(|e| live_of(manifest, &e.path, home, None).is_some_and(|l| l == wanted))
            })
            .flatten();
        match (found, by_live) {
            (true, _) => roots.push(p.to_owned()),
            (false, Some(e)) => roots.push(e.path.clone()),
            (false, None) => {
                return Err(Error::Usage(format!(
                    "--only {o}: not in this backup (give a path inside the archive such as \
                     `{}/…`, or a live path it holds)",
                    manifest
                        .sources
                        .first()
                        .map_or("app-data", |s| s.name.as_str())
                )));
            }
        }
    }
    roots.sort();
    roots.dedup();
    // A path inside another one is already covered by it.
    let all = roots.clone();
    roots.retain(|r| {
        !all.iter()
            .any(|o| o != r && r.starts_with(&format!("{o}/")))
    });
    Ok(roots)
}

fn running(manager: &dyn ServiceManager, ctx: &Context) -> Vec<ServiceId> {
    ctx.managed_services()
        .into_iter()
        .filter(|id| {
            manager
                .status(*id)
                .is_ok_and(|s| matches!(s.state, ServiceState::Running | ServiceState::Starting))
        })
        .collect()
}

pub use journal::held_services;

/// Where the journal is, for tests that write one by hand.
#[cfg(test)]
pub(crate) fn journal_path_for_tests(ctx: &Context) -> PathBuf {
    journal::path(ctx)
}

/// Whether a restore started the services again at or after `since`
/// (seconds since the epoch): new processes since then are its doing.
pub fn resumed_since(ctx: &Context, since: u64) -> bool {
    super::pause::resumed_since(ctx, super::pause::RESTORE_RESUMED, since)
}

/// Restores the backup at `archive` (see the module docs).
pub fn restore(
    ctx: &Context,
    manager: &dyn ServiceManager,
    archive: &Path,
    opts: &RestoreOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<RestoreReport> {
    let started = Instant::now();
    let manifest = read_manifest(archive)?;
    manifest.check().map_err(|r| Error::Hostile {
        path: archive.to_path_buf(),
        message: r.0,
    })?;
    let home = &ctx.paths.home;
    let stage_name = format!(
        ".gardener-before-restore-{}",
        jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S%.3fZ")
    );
    let units = units(&manifest, opts, home, &stage_name)?;
    let show = |p: &Path| shorten_home(p, home);
    let mut report = planned(&manifest, &units, opts, &show);
    if opts.dry_run {
        report.seconds = started.elapsed().as_secs_f64();
        return Ok(report);
    }
    if let Some(dir) = &opts.to {
        create_empty_target(dir, &units)?;
    }
    let dest = super::destination(ctx);
    crate::fsutil::create_dir(&dest, 0o700).map_err(Error::io("create", &dest))?;
    let _lock = Lock::acquire(&dest)?;
    if let Some(note) = recover(ctx, manager) {
        tracing::warn!("{note}");
    }
    let stage_dirs = stage_roots(&units);
    let (mut cleanup, scanned) =
        stage(ctx, archive, &manifest, &units, &stage_dirs, opts, progress)?;
    if opts.to.is_some() {
        for u in &units {
            fs::rename(&u.staged, &u.live).map_err(Error::io("move into place", &u.live))?;
        }
        drop(cleanup);
        report.seconds = started.elapsed().as_secs_f64();
        return Ok(report);
    }
    progress(&Progress {
        phase: Phase::Swap,
        bytes: scanned.bytes,
        total_bytes: scanned.bytes,
        files: scanned.files,
        total_files: scanned.files,
    });
    let services = running(manager, ctx);
    let mut journal = Journal::begin(ctx, &manifest.id, &units, &services)?;
    // From the first swap on, staging dirs may hold the only copy of the old
    // data: they are removed only once it is back in place, never on drop.
    cleanup.disarm();
    if let Err(why) = swap_and_start(ctx, manager, &mut journal, &units, &services) {
        return Err(roll_back(
            ctx, manager, journal, &units, &services, stage_dirs, why,
        ));
    }
    report.safety_copies = keep_safety_copies(ctx, &units, &show)?;
    journal.finish(ctx)?;
    for d in &stage_dirs {
        // Staging dirs that hold no safety copy (nothing was there before).
        let _ = fs::remove_dir(d);
    }
    report.services = services;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The report of a restore of `units`, before anything is done: what it
/// replaces and how the trees differ.
fn planned(
    manifest: &Manifest,
    units: &[Unit],
    opts: &RestoreOptions,
    show: &dyn Fn(&Path) -> String,
) -> RestoreReport {
    RestoreReport {
        id: manifest.id.clone(),
        dry_run: opts.dry_run,
        restored: units.iter().map(|u| show(&u.live)).collect(),
        diff: diff::diff(manifest, units, show),
        safety_copies: Vec::new(),
        services: Vec::new(),
        seconds: 0.0,
    }
}

/// Creates `dir` for a restore into it, refusing when any unit's place in
/// it already exists.
fn create_empty_target(dir: &Path, units: &[Unit]) -> Result<()> {
    for u in units {
        if u.live.exists() {
            return Err(Error::Usage(format!(
                "{} already exists; restore into an empty directory",
                u.live.display()
            )));
        }
    }
    crate::fsutil::create_dir(dir, 0o700).map_err(Error::io("create", dir))
}

/// Extracts and verifies the backup into fresh staging directories in one
/// pass, synced to disk. The returned guard removes them (and the journal)
/// unless disarmed.
fn stage(
    ctx: &Context,
    archive: &Path,
    manifest: &Manifest,
    units: &[Unit],
    stage_dirs: &[PathBuf],
    opts: &RestoreOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(StageGuard, extract::Extracted)> {
    // The journal names the staging dirs before they exist, so a kill
    // during extraction leaves nothing for long: the next backup command
    // removes them.
    Journal::begin(ctx, &manifest.id, units, &[])?;
    let cleanup = StageGuard {
        dirs: stage_dirs.to_vec(),
        journal: Some(journal::path(ctx)),
    };
    for d in stage_dirs {
        if d.exists() {
            fs::remove_dir_all(d).map_err(Error::io("remove", d))?;
        }
        crate::fsutil::create_dir(d, 0o700).map_err(Error::io("create", d))?;
    }
    let scanned = extract::extract(
        archive,
        manifest,
        units,
        holders_bytes(archive, manifest),
        &opts.cancel,
        progress,
    )?;
    for d in stage_dirs {
        staging::sync_fs(d)?;
    }
    opts.cancel.check()?;
    Ok((cleanup, scanned))
}

/// What the archives `manifest` needs hold, from the catalog of their
/// directory (a full backup needs none: no catalog is read then).
fn holders_bytes(archive: &Path, manifest: &Manifest) -> u64 {
    archive
        .parent()
        .filter(|_| !manifest.needs.is_empty())
        .and_then(|dir| catalog::list(dir).ok())
        .map_or(0, |all| {
            all.iter()
                .filter(|b| manifest.needs.contains(&b.id))
                .map(|b| b.stored_bytes)
                .sum()
        })
}

/// Swaps the staged units in and starts the services again; says why when
/// that did not end with healthy services.
fn swap_and_start(
    ctx: &Context,
    manager: &dyn ServiceManager,
    journal: &mut Journal,
    units: &[Unit],
    services: &[ServiceId],
) -> std::result::Result<(), String> {
    match swap_all(manager, journal, units, services) {
        Ok(()) => start_and_check(ctx, manager, services)
            .map_err(|why| format!("the restored services did not become healthy ({why})")),
        Err(e) => Err(format!("swapping in the restored data failed ({e})")),
    }
}

/// Puts the previous data back after a failed swap or start (`why`),
/// starts the services again and removes the unwanted restored trees.
/// Returns the error the restore ends with.
fn roll_back(
    ctx: &Context,
    manager: &dyn ServiceManager,
    mut journal: Journal,
    units: &[Unit],
    services: &[ServiceId],
    stage_dirs: Vec<PathBuf>,
    why: String,
) -> Error {
    let undone = units
        .iter()
        .enumerate()
        .rev()
        .try_for_each(|(i, u)| journal.unswap(i, u));
    if let Err(e) = undone {
        return Error::RolledBack(format!(
            "{why}, and putting the previous data back failed: {e}; the next `gardener backup` \
             command tries again (journal {})",
            journal::path(ctx).display()
        ));
    }
    let restarted = start_and_check(ctx, manager, services);
    if let Err(e) = journal.finish(ctx) {
        return e;
    }
    // The staging dirs now hold the unwanted restored trees.
    drop(StageGuard {
        dirs: stage_dirs,
        journal: None,
    });
    Error::RolledBack(format!(
        "{why}; the previous data is back{}",
        match restarted {
            Ok(()) if services.is_empty() => String::new(),
            Ok(()) => " and the services are running".to_owned(),
            Err(e) => format!(", but starting the services failed too: {e}"),
        }
    ))
}

/// Records the replaced trees as safety copies (the staging dirs stay,
/// holding them) and returns them as shown in the report.
fn keep_safety_copies(
    ctx: &Context,
    units: &[Unit],
    show: &dyn Fn(&Path) -> String,
) -> Result<Vec<String>> {
    let mut state = State::load(ctx);
    let now = super::rfc3339_seconds(jiff::Timestamp::now());
    let mut kept = Vec::new();
    for u in units {
        if fs::symlink_metadata(&u.staged).is_ok() {
            state.safety_copies.push(SafetyCopy {
                path: u.staged.clone(),
                replaced: u.live.clone(),
                at: now.clone(),
            });
            kept.push(show(&u.staged));
        }
    }
    state.save(ctx)?;
    Ok(kept)
}

/// Stops the services and swaps every unit in (reloading the service
/// manager when unit files were among them).
fn swap_all(
    manager: &dyn ServiceManager,
    journal: &mut Journal,
    units: &[Unit],
    services: &[ServiceId],
) -> Result<()> {
    for id in services.iter().rev() {
        manager.run(Action::Stop, *id, SERVICE_TIMEOUT)?;
    }
    for (i, u) in units.iter().enumerate() {
        journal.swap(i, u)?;
    }
    if units.iter().any(|u| u.archive.starts_with("services/")) {
        manager.reload()?;
    }
    Ok(())
}

fn stage_roots(units: &[Unit]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = units
        .iter()
        .filter_map(|u| u.staged.parent().map(Path::to_path_buf))
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

fn start_and_check(
    ctx: &Context,
    manager: &dyn ServiceManager,
    services: &[ServiceId],
) -> std::result::Result<(), String> {
    // New processes from here on are the restore's doing, not crashes.
    super::pause::record_start(ctx, super::pause::RESTORE_RESUMED);
    for id in services {
        manager
            .run(Action::Start, *id, SERVICE_TIMEOUT)
            .map_err(|e| e.to_string())?;
    }
    let timeout = Duration::from_secs(ctx.config.install.health_timeout_secs);
    for id in services {
        let (_, stderr_log) = ctx.log_files(*id);
        crate::health::wait_healthy(*id, &ctx.health_url(*id), &stderr_log, timeout)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Removes staging directories (and the journal naming them) when a
/// restore stops before anything live was touched.
struct StageGuard {
    dirs: Vec<PathBuf>,
    journal: Option<PathBuf>,
}

impl StageGuard {
    fn disarm(&mut self) {
        self.dirs.clear();
        self.journal = None;
    }
}

impl Drop for StageGuard {
    fn drop(&mut self) {
        for d in &self.dirs {
            if let Err(e) = fs::remove_dir_all(d)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!("cannot remove the staging directory {}: {e}", d.display());
            }
        }
        if let Some(j) = &self.journal {
            let _ = fs::remove_file(j);
        }
    }
}

/// Undoes a restore that was killed while swapping: every tree goes back
/// to what it was and the services that were running are started. Returns
/// what was done, for the report.
pub fn recover(ctx: &Context, manager: &dyn ServiceManager) -> Option<String> {
    journal::recover(ctx, manager)
}

/// Safety copies of trees replaced by restores, for `list`.
pub fn safety_copies(ctx: &Context) -> Vec<SafetyCopy> {
    catalog::State::load(ctx)
        .safety_copies
        .into_iter()
        .filter(|c| fs::symlink_metadata(&c.path).is_ok())
        .collect()
}
