/**
 * Grouped bands: runs grouped by a param or tag value, each group's metric curves resampled onto one
 * step grid and reduced to mean/min/max per step. Pure, so it is tested on literal series.
 */

import type { Column } from "./lttb.js";
import type { Band } from "./wire.js";

export type { Band } from "./wire.js";

/** One run's series for banding. */
export interface BandInput {
  /** The group value (a param or tag value), null when the run lacks the key. */
  group: string | null;
  steps: Column;
  values: Column;
}

/** A run's finite points sorted by step, the last logged value winning on equal steps. */
function stepwise(steps: Column, values: Column): { s: number[]; v: number[] } {
  const idx: number[] = [];
  for (let i = 0; i < Math.min(steps.length, values.length); i++) {
    if (Number.isFinite(values[i]!) && Number.isFinite(steps[i]!)) idx.push(i);
  }
  idx.sort((p, q) => steps[p]! - steps[q]! || p - q);
  const s: number[] = [];
  const v: number[] = [];
  for (const i of idx) {
    const step = steps[i]!;
    if (s.length > 0 && s[s.length - 1] === step) v[v.length - 1] = values[i]!;
    else {
      s.push(step);
      v.push(values[i]!);
    }
  }
  return { s, v };
}

/** Evenly spaced picks from a sorted grid, first and last included. */
function thin(grid: number[], points: number): number[] {
  if (points <= 0 || grid.length <= points) return grid;
  if (points === 1) return [grid[grid.length - 1]!];
  const out: number[] = [];
  const every = (grid.length - 1) / (points - 1);
  for (let k = 0; k < points; k++) out.push(grid[Math.round(k * every)]!);
  return out;
}

/**
 * Mean/min/max bands per group. Each group's grid is the union of its runs' steps, thinned to `points`.
 * At a grid step a run contributes its value at that step or the last one before it (carried forward),
 * but only within its own first..last step: a run that stopped early does not flatten the band after.
 * Groups come out sorted by value, numbers numerically, the null group last.
 *
 * @example
 * computeBands([{ group: "0.1", steps: [0, 1], values: [1, 2] }, { group: "0.1", steps: [0, 1], values: [3, 4] }], 500);
 * // [{ value: "0.1", runs: 2, steps: [0, 1], mean: [2, 3], min: [1, 2], max: [3, 4] }]
 */
export function computeBands(inputs: readonly BandInput[], points: number): Band[] {
  const groups = new Map<string | null, { s: number[]; v: number[] }[]>();
  for (const input of inputs) {
    const series = stepwise(input.steps, input.values);
    const list = groups.get(input.group) ?? [];
    list.push(series);
    groups.set(input.group, list);
  }
  const bands: Band[] = [];
  for (const [value, runs] of groups) {
    const all = new Set<number>();
    for (const r of runs) for (const s of r.s) all.add(s);
    const grid = thin(
      [...all].sort((a, b) => a - b),
      points,
    );
    const mean: (number | null)[] = [];
    const min: (number | null)[] = [];
    const max: (number | null)[] = [];
    // One cursor per run: the grid is ascending, so each run is walked once.
    const cursor = runs.map(() => -1);
    for (const step of grid) {
      let sum = 0;
      let n = 0;
      let lo = Number.POSITIVE_INFINITY;
      let hi = Number.NEGATIVE_INFINITY;
      runs.forEach((r, k) => {
        if (r.s.length === 0 || step < r.s[0]! || step > r.s[r.s.length - 1]!) return;
        let c = cursor[k]!;
        while (c + 1 < r.s.length && r.s[c + 1]! <= step) c++;
        cursor[k] = c;
        const v = r.v[c]!;
        sum += v;
        n++;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      });
      mean.push(n > 0 ? sum / n : null);
      min.push(n > 0 ? lo : null);
      max.push(n > 0 ? hi : null);
    }
    bands.push({ value, runs: runs.length, steps: grid, mean, min, max });
  }
  return bands.sort((a, b) => compareGroupValues(a.value, b.value));
}

/**
 * Group order: numbers numerically (so "9" < "10" for a sweep of learning rates or sizes), then other
 * strings, then the null group (runs without the key) last.
 */
function compareGroupValues(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  const x = a.trim() === "" ? Number.NaN : Number(a);
  const y = b.trim() === "" ? Number.NaN : Number(b);
  if (Number.isFinite(x) && Number.isFinite(y) && x !== y) return x - y;
  if (Number.isFinite(x) !== Number.isFinite(y)) return Number.isFinite(x) ? -1 : 1;
  return a < b ? -1 : 1;
}
