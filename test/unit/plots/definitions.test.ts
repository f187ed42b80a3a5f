import assert from "node:assert/strict";
import { test } from "node:test";
import { plotRevisions } from "../../../src/plots/collect.js";
import { definitionFrom, plotDefinitions } from "../../../src/plots/definitions.js";

test("plot definitions from stage outputs (with options) and the top-level plots list", () => {
  const defs = plotDefinitions(
    "plots:\n  - eval/roc.csv\n  - eval/pr.json:\n      x: recall\n      y:\n        eval/pr.json: precision\n  - eval/loss.csv\n",
    [
      { path: "eval/loss.csv", kind: "plots", options: { x: "epoch", y: ["loss", "val"], title: "Loss" } },
      { path: "model", kind: "outs", options: {} },
    ],
  );
  assert.deepEqual(defs, [
    {
      id: "eval/loss.csv",
      template: "linear",
      title: "Loss",
      sources: [{ file: "eval/loss.csv", x: "epoch", y: ["loss", "val"] }],
    },
    { id: "eval/roc.csv", template: "linear", sources: [{ file: "eval/roc.csv" }] },
    {
      id: "eval/pr.json",
      template: "linear",
      sources: [{ file: "eval/pr.json", x: "recall", y: ["precision"] }],
    },
  ]);
  assert.deepEqual(plotDefinitions(": not yaml [", []), []);
});

test("DVC 3 top-level plots: named plots over several files, per-file x, labels, templates", () => {
  const text = [
    "plots:",
    "  - Loss:",
    "      title: Train vs test",
    "      x: step",
    "      x_label: Step",
    "      y_label: Loss",
    "      y:",
    "        eval/train.csv: loss",
    "        eval/test.csv: [loss, acc]",
    "  - Precision-Recall:",
    "      template: scatter",
    "      x:",
    "        eval/train_prc.json: recall",
    "        eval/test_prc.json: rec",
    "      y:",
    "        eval/train_prc.json: precision",
    "        eval/test_prc.json: prec",
    "  - Confusion:",
    "      template: confusion_normalized",
    "      x: actual",
    "      y:",
    "        eval/confusion.csv: predicted",
    "  - eval/hist.csv:",
    "      template: bar_horizontal",
    "      y: count",
    "",
  ].join("\n");
  const defs = plotDefinitions(text, []);
  assert.deepEqual(defs[0], {
    id: "Loss",
    template: "linear",
    title: "Train vs test",
    xLabel: "Step",
    yLabel: "Loss",
    sources: [
      { file: "eval/train.csv", x: "step", y: ["loss"] },
      { file: "eval/test.csv", x: "step", y: ["loss", "acc"] },
    ],
  });
  assert.deepEqual(defs[1]!.sources, [
    { file: "eval/train_prc.json", x: "recall", y: ["precision"] },
    { file: "eval/test_prc.json", x: "rec", y: ["prec"] },
  ]);
  assert.equal(defs[1]!.template, "scatter");
  assert.deepEqual(defs[2], {
    id: "Confusion",
    template: "confusion_normalized",
    sources: [{ file: "eval/confusion.csv", x: "actual", y: ["predicted"] }],
  });
  assert.deepEqual(defs[3], {
    id: "eval/hist.csv",
    template: "bar_horizontal",
    sources: [{ file: "eval/hist.csv", y: ["count"] }],
  });
  // Files named only through x.
  assert.deepEqual(definitionFrom("ROC", { x: { "a.json": "fpr" }, y: "tpr" }).sources, [
    { file: "a.json", x: "fpr", y: ["tpr"] },
  ]);
});

test("plots diff revisions: HEAD and the workspace by default, `workspace` is the working tree", () => {
  assert.deepEqual(plotRevisions([]), ["HEAD", null]);
  assert.deepEqual(plotRevisions(["HEAD~1", "workspace", "main", "HEAD~1"]), ["HEAD~1", null, "main"]);
});
