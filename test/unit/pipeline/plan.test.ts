import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Dag } from "../../../src/pipeline/dag.js";
import { emptyLock, type LockFile } from "../../../src/pipeline/lockfile.js";
import type { ParamsObject } from "../../../src/pipeline/params.js";
import {
  type CurrentState,
  currentParams,
  type FileState,
  isStageStale,
  type PlanAction,
  planRepro,
  runCacheKey,
} from "../../../src/pipeline/plan.js";
import { dagOf } from "./helpers.js";

const PIPELINE = `stages:
  prep:
    cmd: prep
    deps: [raw]
    params: [prep.n]
    outs: [data]
  train:
    cmd: train
    deps: [data, train.py]
    params: [train.lr]
    outs: [model]
    metrics: [m.json]
  eval:
    cmd: eval
    deps: [model]
    outs: [report]
`;
const PARAMS = "prep:\n  n: 1\ntrain:\n  lr: 0.001\n";

interface World {
  hashes: Record<string, FileState | null>;
  params: Record<string, ParamsObject>;
}

function baseWorld(): World {
  const h = (hash: string): FileState => ({ hash, size: 1 });
  return {
    hashes: {
      raw: h("r"),
      data: h("d"),
      "train.py": h("t"),
      model: h("m"),
      "m.json": h("j"),
      report: h("p"),
    },
    params: { "params.yaml": { prep: { n: 1 }, train: { lr: 0.001 } } },
  };
}

function stateOf(world: World): CurrentState {
  return { hashOf: (p) => world.hashes[p] ?? null, readParams: (f) => world.params[f] ?? null };
}

/** A lock recording every stage as having run against `world`. */
function lockFor(dag: Dag, world: World): LockFile {
  const lock = emptyLock();
  const cur = stateOf(world);
  const entry = (p: string) => ({ path: p, ...cur.hashOf(p)! });
  for (const s of dag.order) {
    lock.stages[s.name] = {
      cmd: s.cmd,
      deps: s.deps.map((d) => entry(d.path)),
      params: currentParams(s, cur.readParams).values,
      outs: s.outs.map((o) => entry(o.path)),
    };
  }
  return lock;
}

type Expect = Record<string, [PlanAction, string[]]>;

const UP: [PlanAction, string[]] = ["skip", ["up to date"]];

describe("planRepro: exactly the expected stages are stale, with reasons", () => {
  const cases: Array<{
    name: string;
    pipeline?: string;
    change?: (w: World) => void;
    lock?: (l: LockFile) => void;
    options?: Parameters<typeof planRepro>[3];
    expect: Expect;
  }> = [
    { name: "nothing changed", expect: { prep: UP, train: UP, eval: UP } },
    {
      name: "one param changed",
      change: (w) => (w.params["params.yaml"]!.train = { lr: 0.003 }),
      expect: {
        prep: UP,
        train: ["run", ["param train.lr changed: 0.001 → 0.003"]],
        eval: ["maybe", ["upstream stage train will run"]],
      },
    },
    {
      name: "one dep changed",
      change: (w) => (w.hashes.raw = { hash: "r2", size: 2 }),
      expect: {
        prep: ["run", ["dep raw changed"]],
        train: ["maybe", ["upstream stage prep will run"]],
        eval: ["maybe", ["upstream stage train will run"]],
      },
    },
    {
      name: "a leaf dep changed",
      change: (w) => (w.hashes["train.py"] = { hash: "t2", size: 2 }),
      expect: {
        prep: UP,
        train: ["run", ["dep train.py changed"]],
        eval: ["maybe", ["upstream stage train will run"]],
      },
    },
    {
      name: "the cmd changed",
      pipeline: PIPELINE.replace("cmd: eval", "cmd: eval --fast"),
      expect: { prep: UP, train: UP, eval: ["run", ["cmd changed"]] },
    },
    {
      name: "an output deleted",
      change: (w) => (w.hashes.model = null),
      expect: { prep: UP, train: ["run", ["out model missing"]], eval: ["run", ["dep model missing"]] },
    },
    {
      name: "an output modified",
      change: (w) => (w.hashes.report = { hash: "p2", size: 1 }),
      expect: { prep: UP, train: UP, eval: ["run", ["out report modified"]] },
    },
    {
      name: "a stage never ran",
      lock: (l) => delete l.stages.eval,
      expect: { prep: UP, train: UP, eval: ["run", ["never run"]] },
    },
    {
      name: "forced",
      options: { force: true },
      expect: { prep: ["run", ["forced"]], train: ["run", ["forced"]], eval: ["run", ["forced"]] },
    },
    {
      name: "frozen stage is not run even when stale",
      pipeline: PIPELINE.replace("cmd: train", "cmd: train\n    frozen: true"),
      change: (w) => (w.hashes["train.py"] = { hash: "t2", size: 2 }),
      expect: { prep: UP, train: ["skip", ["frozen (not run)"]], eval: UP },
    },
    {
      name: "always_changed",
      pipeline: PIPELINE.replace("cmd: prep", "cmd: prep\n    always_changed: true"),
      expect: {
        prep: ["run", ["always_changed"]],
        train: ["maybe", ["upstream stage prep will run"]],
        eval: ["maybe", ["upstream stage train will run"]],
      },
    },
    {
      name: "a param declared since the last run",
      pipeline: PIPELINE.replace("params: [prep.n]", "params: [prep.n, train.lr]"),
      expect: {
        prep: ["run", ["param train.lr added"]],
        train: ["maybe", ["upstream stage prep will run"]],
        eval: ["maybe", ["upstream stage train will run"]],
      },
    },
    {
      name: "a dep added to the stage",
      pipeline: PIPELINE.replace("deps: [model]", "deps: [model, raw]"),
      expect: { prep: UP, train: UP, eval: ["run", ["dep raw added"]] },
    },
    {
      name: "a target with its ancestors only",
      change: (w) => (w.hashes.raw = { hash: "r2", size: 2 }),
      options: { targets: ["prep"] },
      expect: { prep: ["run", ["dep raw changed"]] },
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const world = baseWorld();
      const base = dagOf(PIPELINE, { "params.yaml": PARAMS });
      const lock = lockFor(base, world);
      c.lock?.(lock);
      c.change?.(world);
      const dag = c.pipeline ? dagOf(c.pipeline, { "params.yaml": PARAMS }) : base;
      const plan = planRepro(dag, lock, stateOf(world), c.options);
      const got = Object.fromEntries(plan.stages.map((s) => [s.name, [s.action, s.reasons]]));
      assert.deepEqual(got, c.expect);
    });
  }
});

