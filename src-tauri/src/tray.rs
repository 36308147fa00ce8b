//! The tray icon and its native menu: four live status lines (Ollama, the
//! app, the machine, the last backup), the actions (with a Models submenu
//! of the loaded models), and Quit. The icon shows
//! the overall state. The menu needs no webview, so the idle app holds none.

use std::sync::Mutex;

use gardener_core::monitor::alerts::pause::PauseFor;
use gardener_core::monitor::summary::Overall;
use gardener_core::services::ServiceId;
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem as Item, PredefinedMenuItem, Submenu};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Runtime};

use crate::lock::lock;
use crate::window::View;

/// Menu item ids.
mod id {
    pub const DASHBOARD: &str = "dashboard";
    pub const SETTINGS: &str = "settings";
    pub const RESTART_OLLAMA: &str = "restart-ollama";
    pub const RESTART_APP: &str = "restart-app";
    pub const UNLOAD_MODELS: &str = "unload-models";
    /// Followed by the model's name.
    pub const UNLOAD_MODEL: &str = "unload-model:";
    pub const NO_MODEL: &str = "no-model";
    pub const PULL_MODEL: &str = "pull-model";
    pub const BACK_UP: &str = "back-up";
    pub const PAUSE_HOUR: &str = "pause-hour";
    pub const PAUSE_TOMORROW: &str = "pause-tomorrow";
    pub const RESUME: &str = "resume-alerts";
    pub const OPEN_LOGS: &str = "open-logs";
    pub const SET_UP: &str = "set-up";
    pub const QUIT: &str = "quit";
}

/// A menu item, as the menu bar's loop is told of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MenuItem {
    Restart(ServiceId),
    UnloadModels,
    UnloadModel(String),
    BackUp,
    PauseAlerts(PauseFor),
    OpenLogs,
    SetUp,
    Dashboard(View),
    Quit,
}

/// The icon for each state. macOS draws template images in the menu bar's
/// own colour (alpha only), so there the states differ by shape (a ring, a
/// filled badge, a faded sprout, a question mark); other desktops get
/// coloured ones.
#[cfg(target_os = "macos")]
fn icon(overall: Overall) -> Image<'static> {
    match overall {
        Overall::Ok => tauri::include_image!("../icons/tray-template@2x.png"),
        Overall::Warning => tauri::include_image!("../icons/tray-template-warning@2x.png"),
        Overall::Critical => tauri::include_image!("../icons/tray-template-critical@2x.png"),
        Overall::NotSetUp => tauri::include_image!("../icons/tray-template-not-set-up@2x.png"),
        Overall::CannotTell => tauri::include_image!("../icons/tray-template-cannot-tell@2x.png"),
    }
}
#[cfg(not(target_os = "macos"))]
fn icon(overall: Overall) -> Image<'static> {
    match overall {
        Overall::Ok => tauri::include_image!("../icons/tray.png"),
        Overall::Warning => tauri::include_image!("../icons/tray-warning.png"),
        Overall::Critical => tauri::include_image!("../icons/tray-critical.png"),
        Overall::NotSetUp => tauri::include_image!("../icons/tray-not-set-up.png"),
        Overall::CannotTell => tauri::include_image!("../icons/tray-cannot-tell.png"),
    }
}

fn tooltip(overall: Overall) -> &'static str {
    match overall {
        Overall::Ok => "Gardener — all is well",
        Overall::Warning => "Gardener — needs a look",
        Overall::Critical => "Gardener — something is down",
        Overall::NotSetUp => "Gardener — not set up",
        Overall::CannotTell => "Gardener — cannot tell whether the services run",
    }
}

/// Everything the menu shows; the tray is only touched where it changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MenuState {
    /// The icon.
    pub overall: Overall,
    /// Ollama, app, machine, last backup.
    pub lines: [String; 4],
    /// Whether each action can be chosen now.
    pub restart_ollama: bool,
    pub restart_app: bool,
    pub unload_models: bool,
    pub back_up: bool,
    /// Alerts paused until then (seconds since the epoch).
    pub paused_until: Option<u64>,
    /// The loaded models, as the Models submenu lists them.
    pub models: Vec<ModelLine>,
}

