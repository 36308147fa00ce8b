//! `gardener status [--watch]`: one snapshot of both services, the machine
//! and the alert rules (the same code the monitor ticks with), or a live view.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use bytesize::ByteSize;
use gardener_core::Platform;
use gardener_core::context::Context;
use gardener_core::monitor::{AlertState, Monitor, RunState, ServiceSnapshot, Snapshot};

use crate::Globals;
use crate::output::{self, CliError};

/// `gardener status` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep sampling and redraw every `[monitor] interval_secs` until Ctrl-C
    /// (with --json: one JSON object per line).
    #[arg(long)]
    watch: bool,
}

/// Runs the subcommand.
pub fn run(g: &Globals, args: &Args) -> Result<ExitCode, CliError> {
    let ctx = Context::load(g.config.as_deref(), Platform::current())?;
    let runtime = super::runtime()?;
    runtime.block_on(async {
        if !args.watch {
            let snap = Monitor::status(ctx).await.map_err(failed)?;
            if g.json {
                output::print_json(&snap);
            } else {
                print!("{}", render(&snap));
            }
            return Ok(ExitCode::SUCCESS);
        }
        let interval = Duration::from_secs(ctx.config.monitor.interval_secs);
        let mut monitor = Monitor::new(ctx, false).map_err(failed)?;
        monitor.prime().await;
        let clear = std::io::stdout().is_terminal() && !g.json;
        loop {
            let (snap, _) = monitor.tick().await;
            let mut out = std::io::stdout().lock();
            let written = if g.json {
                serde_json::to_string(&snap)
                    .map_err(std::io::Error::other)
                    .and_then(|line| writeln!(out, "{line}"))
            } else {
                let home = if clear { "\x1b[H\x1b[2J" } else { "" };
                writeln!(out, "{home}{}", render(&snap)).and_then(|()| out.flush())
            };
            // A closed pipe (`| head`) ends the watch quietly.
            if written.is_err() {
                return Ok(ExitCode::SUCCESS);
            }
            drop(out);
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
            }
        }
    })
}

fn failed(e: gardener_core::monitor::run_loop::Error) -> CliError {
    CliError {
        code: e.code(),
        message: e.to_string(),
        exit: output::FAILED,
    }
}

/// `cpu 93% (threshold 80%)`, `ollama_rss 5.6 GiB (threshold 5.0 GiB)`, `app_down`.
fn describe_alert(a: &gardener_core::monitor::AlertStatus) -> String {
    let rule = &a.rule;
    let Some(v) = a.value else {
        return rule.clone();
    };
    // Rule values carry their unit by rule: percentages, bytes, hours, or a 1/0 flag.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let bytes = |x: f64| size(x.max(0.0) as u64);
    match rule.as_str() {
        "cpu" | "memory" | "swap" | "disk" | "model_offloaded" => {
            format!("{rule} {v:.0}% (threshold {:.0}%)", a.threshold)
        }
        r if r.ends_with("_rss") => {
            format!("{rule} {} (threshold {})", bytes(v), bytes(a.threshold))
        }
        "backup_overdue" => format!("{rule} {v:.0} h (threshold {:.0} h)", a.threshold),
        r if r.starts_with("copy_overdue:") => {
            format!("{rule} {v:.0} h (threshold {:.0} h)", a.threshold)
        }
        _ => rule.clone(),
    }
}

fn size(bytes: u64) -> String {
    ByteSize(bytes).display().iec().to_string()
}

fn service_line(out: &mut String, name: &str, s: &ServiceSnapshot) {
    let mut line = format!("{name:<8} {:<13}", s.state.as_str());
    if let Some(pid) = s.pid {
        let _ = write!(line, " pid {pid:<7}");
    }
    let health = match (s.state, s.healthy) {
        (RunState::Running | RunState::External, true) => "healthy",
        // Its manager cannot be asked: whether it answers is what is known.
        (RunState::Unknown, true) => "answering",
        (RunState::Unknown, false) => "not answering",
        (RunState::Running | RunState::External | RunState::Starting, false) => "unhealthy",
        _ => "",
    };
    if !health.is_empty() {
        let _ = write!(line, " {health}");
        if let Some(ms) = s.latency_ms {
            let _ = write!(line, " ({ms} ms)");
        }
    }
    if let Some(rss) = s.rss_bytes {
        let _ = write!(line, "  memory {}", size(rss));
    }
    if let Some(cpu) = s.cpu_percent {
        let _ = write!(line, "  CPU {cpu:.0}%");
    }
    if let Some(n) = s.restarts.filter(|n| *n > 0) {
        let _ = write!(line, "  restarts {n}");
    }
    let _ = writeln!(out, "{}", line.trim_end());
    if let Some(e) = &s.error {
        let _ = writeln!(out, "{:<9}{e}", "");
    }
}

