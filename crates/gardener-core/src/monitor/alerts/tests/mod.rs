//! Alert engine tests: every clock is explicit, nothing sleeps. Here the
//! helpers and the state machine (sustained-for, hysteresis, cooldown,
//! recovery, mute); the service and backup rules in files of their own.

mod backups;
mod models;
mod services;

use super::rules::{bytes, duration};
use super::*;
use crate::config::AlertsConfig;
use crate::monitor::snapshot::{Disk, Memory, RunState, ServiceSnapshot, Swap};

pub(super) const T0: u64 = 1_800_000_000;
const GIB: u64 = 1 << 30;

/// A calm machine with both services up and healthy.
pub(super) fn calm() -> Snapshot {
    let mut s = Snapshot::default();
    s.system.cpu_percent = 10.0;
    s.system.memory = Memory {
        used_bytes: 4 * GIB,
        total_bytes: 16 * GIB,
        percent: 25.0,
        pressure: None,
    };
    s.system.swap = Swap {
        used_bytes: 0,
        total_bytes: 4 * GIB,
    };
    s.system.disk = Disk {
        path: "/data".into(),
        used_bytes: 50,
        total_bytes: 100,
        percent: 50.0,
    };
    for svc in [&mut s.services.ollama.service, &mut s.services.app] {
        *svc = ServiceSnapshot {
            state: RunState::Running,
            managed: true,
            healthy: true,
            rss_bytes: Some(GIB),
            ..ServiceSnapshot::default()
        };
    }
    s
}

pub(super) fn cpu(v: f32) -> Snapshot {
    let mut s = calm();
    s.system.cpu_percent = v;
    s
}

pub(super) fn disk(percent: u64) -> Snapshot {
    let mut s = calm();
    s.system.disk.used_bytes = percent;
    s.system.disk.percent = percent as f32;
    s
}

fn muted_until_t0_plus_1000() -> AlertsConfig {
    AlertsConfig {
        mute_until: Some("2027-01-15T08:16:40Z".into()),
        ..AlertsConfig::default()
    }
}

pub(super) fn engine(config: &AlertsConfig) -> Engine {
    Engine::new(config, None)
}

/// (seconds after T0, kind, repeat, muted) of each event.
pub(super) type Seen = Vec<(u64, EventKind, bool, bool)>;

/// (seconds after T0, snapshot) samples.
pub(super) type Samples = Vec<(u64, Snapshot)>;

pub(super) fn drive(
    e: &mut Engine,
    samples: impl IntoIterator<Item = (u64, Snapshot)>,
) -> Vec<Event> {
    samples
        .into_iter()
        .flat_map(|(t, s)| e.evaluate(&s, T0 + t))
        .collect()
}

pub(super) fn seen(events: &[Event]) -> Seen {
    events
        .iter()
        .map(|e| (e.at - T0, e.kind, e.repeat, e.muted))
        .collect()
}

/// CPU samples every `step` seconds from `from` (inclusive) to `to` (exclusive).
pub(super) fn cpu_run(from: u64, to: u64, step: u64, v: f32) -> Samples {
    (from..to)
        .step_by(step as usize)
        .map(|t| (t, cpu(v)))
        .collect()
}

pub(super) fn state_of(e: &Engine, rule: &str) -> Option<AlertState> {
    e.statuses()
        .iter()
        .find(|s| s.rule == rule)
        .map(|s| s.state)
}

pub(super) use EventKind::{Firing, Resolved};

#[test]
fn sustained_for_table() {
    let cases: [(&str, Samples, Seen); 4] = [
        (
            "short spike",
            [cpu_run(0, 110, 10, 95.0), cpu_run(110, 300, 10, 20.0)].concat(),
            vec![],
        ),
        (
            "long: one firing at exactly for_secs",
            cpu_run(0, 1000, 10, 95.0),
            vec![(120, Firing, false, false)],
        ),
        (
            "a dip while pending starts over",
            [
                cpu_run(0, 100, 10, 95.0),
                cpu_run(100, 110, 10, 50.0),
                cpu_run(110, 400, 10, 95.0),
            ]
            .concat(),
            vec![(230, Firing, false, false)],
        ),
        (
            "exactly at the threshold is not over",
            cpu_run(0, 1000, 10, 80.0),
            vec![],
        ),
    ];
    for (name, samples, want) in cases {
        let mut e = engine(&AlertsConfig::default());
        assert_eq!(seen(&drive(&mut e, samples)), want, "{name}");
    }
}

#[test]
fn firing_message_says_value_duration_and_threshold() {
    let mut e = engine(&AlertsConfig::default());
    let events = drive(&mut e, cpu_run(0, 130, 10, 93.0));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].message, "CPU at 93% for 2 min (threshold 80%)");
    assert_eq!(
        (events[0].rule.as_str(), events[0].threshold),
        ("cpu", 80.0)
    );
}

#[test]
fn pending_then_firing_statuses_carry_since() {
    let mut e = engine(&AlertsConfig::default());
    drive(&mut e, cpu_run(0, 60, 10, 95.0));
    let st = e.statuses().into_iter().find(|s| s.rule == "cpu").unwrap();
    assert_eq!(
        (st.state, st.since, st.value),
        (AlertState::Pending, Some(T0), Some(95.0))
    );
    drive(&mut e, cpu_run(60, 130, 10, 95.0));
    let st = e.statuses().into_iter().find(|s| s.rule == "cpu").unwrap();
    assert_eq!((st.state, st.since), (AlertState::Firing, Some(T0 + 120)));
}

