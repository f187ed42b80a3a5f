/**
 * The page's pure logic (ui/src/model.ts): column ids and API parameters, sort expressions, the virtual
 * window, formatting, TensorBoard-style smoothing, x values, diffs and seed-curve patterns.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  apiColumns,
  caretLine,
  columnId,
  defaultColumns,
  diffRows,
  forLogScale,
  formatDuration,
  formatTime,
  formatValue,
  matchesPattern,
  nextSort,
  parseColumnId,
  runLabels,
  seriesPatterns,
  shortCommit,
  smoothEma,
  sortExpression,
  viewWindow,
  xValues,
} from "../../../ui/src/model.js";

test("column ids round-trip, with the metric aggregate and keys containing dots, slashes and colons", () => {
  for (const c of [
    { kind: "param", key: "lr" },
    { kind: "tag", key: "mtrack.stage" },
    { kind: "metric", key: "seed/s0/alpha", agg: "last" },
    { kind: "metric", key: "val_acc", agg: "max" },
    { kind: "metric", key: "a:b", agg: "min" },
  ] as const) {
    assert.deepEqual(parseColumnId(columnId(c)), c);
  }
  assert.equal(columnId({ kind: "metric", key: "loss", agg: "last" }), "metrics.loss");
  assert.equal(columnId({ kind: "metric", key: "loss", agg: "min" }), "metrics.loss:min");
  assert.equal(parseColumnId("nope.x"), undefined);
  assert.equal(parseColumnId("params."), undefined);
  assert.equal(parseColumnId("status"), undefined);
});

test("apiColumns asks for each key once, whatever aggregates are shown", () => {
  assert.equal(
    apiColumns([
      { kind: "metric", key: "loss", agg: "min" },
      { kind: "metric", key: "loss", agg: "max" },
      { kind: "param", key: "lr" },
    ]),
    "metrics.loss,params.lr",
  );
  assert.equal(apiColumns([]), "");
});

test("sort expressions use the search grammar: attributes for fixed columns, quoted odd keys, no duration", () => {
  assert.equal(sortExpression({ column: "start", desc: true }), "attributes.start_time DESC");
  assert.equal(sortExpression({ column: "name", desc: false }), "attributes.run_name ASC");
  assert.equal(sortExpression({ column: "metrics.val_acc:max", desc: true }), "metrics.val_acc DESC");
  assert.equal(
    sortExpression({ column: "metrics.seed/s0/alpha", desc: false }),
    "metrics.`seed/s0/alpha` ASC",
  );
  assert.equal(sortExpression({ column: "duration", desc: true }), undefined);
  assert.equal(sortExpression({ column: "bogus", desc: true }), undefined);
});

test("clicking a header sorts it descending first, then flips", () => {
  const a = nextSort(undefined, "metrics.loss");
  assert.deepEqual(a, { column: "metrics.loss", desc: true });
  assert.deepEqual(nextSort(a, "metrics.loss"), { column: "metrics.loss", desc: false });
  assert.deepEqual(nextSort(a, "start"), { column: "start", desc: true });
});

test("the virtual window renders only the visible rows plus overscan, and names the blocks to fetch", () => {
  const base = { height: 280, rowHeight: 28, total: 10_000, overscan: 5, blockSize: 200 };
  assert.deepEqual(viewWindow({ ...base, scrollTop: 0 }), { first: 0, last: 15, blocks: [0] });
  const mid = viewWindow({ ...base, scrollTop: 28 * 5000 });
  assert.deepEqual([mid.first, mid.last], [4995, 5015]);
  assert.deepEqual(mid.blocks, [4800, 5000]);
  const end = viewWindow({ ...base, scrollTop: 28 * 20_000 });
  assert.equal(end.last, 10_000);
  assert.ok(end.first <= end.last);
  assert.deepEqual(viewWindow({ ...base, total: 0, scrollTop: 0 }), { first: 0, last: 0, blocks: [] });
});

test("durations, times, values and commits format compactly", () => {
  assert.equal(formatDuration(null), "—");
  assert.equal(formatDuration(250), "250 ms");
  assert.equal(formatDuration(1500), "1.5 s");
  assert.equal(formatDuration(200_000), "3 min 20 s");
  assert.equal(formatDuration(2 * 3600_000 + 5 * 60_000), "2 h 05 min");
  assert.equal(formatTime(Date.UTC(2026, 10, 27, 9, 5, 3)), "2026-11-27 09:05:03");
  assert.equal(formatTime(Date.UTC(2026, 10, 27, 9, 5, 3), -60), "2026-11-27 10:05:03");
  assert.equal(formatValue(0.123456), "0.1235");
  assert.equal(formatValue(42), "42");
  assert.equal(formatValue(1e-7), "1.000e-7");
  assert.equal(formatValue(null), "");
  assert.equal(formatValue(Number.NaN), "NaN");
  assert.equal(shortCommit("0123456789abcdef0123456789abcdef01234567", true), "01234567*");
  assert.equal(shortCommit("0123456789abcdef0123456789abcdef01234567", false), "01234567");
  assert.equal(shortCommit(null, false), "—");
});

test("EMA smoothing is debiased like TensorBoard's and leaves nulls alone", () => {
  assert.deepEqual(smoothEma([1, 2, 3], 0), [1, 2, 3]);
  assert.deepEqual(smoothEma([5, 5, 5], 0.9), [5, 5, 5]);
  const s = smoothEma([0, 10, null, 10], 0.5);
  assert.equal(s[0], 0);
  // debiased: (0.5*0 + 0.5*10) / (1 - 0.25) = 6.666…
  assert.ok(Math.abs((s[1] as number) - 20 / 3) < 1e-9);
  assert.equal(s[2], null);
  assert.ok((s[3] as number) > (s[1] as number) && (s[3] as number) < 10);
});

test("x values: steps, wall seconds, or seconds since the run started; log scale drops non-positive values", () => {
  const s = { steps: [0, 1], timestamps: [10_000, 12_000] };
  assert.deepEqual(xValues(s, "step", 0), [0, 1]);
  assert.deepEqual(xValues(s, "time", 0), [10, 12]);
  assert.deepEqual(xValues(s, "relative", 9_000), [1, 3]);
  assert.deepEqual(forLogScale([1, 0, -2, null, 0.5]), [1, null, null, null, 0.5]);
});

test("diff rows mark differing params, metrics and tags, treat a missing key as a difference, hide internal tags", () => {
  const rows = diffRows([
    {
      params: { lr: "0.1", seed: "1" },
      metrics: { acc: { last: 0.5 } },
      tags: { phase: "p2", "mtrack.stage": "train" },
    },
    { params: { lr: "0.2", seed: "1" }, metrics: { acc: { last: 0.5 } }, tags: { "mtrack.stage": "train" } },
  ]);
  const byKey = Object.fromEntries(rows.map((r) => [`${r.section}:${r.key}`, r]));
  assert.equal(byKey["param:lr"]?.differs, true);
  assert.equal(byKey["param:seed"]?.differs, false);
  assert.equal(byKey["metric:acc"]?.differs, false);
  assert.deepEqual(byKey["tag:phase"]?.values, ["p2", ""]);
  assert.equal(byKey["tag:phase"]?.differs, true);
  assert.equal(byKey["tag:mtrack.stage"], undefined);
});

test("patterns: * matches one segment or more; suggestions group keys sharing all but one segment", () => {
  assert.ok(matchesPattern("seed/*/alpha", "seed/s0/alpha"));
  assert.ok(matchesPattern("seed/*/alpha", "seed/a/b/alpha"));
  assert.ok(!matchesPattern("seed/*/alpha", "seed//alpha"));
  assert.ok(!matchesPattern("seed/*/alpha", "seed/s0/beta"));
  assert.ok(!matchesPattern("a.b", "axb"));
  const p = seriesPatterns(["seed/s0/alpha", "seed/s1/alpha", "seed/s0/state", "loss"]);
  assert.ok(p.includes("seed/*/alpha"));
  assert.ok(!p.includes("seed/*/state"));
  assert.ok(p.every((x) => !x.startsWith("*")));
});

