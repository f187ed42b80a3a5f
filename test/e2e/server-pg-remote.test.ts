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
import { Repo } from "../../src/repo.js";
import { annotateRun } from "../../src/tracking/annotations.js";
import { startRun } from "../../src/tracking/api.js";
import { openTracking } from "../../src/tracking/context.js";
import { errorCode, runCli } from "../helpers/cli.js";
import { makeTempGitRepo } from "../helpers/git-repo.js";
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

/** A run's tags through the team server's MLflow API. */
async function mlflowRun(
  url: string,
  token: string,
  runId: string,
): Promise<{ tags: Record<string, string> }> {
  const r = await fetch(`${url}/api/2.0/mlflow/runs/get?run_id=${runId}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(r.status, 200);
  const run = ((await r.json()) as { run: { data: { tags?: Array<{ key: string; value: string }> } } }).run;
  return { tags: Object.fromEntries((run.data.tags ?? []).map((t) => [t.key, t.value])) };
}

/** The names of the Default experiment's runs through the MLflow API. */
async function searchNames(url: string, token: string): Promise<string[]> {
  const r = await fetch(`${url}/api/2.0/mlflow/runs/search`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ experiment_ids: ["0"] }),
  });
  assert.equal(r.status, 200);
  return (
    ((await r.json()) as { runs?: Array<{ info: { run_name: string } }> }).runs?.map(
      (x) => x.info.run_name,
    ) ?? []
  );
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

/**
 * The web UI served by the team server over the database: the page behind the read-token rule, and the
 * JSON API the page reads (the shapes of src/ui/wire.ts) with the pushed run and a run logged over MLflow.
 */
async function checkUi(url: string, token: string): Promise<string> {
  const auth = { authorization: `Bearer ${token}` };
  const get = async (p: string, headers: Record<string, string> = auth) => {
    const r = await fetch(`${url}${p}`, { headers });
    return { status: r.status, text: await r.text(), type: r.headers.get("content-type") ?? "" };
  };
  const page = await get("/");
  assert.equal(page.status, 200, page.text);
  assert.match(page.type, /html/);
  assert.equal((await get("/api/v1/runs", {})).status, 401, "a token is needed");
  // A run logged through the MLflow API, with a metric history.
  const post = async (p: string, body: unknown) => {
    const r = await fetch(`${url}/api/2.0/mlflow/${p}`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    assert.equal(r.status, 200, await r.clone().text());
    return (await r.json()) as { run?: { info: { run_id: string } } };
  };
  const created = await post("runs/create", {
    experiment_id: "0",
    run_name: "logged",
    start_time: Date.now(),
  });
  const logged = created.run?.info.run_id ?? "";
  const metrics = Array.from({ length: 30 }, (_, i) => ({
    key: "loss",
    value: 30 - i,
    timestamp: 1000 + i,
    step: i,
  }));
  await post("runs/log-batch", { run_id: logged, metrics, params: [{ key: "lr", value: "0.5" }] });

  const exps = JSON.parse((await get("/api/v1/experiments")).text) as {
    experiments: Array<{ name: string; runCount: number }>;
  };
  assert.deepEqual(
    exps.experiments.map((e) => [e.name, e.runCount]),
    [["Default", 2]],
  );
  const runs = JSON.parse((await get("/api/v1/runs?sort=metrics.loss%20DESC")).text) as {
    total: number;
    runs: Array<{ runId: string; name: string; params: Record<string, string> }>;
    keys: { params: string[]; metrics: string[] };
  };
  assert.equal(runs.total, 2);
  assert.deepEqual(
    runs.runs.map((r) => [r.name, r.params.lr]),
    [
      ["logged", "0.5"],
      ["shared-run", "0.1"],
    ],
  );
  assert.deepEqual(runs.keys.metrics, ["loss"]);
  const filtered = JSON.parse(
    (await get(`/api/v1/runs?filter=${encodeURIComponent("params.lr = '0.1'")}`)).text,
  ) as {
    runs: Array<{ name: string; runId: string }>;
  };
  assert.deepEqual(
    filtered.runs.map((r) => r.name),
    ["shared-run"],
  );
  const shared = filtered.runs[0]?.runId ?? "";
  const detail = await get(`/api/v1/runs/${shared}`);
  assert.equal(detail.status, 200, detail.text);
  assert.equal((JSON.parse(detail.text) as { status: string }).status, "FINISHED");
  const files = JSON.parse((await get(`/api/v1/runs/${shared}/artifacts`)).text) as {
    files: Array<{ path: string }>;
  };
  assert.ok(
    files.files.some((f) => f.path === "logs/output.txt"),
    JSON.stringify(files),
  );
  const out = await get(`/api/v1/runs/${shared}/artifact?path=logs/output.txt`);
  assert.equal(out.status, 200, out.text);
  assert.equal(out.text, "trained\n");
  const ld = JSON.parse((await get(`/api/v1/runs/${logged}`)).text) as {
    metrics: Record<string, { last: number; min: number; max: number; count: number }>;
  };
  assert.deepEqual(
    ld.metrics.loss && [
      ld.metrics.loss.last,
      ld.metrics.loss.min,
      ld.metrics.loss.max,
      ld.metrics.loss.count,
    ],
    [1, 1, 30, 30],
  );
  const series = JSON.parse((await get(`/api/v1/series?runs=${logged}&keys=loss&points=10`)).text) as {
    series: Array<{ key: string; total: number; downsampled: boolean; steps: number[]; values: number[] }>;
  };
  assert.equal(series.series.length, 1);
  assert.equal(series.series[0]?.total, 30);
  assert.equal(series.series[0]?.downsampled, true);
  assert.equal(series.series[0]?.steps.length, 10);
  assert.deepEqual([series.series[0]?.steps[0], series.series[0]?.steps.at(-1)], [0, 29]);
  assert.equal((await get("/api/v1/runs/ffffffffffffffffffffffffffffffff")).status, 404);
  const put = await fetch(`${url}/api/2.0/mlflow-artifacts/artifacts/0/${logged}/artifacts/notes.txt`, {
    method: "PUT",
    headers: auth,
    body: "notes\n",
  });
  assert.equal(put.status, 200, await put.text());
  return logged;
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
      const loggedId = await checkUi(server.url, token);
      await shareRunCache(w);
      // A tag added after the run ended travels as an annotation and lands on the database run.
      const listed = await w.cli(["runs", "list", "--json"], w.a.dir);
      const shared = (listed.json as { runs: Array<{ runId: string }> }).runs[0]?.runId ?? "";
      annotateRun(path.join(w.a.dir, ".mtrack", "runs"), shared, { tags: { reviewed: "yes" } });
      const tagged = await w.cli(["push", "--runs", "--json"], w.a.dir);
      assert.equal(tagged.code, 0, tagged.stderr);
      assert.equal((await mlflowRun(server.url, token, shared)).tags.reviewed, "yes");
      // A run pushed into the objects directory while no server recorded it (a directory remote) is
      // recorded when a server starts on it.
      assert.equal((await w.cli(["run", "-n", "offline", "--", "true"], w.a.dir)).code, 0);
      assert.equal((await w.cli(["remote", "add", "direct", objects], w.a.dir)).code, 0);
      const direct = await w.cli(["push", "--runs", "-r", "direct", "--json"], w.a.dir);
      assert.equal(direct.code, 0, direct.stderr);
      // A restarted server still has the run (it is in the database), and pushes are still idempotent.
      await stopProcess(server.child);
      server = await startTeam(db, ["--objects", objects], process.env, Number(new URL(server.url).port));
      await readPushedRun(server.url, token);
      const names = await searchNames(server.url, token);
      assert.deepEqual(names.sort(), ["logged", "offline", "shared-run"]);
      // gc --cloud from a clone keeps what only the database names (an artifact logged over MLflow).
      const gc = await w.cli(["gc", "--cloud", "--keep-newer", "0", "--json"], w.a.dir);
      assert.equal(gc.code, 0, gc.stderr);
      const kept = await fetch(
        `${server.url}/api/2.0/mlflow-artifacts/artifacts/0/${loggedId}/artifacts/notes.txt`,
        {
          headers: { authorization: `Bearer ${token}` },
        },
      );
      assert.equal(kept.status, 200, await kept.clone().text());
      assert.equal(await kept.text(), "notes\n");
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

  test("a pushed run keeps its experiment, metric histories and directory artifact in the database", async (t) => {
    if (!pg) return t.skip(skipped);
    const db = await pg.createDatabase();
    const token = await writeToken(db);
    const objects = makeTempDir();
    const server = await startTeam(db, ["--objects", objects]);
    const repo = makeTempGitRepo();
    try {
      const env = { ...repo.env, MTRACK_REMOTE_TOKEN: token };
      for (const args of [["init"], ["remote", "add", "origin", server.url, "--default"]]) {
        assert.equal((await runCli(args, { cwd: repo.dir, env })).code, 0);
      }
      repo.write({ "plots/a.txt": "A\n", "plots/sub/b.txt": "B\n" });
      const tracking = openTracking(Repo.open({ cwd: repo.dir }));
      const run = await startRun({
        ...tracking,
        experiment: "team-exp",
        name: "rich",
        params: { lr: 0.3 },
        tags: { owner: "ana" },
        installProcessHooks: false,
      });
      for (let step = 0; step < 5; step++)
        run.logMetric("loss", 1 / (step + 1), { step, timestamp: 1000 + step });
      run.logMetric("acc", 0.5, { step: 0, timestamp: 1 });
      run.logMetric("acc", 0.9, { step: 3, timestamp: 2 });
      run.logMetric("acc", 0.7, { step: 1, timestamp: 3 });
      await run.logArtifacts(repo.abs("plots"), { as: "plots" });
      await run.end();
      const push = await runCli(["push", "--runs", "--json"], { cwd: repo.dir, env });
      assert.equal(push.code, 0, push.stderr);

      const call = async (p: string, body?: unknown) => {
        const r = await fetch(`${server.url}/api/2.0/${p}`, {
          method: body === undefined ? "GET" : "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        const text = await r.text();
        assert.equal(r.status, 200, `${p}: ${text}`);
        return text;
      };
      const exp = JSON.parse(await call("mlflow/experiments/get-by-name?experiment_name=team-exp")) as {
        experiment: { experiment_id: string };
      };
      const found = JSON.parse(
        await call("mlflow/runs/search", { experiment_ids: [exp.experiment.experiment_id] }),
      ) as {
        runs: Array<{
          info: { run_id: string; run_name: string; user_id: string };
          data: {
            metrics: Array<{ key: string; value: number; step: number }>;
            tags: Array<{ key: string; value: string }>;
          };
        }>;
      };
      assert.equal(found.runs.length, 1);
      const got = found.runs[0]!;
      assert.equal(got.info.run_name, "rich");
      assert.equal(got.info.user_id, "ci");
      assert.equal(got.data.tags.find((x) => x.key === "owner")?.value, "ana");
      // Latest per key: the highest step (acc 0.9 at step 3, though logged before step 1).
      assert.deepEqual(got.data.metrics.map((m) => [m.key, m.value, m.step ?? 0]).sort(), [
        ["acc", 0.9, 3],
        ["loss", 0.2, 4],
      ]);
      const history = JSON.parse(
        await call(`mlflow/metrics/get-history?run_id=${got.info.run_id}&metric_key=loss`),
      ) as { metrics: Array<{ value: number; step: number; timestamp: number }> };
      assert.deepEqual(
        history.metrics.map((m) => [m.step ?? 0, m.value, m.timestamp]),
        [0, 1, 2, 3, 4].map((s) => [s, 1 / (s + 1), 1000 + s]),
      );
      const list = JSON.parse(
        await call(`mlflow/artifacts/list?run_id=${got.info.run_id}&path=plots/sub`),
      ) as {
        files: Array<{ path: string }>;
      };
      assert.deepEqual(
        list.files.map((f) => f.path),
        ["plots/sub/b.txt"],
      );
      const b = await call(
        `mlflow-artifacts/artifacts/${exp.experiment.experiment_id}/${got.info.run_id}/artifacts/plots/sub/b.txt`,
      );
      assert.equal(b, "B\n");
    } finally {
      await stopProcess(server.child);
      repo.cleanup();
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
