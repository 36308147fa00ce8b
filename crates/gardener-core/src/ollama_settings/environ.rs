//! The environment a running Ollama was started with: from
//! `/proc/PID/environ` on Linux, from the `environment = { … }` block of
//! `launchctl print gui/UID/LABEL` on macOS (the job's environment, which
//! launchd gives the process it spawns).

use std::collections::BTreeMap;

use super::{Error, Result};
use crate::context::Context;
use crate::paths::Platform;
use crate::services::launchd::Launchd;
use crate::services::{Invocation, Runner, ServiceId, SystemRunner};

/// `NAME=VALUE` entries separated by NUL, as `/proc/PID/environ` holds them.
pub fn parse_proc_environ(bytes: &[u8]) -> BTreeMap<String, String> {
    bytes
        .split(|b| *b == 0)
        .filter_map(|entry| {
            let entry = String::from_utf8_lossy(entry);
            let (k, v) = entry.split_once('=')?;
            (!k.is_empty()).then(|| (k.to_owned(), v.to_owned()))
        })
        .collect()
}

/// The `NAME => VALUE` lines of the job's own top-level `environment = {`
/// block in `launchctl print` output; `inherited environment` and
/// `default environment` are other blocks and are not read.
pub fn parse_launchctl_environment(text: &str) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let mut depth = 0usize;
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line == "}" {
            if inside && depth == 2 {
                inside = false;
            }
            depth = depth.saturating_sub(1);
            continue;
        }
        if line.ends_with('{') {
            depth += 1;
            let key = line.trim_end_matches('{').trim_end().trim_end_matches('=');
            if depth == 2 && key.trim() == "environment" {
                inside = true;
            }
            continue;
        }
        if inside
            && depth == 2
            && let Some((k, v)) = line.split_once(" => ")
        {
            env.insert(k.trim().to_owned(), v.trim().to_owned());
        }
    }
    env
}

/// The environment of Ollama's running process `pid`, as this platform
/// tells it.
pub(super) fn running_environment(ctx: &Context, pid: u32) -> Result<BTreeMap<String, String>> {
    match ctx.platform() {
        Platform::Linux => {
            let path = format!("/proc/{pid}/environ");
            let bytes = std::fs::read(&path).map_err(|e| Error::Environ(format!("{path}: {e}")))?;
            Ok(parse_proc_environ(&bytes))
        }
        Platform::Macos => {
            let launchd = Launchd::new(ctx.paths.service_dir.clone(), Box::new(SystemRunner));
            let target = launchd.service_target(ServiceId::Ollama);
            let inv = Invocation::new(["launchctl", "print", target.as_str()]);
            let out = SystemRunner
                .run(&inv)
                .map_err(|e| Error::Environ(format!("`{inv}`: {e}")))?;
            if !out.success() {
                return Err(Error::Environ(format!(
                    "`{inv}` failed: {}",
                    out.stderr.trim()
                )));
            }
            Ok(parse_launchctl_environment(&out.stdout))
        }
    }
}
