//! `gardener backup create | list | verify | restore | prune`: the CLI over
//! core's backup module, with a progress bar on a terminal and Ctrl-C that
//! cancels cleanly (no partial archive, paused services started again).

use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use gardener_core::Platform;
use gardener_core::backup::{
    self, Cancel, CreateOptions, Phase, Progress, RestoreOptions, catalog,
};
use gardener_core::context::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::Globals;
use crate::output::{self, CliError};

mod show;

use show::{Listing, print_created, print_diff, print_listing};
pub(super) use show::{local, print_verify};

/// `gardener backup` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Back up now: the app's data, Gardener's config and service files, and
    /// Ollama's model list, into one .tar.zst in the backups directory. It
    /// stores only what changed since the last backup unless a new chain is
    /// due (`[backup] full_every`).
    Create {
        /// Read the new backup back and check it (default: `[backup] verify`).
        #[arg(long, overrides_with = "no_verify")]
        verify: bool,
        /// Do not check the new backup.
        #[arg(long)]
        no_verify: bool,
        /// Started by the timer (recorded in the catalog).
        #[arg(long, hide = true)]
        scheduled: bool,
        /// Store every file, starting a new chain.
        #[arg(long)]
        full: bool,
        /// Also read and hash the files whose size, times and inode did not
        /// change, and store any whose content did.
        #[arg(long)]
        rehash: bool,
    },
    /// List backups, newest first, with size, file count and verified state.
    List {
        /// The copies on this target instead.
        #[arg(long, value_name = "NAME")]
        target: Option<String>,
    },
    /// Decompress a backup and check every file against its manifest.
    Verify {
        /// Backup id (or the start of one) or path to an archive; default: the newest.
        backup: Option<String>,
        /// Read the copy on this target back (decrypting it) instead.
        #[arg(long, value_name = "NAME")]
        target: Option<String>,
    },
    /// Put a backup back: verify, stage, stop the services, swap, start,
    /// check health, and roll back if the services are not healthy.
    Restore {
        /// Backup id (or the start of one) or path to an archive.
        backup: String,
        /// Show what would be added, changed and removed; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Restore only this path (inside the archive, like `app-data/projects`,
        /// or the live path); repeatable.
        #[arg(long, value_name = "PATH")]
        only: Vec<String>,
        /// Restore into this directory instead, without touching the services.
        #[arg(long, value_name = "DIR")]
        to: Option<PathBuf>,
        /// Fetch the backup (and what it needs) from this target first.
        #[arg(long, value_name = "NAME")]
        target: Option<String>,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
    },
    /// Delete backups the retention policy no longer keeps.
    Prune {
        /// Show what would be deleted; delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Copy a backup (default: the newest) with the chain it needs to the
    /// targets (or one), encrypted.
    Copy {
        /// Backup id; default: the newest.
        backup: Option<String>,
        /// Only this target.
        #[arg(long, value_name = "NAME")]
        target: Option<String>,
    },
    /// The targets backups are copied to: reachable or not, last copy, last check, space used.
    Targets {
        #[command(subcommand)]
        action: Option<super::copies::TargetsAction>,
    },
    /// The recovery key the copies are encrypted to.
    Key {
        #[command(subcommand)]
        action: super::copies::KeyAction,
    },
}

fn err(e: backup::Error) -> CliError {
    let message = match &e {
        backup::Error::Cancelled => "cancelled; nothing was left behind".to_owned(),
        backup::Error::Busy { .. } => format!("{e}; wait for it to finish"),
        _ => e.to_string(),
    };
    CliError::domain(e.code(), e.is_usage(), message)
}

/// Ctrl-C and SIGTERM cancel the running operation instead of killing it
/// (one switch for the whole command: a handler can be set only once).
pub(super) fn cancel_on_signal() -> Cancel {
    static CANCEL: std::sync::OnceLock<Cancel> = std::sync::OnceLock::new();
    CANCEL
        .get_or_init(|| {
            let cancel = Cancel::new();
            let c = cancel.clone();
            if let Err(e) = ctrlc::set_handler(move || c.cancel()) {
                tracing::warn!("Ctrl-C will not cancel cleanly: {e}");
            }
            cancel
        })
        .clone()
}

/// A progress bar on a terminal (never with `--json`).
pub(super) struct Bar(Option<ProgressBar>);

