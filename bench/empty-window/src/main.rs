//! An empty Tauri 2 window: at start it opens one window on a static page, which reports its
//! first paint; nothing else. The dashboard's open time is measured against it
//! (bench/dashboard-open.sh), started the same way: a process of its own per window.

use tauri::{WebviewUrl, WebviewWindowBuilder};

/// When `main()` began, milliseconds since the epoch.
static MAIN_AT_MS: std::sync::OnceLock<u128> = std::sync::OnceLock::new();

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// The page painted at `at_ms` (milliseconds since the epoch, the page's clock); also says
/// how long that was after `main()` began, as the dashboard's report does.
#[tauri::command]
fn painted(at_ms: f64) {
    let main_at = MAIN_AT_MS.get().copied().unwrap_or(0);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let after_main = (at_ms as u128).saturating_sub(main_at);
    eprintln!("empty-window painted ms={after_main} at_ms={at_ms:.0}");
}

fn main() {
    MAIN_AT_MS.get_or_init(now_ms);
    let app = tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![painted])
        .setup(|app| {
            // As the dashboard's window is opened: sized, centred and focused.
            let window =
                WebviewWindowBuilder::new(app, "main", WebviewUrl::App("index.html".into()))
                    .title("Empty Window")
                    .inner_size(960.0, 680.0)
                    .center()
                    .build()?;
            window.set_focus()?;
            Ok(())
        })
        .build(tauri::generate_context!());
    match app {
        Ok(app) => app.run(|_, _| {}),
        Err(error) => {
            eprintln!("empty-window: {error}");
            std::process::exit(1);
        }
    }
}
