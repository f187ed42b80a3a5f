/**
 * Zero-config MLflow capture with the real `mlflow` client (.venv-test): a script that logs with no
 * MLFLOW_TRACKING_URI, run by `mtrack repro` and by `mtrack run`, must land in the repository's runs
 * with its params, metric history, artifacts and model, linked to the stage and the git commit.
 * Build first: `npm run build`.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { runCli, startCli, waitCli } from "../helpers/cli.js";
import { makeTempGitRepo, type TempGitRepo } from "../helpers/git-repo.js";
import { cliJson } from "../helpers/mlflow.js";
import { pythonHas, testPython } from "../helpers/python.js";

const script = fs.readFileSync(
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "mlflow", "capture_train.py"),
  "utf8",
);

interface CliRun {
  runId: string;
  name: string;
  status: string;
  commit: string | null;
  params: Record<string, string>;
  tags: Record<string, string>;
  metrics: Record<string, { last: number; step: number }>;
  outputs?: { models?: { modelId: string }[] };
}

function setup(): { repo: TempGitRepo; commit: string } {
  const repo = makeTempGitRepo();
  repo.write({
    "train.py": script,
    ".gitignore": "out/\n",
    "pipeline.yaml": `stages:\n  train:\n    cmd: ${testPython()} train.py\n    deps: [train.py]\n    outs: [model.txt]\n`,
  });
  return { repo, commit: repo.commit("project") };
}

/** The repo's env without any MLflow variable of the test runner's own. */
function cleanEnv(repo: TempGitRepo, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...repo.env, MLFLOW_HTTP_REQUEST_MAX_RETRIES: "0", ...extra };
  for (const k of Object.keys(env))
    if (k.startsWith("MLFLOW_TRACKING") || k === "MTRACK_MLFLOW_CAPTURE") delete env[k];
  return { ...env, ...extra };
}

async function runs(repo: TempGitRepo): Promise<CliRun[]> {
  return (await cliJson<{ runs: CliRun[] }>(repo, ["runs", "list"])).runs;
}

test("a stage's unconfigured mlflow code is captured by mtrack repro, linked to the stage", async (t) => {
  if (!pythonHas(["mlflow", "sklearn", "numpy"], t)) return;
  const { repo, commit } = setup();
  try {
    await cliJson(repo, ["init"]);
    const r = await runCli(["repro"], { cwd: repo.dir, env: cleanEnv(repo), timeoutMs: 240_000 });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.ok(!fs.existsSync(repo.abs("mlruns")), "no mlruns/ folder");
    const [run, ...rest] = await runs(repo);
    assert.equal(rest.length, 0);
    assert.ok(run);
    assert.equal(run.status, "FINISHED");
    assert.equal(run.name, "captured");
    assert.equal(run.commit, commit);
    assert.deepEqual(run.params, { lr: "0.1" });
    assert.equal(run.tags["mtrack.stage"], "train");
    assert.equal(run.tags["mtrack.captured"], "mlflow");
    assert.equal(run.metrics.loss?.step, 2);
    assert.equal(run.outputs?.models?.length, 1);
    const history = await cliJson<{ points: { step: number; value: number }[] }>(repo, [
      "runs",
      "metric",
      run.runId,
      "loss",
    ]);
    assert.deepEqual(
      history.points.slice(0, 3).map((p) => [p.step, p.value]),
      [
        [0, 1],
        [1, 0.5],
        [2, 1 / 3],
      ],
    );
    const files = await cliJson<{ artifacts: { name: string }[] }>(repo, ["runs", "artifacts", run.runId]);
    assert.ok(
      files.artifacts.some((a) => a.name === "notes.txt"),
      JSON.stringify(files.artifacts),
    );
    // The lock entry names the run.
    assert.match(fs.readFileSync(repo.abs("pipeline.lock"), "utf8"), new RegExp(run.runId));
  } finally {
    repo.cleanup();
  }
});