test("the caret sits under the 0-based error column, clamped to the expression", () => {
  assert.equal(caretLine("metrics.x >", 10), "          ^");
  assert.equal(caretLine("ab", 99), "  ^");
  assert.equal(caretLine("ab", undefined), "^");
});

test("run labels add a short id only where names collide", () => {
  assert.deepEqual(
    runLabels([
      { runId: "aaaaaa11", name: "x" },
      { runId: "bbbbbb22", name: "x" },
      { runId: "cccccc33", name: "y" },
    ]),
    ["x (aaaaaa)", "x (bbbbbb)", "y"],
  );
});

test("default columns: the params that vary among the rows that have them, then accuracy and loss metrics", () => {
  const cols = defaultColumns(
    { params: ["batch", "lr", "only_one"], metrics: ["acc", "loss", "seed/s0/alpha", "zeta"] },
    [{ params: { batch: "32", lr: "0.1", only_one: "x" } }, { params: { batch: "32", lr: "0.2" } }, {}],
  );
  assert.deepEqual(cols, [
    { kind: "param", key: "lr" },
    { kind: "metric", key: "acc", agg: "last" },
    { kind: "metric", key: "loss", agg: "last" },
    { kind: "metric", key: "zeta", agg: "last" },
  ]);
  // Nothing varies: the first params are shown.
  assert.deepEqual(
    defaultColumns({ params: ["a", "b"], metrics: [] }, []).map((c) => c.key),
    ["a", "b"],
  );
});
