//! `gardener models` as text: loaded models, installed models with their
//! details and fit, the folder's figures and what the fit estimate used.

use std::fmt::Write as _;

use bytesize::ByteSize;
use gardener_core::models::{Listing, ModelDetails, fit};

/// `2.0 GiB`.
pub(super) fn size(bytes: u64) -> String {
    ByteSize(bytes).display().iec().to_string()
}

/// The whole listing.
pub(super) fn render(l: &Listing) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Ollama at {}", l.host);
    let _ = writeln!(out, "Loaded in memory ({}):", l.loaded.len());
    for m in &l.loaded {
        let mut line = format!("  {:<28} {:>10}", m.name, size(m.size_bytes));
        if m.vram_bytes > 0 {
            let _ = write!(line, "  GPU {}", size(m.vram_bytes));
        }
        if let Some(c) = m.context_length {
            let _ = write!(line, "  context {c}");
        }
        if let Some(t) = &m.expires_at {
            let _ = write!(line, "  until {t}");
        }
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "Installed ({}):", l.installed.len());
    for m in &l.installed {
        let _ = writeln!(out, "{}", installed_line(m));
    }
    let free = l.free_bytes.map_or_else(
        || "free space unknown".to_owned(),
        |f| format!("{} free", size(f)),
    );
    let _ = writeln!(
        out,
        "Models folder: {} in {} ({free})",
        size(l.total_bytes),
        l.models_dir.display()
    );
    // Each model's context is the setting capped at the model's own; the
    // largest is the setting unless every model takes less.
    let context = l
        .installed
        .iter()
        .map(|m| m.fit.context)
        .max()
        .unwrap_or(fit::DEFAULT_CONTEXT);
    let _ = writeln!(
        out,
        "Fit: model size + KV cache (at up to {context} tokens) against {} available + {} held by loaded models",
        size(l.memory.available_bytes),
        size(l.memory.freed_by_unloading_bytes)
    );
    out
}

fn installed_line(m: &ModelDetails) -> String {
    let i = &m.installed;
    let details: Vec<&str> = [&i.family, &i.parameter_size, &i.quantization]
        .into_iter()
        .filter_map(|d| d.as_deref())
        .collect();
    let mut line = format!(
        "  {:<28} {:>10}  {}",
        i.name,
        size(i.size_bytes),
        details.join(" ")
    );
    if let Some(c) = m.context_length {
        let _ = write!(line, "  context {c}");
    }
    if m.loaded_now {
        line.push_str("  loaded");
    }
    let _ = write!(
        line,
        "  {} (needs {})",
        m.fit.verdict.words(),
        size(m.fit.needs_bytes)
    );
    if let Some(at) = &i.modified_at {
        let _ = write!(line, "  modified {}", at.get(..10).unwrap_or(at));
    }
    line
}
