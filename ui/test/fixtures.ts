// Shared by the dashboard's tests: a realistic sample, and a way to send
// messages down a channel the page passed to a mocked command, as the Rust
// side does.

import type { Fit } from "../src/bindings/Fit";
import type { Listing } from "../src/bindings/Listing";
import type { ModelDetails } from "../src/bindings/ModelDetails";
import type { Point } from "../src/bindings/Point";
import type { Snapshot } from "../src/bindings/Snapshot";

const GIB = 1024 ** 3;

export function snapshot(t_ms = 1_800_000_000_000, extra: Partial<Snapshot> = {}): Snapshot {
  const service = {
    state: "running" as const,
    managed: true,
    pid: 4242,
    healthy: true,
    latency_ms: 3,
    error: null,
    restarts: 1,
    rss_bytes: 6 * GIB,
    cpu_percent: 12.5,
    restarted: false,
  };
  return {
    taken_at_ms: t_ms,
    services: {
      ollama: {
        ...service,
        version: "0.12.6",
        models: [{ name: "llama3.2:3b", size_bytes: 3 * GIB, vram_bytes: 0, expires_at: "2027-01-15T08:00:00Z", context_length: 4096 }],
      },
      app: { ...service, pid: 4343, rss_bytes: 512 * 1024 ** 2 },
    },
    system: {
      cpu_percent: 23.4,
      memory: { used_bytes: 10 * GIB, total_bytes: 16 * GIB, percent: 62.5, pressure: null },
      swap: { used_bytes: 0, total_bytes: 0 },
      disk: { path: "/Users/ada", used_bytes: 200 * GIB, total_bytes: 460 * GIB, percent: 45.2 },
    },
    alerts: [{ rule: "cpu", state: "ok", value: 23.4, threshold: 80, since: 1_800_000_000 }],
    last_backup_at: 1_800_000_000 - 3 * 3600,
    last_backup_error: null,
    last_backup_kind: "incremental",
    last_backup_files: 12,
    backup_failure: null,
    copies: [],
    ...extra,
  };
}

export function point(t_ms: number, cpu: number): Point {
  return {
    t_ms,
    cpu_percent: cpu,
    memory_percent: 60,
    swap_used_bytes: 0,
    disk_percent: 45,
    ollama_rss_bytes: 6 * GIB,
    app_rss_bytes: 512 * 1024 ** 2,
    ollama_up: true,
    app_up: true,
  };
}

const sent = new Map<number, number>();

/** Sends `message` down the channel passed as argument `name` of a mocked call. */
export function sendOn(args: unknown, name: string, message: unknown): void {
  const { id } = (args as Record<string, { id: number }>)[name]!;
  const index = sent.get(id) ?? 0;
  sent.set(id, index + 1);
  const internals = (window as unknown as { __TAURI_INTERNALS__: { runCallback: (id: number, data: unknown) => void } }).__TAURI_INTERNALS__;
  internals.runCallback(id, { message, index });
}

/** Lets promises and their callbacks settle. */
export const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setTimeout(resolve, 0));
};

/** An installed model as `models_list` lists it; `fit` and the rest as given. */
export function installed(name: string, extra: Partial<ModelDetails> = {}, fit: Partial<Fit> = {}): ModelDetails {
  return {
    name,
    digest: `sha256:${name.length}`,
    size_bytes: 2 * GIB,
    modified_at: "2027-01-10T12:00:00Z",
    family: "llama",
    parameter_size: "3.2B",
    quantization: "Q4_K_M",
    context_length: 131072,
    parameter_count: 3_212_749_888,
    loaded_now: false,
    fit: { verdict: "fits", needs_bytes: 2.5 * GIB, weights_bytes: 2 * GIB, kv_cache_bytes: 0.5 * GIB, context: 4096, kv_basis: "shape", budget_bytes: 12 * GIB, ...fit },
    ...extra,
  };
}

/** What `models_list` answers: the loaded model of `snapshot()` and a few on disk. */
export function listing(extra: Partial<Listing> = {}): Listing {
  return {
    host: "127.0.0.1:11434",
    models_dir: "/Users/ada/.ollama/models",
    total_bytes: 60 * GIB,
    free_bytes: 80 * GIB,
    memory: { available_bytes: 9 * GIB, freed_by_unloading_bytes: 3 * GIB },
    loaded: snapshot().services.ollama.models,
    installed: [
      installed("llama3.2:3b", { loaded_now: true }),
      installed("qwen2.5:14b", { size_bytes: 9 * GIB, family: "qwen2", parameter_size: "14.8B" }, { verdict: "tight", needs_bytes: 10 * GIB, weights_bytes: 9 * GIB, kv_cache_bytes: 1 * GIB }),
      installed("llama3.1:70b", { size_bytes: 40 * GIB, parameter_size: "70.6B" }, { verdict: "will-not-fit", needs_bytes: 42 * GIB, weights_bytes: 40 * GIB, kv_cache_bytes: 2 * GIB }),
    ],
    ...extra,
  };
}
