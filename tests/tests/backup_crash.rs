//! Crash safety and fidelity of backups, against the real `gardener` CLI in a temporary home
//! (no service manager involved): `kill -9` at seeded random moments of `backup create` never
//! leaves a listed backup that fails verification; `kill -9` during `backup restore` leaves the
//! live data wholly as it was or wholly the backup's, and `backup list` undoes a half-done swap
//! without leaving staging directories behind; a restore reproduces a tree exactly (contents,
//! modes, nanosecond mtimes, symlinks, odd names), and GNU tar reads the same archive.
//!
//! The kill delays come from a fixed seed (`GARDENER_CRASH_SEED` overrides it); every iteration
//! prints its delay and what it found, so a failure can be replayed.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, FileTimes};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant, UNIX_EPOCH};

use gardener_e2e::{gardener_bin, output_text};
use serde_json::Value;
use tempfile::TempDir;

const CONFIG: &str = "[backup]\npause_app = false\ninclude_ollama_manifests = false\nlevel = 3\n";
/// Prefix of the staging directories a restore makes next to the data it replaces.
const STAGE_PREFIX: &str = ".gardener-before-restore-";
/// Kills per crash test.
const KILLS: usize = 8;
const MIB: u64 = 1 << 20;

/// A temporary home for the CLI: `HOME` and `XDG_*` inside a temp dir, no user bus, and a
/// `gardener.toml` next to them.
struct Home {
    _tmp: TempDir,
    root: PathBuf,
    home: PathBuf,
    config: PathBuf,
    data_home: PathBuf,
}

impl Home {
    fn new() -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("backup-crash-")
            .tempdir()
            .unwrap();
        let root = tmp.path().to_path_buf();
        for d in ["home", "xdg/config", "xdg/data", "xdg/state", "run"] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        let config = root.join("gardener.toml");
        fs::write(&config, CONFIG).unwrap();
        Self {
            home: root.join("home"),
            data_home: root.join("xdg/data"),
            config,
            root,
            _tmp: tmp,
        }
    }

    fn app_data(&self) -> PathBuf {
        self.home.join(".codebase-gardener")
    }

    fn dest(&self) -> PathBuf {
        self.data_home.join("gardener/backups")
    }

    fn journal(&self) -> PathBuf {
        self.data_home.join("gardener/restore-journal.json")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(gardener_bin());
        cmd.arg("--config")
            .arg(&self.config)
            .args(args)
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.root.join("xdg/config"))
            .env("XDG_DATA_HOME", &self.data_home)
            .env("XDG_STATE_HOME", self.root.join("xdg/state"))
            .env("XDG_RUNTIME_DIR", self.root.join("run"))
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = self.command(args).output().expect("run gardener");
        eprintln!(
            "$ gardener {}\n{}",
            args.join(" "),
            clip(&output_text(&out))
        );
        out
    }

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "gardener {args:?} failed:\n{}",
            output_text(&out)
        );
        out
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(args);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "gardener {args:?} printed no JSON ({e}):\n{}",
                output_text(&out)
            )
        })
    }

    /// Starts `gardener ARGS`, stderr into `log` (a full pipe must not slow it down or stop it).
    fn spawn(&self, args: &[&str], log: &Path) -> Child {
        self.command(args)
            .stdout(Stdio::null())
            .stderr(File::create(log).unwrap())
            .spawn()
            .expect("spawn gardener")
    }

    /// `backup verify ID` says the archive is sound.
    fn assert_verifies(&self, id: &str) {
        let report = self.json(&["--json", "backup", "verify", id]);
        assert!(
            report["problems"].as_array().is_some_and(Vec::is_empty)
                && report["files"].as_u64() > Some(0),
            "backup {id} does not verify: {report:#}"
        );
    }

    /// Restore staging directories next to the data and next to the config.
    fn stage_dirs(&self) -> Vec<PathBuf> {
        stage_dirs_in(&[&self.home, &self.root])
    }
}

/// Restore staging directories in `dirs`.
fn stage_dirs_in(dirs: &[&Path]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in dirs {
        for item in fs::read_dir(dir).unwrap() {
            let item = item.unwrap();
            if item.file_name().to_string_lossy().starts_with(STAGE_PREFIX) {
                out.push(item.path());
            }
        }
    }
    out.sort();
    out
}

/// Staging directories in `dirs` that `backup list` does not show as holding a safety copy.
fn stray_stage_dirs(dirs: &[&Path], listing: &Value) -> Vec<PathBuf> {
    let kept: Vec<PathBuf> = listing["safety_copies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            Path::new(c["path"].as_str().unwrap())
                .parent()
                .unwrap()
                .to_path_buf()
        })
        .collect();
    stage_dirs_in(dirs)
        .into_iter()
        .filter(|d| !kept.contains(d))
        .collect()
}

