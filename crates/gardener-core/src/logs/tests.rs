//! Tests for rotation (generations, compression, O_APPEND writers), tails,
//! following across rotation, and Gardener's daily log names.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::*;

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn generation_text(path: &Path) -> String {
    String::from_utf8(fs::read(path).unwrap()).unwrap()
}

fn decompress(path: &Path) -> String {
    let via_crate =
        String::from_utf8(zstd::stream::decode_all(File::open(path).unwrap()).unwrap()).unwrap();
    // The real tool must read what we write, too.
    if Path::new("/usr/bin/zstd").exists() {
        let out = std::process::Command::new("/usr/bin/zstd")
            .arg("-dc")
            .arg(path)
            .output()
            .unwrap();
        assert!(out.status.success(), "zstd -dc {}", path.display());
        assert_eq!(String::from_utf8(out.stdout).unwrap(), via_crate);
    }
    via_crate
}

/// Generation `g`'s content: recognisable and over the 16-byte limit used.
fn content(g: u32) -> String {
    format!("generation {g} line a\ngeneration {g} line b\n")
}

#[test]
fn keep_three_over_five_rotations_leaves_three_generations() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("ollama.log");
    for g in 1..=5 {
        append(&log, &content(g));
        let r = rotate_if_needed(&log, 16, 3).unwrap().unwrap();
        assert_eq!(r.to, dir.path().join("ollama.log.1"));
        assert_eq!(r.bytes, content(g).len() as u64);
        assert_eq!(fs::metadata(&log).unwrap().len(), 0);
    }
    assert_eq!(
        names(dir.path()),
        [
            "ollama.log",
            "ollama.log.1",
            "ollama.log.2.zst",
            "ollama.log.3.zst"
        ]
    );
    assert_eq!(
        generation_text(&dir.path().join("ollama.log.1")),
        content(5)
    );
    assert_eq!(decompress(&dir.path().join("ollama.log.2.zst")), content(4));
    assert_eq!(decompress(&dir.path().join("ollama.log.3.zst")), content(3));
    for n in ["ollama.log.1", "ollama.log.2.zst", "ollama.log.3.zst"] {
        assert_eq!(fsutil::mode_of(&dir.path().join(n)).unwrap(), Some(0o600));
    }
}

#[test]
fn smaller_keep_prunes_older_generations() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.err.log");
    for g in 1..=4 {
        append(&log, &content(g));
        rotate_if_needed(&log, 16, 4).unwrap();
    }
    append(&log, &content(5));
    let r = rotate_if_needed(&log, 16, 2).unwrap().unwrap();
    assert_eq!(
        names(dir.path()),
        ["app.err.log", "app.err.log.1", "app.err.log.2.zst"]
    );
    assert_eq!(r.removed.len(), 3, "{:?}", r.removed);
    assert_eq!(
        decompress(&dir.path().join("app.err.log.2.zst")),
        content(4)
    );
}

#[test]
fn keep_one_replaces_the_single_generation() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    for g in 1..=3 {
        append(&log, &content(g));
        rotate_if_needed(&log, 16, 1).unwrap();
    }
    assert_eq!(names(dir.path()), ["app.log", "app.log.1"]);
    assert_eq!(generation_text(&dir.path().join("app.log.1")), content(3));
}

#[test]
fn no_rotation_at_or_under_max_size_or_when_absent() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    assert_eq!(rotate_if_needed(&log, 16, 3).unwrap(), None);
    append(&log, "0123456789abcdef");
    assert_eq!(rotate_if_needed(&log, 16, 3).unwrap(), None);
    assert_eq!(names(dir.path()), ["app.log"]);
    assert_eq!(generation_text(&log), "0123456789abcdef");
}

#[test]
fn append_mode_writer_continues_at_the_start_without_a_hole() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("ollama.err.log");
    // Like launchd/systemd: one O_APPEND fd held across the rotation.
    let mut writer = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .unwrap();
    writer.write_all(content(1).as_bytes()).unwrap();
    rotate_if_needed(&log, 16, 3).unwrap().unwrap();
    writer.write_all(b"after\n").unwrap();
    writer.flush().unwrap();
    let m = fs::metadata(&log).unwrap();
    assert_eq!(m.len(), 6, "no sparse hole before the new bytes");
    assert_eq!(generation_text(&log), "after\n");
    assert_eq!(
        generation_text(&dir.path().join("ollama.err.log.1")),
        content(1)
    );
}

#[test]
fn failed_compression_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, &content(1));
    rotate_if_needed(&log, 16, 3).unwrap();
    append(&log, &content(2));
    rotate_if_needed(&log, 16, 3).unwrap();
    append(&log, &content(3));
    // A `.1` that opens but cannot be read (a directory: fails even as root).
    let first = dir.path().join("app.log.1");
    fs::remove_file(&first).unwrap();
    fs::create_dir(&first).unwrap();
    let err = rotate_if_needed(&log, 16, 3).unwrap_err();
    assert!(err.to_string().contains("compress"), "{err}");
    assert!(err.to_string().contains("app.log.1"), "{err}");
    assert_eq!(generation_text(&log), content(3), "the log is untouched");
    assert!(first.is_dir());
    assert_eq!(decompress(&dir.path().join("app.log.2.zst")), content(1));
    assert_eq!(names(dir.path()), ["app.log", "app.log.1", "app.log.2.zst"]);
}

