// Renders setting up as it happens: the choice about an Ollama that is already
// running, the button, each step's progress, and how it ended. Pure functions
// of their input, so tests can call them; src/main.ts wires them to the IPC.

import type { InstallProgress } from "./bindings/InstallProgress";
import type { IpcError } from "./bindings/IpcError";
import type { Plan } from "./bindings/Plan";
import type { SetUpReport } from "./bindings/SetUpReport";
import { h } from "./dom";
import { isBlocked, isNoop, renderError } from "./plan";
import { SERVICE_NAMES } from "./services";


/** One step as it is shown while setting up. */
export type StepRow = { index: number; description: string; result?: string };

/** Folds one progress event into the rows shown so far (a new array). */
export function track(rows: readonly StepRow[], event: InstallProgress): StepRow[] {
  if (event.event === "started") {
    return [...rows, { index: event.index, description: event.description }];
  }
  return rows.map((row) => (row.index === event.index ? { ...row, result: event.result } : row));
}

/**
 * When an Ollama Gardener did not install is already running: the choice to
 * use it or to install Gardener's own. `useRunning` is the current choice.
 */
export function renderOllamaChoice(
  plan: Plan,
  useRunning: boolean,
  onChange: (useRunning: boolean) => void,
): HTMLElement | null {
  if (plan.external_ollama === undefined) return null;
  const option = (value: boolean, label: string, hint: string): HTMLElement => {
    const input = h("input", { type: "radio", name: "ollama", value: String(value), checked: value === useRunning });
    input.addEventListener("change", () => onChange(value));
    return h("label", { class: "option" }, input, h("span", {}, h("strong", {}, label), h("span", { class: "hint" }, hint)));
  };
  return h(
    "fieldset",
    { class: "choice" },
    h("legend", {}, `Ollama ${plan.external_ollama} is already running on this computer`),
    option(true, "Use it", "Gardener watches it but leaves starting and stopping it to you (Ollama.app, brew services)."),
    option(false, "Install Gardener's own", "Stop the running one first; Gardener then starts Ollama at login and restarts it if it stops."),
  );
}

/** The button that sets up, or why there is none; with a check failed, Check Again. */
export function renderActions(plan: Plan, onApply: () => void, onCheckAgain: () => void = () => undefined): HTMLElement {
  if (isNoop(plan)) {
    return h("div", { class: "actions" }, h("p", { class: "note" }, "Nothing to do: everything is set up as configured."));
  }
  const blocked = isBlocked(plan);
  const button = h("button", { type: "button", class: "primary", disabled: blocked }, "Set Up");
  button.addEventListener("click", onApply);
  const again = h("button", { type: "button" }, "Check Again");
  again.addEventListener("click", onCheckAgain);
  return h(
    "div",
    { class: "actions" },
    button,
    blocked ? again : null,
    h(
      "p",
      { class: "note" },
      blocked
        ? "Fix the failed checks below, then choose Check Again."
        : "Gardener makes the changes listed below. If any step fails, it undoes what it changed.",
    ),
  );
}

/**
 * Each step so far: running ones with an ellipsis, finished ones with their
 * result. `over` once setting up has ended.
 */
export function renderProgress(rows: readonly StepRow[], over = false): HTMLElement {
  return h(
    "section",
    { class: "progress", "aria-labelledby": "progress-heading" },
    h("h2", { id: "progress-heading" }, over ? "Steps" : "Setting up…"),
    h("ol", { "aria-live": "polite" }, ...stepItems(rows)),
  );
}

/** A list item per step: running ones with an ellipsis, finished ones with a check and their result. */
export function stepItems(rows: readonly StepRow[]): HTMLElement[] {
  return rows.map((row) =>
    h(
      "li",
      { class: row.result === undefined ? "running" : "finished" },
      h("span", { class: "mark", "aria-hidden": "true" }, row.result === undefined ? "…" : "✓"),
      h("span", {}, row.description),
      row.result !== undefined && h("span", { class: "result" }, ` — ${row.result}`),
    ),
  );
}

/** Set up: what changed and each service's health. */
export function renderDone(report: SetUpReport): HTMLElement {
  const changes = report.done.length;
  return h(
    "div",
    { class: "outcome done", role: "status" },
    h("h2", {}, changes === 0 ? "Everything was already set up" : "Gardener is set up"),
    h(
      "ul",
      {},
      ...report.health.map((s) =>
        h(
          "li",
          { class: s.healthy ? "healthy" : "unhealthy" },
          `${SERVICE_NAMES[s.service]} ${s.healthy ? "is running and answers" : "does not answer"} (${s.latency_ms} ms)`,
        ),
      ),
    ),
    h(
      "p",
      {},
      changes === 0 ? "No changes were needed." : `${changes} change${changes === 1 ? "" : "s"} made. `,
      "Gardener starts the services at login and restarts them if they stop; its menu shows how they are doing.",
    ),
  );
}

/** Setting up failed: the error (which says what was undone) and its code. */
export function renderFailed(error: IpcError): HTMLElement {
  return renderError(error, "Setup did not complete");
}
