//! The catalog of backups in the destination (`catalog.json`, a cache of
//! what each archive's manifest says plus its verification results; the
//! archives stay the truth), the lock that keeps two writers apart, the
//! state of the last attempt for `status`, and pruning.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::manifest::{BackupKind, Manifest, SourceKind};
use super::retention::{self, Candidate, Decision};
use super::{Error, Result, VerifyRecord};
use crate::config::RESERVED_SOURCE_NAMES;
use crate::context::Context;
use crate::fsutil;

/// Suffix of a finished archive.
pub const SUFFIX: &str = ".tar.zst";
const CATALOG: &str = "catalog.json";
const STATE: &str = "backup-state.json";

/// Where the archive of `id` lives.
pub fn archive_path(dest: &Path, id: &str) -> PathBuf {
    dest.join(format!("{id}{SUFFIX}"))
}

/// One backup as `gardener backup list` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct BackupInfo {
    /// `gardener-YYYYMMDDTHHMMSSZ`.
    pub id: String,
    /// The archive.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub path: PathBuf,
    /// When it was made, RFC 3339 UTC.
    pub created: String,
    /// Archive size in bytes.
    pub size: u64,
    /// Number of files in it.
    pub files: u64,
    /// Bytes of file content in it (before compression).
    pub bytes: u64,
    /// Made by the timer.
    pub scheduled: bool,
    /// The machine it was made on.
    pub host: String,
    /// Last verification, if any.
    pub verified: Option<VerifyRecord>,
    /// Why the archive cannot be read at all (its manifest is damaged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
    /// Archive layout version.
    pub format: u32,
    /// Full, or incremental (only what changed since its parent).
    pub kind: BackupKind,
    /// The backup an incremental one was compared with.
    pub parent: Option<String>,
    /// Backups whose archives hold content of this one (restoring it reads them).
    pub needs: Vec<String>,
    /// Files whose content this archive stores: all of them for a full
    /// backup, the ones that changed for an incremental one.
    pub stored_files: u64,
    /// Bytes of content this archive stores.
    pub stored_bytes: u64,
    /// This archive's size plus the size of every archive it needs.
    pub chain_size: u64,
    /// Backups it needs whose archives are not there: it cannot be restored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// A source that must be there was missing from it (possible only in
    /// format 1): it does not count for retention.
    #[serde(default)]
    pub partial: bool,
}

impl BackupInfo {
    /// The catalog line for an archive and its manifest.
    pub fn from_manifest(m: &Manifest, path: &Path, size: u64) -> Self {
        Self {
            id: m.id.clone(),
            path: path.to_path_buf(),
            created: m.created.clone(),
            size,
            files: m.file_count(),
            bytes: m.total_bytes,
            scheduled: m.scheduled,
            host: m.host.clone(),
            verified: None,
            unreadable: None,
            format: m.format,
            kind: m.kind,
            parent: m.parent.clone(),
            needs: m.needs.clone(),
            stored_files: m.stored_files().count() as u64,
            stored_bytes: m.stored_bytes(),
            chain_size: size,
            missing: Vec::new(),
            partial: m.sources.iter().any(|s| {
                s.kind == SourceKind::Missing
                    && !s.optional
                    && !RESERVED_SOURCE_NAMES.contains(&s.name.as_str())
            }),
        }
    }

    /// An archive whose manifest cannot be read.
    fn unreadable(id: &str, path: &Path, size: u64, why: String) -> Self {
        Self {
            id: id.to_owned(),
            path: path.to_path_buf(),
            created: String::new(),
            size,
            files: 0,
            bytes: 0,
            scheduled: false,
            host: String::new(),
            verified: None,
            unreadable: Some(why),
            format: 0,
            kind: BackupKind::Full,
            parent: None,
            needs: Vec::new(),
            stored_files: 0,
            stored_bytes: 0,
            chain_size: size,
            missing: Vec::new(),
            partial: false,
        }
    }

    /// Failed its last check.
    pub fn failed(&self) -> bool {
        self.verified.as_ref().is_some_and(|v| !v.ok)
    }

