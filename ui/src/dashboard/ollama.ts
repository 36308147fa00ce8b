// The Models tab's form for Ollama's settings (keep-alive, parallel requests,
// context length…): each kept in gardener.toml's [ollama.env] so it survives
// restarts and upgrades; Save writes the changed ones and shows what that does
// to Ollama's service file, Apply restarts Ollama and shows what it runs with.

import type { Applied } from "../bindings/Applied";
import type { Form } from "../bindings/Form";
import type { IpcError } from "../bindings/IpcError";
import type { Setting } from "../bindings/Setting";
import type { Source } from "../bindings/Source";
import { ollamaSettingSet, ollamaSettings, ollamaSettingsApply } from "../bindings/commands";
import { stepItems, track, type StepRow } from "../apply";
import { h, replaceChildren } from "../dom";
import { renderError } from "../plan";
import { statusLine, type View } from "./view";

/** Settings that take only a few values get a select; "" is "leave it to the default". */
const CHOICES: Record<string, string[]> = {
  OLLAMA_FLASH_ATTENTION: ["true", "false"],
  OLLAMA_KV_CACHE_TYPE: ["f16", "q8_0", "q4_0"],
};

const SOURCES: Record<Source, string> = {
  file: "Set in gardener.toml.",
  gardener: "Gardener's default.",
  ollama: "Not set: Ollama's default applies.",
};

/** "Takes a whole number of 1 or more. Gardener's default." */
export function hintText(s: Setting): string {
  return `Takes ${s.allowed}. ${SOURCES[s.source]}`;
}

/** What a field holds, as the command takes it: trimmed, empty as null (removes the setting). */
export function fieldValue(text: string): string | null {
  const v = text.trim();
  return v === "" ? null : v;
}

/** "NAME=VALUE, …" in the form's order, then any others; null is "default". */
export function runningText(running: Record<string, string | null>, order: readonly string[]): string {
  const names = [...order.filter((n) => n in running), ...Object.keys(running).filter((n) => !order.includes(n))];
  return names.map((n) => `${n}=${running[n] ?? "default"}`).join(", ");
}

type Field = HTMLInputElement | HTMLSelectElement;

interface Row {
  /** The setting as gardener.toml has it now, to tell what was changed. */
  setting: Setting;
  field: Field;
  hint: HTMLElement;
  problem: HTMLElement;
}

function fieldFor(s: Setting, id: string, describedBy: string): Field {
  const choices = CHOICES[s.name];
  const value = s.value ?? "";
  if (choices === undefined) {
    const input = h("input", { type: "text", id, name: s.name, autocomplete: "off", spellcheck: "false", placeholder: "Ollama's default", "aria-describedby": describedBy });
    input.value = value;
    return input;
  }
  // A value written by hand ("1" for true) is kept as it is rather than shown as another.
  const values = choices.includes(value) || value === "" ? choices : [...choices, value];
  const select = h("select", { id, name: s.name, "aria-describedby": describedBy }, h("option", { value: "" }, "default"), ...values.map((v) => h("option", { value: v }, v)));
  select.value = value;
  return select;
}

/** How applying went: restarted with the values, or already running with them. */
export function appliedText(a: Applied, order: string[]): string {
  const values = runningText(a.running, order);
  if (!a.restarted || a.latency_ms === null) {
    return `Ollama already runs with these settings (pid ${a.pid}), so it was not restarted and its loaded models stay: ${values}.`;
  }
  return `Ollama restarted (pid ${a.pid}, answered in ${a.latency_ms} ms) and runs with: ${values}.`;
}

