//! Shared fixtures of the backup tests (`backup_crash`, `backup_roundtrip`): a temporary home for
//! the real `gardener` CLI ([`Home`]), seeded random content ([`Rng`], [`write_random`],
//! [`write_text`]), and tree snapshots that compare what a restore left ([`Tree`], [`classify`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

use crate::{gardener_bin, output_text};

/// The `gardener.toml` every [`Home`] gets: no app to pause, no Ollama manifests, zstd level 3.
pub const CONFIG: &str =
    "[backup]\npause_app = false\ninclude_ollama_manifests = false\nlevel = 3\n";
/// Prefix of the staging directories a restore makes next to the data it replaces.
pub const STAGE_PREFIX: &str = ".gardener-before-restore-";
/// One mebibyte.
pub const MIB: u64 = 1 << 20;

/// A temporary home for the CLI: `HOME` and `XDG_*` inside a temp dir, no user bus, and a
/// `gardener.toml` next to them.
pub struct Home {
    _tmp: TempDir,
    /// The temp dir holding everything: `home`, `xdg/*`, `run`, `gardener.toml`.
    pub root: PathBuf,
    /// `HOME` of the CLI.
    pub home: PathBuf,
    config: PathBuf,
    data_home: PathBuf,
}

impl Home {
    /// Makes the directories and writes [`CONFIG`] to `gardener.toml`.
    // A new temp dir on disk each time: not what `Default` promises.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
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

    /// The app's live data: `~/.codebase-gardener`.
    pub fn app_data(&self) -> PathBuf {
        self.home.join(".codebase-gardener")
    }

    /// Where backups go.
    pub fn dest(&self) -> PathBuf {
        self.data_home.join("gardener/backups")
    }

    /// The journal a restore keeps while it swaps data.
    pub fn journal(&self) -> PathBuf {
        self.data_home.join("gardener/restore-journal.json")
    }

    /// `gardener --config … ARGS` with this home's environment, stdin closed.
    pub fn command(&self, args: &[&str]) -> Command {
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

    /// Runs `gardener ARGS` to the end and logs its (clipped) output.
    pub fn run(&self, args: &[&str]) -> Output {
        let out = self.command(args).output().expect("run gardener");
        eprintln!(
            "$ gardener {}\n{}",
            args.join(" "),
            clip(&output_text(&out))
        );
        out
    }

    /// [`Home::run`], asserting that it succeeded.
    pub fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "gardener {args:?} failed:\n{}",
            output_text(&out)
        );
        out
    }

    /// [`Home::ok`], and its stdout parsed as JSON.
    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(args);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "gardener {args:?} printed no JSON ({e}):\n{}",
                output_text(&out)
            )
        })
    }

    /// Starts `gardener ARGS`, stderr into `log` (a full pipe must not slow it down or stop it).
    pub fn spawn(&self, args: &[&str], log: &Path) -> Child {
        self.command(args)
            .stdout(Stdio::null())
            .stderr(File::create(log).unwrap())
            .spawn()
            .expect("spawn gardener")
    }

    /// `backup verify ID` says the archive is sound.
    pub fn assert_verifies(&self, id: &str) {
        let report = self.json(&["--json", "backup", "verify", id]);
        assert!(
            report["problems"].as_array().is_some_and(Vec::is_empty)
                && report["files"].as_u64() > Some(0),
            "backup {id} does not verify: {report:#}"
        );
    }

    /// Restore staging directories next to the data and next to the config.
    pub fn stage_dirs(&self) -> Vec<PathBuf> {
        stage_dirs_in(&[&self.home, &self.root])
    }
}

