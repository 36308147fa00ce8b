//! A service's log as a window shows it: its last lines, then what is
//! written after them.

use serde::{Deserialize, Serialize};

use super::{Follower, Result, Tail, tail};
use crate::context::Context;
use crate::services::ServiceId;

/// Which of a service's two logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum LogStream {
    /// What it writes to stdout.
    Out,
    /// What it writes to stderr.
    Err,
}

/// The most lines a window is given at once.
pub const MAX_LINES: usize = 2_000;

/// The last `lines` lines (at most [`MAX_LINES`]) of `service`'s `stream`
/// log, and a follower for what is written after them. A log not written
/// yet (the service has not started, or logs elsewhere) has no lines and
/// is followed from its start once it appears.
pub fn open(
    ctx: &Context,
    service: ServiceId,
    stream: LogStream,
    lines: usize,
) -> Result<(Vec<String>, Follower)> {
    let (out, err) = ctx.log_files(service);
    let path = match stream {
        LogStream::Out => out,
        LogStream::Err => err,
    };
    let tail = match tail(&path, lines.min(MAX_LINES)) {
        Ok(tail) => tail,
        Err(e) if e.is_not_found() => Tail::default(),
        Err(e) => return Err(e),
    };
    let follower = Follower::new(&path, tail.end);
    Ok((tail.lines, follower))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::monitor::run_loop::tests::context;

    fn append(path: &std::path::Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn a_log_opens_at_its_last_lines_and_follows_what_comes_after() {
        let home = tempfile::tempdir().unwrap();
        let ctx = context(home.path());
        std::fs::create_dir_all(&ctx.logs_dir).unwrap();
        let (_, err) = ctx.log_files(ServiceId::Ollama);

        // Not written yet: nothing to show, and its first lines are followed.
        let (lines, mut follower) = open(&ctx, ServiceId::Ollama, LogStream::Err, 5).unwrap();
        assert!(lines.is_empty());
        append(&err, "one\ntwo\n");
        assert_eq!(follower.poll().unwrap(), ["one", "two"]);

        append(&err, "three\n");
        let (lines, mut follower) = open(&ctx, ServiceId::Ollama, LogStream::Err, 2).unwrap();
        assert_eq!(lines, ["two", "three"]);
        assert!(follower.poll().unwrap().is_empty(), "nothing new yet");
        append(&err, "four\n");
        assert_eq!(follower.poll().unwrap(), ["four"]);

        let (out, _) = ctx.log_files(ServiceId::Ollama);
        append(&out, "stdout\n");
        let (lines, _) = open(&ctx, ServiceId::Ollama, LogStream::Out, 10).unwrap();
        assert_eq!(lines, ["stdout"], "the other stream is its own file");
    }
}
