//! Copies of backups off the machine: targets (a directory on another disk,
//! an SFTP server reached with the system's ssh, S3-compatible storage)
//! behind one [`Target`] trait; copies encrypted with age to a key Gardener
//! keeps ([`key`]); copying a backup with the chain it needs, checking
//! copies by reading them back, fetching them for a restore, and keeping
//! each target by its retention ([`copy`], [`check`]); and what was copied
//! where ([`state`]), which the monitor reads without touching the network.

pub mod check;
pub mod copy;
mod dir;
pub mod key;
pub mod manage;
pub mod s3;
pub mod sftp;
pub mod state;

use std::io::{self, Read, Write};
use std::path::PathBuf;

use serde::Serialize;

use crate::config::{TargetConfig, TargetKind};
use crate::context::Context;
use crate::error::ErrorCode;

/// What went wrong with a copy, a target or the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No `[[backup.targets]]` has that name.
    #[error("no target `{0}` in [[backup.targets]] (see `gardener backup targets`)")]
    UnknownTarget(String),
    /// The target cannot be reached (not mounted, no network, server down).
    #[error("{target}: cannot reach it: {message}")]
    Unreachable {
        /// The target's name.
        target: String,
        /// Why.
        message: String,
    },
    /// The target may not be written (same volume as the data, unknown host key).
    #[error("{target}: refused: {message}")]
    Refused {
        /// The target's name.
        target: String,
        /// Why.
        message: String,
    },
    /// The target refused the credentials or the key.
    #[error("{target}: not allowed: {message}")]
    Denied {
        /// The target's name.
        target: String,
        /// Why (never the credentials themselves).
        message: String,
    },
    /// The target does not hold that copy.
    #[error("{target}: no copy `{key}` there")]
    Missing {
        /// The target's name.
        target: String,
        /// The object's name.
        key: String,
    },
    /// A copy did not come out as it went in.
    #[error("{target}: {message}")]
    Corrupt {
        /// The target's name.
        target: String,
        /// What is wrong.
        message: String,
    },
    /// The recovery key is missing, unreadable, or not the one the copies need.
    #[error("{0}")]
    Key(String),
    /// A target's settings are wrong (credentials file, URL).
    #[error("{0}")]
    Config(String),
    /// Any other failure to read or write the target.
    #[error("{target}: {message}")]
    Io {
        /// The target's name.
        target: String,
        /// What failed.
        message: String,
    },
    /// The backup side of a copy failed (a local archive, a restore).
    #[error(transparent)]
    Backup(#[from] crate::backup::Error),
}

impl Error {
    /// Stable machine-readable code for JSON output and the UI.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::UnknownTarget(_) => ErrorCode::Usage,
            Self::Unreachable { .. } => ErrorCode::Unreachable,
            Self::Refused { .. } => ErrorCode::Refused,
            Self::Denied { .. } => ErrorCode::Denied,
            Self::Missing { .. } => ErrorCode::Missing,
            Self::Corrupt { .. } => ErrorCode::Corrupt,
            Self::Key(_) => ErrorCode::Key,
            Self::Config(_) => ErrorCode::Config,
            Self::Io { .. } => ErrorCode::Io,
            Self::Backup(e) => e.code(),
        }
    }

    /// Whether the caller asked for something impossible (exit code 2).
    pub fn is_usage(&self) -> bool {
        match self {
            Self::UnknownTarget(_) => true,
            Self::Backup(e) => e.is_usage(),
            _ => false,
        }
    }
}

/// Result alias for this module.
pub type Result<T> = std::result::Result<T, Error>;

/// One object on a target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Object {
    /// Its name on the target (`gardener-….tar.zst.age`).
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Where copies go. Every method is blocking.
pub trait Target: Send + Sync {
    /// The target's name from the config.
    fn name(&self) -> &str;
    /// Where it is, for people ("/Volumes/Backup/gardener", "sftp://…").
    fn location(&self) -> String;
    /// Stores what `write` writes as `key`, atomically: nothing is listed
    /// under `key` until all of it is there (a `.partial` name then a
    /// rename, or a completed multipart upload). Returns the size stored.
    fn put(
        &self,
        key: &str,
        write: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
    ) -> Result<u64>;
    /// Reads `key` back.
    fn get(&self, key: &str) -> Result<Box<dyn Read + Send>>;
    /// Every complete object (never a partial one).
    fn list(&self) -> Result<Vec<Object>>;
    /// Removes `key` (a key already gone is fine).
    fn delete(&self, key: &str) -> Result<()>;
}

