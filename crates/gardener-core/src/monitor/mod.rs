//! Watching the stack: HTTP probes of both services, the machine's gauges,
//! one [`Snapshot`] per tick kept in a ring buffer, the alert engine that
//! turns snapshots into events, the memory watchdog, and Prometheus text.

pub mod alerts;
pub mod gauges;
pub mod history;
pub mod host;
pub mod metrics;
pub mod probe;
pub mod recent;
pub mod run_loop;
pub mod sampler;
pub mod snapshot;
pub mod summary;
pub mod unload;

pub use run_loop::{Monitor, WatchdogOutcome};
pub use snapshot::*;
