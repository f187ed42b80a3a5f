import assert from "node:assert/strict";
import { test } from "node:test";
import { computeBands } from "../../../src/ui/bands.js";

test("bands: mean/min/max per step over the group's runs", () => {
  const [band] = computeBands(
    [
      { group: "0.1", steps: [0, 1, 2], values: [1, 2, 3] },
      { group: "0.1", steps: [0, 1, 2], values: [3, 4, 5] },
    ],
    500,
  );
  assert.deepEqual(band, {
    value: "0.1",
    runs: 2,
    steps: [0, 1, 2],
    mean: [2, 3, 4],
    min: [1, 2, 3],
    max: [3, 4, 5],
  });
});

test("bands: values carry forward inside a run's range, and a run does not count outside it", () => {
  const [band] = computeBands(
    [
      { group: "a", steps: [0, 10], values: [1, 5] },
      { group: "a", steps: [5, 20], values: [3, 7] },
    ],
    500,
  );
  assert.deepEqual(band!.steps, [0, 5, 10, 20]);
  // step 0: only run 1; step 5: run 1 carries 1, run 2 has 3; step 10: 5 and 3 (carried); step 20: run 2 only.
  assert.deepEqual(band!.mean, [1, 2, 4, 7]);
  assert.deepEqual(band!.min, [1, 1, 3, 7]);
  assert.deepEqual(band!.max, [1, 3, 5, 7]);
});

test("bands: groups sorted by value with numbers in numeric order and the null group last; NaN ignored", () => {
  const bands = computeBands(
    [
      { group: null, steps: [0], values: [1] },
      { group: "10", steps: [0], values: [1] },
      { group: "9", steps: [0, 1], values: [Number.NaN, 2] },
    ],
    500,
  );
  assert.deepEqual(
    bands.map((b) => b.value),
    ["9", "10", null],
  );
  assert.deepEqual(bands[0]!.mean, [2]);
  assert.deepEqual(bands[0]!.steps, [1]);
});

test("bands: the grid is thinned to the requested points, keeping both ends; unsorted input is sorted", () => {
  const steps = Array.from({ length: 1000 }, (_, i) => 999 - i);
  const [band] = computeBands([{ group: "x", steps, values: steps.map((s) => s * 2) }], 11);
  assert.equal(band!.steps.length, 11);
  assert.equal(band!.steps[0], 0);
  assert.equal(band!.steps.at(-1), 999);
  assert.deepEqual(
    band!.mean,
    band!.steps.map((s) => s * 2),
  );
});

test("bands: the last value logged at a repeated step wins", () => {
  const [band] = computeBands([{ group: "x", steps: [0, 0, 1], values: [5, 6, 7] }], 10);
  assert.deepEqual(band!.mean, [6, 7]);
});