/// A loaded model in the Models submenu: choosing it unloads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelLine {
    /// `name:tag`.
    pub name: String,
    /// "Unload llama3.2:3b (3.2 GB, until 14:05)".
    pub label: String,
}

impl MenuState {
    /// Before the first sample.
    pub fn checking() -> Self {
        Self::only("Checking status…", Overall::NotSetUp)
    }

    /// The monitor cannot run: the first line says why.
    pub fn problem(why: &str) -> Self {
        Self::only(why, Overall::Warning)
    }

    fn only(first: &str, overall: Overall) -> Self {
        Self {
            overall,
            lines: [
                first.to_owned(),
                String::new(),
                String::new(),
                String::new(),
            ],
            restart_ollama: false,
            restart_app: false,
            unload_models: false,
            back_up: false,
            paused_until: None,
            models: Vec::new(),
        }
    }
}

/// "Alerts Paused until 14:05" (local time), or "Pause Alerts".
pub fn pause_label(paused_until: Option<u64>) -> String {
    match paused_until.map(local_time) {
        None => "Pause Alerts".to_owned(),
        Some(Some(t)) => format!("Alerts Paused until {t}"),
        Some(None) => "Alerts Paused".to_owned(),
    }
}

/// "Resume Alerts (paused until 14:05)", or "Resume Alerts". The pause shows
/// here too: desktops that show the menu through D-Bus (libdbusmenu) do not
/// pick up a new label on an entry that opens a submenu.
pub fn resume_label(paused_until: Option<u64>) -> String {
    match paused_until.map(local_time) {
        Some(Some(t)) => format!("Resume Alerts (paused until {t})"),
        _ => "Resume Alerts".to_owned(),
    }
}

/// `until` as "14:05" today, "Thu 08:00" on another day.
pub fn local_time(until: u64) -> Option<String> {
    let local = i64::try_from(until)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map(|t| t.to_zoned_datetime(jiff::tz::TimeZone::system()));
    local.map(|t| {
        if t.date() == jiff::ZonedDateTime::now().date() {
            t.strftime("%H:%M").to_string()
        } else {
            t.strftime("%a %H:%M").to_string()
        }
    })
}

/// The tray and the menu items that change.
pub struct Tray<R: Runtime> {
    icon: TrayIcon<R>,
    lines: [Item<R>; 4],
    restart_ollama: Item<R>,
    restart_app: Item<R>,
    unload_models: Item<R>,
    back_up: Item<R>,
    pause: Submenu<R>,
    resume: Item<R>,
    models: Submenu<R>,
    /// The Models submenu's items before its fixed ones, one per loaded
    /// model (or "No model loaded").
    model_items: Mutex<Vec<Item<R>>>,
    shown: Mutex<Option<MenuState>>,
}

fn item<R: Runtime>(app: &AppHandle<R>, id: &str, text: &str) -> tauri::Result<Item<R>> {
    Item::with_id(app, id, text, true, None::<&str>)
}

