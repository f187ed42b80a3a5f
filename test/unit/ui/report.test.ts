import assert from "node:assert/strict";
import { test } from "node:test";
import {
  escapeHtml,
  linePlotFromRows,
  parsePlotRows,
  plotSpecs,
  type ReportData,
  renderReportHtml,
  scriptJson,
} from "../../../src/ui/report.js";

test("plot rows from CSV, TSV, JSON lists, JSON objects holding a list, and YAML", () => {
  assert.deepEqual(parsePlotRows("step,loss\r\n0,1\n1,0.5\n\n", "a.csv"), [
    { step: "0", loss: "1" },
    { step: "1", loss: "0.5" },
  ]);
  assert.deepEqual(parsePlotRows("x\ty\n1\t2\n", "a.tsv"), [{ x: "1", y: "2" }]);
  assert.deepEqual(parsePlotRows('[{"a":1},2]', "a.json"), [{ a: 1 }]);
  assert.deepEqual(parsePlotRows('{"train":[{"a":1}]}', "a.json"), [{ a: 1 }]);
  assert.deepEqual(parsePlotRows("- a: 1\n- a: 2\n", "a.yaml"), [{ a: 1 }, { a: 2 }]);
  assert.throws(() => parsePlotRows("{", "a.json"), { code: "ERR_MTRACK_FORMAT_INVALID" });
  assert.throws(() => parsePlotRows('{"a":1}', "a.json"), { code: "ERR_MTRACK_FORMAT_INVALID" });
});

test("line plots: x is the spec's x, else step, else the first column; one series per numeric column", () => {
  const rows = [
    { epoch: "1", step: "10", loss: "0.5", name: "b" },
    { epoch: "0", step: "0", loss: "1", name: "a" },
  ];
  const byStep = linePlotFromRows(rows, { file: "f.csv" });
  assert.equal(byStep.xLabel, "step");
  assert.deepEqual(byStep.x, [0, 10]);
  assert.deepEqual(
    byStep.series.map((s) => s.label),
    ["epoch", "loss"],
  );
  assert.deepEqual(byStep.series[1]!.values, [1, 0.5]);
  const byEpoch = linePlotFromRows(rows, { file: "f.csv", x: "epoch", y: ["loss"], title: "T" });
  assert.equal(byEpoch.title, "T");
  assert.deepEqual(byEpoch.series, [{ label: "loss", values: [1, 0.5] }]);
  const firstColumn = linePlotFromRows(
    [
      { fpr: 0, tpr: 0 },
      { fpr: 1, tpr: 1 },
    ],
    { file: "roc.json" },
  );
  assert.equal(firstColumn.xLabel, "fpr");
  const labels = linePlotFromRows(
    [
      { cls: "cat", n: 3 },
      { cls: "dog", n: 5 },
    ],
    { file: "c.json" },
  );
  assert.equal(labels.xLabel, "row");
  assert.deepEqual(labels.x, [0, 1]);
  const gaps = linePlotFromRows(
    [
      { step: 0, v: 1 },
      { step: 1, v: "" },
      { step: 2, v: "NaN" },
    ],
    { file: "g.csv" },
  );
  assert.deepEqual(gaps.series, [{ label: "v", values: [1, null, null] }]);
});

test("plot specs from stage outputs (with options) and the top-level plots list", () => {
  const specs = plotSpecs(
    "plots:\n  - eval/roc.csv\n  - eval/pr.json:\n      x: recall\n      y:\n        eval/pr.json: precision\n  - eval/loss.csv\n",
    [
      { path: "eval/loss.csv", kind: "plots", options: { x: "epoch", y: ["loss", "val"], title: "Loss" } },
      { path: "model", kind: "outs", options: {} },
    ],
  );
  assert.deepEqual(specs, [
    { file: "eval/loss.csv", x: "epoch", y: ["loss", "val"], title: "Loss" },
    { file: "eval/roc.csv" },
    { file: "eval/pr.json", x: "recall", y: ["precision"] },
  ]);
  assert.deepEqual(plotSpecs(": not yaml [", []), []);
});

test("embedded JSON cannot end its script element; HTML text is escaped", () => {
  const json = scriptJson({ a: "</script><!--", b: "\u2028" });
  assert.equal(json.includes("<"), false);
  assert.deepEqual(JSON.parse(json), { a: "</script><!--", b: "\u2028" });
  assert.equal(escapeHtml(`<a href="x" title='y'>&`), "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;");
});

test("the rendered report escapes every embedded string and inlines its assets", () => {
  const evil = "</script><script>alert(1)</script>";
  const data: ReportData = {
    revision: evil,
    commit: null,
    generatedAt: 0,
    metrics: { [evil]: { [evil]: evil, n: 0.123456789 } },
    plots: [
      {
        kind: "lines",
        file: evil,
        title: evil,
        xLabel: "step",
        x: [0],
        series: [{ label: evil, values: [1] }],
      },
      { kind: "missing", file: "m.csv", title: "m.csv", reason: evil },
    ],
  };
  const html = renderReportHtml(data, {
    uplotJs: "var uPlot = function(){}; // </script>",
    uplotCss: ".u{}",
  });
  assert.equal(html.includes(evil), false);
  assert.equal(html.match(/<script/g)?.length, 3);
  assert.equal(html.match(/<\/script>/g)?.length, 3);
  assert.ok(html.includes("0.123457"), "numbers shown with 6 significant digits");
  assert.ok(html.includes(".u{}"));
});
