//! Copies to a directory target through the real CLI: the "drive" is a tmpfs mounted in a
//! private mount namespace (another volume than the data). A copy decrypts with Debian's `age`
//! and extracts with GNU tar; the whole home can go and come back from the copy with only the
//! config and the recovery key; an unmounted drive, a damaged or deleted copy, and a wrong or
//! missing key are each found and named, and nothing live is touched.
//!
//! Needs root (for the namespace) and `age`; without them each test prints a skip notice.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use gardener_e2e::backup_home::{
    Home, PLAIN_TOOLS_RECIPE, Rng, Tree, listed_ids, write_random, write_text,
};
use gardener_e2e::mounts::Mounted;
use gardener_e2e::{namespace, output_text};
use serde_json::Value;

fn can_run(test: &str) -> bool {
    if Command::new("age").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test} needs Debian's age"
        );
        println!("skipped: {test} needs age");
        return false;
    }
    namespace::enter(test)
}

/// A home whose config copies to a tmpfs mounted at `<root>/drive` (unmounted when the
/// third value drops, which must come before the home's).
fn home_with_drive() -> (Home, PathBuf, Mounted) {
    let h = Home::new();
    let drive = h.root.join("drive");
    let mounted = Mounted::tmpfs("256m", &drive);
    let config = h.root.join("gardener.toml");
    let mut text = fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[[backup.targets]]\nname = \"drive\"\nkind = \"dir\"\npath = \"{}\"\n",
        drive.join("gardener").display()
    ));
    fs::write(&config, text).unwrap();
    (h, drive, mounted)
}

fn make_data(h: &Home, seed: u64) {
    let mut rng = Rng::new(seed);
    let data = h.app_data();
    write_random(&mut rng, &data.join("adapters/a.safetensors"), 3 << 20);
    for i in 0..40 {
        write_text(
            &mut rng,
            &data.join(format!("projects/p{}/f{i}.md", i % 4)),
            3000,
        );
    }
    std::os::unix::fs::symlink("projects/p0/f0.md", data.join("latest")).unwrap();
}

fn key_file(h: &Home) -> PathBuf {
    h.root.join("xdg/config/gardener/backup-key.txt")
}

