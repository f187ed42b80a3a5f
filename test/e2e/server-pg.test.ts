/**
 * The PostgreSQL backend of the team server (issue #17), against a real PostgreSQL started by the test
 * (test/helpers/postgres.ts): versioned migrations (applied once, concurrent-safe, a newer schema
 * refused), `mtrack server migrate`, and the unreachable-database error that never shows the password.
 */
import assert from "node:assert/strict";
import os from "node:os";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { isMtrackError } from "../../src/errors.js";
import { isRetryableDbError, openPool, redactDbUrl, resolveDbUrl } from "../../src/server/pg/db.js";
import { MIGRATIONS, migrate, SCHEMA_VERSION, schemaVersion } from "../../src/server/pg/migrations.js";
import { PgTrackingStore } from "../../src/server/pg/tracking-store.js";
import { PgUsers } from "../../src/server/pg/users.js";
import { errorCode, runCli } from "../helpers/cli.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";

test("redactDbUrl hides the password; resolveDbUrl prefers the flag, then MTRACK_DB_URL, then config", () => {
  assert.equal(redactDbUrl("postgresql://u:s3cret@h:5432/db"), "postgresql://u:***@h:5432/db");
  assert.equal(redactDbUrl("postgresql://u@h/db?password=s3cret"), "postgresql://u@h/db?password=***");
  assert.equal(redactDbUrl("postgresql://u@h/db"), "postgresql://u@h/db");
  const env = { MTRACK_DB_URL: "postgresql://env/db" };
  assert.equal(resolveDbUrl("postgresql://flag/db", env, "postgresql://cfg/db"), "postgresql://flag/db");
  assert.equal(resolveDbUrl(undefined, env, "postgresql://cfg/db"), "postgresql://env/db");
  assert.equal(resolveDbUrl(undefined, {}, "postgresql://cfg/db"), "postgresql://cfg/db");
  assert.equal(resolveDbUrl(undefined, {}, undefined), undefined);
  assert.throws(
    () => resolveDbUrl("mysql://u:pw@h/db", {}),
    (e) => isMtrackError(e, "ERR_MTRACK_INVALID_ARGUMENT") && !e.message.includes("pw"),
  );
});

test("an unreachable database fails at start naming the URL without its password", async () => {
  const url = "postgresql://mtrack:hunter2@127.0.0.1:1/mtrack";
  await assert.rejects(openPool(url), (e) => {
    assert.ok(isMtrackError(e, "ERR_MTRACK_REMOTE_UNREACHABLE"));
    assert.match(e.message, /127\.0\.0\.1:1/);
    assert.ok(!e.message.includes("hunter2"), e.message);
    return true;
  });
  const r = await runCli(["server", "migrate", "--db", url, "--json"], { cwd: os.tmpdir() });
  assert.equal(r.code, 2);
  assert.equal(errorCode(r), "ERR_MTRACK_REMOTE_UNREACHABLE");
  assert.ok(!(r.stdout + r.stderr).includes("hunter2"));
});

type Migrated = { to: number; applied: number[] };

