// Tests for setting up from the window: the views of the choice, the button,
// progress and the outcome, and the whole flow against Tauri's IPC mock.

import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { afterEach, describe, expect, it } from "vitest";

import type { Plan } from "../src/bindings/Plan";
import type { SetUpReport } from "../src/bindings/SetUpReport";
import { renderActions, renderDone, renderFailed, renderOllamaChoice, renderProgress, track } from "../src/apply";
import { main } from "../src/main";

afterEach(() => clearMocks());

function plan(extra: Partial<Plan> = {}): Plan {
  return {
    platform: "linux",
    config_file: "/home/ada/.config/gardener/gardener.toml",
    manage_ollama: true,
    steps: [
      { kind: "check", id: "ollama-binary", title: "Ollama is installed", outcome: "ok", detail: "/usr/bin/ollama" },
      { kind: "dir", path: "/home/ada/.local/share/gardener", mode: "0700", change: "create" },
    ],
    ...extra,
  };
}

const report: SetUpReport = {
  plan: plan(),
  done: ["create directory /home/ada/.local/share/gardener (0700)"],
  health: [
    { service: "ollama", healthy: true, latency_ms: 3 },
    { service: "app", healthy: true, latency_ms: 5 },
  ],
};

describe("track", () => {
  it("adds a row when a step starts and marks it when it finishes", () => {
    let rows = track([], { event: "started", index: 2, description: "create directory ~/x" });
    expect(rows).toEqual([{ index: 2, description: "create directory ~/x" }]);
    rows = track(rows, { event: "started", index: 3, description: "run systemctl --user daemon-reload" });
    rows = track(rows, { event: "finished", index: 2, result: "done" });
    expect(rows.map((r) => r.result)).toEqual(["done", undefined]);
  });
});

describe("the views", () => {
  it("offers the Set Up button only when there is something to do and nothing failed", () => {
    const ready = renderActions(plan(), () => {});
    expect(ready.querySelector("button")?.disabled).toBe(false);
    const blocked = renderActions(
      plan({ steps: [{ kind: "check", id: "ollama-port", title: "Port", outcome: "fail", detail: "taken" }, ...plan().steps] }),
      () => {},
    );
    expect(blocked.querySelector("button")?.disabled).toBe(true);
    expect(blocked.textContent).toContain("Fix the failed checks below, then choose Check Again.");
    expect([...ready.querySelectorAll("button")].map((b) => b.textContent)).toEqual(["Set Up"]);
    const noop = renderActions(plan({ steps: [{ kind: "dir", path: "/x", mode: "0700", change: "unchanged" }] }), () => {});
    expect(noop.querySelector("button")).toBeNull();
    expect(noop.textContent).toContain("Nothing to do");
  });

  it("asks about an Ollama that is already running, and only then", () => {
    expect(renderOllamaChoice(plan(), true, () => {})).toBeNull();
    const chosen: boolean[] = [];
    const choice = renderOllamaChoice(plan({ external_ollama: "0.12.6" }), true, (v) => chosen.push(v));
    expect(choice?.querySelector("legend")?.textContent).toBe("Ollama 0.12.6 is already running on this computer");
    const radios = [...(choice?.querySelectorAll("input") ?? [])];
    expect(radios.map((r) => r.checked)).toEqual([true, false]);
    radios[1]?.dispatchEvent(new Event("change"));
    expect(chosen).toEqual([false]);
  });

  it("shows running and finished steps", () => {
    const view = renderProgress([
      { index: 0, description: "create directory ~/x", result: "done" },
      { index: 1, description: "wait for Ollama" },
    ]);
    const items = [...view.querySelectorAll("li")];
    expect(items.map((li) => li.className)).toEqual(["finished", "running"]);
    expect(items[0]?.textContent).toBe("✓create directory ~/x — done");
  });

  it("ends with each service's health, or the error and its code", () => {
    const done = renderDone(report);
    expect(done.querySelector("h2")?.textContent).toBe("Gardener is set up");
    expect(done.textContent).toContain("Ollama is running and answers (3 ms)");
    expect(done.textContent).toContain("Codebase Gardener is running and answers (5 ms)");
    expect(done.textContent).toContain("1 change made.");
    const failed = renderFailed({ code: "rolled-back", message: "the app did not answer; every change was undone" });
    expect(failed.getAttribute("role")).toBe("alert");
    expect(failed.textContent).toContain("every change was undone");
    expect(failed.querySelector("code")?.textContent).toBe("rolled-back");
  });
});

