//! End to end on Linux with the stand-ins as real systemd user services: a backup pauses the
//! app and starts it again, `status` reports the backup, a restore swaps the data with the
//! services stopped and started healthy, and a restore whose data the app cannot start with is
//! rolled back. On an XFS volume (made on a loop device) the app is paused only for the clone.
//!
//! Needs root (for the private namespaces); without it each test prints a skip notice.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use gardener_e2e::machine::Machine;
use gardener_e2e::mounts::Mounted;
use gardener_e2e::namespace;
use serde_json::Value;

fn machine(extra: &str) -> Machine {
    let machine = Machine::new(Path::new(env!("CARGO_BIN_EXE_stand-in-ollama")));
    let mut toml = fs::read_to_string(&machine.config).unwrap();
    toml.push_str(extra);
    fs::write(&machine.config, toml).unwrap();
    machine
}

fn app_data(m: &Machine) -> PathBuf {
    m.systemd.home().join(".codebase-gardener")
}

fn write_tree(root: &Path, marker: &str) {
    fs::create_dir_all(root.join("projects/demo")).unwrap();
    fs::write(
        root.join("projects/demo/notes.md"),
        format!("notes {marker}\n"),
    )
    .unwrap();
    fs::write(root.join("memory.db"), vec![marker.len() as u8; 100_000]).unwrap();
}

#[test]
fn a_backup_pauses_the_app_starts_it_again_and_shows_in_status() {
    if !namespace::enter("a_backup_pauses_the_app_starts_it_again_and_shows_in_status") {
        return;
    }
    let m = machine("");
    write_tree(&app_data(&m), "one");
    m.gardener_ok(&["install", "--yes"]);
    m.assert_healthy();
    let before = m.assert_active("gardener-app.service");
    let ollama_before = m.assert_active("gardener-ollama.service");

    let report = m.gardener_json(&["backup", "create", "--json"]);
    let paused = report["app_paused_secs"]
        .as_f64()
        .expect("the app was paused");
    assert!(paused > 0.0 && paused < 30.0, "{report:#}");
    assert_eq!(report["backup"]["verified"]["ok"], true, "{report:#}");
    let files = report["backup"]["files"].as_u64().unwrap();
    // Two data files, gardener.toml, and the two unit files plus the timer's.
    assert!(files >= 5, "{report:#}");

    m.assert_healthy();
    let after = m.assert_active("gardener-app.service");
    assert_ne!(before, after, "the app was stopped and started again");
    assert_eq!(
        m.assert_active("gardener-ollama.service"),
        ollama_before,
        "Ollama is left alone by a backup"
    );

    let s = m.gardener_json(&["status", "--json"]);
    let at = s["last_backup_at"].as_u64().expect("last_backup_at set");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(now.abs_diff(at) < 120, "{s:#}");
    assert!(s["last_backup_error"].is_null(), "{s:#}");
    let human = String::from_utf8(m.gardener_ok(&["status"]).stdout).unwrap();
    assert!(human.contains("Backup   last just now"), "{human}");

    let list = m.gardener_json(&["backup", "list", "--json"]);
    let names: Vec<&str> = list["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [report["backup"]["id"].as_str().unwrap()],
        "{list:#}"
    );
}

fn restore(m: &Machine, id: &str) -> std::process::Output {
    m.gardener(&["backup", "restore", id, "--yes", "--json"])
}

