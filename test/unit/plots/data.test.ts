import assert from "node:assert/strict";
import { test } from "node:test";
import {
  confusionMatrices,
  confusionPairs,
  type LineTable,
  lineTable,
  overlayLines,
  parsePlotRows,
  plotFromFiles,
} from "../../../src/plots/data.js";

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

test("line tables: x is the given x, else step, else the first column; one column per numeric column", () => {
  const rows = [
    { epoch: "1", step: "10", loss: "0.5", name: "b" },
    { epoch: "0", step: "0", loss: "1", name: "a" },
  ];
  const byStep = lineTable(rows, {});
  assert.equal(byStep.xLabel, "step");
  assert.deepEqual(byStep.x, [0, 10]);
  assert.deepEqual(
    byStep.columns.map((c) => c.column),
    ["epoch", "loss"],
  );
  assert.deepEqual(byStep.columns[1]!.values, [1, 0.5]);
  assert.deepEqual(lineTable(rows, { x: "epoch", y: ["loss"] }).columns, [
    { column: "loss", values: [1, 0.5] },
  ]);
  assert.equal(
    lineTable(
      [
        { fpr: 0, tpr: 0 },
        { fpr: 1, tpr: 1 },
      ],
      {},
    ).xLabel,
    "fpr",
  );
  const labels = lineTable(
    [
      { cls: "cat", n: 3 },
      { cls: "dog", n: 5 },
    ],
    {},
  );
  assert.equal(labels.xLabel, "row");
  assert.deepEqual(labels.x, [0, 1]);
  const gaps = lineTable(
    [
      { step: 0, v: 1 },
      { step: 1, v: "" },
      { step: 2, v: "NaN" },
    ],
    {},
  );
  assert.deepEqual(gaps.columns, [{ column: "v", values: [1, null, null] }]);
});

const table = (x: number[], cols: Record<string, (number | null)[]>): LineTable => ({
  xLabel: "step",
  x,
  columns: Object.entries(cols).map(([column, values]) => ({ column, values })),
});

test("overlay: revisions sharing x keep it; lines are labelled by revision", () => {
  const o = overlayLines([
    { rev: "HEAD", file: "loss.csv", table: table([0, 1, 1], { loss: [1, 0.6, 0.5] }) },
    { rev: "workspace", file: "loss.csv", table: table([0, 1, 1], { loss: [0.9, 0.4, 0.3] }) },
  ]);
  assert.deepEqual(o.x, [0, 1, 1], "repeated x values survive when every table shares them");
  assert.deepEqual(
    o.series.map((s) => [s.label, s.rev, s.file, s.column, s.values]),
    [
      ["HEAD", "HEAD", "loss.csv", "loss", [1, 0.6, 0.5]],
      ["workspace", "workspace", "loss.csv", "loss", [0.9, 0.4, 0.3]],
    ],
  );
});

test("overlay: different x values are joined on their sorted union, gaps are null", () => {
  const o = overlayLines([
    { rev: "HEAD~1", file: "loss.csv", table: table([0, 2], { loss: [1, 0.5] }) },
    { rev: "HEAD", file: "loss.csv", table: table([0, 1, 3], { loss: [0.9, 0.7, 0.2] }) },
  ]);
  assert.deepEqual(o.x, [0, 1, 2, 3]);
  assert.deepEqual(o.series[0]!.values, [1, null, 0.5, null]);
  assert.deepEqual(o.series[1]!.values, [0.9, 0.7, null, 0.2]);
});

