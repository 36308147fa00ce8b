// The form for Ollama's settings against Tauri's IPC mock: what it shows,
// a refused value, saving with the service file's diff, restarting Ollama
// with progress, and when Gardener does not run Ollama.

import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { afterEach, describe, expect, it } from "vitest";

import type { Applied } from "../src/bindings/Applied";
import type { Form } from "../src/bindings/Form";
import type { Setting } from "../src/bindings/Setting";
import type { Written } from "../src/bindings/Written";
import { appliedText, fieldValue, hintText, mountOllamaSettings, runningText } from "../src/dashboard/ollama";
import { sendOn, settle } from "./fixtures";

afterEach(() => clearMocks());

type Calls = [string, unknown][];

const CONFIG = "/Users/ada/Library/Application Support/gardener/gardener.toml";

function settings(): Setting[] {
  return [
    { name: "OLLAMA_KEEP_ALIVE", value: "30m", source: "gardener", about: "How long an unused model stays loaded in memory.", allowed: 'a duration like "5m" or "1h", seconds like "300", or "-1" to keep models loaded' },
    { name: "OLLAMA_MAX_LOADED_MODELS", value: null, source: "ollama", about: "How many models may be loaded in memory at once.", allowed: "a whole number of 1 or more" },
    { name: "OLLAMA_NUM_PARALLEL", value: "2", source: "file", about: "How many requests each loaded model answers at the same time.", allowed: "a whole number of 1 or more" },
    { name: "OLLAMA_CONTEXT_LENGTH", value: null, source: "ollama", about: "The context window (in tokens) models are loaded with.", allowed: 'a whole number of tokens, 256 or more (e.g. "8192")' },
    { name: "OLLAMA_FLASH_ATTENTION", value: "1", source: "file", about: "Flash attention: less memory for long contexts on supported models.", allowed: '"1", "0", "true" or "false"' },
    { name: "OLLAMA_KV_CACHE_TYPE", value: null, source: "ollama", about: "Precision of the context cache: q8_0 halves its memory, q4_0 quarters it.", allowed: '"f16", "q8_0" or "q4_0" (q8_0 and q4_0 need flash attention)' },
  ];
}

function form(extra: Partial<Form> = {}): Form {
  return { config_file: CONFIG, settings: settings(), external: null, ...extra };
}

/** The form after `name` was written as `value`. */
function after(name: string, value: string | null, base: Form = form()): Form {
  return { ...base, settings: base.settings.map((s) => (s.name === name ? { ...s, value, source: value === null ? "ollama" : "file" } : s)) };
}

function written(name: string, value: string | null, diff: string[], f: Form): Written {
  return { name, value, service_file: "/Users/ada/Library/LaunchAgents/dev.gardener.ollama.plist", diff, form: f };
}

const applied: Applied = {
  file_changed: true,
  restarted: true,
  pid: 5151,
  running: { OLLAMA_KEEP_ALIVE: "30m", OLLAMA_MAX_LOADED_MODELS: null, OLLAMA_NUM_PARALLEL: "4", OLLAMA_CONTEXT_LENGTH: "8192", OLLAMA_FLASH_ATTENTION: "1", OLLAMA_KV_CACHE_TYPE: null },
  latency_ms: 12,
};

async function mount(calls: Calls, answer: (cmd: string, args: unknown) => unknown, first: Form = form()): Promise<HTMLElement> {
  mockIPC((cmd, args) => {
    calls.push([cmd, args]);
    if (cmd === "ollama_settings") return first;
    return answer(cmd, args);
  });
  const root = document.createElement("div");
  document.body.replaceChildren(root);
  mountOllamaSettings(root);
  await settle();
  return root;
}

function button(root: HTMLElement, text: string): HTMLButtonElement {
  const found = [...root.querySelectorAll("button")].find((b) => b.textContent === text);
  if (found === undefined) throw new Error(`no button "${text}" in: ${root.textContent}`);
  return found;
}

function field(root: HTMLElement, name: string): HTMLInputElement | HTMLSelectElement {
  const found = root.querySelector<HTMLInputElement | HTMLSelectElement>(`#ollama-${name}`);
  if (found === null) throw new Error(`no field ${name}`);
  return found;
}

function row(root: HTMLElement, name: string): HTMLElement {
  const found = root.querySelector<HTMLElement>(`[data-setting="${name}"]`);
  if (found === null) throw new Error(`no row ${name}`);
  return found;
}

function type(root: HTMLElement, name: string, value: string): void {
  const f = field(root, name);
  f.value = value;
  f.dispatchEvent(new Event("input", { bubbles: true }));
}

const sets = (calls: Calls): unknown[] => calls.filter(([c]) => c === "ollama_setting_set").map(([, a]) => a);

