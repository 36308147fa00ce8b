//! The `model_offloaded` rule's reading and words: a loaded model whose GPU
//! memory (`size_vram`) is below its size runs partly on the CPU, and slowly.

use crate::monitor::snapshot::LoadedModel;

/// Percent of `m` that is not in GPU memory.
// Precision loss only matters above 2^53 bytes.
#[allow(clippy::cast_precision_loss)]
fn cpu_share(m: &LoadedModel) -> f64 {
    if m.size_bytes == 0 {
        return 0.0;
    }
    m.size_bytes.saturating_sub(m.vram_bytes) as f64 / m.size_bytes as f64 * 100.0
}

/// The models partly on the CPU with their share in percent, the largest
/// first. None when no loaded model has GPU memory at all: a machine without
/// a GPU runs every model on the CPU, and nothing can be done about it.
fn offloaded(models: &[LoadedModel]) -> Vec<(&str, f64)> {
    if models.iter().all(|m| m.vram_bytes == 0) {
        return Vec::new();
    }
    let mut out: Vec<(&str, f64)> = models
        .iter()
        .map(|m| (m.name.as_str(), cpu_share(m)))
        .filter(|(_, share)| *share > 0.0)
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    out
}

/// The rule's value: the largest share of a loaded model on the CPU, in
/// percent (0 when every model is wholly in GPU memory, or none is loaded).
pub(super) fn highest_share(models: &[LoadedModel]) -> f64 {
    offloaded(models).first().map_or(0.0, |(_, share)| *share)
}

/// "llama3.1:70b runs 38% on the CPU: unload other models or choose a
/// smaller one"; several models are named in one sentence.
pub(super) fn firing_text(models: &[LoadedModel]) -> String {
    let list = offloaded(models);
    let Some(((first, share), rest)) = list.split_first() else {
        return "A model runs partly on the CPU".to_owned();
    };
    let mut parts = vec![format!("{first} runs {}", share_text(*share))];
    parts.extend(rest.iter().map(|(n, s)| format!("{n} {}", share_text(*s))));
    let advice = if rest.is_empty() {
        "unload other models or choose a smaller one"
    } else {
        "unload other models or choose smaller ones"
    };
    format!("{} on the CPU: {advice}", join(&parts))
}

/// The rule's resolved sentence.
pub(super) fn resolved_text() -> String {
    "No loaded model runs on the CPU any more".to_owned()
}

/// Whole percent, never "0%" or "100%" for a model that is only partly off
/// the GPU.
fn share_text(share: f64) -> String {
    if share >= 100.0 {
        "100%".to_owned()
    } else if share < 1.0 {
        "under 1%".to_owned()
    } else {
        format!("{:.0}%", share.min(99.0))
    }
}

/// "a", "a and b", "a, b and c".
fn join(parts: &[String]) -> String {
    match parts.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}
