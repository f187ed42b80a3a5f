/**
 * Hash routes of the page (ui/src/route.ts): every view parses back from the link it formats.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatRoute, navSection, parseRoute, type Route } from "../../../ui/src/route.js";

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
    { view: "models" },
    { view: "model", name: "clf" },
    { view: "model", name: "spirals v2: the big one" },
    { view: "model-version", name: "clf", version: 12 },
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

test("model routes: /models lists, a name opens the model, a number (or v<n>) the version", () => {
  assert.deepEqual(parseRoute("#/models"), { view: "models" });
  assert.deepEqual(parseRoute("#/models/"), { view: "models" });
  assert.deepEqual(parseRoute("#/models/clf"), { view: "model", name: "clf" });
  assert.deepEqual(parseRoute("#/models/clf/v3"), { view: "model-version", name: "clf", version: 3 });
  assert.deepEqual(parseRoute("#/models/clf/0"), { view: "model", name: "clf" });
  assert.deepEqual(parseRoute("#/models/%E0%A4%A"), { view: "models" });
  assert.equal(formatRoute({ view: "model-version", name: "a b", version: 2 }), "#/models/a%20b/2");
  assert.equal(navSection({ view: "model-version", name: "clf", version: 1 }), "models");
  assert.equal(navSection({ view: "run", id: "x" }), "run");
});
