//! Finding and asking the programs the services run: where Ollama and the app
//! are, what version they are, which Python an entry point runs on; every
//! command bounded in time.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::context::Context;
use crate::paths::Platform;

/// Where Ollama is usually installed, after PATH.
const OLLAMA_PLACES: [&str; 3] = [
    "/opt/homebrew/bin/ollama",
    "/usr/local/bin/ollama",
    "/Applications/Ollama.app/Contents/Resources/ollama",
];

/// Runs a program with a time limit; returns its exit status and what it
/// printed (stdout then stderr), or why it could not run or finish.
pub(crate) fn run_captured(
    program: &Path,
    args: &[&str],
    limit: Duration,
) -> Result<(ExitStatus, String), String> {
    let shown = || format!("`{} {}`", program.display(), args.join(" "));
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let mut out = String::new();
                if let Some(mut s) = child.stdout.take() {
                    let _ = s.read_to_string(&mut out);
                }
                if let Some(mut s) = child.stderr.take() {
                    let _ = s.read_to_string(&mut out);
                }
                return Ok((status, out));
            }
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} did not finish within {} s",
                    shown(),
                    limit.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("{}: {e}", shown())),
        }
    }
}

/// [`run_captured`] for commands that must succeed: their output, or a
/// one-line reason ending with the command that failed.
pub(crate) fn run_bounded(
    program: &Path,
    args: &[&str],
    limit: Duration,
) -> Result<String, String> {
    let (status, out) = run_captured(program, args, limit)?;
    if status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{} (`{} {}`: {status})",
            last_line(&out),
            program.display(),
            args.join(" ")
        ))
    }
}

pub(crate) fn last_line(text: &str) -> &str {
    text.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or_default()
}

/// Finds a program: absolute (or `~`) paths as given, bare names on PATH.
pub(crate) fn resolve(ctx: &Context, program: &Path) -> Option<PathBuf> {
    let expanded = ctx.paths.expand(program);
    if expanded.is_absolute() {
        return expanded.is_file().then_some(expanded);
    }
    which::which(&expanded).ok()
}

pub(crate) fn find_ollama(ctx: &Context) -> Option<PathBuf> {
    match &ctx.config.ollama.binary {
        Some(b) => resolve(ctx, b),
        None => which::which("ollama").ok().or_else(|| {
            OLLAMA_PLACES
                .iter()
                .map(PathBuf::from)
                .find(|p| p.is_file())
        }),
    }
}

/// Pulls `0.12.6` out of `ollama version is 0.12.6` or `client version is 0.12.6`.
pub(crate) fn parse_ollama_version(output: &str) -> Option<String> {
    output.lines().find_map(|l| {
        let (_, v) = l.split_once("version is ")?;
        let v = v.trim();
        (!v.is_empty()).then(|| v.to_owned())
    })
}

/// Pulls (3, 11) out of `Python 3.11.7`.
pub(crate) fn parse_python_version(output: &str) -> Option<(u32, u32)> {
    let v = output.trim().strip_prefix("Python ")?;
    let mut parts = v.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts
        .next()?
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .ok()?;
    Some((major, minor))
}

/// The interpreter of a Python entry point: from its `#!` line, or the program
/// itself when it is a Python.
pub(crate) fn python_of(program: &Path) -> Option<PathBuf> {
    let name = program.file_name()?.to_string_lossy();
    if name.starts_with("python") {
        return Some(program.to_path_buf());
    }
    let mut head = [0u8; 256];
    let n = std::fs::File::open(program).ok()?.read(&mut head).ok()?;
    let first = String::from_utf8_lossy(&head[..n]);
    let line = first.lines().next()?.strip_prefix("#!")?.trim().to_owned();
    let mut words = line.split_whitespace();
    let interp = PathBuf::from(words.next()?);
    let interp = if interp.file_name().is_some_and(|n| n == "env") {
        let target = words.find(|w| !w.starts_with('-'))?;
        which::which(target).ok()?
    } else {
        interp
    };
    interp
        .file_name()?
        .to_string_lossy()
        .starts_with("python")
        .then_some(interp)
}

/// The executables the service files name: found on this machine, or (when
/// missing, or for another platform) the typical place they would be.
pub(crate) fn programs(ctx: &Context) -> (PathBuf, PathBuf) {
    let typical_dir = if ctx.platform() == Platform::Macos {
        "/opt/homebrew/bin"
    } else {
        "/usr/local/bin"
    };
    let typical = |p: &Path| {
        let p = ctx.paths.expand(p);
        if p.is_absolute() {
            p
        } else {
            Path::new(typical_dir).join(p)
        }
    };
    let here = ctx.platform() == Platform::current();
    let ollama = here.then(|| find_ollama(ctx)).flatten().unwrap_or_else(|| {
        typical(
            ctx.config
                .ollama
                .binary
                .as_deref()
                .unwrap_or(Path::new("ollama")),
        )
    });
    let app = Path::new(ctx.config.app.command.first().map_or("", String::as_str));
    let app = here
        .then(|| resolve(ctx, app))
        .flatten()
        .unwrap_or_else(|| typical(app));
    (ollama, app)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ollama_version_from_either_stream() {
        assert_eq!(
            parse_ollama_version("ollama version is 0.12.6\n").as_deref(),
            Some("0.12.6")
        );
        let offline = "Warning: could not connect to a running Ollama instance\nWarning: client version is 0.12.6\n";
        assert_eq!(parse_ollama_version(offline).as_deref(), Some("0.12.6"));
        assert_eq!(parse_ollama_version("garbage"), None);
    }

    #[test]
    fn python_versions() {
        assert_eq!(parse_python_version("Python 3.11.7\n"), Some((3, 11)));
        assert_eq!(parse_python_version("Python 3.13.0rc1"), Some((3, 13)));
        assert_eq!(parse_python_version("Python 2.7.18"), Some((2, 7)));
        assert_eq!(parse_python_version("nope"), None);
    }

    #[test]
    fn python_entry_point_is_recognised_by_its_shebang() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("codebase-gardener");
        std::fs::write(&script, "#!/opt/py/bin/python3.12\nimport sys\n").unwrap();
        assert_eq!(
            python_of(&script),
            Some(PathBuf::from("/opt/py/bin/python3.12"))
        );
        std::fs::write(&script, "#!/bin/sh\nexec true\n").unwrap();
        assert_eq!(python_of(&script), None);
        assert_eq!(
            python_of(Path::new("/usr/bin/python3")),
            Some(PathBuf::from("/usr/bin/python3"))
        );
    }

    #[test]
    fn bounded_run_reports_a_failure_with_its_last_line() {
        let err = run_bounded(
            Path::new("sh"),
            &["-c", "echo one; echo 'it broke' >&2; exit 3"],
            Duration::from_secs(5),
        )
        .unwrap_err();
        assert!(err.starts_with("it broke (`sh -c"), "{err}");
        let (status, out) = run_captured(
            Path::new("sh"),
            &["-c", "echo degraded; exit 1"],
            Duration::from_secs(5),
        )
        .unwrap();
        assert!(!status.success());
        assert_eq!(
            out.trim(),
            "degraded",
            "output is kept when the exit status is not 0"
        );
    }

    #[test]
    fn bounded_run_kills_a_hung_program() {
        // Not a freshly written script: another test forking at that moment
        // could hold it open for writing, and exec would fail with ETXTBSY.
        let start = Instant::now();
        let err = run_bounded(
            Path::new("sh"),
            &["-c", "sleep 30"],
            Duration::from_millis(300),
        )
        .unwrap_err();
        assert!(err.contains("did not finish"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