/// Long outputs (a restore lists every path) cut to what helps reading a failure.
fn clip(text: &str) -> String {
    const MAX: usize = 3000;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n… ({} more bytes)", &text[..end], text.len() - end)
}

/// splitmix64: deterministic, and fast enough in a debug build to fill a few hundred MiB.
struct Rng(u64);

impl Rng {
    fn new(salt: u64) -> Self {
        let seed = std::env::var("GARDENER_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x6a7d_3e11_u64);
        eprintln!("seed {seed} (GARDENER_CRASH_SEED overrides it)");
        Self(seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    /// A delay from 10 ms up to `max`.
    fn delay(&mut self, max: Duration) -> Duration {
        let max = u64::try_from(max.as_millis()).unwrap().max(11);
        Duration::from_millis(10 + self.below(max - 10))
    }
}

fn create_parent(path: &Path) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
}

/// Incompressible content, like model adapters and vector indexes.
fn write_random(rng: &mut Rng, path: &Path, len: u64) {
    create_parent(path);
    let mut f = File::create(path).unwrap();
    let mut buf = vec![0u8; MIB as usize];
    let mut left = len;
    while left > 0 {
        let n = usize::try_from(left.min(MIB)).unwrap();
        rng.fill(&mut buf[..n]);
        f.write_all(&buf[..n]).unwrap();
        left -= n as u64;
    }
}

/// Compressible content, like conversation history.
fn write_text(rng: &mut Rng, path: &Path, len: u64) {
    create_parent(path);
    let mut text = String::with_capacity(usize::try_from(len).unwrap() + 100);
    let mut i = 0u64;
    while (text.len() as u64) < len {
        let n = rng.below(1000);
        text.push_str(&format!(
            "{{\"turn\":{i},\"role\":\"user\",\"tokens\":{n},\"text\":\"question {n}\"}}\n"
        ));
        i += 1;
    }
    fs::write(path, text).unwrap();
}

fn blake3_file(path: &Path) -> String {
    let mut h = blake3::Hasher::new();
    h.update_reader(File::open(path).unwrap()).unwrap();
    h.finalize().to_hex().to_string()
}

/// Names in `dir` ending with `suffix` (nothing when `dir` does not exist).
fn names_ending(dir: &Path, suffix: &str) -> Vec<String> {
    let Ok(read) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = read
        .map(|i| i.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(suffix))
        .collect();
    names.sort();
    names
}

/// How precisely mtimes are compared.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mtime {
    Nanos,
    Seconds,
}

/// One path of a tree: what a restore must reproduce.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Node {
    kind: &'static str,
    mode: u32,
    size: u64,
    blake3: String,
    target: String,
    mtime: (i64, i64),
}

/// A tree by relative path (the root is `""`), read in sorted order.
struct Tree(BTreeMap<String, Node>);

impl Tree {
    /// `None` when `root` does not exist.
    fn read(root: &Path) -> Option<Self> {
        fs::symlink_metadata(root).ok()?;
        let mut nodes = BTreeMap::new();
        Self::walk(root, String::new(), &mut nodes);
        Some(Self(nodes))
    }

