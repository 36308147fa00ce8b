//! The recent past for the sparklines: a fixed-size ring of compact points,
//! one per tick. Full snapshots are not kept — only the newest matters for
//! everything but the graphs, and a week at one-second ticks must stay small.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::snapshot::{RunState, ServiceSnapshot, Snapshot};

/// Most points ever kept, whatever the config asks (≈ 5 MB).
pub const MAX_POINTS: usize = 100_000;

/// One tick, reduced to what the graphs draw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Point {
    /// Milliseconds since the epoch.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub t_ms: u64,
    /// Machine CPU %.
    pub cpu_percent: f32,
    /// Machine memory %.
    pub memory_percent: f32,
    /// Swap in use.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub swap_used_bytes: u64,
    /// Data volume %.
    pub disk_percent: f32,
    /// Ollama's process tree RSS (0 when not running).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub ollama_rss_bytes: u64,
    /// The app's process tree RSS (0 when not running).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub app_rss_bytes: u64,
    /// Ollama answered its health check.
    pub ollama_up: bool,
    /// The app answered its health check.
    pub app_up: bool,
}

impl Point {
    /// The graphed parts of `s`.
    pub fn of(s: &Snapshot) -> Self {
        let up = |svc: &ServiceSnapshot| {
            // Unknown: the manager cannot be asked, but the service answers.
            svc.healthy
                && matches!(
                    svc.state,
                    RunState::Running | RunState::External | RunState::Unknown
                )
        };
        Self {
            t_ms: s.taken_at_ms,
            cpu_percent: s.system.cpu_percent,
            memory_percent: s.system.memory.percent,
            swap_used_bytes: s.system.swap.used_bytes,
            disk_percent: s.system.disk.percent,
            ollama_rss_bytes: s.services.ollama.service.rss_bytes.unwrap_or(0),
            app_rss_bytes: s.services.app.rss_bytes.unwrap_or(0),
            ollama_up: up(&s.services.ollama.service),
            app_up: up(&s.services.app),
        }
    }
}

/// A ring buffer of points covering a fixed span of time.
#[derive(Clone, Debug)]
pub struct History {
    cap: usize,
    points: VecDeque<Point>,
}

impl History {
    /// Room for `span_secs` of ticks every `interval_secs` (at least one
    /// point, at most [`MAX_POINTS`]).
    pub fn new(span_secs: u64, interval_secs: u64) -> Self {
        let wanted = span_secs / interval_secs.max(1);
        let cap = usize::try_from(wanted)
            .unwrap_or(MAX_POINTS)
            .clamp(1, MAX_POINTS);
        Self {
            cap,
            // Grown as needed: a monitor that runs for a minute should not
            // hold a week's worth of memory.
            points: VecDeque::new(),
        }
    }

    /// Adds the newest point, dropping the oldest when full.
    pub fn push(&mut self, p: Point) {
        if self.points.len() == self.cap {
            self.points.pop_front();
        }
        self.points.push_back(p);
    }

    /// Oldest first.
    pub fn points(&self) -> impl ExactSizeIterator<Item = &Point> {
        self.points.iter()
    }

    /// Points taken at or after `t_ms`, oldest first.
    pub fn since(&self, t_ms: u64) -> Vec<Point> {
        let start = self.points.partition_point(|p| p.t_ms < t_ms);
        self.points.range(start..).copied().collect()
    }

    /// How many points it holds at most.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// How many points it holds.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: u64) -> Point {
        Point {
            t_ms: t,
            ..Point::default()
        }
    }

    #[test]
    fn one_hour_at_five_seconds_is_720_points() {
        assert_eq!(History::new(3600, 5).capacity(), 720);
    }

    #[test]
    fn capacity_is_bounded_both_ways() {
        assert_eq!(History::new(7 * 24 * 3600, 1).capacity(), MAX_POINTS);
        assert_eq!(History::new(1, 5).capacity(), 1);
    }

    #[test]
    fn full_ring_drops_the_oldest() {
        let mut h = History::new(30, 10);
        for t in 1..=5 {
            h.push(at(t));
        }
        let ts: Vec<u64> = h.points().map(|p| p.t_ms).collect();
        assert_eq!(ts, [3, 4, 5]);
    }

    #[test]
    fn since_returns_the_tail() {
        let mut h = History::new(100, 1);
        for t in [10, 20, 30, 40] {
            h.push(at(t));
        }
        let ts: Vec<u64> = h.since(25).iter().map(|p| p.t_ms).collect();
        assert_eq!(ts, [30, 40]);
        assert!(h.since(41).is_empty());
        assert_eq!(h.since(0).len(), 4);
    }

    #[test]
    fn point_counts_an_unhealthy_running_service_as_down() {
        let mut s = Snapshot::default();
        s.services.app.state = RunState::Running;
        s.services.app.healthy = false;
        s.services.ollama.service.state = RunState::External;
        s.services.ollama.service.healthy = true;
        s.services.ollama.service.rss_bytes = Some(42);
        let p = Point::of(&s);
        assert!(!p.app_up);
        assert!(p.ollama_up);
        assert_eq!(p.ollama_rss_bytes, 42);
        s.services.app.state = RunState::Stopped;
        s.services.app.healthy = true;
        assert!(!Point::of(&s).app_up, "stopped");
        // The service manager cannot be asked: the health check is what counts.
        s.services.app.state = RunState::Unknown;
        assert!(Point::of(&s).app_up);
    }
}
