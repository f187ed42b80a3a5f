import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { emptyLock, type LockFile, parseLock, serializeLock } from "../../../src/pipeline/lockfile.js";
import { assertPos, throwsCode } from "./helpers.js";

function sample(): LockFile {
  return {
    version: 1,
    stages: {
      train: {
        cmd: ["python train.py", "echo done"],
        deps: [
          { path: "data", hash: "a".repeat(64), size: 300, files: 3 },
          { path: "train.py", hash: "b".repeat(64), size: 10 },
        ],
        params: { "params.yaml": { "train.lr": 0.01, model: { layers: [8, 16] } }, "a.json": { z: 1 } },
        outs: [{ path: "model", hash: "c".repeat(64), size: 5 }],
      },
      prep: {
        cmd: "prep",
        deps: [],
        params: {},
        outs: [{ path: "data", hash: "a".repeat(64), size: 300, files: 3 }],
      },
    },
  };
}

describe("pipeline.lock", () => {
  it("round-trips", () => {
    const lock = sample();
    const text = serializeLock(lock, ["prep", "train"]);
    assert.deepEqual(parseLock(text, "pipeline.lock"), lock);
  });

  it("writes stages in pipeline order and paths/keys sorted, whatever the input order", () => {
    const a = sample();
    const b = sample();
    b.stages = { train: b.stages.train!, prep: b.stages.prep! };
    b.stages.train!.deps.reverse();
    b.stages.train!.params = {
      "a.json": { z: 1 },
      "params.yaml": { model: { layers: [8, 16] }, "train.lr": 0.01 },
    };
    const text = serializeLock(a, ["prep", "train"]);
    assert.equal(serializeLock(b, ["prep", "train"]), text);
    assert.ok(text.indexOf("prep:") < text.indexOf("train:"));
    assert.ok(text.indexOf("path: data") < text.indexOf("path: train.py"));
    assert.ok(text.indexOf("a.json") < text.indexOf("params.yaml"));
    assert.ok(text.startsWith("version: 1\n"));
  });

  it("drops stages no longer in the pipeline", () => {
    const text = serializeLock(sample(), ["train"]);
    assert.deepEqual(Object.keys(parseLock(text, "pipeline.lock").stages), ["train"]);
  });

  it("reads an empty file as an empty lock", () => {
    assert.deepEqual(parseLock("", "pipeline.lock"), emptyLock());
  });

  it("rejects invalid locks naming the line", () => {
    const bad =
      "version: 1\nstages:\n  a:\n    cmd: x\n    outs:\n      - path: o\n        hash: 12\n        size: 1\n";
    const err = throwsCode(() => parseLock(bad, "pipeline.lock"), "ERR_MTRACK_LOCKFILE_INVALID");
    assertPos(err, 6, 9, "pipeline.lock");
    throwsCode(() => parseLock("version: 7\n", "pipeline.lock"), "ERR_MTRACK_LOCKFILE_INVALID");
    throwsCode(
      () => parseLock("version: 1\nstages:\n  a:\n    deps: []\n", "pipeline.lock"),
      "ERR_MTRACK_LOCKFILE_INVALID",
    );
    throwsCode(() => parseLock("version: 1\nstages: [\n", "pipeline.lock"), "ERR_MTRACK_LOCKFILE_INVALID");
  });
});

describe("lock entries name the runs that produced them", () => {
  const ID_A = "0123456789abcdef0123456789abcdef";
  const ID_B = "fedcba9876543210fedcba9876543210";
  it("round-trips sorted run ids and leaves them out when there are none", () => {
    const lock: LockFile = emptyLock();
    lock.stages.train = { cmd: "python train.py", deps: [], params: {}, outs: [], runs: [ID_B, ID_A] };
    lock.stages.prep = { cmd: "prep", deps: [], params: {}, outs: [] };
    const text = serializeLock(lock, ["prep", "train"]);
    const back = parseLock(text, "pipeline.lock");
    assert.deepEqual(back.stages.train?.runs, [ID_A, ID_B]);
    assert.equal(back.stages.prep?.runs, undefined);
    assert.ok(!text.includes("runs: []"));
  });
  it("rejects run ids that are not 32 hex digits, naming the position", () => {
    const text = `version: 1\nstages:\n  train:\n    cmd: x\n    runs:\n      - not-a-run\n`;
    throwsCode(() => parseLock(text, "pipeline.lock"), "ERR_MTRACK_LOCKFILE_INVALID");
  });
});
