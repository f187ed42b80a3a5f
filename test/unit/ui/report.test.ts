import assert from "node:assert/strict";
import { test } from "node:test";
import { escapeHtml, type ReportData, renderReportHtml, scriptJson } from "../../../src/ui/report.js";

test("embedded JSON cannot end its script element; HTML text is escaped", () => {
  const json = scriptJson({ a: "</script><!--", b: "\u2028" });
  assert.equal(json.includes("<"), false);
  assert.deepEqual(JSON.parse(json), { a: "</script><!--", b: "\u2028" });
  assert.equal(escapeHtml(`<a href="x" title='y'>&`), "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;");
});

test("the rendered report escapes every embedded string and inlines its assets", () => {
  const evil = "</script><script>alert(1)</script>";
  const data: ReportData = {
    revisions: [
      { name: evil, commit: null, metrics: { [evil]: { [evil]: evil, n: 0.123456789 } } },
      { name: "HEAD", commit: "a".repeat(40), metrics: {}, error: { code: "ERR_MTRACK_IO", message: evil } },
    ],
    generatedAt: 0,
    plots: [
      {
        kind: "lines",
        id: evil,
        title: evil,
        template: "linear",
        xLabel: "step",
        yLabel: evil,
        points: false,
        x: [0],
        series: [{ label: evil, rev: evil, file: evil, column: evil, values: [1] }],
        notes: [{ rev: evil, file: evil, reason: evil }],
      },
      {
        kind: "confusion",
        id: "c.csv",
        title: evil,
        template: "confusion",
        normalized: false,
        xLabel: evil,
        yLabel: "predicted",
        labels: [evil, "b"],
        matrices: [
          {
            rev: evil,
            file: evil,
            counts: [
              [1, 0],
              [0, 2],
            ],
            values: [
              [1, 0],
              [0, 2],
            ],
          },
        ],
        notes: [],
      },
      {
        kind: "images",
        id: "p.png",
        title: "p.png",
        template: "linear",
        images: [{ rev: evil, file: "p.png", dataUrl: `data:image/png;base64,${evil}` }],
        notes: [],
      },
      { kind: "missing", id: "m.csv", title: "m.csv", template: "linear", reason: evil, notes: [] },
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
  assert.equal(html.match(/<table class="confusion">/g)?.length, 1, "the confusion matrix is a table");
  assert.ok(html.includes("<th>HEAD</th>"), "metrics get a column per revision");
});
