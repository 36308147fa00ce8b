//! Incremental backups through the real `gardener` CLI in a temporary home: `kill -9` at seeded
//! random moments of incremental backups never leaves a listed backup that fails to verify or
//! restore; the newest state comes back with only GNU tar and python3 (the README's recipe); and a
//! source that disappears or is emptied fails every scheduled run, raises `backup_failed`, and
//! never lets prune delete the backups that hold its data.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::Instant;

use gardener_e2e::backup_home::{
    Home, MIB, PLAIN_TOOLS_RECIPE, Rng, Tree, names_ending, write_random, write_text,
};
use gardener_e2e::output_text;
use serde_json::Value;

/// Kills of incremental backups.
const KILLS: usize = 20;

/// Three large incompressible files and a few hundred small ones.
fn make_app_data(root: &Path, rng: &mut Rng) {
    for i in 0..3 {
        write_random(
            rng,
            &root.join(format!("adapters/a{i}.safetensors")),
            24 * MIB,
        );
    }
    for d in 0..10 {
        for f in 0..30 {
            let path = root.join(format!("projects/p{d:02}/c{f:03}.md"));
            let len = 200 + rng.below(8 * 1024);
            write_text(rng, &path, len);
        }
    }
}

/// About 1 % of the small files and one large file rewritten.
fn change_some(root: &Path, rng: &mut Rng) {
    for _ in 0..3 {
        let (d, f) = (rng.below(10), rng.below(30));
        let len = 200 + rng.below(8 * 1024);
        write_text(rng, &root.join(format!("projects/p{d:02}/c{f:03}.md")), len);
    }
    let i = rng.below(3);
    write_random(
        rng,
        &root.join(format!("adapters/a{i}.safetensors")),
        24 * MIB,
    );
}

fn listing(h: &Home) -> Vec<Value> {
    h.json(&["--json", "backup", "list"])["backups"]
        .as_array()
        .unwrap()
        .clone()
}

fn restore_to(h: &Home, id: &str) -> Tree {
    let out = h.root.join(format!("restored-{id}"));
    let _ = fs::remove_dir_all(&out);
    let to = out.to_string_lossy().into_owned();
    h.ok(&["backup", "restore", id, "--to", &to, "--yes"]);
    let tree = Tree::read(&out.join("app-data")).unwrap();
    fs::remove_dir_all(&out).unwrap();
    tree
}

#[test]
fn kill_9_during_incremental_backups_never_lists_one_that_fails() {
    let h = Home::new();
    let mut rng = Rng::new(7);
    make_app_data(&h.app_data(), &mut rng);
    let full = h.json(&["--json", "backup", "create"]);
    assert_eq!(full["backup"]["kind"], "full", "{full:#}");
    // How long an incremental backup of such a change takes.
    change_some(&h.app_data(), &mut rng);
    let t = Instant::now();
    let inc = h.json(&["--json", "backup", "create", "--no-verify"]);
    let took = t.elapsed();
    assert_eq!(inc["backup"]["kind"], "incremental", "{inc:#}");
    eprintln!("an incremental backup takes {took:.2?}");

    // The tree each backup recorded, by id.
    let mut recorded: BTreeMap<String, Tree> = BTreeMap::new();
    let first_inc = inc["backup"]["id"].as_str().unwrap().to_owned();
    recorded.insert(first_inc, Tree::read(&h.app_data()).unwrap());
    let log = h.root.join("create.log");
    for i in 0..KILLS {
        change_some(&h.app_data(), &mut rng);
        // Up to twice as long: some runs finish, most are killed at some point.
        let delay = rng.delay(took * 2);
        let before: Vec<String> = listing(&h)
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_owned())
            .collect();
        let mut child = h.spawn(&["backup", "create", "--no-verify"], &log);
        thread::sleep(delay);
        let finished = child.try_wait().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        let after = listing(&h);
        eprintln!(
            "[{i}] kill -9 after {delay:?} ({}); {} listed, partial files: {:?}",
            if finished.is_some() {
                "it had finished"
            } else {
                "while running"
            },
            after.len(),
            names_ending(&h.dest(), ".partial")
        );
        for b in &after {
            let id = b["id"].as_str().unwrap();
            assert!(
                b.get("missing").is_none() && b.get("unreadable").is_none(),
                "[{i}] {b:#}"
            );
            if !before.iter().any(|x| x == id) {
                // Made by the killed run, of the tree as it is now.
                h.assert_verifies(id);
                recorded.insert(id.to_owned(), Tree::read(&h.app_data()).unwrap());
            }
        }
    }
    // Every listed backup restores to the tree it recorded; the newest and a few others.
    let all = listing(&h);
    for b in all.iter().step_by(5) {
        let id = b["id"].as_str().unwrap();
        let Some(want) = recorded.get(id) else {
            continue;
        };
        let got = restore_to(&h, id);
        assert_eq!(got.differences(want, None), Vec::<String>::new(), "{id}");
    }
    // The next run builds on a backup that checks out.
    let next = h.json(&["--json", "backup", "create"]);
    assert_eq!(next["backup"]["verified"]["ok"], true, "{next:#}");
    let parent = next["backup"]["parent"].as_str().unwrap().to_owned();
    h.assert_verifies(&parent);
    assert!(names_ending(&h.dest(), ".partial").is_empty());
}

