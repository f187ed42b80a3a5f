/**
 * Managing a team server's users and tokens over HTTP (`/api/mtrack/admin/...`, src/server/pg/admin.ts)
 * against a real PostgreSQL (test/helpers/postgres.ts): only an admin token may; read and write tokens
 * get 403, no token 401; a token created over HTTP works on the MLflow API, a revoked one or one of a
 * removed user no longer does.
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

async function call(
  url: string,
  method: string,
  p: string,
  tok: string | undefined,
  body?: object,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`${url}${p}`, {
    method,
    headers: {
      "content-type": "application/json",
      ...(tok ? { authorization: `Bearer ${tok}` } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await r.text();
  return { status: r.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

test("users and tokens over HTTP: admin only; created tokens work, revoked and removed ones do not", async (t) => {
  if (!pg) return t.skip(skipped);
  const dbUrl = await pg.createDatabase();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-admin-"));
  const pool = await openPool(dbUrl);
  let server: RunningTeamServer | undefined;
  try {
    await migrate(pool);
    const users = new PgUsers(pool);
    await users.addUser("root", "admin");
    await users.addUser("ana", "write");
    await users.addUser("rita", "read");
    const admin = (await users.createToken("root")).token;
    const write = (await users.createToken("ana")).token;
    const read = (await users.createToken("rita")).token;
    server = await startTeamServer({ dbUrl, objects: path.join(dir, "objects"), port: 0 });
    const { url } = server;
    const A = "/api/mtrack/admin";

    // Not an admin: 401 without a token, 403 for read and write tokens, on every route; nothing changed.
    for (const [method, p, body] of [
      ["GET", `${A}/users`, undefined],
      ["POST", `${A}/users`, { name: "eve", role: "admin" }],
      ["DELETE", `${A}/users/ana`, undefined],
      ["GET", `${A}/tokens`, undefined],
      ["POST", `${A}/tokens`, { user: "ana" }],
      ["DELETE", `${A}/tokens/abcd`, undefined],
    ] as const) {
      assert.equal((await call(url, method, p, undefined, body)).status, 401, `${method} ${p}`);
      assert.equal((await call(url, method, p, read, body)).status, 403, `${method} ${p} read`);
      assert.equal((await call(url, method, p, write, body)).status, 403, `${method} ${p} write`);
    }
    assert.deepEqual(
      (await users.listUsers()).map((u) => u.name),
      ["ana", "rita", "root"],
    );
    assert.equal((await users.listTokens()).length, 3);

    // An admin lists, adds (bad input refused with 400), creates tokens.
    const listed = await call(url, "GET", `${A}/users`, admin);
    assert.equal(listed.status, 200);
    assert.deepEqual(
      (listed.body.users as { name: string; role: string }[]).map((u) => [u.name, u.role]),
      [
        ["ana", "write"],
        ["rita", "read"],
        ["root", "admin"],
      ],
    );
    const added = await call(url, "POST", `${A}/users`, admin, { name: "bob", role: "write" });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    assert.equal((added.body.user as { role: string }).role, "write");
    assert.equal((await call(url, "POST", `${A}/users`, admin, { name: "bob", role: "read" })).status, 400);
    assert.equal((await call(url, "POST", `${A}/users`, admin, { name: "x", role: "god" })).status, 400);
    assert.equal(
      (await call(url, "POST", `${A}/users`, admin, { name: "no spaces", role: "read" })).status,
      400,
    );
    assert.equal((await call(url, "POST", `${A}/users`, admin, { role: "read" })).status, 400);
    assert.equal((await call(url, "POST", `${A}/tokens`, admin, { user: "nobody" })).status, 404);

    const created = await call(url, "POST", `${A}/tokens`, admin, { user: "bob", name: "laptop" });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const bobToken = created.body.token as string;
    const bobId = created.body.id as string;
    assert.match(bobToken, /^mtk_[0-9a-f]{8}_/);
    // Only its hash is stored.
    const stored = await pool.query("SELECT hash FROM tokens WHERE id = $1", [bobId]);
    assert.notEqual(stored.rows[0]?.hash, bobToken);
    assert.ok(!JSON.stringify(stored.rows).includes(bobToken.slice(14)));

    // The new token writes through the MLflow API as bob.
    const run = await call(url, "POST", "/api/2.0/mlflow/runs/create", bobToken, { experiment_id: "0" });
    assert.equal(run.status, 200, JSON.stringify(run.body));
    assert.equal((run.body.run as { info: { user_id: string } }).info.user_id, "bob");

    const tokens = await call(url, "GET", `${A}/tokens?user=bob`, admin);
    assert.deepEqual(
      (tokens.body.tokens as { id: string; name: string; revoked: number | null }[]).map((x) => [
        x.id,
        x.name,
        x.revoked,
      ]),
      [[bobId, "laptop", null]],
    );
    assert.equal(((await call(url, "GET", `${A}/tokens`, admin)).body.tokens as unknown[]).length, 4);

    // Revoked: listed with its time, refused at once; revoking again is 404.
    const revoked = await call(url, "DELETE", `${A}/tokens/${bobId}`, admin);
    assert.deepEqual(revoked, { status: 200, body: { id: bobId, revoked: true } });
    assert.equal((await call(url, "DELETE", `${A}/tokens/${bobId}`, admin)).status, 404);
    const after = (await call(url, "GET", `${A}/tokens?user=bob`, admin)).body.tokens as {
      revoked: number | null;
    }[];
    assert.equal(typeof after[0]?.revoked, "number");
    assert.equal(
      (await call(url, "POST", "/api/2.0/mlflow/runs/create", bobToken, { experiment_id: "0" })).status,
      401,
    );

    // Removing a user removes their tokens: ana's write token stops working.
    assert.equal((await call(url, "POST", "/api/2.0/mlflow/runs/create", write, {})).status, 200);
    const removed = await call(url, "DELETE", `${A}/users/ana`, admin);
    assert.deepEqual(removed, { status: 200, body: { removed: "ana" } });
    assert.equal((await call(url, "DELETE", `${A}/users/ana`, admin)).status, 404);
    assert.equal((await call(url, "POST", "/api/2.0/mlflow/runs/create", write, {})).status, 401);
    assert.deepEqual(
      (await users.listUsers()).map((u) => u.name),
      ["bob", "rita", "root"],
    );
    assert.equal((await call(url, "GET", `${A}/nothing`, admin)).status, 404);
  } finally {
    await server?.close();
    await pool.end();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
