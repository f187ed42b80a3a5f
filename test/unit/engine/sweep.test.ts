import assert from "node:assert/strict";
import { test } from "node:test";
import {
  applyOverrides,
  expandGrid,
  parseSetFlag,
  parseSort,
  planSweep,
  runSweep,
  type SweepTrial,
  sortOutcomes,
  sweepId,
  type TrialOutcome,
  trialArgv,
  trialName,
} from "../../../src/engine/sweep.js";

test("--set parses keys and YAML scalar values; unknown keys and empty values are refused", () => {
  assert.deepEqual(parseSetFlag("lr=0.001,0.003"), { key: "lr", values: [0.001, 0.003] });
  assert.deepEqual(parseSetFlag("--problem_type=moons, spirals"), {
    key: "problem_type",
    values: ["moons", "spirals"],
  });
  assert.deepEqual(parseSetFlag("data.rotations=2,3"), { key: "data.rotations", values: [2, 3] });
  assert.deepEqual(parseSetFlag("data.sphere_radii=1 2;1 3"), {
    key: "data.sphere_radii",
    values: [
      [1, 2],
      [1, 3],
    ],
  });
  for (const bad of ["lr", "lr=", "learning_rate=0.1", "lr=0.1,,0.2", "data.sphere_radii=1 x", "=1"]) {
    assert.throws(() => parseSetFlag(bad), { code: "ERR_MTRACK_INVALID_ARGUMENT" }, bad);
  }
});

test("the grid is the Cartesian product in axis order, the last axis fastest", () => {
  const grid = expandGrid([parseSetFlag("lr=0.001,0.003"), parseSetFlag("hidden_dim=64,128")]);
  assert.deepEqual(grid, [
    { lr: 0.001, hidden_dim: 64 },
    { lr: 0.001, hidden_dim: 128 },
    { lr: 0.003, hidden_dim: 64 },
    { lr: 0.003, hidden_dim: 128 },
  ]);
  assert.deepEqual(expandGrid([]), [{}]);
  assert.throws(() => expandGrid([parseSetFlag("lr=1"), parseSetFlag("lr=2")]), {
    code: "ERR_MTRACK_INVALID_ARGUMENT",
  });
});

test("trial names follow the seed's run_NNN_<md5 8> and do not depend on key order", () => {
  const a = trialName(1, { lr: 0.001, hidden_dim: 64 });
  assert.match(a, /^run_001_[0-9a-f]{8}$/);
  assert.equal(a, trialName(1, { hidden_dim: 64, lr: 0.001 }));
  assert.notEqual(a, trialName(1, { hidden_dim: 64, lr: 0.003 }));
  assert.deepEqual(
    planSweep([parseSetFlag("lr=1,2,3")]).map((t) => t.index),
    [1, 2, 3],
  );
  assert.equal(sweepId(Date.UTC(2026, 10, 27, 9, 30, 5)), "20261127_093005");
});

test("overrides land in params (data.x under data) and become the stage programs' argv", () => {
  const base = {
    problem_type: "spirals",
    n_samples: 3000,
    input_dim: 3,
    seed: 42,
    lr: 0.003,
    data: { rotations: 3 },
  };
  const params = applyOverrides(base, { lr: 0.01, "data.rotations": 2, "data.sphere_radii": [1, 3] });
  assert.equal(params["lr"], 0.01);
  assert.deepEqual(params["data"], { rotations: 2, sphere_radii: [1, 3] });
  assert.equal(base.lr, 0.003, "the base params are not modified");

  const argv = trialArgv(
    params,
    { data: "s/d.npz", results: "s/results", runs: "s/runs" },
    { sweep: "S", trial: "T" },
  );
  const after = (list: string[], flag: string) => list[list.indexOf(flag) + 1];
  assert.equal(after(argv.generate, "--rotations"), "2");
  assert.deepEqual(
    argv.generate.slice(argv.generate.indexOf("--sphere_radii"), argv.generate.indexOf("--sphere_radii") + 3),
    ["--sphere_radii", "1", "3"],
  );
  assert.equal(after(argv.generate, "--output"), "s/d.npz");
  assert.equal(after(argv.train, "--lr"), "0.01");
  assert.equal(after(argv.train, "--data"), "s/d.npz");
  assert.equal(after(argv.train, "--runs_dir"), "s/runs");
  assert.equal(after(argv.train, "--sweep_id"), "S");
  assert.equal(after(argv.train, "--sweep_trial"), "T");
  assert.ok(!argv.train.includes("--rotations"), "dataset flags go to generate_data only");
});

function outcome(index: number, best: number | undefined, lr: number): TrialOutcome {
  const trial: SweepTrial = { index, name: `run_00${index}`, overrides: { lr } };
  return {
    trial,
    exitCode: best === undefined ? 1 : 0,
    metrics: best === undefined ? undefined : { best_acc: best },
    runId: undefined,
  };
}

test("--sort orders by a metric (descending) or a param (ascending); missing values go last", () => {
  const outs = [
    outcome(1, 0.9, 0.3),
    outcome(2, undefined, 0.1),
    outcome(3, 0.97, 0.2),
    outcome(4, 0.9, 0.05),
  ];
  const byAcc = sortOutcomes(outs, parseSort("metrics.best_acc")).map((o) => o.trial.index);
  assert.deepEqual(byAcc, [3, 1, 4, 2]);
  const byAccAsc = sortOutcomes(outs, parseSort("metrics.best_acc asc")).map((o) => o.trial.index);
  assert.deepEqual(byAccAsc, [1, 4, 3, 2]);
  assert.deepEqual(
    sortOutcomes(outs, parseSort("params.lr")).map((o) => o.trial.index),
    [4, 2, 3, 1],
  );
  for (const bad of ["best_acc", "metrics.", "metrics.best_acc up", "tags.x"]) {
    assert.throws(() => parseSort(bad), { code: "ERR_MTRACK_INVALID_ARGUMENT" }, bad);
  }
});

test("runSweep runs at most `jobs` trials at once, keeps going after a failure, returns trial order", async () => {
  const trials = planSweep([parseSetFlag("lr=1,2,3,4,5")]);
  let running = 0;
  let peak = 0;
  const done: number[] = [];
  const outcomes = await runSweep({
    trials,
    jobs: 2,
    runTrial: async (trial) => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5 * (6 - trial.index)));
      running -= 1;
      return { trial, exitCode: trial.index === 2 ? 1 : 0, metrics: undefined, runId: undefined };
    },
    onDone: (o) => done.push(o.trial.index),
  });
  assert.equal(peak, 2);
  assert.deepEqual(
    outcomes.map((o) => o.trial.index),
    [1, 2, 3, 4, 5],
  );
  assert.equal(outcomes[1]?.exitCode, 1);
  assert.equal(done.length, 5);

  const abort = new AbortController();
  abort.abort();
  assert.deepEqual(
    await runSweep({ trials, jobs: 1, signal: abort.signal, runTrial: async () => assert.fail() }),
    [],
  );
});