#[test]
fn the_newest_state_comes_back_with_only_gnu_tar_and_python() {
    let h = Home::new();
    let data = h.app_data();
    let mut rng = Rng::new(11);
    make_app_data(&data, &mut rng);
    std::os::unix::fs::symlink("projects/p00/c000.md", data.join("latest")).unwrap();
    h.ok(&["backup", "create"]);
    // Changed, added, removed, a whole directory removed, a symlink moved.
    change_some(&data, &mut rng);
    write_text(&mut rng, &data.join("projects/p03/new.md"), 900);
    fs::remove_file(data.join("projects/p01/c004.md")).unwrap();
    h.ok(&["backup", "create"]);
    fs::remove_dir_all(data.join("projects/p02")).unwrap();
    fs::remove_file(data.join("latest")).unwrap();
    std::os::unix::fs::symlink("projects/p03/new.md", data.join("latest")).unwrap();
    change_some(&data, &mut rng);
    let last = h.json(&["--json", "backup", "create"]);
    assert_eq!(last["backup"]["kind"], "incremental", "{last:#}");
    let id = last["backup"]["id"].as_str().unwrap();

    let out = h.root.join("plain");
    let run = Command::new("bash")
        .args(["-c", PLAIN_TOOLS_RECIPE, "recipe"])
        .arg(h.dest())
        .arg(id)
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", output_text(&run));
    let got = Tree::read(&out.join("app-data")).unwrap();
    let want = Tree::read(&data).unwrap();
    assert_eq!(got.differences(&want, None), Vec::<String>::new());
    // Files keep their modification times (to the second, as tar headers carry them).
    for (path, node) in &want.0 {
        if node.kind == "file" {
            assert_eq!(got.0[path].mtime.0, node.mtime.0, "{path}");
        }
    }
    let mut left: Vec<String> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["app-data", "gardener-config"],
        "the sources, no metadata"
    );
}

/// `gardener --json backup create --scheduled`, which must fail naming the source.
fn scheduled_run_fails(h: &Home, why: &str) {
    let out = h.run(&["--json", "backup", "create", "--scheduled"]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["code"], "source-missing", "{v:#}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("app-data: ~/.codebase-gardener ") && message.contains(why),
        "{message}"
    );
}

fn backup_failed_alert(h: &Home) -> Value {
    let s = h.json(&["--json", "status"]);
    s["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["rule"] == "backup_failed")
        .cloned()
        .unwrap_or_else(|| panic!("no backup_failed rule in {s:#}"))
}

#[test]
fn a_source_that_is_gone_or_emptied_fails_every_run_and_prune_keeps_what_held_it() {
    let h = Home::new();
    let data = h.app_data();
    let mut rng = Rng::new(5);
    for i in 0..20 {
        write_text(&mut rng, &data.join(format!("notes/n{i}.md")), 2000);
    }
    let mut held = Vec::new();
    for _ in 0..3 {
        let r = h.json(&["--json", "backup", "create", "--scheduled"]);
        held.push(r["backup"]["id"].as_str().unwrap().to_owned());
        change_some_notes(&data, &mut rng);
    }
    assert_eq!(backup_failed_alert(&h)["state"], "ok");

    // Moved away: 30 scheduled runs (each would prune) fail and delete nothing.
    let moved = h.home.join("moved-away");
    fs::rename(&data, &moved).unwrap();
    for _ in 0..30 {
        scheduled_run_fails(&h, "does not exist");
    }
    let ids: Vec<String> = listing(&h)
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_owned())
        .collect();
    let mut want = held.clone();
    want.reverse();
    assert_eq!(ids, want, "every backup that held the data is still there");
    assert_eq!(backup_failed_alert(&h)["state"], "firing");

    // Emptied (or an unmounted volume's mount point): the same.
    fs::create_dir_all(&data).unwrap();
    scheduled_run_fails(&h, "has no files, but the last backup");
    assert_eq!(listing(&h).len(), 3);

    // Back in place: the next run works and the alert resolves.
    fs::remove_dir(&data).unwrap();
    fs::rename(&moved, &data).unwrap();
    h.json(&["--json", "backup", "create", "--scheduled"]);
    assert_eq!(backup_failed_alert(&h)["state"], "ok");

    // A source marked optional may be missing.
    let config = fs::read_to_string(h.root.join("gardener.toml")).unwrap();
    let optional = config.replace(
        "[backup]\n",
        "[backup]\nsources = [{ name = \"app-data\", path = \"~/.codebase-gardener\" }, \
         { name = \"notes\", path = \"~/nowhere\", optional = true }]\n",
    );
    fs::write(h.root.join("gardener.toml"), optional).unwrap();
    let r = h.json(&["--json", "backup", "create"]);
    assert_eq!(r["backup"]["kind"], "full", "{r:#}");
}

fn change_some_notes(root: &Path, rng: &mut Rng) {
    let i = rng.below(20);
    write_text(rng, &root.join(format!("notes/n{i}.md")), 2100);
}

#[test]
fn a_source_on_a_volume_that_is_not_mounted_fails_the_backup() {
    if !gardener_e2e::namespace::enter("a_source_on_a_volume_that_is_not_mounted_fails_the_backup")
    {
        return;
    }
    let h = Home::new();
    let data = h.app_data();
    fs::create_dir_all(&data).unwrap();
    let mount = |args: &[&str]| {
        let out = Command::new("mount").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "mount {args:?}: {}",
            output_text(&out)
        );
    };
    let at = data.to_string_lossy().into_owned();
    mount(&["-t", "tmpfs", "-o", "size=64m", "gardener-test", &at]);
    let mut rng = Rng::new(9);
    for i in 0..10 {
        write_text(&mut rng, &data.join(format!("n{i}.md")), 1500);
    }
    h.json(&["--json", "backup", "create", "--scheduled"]);
    let out = Command::new("umount").arg(&at).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    scheduled_run_fails(&h, "has no files, but the last backup");
    assert_eq!(listing(&h).len(), 1);
    assert_eq!(backup_failed_alert(&h)["state"], "firing");
}
