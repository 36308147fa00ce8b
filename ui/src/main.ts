// Entry point of the setup window: shows the install plan (or what went wrong
// working it out), lets the person choose about an Ollama that is already
// running, and sets up with live progress, ending with the services' health
// or a precise explanation.

import type { Plan } from "./bindings/Plan";
import { setupApply, setupPlan } from "./bindings/commands";
import { renderActions, renderDone, renderFailed, renderOllamaChoice, renderProgress, track, type StepRow } from "./apply";
import { h, replaceChildren } from "./dom";
import { renderKeyOffer } from "./key";
import { renderError, renderLoading, renderPlan } from "./plan";

/** The window's flow; exported for the tests, which drive it with mocked IPC. */
export async function main(root: HTMLElement): Promise<void> {
  const body = h("div", { class: "body" });
  replaceChildren(
    root,
    h(
      "header",
      {},
      h("h1", {}, "Set up Gardener"),
      h(
        "p",
        { class: "lead" },
        "Gardener runs Ollama and Codebase Gardener in the background, starts them when you log in, " +
          "and restarts them if they stop. Here is what it would set up on this computer.",
      ),
    ),
    body,
  );

  // An Ollama found running is used unless the person chooses otherwise.
  let useRunning = true;

  const showPlan = async (): Promise<void> => {
    body.setAttribute("aria-busy", "true");
    replaceChildren(body, renderLoading());
    const result = await setupPlan(useRunning);
    body.removeAttribute("aria-busy");
    if (!result.ok) {
      replaceChildren(body, renderError(result.error));
      return;
    }
    const plan = result.value;
    replaceChildren(
      body,
      renderOllamaChoice(plan, useRunning, (value) => {
        useRunning = value;
        void showPlan();
      }),
      renderActions(
        plan,
        () => void apply(plan),
        () => void showPlan(),
      ),
      renderPlan(plan),
    );
  };

  const apply = async (plan: Plan): Promise<void> => {
    let rows: StepRow[] = [];
    const progress = h("div", {}, renderProgress(rows));
    body.setAttribute("aria-busy", "true");
    replaceChildren(body, progress);
    const result = await setupApply(useRunning && plan.external_ollama !== undefined, (event) => {
      rows = track(rows, event);
      replaceChildren(progress, renderProgress(rows));
    });
    body.removeAttribute("aria-busy");
    replaceChildren(progress, renderProgress(rows, true));
    if (!result.ok) {
      replaceChildren(body, renderFailed(result.error), progress);
      return;
    }
    replaceChildren(
      body,
      renderDone(result.value),
      h("h2", {}, "Save your recovery key"),
      renderKeyOffer(
        "Backups can be copied off this computer (to an external drive, a server or a bucket), encrypted to a recovery key. " +
          "Save it now, somewhere other than this computer: without it nobody, not you and not Gardener, can read those copies.",
      ),
      progress,
    );
  };

  await showPlan();
}

const root = document.getElementById("app");
if (root !== null) void main(root);
