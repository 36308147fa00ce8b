// The UI in real Chromium through each view: the setup wizard, the dashboard's gauges, a
// backup with progress, a restore with its diff, the models (pull, delete) and the alerts.

import { describe, expect, it } from "vitest";

import { installed, listing, point, snapshot } from "../test/fixtures";
import { calls, open, pageErrors, type Scenario, uiForThisFile } from "./harness";

const ui = uiForThisFile();

const t0 = 1_800_000_000_000;
const backup = {
  id: "gardener-20270115T080000Z",
  path: "/b/gardener-20270115T080000Z.tar.zst",
  created: "2027-01-15T08:00:00Z",
  size: 1_200_000_000,
  files: 83_153,
  bytes: 2_150_000_000,
  scheduled: true,
  host: "mini",
  verified: { at: "2027-01-15T08:03:00Z", ok: true, problems: [] },
  format: 2,
  kind: "incremental",
  parent: "gardener-20270114T080000Z",
  needs: ["gardener-20270114T080000Z"],
  stored_files: 412,
  stored_bytes: 31_000_000,
  chain_size: 1_230_000_000,
  partial: false,
};

function dashboard(extra: Scenario = {}): Scenario {
  return {
    dashboard_subscribe: {
      send: {
        arg: "onEvent",
        messages: [
          { type: "recent", history: Array.from({ length: 60 }, (_, i) => point(t0 - (60 - i) * 5000, 20 + (i % 7) * 5)), events: [], latest: snapshot(t0) },
          { type: "show", view: "overview" },
        ],
      },
    },
    backups_list: { value: [backup] },
    targets_list: {
      value: [
        { name: "nas", kind: "dir", location: "/Volumes/Backup/gardener", reachable: true, error: null, copies: 1, bytes: 1_230_000_000, backups: [backup.id], last_copy: "2027-01-15T08:03:00Z", last_check: null, last_failure: null },
      ],
    },
    log_open: { value: ["time=… msg=\"server listening\""] },
    log_poll: { value: [] },
    models_list: { value: listing() },
    ollama_settings: { value: { config_file: "/home/me/.config/gardener/gardener.toml", settings: [], external: null } },
    settings_load: {
      value: {
        path: "/Users/ada/Library/Application Support/gardener/gardener.toml",
        text: "[monitor]\ninterval_secs = 5\n",
        problem: null,
        interval_secs: 5,
        mute_until: null,
        rules: [
          { rule: "cpu", name: "CPU use", enabled: true, threshold: 80, clear: 70, for_secs: 120, cooldown_secs: 3600, recovery: true },
          { rule: "ollama_down", name: "Ollama stopped", enabled: true, threshold: 1, clear: 0, for_secs: 0, cooldown_secs: 3600, recovery: true },
        ],
        autostart: true,
        fed: true,
      },
    },
    ...extra,
  };
}

