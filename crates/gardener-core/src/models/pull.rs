//! Pulling a model: `POST /api/pull` streams NDJSON progress, passed on
//! through the progress [`Throttle`] (a report per step, then at most
//! every [`EVERY`](crate::backup::throttle::EVERY)); Ctrl-C (a
//! [`Cancel`]) stops it within a moment, and when the layers' sizes arrive
//! they are checked against the free space of the models folder's volume.
//!
//! Ollama keeps what it downloaded of a stopped pull and resumes it next
//! time, so stopping leaves nothing to clean up.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;

use super::ndjson::{Lines, MAX_LINE, PullLine, parse_pull_line};
use super::{Error, Result, space};
use crate::backup::{Cancel, Throttle};
use crate::monitor::probe::{Prober, from_reqwest};

/// How long a pull's stream may stay silent: Ollama says nothing while it
/// checks a large layer's digest.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// How often a wait looks at the cancel switch.
const CANCEL_POLL: Duration = Duration::from_millis(50);

/// How a pull runs.
#[derive(Clone, Debug)]
pub struct PullOptions {
    /// Stops the pull when switched.
    pub cancel: Cancel,
    /// `[ollama] models_dir`, expanded: its volume must hold the layers.
    pub models_dir: PathBuf,
    /// How long the stream may stay silent ([`IDLE_TIMEOUT`]).
    pub idle_timeout: Duration,
}

/// Where a pull is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct PullProgress {
    /// Ollama's words: `pulling manifest`, `pulling 6a0746a1ec1a`,
    /// `verifying sha256 digest`, `success`.
    pub status: String,
    /// The layer downloading now.
    pub digest: Option<String>,
    /// Bytes here, over every layer seen so far.
    pub completed: u64,
    /// Bytes of every layer seen so far.
    pub total: u64,
}

impl crate::backup::Paced for PullProgress {
    type Stage = String;
    fn stage(&self) -> (String, bool) {
        (self.status.clone(), self.status == "success")
    }
}

/// A finished pull.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Pulled {
    /// The model.
    pub model: String,
    /// The size of its layers.
    pub bytes: u64,
    /// How long it took.
    pub seconds: f64,
}

