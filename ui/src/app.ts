/**
 * What every view gets from the shell: server info, navigation, the run selection shared by the runs
 * table and the compare view, and a polling slot for live updates.
 */

import type { ServerInfo } from "./api.js";
import type { Route } from "./route.js";

/** The shell's services, passed to each view. */
export interface AppContext {
  info: ServerInfo;
  /** Navigate (adds a history entry; the router renders the new route). */
  go(route: Route): void;
  /** Record the current view's state in the URL without re-rendering. */
  replace(route: Route): void;
  /** Run ids ticked in the runs table (kept while moving between views). */
  selection: Set<string>;
  /**
   * Call `tick` every `info.pollMs` while `active()` says so (e.g. while a RUNNING run is shown); stopped
   * when the view is left.
   */
  poll(active: () => boolean, tick: () => Promise<void>): void;
}

/** A mounted view. `update` may take a new route of the same kind in place (returns false to be rebuilt). */
export interface View {
  el: HTMLElement;
  update?(route: Route): boolean;
  destroy?(): void;
}

/** Width for charts laid out two per row in the main column. */
export function chartWidth(): number {
  const main = document.querySelector("main");
  const w = main ? main.clientWidth : window.innerWidth;
  // Minus main's padding, the gap between charts and each chart's border and padding.
  return Math.max(320, Math.floor((w - 32 - 12) / 2) - 12);
}
