//! The lost machine, end to end on Linux under a real systemd user manager: the stand-ins run as
//! services, backups are made and copied (encrypted) to a "drive" on another volume (a tmpfs in a
//! private mount namespace), then the whole home goes but for `gardener.toml` and the recovery
//! key. Following the runbook's steps (test the target, list it, verify, install, restore,
//! install again) brings back every file of the app's data, and both services run healthy.
//!
//! Needs root (for the namespace) and `age`; without them the test prints a skip notice.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use gardener_e2e::backup_home::{Rng, Tree, listed_ids, write_random, write_text};
use gardener_e2e::machine::{Machine, toml_str};
use gardener_e2e::mounts::Mounted;
use gardener_e2e::{namespace, stand_ins};

fn app_data(m: &Machine) -> PathBuf {
    m.systemd.home().join(".codebase-gardener")
}

fn make_data(root: &Path, seed: u64) {
    let mut rng = Rng::new(seed);
    write_random(&mut rng, &root.join("adapters/a.safetensors"), 2 << 20);
    for i in 0..30 {
        write_text(
            &mut rng,
            &root.join(format!("projects/p{}/f{i}.md", i % 3)),
            2000,
        );
    }
    fs::write(root.join("memory.db"), vec![7u8; 200_000]).unwrap();
}

/// Everything in the home goes but the manager's own log (its file is still open).
fn lose_the_home(m: &Machine) {
    for entry in fs::read_dir(m.systemd.home()).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() == "systemd-user.log" {
            continue;
        }
        if path.is_dir() && !path.is_symlink() {
            fs::remove_dir_all(&path).unwrap();
        } else {
            fs::remove_file(&path).unwrap();
        }
    }
    for dir in [
        m.systemd.config_home(),
        m.systemd.data_home(),
        m.systemd.state_home(),
    ] {
        fs::create_dir_all(dir).unwrap();
    }
}

#[test]
fn a_lost_home_comes_back_from_its_copy_with_the_services_running() {
    let test = "a_lost_home_comes_back_from_its_copy_with_the_services_running";
    if Command::new("age").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "{test} needs age");
        println!("skipped: {test} needs age");
        return;
    }
    if !namespace::enter(test) {
        return;
    }
    let m = Machine::new(Path::new(env!("CARGO_BIN_EXE_stand-in-ollama")));
    let drive = tempfile::Builder::new()
        .prefix("gardener-e2e-drive-")
        .tempdir()
        .unwrap();
    let _mounted = Mounted::tmpfs("128m", drive.path());
    let mut toml = fs::read_to_string(&m.config).unwrap();
    toml.push_str(&format!(
        "\n[[backup.targets]]\nname = \"drive\"\nkind = \"dir\"\npath = {}\n",
        toml_str(drive.path().join("gardener"))
    ));
    fs::write(&m.config, toml).unwrap();

    make_data(&app_data(&m), 1);
    m.gardener_ok(&["install", "--yes"]);
    m.assert_healthy();
    let first = m.gardener_json(&["backup", "create", "--json"]);
    assert_eq!(first["copies"][0]["target"], "drive", "{first:#}");
    assert!(first["copies"][0]["error"].is_null(), "{first:#}");
    write_text(
        &mut Rng::new(2),
        &app_data(&m).join("projects/p1/new.md"),
        800,
    );
    fs::write(app_data(&m).join("memory.db"), vec![8u8; 200_000]).unwrap();
    let second = m.gardener_json(&["backup", "create", "--json"]);
    assert_eq!(second["backup"]["kind"], "incremental", "{second:#}");
    let newest = second["backup"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        second["copies"][0]["report"]["copied"][0],
        newest.as_str(),
        "{second:#}"
    );
    let want = Tree::read(&app_data(&m)).unwrap();

    // The machine is lost while running: the services die with it and its disk is gone. What
    // the user kept elsewhere: gardener.toml and the recovery key.
    let key = m.systemd.config_home().join("gardener/backup-key.txt");
    let saved_key = fs::read(&key).unwrap();
    let saved_config = fs::read(&m.config).unwrap();
    m.systemd
        .systemctl(&["stop", "gardener-app.service", "gardener-ollama.service"]);
    lose_the_home(&m);
    m.systemd.systemctl(&["daemon-reload"]);
    assert!(!app_data(&m).exists());

    // The new machine: the app is installed again, the two files are put back, 0600.
    stand_ins::install_app(&m.systemd.home().join("bin"));
    fs::create_dir_all(key.parent().unwrap()).unwrap();
    fs::write(&m.config, saved_config).unwrap();
    fs::write(&key, saved_key).unwrap();
    for file in [&m.config, &key] {
        fs::set_permissions(file, fs::Permissions::from_mode(0o600)).unwrap();
    }

    m.gardener_ok(&["backup", "targets", "test", "drive"]);
    let listing = m.gardener_json(&["backup", "list", "--target", "drive", "--json"]);
    assert_eq!(listed_ids(&listing)[0], newest, "{listing:#}");
    let checked = m.gardener_json(&["backup", "verify", &newest, "--target", "drive", "--json"]);
    assert_eq!(checked["problems"], serde_json::json!([]), "{checked:#}");
    m.gardener_ok(&["install", "--yes"]);
    m.assert_healthy();
    m.gardener_ok(&["backup", "restore", &newest, "--target", "drive", "--yes"]);
    m.gardener_ok(&["install", "--yes"]);
    m.assert_healthy();
    m.assert_active("gardener-app.service");
    m.assert_active("gardener-ollama.service");
    let back = Tree::read(&app_data(&m)).unwrap();
    assert_eq!(back.differences(&want, None), Vec::<String>::new());

    // The restored machine backs up and copies again, on from where it was.
    let next = m.gardener_json(&["backup", "create", "--json"]);
    assert_eq!(
        next["copies"][0]["report"]["copied"][0], next["backup"]["id"],
        "{next:#}"
    );
    let listing = m.gardener_json(&["backup", "list", "--target", "drive", "--json"]);
    assert_eq!(listed_ids(&listing).len(), 3, "{listing:#}");
}