fn ago(unix: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    gardener_core::words::ago(now.saturating_sub(unix))
}

/// The human view of a snapshot.
pub fn render(s: &Snapshot) -> String {
    let mut out = String::new();
    let o = &s.services.ollama;
    service_line(&mut out, "Ollama", &o.service);
    if let Some(v) = &o.version {
        let _ = writeln!(out, "{:<9}version {v}", "");
    }
    for m in &o.models {
        let until = m
            .expires_at
            .as_deref()
            .map(|t| format!(", loaded until {t}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{:<9}model {} ({}{until})",
            "",
            m.name,
            size(m.size_bytes)
        );
    }
    service_line(&mut out, "App", &s.services.app);
    system_lines(&mut out, s);
    backup_lines(&mut out, s);
    alert_lines(&mut out, s);
    out
}

/// The machine's lines: CPU, memory, swap (when there is any) and disk.
fn system_lines(out: &mut String, s: &Snapshot) {
    let sys = &s.system;
    let _ = writeln!(out, "{:<8} CPU {:.0}%", "System", sys.cpu_percent);
    let pressure = sys
        .memory
        .pressure
        .as_deref()
        .map(|p| format!(", pressure {p}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{:<9}memory {:.0}% ({} of {}{pressure})",
        "",
        sys.memory.percent,
        size(sys.memory.used_bytes),
        size(sys.memory.total_bytes)
    );
    if sys.swap.total_bytes > 0 {
        let _ = writeln!(
            out,
            "{:<9}swap {} of {}",
            "",
            size(sys.swap.used_bytes),
            size(sys.swap.total_bytes)
        );
    }
    let _ = writeln!(
        out,
        "{:<9}disk {:.0}% ({} of {}, volume of {})",
        "",
        sys.disk.percent,
        size(sys.disk.used_bytes),
        size(sys.disk.total_bytes),
        sys.disk.path
    );
}

/// The last backup's line and one line per copy target.
fn backup_lines(out: &mut String, s: &Snapshot) {
    match (s.last_backup_at, &s.last_backup_error) {
        (_, Some(e)) => {
            let _ = writeln!(out, "{:<8} ✗ the last backup failed: {e}", "Backup");
        }
        (Some(at), None) => {
            let kind = gardener_core::monitor::summary::backup_kind(s);
            let _ = writeln!(out, "{:<8} last {}{kind}", "Backup", ago(at));
        }
        (None, None) => {
            let _ = writeln!(out, "{:<8} none yet (`gardener backup create`)", "Backup");
        }
    }
    for t in &s.copies {
        let line = match (&t.failure, t.last_copy_at) {
            (Some(why), _) => format!("✗ the last copy failed: {why}"),
            (None, Some(at)) if t.has_newest => {
                format!("✓ holds the newest backup, copied {}", ago(at))
            }
            (None, Some(at)) => {
                format!("last copy {}; the newest backup is not there yet", ago(at))
            }
            (None, None) => "no copy yet".to_owned(),
        };
        let _ = writeln!(out, "{:<9}copy to {}: {line}", "", t.name);
    }
}

/// One line per alert that is pending or firing, or one saying none fires.
fn alert_lines(out: &mut String, s: &Snapshot) {
    let active: Vec<_> = s
        .alerts
        .iter()
        .filter(|a| a.state != AlertState::Ok)
        .collect();
    if active.is_empty() {
        let _ = writeln!(out, "{:<8} none firing", "Alerts");
    }
    for (i, a) in active.iter().enumerate() {
        let label = if i == 0 { "Alerts" } else { "" };
        let state = match a.state {
            AlertState::Firing => "FIRING ",
            _ => "pending",
        };
        let _ = writeln!(out, "{label:<8} {state} {}", describe_alert(a));
    }
}
