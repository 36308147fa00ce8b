//! The recent past a window shows: the last hour of history points and the
//! newest alert events, kept up to date sample by sample. The dashboard's
//! page applies each [`Kept`] as it is told, so what it shows and what the
//! app keeps are one and the same.

use serde::Serialize;

use super::alerts::Event;
use super::history::Point;
use super::run_loop::Recent;
use super::sampler::now_ms;
use super::snapshot::Snapshot;

/// How much of the past a window shows.
pub const RECENT_MS: u64 = 60 * 60 * 1000;

/// At most this many alert events are kept for a window.
pub const EVENTS_KEPT: usize = 200;

/// What one sample changed in the recent past: `point` and the sample's
/// events were added at the end, after the oldest `dropped_points` points
/// and `dropped_events` events were taken off the front.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Kept {
    /// The sample's point in the history.
    pub point: Point,
    /// How many of the oldest points left the hour.
    pub dropped_points: usize,
    /// How many of the oldest events made way for new ones.
    pub dropped_events: usize,
}

/// Where the recent past starts now (milliseconds since the epoch).
pub fn since_ms() -> u64 {
    now_ms().saturating_sub(RECENT_MS)
}

impl Recent {
    /// Adds `snapshot` and its `events`, dropping points older than an hour
    /// before it and events beyond the newest [`EVENTS_KEPT`].
    pub fn keep(&mut self, snapshot: &Snapshot, events: &[Event]) -> Kept {
        let point = Point::of(snapshot);
        self.history.push(point);
        let oldest = snapshot.taken_at_ms.saturating_sub(RECENT_MS);
        let dropped_points = self.history.partition_point(|p| p.t_ms < oldest);
        self.history.drain(..dropped_points);
        self.events.extend_from_slice(events);
        let dropped_events = self.events.len().saturating_sub(EVENTS_KEPT);
        self.events.drain(..dropped_events);
        self.latest = Some(snapshot.clone());
        Kept {
            point,
            dropped_points,
            dropped_events,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::alerts::EventKind;

    fn snap(t_ms: u64) -> Snapshot {
        Snapshot {
            taken_at_ms: t_ms,
            ..Snapshot::default()
        }
    }

    #[test]
    fn the_recent_past_is_an_hour_of_samples_and_the_newest_events() {
        let mut recent = Recent::default();
        let event = Event {
            rule: "cpu".into(),
            kind: EventKind::Firing,
            value: 93.0,
            threshold: 80.0,
            at: 1,
            message: "CPU at 93%".into(),
            repeat: false,
            muted: false,
        };
        let mut dropped = (0, 0);
        for i in 0..800u64 {
            let events = if i % 3 == 0 {
                vec![event.clone()]
            } else {
                Vec::new()
            };
            let kept = recent.keep(&snap(i * 5_000), &events);
            assert_eq!(kept.point, Point::of(&snap(i * 5_000)));
            dropped.0 += kept.dropped_points;
            dropped.1 += kept.dropped_events;
        }
        // 800 samples 5 s apart: the last hour is 721 of them.
        assert_eq!(recent.history.len(), 721);
        assert_eq!(
            recent.history.first().unwrap().t_ms,
            799 * 5_000 - 3_600_000
        );
        assert_eq!(recent.events.len(), EVENTS_KEPT);
        assert_eq!(recent.latest.unwrap().taken_at_ms, 799 * 5_000);
        // What was said to be dropped is exactly what is gone.
        assert_eq!(dropped, (800 - 721, 267 - EVENTS_KEPT));
    }
}
