//! Alert engine tests: every clock is explicit, nothing sleeps.

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

#[test]
fn a_failed_backup_fires_at_once_and_the_next_success_resolves_it() {
    let mut e = engine(&AlertsConfig::default());
    let mut failed = calm();
    failed.backup_failure = Some("app-data: ~/.codebase-gardener does not exist".into());
    let events = drive(
        &mut e,
        [(0, calm()), (5, failed.clone()), (10, failed), (15, calm())],
    );
    let only: Vec<&Event> = events
        .iter()
        .filter(|e| e.rule == "backup_failed")
        .collect();
    assert_eq!(only.len(), 2, "{events:?}");
    assert_eq!((only[0].kind, only[0].at), (Firing, T0 + 5));
    assert_eq!(
        only[0].message,
        "The last backup failed: app-data: ~/.codebase-gardener does not exist"
    );
    assert_eq!(
        (only[1].kind, only[1].message.as_str()),
        (Resolved, "A backup succeeded again")
    );
}

#[test]
fn each_target_has_its_own_copy_alerts() {
    let config = AlertsConfig {
        copy_targets: vec!["nas".into(), "offsite".into()],
        ..AlertsConfig::default()
    };
    let mut e = engine(&config);
    let copies = |offsite_failure: Option<&str>, nas_at: u64| {
        let mut s = calm();
        s.copies = vec![
            crate::monitor::snapshot::TargetCopies {
                name: "nas".into(),
                last_copy_at: Some(nas_at),
                failure: None,
                has_newest: true,
            },
            crate::monitor::snapshot::TargetCopies {
                name: "offsite".into(),
                last_copy_at: Some(T0),
                failure: offsite_failure.map(String::from),
                has_newest: false,
            },
        ];
        s
    };
    let events = drive(
        &mut e,
        [
            (0, copies(None, T0)),
            (
                5,
                copies(Some("offsite: cannot reach it: Connection refused"), T0),
            ),
            (10, copies(None, T0 - 40 * 3600)),
            (20, copies(None, T0 + 15)),
        ],
    );
    let seen: Vec<(&str, EventKind)> = events.iter().map(|e| (e.rule.as_str(), e.kind)).collect();
    assert_eq!(
        seen,
        [
            ("copy_failed:offsite", Firing),
            // At 10 s: a target's rules in config order, nas before offsite.
            ("copy_overdue:nas", Firing),
            ("copy_failed:offsite", Resolved),
            ("copy_overdue:nas", Resolved),
        ]
    );
    assert_eq!(
        events[0].message,
        "The last copy to offsite failed: offsite: cannot reach it: Connection refused"
    );
    assert_eq!(
        events[1].message,
        "No copy to nas for 1 d 16 h (threshold 1 d 12 h)"
    );
    let rules: Vec<String> = describe(&config).into_iter().map(|r| r.rule).collect();
    assert!(rules.ends_with(&[
        "copy_failed:nas".to_owned(),
        "copy_overdue:nas".to_owned(),
        "copy_failed:offsite".to_owned(),
        "copy_overdue:offsite".to_owned()
    ]));
}

#[test]
fn backup_overdue_needs_a_known_backup() {
    let mut e = engine(&AlertsConfig::default());
    assert!(drive(&mut e, [(0, calm())]).is_empty());
    assert_eq!(
        e.statuses()
            .iter()
            .find(|s| s.rule == "backup_overdue")
            .unwrap()
            .value,
        None
    );
    let mut old = calm();
    old.last_backup_at = Some(T0 - 40 * 3600);
    let mut fresh = calm();
    fresh.last_backup_at = Some(T0 + 3000);
    let events = drive(&mut e, [(5, old), (3600, fresh)]);
    assert_eq!(
        seen(&events),
        vec![(5, Firing, false, false), (3600, Resolved, false, false)]
    );
    assert_eq!(
        events[0].message,
        "Last backup was 1 d 16 h ago (threshold 1 d 12 h)"
    );
    assert_eq!(
        events[1].message,
        "Backups are current again (last one 10 min ago)"
    );
}

