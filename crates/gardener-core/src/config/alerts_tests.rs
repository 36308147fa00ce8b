//! Tests for `[alerts]`: defaults, per-rule defaults, located errors and
//! round trips through TOML.

use std::path::Path;

use bytesize::ByteSize;

use super::{AlertsConfig, WatchdogAction};
use crate::config::{Config, Result};

fn parse(src: &str) -> Result<Config> {
    Config::parse(src, Path::new("/etc/gardener.toml"))
}

fn err(src: &str) -> String {
    parse(src).unwrap_err().to_string()
}

#[test]
fn defaults_match_the_replaced_deployment() {
    let a = parse("").unwrap().alerts;
    assert_eq!(a, AlertsConfig::default());
    assert!(a.enabled);
    assert_eq!(a.mute_until, None);
    assert_eq!(
        (a.cpu.threshold, a.cpu.clear, a.cpu.for_secs),
        (80, 70, 120)
    );
    assert_eq!((a.memory.threshold, a.memory.clear), (80, 75));
    assert_eq!(
        (a.swap.threshold, a.swap.clear, a.swap.for_secs),
        (50, 40, 300)
    );
    assert_eq!(
        (a.disk.threshold, a.disk.clear, a.disk.for_secs),
        (90, 85, 0)
    );
    assert_eq!(a.disk.cooldown_secs, 21600);
    assert_eq!(a.ollama_rss.threshold, ByteSize::gib(5));
    assert_eq!(a.ollama_rss.clear, ByteSize::mib(4608));
    assert_eq!(a.ollama_rss.action, WatchdogAction::Notify);
    assert_eq!(a.app_rss.threshold, ByteSize::gib(2));
    assert_eq!(a.service_down.for_secs, 0);
    assert!(a.service_down.recovery);
    assert_eq!(a.health_failing.for_secs, 30);
    assert_eq!(a.backup_overdue.threshold, 36);
    let s = a.ollama_rss.settings();
    assert_eq!(s.threshold, 5.0 * 1024.0 * 1024.0 * 1024.0);
    assert_eq!(a.service_down.settings().threshold, 1.0);
    assert_eq!(a.backup_overdue.settings().clear, 36.0);
}

#[test]
fn a_custom_table_keeps_that_rules_other_defaults() {
    let c = parse(
        "[alerts]\nenabled = false\nmute_until = \"2026-11-25T18:00:00Z\"\n\
         [alerts.memory]\nthreshold = 90\n\
         [alerts.ollama_rss]\nthreshold = \"6GiB\"\nclear = \"5GiB\"\naction = \"unload-idle\"\n\
         [alerts.service_down]\nenabled = false\n",
    )
    .unwrap();
    let a = c.alerts;
    assert!(!a.enabled);
    assert_eq!(a.mute_until_secs(), Some(1_795_629_600));
    // Memory's own clear and for_secs, not CPU's.
    assert_eq!(
        (a.memory.threshold, a.memory.clear, a.memory.for_secs),
        (90, 75, 60)
    );
    assert_eq!(a.ollama_rss.threshold, ByteSize::gib(6));
    assert_eq!(a.ollama_rss.action, WatchdogAction::UnloadIdle);
    assert!(!a.service_down.enabled);
    assert_eq!(a.cpu, super::CpuRule::default());
}

#[test]
fn bare_toml_datetime_is_accepted_for_mute_until() {
    let c = parse("[alerts]\nmute_until = 2026-11-25T18:00:00Z\n").unwrap();
    assert_eq!(c.alerts.mute_until.as_deref(), Some("2026-11-25T18:00:00Z"));
    assert_eq!(c.alerts.mute_until_secs(), Some(1_795_629_600));
}

#[test]
fn unknown_key_in_a_rule_names_it() {
    let e = err("[alerts.cpu]\nfoo = 1\n");
    assert!(
        e.starts_with("/etc/gardener.toml:2:1: key `alerts.cpu.foo`: unknown key `foo`"),
        "{e}"
    );
    // `clear` does not exist on up/down rules.
    let e = err("[alerts.service_down]\nclear = 0\n");
    assert!(e.contains("key `alerts.service_down.clear`"), "{e}");
}

