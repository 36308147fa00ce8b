//! Starting the windows' processes. Each window is shown by a process of
//! its own (`gardener-app --window setup|dashboard`) that exits when its
//! window closes, so the menu-bar process never loads a webview: WebKitGTK
//! keeps its network process and much of its memory for as long as the
//! process that used it lives. When a window's process ends, its `ended`
//! callback is called.

use std::process::{Child, Command, Stdio};

use crate::args::Window;
use crate::window::{DASHBOARD, SETUP, View};
use crate::window_pipe::{self, Ask, Feed};

/// Starts the setup window's process; returns its pid. `ended` is called
/// with it when the process has ended.
pub fn start_setup(ended: impl FnOnce(u32) + Send + 'static) -> std::io::Result<u32> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["--window", SETUP]).stdin(Stdio::null());
    software_rendering_manners(&mut cmd);
    let child = cmd.spawn()?;
    let pid = child.id();
    wait_for(child, Window::Setup, ended);
    Ok(pid)
}

/// Starts the dashboard's process at `view`, fed through its pipe; returns
/// its pid and the pipe's feed. What it asks goes to `asked`; `ended` is
/// called with its pid when the process has ended.
pub fn start_dashboard(
    view: View,
    asked: impl Fn(Ask) + Send + 'static,
    ended: impl FnOnce(u32) + Send + 'static,
) -> std::io::Result<(u32, Feed)> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["--window", DASHBOARD, "--view", view.name()])
        .env(window_pipe::ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    software_rendering_manners(&mut cmd);
    let mut child = cmd.spawn()?;
    let pipes = (child.stdin.take(), child.stdout.take());
    let feed = match pipes {
        (Some(stdin), Some(stdout)) => window_pipe::connect(stdin, stdout, asked),
        _ => Err(std::io::Error::other(
            "the dashboard's process has no pipes",
        )),
    };
    match feed {
        Ok(feed) => {
            let pid = child.id();
            wait_for(child, Window::Dashboard, ended);
            Ok((pid, feed))
        }
        Err(error) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(error)
        }
    }
}

/// WebKitGTK composites through OpenGL; without a GPU (virtual machines,
/// remote desktops) that is emulated, and each frame of the dashboard took
/// ~90 ms and its first paint ~550 ms. Pages this simple need no
/// compositing; drawing without it cut the first paint by a third. A
/// setting the person made is kept.
fn software_rendering_manners(cmd: &mut Command) {
    const NO_COMPOSITING: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";
    if cfg!(target_os = "linux") && std::env::var_os(NO_COMPOSITING).is_none() {
        cmd.env(NO_COMPOSITING, "1");
    }
}

/// Waits for a window's process on a thread of its own, then calls `ended`
/// with its pid.
fn wait_for(mut child: Child, window: Window, ended: impl FnOnce(u32) + Send + 'static) {
    let name = window.name();
    let pid = child.id();
    let waiter = std::thread::Builder::new()
        .name(format!("{name}-window"))
        .spawn(move || {
            match child.wait() {
                Ok(status) if !status.success() => {
                    tracing::warn!(%status, "the {name} window's process failed");
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "cannot wait for the {name} window"),
            }
            ended(pid);
        });
    if let Err(error) = waiter {
        tracing::error!(%error, "cannot watch the {name} window's process");
    }
}
