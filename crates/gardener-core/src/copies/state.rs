//! `<data>/copies.json`: what was copied to each target, when, how big and
//! with which hash, when each copy was last read back and how that went, and
//! the last copy attempt's failure. Written atomically by the copy job and
//! read by the monitor every sample (never the network).

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Error, Result};
use crate::context::Context;
use crate::fsutil;

const FILE: &str = "copies.json";

/// A check of one copy, by reading it back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CheckRecord {
    /// When, RFC 3339.
    pub at: String,
    /// Whether every file read back matched its hash.
    pub ok: bool,
    /// What was wrong.
    pub problems: Vec<String>,
}

/// One backup's copy on a target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CopyRecord {
    /// The object's name.
    pub key: String,
    /// Its size on the target.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub size: u64,
    /// BLAKE3 of the bytes sent (the encrypted copy).
    pub blake3: String,
    /// Encrypted with the recovery key.
    pub encrypted: bool,
    /// When it was copied, RFC 3339.
    pub at: String,
    /// When the backup was made, RFC 3339.
    pub created: String,
    /// The backups it needs (on the same target).
    pub needs: Vec<String>,
    /// The last time it was read back.
    pub checked: Option<CheckRecord>,
}

/// A failed copy attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Failure {
    /// When, RFC 3339.
    pub at: String,
    /// Why.
    pub error: String,
}

/// One target's copies.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct TargetState {
    /// By backup id.
    pub copies: BTreeMap<String, CopyRecord>,
    /// When a copy last succeeded, RFC 3339.
    pub last_copy: Option<String>,
    /// Why the last attempt failed, while no later one succeeded.
    pub last_failure: Option<Failure>,
}

impl TargetState {
    /// Seconds since the epoch of the last successful copy.
    pub fn last_copy_unix(&self) -> Option<u64> {
        unix(self.last_copy.as_deref()?)
    }

    /// The newest check of any copy.
    pub fn last_check(&self) -> Option<&CheckRecord> {
        self.copies
            .values()
            .filter_map(|c| c.checked.as_ref())
            .max_by(|a, b| a.at.cmp(&b.at))
    }
}

/// Seconds since the epoch of an RFC 3339 time.
pub fn unix(rfc3339: &str) -> Option<u64> {
    let t: jiff::Timestamp = rfc3339.parse().ok()?;
    u64::try_from(t.as_second()).ok()
}

/// Every target's copies.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopiesState {
    /// By target name.
    pub targets: BTreeMap<String, TargetState>,
}

impl CopiesState {
    fn path(ctx: &Context) -> PathBuf {
        ctx.data_dir.join(FILE)
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
        let io = |e: std::io::Error| Error::Io {
            target: "state".into(),
            message: format!("cannot write {}: {e}", path.display()),
        };
        fsutil::create_dir(&ctx.data_dir, 0o700).map_err(io)?;
        let text = serde_json::to_vec_pretty(self).map_err(|e| Error::Config(e.to_string()))?;
        fsutil::atomic_write(&path, &text, 0o600).map_err(io)
    }

    /// Changes one target's state and saves it.
    pub fn update(ctx: &Context, target: &str, f: impl FnOnce(&mut TargetState)) -> Result<()> {
        let mut all = Self::load(ctx);
        f(all.targets.entry(target.to_owned()).or_default());
        all.save(ctx)
    }
}
