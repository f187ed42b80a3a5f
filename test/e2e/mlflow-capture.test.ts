/**
 * Zero-config MLflow capture with the real, unmodified `mlflow` client (.venv-test): a script that
 * calls mlflow with no MLFLOW_TRACKING_URI, run by `mtrack run` or as a `mtrack repro` stage, lands in
 * this repository's runs (params, metric history, artifacts), tagged with its stage or parent run; a
 * user's own MLFLOW_TRACKING_URI is left alone; --no-capture turns it off; a client whose process fails
 * leaves its run FAILED, not RUNNING. Build first.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import { test } from "node:test";
import { runCli } from "../helpers/cli.js";
import { makeTempGitRepo, type TempGitRepo } from "../helpers/git-repo.js";
import { pythonHas, testPython } from "../helpers/python.js";

const TRAIN = `
import os, sys, mlflow
mlflow.set_experiment("capture")
run = mlflow.start_run(run_name=sys.argv[1])
mlflow.log_param("lr", 0.1)
for s in range(3):
    mlflow.log_metric("loss", 1.0 / (s + 1), step=s)
with open("note.txt", "w") as f:
    f.write("hi")
mlflow.log_artifact("note.txt")
if len(sys.argv) > 2:
    os._exit(int(sys.argv[2]))  # dies before end_run (no atexit): the run must not stay RUNNING
mlflow.end_run()
`;

interface RunRow {
  runId: string;
  name: string;
  status: string;
  experimentName: string;
  params: Record<string, string>;
  tags: Record<string, string>;
  metrics: Record<string, { last: number; count?: number }>;
  artifacts?: { name: string }[];
}

async function setup(): Promise<TempGitRepo> {
  const repo = makeTempGitRepo();
  repo.write({ "train.py": TRAIN });
  repo.commit("train");
  const init = await runCli(["init"], { cwd: repo.dir, env: repo.env });
  assert.equal(init.code, 0, init.stderr);
  return repo;
}

/** The environment of a user who never configured MLflow. */
function plainEnv(repo: TempGitRepo): NodeJS.ProcessEnv {
  const env = { ...repo.env };
  delete env.MLFLOW_TRACKING_URI;
  delete env.MTRACK_MLFLOW_CAPTURE;
  return env;
}

async function runs(repo: TempGitRepo): Promise<RunRow[]> {
  const r = await runCli(["runs", "list", "--json"], { cwd: repo.dir, env: repo.env });
  assert.equal(r.code, 0, r.stderr);
  return (r.json as { runs: RunRow[] }).runs;
}

async function show(repo: TempGitRepo, id: string): Promise<RunRow> {
  const r = await runCli(["runs", "show", id, "--json"], { cwd: repo.dir, env: repo.env });
  assert.equal(r.code, 0, r.stderr);
  return r.json as RunRow;
}

test("mtrack run -- python train.py: the mlflow client logs into this repository's runs", async (t) => {
  if (!pythonHas(["mlflow"], t)) return;
  const repo = await setup();
  try {
    const env = plainEnv(repo);
    const r = await runCli(["run", "-n", "outer", "--", testPython(), "train.py", "t1"], {
      cwd: repo.dir,
      env,
      timeoutMs: 120_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fs.existsSync(repo.abs("mlruns")), false, "no mlruns/ folder");
    const all = await runs(repo);
    const outer = all.find((x) => x.name === "outer");
    const inner = all.find((x) => x.name === "t1");
    assert.ok(outer && inner, JSON.stringify(all.map((x) => x.name)));
    assert.equal(inner.experimentName, "capture");
    assert.equal(inner.status, "FINISHED");
    assert.deepEqual(inner.params, { lr: "0.1" });
    assert.equal(inner.tags["mtrack.parent_run_id"], outer.runId);
    assert.equal(inner.tags["mtrack.captured"], "mlflow");
    assert.equal(inner.tags["mlflow.source.git.commit"], repo.git("rev-parse", "HEAD"));
    const detail = await show(repo, inner.runId);
    assert.equal(detail.metrics.loss?.count, 3, "the whole metric history");
    assert.equal(detail.metrics.loss?.last, 1 / 3);
    assert.deepEqual(
      detail.artifacts?.map((a) => a.name),
      ["note.txt"],
    );

    // A client that dies before ending its run: the run ends FAILED with the command, not RUNNING.
    const failed = await runCli(["run", "--", testPython(), "train.py", "t2", "3"], {
      cwd: repo.dir,
      env,
      timeoutMs: 120_000,
    });
    assert.equal(failed.code, 3, failed.stderr);
    assert.equal((await runs(repo)).find((x) => x.name === "t2")?.status, "FAILED");

    // --no-capture: the client is on its own (its default local store), mtrack records only its own run.
    const off = await runCli(["run", "--no-capture", "--", testPython(), "train.py", "t3"], {
      cwd: repo.dir,
      env,
      timeoutMs: 120_000,
    });
    assert.equal(off.code, 0, off.stderr);
    assert.equal(
      (await runs(repo)).some((x) => x.name === "t3"),
      false,
    );
  } finally {
    repo.cleanup();
  }
});

test("a user's own MLFLOW_TRACKING_URI is left alone", async (t) => {
  if (!pythonHas(["mlflow"], t)) return;
  const repo = await setup();
  try {
    const store = `sqlite:///${repo.home}/theirs.db`;
    const r = await runCli(["run", "--", testPython(), "train.py", "mine"], {
      cwd: repo.dir,
      env: { ...plainEnv(repo), MLFLOW_TRACKING_URI: store },
      timeoutMs: 120_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      (await runs(repo)).some((x) => x.name === "mine"),
      false,
    );
    assert.ok(fs.existsSync(`${repo.home}/theirs.db`), "the client wrote to the user's store");
  } finally {
    repo.cleanup();
  }
});

test("mtrack repro: a stage that uses mlflow is captured, tagged with its stage", async (t) => {
  if (!pythonHas(["mlflow"], t)) return;
  const repo = await setup();
  try {
    repo.write({
      "pipeline.yaml": `stages:\n  train:\n    cmd: ${testPython()} train.py staged\n    deps: [train.py]\n    outs: [note.txt]\n`,
    });
    repo.commit("pipeline");
    const r = await runCli(["repro"], { cwd: repo.dir, env: plainEnv(repo), timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    const staged = (await runs(repo)).find((x) => x.name === "staged");
    assert.ok(staged, "the stage's mlflow run is recorded");
    assert.equal(staged.status, "FINISHED");
    assert.equal(staged.tags["mtrack.stage"], "train");
    assert.deepEqual(staged.params, { lr: "0.1" });
  } finally {
    repo.cleanup();
  }
});