export const mountOllamaSettings = (root: HTMLElement): View => {
  const status = statusLine();
  const rowsBox = h("div", { class: "ollama-rows" });
  const notice = h("div", {});
  const where = h("code", {});
  const saved = h("div", { class: "ollama-saved" });
  const work = h("div", { class: "ollama-apply" });
  const save = h("button", { type: "submit", class: "primary" }, "Save");
  const apply = h("button", { type: "button", disabled: true }, "Restart Ollama with these settings");
  const applyNote = h("p", { class: "note" });
  const rows = new Map<string, Row>();
  let external: string | null = null;
  let savedOnce = false;
  // Ollama was restarted with what was saved last.
  let inEffect = false;
  let busy = false;

  const enable = (): void => {
    save.disabled = busy;
    apply.disabled = busy || external !== null || !savedOnce;
    applyNote.textContent =
      external !== null
        ? "Gardener does not run Ollama here, so it cannot restart it: saving records the values in gardener.toml, and they take effect where Ollama is started."
        : inEffect
          ? ""
          : savedOnce
            ? "Ollama runs with the values from before until it is restarted."
            : "Save first; then restart Ollama for the values to take effect.";
  };

  const showProblem = (row: Row, text: string | null): void => {
    row.problem.textContent = text ?? "";
    row.problem.hidden = text === null;
    if (text === null) row.field.removeAttribute("aria-invalid");
    else row.field.setAttribute("aria-invalid", "true");
  };

  /** Where the settings are kept, and what to set where when Gardener does not run Ollama. */
  const drawNotice = (form: Form): void => {
    external = form.external;
    where.textContent = form.config_file;
    // The message itself says what to set where.
    replaceChildren(notice, external === null ? null : h("div", { class: "notice", role: "note" }, external));
  };

  /** Every row from `form`, the typed values replaced by the saved ones. */
  const draw = (form: Form): void => {
    drawNotice(form);
    rows.clear();
    replaceChildren(
      rowsBox,
      ...form.settings.map((s) => {
        const id = `ollama-${s.name}`;
        const about = h("p", { class: "note", id: `${id}-about` }, s.about);
        const hint = h("p", { class: "note", id: `${id}-hint` }, hintText(s));
        const problem = h("p", { class: "problem", role: "alert", id: `${id}-error`, hidden: true });
        const field = fieldFor(s, id, `${id}-about ${id}-hint ${id}-error`);
        rows.set(s.name, { setting: s, field, hint, problem });
        return h("div", { class: "setting ollama-setting", "data-setting": s.name }, h("label", { for: id }, h("code", {}, s.name)), about, field, hint, problem);
      }),
    );
    enable();
  };

  const refused = (row: Row, e: IpcError, done: string[]): void => {
    const before = done.length > 0 ? `Saved ${done.join(", ")}; ` : "";
    if (e.code === "config") {
      showProblem(row, e.message);
      status.say(`${before}${row.setting.name} was not saved: see the message at it.`, true);
      row.field.focus();
    } else status.say(`${before}not saved: ${e.message}`, true);
  };

  const runSave = async (): Promise<void> => {
    const changed = [...rows.values()].filter((r) => fieldValue(r.field.value) !== (r.setting.value ?? null));
    for (const r of rows.values()) showProblem(r, null);
    if (changed.length === 0) {
      status.say("Nothing to save: every value is as gardener.toml has it.");
      return;
    }
    busy = true;
    enable();
    status.say("Saving…");
    replaceChildren(saved);
    const diff: string[] = [];
    const done: string[] = [];
    let last: Form | null = null;
    // One at a time and in order, so a refusal stops at the setting it names.
    for (const row of changed) {
      const result = await ollamaSettingSet(row.setting.name, fieldValue(row.field.value));
      if (!result.ok) {
        busy = false;
        if (last !== null) {
          // What was saved is now gardener.toml's; the typed values stay in their fields.
          for (const s of last.settings) {
            const r = rows.get(s.name);
            if (r === undefined) continue;
            r.setting = s;
            r.hint.textContent = hintText(s);
          }
          drawNotice(last);
          savedOnce = true;
          inEffect = false;
          showDiff(diff, last);
        }
        enable();
        refused(row, result.error, done);
        return;
      }
      diff.push(...result.value.diff);
      done.push(result.value.name);
      last = result.value.form;
    }
    busy = false;
    savedOnce = true;
    inEffect = false;
    if (last !== null) draw(last);
    showDiff(diff, last);
    // What was saved shows in the fields and the diff.
    status.say("");
  };

  const showDiff = (diff: string[], form: Form | null): void => {
    if (form?.external != null) {
      replaceChildren(saved, h("p", { role: "status" }, "Saved in gardener.toml. Ollama's service file does not change: Gardener does not run Ollama here."));
    } else if (diff.length === 0) {
      replaceChildren(saved, h("p", { role: "status" }, "Saved. Ollama's service file does not change."));
    } else {
      replaceChildren(saved, h("p", { role: "status" }, "Saved. Ollama's service file changes:"), h("pre", { class: "diff" }, diff.join("\n")));
    }
  };

  const runApply = async (): Promise<void> => {
    busy = true;
    enable();
    status.say("");
    let steps: StepRow[] = [];
    const list = h("ul", { "aria-live": "polite" });
    const drawSteps = (): void => replaceChildren(list, ...stepItems(steps));
    const outcome = h("p", { role: "status" }, "Restarting Ollama…");
    replaceChildren(work, h("section", { class: "progress", "aria-label": "Restarting Ollama" }, list), outcome);
    const result = await ollamaSettingsApply((p) => {
      steps = track(steps, p);
      drawSteps();
    });
    busy = false;
    inEffect = result.ok;
    enable();
    if (result.ok) {
      const a = result.value;
      const order = [...rows.keys()];
      outcome.textContent = appliedText(a, order);
    } else {
      outcome.replaceWith(h("p", { class: "problem", role: "alert" }, `Not applied: ${result.error.message}`));
    }
  };

  const form = h(
    "form",
    { class: "ollama-form", "aria-labelledby": "ollama-settings-heading" },
    rowsBox,
    h("div", { class: "buttons" }, save, apply),
    applyNote,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!busy) void runSave();
  });
  apply.addEventListener("click", () => {
    if (!busy) void runApply();
  });

  const heading = h("h3", { id: "ollama-settings-heading" }, "Ollama's settings");
  const section = h("section", { class: "ollama-settings" }, heading, h("p", { class: "loading", role: "status" }, "Reading Ollama's settings…"));
  replaceChildren(root, section);

  const load = async (): Promise<void> => {
    const result = await ollamaSettings();
    if (!result.ok) {
      // Only the heading and why: no fields to type into that could not be saved.
      replaceChildren(section, heading, renderError(result.error, "Cannot read Ollama's settings"));
      return;
    }
    draw(result.value);
    replaceChildren(
      section,
      heading,
      h("p", { class: "note" }, "Kept in ", h("code", {}, "[ollama.env]"), " of ", where, ", so they survive restarts and upgrades."),
      notice,
      form,
      status.element,
      saved,
      work,
    );
  };
  void load();
  return { update(): void {}, unmount(): void {} };
};