test("overlay labels name only what differs: revision, file, column", () => {
  const two = table([0], { loss: [1], acc: [0.5] });
  const labels = (parts: Parameters<typeof overlayLines>[0]) =>
    overlayLines(parts).series.map((s) => s.label);
  assert.deepEqual(labels([{ rev: "workspace", file: "a.csv", table: table([0], { loss: [1] }) }]), ["loss"]);
  assert.deepEqual(labels([{ rev: "workspace", file: "a.csv", table: two }]), ["loss", "acc"]);
  assert.deepEqual(
    labels([
      { rev: "HEAD", file: "a.csv", table: two },
      { rev: "workspace", file: "a.csv", table: two },
    ]),
    ["HEAD · loss", "HEAD · acc", "workspace · loss", "workspace · acc"],
  );
  assert.deepEqual(
    labels([
      { rev: "HEAD", file: "train.csv", table: table([0], { loss: [1] }) },
      { rev: "HEAD", file: "test.csv", table: table([0], { loss: [2] }) },
      { rev: "workspace", file: "train.csv", table: table([0], { loss: [3] }) },
    ]),
    ["HEAD · train.csv", "HEAD · test.csv", "workspace · train.csv"],
  );
  assert.deepEqual(
    overlayLines([{ rev: "workspace", file: "a.csv", table: table([0], { loss: [1] }) }], { revs: 2 })
      .series[0]!.label,
    "workspace",
    "a lone line of a two-revision overlay still names its revision",
  );
  assert.deepEqual(overlayLines([]), { xLabel: "x", x: [], series: [] });
});

test("confusion matrices share one label list across revisions; normalized rows sum to 1", () => {
  const rows = [
    { actual: 0, predicted: 0 },
    { actual: 0, predicted: 1 },
    { actual: 1, predicted: 1 },
    { actual: 10, predicted: 1 },
    { actual: 1 },
  ];
  const pairs = confusionPairs(rows, "actual", "predicted");
  assert.equal(pairs.length, 4, "a row lacking a field is skipped");
  const m = confusionMatrices(
    [
      { rev: "HEAD", file: "c.csv", pairs },
      { rev: "workspace", file: "c.csv", pairs: [["2", "2"]] },
    ],
    false,
  );
  assert.deepEqual(m.labels, ["0", "1", "2", "10"], "numeric labels sort as numbers");
  assert.deepEqual(m.matrices[0]!.counts, [
    [1, 1, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 0, 0],
    [0, 1, 0, 0],
  ]);
  assert.deepEqual(m.matrices[1]!.counts[2], [0, 0, 1, 0]);
  const n = confusionMatrices([{ rev: "HEAD", file: "c.csv", pairs }], true);
  assert.deepEqual(n.matrices[0]!.values, [
    [0.5, 0.5, 0],
    [0, 1, 0],
    [0, 1, 0],
  ]);
  assert.deepEqual(n.matrices[0]!.counts[0], [1, 1, 0], "counts are kept beside the shares");
  assert.deepEqual(confusionMatrices([{ rev: "w", file: "c.json", pairs: [["dog", "cat"]] }], true).labels, [
    "cat",
    "dog",
  ]);
});

test("plotFromFiles: images per revision, notes for what is missing, lines otherwise", () => {
  const png = { id: "p.png", template: "linear", sources: [{ file: "p.png" }] };
  const img = plotFromFiles(
    png,
    [
      { rev: "HEAD", source: png.sources[0]!, bytes: Buffer.from([1, 2]) },
      { rev: "workspace", source: png.sources[0]!, reason: "file not found" },
    ],
    2,
  );
  assert.equal(img.kind, "images");
  if (img.kind === "images")
    assert.deepEqual(img.images, [{ rev: "HEAD", file: "p.png", dataUrl: "data:image/png;base64,AQI=" }]);
  assert.deepEqual(img.notes, [{ rev: "workspace", file: "p.png", reason: "file not found" }]);
  const csv = { id: "l.csv", template: "linear", sources: [{ file: "l.csv" }] };
  const gone = plotFromFiles(csv, [{ rev: "HEAD", source: csv.sources[0]!, reason: "file not found" }], 1);
  assert.equal(gone.kind, "missing");
  if (gone.kind === "missing") assert.equal(gone.reason, "file not found");
  const lines = plotFromFiles(
    { ...csv, xLabel: "Epoch" },
    [{ rev: "HEAD", source: csv.sources[0]!, bytes: Buffer.from("step,v\n0,1\n") }],
    2,
  );
  assert.equal(lines.kind, "lines");
  if (lines.kind === "lines") {
    assert.equal(lines.xLabel, "Epoch");
    assert.equal(lines.yLabel, "v");
    assert.deepEqual(
      lines.series.map((s) => s.label),
      ["HEAD"],
    );
  }
});
