import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StageScheduler, selectStages, stagesConflict } from "../../../src/pipeline/dag.js";
import { assertPos, dagOf, throwsCode } from "./helpers.js";

const CHAIN = `stages:
  prep:
    cmd: p
    deps: [raw]
    outs: [data]
  feat:
    cmd: f
    deps: [data/part1.csv]
    outs: [features]
  train:
    cmd: t
    deps: [features]
    outs: [model]
  other:
    cmd: o
    deps: [raw]
    outs: [other]
`;

const names = (stages: ReadonlyArray<{ name: string }>) => stages.map((s) => s.name);

describe("buildDag", () => {
  it("links a dep inside another stage's output directory", () => {
    const dag = dagOf(CHAIN);
    assert.deepEqual([...dag.upstream.get("feat")!], ["prep"]);
    assert.deepEqual([...dag.downstream.get("prep")!], ["feat"]);
    assert.deepEqual(names(dag.order), ["prep", "feat", "train", "other"]);
  });

  it("links a dep directory that contains another stage's output", () => {
    const dag = dagOf("stages:\n  a:\n    cmd: a\n    outs: [d/x]\n  b:\n    cmd: b\n    deps: [d]\n");
    assert.deepEqual([...dag.upstream.get("b")!], ["a"]);
  });

  it("orders dependencies first even when the file lists them last", () => {
    const dag = dagOf("stages:\n  b:\n    cmd: b\n    deps: [x]\n  a:\n    cmd: a\n    outs: [x]\n");
    assert.deepEqual(names(dag.order), ["a", "b"]);
  });

  it("names the cycle", () => {
    const err = throwsCode(
      () =>
        dagOf(
          "stages:\n  a:\n    cmd: a\n    deps: [z]\n    outs: [x]\n  b:\n    cmd: b\n    deps: [x]\n    outs: [y]\n  c:\n    cmd: c\n    deps: [y]\n    outs: [z]\n",
        ),
      "ERR_MTRACK_PIPELINE_CYCLE",
    );
    const cycle = err.data.cycle as string[];
    assert.equal(cycle.length, 4);
    assert.equal(cycle[0], cycle[3]);
    // Data flows a -> b -> c -> a, whichever stage the loop is reported from.
    const order = ["a", "b", "c"];
    for (let i = 0; i < 3; i++) assert.equal(order[(order.indexOf(cycle[i]!) + 1) % 3], cycle[i + 1]);
    assert.match(err.message, new RegExp(cycle.join(" -> ")));
  });

  it("treats a stage reading its own output as a cycle", () => {
    const err = throwsCode(
      () => dagOf("stages:\n  a:\n    cmd: a\n    deps: [x/in]\n    outs: [x]\n"),
      "ERR_MTRACK_PIPELINE_CYCLE",
    );
    assert.deepEqual(err.data.cycle, ["a", "a"]);
  });

  it("rejects two stages writing the same output, at the second one", () => {
    const err = throwsCode(
      () => dagOf("stages:\n  a:\n    cmd: a\n    outs: [x]\n  b:\n    cmd: b\n    metrics: [x]\n"),
      "ERR_MTRACK_PIPELINE_DUPLICATE_OUTPUT",
    );
    assertPos(err, 7, 15);
    assert.deepEqual(err.data.stages, ["a", "b"]);
  });

  it("rejects an output inside another stage's output", () => {
    const err = throwsCode(
      () => dagOf("stages:\n  a:\n    cmd: a\n    outs: [x]\n  b:\n    cmd: b\n    outs: [x/y]\n"),
      "ERR_MTRACK_PIPELINE_OVERLAPPING_OUTPUT",
    );
    assert.equal(err.data.path, "x/y");
    assert.equal(err.data.parent, "x");
    assertPos(err, 7, 12);
  });

  it("rejects a dep nobody produces that does not exist, and accepts it when it exists", () => {
    const text = "stages:\n  a:\n    cmd: a\n    deps:\n      - in.csv\n";
    const err = throwsCode(() => dagOf(text, {}, ["in.csv"]), "ERR_MTRACK_PIPELINE_MISSING_DEP");
    assertPos(err, 5, 9);
    assert.equal(err.data.path, "in.csv");
    assert.equal(dagOf(text).order.length, 1);
  });

  it("does not require a produced dep to exist", () => {
    assert.equal(dagOf(CHAIN, {}, ["data/part1.csv", "features"]).order.length, 4);
  });
});

describe("selectStages", () => {
  const dag = dagOf(CHAIN);
  it("selects everything by default", () => assert.deepEqual(names(selectStages(dag)), names(dag.order)));
  it("includes ancestors of a target", () =>
    assert.deepEqual(names(selectStages(dag, { targets: ["train"] })), ["prep", "feat", "train"]));
  it("selects only the target with singleItem", () =>
    assert.deepEqual(names(selectStages(dag, { targets: ["train"], singleItem: true })), ["train"]));
  it("selects descendants with downstream", () =>
    assert.deepEqual(names(selectStages(dag, { targets: ["feat"], downstream: true })), ["feat", "train"]));
  it("accepts the pipeline file as a target", () =>
    assert.deepEqual(names(selectStages(dag, { targets: ["./pipeline.yaml"] })), names(dag.order)));
  it("selects a foreach group by its base name", () => {
    const g = dagOf("stages:\n  b:\n    foreach: [x, y]\n    do:\n      cmd: c\n  z:\n    cmd: z\n");
    assert.deepEqual(names(selectStages(g, { targets: ["b"] })), ["b@x", "b@y"]);
  });
  it("rejects an unknown stage with a suggestion", () => {
    const err = throwsCode(() => selectStages(dag, { targets: ["trian"] }), "ERR_MTRACK_STAGE_NOT_FOUND");
    assert.equal(err.data.suggestion, "train");
  });
});

describe("StageScheduler", () => {
  it("runs independent stages together and respects dependencies", () => {
    const dag = dagOf(CHAIN);
    const s = new StageScheduler(dag, dag.order, 2);
    assert.deepEqual(names(s.take()), ["prep", "other"]);
    assert.deepEqual(names(s.take()), []);
    s.finish("prep", true);
    assert.deepEqual(names(s.take()), ["feat"]);
    s.finish("other", true);
    s.finish("feat", true);
    assert.deepEqual(names(s.take()), ["train"]);
    s.finish("train", true);
    assert.equal(s.idle, true);
  });

  it("honours jobs = 1", () => {
    const dag = dagOf(CHAIN);
    const s = new StageScheduler(dag, dag.order, 1);
    assert.deepEqual(names(s.take()), ["prep"]);
  });

  it("orders selected stages through unselected ones", () => {
    const dag = dagOf(CHAIN);
    const s = new StageScheduler(dag, selectStages(dag, { targets: ["prep", "train"], singleItem: true }), 4);
    assert.deepEqual(names(s.take()), ["prep"]);
  });

  it("drops the descendants of a failed stage", () => {
    const dag = dagOf(CHAIN);
    const s = new StageScheduler(dag, dag.order, 2);
    s.take();
    assert.deepEqual(names(s.finish("prep", false)), ["feat", "train"]);
    s.finish("other", true);
    assert.equal(s.idle, true);
  });

  it("detects conflicting stages", () => {
    const dag = dagOf(CHAIN);
    assert.equal(stagesConflict(dag.byName.get("prep")!, dag.byName.get("feat")!), true);
    assert.equal(stagesConflict(dag.byName.get("prep")!, dag.byName.get("other")!), false);
  });
});
