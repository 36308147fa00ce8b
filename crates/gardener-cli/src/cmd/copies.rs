//! The copies side of `gardener backup`: `targets`, `targets test NAME`,
//! `copy`, `key show`, the `--target` forms of `list`, `verify` and
//! `restore`, and the copies made after `create`.

use std::process::ExitCode;

use bytesize::ByteSize;
use gardener_core::backup::CreateReport;
use gardener_core::context::Context;
use gardener_core::copies::copy::{self, CopyOutcome};
use gardener_core::copies::{self, check, key};

use super::backup::{Bar, cancel_on_signal, local};
use crate::Globals;
use crate::output::{self, CliError};

/// `backup targets` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum TargetsAction {
    /// Write a small object, read it back and delete it, and say exactly why when that fails.
    Test {
        /// The target's name.
        name: String,
    },
}

/// `backup key` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum KeyAction {
    /// Print the recovery key (made now if there is none) to save somewhere else.
    Show,
}

pub(super) fn err(e: copies::Error) -> CliError {
    CliError::domain(e.code(), e.is_usage(), e.to_string())
}

fn size(bytes: u64) -> String {
    ByteSize::b(bytes).display().iec().to_string()
}

/// `gardener backup targets [test NAME]`.
pub fn targets(
    g: &Globals,
    ctx: &Context,
    action: Option<&TargetsAction>,
) -> Result<ExitCode, CliError> {
    if let Some(TargetsAction::Test { name }) = action {
        let cfg = copies::find(ctx, name).map_err(err)?;
        let target = copies::open(ctx, cfg).map_err(err)?;
        let report = copies::test(target.as_ref()).map_err(err)?;
        if g.json {
            output::print_json(&report);
        } else {
            println!(
                "{}: OK — wrote, read back and deleted a test object at {} in {:.1} s",
                report.target, report.location, report.seconds
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let lines = copies::manage::overview(ctx);
    if g.json {
        output::print_json(&serde_json::json!({ "targets": lines }));
        return Ok(ExitCode::SUCCESS);
    }
    if lines.is_empty() {
        println!(
            "No targets: add [[backup.targets]] to gardener.toml to keep copies off this machine."
        );
    }
    for l in &lines {
        let reach = if l.reachable {
            "reachable"
        } else {
            "NOT REACHABLE"
        };
        println!("{} ({}) {} — {reach}", l.name, l.kind.as_str(), l.location);
        if let Some(e) = &l.error {
            println!("  {e}");
        }
        println!("  {} copies, {}", l.copies, size(l.bytes));
        match &l.last_copy {
            Some(at) => println!("  last copy {}", local(at)),
            None => println!("  no copy yet"),
        }
        if let Some(c) = &l.last_check {
            let how = if c.ok { "✓" } else { "✗ damaged" };
            println!("  last check {} {how}", local(&c.at));
        }
        if let Some(f) = &l.last_failure {
            println!("  ✗ the last copy failed ({}): {}", local(&f.at), f.error);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `gardener backup copy [ID] [--target NAME]`.
pub fn copy(
    g: &Globals,
    ctx: &Context,
    id: Option<&str>,
    target: Option<&str>,
) -> Result<ExitCode, CliError> {
    let names = copies::names(ctx, target).map_err(err)?;
    if names.is_empty() {
        return Err(CliError::usage(
            "no [[backup.targets]] in gardener.toml: there is nowhere to copy to",
        ));
    }
    let cancel = cancel_on_signal();
    let bar = Bar::new(g);
    let outcomes = copy::copy_each(ctx, &names, id, &cancel, &mut |p| bar.update(p));
    bar.finish();
    if g.json {
        output::print_json(&serde_json::json!({ "copies": outcomes }));
    } else {
        print_outcomes(&outcomes);
    }
    Ok(if outcomes.iter().all(|o| o.error.is_none()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(output::FAILED)
    })
}

/// Prints what copying did, a line per target.
pub fn print_outcomes(outcomes: &[CopyOutcome]) {
    for o in outcomes {
        match (&o.report, &o.error) {
            (Some(r), _) => {
                let copied = if r.copied.is_empty() {
                    "already there".to_owned()
                } else {
                    format!("copied {} ({})", r.copied.join(", "), size(r.bytes))
                };
                println!(
                    "Copy to {} ({}): {copied} in {:.1} s",
                    r.target, r.location, r.seconds
                );
                if !r.pruned.is_empty() {
                    println!("  deleted by its retention policy: {}", r.pruned.join(", "));
                }
            }
            (None, Some(e)) => println!("✗ Copy failed: {e}"),
            (None, None) => {}
        }
    }
}

/// After `backup create`: copies to every target, and on scheduled runs
/// checks copies that are due. Returns the outcomes and whether one failed.
pub fn after_backup(
    ctx: &Context,
    report: &CreateReport,
    scheduled: bool,
    g: &Globals,
) -> (Vec<CopyOutcome>, bool) {
    if ctx.config.backup.targets.is_empty() {
        return (Vec::new(), false);
    }
    let cancel = cancel_on_signal();
    let bar = Bar::new(g);
    let outcomes = copy::copy_to_all(ctx, &report.backup.id, &cancel, &mut |p| bar.update(p));
    bar.finish();
    let mut failed = outcomes.iter().any(|o| o.error.is_some());
    if scheduled {
        for (name, checked) in check::check_due(ctx, &cancel) {
            match checked {
                Ok(r) if r.ok() => tracing::info!("checked a copy on {name}: sound"),
                Ok(r) => {
                    failed = true;
                    eprintln!("✗ a copy on {name} is damaged: {}", r.problems.join("; "));
                }
                Err(e) => {
                    failed = true;
                    eprintln!("✗ checking a copy on {name} failed: {e}");
                }
            }
        }
    }
    (outcomes, failed)
}

/// `gardener backup key show`.
pub fn key(g: &Globals, ctx: &Context, action: &KeyAction) -> Result<ExitCode, CliError> {
    let KeyAction::Show = action;
    let (k, created) = key::Key::load_or_create(ctx).map_err(err)?;
    let shown = k.shown(created).map_err(err)?;
    if g.json {
        output::print_json(&shown);
    } else {
        if created {
            println!("A new recovery key was made at {}.", shown.path.display());
        }
        println!("{}\n", shown.warning);
        print!("{}", shown.file);
        println!(
            "\nOn a new machine, put this file back at {} (mode 0600) to read the copies.",
            shown.path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `gardener backup list --target NAME`.
pub fn list(g: &Globals, ctx: &Context, name: &str) -> Result<ExitCode, CliError> {
    let backups = check::list(ctx, name).map_err(err)?;
    if g.json {
        output::print_json(&serde_json::json!({ "target": name, "backups": backups }));
        return Ok(ExitCode::SUCCESS);
    }
    if backups.is_empty() {
        println!("{name} holds no copy yet (`gardener backup copy --target {name}`)");
    }
    println!(
        "{:<30} {:<17} {:>10}  {:<18}  KIND",
        "ID", "CREATED", "SIZE", "CHECKED"
    );
    for b in &backups {
        let checked = match &b.checked {
            Some(c) if c.ok => format!("✓ {}", local(&c.at)),
            Some(_) => "✗ damaged".into(),
            None => "not yet".into(),
        };
        println!(
            "{:<30} {:<17} {:>10}  {:<18}  {}",
            b.id,
            local(&b.created),
            size(b.size),
            checked,
            b.kind.as_str()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `gardener backup verify [ID] --target NAME`.
pub fn verify(
    g: &Globals,
    ctx: &Context,
    id: Option<&str>,
    name: &str,
) -> Result<ExitCode, CliError> {
    let bar = Bar::new(g);
    let cancel = cancel_on_signal();
    let result = check::verify(ctx, name, id, &cancel, &mut |p| bar.update(p));
    bar.finish();
    let report = result.map_err(err)?;
    super::backup::print_verify(g, &report.path, &report);
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(output::FAILED)
    })
}

/// Fetches a backup and its chain from target `name` for a restore.
pub fn fetch(
    g: &Globals,
    ctx: &Context,
    id: &str,
    name: &str,
) -> Result<std::path::PathBuf, CliError> {
    let bar = Bar::new(g);
    let cancel = cancel_on_signal();
    let result = check::fetch(ctx, name, id, &cancel, &mut |p| bar.update(p));
    bar.finish();
    result.map_err(err)
}
