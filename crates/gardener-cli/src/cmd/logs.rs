//! `gardener logs [ollama|app|gardener] [--follow] [--lines N] [--err]`.
//!
//! Which files: `ollama` and `app` show the service's stdout log
//! (`<logs>/<id>.log`), or its stderr log (`<id>.err.log`) with `--err`; the
//! two are separate files and their lines carry no common timestamps, so
//! they are never interleaved. `gardener` shows Gardener's newest daily log
//! (`gardener.YYYY-MM-DD.log`). No target shows every managed service's
//! logs (only the stderr ones with `--err`), each under a `==> path <==`
//! header like `tail`; the ones that do not exist yet are noted on stderr.

use std::collections::HashSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use gardener_core::Platform;
use gardener_core::context::Context;
use gardener_core::error::ErrorCode;
use gardener_core::logs::{self, Follower, Tail};
use gardener_core::services::ServiceId;
use serde::Serialize;

use crate::Globals;
use crate::output::{self, CliError};

/// Whose log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// The Ollama model server.
    Ollama,
    /// The Codebase Gardener app.
    App,
    /// Gardener itself (its newest daily log).
    Gardener,
}

/// `gardener logs` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Whose log; every service log when omitted.
    target: Option<Target>,
    /// Keep printing lines as they are written, across rotations (Ctrl-C stops).
    #[arg(short, long)]
    follow: bool,
    /// How many lines from the end to print first.
    #[arg(short = 'n', long, value_name = "N", default_value_t = 50)]
    lines: usize,
    /// The service's stderr log (`<id>.err.log`) instead of its stdout log.
    #[arg(long)]
    err: bool,
}

/// One file in `--json` output.
#[derive(Serialize)]
struct FileLines {
    path: PathBuf,
    exists: bool,
    lines: Vec<String>,
}

/// Runs the subcommand.
pub fn run(g: &Globals, args: &Args) -> Result<ExitCode, CliError> {
    if args.follow && g.json {
        return Err(CliError::usage(
            "--follow cannot be combined with --json: JSON is printed once and following never ends",
        ));
    }
    if args.err && args.target == Some(Target::Gardener) {
        return Err(CliError::usage(
            "--err applies to ollama and app: Gardener's own log is a single file",
        ));
    }
    let ctx = Context::load(g.config.as_deref(), Platform::current())?;
    let files = select(&ctx, args)?;
    let mut tails: Vec<(PathBuf, Option<Tail>)> = Vec::with_capacity(files.len());
    for path in files {
        match logs::tail(&path, args.lines) {
            Ok(t) => tails.push((path, Some(t))),
            Err(e) if e.is_not_found() => tails.push((path, None)),
            Err(e) => return Err(failed(e.code(), e.to_string())),
        }
    }
    if tails.iter().all(|(_, t)| t.is_none()) {
        return Err(missing(&ctx, args, &tails));
    }
    if g.json {
        let files: Vec<FileLines> = tails
            .into_iter()
            .map(|(path, t)| FileLines {
                path,
                exists: t.is_some(),
                lines: t.map(|t| t.lines).unwrap_or_default(),
            })
            .collect();
        output::print_json(&serde_json::json!({ "files": files }));
        return Ok(ExitCode::SUCCESS);
    }
    let headers = args.target.is_none();
    match print_text(&ctx, args, &tails, headers) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // `gardener logs | head`: the reader left; that is not a failure.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(failed(
            ErrorCode::Io,
            format!("cannot write to stdout: {e}"),
        )),
    }
}

/// The files to show, in order.
fn select(ctx: &Context, args: &Args) -> Result<Vec<PathBuf>, CliError> {
    let service = |id: ServiceId| {
        let (out, err) = ctx.log_files(id);
        if args.err { err } else { out }
    };
    Ok(match args.target {
        Some(Target::Ollama) => vec![service(ServiceId::Ollama)],
        Some(Target::App) => vec![service(ServiceId::App)],
        Some(Target::Gardener) => match logs::latest_gardener_log(&ctx.logs_dir) {
            Some(p) => vec![p],
            None => {
                return Err(failed(
                    ErrorCode::LogMissing,
                    format!(
                        "no Gardener log (gardener.YYYY-MM-DD.log) in {}: none has been written yet",
                        ctx.logs_dir.display()
                    ),
                ));
            }
        },
        None => ctx
            .managed_services()
            .into_iter()
            .flat_map(|id| {
                let (out, err) = ctx.log_files(id);
                if args.err { vec![err] } else { vec![out, err] }
            })
            .collect(),
    })
}

