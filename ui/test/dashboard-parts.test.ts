// Tests for the dashboard's pure parts: folding samples into the state,
// sparklines, the gauges and the wording of figures.

import { describe, expect, it } from "vitest";

import type { BackupInfo } from "../src/bindings/BackupInfo";
import type { Point } from "../src/bindings/Point";
import { checkedText, kindText, progressText, progressValue, renderDiff } from "../src/dashboard/backups";
import { bytes, duration, ruleValue } from "../src/dashboard/format";
import { gauges, renderOverview } from "../src/dashboard/overview";
import { actionsFor } from "../src/dashboard/services";
import { sparkPath } from "../src/dashboard/spark";
import { empty, fold } from "../src/dashboard/state";
import { point, snapshot } from "./fixtures";

describe("fold", () => {
  const HOUR_MS = 60 * 60 * 1000;
  const kept = (p: Point, dropped_points = 0, dropped_events = 0) => ({ point: p, dropped_points, dropped_events });

  it("starts from the recent past and applies what each sample changed in it", () => {
    const t0 = 1_800_000_000_000;
    let state = fold(empty(), { type: "recent", history: [point(t0 - HOUR_MS + 1000, 5), point(t0, 6)], events: [], latest: snapshot(t0) });
    expect(state.history).toHaveLength(2);
    state = fold(state, { type: "tick", snapshot: snapshot(t0 + 5000), events: [], kept: kept(point(t0 + 5000, 7), 1) });
    expect(state.history.map((p) => p.t_ms)).toEqual([t0, t0 + 5000]);
    expect(state.history[1]?.cpu_percent).toBe(7);
    expect(state.latest?.taken_at_ms).toBe(t0 + 5000);
  });

  it("drops the events it is told to and ignores view changes", () => {
    const event = { rule: "cpu", kind: "firing" as const, value: 93, threshold: 80, at: 1, message: "CPU at 93%", repeat: false, muted: false };
    let state = empty();
    for (let i = 0; i < 250; i += 1) {
      state = fold(state, { type: "tick", snapshot: snapshot(i), events: [{ ...event, at: i }], kept: kept(point(i, 1), 0, i < 200 ? 0 : 1) });
    }
    expect(state.events).toHaveLength(200);
    expect(state.events[0]?.at).toBe(50);
    expect(state.history).toHaveLength(250);
    expect(fold(state, { type: "show", view: "alerts" })).toBe(state);
  });
});

describe("sparkPath", () => {
  it("draws oldest to newest across the box, scaled to the top given", () => {
    expect(sparkPath([0, 50, 100], 200, 40, 100)).toBe("M0.0,40.0 L100.0,20.0 L200.0,0.0");
    expect(sparkPath([5], 200, 40)).toBe("");
    // Above the top is drawn at the top, not outside the box.
    expect(sparkPath([0, 150], 100, 10, 100)).toBe("M0.0,10.0 L100.0,0.0");
  });
});

describe("the overview", () => {
  it("shows each gauge's figure now and a line of its last hour", () => {
    const history = [point(0, 10), point(5000, 30), point(10000, 20)];
    const list = gauges(snapshot(), history);
    const cpu = list.find((g) => g.id === "cpu")!;
    expect(cpu.value).toBe("23%");
    expect(cpu.series).toEqual([10, 30, 20]);
    expect(list.find((g) => g.id === "memory")?.detail).toBe("10 GiB of 16 GiB");
    expect(list.some((g) => g.id === "swap")).toBe(false);
    const view = renderOverview({ history, events: [], latest: snapshot() }, 1_800_000_000);
    expect(view.querySelector('[data-gauge="disk"] .value')?.textContent).toBe("45%");
    expect(view.querySelectorAll("svg.spark path")[0]?.getAttribute("d")).toMatch(/^M0\.0,/);
    expect(view.textContent).toContain("Last backup 3 h ago, incremental (12 files changed)");
  });

  it("says it cannot tell whether services run when their manager cannot be asked", () => {
    const s = snapshot();
    s.services.app.state = "unknown";
    s.services.app.error = "cannot tell whether it runs: cannot reach the systemd user manager";
    const line = [...renderOverview({ history: [], events: [], latest: s }, 1_800_000_000).querySelectorAll(".services-strip li")].find((li) =>
      li.textContent?.startsWith("Codebase Gardener"),
    );
    expect(line?.textContent).toBe("Codebase Gardener: answering, cannot tell if it runs");
    expect(line?.className).toBe("warn");
  });

  it("marks a machine without any backup amber, not green", () => {
    const s = snapshot(1_800_000_000_000, { last_backup_at: null, last_backup_kind: null, last_backup_files: null });
    const line = [...renderOverview({ history: [], events: [], latest: s }, 1_800_000_000).querySelectorAll(".services-strip li")].find((li) => li.textContent === "No backup yet");
    expect(line?.className).toBe("warn");
    const done = [...renderOverview({ history: [], events: [], latest: snapshot() }, 1_800_000_000).querySelectorAll(".services-strip li")].find((li) => li.textContent?.startsWith("Last backup"));
    expect(done?.className).toBe("ok");
  });

  it("says it is waiting before the first sample", () => {
    expect(renderOverview(empty(), 0).textContent).toContain("Waiting for the first sample");
  });
});