/// `age -d -i KEY COPY | tar --zstd -x -C OUT`.
fn decrypt_and_extract(key: &Path, copy: &Path, out: &Path) {
    fs::create_dir_all(out).unwrap();
    let run = Command::new("bash")
        .args([
            "-c",
            "set -o pipefail; age -d -i \"$1\" \"$2\" | tar --zstd -xf - -C \"$3\"",
            "x",
        ])
        .arg(key)
        .arg(copy)
        .arg(out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", output_text(&run));
}

#[test]
fn copies_decrypt_with_age_and_a_lost_home_comes_back_from_the_copy() {
    if !can_run("copies_decrypt_with_age_and_a_lost_home_comes_back_from_the_copy") {
        return;
    }
    let (h, drive, _mounted) = home_with_drive();
    make_data(&h, 1);
    let first = h.json(&["--json", "backup", "create"]);
    let full = first["backup"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        first["copies"][0]["report"]["copied"][0],
        full.as_str(),
        "{first:#}"
    );
    let copy = drive.join(format!("gardener/{full}.tar.zst.age"));
    let key = key_file(&h);
    let mode = fs::metadata(&key).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    // Stock tools read the full copy.
    let out = h.root.join("plain");
    decrypt_and_extract(&key, &copy, &out);
    let want = Tree::read(&h.app_data()).unwrap();
    assert_eq!(
        Tree::read(&out.join("app-data"))
            .unwrap()
            .differences(&want, None),
        Vec::<String>::new()
    );
    // Not readable without the key: the bytes are not a zstd stream.
    assert!(
        !fs::read(&copy)
            .unwrap()
            .starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
    );

    // An incremental backup copies with its chain; the copy is checked by reading it back.
    write_text(
        &mut Rng::new(9),
        &h.app_data().join("projects/p1/new.md"),
        500,
    );
    let second = h.json(&["--json", "backup", "create"]);
    let inc = second["backup"]["id"].as_str().unwrap().to_owned();
    assert_eq!(second["backup"]["kind"], "incremental");
    assert_eq!(
        second["copies"][0]["report"]["present"][0],
        full.as_str(),
        "{second:#}"
    );
    let checked = h.json(&["--json", "backup", "verify", "--target", "drive"]);
    assert_eq!(checked["problems"], serde_json::json!([]), "{checked:#}");
    assert_eq!(checked["needs"][0], full.as_str());
    let want = Tree::read(&h.app_data()).unwrap();

    // The incremental copy by stock tools too: age decrypts each copy of the chain, then the
    // README's recipe (GNU tar and python3) puts the newest state together.
    let plain = h.root.join("decrypted");
    fs::create_dir_all(&plain).unwrap();
    for id in [&full, &inc] {
        let run = Command::new("age")
            .args(["-d", "-i"])
            .arg(&key)
            .arg("-o")
            .arg(plain.join(format!("{id}.tar.zst")))
            .arg(drive.join(format!("gardener/{id}.tar.zst.age")))
            .output()
            .unwrap();
        assert!(run.status.success(), "{}", output_text(&run));
    }
    let out = h.root.join("plain-chain");
    let run = Command::new("bash")
        .args(["-c", PLAIN_TOOLS_RECIPE, "recipe"])
        .arg(&plain)
        .arg(&inc)
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", output_text(&run));
    assert_eq!(
        Tree::read(&out.join("app-data"))
            .unwrap()
            .differences(&want, None),
        Vec::<String>::new()
    );

    // The machine is lost: data, backups and state go; the config and the key were saved.
    let saved_key = fs::read(&key).unwrap();
    fs::remove_dir_all(h.app_data()).unwrap();
    fs::remove_dir_all(h.root.join("xdg")).unwrap();
    fs::remove_dir_all(&h.home).unwrap();
    fs::create_dir_all(&h.home).unwrap();
    fs::create_dir_all(key.parent().unwrap()).unwrap();
    fs::write(&key, saved_key).unwrap();
    fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let listed = h.json(&["--json", "backup", "list", "--target", "drive"]);
    assert_eq!(
        listed_ids(&listed),
        [inc.as_str(), full.as_str()],
        "{listed:#}"
    );
    h.ok(&["backup", "restore", &inc, "--target", "drive", "--yes"]);
    let back = Tree::read(&h.app_data()).unwrap();
    assert_eq!(back.differences(&want, None), Vec::<String>::new());
}

#[test]
fn an_unmounted_drive_fails_the_copy_and_the_backup_stands() {
    if !can_run("an_unmounted_drive_fails_the_copy_and_the_backup_stands") {
        return;
    }
    let (h, drive, _mounted) = home_with_drive();
    make_data(&h, 2);
    let out = Command::new("umount").arg(&drive).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let run = h.run(&["--json", "backup", "create"]);
    assert_eq!(
        run.status.code(),
        Some(3),
        "made but not copied: {}",
        output_text(&run)
    );
    let v: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(v["backup"]["verified"]["ok"], true, "{v:#}");
    assert_eq!(v["copies"][0]["code"], "refused", "{v:#}");
    let why = v["copies"][0]["error"].as_str().unwrap();
    assert!(
        why.contains("same volume") && why.contains("drive"),
        "{why}"
    );
    assert!(
        fs::read_dir(&drive).unwrap().next().is_none(),
        "nothing was written to the empty mount point"
    );
    let targets = h.json(&["--json", "backup", "targets"]);
    assert_eq!(targets["targets"][0]["reachable"], false, "{targets:#}");
    assert!(targets["targets"][0]["last_failure"]["error"].is_string());
}

#[test]
fn damage_deletion_and_a_wrong_or_missing_key_are_named_and_nothing_live_changes() {
    if !can_run("damage_deletion_and_a_wrong_or_missing_key_are_named_and_nothing_live_changes") {
        return;
    }
    let (h, drive, _mounted) = home_with_drive();
    make_data(&h, 3);
    let full = h.json(&["--json", "backup", "create"])["backup"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    write_text(
        &mut Rng::new(4),
        &h.app_data().join("projects/p2/more.md"),
        800,
    );
    let inc = h.json(&["--json", "backup", "create"])["backup"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let live = Tree::read(&h.app_data()).unwrap();
    let dir = drive.join("gardener");
    let verify = |id: &str| h.run(&["--json", "backup", "verify", id, "--target", "drive"]);

    // One byte flipped in the middle of the full copy.
    let full_copy = dir.join(format!("{full}.tar.zst.age"));
    let mut bytes = fs::read(&full_copy).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    fs::write(&full_copy, &bytes).unwrap();
    let out = verify(&full);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains(&format!("drive:{full}.tar.zst.age")),
        "{text}"
    );
    let out = verify(&inc);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("held by {full}")));
    // A restore from the damaged copy changes nothing live.
    fs::remove_file(h.dest().join(format!("{full}.tar.zst"))).unwrap();
    let restore = h.run(&["backup", "restore", &inc, "--target", "drive", "--yes"]);
    assert_ne!(restore.status.code(), Some(0), "{}", output_text(&restore));
    assert_eq!(
        Tree::read(&h.app_data()).unwrap().differences(&live, None),
        Vec::<String>::new()
    );

    // The copy deleted by hand.
    fs::remove_file(&full_copy).unwrap();
    let out = verify(&inc);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("held by {full}, which is missing")),
        "{}",
        output_text(&out)
    );

    // Another key, then none.
    let key = key_file(&h);
    let theirs = h.root.join("other-key.txt");
    let keygen = Command::new("age-keygen")
        .arg("-o")
        .arg(&theirs)
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{}", output_text(&keygen));
    fs::copy(&theirs, &key).unwrap();
    let out = verify(&inc);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["code"], "key", "{v:#}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not the one"),
        "{v:#}"
    );
    fs::remove_file(&key).unwrap();
    let out = verify(&inc);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no recovery key"),
        "{v:#}"
    );
    assert_eq!(
        Tree::read(&h.app_data()).unwrap().differences(&live, None),
        Vec::<String>::new()
    );
}