impl Bar {
    pub(super) fn new(g: &Globals) -> Self {
        if g.json || !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let bar = ProgressBar::new(0);
        let style = ProgressStyle::with_template(
            "{msg:>10} [{bar:30}] {bytes}/{total_bytes} · {prefix} · {binary_bytes_per_sec} · ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(200));
        Self(Some(bar))
    }

    pub(super) fn update(&self, p: &Progress) {
        let Some(bar) = &self.0 else { return };
        let phase = match p.phase {
            Phase::Scan => "Listing",
            Phase::Snapshot => "Snapshot",
            Phase::Archive => "Archiving",
            Phase::Verify => "Verifying",
            Phase::Extract => "Extracting",
            Phase::Swap => "Swapping",
            Phase::Copy => "Copying",
        };
        if bar.message() != phase {
            bar.set_message(phase);
            bar.reset_eta();
        }
        bar.set_length(p.total_bytes);
        bar.set_position(p.bytes);
        bar.set_prefix(format!("{}/{} files", p.files, p.total_files));
    }

    pub(super) fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// `backup create --json`: the report, and what a scheduled run pruned.
#[derive(Serialize)]
struct Created<'a> {
    #[serde(flatten)]
    report: &'a backup::CreateReport,
    pruned: &'a [String],
    copies: &'a [gardener_core::copies::copy::CopyOutcome],
}

/// Runs the subcommand.
pub fn run(g: &Globals, args: &Args) -> Result<ExitCode, CliError> {
    let ctx = Context::load(g.config.as_deref(), Platform::current())?;
    let dest = backup::destination(&ctx);
    match &args.action {
        Action::Create {
            verify,
            no_verify,
            scheduled,
            full,
            rehash,
        } => {
            let opts = CreateOptions {
                verify: if *no_verify {
                    Some(false)
                } else if *verify {
                    Some(true)
                } else {
                    None
                },
                scheduled: *scheduled,
                full: *full,
                rehash: *rehash,
                from_app: false,
                cancel: cancel_on_signal(),
            };
            create(g, &ctx, &opts)
        }
        Action::List { target: Some(t) } => super::copies::list(g, &ctx, t),
        Action::List { target: None } => list(g, &ctx, &dest),
        Action::Verify {
            backup: which,
            target: Some(t),
        } => super::copies::verify(g, &ctx, which.as_deref(), t),
        Action::Verify {
            backup: which,
            target: None,
        } => verify(g, &dest, which.as_deref()),
        Action::Restore {
            backup: which,
            dry_run,
            only,
            to,
            target,
            yes,
        } => {
            let which = match target {
                Some(t) => super::copies::fetch(g, &ctx, which, t)?
                    .to_string_lossy()
                    .into_owned(),
                None => which.clone(),
            };
            restore(g, &ctx, &dest, &which, *dry_run, only, to.clone(), *yes)
        }
        Action::Prune { dry_run } => prune(g, &ctx, &dest, *dry_run),
        Action::Copy { backup, target } => {
            super::copies::copy(g, &ctx, backup.as_deref(), target.as_deref())
        }
        Action::Targets { action } => super::copies::targets(g, &ctx, action.as_ref()),
        Action::Key { action } => super::copies::key(g, &ctx, action),
    }
}

/// Exit status of a backup that was made but not copied everywhere.
pub const COPY_FAILED: u8 = 3;

fn create(g: &Globals, ctx: &Context, opts: &CreateOptions) -> Result<ExitCode, CliError> {
    let bar = Bar::new(g);
    let manager = ctx.manager();
    let result = backup::create(ctx, manager.as_ref(), opts, &mut |p| bar.update(p));
    bar.finish();
    let report = result.map_err(err)?;
    // The timer's runs also thin out old backups, so a schedule never
    // fills the disk; by hand, pruning stays a separate decision.
    let pruned = if opts.scheduled {
        match backup::prune(ctx, false) {
            Ok(p) => p.removed.into_iter().map(|b| b.id).collect(),
            Err(e) => {
                eprintln!("warning: pruning old backups failed: {e}");
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    if !g.json {
        if !pruned.is_empty() {
            println!("Pruned by the retention policy: {}", pruned.join(", "));
        }
        print_created(&report);
        if let Some(secs) = report.app_paused_secs {
            let how = if report.cloned { " (data cloned)" } else { "" };
            println!("The app was paused for {secs:.1} s{how}");
        }
        if report.backup.verified.as_ref().is_some_and(|v| v.ok) {
            println!("Verified: every file matches its checksum");
        }
        for w in &report.warnings {
            println!("warning: {w}");
        }
    }
    let (copies, copy_failed) = super::copies::after_backup(ctx, &report, opts.scheduled, g);
    if g.json {
        output::print_json(&Created {
            report: &report,
            pruned: &pruned,
            copies: &copies,
        });
    } else {
        super::copies::print_outcomes(&copies);
    }
    Ok(if copy_failed {
        ExitCode::from(COPY_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

fn list(g: &Globals, ctx: &Context, dest: &Path) -> Result<ExitCode, CliError> {
    let (backups, notes) = backup::list_after_recovery(ctx).map_err(err)?;
    for note in notes {
        eprintln!("note: {note}");
    }
    let state = catalog::State::load(ctx);
    let listing = Listing {
        destination: dest.to_path_buf(),
        backups,
        safety_copies: backup::restore::safety_copies(ctx),
        last_attempt: state.last_attempt,
    };
    if g.json {
        output::print_json(&listing);
    } else {
        print_listing(&listing);
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(g: &Globals, dest: &Path, which: Option<&str>) -> Result<ExitCode, CliError> {
    let path = match which {
        Some(w) => catalog::resolve(dest, w).map_err(err)?,
        None => catalog::list(dest)
            .map_err(err)?
            .into_iter()
            .next()
            .map(|b| b.path)
            .ok_or_else(|| CliError::usage(format!("no backups in {}", dest.display())))?,
    };
    let bar = Bar::new(g);
    let cancel = cancel_on_signal();
    let result = backup::verify_recorded(dest, &path, &cancel, &mut |p| bar.update(p));
    bar.finish();
    let report = result.map_err(err)?;
    print_verify(g, &path, &report);
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(output::FAILED)
    })
}

fn prune(g: &Globals, ctx: &Context, dest: &Path, dry_run: bool) -> Result<ExitCode, CliError> {
    for note in backup::recover_interrupted(ctx, ctx.manager().as_ref()) {
        eprintln!("note: {note}");
    }
    let report = backup::prune(ctx, dry_run).map_err(err)?;
    if g.json {
        output::print_json(&report);
        return Ok(ExitCode::SUCCESS);
    }
    for d in &report.decisions {
        let why: Vec<String> = d
            .reasons
            .iter()
            .map(|r| {
                serde_json::to_value(r)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            })
            .collect();
        if d.keep {
            let by = if d.needed_by.is_empty() {
                String::new()
            } else {
                format!("; needed by {}", d.needed_by.join(", "))
            };
            println!("  keep   {}  ({}{by})", d.id, why.join(", "));
        } else {
            let verb = if report.dry_run {
                "would delete"
            } else {
                "delete"
            };
            println!("  {verb} {}", d.id);
        }
    }
    if report.decisions.is_empty() {
        println!("No backups in {}", dest.display());
    }
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::too_many_arguments)]
fn restore(
    g: &Globals,
    ctx: &Context,
    dest: &std::path::Path,
    which: &str,
    dry_run: bool,
    only: &[String],
    to: Option<PathBuf>,
    yes: bool,
) -> Result<ExitCode, CliError> {
    let path = catalog::resolve(dest, which).map_err(err)?;
    let manager = ctx.manager();
    let mut opts = RestoreOptions {
        dry_run: true,
        only: only.to_vec(),
        to,
        cancel: cancel_on_signal(),
    };
    let preview = backup::restore(ctx, manager.as_ref(), &path, &opts, &mut |_| {}).map_err(err)?;
    if dry_run {
        if g.json {
            output::print_json(&preview);
        } else {
            print_diff(&preview);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !yes {
        if g.json || !std::io::stdin().is_terminal() {
            return Err(CliError::usage(
                "restore replaces live data; pass --yes to confirm (or --dry-run to see what would change)",
            ));
        }
        print_diff(&preview);
        let target = if opts.to.is_some() {
            ""
        } else {
            ", stopping the services while the data is swapped"
        };
        print!("Restore {}{target}? [y/N] ", preview.id);
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("Nothing changed.");
            return Ok(ExitCode::SUCCESS);
        }
    }
    opts.dry_run = false;
    let bar = Bar::new(g);
    let result = backup::restore(ctx, manager.as_ref(), &path, &opts, &mut |p| bar.update(p));
    bar.finish();
    let report = result.map_err(err)?;
    if g.json {
        output::print_json(&report);
    } else {
        println!("Restored {} in {:.1} s:", report.id, report.seconds);
        for r in &report.restored {
            println!("  {r}");
        }
        if !report.services.is_empty() {
            let names: Vec<&str> = report.services.iter().map(|s| s.as_str()).collect();
            println!("Services restarted and healthy: {}", names.join(", "));
        }
        for c in &report.safety_copies {
            println!("The previous data is kept at {c} until the next successful backup");
        }
    }
    Ok(ExitCode::SUCCESS)
}