/// Builds the tray with its menu, showing "Checking status…"; the items
/// chosen go to `chosen`.
pub fn create<R: Runtime>(
    app: &AppHandle<R>,
    chosen: impl Fn(MenuItem) + Send + Sync + 'static,
) -> tauri::Result<Tray<R>> {
    let first = MenuState::checking();
    let line = |i: usize| {
        Item::with_id(
            app,
            format!("line-{i}"),
            &first.lines[i],
            false,
            None::<&str>,
        )
    };
    let lines = [line(0)?, line(1)?, line(2)?, line(3)?];
    let restart_ollama = item(app, id::RESTART_OLLAMA, "Restart Ollama")?;
    let restart_app = item(app, id::RESTART_APP, "Restart App")?;
    let unload_models = item(app, id::UNLOAD_MODELS, "Unload Models")?;
    let back_up = item(app, id::BACK_UP, "Back Up Now")?;
    let resume = item(app, id::RESUME, "Resume Alerts")?;
    let pause = Submenu::with_items(
        app,
        pause_label(None),
        true,
        &[
            &item(app, id::PAUSE_HOUR, "For 1 Hour")?,
            &item(app, id::PAUSE_TOMORROW, "Until Tomorrow Morning")?,
            &resume,
        ],
    )?;
    let separator = || PredefinedMenuItem::separator(app);
    let models = Submenu::with_items(
        app,
        "Models",
        true,
        &[&separator()?, &item(app, id::PULL_MODEL, "Pull Model…")?],
    )?;
    let menu = Menu::with_items(
        app,
        &[
            &lines[0],
            &lines[1],
            &lines[2],
            &lines[3],
            &separator()?,
            &item(app, id::DASHBOARD, "Open Dashboard…")?,
            &restart_ollama,
            &restart_app,
            &unload_models,
            &models,
            &back_up,
            &separator()?,
            &pause,
            &item(app, id::OPEN_LOGS, "Open Logs")?,
            &item(app, id::SETTINGS, "Settings…")?,
            &item(app, id::SET_UP, "Set Up…")?,
            &separator()?,
            &item(app, id::QUIT, "Quit")?,
        ],
    )?;
    let icon = TrayIconBuilder::with_id("main")
        .icon(icon(first.overall))
        .icon_as_template(cfg!(target_os = "macos"))
        .tooltip(tooltip(first.overall))
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(move |_, event| {
            if let Some(item) = item_of(event.id().as_ref()) {
                chosen(item);
            }
        })
        .build(app)?;
    let tray = Tray {
        icon,
        lines,
        restart_ollama,
        restart_app,
        unload_models,
        back_up,
        pause,
        resume,
        models,
        model_items: Mutex::new(Vec::new()),
        shown: Mutex::new(None),
    };
    tray.show(&first);
    Ok(tray)
}

impl<R: Runtime> Tray<R> {
    /// Brings the tray up to `state`, touching only what changed. Call on
    /// the main thread (elsewhere each change would wait for it).
    pub fn show(&self, state: &MenuState) {
        let mut shown = lock(&self.shown);
        let old = shown.as_ref();
        let mut result = Ok(());
        let mut run = |r: tauri::Result<()>| {
            if result.is_ok() {
                result = r;
            }
        };
        if old.is_none_or(|o| o.overall != state.overall) {
            tracing::info!(overall = ?state.overall, "tray state");
            run(self.icon.set_icon(Some(icon(state.overall))));
            run(self.icon.set_icon_as_template(cfg!(target_os = "macos")));
            run(self.icon.set_tooltip(Some(tooltip(state.overall))));
        }
        for (i, item) in self.lines.iter().enumerate() {
            if old.is_none_or(|o| o.lines[i] != state.lines[i]) {
                run(item.set_text(&state.lines[i]));
            }
        }
        let toggles = [
            (
                &self.restart_ollama,
                old.map(|o| o.restart_ollama),
                state.restart_ollama,
            ),
            (
                &self.restart_app,
                old.map(|o| o.restart_app),
                state.restart_app,
            ),
            (
                &self.unload_models,
                old.map(|o| o.unload_models),
                state.unload_models,
            ),
            (&self.back_up, old.map(|o| o.back_up), state.back_up),
        ];
        for (item, was, now) in toggles {
            if was != Some(now) {
                run(item.set_enabled(now));
            }
        }
        if old.is_none_or(|o| o.paused_until != state.paused_until) {
            run(self.pause.set_text(pause_label(state.paused_until)));
            run(self.resume.set_text(resume_label(state.paused_until)));
            run(self.resume.set_enabled(state.paused_until.is_some()));
        }
        if old.is_none_or(|o| o.models != state.models) {
            run(self.list_models(&state.models));
        }
        match result {
            Ok(()) => *shown = Some(state.clone()),
            // Try everything again next time.
            Err(error) => {
                tracing::warn!(%error, "cannot update the tray menu");
                *shown = None;
            }
        }
    }
}

