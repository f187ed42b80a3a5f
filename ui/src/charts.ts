/**
 * Line charts on uPlot (canvas, fast on 100k-point series): several series with their own x values joined
 * onto one x axis, optional log scale, and mean/min/max bands.
 */

import uPlot from "uplot";
import type { Band } from "./api.js";
import { colorAt, forLogScale, type XMode } from "./model.js";

/** One line: its label, colour and points (x ascending). */
export interface LineSeries {
  label: string;
  color: string;
  x: number[];
  y: (number | null)[];
}

/** Layout and axis options of a chart. */
export interface ChartOptions {
  title: string;
  xMode: XMode;
  log: boolean;
  width: number;
  height: number;
}

function sortedByX(s: LineSeries): LineSeries {
  for (let i = 1; i < s.x.length; i++) {
    if (s.x[i]! < s.x[i - 1]!) {
      const order = s.x.map((_, j) => j).sort((a, b) => s.x[a]! - s.x[b]!);
      return { ...s, x: order.map((j) => s.x[j]!), y: order.map((j) => s.y[j] ?? null) };
    }
  }
  return s;
}

function xAxisLabel(mode: XMode): string {
  return mode === "step" ? "step" : mode === "time" ? "wall time" : "seconds since start";
}

/**
 * Draws series that may have different x values (runs log at different steps) into `parent`: uPlot needs
 * one shared x column, so the series are outer-joined on x and gaps are spanned.
 *
 * @example
 * lineChart(div, [{ label: "run a", color: "#1f77b4", x: [0, 1], y: [0.5, 0.7] }],
 *   { title: "val_acc", xMode: "step", log: false, width: 480, height: 240 });
 */
export function lineChart(parent: HTMLElement, series: LineSeries[], o: ChartOptions): uPlot {
  const tables: uPlot.AlignedData[] = series.map((s0) => {
    const s = sortedByX(s0);
    return [s.x, o.log ? forLogScale(s.y) : s.y] as uPlot.AlignedData;
  });
  const data: uPlot.AlignedData = tables.length === 1 ? tables[0]! : uPlot.join(tables);
  const opts: uPlot.Options = {
    title: o.title,
    width: o.width,
    height: o.height,
    scales: {
      // A single x value (a metric logged once) would give uPlot an empty range: widen it around the point.
      x: {
        time: o.xMode === "time",
        ...(data[0].length === 1
          ? { range: (_u: uPlot, lo: number, hi: number): uPlot.Range.MinMax => [lo - 1, hi + 1] }
          : {}),
      },
      y: o.log ? { distr: 3 } : {},
    },
    axes: [{ label: xAxisLabel(o.xMode) }, {}],
    series: [
      { label: xAxisLabel(o.xMode) },
      ...series.map((s) => ({
        label: s.label,
        stroke: s.color,
        width: 1.5,
        spanGaps: true,
        // Points only for a series of one point, which has no line to show.
        ...(s.x.length < 2 ? { points: { show: true, size: 6 } } : { points: { show: false } }),
      })),
    ],
    legend: { live: true },
    cursor: { drag: { x: true, y: false } },
  };
  return new uPlot(opts, data, parent);
}

/**
 * Mean lines with shaded min–max bands, one colour per group.
 */
export function bandsChart(parent: HTMLElement, groups: Band[], o: ChartOptions): uPlot {
  const tables: uPlot.AlignedData[] = groups.map(
    (g) => [g.steps, g.mean, g.min, g.max] as unknown as uPlot.AlignedData,
  );
  const data: uPlot.AlignedData = tables.length === 1 ? tables[0]! : uPlot.join(tables);
  const series: uPlot.Series[] = [{ label: "step" }];
  const bands: uPlot.Band[] = [];
  groups.forEach((g, i) => {
    const color = colorAt(i);
    const name = `${g.value ?? "(none)"} (${g.runs} run${g.runs === 1 ? "" : "s"})`;
    const base = series.length;
    series.push(
      { label: name, stroke: color, width: 2, spanGaps: true, points: { show: false } },
      {
        label: `${name} min`,
        stroke: color,
        width: 0.5,
        dash: [4, 4],
        spanGaps: true,
        points: { show: false },
      },
      {
        label: `${name} max`,
        stroke: color,
        width: 0.5,
        dash: [4, 4],
        spanGaps: true,
        points: { show: false },
      },
    );
    bands.push({ series: [base + 2, base + 1], fill: `${color}33` });
  });
  const opts: uPlot.Options = {
    title: o.title,
    width: o.width,
    height: o.height,
    scales: { x: { time: false }, y: o.log ? { distr: 3 } : {} },
    axes: [{ label: "step" }, {}],
    series,
    bands,
    legend: { live: true },
  };
  return new uPlot(opts, data, parent);
}
