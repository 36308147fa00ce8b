//! Adversarial tests of the archive reader: hand-built hostile archives
//! (`hostile`) and damaged real backups (`damage`), with the shared fixture
//! they run in: a temporary home, a live tree, a canary outside it and a
//! service manager that knows no services (so no real `systemctl` runs).

mod chains;
mod damage;
mod hostile;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::backup::{self, CreateOptions};
use crate::config::{BackupSource, Config};
use crate::context::Context;
use crate::paths::Paths;
use crate::services::ServiceId;

/// Name of the one source every archive here holds.
pub(super) const SOURCE: &str = "app-data";
/// Where that source lives, as the manifest records it.
pub(super) const LIVE: &str = "~/live";
/// What the canary outside the live tree holds; it must never change.
pub(super) const CANARY: &[u8] = b"canary: nothing may write here\n";

pub(super) use crate::services::testing::NoServices;

/// A temporary home with a live tree at `~/live` (the one backup source)
/// and a canary at `~/outside/canary.txt`.
pub(super) struct Fixture {
    pub home: tempfile::TempDir,
    pub ctx: Context,
    pub manager: NoServices,
}

impl Fixture {
    pub fn new() -> Self {
        let home = tempfile::tempdir().unwrap();
        let h = home.path().to_path_buf();
        let paths = Paths::linux(
            h.clone(),
            &h.join(".config"),
            &h.join(".local/share"),
            &h.join(".local/state"),
        );
        let mut config = Config::default();
        let b = &mut config.backup;
        b.sources = vec![BackupSource {
            name: SOURCE.into(),
            path: PathBuf::from(LIVE),
            optional: false,
        }];
        b.include_gardener = false;
        b.include_ollama_manifests = false;
        b.include_model_blobs = false;
        b.pause_app = false;
        b.level = 3;
        let config_file = paths.config_file.clone();
        let manager = NoServices {
            dir: paths.service_dir.clone(),
        };
        let ctx = Context::new(paths, config_file, false, config);
        let f = Self { home, ctx, manager };
        // As after an install: a restore's lock and journal go there.
        fs::create_dir_all(f.gardener_data()).unwrap();
        fs::create_dir_all(f.live()).unwrap();
        fs::create_dir_all(f.outside()).unwrap();
        fs::write(f.canary(), CANARY).unwrap();
        f
    }

    pub fn path(&self) -> &Path {
        self.home.path()
    }

    pub fn live(&self) -> PathBuf {
        self.path().join("live")
    }

    pub fn outside(&self) -> PathBuf {
        self.path().join("outside")
    }

    pub fn canary(&self) -> PathBuf {
        self.outside().join("canary.txt")
    }

    /// Gardener's own data (destination, lock, state, journal): the only
    /// place a refused restore may leave anything.
    pub fn gardener_data(&self) -> PathBuf {
        self.ctx.data_dir.clone()
    }

    /// Backs up the live tree with the real writer; returns the archive.
    pub fn create(&self) -> PathBuf {
        let opts = CreateOptions {
            verify: Some(true),
            ..CreateOptions::default()
        };
        let report = backup::create(&self.ctx, &self.manager, &opts, &mut |_| {}).unwrap();
        report.backup.path
    }

    /// Everything in the home except Gardener's own data, for before/after
    /// comparisons.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, Node> {
        snapshot(self.path(), &[self.gardener_data()])
    }

    /// Asserts that a failed restore changed nothing: the home is as it was
    /// (live tree, canary, nothing new anywhere) and no staging dir is left.
    pub fn assert_untouched(&self, before: &BTreeMap<PathBuf, Node>, case: &str) {
        let after = self.snapshot();
        let appeared: Vec<_> = after.keys().filter(|p| !before.contains_key(*p)).collect();
        let vanished: Vec<_> = before.keys().filter(|p| !after.contains_key(*p)).collect();
        let changed: Vec<_> = before
            .iter()
            .filter(|(p, n)| after.get(*p).is_some_and(|m| m != *n))
            .map(|(p, _)| p)
            .collect();
        assert!(
            appeared.is_empty() && vanished.is_empty() && changed.is_empty(),
            "{case}: the restore changed the home: new {appeared:?}, gone {vanished:?}, changed {changed:?}"
        );
        assert_eq!(fs::read(self.canary()).unwrap(), CANARY, "{case}: canary");
        let staging = staging_dirs(self.path());
        assert!(
            staging.is_empty(),
            "{case}: staging left behind: {staging:?}"
        );
    }
}

/// One path as found on disk, never followed.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Node {
    Dir { mode: u32 },
    File { mode: u32, content: Vec<u8> },
    Symlink { target: PathBuf },
    Other,
}