/// Restore staging directories in `dirs`.
pub fn stage_dirs_in(dirs: &[&Path]) -> Vec<PathBuf> {
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
pub fn stray_stage_dirs(dirs: &[&Path], listing: &Value) -> Vec<PathBuf> {
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
pub fn clip(text: &str) -> String {
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
pub struct Rng(u64);

impl Rng {
    /// Seeded from `GARDENER_CRASH_SEED` (or a fixed seed), mixed with `salt`; prints the seed.
    pub fn new(salt: u64) -> Self {
        let seed = std::env::var("GARDENER_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x6a7d_3e11_u64);
        eprintln!("seed {seed} (GARDENER_CRASH_SEED overrides it)");
        Self(seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    /// The next 64 random bits.
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    /// A delay from 10 ms up to `max`.
    pub fn delay(&mut self, max: Duration) -> Duration {
        let max = u64::try_from(max.as_millis()).unwrap().max(11);
        Duration::from_millis(10 + self.below(max - 10))
    }
}

/// Creates the parent directories of `path`.
pub fn create_parent(path: &Path) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
}

/// Incompressible content, like model adapters and vector indexes.
pub fn write_random(rng: &mut Rng, path: &Path, len: u64) {
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
pub fn write_text(rng: &mut Rng, path: &Path, len: u64) {
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

/// The BLAKE3 hash of a file's content, in hex.
pub fn blake3_file(path: &Path) -> String {
    let mut h = blake3::Hasher::new();
    h.update_reader(File::open(path).unwrap()).unwrap();
    h.finalize().to_hex().to_string()
}

/// Names in `dir` ending with `suffix` (nothing when `dir` does not exist).
pub fn names_ending(dir: &Path, suffix: &str) -> Vec<String> {
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
pub enum Mtime {
    /// Seconds and nanoseconds.
    Nanos,
    /// Whole seconds only (what tar headers carry).
    Seconds,
}

/// One path of a tree: what a restore must reproduce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// `dir`, `symlink`, `file` or `other`.
    pub kind: &'static str,
    /// Permission bits (`& 0o7777`).
    pub mode: u32,
    /// Length of a file; 0 for anything else.
    pub size: u64,
    /// BLAKE3 hash of a file's content, in hex; empty for anything else.
    pub blake3: String,
    /// Target of a symlink; empty for anything else.
    pub target: String,
    /// Modification time: seconds and nanoseconds since the epoch.
    pub mtime: (i64, i64),
}

/// A tree by relative path (the root is `""`), read in sorted order.
pub struct Tree(pub BTreeMap<String, Node>);

impl Tree {
    /// `None` when `root` does not exist.
    pub fn read(root: &Path) -> Option<Self> {
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
    pub fn digest(&self) -> String {
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

    /// How many regular files.
    pub fn files(&self) -> usize {
        self.0.values().filter(|n| n.kind == "file").count()
    }

    /// Total size of the regular files.
    pub fn bytes(&self) -> u64 {
        self.0.values().map(|n| n.size).sum()
    }

    /// How `self` differs from `want`, one line per path; mtimes compared when asked.
    pub fn differences(&self, want: &Tree, mtime: Option<Mtime>) -> Vec<String> {
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
pub enum Seen {
    /// Wholly the backup's version: the restore got through its swap.
    Restored,
    /// Wholly the state before this restore.
    Before,
    /// Anything else: missing, or a mix.
    Other(String),
}

/// Which of `restored` and `before` the tree at `live` is, or how it is neither.
pub fn classify(live: &Path, restored: &Tree, before: &Tree) -> Seen {
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

/// The ids in a `backup list --json` listing (local or of a target), newest first.
pub fn listed_ids(listing: &Value) -> Vec<String> {
    listing["backups"]
        .as_array()
        .expect("a backups array")
        .iter()
        .map(|b| b["id"].as_str().expect("an id").to_owned())
        .collect()
}

/// The README's recipe for an incremental backup with stock tools: every archive the backup
/// needs, oldest first, then the backup itself, extracted by GNU tar into one directory; then
/// what its manifest does not list removed. Arguments: the archives' directory, the backup's id,
/// the directory to fill.
pub const PLAIN_TOOLS_RECIPE: &str = r#"
set -eu
cd "$1"; LAST=$2; OUT=$3
mkdir -p "$OUT"
tar --zstd -xOf "$LAST.tar.zst" gardener-manifest.json > "$OUT.manifest.json"
for id in $(python3 -c 'import json, sys; print(*json.load(open(sys.argv[1])).get("needs", []))' "$OUT.manifest.json") "$LAST"; do
  tar --zstd -xf "$id.tar.zst" -C "$OUT"
done
python3 - "$OUT.manifest.json" "$OUT" <<'PY'
import json, os, sys
keep = {e["path"] for e in json.load(open(sys.argv[1]))["entries"]}
root = sys.argv[2]
for top, dirs, files in os.walk(root, topdown=False):
    for name in files + dirs:
        path = os.path.join(top, name)
        if os.path.relpath(path, root) not in keep:
            if os.path.isdir(path) and not os.path.islink(path):
                os.rmdir(path)
            else:
                os.remove(path)
PY
"#;
