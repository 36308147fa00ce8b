//! Will a model fit in memory? A deliberately simple estimate, with every
//! figure it used reported next to the verdict.
//!
//! needs = weights + KV cache, where
//! - weights = the model's size on disk (GGUF weights are mapped as they are);
//! - KV cache = 2 (keys and values) × block_count × context × kv_width × 2
//!   bytes (f16), with kv_width = embedding_length × head_count_kv /
//!   head_count (grouped-query attention stores fewer K/V heads; without the
//!   head counts, embedding_length), when `/api/show` gives `block_count` and
//!   `embedding_length`; otherwise [`KV_FRACTION_WHEN_UNKNOWN`] of the weights;
//! - context = the smaller of the context Ollama loads models with
//!   (`OLLAMA_CONTEXT_LENGTH`, 4096 when unset) and the model's own.
//!
//! budget = memory available now + memory of the models loaded now (what
//! unloading them would free). It fits when needs ≤ [`TIGHT_ABOVE`] × budget,
//! is tight up to the whole budget, and will not fit beyond it. Ollama's
//! compute graph and runtime overhead are left out: "tight" is the margin.

use std::collections::BTreeMap;

use serde::Serialize;

/// The KV cache when the model's shape is unknown: an eighth of the weights
/// (between the 5% of a 7B grouped-query model and the 25% of a 3B one at
/// a 4096 context).
pub const KV_FRACTION_WHEN_UNKNOWN: f64 = 0.125;

/// Above this share of the budget a model is "tight".
pub const TIGHT_ABOVE: f64 = 0.8;

/// Ollama 0.12's context length when `OLLAMA_CONTEXT_LENGTH` is not set.
pub const DEFAULT_CONTEXT: u64 = 4096;

/// What the KV cache estimate needs from `model_info`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shape {
    /// `<arch>.block_count`: transformer layers.
    pub block_count: u64,
    /// `<arch>.embedding_length`.
    pub embedding_length: u64,
    /// `<arch>.attention.head_count`.
    pub head_count: Option<u64>,
    /// `<arch>.attention.head_count_kv`.
    pub head_count_kv: Option<u64>,
}

/// The memory the estimates count on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Budget {
    /// Available to new allocations now.
    pub available_bytes: u64,
    /// Held by the models loaded now.
    pub freed_by_unloading_bytes: u64,
}

impl Budget {
    /// Everything a model could have.
    pub fn total(&self) -> u64 {
        self.available_bytes
            .saturating_add(self.freed_by_unloading_bytes)
    }
}

/// The verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Verdict {
    /// Within [`TIGHT_ABOVE`] of the budget.
    Fits,
    /// Within the budget, but with little to spare.
    Tight,
    /// More than the budget.
    WillNotFit,
}

impl Verdict {
    /// `fits`, `tight`, `will not fit`.
    pub fn words(self) -> &'static str {
        match self {
            Self::Fits => "fits",
            Self::Tight => "tight",
            Self::WillNotFit => "will not fit",
        }
    }
}

/// A verdict and the figures behind it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Fit {
    /// Fits, tight, will not fit.
    pub verdict: Verdict,
    /// weights + KV cache.
    pub needs_bytes: u64,
    /// The model's size.
    pub weights_bytes: u64,
    /// The KV cache at `context`.
    pub kv_cache_bytes: u64,
    /// The context the KV cache was sized for.
    pub context: u64,
    /// Whether the KV cache came from the model's shape (`shape`) or from
    /// [`KV_FRACTION_WHEN_UNKNOWN`] (`fraction`).
    pub kv_basis: &'static str,
    /// What it was compared with ([`Budget::total`]).
    pub budget_bytes: u64,
}

/// The KV cache bytes at `context` (see the module's formula), and its basis.
pub fn kv_cache_bytes(shape: Option<&Shape>, context: u64, weights: u64) -> (u64, &'static str) {
    let Some(s) = shape else {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let kv = (weights as f64 * KV_FRACTION_WHEN_UNKNOWN) as u64;
        return (kv, "fraction");
    };
    let kv_width = match (s.head_count, s.head_count_kv) {
        (Some(h), Some(kv)) if h > 0 && kv > 0 && kv <= h => s.embedding_length * kv / h,
        _ => s.embedding_length,
    };
    let bytes = 2u64
        .saturating_mul(s.block_count)
        .saturating_mul(context)
        .saturating_mul(kv_width)
        .saturating_mul(2);
    (bytes, "shape")
}

