// The models view: Ollama's models in memory (with Unload), the models on
// disk with whether each would fit in memory, and pulling, deleting and
// loading them. Everything it draws stays inside its own root, so another
// section (Ollama's settings) can sit beside it in the same tab.

import type { DeletePlan } from "../bindings/DeletePlan";
import type { Fit } from "../bindings/Fit";
import type { IpcError } from "../bindings/IpcError";
import type { Listing } from "../bindings/Listing";
import type { LoadedModel } from "../bindings/LoadedModel";
import type { ModelDetails } from "../bindings/ModelDetails";
import type { PullProgress } from "../bindings/PullProgress";
import type { Pulled } from "../bindings/Pulled";
import type { Verdict } from "../bindings/Verdict";
import { modelsDelete, modelsDeletePlan, modelsList, modelsLoad, modelsPull, modelsPullCancel, modelsUnload } from "../bindings/commands";
import { h, replaceChildren } from "../dom";
import { errorHelp } from "../errors";
import type { Result } from "../ipc";
import { renderError } from "../plan";
import { bytes } from "./format";
import type { DashState } from "./state";
import { statusLine, type View } from "./view";

/**
 * The pull under way in this window. It outlives the view that started it:
 * leaving the tab does not stop the download, and coming back shows it again.
 */
interface Pull {
  model: string;
  /** The newest progress, for a view that starts following late. */
  last: PullProgress | null;
  watchers: Set<(p: PullProgress) => void>;
  done: Promise<Result<Pulled>>;
}

let running: Pull | null = null;

function startPull(model: string): Pull {
  const pull: Pull = { model, last: null, watchers: new Set(), done: Promise.resolve({ ok: true, value: { model, bytes: 0, seconds: 0 } }) };
  pull.done = modelsPull(model, (p) => {
    pull.last = p;
    for (const watch of pull.watchers) watch(p);
  }).finally(() => {
    if (running === pull) running = null;
  });
  running = pull;
  return pull;
}

/** How long a loaded model stays: "" leaves it to Ollama (`OLLAMA_KEEP_ALIVE`). */
export const KEEP_ALIVE: [value: string, label: string][] = [
  ["", "Ollama's default"],
  ["5m", "5m"],
  ["30m", "30m"],
  ["1h", "1h"],
  ["-1", "until Ollama stops"],
];

const VERDICTS: Record<Verdict, string> = { fits: "fits", tight: "tight", "will-not-fit": "will not fit" };

/** The badge's word for a verdict. */
export const fitLabel = (v: Verdict): string => VERDICTS[v];

/** "needs 5.1 GiB (weights 4.7 GiB + KV cache 448 MiB at context 4,096) of budget 12 GiB". */
export function fitText(f: Fit): string {
  // A KV cache worked out from a fraction of the size, not the model's shape, is a guess: say so.
  const guessed = f.kv_basis === "fraction" ? ", estimated" : "";
  return `needs ${bytes(f.needs_bytes)} (weights ${bytes(f.weights_bytes)} + KV cache ${bytes(f.kv_cache_bytes)} at context ${f.context.toLocaleString()}${guessed}) of budget ${bytes(f.budget_bytes)}`;
}

/** "Models take 12 GiB on disk · 80 GiB free on its volume · folder /path". */
export function summaryText(l: Listing): string {
  const free = l.free_bytes === null ? "free space unknown" : `${bytes(l.free_bytes)} free on its volume`;
  return `Models take ${bytes(l.total_bytes)} on disk · ${free} · folder ${l.models_dir}`;
}

/** What the confirmation before a delete says. */
export function deleteQuestion(p: DeletePlan): string[] {
  const frees = p.freed_bytes > 0 ? `Delete ${p.model}? This frees ${bytes(p.freed_bytes)}.` : `Delete ${p.model}? Another name shares its files, so this frees no space.`;
  return p.loaded ? [frees, "It is loaded in memory now: it is unloaded first."] : [frees];
}

/** The status line after a load: when Ollama will unload it, if it said. */
export function loadedText(model: string, loaded: LoadedModel | null): string {
  const at = loaded?.expires_at ? new Date(loaded.expires_at) : null;
  if (at === null || Number.isNaN(at.getTime())) return `Loaded ${model}.`;
  // Keep-alive -1 comes back as an expiry centuries away.
  if (at.getTime() - Date.now() > 10 * 365 * 86_400_000) return `Loaded ${model}; it stays until Ollama stops.`;
  return `Loaded ${model}; it unloads at ${at.toLocaleTimeString()}.`;
}

