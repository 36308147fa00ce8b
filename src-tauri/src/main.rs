//! `gardener-app`: the menu-bar app. It lives in the tray with a native menu
//! kept current by core's monitor, raises notifications for its alerts, and
//! opens the setup and dashboard windows only when asked, each in a process
//! of its own (`--window setup|dashboard`); all behaviour is in
//! `gardener-core`, this binary only wires it to Tauri.

// Release builds on Windows would otherwise open a console window next to the tray.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod args;
mod dashboard;
mod ipc;
mod lock;
mod menu_bar;
mod notifications;
mod tray;
mod window;
mod window_pipe;
mod window_process;

use std::io::IsTerminal;
use std::process::ExitCode;

use gardener_core::Platform;
use tauri::{Manager, RunEvent};
use tracing_subscriber::EnvFilter;

use crate::args::{Args, Window};
use crate::menu_bar::{Event, Events};
use crate::window::View;

/// How long quitting waits for the monitor to stop.
const QUIT_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

fn main() -> ExitCode {
    let started = dashboard::Started::now();
    init_logging();
    let args = Args::parse(std::env::args().skip(1));
    let result = match args.window {
        Some(Window::Setup) => run_setup_window(),
        Some(Window::Dashboard) => dashboard::run(args.view(), started, ipc::dashboard_handler()),
        None => run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("gardener-app failed: {error}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// The setup window's process: the window and its commands, no tray; it
/// exits when the window closes.
fn run_setup_window() -> tauri::Result<()> {
    tauri::Builder::default()
        .invoke_handler(ipc::setup_handler())
        .setup(|app| {
            #[cfg(target_os = "macos")]
            app.set_activation_policy(tauri::ActivationPolicy::Accessory);
            window::open_setup_window(app.handle())?;
            Ok(())
        })
        .run(tauri::generate_context!())
}

/// The menu-bar process: tray, monitor, notifications, all owned by the
/// menu bar's loop; Tauri's callbacks only hand it events.
fn run(args: Args) -> tauri::Result<()> {
    let (events, inbox) = menu_bar::channel();
    let app = tauri::Builder::default()
        // Must be the first plugin: a second launch hands over to this process
        // and exits before anything else is set up.
        .plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
            tracing::info!(?argv, "second launch: showing the dashboard");
            if let Some(events) = app.try_state::<Events>() {
                events.send(Event::ShowDashboard(View::Overview));
            }
        }))
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_opener::init())
        .setup(move |app| {
            // No Dock icon and no app menu: Gardener is a menu-bar extra.
            #[cfg(target_os = "macos")]
            app.set_activation_policy(tauri::ActivationPolicy::Accessory);

            let clicks = events.clone();
            notifications::on_click(app.handle(), move |id| {
                clicks.send(Event::NotificationClicked(id));
            });
            let items = events.clone();
            let tray = tray::create(app.handle(), move |item| items.send(Event::Menu(item)))?;
            menu_bar::start(app.handle(), tray, &events, inbox)?;
            // The first launch on a machine with nothing set up starts
            // with the setup window; later launches stay in the menu bar.
            let first_run = gardener_core::context::Context::load(None, Platform::current())
                .is_ok_and(|ctx| ctx.is_first_run());
            if args.open == Some(Window::Setup) || first_run {
                events.send(Event::ShowSetup);
            } else if args.open == Some(Window::Dashboard) {
                events.send(Event::ShowDashboard(args.view()));
            }
            app.manage(events);
            Ok(())
        })
        .build(tauri::generate_context!())?;

    app.run(|app, event| match event {
        // `code` is None when the last window closed; the tray keeps the app
        // alive then. Quit calls `exit(0)`, which carries a code.
        RunEvent::ExitRequested {
            code: None, api, ..
        } => api.prevent_exit(),
        RunEvent::Exit => {
            if let Some(events) = app.try_state::<Events>() {
                events.quit(QUIT_WAIT);
            }
        }
        _ => {}
    });
    Ok(())
}