    /// The creation time, parsed.
    pub fn created_at(&self) -> Option<jiff::Timestamp> {
        self.created.parse().ok()
    }

    /// Verified, and found sound.
    pub fn is_verified(&self) -> bool {
        self.verified.as_ref().is_some_and(|v| v.ok)
    }
}

/// Version of `catalog.json`'s layout; a catalog of another version is read
/// again from the archives.
const CATALOG_VERSION: u32 = 2;

/// `catalog.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Catalog {
    #[serde(default)]
    version: u32,
    backups: BTreeMap<String, BackupInfo>,
}

impl Catalog {
    fn load(dest: &Path) -> Self {
        fs::read(dest.join(CATALOG))
            .ok()
            .and_then(|b| serde_json::from_slice::<Self>(&b).ok())
            .filter(|c| c.version == CATALOG_VERSION)
            .unwrap_or_default()
    }

    fn save(&mut self, dest: &Path) -> Result<()> {
        self.version = CATALOG_VERSION;
        let path = dest.join(CATALOG);
        let text = serde_json::to_vec_pretty(self).map_err(|e| Error::Usage(e.to_string()))?;
        fsutil::atomic_write(&path, &text, 0o600).map_err(Error::io("write", &path))
    }

    /// Adds or replaces one backup.
    pub fn insert(&mut self, info: BackupInfo) {
        self.backups.insert(info.id.clone(), info);
    }

    /// Loads, changes and saves the catalog.
    pub fn update(dest: &Path, f: impl FnOnce(&mut Self)) -> Result<()> {
        let mut c = Self::load(dest);
        f(&mut c);
        c.save(dest)
    }
}

/// Every finished backup in `dest`, newest first. Archives the catalog does
/// not know (copied in, catalog lost) are read for their manifest; catalog
/// lines whose archive is gone are dropped.
pub fn list(dest: &Path) -> Result<Vec<BackupInfo>> {
    let mut catalog = Catalog::load(dest);
    let mut found = BTreeMap::new();
    let read = match fs::read_dir(dest) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read", dest)(e)),
    };
    let mut changed = false;
    for item in read {
        let item = item.map_err(Error::io("read", dest))?;
        let name = item.file_name().to_string_lossy().into_owned();
        let Some(id) = name.strip_suffix(SUFFIX) else {
            continue;
        };
        let path = item.path();
        let size = item.metadata().map(|m| m.len()).unwrap_or(0);
        let info = match catalog.backups.get(id) {
            Some(info) if info.size == size && info.path == path => info.clone(),
            _ => {
                changed = true;
                match super::archive_reader::read_manifest(&path) {
                    Ok(m) => BackupInfo::from_manifest(&m, &path, size),
                    Err(e) => BackupInfo::unreadable(id, &path, size, e.to_string()),
                }
            }
        };
        found.insert(id.to_owned(), info);
    }
    if changed || found.len() != catalog.backups.len() {
        catalog.backups = found.clone();
        // A read-only destination still lists.
        if let Err(e) = catalog.save(dest) {
            tracing::debug!("catalog not saved: {e}");
        }
    }
    let sizes: BTreeMap<String, u64> = found.iter().map(|(id, b)| (id.clone(), b.size)).collect();
    let mut out: Vec<BackupInfo> = found.into_values().collect();
    for b in &mut out {
        b.missing = b
            .needs
            .iter()
            .filter(|n| !sizes.contains_key(*n))
            .cloned()
            .collect();
        b.chain_size = b.size + b.needs.iter().filter_map(|n| sizes.get(n)).sum::<u64>();
    }
    out.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
    Ok(out)
}

