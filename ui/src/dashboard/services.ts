// The services view: each service's state, pid, restarts, memory and CPU,
// with start / stop / restart; Ollama's version (its models have a view of
// their own, models.ts); and the tail of a service's log, followed while the
// view is open.

import type { Action } from "../bindings/Action";
import type { LogStream } from "../bindings/LogStream";
import type { ServiceId } from "../bindings/ServiceId";
import type { ServiceSnapshot } from "../bindings/ServiceSnapshot";
import { logOpen, logPoll, serviceControl } from "../bindings/commands";
import { h, replaceChildren } from "../dom";
import { SERVICE_NAMES } from "../services";
import { bytes, percent } from "./format";
import type { DashState } from "./state";
import { statusLine, type View } from "./view";

/** Lines kept in the log panel. */
export const LOG_LINES = 500;
const POLL_MS = 1000;

/** Which actions make sense for a service in this state. */
export function actionsFor(s: ServiceSnapshot): Action[] {
  // Unknown: the service manager cannot be asked, so it cannot be told to act either.
  if (!s.managed || s.state === "not-installed" || s.state === "external" || s.state === "unknown") return [];
  if (s.state === "running" || s.state === "starting") return ["stop", "restart"];
  if (s.state === "paused") return [];
  return ["start"];
}

function fact(name: string, value: string): HTMLElement[] {
  return [h("dt", {}, name), h("dd", {}, value)];
}

function stateText(s: ServiceSnapshot): string {
  if (s.state === "running" || s.state === "external") return s.healthy ? "healthy" : `not answering${s.error ? ` (${s.error})` : ""}`;
  if (s.state === "unknown") return `${s.healthy ? "answering" : "not answering"} · cannot tell if it runs${s.error ? ` (${s.error})` : ""}`;
  return s.state.replace("-", " ") + (s.error ? ` (${s.error})` : "");
}

export const mountServices = (root: HTMLElement, initial: DashState): View => {
  const status = statusLine();
  const cards = h("div", { class: "service-cards" });
  let busy = false;
  let latest = initial;

  const act = async (service: ServiceId, action: Action): Promise<void> => {
    busy = true;
    render();
    status.say(`${action === "stop" ? "Stopping" : action === "start" ? "Starting" : "Restarting"} ${SERVICE_NAMES[service]}…`);
    const result = await serviceControl(action, service);
    busy = false;
    status.say(result.ok ? `${SERVICE_NAMES[service]}: ${action} done.` : `Could not ${action} ${SERVICE_NAMES[service]}: ${result.error.message}`, !result.ok);
    render();
  };

  const card = (id: ServiceId, s: ServiceSnapshot, extra?: HTMLElement): HTMLElement => {
    const ok = s.healthy && (s.state === "running" || s.state === "external");
    const buttons = actionsFor(s).map((action) => {
      const b = h("button", { type: "button", disabled: busy, "data-action": action }, action[0]!.toUpperCase() + action.slice(1));
      b.addEventListener("click", () => void act(id, action));
      return b;
    });
    return h(
      "section",
      { class: `service ${ok ? "ok" : "fail"}`, "data-service": id, "aria-label": SERVICE_NAMES[id] },
      h("h3", {}, h("span", { class: "dot", "aria-hidden": "true" }), SERVICE_NAMES[id], " — ", h("span", { class: "state" }, stateText(s))),
      h(
        "dl",
        {},
        ...fact("Process", s.pid === null ? "—" : String(s.pid)),
        ...fact("Restarts", s.restarts === null ? "—" : String(s.restarts)),
        ...fact("Memory", bytes(s.rss_bytes)),
        ...fact("CPU", percent(s.cpu_percent)),
        ...fact("Answers in", s.latency_ms === null ? "—" : `${s.latency_ms} ms`),
        ...fact("Managed by Gardener", s.managed ? "yes" : "no"),
      ),
      buttons.length > 0 ? h("div", { class: "buttons" }, ...buttons) : null,
      extra,
    );
  };

  const render = (): void => {
    const snap = latest.latest;
    if (snap === null) {
      replaceChildren(cards, h("p", { class: "loading", role: "status" }, "Waiting for the first sample…"));
      return;
    }
    const o = snap.services.ollama;
    replaceChildren(
      cards,
      card("ollama", o, h("div", {}, h("h4", {}, `Version ${o.version ?? "unknown"}`), h("p", { class: "note" }, "Its models, loaded and installed, are in the Models tab."))),
      card("app", snap.services.app),
    );
  };

  // The log panel: chosen service and stream, the last lines, then what is appended.
  const pre = h("pre", { class: "log", tabindex: "0", "aria-label": "Log", "aria-live": "off" });
  const serviceSelect = h("select", { "aria-label": "Service" }, ...(["ollama", "app"] as const).map((id) => h("option", { value: id }, SERVICE_NAMES[id])));
  const streamSelect = h("select", { "aria-label": "Stream" }, h("option", { value: "err" }, "Errors and messages (stderr)"), h("option", { value: "out" }, "Output (stdout)"));
  const follow = h("input", { type: "checkbox", checked: true, id: "log-follow" });
  let lines: string[] = [];
  let timer: ReturnType<typeof setInterval> | undefined;
  let polling = false;

  const show = (): void => {
    pre.textContent = lines.length === 0 ? "(nothing written yet)" : lines.join("\n");
    if (follow.checked) pre.scrollTop = pre.scrollHeight;
  };
  const open = async (): Promise<void> => {
    const result = await logOpen(serviceSelect.value as ServiceId, streamSelect.value as LogStream, 200);
    lines = result.ok ? result.value : [`Cannot read the log: ${result.error.message}`];
    show();
  };
  const poll = async (): Promise<void> => {
    if (polling) return;
    polling = true;
    const result = await logPoll();
    polling = false;
    if (result.ok && result.value.length > 0) {
      lines = [...lines, ...result.value].slice(-LOG_LINES);
      show();
    }
  };
  serviceSelect.addEventListener("change", () => void open());
  streamSelect.addEventListener("change", () => void open());
  follow.addEventListener("change", show);

  replaceChildren(
    root,
    h("h2", {}, "Services"),
    status.element,
    cards,
    h(
      "section",
      { class: "log-panel", "aria-label": "Log" },
      h("h3", {}, "Log"),
      h("div", { class: "log-controls" }, serviceSelect, streamSelect, h("label", { for: "log-follow" }, follow, " Follow")),
      pre,
    ),
  );
  render();
  void open();
  timer = setInterval(() => void poll(), POLL_MS);

  return {
    update(state: DashState): void {
      latest = state;
      render();
    },
    unmount(): void {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    },
  };
};