#[test]
fn hysteresis_between_clear_and_threshold_stays_firing_without_a_storm() {
    let mut e = engine(&AlertsConfig::default());
    let mut samples = vec![(0, disk(95))];
    // Two hours hovering around the threshold (90), never down to clear (85).
    samples.extend((1..1440u64).map(|i| (i * 5, disk([86, 89, 91, 92, 88][i as usize % 5]))));
    let events = drive(&mut e, samples);
    assert_eq!(seen(&events), vec![(0, Firing, false, false)]);
    assert_eq!(state_of(&e, "disk"), Some(AlertState::Firing));
    let events = drive(&mut e, [(7200, disk(85)), (7205, disk(91))]);
    assert_eq!(
        seen(&events),
        vec![(7200, Resolved, false, false), (7205, Firing, false, false)]
    );
    assert_eq!(events[0].message, "Disk back to 85% (threshold 90%)");
    assert_eq!(events[1].message, "Disk at 91% on /data (threshold 90%)");
}

#[test]
fn cooldown_repeats_only_after_it_and_only_while_over() {
    let cases = [
        (
            3600,
            vec![
                (120, Firing, false, false),
                (3720, Firing, true, false),
                (7320, Firing, true, false),
            ],
        ),
        (0, vec![(120, Firing, false, false)]),
    ];
    for (cooldown, want) in cases {
        let mut config = AlertsConfig::default();
        config.cpu.cooldown_secs = cooldown;
        let mut e = engine(&config);
        let events = drive(&mut e, cpu_run(0, 8000, 60, 95.0));
        assert_eq!(seen(&events), want, "cooldown {cooldown}");
        if let Some(repeat) = events.get(1) {
            assert!(
                repeat.message.starts_with("Still: CPU at 95% for 1 h"),
                "{}",
                repeat.message
            );
        }
    }
    // In the hysteresis band no reminder comes, however long it lasts.
    let mut e = engine(&AlertsConfig::default());
    let events = drive(
        &mut e,
        [cpu_run(0, 130, 10, 95.0), cpu_run(130, 20000, 60, 75.0)].concat(),
    );
    assert_eq!(seen(&events), vec![(120, Firing, false, false)]);
}

#[test]
fn recovery_on_and_off() {
    for (recovery, want) in [
        (
            true,
            vec![(0, Firing, false, false), (5, Resolved, false, false)],
        ),
        (false, vec![(0, Firing, false, false)]),
    ] {
        let mut config = AlertsConfig::default();
        config.disk.recovery = recovery;
        let mut e = engine(&config);
        let events = drive(&mut e, [(0, disk(95)), (5, disk(50)), (10, disk(50))]);
        assert_eq!(seen(&events), want, "recovery {recovery}");
        assert_eq!(state_of(&e, "disk"), Some(AlertState::Ok));
    }
}

#[test]
fn mute_records_events_muted_until_it_passes() {
    let config = muted_until_t0_plus_1000();
    assert_eq!(config.mute_until_secs(), Some(T0 + 1000));
    let mut e = engine(&config);
    let events = drive(
        &mut e,
        [
            (0, disk(95)),
            (500, disk(95)),
            // The mute is over and the disk still full: told once, now.
            (1000, disk(95)),
            (1005, disk(95)),
            (1010, disk(50)),
            (1015, disk(95)),
        ],
    );
    assert_eq!(
        seen(&events),
        vec![
            (0, Firing, false, true),
            (1000, Firing, true, false),
            (1010, Resolved, false, false),
            (1015, Firing, false, false),
        ]
    );
    assert_eq!(e.history().len(), 4);
}

#[test]
fn resolution_of_a_never_notified_alert_stays_muted() {
    let config = muted_until_t0_plus_1000();
    let mut e = engine(&config);
    let events = drive(&mut e, [(0, disk(95)), (2000, disk(50))]);
    assert_eq!(
        seen(&events),
        vec![(0, Firing, false, true), (2000, Resolved, false, true)]
    );
}

#[test]
fn globally_disabled_still_records_but_mutes_everything() {
    let config = AlertsConfig {
        enabled: false,
        ..AlertsConfig::default()
    };
    let mut e = engine(&config);
    let events = drive(&mut e, [(0, disk(95)), (5, disk(50))]);
    assert_eq!(
        seen(&events),
        vec![(0, Firing, false, true), (5, Resolved, false, true)]
    );
    assert!(e.statuses().iter().any(|s| s.rule == "disk"));
}

#[test]
fn disabled_rule_is_silent_and_not_listed() {
    let mut config = AlertsConfig::default();
    config.disk.enabled = false;
    config.service_down.enabled = false;
    let mut e = engine(&config);
    let mut dead = disk(99);
    dead.services.app.state = RunState::Failed;
    assert!(drive(&mut e, [(0, dead)]).is_empty());
    let ids: Vec<String> = e.statuses().into_iter().map(|s| s.rule).collect();
    let want: Vec<&str> = RULE_IDS
        .into_iter()
        .filter(|r| !["disk", "ollama_down", "app_down"].contains(r))
        .collect();
    assert_eq!(ids, want);
    let all = engine(&AlertsConfig::default()).statuses();
    assert_eq!(
        all.iter().map(|s| s.rule.as_str()).collect::<Vec<_>>(),
        RULE_IDS
    );
}