#[test]
fn restore_swaps_with_services_stopped_and_rolls_back_when_the_app_cannot_start() {
    if !namespace::enter(
        "restore_swaps_with_services_stopped_and_rolls_back_when_the_app_cannot_start",
    ) {
        return;
    }
    let m = machine("\n[backup]\npause_app = false\n");
    let data = app_data(&m);
    write_tree(&data, "good");
    m.gardener_ok(&["install", "--yes"]);
    m.assert_healthy();
    let good = m.gardener_json(&["backup", "create", "--json"]);
    let good_id = good["backup"]["id"].as_str().unwrap().to_owned();

    // A backup of data the app refuses to start with (taken while it runs, so it keeps running).
    fs::write(data.join("refuse-to-start"), "").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let bad = m.gardener_json(&["backup", "create", "--json"]);
    let bad_id = bad["backup"]["id"].as_str().unwrap().to_owned();
    fs::remove_file(data.join("refuse-to-start")).unwrap();

    // Newer live data, then the good backup comes back.
    write_tree(&data, "newer");
    let app_pid = m.assert_active("gardener-app.service");
    let out = restore(&m, &good_id);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["services"],
        serde_json::json!(["ollama", "app"]),
        "{report:#}"
    );
    assert_eq!(
        fs::read_to_string(data.join("projects/demo/notes.md")).unwrap(),
        "notes good\n"
    );
    m.assert_healthy();
    assert_ne!(
        m.assert_active("gardener-app.service"),
        app_pid,
        "restarted"
    );
    let safety = report["safety_copies"][0].as_str().unwrap().replacen(
        '~',
        &m.systemd.home().display().to_string(),
        1,
    );
    assert_eq!(
        fs::read_to_string(Path::new(&safety).join("projects/demo/notes.md")).unwrap(),
        "notes newer\n",
        "the replaced data is kept"
    );

    // The bad backup: the app fails its health check, and the good data comes back.
    let mut toml = fs::read_to_string(&m.config).unwrap();
    toml = toml.replace("health_timeout_secs = 30", "health_timeout_secs = 6");
    fs::write(&m.config, toml).unwrap();
    let out = restore(&m, &bad_id);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(err["error"]["code"], "rolled-back", "{err:#}");
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains("the previous data is back"), "{message}");
    assert!(
        !data.join("refuse-to-start").exists(),
        "rolled back to the good data"
    );
    assert_eq!(
        fs::read_to_string(data.join("projects/demo/notes.md")).unwrap(),
        "notes good\n"
    );
    m.assert_healthy();
    assert!(
        !m.systemd
            .home()
            .join(".local/share/gardener/restore-journal.json")
            .exists(),
        "journal removed"
    );
}

/// Makes an XFS file system (reflink on) on a loop device and mounts it at `at`.
fn mount_xfs(work: &Path, at: &Path) -> Result<Mounted, String> {
    let image = work.join("xfs.img");
    let run = |cmd: &mut Command| -> Result<(), String> {
        let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr)))
        }
    };
    run(Command::new("truncate").arg("-s").arg("512M").arg(&image))?;
    run(Command::new("mkfs.xfs")
        .args(["-q", "-m", "reflink=1"])
        .arg(&image))?;
    fs::create_dir_all(at).map_err(|e| e.to_string())?;
    Mounted::new(
        &[OsStr::new("-o"), OsStr::new("loop"), image.as_os_str()],
        at,
    )
}

#[test]
fn on_xfs_the_app_is_paused_only_while_its_data_is_cloned() {
    if !namespace::enter("on_xfs_the_app_is_paused_only_while_its_data_is_cloned") {
        return;
    }
    let m = machine("");
    let volume = m.systemd.home().join("xfs");
    // Declared after `m`, so unmounted before `m` removes the home holding its image.
    let _mounted = match mount_xfs(m.systemd.home(), &volume) {
        Ok(mounted) => mounted,
        Err(why) => {
            assert!(
                std::env::var_os("GARDENER_REQUIRE_XFS").is_none(),
                "GARDENER_REQUIRE_XFS is set but no XFS volume could be made: {why}"
            );
            eprintln!("skipped: cannot make an XFS volume here: {why}");
            return;
        }
    };
    let data = volume.join("codebase-gardener");
    let mut toml = fs::read_to_string(&m.config).unwrap();
    toml.push_str(&format!(
        "\n[app.env]\nCODEBASE_GARDENER_DATA_DIR = {dir}\n\n[backup]\nsources = [{{ name = \"app-data\", path = {dir} }}]\n",
        dir = gardener_e2e::machine::toml_str(&data)
    ));
    fs::write(&m.config, toml).unwrap();
    write_tree(&data, "xfs");
    // 200 MB of data that takes far longer to compress than to clone.
    let chunk: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for n in 0..200 {
        fs::write(data.join(format!("blob-{n}.bin")), &chunk).unwrap();
    }
    m.gardener_ok(&["install", "--yes"]);
    m.assert_healthy();
    let report = m.gardener_json(&["backup", "create", "--json", "--no-verify"]);
    assert_eq!(report["cloned"], true, "{report:#}");
    let paused = report["app_paused_secs"].as_f64().unwrap();
    let total = report["seconds"].as_f64().unwrap();
    eprintln!("XFS: app paused {paused:.3} s of a {total:.3} s backup");
    assert!(paused < 2.0, "paused {paused} s: {report:#}");
    let leftovers: Vec<_> = fs::read_dir(&volume)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with(".gardener-snapshot"))
        .collect();
    assert!(leftovers.is_empty(), "clone removed: {leftovers:?}");
    m.assert_healthy();
    let id = report["backup"]["id"].as_str().unwrap();
    let verify = m.gardener_json(&["backup", "verify", id, "--json"]);
    assert_eq!(verify["problems"], serde_json::json!([]), "{verify:#}");
    assert_eq!(verify["files"], report["backup"]["files"], "{verify:#}");
}
