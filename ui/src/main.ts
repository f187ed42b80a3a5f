/**
 * The shell of `mtrack ui`: reads /api/v1/info, then renders the view the URL hash names and re-renders on
 * hash changes. Live updates: the current view registers a poll that runs every `pollMs` while it says a
 * RUNNING run is on screen.
 */

import { getJson, type ServerInfo } from "./api.js";
import type { AppContext, View } from "./app.js";
import { bandsView } from "./bands-view.js";
import { compareView } from "./compare-view.js";
import { h, replace } from "./dom.js";
import { modelsView, modelVersionView, modelView } from "./models-view.js";
import { formatRoute, navSection, parseRoute, type Route } from "./route.js";
import { runView } from "./run-view.js";
import { runsView } from "./runs-view.js";

function start(): void {
  const main = document.querySelector("main")!;
  const repoLabel = document.querySelector(".repo")!;
  // The server's defaults until /info answers; fetched alongside the first view's data, not before it.
  const info: ServerInfo = { version: "", repo: "", readOnly: true, pollMs: 2000 };
  void getJson<ServerInfo>("/info")
    .then((got) => {
      Object.assign(info, got);
      repoLabel.textContent = got.repo;
    })
    .catch(() => {
      // The page works without /info.
    });

  let view: View | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lastRunsHash = "#/runs";
  const selection = new Set<string>();

  const stopPolling = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };

  const ctx: AppContext = {
    info,
    selection,
    go(route: Route) {
      const hash = formatRoute(route);
      if (location.hash === hash) render();
      else location.hash = hash;
    },
    replace(route: Route) {
      const hash = formatRoute(route);
      if (route.view === "runs") lastRunsHash = hash;
      history.replaceState(null, "", hash);
    },
    poll(active, tick) {
      stopPolling();
      const loop = () => {
        timer = setTimeout(
          async () => {
            try {
              if (active()) await tick();
            } catch {
              // A failed poll is retried on the next tick; the view keeps what it showed.
            }
            if (timer !== undefined) loop();
          },
          Math.max(250, info.pollMs),
        );
      };
      loop();
    },
  };

  function mount(route: Route): View {
    switch (route.view) {
      case "run":
        return runView(ctx, route);
      case "compare":
        return compareView(ctx, route);
      case "bands":
        return bandsView(ctx, route);
      case "runs":
        return runsView(ctx, route);
      case "models":
        return modelsView(ctx);
      case "model":
        return modelView(ctx, route);
      case "model-version":
        return modelVersionView(ctx, route);
    }
  }

  function render() {
    const route = parseRoute(location.hash);
    if (route.view === "runs") lastRunsHash = formatRoute(route);
    for (const a of document.querySelectorAll<HTMLAnchorElement>("nav a[data-view]")) {
      a.classList.toggle("active", a.dataset.view === navSection(route));
      if (a.dataset.view === "runs") a.href = lastRunsHash;
    }
    if (view?.update?.(route)) return;
    stopPolling();
    view?.destroy?.();
    view = mount(route);
    replace(main, view.el);
    document.body.dataset.view = route.view;
  }

  window.addEventListener("hashchange", render);
  replace(
    document.querySelector("nav")!,
    h("a", { href: "#/runs", "data-view": "runs" }, "Runs"),
    h("a", { href: "#/bands", "data-view": "bands" }, "Group"),
    h("a", { href: "#/models", "data-view": "models" }, "Models"),
  );
  render();
}

start();