/// Every path under `root` (except those under `skip`) with what it is.
pub(super) fn snapshot(root: &Path, skip: &[PathBuf]) -> BTreeMap<PathBuf, Node> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for item in fs::read_dir(&dir).unwrap() {
            let p = item.unwrap().path();
            if skip.iter().any(|s| p.starts_with(s)) {
                continue;
            }
            let meta = fs::symlink_metadata(&p).unwrap();
            let mode = meta.permissions().mode() & 0o7777;
            let ft = meta.file_type();
            let node = if ft.is_symlink() {
                Node::Symlink {
                    target: fs::read_link(&p).unwrap(),
                }
            } else if ft.is_dir() {
                stack.push(p.clone());
                Node::Dir { mode }
            } else if ft.is_file() {
                Node::File {
                    mode,
                    content: fs::read(&p).unwrap(),
                }
            } else {
                Node::Other
            };
            out.insert(p, node);
        }
    }
    out
}

/// Restore staging directories anywhere under `root`.
pub(super) fn staging_dirs(root: &Path) -> Vec<PathBuf> {
    snapshot(root, &[])
        .into_keys()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".gardener-before-restore-"))
        })
        .collect()
}

/// xorshift64*: deterministic, so a failing case can be replayed.
pub(super) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform enough in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

/// zstd-decompresses a whole archive (a test archive fits in memory).
pub(super) fn decompress(archive: &Path) -> Vec<u8> {
    zstd::decode_all(fs::File::open(archive).unwrap()).unwrap()
}

/// zstd-compresses `tar` the way the writer does (one frame, with checksum).
pub(super) fn compress(tar: &[u8]) -> Vec<u8> {
    let mut enc = zstd::Encoder::new(Vec::new(), 3).unwrap();
    enc.include_checksum(true).unwrap();
    std::io::Write::write_all(&mut enc, tar).unwrap();
    enc.finish().unwrap()
}

#[test]
fn the_app_counts_as_paused_only_while_the_backup_that_paused_it_runs() {
    let f = Fixture::new();
    let marker = f.gardener_data().join("backup-paused-app");
    assert!(!super::app_paused_by_backup(&f.ctx), "no marker");
    fs::write(
        &marker,
        format!("paused by a backup, pid {}\n", std::process::id()),
    )
    .unwrap();
    assert!(super::app_paused_by_backup(&f.ctx), "this process is alive");
    // A backup that was killed: its pid is gone.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    fs::write(&marker, format!("paused by a backup, pid {dead}\n")).unwrap();
    assert!(
        !super::app_paused_by_backup(&f.ctx),
        "pid {dead} has exited"
    );
    // Markers from before the pid was recorded, or damaged ones.
    for text in ["paused by a backup\n", "pid x\n", ""] {
        fs::write(&marker, text).unwrap();
        assert!(!super::app_paused_by_backup(&f.ctx), "{text:?}");
    }
}

#[test]
fn a_restart_by_a_backup_is_recorded_with_its_time() {
    let f = Fixture::new();
    assert!(!super::app_resumed_since(&f.ctx, 0), "never resumed");
    fs::write(f.gardener_data().join("backup-resumed-app"), "1000\n").unwrap();
    assert!(super::app_resumed_since(&f.ctx, 999));
    assert!(super::app_resumed_since(&f.ctx, 1000));
    assert!(!super::app_resumed_since(&f.ctx, 1001));
}

#[test]
fn a_running_restore_holds_the_services_it_stopped_and_a_dead_one_holds_none() {
    let f = Fixture::new();
    let journal = super::restore::journal_path_for_tests(&f.ctx);
    assert!(
        super::restore::held_services(&f.ctx).is_empty(),
        "no restore"
    );
    let write = |pid: u32| {
        let text = serde_json::json!({
            "id": "gardener-x", "services": ["ollama", "app"], "units": [], "pid": pid
        });
        fs::write(&journal, text.to_string()).unwrap();
    };
    write(std::process::id());
    assert_eq!(
        super::restore::held_services(&f.ctx),
        [ServiceId::Ollama, ServiceId::App]
    );
    // A killed restore's journal (or one from before pids were kept) does not
    // hold anything: its stopped services are down for real.
    write(0);
    assert!(super::restore::held_services(&f.ctx).is_empty());
    write(u32::try_from(i32::MAX).unwrap());
    assert!(super::restore::held_services(&f.ctx).is_empty());

    assert!(!super::restore::resumed_since(&f.ctx, 0));
    super::pause::record_start(&f.ctx, super::pause::RESTORE_RESUMED);
    assert!(super::restore::resumed_since(&f.ctx, 1));
}
