//! Pausing alerts, as the menu's Pause Alerts ▸ and the dashboard do it: the
//! end of the pause goes into `[alerts] mute_until` in gardener.toml, so it
//! holds across restarts and for `gardener monitor` too.

use std::path::Path;

use serde::Deserialize;

use crate::config::{self, Config};

/// How long to pause alerts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum PauseFor {
    /// One hour from now.
    Hour,
    /// Until 08:00 local time tomorrow.
    UntilTomorrow,
    /// Alerts again from now.
    Resume,
}

/// When a pause chosen at `now` ends (`None`: resume now), to the second.
pub fn end(pause: PauseFor, now: &jiff::ZonedDateTime) -> Option<jiff::Timestamp> {
    let until = match pause {
        PauseFor::Hour => Some(now.timestamp() + jiff::SignedDuration::from_hours(1)),
        PauseFor::UntilTomorrow => now
            .date()
            .tomorrow()
            .ok()
            .and_then(|d| {
                d.at(8, 0, 0, 0)
                    .to_zoned_datetime(now.time_zone().clone())
                    .ok()
            })
            .map(|z| z.timestamp()),
        PauseFor::Resume => None,
    };
    until.map(|t| t.round(jiff::Unit::Second).unwrap_or(t))
}

/// Writes the pause chosen now into the config file at `path` (its comments
/// and layout kept) and returns the config as it now is.
pub fn set(path: &Path, pause: PauseFor) -> config::Result<Config> {
    let until = end(pause, &jiff::ZonedDateTime::now()).map(|t| t.to_string());
    tracing::info!(?pause, until = ?until, "alerts paused");
    Config::set_mute_until(path, until.as_deref())?;
    Config::load(path)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn pauses_end_in_an_hour_or_tomorrow_at_eight() {
        // Central European winter time, as a fixed offset (no tz database needed).
        let tz = jiff::tz::TimeZone::fixed(jiff::tz::offset(1));
        let now = jiff::civil::date(2026, 12, 2)
            .at(22, 30, 0, 250_000_000)
            .to_zoned_datetime(tz)
            .unwrap();
        let hour = end(PauseFor::Hour, &now).unwrap();
        assert_eq!(hour.to_string(), "2026-12-02T22:30:00Z");
        let tomorrow = end(PauseFor::UntilTomorrow, &now).unwrap();
        assert_eq!(tomorrow.to_string(), "2026-12-03T07:00:00Z");
        assert_eq!(end(PauseFor::Resume, &now), None);
    }

    #[test]
    fn a_pause_is_written_and_resuming_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gardener.toml");
        std::fs::write(&path, "# mine\n[alerts]\n").unwrap();
        let paused = set(&path, PauseFor::Hour).unwrap();
        let until = paused.alerts.mute_until_secs().unwrap();
        let now = jiff::Timestamp::now().as_second();
        assert!((3599..=3601).contains(&(until - u64::try_from(now).unwrap())));
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .starts_with("# mine\n")
        );
        let resumed = set(&path, PauseFor::Resume).unwrap();
        assert_eq!(resumed.alerts.mute_until_secs(), None);
    }
}
