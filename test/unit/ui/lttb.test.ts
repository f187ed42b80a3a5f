import assert from "node:assert/strict";
import { test } from "node:test";
import { downsampleSeries, lttbIndices, sortedOrder } from "../../../src/ui/lttb.js";

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

test("lttb keeps everything when asked for as many points or more, or for 0", () => {
  assert.deepEqual(lttbIndices([0, 1, 2], [1, 2, 3], 3), [0, 1, 2]);
  assert.deepEqual(lttbIndices([0, 1, 2], [1, 2, 3], 10), [0, 1, 2]);
  assert.deepEqual(lttbIndices([0, 1, 2], [1, 2, 3], 0), [0, 1, 2]);
  assert.deepEqual(lttbIndices([], [], 5), []);
});

test("lttb always keeps the first and last point and returns exactly the target count, ascending", () => {
  const xs = range(100_000);
  const ys = xs.map((x) => Math.sin(x / 500) * (x % 7));
  const keep = lttbIndices(xs, ys, 1000);
  assert.equal(keep.length, 1000);
  assert.equal(keep[0], 0);
  assert.equal(keep.at(-1), 99_999);
  for (let i = 1; i < keep.length; i++) assert.ok(keep[i]! > keep[i - 1]!);
  assert.deepEqual(lttbIndices(xs, ys, 2), [0, 99_999]);
});

test("lttb keeps a lone spike (the point that makes the largest triangle)", () => {
  const xs = range(1000);
  const ys = xs.map((x) => (x === 437 ? 100 : 0));
  assert.ok(lttbIndices(xs, ys, 50).includes(437));
});

test("lttb never prefers a NaN or infinite point over a finite one in its bucket", () => {
  const xs = range(1000);
  const ys = xs.map((x) => (x % 2 === 0 ? Number.NaN : x % 3 === 0 ? Number.POSITIVE_INFINITY : Math.sin(x)));
  const keep = lttbIndices(xs, ys, 100);
  for (const i of keep.slice(1, -1)) assert.ok(Number.isFinite(ys[i]!), `index ${i}`);
});

test("100k points are reduced to 1000 in well under 50 ms", () => {
  const n = 100_000;
  const steps = new Float64Array(n);
  const values = new Float64Array(n);
  const timestamps = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    steps[i] = i;
    values[i] = Math.random();
    timestamps[i] = 1e12 + i;
  }
  downsampleSeries({ steps, values, timestamps }, { points: 1000, x: "step" }); // warm up
  const t0 = performance.now();
  const out = downsampleSeries({ steps, values, timestamps }, { points: 1000, x: "step" });
  const ms = performance.now() - t0;
  assert.equal(out.steps.length, 1000);
  assert.ok(ms < 50, `${ms.toFixed(1)} ms`);
});

test("downsampleSeries sorts by the chosen x, maps NaN to null and says whether it dropped points", () => {
  const h = { steps: [2, 0, 1], values: [30, Number.NaN, 10], timestamps: [5, 9, 7] };
  const byStep = downsampleSeries(h, { points: 0, x: "step" });
  assert.deepEqual(byStep, {
    total: 3,
    downsampled: false,
    steps: [0, 1, 2],
    values: [null, 10, 30],
    timestamps: [9, 7, 5],
  });
  const byTime = downsampleSeries(h, { points: 0, x: "time" });
  assert.deepEqual(byTime.timestamps, [5, 7, 9]);
  assert.deepEqual(byTime.steps, [2, 1, 0]);
  assert.equal(downsampleSeries(h, { points: 2, x: "step" }).downsampled, true);
});

test("sortedOrder is undefined for sorted input and stable for ties", () => {
  assert.equal(sortedOrder([0, 1, 1, 2]), undefined);
  assert.deepEqual(sortedOrder([1, 0, 1, 0]), [1, 3, 0, 2]);
});
