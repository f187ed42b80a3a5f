import assert from "node:assert/strict";
import { test } from "node:test";
import { Batcher } from "../../../src/serving/batcher.js";
import type { ScoringInput } from "../../../src/serving/input.js";

const input = (...rows: number[][]): ScoringInput => ({
  rows: rows.length,
  cols: 2,
  values: new Float32Array(rows.flat()),
});

/** A predictor that records each call's row count and predicts each row's first value. */
function recording() {
  const calls: number[] = [];
  return {
    calls,
    predict: (i: ScoringInput) => {
      calls.push(i.rows);
      return Array.from({ length: i.rows }, (_, r) => i.values[r * 2]!);
    },
  };
}

test("requests of one event-loop turn are scored in one call, each getting its own rows back", async () => {
  const p = recording();
  const b = new Batcher(p, { maxRows: 64 });
  const answers = await Promise.all([
    b.predict(input([1, 0])),
    b.predict(input([2, 0], [3, 0])),
    b.predict(input([4, 0])),
  ]);
  assert.deepEqual(answers, [[1], [2, 3], [4]]);
  assert.deepEqual(p.calls, [4]);
  // A lone request is scored by itself; a large one never waits for company.
  assert.deepEqual(await b.predict(input([5, 0])), [5]);
  assert.deepEqual(
    await b.predict(input(...Array.from({ length: 64 }, (_, i) => [i, 0]))),
    Array.from({ length: 64 }, (_, i) => i),
  );
  assert.deepEqual(p.calls, [4, 1, 64]);
});

test("a batch that reaches maxRows is scored at once; the rest wait for the scheduled turn", async () => {
  const p = recording();
  const scheduled: (() => void)[] = [];
  const b = new Batcher(p, { maxRows: 3, schedule: (fn) => scheduled.push(fn) });
  const first = [b.predict(input([1, 0])), b.predict(input([2, 0], [3, 0]))];
  assert.deepEqual(p.calls, [3], "full: scored without waiting");
  const late = b.predict(input([4, 0]));
  for (const fn of scheduled.splice(0)) fn();
  assert.deepEqual(await Promise.all([...first, late]), [[1], [2, 3], [4]]);
  assert.deepEqual(p.calls, [3, 1]);
});

test("a failing forward pass rejects every request of its batch", async () => {
  const b = new Batcher({
    predict: () => {
      throw new Error("boom");
    },
  });
  const results = await Promise.allSettled([b.predict(input([1, 0])), b.predict(input([2, 0]))]);
  assert.deepEqual(
    results.map((r) => r.status),
    ["rejected", "rejected"],
  );
  await assert.rejects(b.predict(input(...Array.from({ length: 64 }, () => [0, 0]))), /boom/);
});
