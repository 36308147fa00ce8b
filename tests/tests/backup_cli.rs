//! The `gardener backup` command line without services: exit codes (0 done, 1 failed, 2 usage),
//! a scheduled run pruning by the retention policy, `prune --dry-run` deleting nothing, and a
//! damaged archive reported by `verify` with exit 1.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use gardener_e2e::{gardener_bin, output_text};
use serde_json::Value;
use tempfile::TempDir;

struct Home {
    dir: TempDir,
    config: PathBuf,
}

impl Home {
    fn new(extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join(".codebase-gardener");
        fs::create_dir_all(data.join("projects")).unwrap();
        fs::write(data.join("projects/notes.md"), "notes\n").unwrap();
        let config = dir.path().join("gardener.toml");
        fs::write(
            &config,
            format!("[backup]\npause_app = false\ninclude_ollama_manifests = false\n{extra}"),
        )
        .unwrap();
        Self { dir, config }
    }

    fn run(&self, args: &[&str]) -> Output {
        let home = self.dir.path();
        let out = std::process::Command::new(gardener_bin())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_STATE_HOME", home.join(".local/state"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .output()
            .unwrap();
        eprintln!("$ gardener {}\n{}", args.join(" "), output_text(&out));
        out
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(out.status.success(), "{}", output_text(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn ids(&self) -> Vec<String> {
        gardener_e2e::backup_home::listed_ids(&self.json(&["--json", "backup", "list"]))
    }
}

#[test]
fn a_scheduled_run_prunes_and_prune_dry_run_deletes_nothing() {
    // Full backups only: none needs another, so the policy alone decides.
    let h = Home::new(
        "full_every = \"always\"\n[backup.retention]\nkeep_last = 2\nkeep_daily = 0\n\
         keep_weekly = 0\nkeep_monthly = 0\n",
    );
    for _ in 0..3 {
        let r = h.json(&["--json", "backup", "create", "--no-verify"]);
        assert_eq!(
            r["pruned"],
            serde_json::json!([]),
            "by hand nothing is pruned"
        );
    }
    let before = h.ids();
    assert_eq!(before.len(), 3);

    let dry = h.json(&["--json", "backup", "prune", "--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["removed"].as_array().unwrap().len(), 1, "{dry:#}");
    assert_eq!(h.ids(), before, "a dry run deletes nothing");

    // The timer's run: verified, then the policy keeps the two newest.
    let r = h.json(&["--json", "backup", "create", "--scheduled"]);
    let newest = r["backup"]["id"].as_str().unwrap().to_owned();
    assert_eq!(r["backup"]["scheduled"], true, "{r:#}");
    let pruned: Vec<&str> = r["pruned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(pruned, [before[1].as_str(), before[2].as_str()], "{r:#}");
    assert_eq!(h.ids(), [newest, before[0].clone()]);
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

#[test]
fn exit_codes_say_failed_or_usage_and_verify_names_the_damage() {
    let h = Home::new("");
    let r = h.json(&["--json", "backup", "create"]);
    let id = r["backup"]["id"].as_str().unwrap().to_owned();
    let path = PathBuf::from(r["backup"]["path"].as_str().unwrap());

    // Restoring needs --yes without a terminal: a usage error, nothing changed.
    let out = h.run(&["backup", "restore", &id]);
    assert_eq!(code(&out), Some(2), "{}", output_text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    let out = h.run(&["backup", "verify", "gardener-19990101"]);
    assert_eq!(code(&out), Some(2), "unknown id is a usage error");
    let out = h.run(&[
        "backup",
        "restore",
        &id,
        "--only",
        "app-data/nope",
        "--dry-run",
    ]);
    assert_eq!(code(&out), Some(2), "{}", output_text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not in this backup"));

    // A copy with one byte changed near the end (the checksums and the last frame).
    let bad = h.dir.path().join("damaged.tar.zst");
    let mut bytes = fs::read(&path).unwrap();
    let at = bytes.len() - 40;
    bytes[at] ^= 0x55;
    fs::write(&bad, &bytes).unwrap();
    let out = h.run(&["--json", "backup", "verify", bad.to_str().unwrap()]);
    assert_eq!(code(&out), Some(1), "{}", output_text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        !report["problems"].as_array().unwrap().is_empty(),
        "{report:#}"
    );
    let out = h.run(&["backup", "verify", &id]);
    assert_eq!(code(&out), Some(0), "the original is fine");

    // Cut short: verify and restore both refuse, and the live data stays.
    let cut = h.dir.path().join("cut.tar.zst");
    let whole = fs::read(&path).unwrap();
    fs::write(&cut, &whole[..whole.len() / 2]).unwrap();
    let out = h.run(&["backup", "restore", cut.to_str().unwrap(), "--yes"]);
    assert_eq!(code(&out), Some(1), "{}", output_text(&out));
    let notes = Path::new(h.dir.path()).join(".codebase-gardener/projects/notes.md");
    assert_eq!(fs::read_to_string(notes).unwrap(), "notes\n");
}

#[test]
fn a_source_reached_through_a_symlink_is_restored_where_it_really_is() {
    let h = Home::new("");
    let home = h.dir.path();
    // The app's data lives on another disk, linked from the home directory.
    let real = home.join("disk2/codebase-gardener");
    fs::create_dir_all(real.parent().unwrap()).unwrap();
    fs::rename(home.join(".codebase-gardener"), &real).unwrap();
    std::os::unix::fs::symlink(&real, home.join(".codebase-gardener")).unwrap();
    let r = h.json(&["--json", "backup", "create"]);
    let id = r["backup"]["id"].as_str().unwrap().to_owned();

    fs::write(real.join("projects/notes.md"), "changed\n").unwrap();
    let out = h.json(&["--json", "backup", "restore", &id, "--yes"]);
    assert_eq!(out["restored"][0], "~/disk2/codebase-gardener", "{out:#}");
    let link = fs::symlink_metadata(home.join(".codebase-gardener")).unwrap();
    assert!(link.file_type().is_symlink(), "the link is kept");
    assert_eq!(
        fs::read_to_string(home.join(".codebase-gardener/projects/notes.md")).unwrap(),
        "notes\n"
    );
}