describe("wording", () => {
  it("sizes, durations and rule values", () => {
    expect(bytes(1536)).toBe("1.5 KiB");
    expect(bytes(null)).toBe("—");
    expect(duration(45)).toBe("45 s");
    expect(duration(7200)).toBe("2 h");
    expect(ruleValue("ollama_rss", 5 * 1024 ** 3)).toBe("5.0 GiB");
    expect(ruleValue("app_down", 1)).toBe("down");
    expect(ruleValue("backup_overdue", 36.2)).toBe("36 h");
    expect(ruleValue("copy_overdue:nas", 40.4)).toBe("40 h");
    expect(ruleValue("copy_failed:nas", 1)).toBe("failed");
    expect(ruleValue("model_offloaded", 37.5)).toBe("38% on the CPU");
  });

  it("offers only the actions that make sense", () => {
    const s = snapshot().services.app;
    expect(actionsFor(s)).toEqual(["stop", "restart"]);
    expect(actionsFor({ ...s, state: "stopped" })).toEqual(["start"]);
    expect(actionsFor({ ...s, managed: false })).toEqual([]);
    expect(actionsFor({ ...s, state: "paused" })).toEqual([]);
    expect(actionsFor({ ...s, state: "unknown" })).toEqual([]);
  });

  it("progress and a backup's checked state", () => {
    const p = { phase: "archive" as const, bytes: 45, total_bytes: 100, files: 1204, total_files: 2500 };
    expect(progressText(p)).toBe("Writing the backup — 45% (1,204 of 2,500 files)");
    expect(progressValue({ ...p, total_bytes: 0 })).toBeNull();
    const b: BackupInfo = {
      id: "gardener-x", path: "/b/x", created: "2027-01-15T08:00:00Z", size: 10, files: 2, bytes: 20, scheduled: false, host: "mini", verified: null,
      format: 2, kind: "full", parent: null, needs: [], stored_files: 2, stored_bytes: 20, chain_size: 10, partial: false,
    };
    expect(checkedText(b)).toBe("not checked");
    expect(kindText(b)).toBe("full");
    const inc: BackupInfo = { ...b, kind: "incremental", parent: "gardener-w", needs: ["gardener-w"], stored_files: 12, chain_size: 3 * 1024 * 1024 };
    expect(kindText(inc)).toBe("incremental: 12 files changed; restoring reads 1 earlier backup (3.0 MiB in all)");
    expect(kindText({ ...inc, missing: ["gardener-w"] })).toBe("incremental: 12 files changed; cannot be restored, gardener-w is missing");
    expect(checkedText({ ...b, verified: { at: "2027-01-15T08:01:00Z", ok: false, problems: ["a.txt: hash differs"] } })).toBe("✗ damaged: a.txt: hash differs");
  });

  it("a restore's diff lists what would change", () => {
    const view = renderDiff({ id: "gardener-x", dry_run: true, restored: ["~/data"], diff: { added: ["~/data/new"], changed: [], removed: ["~/data/old"] }, safety_copies: [], services: [], seconds: 0 });
    expect(view.textContent).toContain("1 file would be added");
    const two = renderDiff({ id: "gardener-x", dry_run: true, restored: ["~/data"], diff: { added: [], changed: ["~/data/a", "~/data/b"], removed: [] }, safety_copies: [], services: [], seconds: 0 });
    expect(two.textContent).toContain("2 files would be changed");
    expect(view.textContent).toContain("+ ~/data/new");
    expect(view.textContent).toContain("− ~/data/old");
  });
});
