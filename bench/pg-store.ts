/**
 * The PostgreSQL tracking store (src/server/pg/tracking-store.ts) under the load of issue #17 §5, at the
 * store layer (no HTTP yet): C concurrent writers, each logging P metric points in batches of 100 plus
 * params and tags, then a count of the points in the database against the count sent; and runs/search
 * with a metric filter, a param filter and order_by over R runs (p50 / p95 of 50 searches).
 *
 * Starts its own throwaway PostgreSQL (test/helpers/postgres.ts).
 *   node --import tsx bench/pg-store.ts [--clients 32] [--points 10000] [--runs 100000]
 */
import { parseArgs } from "node:util";
import { openPool } from "../src/server/pg/db.js";
import { migrate } from "../src/server/pg/migrations.js";
import { PgTrackingStore } from "../src/server/pg/tracking-store.js";
import { seedSearchRuns, startBenchPostgres, timeCalls } from "./util.js";

const { values } = parseArgs({
  options: {
    clients: { type: "string", default: "32" },
    points: { type: "string", default: "10000" },
    runs: { type: "string", default: "100000" },
  },
});
const clients = Number(values.clients);
const points = Number(values.points);
const runs = Number(values.runs);

const server = await startBenchPostgres();
try {
  const url = await server.createDatabase("bench");
  const pool = await openPool(url, { max: clients });
  await migrate(pool);
  const store = new PgTrackingStore(pool, "/tmp/artifacts");
  const exp = await store.createExperiment("ingest");
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const run = await store.createRun({ experimentId: exp, tags: { client: String(c) } });
      await store.logBatch(run.runId, { params: { lr: "0.1", client: String(c) }, tags: { phase: "train" } });
      for (let i = 0; i < points; i += 100) {
        const metrics = Array.from({ length: Math.min(100, points - i) }, (_, j) => ({
          key: "loss",
          value: 1 / (i + j + 1),
          timestamp: Date.now(),
          step: i + j,
        }));
        await store.logBatch(run.runId, { metrics });
      }
      await store.updateRun(run.runId, { status: "FINISHED" });
    }),
  );
  const ingestS = (performance.now() - t0) / 1000;
  const counted = Number((await pool.query("SELECT count(*) AS n FROM metrics")).rows[0].n);

  // R runs for search, inserted in bulk (the ingest above is the write path under test).
  const sexp = await store.createExperiment("search");
  await seedSearchRuns(pool, sexp, runs);
  const search = () =>
    store.searchRuns({
      experimentIds: [sexp],
      filters: [
        { kind: "metric", key: "acc", op: ">", value: 0.9 },
        { kind: "param", key: "lr", op: "=", value: "0.01" },
      ],
      orderBy: { kind: "metric", key: "acc", desc: true },
      maxResults: 100,
    });
  const timed = await timeCalls(50, search);
  const found = timed.last.runIds.length;
  await pool.end();
  const sent = clients * points;
  console.log("| measure | value |");
  console.log("| --- | --- |");
  console.log(
    `| ingest: ${clients} writers x ${points} points (batches of 100) | ${ingestS.toFixed(2)} s, ${Math.round(sent / ingestS)} points/s |`,
  );
  console.log(
    `| points in the database / sent | ${counted} / ${sent}${counted === sent ? " (none lost)" : " LOST POINTS"} |`,
  );
  console.log(
    `| search over ${runs} runs (metric filter, param filter, order_by, 100 results: ${found}) | p50 ${timed.p50.toFixed(1)} ms, p95 ${timed.p95.toFixed(1)} ms |`,
  );
} finally {
  await server.stop();
}
