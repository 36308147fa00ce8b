// The Models view against Tauri's IPC mock: the installed models with their
// fit badges, a pull with progress (done, cancelled, cut off), deleting after
// a confirmation that names the space freed, and loading a model that would
// not fit only after asking.

import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { afterEach, describe, expect, it } from "vitest";

import { fitText, loadedText, mountModels, pullText } from "../src/dashboard/models";
import type { DashState } from "../src/dashboard/state";
import { listing, sendOn, settle, snapshot } from "./fixtures";

afterEach(() => {
  clearMocks();
  document.body.replaceChildren();
});

type Calls = [string, unknown][];
const GIB = 1024 ** 3;
const state = (models = snapshot().services.ollama.models): DashState => {
  const s = snapshot();
  return { history: [], events: [], latest: { ...s, services: { ...s.services, ollama: { ...s.services.ollama, models } } } };
};

/** Mocks the models' commands; `extra` answers some differently. */
function mock(calls: Calls, extra: (cmd: string, args: unknown) => unknown = () => undefined): void {
  mockIPC((cmd, args) => {
    calls.push([cmd, args]);
    const answer = extra(cmd, args);
    if (answer !== undefined) return answer;
    switch (cmd) {
      case "models_list":
        return listing();
      case "models_unload":
        return ["llama3.2:3b"];
      default:
        return null;
    }
  });
}

async function mounted(calls: Calls, extra?: (cmd: string, args: unknown) => unknown): Promise<HTMLElement> {
  mock(calls, extra);
  const root = document.createElement("div");
  document.body.appendChild(root);
  mountModels(root, state());
  await settle();
  return root;
}

function button(root: ParentNode, name: string): HTMLButtonElement {
  const found = [...root.querySelectorAll("button")].find((b) => (b.getAttribute("aria-label") ?? b.textContent) === name);
  if (found === undefined) throw new Error(`no button "${name}"`);
  return found;
}

