/**
 * The web UI's bands, model registry and plots endpoints over `mtrack server --db` (issue #17: the same
 * page on both backends), at the HTTP level: runs and a registered version are made through the MLflow
 * REST API, then `/api/v1/bands`, `/api/v1/models...` and `/api/v1/plots` are read as the page reads them.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import * as os from "node:os";
import { after, before, describe, test } from "node:test";
import { runCli } from "../helpers/cli.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";
import { startListening, stopProcess } from "../helpers/server.js";
import { makeTempDir, removeTempDir } from "../helpers/tmp.js";

async function writeToken(db: string): Promise<string> {
  const env = { ...process.env, MTRACK_DB_URL: db };
  const cwd = os.tmpdir();
  const add = await runCli(["server", "user", "add", "ci", "--role", "write", "--json"], { cwd, env });
  assert.equal(add.code, 0, add.stderr);
  const tok = await runCli(["server", "user", "token", "ci", "--json"], { cwd, env });
  assert.equal(tok.code, 0, tok.stderr);
  return (tok.json as { token: string }).token;
}

describe("web UI bands, models and plots over mtrack server --db", () => {
  let pg: TestPostgres | undefined;
  let skipped = "";
  let server: { url: string; child: ChildProcess } | undefined;
  let objects = "";
  let token = "";
  const ids: string[] = [];
  const auth = () => ({ authorization: `Bearer ${token}` });
  const mlflow = async (p: string, body: unknown): Promise<Record<string, unknown>> => {
    const r = await fetch(`${server!.url}/api/2.0/mlflow${p}`, {
      method: "POST",
      headers: { ...auth(), "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await r.text();
    assert.equal(r.status, 200, `${p}: ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  };
  const get = async (p: string) => {
    const r = await fetch(`${server!.url}/api/v1${p}`, { headers: auth() });
    const bytes = Buffer.from(await r.arrayBuffer());
    const text = bytes.toString("utf8");
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // a file's bytes
    }
    return { status: r.status, bytes, json };
  };

  before(async () => {
    pg = await startPostgres({ skip: (m) => (skipped = m ?? "PostgreSQL unavailable") });
    if (!pg) return;
    const db = await pg.createDatabase();
    token = await writeToken(db);
    objects = makeTempDir();
    server = await startListening(
      ["server", "--db", db, "--port", "0", "--objects", objects],
      os.tmpdir(),
      process.env,
    );
    // Five runs: lr=0.1 twice, lr=0.2 twice, one without lr; loss over steps 0..2.
    const runs: Array<[string, string | null, number[]]> = [
      ["a", "0.1", [1, 2, 3]],
      ["b", "0.1", [3, 4, 5]],
      ["c", "0.2", [10, 10, 10]],
      ["d", "0.2", [20, 20, 20]],
      ["e", null, [7, 7, 7]],
    ];
    for (const [name, lr, losses] of runs) {
      const created = await mlflow("/runs/create", { experiment_id: "0", run_name: name, start_time: 1000 });
      const runId = (created.run as { info: { run_id: string } }).info.run_id;
      ids.push(runId);
      await mlflow("/runs/log-batch", {
        run_id: runId,
        params: lr === null ? [] : [{ key: "lr", value: lr }],
        metrics: losses.map((value, step) => ({ key: "loss", value, step, timestamp: 1000 + step })),
      });
      await mlflow("/runs/update", { run_id: runId, status: "FINISHED", end_time: 2000 });
    }
    // Run a's model, registered as clf version 1 with the alias champion.
    for (const [file, body] of [
      ["MLmodel", "flavors: {}\n"],
      ["weights.bin", "0123456789"],
    ]) {
      const put = await fetch(
        `${server.url}/api/2.0/mlflow-artifacts/artifacts/0/${ids[0]}/artifacts/model/${file}`,
        { method: "PUT", headers: auth(), body },
      );
      assert.equal(put.status, 200, await put.text());
    }
    await mlflow("/registered-models/create", { name: "clf", description: "a classifier" });
    await mlflow("/model-versions/create", { name: "clf", source: `runs:/${ids[0]}/model`, run_id: ids[0] });
    await mlflow("/registered-models/alias", { name: "clf", alias: "champion", version: "1" });
  });
  after(async () => {
    if (server) await stopProcess(server.child);
    if (objects) removeTempDir(objects);
    await pg?.stop();
  });

  test("GET /bands: mean/min/max per group of params.lr, filtered, capped, bad input refused", async (t) => {
    if (!pg) return t.skip(skipped);
    const bands = await get("/bands?group=params.lr&key=loss");
    assert.equal(bands.status, 200, bands.bytes.toString());
    const groups = bands.json.groups as Array<{
      value: string | null;
      runs: number;
      steps: number[];
      mean: number[];
      min: number[];
      max: number[];
    }>;
    assert.deepEqual(
      groups.map((g) => [g.value, g.runs, g.steps, g.mean, g.min, g.max]),
      [
        ["0.1", 2, [0, 1, 2], [2, 3, 4], [1, 2, 3], [3, 4, 5]],
        ["0.2", 2, [0, 1, 2], [15, 15, 15], [10, 10, 10], [20, 20, 20]],
        [null, 1, [0, 1, 2], [7, 7, 7], [7, 7, 7], [7, 7, 7]],
      ],
    );
    assert.equal(bands.json.truncated, false);
    const filtered = await get(
      `/bands?group=params.lr&key=loss&filter=${encodeURIComponent("params.lr = '0.2'")}`,
    );
    assert.deepEqual(
      (filtered.json.groups as Array<{ value: string }>).map((g) => g.value),
      ["0.2"],
    );
    const capped = await get("/bands?group=params.lr&key=loss&maxRuns=2");
    assert.equal(capped.json.truncated, true);
    assert.equal(
      (capped.json.groups as Array<{ runs: number }>).reduce((n, g) => n + g.runs, 0),
      2,
    );
    const byExperiment = await get("/bands?group=params.lr&key=loss&experiment=Default");
    assert.equal((byExperiment.json.groups as unknown[]).length, 3);
    assert.equal((await get("/bands?group=lr&key=loss")).status, 400);
    assert.equal((await get("/bands?group=params.lr")).status, 400);
    assert.deepEqual((await get("/bands?group=params.lr&key=nope")).json.groups, []);
  });

  test("GET /models, /models/:name, a version and its file's bytes", async (t) => {
    if (!pg) return t.skip(skipped);
    const list = await get("/models");
    assert.equal(list.status, 200, list.bytes.toString());
    const models = list.json.models as Array<Record<string, unknown>>;
    assert.deepEqual(
      models.map((m) => [m.name, m.description, m.versionCount, m.latestVersion, m.aliases]),
      [["clf", "a classifier", 1, 1, { champion: 1 }]],
    );
    const model = await get("/models/clf");
    assert.equal(model.status, 200, model.bytes.toString());
    const versions = model.json.versions as Array<Record<string, unknown>>;
    assert.deepEqual(
      versions.map((v) => [v.version, v.runId, v.runName, v.aliases, v.fileCount, v.size]),
      [[1, ids[0], "a", ["champion"], 2, 22]],
    );
    const version = await get("/models/clf/versions/1");
    assert.equal(version.status, 200, version.bytes.toString());
    assert.deepEqual(
      (version.json.files as Array<{ path: string; size: number }>).map((f) => [f.path, f.size]),
      [
        ["MLmodel", 12],
        ["weights.bin", 10],
      ],
    );
    assert.equal(version.json.missing, false);
    assert.deepEqual(version.json.uris, ["models:/clf/1", "models:/clf@champion"]);
    const file = await get("/models/clf/versions/v1/file?path=weights.bin");
    assert.equal(file.status, 200);
    assert.equal(file.bytes.toString(), "0123456789");
    assert.equal((await get("/models/clf/versions/1/file?path=nope")).status, 404);
    assert.equal((await get("/models/clf/versions/1/file?path=../x")).status, 400);
    assert.equal((await get("/models/clf/versions/9")).status, 404);
    assert.equal((await get("/models/nope")).status, 404);
  });

  test("GET /plots: no repository on a team server, said as such", async (t) => {
    if (!pg) return t.skip(skipped);
    for (const p of ["/plots", "/plots/revisions"]) {
      const r = await get(p);
      assert.equal(r.status, 404, p);
      const error = r.json.error as { code: string; message: string };
      assert.equal(error.code, "ERR_MTRACK_PATH_NOT_FOUND");
      // The file backend's answer outside a repository, not the router's "No such endpoint".
      assert.match(error.message, /no repository to read plots from/);
    }
  });
});
