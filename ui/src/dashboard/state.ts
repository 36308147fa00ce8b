// What the dashboard knows: the last hour of points, the alert events and
// the newest sample, folded from the events the Rust side sends. The app
// keeps the same past and, with each sample, says what it added and dropped:
// nothing is derived here.

import type { AlertEvent } from "../bindings/AlertEvent";
import type { DashEvent } from "../bindings/DashEvent";
import type { Point } from "../bindings/Point";
import type { Snapshot } from "../bindings/Snapshot";

export interface DashState {
  history: Point[];
  events: AlertEvent[];
  latest: Snapshot | null;
}

export const empty = (): DashState => ({ history: [], events: [], latest: null });

/** The state after `event` (the state given is not changed). */
export function fold(state: DashState, event: DashEvent): DashState {
  switch (event.type) {
    case "recent":
      return { history: [...event.history], events: [...event.events], latest: event.latest };
    case "tick": {
      // The app keeps the same past and says what changed in it.
      const { point, dropped_points, dropped_events } = event.kept;
      const history = [...state.history.slice(dropped_points), point];
      const events = [...state.events.slice(dropped_events), ...event.events];
      return { history, events, latest: event.snapshot };
    }
    case "show":
    case "closing":
      return state;
  }
}
