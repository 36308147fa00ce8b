//! How often progress is shown: one rule for the menu's line and the
//! windows' bars.

use super::{Phase, Progress};

/// Lets progress through at most every [`Throttle::EVERY`] (a menu line or a
/// window needs no more), but always the first report of a phase and the one
/// that ends it, so what is shown never stops short.
#[derive(Debug, Default)]
pub struct Throttle {
    last: Option<(std::time::Instant, Phase)>,
}

impl Throttle {
    /// The shortest time between two reports let through.
    pub const EVERY: std::time::Duration = std::time::Duration::from_millis(200);

    /// Whether `p` should be shown now.
    pub fn ready(&mut self, p: &Progress) -> bool {
        let done = p.total_bytes > 0 && p.bytes >= p.total_bytes;
        let due = self
            .last
            .is_none_or(|(at, phase)| phase != p.phase || at.elapsed() >= Self::EVERY);
        if done || due {
            self.last = Some((std::time::Instant::now(), p.phase));
        }
        done || due
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
        assert_eq!(
            burst,
            0,
            "a burst within {:?} shows nothing new",
            Throttle::EVERY
        );
        assert!(
            t.ready(&at(Phase::Archive, 100)),
            "the end of a phase always shows"
        );
        assert!(t.ready(&at(Phase::Verify, 0)), "a new phase always shows");
        assert!(!t.ready(&at(Phase::Verify, 1)));
        std::thread::sleep(Throttle::EVERY);
        assert!(
            t.ready(&at(Phase::Verify, 2)),
            "shown again once the time has passed"
        );
    }
}
