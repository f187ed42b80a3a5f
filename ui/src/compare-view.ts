/**
 * Selected runs side by side: one chart per metric overlaying the runs, the seed curves of each run for a
 * chosen pattern, and a params/metrics/tags diff table with differing rows highlighted.
 */

import type uPlot from "uplot";
import { getJson, type RunInfo, type Series } from "./api.js";
import type { AppContext, View } from "./app.js";
import { h, replace } from "./dom.js";
import { colorAt, diffRows, matchesPattern, runLabels, seriesPatterns } from "./model.js";
import type { CompareRoute, Route } from "./route.js";
import {
  type ChartRun,
  type ChartSettings,
  chartControls,
  drawMetricCharts,
  drawSeedCharts,
  fetchSeries,
} from "./series-charts.js";

/** Metric keys charted one per chart: those not already grouped under a seed-curve pattern. */
export function splitKeys(keys: string[]): { plain: string[]; patterns: string[] } {
  const patterns = seriesPatterns(keys);
  const plain = keys.filter((k) => !patterns.some((p) => matchesPattern(p, k)));
  return { plain, patterns };
}

/** Mounts the compare view. */
export function compareView(ctx: AppContext, route: CompareRoute): View {
  let st: ChartSettings = { x: route.x, log: route.log, smooth: route.smooth };
  let pattern = route.pattern;
  let runs: RunInfo[] = [];
  let plain: string[] = [];
  let patterns: string[] = [];
  let series: Series[] = [];
  let seedSeries: Series[] = [];
  let charts: uPlot[] = [];

  const status = h("p", { class: "status-line" }, "Loading…");
  const legend = h("div", { class: "run-legend" });
  const chartsBox = h("div", { class: "charts metric-charts" });
  const seedBox = h("div", { class: "charts seed-charts" });
  const patternSelect = h("select", { class: "pattern", "aria-label": "seed curve pattern" });
  const diffBox = h("div", { class: "diff" });
  const onlyDiff = h("input", { type: "checkbox", class: "only-differing" });
  const el = h(
    "div",
    { class: "compare-view" },
    h("h1", {}, "Compare runs"),
    status,
    legend,
    chartControls(st, (next) => {
      const refetch = (next.x === "step") !== (st.x === "step");
      st = next;
      record();
      if (refetch) void loadSeries();
      else draw();
    }),
    chartsBox,
    h("h2", {}, "Seed curves ", patternSelect),
    seedBox,
    h("h2", {}, "Diff ", h("label", { class: "small" }, onlyDiff, " only differing")),
    diffBox,
  );

  patternSelect.addEventListener("change", () => {
    pattern = patternSelect.value;
    record();
    void loadSeeds();
  });
  onlyDiff.addEventListener("change", () => drawDiff());

  function record() {
    ctx.replace({ view: "compare", runs: route.runs, x: st.x, log: st.log, smooth: st.smooth, pattern });
  }

  function chartRuns(): ChartRun[] {
    const labels = runLabels(runs);
    return runs.map((r, i) => ({ runId: r.runId, name: labels[i] ?? r.name, startTime: r.startTime }));
  }

  function draw() {
    for (const c of charts) c.destroy();
    charts = [
      ...drawMetricCharts(chartsBox, chartRuns(), plain, series, st),
      ...(pattern ? drawSeedCharts(seedBox, chartRuns(), pattern, seedSeries, st) : []),
    ];
    el.dataset.drawn = String(charts.length);
  }

  function drawDiff() {
    const rows = diffRows(runs).filter((r) => !onlyDiff.checked || r.differs);
    replace(
      diffBox,
      h(
        "table",
        { class: "diff-table" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", {}, "key"),
            ...runLabels(runs).map((name, i) => h("th", { style: `color:${colorAt(i)}` }, name)),
          ),
        ),
        h(
          "tbody",
          {},
          ...rows.map((r) =>
            h(
              "tr",
              { class: r.differs ? "differs" : "", "data-section": r.section, "data-key": r.key },
              h("th", {}, h("span", { class: "section" }, r.section), " ", r.key),
              ...r.values.map((v) => h("td", {}, v)),
            ),
          ),
        ),
      ),
    );
  }

  async function loadSeries() {
    series = await fetchSeries(route.runs, plain, st.x);
    draw();
  }

  async function loadSeeds() {
    seedSeries = pattern ? await fetchSeries(route.runs, [pattern], st.x) : [];
    draw();
  }

  async function load() {
    runs = await Promise.all(route.runs.map((id) => getJson<RunInfo>(`/runs/${encodeURIComponent(id)}`)));
    const keys = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort();
    ({ plain, patterns } = splitKeys(keys));
    if (!pattern || !patterns.includes(pattern)) pattern = pattern || patterns[0] || "";
    replace(
      patternSelect,
      h("option", { value: "" }, "(none)"),
      ...[...new Set([...patterns, ...(pattern ? [pattern] : [])])].map((p) =>
        h("option", { value: p, selected: p === pattern }, p),
      ),
    );
    replace(
      legend,
      ...runs.map((r, i) =>
        h(
          "a",
          { class: "run-chip", href: `#/run/${r.runId}`, style: `border-color:${colorAt(i)}` },
          h("span", { class: "swatch", style: `background:${colorAt(i)}` }),
          runLabels(runs)[i],
        ),
      ),
    );
    drawDiff();
    [series, seedSeries] = await Promise.all([
      fetchSeries(route.runs, plain, st.x),
      pattern ? fetchSeries(route.runs, [pattern], st.x) : Promise.resolve([]),
    ]);
    status.textContent = `${runs.length} runs, ${plain.length} metrics`;
    draw();
  }

  const fail = (e: unknown) => {
    status.textContent = e instanceof Error ? e.message : String(e);
    status.classList.add("error");
  };
  if (route.runs.length === 0) status.textContent = "Select runs in the runs table to compare them.";
  else void load().catch(fail);

  ctx.poll(
    () => runs.some((r) => r.status === "RUNNING"),
    async () => {
      const ids = runs.filter((r) => r.status === "RUNNING").map((r) => r.runId);
      const fresh = await Promise.all(ids.map((id) => getJson<RunInfo>(`/runs/${id}`)));
      runs = runs.map((r) => fresh.find((f) => f.runId === r.runId) ?? r);
      const [a, b] = await Promise.all([
        fetchSeries(ids, plain, st.x),
        pattern ? fetchSeries(ids, [pattern], st.x) : Promise.resolve([]),
      ]);
      const live = new Set(ids);
      series = [...series.filter((s) => !live.has(s.runId)), ...a];
      seedSeries = [...seedSeries.filter((s) => !live.has(s.runId)), ...b];
      drawDiff();
      draw();
    },
  );

  return {
    el,
    update: (_next: Route) => false,
    destroy() {
      for (const c of charts) c.destroy();
    },
  };
}