#[test]
fn tail_reads_the_last_lines_across_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("big.log");
    let mut f = File::create(&log).unwrap();
    // ~300 KiB: several 64 KiB blocks, lines straddling block edges.
    for i in 0..20_000 {
        writeln!(f, "line {i:05} ✓").unwrap();
    }
    drop(f);
    let t = tail(&log, 3).unwrap();
    assert_eq!(t.lines, ["line 19997 ✓", "line 19998 ✓", "line 19999 ✓"]);
    assert_eq!(t.end, fs::metadata(&log).unwrap().len());
    let many = tail_lines(&log, 12_000).unwrap();
    assert_eq!(many.len(), 12_000);
    assert_eq!(many[0], "line 08000 ✓");
    assert_eq!(tail_lines(&log, 50_000).unwrap().len(), 20_000);
}

#[test]
fn tail_without_trailing_newline_empty_and_blank_lines() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.log");
    fs::write(&p, "one\ntwo\nthree").unwrap();
    assert_eq!(tail_lines(&p, 2).unwrap(), ["two", "three"]);
    assert_eq!(tail_lines(&p, 10).unwrap(), ["one", "two", "three"]);
    fs::write(&p, "").unwrap();
    assert!(tail_lines(&p, 5).unwrap().is_empty());
    fs::write(&p, "a\n\nb\n\n").unwrap();
    assert_eq!(tail_lines(&p, 2).unwrap(), ["b", ""]);
    fs::write(&p, b"bad \xff byte\n").unwrap();
    assert_eq!(tail_lines(&p, 1).unwrap(), ["bad \u{fffd} byte"]);
    assert!(tail_lines(&p, 0).unwrap().is_empty());
    assert!(
        tail_lines(&dir.path().join("none.log"), 1)
            .unwrap_err()
            .is_not_found()
    );
}

#[test]
fn follower_sees_appends_copy_truncate_and_replacement() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, "old\n");
    let end = tail(&log, 10).unwrap().end;
    let mut f = Follower::new(&log, end);
    assert!(f.poll().unwrap().is_empty());
    append(&log, "one\ntw");
    assert_eq!(f.poll().unwrap(), ["one"]);
    append(&log, "o\n");
    assert_eq!(f.poll().unwrap(), ["two"]);

    // Copy-truncate, then fewer bytes than were read: restart at 0.
    rotate_if_needed(&log, 1, 3).unwrap().unwrap();
    append(&log, "new\n");
    assert_eq!(f.poll().unwrap(), ["new"]);

    // Replaced by another file (rename over): finish the old, read the new.
    let replacement = dir.path().join("next");
    fs::write(&replacement, "fresh\n").unwrap();
    append(&log, "last of old\n");
    fs::rename(&replacement, &log).unwrap();
    assert_eq!(f.poll().unwrap(), ["last of old", "fresh"]);

    // Removed, then created again.
    fs::remove_file(&log).unwrap();
    assert!(f.poll().unwrap().is_empty());
    append(&log, "reborn\n");
    assert_eq!(f.poll().unwrap(), ["reborn"]);
}

#[test]
fn follow_calls_back_until_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("ollama.log");
    append(&log, "before\n");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let log = log.clone();
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            append(&log, "a\n");
            std::thread::sleep(POLL_INTERVAL * 2);
            rotate_if_needed(&log, 1, 2).unwrap();
            append(&log, "b\n");
            std::thread::sleep(POLL_INTERVAL * 3);
            stop.store(true, Ordering::SeqCst);
        })
    };
    let mut seen = Vec::new();
    follow(&log, 7, &mut |l| seen.push(l.to_owned()), &|| {
        stop.load(Ordering::SeqCst)
    })
    .unwrap();
    writer.join().unwrap();
    assert_eq!(seen, ["a", "b"]);
}

#[test]
fn gardener_daily_log_names_and_latest() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(latest_gardener_log(dir.path()), None);
    for n in [
        "gardener.2024-01-31.log",
        "gardener.2024-02-01.log",
        "gardener.toml",
        "gardener.latest.log",
        "ollama.log",
    ] {
        fs::write(dir.path().join(n), "x\n").unwrap();
    }
    assert_eq!(
        latest_gardener_log(dir.path()),
        Some(dir.path().join("gardener.2024-02-01.log"))
    );
    assert!(is_gardener_log_name("gardener.1999-12-31.log"));
    assert!(!is_gardener_log_name("gardener.1999-12-31.log.1"));
    assert!(!is_gardener_log_name("gardener.19991231.log"));
}

#[test]
fn appender_writes_todays_file_with_the_documented_name() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let mut w = gardener_log_appender(&logs, 7).unwrap();
    w.write_all(b"hello\n").unwrap();
    w.flush().unwrap();
    let latest = latest_gardener_log(&logs).unwrap();
    let name = latest.file_name().unwrap().to_str().unwrap().to_owned();
    assert!(is_gardener_log_name(&name), "{name}");
    assert_eq!(names(&logs), [name]);
    assert_eq!(tail_lines(&latest, 1).unwrap(), ["hello"]);
    assert_eq!(fsutil::mode_of(&logs).unwrap(), Some(0o700));
}

#[test]
fn generation_paths() {
    let p = Path::new("/l/ollama.err.log");
    assert_eq!(generation_path(p, 1), Path::new("/l/ollama.err.log.1"));
    assert_eq!(generation_path(p, 7), Path::new("/l/ollama.err.log.7.zst"));
}
