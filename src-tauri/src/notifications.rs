//! Desktop notifications: what the alert engine's events and the menu's own
//! actions say to a person, shown through `tauri-plugin-notification`.
//! Muted events (alerts paused or disabled, cooldowns) are never shown; the
//! engine decides that, this module only words and sends. A click on a
//! notification is handed to the menu bar, which opens the dashboard at the
//! view it is about.

use std::collections::VecDeque;

use gardener_core::monitor::alerts::{self, EventKind};
use tauri::{AppHandle, Runtime};
use tauri_plugin_notification::NotificationExt;

use crate::window::View;

/// A notification's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Short headline: what happened, to what.
    pub title: String,
    /// The engine's sentence with the figures.
    pub body: String,
    /// The dashboard view a click opens.
    pub view: View,
}

/// The dashboard view an alert rule is about.
pub fn view_of(rule: &str) -> View {
    match rule {
        "cpu" | "memory" | "swap" | "disk" => View::Overview,
        "backup_overdue" | "backup_failed" => View::Backups,
        r if r.starts_with("copy_failed:") || r.starts_with("copy_overdue:") => View::Backups,
        _ => View::Services,
    }
}

/// What an alert rule is about, as a headline's subject, and the words for
/// its firing ("is down") and its end ("recovered").
fn words(rule: &str) -> (&'static str, &'static str, &'static str) {
    match rule {
        "ollama_down" => ("Ollama", "is down", "recovered"),
        "app_down" => ("Codebase Gardener", "is down", "recovered"),
        "ollama_health" => ("Ollama", "is not answering", "answers again"),
        "app_health" => ("Codebase Gardener", "is not answering", "answers again"),
        "ollama_rss" => (
            "Ollama",
            "is using too much memory",
            "memory back to normal",
        ),
        "app_rss" => (
            "Codebase Gardener",
            "is using too much memory",
            "memory back to normal",
        ),
        "cpu" => ("CPU", "use is high", "use back to normal"),
        "memory" => ("Memory", "is nearly full", "use back to normal"),
        "swap" => ("Swap", "use is high", "use back to normal"),
        "disk" => ("Disk", "is nearly full", "has room again"),
        "model_offloaded" => ("Models", "run partly on the CPU", "back on the GPU"),
        "backup_overdue" => ("Backup", "is overdue", "is up to date"),
        "backup_failed" => ("Backup", "failed", "works again"),
        _ => ("Gardener", "alert", "alert resolved"),
    }
}

/// The notification for `event`, or `None` when it must not be shown.
pub fn for_event(event: &alerts::Event) -> Option<Note> {
    if event.muted {
        return None;
    }
    let (subject, firing, resolved) = match event.rule.split_once(':') {
        // `copy_failed:nas`: one rule per backup target.
        Some(("copy_failed", target)) => (format!("Copy to {target}"), "failed", "works again"),
        Some(("copy_overdue", target)) => {
            (format!("Copy to {target}"), "is overdue", "is up to date")
        }
        _ => {
            let (subject, firing, resolved) = words(&event.rule);
            (subject.to_owned(), firing, resolved)
        }
    };
    let title = match event.kind {
        EventKind::Firing => format!("{subject} {firing}"),
        EventKind::Resolved => format!("{subject} {resolved}"),
    };
    Some(Note {
        title,
        body: event.message.clone(),
        view: view_of(&event.rule),
    })
}

/// The notifications shown, by id, and the view each opens: a click on one
/// older than these opens the overview.
#[derive(Debug)]
pub struct Shown {
    next_id: i32,
    views: VecDeque<(i32, View)>,
}

impl Default for Shown {
    fn default() -> Self {
        Self {
            next_id: 1,
            views: VecDeque::new(),
        }
    }
}

impl Shown {
    const REMEMBERED: usize = 100;

    /// A new notification's id, remembering the view it opens.
    pub fn record(&mut self, view: View) -> i32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.views.push_back((id, view));
        while self.views.len() > Self::REMEMBERED {
            self.views.pop_front();
        }
        id
    }

    /// The view notification `id` opens.
    pub fn view_of(&self, id: Option<i32>) -> View {
        id.and_then(|id| self.views.iter().find(|(i, _)| *i == id).map(|(_, v)| *v))
            .unwrap_or_default()
    }
}

