//! What `gardener backup` prints for people: listings, reports of a backup,
//! a check and a restore's dry run, sizes and local times.

use std::path::{Path, PathBuf};

use bytesize::ByteSize;
use gardener_core::backup::{self, BackupInfo, catalog};
use serde::Serialize;

use crate::Globals;
use crate::output;

pub(in crate::cmd) fn local(rfc3339: &str) -> String {
    rfc3339
        .parse::<jiff::Timestamp>()
        .map(|t| {
            t.to_zoned_datetime(jiff::tz::TimeZone::system())
                .strftime("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| "?".into())
}

fn verified_word(b: &BackupInfo) -> String {
    if b.unreadable.is_some() {
        return "unreadable".into();
    }
    match &b.verified {
        Some(v) if v.ok => format!("✓ {}", local(&v.at)),
        Some(_) => "✗ damaged".into(),
        None => "not yet".into(),
    }
}

/// Prints a check's report (JSON, or a line and the problems).
pub(in crate::cmd) fn print_verify(g: &Globals, path: &Path, report: &backup::VerifyReport) {
    if g.json {
        output::print_json(report);
    } else if report.ok() {
        let from = match report.needs.len() {
            0 => String::new(),
            1 => " (with the earlier backup holding its unchanged files)".to_owned(),
            n => format!(" (with the {n} earlier backups holding its unchanged files)"),
        };
        println!(
            "{}: OK — {} files, {} checked in {:.1} s{from}",
            path.display(),
            report.files,
            size(report.bytes),
            report.seconds
        );
    } else {
        println!("{}: DAMAGED", path.display());
        for p in &report.problems {
            println!("  ✗ {p}");
        }
    }
}

fn size(bytes: u64) -> String {
    ByteSize::b(bytes).display().iec().to_string()
}

pub(super) fn print_created(report: &backup::CreateReport) {
    let b = &report.backup;
    match (&report.full_because, &b.parent) {
        (Some(why), _) => println!(
            "Backed up {} files ({}) into {} ({}) in {:.1} s: a full backup, as {why}",
            b.files,
            size(b.bytes),
            b.path.display(),
            size(b.size),
            report.seconds
        ),
        (None, parent) => println!(
            "Backed up {} changed files ({}) of {} into {} ({}) in {:.1} s: incremental on {}",
            b.stored_files,
            size(b.stored_bytes),
            b.files,
            b.path.display(),
            size(b.size),
            report.seconds,
            parent.as_deref().unwrap_or("?")
        ),
    }
}

/// "full", or "incremental: 12 changed, 310 MiB with the 2 backups it needs".
fn kind_words(b: &BackupInfo) -> String {
    if b.kind == backup::BackupKind::Full {
        return "full".into();
    }
    let n = b.needs.len();
    let mut text = format!(
        "incremental: {} changed, {} with the {} it needs",
        b.stored_files,
        size(b.chain_size),
        if n == 1 {
            "backup".to_owned()
        } else {
            format!("{n} backups")
        }
    );
    if !b.missing.is_empty() {
        text.push_str(&format!(
            "; CANNOT BE RESTORED: {} missing",
            b.missing.join(", ")
        ));
    }
    text
}

pub(super) fn print_listing(l: &Listing) {
    if l.backups.is_empty() {
        println!(
            "No backups yet in {} — make one with `gardener backup create`",
            l.destination.display()
        );
    } else {
        println!(
            "{:<30} {:<17} {:>10} {:>7}  {:<18}  KIND",
            "ID", "CREATED", "SIZE", "FILES", "VERIFIED"
        );
        for b in &l.backups {
            println!(
                "{:<30} {:<17} {:>10} {:>7}  {:<18}  {}",
                b.id,
                local(&b.created),
                size(b.size),
                b.files,
                verified_word(b),
                kind_words(b)
            );
        }
        println!("\nin {}", l.destination.display());
    }
    if let Some(a) = &l.last_attempt
        && !a.ok
    {
        println!(
            "\n✗ The last backup ({}) failed: {}",
            local(&a.at),
            a.error.as_deref().unwrap_or("unknown error")
        );
    }
    if !l.safety_copies.is_empty() {
        println!("\nSafety copies kept from restores (removed after the next successful backup):");
        for c in &l.safety_copies {
            println!(
                "  {} (was {}, {})",
                c.path.display(),
                c.replaced.display(),
                local(&c.at)
            );
        }
    }
}

pub(super) fn print_diff(r: &backup::RestoreReport) {
    let d = &r.diff;
    println!(
        "Restoring {} would replace: {}",
        r.id,
        r.restored.join(", ")
    );
    for (title, list, mark) in [
        ("added", &d.added, "+"),
        ("changed", &d.changed, "~"),
        ("removed", &d.removed, "-"),
    ] {
        println!("{} {title}:", list.len());
        for p in list.iter().take(50) {
            println!("  {mark} {p}");
        }
        if list.len() > 50 {
            println!("  … and {} more", list.len() - 50);
        }
    }
}

/// `backup list`, as `--json` prints it.
#[derive(Serialize)]
pub(super) struct Listing {
    pub(super) destination: PathBuf,
    pub(super) backups: Vec<BackupInfo>,
    pub(super) safety_copies: Vec<catalog::SafetyCopy>,
    pub(super) last_attempt: Option<catalog::Attempt>,
}
