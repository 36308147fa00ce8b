//! Copies to an S3 target through the real CLI, speaking signed S3 over TCP to a real
//! S3-compatible server (`s3s-fs`) started by the test: copy, list, verify and restore; a server
//! killed in the middle of a multipart upload leaves no object, and the next run completes it;
//! wrong credentials give one clear error; the secret never shows in any output.
//!
//! Needs `s3s-fs` (scripts/install-deps.sh --test installs it); without it each test is skipped.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::thread;
use std::time::{Duration, Instant};

use gardener_e2e::backup_home::{Home, Rng, Tree, write_random, write_text};
use gardener_e2e::output_text;
use gardener_e2e::s3::{self, S3Server};
use serde_json::Value;

fn can_run(test: &str) -> bool {
    if s3::binary().is_none() {
        assert!(std::env::var_os("CI").is_none(), "{test} needs s3s-fs");
        println!("skipped: {test} needs s3s-fs (scripts/install-deps.sh --test)");
        return false;
    }
    true
}

/// A home copying to bucket `gardener`, prefix `mini/`, with credentials beside its config.
fn home_with_bucket(secret: &str) -> (Home, S3Server) {
    let h = Home::new();
    let server = S3Server::start(&h.root.join("s3"), "gardener");
    let creds = h.root.join("offsite.credentials");
    fs::write(
        &creds,
        format!(
            "access_key_id = \"{}\"\nsecret_access_key = \"{secret}\"\n",
            s3::ACCESS_KEY
        ),
    )
    .unwrap();
    fs::set_permissions(&creds, fs::Permissions::from_mode(0o600)).unwrap();
    let config = h.root.join("gardener.toml");
    let mut text = fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[[backup.targets]]\nname = \"offsite\"\nkind = \"s3\"\nendpoint = \"{}\"\nbucket = \
         \"gardener\"\nprefix = \"mini/\"\ncredentials = \"offsite.credentials\"\n",
        server.endpoint()
    ));
    fs::write(&config, text).unwrap();
    (h, server)
}

fn make_data(h: &Home, big: u64) {
    let mut rng = Rng::new(31);
    write_random(&mut rng, &h.app_data().join("adapters/a.safetensors"), big);
    for i in 0..20 {
        write_text(&mut rng, &h.app_data().join(format!("notes/n{i}.md")), 1500);
    }
}

/// No output of the command may hold the secret.
fn assert_no_secret(out: &std::process::Output) {
    let all = output_text(out);
    assert!(!all.contains(s3::SECRET), "the secret leaked:\n{all}");
}

#[test]
fn copies_go_to_s3_and_come_back() {
    if !can_run("copies_go_to_s3_and_come_back") {
        return;
    }
    let (h, server) = home_with_bucket(s3::SECRET);
    make_data(&h, 1 << 20);
    let full = h.json(&["--json", "backup", "create"]);
    write_text(&mut Rng::new(2), &h.app_data().join("notes/new.md"), 700);
    let made = h.run(&["--json", "backup", "create"]);
    assert_no_secret(&made);
    let v: Value = serde_json::from_slice(&made.stdout).unwrap();
    let id = v["backup"]["id"].as_str().unwrap().to_owned();
    assert_eq!(v["copies"][0]["report"]["copied"][0], id.as_str(), "{v:#}");
    assert_eq!(
        v["copies"][0]["report"]["present"][0], full["backup"]["id"],
        "{v:#}"
    );
    assert!(
        server
            .root()
            .join(format!("gardener/mini/{id}.tar.zst.age"))
            .is_file()
    );
    for args in [
        &["--json", "backup", "targets"][..],
        &["--json", "backup", "list", "--target", "offsite"],
        &["--json", "config", "show"],
        &["config", "show"],
    ] {
        let out = h.run(args);
        assert!(out.status.success(), "{}", output_text(&out));
        assert_no_secret(&out);
    }
    let checked = h.json(&["--json", "backup", "verify", "--target", "offsite"]);
    assert_eq!(checked["problems"], serde_json::json!([]), "{checked:#}");
    let want = Tree::read(&h.app_data()).unwrap();
    fs::remove_dir_all(h.dest()).unwrap();
    let out = h.root.join("out");
    let to = out.to_string_lossy().into_owned();
    h.ok(&[
        "backup", "restore", &id, "--target", "offsite", "--to", &to, "--yes",
    ]);
    let got = Tree::read(&out.join("app-data")).unwrap();
    assert_eq!(got.differences(&want, None), Vec::<String>::new());
}

#[test]
fn a_server_killed_mid_upload_leaves_no_object_and_the_next_run_completes() {
    if !can_run("a_server_killed_mid_upload_leaves_no_object_and_the_next_run_completes") {
        return;
    }
    let (h, mut server) = home_with_bucket(s3::SECRET);
    make_data(&h, 48 << 20);
    let id = h.json(&["--json", "backup", "create", "--no-verify"])["backup"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let object = server
        .root()
        .join(format!("gardener/mini/{id}.tar.zst.age"));
    fs::remove_file(&object).unwrap();
    let log = h.root.join("copy.log");
    let mut child = h.spawn(&["backup", "copy", "--target", "offsite"], &log);
    let deadline = Instant::now() + Duration::from_secs(180);
    while server.parts_in_progress() == 0 {
        assert!(
            Instant::now() < deadline && child.try_wait().unwrap().is_none(),
            "no part was uploaded: {}",
            fs::read_to_string(&log).unwrap_or_default()
        );
        thread::sleep(Duration::from_millis(5));
    }
    server.kill();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the copy cannot have finished");
    assert!(
        !object.exists(),
        "a cut-off upload must not leave an object"
    );
    server.restart();
    let listed = h.json(&["--json", "backup", "list", "--target", "offsite"]);
    assert_eq!(listed["backups"], serde_json::json!([]), "{listed:#}");
    let again = h.json(&["--json", "backup", "copy", "--target", "offsite"]);
    assert_eq!(
        again["copies"][0]["report"]["copied"][0],
        id.as_str(),
        "{again:#}"
    );
    let checked = h.json(&["--json", "backup", "verify", "--target", "offsite"]);
    assert_eq!(checked["problems"], serde_json::json!([]), "{checked:#}");
}

#[test]
fn wrong_credentials_give_one_clear_error() {
    if !can_run("wrong_credentials_give_one_clear_error") {
        return;
    }
    let wrong = "not-the-secret-at-all-1234";
    let (h, _server) = home_with_bucket(wrong);
    make_data(&h, 1 << 20);
    let out = h.run(&["--json", "backup", "targets", "test", "offsite"]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["code"], "denied", "{v:#}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("offsite: not allowed: the service refused the credentials"),
        "{message}"
    );
    assert!(!output_text(&out).contains(wrong), "the secret leaked");
    let made = h.run(&["--json", "backup", "create"]);
    assert_eq!(made.status.code(), Some(3), "{}", output_text(&made));
    assert!(!output_text(&made).contains(wrong));
    // A credentials file others can read is refused before anything is sent.
    let creds = h.root.join("offsite.credentials");
    fs::set_permissions(&creds, fs::Permissions::from_mode(0o644)).unwrap();
    let out = h.run(&["--json", "backup", "targets", "test", "offsite"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["code"], "config", "{v:#}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("chmod 600"),
        "{v:#}"
    );
}
