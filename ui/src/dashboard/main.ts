// Entry point of the dashboard window: a tab per view (overview, services,
// models, backups, alerts, settings), the samples the Rust side sends folded into
// one state, and the shown view told of each. The URL's hash names the view
// to start with (the menu's Settings… opens #settings).

import type { DashEvent } from "../bindings/DashEvent";
import type { Recent } from "../bindings/Recent";
import type { ViewName } from "../bindings/ViewName";
import { dashboardPainted, dashboardSubscribe } from "../bindings/commands";
import { h, replaceChildren } from "../dom";
import { renderError } from "../plan";
import { mountAlerts } from "./alerts";
import { mountBackups } from "./backups";
import { mountModels } from "./models";
import { mountOllamaSettings } from "./ollama";
import { renderOverview } from "./overview";
import { mountServices } from "./services";
import { mountSettings } from "./settings";
import { empty, fold, type DashState } from "./state";
import { nowSecs, type Mount, type View } from "./view";

export type { ViewName };

// The views are named once, in Rust (`ViewName`); every table here must
// cover each of them, and the tabs follow this one's order.
const TITLES: Record<ViewName, string> = {
  overview: "Overview",
  services: "Services",
  models: "Models",
  backups: "Backups",
  alerts: "Alerts",
  settings: "Settings",
};

export const VIEWS = Object.keys(TITLES) as ViewName[];

const mountOverview: Mount = (root, initial) => {
  replaceChildren(root, h("h2", {}, "Overview"), renderOverview(initial, nowSecs()));
  return {
    update(state: DashState): void {
      replaceChildren(root, h("h2", {}, "Overview"), renderOverview(state, nowSecs()));
    },
    unmount(): void {},
  };
};

// The Models tab: the models, then how Ollama serves them (its settings).
const mountModelsTab: Mount = (root, initial) => {
  const models = h("div", { class: "models-part" });
  const settings = h("div", { class: "ollama-part" });
  replaceChildren(root, models, settings);
  const parts = [mountModels(models, initial), mountOllamaSettings(settings)];
  return {
    update(state: DashState): void {
      for (const part of parts) part.update(state);
    },
    unmount(): void {
      for (const part of parts) part.unmount();
    },
  };
};

const MOUNTS: Record<ViewName, Mount> = {
  overview: mountOverview,
  services: mountServices,
  models: mountModelsTab,
  backups: (root) => mountBackups(root),
  alerts: mountAlerts,
  settings: (root) => mountSettings(root),
};

export function viewOf(hash: string): ViewName {
  const name = hash.replace(/^#/, "");
  return (VIEWS as readonly string[]).includes(name) ? (name as ViewName) : "overview";
}

/** The window; exported for the tests, which drive it with mocked IPC. */
export async function main(root: HTMLElement, first: ViewName = viewOf(location.hash)): Promise<void> {
  let state = empty();
  let current: ViewName = first;
  let view: View | null = null;
  const panel = h("main", { class: "view", id: "view", tabindex: "-1" });
  const tabs = new Map<ViewName, HTMLButtonElement>();

  const choose = (name: ViewName, focus = false): void => {
    view?.unmount();
    current = name;
    for (const [n, tab] of tabs) {
      tab.setAttribute("aria-selected", String(n === name));
      tab.tabIndex = n === name ? 0 : -1;
    }
    view = MOUNTS[name](panel, state);
    if (focus) tabs.get(name)?.focus();
    if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
  };

  const nav = h("nav", { role: "tablist", "aria-label": "Dashboard" });
  for (const name of VIEWS) {
    const tab = h("button", { type: "button", role: "tab", id: `tab-${name}`, "aria-controls": "view" }, TITLES[name]);
    tab.addEventListener("click", () => choose(name));
    tab.addEventListener("keydown", (e: KeyboardEvent) => {
      const i = VIEWS.indexOf(name);
      const next = e.key === "ArrowRight" ? VIEWS[(i + 1) % VIEWS.length] : e.key === "ArrowLeft" ? VIEWS[(i + VIEWS.length - 1) % VIEWS.length] : undefined;
      if (next !== undefined) {
        e.preventDefault();
        choose(next, true);
      }
    });
    tabs.set(name, tab);
    nav.appendChild(tab);
  }
  const problem = h("div", {});
  replaceChildren(root, h("header", { class: "dash-header" }, h("h1", {}, "Gardener"), nav), problem, panel);
  choose(current);

  let paintedOnce = false;
  const onEvent = (event: DashEvent): void => {
    if (event.type === "closing") {
      replaceChildren(
        problem,
        h("p", { class: "closing", role: "alert" }, "A backup, check, restore, model pull or restart of Ollama is running. The window closes by itself when it is done; closing it now would stop the work half-way."),
      );
      return;
    }
    if (event.type === "show") {
      const wanted = viewOf(event.view);
      if (wanted !== current) choose(wanted, true);
      return;
    }
    state = fold(state, event);
    view?.update(state);
    if (!paintedOnce && state.latest !== null) {
      paintedOnce = true;
      // The second frame callback runs once the first has been painted.
      requestAnimationFrame(() => requestAnimationFrame(() => void dashboardPainted(performance.timeOrigin + performance.now())));
    }
  };
  // The menu bar's recent past, put in the page before it loaded (see window.rs).
  const given = (window as unknown as { __GARDENER_RECENT__?: Recent }).__GARDENER_RECENT__;
  if (given !== undefined) onEvent({ type: "recent", ...given });
  const result = await dashboardSubscribe(onEvent);
  if (!result.ok) replaceChildren(problem, renderError(result.error, "The dashboard gets no figures"));
}

const root = document.getElementById("app");
if (root !== null) void main(root);
