//! Printing for humans and for machines: plans, checks, service reports and
//! errors, and the exit codes (0 ok, 1 failed, 2 usage or config error).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use gardener_core::error::ErrorCode;
use gardener_core::install::{self, Check, Outcome, Plan, ServiceReport, Step};
use gardener_core::services::ServiceState;
use serde::Serialize;

use crate::Globals;

/// Exit code for a failure to do what was asked.
pub const FAILED: u8 = 1;
/// Exit code for a usage or config error.
pub const USAGE: u8 = 2;

/// An error with the exit code it deserves.
#[derive(Debug)]
pub struct CliError {
    /// Stable code for JSON.
    pub code: ErrorCode,
    /// What went wrong and what to do.
    pub message: String,
    /// Exit status.
    pub exit: u8,
}

impl CliError {
    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::Usage,
            message: message.into(),
            exit: USAGE,
        }
    }

    /// A domain error with its code: exit 2 when it is a usage error
    /// (`usage`), 1 otherwise.
    pub fn domain(code: ErrorCode, usage: bool, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            exit: if usage { USAGE } else { FAILED },
        }
    }
}

impl From<install::Error> for CliError {
    fn from(e: install::Error) -> Self {
        Self::domain(e.code(), e.is_usage(), e.to_string())
    }
}

impl From<gardener_core::config::Error> for CliError {
    fn from(e: gardener_core::config::Error) -> Self {
        install::Error::from(e).into()
    }
}

/// Prints an error the way the output mode wants and returns its exit code.
pub fn fail(g: &Globals, e: &CliError) -> ExitCode {
    if g.json {
        print_json(&serde_json::json!({ "error": { "code": e.code, "message": e.message } }));
    } else {
        eprintln!("error: {}", e.message);
    }
    ExitCode::from(e.exit)
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: cannot render JSON: {e}"),
    }
}

/// ✓ / ! / ✗ for a check.
pub fn mark(o: Outcome) -> &'static str {
    match o {
        Outcome::Ok => "✓",
        Outcome::Warn => "!",
        Outcome::Fail => "✗",
    }
}

/// One check, with its fix on the next line.
pub fn print_check(c: &Check) {
    println!("  {} {}: {}", mark(c.outcome), c.title, c.detail);
    if let Some(fix) = &c.fix {
        println!("      fix: {fix}");
    }
}

/// The whole plan: every step, every file's full content, every command.
pub fn print_plan(plan: &Plan) {
    println!(
        "Install plan for {} (config: {})",
        plan.platform,
        plan.config_file.display()
    );
    let mut section = "";
    for step in &plan.steps {
        let title = match step {
            Step::Check(_) => "Preflight checks",
            Step::Dir { .. } => "Directories",
            Step::File { .. } | Step::Remove { .. } => "Files",
            Step::Command { .. } => "Commands",
            Step::WaitHealthy { .. } => "Then",
        };
        if title != section
            && !(title == "Commands" && section == "Then")
            && !(title == "Then" && section == "Commands")
        {
            println!("\n{title}");
            section = title;
        }
        match step {
            Step::Check(c) => print_check(c),
            Step::Dir { path, mode, change } => {
                println!("  {:<6} {} ({mode})", change.verb(), path.display())
            }
            Step::File {
                path,
                mode,
                content,
                change,
                purpose,
            } => {
                println!(
                    "  {:<6} {} ({mode}) — {purpose}",
                    change.verb(),
                    path.display()
                );
                for line in content.lines() {
                    println!("      │ {line}");
                }
            }
            Step::Remove { path, purpose } => println!("  remove {} — {purpose}", path.display()),
            Step::Command { argv, purpose, .. } => {
                println!(
                    "  $ {}    # {purpose}",
                    gardener_core::services::Invocation(argv.clone())
                );
            }
            Step::WaitHealthy {
                service,
                url,
                timeout_secs,
            } => {
                println!(
                    "  wait up to {timeout_secs} s for {} to answer {url}",
                    service.display_name()
                );
            }
        }
    }
    if plan.blocked() {
        println!("\nA preflight check failed: installing would stop before changing anything.");
    } else if plan.is_noop() {
        println!("\nNothing to change: everything is installed as configured.");
    }
}

/// The service table.
pub fn print_reports(reports: &[ServiceReport]) {
    for r in reports {
        let mut parts = vec![r.state.as_str().to_owned()];
        if let Some(pid) = r.pid {
            parts.push(format!("pid {pid}"));
        }
        if let Some(n) = r.restarts {
            parts.push(format!("{n} restart{}", if n == 1 { "" } else { "s" }));
        }
        if let Some(exit) = &r.last_exit {
            parts.push(match exit {
                gardener_core::services::LastExit::Code { code } => format!("last exit {code}"),
                gardener_core::services::LastExit::Signal { signal } => {
                    format!("last killed by signal {signal}")
                }
            });
        }
        match r.healthy {
            Some(true) => parts.push("healthy".into()),
            Some(false) => parts.push(format!(
                "unhealthy ({})",
                r.health_error.as_deref().unwrap_or("no answer")
            )),
            None => {}
        }
        println!("{:<7} {}", r.id.as_str(), parts.join(" · "));
        let drift = match r.drift {
            install::Drift::InSync => "service file matches the config".to_owned(),
            install::Drift::Modified => format!(
                "DRIFT: {} differs from what the config renders; `gardener install` repairs it",
                r.file.display()
            ),
            install::Drift::Missing => "not installed: run `gardener install`".to_owned(),
            install::Drift::NotManaged => {
                "not managed by Gardener ([ollama] external = true)".to_owned()
            }
        };
        println!("        {} · {drift}", r.unit);
        if r.state == ServiceState::Unknown {
            println!("        cannot tell whether it runs: {}", r.raw_state);
        }
    }
}

/// Asks a yes/no question on the terminal; `None` when there is no terminal.
pub fn confirm(question: &str, default_yes: bool) -> Option<bool> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    print!("{question} [{}] ", if default_yes { "Y/n" } else { "y/N" });
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).ok()?;
    Some(match answer.trim().to_ascii_lowercase().as_str() {
        "" => default_yes,
        a => a.starts_with('y'),
    })
}
