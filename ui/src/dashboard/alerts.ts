// The alerts view: every rule with its limits and its state now, the
// events of the past, and pausing alerts (as the menu's Pause Alerts).

import type { AlertEvent } from "../bindings/AlertEvent";
import type { AlertStatus } from "../bindings/AlertStatus";
import type { PauseFor } from "../bindings/PauseFor";
import type { RuleInfo } from "../bindings/RuleInfo";
import { alertsPause, settingsLoad } from "../bindings/commands";
import { h, replaceChildren } from "../dom";
import { duration, ruleValue, when } from "./format";
import type { DashState } from "./state";
import { nowSecs, statusLine, type View } from "./view";

/** "Paused until 14:05" or "On". */
export function pauseText(until: number | null, now: number): string {
  if (until === null || until <= now) return "Alerts are on.";
  return `Alerts are paused until ${when(until)}.`;
}

function limits(r: RuleInfo): string {
  if (r.rule.endsWith("_down") || r.rule.endsWith("_health")) {
    return r.for_secs > 0 ? `after ${duration(r.for_secs)}` : "at once";
  }
  const held = r.for_secs > 0 ? ` for ${duration(r.for_secs)}` : "";
  return `over ${ruleValue(r.rule, r.threshold)}${held}, clears at ${ruleValue(r.rule, r.clear)}`;
}

function ruleRow(r: RuleInfo, now: AlertStatus | undefined): HTMLElement {
  const state = !r.enabled ? "off" : (now?.state ?? "ok");
  return h(
    "tr",
    { "data-rule": r.rule, class: state },
    h("td", {}, r.name),
    h("td", {}, limits(r)),
    h("td", {}, r.cooldown_secs > 0 ? `every ${duration(r.cooldown_secs)}` : "once"),
    h("td", {}, r.recovery ? "yes" : "no"),
    h("td", {}, ruleValue(r.rule, now?.value)),
    h("td", { class: "rule-state" }, state === "pending" ? "over, waiting" : state),
  );
}

/** An alert event; `names` are the rules' words, from the app. */
function eventRow(e: AlertEvent, names: ReadonlyMap<string, string>): HTMLElement {
  return h(
    "li",
    { class: e.kind === "firing" ? "fail" : "ok" },
    h("time", {}, when(e.at)),
    " ",
    h("strong", {}, `${names.get(e.rule) ?? e.rule}: ${e.kind === "firing" ? (e.repeat ? "still firing" : "fired") : "resolved"}`),
    " — ",
    e.message,
    e.muted ? h("span", { class: "badge" }, "not notified") : null,
  );
}

export const mountAlerts = (root: HTMLElement, initial: DashState): View => {
  const status = statusLine();
  const pauseLine = h("p", { class: "pause-line" });
  const table = h("div", {});
  const history = h("div", {});
  let rules: RuleInfo[] = [];
  let state = initial;
  let until: number | null = null;

  const render = (): void => {
    pauseLine.textContent = pauseText(until, nowSecs());
    const byRule = new Map((state.latest?.alerts ?? []).map((a) => [a.rule, a]));
    replaceChildren(
      table,
      rules.length === 0
        ? h("p", { class: "loading" }, "Reading the rules…")
        : h(
            "table",
            { class: "rules" },
            h("thead", {}, h("tr", {}, h("th", {}, "Rule"), h("th", {}, "Fires"), h("th", {}, "Reminds"), h("th", {}, "Tells recovery"), h("th", {}, "Now"), h("th", {}, "State"))),
            h("tbody", {}, ...rules.map((r) => ruleRow(r, byRule.get(r.rule)))),
          ),
    );
    const events = [...state.events].reverse();
    const names = new Map(rules.map((r) => [r.rule, r.name]));
    replaceChildren(history, events.length === 0 ? h("p", { class: "note" }, "No alerts so far.") : h("ul", { class: "events" }, ...events.map((e) => eventRow(e, names))));
  };

  const pause = async (p: PauseFor): Promise<void> => {
    const result = await alertsPause(p);
    if (result.ok) {
      until = result.value;
      status.say(p === "resume" ? "Alerts are on again." : "Paused. Alerts still show here; no notifications until then.");
    } else status.say(`Could not change the pause: ${result.error.message}`, true);
    render();
  };
  const button = (label: string, p: PauseFor): HTMLElement => {
    const b = h("button", { type: "button" }, label);
    b.addEventListener("click", () => void pause(p));
    return b;
  };

  replaceChildren(
    root,
    h("h2", {}, "Alerts"),
    pauseLine,
    h("div", { class: "buttons" }, button("Pause for 1 hour", "hour"), button("Pause until tomorrow morning", "until-tomorrow"), button("Resume", "resume")),
    status.element,
    h("h3", {}, "Rules"),
    table,
    h("p", { class: "note" }, "Change the limits in Settings ([alerts] section)."),
    h("h3", {}, "History"),
    history,
  );
  render();
  void settingsLoad().then((result) => {
    if (result.ok) {
      rules = result.value.rules;
      until = result.value.mute_until;
    } else status.say(`Cannot read the rules: ${result.error.message}`, true);
    render();
  });
  return {
    update(s: DashState): void {
      state = s;
      render();
    },
    unmount(): void {},
  };
};
