/**
 * `mtrack push/pull` against the PostgreSQL team server (issue #17, "the same behaviour on both
 * backends"): the same two-clone assertions as test/e2e/remote.test.ts (test/helpers/remote-world.ts),
 * plus the run-cache, against `mtrack server --db URL --objects DIR` and `--objects s3://` on SeaweedFS.
 * A pushed run is recorded in the database: the server's MLflow API reads it (params, metrics, artifacts).
 * With s3:// objects and no --store, push answers a clear error with a hint.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { errorCode, runCli } from "../helpers/cli.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";
import { makeWorld, shareThrough, type World } from "../helpers/remote-world.js";
import { startListening, stopProcess } from "../helpers/server.js";
import { makeTempDir, removeTempDir } from "../helpers/tmp.js";
import { S3_ENV, startWeed, weedBinary } from "../unit/remotes/weed.js";

/** A write user's token on the database. */
async function writeToken(db: string): Promise<string> {
  const env = { ...process.env, MTRACK_DB_URL: db };
  const cwd = os.tmpdir();
  const add = await runCli(["server", "user", "add", "ci", "--role", "write", "--json"], { cwd, env });
  assert.equal(add.code, 0, add.stderr);
  const tok = await runCli(["server", "user", "token", "ci", "--json"], { cwd, env });
  assert.equal(tok.code, 0, tok.stderr);
  return (tok.json as { token: string }).token;
}

async function startTeam(
  db: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  port = 0,
): Promise<{ url: string; child: ChildProcess }> {
  return startListening(["server", "--db", db, "--port", String(port), ...args], os.tmpdir(), env);
}

const PIPELINE =
  "stages:\n  greet:\n    cmd: cat data/f1.txt > greeting.txt\n    deps: [data/f1.txt]\n    outs: [greeting.txt]\n";

/** The run-cache travels: a stage run in A restores in B (not run again) after push/pull --run-cache. */
async function shareRunCache(w: World): Promise<void> {
  w.a.write({ "pipeline.yaml": PIPELINE });
  const repro = await w.cli(["repro", "--json"], w.a.dir);
  assert.equal(repro.code, 0, repro.stderr);
  const push = await w.cli(["push", "--run-cache", "--json"], w.a.dir);
  assert.equal(push.code, 0, push.stderr);
  fs.writeFileSync(path.join(w.b, "pipeline.yaml"), PIPELINE);
  const pull = await w.cli(["pull", "--run-cache", "--json"], w.b);
  assert.equal(pull.code, 0, pull.stderr);
  const again = await w.cli(["repro", "--json"], w.b);
  assert.equal(again.code, 0, again.stderr);
  assert.match(JSON.stringify(again.json), /restored/, JSON.stringify(again.json));
  assert.equal(fs.readFileSync(path.join(w.b, "greeting.txt"), "utf8"), "line 1\n");
}

/** The pushed run, read through the team server's MLflow API (it is a database run now). */
async function readPushedRun(url: string, token: string): Promise<void> {
  const call = async (p: string, body?: unknown) => {
    const r = await fetch(`${url}${p}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await r.text();
    assert.equal(r.status, 200, `${p}: ${text}`);
    return text;
  };
  const found = JSON.parse(
    await call("/api/2.0/mlflow/runs/search", {
      experiment_ids: ["0"],
      filter: "params.lr = '0.1'",
    }),
  ) as { runs?: Array<{ info: { run_id: string; run_name: string; status: string } }> };
  assert.deepEqual(
    (found.runs ?? []).map((r) => [r.info.run_name, r.info.status]),
    [["shared-run", "FINISHED"]],
  );
  const runId = found.runs?.[0]?.info.run_id ?? "";
  const list = JSON.parse(await call(`/api/2.0/mlflow/artifacts/list?run_id=${runId}&path=logs`)) as {
    files?: Array<{ path: string }>;
  };
  assert.ok(
    (list.files ?? []).some((f) => f.path === "logs/output.txt"),
    JSON.stringify(list),
  );
  const out = await call(`/api/2.0/mlflow-artifacts/artifacts/0/${runId}/artifacts/logs/output.txt`);
  assert.equal(out, "trained\n");
}

describe("mtrack push/pull against mtrack server --db", { concurrency: 2 }, () => {
  let pg: TestPostgres | undefined;
  let skipped = "";
  before(async () => {
    pg = await startPostgres({ skip: (m) => (skipped = m ?? "PostgreSQL unavailable") });
  });
  after(async () => {
    await pg?.stop();
  });

  test("--objects DIR: two clones share data, runs and the run-cache; the pushed run is a database run", async (t) => {
    if (!pg) return t.skip(skipped);
    const db = await pg.createDatabase();
    const token = await writeToken(db);
    const objects = makeTempDir();
    let server = await startTeam(db, ["--objects", objects]);
    const w = await makeWorld(server.url, [], { MTRACK_REMOTE_TOKEN: token });
    try {
      await shareThrough(w);
      await readPushedRun(server.url, token);
      await shareRunCache(w);
      // A restarted server still has the run (it is in the database), and pushes are still idempotent.
      await stopProcess(server.child);
      server = await startTeam(db, ["--objects", objects], process.env, Number(new URL(server.url).port));
      await readPushedRun(server.url, token);
      const again = await w.cli(["push", "--runs", "--json"], w.a.dir);
      assert.equal(again.code, 0, again.stderr);
      assert.equal((again.json as { runs: { transferred: number } }).runs.transferred, 0);
    } finally {
      await stopProcess(server.child);
      w.cleanup();
      removeTempDir(objects);
    }
  });

  test("--objects s3:// (SeaweedFS) with --store DIR: push/pull work, the run's artifacts are in the bucket", {
    skip: weedBinary() ? false : "weed not installed",
  }, async (t) => {
    if (!pg) return t.skip(skipped);
    const db = await pg.createDatabase();
    const token = await writeToken(db);
    const weed = await startWeed();
    const storeDir = makeTempDir();
    let server: { url: string; child: ChildProcess } | undefined;
    let w: World | undefined;
    try {
      await weed.createBucket("team");
      const env = { ...process.env, ...S3_ENV };
      const s3 = ["--objects", "s3://team/mtrack", "--objects-endpoint", weed.endpoint];
      // Without --store: no store to push to, and the client says so with the way out.
      const bare = await startTeam(db, s3, env);
      try {
        const lone = await makeWorld(bare.url, [], { MTRACK_REMOTE_TOKEN: token });
        try {
          const r = await lone.cli(["push", "--json"], lone.a.dir);
          assert.equal(r.code, 2);
          assert.equal(errorCode(r), "ERR_MTRACK_INVALID_ARGUMENT");
          const err = (r.json as { error: { message: string; hint: string } }).error;
          assert.match(err.message, /serves no store/);
          assert.match(err.hint, /--store/);
        } finally {
          lone.cleanup();
        }
      } finally {
        await stopProcess(bare.child);
      }
      server = await startTeam(db, [...s3, "--store", storeDir], env);
      w = await makeWorld(server.url, [], { MTRACK_REMOTE_TOKEN: token });
      await shareThrough(w);
      await readPushedRun(server.url, token);
      await shareRunCache(w);
    } finally {
      if (server) await stopProcess(server.child);
      w?.cleanup();
      removeTempDir(storeDir);
      await weed.stop();
    }
  });
});
