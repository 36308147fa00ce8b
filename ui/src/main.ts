// Entry point of the setup window: shows the header, then the install plan or
// what went wrong working it out.

import { h, replaceChildren } from "./dom";
import { loadPlan } from "./ipc";
import { renderError, renderLoading, renderPlan } from "./plan";

async function main(root: HTMLElement): Promise<void> {
  const body = h("div", { class: "body", "aria-busy": "true" }, renderLoading());
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
  const result = await loadPlan();
  replaceChildren(body, result.ok ? renderPlan(result.value) : renderError(result.error));
  body.removeAttribute("aria-busy");
}

const root = document.getElementById("app");
if (root !== null) void main(root);
