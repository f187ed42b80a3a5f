/**
 * The same MLflow client script (test/fixtures/mlflow/train.py: experiment, params/metrics/tags in
 * batches, nested/failed/deleted runs, search with a metric filter + a param filter + order_by, metric
 * history, artifacts up and down) against both backends of `mtrack server`: the repository's files and
 * PostgreSQL (`--db`, a real PostgreSQL started by the test, artifacts in `--objects DIR`). Then what only
 * the team server has: roles from the database's users, runs recording their user, two servers on one
 * database seeing each other's writes at once, and an unreachable database at start.
 * Build first: `npm run build`.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { runCli, startCli, waitCli } from "../helpers/cli.js";
import { makeTempGitRepo, type TempGitRepo } from "../helpers/git-repo.js";
import { cliJson, runClient, startServer, token } from "../helpers/mlflow.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";
import { pythonHas } from "../helpers/python.js";
import { S3_ENV, startWeed, type Weed, weedBinary } from "../unit/remotes/weed.js";

const trainPy = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "..",
  "fixtures",
  "mlflow",
  "train.py",
);

/** What train.py prints: what the client saw. */
interface Seen {
  train: string;
  failed: string;
  deleted: string;
  param_change: string;
  search: string[];
  search_by_loss_desc: string[];
  history: [number, number][];
  get_run: {
    status: string;
    metrics: Record<string, number>;
    params: Record<string, string>;
    tags: Record<string, string>;
  };
  artifacts: string[];
  outputs: [string, boolean][];
  model_json: unknown;
  train_log: string;
  weights_sha256: string;
  deleted_stage: string;
  failed_status: string;
}

/** One backend: tokens and the `mtrack server` arguments (beyond --port) in a fresh repository. */
interface Backend {
  name: string;
  /** Why it cannot run here, if it cannot. */
  skip(): string | undefined;
  setup(repo: TempGitRepo): Promise<{ write: string; read: string; args: string[] }>;
}

let pg: TestPostgres | undefined;
let pgSkipped = "";
/** The database of the current PostgreSQL test (a fresh one per test). */
let dbUrl = "";
let weed: Weed | undefined;

async function dbToken(repo: TempGitRepo, user: string, role: string): Promise<string> {
  await cliJson(repo, ["server", "user", "add", user, "--role", role, "--db", dbUrl]);
  const t = await cliJson<{ token: string }>(repo, ["server", "user", "token", user, "--db", dbUrl]);
  return t.token;
}

async function dbSetup(repo: TempGitRepo): Promise<{ write: string; read: string }> {
  dbUrl = await pg!.createDatabase();
  return { write: await dbToken(repo, "trainer", "write"), read: await dbToken(repo, "reader", "read") };
}

const BACKENDS: Backend[] = [
  {
    name: "files",
    skip: () => undefined,
    setup: async (repo) => ({
      write: await token(repo, "trainer"),
      read: await token(repo, "reader", true),
      args: [],
    }),
  },
  {
    name: "postgres, objects in a directory",
    skip: () => (pg ? undefined : pgSkipped),
    setup: async (repo) => ({
      ...(await dbSetup(repo)),
      args: ["--db", dbUrl, "--objects", path.join(repo.home, "objects")],
    }),
  },
  {
    name: "postgres, objects on S3 (SeaweedFS)",
    skip: () => (!pg ? pgSkipped : weedBinary() ? undefined : "weed not installed"),
    setup: async (repo) => {
      weed ??= await startWeed();
      const bucket = `mtrack-pg-${Date.now()}`;
      await weed.createBucket(bucket);
      Object.assign(repo.env, S3_ENV);
      return {
        ...(await dbSetup(repo)),
        args: ["--db", dbUrl, "--objects", `s3://${bucket}/team`, "--objects-endpoint", weed.endpoint],
      };
    },
  },
];