/// Pulls `model`, reporting progress to `on_progress`.
///
/// # Errors
/// [`Error::PullFailed`] with Ollama's words, [`Error::Interrupted`] when
/// the stream breaks off or goes silent, [`Error::NoSpace`],
/// [`Error::Cancelled`], [`Error::Unreachable`].
pub async fn pull(
    prober: &Prober,
    host: &str,
    model: &str,
    opts: &PullOptions,
    on_progress: &mut dyn FnMut(&PullProgress),
) -> Result<Pulled> {
    let start = Instant::now();
    let request = prober
        .client()
        .post(format!("http://{host}/api/pull"))
        .json(&json!({ "model": model, "stream": true }));
    let sent = wait(&opts.cancel, prober.timeout(), request.send()).await;
    let mut response = match sent {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            return Err(Error::Unreachable {
                host: host.to_owned(),
                source: from_reqwest(&e, host, prober.timeout()),
            });
        }
        Err(stop) => return Err(stop.into_error(model, prober.timeout())),
    };
    if !response.status().is_success() {
        return Err(refusal(model, response).await);
    }
    let mut state = Stream::new(model, &opts.models_dir);
    let mut lines = Lines::new(MAX_LINE);
    let mut throttle = Throttle::<String>::default();
    loop {
        let asked = Instant::now();
        let chunk = match wait(&opts.cancel, opts.idle_timeout, response.chunk()).await {
            Ok(Ok(Some(chunk))) => chunk,
            Ok(Ok(None)) => break,
            Ok(Err(e)) => {
                return Err(state.interrupted(&from_reqwest(&e, host, opts.idle_timeout)));
            }
            Err(stop) => return Err(stop.into_error(model, opts.idle_timeout)),
        };
        let complete = lines.push(&chunk).map_err(|e| state.interrupted(&e))?;
        for line in complete {
            state.take(&line)?;
            if throttle.ready(&state.progress) {
                on_progress(&state.progress);
            }
        }
        gather(&opts.cancel, asked.elapsed()).await?;
    }
    if let Some(line) = lines.finish() {
        state.take(&line)?;
    }
    if !state.done {
        let last = state.progress.status.clone();
        return Err(state.interrupted(&format!(
            "the stream ended before Ollama said success (last: {last:?})"
        )));
    }
    on_progress(&state.progress);
    Ok(Pulled {
        model: model.to_owned(),
        bytes: state.progress.total,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// A chunk that had to be waited for, but less than this, means the stream
/// comes in a rush (lines every millisecond)…
const RUSH: Duration = Duration::from_millis(10);
/// …and one that was already there (less than this) that the reader is
/// catching up on what gathered.
const READY: Duration = Duration::from_micros(200);
/// How long a stream in a rush is left to gather before it is read again:
/// its lines wait in the socket's buffer, and are then read one after the
/// other without a wakeup each (well under the progress throttle's 200 ms,
/// so what is shown does not lag).
const GATHER: Duration = Duration::from_millis(50);

/// After a chunk that took `waited` to come: lets a rushing stream gather.
async fn gather(cancel: &Cancel, waited: Duration) -> Result<()> {
    if (READY..RUSH).contains(&waited)
        && let Err(Stop::Cancelled) = wait(cancel, GATHER, std::future::pending::<()>()).await
    {
        return Err(Error::Cancelled);
    }
    Ok(())
}

/// A pull's stream as read so far.
struct Stream<'a> {
    model: &'a str,
    models_dir: &'a Path,
    /// `(digest, completed, total)` of every layer seen, in order.
    layers: Vec<(String, u64, u64)>,
    progress: PullProgress,
    done: bool,
}

impl<'a> Stream<'a> {
    fn new(model: &'a str, models_dir: &'a Path) -> Self {
        Self {
            model,
            models_dir,
            layers: Vec::new(),
            progress: PullProgress::default(),
            done: false,
        }
    }

    /// Takes one line: progress, success, or Ollama's error.
    fn take(&mut self, line: &[u8]) -> Result<()> {
        let parsed = parse_pull_line(line).map_err(|e| self.interrupted(&e))?;
        let (status, digest, total, completed) = match parsed {
            PullLine::Error(said) => {
                return Err(Error::PullFailed {
                    model: self.model.to_owned(),
                    said,
                });
            }
            PullLine::Status {
                status,
                digest,
                total,
                completed,
            } => (status, digest, total, completed),
        };
        self.done = status == "success";
        if let (Some(d), Some(total)) = (&digest, total) {
            let completed = completed.unwrap_or(0).min(total);
            match self.layers.iter_mut().find(|(seen, ..)| seen == d) {
                Some(layer) => layer.1 = completed,
                None => {
                    self.layers.push((d.clone(), completed, total));
                    self.check_space()?;
                }
            }
        }
        self.progress = PullProgress {
            status,
            digest,
            completed: self.layers.iter().map(|l| l.1).sum(),
            total: self.layers.iter().map(|l| l.2).sum(),
        };
        Ok(())
    }

    /// A new layer was announced: does what is still to come fit?
    fn check_space(&self) -> Result<()> {
        let needs = self.layers.iter().map(|(_, c, t)| t - c).sum();
        match space::free_space(self.models_dir) {
            Ok((path, free)) => fits(self.model, needs, free, &path),
            Err(e) => {
                tracing::debug!(dir = %self.models_dir.display(), error = %e, "cannot read free space; not checked");
                Ok(())
            }
        }
    }

    fn interrupted(&self, why: &dyn std::fmt::Display) -> Error {
        Error::Interrupted {
            model: self.model.to_owned(),
            detail: why.to_string(),
        }
    }
}

/// `needs` bytes still to download against `free` on `path`'s volume.
///
/// # Errors
/// [`Error::NoSpace`] with the figures.
pub fn fits(model: &str, needs: u64, free: u64, path: &Path) -> Result<()> {
    if needs <= free {
        return Ok(());
    }
    Err(Error::NoSpace {
        model: model.to_owned(),
        needs,
        free,
        path: path.to_path_buf(),
    })
}

/// Why a wait ended without its future's answer.
enum Stop {
    Cancelled,
    Silent,
}

impl Stop {
    fn into_error(self, model: &str, limit: Duration) -> Error {
        match self {
            Self::Cancelled => Error::Cancelled,
            Self::Silent => Error::Interrupted {
                model: model.to_owned(),
                detail: format!("Ollama said nothing for {} s", limit.as_secs()),
            },
        }
    }
}

/// Awaits `fut` unless `limit` passes or `cancel` is switched first.
async fn wait<F: Future>(cancel: &Cancel, limit: Duration, fut: F) -> Result<F::Output, Stop> {
    tokio::pin!(fut);
    let deadline = tokio::time::sleep(limit);
    tokio::pin!(deadline);
    let mut poll = tokio::time::interval(CANCEL_POLL);
    loop {
        tokio::select! {
            out = &mut fut => return Ok(out),
            () = &mut deadline => return Err(Stop::Silent),
            _ = poll.tick() => if cancel.is_cancelled() {
                return Err(Stop::Cancelled);
            },
        }
    }
}

/// A non-2xx answer to the pull: Ollama's `{"error"}` when it sent one.
async fn refusal(model: &str, mut response: reqwest::Response) -> Error {
    const MAX: usize = 64 * 1024;
    let code = response.status().as_u16();
    let mut text = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        if text.len() + chunk.len() > MAX {
            break;
        }
        text.extend_from_slice(&chunk);
    }
    let said = serde_json::from_slice::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
        .unwrap_or_else(|| format!("answered HTTP {code}"));
    Error::PullFailed {
        model: model.to_owned(),
        said,
    }
}

#[cfg(test)]
mod tests;
