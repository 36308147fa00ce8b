//! How often progress is shown: one rule for the menu's line, the windows'
//! bars and the CLI's, whatever the work (a backup's phases, a model's
//! download).

use super::{Phase, Progress};

/// Lets progress through at most every [`EVERY`] (a menu line or a window
/// needs no more), but always the first report of a stage (a backup's
/// phase, a download's step) and the one that ends it, so what is shown
/// never stops short.
#[derive(Debug)]
pub struct Throttle<Stage = Phase> {
    last: Option<(std::time::Instant, Stage)>,
}

/// The shortest time between two reports let through.
pub const EVERY: std::time::Duration = std::time::Duration::from_millis(200);

impl<Stage> Default for Throttle<Stage> {
    fn default() -> Self {
        Self { last: None }
    }
}

impl<Stage: PartialEq> Throttle<Stage> {
    /// Whether a report at `stage` should be shown now; `ends` says it is
    /// the stage's last.
    pub fn ready_at(&mut self, stage: Stage, ends: bool) -> bool {
        let due = self
            .last
            .as_ref()
            .is_none_or(|(at, last)| *last != stage || at.elapsed() >= EVERY);
        if ends || due {
            self.last = Some((std::time::Instant::now(), stage));
        }
        ends || due
    }
}

/// Progress that goes through a [`Throttle`]: the stage it is at, and
/// whether it is that stage's last report.
pub trait Paced {
    /// What a new stage is told apart by.
    type Stage: PartialEq;
    /// The stage of this report, and whether it ends it.
    fn stage(&self) -> (Self::Stage, bool);
}

impl Paced for Progress {
    type Stage = Phase;
    fn stage(&self) -> (Phase, bool) {
        (
            self.phase,
            self.total_bytes > 0 && self.bytes >= self.total_bytes,
        )
    }
}

impl<Stage: PartialEq> Throttle<Stage> {
    /// Whether `p` should be shown now.
    pub fn ready<P: Paced<Stage = Stage>>(&mut self, p: &P) -> bool {
        let (stage, ends) = p.stage();
        self.ready_at(stage, ends)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(phase: Phase, bytes: u64) -> Progress {
        Progress {
            phase,
            bytes,
            total_bytes: 100,
            files: 0,
            total_files: 0,
        }
    }

    #[test]
    fn lets_through_the_first_each_new_phase_and_the_end_but_not_a_burst() {
        let mut t = Throttle::default();
        assert!(t.ready(&at(Phase::Archive, 1)));
        let burst = (2..90).filter(|b| t.ready(&at(Phase::Archive, *b))).count();
        assert_eq!(burst, 0, "a burst within {:?} shows nothing new", EVERY);
        assert!(
            t.ready(&at(Phase::Archive, 100)),
            "the end of a phase always shows"
        );
        assert!(t.ready(&at(Phase::Verify, 0)), "a new phase always shows");
        assert!(!t.ready(&at(Phase::Verify, 1)));
        std::thread::sleep(EVERY);
        assert!(
            t.ready(&at(Phase::Verify, 2)),
            "shown again once the time has passed"
        );
    }
}