/** "llama · 3.2B · Q4_K_M": family, parameters and quantization, what is known of them. */
export function kindText(m: ModelDetails): string {
  const parameters = m.parameter_size ?? (m.parameter_count === null ? null : m.parameter_count.toLocaleString());
  const known = [m.family, parameters, m.quantization].filter((part) => part !== null);
  return known.length === 0 ? "—" : known.join(" · ");
}

/** The day of an RFC 3339 time, "Oct 2, 2025" (the hour says nothing here). */
function day(t: string): string {
  const date = new Date(t);
  return Number.isNaN(date.getTime()) ? t : date.toLocaleDateString(undefined, { dateStyle: "medium" });
}

/** "pulling 6a0746a1ec1a — 1.2 GiB of 4.7 GiB (25%)". */
export function pullText(p: PullProgress): string {
  if (p.total <= 0) return p.status;
  const pct = Math.min(100, Math.floor((p.completed * 100) / p.total));
  return `${p.status} — ${bytes(p.completed)} of ${bytes(p.total)} (${pct}%)`;
}

const loadedNames = (s: DashState): string | null => (s.latest === null ? null : s.latest.services.ollama.models.map((m) => m.name).sort().join("\n"));

export const mountModels = (root: HTMLElement, initial: DashState): View => {
  const status = statusLine();
  // Failures are announced at once; successes politely, in the status line.
  const problem = statusLine();
  problem.element.setAttribute("role", "alert");
  const loadedBox = h("div", { class: "loaded-models" });
  const summary = h("p", { class: "note models-summary" });
  const listBox = h("div", { class: "installed-models" }, h("p", { class: "loading", role: "status" }, "Asking Ollama for its models…"));
  const pullBox = h("div", { class: "pull-work" });
  const askBox = h("div", {});
  let latest = initial;
  let names = loadedNames(initial);
  let listing: Listing | null = null;
  let pulling = false;
  let mounted = true;
  // An unload, delete or load under way.
  let acting = false;
  let refreshes = 0;
  let asked = 0;
  // The keep-alive chosen per model, kept across redraws of the list.
  const keep = new Map<string, string>();

  const tell = (text: string, failed = false): void => {
    (failed ? problem : status).say(text, failed);
    (failed ? status : problem).say("");
  };
  const failure = (title: string, e: IpcError): string => `${title}: ${e.message} ${errorHelp(e.code).hint}`;

  const refresh = async (): Promise<void> => {
    // Only the newest answer is drawn: an older one may come back later.
    const mine = ++refreshes;
    const result = await modelsList();
    if (mine !== refreshes) return;
    if (result.ok) listing = result.value;
    else {
      listing = null;
      summary.textContent = "";
      replaceChildren(listBox, renderError(result.error, "Cannot list the models"));
      return;
    }
    renderList();
  };

  const redraw = (): void => {
    pullButton.disabled = pulling || acting;
    renderLoaded();
    if (listing !== null) renderList();
  };

  /** Runs an unload, delete or load with the other buttons off meanwhile. */
  const act = async <T>(doing: string, run: () => Promise<T>): Promise<T> => {
    acting = true;
    tell(doing);
    redraw();
    const out = await run();
    acting = false;
    redraw();
    return out;
  };

  // Loaded models: from the samples, so they follow what Ollama holds.
  const unloadModel = async (model: string | null): Promise<void> => {
    const result = await act("", () => modelsUnload(model));
    if (result.ok) {
      tell(result.value.length === 0 ? "No model was loaded." : `Unloaded ${result.value.join(", ")}. They load again when next used.`);
    } else {
      tell(`Could not unload: ${result.error.message}`, true);
    }
  };

  const renderLoaded = (): void => {
    const snap = latest.latest;
    if (snap === null) {
      replaceChildren(loadedBox, h("p", { class: "loading", role: "status" }, "Waiting for the first sample…"));
      return;
    }
    const models = snap.services.ollama.models;
    if (models.length === 0) {
      replaceChildren(loadedBox, h("p", { class: "note" }, "No model is loaded in memory."));
      return;
    }
    const all = h("button", { type: "button", disabled: acting }, "Unload all");
    all.addEventListener("click", () => void unloadModel(null));
    replaceChildren(
      loadedBox,
      h(
        "table",
        { class: "models" },
        h("thead", {}, h("tr", {}, h("th", {}, "Loaded model"), h("th", {}, "Memory"), h("th", {}, "Unloads"), h("th", {}, ""))),
        h(
          "tbody",
          {},
          ...models.map((m) => {
            const button = h("button", { type: "button", disabled: acting, "aria-label": `Unload ${m.name}` }, "Unload");
            button.addEventListener("click", () => void unloadModel(m.name));
            return h("tr", {}, h("td", {}, m.name), h("td", {}, bytes(m.size_bytes)), h("td", {}, m.expires_at ? new Date(m.expires_at).toLocaleTimeString() : "—"), h("td", {}, button));
          }),
        ),
      ),
      all,
    );
  };

  /** An in-page confirmation; `choices` are the buttons that go ahead, Cancel is added. */
  const ask = (title: string, lines: string[], choices: { label: string; aria: string; run: () => void }[]): void => {
    const id = `models-ask-${++asked}`;
    const cancel = h("button", { type: "button" }, "Cancel");
    const buttons = choices.map((c) => {
      const b = h("button", { type: "button", class: "primary danger", "aria-label": c.aria }, c.label);
      b.addEventListener("click", () => {
        done();
        c.run();
      });
      return b;
    });
    const dialog = h(
      "dialog",
      { class: "models-ask", "aria-labelledby": `${id}-title`, "aria-describedby": `${id}-text` },
      h("h3", { id: `${id}-title` }, title),
      h("div", { id: `${id}-text` }, ...lines.map((l) => h("p", {}, l))),
      h("div", { class: "buttons" }, ...buttons, cancel),
    );
    const done = (): void => {
      if (dialog.open) dialog.close();
      dialog.remove();
    };
    cancel.addEventListener("click", done);
    // Escape closes a modal dialog by itself; it must not stay in the page closed.
    dialog.addEventListener("close", () => dialog.remove());
    replaceChildren(askBox, dialog);
    if (typeof dialog.showModal === "function" && dialog.isConnected) dialog.showModal();
    else dialog.setAttribute("open", "");
    buttons[0]?.focus();
  };

  const deleteModel = async (name: string): Promise<void> => {
    const plan = await act(`Finding out what deleting ${name} frees…`, () => modelsDeletePlan(name));
    if (!plan.ok) {
      tell(failure(`Cannot delete ${name}`, plan.error), true);
      return;
    }
    tell("");
    const p = plan.value;
    const go = (unload: boolean) => async (): Promise<void> => {
      const result = await act(`Deleting ${p.model}…`, () => modelsDelete(p.model, unload));
      if (result.ok) tell(`Deleted ${result.value.model}; freed ${result.value.freed_bytes > 0 ? bytes(result.value.freed_bytes) : "nothing (another name shares its files)"}.`);
      else tell(failure(`Could not delete ${p.model}`, result.error), true);
      await refresh();
    };
    ask(
      `Delete ${p.model}?`,
      deleteQuestion(p),
      p.loaded
        ? [{ label: "Unload and delete", aria: `Unload and delete ${p.model}`, run: () => void go(true)() }]
        : [{ label: "Delete", aria: `Delete ${p.model} now`, run: () => void go(false)() }],
    );
  };

  const loadModel = async (m: ModelDetails): Promise<void> => {
    const keepAlive = keep.get(m.name) ?? "";
    const result = await act(`Loading ${m.name}…`, () => modelsLoad(m.name, keepAlive === "" ? null : keepAlive));
    if (result.ok) tell(loadedText(result.value.model, result.value.loaded));
    else tell(failure(`Could not load ${m.name}`, result.error), true);
    await refresh();
  };

  const askLoad = (m: ModelDetails): void => {
    if (m.fit.verdict !== "will-not-fit") {
      void loadModel(m);
      return;
    }
    ask(
      `Load ${m.name}?`,
      [`${m.name} will not fit in memory: it ${fitText(m.fit)}.`, "Loaded anyway, it may push other programs out of memory, run partly on the CPU, or fail."],
      [{ label: "Load anyway", aria: `Load ${m.name} anyway`, run: () => void loadModel(m) }],
    );
  };

  const renderList = (): void => {
    if (listing === null) return;
    summary.textContent = summaryText(listing);
    if (listing.installed.length === 0) {
      replaceChildren(listBox, h("p", { class: "note" }, "No model is installed. Pull one above."));
      return;
    }
    const off = pulling || acting;
    replaceChildren(
      listBox,
      h(
        "table",
        { class: "installed" },
        h(
          "thead",
          {},
          h("tr", {}, ...["Model", "Size", "Kind", "Context", "Modified", "Fits in memory", ""].map((t) => h("th", {}, t))),
        ),
        h(
          "tbody",
          {},
          ...listing.installed.map((m) => {
            const figures = fitText(m.fit);
            const select = h("select", { "aria-label": `Keep ${m.name} loaded for`, disabled: off }, ...KEEP_ALIVE.map(([value, label]) => h("option", { value }, label)));
            select.value = keep.get(m.name) ?? "";
            select.addEventListener("change", () => keep.set(m.name, select.value));
            const load = h("button", { type: "button", disabled: off, "aria-label": `Load ${m.name}` }, "Load");
            load.addEventListener("click", () => askLoad(m));
            const del = h("button", { type: "button", disabled: off, "aria-label": `Delete ${m.name}` }, "Delete…");
            del.addEventListener("click", () => void deleteModel(m.name));
            return h(
              "tr",
              { "data-model": m.name },
              h("td", {}, h("div", {}, m.name), h("div", { class: "loaded-mark" }, m.loaded_now ? "✓ loaded" : "")),
              h("td", {}, bytes(m.size_bytes)),
              h("td", {}, kindText(m)),
              h("td", {}, m.context_length === null ? "—" : m.context_length.toLocaleString()),
              h("td", {}, m.modified_at === null ? "—" : day(m.modified_at)),
              h("td", {}, h("span", { class: `badge fit ${m.fit.verdict}`, title: figures, "aria-description": figures }, fitLabel(m.fit.verdict))),
              h("td", { class: "row-buttons" }, select, load, del),
            );
          }),
        ),
      ),
    );
  };

  // Pull: one at a time, with Ollama's own words for where it is.
  const input = h("input", { type: "text", id: "model-pull-name", name: "model", placeholder: "llama3.2:3b", autocomplete: "off", spellcheck: "false" });
  const pullButton = h("button", { type: "submit", class: "primary" }, "Pull");
  const form = h("form", { class: "pull-form", "aria-label": "Pull a model" }, h("label", { for: "model-pull-name" }, "Model to pull"), input, pullButton);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const name = input.value.trim();
    if (name === "") {
      tell("Type the name of a model to pull, such as llama3.2:3b.", true);
      input.focus();
      return;
    }
    void pull(name);
  });

  /** Shows `pull` with its progress and Cancel until it ends, then how it ended. */
  const follow = async (pull: Pull): Promise<void> => {
    const name = pull.model;
    pulling = true;
    redraw();
    const bar = h("progress", {});
    const text = h("p", { role: "status" }, "Starting…");
    const cancel = h("button", { type: "button", "aria-label": `Cancel the pull of ${name}` }, "Cancel");
    cancel.addEventListener("click", () => {
      cancel.disabled = true;
      cancel.textContent = "Cancelling…";
      void modelsPullCancel();
    });
    replaceChildren(pullBox, h("div", { class: "progress-panel" }, h("h3", {}, `Pulling ${name}`), bar, text, cancel));
    const show = (p: PullProgress): void => {
      // Until the layers' sizes arrive the bar has no end: it shows as busy.
      if (p.total > 0) {
        bar.setAttribute("max", String(p.total));
        bar.setAttribute("value", String(Math.min(p.completed, p.total)));
      } else bar.removeAttribute("value");
      text.textContent = pullText(p);
    };
    if (pull.last !== null) show(pull.last);
    pull.watchers.add(show);
    const result = await pull.done;
    pull.watchers.delete(show);
    // A view left meanwhile draws nothing; the notification says how it went.
    if (!mounted) return;
    pulling = false;
    replaceChildren(pullBox);
    if (result.ok) {
      tell(`Pulled ${result.value.model} (${bytes(result.value.bytes)}) in ${result.value.seconds.toFixed(0)} s.`);
      input.value = "";
    } else if (errorHelp(result.error.code).treatment === "cancelled") {
      tell("Pull cancelled; pulling again resumes where it left off.");
    } else {
      tell(failure(`Could not pull ${name}`, result.error), true);
    }
    redraw();
    await refresh();
  };

  const pull = async (name: string): Promise<void> => {
    tell("");
    await follow(startPull(name));
  };

  replaceChildren(
    root,
    h("h2", {}, "Models"),
    status.element,
    problem.element,
    h("section", { class: "models-loaded", "aria-label": "Loaded models" }, h("h3", {}, "In memory"), loadedBox),
    h("section", { class: "models-installed", "aria-label": "Installed models" }, h("h3", {}, "Installed"), summary, form, pullBox, listBox),
    askBox,
  );
  redraw();
  void refresh();
  if (running !== null) void follow(running);

  return {
    update(state: DashState): void {
      latest = state;
      renderLoaded();
      // A model loaded or unloaded (here, by a request, or by Ollama's timer):
      // the list's loaded marks and fit figures changed with it.
      const now = loadedNames(state);
      if (names !== null && now !== null && now !== names) void refresh();
      if (now !== null) names = now;
    },
    unmount(): void {
      mounted = false;
      askBox.replaceChildren();
    },
  };
};