impl<R: Runtime> Tray<R> {
    /// Replaces the Models submenu's list with `models`.
    fn list_models(&self, models: &[ModelLine]) -> tauri::Result<()> {
        let mut items = lock(&self.model_items);
        for old in items.drain(..) {
            self.models.remove(&old)?;
        }
        let app = self.models.app_handle();
        if models.is_empty() {
            items.push(Item::with_id(
                app,
                id::NO_MODEL,
                "No Model Loaded",
                false,
                None::<&str>,
            )?);
        }
        for m in models {
            let id = format!("{}{}", id::UNLOAD_MODEL, m.name);
            items.push(item(app, &id, &m.label)?);
        }
        for (position, new) in items.iter().enumerate() {
            self.models.insert(new, position)?;
        }
        Ok(())
    }
}

/// The menu item with id `id`.
fn item_of(id: &str) -> Option<MenuItem> {
    if let Some(model) = id.strip_prefix(id::UNLOAD_MODEL) {
        return Some(MenuItem::UnloadModel(model.to_owned()));
    }
    Some(match id {
        id::RESTART_OLLAMA => MenuItem::Restart(ServiceId::Ollama),
        id::RESTART_APP => MenuItem::Restart(ServiceId::App),
        id::UNLOAD_MODELS => MenuItem::UnloadModels,
        id::BACK_UP => MenuItem::BackUp,
        id::PAUSE_HOUR => MenuItem::PauseAlerts(PauseFor::Hour),
        id::PAUSE_TOMORROW => MenuItem::PauseAlerts(PauseFor::UntilTomorrow),
        id::RESUME => MenuItem::PauseAlerts(PauseFor::Resume),
        id::OPEN_LOGS => MenuItem::OpenLogs,
        id::SET_UP => MenuItem::SetUp,
        id::DASHBOARD => MenuItem::Dashboard(View::Overview),
        id::SETTINGS => MenuItem::Dashboard(View::Settings),
        id::PULL_MODEL => MenuItem::Dashboard(View::Models),
        id::QUIT => MenuItem::Quit,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_label_names_the_local_end_time() {
        assert_eq!(pause_label(None), "Pause Alerts");
        let soon = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(60);
        let label = pause_label(Some(u64::try_from(soon.as_second()).unwrap()));
        assert!(label.starts_with("Alerts Paused until "), "{label}");
        let local = soon.to_zoned_datetime(jiff::tz::TimeZone::system());
        assert!(
            label.ends_with(&local.strftime("%H:%M").to_string()),
            "{label}"
        );
    }

    #[test]
    fn every_state_has_its_own_icon_and_words() {
        let all = [
            Overall::Ok,
            Overall::Warning,
            Overall::Critical,
            Overall::NotSetUp,
            Overall::CannotTell,
        ];
        let icons: std::collections::BTreeSet<Vec<u8>> =
            all.iter().map(|&o| icon(o).rgba().to_vec()).collect();
        assert_eq!(icons.len(), all.len());
        let tips: std::collections::BTreeSet<&str> = all.iter().map(|&o| tooltip(o)).collect();
        assert_eq!(tips.len(), all.len());
    }

    #[test]
    fn every_item_id_names_its_item() {
        assert_eq!(
            item_of(id::RESTART_APP),
            Some(MenuItem::Restart(ServiceId::App))
        );
        assert_eq!(
            item_of(id::SETTINGS),
            Some(MenuItem::Dashboard(View::Settings))
        );
        assert_eq!(item_of(id::QUIT), Some(MenuItem::Quit));
        assert_eq!(
            item_of(id::PULL_MODEL),
            Some(MenuItem::Dashboard(View::Models))
        );
        assert_eq!(
            item_of("unload-model:llama3.2:3b"),
            Some(MenuItem::UnloadModel("llama3.2:3b".into()))
        );
        assert_eq!(item_of(id::NO_MODEL), None);
        assert_eq!(item_of("line-0"), None, "status lines do nothing");
    }
}