async function api(
  url: string,
  method: string,
  endpoint: string,
  tok: string,
  body?: object,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`${url}/api/2.0/mlflow${endpoint}`, {
    method,
    headers: { "content-type": "application/json", authorization: `Bearer ${tok}` },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

function stop(child: ChildProcess | undefined): Promise<unknown> {
  if (!child || child.exitCode !== null) return Promise.resolve();
  child.kill("SIGTERM");
  return waitCli(child);
}

before(async () => {
  pg = await startPostgres({ skip: (m) => (pgSkipped = m ?? "PostgreSQL unavailable") });
});
after(async () => {
  await pg?.stop();
  await weed?.stop();
});

for (const backend of BACKENDS) {
  describe(`mtrack server on ${backend.name}`, () => {
    test("the mlflow client logs, searches, reads history and moves artifacts", async (t) => {
      if (!pythonHas(["mlflow"], t)) return;
      const why = backend.skip();
      if (why !== undefined) return t.skip(why);
      const repo = makeTempGitRepo();
      let server: { child: ChildProcess; url: string } | undefined;
      try {
        repo.write({ "train.py": fs.readFileSync(trainPy, "utf8") });
        assert.equal((await runCli(["init"], { cwd: repo.dir, env: repo.env })).code, 0);
        repo.commit("training code");
        const { write, read, args } = await backend.setup(repo);
        server = await startServer(repo, args);
        const { url } = server;
        const seen = JSON.parse((await runClient(repo, "train.py", url, write)).pop() ?? "{}") as Seen;

        assert.equal(seen.param_change, "INVALID_PARAMETER_VALUE");
        assert.deepEqual(seen.search, ["train"]);
        assert.deepEqual(seen.search_by_loss_desc, ["broken", "train"]);
        assert.equal(seen.history.length, 100);
        assert.deepEqual(seen.history[0], [0, 1]);
        assert.deepEqual(seen.history[99], [99, 0.01]);
        assert.equal(seen.get_run.status, "FINISHED");
        assert.deepEqual(seen.get_run.metrics, {
          loss: 0.01,
          acc: 0.99,
          lr_now: 0.01 * 0.99 ** 99,
          grad_norm: 1 + (99 % 7),
          val_loss: 0.02,
        });
        assert.deepEqual(seen.get_run.params, { lr: "0.01", epochs: "100", optimizer: "adam" });
        assert.equal(seen.get_run.tags.team, "vision");
        assert.equal(seen.get_run.tags.phase, "main");
        assert.equal(seen.get_run.tags["mlflow.runName"], "train");
        assert.deepEqual(seen.artifacts, ["config", "logs", "outputs", "summary.txt"]);
        assert.deepEqual(seen.outputs, [
          ["outputs/sub", true],
          ["outputs/weights.bin", false],
        ]);
        assert.deepEqual(seen.model_json, { layers: [64, 32], activation: "relu" });
        assert.equal(seen.train_log, "epoch 100 done\n");
        const weights = Buffer.alloc(256 * 2048);
        for (let i = 0; i < weights.length; i++) weights[i] = i % 256;
        const { createHash } = await import("node:crypto");
        assert.equal(seen.weights_sha256, createHash("sha256").update(weights).digest("hex"));
        assert.equal(seen.deleted_stage, "deleted");
        assert.equal(seen.failed_status, "FAILED");

        // Roles: a read token reads but may not write; no token may do neither.
        const got = await api(url, "GET", `/runs/get?run_id=${seen.train}`, read);
        assert.equal(got.status, 200);
        assert.equal(
          (await api(url, "POST", "/runs/create", read, { experiment_id: "0" })).body.error_code,
          "PERMISSION_DENIED",
        );
        assert.equal((await api(url, "GET", `/runs/get?run_id=${seen.train}`, "mtk_x_y")).status, 401);

        if (backend.name !== "files") {
          // Runs record the user of the token that created them; nothing is in the repository's files.
          const info = (got.body.run as { info: { user_id?: string } }).info;
          assert.equal(info.user_id, "trainer");
          const runs = await runCli(["runs", "list", "--json"], { cwd: repo.dir, env: repo.env });
          assert.deepEqual(
            (runs.json as { runs: unknown[] }).runs,
            [],
            "nothing went to the repository's files",
          );
          assert.equal(fs.existsSync(path.join(repo.dir, ".mtrack", "runs")), false);
        }
      } finally {
        await stop(server?.child);
        repo.cleanup();
      }
    });
  });
}

describe("team server only", () => {
  test("two servers on one database: a write through one is read through the other at once", async (t) => {
    if (!pg) return t.skip(pgSkipped);
    dbUrl = await pg.createDatabase();
    // An artifact put through one server is read through the other: the objects store is shared.
    const repo = makeTempGitRepo();
    const servers: { child: ChildProcess; url: string }[] = [];
    try {
      const write = await dbToken(repo, "ana", "write");
      const args = ["--db", dbUrl, "--objects", path.join(repo.home, "objects")];
      servers.push(await startServer(repo, args), await startServer(repo, args));
      const [a, b] = servers.map((s) => s.url) as [string, string];
      const exp = await api(a, "POST", "/experiments/create", write, { name: "shared" });
      assert.equal(exp.status, 200, JSON.stringify(exp.body));
      const experimentId = exp.body.experiment_id as string;
      const created = await api(b, "POST", "/runs/create", write, { experiment_id: experimentId });
      const runId = (created.body.run as { info: { run_id: string } }).info.run_id;
      for (let step = 0; step < 20; step++) {
        const via = step % 2 === 0 ? a : b;
        const r = await api(via, "POST", "/runs/log-batch", write, {
          run_id: runId,
          metrics: [{ key: "loss", value: 1 / (step + 1), timestamp: step, step }],
          ...(step === 0 ? { params: [{ key: "lr", value: "0.1" }] } : {}),
        });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        // Read at once through the other server.
        const other = via === a ? b : a;
        const seen = await api(other, "GET", `/runs/get?run_id=${runId}`, write);
        const metrics = (seen.body.run as { data: { metrics: { key: string; step?: number }[] } }).data
          .metrics;
        assert.equal(metrics[0]?.step ?? 0, step);
      }
      const history = await api(a, "GET", `/metrics/get-history?run_id=${runId}&metric_key=loss`, write);
      assert.equal((history.body.metrics as unknown[]).length, 20);
      const put = await fetch(
        `${a}/api/2.0/mlflow-artifacts/artifacts/${experimentId}/${runId}/artifacts/notes.txt`,
        { method: "PUT", headers: { authorization: `Bearer ${write}` }, body: "hello" },
      );
      assert.equal(put.status, 200);
      const down = await fetch(
        `${b}/api/2.0/mlflow-artifacts/artifacts/${experimentId}/${runId}/artifacts/notes.txt`,
        { headers: { authorization: `Bearer ${write}` } },
      );
      assert.equal(await down.text(), "hello");
      const found = await api(b, "POST", "/runs/search", write, {
        experiment_ids: [experimentId],
        filter: "metrics.loss < 0.1 and params.lr = '0.1'",
        order_by: ["metrics.loss ASC"],
      });
      assert.deepEqual(
        (found.body.runs as { info: { run_id: string } }[]).map((r) => r.info.run_id),
        [runId],
      );
    } finally {
      await Promise.all(servers.map((s) => stop(s.child)));
      repo.cleanup();
    }
  });

  test("PostgreSQL restarted under a server: retryable 503s meanwhile, then it serves again, nothing acknowledged lost", async (t) => {
    if (!pg) return t.skip(pgSkipped);
    dbUrl = await pg.createDatabase();
    const repo = makeTempGitRepo();
    let server: { child: ChildProcess; url: string } | undefined;
    try {
      const write = await dbToken(repo, "ana", "write");
      server = await startServer(repo, ["--db", dbUrl, "--objects", path.join(repo.home, "objects")]);
      const { url } = server;
      const created = await api(url, "POST", "/runs/create", write, { experiment_id: "0" });
      const runId = (created.body.run as { info: { run_id: string } }).info.run_id;
      const point = (step: number) => ({
        run_id: runId,
        metrics: [{ key: "m", value: step, timestamp: step, step }],
      });
      assert.equal((await api(url, "POST", "/runs/log-batch", write, point(0))).status, 200);
      pg.pause();
      try {
        const down = await api(url, "POST", "/runs/log-batch", write, point(1));
        assert.equal(down.status, 503, JSON.stringify(down.body));
      } finally {
        pg.start();
      }
      let again = await api(url, "POST", "/runs/log-batch", write, point(2));
      // The first call after the restart may still meet a connection the restart closed.
      if (again.status === 503) again = await api(url, "POST", "/runs/log-batch", write, point(2));
      assert.equal(again.status, 200, JSON.stringify(again.body));
      const history = await api(url, "GET", `/metrics/get-history?run_id=${runId}&metric_key=m`, write);
      assert.deepEqual(
        (history.body.metrics as { step?: number }[]).map((m) => m.step ?? 0),
        [0, 2],
      );
    } finally {
      await stop(server?.child);
      repo.cleanup();
    }
  });

  test("an unreachable database at start: a clear error naming the URL without its password", async () => {
    const repo = makeTempGitRepo();
    try {
      const url = "postgresql://mtrack:hunter2@127.0.0.1:1/mtrack";
      const child = startCli(["server", "--port", "0", "--db", url, "--objects", path.join(repo.home, "o")], {
        cwd: repo.dir,
        env: repo.env,
      });
      const r = await waitCli(child);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr + r.stdout, /127\.0\.0\.1:1\/mtrack/);
      assert.ok(!(r.stderr + r.stdout).includes("hunter2"), r.stderr);
      const noObjects = await runCli(["server", "--port", "0", "--db", url], {
        cwd: repo.dir,
        env: repo.env,
      });
      assert.equal(noObjects.code, 2);
      const noDb = await runCli(["server", "--port", "0", "--objects", "o"], {
        cwd: repo.dir,
        env: repo.env,
      });
      assert.equal(noDb.code, 2, "--objects without --db is refused");
    } finally {
      repo.cleanup();
    }
  });
});
