/**
 * Runs logged through the MLflow API of `mtrack server --db` are pulled by `mtrack pull --runs` (issue
 * #17): the real mlflow client logs to the team server, then a clone pulls and reads the runs with
 * `mtrack runs list/show/metric/get` — params, tags, the metric history and the artifacts' bytes. A run
 * still RUNNING and a deleted run are not handed out; a pushed run is served as pushed (not rebuilt).
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { LocalRemote } from "../../src/remotes/local.js";
import { runCli } from "../helpers/cli.js";
import { makeTempGitRepo, type TempGitRepo } from "../helpers/git-repo.js";
import { runClient } from "../helpers/mlflow.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";
import { pythonHas } from "../helpers/python.js";
import { startListening, stopProcess } from "../helpers/server.js";
import { makeTempDir, removeTempDir } from "../helpers/tmp.js";
import { S3_ENV, startWeed, weedBinary } from "../unit/remotes/weed.js";

const LOG = `
import json, mlflow
from mlflow.tracking import MlflowClient
mlflow.set_experiment("pgpull")
with mlflow.start_run(run_name="from-mlflow") as r:
    mlflow.log_param("lr", "0.01")
    mlflow.set_tag("team", "vision")
    for s in range(5):
        mlflow.log_metric("loss", 1.0 / (s + 1), step=s)
    mlflow.log_text("hello mlflow\\n", "notes/hello.txt")
    mlflow.log_dict({"a": 1}, "cfg.json")
    finished = r.info.run_id
with mlflow.start_run(run_name="failed") as r:
    mlflow.log_metric("acc", 0.5)
    failed = r.info.run_id
MlflowClient().set_terminated(failed, "FAILED")
client = MlflowClient()
exp = mlflow.get_experiment_by_name("pgpull").experiment_id
running = client.create_run(exp, run_name="still-running").info.run_id
with mlflow.start_run(run_name="gone") as r:
    gone = r.info.run_id
client.delete_run(gone)
print(json.dumps({"finished": finished, "failed": failed, "running": running, "gone": gone}))
`;

async function writeToken(db: string): Promise<string> {
  const env = { ...process.env, MTRACK_DB_URL: db };
  const cwd = os.tmpdir();
  const add = await runCli(["server", "user", "add", "ci", "--role", "write", "--json"], { cwd, env });
  assert.equal(add.code, 0, add.stderr);
  const tok = await runCli(["server", "user", "token", "ci", "--json"], { cwd, env });
  assert.equal(tok.code, 0, tok.stderr);
  return (tok.json as { token: string }).token;
}

interface Ids {
  finished: string;
  failed: string;
  running: string;
  gone: string;
}

/** Logs the fixture's runs with the real mlflow client; returns their ids. */
async function logRuns(repo: TempGitRepo, url: string, token: string): Promise<Ids> {
  const script = path.join(repo.home, "log.py");
  fs.writeFileSync(script, LOG);
  const lines = await runClient(repo, script, url, token);
  return JSON.parse(lines.at(-1) ?? "{}") as Ids;
}

