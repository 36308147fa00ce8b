// Renders the install plan (from the `setup_plan` command) and its error and
// loading states as DOM. Pure functions of their input, so tests can call them.

import type { Change } from "./bindings/Change";
import type { Check } from "./bindings/Check";
import type { IpcError } from "./bindings/IpcError";
import type { Outcome } from "./bindings/Outcome";
import type { Plan } from "./bindings/Plan";
import type { Step } from "./bindings/Step";
import { h } from "./dom";
import { errorHelp } from "./errors";
import { SERVICE_NAMES } from "./services";

type StepOf<K extends Step["kind"]> = Extract<Step, { kind: K }>;

const OUTCOME: Record<Outcome, { mark: string; label: string }> = {
  ok: { mark: "✓", label: "Passed" },
  warn: { mark: "!", label: "Warning" },
  fail: { mark: "✗", label: "Failed" },
};

const CHANGE: Record<Change, string> = {
  create: "new",
  update: "will change",
  unchanged: "no change",
};


/** True when a check failed: setup must not go ahead (mirrors `Plan::blocked`). */
export function isBlocked(plan: Plan): boolean {
  return stepsOf(plan, "check").some((check) => check.outcome === "fail");
}

/** True when setting up would change nothing (mirrors `Plan::is_noop`). */
export function isNoop(plan: Plan): boolean {
  return plan.steps.every((step) => {
    switch (step.kind) {
      case "check":
      case "wait-healthy":
        return true;
      case "dir":
      case "file":
        return step.change === "unchanged";
      case "command":
      case "remove":
        return false;
    }
  });
}

/**
 * Quotes argv for display so it reads like a shell command and pastes into one.
 * The command itself is run without a shell.
 */
export function shellJoin(argv: readonly string[]): string {
  return argv
    .map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`))
    .join(" ");
}

/** The whole plan: summary, then checks, folders, files, removals and commands. */
export function renderPlan(plan: Plan): HTMLElement {
  return h(
    "div",
    { class: "plan" },
    renderSummary(plan),
    section("checks", "Checks", renderChecks(stepsOf(plan, "check"))),
    section("dirs", "Folders", renderDirs(stepsOf(plan, "dir"))),
    section("files", "Files", renderFiles(stepsOf(plan, "file"))),
    section("removals", "Files to remove", renderRemovals(stepsOf(plan, "remove"))),
    section(
      "commands",
      "Commands",
      renderCommands(plan.steps.filter(isCommandOrWait)),
      "Run in this order, without a shell. Each service must answer before the next step.",
    ),
  );
}

/** What went wrong, what to do about it, and its stable code for bug reports. */
export function renderError(error: IpcError, title = "Gardener couldn't work out what to set up"): HTMLElement {
  return h(
    "div",
    { class: "error", role: "alert" },
    h("h2", {}, title),
    h("p", { class: "error-message" }, error.message),
    h("p", { class: "error-hint" }, errorHelp(error.code).hint),
    h("p", { class: "error-code" }, "Error code: ", h("code", {}, error.code)),
  );
}

/** Shown while the plan is being worked out (it probes ports and files). */
export function renderLoading(): HTMLElement {
  return h("p", { class: "loading", role: "status" }, "Checking this computer…");
}

function renderSummary(plan: Plan): HTMLElement {
  const platform = plan.platform === "macos" ? "launchd (macOS)" : "systemd (Linux)";
  const verdict = isBlocked(plan)
    ? h("p", { class: "verdict blocked", role: "alert" }, "Setup can't go ahead yet: fix the failed checks below first.")
    : isNoop(plan)
      ? h("p", { class: "verdict done" }, "Everything is already set up. Nothing would change.")
      : h("p", { class: "verdict" }, "Nothing has been changed yet. This is what setting up would do.");
  return h(
    "div",
    { class: "summary" },
    verdict,
    h(
      "p",
      { class: "meta" },
      "Settings file: ",
      h("code", {}, plan.config_file),
      ` · Services run by ${platform}`,
      plan.manage_ollama ? "" : " · Uses an Ollama that Gardener did not install",
    ),
  );
}

function section(id: string, title: string, body: HTMLElement | null, note?: string): HTMLElement | null {
  if (body === null) return null;
  const headingId = `${id}-heading`;
  return h(
    "section",
    { class: `steps ${id}`, "aria-labelledby": headingId },
    h("h2", { id: headingId }, title),
    note !== undefined && h("p", { class: "note" }, note),
    body,
  );
}

function list<T>(tag: "ul" | "ol", items: readonly T[], item: (value: T) => HTMLElement): HTMLElement | null {
  if (items.length === 0) return null;
  return h(tag, {}, ...items.map(item));
}

function renderChecks(checks: readonly Check[]): HTMLElement | null {
  return list("ul", checks, (check) => {
    const { mark, label } = OUTCOME[check.outcome];
    return h(
      "li",
      { class: `check ${check.outcome}`, "data-id": check.id },
      h("span", { class: "mark", "aria-hidden": "true" }, mark),
      h(
        "div",
        {},
        h("span", { class: "visually-hidden" }, `${label}: `),
        h("strong", {}, check.title),
        h("p", { class: "detail" }, check.detail),
        check.fix != null && h("p", { class: "fix" }, h("strong", {}, "How to fix: "), check.fix),
      ),
    );
  });
}

function changeBadge(change: Change): HTMLElement {
  return h("span", { class: `badge ${change}` }, CHANGE[change]);
}

function renderDirs(dirs: readonly StepOf<"dir">[]): HTMLElement | null {
  return list("ul", dirs, (dir) =>
    h("li", { class: "dir" }, h("code", { class: "path" }, dir.path), " ", modeText(dir.mode), " ", changeBadge(dir.change)),
  );
}

function renderFiles(files: readonly StepOf<"file">[]): HTMLElement | null {
  return list("ul", files, (file) =>
    h(
      "li",
      { class: "file" },
      h("div", {}, h("code", { class: "path" }, file.path), " ", modeText(file.mode), " ", changeBadge(file.change)),
      h("p", { class: "purpose" }, file.purpose),
      h("details", {}, h("summary", {}, "Show contents"), h("pre", { tabindex: "0" }, file.content)),
    ),
  );
}

function renderRemovals(removals: readonly StepOf<"remove">[]): HTMLElement | null {
  return list("ul", removals, (removal) =>
    h("li", { class: "remove" }, h("code", { class: "path" }, removal.path), h("p", { class: "purpose" }, removal.purpose)),
  );
}

function renderCommands(steps: readonly (StepOf<"command"> | StepOf<"wait-healthy">)[]): HTMLElement | null {
  return list("ol", steps, (step) =>
    step.kind === "command"
      ? h("li", { class: "command" }, h("code", {}, shellJoin(step.argv)), h("p", { class: "purpose" }, step.purpose))
      : h(
          "li",
          { class: "wait" },
          `Wait up to ${seconds(step.timeout_secs)} for ${SERVICE_NAMES[step.service]} to answer at `,
          h("code", {}, step.url),
        ),
  );
}

function modeText(mode: string): HTMLElement {
  return h("span", { class: "mode", title: "Permissions" }, mode);
}

function seconds(value: number | bigint): string {
  const n = Number(value);
  return n === 1 ? "1 second" : `${n} seconds`;
}

function stepsOf<K extends Step["kind"]>(plan: Plan, kind: K): StepOf<K>[] {
  return plan.steps.filter((step): step is StepOf<K> => step.kind === kind);
}

function isCommandOrWait(step: Step): step is StepOf<"command"> | StepOf<"wait-healthy"> {
  return step.kind === "command" || step.kind === "wait-healthy";
}
