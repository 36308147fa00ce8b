//! An empty Tauri 2 tray app: a tray icon with a one-item menu, no window, no plugins. The
//! menu-bar app's idle memory and CPU are measured against it (bench/app-idle.sh).

use tauri::RunEvent;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;

fn main() {
    let app = tauri::Builder::default()
        .setup(|app| {
            let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
            let menu = Menu::with_items(app, &[&quit])?;
            TrayIconBuilder::with_id("main")
                .icon(tauri::include_image!("../../icons/tray.png"))
                .menu(&menu)
                .on_menu_event(|app, _| app.exit(0))
                .build(app)?;
            Ok(())
        })
        .build(tauri::generate_context!());
    match app {
        Ok(app) => app.run(|_, event| {
            if let RunEvent::ExitRequested {
                code: None, api, ..
            } = event
            {
                api.prevent_exit();
            }
        }),
        Err(error) => {
            eprintln!("empty-tray: {error}");
            std::process::exit(1);
        }
    }
}