    fn walk(abs: &Path, rel: String, nodes: &mut BTreeMap<String, Node>) {
        let meta = fs::symlink_metadata(abs).unwrap();
        let ft = meta.file_type();
        let kind = if ft.is_dir() {
            "dir"
        } else if ft.is_symlink() {
            "symlink"
        } else if ft.is_file() {
            "file"
        } else {
            "other"
        };
        let node = Node {
            kind,
            mode: meta.mode() & 0o7777,
            size: if ft.is_file() { meta.len() } else { 0 },
            blake3: if ft.is_file() {
                blake3_file(abs)
            } else {
                String::new()
            },
            target: if ft.is_symlink() {
                fs::read_link(abs).unwrap().to_string_lossy().into_owned()
            } else {
                String::new()
            },
            mtime: (meta.mtime(), meta.mtime_nsec()),
        };
        nodes.insert(rel.clone(), node);
        if ft.is_dir() {
            let mut names: Vec<String> = fs::read_dir(abs)
                .unwrap()
                .map(|i| i.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            for name in names {
                let child = if rel.is_empty() {
                    name.clone()
                } else {
                    format!("{rel}/{name}")
                };
                Self::walk(&abs.join(&name), child, nodes);
            }
        }
    }

    /// Path, type, content, mode and symlink target of everything (not mtimes).
    fn digest(&self) -> String {
        let mut h = blake3::Hasher::new();
        for (path, n) in &self.0 {
            let line = format!(
                "{path}\0{}\0{:o}\0{}\0{}\n",
                n.kind, n.mode, n.blake3, n.target
            );
            h.update(line.as_bytes());
        }
        h.finalize().to_hex()[..16].to_owned()
    }

    fn files(&self) -> usize {
        self.0.values().filter(|n| n.kind == "file").count()
    }

    fn bytes(&self) -> u64 {
        self.0.values().map(|n| n.size).sum()
    }

    /// How `self` differs from `want`, one line per path; mtimes compared when asked.
    fn differences(&self, want: &Tree, mtime: Option<Mtime>) -> Vec<String> {
        let paths: BTreeSet<&String> = self.0.keys().chain(want.0.keys()).collect();
        let mut out = Vec::new();
        for p in paths {
            let shown = if p.is_empty() { "(root)" } else { p.as_str() };
            match (self.0.get(p), want.0.get(p)) {
                (Some(_), None) => out.push(format!("{shown}: extra")),
                (None, Some(_)) => out.push(format!("{shown}: missing")),
                (Some(got), Some(exp)) => {
                    let mut what = Vec::new();
                    if got.kind != exp.kind {
                        what.push(format!("is a {} not a {}", got.kind, exp.kind));
                    }
                    if got.mode != exp.mode {
                        what.push(format!("mode {:o} not {:o}", got.mode, exp.mode));
                    }
                    if got.size != exp.size || got.blake3 != exp.blake3 {
                        what.push(format!(
                            "content ({} bytes) differs ({} expected)",
                            got.size, exp.size
                        ));
                    }
                    if got.target != exp.target {
                        what.push(format!("target {:?} not {:?}", got.target, exp.target));
                    }
                    let mtime_differs = match mtime {
                        Some(Mtime::Nanos) => got.mtime != exp.mtime,
                        Some(Mtime::Seconds) => got.mtime.0 != exp.mtime.0,
                        None => false,
                    };
                    if mtime_differs {
                        what.push(format!("mtime {:?} not {:?}", got.mtime, exp.mtime));
                    }
                    if !what.is_empty() {
                        out.push(format!("{shown}: {}", what.join(", ")));
                    }
                }
                (None, None) => {}
            }
        }
        out
    }
}

/// What the live data is after a kill.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    /// Wholly the backup's version: the restore got through its swap.
    Restored,
    /// Wholly the state before this restore.
    Before,
    /// Anything else: missing, or a mix.
    Other(String),
}

fn classify(live: &Path, restored: &Tree, before: &Tree) -> Seen {
    let Some(now) = Tree::read(live) else {
        return Seen::Other(format!("{} is missing", live.display()));
    };
    let digest = now.digest();
    if digest == restored.digest() {
        Seen::Restored
    } else if digest == before.digest() {
        Seen::Before
    } else {
        let first = |v: Vec<String>| v.into_iter().take(8).collect::<Vec<_>>().join("; ");
        Seen::Other(format!(
            "neither (digest {digest}): against the backup: {}; against the state before: {}",
            first(now.differences(restored, None)),
            first(now.differences(before, None))
        ))
    }
}

/// ~190 MiB: a few large incompressible files, a large compressible one, many small ones.
fn make_app_data(root: &Path, rng: &mut Rng) {
    for i in 0..3 {
        write_random(
            rng,
            &root.join(format!("adapters/project-{i}/adapter.safetensors")),
            48 * MIB,
        );
    }
    write_text(rng, &root.join("conversations/history.jsonl"), 24 * MIB);
    for d in 0..40 {
        for f in 0..40 {
            let path = root.join(format!("projects/p{d:02}/chunks/c{f:03}.bin"));
            if f % 2 == 0 {
                let len = 200 + rng.below(16 * 1024);
                write_random(rng, &path, len);
            } else {
                let len = 200 + rng.below(8 * 1024);
                write_text(rng, &path, len);
            }
        }
    }
}

