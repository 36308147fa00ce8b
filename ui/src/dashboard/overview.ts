// The overview: a gauge per figure the monitor watches, each with its value
// now and a sparkline of the last hour, plus the services' and backup's state.

import type { Point } from "../bindings/Point";
import type { Snapshot } from "../bindings/Snapshot";
import { h } from "../dom";
import { SERVICE_NAMES } from "../services";
import { ago, bytes, percent } from "./format";
import { renderSpark } from "./spark";
import type { DashState } from "./state";

interface Gauge {
  id: string;
  title: string;
  value: string;
  detail: string;
  series: number[];
  max?: number;
  level: "ok" | "warn" | "fail";
}

/** A scale top above the highest value, so a steady line sits mid-graph. */
function headroom(values: number[]): number {
  return Math.max(1, ...values) * 1.5;
}

function level(pct: number, warn: number, fail: number): Gauge["level"] {
  return pct >= fail ? "fail" : pct >= warn ? "warn" : "ok";
}

/** The gauges for `latest`, with their last-hour series from `history`. */
export function gauges(latest: Snapshot, history: readonly Point[]): Gauge[] {
  const s = latest.system;
  const series = (f: (p: Point) => number): number[] => history.map(f);
  const list: Gauge[] = [
    {
      id: "cpu",
      title: "CPU",
      value: percent(s.cpu_percent),
      detail: "all cores",
      series: series((p) => p.cpu_percent),
      max: 100,
      level: level(s.cpu_percent, 80, 95),
    },
    {
      id: "memory",
      title: "Memory",
      value: percent(s.memory.percent),
      detail: `${bytes(s.memory.used_bytes)} of ${bytes(s.memory.total_bytes)}`,
      series: series((p) => p.memory_percent),
      max: 100,
      level: level(s.memory.percent, 80, 95),
    },
    {
      id: "disk",
      title: "Disk",
      value: percent(s.disk.percent),
      detail: `${bytes(s.disk.used_bytes)} of ${bytes(s.disk.total_bytes)} (${s.disk.path})`,
      series: series((p) => p.disk_percent),
      max: 100,
      level: level(s.disk.percent, 90, 97),
    },
  ];
  if (s.swap.total_bytes > 0) {
    list.push({
      id: "swap",
      title: "Swap",
      value: bytes(s.swap.used_bytes),
      detail: `of ${bytes(s.swap.total_bytes)}`,
      series: series((p) => p.swap_used_bytes),
      max: s.swap.total_bytes,
      level: level((s.swap.used_bytes / s.swap.total_bytes) * 100, 50, 80),
    });
  }
  const o = latest.services.ollama;
  const a = latest.services.app;
  list.push(
    {
      id: "ollama-memory",
      title: "Ollama memory",
      value: bytes(o.rss_bytes),
      detail: o.models.length === 1 ? "1 model loaded" : `${o.models.length} models loaded`,
      series: series((p) => p.ollama_rss_bytes),
      max: headroom(history.map((p) => p.ollama_rss_bytes)),
      level: "ok",
    },
    {
      id: "app-memory",
      title: "App memory",
      value: bytes(a.rss_bytes),
      detail: SERVICE_NAMES.app,
      series: series((p) => p.app_rss_bytes),
      max: headroom(history.map((p) => p.app_rss_bytes)),
      level: "ok",
    },
  );
  return list;
}

function renderGauge(g: Gauge): HTMLElement {
  return h(
    "section",
    { class: `gauge ${g.level}`, "data-gauge": g.id, "aria-label": g.title },
    h("h3", {}, g.title),
    h("p", { class: "value" }, g.value),
    h("p", { class: "detail" }, g.detail),
    renderSpark(g.series, `${g.title} over the last hour`, g.max),
  );
}

function serviceLine(name: string, state: string, healthy: boolean): HTMLElement {
  const ok = healthy && (state === "running" || state === "external");
  // The service manager cannot be asked: an answer is all that is known.
  if (state === "unknown") {
    return h(
      "li",
      { class: healthy ? "warn" : "fail" },
      h("span", { class: "dot", "aria-hidden": "true" }),
      `${name}: ${healthy ? "answering" : "not answering"}, cannot tell if it runs`,
    );
  }
  return h(
    "li",
    { class: ok ? "ok" : "fail" },
    h("span", { class: "dot", "aria-hidden": "true" }),
    `${name}: ${ok ? "healthy" : state.replace("-", " ")}`,
  );
}

/** The overview for `state` at `nowSecs`. */
export function renderOverview(state: DashState, nowSecs: number): HTMLElement {
  const latest = state.latest;
  if (latest === null) {
    return h("p", { class: "loading", role: "status" }, "Waiting for the first sample…");
  }
  const backup =
    latest.last_backup_error !== null
      ? `Last backup failed: ${latest.last_backup_error}`
      : latest.last_backup_at !== null
        ? `Last backup ${ago(latest.last_backup_at, nowSecs)}${latest.last_backup_kind === "incremental" ? `, incremental (${latest.last_backup_files ?? "?"} ${latest.last_backup_files === 1 ? "file" : "files"} changed)` : latest.last_backup_kind === "full" ? ", full" : ""}`
        : "No backup yet";
  const minutes = state.history.length > 1 ? Math.round((state.history[state.history.length - 1]!.t_ms - state.history[0]!.t_ms) / 60000) : 0;
  return h(
    "div",
    { class: "overview" },
    h(
      "ul",
      { class: "services-strip" },
      serviceLine(SERVICE_NAMES.ollama, latest.services.ollama.state, latest.services.ollama.healthy),
      serviceLine(SERVICE_NAMES.app, latest.services.app.state, latest.services.app.healthy),
      h("li", { class: latest.last_backup_error !== null ? "fail" : latest.last_backup_at === null ? "warn" : "ok" }, h("span", { class: "dot", "aria-hidden": "true" }), backup),
    ),
    h("div", { class: "gauges" }, ...gauges(latest, state.history).map(renderGauge)),
    h("p", { class: "note" }, minutes < 1 ? "The graphs fill in as samples arrive; they show up to the last hour." : `The graphs show the last ${minutes < 58 ? `${minutes} min` : "hour"}.`),
  );
}