describe("the setup window", () => {
  async function settled(): Promise<void> {
    for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 0));
  }

  it("plans, applies with progress, and shows the outcome", async () => {
    const calls: [string, unknown][] = [];
    mockIPC((cmd, args) => {
      calls.push([cmd, args]);
      if (cmd === "setup_plan") return plan();
      if (cmd === "setup_apply") {
        // The channel the window passed: send progress through it like the Rust side does.
        const { id } = (args as { onProgress: { id: number } }).onProgress;
        const internals = (window as unknown as { __TAURI_INTERNALS__: { runCallback: (id: number, data: unknown) => void } })
          .__TAURI_INTERNALS__;
        internals.runCallback(id, { message: { event: "started", index: 1, description: "create directory ~/x" }, index: 0 });
        internals.runCallback(id, { message: { event: "finished", index: 1, result: "done" }, index: 1 });
        return report;
      }
      if (cmd === "recovery_key") {
        return { path: "/home/ada/.config/gardener/backup-key.txt", public: "age1example", file: "AGE-SECRET-KEY-1EXAMPLE\n", warning: "Without this key the copies cannot be read.", created: true };
      }
      return undefined;
    });
    const root = document.createElement("main");
    await main(root);
    expect(calls[0]).toEqual(["setup_plan", { useRunningOllama: true }]);
    const button = root.querySelector<HTMLButtonElement>("button.primary");
    expect(button?.textContent).toBe("Set Up");
    button?.click();
    await settled();
    expect(calls[1]?.[0]).toBe("setup_apply");
    expect(root.querySelector(".outcome h2")?.textContent).toBe("Gardener is set up");
    expect(root.querySelector(".progress li")?.textContent).toBe("✓create directory ~/x — done");
    expect(root.querySelector(".progress h2")?.textContent).toBe("Steps");

    // Then the recovery key, asked for only when the person wants to see it.
    expect(root.textContent).toContain("Save your recovery key");
    expect(calls.some(([c]) => c === "recovery_key")).toBe(false);
    [...root.querySelectorAll("button")].find((b) => b.textContent === "Show the recovery key")?.click();
    await settled();
    expect(root.querySelector(".key-file")?.textContent).toBe("AGE-SECRET-KEY-1EXAMPLE\n");
    expect(root.textContent).toContain("The key was made just now.");
  });

  it("checks again when asked after a check failed", async () => {
    const calls: string[] = [];
    let failing = true;
    mockIPC((cmd) => {
      calls.push(cmd);
      if (cmd === "setup_plan") {
        const p = plan();
        return failing ? plan({ steps: [{ kind: "check", id: "ollama-port", title: "Port", outcome: "fail", detail: "taken" }, ...p.steps] }) : p;
      }
      return undefined;
    });
    const root = document.createElement("main");
    await main(root);
    expect(root.querySelector<HTMLButtonElement>("button.primary")?.disabled).toBe(true);
    failing = false;
    [...root.querySelectorAll("button")].find((b) => b.textContent === "Check Again")?.click();
    await settled();
    expect(calls).toEqual(["setup_plan", "setup_plan"]);
    expect(root.querySelector<HTMLButtonElement>("button.primary")?.disabled).toBe(false);
    expect(root.textContent).not.toContain("Check Again");
  });

  it("shows a failure with what was undone", async () => {
    mockIPC((cmd) => {
      if (cmd === "setup_plan") return plan();
      throw { code: "rolled-back", message: "Ollama did not answer within 30 s; every change was undone" };
    });
    const root = document.createElement("main");
    await main(root);
    root.querySelector<HTMLButtonElement>("button.primary")?.click();
    await settled();
    expect(root.querySelector(".error")?.textContent).toContain("every change was undone");
  });
});
