//! Backups of the stack's data: one self-describing `.tar.zst` per backup,
//! full or incremental (only what changed since its parent; chains restore
//! from each archive they need, read once), written durably with an index
//! beside it, verified against its own manifest, restored through a staging
//! directory with rollback, and pruned by a retention policy that keeps
//! what kept backups need.

pub mod archive_reader;
pub mod catalog;
mod chain;
mod clone;
mod create;
mod hash;
pub mod index;
pub mod manifest;
mod named;
pub(crate) mod pause;
pub mod restore;
pub mod retention;
pub mod schedule;
pub mod sources;
pub mod throttle;
pub mod verify;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;

pub use catalog::{BackupInfo, Catalog, PruneReport, prune};
pub use create::{CreateOptions, CreateReport, create};
pub use manifest::BackupKind;
pub use named::{restore_named, verify_named};
pub use pause::{app_paused_by_backup, app_resumed_since};
pub use restore::{RestoreOptions, RestoreReport, restore};
pub use throttle::{Paced, Throttle};
pub use verify::{VerifyReport, verify, verify_recorded};

/// The result of the last verification of a backup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct VerifyRecord {
    /// When, RFC 3339.
    pub at: String,
    /// Every hash matched and nothing was wrong.
    pub ok: bool,
    /// What was wrong, one line each.
    pub problems: Vec<String>,
}

/// What went wrong with a backup command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The archive is damaged or does not match its manifest.
    #[error("{}: {message}", path.display())]
    Corrupt {
        /// The archive.
        path: PathBuf,
        /// Exactly what is wrong.
        message: String,
    },
    /// The archive contains something a restore must not write.
    #[error("{}: refused: {message}", path.display())]
    Hostile {
        /// The archive.
        path: PathBuf,
        /// The offending entry and rule.
        message: String,
    },
    /// Another backup, prune or restore holds the lock.
    #[error("another backup or restore is running (lock {})", path.display())]
    Busy {
        /// The lock file.
        path: PathBuf,
    },
    /// Cancelled (Ctrl-C or the app's Cancel button); nothing was left behind.
    #[error("cancelled")]
    Cancelled,
    /// A service could not be stopped or started.
    #[error(transparent)]
    Service(#[from] crate::services::Error),
    /// Wrong arguments: an unknown backup id, a bad `--only`.
    #[error("{0}")]
    Usage(String),
    /// Restored services did not become healthy; the old data is back.
    #[error("{0}")]
    RolledBack(String),
    /// A source that must be there is missing or empty: the backup stops
    /// rather than record an empty copy that would push real ones out.
    #[error(
        "{name}: {path} {why}; nothing was backed up (if that is expected, mark the source \
         `optional = true` in [backup] sources)"
    )]
    SourceMissing {
        /// The source's name.
        name: String,
        /// Where it should be, `~/`-relative.
        path: String,
        /// "does not exist", "is empty but the last backup had 120 files in it".
        why: String,
    },
}

impl Error {
    /// Stable machine-readable code for JSON output and the UI.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Io { .. } => ErrorCode::Io,
            Self::Corrupt { .. } => ErrorCode::Corrupt,
            Self::Hostile { .. } => ErrorCode::Refused,
            Self::Busy { .. } => ErrorCode::Busy,
            Self::Cancelled => ErrorCode::Cancelled,
            Self::Service(e) => e.code(),
            Self::Usage(_) => ErrorCode::Usage,
            Self::RolledBack(_) => ErrorCode::RolledBack,
            Self::SourceMissing { .. } => ErrorCode::SourceMissing,
        }
    }

    /// Whether the caller asked for something impossible (exit code 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, Self::Usage(_))
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}

/// Result alias for this module.
pub type Result<T> = std::result::Result<T, Error>;

/// The stage a long operation is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Phase {
    /// Listing the sources.
    Scan,
    /// Stopping the app / cloning its data.
    Snapshot,
    /// Writing the archive.
    Archive,
    /// Reading the archive back and checking every hash.
    Verify,
    /// Extracting into the staging directory.
    Extract,
    /// Stopping services, swapping directories, starting, health checks.
    Swap,
    /// Copying (encrypted) to a target, or fetching a copy back.
    Copy,
}

/// Progress of a long operation, reported often; [`Throttle`] says when to show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Progress {
    /// Current stage.
    pub phase: Phase,
    /// Content bytes done in this stage.
    pub bytes: u64,
    /// Content bytes in all (0 when not known yet).
    pub total_bytes: u64,
    /// Files done.
    pub files: u64,
    /// Files in all.
    pub total_files: u64,
}

/// A cancel switch shared between the caller (Ctrl-C handler, UI button)
/// and the running operation, which checks it between blocks.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A switch that is off.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the operation to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether cancelling was asked for.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    pub(crate) fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// `t` to the second, RFC 3339 UTC: how backups record their times.
pub(crate) fn rfc3339_seconds(t: jiff::Timestamp) -> String {
    t.round(jiff::Unit::Second).unwrap_or(t).to_string()
}

/// Puts things right after a backup or restore that was killed: starts an
/// app a backup left stopped, and undoes a half-done restore. Does nothing
/// while another backup command holds the lock. Returns what was done.
pub fn recover_interrupted(
    ctx: &crate::context::Context,
    manager: &dyn crate::services::ServiceManager,
) -> Vec<String> {
    let dest = destination(ctx);
    let Ok(_lock) = catalog::Lock::acquire(&dest) else {
        return Vec::new();
    };
    pause::recover(ctx, manager)
        .into_iter()
        .chain(restore::recover(ctx, manager))
        .collect()
}

/// Every backup, newest first (none while the backups directory does not
/// exist), once what an interrupted backup or restore left behind has been
/// put right; with a sentence for each thing put right.
pub fn list_after_recovery(
    ctx: &crate::context::Context,
) -> Result<(Vec<BackupInfo>, Vec<String>)> {
    let notes = recover_interrupted(ctx, ctx.manager().as_ref());
    let dest = destination(ctx);
    if !dest.exists() {
        return Ok((Vec::new(), notes));
    }
    Ok((catalog::list(&dest)?, notes))
}

/// Directory the archives are written to.
pub fn destination(ctx: &crate::context::Context) -> PathBuf {
    ctx.config
        .backup
        .destination
        .as_deref()
        .map_or_else(|| ctx.backups_dir.clone(), |d| ctx.paths.expand(d))
}

#[cfg(test)]
mod tests;
