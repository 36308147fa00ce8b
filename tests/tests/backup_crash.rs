//! Crash safety of backups, against the real `gardener` CLI in a temporary home (no service
//! manager involved): `kill -9` at seeded random moments of `backup create` never leaves a listed
//! backup that fails verification; `kill -9` during `backup restore` leaves the live data wholly as
//! it was or wholly the backup's, and `backup list` undoes a half-done swap without leaving
//! staging directories behind, also when two sibling subtrees share one staging directory.
//! Restore fidelity is proved in `backup_roundtrip`; the shared fixtures are in
//! `gardener_e2e::backup_home`.
//!
//! The kill delays come from a fixed seed (`GARDENER_CRASH_SEED` overrides it); every iteration
//! prints its delay and what it found, so a failure can be replayed.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use gardener_e2e::backup_home::{
    Home, MIB, Rng, Seen, Tree, blake3_file, classify, names_ending, stage_dirs_in,
    stray_stage_dirs, write_random, write_text,
};
use serde_json::Value;

/// Kills per crash test.
const KILLS: usize = 8;

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
        let mut child = h.spawn(&["backup", "create", "--no-verify", "--full"], &log);
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
