//! Running external commands (`launchctl`, `systemctl`) as argv, never through
//! a shell, behind a trait so tests can script the replies.

use std::fmt;
use std::process::{Command, Stdio};

use serde::Serialize;

/// One command line: program and arguments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Invocation(pub Vec<String>);

impl Invocation {
    /// Builds an invocation from anything string-like.
    pub fn new<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self(argv.into_iter().map(Into::into).collect())
    }

    /// The program (argv\[0\]), or "" for an empty invocation.
    pub fn program(&self) -> &str {
        self.0.first().map_or("", String::as_str)
    }
}

impl fmt::Display for Invocation {
    /// Shell-like rendering for humans: arguments containing spaces or quotes
    /// are single-quoted. Only ever displayed, never executed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, arg) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            let plain = !arg.is_empty()
                && arg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
            if plain {
                f.write_str(arg)?;
            } else {
                write!(f, "'{}'", arg.replace('\'', r"'\''"))?;
            }
        }
        Ok(())
    }
}

/// What a finished command reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// Exit status; `None` when killed by a signal.
    pub code: Option<i32>,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

impl Output {
    /// True when the command exited with status 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// Runs invocations. [`SystemRunner`] runs them for real.
pub trait Runner: Send + Sync {
    /// Runs `inv` to completion, capturing its output.
    fn run(&self, inv: &Invocation) -> std::io::Result<Output>;
}

/// Runs commands with [`std::process::Command`], stdin closed.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemRunner;

impl Runner for SystemRunner {
    fn run(&self, inv: &Invocation) -> std::io::Result<Output> {
        let (program, args) = inv.0.split_first().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command")
        })?;
        tracing::debug!(command = %inv, "running");
        let out = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .output()?;
        Ok(Output {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_only_what_needs_it() {
        let inv = Invocation::new(["launchctl", "bootstrap", "gui/501", "/Users/a b/x.plist"]);
        assert_eq!(
            inv.to_string(),
            "launchctl bootstrap gui/501 '/Users/a b/x.plist'"
        );
        assert_eq!(
            Invocation::new(["echo", "it's"]).to_string(),
            r"echo 'it'\''s'"
        );
        assert_eq!(Invocation::new(["x", ""]).to_string(), "x ''");
    }

    #[test]
    fn system_runner_passes_argv_without_a_shell() {
        let out = SystemRunner
            .run(&Invocation::new(["printf", "%s|", "a b", "$HOME"]))
            .unwrap();
        assert!(out.success());
        assert_eq!(out.stdout, "a b|$HOME|");
    }

    #[test]
    fn system_runner_reports_missing_program() {
        let err = SystemRunner
            .run(&Invocation::new(["/nonexistent/launchctl"]))
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }
}