#[test]
fn kill_9_during_backup_never_lists_a_corrupt_backup() {
    let h = Home::new();
    let mut rng = Rng::new(1);
    let started = Instant::now();
    make_app_data(&h.app_data(), &mut rng);
    let data = Tree::read(&h.app_data()).unwrap();
    eprintln!(
        "app data: {} files, {} MiB, written in {:.1?}",
        data.files(),
        data.bytes() / MIB,
        started.elapsed()
    );

    let t = Instant::now();
    let a = h.json(&["--json", "backup", "create", "--no-verify"]);
    let full = t.elapsed();
    let a_id = a["backup"]["id"].as_str().unwrap().to_owned();
    let a_path = PathBuf::from(a["backup"]["path"].as_str().unwrap());
    let a_hash = blake3_file(&a_path);
    h.assert_verifies(&a_id);
    eprintln!(
        "backup A {a_id}: {} bytes in {full:.2?}, blake3 {a_hash}",
        a["backup"]["size"]
    );
    if full < Duration::from_millis(500) {
        eprintln!(
            "warning: a whole backup takes only {full:?}; kills will mostly land early or late"
        );
    }

    let mut known: BTreeSet<String> = BTreeSet::from([a_id.clone()]);
    let log = h.root.join("create.log");
    for i in 0..KILLS {
        let delay = rng.delay(full);
        let mut child = h.spawn(&["backup", "create", "--no-verify"], &log);
        thread::sleep(delay);
        let finished = child.try_wait().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        eprintln!(
            "[{i}] kill -9 after {delay:?} ({}); {:?} left in the destination; its stderr: {:?}",
            match finished {
                Some(s) => format!("it had already exited: {s}"),
                None => "killed while running".to_owned(),
            },
            names_ending(&h.dest(), ".partial"),
            fs::read_to_string(&log).unwrap_or_default().trim()
        );

        let listing = h.json(&["--json", "backup", "list"]);
        let backups = listing["backups"].as_array().unwrap();
        let ids: BTreeSet<String> = backups
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            ids.len(),
            backups.len(),
            "an id is listed twice: {listing:#}"
        );
        assert!(
            ids.contains(&a_id),
            "[{i}] backup A is no longer listed: {listing:#}"
        );
        for b in backups {
            let path = b["path"].as_str().unwrap();
            assert!(
                path.ends_with(".tar.zst") && !path.contains(".partial"),
                "[{i}] a partial archive is listed: {b:#}"
            );
            assert!(
                b.get("unreadable").is_none(),
                "[{i}] an unreadable archive is listed: {b:#}"
            );
            h.assert_verifies(b["id"].as_str().unwrap());
        }
        let added: Vec<&String> = ids.difference(&known).collect();
        if !added.is_empty() {
            eprintln!("[{i}] the kill landed after the rename: one more good backup {added:?}");
        }
        known = ids;
        assert_eq!(
            blake3_file(&a_path),
            a_hash,
            "[{i}] backup A's archive changed after a kill at {delay:?}"
        );
    }

    let last = h.json(&["--json", "backup", "create"]);
    assert_eq!(last["backup"]["verified"]["ok"], true, "{last:#}");
    assert_eq!(
        names_ending(&h.dest(), ".partial"),
        Vec::<String>::new(),
        "a backup after the kills leaves no partial file"
    );
    let listing = h.json(&["--json", "backup", "list"]);
    assert_eq!(
        listing["backups"].as_array().unwrap().len(),
        known.len() + 1,
        "{listing:#}"
    );
    eprintln!("total {:.1?}", started.elapsed());
}