#[test]
fn no_swap_never_fires() {
    let mut e = engine(&AlertsConfig::default());
    let mut s = calm();
    s.system.swap = Swap::default();
    s.system.memory.total_bytes = 0;
    s.system.disk.total_bytes = 0;
    assert!(drive(&mut e, (0..100).map(|t| (t * 60, s.clone()))).is_empty());
    let swap = e.statuses().into_iter().find(|s| s.rule == "swap").unwrap();
    assert_eq!((swap.state, swap.value), (AlertState::Ok, None));
    // With swap, 3 of 4 GiB used for 5 minutes fires.
    s.system.swap = Swap {
        used_bytes: 3 * GIB,
        total_bytes: 4 * GIB,
    };
    let events = drive(&mut e, (0..7).map(|t| (6000 + t * 60, s.clone())));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].message, "Swap at 75% for 5 min (threshold 50%)");
}

#[test]
fn unknown_values_keep_the_state() {
    let mut config = AlertsConfig::default();
    config.ollama_rss.for_secs = 0;
    let mut e = engine(&config);
    let mut big = calm();
    big.services.ollama.service.rss_bytes = Some(6_012_954_214);
    let mut unknown = calm();
    unknown.services.ollama.service.rss_bytes = None;
    unknown.system.cpu_percent = f32::NAN;
    let events = drive(&mut e, [(0, big), (5, unknown.clone()), (10, unknown)]);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].message, "Ollama uses 5.6 GiB (budget 5 GiB)");
    assert_eq!(state_of(&e, "ollama_rss"), Some(AlertState::Firing));
    // NaN never reaches the file (JSON would write it as null).
    let json = serde_json::to_string(&e.save_state()).unwrap();
    assert!(
        serde_json::from_str::<PersistedAlerts>(&json).is_ok(),
        "{json}"
    );
}

#[test]
fn sizes_and_durations_read_naturally() {
    let cases = [
        (0, "0 s"),
        (45, "45 s"),
        (120, "2 min"),
        (3600, "1 h"),
        (3900, "1 h 5 min"),
    ];
    for (secs, want) in cases {
        assert_eq!(duration(secs), want);
    }
    assert_eq!(duration(183_600), "2 d 3 h");
    assert_eq!(bytes(5.0 * 1_073_741_824.0), "5 GiB");
    assert_eq!(bytes(512.0 * 1_048_576.0), "512 MiB");
    assert_eq!(bytes(100.0), "100 B");
}

#[test]
fn events_serialize_with_stable_names() {
    let mut e = engine(&AlertsConfig::default());
    let events = drive(&mut e, [(0, disk(95))]);
    let json = serde_json::to_value(&events[0]).unwrap();
    assert_eq!(json["kind"], "firing");
    assert_eq!(json["rule"], "disk");
    assert_eq!(json["at"], T0);
    let back: Event = serde_json::from_value(json).unwrap();
    assert_eq!(back, events[0]);
}

#[test]
fn describe_lists_every_rule_with_its_limits_and_whether_it_runs() {
    let mut config = AlertsConfig::default();
    config.swap.enabled = false;
    let rows = describe(&config);
    let ids: Vec<&str> = rows.iter().map(|r| r.rule.as_str()).collect();
    assert_eq!(ids, RULE_IDS);
    let cpu = &rows[0];
    assert_eq!(
        (cpu.threshold, cpu.enabled),
        (f64::from(config.cpu.threshold), true)
    );
    assert!(cpu.clear < cpu.threshold);
    assert!(!rows[2].enabled, "swap was turned off");
    config.enabled = false;
    assert!(
        describe(&config).iter().all(|r| !r.enabled),
        "alerts off: none runs"
    );
}

#[test]
fn the_disk_rule_counts_like_df_not_used_over_total() {
    // ext4 keeps 5% for root: 86% of the blocks used is 91% of the room a
    // person has, which `df` (and the gauge) shows, and the rule fires on.
    let mut e = Engine::new(&AlertsConfig::default(), None);
    let mut s = calm();
    s.system.disk.used_bytes = 86;
    s.system.disk.percent = 91.0;
    let events = drive(&mut e, [(0, s)]);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].value, 91.0);
    assert_eq!(state_of(&e, "disk"), Some(AlertState::Firing));
}
