//! `gardener models load NAME [--keep-alive 30m]`: loads a model now and
//! says when Ollama will unload it.

use std::process::ExitCode;

use gardener_core::models;
use gardener_core::monitor::probe::Prober;

use super::err;
use crate::Globals;
use crate::output::{self, CliError};

/// Runs `models load`.
pub(super) async fn run(
    g: &Globals,
    host: &str,
    name: &str,
    keep_alive: Option<&str>,
) -> Result<ExitCode, CliError> {
    // Reading a model into memory takes far longer than a probe.
    let prober = Prober::new(models::LOAD_TIMEOUT).map_err(|e| CliError {
        code: gardener_core::error::ErrorCode::Internal,
        message: e.to_string(),
        exit: output::FAILED,
    })?;
    let loaded = models::load(&prober, host, name, keep_alive)
        .await
        .map_err(err)?;
    if g.json {
        output::print_json(&loaded);
        return Ok(ExitCode::SUCCESS);
    }
    let until = loaded
        .loaded
        .as_ref()
        .and_then(|m| m.expires_at.as_deref())
        .map_or_else(|| "when Ollama decides".to_owned(), when);
    println!("Loaded {}; it unloads {until}", loaded.model);
    Ok(ExitCode::SUCCESS)
}

/// `at 2026-12-06T21:55:17Z (in 30m)`, or "only when Ollama stops" for the
/// far-off date Ollama gives a model kept for ever.
fn when(expires_at: &str) -> String {
    let Ok(at) = expires_at.parse::<jiff::Timestamp>() else {
        return format!("at {expires_at}");
    };
    let left = at.duration_since(jiff::Timestamp::now());
    if left.as_secs() > 50 * 365 * 86_400 {
        return "only when Ollama stops (kept loaded for ever)".to_owned();
    }
    let secs = u64::try_from(left.as_secs().max(0)).unwrap_or(0);
    let rounded = std::time::Duration::from_secs(secs.div_ceil(60) * 60);
    format!(
        "at {} (in {}) unless used again",
        at.round(jiff::Unit::Second).unwrap_or(at),
        humanize(rounded)
    )
}

/// `30m`, `2h 5m`.
fn humanize(d: std::time::Duration) -> String {
    let mins = d.as_secs() / 60;
    match (mins / 60, mins % 60) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h {m}m"),
    }
}