describe("on a real PostgreSQL", () => {
  let server: TestPostgres | undefined;
  let skipped = "";
  before(async () => {
    server = await startPostgres({ skip: (m) => (skipped = m ?? "PostgreSQL unavailable") });
  });
  after(async () => {
    await server?.stop();
  });

  test("migrations apply once, concurrently, and are recorded", async (t) => {
    if (!server) return t.skip(skipped);
    const url = await server.createDatabase();
    const pools = await Promise.all([openPool(url), openPool(url), openPool(url)]);
    try {
      const results = await Promise.all(pools.map((p) => migrate(p)));
      assert.deepEqual(
        results.flatMap((r) => r.applied).sort(),
        MIGRATIONS.map((m) => m.version),
      );
      for (const r of results) assert.equal(r.to, SCHEMA_VERSION);
      assert.equal(await schemaVersion(pools[0] as pg.Pool), SCHEMA_VERSION);
      const again = await migrate(pools[0] as pg.Pool);
      assert.deepEqual(again.applied, []);
      const tables = await (pools[0] as pg.Pool).query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
      );
      const names = tables.rows.map((r) => r.table_name);
      for (const want of [
        "experiments",
        "runs",
        "params",
        "tags",
        "metrics",
        "latest_metrics",
        "inputs",
        "users",
        "tokens",
      ]) {
        assert.ok(names.includes(want), `table ${want} in ${names.join(",")}`);
      }
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  test("an interrupted migration leaves nothing and completes when rerun", async (t) => {
    if (!server) return t.skip(skipped);
    const url = await server.createDatabase();
    const pool = await openPool(url);
    try {
      const broken = [
        ...MIGRATIONS,
        {
          version: SCHEMA_VERSION + 1,
          description: "fails half-way",
          sql: "CREATE TABLE half (x INT); SELECT 1/0;",
        },
      ];
      await assert.rejects(migrate(pool, broken));
      assert.equal(await schemaVersion(pool), SCHEMA_VERSION);
      const half = await pool.query("SELECT to_regclass('half') IS NULL AS gone");
      assert.equal(half.rows[0].gone, true);
      const fixed = [
        ...MIGRATIONS,
        { version: SCHEMA_VERSION + 1, description: "fixed", sql: "CREATE TABLE half (x INT);" },
      ];
      const r = await migrate(pool, fixed);
      assert.deepEqual(r.applied, [SCHEMA_VERSION + 1]);
    } finally {
      await pool.end();
    }
  });

  test("mtrack server migrate: applies, then up to date; a newer schema is refused", async (t) => {
    if (!server) return t.skip(skipped);
    const url = await server.createDatabase();
    const first = await runCli(["server", "migrate", "--json"], {
      cwd: os.tmpdir(),
      env: { ...process.env, MTRACK_DB_URL: url },
    });
    assert.equal(first.code, 0, first.stderr);
    assert.equal((first.json as Migrated).to, SCHEMA_VERSION);
    assert.deepEqual(
      (first.json as Migrated).applied,
      MIGRATIONS.map((m) => m.version),
    );
    const second = await runCli(["server", "migrate", "--db", url, "--json"], { cwd: os.tmpdir() });
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual((second.json as Migrated).applied, []);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query("INSERT INTO mtrack_schema (version, description) VALUES ($1, 'from the future')", [
      SCHEMA_VERSION + 5,
    ]);
    await c.end();
    const newer = await runCli(["server", "migrate", "--db", url, "--json"], { cwd: os.tmpdir() });
    assert.equal(newer.code, 2);
    assert.equal(errorCode(newer), "ERR_MTRACK_FORMAT_INVALID");
  });

  test("tracking store: a write through one server's pool is read through another's at once", async (t) => {
    if (!server) return t.skip(skipped);
    const url = await server.createDatabase();
    const [p1, p2] = await Promise.all([openPool(url), openPool(url)]);
    try {
      await migrate(p1);
      const a = new PgTrackingStore(p1, "s3://bucket/mtrack");
      const b = new PgTrackingStore(p2, "s3://bucket/mtrack");
      const [d1, d2] = await Promise.all([a.defaultExperimentId(), b.defaultExperimentId()]);
      assert.equal(d1, d2);
      const exp = await a.createExperiment("team", { owner: "ana" });
      await assert.rejects(b.createExperiment("team"), (e) =>
        isMtrackError(e, "ERR_MTRACK_EXPERIMENT_EXISTS"),
      );
      assert.deepEqual((await b.getExperimentByName("team"))?.tags, { owner: "ana" });
      const run = await a.createRun({
        experimentId: exp,
        tags: { "mlflow.runName": "r1" },
        ownerServer: "a",
      });
      assert.equal(run.name, "r1");
      assert.equal(run.artifactUri, `s3://bucket/mtrack/${exp}/${run.runId}/artifacts`);
      await a.logBatch(run.runId, {
        params: { lr: "0.1" },
        metrics: [
          { key: "loss", value: 3, timestamp: 1, step: 0 },
          { key: "loss", value: 1, timestamp: 3, step: 2 },
          { key: "loss", value: 2, timestamp: 2, step: 1 },
        ],
      });
      await b.logBatch(run.runId, { params: { lr: "0.1" }, tags: { stage: "dev" } });
      await assert.rejects(b.logBatch(run.runId, { params: { lr: "0.2" }, tags: { lost: "x" } }), (e) =>
        isMtrackError(e, "ERR_MTRACK_PARAM_IMMUTABLE"),
      );
      await a.logInputs(run.runId, [
        { name: "train", digest: "abc", sourceType: "local", tags: { "mlflow.data.context": "train" } },
      ]);
      const seen = await b.getRun(run.runId);
      assert.deepEqual(seen.params, { lr: "0.1" });
      assert.equal(seen.tags.stage, "dev");
      assert.equal(seen.tags.lost, undefined, "a refused batch writes nothing");
      assert.deepEqual(seen.metrics, [{ key: "loss", value: 1, timestamp: 3, step: 2 }]);
      assert.deepEqual(
        seen.inputs.map((i) => [i.name, i.digest, i.tags]),
        [["train", "abc", { "mlflow.data.context": "train" }]],
      );
      assert.deepEqual(
        (await b.getMetricHistory(run.runId, "loss")).map((m) => m.value),
        [3, 2, 1],
      );
      const r2 = await b.createRun({ experimentId: exp, startTime: Date.now() + 1000 });
      await b.logBatch(r2.runId, {
        params: { lr: "0.5" },
        metrics: [{ key: "loss", value: 0.5, timestamp: 1, step: 0 }],
      });
      const byLoss = await a.searchRuns({
        experimentIds: [exp],
        orderBy: { kind: "metric", key: "loss", desc: false },
      });
      assert.deepEqual(byLoss.runIds, [r2.runId, run.runId]);
      const filtered = await a.searchRuns({
        experimentIds: [exp],
        filters: [
          { kind: "metric", key: "loss", op: ">", value: 0.7 },
          { kind: "param", key: "lr", op: "=", value: "0.1" },
        ],
      });
      assert.deepEqual(filtered.runIds, [run.runId]);
      const paged = await a.searchRuns({ experimentIds: [exp], maxResults: 1 });
      assert.deepEqual(paged, { runIds: [r2.runId], nextOffset: 1 });
      const ended = await b.updateRun(run.runId, { status: "FINISHED", endTime: 99 });
      assert.equal((await a.getRun(run.runId)).status, "FINISHED");
      assert.equal(ended.endTime, 99);
      await a.deleteRun(r2.runId);
      assert.deepEqual((await b.searchRuns({ experimentIds: [exp] })).runIds, [run.runId]);
      await assert.rejects(b.logBatch(r2.runId, { tags: { x: "y" } }), (e) =>
        isMtrackError(e, "ERR_MTRACK_RUN_NOT_ACTIVE"),
      );
      await assert.rejects(b.getRun("f".repeat(32)), (e) => isMtrackError(e, "ERR_MTRACK_RUN_NOT_FOUND"));
    } finally {
      await Promise.all([p1.end(), p2.end()]);
    }
  });

  test("users and tokens: mtrack server user add/list/token/remove; tokens stored only as hashes", async (t) => {
    if (!server) return t.skip(skipped);
    const url = await server.createDatabase();
    const env = { ...process.env, MTRACK_DB_URL: url };
    const cwd = os.tmpdir();
    const add = await runCli(["server", "user", "add", "ana", "--role", "write", "--json"], { cwd, env });
    assert.equal(add.code, 0, add.stderr);
    const dup = await runCli(["server", "user", "add", "ana", "--role", "read", "--json"], { cwd, env });
    assert.equal(dup.code, 2);
    const badRole = await runCli(["server", "user", "add", "bo", "--role", "root"], { cwd, env });
    assert.notEqual(badRole.code, 0);
    const tok = await runCli(["server", "user", "token", "ana", "--name", "laptop", "--json"], { cwd, env });
    assert.equal(tok.code, 0, tok.stderr);
    const { token, id } = tok.json as { token: string; id: string };
    const pool = await openPool(url);
    try {
      const users = new PgUsers(pool);
      assert.deepEqual(await users.checkToken(token), { user: "ana", role: "write" });
      const stored = await pool.query("SELECT hash FROM tokens");
      assert.ok(
        // The secret is all after `mtk_<id>_` (it may itself contain `_`: a fragment of it can be in any hash).
        !JSON.stringify(stored.rows).includes(token.slice(`mtk_${id}_`.length)),
        "the secret is not stored",
      );
      const list = await runCli(["server", "user", "list", "--json"], { cwd, env });
      assert.deepEqual(
        (list.json as Array<{ name: string; role: string; tokens: number }>).map((u) => [
          u.name,
          u.role,
          u.tokens,
        ]),
        [["ana", "write", 1]],
      );
      assert.equal(await users.revokeToken(id, "someone-else"), 0);
      const rev = await runCli(["server", "user", "token", "ana", "--revoke", id, "--json"], { cwd, env });
      assert.equal((rev.json as { revoked: boolean }).revoked, true);
      assert.equal(await users.checkToken(token), undefined);
      const t2 = await users.createToken("ana");
      const rm = await runCli(["server", "user", "remove", "ana", "--json"], { cwd, env });
      assert.equal(rm.code, 0, rm.stderr);
      assert.equal(await users.checkToken(t2.token), undefined, "removing a user removes their tokens");
      await assert.rejects(users.createToken("ghost"), (e) =>
        isMtrackError(e, "ERR_MTRACK_INVALID_ARGUMENT"),
      );
    } finally {
      await pool.end();
    }
  });

  test("PostgreSQL restarted: calls in between fail retryably, the pool reconnects, nothing acknowledged is lost", async (t) => {
    if (!server) return t.skip(skipped);
    const url = await server.createDatabase();
    const pool = await openPool(url);
    try {
      await migrate(pool);
      const store = new PgTrackingStore(pool, "/tmp/a");
      const run = await store.createRun({ experimentId: await store.defaultExperimentId() });
      await store.logBatch(run.runId, { metrics: [{ key: "m", value: 1, timestamp: 1, step: 0 }] });
      server.pause();
      try {
        await assert.rejects(
          store.logBatch(run.runId, { metrics: [{ key: "m", value: 2, timestamp: 2, step: 1 }] }),
          (e) => {
            assert.ok(isRetryableDbError(e), String(e));
            return true;
          },
        );
      } finally {
        server.start();
      }
      await store.logBatch(run.runId, { metrics: [{ key: "m", value: 3, timestamp: 3, step: 2 }] });
      assert.deepEqual(
        (await store.getMetricHistory(run.runId, "m")).map((m) => m.value),
        [1, 3],
      );
    } finally {
      await pool.end();
    }
  });
});
