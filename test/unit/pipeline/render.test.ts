import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { dagEdges, dagToDot, dagToMermaid, dagToText } from "../../../src/pipeline/render.js";
import { formatTable, percent, valueDiffTable } from "../../../src/pipeline/table.js";
import { dagOf } from "./helpers.js";

const PIPE = `stages:
  prep:
    cmd: x
    outs: [a]
  train:
    cmd: x
    deps: [a]
    outs: [b]
  eval:
    cmd: x
    deps: [a, b]
`;

describe("DAG rendering", () => {
  const dag = dagOf(PIPE);
  it("lists edges in execution order", () => {
    assert.deepEqual(dagEdges(dag), [
      ["prep", "train"],
      ["prep", "eval"],
      ["train", "eval"],
    ]);
  });
  it("prints text, dot and mermaid", () => {
    assert.equal(dagToText(dag), "1. prep\n2. train  <- prep\n3. eval  <- prep, train\n");
    assert.match(dagToDot(dag), /"prep" -> "train";/);
    assert.match(dagToMermaid(dag), /s1\["train"\]\n[\s\S]*s1 --> s2/);
  });
});

describe("tables", () => {
  it("aligns plain text and writes Markdown", () => {
    assert.equal(formatTable(["a", "bb"], [["xxx", "y"]]), "a    bb\nxxx  y\n");
    assert.equal(formatTable(["a"], [["x|y"]], { markdown: true }), "| a |\n|---|\n| x\\|y |\n");
  });
  it("formats changes", () => {
    assert.equal(percent(12.3456), "+12.35%");
    assert.equal(percent(null), "n/a");
    assert.match(
      valueDiffTable([{ file: "f", key: "k", old: 1, new: 2, change: 1, pct: 100 }]),
      /f\s+k\s+1\s+2\s+\+1\s+\+100%/,
    );
  });
});
