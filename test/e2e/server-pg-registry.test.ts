/**
 * The model registry of the team server in PostgreSQL (src/server/pg/registry-store.ts, registry.ts),
 * against a real PostgreSQL (test/helpers/postgres.ts), over HTTP through two servers on one database:
 * concurrent registrations never share a version number, a deleted number is not reused, a rename carries
 * versions, tags and aliases, a read token may not register, every change records its user, and the proxy
 * serves a version's files only while a live version has them. The real mlflow client's registry run is
 * test/e2e/mlflow-models-interop.test.ts.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { openPool } from "../../src/server/pg/db.js";
import { migrate } from "../../src/server/pg/migrations.js";
import { type RunningTeamServer, startTeamServer } from "../../src/server/pg/serve.js";
import { PgUsers } from "../../src/server/pg/users.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";

let pg: TestPostgres | undefined;
let skipped = "";
before(async () => {
  pg = await startPostgres({ skip: (m) => (skipped = m ?? "PostgreSQL unavailable") });
});
after(async () => {
  await pg?.stop();
});

type Answer = { status: number; body: Record<string, unknown> };

async function api(url: string, method: string, p: string, tok: string, body?: object): Promise<Answer> {
  const r = await fetch(`${url}/api/2.0/mlflow${p}`, {
    method,
    headers: { "content-type": "application/json", authorization: `Bearer ${tok}` },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

function ok(a: Answer): Record<string, unknown> {
  assert.equal(a.status, 200, JSON.stringify(a.body));
  return a.body;
}

test("registry over PostgreSQL: two servers, concurrent versions, rename, deletes, users, the files proxy", async (t) => {
  if (!pg) return t.skip(skipped);
  const dbUrl = await pg.createDatabase();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-pgreg-"));
  const pool = await openPool(dbUrl);
  const servers: RunningTeamServer[] = [];
  try {
    await migrate(pool);
    const users = new PgUsers(pool);
    await users.addUser("ana", "write");
    await users.addUser("bo", "write");
    await users.addUser("rita", "read");
    const ana = (await users.createToken("ana")).token;
    const bo = (await users.createToken("bo")).token;
    const read = (await users.createToken("rita")).token;
    const objects = path.join(dir, "objects");
    for (let i = 0; i < 2; i++) servers.push(await startTeamServer({ dbUrl, objects, port: 0 }));
    const [a, b] = servers.map((s) => s.url) as [string, string];

    // A run with a model directory among its artifacts, uploaded through server a.
    const run = ok(await api(a, "POST", "/runs/create", ana, { experiment_id: "0" }));
    const runId = (run.run as { info: { run_id: string } }).info.run_id;
    for (const [name, body] of [
      ["model/MLmodel", "flavors: {}\n"],
      ["model/weights.bin", "0123456789"],
      ["notes.txt", "not the model"],
    ]) {
      const put = await fetch(`${a}/api/2.0/mlflow-artifacts/artifacts/0/${runId}/artifacts/${name}`, {
        method: "PUT",
        headers: { authorization: `Bearer ${ana}` },
        body,
      });
      assert.equal(put.status, 200);
    }

    // Created through a, seen through b at once; a read token may not register.
    ok(
      await api(a, "POST", "/registered-models/create", ana, {
        name: "clf",
        tags: [{ key: "k", value: "v" }],
      }),
    );
    assert.equal(
      (await api(b, "POST", "/registered-models/create", read, { name: "other" })).body.error_code,
      "PERMISSION_DENIED",
    );
    assert.equal(
      (await api(b, "POST", "/registered-models/create", bo, { name: "clf" })).body.error_code,
      "RESOURCE_ALREADY_EXISTS",
    );

    // Ten registrations at once through both servers: ten distinct numbers 1..10.
    const created = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        api(i % 2 === 0 ? a : b, "POST", "/model-versions/create", i % 2 === 0 ? ana : bo, {
          name: "clf",
          source: `runs:/${runId}/model`,
          run_id: runId,
        }),
      ),
    );
    const numbers = created.map((c) => Number((ok(c).model_version as { version: string }).version));
    assert.deepEqual(
      [...numbers].sort((x, y) => x - y),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    const v1 = ok(await api(b, "GET", "/model-versions/get?name=clf&version=1", read)).model_version as {
      user_id: string;
      run_id: string;
      status: string;
    };
    assert.equal(v1.run_id, runId);
    assert.equal(v1.status, "READY");
    assert.ok(["ana", "bo"].includes(v1.user_id));
    const byUser = await pool.query(
      "SELECT user_id, count(*)::int AS n FROM model_versions GROUP BY 1 ORDER BY 1",
    );
    assert.deepEqual(
      byUser.rows.map((r) => [r.user_id, r.n]),
      [
        ["ana", 5],
        ["bo", 5],
      ],
    );

    // The version's files: the model directory only, served from the objects store.
    const uri = ok(await api(a, "GET", "/model-versions/get-download-uri?name=clf&version=3", read))
      .artifact_uri as string;
    const hashPath = uri.slice("mlflow-artifacts:/".length);
    const listed = await fetch(
      `${b}/api/2.0/mlflow-artifacts/artifacts?path=${encodeURIComponent(hashPath)}`,
      {
        headers: { authorization: `Bearer ${read}` },
      },
    );
    assert.deepEqual(
      ((await listed.json()) as { files: { path: string }[] }).files.map((f) => f.path).sort(),
      ["MLmodel", "weights.bin"],
    );
    const weights = await fetch(`${b}/api/2.0/mlflow-artifacts/artifacts/${hashPath}/weights.bin`, {
      headers: { authorization: `Bearer ${read}` },
    });
    assert.equal(await weights.text(), "0123456789");

    // Aliases and stages; delete the top version: its number is not given again.
    ok(
      await api(a, "POST", "/registered-models/alias", ana, {
        name: "clf",
        alias: "champion",
        version: "10",
      }),
    );
    ok(
      await api(b, "POST", "/model-versions/transition-stage", bo, {
        name: "clf",
        version: "9",
        stage: "Production",
      }),
    );
    ok(await api(a, "DELETE", "/model-versions/delete", ana, { name: "clf", version: "10" }));
    assert.equal(
      (await api(b, "GET", "/registered-models/alias?name=clf&alias=champion", read)).body.error_code,
      "RESOURCE_DOES_NOT_EXIST",
      "the alias went with its version",
    );
    const v11 = ok(
      await api(b, "POST", "/model-versions/create", bo, { name: "clf", source: "models:/clf/Production" }),
    ).model_version as { version: string; run_id: string };
    assert.equal(v11.version, "11");
    assert.equal(v11.run_id, runId, "a version copied from another keeps its run");

    // Rename: versions, tags and aliases follow; the old name is gone.
    ok(await api(a, "POST", "/registered-models/rename", ana, { name: "clf", new_name: "classifier" }));
    const renamed = ok(await api(b, "GET", "/registered-models/get?name=classifier", read))
      .registered_model as {
      tags: { key: string; value: string }[];
      aliases: { alias: string; version: string }[];
      user_id: string;
    };
    assert.deepEqual(renamed.tags, [{ key: "k", value: "v" }]);
    assert.deepEqual(renamed.aliases, [{ alias: "production", version: "9" }]);
    assert.equal(renamed.user_id, "ana");
    assert.equal(
      (await api(b, "GET", "/registered-models/get?name=clf", read)).body.error_code,
      "RESOURCE_DOES_NOT_EXIST",
    );
    const found = ok(
      await api(a, "GET", "/model-versions/search?filter=name%3D%27classifier%27&max_results=100", read),
    ).model_versions as unknown[];
    assert.equal(found.length, 10);

    // A workspace path is no source on a team server; a run path with nothing under it neither.
    for (const source of ["results/model", `runs:/${runId}/nothing`]) {
      const r = await api(a, "POST", "/model-versions/create", ana, { name: "classifier", source });
      assert.equal(r.body.error_code, "INVALID_PARAMETER_VALUE", source);
    }

    // Deleting the model removes its rows; its content is then no longer served.
    ok(await api(a, "DELETE", "/registered-models/delete", ana, { name: "classifier" }));
    for (const table of [
      "registered_models",
      "model_versions",
      "model_version_aliases",
      "model_version_tags",
    ]) {
      const n = await pool.query(`SELECT count(*)::int AS n FROM ${table}`);
      assert.equal(n.rows[0]?.n, 0, table);
    }
    const gone = await fetch(`${b}/api/2.0/mlflow-artifacts/artifacts/${hashPath}/weights.bin`, {
      headers: { authorization: `Bearer ${read}` },
    });
    assert.equal(gone.status, 404);

    // Searches narrowed in the database first give what MLflow's filter gives (LIKE is case-sensitive).
    for (const name of ["alpha", "Alpha-2", "beta", "alphabet"])
      ok(await api(a, "POST", "/registered-models/create", ana, { name, tags: [{ key: "n", value: name }] }));
    const search = async (filter: string) =>
      (
        ok(await api(b, "GET", `/registered-models/search?filter=${encodeURIComponent(filter)}`, read))
          .registered_models as { name: string }[]
      ).map((m) => m.name);
    assert.deepEqual(await search("name LIKE 'alpha%'"), ["alpha", "alphabet"]);
    assert.deepEqual(await search("name ILIKE 'alpha%'"), ["Alpha-2", "alpha", "alphabet"]);
    assert.deepEqual(await search("name LIKE 'alpha%' AND name LIKE '%bet'"), ["alphabet"]);
    assert.deepEqual(await search("name IN ('beta', 'alpha')"), ["alpha", "beta"]);
    assert.deepEqual(await search("name = 'beta' AND tags.n = 'beta'"), ["beta"]);
    assert.deepEqual(await search("name = 'beta' AND tags.n = 'alpha'"), []);
    assert.deepEqual(await search("name LIKE 'a_pha'"), ["alpha"]);
  } finally {
    await Promise.all(servers.map((s) => s.close()));
    await pool.end();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