/// Finds a backup by id (or unique id prefix) or takes a path to an archive.
pub fn resolve(dest: &Path, what: &str) -> Result<PathBuf> {
    let as_path = Path::new(what);
    if what.contains('/') || what.ends_with(SUFFIX) {
        if as_path.is_file() {
            return Ok(as_path.to_path_buf());
        }
        return Err(Error::Usage(format!("{what}: no such archive")));
    }
    let all = list(dest)?;
    // A whole id names one backup even when a later one of the same second
    // (`…Z-2`) starts with it.
    if let Some(exact) = all.iter().find(|b| b.id == what) {
        return Ok(exact.path.clone());
    }
    let matches: Vec<&BackupInfo> = all.iter().filter(|b| b.id.starts_with(what)).collect();
    match matches.as_slice() {
        [one] => Ok(one.path.clone()),
        [] => Err(Error::Usage(format!(
            "no backup `{what}` in {} (see `gardener backup list`)",
            dest.display()
        ))),
        many => Err(Error::Usage(format!(
            "`{what}` matches {} backups; give more of the id",
            many.len()
        ))),
    }
}

/// Holds `<dest>/.lock` (flock) so two backups, prunes or restores never
/// run at once; released when dropped or when the process dies.
pub struct Lock {
    _file: File,
}

impl Lock {
    /// Takes the lock or fails at once with [`Error::Busy`].
    pub fn acquire(dest: &Path) -> Result<Self> {
        let path = dest.join(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(Error::io("open", &path))?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
            .map_err(|_| Error::Busy { path })?;
        Ok(Self { _file: file })
    }
}

/// Removes `.partial` files left by a backup that was killed (the caller
/// holds the lock, so none is being written).
pub fn remove_stale_partials(dest: &Path) -> Result<()> {
    for item in fs::read_dir(dest).map_err(Error::io("read", dest))? {
        let item = item.map_err(Error::io("read", dest))?;
        if item.file_name().to_string_lossy().ends_with(".partial") {
            let p = item.path();
            tracing::info!("removing {} left by an interrupted backup", p.display());
            fs::remove_file(&p).map_err(Error::io("remove", &p))?;
        }
    }
    Ok(())
}

/// The outcome of the last backup attempt.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Attempt {
    /// When it ended, RFC 3339.
    pub at: String,
    /// Whether it produced a backup.
    pub ok: bool,
    /// Why not.
    pub error: Option<String>,
    /// Started by the timer.
    pub scheduled: bool,
    /// Started from the menu-bar app (which reports the outcome itself).
    #[serde(default)]
    pub from_app: bool,
}

/// A tree a restore replaced, kept until the next successful backup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SafetyCopy {
    /// Where the old tree is now.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub path: PathBuf,
    /// Where it used to be.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub replaced: PathBuf,
    /// The restore that made it, RFC 3339.
    pub at: String,
}

/// `<data>/backup-state.json`: what `status` says about backups.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct State {
    /// The last attempt, successful or not.
    pub last_attempt: Option<Attempt>,
    /// When the last successful backup was made, RFC 3339.
    pub last_success: Option<String>,
    /// Id of that backup.
    pub last_success_id: Option<String>,
    /// Whether it was full or incremental.
    #[serde(default)]
    pub last_success_kind: Option<BackupKind>,
    /// Files it stored: all for a full backup, the changed ones for an
    /// incremental one.
    #[serde(default)]
    pub last_success_files: Option<u64>,
    /// Trees replaced by restores.
    #[serde(default)]
    pub safety_copies: Vec<SafetyCopy>,
    /// The failure the `backup_failed` alert reports: why the newest failed
    /// attempt the app did not start itself failed, until a backup succeeds.
    #[serde(default)]
    pub alert_failure: Option<String>,
}

impl State {
    fn path(ctx: &Context) -> PathBuf {
        ctx.data_dir.join(STATE)
    }

