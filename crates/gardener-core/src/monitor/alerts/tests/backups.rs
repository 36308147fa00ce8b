//! Alert engine tests of the backup and copy rules, and of the system rules
//! (swap, disk), unknown values, wording and serialisation.

use super::*;

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
    assert_eq!(cpu.name, "CPU use");
    let names: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names.len(),
        RULE_IDS.len(),
        "each rule has words of its own"
    );
    assert!(rows.iter().all(|r| r.name != r.rule), "{rows:?}");
    assert_eq!(rule_name("copy_failed:nas"), "Copy to nas failed");
    assert_eq!(rule_name("copy_overdue:nas"), "Copy to nas overdue");
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
