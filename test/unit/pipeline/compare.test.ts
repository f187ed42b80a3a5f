import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type DataState,
  diffData,
  diffValues,
  pipelineFilesAt,
  type RevReader,
} from "../../../src/pipeline/compare.js";

const h = (c: string) => c.repeat(64);

function reader(files: Record<string, string>, reads: string[] = []): RevReader {
  return {
    label: "test",
    commit: null,
    read: async (rel) => {
      reads.push(rel);
      return files[rel] ?? null;
    },
  };
}

describe("diffValues", () => {
  it("lists changed, added and removed values with change and % change", () => {
    const d = diffValues(
      { "m.json": { acc: 0.8, loss: 2, same: 1, gone: "x", zero: 0 } },
      { "m.json": { acc: 0.9, loss: 1, same: 1, zero: 3 }, "p.yaml": { lr: [1, 2] } },
    );
    assert.deepEqual(d, [
      { file: "m.json", key: "acc", old: 0.8, new: 0.9, change: 0.1, pct: 12.5 },
      { file: "m.json", key: "gone", old: "x" },
      { file: "m.json", key: "loss", old: 2, new: 1, change: -1, pct: -50 },
      { file: "m.json", key: "zero", old: 0, new: 3, change: 3, pct: null },
      { file: "p.yaml", key: "lr", new: [1, 2] },
    ]);
  });

  it("keeps unchanged values with `all`", () => {
    assert.deepEqual(diffValues({ f: { a: 1 } }, { f: { a: 1 } }, { all: true }), [
      { file: "f", key: "a", old: 1, new: 1, change: 0, pct: 0 },
    ]);
    assert.deepEqual(diffValues({ f: { a: [1] } }, { f: { a: [1] } }), []);
  });
});

describe("diffData", () => {
  const file = (p: string, c: string, size = 1): DataState => ({ path: p, type: "file", hash: h(c), size });
  const dir = (p: string, c: string): DataState => ({
    path: p,
    type: "directory",
    hash: h(c),
    size: 3,
    files: 2,
  });

  it("classifies paths and lists files inside modified directories when both manifests are known", () => {
    const manifests: Record<
      string,
      Array<{ path: string; hash: string; size: number; executable: boolean }>
    > = {
      [h("1")]: [
        { path: "a", hash: h("a"), size: 1, executable: false },
        { path: "b", hash: h("b"), size: 2, executable: false },
      ],
      [h("2")]: [
        { path: "b", hash: h("c"), size: 5, executable: false },
        { path: "c", hash: h("d"), size: 4, executable: false },
      ],
    };
    const d = diffData(
      [file("same", "s"), file("old", "o", 7), file("mod", "m"), dir("data", "1"), dir("nomanifest", "3")],
      [file("same", "s"), file("new", "n", 9), file("mod", "x", 2), dir("data", "2"), dir("nomanifest", "4")],
      (s) => manifests[s.hash],
    );
    assert.deepEqual(
      d.added.map((c) => [c.path, c.newSize]),
      [["new", 9]],
    );
    assert.deepEqual(
      d.deleted.map((c) => [c.path, c.oldSize]),
      [["old", 7]],
    );
    assert.deepEqual(
      d.modified.map((c) => c.path),
      ["data", "mod", "nomanifest"],
    );
    assert.deepEqual(d.modified[0]!.files, {
      added: [{ path: "c", size: 4 }],
      modified: [{ path: "b", size: 5, oldSize: 2 }],
      deleted: [{ path: "a", size: 1 }],
    });
    assert.equal(d.modified[2]!.files, undefined);
  });
});

describe("pipelineFilesAt", () => {
  it("collects params files and metrics (stage and top-level), fetching what interpolation reads", async () => {
    const reads: string[] = [];
    const files = await pipelineFilesAt(
      reader(
        {
          "pipeline.yaml": `vars:\n  - vars.yaml\nmetrics:\n  - extra/m.yaml\nstages:\n  train:\n    cmd: python t.py \${lr} \${depth}\n    params:\n      - lr\n      - other.yaml:\n          - x\n    metrics:\n      - eval/m.json:\n          cache: false\n`,
          "params.yaml": "lr: 0.1\n",
          "vars.yaml": "depth: 3\n",
          "other.yaml": "x: 1\n",
        },
        reads,
      ),
    );
    // Values interpolated from a vars file are tracked as params, as in DVC.
    assert.deepEqual(files.params, ["other.yaml", "params.yaml", "vars.yaml"]);
    assert.deepEqual(files.metrics, ["eval/m.json", "extra/m.yaml"]);
    assert.ok(reads.includes("vars.yaml"));
  });

  it("without a pipeline file: params.yaml only, no metrics", async () => {
    assert.deepEqual(await pipelineFilesAt(reader({})), { params: ["params.yaml"], metrics: [] });
  });
});