test("mtrack run -- python captures mlflow runs under its own; a user's MLFLOW_TRACKING_URI is left alone", async (t) => {
  if (!pythonHas(["mlflow", "sklearn", "numpy"], t)) return;
  const { repo } = setup();
  try {
    await cliJson(repo, ["init"]);
    const r = await runCli(["run", "--name", "outer", "--", testPython(), "train.py"], {
      cwd: repo.dir,
      env: cleanEnv(repo),
      timeoutMs: 240_000,
    });
    assert.equal(r.code, 0, r.stderr);
    const all = await runs(repo);
    const outer = all.find((x) => x.name === "outer");
    const inner = all.find((x) => x.name === "captured");
    assert.ok(outer && inner, JSON.stringify(all.map((x) => x.name)));
    assert.equal(inner.status, "FINISHED");
    assert.equal(inner.tags["mtrack.parent_run_id"], outer.runId);
    assert.deepEqual(inner.params, { lr: "0.1" });

    // A user's own tracking URI: mtrack does not override it (here a local file store).
    const own = `file://${repo.abs("own-mlruns")}`;
    const u = await runCli(["run", "--name", "own", "--", testPython(), "train.py"], {
      cwd: repo.dir,
      env: cleanEnv(repo, { MLFLOW_TRACKING_URI: own, MLFLOW_ALLOW_FILE_STORE: "true" }),
      timeoutMs: 240_000,
    });
    assert.equal(u.code, 0, u.stderr);
    assert.match(u.stdout, new RegExp(`"uri": "${own}"`));
    assert.ok(fs.existsSync(repo.abs("own-mlruns")));
    assert.equal((await runs(repo)).filter((x) => x.name === "captured").length, 1);

    // --no-capture: the client gets no URI from mtrack.
    const n = await runCli(
      [
        "run",
        "--no-capture",
        "--",
        testPython(),
        "-c",
        "import os;print(os.environ.get('MLFLOW_TRACKING_URI',''))",
      ],
      {
        cwd: repo.dir,
        env: cleanEnv(repo),
      },
    );
    assert.equal(n.code, 0, n.stderr);
    assert.equal(n.stdout.trim(), "");
  } finally {
    repo.cleanup();
  }
});

test("a child that dies mid-run leaves its captured run FAILED; Ctrl-C stops the server", async (t) => {
  if (!pythonHas(["mlflow", "sklearn", "numpy"], t)) return;
  const { repo } = setup();
  try {
    await cliJson(repo, ["init"]);
    const r = await runCli(["repro"], {
      cwd: repo.dir,
      env: cleanEnv(repo, { CAPTURE_MODE: "crash" }),
      timeoutMs: 240_000,
    });
    assert.equal(r.code, 3, r.stderr + r.stdout);
    const crashed = (await runs(repo)).find((x) => x.name === "captured");
    assert.equal(crashed?.status, "FAILED");
    assert.deepEqual(crashed?.params, { lr: "0.1" });

    // The same under `mtrack run`: mtrack exits with the child's code, the client's run ends FAILED.
    const m = await runCli(["run", "--name", "outer-crash", "--", testPython(), "train.py"], {
      cwd: repo.dir,
      env: cleanEnv(repo, { CAPTURE_MODE: "crash", RUN_NAME: "run-crash" }),
      timeoutMs: 240_000,
    });
    assert.equal(m.code, 3, m.stderr);
    const after = await runs(repo);
    assert.equal(after.find((x) => x.name === "run-crash")?.status, "FAILED");
    assert.equal(after.find((x) => x.name === "outer-crash")?.status, "FAILED");

    // Ctrl-C while the command runs: mtrack exits and its server no longer answers.
    const child = startCli(
      [
        "run",
        "--",
        testPython(),
        "-c",
        "import os,time;print(os.environ['MLFLOW_TRACKING_URI'],flush=True);time.sleep(60)",
      ],
      { cwd: repo.dir, env: cleanEnv(repo), timeoutMs: 60_000 },
    );
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout?.on("data", (b: Buffer) => {
        out += b.toString();
        const m = /(http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m) resolve(m[1] as string);
      });
      child.once("exit", () => reject(new Error(`exited early: ${out}`)));
    });
    const health = await fetch(`${url}/v1/health`);
    assert.equal(health.status, 200);
    child.kill("SIGINT");
    const done = await waitCli(child);
    assert.notEqual(done.code, 0);
    await assert.rejects(fetch(`${url}/v1/health`));
  } finally {
    repo.cleanup();
  }
});