describe("Ollama's settings", () => {
  it("shows each setting's value, where it comes from and what it does", async () => {
    const root = await mount([], () => null);
    expect(root.querySelector("h3")?.textContent).toBe("Ollama's settings");
    expect(root.textContent).toContain(`Kept in [ollama.env] of ${CONFIG}, so they survive restarts and upgrades.`);
    expect([...root.querySelectorAll("[data-setting]")].map((r) => r.getAttribute("data-setting"))).toEqual(settings().map((s) => s.name));

    // Each field is labelled by its variable and described by its explanation and hint.
    const keep = field(root, "OLLAMA_KEEP_ALIVE") as HTMLInputElement;
    expect(root.querySelector('label[for="ollama-OLLAMA_KEEP_ALIVE"]')?.textContent).toBe("OLLAMA_KEEP_ALIVE");
    expect(keep.value).toBe("30m");
    expect(keep.getAttribute("aria-describedby")).toContain("ollama-OLLAMA_KEEP_ALIVE-about");
    expect(row(root, "OLLAMA_KEEP_ALIVE").textContent).toContain("How long an unused model stays loaded in memory.");
    expect(row(root, "OLLAMA_KEEP_ALIVE").textContent).toContain("Gardener's default.");
    expect(row(root, "OLLAMA_NUM_PARALLEL").textContent).toContain("Takes a whole number of 1 or more. Set in gardener.toml.");
    const max = field(root, "OLLAMA_MAX_LOADED_MODELS") as HTMLInputElement;
    expect(max.value).toBe("");
    expect(max.placeholder).toBe("Ollama's default");
    expect(row(root, "OLLAMA_MAX_LOADED_MODELS").textContent).toContain("Not set: Ollama's default applies.");

    // The two with few values are selects; a value written by hand stays as written.
    const flash = field(root, "OLLAMA_FLASH_ATTENTION");
    expect(flash.tagName).toBe("SELECT");
    expect([...(flash as HTMLSelectElement).options].map((o) => o.value)).toEqual(["", "true", "false", "1"]);
    expect(flash.value).toBe("1");
    const kv = field(root, "OLLAMA_KV_CACHE_TYPE") as HTMLSelectElement;
    expect([...kv.options].map((o) => o.textContent)).toEqual(["default", "f16", "q8_0", "q4_0"]);
    expect(kv.value).toBe("");

    // Nothing saved yet: nothing to restart Ollama with.
    expect(button(root, "Restart Ollama with these settings").disabled).toBe(true);
    expect(root.querySelector('[role="status"]')).not.toBeNull();
  });

  it("stops at a refused value, shows why at it and keeps what was typed", async () => {
    const calls: Calls = [];
    const root = await mount(calls, (cmd, args) => {
      if (cmd !== "ollama_setting_set") return null;
      const { name, value } = args as { name: string; value: string | null };
      if (name === "OLLAMA_NUM_PARALLEL" && value === "x") throw { code: "config", message: `OLLAMA_NUM_PARALLEL cannot be "${value}": it takes a whole number of 1 or more` };
      return written(name, value, [`+ ${name}=${value}`], after(name, value));
    });
    type(root, "OLLAMA_MAX_LOADED_MODELS", " 2 ");
    type(root, "OLLAMA_NUM_PARALLEL", "x");
    type(root, "OLLAMA_CONTEXT_LENGTH", "8192");
    button(root, "Save").click();
    await settle();

    // In order, trimmed; nothing after the refusal.
    expect(sets(calls)).toEqual([
      { name: "OLLAMA_MAX_LOADED_MODELS", value: "2" },
      { name: "OLLAMA_NUM_PARALLEL", value: "x" },
    ]);
    const parallel = row(root, "OLLAMA_NUM_PARALLEL");
    const alert = parallel.querySelector('[role="alert"]');
    expect(alert?.textContent).toBe('OLLAMA_NUM_PARALLEL cannot be "x": it takes a whole number of 1 or more');
    expect(alert?.hasAttribute("hidden")).toBe(false);
    expect(field(root, "OLLAMA_NUM_PARALLEL").getAttribute("aria-invalid")).toBe("true");
    expect(field(root, "OLLAMA_NUM_PARALLEL").value).toBe("x");
    expect(field(root, "OLLAMA_CONTEXT_LENGTH").value).toBe("8192");
    expect(row(root, "OLLAMA_MAX_LOADED_MODELS").querySelector('[role="alert"]')?.hasAttribute("hidden")).toBe(true);
    // The one before it was saved, and says so.
    expect(row(root, "OLLAMA_MAX_LOADED_MODELS").textContent).toContain("Set in gardener.toml.");
    expect(root.textContent).toContain("Saved OLLAMA_MAX_LOADED_MODELS; OLLAMA_NUM_PARALLEL was not saved");
    expect(root.querySelector("pre")?.textContent).toBe("+ OLLAMA_MAX_LOADED_MODELS=2");
    expect(button(root, "Restart Ollama with these settings").disabled).toBe(false);

    // Fixed and saved again: only what still differs is sent, and the message goes.
    type(root, "OLLAMA_NUM_PARALLEL", "4");
    button(root, "Save").click();
    await settle();
    expect(sets(calls).slice(2)).toEqual([
      { name: "OLLAMA_NUM_PARALLEL", value: "4" },
      { name: "OLLAMA_CONTEXT_LENGTH", value: "8192" },
    ]);
    expect(root.querySelector('[role="alert"]:not([hidden])')).toBeNull();
    expect(field(root, "OLLAMA_NUM_PARALLEL").hasAttribute("aria-invalid")).toBe(false);
  });

  it("saves, shows the service file's diff and then restarts Ollama with progress", async () => {
    const calls: Calls = [];
    const root = await mount(calls, (cmd, args) => {
      if (cmd === "ollama_setting_set") {
        const { name, value } = args as { name: string; value: string | null };
        const diff = name === "OLLAMA_NUM_PARALLEL" ? ["- OLLAMA_NUM_PARALLEL=2", "+ OLLAMA_NUM_PARALLEL=4"] : ["- OLLAMA_FLASH_ATTENTION=1"];
        return written(name, value, diff, after(name, value, after("OLLAMA_NUM_PARALLEL", "4")));
      }
      if (cmd === "ollama_settings_apply") {
        sendOn(args, "onProgress", { event: "started", index: 0, description: "write ~/Library/LaunchAgents/dev.gardener.ollama.plist" });
        sendOn(args, "onProgress", { event: "finished", index: 0, result: "done" });
        sendOn(args, "onProgress", { event: "started", index: 1, description: "restart Ollama" });
        sendOn(args, "onProgress", { event: "finished", index: 1, result: "healthy" });
        return applied;
      }
      return null;
    });
    type(root, "OLLAMA_NUM_PARALLEL", "4");
    type(root, "OLLAMA_FLASH_ATTENTION", "");
    button(root, "Save").click();
    await settle();

    // A cleared field removes the setting.
    expect(sets(calls)).toEqual([
      { name: "OLLAMA_NUM_PARALLEL", value: "4" },
      { name: "OLLAMA_FLASH_ATTENTION", value: null },
    ]);
    expect(root.textContent).toContain("Saved. Ollama's service file changes:");
    expect(root.querySelector("pre")?.textContent).toBe("- OLLAMA_NUM_PARALLEL=2\n+ OLLAMA_NUM_PARALLEL=4\n- OLLAMA_FLASH_ATTENTION=1");
    // The form is the one the last write returned.
    expect(field(root, "OLLAMA_FLASH_ATTENTION").value).toBe("");
    expect(row(root, "OLLAMA_FLASH_ATTENTION").textContent).toContain("Not set: Ollama's default applies.");

    const apply = button(root, "Restart Ollama with these settings");
    expect(apply.disabled).toBe(false);
    expect(root.textContent).toContain("Ollama runs with the values from before until it is restarted.");
    apply.click();
    await settle();
    expect(calls.filter(([c]) => c === "ollama_settings_apply")).toHaveLength(1);
    const steps = [...root.querySelectorAll(".progress li")].map((li) => li.textContent);
    expect(steps).toEqual(["✓write ~/Library/LaunchAgents/dev.gardener.ollama.plist — done", "✓restart Ollama — healthy"]);
    expect(root.textContent).toContain(
      "Ollama restarted (pid 5151, answered in 12 ms) and runs with: OLLAMA_KEEP_ALIVE=30m, OLLAMA_MAX_LOADED_MODELS=default, OLLAMA_NUM_PARALLEL=4, OLLAMA_CONTEXT_LENGTH=8192, OLLAMA_FLASH_ATTENTION=1, OLLAMA_KV_CACHE_TYPE=default.",
    );
    expect(root.textContent).not.toContain("values from before");
    expect(apply.disabled).toBe(false);
  });

  it("says when saving does not change the service file", async () => {
    const root = await mount([], (cmd, args) => {
      const { name, value } = args as { name: string; value: string | null };
      return cmd === "ollama_setting_set" ? written(name, value, [], after(name, value)) : null;
    });
    type(root, "OLLAMA_KV_CACHE_TYPE", "q8_0");
    button(root, "Save").click();
    await settle();
    expect(root.textContent).toContain("Saved. Ollama's service file does not change.");
    expect(root.querySelector("pre")).toBeNull();
    expect(field(root, "OLLAMA_KV_CACHE_TYPE").value).toBe("q8_0");
  });

  it("disables its buttons while restarting and shows why a restart failed", async () => {
    let finish: (() => void) | undefined;
    const root = await mount([], (cmd, args) => {
      if (cmd === "ollama_setting_set") {
        const { name, value } = args as { name: string; value: string | null };
        return written(name, value, ["+ OLLAMA_CONTEXT_LENGTH=8192"], after(name, value));
      }
      if (cmd === "ollama_settings_apply") {
        sendOn(args, "onProgress", { event: "started", index: 0, description: "restart Ollama" });
        return new Promise((_, reject) => {
          finish = () => reject({ code: "rolled-back", message: "Ollama did not answer within 30 s; the service file from before is back" });
        });
      }
      return null;
    });
    type(root, "OLLAMA_CONTEXT_LENGTH", "8192");
    button(root, "Save").click();
    await settle();
    const apply = button(root, "Restart Ollama with these settings");
    apply.click();
    await settle();
    expect(apply.disabled).toBe(true);
    expect(button(root, "Save").disabled).toBe(true);
    expect(root.querySelector(".progress li")?.textContent).toBe("…restart Ollama");
    finish?.();
    await settle();
    const alert = root.querySelector(".ollama-apply [role='alert']");
    expect(alert?.textContent).toBe("Not applied: Ollama did not answer within 30 s; the service file from before is back");
    expect(apply.disabled).toBe(false);
    expect(button(root, "Save").disabled).toBe(false);
  });

  it("when Gardener does not run Ollama, says what to set where and saves without applying", async () => {
    const external =
      "Gardener does not run Ollama here (`[ollama] external = true`), so it cannot apply [ollama.env]: set OLLAMA_NUM_PARALLEL=2 where that Ollama is started (Ollama.app's or `brew services`' environment, or the shell that runs `ollama serve`) and restart it there; Gardener does not use `launchctl setenv`";
    const calls: Calls = [];
    const root = await mount(
      calls,
      (cmd, args) => {
        const { name, value } = args as { name: string; value: string | null };
        return cmd === "ollama_setting_set" ? written(name, value, [], after(name, value, form({ external: external.replace("OLLAMA_NUM_PARALLEL=2", "OLLAMA_NUM_PARALLEL=3") }))) : null;
      },
      form({ external }),
    );
    expect(root.querySelector(".notice")?.textContent).toContain("set OLLAMA_NUM_PARALLEL=2 where that Ollama is started");
    const apply = button(root, "Restart Ollama with these settings");
    expect(apply.disabled).toBe(true);
    expect(root.textContent).toContain("saving records the values in gardener.toml");

    type(root, "OLLAMA_NUM_PARALLEL", "3");
    button(root, "Save").click();
    await settle();
    expect(sets(calls)).toEqual([{ name: "OLLAMA_NUM_PARALLEL", value: "3" }]);
    expect(root.textContent).toContain("Saved in gardener.toml.");
    expect(root.querySelector(".notice")?.textContent).toContain("set OLLAMA_NUM_PARALLEL=3 where");
    expect(apply.disabled).toBe(true);
  });

  it("shows only why when the settings cannot be read", async () => {
    mockIPC((cmd) => {
      if (cmd === "ollama_settings") throw { code: "config", message: "gardener.toml:3:1: expected a table" };
      return null;
    });
    const root = document.createElement("div");
    mountOllamaSettings(root);
    await settle();
    expect(root.querySelector('[role="alert"]')?.textContent).toContain("gardener.toml:3:1: expected a table");
    expect(root.querySelector("input, select, button, form")).toBeNull();
  });

  it("says nothing is saved when nothing changed", async () => {
    const calls: Calls = [];
    const root = await mount(calls, () => null);
    type(root, "OLLAMA_KEEP_ALIVE", " 30m ");
    button(root, "Save").click();
    await settle();
    expect(sets(calls)).toEqual([]);
    expect(root.textContent).toContain("Nothing to save");
  });
});

describe("Ollama's settings' parts", () => {
  it("words values, hints and what Ollama runs with", () => {
    expect(fieldValue("  ")).toBeNull();
    expect(fieldValue(" 5m ")).toBe("5m");
    expect(hintText(settings()[0]!)).toBe('Takes a duration like "5m" or "1h", seconds like "300", or "-1" to keep models loaded. Gardener\'s default.');
    expect(runningText({ B: null, A: "1", Z: "x" }, ["A", "B"])).toBe("A=1, B=default, Z=x");
  });

  it("says when Ollama already ran with the settings and was left running", () => {
    const running = { A: "1" };
    expect(appliedText({ file_changed: true, restarted: true, pid: 7, running, latency_ms: 12 }, ["A"])).toBe("Ollama restarted (pid 7, answered in 12 ms) and runs with: A=1.");
    expect(appliedText({ file_changed: false, restarted: false, pid: 7, running, latency_ms: null }, ["A"])).toBe(
      "Ollama already runs with these settings (pid 7), so it was not restarted and its loaded models stay: A=1.",
    );
  });
});
