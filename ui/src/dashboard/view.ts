// What every dashboard view provides: mounted into the page when chosen,
// told of each new sample while shown, and unmounted (timers stopped) when
// another view is chosen or the window closes.

import type { DashState } from "./state";

export interface View {
  /** A new sample arrived. */
  update(state: DashState): void;
  /** The view is no longer shown. */
  unmount(): void;
}

export type Mount = (root: HTMLElement, state: DashState) => View;

/** Seconds since the epoch now. */
export const nowSecs = (): number => Math.floor(Date.now() / 1000);

/** A line that says how an action went, kept between renders. */
export function statusLine(): { element: HTMLElement; say(text: string, failed?: boolean): void } {
  const element = document.createElement("p");
  element.className = "status-line";
  element.setAttribute("role", "status");
  return {
    element,
    say(text: string, failed = false): void {
      element.textContent = text;
      element.classList.toggle("failed", failed);
    },
  };
}
