/**
 * runs/search over many runs on the PostgreSQL backend (issue #17 §5): a metric filter, a param filter and
 * order_by on the filtered metric give the right page, and the plan walks the (key, value) index in order
 * and stops at the page (an inner join when the filter requires the ordered key) instead of sorting every
 * match — what takes the search over 100k runs from ~55 ms to a few ms (bench/pg-store.ts, RESULTS-pg.md).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type pg from "pg";
import { seedSearchRuns } from "../../bench/util.js";
import { openPool } from "../../src/server/pg/db.js";
import { migrate } from "../../src/server/pg/migrations.js";
import { type PgSearch, PgTrackingStore } from "../../src/server/pg/tracking-store.js";
import { parseFilter } from "../../src/tracking/search.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";

const RUNS = 30_000;

/** The seeded run g (seedSearchRuns): id md5(g), start_time g, lr by g % 3, acc (g % 1000) / 1000. */
function expected(pred: (acc: number, lr: string) => boolean, desc: boolean, n: number): number[] {
  const all: number[] = [];
  for (let g = 1; g <= RUNS; g++) {
    if (pred((g % 1000) / 1000, ["0.1", "0.01", "0.001"][g % 3] as string)) all.push(g);
  }
  // Order by acc, then start_time DESC (the default tie-break).
  all.sort((a, b) => (desc ? (b % 1000) - (a % 1000) : (a % 1000) - (b % 1000)) || b - a);
  return all.slice(0, n);
}

describe("runs/search over many runs on PostgreSQL", () => {
  let server: TestPostgres | undefined;
  let pool: pg.Pool | undefined;
  let store: PgTrackingStore;
  let exp = "";
  let skipped = "";
  const ids = new Map<string, number>();
  before(async () => {
    server = await startPostgres({ skip: (m) => (skipped = m ?? "PostgreSQL unavailable") });
    if (!server) return;
    pool = await openPool(await server.createDatabase());
    await migrate(pool);
    store = new PgTrackingStore(pool, "/tmp/a");
    exp = await store.createExperiment("search");
    await seedSearchRuns(pool, exp, RUNS);
    const r = await pool.query("SELECT run_id, start_time FROM runs WHERE experiment_id = $1", [exp]);
    for (const row of r.rows) ids.set(row.run_id, Number(row.start_time));
  });
  after(async () => {
    await pool?.end();
    await server?.stop();
  });

  const search = async (s: Omit<PgSearch, "experimentIds">): Promise<number[]> =>
    (await store.searchRuns({ experimentIds: [exp], maxResults: 100, ...s })).runIds.map(
      (id) => ids.get(id) ?? -1,
    );

  test("filters plus order_by on the filtered metric: the right page, both ways, both filter forms", async (t) => {
    if (!pool) return t.skip(skipped);
    const want = expected((acc, lr) => acc > 0.9 && lr === "0.01", true, 100);
    assert.deepEqual(
      await search({
        filters: [
          { kind: "metric", key: "acc", op: ">", value: 0.9 },
          { kind: "param", key: "lr", op: "=", value: "0.01" },
        ],
        orderBy: { kind: "metric", key: "acc", desc: true },
      }),
      want,
    );
    assert.deepEqual(
      await search({
        filter: parseFilter("metrics.acc > 0.9 and params.lr = '0.01'"),
        orderBy: { kind: "metric", key: "acc", desc: true },
      }),
      want,
    );
    assert.deepEqual(
      await search({
        filter: parseFilter("metrics.acc < 0.2 and params.lr = '0.1'"),
        orderBy: { kind: "metric", key: "acc", desc: false },
        offset: 100,
      }),
      expected((acc, lr) => acc < 0.2 && lr === "0.1", false, 200).slice(100),
    );
    // An OR does not require the key: runs without it still sort last (LEFT JOIN, NULLS LAST).
    const noAcc = await store.createRun({ experimentId: exp, startTime: RUNS + 1 });
    await store.logBatch(noAcc.runId, { params: { lr: "0.01" } });
    ids.set(noAcc.runId, RUNS + 1);
    const either = await search({
      filter: parseFilter("params.lr = '0.01' or metrics.acc > 0.998"),
      orderBy: { kind: "metric", key: "acc", desc: true },
      maxResults: 100_000,
    });
    assert.equal(either.at(-1), RUNS + 1);
  });

  test("the plan walks the metric's index in order instead of sorting every match", async (t) => {
    if (!pool) return t.skip(skipped);
    const p = pool;
    let sql = "";
    let args: unknown[] = [];
    const orig = p.query.bind(p);
    const spy = ((q: string, a: unknown[]) => {
      sql = q;
      args = a;
      return orig(q, a);
    }) as unknown as typeof p.query;
    p.query = spy;
    try {
      await search({
        filter: parseFilter("metrics.acc > 0.9 and params.lr = '0.01'"),
        orderBy: { kind: "metric", key: "acc", desc: true },
      });
    } finally {
      p.query = orig;
    }
    const plan = (await p.query(`EXPLAIN ${sql}`, args)).rows.map((r) => r["QUERY PLAN"]).join("\n");
    assert.match(plan, /Index Only Scan Backward using latest_metrics_key_value/, plan);
  });
});