describe("isStageStale", () => {
  it("reports several reasons at once", () => {
    const dag = dagOf(PIPELINE, { "params.yaml": PARAMS });
    const world = baseWorld();
    const lock = lockFor(dag, world);
    world.hashes["train.py"] = { hash: "x", size: 1 };
    world.hashes["m.json"] = null;
    world.params["params.yaml"]!.train = { lr: "fast" };
    const check = isStageStale(dag.byName.get("train")!, lock.stages.train, stateOf(world));
    assert.deepEqual(check, {
      stale: true,
      reasons: ["dep train.py changed", "param train.lr changed: 0.001 → fast", "out m.json missing"],
    });
  });

  it("reports a param missing from the params file", () => {
    const dag = dagOf(PIPELINE, { "params.yaml": PARAMS });
    const world = baseWorld();
    const lock = lockFor(dag, world);
    world.params["params.yaml"] = { prep: { n: 1 } };
    assert.deepEqual(isStageStale(dag.byName.get("train")!, lock.stages.train, stateOf(world)).reasons, [
      "param train.lr missing",
    ]);
  });
});

describe("runCacheKey", () => {
  const dag = dagOf(PIPELINE, { "params.yaml": PARAMS });
  const train = dag.byName.get("train")!;
  const deps = [
    { path: "data", hash: "d", size: 1 },
    { path: "train.py", hash: "t", size: 1 },
  ];
  const params = { "params.yaml": { "train.lr": 0.001, nested: { b: 1, a: 2 } } };

  it("is 64 hex chars and stable under ordering and sizes", () => {
    const key = runCacheKey(train, deps, params);
    assert.match(key, /^[0-9a-f]{64}$/);
    const reordered = [
      { path: "train.py", hash: "t", size: 99 },
      { path: "data", hash: "d", size: 5 },
    ];
    assert.equal(
      runCacheKey(train, reordered, { "params.yaml": { nested: { a: 2, b: 1 }, "train.lr": 0.001 } }),
      key,
    );
  });

  it("changes with a dep hash, a param value or the cmd", () => {
    const key = runCacheKey(train, deps, params);
    assert.notEqual(runCacheKey(train, [{ ...deps[0]!, hash: "d2" }, deps[1]!], params), key);
    assert.notEqual(
      runCacheKey(train, deps, { "params.yaml": { "train.lr": 0.002, nested: { b: 1, a: 2 } } }),
      key,
    );
    assert.notEqual(runCacheKey({ ...train, cmd: "train2" }, deps, params), key);
  });
});
