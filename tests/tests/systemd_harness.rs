//! Checks the harness itself: the private systemd user manager runs and restarts the stand-ins.
//!
//! When the Gardener end-to-end test fails, this one tells whether the ground under it holds:
//! hand-written units, no Gardener involved.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::fs;
use std::time::Duration;

use gardener_e2e::{SystemdUser, free_port, http, namespace, stand_ins, wait_until};

#[test]
fn hand_written_units_run_and_restart_under_the_private_manager() {
    if !namespace::enter("hand_written_units_run_and_restart_under_the_private_manager") {
        return;
    }
    let systemd = SystemdUser::start();
    let (ollama_port, app_port) = (free_port(), free_port());
    let app = stand_ins::install_app(&systemd.home().join("bin"));
    fs::create_dir_all(systemd.unit_dir()).unwrap();
    fs::write(
        systemd.unit_dir().join("e2e-ollama.service"),
        format!(
            "[Service]\nExecStart={} serve\nEnvironment=OLLAMA_HOST=127.0.0.1:{ollama_port}\n\
             Restart=always\nRestartSec=2\n",
            env!("CARGO_BIN_EXE_stand-in-ollama")
        ),
    )
    .unwrap();
    fs::write(
        systemd.unit_dir().join("e2e-app.service"),
        format!(
            "[Service]\nExecStart={} serve --host 127.0.0.1 --port {app_port}\nRestart=on-failure\n",
            app.display()
        ),
    )
    .unwrap();
    let reload = systemd.systemctl(&["daemon-reload"]);
    assert!(
        reload.status.success(),
        "{}",
        gardener_e2e::output_text(&reload)
    );
    let start = systemd.systemctl(&["start", "e2e-ollama.service", "e2e-app.service"]);
    assert!(
        start.status.success(),
        "{}",
        gardener_e2e::output_text(&start)
    );

    let version = format!("http://127.0.0.1:{ollama_port}/api/version");
    let page = format!("http://127.0.0.1:{app_port}/");
    assert!(
        wait_until(Duration::from_secs(15), || http::answers(&version, 200)),
        "ollama up"
    );
    assert!(
        wait_until(Duration::from_secs(15), || http::answers(&page, 200)),
        "app up"
    );
    assert_eq!(http::get(&version).unwrap().json()["version"], "0.12.6");

    let first = systemd
        .main_pid("e2e-ollama.service")
        .expect("ollama has a MainPID");
    let pid = rustix::process::Pid::from_raw(i32::try_from(first).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
    let restarted = wait_until(Duration::from_secs(20), || {
        let props = systemd.show(
            "e2e-ollama.service",
            &["ActiveState", "MainPID", "NRestarts"],
        );
        props["ActiveState"] == "active"
            && props["MainPID"] != "0"
            && props["MainPID"] != first.to_string()
            && props["NRestarts"].parse::<u32>().unwrap_or(0) >= 1
    });
    assert!(
        restarted,
        "{:?}",
        systemd.show(
            "e2e-ollama.service",
            &["ActiveState", "MainPID", "NRestarts"]
        )
    );
    assert!(
        wait_until(Duration::from_secs(15), || http::answers(&version, 200)),
        "ollama back"
    );

    // SIGTERM must stop both stand-ins cleanly: systemd reports them inactive, not failed.
    let stop = systemd.systemctl(&["stop", "e2e-ollama.service", "e2e-app.service"]);
    assert!(
        stop.status.success(),
        "{}",
        gardener_e2e::output_text(&stop)
    );
    for unit in ["e2e-ollama.service", "e2e-app.service"] {
        assert_eq!(
            systemd.show(unit, &["ActiveState"])["ActiveState"],
            "inactive",
            "{unit}"
        );
    }
    assert!(!http::port_open(ollama_port) && !http::port_open(app_port));
}
