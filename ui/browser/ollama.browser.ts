// Ollama's settings in real Chromium, on the dashboard's Models tab: the form
// loads, a value Gardener refuses is shown at its setting, a good one is saved
// with the service file's diff, and Apply restarts Ollama with progress.

import { describe, expect, it } from "vitest";

import type { Form } from "../src/bindings/Form";
import { point, snapshot } from "../test/fixtures";
import { calls, open, pageErrors, type Scenario, uiForThisFile } from "./harness";

const ui = uiForThisFile();

const t0 = 1_800_000_000_000;
const CONFIG = "/Users/ada/Library/Application Support/gardener/gardener.toml";

const form: Form = {
  config_file: CONFIG,
  external: null,
  settings: [
    { name: "OLLAMA_KEEP_ALIVE", value: "30m", source: "gardener", about: "How long an unused model stays loaded in memory.", allowed: 'a duration like "5m" or "1h", seconds like "300", or "-1" to keep models loaded' },
    { name: "OLLAMA_MAX_LOADED_MODELS", value: null, source: "ollama", about: "How many models may be loaded in memory at once.", allowed: "a whole number of 1 or more" },
    { name: "OLLAMA_NUM_PARALLEL", value: "2", source: "file", about: "How many requests each loaded model answers at the same time.", allowed: "a whole number of 1 or more" },
    { name: "OLLAMA_CONTEXT_LENGTH", value: null, source: "ollama", about: "The context window (in tokens) models are loaded with.", allowed: 'a whole number of tokens, 256 or more (e.g. "8192")' },
    { name: "OLLAMA_FLASH_ATTENTION", value: null, source: "ollama", about: "Flash attention: less memory for long contexts on supported models.", allowed: '"1", "0", "true" or "false"' },
    { name: "OLLAMA_KV_CACHE_TYPE", value: null, source: "ollama", about: "Precision of the context cache: q8_0 halves its memory, q4_0 quarters it.", allowed: '"f16", "q8_0" or "q4_0" (q8_0 and q4_0 need flash attention)' },
  ],
};

const saved: Form = { ...form, settings: form.settings.map((s) => (s.name === "OLLAMA_NUM_PARALLEL" ? { ...s, value: "4" } : s)) };

/** The dashboard on its Models tab, with the models list empty and `extra` for the settings. */
function models(extra: Scenario): Scenario {
  return {
    dashboard_subscribe: {
      send: { arg: "onEvent", messages: [{ type: "recent", history: [point(t0 - 5000, 20), point(t0, 25)], events: [], latest: snapshot(t0) }] },
    },
    models_list: {
      value: { host: "127.0.0.1:11434", models_dir: "/Users/ada/.ollama/models", total_bytes: 0, free_bytes: 200_000_000_000, memory: { available_bytes: 8_000_000_000, freed_by_unloading_bytes: 0 }, loaded: [], installed: [] },
    },
    ollama_settings: { value: form },
    ...extra,
  };
}

describe("Ollama's settings in Chromium", () => {
  it("refuse a bad value at its setting and send nothing after it", async () => {
    const page = await open(
      ui.browser,
      `${ui.base}/dashboard.html#models`,
      models({ ollama_setting_set: { error: { code: "config", message: 'OLLAMA_NUM_PARALLEL cannot be "x": it takes a whole number of 1 or more' } } }),
    );
    const parallel = page.getByLabel("OLLAMA_NUM_PARALLEL", { exact: true });
    await parallel.waitFor();
    expect(await parallel.inputValue()).toBe("2");
    expect(await page.getByText(`Kept in [ollama.env] of ${CONFIG}`).count()).toBe(1);
    expect(await page.locator('[data-setting="OLLAMA_KEEP_ALIVE"]').textContent()).toContain("Gardener's default.");
    await parallel.fill("x");
    await page.getByLabel("OLLAMA_CONTEXT_LENGTH", { exact: true }).fill("8192");
    await page.locator(".ollama-settings").getByRole("button", { name: "Save", exact: true }).click();
    const alert = page.locator('[data-setting="OLLAMA_NUM_PARALLEL"] [role="alert"]');
    await alert.getByText("it takes a whole number").waitFor();
    expect(await parallel.getAttribute("aria-invalid")).toBe("true");
    expect(await parallel.inputValue()).toBe("x");
    expect((await calls(page)).filter(([c]) => c === "ollama_setting_set")).toEqual([["ollama_setting_set", { name: "OLLAMA_NUM_PARALLEL", value: "x" }]]);
    expect(await page.locator(".ollama-settings").getByRole("button", { name: "Restart Ollama with these settings" }).isDisabled()).toBe(true);
    expect(pageErrors(page)).toEqual([]);
    await page.close();
  });

  it("save a good value with the service file's diff, then restart Ollama with progress", async () => {
    const page = await open(
      ui.browser,
      `${ui.base}/dashboard.html#models`,
      models({
        ollama_setting_set: {
          value: { name: "OLLAMA_NUM_PARALLEL", value: "4", service_file: "/Users/ada/Library/LaunchAgents/dev.gardener.ollama.plist", diff: ["- <string>2</string>", "+ <string>4</string>"], form: saved },
        },
        ollama_settings_apply: {
          send: {
            arg: "onProgress",
            messages: [
              { event: "started", index: 0, description: "write ~/Library/LaunchAgents/dev.gardener.ollama.plist" },
              { event: "finished", index: 0, result: "done" },
              { event: "started", index: 1, description: "restart Ollama" },
              { event: "finished", index: 1, result: "healthy" },
            ],
          },
          delayMs: 100,
          value: { file_changed: true, restarted: true, pid: 5151, running: { OLLAMA_KEEP_ALIVE: "30m", OLLAMA_NUM_PARALLEL: "4", OLLAMA_CONTEXT_LENGTH: null }, latency_ms: 12 },
        },
      }),
    );
    const parallel = page.getByLabel("OLLAMA_NUM_PARALLEL", { exact: true });
    await parallel.waitFor();
    await parallel.fill("4");
    await page.locator(".ollama-settings").getByRole("button", { name: "Save", exact: true }).click();
    await page.getByText("Saved. Ollama's service file changes:").waitFor();
    expect(await page.locator(".ollama-settings pre").textContent()).toBe("- <string>2</string>\n+ <string>4</string>");
    expect((await calls(page)).filter(([c]) => c === "ollama_setting_set")).toEqual([["ollama_setting_set", { name: "OLLAMA_NUM_PARALLEL", value: "4" }]]);

    const apply = page.locator(".ollama-settings").getByRole("button", { name: "Restart Ollama with these settings" });
    await apply.click();
    await page.getByText("write ~/Library/LaunchAgents/dev.gardener.ollama.plist").waitFor();
    // Restarting is the window's one long operation: nothing else starts meanwhile.
    expect(await page.locator(".ollama-settings").getByRole("button", { name: "Save", exact: true }).isDisabled()).toBe(true);
    await page.getByText("Ollama restarted (pid 5151, answered in 12 ms)").waitFor();
    expect(await page.locator(".ollama-apply").textContent()).toContain("runs with: OLLAMA_KEEP_ALIVE=30m, OLLAMA_NUM_PARALLEL=4, OLLAMA_CONTEXT_LENGTH=default.");
    expect(await page.locator(".ollama-apply .progress li").allTextContents()).toEqual(["✓write ~/Library/LaunchAgents/dev.gardener.ollama.plist — done", "✓restart Ollama — healthy"]);
    expect(await apply.isDisabled()).toBe(false);
    expect(pageErrors(page)).toEqual([]);
    await page.close();
  });
});
