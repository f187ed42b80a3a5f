/**
 * Chart grids shared by the compare view and the run page: one chart per metric overlaying runs, and
 * "seed curves" (every series matching a pattern such as `seed/*` + `/alpha` of one run in one chart),
 * with the x axis, log scale and smoothing the user picked.
 */

import type uPlot from "uplot";
import { getJson, type Series } from "./api.js";
import { chartWidth } from "./app.js";
import { type LineSeries, lineChart } from "./charts.js";
import { h, replace } from "./dom.js";
import { colorAt, smoothEma, type XMode, xValues } from "./model.js";

/** A run as the charts label it. */
export interface ChartRun {
  runId: string;
  name: string;
  startTime: number;
}

/** How series are drawn. */
export interface ChartSettings {
  x: XMode;
  log: boolean;
  smooth: number;
}

/** Points per series asked of the server: plenty for a chart a few hundred pixels wide. */
export const POINTS = 1000;

/** Fetches series of `runs` × `keys` (patterns allowed), downsampled on the server. */
export async function fetchSeries(runIds: string[], keys: string[], x: XMode): Promise<Series[]> {
  if (runIds.length === 0 || keys.length === 0) return [];
  const { series } = await getJson<{ series: Series[] }>("/series", {
    runs: runIds.join(","),
    keys: keys.join(","),
    points: POINTS,
    x: x === "step" ? "step" : "time",
  });
  return series;
}

function line(
  s: Series,
  label: string,
  color: string,
  run: ChartRun | undefined,
  st: ChartSettings,
): LineSeries {
  return {
    label,
    color,
    x: xValues(s, st.x, run?.startTime ?? s.timestamps[0] ?? 0),
    y: st.smooth > 0 ? smoothEma(s.values, st.smooth) : s.values,
  };
}

/**
 * Draws one chart per key into `box`, each overlaying the runs that have it; returns the charts (to
 * destroy them on redraw).
 */
export function drawMetricCharts(
  box: HTMLElement,
  runs: ChartRun[],
  keys: string[],
  series: Series[],
  st: ChartSettings,
): uPlot[] {
  const byRun = new Map(runs.map((r, i) => [r.runId, { run: r, color: colorAt(i) }]));
  const charts: uPlot[] = [];
  const cells: HTMLElement[] = [];
  const width = chartWidth();
  for (const key of keys) {
    const lines = series
      .filter((s) => s.key === key)
      .map((s) => {
        const r = byRun.get(s.runId);
        return line(s, r?.run.name ?? s.runId.slice(0, 8), r?.color ?? "#000", r?.run, st);
      });
    // A metric logged once per run (a final score) is a number, not a curve: the tables show it.
    if (lines.every((l) => l.x.length < 2)) continue;
    const cell = h("div", { class: "chart", "data-key": key });
    cells.push(cell);
    charts.push(lineChart(cell, lines, { title: key, xMode: st.x, log: st.log, width, height: 260 }));
  }
  replace(box, cells.length ? cells : h("p", { class: "empty" }, "No metrics to chart."));
  return charts;
}

/** Draws, per run, one chart with every series of that run matching `pattern`. */
export function drawSeedCharts(
  box: HTMLElement,
  runs: ChartRun[],
  pattern: string,
  series: Series[],
  st: ChartSettings,
): uPlot[] {
  const charts: uPlot[] = [];
  const cells: HTMLElement[] = [];
  const width = chartWidth();
  for (const run of runs) {
    const mine = series.filter((s) => s.runId === run.runId).sort((a, b) => a.key.localeCompare(b.key));
    if (mine.length === 0) continue;
    const cell = h("div", { class: "chart seed-chart", "data-run-id": run.runId });
    cells.push(cell);
    charts.push(
      lineChart(
        cell,
        mine.map((s, i) => line(s, s.key, colorAt(i), run, st)),
        { title: `${run.name}: ${pattern}`, xMode: st.x, log: st.log, width, height: 260 },
      ),
    );
  }
  replace(box, cells.length ? cells : h("p", { class: "empty" }, `No series match ${pattern}.`));
  return charts;
}

/** The x / log / smoothing controls; `onChange` gets the new settings. */
export function chartControls(st: ChartSettings, onChange: (st: ChartSettings) => void): HTMLElement {
  const x = h(
    "select",
    { class: "x-mode", "aria-label": "x axis" },
    h("option", { value: "step", selected: st.x === "step" }, "step"),
    h("option", { value: "time", selected: st.x === "time" }, "wall time"),
    h("option", { value: "relative", selected: st.x === "relative" }, "relative time"),
  );
  const log = h("input", { type: "checkbox", class: "log-scale", checked: st.log });
  const smooth = h("input", {
    type: "range",
    class: "smoothing",
    min: 0,
    max: 0.99,
    step: 0.01,
    value: st.smooth,
    "aria-label": "smoothing",
  });
  const smoothLabel = h("output", { class: "smooth-value" }, st.smooth.toFixed(2));
  const emit = () => onChange({ x: x.value as XMode, log: log.checked, smooth: Number(smooth.value) });
  x.addEventListener("change", emit);
  log.addEventListener("change", emit);
  smooth.addEventListener("input", () => {
    smoothLabel.textContent = Number(smooth.value).toFixed(2);
  });
  smooth.addEventListener("change", emit);
  return h(
    "div",
    { class: "chart-controls" },
    h("label", {}, "x axis ", x),
    h("label", {}, log, " log scale"),
    h("label", {}, "smoothing ", smooth, smoothLabel),
  );
}