/// The target named `name` in the config.
pub fn find<'c>(ctx: &'c Context, name: &str) -> Result<&'c TargetConfig> {
    ctx.config
        .backup
        .targets
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| Error::UnknownTarget(name.to_owned()))
}

/// The names of the targets `target` stands for: that one (which must be
/// configured), or every one with `None`.
pub fn names<'c>(ctx: &'c Context, target: Option<&str>) -> Result<Vec<&'c str>> {
    Ok(match target {
        Some(t) => vec![find(ctx, t)?.name.as_str()],
        None => ctx
            .config
            .backup
            .targets
            .iter()
            .map(|t| t.name.as_str())
            .collect(),
    })
}

/// Opens the target `cfg` describes.
pub fn open(ctx: &Context, cfg: &TargetConfig) -> Result<Box<dyn Target>> {
    Ok(match cfg.kind {
        TargetKind::Dir => Box::new(dir::DirTarget::open(ctx, cfg)?),
        TargetKind::Sftp => Box::new(sftp::SftpTarget::open(ctx, cfg)?),
        TargetKind::S3 => Box::new(s3::S3Target::open(ctx, cfg)?),
    })
}

/// Whether copies on this target are encrypted.
pub fn encrypted(ctx: &Context, cfg: &TargetConfig) -> bool {
    cfg.kind != TargetKind::Dir || ctx.config.backup.encrypt_dir_targets
}

/// The object name of backup `id`'s copy.
pub fn object_key(id: &str, encrypted: bool) -> String {
    if encrypted {
        format!("{id}{}.age", crate::backup::catalog::SUFFIX)
    } else {
        format!("{id}{}", crate::backup::catalog::SUFFIX)
    }
}

/// The backup id an object holds, when it is a copy.
pub fn id_of(key: &str) -> Option<&str> {
    let suffix = crate::backup::catalog::SUFFIX;
    let id = key
        .strip_suffix(".age")
        .unwrap_or(key)
        .strip_suffix(suffix)?;
    crate::backup::manifest::check_id(id).ok().map(|()| id)
}

/// What `gardener backup targets test` found.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct TestReport {
    /// The target.
    pub target: String,
    /// Where it is.
    pub location: String,
    /// Wall time of the write, read back and delete.
    pub seconds: f64,
}

/// Writes a small object, reads it back, finds it listed, and deletes it.
pub fn test(target: &dyn Target) -> Result<TestReport> {
    let started = std::time::Instant::now();
    let key = format!(".gardener-test-{}", std::process::id());
    let body = format!("Gardener checks that it can write here ({key})\n").into_bytes();
    target.put(&key, &mut |w| w.write_all(&body))?;
    let mut back = Vec::new();
    let read = target.get(&key).and_then(|mut r| {
        r.read_to_end(&mut back).map_err(|e| Error::Io {
            target: target.name().to_owned(),
            message: format!("reading the test object back: {e}"),
        })
    });
    let listed = target.list().map(|all| all.iter().any(|o| o.key == key));
    target.delete(&key)?;
    read?;
    if back != body {
        return Err(Error::Corrupt {
            target: target.name().to_owned(),
            message: "the test object came back different".into(),
        });
    }
    if !listed? {
        return Err(Error::Corrupt {
            target: target.name().to_owned(),
            message: "the test object was not listed after it was written".into(),
        });
    }
    Ok(TestReport {
        target: target.name().to_owned(),
        location: target.location(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Where a path in a target's config leads (`~` expanded).
pub(crate) fn expand(ctx: &Context, p: &std::path::Path) -> PathBuf {
    ctx.paths.expand(p)
}