    /// Reads the state (empty when absent or unreadable).
    pub fn load(ctx: &Context) -> Self {
        fs::read(Self::path(ctx))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Writes the state atomically.
    pub fn save(&self, ctx: &Context) -> Result<()> {
        let path = Self::path(ctx);
        fsutil::create_dir(&ctx.data_dir, 0o700).map_err(Error::io("create", &ctx.data_dir))?;
        let text = serde_json::to_vec_pretty(self).map_err(|e| Error::Usage(e.to_string()))?;
        fsutil::atomic_write(&path, &text, 0o600).map_err(Error::io("write", &path))
    }

    /// Seconds since the epoch of the last successful backup.
    pub fn last_success_unix(&self) -> Option<u64> {
        let t: jiff::Timestamp = self.last_success.as_deref()?.parse().ok()?;
        u64::try_from(t.as_second()).ok()
    }
}

/// Records a backup attempt; on success removes the restores' safety
/// copies (a newer good backup now exists). Returns a warning when the state
/// could not be saved.
pub(crate) fn record_attempt(
    ctx: &Context,
    result: &Result<super::CreateReport>,
    opts: &super::CreateOptions,
) -> Option<String> {
    let mut state = State::load(ctx);
    let now = super::rfc3339_seconds(jiff::Timestamp::now());
    state.last_attempt = Some(Attempt {
        at: now,
        ok: result.is_ok(),
        error: result.as_ref().err().map(ToString::to_string),
        scheduled: opts.scheduled,
        from_app: opts.from_app,
    });
    match result {
        Err(super::Error::Cancelled) => {}
        // The app tells of its own backups' outcome itself.
        Err(e) if !opts.from_app => state.alert_failure = Some(e.to_string()),
        Err(_) => {}
        Ok(_) => state.alert_failure = None,
    }
    let mut warning = None;
    if let Ok(r) = result {
        state.last_success = Some(r.backup.created.clone());
        state.last_success_id = Some(r.backup.id.clone());
        state.last_success_kind = Some(r.backup.kind);
        state.last_success_files = Some(r.backup.stored_files);
        state.safety_copies.retain(|c| {
            let removed = if c.path.is_dir() {
                fs::remove_dir_all(&c.path)
            } else {
                fs::remove_file(&c.path)
            };
            match removed {
                Ok(()) => false,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
                Err(e) => {
                    warning = Some(format!(
                        "cannot remove the safety copy {}: {e}",
                        c.path.display()
                    ));
                    true
                }
            }
        });
    }
    match state.save(ctx) {
        Ok(()) => warning,
        Err(e) => Some(format!("backup state not saved: {e}")),
    }
}

/// What `prune` did or would do.
#[derive(Clone, Debug, Serialize)]
pub struct PruneReport {
    /// Every backup with the decision and its reasons, newest first.
    pub decisions: Vec<Decision>,
    /// Archives deleted (or that would be, with `dry_run`).
    pub removed: Vec<BackupInfo>,
    /// Nothing was deleted.
    pub dry_run: bool,
}

/// Applies `[backup.retention]` in local time: deletes what no rule keeps,
/// never the newest verified backup, never an unreadable archive.
pub fn prune(ctx: &Context, dry_run: bool) -> Result<PruneReport> {
    let dest = super::destination(ctx);
    let _lock = if dry_run || !dest.exists() {
        None
    } else {
        Some(Lock::acquire(&dest)?)
    };
    let all = list(&dest)?;
    let candidates: Vec<Candidate> = all
        .iter()
        .filter_map(|b| {
            Some(Candidate {
                id: b.id.clone(),
                created: b.created_at()?,
                verified: b.is_verified(),
                counts: !b.failed() && !b.partial,
                needs: b.needs.clone(),
            })
        })
        .collect();
    let tz = jiff::tz::TimeZone::system();
    let decisions = retention::decide(&ctx.config.backup.retention, &candidates, &tz);
    let mut removed = Vec::new();
    for d in decisions.iter().filter(|d| !d.keep) {
        let Some(info) = all.iter().find(|b| b.id == d.id) else {
            continue;
        };
        if !dry_run {
            fs::remove_file(&info.path).map_err(Error::io("remove", &info.path))?;
            let index = super::index::path_for(&info.path);
            match fs::remove_file(&index) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io("remove", &index)(e));
                }
                _ => {}
            }
        }
        removed.push(info.clone());
    }
    if !dry_run && !removed.is_empty() {
        fsutil::sync_dir(&dest).map_err(Error::io("fsync", &dest))?;
        list(&dest)?;
    }
    Ok(PruneReport {
        decisions,
        removed,
        dry_run,
    })
}
