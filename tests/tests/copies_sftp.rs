//! Copies to an SFTP target through the real CLI and the system's `sftp`, against a private
//! OpenSSH server on 127.0.0.1 started by the test: copy, list, verify and restore; a server
//! whose host key changed is refused; a server killed in the middle of a copy leaves nothing
//! that looks complete, and the next run completes it.
//!
//! Needs root (sshd in a private namespace) and Debian's openssh-server and openssh-client.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::fs;
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use gardener_e2e::backup_home::{Home, Rng, Tree, write_random, write_text};
use gardener_e2e::sshd::{self, Sshd};
use gardener_e2e::{namespace, output_text};
use serde_json::Value;

fn can_run(test: &str) -> bool {
    if let Some(missing) = sshd::missing() {
        assert!(std::env::var_os("CI").is_none(), "{test} needs {missing}");
        println!("skipped: {test} needs {missing}");
        return false;
    }
    namespace::enter(test)
}

/// A home copying to `sftp://root@127.0.0.1:PORT/<root>/remote`, and the server.
fn home_with_server() -> (Home, Sshd, PathBuf) {
    let h = Home::new();
    let sshd = Sshd::start(&h.root.join("sshd"));
    let remote = h.root.join("remote");
    let config = h.root.join("gardener.toml");
    let mut text = fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[[backup.targets]]\nname = \"server\"\nkind = \"sftp\"\nurl = \"{}\"\nssh_config = \"{}\"\n",
        sshd.url(&remote),
        sshd.client_config().display()
    ));
    fs::write(&config, text).unwrap();
    (h, sshd, remote)
}

fn make_data(h: &Home, big: u64) {
    let mut rng = Rng::new(21);
    write_random(&mut rng, &h.app_data().join("adapters/a.safetensors"), big);
    for i in 0..30 {
        write_text(&mut rng, &h.app_data().join(format!("notes/n{i}.md")), 2000);
    }
}

#[test]
fn copies_go_over_sftp_and_come_back() {
    if !can_run("copies_go_over_sftp_and_come_back") {
        return;
    }
    let (h, sshd, remote) = home_with_server();
    make_data(&h, 2 << 20);
    let tested = h.json(&["--json", "backup", "targets", "test", "server"]);
    assert_eq!(tested["target"], "server", "{tested:#}");
    let made = h.json(&["--json", "backup", "create"]);
    let id = made["backup"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        made["copies"][0]["report"]["copied"][0],
        id.as_str(),
        "{made:#}\n{}",
        sshd.log()
    );
    assert!(remote.join(format!("{id}.tar.zst.age")).is_file());
    let listed = h.json(&["--json", "backup", "list", "--target", "server"]);
    assert_eq!(listed["backups"][0]["id"], id.as_str(), "{listed:#}");
    let checked = h.json(&["--json", "backup", "verify", "--target", "server"]);
    assert_eq!(checked["problems"], serde_json::json!([]), "{checked:#}");
    let want = Tree::read(&h.app_data()).unwrap();
    fs::remove_dir_all(h.dest()).unwrap();
    let out = h.root.join("out");
    let to = out.to_string_lossy().into_owned();
    h.ok(&[
        "backup", "restore", &id, "--target", "server", "--to", &to, "--yes",
    ]);
    let got = Tree::read(&out.join("app-data")).unwrap();
    assert_eq!(got.differences(&want, None), Vec::<String>::new());
}

#[test]
fn a_changed_host_key_is_refused() {
    if !can_run("a_changed_host_key_is_refused") {
        return;
    }
    let (h, mut sshd, remote) = home_with_server();
    make_data(&h, 1 << 20);
    sshd.change_host_key();
    let run = h.run(&["--json", "backup", "create"]);
    assert_eq!(run.status.code(), Some(3), "{}", output_text(&run));
    let v: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(v["copies"][0]["code"], "refused", "{v:#}");
    assert!(
        v["copies"][0]["error"]
            .as_str()
            .unwrap()
            .contains("host key"),
        "{v:#}"
    );
    assert!(!remote.exists() || fs::read_dir(&remote).unwrap().next().is_none());
}

#[test]
fn a_server_killed_mid_copy_leaves_no_complete_looking_copy_and_the_next_run_completes() {
    if !can_run(
        "a_server_killed_mid_copy_leaves_no_complete_looking_copy_and_the_next_run_completes",
    ) {
        return;
    }
    let (h, mut sshd, remote) = home_with_server();
    make_data(&h, 64 << 20);
    let made = h.json(&["--json", "backup", "create", "--no-verify"]);
    let id = made["backup"]["id"].as_str().unwrap().to_owned();
    let copy = remote.join(format!("{id}.tar.zst.age"));
    let partial = remote.join(format!("{id}.tar.zst.age.partial"));
    fs::remove_file(&copy).unwrap();
    let log = h.root.join("copy.log");
    let mut child = h.spawn(&["backup", "copy", "--target", "server"], &log);
    // Kill the server once the upload has begun (it takes well under a second on loopback,
    // so look often).
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    let began = loop {
        if fs::metadata(&partial).is_ok_and(|m| m.len() > 0) {
            break true;
        }
        if std::time::Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            break false;
        }
        thread::sleep(Duration::from_millis(2));
    };
    assert!(
        began,
        "the upload never started: {}",
        fs::read_to_string(&log).unwrap_or_default()
    );
    sshd.kill();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the copy cannot have finished");
    assert!(!copy.exists(), "an interrupted copy must not look complete");
    thread::sleep(Duration::from_millis(200));
    sshd.restart();
    let again = h.json(&["--json", "backup", "copy", "--target", "server"]);
    assert_eq!(
        again["copies"][0]["report"]["copied"][0],
        id.as_str(),
        "{again:#}"
    );
    assert!(copy.is_file() && !partial.exists());
    let checked = h.json(&["--json", "backup", "verify", "--target", "server"]);
    assert_eq!(checked["problems"], serde_json::json!([]), "{checked:#}");
}
