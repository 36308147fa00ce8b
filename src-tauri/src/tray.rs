//! The tray icon and its native menu: a live status line, "Set Up…" and
//! "Quit". The menu needs no webview, so the idle app holds none.

use tauri::image::Image;
use tauri::menu::{Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Runtime};

use crate::status::StatusRefresher;
use crate::windows;

const SET_UP: &str = "set-up";
const QUIT: &str = "quit";

/// macOS draws template images in the menu bar's own colour (alpha only), so
/// it gets the monochrome mark; other desktops get the coloured one.
#[cfg(target_os = "macos")]
const ICON: Image<'static> = tauri::include_image!("../icons/tray-template@2x.png");
#[cfg(not(target_os = "macos"))]
const ICON: Image<'static> = tauri::include_image!("../icons/tray.png");

/// Builds the tray and returns the status line item for the refresher.
pub fn create<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<MenuItem<R>> {
    // Filled in by the refresher thread; probing here would delay startup.
    let status = MenuItem::with_id(app, "status", "Checking status…", false, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[
            &status,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, SET_UP, "Set Up…", true, None::<&str>)?,
            &MenuItem::with_id(app, QUIT, "Quit", true, None::<&str>)?,
        ],
    )?;
    TrayIconBuilder::with_id("main")
        .icon(ICON)
        .icon_as_template(cfg!(target_os = "macos"))
        .tooltip("Gardener")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(on_menu_event)
        .on_tray_icon_event(|tray, event| {
            // Pointer over the icon (macOS, Windows): freshen the status
            // before the menu is likely opened.
            if let TrayIconEvent::Enter { .. } = event
                && let Some(refresher) = tray.app_handle().try_state::<StatusRefresher>()
            {
                refresher.refresh();
            }
        })
        .build(app)?;
    Ok(status)
}

fn on_menu_event<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    match event.id().as_ref() {
        SET_UP => windows::show_setup(app),
        QUIT => {
            tracing::info!("quit chosen from the tray menu");
            app.exit(0);
        }
        _ => {}
    }
}