const said = (root: HTMLElement): string => root.querySelector('.status-line[role="status"]')?.textContent ?? "";
const alerted = (root: HTMLElement): string => root.querySelector('.status-line[role="alert"]')?.textContent ?? "";
const listed = (calls: Calls): number => calls.filter(([c]) => c === "models_list").length;

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("the models view", () => {
  it("lists the installed models with fit badges carrying the figures", async () => {
    const root = await mounted([]);
    expect(root.querySelector(".models-summary")?.textContent).toBe("Models take 60 GiB on disk · 80 GiB free on its volume · folder /Users/ada/.ollama/models");
    const badge = (name: string): HTMLElement => root.querySelector<HTMLElement>(`[data-model="${name}"] .badge.fit`)!;
    expect(badge("llama3.2:3b").textContent).toBe("fits");
    expect(badge("qwen2.5:14b").textContent).toBe("tight");
    expect(badge("llama3.1:70b").textContent).toBe("will not fit");
    expect(badge("llama3.1:70b").classList.contains("will-not-fit")).toBe(true);
    const figures = "needs 42 GiB (weights 40 GiB + KV cache 2.0 GiB at context 4,096) of budget 12 GiB";
    expect(badge("llama3.1:70b").getAttribute("title")).toBe(figures);
    expect(badge("llama3.1:70b").getAttribute("aria-description")).toBe(figures);
    const row = root.querySelector('[data-model="llama3.2:3b"]')!.textContent;
    for (const part of ["2.0 GiB", "llama", "3.2B", "Q4_K_M", "131,072", "✓ loaded"]) expect(row).toContain(part);
    expect(root.querySelector('[data-model="qwen2.5:14b"] .loaded-mark')?.textContent).toBe("");
    // The loaded models come from the samples, with Unload as on the Services tab before.
    expect(root.querySelector('[aria-label="Unload llama3.2:3b"]')).not.toBeNull();
    expect(button(root, "Unload all").disabled).toBe(false);
  });

  it("says when the free space cannot be read", async () => {
    const root = await mounted([], (cmd) => (cmd === "models_list" ? listing({ free_bytes: null }) : undefined));
    expect(root.querySelector(".models-summary")?.textContent).toContain("free space unknown");
  });

  it("shows why the list is missing when Ollama does not answer, and the rest still works", async () => {
    const calls: Calls = [];
    const root = await mounted(calls, (cmd) => {
      if (cmd === "models_list") throw { code: "ollama-unreachable", message: "Ollama at 127.0.0.1:11434 is not answering" };
      return undefined;
    });
    const error = root.querySelector('.installed-models [role="alert"]');
    expect(error?.textContent).toContain("Ollama at 127.0.0.1:11434 is not answering");
    expect(error?.textContent).toContain("ollama-unreachable");
    button(root, "Unload llama3.2:3b").click();
    await settle();
    expect(calls).toContainEqual(["models_unload", { model: "llama3.2:3b" }]);
    expect(said(root)).toBe("Unloaded llama3.2:3b. They load again when next used.");
  });

  it("pulls with progress, says how it went and lists the model", async () => {
    const calls: Calls = [];
    const done = deferred<unknown>();
    let pullArgs: unknown;
    const root = await mounted(calls, (cmd, args) => {
      if (cmd === "models_pull") {
        pullArgs = args;
        return done.promise;
      }
      return undefined;
    });
    root.querySelector<HTMLInputElement>("#model-pull-name")!.value = " gemma3:4b ";
    root.querySelector("form")!.requestSubmit();
    await settle();
    expect(calls).toContainEqual(["models_pull", expect.objectContaining({ model: "gemma3:4b" })]);
    const pull = button(root, "Pull");
    expect(pull.disabled).toBe(true);
    expect(button(root, "Load qwen2.5:14b").disabled).toBe(true);
    expect(button(root, "Delete qwen2.5:14b").disabled).toBe(true);
    sendOn(pullArgs, "onProgress", { status: "pulling manifest", digest: null, completed: 0, total: 0 });
    expect(root.querySelector(".progress-panel p")?.textContent).toBe("pulling manifest");
    expect(root.querySelector("progress")?.hasAttribute("value")).toBe(false);
    sendOn(pullArgs, "onProgress", { status: "pulling 6a0746a1ec1a", digest: "sha256:6a0746a1ec1a", completed: GIB, total: 4 * GIB });
    expect(root.querySelector(".progress-panel p")?.textContent).toBe("pulling 6a0746a1ec1a — 1.0 GiB of 4.0 GiB (25%)");
    expect(root.querySelector("progress")?.getAttribute("value")).toBe(String(GIB));
    expect(root.querySelector("progress")?.getAttribute("max")).toBe(String(4 * GIB));
    const before = listed(calls);
    done.resolve({ model: "gemma3:4b", bytes: 4 * GIB, seconds: 42.4 });
    await settle();
    expect(said(root)).toBe("Pulled gemma3:4b (4.0 GiB) in 42 s.");
    expect(root.querySelector("progress")).toBeNull();
    expect(listed(calls)).toBe(before + 1);
    expect(pull.disabled).toBe(false);
    expect(root.querySelector<HTMLInputElement>("#model-pull-name")!.value).toBe("");
  });

  it("a pull goes on when the tab is left, and coming back shows it again", async () => {
    const calls: Calls = [];
    const done = deferred<unknown>();
    let pullArgs: unknown;
    mock(calls, (cmd, args) => {
      if (cmd === "models_pull") {
        pullArgs = args;
        return done.promise;
      }
      return undefined;
    });
    const first = document.createElement("div");
    document.body.appendChild(first);
    const view = mountModels(first, state());
    await settle();
    first.querySelector<HTMLInputElement>("#model-pull-name")!.value = "gemma3:4b";
    first.querySelector("form")!.requestSubmit();
    await settle();
    view.unmount();
    first.remove();
    sendOn(pullArgs, "onProgress", { status: "pulling 6a0746a1ec1a", digest: "sha256:6a0746a1ec1a", completed: GIB, total: 4 * GIB });

    const again = document.createElement("div");
    document.body.appendChild(again);
    mountModels(again, state());
    await settle();
    expect(again.querySelector(".progress-panel h3")?.textContent).toBe("Pulling gemma3:4b");
    expect(again.querySelector(".progress-panel p")?.textContent).toBe("pulling 6a0746a1ec1a — 1.0 GiB of 4.0 GiB (25%)");
    expect(button(again, "Pull").disabled).toBe(true);
    sendOn(pullArgs, "onProgress", { status: "pulling 6a0746a1ec1a", digest: "sha256:6a0746a1ec1a", completed: 2 * GIB, total: 4 * GIB });
    expect(again.querySelector(".progress-panel p")?.textContent).toContain("(50%)");
    expect(calls.filter(([c]) => c === "models_pull")).toHaveLength(1);
    done.resolve({ model: "gemma3:4b", bytes: 4 * GIB, seconds: 42.4 });
    await settle();
    expect(said(again)).toBe("Pulled gemma3:4b (4.0 GiB) in 42 s.");
    expect(again.querySelector(".progress-panel")).toBeNull();
    expect(button(again, "Pull").disabled).toBe(false);

    // Once it ended, a new view starts without one.
    const later = document.createElement("div");
    mountModels(later, state());
    await settle();
    expect(later.querySelector(".progress-panel")).toBeNull();
  });

  it("cancels a pull: Ollama keeps what it has", async () => {
    const calls: Calls = [];
    const done = deferred<unknown>();
    const root = await mounted(calls, (cmd) => {
      if (cmd === "models_pull") return done.promise;
      if (cmd === "models_pull_cancel") {
        done.reject({ code: "cancelled", message: "cancelled" });
        return true;
      }
      return undefined;
    });
    root.querySelector<HTMLInputElement>("#model-pull-name")!.value = "gemma3:4b";
    root.querySelector("form")!.requestSubmit();
    await settle();
    button(root, "Cancel the pull of gemma3:4b").click();
    await settle();
    expect(calls.map(([c]) => c)).toContain("models_pull_cancel");
    expect(said(root)).toBe("Pull cancelled; pulling again resumes where it left off.");
    expect(alerted(root)).toBe("");
    expect(root.querySelector("progress")).toBeNull();
    expect(root.querySelector(".progress-panel")).toBeNull();
  });

  it("a pull that breaks off shows the error and leaves no progress behind", async () => {
    const calls: Calls = [];
    const root = await mounted(calls, (cmd, args) => {
      if (cmd === "models_pull") {
        sendOn(args, "onProgress", { status: "pulling 6a0746a1ec1a", digest: "sha256:6a0746a1ec1a", completed: GIB, total: 4 * GIB });
        throw { code: "pull-failed", message: "pulling gemma3:4b: the stream from Ollama broke off" };
      }
      return undefined;
    });
    const before = listed(calls);
    root.querySelector<HTMLInputElement>("#model-pull-name")!.value = "gemma3:4b";
    root.querySelector("form")!.requestSubmit();
    await settle();
    expect(alerted(root)).toContain("the stream from Ollama broke off");
    expect(root.querySelector('.status-line[role="alert"]')?.classList.contains("failed")).toBe(true);
    expect(root.querySelector("progress")).toBeNull();
    expect(listed(calls)).toBe(before + 1);
    expect(button(root, "Pull").disabled).toBe(false);
  });

  it("refuses to pull without a name", async () => {
    const calls: Calls = [];
    const root = await mounted(calls);
    root.querySelector<HTMLInputElement>("#model-pull-name")!.value = "   ";
    root.querySelector("form")!.requestSubmit();
    await settle();
    expect(calls.map(([c]) => c)).not.toContain("models_pull");
    expect(alerted(root)).toBe("Type the name of a model to pull, such as llama3.2:3b.");
    expect(document.activeElement?.id).toBe("model-pull-name");
  });

  it("deletes only after a confirmation that names the space it frees", async () => {
    const calls: Calls = [];
    const root = await mounted(calls, (cmd) => {
      if (cmd === "models_delete_plan") return { model: "qwen2.5:14b", freed_bytes: 9 * GIB, loaded: false };
      if (cmd === "models_delete") return { model: "qwen2.5:14b", freed_bytes: 9 * GIB, loaded: false };
      return undefined;
    });
    button(root, "Delete qwen2.5:14b").click();
    await settle();
    expect(calls).toContainEqual(["models_delete_plan", { model: "qwen2.5:14b" }]);
    const dialog = root.querySelector("dialog")!;
    expect(dialog.open).toBe(true);
    expect(dialog.textContent).toContain("Delete qwen2.5:14b? This frees 9.0 GiB.");
    expect(dialog.textContent).not.toContain("loaded");
    expect(calls.map(([c]) => c)).not.toContain("models_delete");
    const before = listed(calls);
    button(dialog, "Delete qwen2.5:14b now").click();
    await settle();
    expect(calls).toContainEqual(["models_delete", { model: "qwen2.5:14b", unload: false }]);
    expect(said(root)).toBe("Deleted qwen2.5:14b; freed 9.0 GiB.");
    expect(root.querySelector("dialog")).toBeNull();
    expect(listed(calls)).toBe(before + 1);
  });

  it("offers to unload a loaded model before deleting it, and Cancel deletes nothing", async () => {
    const calls: Calls = [];
    const root = await mounted(calls, (cmd) => {
      if (cmd === "models_delete_plan") return { model: "llama3.2:3b", freed_bytes: 0, loaded: true };
      if (cmd === "models_delete") return { model: "llama3.2:3b", freed_bytes: 0, loaded: true };
      return undefined;
    });
    button(root, "Delete llama3.2:3b").click();
    await settle();
    let dialog = root.querySelector("dialog")!;
    expect(dialog.textContent).toContain("Another name shares its files, so this frees no space.");
    expect(dialog.textContent).toContain("It is loaded in memory now");
    expect(() => button(dialog, "Delete llama3.2:3b now")).toThrow();
    button(dialog, "Cancel").click();
    expect(root.querySelector("dialog")).toBeNull();
    expect(calls.map(([c]) => c)).not.toContain("models_delete");

    button(root, "Delete llama3.2:3b").click();
    await settle();
    dialog = root.querySelector("dialog")!;
    button(dialog, "Unload and delete llama3.2:3b").click();
    await settle();
    expect(calls).toContainEqual(["models_delete", { model: "llama3.2:3b", unload: true }]);
    expect(said(root)).toBe("Deleted llama3.2:3b; freed nothing (another name shares its files).");
  });

  it("loads a model that fits at once, with the keep-alive chosen", async () => {
    const calls: Calls = [];
    const root = await mounted(calls, (cmd) => (cmd === "models_load" ? { model: "qwen2.5:14b", loaded: null } : undefined));
    const keep = root.querySelector<HTMLSelectElement>('[aria-label="Keep qwen2.5:14b loaded for"]')!;
    keep.value = "30m";
    keep.dispatchEvent(new Event("change"));
    button(root, "Load qwen2.5:14b").click();
    await settle();
    expect(root.querySelector("dialog")).toBeNull();
    expect(calls).toContainEqual(["models_load", { model: "qwen2.5:14b", keepAlive: "30m" }]);
    expect(said(root)).toBe("Loaded qwen2.5:14b.");
    // The choice survives the list being drawn again.
    expect(root.querySelector<HTMLSelectElement>('[aria-label="Keep qwen2.5:14b loaded for"]')!.value).toBe("30m");
  });

  it("asks before loading a model that will not fit, showing the figures", async () => {
    const calls: Calls = [];
    const expires = new Date(Date.now() + 30 * 60_000).toISOString();
    const root = await mounted(calls, (cmd) =>
      cmd === "models_load" ? { model: "llama3.1:70b", loaded: { name: "llama3.1:70b", size_bytes: 42 * GIB, vram_bytes: 0, expires_at: expires, context_length: 4096 } } : undefined,
    );
    button(root, "Load llama3.1:70b").click();
    await settle();
    expect(calls.map(([c]) => c)).not.toContain("models_load");
    const dialog = root.querySelector("dialog")!;
    expect(dialog.textContent).toContain("llama3.1:70b will not fit in memory: it needs 42 GiB (weights 40 GiB + KV cache 2.0 GiB at context 4,096) of budget 12 GiB.");
    button(dialog, "Load llama3.1:70b anyway").click();
    await settle();
    expect(calls).toContainEqual(["models_load", { model: "llama3.1:70b", keepAlive: null }]);
    expect(said(root)).toBe(`Loaded llama3.1:70b; it unloads at ${new Date(expires).toLocaleTimeString()}.`);
  });

  it("lists again when the models in memory change", async () => {
    const calls: Calls = [];
    mock(calls);
    const root = document.createElement("div");
    const view = mountModels(root, state());
    await settle();
    const before = listed(calls);
    view.update(state());
    await settle();
    expect(listed(calls)).toBe(before);
    view.update(state([]));
    await settle();
    expect(listed(calls)).toBe(before + 1);
    expect(root.querySelector(".loaded-models")?.textContent).toBe("No model is loaded in memory.");
  });
});

describe("the models' wording", () => {
  it("says what a fit estimate counts and when a load ends", () => {
    const fit = { verdict: "tight" as const, needs_bytes: 10 * GIB, weights_bytes: 9 * GIB, kv_cache_bytes: GIB, context: 8192, kv_basis: "fraction", budget_bytes: 12 * GIB };
    expect(fitText(fit)).toBe("needs 10 GiB (weights 9.0 GiB + KV cache 1.0 GiB at context 8,192, estimated) of budget 12 GiB");
    expect(loadedText("m", null)).toBe("Loaded m.");
    expect(loadedText("m", { name: "m", size_bytes: 1, vram_bytes: 0, expires_at: "2318-06-01T00:00:00Z", context_length: null })).toBe("Loaded m; it stays until Ollama stops.");
    expect(pullText({ status: "verifying sha256 digest", digest: null, completed: 0, total: 0 })).toBe("verifying sha256 digest");
  });
});
