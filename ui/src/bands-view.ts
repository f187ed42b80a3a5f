/**
 * Runs grouped by a param or tag (e.g. the values of a sweep) with one metric's mean line and min–max band
 * per group, computed on the server (/api/v1/bands).
 */

import type uPlot from "uplot";
import { type Band, getJson, type RunsPage } from "./api.js";
import { type AppContext, chartWidth, type View } from "./app.js";
import { bandsChart } from "./charts.js";
import { h, replace } from "./dom.js";
import type { BandsRoute, Route } from "./route.js";

/** Mounts the bands view. */
export function bandsView(ctx: AppContext, route: BandsRoute): View {
  let chart: uPlot | undefined;
  const groupSel = h("select", { class: "group", "aria-label": "group by" });
  const keySel = h("select", { class: "metric", "aria-label": "metric" });
  const log = h("input", { type: "checkbox", class: "log-scale" });
  const status = h("p", { class: "status-line" });
  const box = h("div", { class: "charts bands-chart" });
  const table = h("div", { class: "bands-groups" });
  const el = h(
    "div",
    { class: "bands-view" },
    h("h1", {}, "Group runs"),
    h(
      "div",
      { class: "chart-controls" },
      h("label", {}, "group by ", groupSel),
      h("label", {}, "metric ", keySel),
      h("label", {}, log, " log scale"),
      route.filter ? h("span", { class: "small" }, `filter: ${route.filter}`) : null,
    ),
    status,
    box,
    table,
  );

  const go = () =>
    ctx.go({
      view: "bands",
      experiments: route.experiments,
      filter: route.filter,
      group: groupSel.value,
      key: keySel.value,
    });
  groupSel.addEventListener("change", go);
  keySel.addEventListener("change", go);
  log.addEventListener("change", () => void draw());

  let groups: Band[] = [];
  function draw() {
    chart?.destroy();
    chart = undefined;
    if (groups.length === 0) return;
    chart = bandsChart(box, groups, {
      title: `${route.key} by ${route.group}`,
      xMode: "step",
      log: log.checked,
      width: chartWidth() * 2,
      height: 360,
    });
    el.dataset.drawn = "1";
  }

  async function load() {
    const page = await getJson<RunsPage>("/runs", {
      experiment: route.experiments,
      filter: route.filter,
      limit: 1,
    });
    const groupKeys = [
      ...page.keys.params.map((k) => `params.${k}`),
      ...page.keys.tags.map((k) => `tags.${k}`),
    ];
    const group = route.group || groupKeys[0] || "";
    const key = route.key || page.keys.metrics.find((k) => !k.includes("/")) || page.keys.metrics[0] || "";
    replace(groupSel, ...groupKeys.map((k) => h("option", { value: k, selected: k === group }, k)));
    replace(keySel, ...page.keys.metrics.map((k) => h("option", { value: k, selected: k === key }, k)));
    if (!group || !key) {
      status.textContent = "No params or metrics to group.";
      return;
    }
    route = { ...route, group, key };
    ctx.replace(route);
    const res = await getJson<{ groups: Band[]; truncated: boolean }>("/bands", {
      experiment: route.experiments,
      filter: route.filter,
      group,
      key,
    });
    groups = res.groups;
    status.textContent = `${groups.length} groups${res.truncated ? " (run count capped: truncated)" : ""}`;
    replace(
      table,
      h(
        "table",
        { class: "kv" },
        h(
          "tbody",
          {},
          ...groups.map((g) => h("tr", {}, h("th", {}, g.value ?? "(none)"), h("td", {}, `${g.runs} runs`))),
        ),
      ),
    );
    draw();
  }

  void load().catch((e) => {
    status.textContent = e instanceof Error ? e.message : String(e);
    status.classList.add("error");
  });

  return {
    el,
    update: (_next: Route) => false,
    destroy: () => chart?.destroy(),
  };
}
