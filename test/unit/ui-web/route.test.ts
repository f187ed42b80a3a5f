/**
 * Hash routes of the page (ui/src/route.ts): every view parses back from the link it formats.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatRoute, parseRoute, type Route } from "../../../ui/src/route.js";

test("routes round-trip through the hash", () => {
  const routes: Route[] = [
    { view: "runs", experiments: [], filter: "", cols: [] },
    {
      view: "runs",
      experiments: ["0", "spirals"],
      filter: "metrics.val_acc > 0.9 and params.lr = '0.001'",
      sort: { column: "metrics.val_acc:max", desc: false },
      cols: ["params.lr", "metrics.val_acc:max", "metrics.seed/s0/alpha"],
    },
    { view: "run", id: "3f2a9c" },
    { view: "compare", runs: ["a", "b"], x: "relative", log: true, smooth: 0.6, pattern: "seed/*/alpha" },
    { view: "compare", runs: ["a"], x: "step", log: false, smooth: 0, pattern: "" },
    { view: "bands", experiments: ["1"], filter: "params.lr != '1'", group: "params.lr", key: "val_acc" },
  ];
  for (const r of routes) assert.deepEqual(parseRoute(formatRoute(r)), r);
});

test("unknown or empty hashes show the runs table; bad compare settings fall back to defaults", () => {
  assert.deepEqual(parseRoute(""), { view: "runs", experiments: [], filter: "", cols: [] });
  assert.equal(parseRoute("#/nowhere").view, "runs");
  const c = parseRoute("#/compare?runs=a,,b&x=sideways&smooth=7");
  assert.deepEqual(c, {
    view: "compare",
    runs: ["a", "b"],
    x: "step",
    log: false,
    smooth: 0.99,
    pattern: "",
  });
});

test("the links the MLflow client prints open the run page and the experiment's runs table", () => {
  const id = "3f2a".padEnd(32, "0");
  assert.deepEqual(parseRoute(`#/experiments/1/runs/${id}`), { view: "run", id });
  assert.deepEqual(parseRoute("#/experiments/7"), { view: "runs", experiments: ["7"], filter: "", cols: [] });
  assert.deepEqual(parseRoute("#/experiments/7/runs"), {
    view: "runs",
    experiments: ["7"],
    filter: "",
    cols: [],
  });
});