/// ~110 MiB in a few hundred files, with a symlink and an executable.
fn make_old_tree(root: &Path, rng: &mut Rng) {
    for i in 0..4 {
        write_random(
            rng,
            &root.join(format!("lancedb/table-{i}.lance")),
            24 * MIB + i,
        );
    }
    write_text(rng, &root.join("conversations/history.jsonl"), 8 * MIB);
    for d in 0..10 {
        for f in 0..30 {
            let len = 100 + rng.below(8 * 1024);
            write_text(
                rng,
                &root.join(format!("projects/p{d}/notes-{f:02}.md")),
                len,
            );
        }
    }
    fs::write(root.join("run.sh"), "#!/bin/sh\nexec gardener\n").unwrap();
    fs::set_permissions(root.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    symlink("projects/p0", root.join("current")).unwrap();
}

/// The live tree moves on after the backup: changes, additions, deletions, a mode, a link.
fn make_new_tree(root: &Path, rng: &mut Rng) {
    for d in 0..10 {
        write_text(rng, &root.join(format!("projects/p{d}/notes-00.md")), 500);
        fs::remove_file(root.join(format!("projects/p{d}/notes-29.md"))).unwrap();
        write_text(rng, &root.join(format!("projects/new-{d}/readme.md")), 300);
    }
    fs::remove_dir_all(root.join("projects/p9")).unwrap();
    fs::remove_file(root.join("lancedb/table-3.lance")).unwrap();
    write_random(rng, &root.join("lancedb/table-4.lance"), 6 * MIB);
    write_text(rng, &root.join("conversations/history.jsonl"), 9 * MIB);
    fs::set_permissions(root.join("run.sh"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::remove_file(root.join("current")).unwrap();
    symlink("projects/new-0", root.join("current")).unwrap();
}

/// After a restore that completed: checks that the listed safety copy of `live` holds the state
/// before it, and moves that back into place, so the next restore starts from the same state.
fn put_back_before(listing: &Value, live: &Path, before: &Tree) {
    let copy = listing["safety_copies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["replaced"].as_str() == live.to_str())
        .unwrap_or_else(|| {
            panic!(
                "a restore completed but no safety copy of {} is listed: {listing:#}",
                live.display()
            )
        });
    let copy = PathBuf::from(copy["path"].as_str().unwrap());
    let kept =
        Tree::read(&copy).unwrap_or_else(|| panic!("{} is listed but missing", copy.display()));
    assert_eq!(
        kept.digest(),
        before.digest(),
        "the safety copy {} is not the data before the restore: {:?}",
        copy.display(),
        kept.differences(before, None)
    );
    fs::remove_dir_all(live).unwrap();
    fs::rename(&copy, live).unwrap();
}

/// After a restore that completed: its safety copy of the data back in place, no staging left.
fn put_back_app_data(h: &Home, listing: &Value, before: &Tree) {
    put_back_before(listing, &h.app_data(), before);
    for d in h.stage_dirs() {
        fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn kill_9_during_restore_leaves_old_or_new_data() {
    let h = Home::new();
    let mut rng = Rng::new(2);
    let started = Instant::now();
    let live = h.app_data();
    make_old_tree(&live, &mut rng);
    let old = Tree::read(&live).unwrap();
    let backup = h.json(&["--json", "backup", "create"]);
    assert_eq!(backup["backup"]["verified"]["ok"], true, "{backup:#}");
    let id = backup["backup"]["id"].as_str().unwrap().to_owned();
    make_new_tree(&live, &mut rng);
    let new = Tree::read(&live).unwrap();
    eprintln!(
        "OLD (in backup {id}): {} files, {} MiB, digest {}; NEW (live): {} files, {} MiB, digest {}",
        old.files(),
        old.bytes() / MIB,
        old.digest(),
        new.files(),
        new.bytes() / MIB,
        new.digest()
    );
    assert_ne!(old.digest(), new.digest());

    // Two whole restores: the ordinary case, and how long one takes (the first also waits for
    // the disk to take the data just written, so the shorter one is the measure).
    let mut full = Duration::MAX;
    for _ in 0..2 {
        let t = Instant::now();
        h.ok(&["--json", "backup", "restore", &id, "--yes"]);
        full = full.min(t.elapsed());
        assert_eq!(
            classify(&live, &old, &new),
            Seen::Restored,
            "a whole restore"
        );
        let listing = h.json(&["--json", "backup", "list"]);
        put_back_app_data(&h, &listing, &new);
    }
    eprintln!("a whole restore takes {full:.2?}");

    let crash = RestoreCrash {
        h: &h,
        id: &id,
        restored: &old,
        before: &new,
    };
    let mut problems = Vec::new();
    let mut kills = (0..KILLS)
        .map(|_| Kill::After(rng.delay(full)))
        .collect::<Vec<_>>();
    // Random delays seldom land in the few milliseconds of the swap itself: aim at it too.
    kills.extend([0, 1, 3, 8].map(|ms| Kill::AfterJournal(Duration::from_millis(ms))));
    for (i, kill) in kills.into_iter().enumerate() {
        if !crash.once(i, kill, &mut problems) {
            break;
        }
    }
    eprintln!("total {:.1?}", started.elapsed());
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// When a restore is killed.
#[derive(Clone, Copy, Debug)]
enum Kill {
    /// After this long.
    After(Duration),
    /// This long after its journal appears: in the middle of the swap.
    AfterJournal(Duration),
}

/// One backup restored over live data that has moved on since, again and again.
struct RestoreCrash<'a> {
    h: &'a Home,
    id: &'a str,
    /// The tree in the backup.
    restored: &'a Tree,
    /// The live tree before each restore.
    before: &'a Tree,
}

impl RestoreCrash<'_> {
    /// Starts a restore, kills it with SIGKILL, checks the live data right away and again after
    /// `backup list` recovered, and puts the live data back as it was before. Pushes what is
    /// wrong to `problems`; returns false when the live data is in no known state any more.
    fn once(&self, i: usize, kill: Kill, problems: &mut Vec<String>) -> bool {
        let h = self.h;
        let live = h.app_data();
        let log = h.root.join("restore.log");
        let started = Instant::now();
        let mut child = h.spawn(&["--json", "backup", "restore", self.id, "--yes"], &log);
        let mut journal_seen = false;
        match kill {
            Kill::After(delay) => thread::sleep(delay),
            Kill::AfterJournal(delay) => {
                while started.elapsed() < Duration::from_secs(60) {
                    journal_seen = h.journal().exists();
                    if journal_seen || child.try_wait().unwrap().is_some() {
                        break;
                    }
                    thread::sleep(Duration::from_micros(100));
                }
                thread::sleep(delay);
            }
        }
        let finished = child.try_wait().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        let at = started.elapsed();
        let when = format!("kill ({kill:?}) at {at:.2?}");
        let at_kill = classify(&live, self.restored, self.before);
        eprintln!(
            "[{i}] {when} ({}; journal seen before the kill: {journal_seen}): live data {at_kill:?}; \
             journal now: {}; staging dirs: {:?}; its stderr: {:?}",
            match finished {
                Some(s) => format!("it had already exited: {s}"),
                None => "killed while running".to_owned(),
            },
            h.journal().exists(),
            h.stage_dirs(),
            fs::read_to_string(&log).unwrap_or_default().trim()
        );
        if let Seen::Other(what) = &at_kill {
            problems.push(format!(
                "[{i}] right after the {when} the live data is {what}"
            ));
        }

        // `backup list` undoes an interrupted swap.
        let out = h.ok(&["--json", "backup", "list"]);
        let listing: Value = serde_json::from_slice(&out.stdout).unwrap();
        let after = classify(&live, self.restored, self.before);
        eprintln!(
            "[{i}] after `backup list`: live data {after:?}; its notes: {:?}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        if h.journal().exists() {
            problems.push(format!(
                "[{i}] {when}: the restore journal is still there after `backup list`: {}",
                fs::read_to_string(h.journal()).unwrap_or_default()
            ));
        }
        for stray in stray_stage_dirs(&[&h.home, &h.root], &listing) {
            let inside = Tree::read(&stray).map_or(0, |t| t.0.len());
            problems.push(format!(
                "[{i}] {when} (live data then: {at_kill:?}): {} ({inside} paths inside) is left \
                 behind after `backup list` and is not a listed safety copy",
                stray.display()
            ));
            // Keep the next iterations independent of this one.
            fs::remove_dir_all(&stray).unwrap();
        }
        match after {
            Seen::Restored => put_back_app_data(h, &listing, self.before),
            Seen::Before => {}
            Seen::Other(what) => {
                problems.push(format!(
                    "[{i}] {when}: after `backup list` the live data is {what}"
                ));
                return false;
            }
        }
        true
    }
}

/// Two `--only` subtrees with one parent share a staging directory. A restore killed after the
/// first of them was swapped must have both put back by `backup list`.
#[test]
fn kill_9_after_the_first_of_two_sibling_swaps_puts_both_back() {
    let h = Home::new();
    let mut rng = Rng::new(4);
    let live = h.app_data();
    let projects = live.join("projects");
    let (a, b) = (projects.join("a"), projects.join("b"));
    for dir in [&a, &b] {
        for f in 0..40 {
            write_text(&mut rng, &dir.join(format!("f{f:02}.md")), 2000);
        }
    }
    write_random(&mut rng, &live.join("lancedb/t.lance"), 8 * MIB);
    let (a_old, b_old) = (Tree::read(&a).unwrap(), Tree::read(&b).unwrap());
    let created = h.json(&["--json", "backup", "create"]);
    let id = created["backup"]["id"].as_str().unwrap().to_owned();
    for dir in [&a, &b] {
        write_text(&mut rng, &dir.join("f00.md"), 100);
        fs::remove_file(dir.join("f01.md")).unwrap();
        write_text(&mut rng, &dir.join("added.md"), 100);
    }
    let (a_new, b_new) = (Tree::read(&a).unwrap(), Tree::read(&b).unwrap());
    let states = || (classify(&a, &a_old, &a_new), classify(&b, &b_old, &b_new));

    let log = h.root.join("restore.log");
    let mut problems = Vec::new();
    for i in 0..3 {
        let a_ino = fs::symlink_metadata(&a).unwrap().ino();
        let started = Instant::now();
        let mut child = h.spawn(
            &[
                "--json",
                "backup",
                "restore",
                &id,
                "--only",
                "app-data/projects/a",
                "--only",
                "app-data/projects/b",
                "--yes",
            ],
            &log,
        );
        // Kill as soon as `a` is swapped: `b` is then swapped or about to be.
        let mut swapped = false;
        while !swapped && started.elapsed() < Duration::from_secs(60) {
            swapped = fs::symlink_metadata(&a).is_ok_and(|m| m.ino() != a_ino);
            if child.try_wait().unwrap().is_some() {
                break;
            }
            thread::sleep(Duration::from_micros(100));
        }
        let finished = child.try_wait().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        let at_kill = states();
        eprintln!(
            "[{i}] kill at {:.2?} (a swapped: {swapped}; exited before: {finished:?}): a {:?}, b {:?}; \
             journal: {}; its stderr: {:?}",
            started.elapsed(),
            at_kill.0,
            at_kill.1,
            h.journal().exists(),
            fs::read_to_string(&log).unwrap_or_default().trim()
        );
        for (name, seen) in [("a", &at_kill.0), ("b", &at_kill.1)] {
            if let Seen::Other(what) = seen {
                problems.push(format!(
                    "[{i}] right after the kill, projects/{name} is {what}"
                ));
            }
        }

        let out = h.ok(&["--json", "backup", "list"]);
        let listing: Value = serde_json::from_slice(&out.stdout).unwrap();
        let after = states();
        eprintln!(
            "[{i}] after `backup list`: a {:?}, b {:?}; its notes: {:?}",
            after.0,
            after.1,
            String::from_utf8_lossy(&out.stderr).trim()
        );
        if h.journal().exists() {
            problems.push(format!(
                "[{i}] the restore journal is still there after `backup list`: {}",
                fs::read_to_string(h.journal()).unwrap_or_default()
            ));
        }
        for stray in stray_stage_dirs(&[&projects], &listing) {
            problems.push(format!(
                "[{i}] {} is left behind after `backup list` and is not a listed safety copy",
                stray.display()
            ));
            fs::remove_dir_all(&stray).unwrap();
        }
        match after {
            (Seen::Before, Seen::Before) => {}
            (Seen::Restored, Seen::Restored) => {
                put_back_before(&listing, &a, &a_new);
                put_back_before(&listing, &b, &b_new);
                for d in stage_dirs_in(&[&projects]) {
                    fs::remove_dir_all(d).unwrap();
                }
            }
            (a_seen, b_seen) => {
                problems.push(format!(
                    "[{i}] after `backup list`: projects/a is {a_seen:?} and projects/b is {b_seen:?}: \
                     not both as before the restore (nor both restored)"
                ));
                break;
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

const LONG_DIR: &str = "a-directory-whose-name-is-rather-long-0123456789";
const LONG_FILE: &str =
    "and-a-file-name-long-enough-that-the-whole-path-needs-gnu-long-names-0123456789.txt";

/// A tree with every kind of thing a restore must reproduce exactly; mtimes set last, deepest first.
fn make_fidelity_tree(root: &Path, rng: &mut Rng) {
    let long = format!("{LONG_DIR}/{LONG_FILE}");
    assert!(format!("app-data/{long}").len() > 100);
    let dirs: [(&str, u32); 8] = [
        ("private", 0o700),
        ("empty-dir", 0o755),
        ("nested", 0o750),
        ("nested/empty", 0o700),
        ("ünïcode", 0o755),
        ("日本", 0o755),
        (LONG_DIR, 0o755),
        ("links", 0o755),
    ];
    let files: [(&str, u32, &[u8]); 9] = [
        ("plain.txt", 0o644, b"hello\n"),
        ("secret.txt", 0o600, b"token=abc\n"),
        ("run.sh", 0o755, b"#!/bin/sh\necho hi\n"),
        ("empty.bin", 0o644, b""),
        ("private/notes.md", 0o600, b"# notes\n"),
        ("file with spaces.txt", 0o644, b"spaces\n"),
        ("ünïcode/grüße ü.txt", 0o644, "grüße\n".as_bytes()),
        ("日本/日本 語.txt", 0o640, "こんにちは\n".as_bytes()),
        (long.as_str(), 0o644, b"long name\n"),
    ];
    let links = [
        ("links/rel", "../plain.txt"),
        ("links/dir", "../private"),
        ("links/dangling", "../does-not-exist"),
        ("beside", "plain.txt"),
    ];
    fs::create_dir_all(root).unwrap();
    for (d, _) in dirs {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    for (f, mode, content) in files {
        fs::write(root.join(f), content).unwrap();
        fs::set_permissions(root.join(f), fs::Permissions::from_mode(mode)).unwrap();
    }
    write_random(rng, &root.join("blob.bin"), 3 * MIB + 1);
    for (l, target) in links {
        symlink(target, root.join(l)).unwrap();
    }
    // Distinct times with sub-second parts: files and links first, then directories deepest first.
    let mut n = 0u64;
    let mut when = || {
        n += 1;
        (
            1_700_000_000 + n * 3_607,
            123_456_789 + u32::try_from(n).unwrap() * 1_001,
        )
    };
    for path in files.iter().map(|f| f.0).chain(["blob.bin"]) {
        let (s, ns) = when();
        let t = UNIX_EPOCH + Duration::new(s, ns);
        File::options()
            .write(true)
            .open(root.join(path))
            .unwrap()
            .set_times(FileTimes::new().set_modified(t))
            .unwrap();
    }
    for (l, _) in links {
        let (s, ns) = when();
        let ts = rustix::fs::Timespec {
            tv_sec: i64::try_from(s).unwrap(),
            tv_nsec: i64::from(ns),
        };
        let times = rustix::fs::Timestamps {
            last_access: ts,
            last_modification: ts,
        };
        rustix::fs::utimensat(
            rustix::fs::CWD,
            root.join(l),
            &times,
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .unwrap();
    }
    let mut all_dirs: Vec<(&str, u32)> = dirs.to_vec();
    all_dirs.sort_by_key(|(d, _)| std::cmp::Reverse(d.matches('/').count()));
    all_dirs.push(("", 0o755));
    for (d, mode) in all_dirs {
        let (s, ns) = when();
        let path = root.join(d);
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        File::open(&path)
            .unwrap()
            .set_times(FileTimes::new().set_modified(UNIX_EPOCH + Duration::new(s, ns)))
            .unwrap();
    }
}

fn assert_same(got: &Path, want: &Tree, mtime: Mtime, what: &str) {
    let tree = Tree::read(got).unwrap_or_else(|| panic!("{what}: {} is missing", got.display()));
    let diff = tree.differences(want, Some(mtime));
    assert!(
        diff.is_empty(),
        "{what}: {} differs from the original:\n{}",
        got.display(),
        diff.join("\n")
    );
    eprintln!("{what}: {} paths identical", want.0.len());
}

#[test]
fn restore_round_trip_is_byte_identical() {
    let h = Home::new();
    let mut rng = Rng::new(3);
    let live = h.app_data();
    make_fidelity_tree(&live, &mut rng);
    let original = Tree::read(&live).unwrap();
    assert!(
        original.0.values().any(|n| n.mtime.1 != 0),
        "sub-second mtimes were set"
    );

    let created = h.json(&["--json", "backup", "create"]);
    assert_eq!(created["backup"]["verified"]["ok"], true, "{created:#}");
    let id = created["backup"]["id"].as_str().unwrap().to_owned();
    let archive = PathBuf::from(created["backup"]["path"].as_str().unwrap());
    h.assert_verifies(&id);

    let to = h.root.join("restored");
    h.ok(&[
        "--json",
        "backup",
        "restore",
        &id,
        "--to",
        to.to_str().unwrap(),
        "--yes",
    ]);
    assert_same(
        &to.join("app-data"),
        &original,
        Mtime::Nanos,
        "restore --to",
    );
    assert_eq!(
        fs::read_to_string(to.join("gardener-config/gardener.toml")).unwrap(),
        CONFIG
    );

    // GNU tar reads the same archive; its headers carry whole seconds.
    let by_tar = h.root.join("by-tar");
    fs::create_dir(&by_tar).unwrap();
    let out = Command::new("tar")
        .arg("--zstd")
        .arg("-xpf")
        .arg(&archive)
        .arg("-C")
        .arg(&by_tar)
        .output()
        .expect("run GNU tar");
    assert!(
        out.status.success(),
        "GNU tar failed:\n{}",
        output_text(&out)
    );
    assert_same(
        &by_tar.join("app-data"),
        &original,
        Mtime::Seconds,
        "GNU tar",
    );
    assert!(by_tar.join("gardener-manifest.json").is_file());

    // Over a live tree that moved on.
    fs::write(live.join("plain.txt"), "changed\n").unwrap();
    fs::remove_file(live.join("secret.txt")).unwrap();
    fs::write(live.join("added.txt"), "new\n").unwrap();
    fs::set_permissions(live.join("run.sh"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::remove_dir(live.join("empty-dir")).unwrap();
    fs::remove_file(live.join("links/rel")).unwrap();
    symlink("../run.sh", live.join("links/rel")).unwrap();
    h.ok(&["--json", "backup", "restore", &id, "--yes"]);
    assert_same(
        &live,
        &original,
        Mtime::Nanos,
        "restore --yes over changed data",
    );
}