describe("in Chromium", () => {
  it("the setup wizard shows the plan and sets up with progress", async () => {
    const page = await open(ui.browser, `${ui.base}/index.html`, {
      setup_plan: {
        value: {
          platform: "macos",
          config_file: "/Users/ada/Library/Application Support/gardener/gardener.toml",
          manage_ollama: true,
          steps: [
            { kind: "check", id: "ollama-binary", title: "Ollama is installed", outcome: "ok", detail: "/opt/homebrew/bin/ollama" },
            { kind: "dir", path: "/Users/ada/Library/Logs/gardener", mode: "0700", change: "create" },
          ],
        },
      },
      setup_apply: {
        send: { arg: "onProgress", messages: [{ event: "started", index: 1, description: "create directory ~/Library/Logs/gardener" }, { event: "finished", index: 1, result: "done" }] },
        delayMs: 50,
        value: { plan: { platform: "macos", config_file: "x", manage_ollama: true, steps: [] }, done: ["create directory ~/Library/Logs/gardener"], health: [{ service: "ollama", healthy: true, latency_ms: 3 }, { service: "app", healthy: true, latency_ms: 5 }] },
      },
    });
    await page.getByText("Ollama is installed").waitFor();
    await page.getByRole("button", { name: "Set Up" }).click();
    await page.getByText("create directory ~/Library/Logs/gardener").first().waitFor();
    await page.locator(".outcome").waitFor();
    expect(await page.locator(".outcome").textContent()).toContain("Gardener is set upOllama is running and answers");
    expect(pageErrors(page)).toEqual([]);
    await page.close();
  });

  it("the dashboard draws its gauges and sparklines and moves by keyboard", async () => {
    const page = await open(ui.browser, `${ui.base}/dashboard.html`, dashboard());
    await page.locator('[data-gauge="cpu"] .value').waitFor();
    expect(await page.locator('[data-gauge="memory"] .value').textContent()).toBe("63%");
    const d = await page.locator('[data-gauge="cpu"] svg.spark path').getAttribute("d");
    expect(d?.split("L")).toHaveLength(60);
    // The drawn line really has a size on screen.
    const box = await page.locator('[data-gauge="cpu"] svg.spark').boundingBox();
    expect(box?.width).toBeGreaterThan(100);
    await page.locator("#tab-overview").focus();
    await page.keyboard.press("ArrowRight");
    await page.locator('[data-service="ollama"]').waitFor();
    expect(await page.locator("#tab-services").getAttribute("aria-selected")).toBe("true");
    expect(await page.locator("pre.log").textContent()).toContain("server listening");
    expect(pageErrors(page)).toEqual([]);
    await page.close();
  });

  it("a backup shows its progress and can be cancelled", async () => {
    const page = await open(
      ui.browser,
      `${ui.base}/dashboard.html`,
      dashboard({
        backup_create: {
          send: { arg: "onProgress", messages: [{ phase: "archive", bytes: 45, total_bytes: 100, files: 40_000, total_files: 83_153 }] },
          delayMs: 400,
          error: { code: "cancelled", message: "cancelled" },
        },
        backup_cancel: { value: true },
      }),
    );
    await page.locator("#tab-backups").click();
    await page.locator(`[data-backup="${backup.id}"] .copies`).waitFor();
    expect(await page.locator(`[data-backup="${backup.id}"] .copies`).textContent()).toBe("nas ✓");
    await page.getByRole("button", { name: "Back Up Now" }).click();
    await page.getByText("Writing the backup — 45%").waitFor();
    expect(await page.locator("progress").getAttribute("value")).toBe("45");
    await page.getByRole("button", { name: "Cancel" }).click();
    await page.getByText("Cancelled; nothing was left behind.").waitFor();
    expect((await calls(page)).map(([c]) => c)).toContain("backup_cancel");
    await page.close();
  });

  it("a restore shows what would change before anything does", async () => {
    const report = { id: backup.id, dry_run: true, restored: ["~/.codebase-gardener"], diff: { added: ["~/.codebase-gardener/projects/new"], changed: ["~/.codebase-gardener/memory.db"], removed: [] }, safety_copies: [], services: [], seconds: 0 };
    const page = await open(
      ui.browser,
      `${ui.base}/dashboard.html`,
      dashboard({
        restore_preview: { value: report },
        restore_apply: {
          send: { arg: "onProgress", messages: [{ phase: "extract", bytes: 10, total_bytes: 20, files: 1, total_files: 2 }] },
          delayMs: 100,
          value: { ...report, dry_run: false, safety_copies: ["~/.codebase-gardener.before"], services: ["ollama", "app"], seconds: 4.2 },
        },
      }),
    );
    await page.locator("#tab-backups").click();
    await page.getByRole("button", { name: `Restore ${backup.id}` }).click();
    await page.getByText("1 file would be changed").waitFor();
    expect((await calls(page)).map(([c]) => c)).not.toContain("restore_apply");
    await page.getByRole("button", { name: "Restore this backup" }).click();
    await page.getByText("Ollama and Codebase Gardener restarted and healthy.").waitFor();
    await page.close();
  });

  it("the models show their fit, pull with streamed progress and list the new one", async () => {
    const GIB = 1024 ** 3;
    const page = await open(
      ui.browser,
      `${ui.base}/dashboard.html`,
      dashboard({
        models_pull: {
          send: {
            arg: "onProgress",
            messages: [
              { status: "pulling manifest", digest: null, completed: 0, total: 0 },
              { status: "pulling 6a0746a1ec1a", digest: "sha256:6a0746a1ec1a", completed: GIB, total: 4 * GIB },
              { status: "pulling 6a0746a1ec1a", digest: "sha256:6a0746a1ec1a", completed: 3 * GIB, total: 4 * GIB },
              { status: "verifying sha256 digest", digest: null, completed: 4 * GIB, total: 4 * GIB },
            ],
          },
          delayMs: 60,
          value: { model: "gemma3:4b", bytes: 4 * GIB, seconds: 12 },
        },
      }),
    );
    await page.locator("#tab-models").click();
    await page.locator('[data-model="llama3.1:70b"]').waitFor();
    const badge = page.locator('[data-model="llama3.1:70b"] .badge.fit');
    expect(await badge.textContent()).toBe("will not fit");
    expect(await badge.getAttribute("title")).toContain("needs 42 GiB (weights 40 GiB + KV cache 2.0 GiB");
    expect(await badge.isVisible()).toBe(true);
    expect(await page.locator('[data-model="qwen2.5:14b"] .badge.fit').textContent()).toBe("tight");
    expect(await page.getByRole("button", { name: "Unload llama3.2:3b" }).isVisible()).toBe(true);
    // Once pulled, the list has the new model.
    await page.evaluate((next) => {
      const w = window as unknown as { __TAURI_INTERNALS__: { invoke: (cmd: string, args?: unknown) => Promise<unknown> } };
      const invoke = w.__TAURI_INTERNALS__.invoke.bind(w.__TAURI_INTERNALS__);
      let pulled = false;
      w.__TAURI_INTERNALS__.invoke = async (cmd, args) => {
        const out = await invoke(cmd, args);
        if (cmd === "models_pull") pulled = true;
        return cmd === "models_list" && pulled ? next : out;
      };
    }, listing({ installed: [...listing().installed, installed("gemma3:4b", { size_bytes: 4 * GIB })] }));
    await page.getByLabel("Model to pull").fill("gemma3:4b");
    await page.getByRole("button", { name: "Pull", exact: true }).click();
    await page.getByText("pulling 6a0746a1ec1a — 1.0 GiB of 4.0 GiB (25%)").waitFor();
    expect(await page.getByRole("button", { name: "Pull", exact: true }).isDisabled()).toBe(true);
    await page.getByText("Pulled gemma3:4b (4.0 GiB) in 12 s.").waitFor();
    expect(await page.locator("progress").count()).toBe(0);
    await page.locator('[data-model="gemma3:4b"]').waitFor();
    expect(pageErrors(page)).toEqual([]);
    await page.close();
  });

  it("a pull can be cancelled, and a broken-off one leaves no progress behind", async () => {
    const GIB = 1024 ** 3;
    const layer = (completed: number) => ({ status: "pulling 6a0746a1ec1a", digest: "sha256:6a0746a1ec1a", completed, total: 4 * GIB });
    const page = await open(
      ui.browser,
      `${ui.base}/dashboard.html`,
      dashboard({
        models_pull: { send: { arg: "onProgress", messages: [layer(GIB)] }, delayMs: 400, error: { code: "cancelled", message: "cancelled" } },
        models_pull_cancel: { value: true },
      }),
    );
    await page.locator("#tab-models").click();
    await page.getByLabel("Model to pull").fill("gemma3:4b");
    await page.getByRole("button", { name: "Pull", exact: true }).click();
    await page.getByText("pulling 6a0746a1ec1a — 1.0 GiB of 4.0 GiB (25%)").waitFor();
    await page.getByRole("button", { name: "Cancel the pull of gemma3:4b" }).click();
    await page.getByText("Pull cancelled; pulling again resumes where it left off.").waitFor();
    expect((await calls(page)).map(([c]) => c)).toContain("models_pull_cancel");
    expect(await page.locator("progress").count()).toBe(0);
    expect(pageErrors(page)).toEqual([]);
    await page.close();

    const cut = await open(
      ui.browser,
      `${ui.base}/dashboard.html`,
      dashboard({
        models_pull: {
          send: { arg: "onProgress", messages: [layer(2 * GIB)] },
          delayMs: 100,
          error: { code: "pull-failed", message: "the pull of gemma3:4b stopped before it finished: connection closed" },
        },
      }),
    );
    await cut.locator("#tab-models").click();
    await cut.getByLabel("Model to pull").fill("gemma3:4b");
    await cut.getByRole("button", { name: "Pull", exact: true }).click();
    await cut.getByText(/Could not pull gemma3:4b: the pull of gemma3:4b stopped before it finished/).waitFor();
    expect(await cut.locator("progress").count()).toBe(0);
    expect(await cut.getByRole("button", { name: "Pull", exact: true }).isDisabled()).toBe(false);
    expect(pageErrors(cut)).toEqual([]);
    await cut.close();
  });

  it("deleting a model asks first in a dialog that names the space freed", async () => {
    const GIB = 1024 ** 3;
    const page = await open(
      ui.browser,
      `${ui.base}/dashboard.html`,
      dashboard({
        models_delete_plan: { value: { model: "qwen2.5:14b", freed_bytes: 9 * GIB, loaded: false } },
        models_delete: { value: { model: "qwen2.5:14b", freed_bytes: 9 * GIB, loaded: false } },
      }),
    );
    await page.locator("#tab-models").click();
    await page.getByRole("button", { name: "Delete qwen2.5:14b", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: "Delete qwen2.5:14b?" });
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain("Delete qwen2.5:14b? This frees 9.0 GiB.");
    expect((await calls(page)).map(([c]) => c)).not.toContain("models_delete");
    await dialog.getByRole("button", { name: "Delete qwen2.5:14b now" }).click();
    await page.getByText("Deleted qwen2.5:14b; freed 9.0 GiB.").waitFor();
    expect(await calls(page)).toContainEqual(["models_delete", { model: "qwen2.5:14b", unload: false }]);
    expect(await page.locator("dialog").count()).toBe(0);
    expect(pageErrors(page)).toEqual([]);
    await page.close();
  });

  it("the alerts list their rules and pause", async () => {
    const page = await open(ui.browser, `${ui.base}/dashboard.html`, dashboard({ alerts_pause: { value: Math.floor(t0 / 1000) + 3600 } }));
    await page.locator("#tab-alerts").click();
    await page.locator('[data-rule="cpu"]').waitFor();
    expect(await page.locator('[data-rule="cpu"]').textContent()).toContain("over 80% for 2 min, clears at 70%");
    expect(await page.locator('[data-rule="ollama_down"]').textContent()).toContain("at once");
    await page.getByRole("button", { name: "Pause for 1 hour" }).click();
    await page.getByText("Alerts are paused until").waitFor();
    expect(await calls(page)).toContainEqual(["alerts_pause", { pause: "hour" }]);
    await page.close();
  });
});
