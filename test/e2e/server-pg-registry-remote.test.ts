/**
 * `mtrack push/pull --models` against the PostgreSQL team server (issue #17, "the same behaviour on both
 * backends"): the file-backed server's registry scenario (test/helpers/registry-world.ts) against
 * `mtrack server --db URL --objects DIR` and `--objects s3://` (SeaweedFS) with `--store DIR`, then what
 * only the database shows: the pushed versions and aliases through the MLflow registry API, and versions,
 * aliases, tags and a deletion made through the MLflow API reaching a clone with `pull --models`
 * (including a version of a logged model whose file was uploaded over MLflow only).
 * Build first: `npm run build`.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli } from "../helpers/cli.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";
import {
  assertComplete,
  canon,
  type RegistryWorld,
  registryIn,
  registryScenario,
  V1,
} from "../helpers/registry-world.js";
import { startListening, stopProcess } from "../helpers/server.js";
import { makeTempDir, readTree, removeTempDir } from "../helpers/tmp.js";
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
): Promise<{ url: string; child: ChildProcess }> {
  return startListening(["server", "--db", db, "--port", "0", ...args], os.tmpdir(), env);
}

type Json = Record<string, unknown>;

/** Calls the MLflow REST API; asserts 200 unless `status` says otherwise. */
function mlflow(url: string, token: string) {
  return async (method: string, p: string, body?: unknown, status = 200): Promise<Json> => {
    const r = await fetch(`${url}/api/2.0/${p}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    });
    const text = await r.text();
    assert.equal(r.status, status, `${method} ${p}: ${text}`);
    return text ? (JSON.parse(text) as Json) : {};
  };
}

type Sync = { registry: { transferred: number; held: unknown[] } };

/** The database's side of the registry after the scenario, and MLflow-API changes pulled into clones. */
async function databaseSide(url: string, token: string, w: RegistryWorld): Promise<void> {
  const call = mlflow(url, token);
  // Pushed: spirals version 1 (version 2 was deleted in A and the deletion pushed), the logged model.
  const model = (await call("GET", "mlflow/registered-models/get?name=spirals")).registered_model as Json;
  assert.equal(model.name, "spirals");
  const v1 = (await call("GET", "mlflow/model-versions/get?name=spirals&version=1")).model_version as Json;
  assert.equal(v1.status, "READY");
  await call("GET", "mlflow/model-versions/get?name=spirals&version=2", undefined, 404);
  const logged = (await call("GET", `mlflow/logged-models/m-${"7".repeat(32)}`)).model as {
    info: { name: string };
  };
  assert.equal(logged.info.name, "lm");
  // The pushed version's files are served from the objects store.
  const dl = await call("GET", "mlflow/model-versions/get-download-uri?name=spirals&version=1");
  const uri = String(dl.artifact_uri);
  assert.match(uri, /^mlflow-artifacts:\/model-versions\/[0-9a-f]{64}\/artifacts$/);
  const weights = await fetch(
    `${url}/api/2.0/mlflow-artifacts/artifacts/${uri.slice("mlflow-artifacts:/".length)}/weights/w.bin`,
    { headers: { authorization: `Bearer ${token}` } },
  );
  assert.equal(weights.status, 200);
  assert.equal(await weights.text(), V1["weights/w.bin"]);

  // Through the MLflow API: spirals version 3 from version 1's files with an alias, a tag on version 1,
  // a new model whose version is a logged model with a file uploaded over MLflow only.
  const v3 = (
    await call("POST", "mlflow/model-versions/create", { name: "spirals", source: "models:/spirals/1" })
  ).model_version as Json;
  assert.equal(v3.version, "3");
  await call("POST", "mlflow/registered-models/alias", { name: "spirals", alias: "prod", version: "3" });
  await call("POST", "mlflow/model-versions/set-tag", {
    name: "spirals",
    version: "1",
    key: "stage",
    value: "ok",
  });
  const lm = (await call("POST", "mlflow/logged-models", { experiment_id: "0", name: "uploaded" })).model as {
    info: { model_id: string };
  };
  const id = lm.info.model_id;
  const put = await fetch(`${url}/api/2.0/mlflow-artifacts/artifacts/0/models/${id}/artifacts/model.txt`, {
    method: "PUT",
    headers: { authorization: `Bearer ${token}` },
    body: "uploaded over mlflow\n",
  });
  assert.equal(put.status, 200, await put.text());
  await call("POST", "mlflow/registered-models/create", { name: "other", description: "from mlflow" });
  await call("POST", "mlflow/model-versions/create", {
    name: "other",
    source: `models:/${id}`,
    model_id: id,
  });

  const pulled = (await w.ok(["pull", "--models", "--json"], w.b)).json as Sync;
  assert.equal(pulled.registry.transferred, 5, JSON.stringify(pulled)); // 2 models.create/version, v3, tag, alias
  assert.deepEqual(pulled.registry.held, []);
  const s = registryIn(w.b).state();
  assert.deepEqual(s.conflicts, []);
  const spirals = s.models.get("spirals")!;
  assert.deepEqual([...spirals.versions.keys()].sort(), [1, 3]);
  assert.deepEqual(spirals.aliases, { prod: 3 });
  assert.equal(spirals.versions.get(1)!.tags.stage, "ok");
  assert.equal(spirals.versions.get(3)!.content.hash, spirals.versions.get(1)!.content.hash);
  const other = s.models.get("other")!;
  assert.equal(other.description, "from mlflow");
  assert.equal(other.versions.get(1)!.modelId, id);
  assertComplete(w.b);
  const out = path.join(w.home, "out-prod");
  await w.ok(["models", "get", "models:/spirals@prod", "-o", out], w.b);
  assert.deepEqual(
    Object.fromEntries(Object.entries(readTree(out)).map(([k, v]) => [k, v.toString("utf8")])),
    V1,
  );
  const out2 = path.join(w.home, "out-other");
  await w.ok(["models", "get", "models:/other/1", "-o", out2], w.b);
  assert.equal(readTree(out2)["model.txt"]?.toString("utf8"), "uploaded over mlflow\n");

  // The same events again: nothing new. A clone with its own events gets the same registry.
  assert.equal(((await w.ok(["pull", "--models", "--json"], w.b)).json as Sync).registry.transferred, 0);
  await w.ok(["pull", "--models", "--json"], w.a);
  assert.equal(canon(registryIn(w.a).state()), canon(registryIn(w.b).state()));

  // Removals through the MLflow API travel too.
  await call("DELETE", "mlflow/registered-models/alias", { name: "spirals", alias: "prod" });
  await call("DELETE", "mlflow/model-versions/delete-tag", { name: "spirals", version: "1", key: "stage" });
  await call("DELETE", "mlflow/model-versions/delete", { name: "spirals", version: "3" });
  const removed = (await w.ok(["pull", "--models", "--json"], w.b)).json as Sync;
  assert.equal(removed.registry.transferred, 3, JSON.stringify(removed));
  const after = registryIn(w.b).state().models.get("spirals")!;
  assert.deepEqual([...after.versions.keys()], [1]);
  assert.deepEqual(after.aliases, {});
  assert.deepEqual(after.versions.get(1)!.tags, {});

  // A version registered in a clone after pulling gets the next number and reaches the database.
  await w.ok(["models", "register", "other", "models:/spirals/1"], w.b);
  const pushed = (await w.ok(["push", "--models", "--json"], w.b)).json as Sync;
  assert.ok(pushed.registry.transferred >= 1, JSON.stringify(pushed));
  const o2 = (await call("GET", "mlflow/model-versions/get?name=other&version=2")).model_version as Json;
  assert.equal(o2.status, "READY");
}

describe("mtrack push/pull --models against mtrack server --db", { concurrency: 2 }, () => {
  let pg: TestPostgres | undefined;
  let skipped = "";
  before(async () => {
    pg = await startPostgres({ skip: (m) => (skipped = m ?? "PostgreSQL unavailable") });
  });
  after(async () => {
    await pg?.stop();
  });

  test("--objects DIR: the registry scenario, and the database's registry both ways", async (t) => {
    if (!pg) return t.skip(skipped);
    const db = await pg.createDatabase();
    const token = await writeToken(db);
    const objects = makeTempDir();
    const server = await startTeam(db, ["--objects", objects]);
    try {
      await registryScenario(server.url, [], { MTRACK_REMOTE_TOKEN: token }, (w) =>
        databaseSide(server.url, token, w),
      );
    } finally {
      await stopProcess(server.child);
      removeTempDir(objects);
    }
  });

  test("--objects s3:// (SeaweedFS) with --store DIR: the same", {
    skip: weedBinary() ? false : "weed not installed",
  }, async (t) => {
    if (!pg) return t.skip(skipped);
    const db = await pg.createDatabase();
    const token = await writeToken(db);
    const weed = await startWeed();
    const storeDir = makeTempDir();
    let server: { url: string; child: ChildProcess } | undefined;
    try {
      await weed.createBucket("team");
      const env = { ...process.env, ...S3_ENV };
      server = await startTeam(
        db,
        ["--objects", "s3://team/mtrack", "--objects-endpoint", weed.endpoint, "--store", storeDir],
        env,
      );
      const url = server.url;
      await registryScenario(url, [], { MTRACK_REMOTE_TOKEN: token }, (w) => databaseSide(url, token, w));
    } finally {
      if (server) await stopProcess(server.child);
      removeTempDir(storeDir);
      await weed.stop();
    }
  });
});