/** A fresh repository with the team server as its default remote; pulls runs and checks what came. */
async function pullAndCheck(url: string, token: string, ids: Ids): Promise<TempGitRepo> {
  const clone = makeTempGitRepo();
  const env = { ...clone.env, MTRACK_REMOTE_TOKEN: token };
  const cli = async (args: string[]) => {
    const r = await runCli(args, { cwd: clone.dir, env, timeoutMs: 60_000 });
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}${r.stdout}`);
    return r;
  };
  await cli(["init"]);
  await cli(["remote", "add", "origin", url, "--default"]);
  const pull = await cli(["pull", "--runs", "--json"]);
  assert.equal((pull.json as { runs: { transferred: number } }).runs.transferred, 2, pull.stdout);
  const list = (await cli(["runs", "list", "--all", "--json"])).json as {
    runs: Array<{ runId: string; name: string; status: string; experimentName: string }>;
  };
  assert.deepEqual(
    list.runs.map((r) => [r.runId, r.name, r.status, r.experimentName]).sort(),
    [
      [ids.finished, "from-mlflow", "FINISHED", "pgpull"],
      [ids.failed, "failed", "FAILED", "pgpull"],
    ].sort(),
  );
  const show = (await cli(["runs", "show", ids.finished, "--json"])).json as {
    params: Record<string, string>;
    tags: Record<string, string>;
    metrics: Record<string, { last: number; min: number; max: number; count: number; step: number }>;
    artifacts: Array<{ name: string; size: number }>;
  };
  assert.equal(show.params.lr, "0.01");
  assert.equal(show.tags.team, "vision");
  assert.deepEqual(show.metrics.loss && [show.metrics.loss.count, show.metrics.loss.step], [5, 4]);
  assert.equal(show.metrics.loss?.last, 0.2);
  assert.equal(show.metrics.loss?.max, 1);
  assert.deepEqual(show.artifacts.map((a) => a.name).sort(), ["cfg.json", "notes/hello.txt"]);
  const history = (await cli(["runs", "metric", ids.finished, "loss", "--json"])).json as {
    points: Array<{ step: number; value: number }>;
  };
  assert.deepEqual(
    history.points.map((p) => [p.step, p.value]),
    [
      [0, 1],
      [1, 0.5],
      [2, 1 / 3],
      [3, 0.25],
      [4, 0.2],
    ],
  );
  const out = path.join(clone.home, "got");
  await cli(["runs", "get", ids.finished, "notes/hello.txt", "-o", out]);
  assert.equal(fs.readFileSync(out, "utf8"), "hello mlflow\n");
  // A second pull brings nothing new: the records are the same runs.
  const again = await cli(["pull", "--runs", "--json"]);
  assert.equal((again.json as { runs: { transferred: number } }).runs.transferred, 0);
  return clone;
}

describe("mtrack pull --runs brings runs logged over MLflow to mtrack server --db", () => {
  let pg: TestPostgres | undefined;
  let skipped = "";
  before(async () => {
    pg = await startPostgres({ skip: (m) => (skipped = m ?? "PostgreSQL unavailable") });
  });
  after(async () => {
    await pg?.stop();
  });

  test("--objects DIR: a clone pulls the finished and failed runs, not the running or deleted ones", async (t) => {
    if (!pg) return t.skip(skipped);
    if (!pythonHas(["mlflow"], t)) return;
    const db = await pg.createDatabase();
    const token = await writeToken(db);
    const objects = makeTempDir();
    const repo = makeTempGitRepo();
    let server: { url: string; child: ChildProcess } | undefined;
    let clone: TempGitRepo | undefined;
    try {
      server = await startListening(
        ["server", "--db", db, "--port", "0", "--objects", objects],
        os.tmpdir(),
        process.env,
      );
      const ids = await logRuns(repo, server.url, token);
      clone = await pullAndCheck(server.url, token, ids);
      // The refs the server lists: the ended, active database runs only.
      const refs = await fetch(`${server.url}/v1/refs/runs`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const names = ((await refs.json()) as { refs: string[] }).refs;
      assert.deepEqual(names, [`runs/${ids.finished}`, `runs/${ids.failed}`].sort());
      const missing = await fetch(`${server.url}/v1/refs/runs/${ids.running}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(missing.status, 404);
      // Pushing from the clone sends nothing back: the server already lists those runs.
      const push = await runCli(["push", "--runs", "--json"], {
        cwd: clone.dir,
        env: { ...clone.env, MTRACK_REMOTE_TOKEN: token },
      });
      assert.equal(push.code, 0, push.stderr);
      assert.equal((push.json as { runs: { transferred: number } }).runs.transferred, 0);
    } finally {
      if (server) await stopProcess(server.child);
      clone?.cleanup();
      repo.cleanup();
      removeTempDir(objects);
    }
  });

  test("--objects s3:// --store DIR: the artifacts come from the bucket", async (t) => {
    if (!pg) return t.skip(skipped);
    if (!pythonHas(["mlflow"], t)) return;
    if (!weedBinary()) return t.skip("weed not installed");
    const weed = await startWeed();
    const db = await pg.createDatabase();
    const token = await writeToken(db);
    const store = makeTempDir();
    const repo = makeTempGitRepo();
    let server: { url: string; child: ChildProcess } | undefined;
    let clone: TempGitRepo | undefined;
    try {
      const bucket = "team";
      await weed.createBucket(bucket);
      server = await startListening(
        [
          "server",
          "--db",
          db,
          "--port",
          "0",
          "--objects",
          `s3://${bucket}/team`,
          "--objects-endpoint",
          weed.endpoint,
          "--store",
          store,
        ],
        os.tmpdir(),
        { ...process.env, ...S3_ENV },
      );
      const ids = await logRuns(repo, server.url, token);
      clone = await pullAndCheck(server.url, token, ids);
      // The artifacts came from the bucket through the server: none was copied into its store.
      const show = await runCli(["runs", "show", ids.finished, "--json"], { cwd: clone.dir, env: clone.env });
      const hashes = (show.json as { artifacts: Array<{ hash: string }> }).artifacts.map((a) => a.hash);
      assert.equal(hashes.length, 2);
      const served = LocalRemote.open({ dir: store });
      try {
        assert.deepEqual(
          hashes.filter((h) => served.sizeOf(h) !== undefined),
          [],
        );
      } finally {
        await served.close();
      }
    } finally {
      if (server) await stopProcess(server.child);
      await weed.stop();
      clone?.cleanup();
      repo.cleanup();
      removeTempDir(store);
    }
  });
});
