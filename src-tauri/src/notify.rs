//! Desktop notifications: what the alert engine's events and the menu's own
//! actions say to a person, shown through `tauri-plugin-notification`.
//! Muted events (alerts paused or disabled, cooldowns) are never shown; the
//! engine decides that, this module only words and sends.

use gardener_core::monitor::alerts::{Event, EventKind};
use tauri::{AppHandle, Runtime};
use tauri_plugin_notification::NotificationExt;

/// A notification's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Short headline: what happened, to what.
    pub title: String,
    /// The engine's sentence with the figures.
    pub body: String,
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
        "backup_overdue" => ("Backup", "is overdue", "is up to date"),
        _ => ("Gardener", "alert", "alert resolved"),
    }
}

/// The notification for `event`, or `None` when it must not be shown.
pub fn for_event(event: &Event) -> Option<Note> {
    if event.muted {
        return None;
    }
    let (subject, firing, resolved) = words(&event.rule);
    let title = match event.kind {
        EventKind::Firing => format!("{subject} {firing}"),
        EventKind::Resolved => format!("{subject} {resolved}"),
    };
    Some(Note {
        title,
        body: event.message.clone(),
    })
}

/// Shows `note`. Failures (no notification daemon, say) are logged: a
/// missing notification must never stop the monitor.
pub fn show<R: Runtime>(app: &AppHandle<R>, note: &Note) {
    tracing::info!(title = %note.title, body = %note.body, "notification");
    if let Err(error) = app
        .notification()
        .builder()
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

    fn event(rule: &str, kind: EventKind, muted: bool) -> Event {
        Event {
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
