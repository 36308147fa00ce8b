//! The restore journal (`<data>/restore-journal.json`), written before the
//! first swap: which trees are being exchanged and which services were
//! stopped. If the process dies mid-swap, the next backup command finds it
//! and puts every tree back. Whether a tree was swapped is read from the
//! file system (the inode at the live path), not trusted from the journal,
//! so a death between a swap and the journal's update is still undone.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::fs::{CWD, RenameFlags};
use serde::{Deserialize, Serialize};

use super::super::{Error, Result};
use super::staging::Unit;
use crate::context::Context;
use crate::fsutil;
use crate::services::{Action, ServiceId, ServiceManager};

#[derive(Debug, Serialize, Deserialize)]
struct JournalUnit {
    live: PathBuf,
    staged: PathBuf,
    /// Inode of the new tree, staged.
    new_ino: u64,
    /// Whether something was at `live` before.
    had_live: bool,
}

/// An open journal.
#[derive(Debug, Serialize, Deserialize)]
pub struct Journal {
    id: String,
    services: Vec<String>,
    units: Vec<JournalUnit>,
    /// The restoring process (0 in journals written before it was kept).
    #[serde(default)]
    pid: u32,
}

/// The services a restore that is still running has stopped (none when
/// no restore runs, or its process has died: then they are down for real).
pub fn held_services(ctx: &Context) -> Vec<ServiceId> {
    let Ok(text) = fs::read(path(ctx)) else {
        return Vec::new();
    };
    let Ok(j) = serde_json::from_slice::<Journal>(&text) else {
        return Vec::new();
    };
    let alive = i32::try_from(j.pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .is_some_and(|pid| rustix::process::test_kill_process(pid).is_ok());
    if !alive {
        return Vec::new();
    }
    ServiceId::ALL
        .into_iter()
        .filter(|id| j.services.iter().any(|s| s == id.as_str()))
        .collect()
}

/// Where the journal is kept.
pub fn path(ctx: &Context) -> PathBuf {
    ctx.data_dir.join("restore-journal.json")
}

fn ino(p: &Path) -> Option<u64> {
    fs::symlink_metadata(p).ok().map(|m| m.ino())
}

fn exchange(a: &Path, b: &Path) -> Result<()> {
    rustix::fs::renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE)
        .map_err(|e| Error::io("swap", b)(e.into()))?;
    sync_parent(b)
}

fn sync_parent(p: &Path) -> Result<()> {
    match p.parent() {
        Some(dir) => fsutil::sync_dir(dir).map_err(Error::io("fsync", dir)),
        None => Ok(()),
    }
}

impl Journal {
    /// Writes the journal for swapping `units`, with `services` stopped.
    pub fn begin(ctx: &Context, id: &str, units: &[Unit], services: &[ServiceId]) -> Result<Self> {
        let j = Self {
            pid: std::process::id(),
            id: id.to_owned(),
            services: services.iter().map(|s| s.as_str().to_owned()).collect(),
            units: units
                .iter()
                .map(|u| JournalUnit {
                    live: u.live.clone(),
                    staged: u.staged.clone(),
                    new_ino: ino(&u.staged).unwrap_or(0),
                    had_live: fs::symlink_metadata(&u.live).is_ok(),
                })
                .collect(),
        };
        j.save(ctx)?;
        Ok(j)
    }

    fn save(&self, ctx: &Context) -> Result<()> {
        let p = path(ctx);
        fsutil::create_dir(&ctx.data_dir, 0o700).map_err(Error::io("create", &ctx.data_dir))?;
        let text = serde_json::to_vec_pretty(self).map_err(|e| Error::Usage(e.to_string()))?;
        fsutil::atomic_write(&p, &text, 0o600).map_err(Error::io("write", &p))
    }

    /// Puts unit `i`'s new tree in place; the old one goes to its staging path.
    pub fn swap(&mut self, i: usize, u: &Unit) -> Result<()> {
        let had_live = self.units.get(i).is_some_and(|j| j.had_live);
        if had_live {
            exchange(&u.staged, &u.live)
        } else {
            if let Some(parent) = u.live.parent() {
                fs::create_dir_all(parent).map_err(Error::io("create", parent))?;
            }
            fs::rename(&u.staged, &u.live).map_err(Error::io("move into place", &u.live))?;
            sync_parent(&u.live)
        }
    }

    /// Undoes [`Journal::swap`] for unit `i` if it happened.
    pub fn unswap(&mut self, i: usize, u: &Unit) -> Result<()> {
        let Some(j) = self.units.get(i) else {
            return Ok(());
        };
        undo(j, &u.live, &u.staged)
    }

    /// The restore is over (done or rolled back): removes the journal.
    pub fn finish(self, ctx: &Context) -> Result<()> {
        let p = path(ctx);
        match fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("remove", p)(e)),
        }
    }
}

fn undo(j: &JournalUnit, live: &Path, staged: &Path) -> Result<()> {
    let swapped = j.new_ino != 0 && ino(live) == Some(j.new_ino);
    if !swapped {
        return Ok(());
    }
    if j.had_live && fs::symlink_metadata(staged).is_ok() {
        exchange(staged, live)
    } else {
        fs::rename(live, staged).map_err(Error::io("move back", live))?;
        sync_parent(live)
    }
}

/// Undoes an interrupted restore (see the module docs).
pub fn recover(ctx: &Context, manager: &dyn ServiceManager) -> Option<String> {
    let p = path(ctx);
    let text = fs::read(&p).ok()?;
    let Ok(j) = serde_json::from_slice::<Journal>(&text) else {
        let _ = fs::remove_file(&p);
        return Some(format!(
            "removed an unreadable restore journal {}",
            p.display()
        ));
    };
    let mut problems = Vec::new();
    // Every tree back before any staging dir goes: units with one parent
    // share a staging dir, which holds the old trees of those not yet put back.
    let mut keep = Vec::new();
    for u in j.units.iter().rev() {
        if let Err(e) = undo(u, &u.live, &u.staged) {
            problems.push(e.to_string());
            // Its staging dir may hold the only copy of the old tree.
            keep.extend(u.staged.parent());
        }
    }
    // What is left at the staging paths now is the new, unwanted trees.
    let mut stages: Vec<&Path> = j.units.iter().filter_map(|u| u.staged.parent()).collect();
    stages.sort();
    stages.dedup();
    for stage in stages.into_iter().filter(|s| !keep.contains(s)) {
        if let Err(e) = fs::remove_dir_all(stage)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            problems.push(format!("cannot remove {}: {e}", stage.display()));
        }
    }
    for s in &j.services {
        let id = ServiceId::ALL.into_iter().find(|id| id.as_str() == s);
        if let Some(id) = id
            && let Err(e) = manager.run(Action::Start, id, Duration::from_secs(30))
        {
            problems.push(format!("cannot start {id}: {e}"));
        }
    }
    if problems.is_empty() {
        let _ = fs::remove_file(&p);
        Some(format!(
            "the restore of {} was interrupted; the previous data was put back",
            j.id
        ))
    } else {
        Some(format!(
            "the restore of {} was interrupted and could not be fully undone: {} (journal kept at {})",
            j.id,
            problems.join("; "),
            p.display()
        ))
    }
}
