// What the dashboard knows: the last hour of points, the alert events and
// the newest sample, folded from the events the Rust side sends.

import type { AlertEvent } from "../bindings/AlertEvent";
import type { DashEvent } from "../bindings/DashEvent";
import type { Point } from "../bindings/Point";
import type { Snapshot } from "../bindings/Snapshot";

export const HOUR_MS = 60 * 60 * 1000;
const EVENTS_KEPT = 200;

export interface DashState {
  history: Point[];
  events: AlertEvent[];
  latest: Snapshot | null;
}

export const empty = (): DashState => ({ history: [], events: [], latest: null });

/** The point a snapshot adds to the history (as core's `Point::of`). */
export function pointOf(s: Snapshot): Point {
  const up = (svc: { healthy: boolean; state: string }): boolean =>
    svc.healthy && (svc.state === "running" || svc.state === "external" || svc.state === "unknown");
  return {
    t_ms: s.taken_at_ms,
    cpu_percent: s.system.cpu_percent,
    memory_percent: s.system.memory.percent,
    swap_used_bytes: s.system.swap.used_bytes,
    disk_percent: s.system.disk.percent,
    ollama_rss_bytes: s.services.ollama.rss_bytes ?? 0,
    app_rss_bytes: s.services.app.rss_bytes ?? 0,
    ollama_up: up(s.services.ollama),
    app_up: up(s.services.app),
  };
}

/** The state after `event` (the state given is not changed). */
export function fold(state: DashState, event: DashEvent): DashState {
  switch (event.type) {
    case "recent":
      return { history: [...event.history], events: [...event.events], latest: event.latest };
    case "tick": {
      const oldest = event.snapshot.taken_at_ms - HOUR_MS;
      const history = [...state.history, pointOf(event.snapshot)].filter((p) => p.t_ms >= oldest);
      const events = [...state.events, ...event.events].slice(-EVENTS_KEPT);
      return { history, events, latest: event.snapshot };
    }
    case "show":
    case "closing":
      return state;
  }
}