/// Clicks on notifications go to `clicked`, with the notification's id
/// when the desktop says it.
pub fn on_click<R: Runtime>(
    app: &AppHandle<R>,
    clicked: impl Fn(Option<i32>) + Send + Sync + 'static,
) {
    let registered = app.notification().on_action(move |performed| {
        if performed.action_id() == "tap" {
            let id = performed.notification().map(|n| n.id());
            clicked(id);
        }
    });
    if let Err(error) = registered {
        tracing::warn!(%error, "clicks on notifications will not open the dashboard");
    }
}

/// Shows `note` as notification `id`. Failures (no notification daemon,
/// say) are logged: a missing notification must never stop the monitor.
pub fn show<R: Runtime>(app: &AppHandle<R>, id: i32, note: &Note) {
    tracing::info!(title = %note.title, body = %note.body, "notification");
    if let Err(error) = app
        .notification()
        .builder()
        .id(id)
        .title(&note.title)
        .body(&note.body)
        .show()
    {
        tracing::warn!(%error, "cannot show a notification");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gardener_core::monitor::alerts::RULE_IDS;

    fn event(rule: &str, kind: EventKind, muted: bool) -> alerts::Event {
        alerts::Event {
            rule: rule.into(),
            kind,
            value: 1.0,
            threshold: 1.0,
            at: 0,
            message: "Ollama is down (failed)".into(),
            repeat: false,
            muted,
        }
    }

    #[test]
    fn a_service_going_down_and_coming_back() {
        let down = for_event(&event("ollama_down", EventKind::Firing, false)).unwrap();
        assert_eq!(down.title, "Ollama is down");
        assert_eq!(down.body, "Ollama is down (failed)");
        let back = for_event(&event("ollama_down", EventKind::Resolved, false)).unwrap();
        assert_eq!(back.title, "Ollama recovered");
    }

    #[test]
    fn a_click_opens_the_view_the_notification_is_about() {
        assert_eq!(
            for_event(&event("ollama_down", EventKind::Firing, false))
                .unwrap()
                .view,
            View::Services
        );
        assert_eq!(view_of("disk"), View::Overview);
        assert_eq!(view_of("backup_overdue"), View::Backups);
        let mut shown = Shown::default();
        let id = shown.record(View::Backups);
        assert_eq!(shown.view_of(Some(id)), View::Backups);
        assert_eq!(
            shown.view_of(Some(id + 1)),
            View::Overview,
            "not one of ours"
        );
        assert_eq!(shown.view_of(None), View::Overview);
        for _ in 0..Shown::REMEMBERED {
            shown.record(View::Services);
        }
        assert_eq!(shown.view_of(Some(id)), View::Overview, "forgotten by now");
    }

    #[test]
    fn each_target_has_its_own_copy_headlines() {
        let failed = for_event(&event("copy_failed:nas", EventKind::Firing, false)).unwrap();
        assert_eq!(
            (failed.title.as_str(), failed.view),
            ("Copy to nas failed", View::Backups)
        );
        let back = for_event(&event("copy_failed:nas", EventKind::Resolved, false)).unwrap();
        assert_eq!(back.title, "Copy to nas works again");
        let late = for_event(&event("copy_overdue:offsite", EventKind::Firing, false)).unwrap();
        assert_eq!(late.title, "Copy to offsite is overdue");
    }

    #[test]
    fn an_offloaded_model_has_its_headlines_and_opens_the_services() {
        let on = for_event(&event("model_offloaded", EventKind::Firing, false)).unwrap();
        assert_eq!(
            (on.title.as_str(), on.view),
            ("Models run partly on the CPU", View::Services)
        );
        let off = for_event(&event("model_offloaded", EventKind::Resolved, false)).unwrap();
        assert_eq!(off.title, "Models back on the GPU");
    }

    #[test]
    fn muted_events_are_not_shown() {
        assert_eq!(for_event(&event("cpu", EventKind::Firing, true)), None);
        assert_eq!(for_event(&event("cpu", EventKind::Resolved, true)), None);
    }

    #[test]
    fn every_rule_has_its_own_headline() {
        let titles: std::collections::BTreeSet<String> = RULE_IDS
            .iter()
            .map(|rule| {
                let (subject, firing, _) = words(rule);
                assert_ne!(subject, "Gardener", "{rule} has no words of its own");
                format!("{subject} {firing}")
            })
            .collect();
        assert_eq!(titles.len(), RULE_IDS.len(), "{titles:?}");
    }
}
