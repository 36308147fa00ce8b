//! Alert engine tests of the service rules: restarts, down, health and its
//! grace period, paused and external services.

use super::*;

#[test]
fn restarted_service_fires_once_then_resolves_next_sample() {
    let mut e = engine(&AlertsConfig::default());
    let mut bounced = calm();
    bounced.services.ollama.service.restarted = true;
    bounced.services.ollama.service.error = Some("exit status 137".into());
    let events = drive(
        &mut e,
        [(0, calm()), (5, bounced), (10, calm()), (15, calm())],
    );
    let got: Vec<(&str, EventKind, &str)> = events
        .iter()
        .map(|e| (e.rule.as_str(), e.kind, e.message.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "ollama_down",
                Firing,
                "Ollama died and was restarted: exit status 137"
            ),
            ("ollama_down", Resolved, "Ollama is back up"),
        ]
    );
}

#[test]
fn health_is_not_evaluated_while_down() {
    let mut e = engine(&AlertsConfig::default());
    let mut dead = calm();
    dead.services.app.state = RunState::Failed;
    dead.services.app.healthy = false;
    dead.services.app.error = Some("connection refused".into());
    let mut sick = calm();
    sick.services.app.healthy = false;
    let mut samples: Samples = (0..60).map(|t| (t * 5, dead.clone())).collect();
    samples.extend((60..80).map(|t| (t * 5, sick.clone())));
    let events = drive(&mut e, samples);
    let got: Vec<(u64, &str, EventKind)> = events
        .iter()
        .map(|e| (e.at - T0, e.rule.as_str(), e.kind))
        .collect();
    assert_eq!(
        got,
        vec![
            (0, "app_down", Firing),
            (300, "app_down", Resolved),
            // Back up but unhealthy: the 30 s startup grace counts from now.
            (330, "app_health", Firing),
        ]
    );
    assert_eq!(
        events[0].message,
        "Codebase Gardener is down: connection refused"
    );
}

#[test]
fn a_death_restarts_the_health_grace_period() {
    let mut e = engine(&AlertsConfig::default());
    let mut sick = calm();
    sick.services.app.healthy = false;
    let mut dead = sick.clone();
    dead.services.app.state = RunState::Starting;
    let events = drive(
        &mut e,
        [
            (0, sick.clone()),
            (20, dead),
            (25, sick.clone()),
            (50, sick.clone()),
            (55, sick),
        ],
    );
    let got: Vec<(u64, &str)> = events
        .iter()
        .map(|e| (e.at - T0, e.rule.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![(20, "app_down"), (25, "app_down"), (55, "app_health")]
    );
}

#[test]
fn services_not_installed_are_not_watched() {
    let mut e = engine(&AlertsConfig::default());
    let mut s = calm();
    s.services.ollama.service = ServiceSnapshot::default();
    assert!(drive(&mut e, [(0, s.clone())]).is_empty());
    assert_eq!(state_of(&e, "ollama_down"), Some(AlertState::Ok));
    // Configured as managed but not installed yet: still nothing to alert about.
    s.services.ollama.service.managed = true;
    assert!(drive(&mut e, [(5, s.clone())]).is_empty());
    // Once installed and stopped, it is down.
    s.services.ollama.service.state = RunState::Stopped;
    assert_eq!(
        seen(&drive(&mut e, [(10, s)])),
        vec![(10, Firing, false, false)]
    );
}

#[test]
fn an_app_paused_by_a_backup_is_not_down_and_a_stop_after_it_is() {
    let mut e = engine(&AlertsConfig::default());
    let mut s = calm();
    s.services.app.state = RunState::Paused;
    s.services.app.healthy = false;
    s.services.app.pid = None;
    // Paused for longer than the health rule's grace period: still quiet.
    assert!(drive(&mut e, [(0, s.clone()), (60, s.clone())]).is_empty());
    assert_eq!(state_of(&e, "app_down"), Some(AlertState::Ok));
    assert_eq!(state_of(&e, "app_health"), Some(AlertState::Ok));
    // Left stopped once the backup is gone: down.
    s.services.app.state = RunState::Stopped;
    let events = drive(&mut e, [(65, s)]);
    let rules: Vec<&str> = events.iter().map(|e| e.rule.as_str()).collect();
    assert_eq!(rules, ["app_down"]);
}

#[test]
fn external_ollama_is_down_when_it_does_not_answer() {
    let mut e = engine(&AlertsConfig::default());
    let mut s = calm();
    s.services.ollama.service.state = RunState::External;
    s.services.ollama.service.managed = false;
    assert!(drive(&mut e, [(0, s.clone())]).is_empty());
    s.services.ollama.service.healthy = false;
    let events = drive(&mut e, [(5, s)]);
    let rules: Vec<&str> = events.iter().map(|e| e.rule.as_str()).collect();
    assert_eq!(rules, ["ollama_down"]);
    assert_eq!(events[0].message, "Ollama is down (external)");
}