#[test]
fn clear_above_threshold_names_the_clear_key() {
    let e = err("[alerts.cpu]\nthreshold = 60\n");
    assert!(
        e.contains("key `alerts.cpu.clear`") && e.contains("above `threshold` (60)"),
        "{e}"
    );
    let e = err("[alerts.app_rss]\nthreshold = \"1GiB\"\nclear = \"1500MiB\"\n");
    assert!(e.contains(":3:1: key `alerts.app_rss.clear`"), "{e}");
    // Equal is fine: resolve exactly at the threshold.
    parse("[alerts.disk]\nthreshold = 85\nclear = 85\n").unwrap();
}

#[test]
fn percent_over_100_and_zero_backup_hours_are_refused() {
    let e = err("[alerts.disk]\nthreshold = 101\n");
    assert!(
        e.contains("key `alerts.disk.threshold`") && e.contains("100"),
        "{e}"
    );
    let e = err("[alerts.backup_overdue]\nthreshold = 0\n");
    assert!(e.contains("key `alerts.backup_overdue.threshold`"), "{e}");
}

#[test]
fn bad_mute_until_names_the_key() {
    for bad in [
        "\"tomorrow\"",
        "\"2026-11-25T18:00:00+01:00\"",
        "2026-11-25T18:00:00",
    ] {
        let e = err(&format!("[alerts]\nmute_until = {bad}\n"));
        assert!(
            e.contains(":2:1: key `alerts.mute_until`") && e.contains("UTC"),
            "{bad}: {e}"
        );
    }
    let e = err("[alerts]\nmute_until = 5\n");
    assert!(e.contains("`alerts.mute_until`"), "{e}");
}

#[test]
fn bad_action_names_the_key() {
    let e = err("[alerts.ollama_rss]\naction = \"reboot\"\n");
    assert!(
        e.contains("key `alerts.ollama_rss.action`") && e.contains("unload-idle"),
        "{e}"
    );
}

#[test]
fn alerts_round_trip_through_toml_exactly() {
    let c = parse(
        "[alerts]\nmute_until = \"2026-01-02T03:04:05Z\"\n\
         [alerts.app_rss]\nthreshold = \"1536MiB\"\nclear = 1000000\n",
    )
    .unwrap();
    let text = c.to_toml();
    // Written so it reads back exactly, not rounded to one decimal.
    assert!(text.contains("clear = 1000000"), "{text}");
    assert!(text.contains("clear = \"4608MiB\""), "{text}");
    assert!(text.contains("threshold = \"1536MiB\""), "{text}");
    assert_eq!(parse(&text).unwrap(), c);
    let defaults = Config::default();
    assert_eq!(parse(&defaults.to_toml()).unwrap(), defaults);
}

#[test]
fn model_offloaded_defaults_limits_and_round_trip() {
    let a = AlertsConfig::default();
    let m = &a.model_offloaded;
    assert!(m.enabled && m.recovery);
    assert_eq!((m.threshold, m.clear, m.for_secs), (0, 0, 30));
    assert_eq!(m.cooldown_secs, 3600);
    let s = m.settings();
    assert_eq!((s.threshold, s.clear), (0.0, 0.0));

    let c =
        parse("[alerts.model_offloaded]\nthreshold = 25\nclear = 10\nrecovery = false\n").unwrap();
    let m = &c.alerts.model_offloaded;
    assert_eq!((m.threshold, m.clear, m.for_secs), (25, 10, 30));
    assert!(!m.recovery);
    assert_eq!(parse(&c.to_toml()).unwrap(), c);

    let e = err("[alerts.model_offloaded]\nthreshold = 5\nclear = 20\n");
    assert!(e.contains("key `alerts.model_offloaded.clear`"), "{e}");
    let e = err("[alerts.model_offloaded]\nthreshold = 120\n");
    assert!(e.contains("key `alerts.model_offloaded.threshold`"), "{e}");
    let e = err("[alerts.model_offloaded]\nsize = 1\n");
    assert!(e.contains("key `alerts.model_offloaded.size`"), "{e}");
}
