//! Fidelity of backups, against the real `gardener` CLI in a temporary home (no service manager
//! involved): a restore reproduces a tree exactly (contents, modes, nanosecond mtimes, symlinks,
//! empty directories, non-ASCII names, paths past tar's 100-byte limit), both into `--to` and
//! over live data that moved on, and GNU tar reads the same archive (to whole-second mtimes).
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::fs::{self, File, FileTimes};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

use gardener_e2e::backup_home::{CONFIG, Home, MIB, Mtime, Rng, Tree, write_random};
use gardener_e2e::output_text;

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