/// The estimate for a model of `weights` bytes at `context`.
pub fn estimate(weights: u64, shape: Option<&Shape>, context: u64, budget: &Budget) -> Fit {
    let (kv, basis) = kv_cache_bytes(shape, context, weights);
    let needs = weights.saturating_add(kv);
    let total = budget.total();
    #[allow(clippy::cast_precision_loss)]
    let verdict = if (needs as f64) <= total as f64 * TIGHT_ABOVE {
        Verdict::Fits
    } else if needs <= total {
        Verdict::Tight
    } else {
        Verdict::WillNotFit
    };
    Fit {
        verdict,
        needs_bytes: needs,
        weights_bytes: weights,
        kv_cache_bytes: kv,
        context,
        kv_basis: basis,
        budget_bytes: total,
    }
}

/// The context Ollama loads models with, from its environment in the config.
pub fn context_setting(env: &BTreeMap<String, String>) -> u64 {
    env.get("OLLAMA_CONTEXT_LENGTH")
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_CONTEXT)
}

/// Memory available to new allocations now (Linux `MemAvailable`; on macOS
/// what sysinfo counts as available); 0 where it cannot be read.
pub fn available_memory() -> u64 {
    match sysinfo::System::new() {
        Ok(mut system) => {
            system.refresh_memory();
            system.available_memory()
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the memory available");
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    fn llama32_3b() -> Shape {
        Shape {
            block_count: 28,
            embedding_length: 3072,
            head_count: Some(24),
            head_count_kv: Some(8),
        }
    }

    #[test]
    fn kv_cache_follows_the_formula_with_grouped_query_attention() {
        // 2 × 28 layers × 4096 tokens × (3072 × 8/24 = 1024) × 2 bytes = 448 MiB
        let (kv, basis) = kv_cache_bytes(Some(&llama32_3b()), 4096, 2 * GIB);
        assert_eq!(kv, 2 * 28 * 4096 * 1024 * 2);
        assert_eq!(kv, 448 << 20);
        assert_eq!(basis, "shape");
        let mut no_heads = llama32_3b();
        no_heads.head_count_kv = None;
        assert_eq!(
            kv_cache_bytes(Some(&no_heads), 4096, 0).0,
            2 * 28 * 4096 * 3072 * 2,
            "without head counts every head is counted"
        );
    }

    #[test]
    fn kv_cache_without_a_shape_is_a_stated_fraction_of_the_weights() {
        assert_eq!(kv_cache_bytes(None, 4096, 8 * GIB), (GIB, "fraction"));
    }

    #[test]
    fn verdicts_at_the_boundaries() {
        let budget = Budget {
            available_bytes: 8 * GIB,
            freed_by_unloading_bytes: 2 * GIB,
        };
        assert_eq!(budget.total(), 10 * GIB);
        // No KV cache at context 0: needs = weights.
        let at = |w: u64| estimate(w, Some(&llama32_3b()), 0, &budget).verdict;
        assert_eq!(at(8 * GIB), Verdict::Fits, "exactly 80%");
        assert_eq!(at(8 * GIB + 1), Verdict::Tight);
        assert_eq!(at(10 * GIB), Verdict::Tight, "exactly the budget");
        assert_eq!(at(10 * GIB + 1), Verdict::WillNotFit);
        let fit = estimate(2 * GIB, Some(&llama32_3b()), 4096, &budget);
        assert_eq!(fit.needs_bytes, 2 * GIB + (448 << 20));
        assert_eq!(fit.budget_bytes, 10 * GIB);
        assert_eq!(fit.context, 4096);
    }

    #[test]
    fn context_comes_from_ollamas_environment() {
        let mut env = BTreeMap::new();
        assert_eq!(context_setting(&env), 4096);
        env.insert("OLLAMA_CONTEXT_LENGTH".into(), "8192".into());
        assert_eq!(context_setting(&env), 8192);
        env.insert("OLLAMA_CONTEXT_LENGTH".into(), "lots".into());
        assert_eq!(context_setting(&env), 4096);
    }

    #[test]
    fn available_memory_is_some_of_the_machine() {
        assert!(available_memory() > 0);
    }
}
