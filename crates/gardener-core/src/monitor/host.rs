//! The monitor on a thread of its own, for the app's processes: its
//! service-manager calls block, so it gets a thread and a runtime of its own,
//! hands each sample to a callback, takes [`Request`]s between ticks, and
//! stops when asked (or when its handle is dropped).

use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::alerts::Event;
use super::run_loop::{Monitor, Request};
use super::snapshot::Snapshot;

/// A monitor running on its thread.
#[derive(Debug)]
pub struct MonitorThread {
    requests: mpsc::UnboundedSender<Request>,
    stop: watch::Sender<bool>,
    ended: std::sync::mpsc::Receiver<()>,
}

impl MonitorThread {
    /// Starts `monitor` on a thread named "monitor"; `on_tick` gets every
    /// sample and the alert events it raised, on that thread.
    pub fn spawn(
        mut monitor: Monitor,
        mut on_tick: impl FnMut(&Snapshot, &[Event]) + Send + 'static,
    ) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (requests, asked) = mpsc::unbounded_channel();
        let (stop, shutdown) = watch::channel(false);
        let (finished, ended) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("monitor".into())
            .spawn(move || {
                tracing::info!("monitor started");
                runtime.block_on(monitor.run(shutdown, Some(asked), |snapshot, events| {
                    on_tick(snapshot, events);
                }));
                tracing::info!("monitor stopped");
                let _ = finished.send(());
            })?;
        Ok(Self {
            requests,
            stop,
            ended,
        })
    }

    /// Hands `request` to the monitor; false when it has stopped.
    pub fn ask(&self, request: Request) -> bool {
        self.requests.send(request).is_ok()
    }

    /// Stops the monitor and waits up to `within` for it to save its alert
    /// state; false when it did not stop in time (it then stops on its own,
    /// unwaited for).
    pub fn stop(self, within: Duration) -> bool {
        let _ = self.stop.send(true);
        self.ended.recv_timeout(within).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::run_loop::tests::context;
    use crate::services::testing::NoServices;

    #[test]
    fn a_hosted_monitor_samples_answers_and_stops() {
        let home = tempfile::tempdir().unwrap();
        // It fails the test if anything is started, stopped or restarted.
        let bare = NoServices {
            dir: "/nonexistent".into(),
        };
        let monitor = Monitor::with_manager(context(home.path()), Box::new(bare), false).unwrap();
        let (ticked, ticks) = std::sync::mpsc::channel();
        let hosted = MonitorThread::spawn(monitor, move |snapshot, _| {
            let _ = ticked.send(snapshot.taken_at_ms);
        })
        .unwrap();
        let first = ticks.recv_timeout(Duration::from_secs(20)).unwrap();
        assert!(first > 0, "a sample with its time");
        let (reply, answer) = tokio::sync::oneshot::channel();
        assert!(hosted.ask(Request::Recent { since_ms: 0, reply }));
        let recent = answer.blocking_recv().unwrap();
        assert_eq!(recent.latest.map(|s| s.taken_at_ms), Some(first));
        assert!(hosted.stop(Duration::from_secs(10)), "stopped in time");
    }
}
