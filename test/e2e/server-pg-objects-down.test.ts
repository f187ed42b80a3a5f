/**
 * Issue 17 §6: the objects store unreachable under a team server (`--db` with `--objects s3://` on a real
 * SeaweedFS that is then stopped). An artifact upload fails with a retryable 503 naming the objects store,
 * and the run does not list the artifact its bytes never reached; the run's metadata calls keep working
 * (they only need PostgreSQL). Build first: `npm run build`.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { test } from "node:test";
import { waitCli } from "../helpers/cli.js";
import { makeTempGitRepo } from "../helpers/git-repo.js";
import { cliJson, startServer } from "../helpers/mlflow.js";
import { startPostgres } from "../helpers/postgres.js";
import { S3_ENV, startWeed, weedBinary } from "../unit/remotes/weed.js";

// biome-ignore lint/suspicious/noExplicitAny: the API's JSON is read field by field
type Json = any;

test("objects store down: artifact upload answers 503 and is not recorded; metadata still works", async (t) => {
  if (!weedBinary()) return t.skip("weed not installed (scripts/test-setup.sh)");
  const pg = await startPostgres(t);
  if (!pg) return;
  const repo = makeTempGitRepo();
  const weed = await startWeed();
  let server: { child: ChildProcess; url: string } | undefined;
  try {
    const dbUrl = await pg.createDatabase();
    const bucket = `mtrack-down-${Date.now()}`;
    await weed.createBucket(bucket);
    Object.assign(repo.env, S3_ENV);
    await cliJson(repo, ["server", "user", "add", "trainer", "--role", "write", "--db", dbUrl]);
    const { token } = await cliJson<{ token: string }>(repo, [
      "server",
      "user",
      "token",
      "trainer",
      "--db",
      dbUrl,
    ]);
    server = await startServer(repo, [
      "--db",
      dbUrl,
      "--objects",
      `s3://${bucket}/team`,
      "--objects-endpoint",
      weed.endpoint,
    ]);
    const headers = { "content-type": "application/json", authorization: `Bearer ${token}` };
    const call = async (endpoint: string, body: object) => {
      const r = await fetch(`${server!.url}/api/2.0/mlflow${endpoint}`, {
        method: "POST",
        headers,
        body: JSON.stringify(body),
      });
      return { status: r.status, body: (await r.json()) as Json };
    };
    const exp = await call("/experiments/create", { name: "down" });
    assert.equal(exp.status, 200, JSON.stringify(exp.body));
    const run = await call("/runs/create", { experiment_id: exp.body.experiment_id, start_time: Date.now() });
    const runId = run.body.run.info.run_id as string;
    const artifactUrl = (name: string) =>
      `${server!.url}/api/2.0/mlflow-artifacts/artifacts/${exp.body.experiment_id}/${runId}/artifacts/${name}`;
    const put = (name: string) =>
      fetch(artifactUrl(name), {
        method: "PUT",
        headers: { authorization: headers.authorization },
        body: name,
      });

    const ok = await put("before.txt");
    assert.equal(ok.status, 200, await ok.text());
    await weed.stop();

    const down = await put("after.txt");
    const text = await down.text();
    assert.equal(down.status, 503, text);
    assert.match(text, /objects store/i);
    const listed = await fetch(`${server.url}/api/2.0/mlflow/artifacts/list?run_id=${runId}`, {
      headers,
    }).then((r) => r.json() as Promise<{ files?: { path: string }[] }>);
    assert.deepEqual(
      (listed.files ?? []).map((f) => f.path),
      ["before.txt"],
      "only the artifact whose bytes were stored is listed",
    );
    const metric = await call("/runs/log-metric", {
      run_id: runId,
      key: "loss",
      value: 0.5,
      timestamp: 1,
      step: 0,
    });
    assert.equal(metric.status, 200, JSON.stringify(metric.body));
  } finally {
    if (server && server.child.exitCode === null) {
      server.child.kill("SIGTERM");
      await waitCli(server.child);
    }
    await weed.stop().catch(() => {});
    await pg.stop();
    repo.cleanup();
  }
});