fn failed(code: ErrorCode, message: String) -> CliError {
    CliError {
        code,
        message,
        exit: output::FAILED,
    }
}

/// The error when nothing could be shown: where we looked and why it may be empty.
fn missing(ctx: &Context, args: &Args, tails: &[(PathBuf, Option<Tail>)]) -> CliError {
    let looked: Vec<String> = tails.iter().map(|(p, _)| p.display().to_string()).collect();
    let message = match args.target {
        Some(Target::Ollama) if !ctx.manages_ollama() => format!(
            "no log at {}: Ollama is not run by Gardener ([ollama] external = true), so its logs are wherever it was started from",
            looked.join(", ")
        ),
        Some(Target::Ollama | Target::App) => format!(
            "no log at {}: the service may not have started yet (`gardener service status` shows its state)",
            looked.join(", ")
        ),
        _ => format!(
            "no service logs in {} (looked for {}): the services may not have started yet (`gardener service status` shows their state)",
            ctx.logs_dir.display(),
            tails
                .iter()
                .filter_map(|(p, _)| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    failed(ErrorCode::LogMissing, message)
}

/// Prints the tails, then follows if asked.
fn print_text(
    ctx: &Context,
    args: &Args,
    tails: &[(PathBuf, Option<Tail>)],
    headers: bool,
) -> io::Result<()> {
    let mut out = io::stdout().lock();
    let mut first = true;
    for (path, tail) in tails {
        let Some(tail) = tail else {
            eprintln!(
                "note: {} does not exist yet (the service may not have started)",
                path.display()
            );
            continue;
        };
        if headers {
            header(&mut out, path, first)?;
            first = false;
        }
        for line in &tail.lines {
            writeln!(out, "{line}")?;
        }
    }
    out.flush()?;
    if !args.follow {
        return Ok(());
    }
    let followers: Vec<Follower> = tails
        .iter()
        .map(|(path, tail)| Follower::new(path, tail.as_ref().map_or(0, |t| t.end)))
        .collect();
    // The last printed file, so a header is printed only when it changes.
    let last = tails
        .iter()
        .rev()
        .find(|(_, t)| t.is_some())
        .map(|(p, _)| p.clone());
    follow_all(&mut out, ctx, args, followers, last, headers)
}

fn header(out: &mut impl Write, path: &Path, first: bool) -> io::Result<()> {
    if !first {
        writeln!(out)?;
    }
    writeln!(out, "==> {} <==", path.display())
}

/// Polls every file until interrupted, printing new lines as they come.
fn follow_all(
    out: &mut impl Write,
    ctx: &Context,
    args: &Args,
    mut followers: Vec<Follower>,
    mut last: Option<PathBuf>,
    headers: bool,
) -> io::Result<()> {
    // Each distinct error is reported once, not every 250 ms.
    let mut reported: HashSet<String> = HashSet::new();
    loop {
        for f in &mut followers {
            let lines = match f.poll() {
                Ok(lines) => lines,
                Err(e) => {
                    // Possibly transient (a permission changed, a disk hiccup): keep going.
                    if reported.insert(e.to_string()) {
                        eprintln!("warning: {e}");
                    }
                    continue;
                }
            };
            if lines.is_empty() {
                continue;
            }
            if headers && last.as_deref() != Some(f.path()) {
                header(out, f.path(), last.is_none())?;
                last = Some(f.path().to_path_buf());
            }
            for line in lines {
                writeln!(out, "{line}")?;
            }
            out.flush()?;
        }
        // Gardener starts a new daily file at midnight (UTC): move to it,
        // after the poll above has drained the old one.
        if args.target == Some(Target::Gardener)
            && let Some(newest) = logs::latest_gardener_log(&ctx.logs_dir)
            && followers.first().is_some_and(|f| f.path() != newest)
        {
            followers = vec![Follower::new(&newest, 0)];
        }
        std::thread::sleep(logs::POLL_INTERVAL);
    }
}
