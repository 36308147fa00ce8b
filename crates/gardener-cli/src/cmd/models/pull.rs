//! `gardener models pull NAME`: downloads a model with a progress bar on a
//! terminal (status lines otherwise); Ctrl-C stops it like it stops a
//! backup, and Ollama resumes it on the next pull.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use gardener_core::models::{self, PullOptions, PullProgress};
use gardener_core::monitor::probe::Prober;
use indicatif::{ProgressBar, ProgressStyle};

use super::{err, show::size};
use crate::Globals;
use crate::output::{self, CliError};

/// Runs `models pull`.
pub(super) async fn run(
    g: &Globals,
    prober: &Prober,
    host: &str,
    name: &str,
    models_dir: PathBuf,
) -> Result<ExitCode, CliError> {
    let opts = PullOptions {
        cancel: crate::cmd::backup::cancel_on_signal(),
        models_dir,
        idle_timeout: models::pull::IDLE_TIMEOUT,
    };
    let mut shown = Shown::new(g);
    let result = models::pull(prober, host, name, &opts, &mut |p| shown.update(p)).await;
    shown.finish();
    let pulled = result.map_err(|e| match e {
        models::Error::Cancelled => CliError {
            message: format!(
                "cancelled: the pull of {name} stopped; Ollama keeps what it downloaded and resumes on the next pull"
            ),
            ..err(e)
        },
        e => err(e),
    })?;
    if g.json {
        output::print_json(&pulled);
    } else {
        println!(
            "Pulled {} ({}) in {:.1} s",
            pulled.model,
            size(pulled.bytes),
            pulled.seconds
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A progress bar on a terminal; without one (and without `--json`), each
/// new status once on stderr.
enum Shown {
    Bar(ProgressBar),
    Lines(String),
    Nothing,
}

impl Shown {
    fn new(g: &Globals) -> Self {
        if g.json {
            return Self::Nothing;
        }
        if !std::io::stderr().is_terminal() {
            return Self::Lines(String::new());
        }
        let bar = ProgressBar::new(0);
        let style = ProgressStyle::with_template(
            "{msg:>24} [{bar:30}] {bytes}/{total_bytes} · {binary_bytes_per_sec} · ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(200));
        Self::Bar(bar)
    }

    fn update(&mut self, p: &PullProgress) {
        match self {
            Self::Bar(bar) => {
                // `pulling 2af3b81862c6`: Ollama's own words carry the short digest.
                if bar.message() != p.status {
                    bar.set_message(p.status.clone());
                }
                bar.set_length(p.total);
                bar.set_position(p.completed);
            }
            Self::Lines(last) => {
                if *last != p.status {
                    eprintln!("{}", p.status);
                    last.clone_from(&p.status);
                }
            }
            Self::Nothing => {}
        }
    }

    fn finish(&self) {
        if let Self::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
