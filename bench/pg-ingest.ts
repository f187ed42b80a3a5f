/**
 * Issue #17 §5 over HTTP: `mtrack server --db postgresql://...` against `mlflow server
 * --backend-store-uri postgresql://...` on the same PostgreSQL (one throwaway cluster, one database each)
 * in the same run. C concurrent clients speak MLflow's REST protocol (the requests the mlflow client
 * sends: runs/create, one log-batch of params and tags, P metric points in log-batches of 100,
 * runs/update), then the points in each database are counted against the points sent. Then runs/search
 * with a metric filter, a param filter and order_by over R runs through `mtrack server` (p50 / p95).
 *
 *   npm run build && node --import tsx bench/pg-ingest.ts [--clients 32] [--points 10000] [--runs 100000] [--skip-mlflow]
 *
 * `mlflow server` needs psycopg2: installed (psycopg2-binary) into bench/work/pg-py when missing.
 */
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { ensurePsycopg, startMlflowPgServer, startMtrackPgServer } from "./pg-servers.js";
import { seedSearchRuns, startBenchPostgres, stop, timeCalls } from "./util.js";

const { values } = parseArgs({
  options: {
    clients: { type: "string", default: "32" },
    points: { type: "string", default: "10000" },
    runs: { type: "string", default: "100000" },
    // Only mtrack (ingest and search): for measuring the search when mlflow server is not wanted.
    "skip-mlflow": { type: "boolean", default: false },
  },
});
const skipMlflow = values["skip-mlflow"] === true;
const clients = Number(values.clients);
const points = Number(values.points);
const runs = Number(values.runs);

// biome-ignore lint/suspicious/noExplicitAny: the JSON answers of two servers, read by a few fields
async function post(url: string, endpoint: string, token: string | undefined, body: object): Promise<any> {
  for (let attempt = 0; ; attempt++) {
    const r = await fetch(`${url}/api/2.0/mlflow${endpoint}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    const text = await r.text();
    if (r.ok) return text === "" ? {} : JSON.parse(text);
    // Retry 5xx as the mlflow client does (with its backoff shortened).
    if (r.status >= 500 && attempt < 5) {
      await new Promise((res) => setTimeout(res, 100 * 2 ** attempt));
      continue;
    }
    throw new Error(`${endpoint}: ${r.status} ${text.slice(0, 300)}`);
  }
}

/** C clients, each one run with params, tags and P points in batches of 100; returns seconds. */
async function ingest(url: string, token: string | undefined, experimentId: string): Promise<number> {
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const created = await post(url, "/runs/create", token, {
        experiment_id: experimentId,
        start_time: Date.now(),
        tags: [{ key: "client", value: String(c) }],
      });
      const runId = created.run.info.run_id as string;
      await post(url, "/runs/log-batch", token, {
        run_id: runId,
        params: [
          { key: "lr", value: "0.1" },
          { key: "client", value: String(c) },
        ],
        tags: [{ key: "phase", value: "train" }],
      });
      for (let i = 0; i < points; i += 100) {
        const metrics = Array.from({ length: Math.min(100, points - i) }, (_, j) => ({
          key: "loss",
          value: 1 / (i + j + 1),
          timestamp: Date.now(),
          step: i + j,
        }));
        await post(url, "/runs/log-batch", token, { run_id: runId, metrics });
      }
      await post(url, "/runs/update", token, { run_id: runId, status: "FINISHED", end_time: Date.now() });
    }),
  );
  return (performance.now() - t0) / 1000;
}

async function count(url: string, sql: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return Number((await c.query(sql)).rows[0].n);
  } finally {
    await c.end();
  }
}

if (!skipMlflow) ensurePsycopg();
const cluster = await startBenchPostgres();
const work = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-pg-ingest-"));
const children: ChildProcess[] = [];
try {
  const mtrackDb = await cluster.createDatabase("mtrack");
  const mlflowDb = await cluster.createDatabase("mlflow");
  const mtrackServer = await startMtrackPgServer(work, mtrackDb);
  children.push(mtrackServer.child);
  const { url: mtrackUrl, token } = mtrackServer;

  let mlflowUrl = "";
  if (!skipMlflow) {
    const mlflowServer = await startMlflowPgServer(work, mlflowDb, "--default-artifact-root");
    children.push(mlflowServer.child);
    mlflowUrl = mlflowServer.url;
  }
  const mExp = (await post(mtrackUrl, "/experiments/create", token, { name: "ingest" })).experiment_id;
  const mtrackS = await ingest(mtrackUrl, token, mExp);
  let mlflowS = Number.NaN;
  if (!skipMlflow) {
    const fExp = (await post(mlflowUrl, "/experiments/create", undefined, { name: "ingest" })).experiment_id;
    mlflowS = await ingest(mlflowUrl, undefined, fExp);
  }
  const sent = clients * points;
  const mCount = await count(mtrackDb, "SELECT count(*) AS n FROM metrics");
  const fCount = skipMlflow ? 0 : await count(mlflowDb, "SELECT count(*) AS n FROM metrics");

  // R runs for search, inserted in bulk into mtrack's database, searched through mtrack server.
  const c = new pg.Client({ connectionString: mtrackDb });
  await c.connect();
  const sExp = (await post(mtrackUrl, "/experiments/create", token, { name: "search" })).experiment_id;
  await seedSearchRuns(c, sExp, runs);
  await c.end();
  const timed = await timeCalls(50, () =>
    post(mtrackUrl, "/runs/search", token, {
      experiment_ids: [sExp],
      filter: "metrics.acc > 0.9 and params.lr = '0.01'",
      order_by: ["metrics.acc DESC"],
      max_results: 100,
    }),
  );
  const found = timed.last.runs.length;

  const lost = (n: number) => (n === sent ? "(none lost)" : `LOST ${sent - n}`);
  const ml = (cell: string) => (skipMlflow ? "not run (--skip-mlflow)" : cell);
  console.log("| measure | mtrack server --db | mlflow server --backend-store-uri postgresql:// |");
  console.log("| --- | --- | --- |");
  console.log(
    `| ingest: ${clients} clients x ${points} points (log-batch of 100) + params, tags | ${mtrackS.toFixed(2)} s, ${Math.round(sent / mtrackS)} points/s | ${ml(`${mlflowS.toFixed(2)} s, ${Math.round(sent / mlflowS)} points/s`)} |`,
  );
  console.log(
    `| points in the database / sent | ${mCount} / ${sent} ${lost(mCount)} | ${ml(`${fCount} / ${sent} ${lost(fCount)}`)} |`,
  );
  console.log(`| ingest throughput, mtrack / mlflow | ${ml(`${(mlflowS / mtrackS).toFixed(1)}x`)} | |`);
  console.log(
    `| runs/search over ${runs} runs (metric filter, param filter, order_by, 100 results: ${found}), HTTP | p50 ${timed.p50.toFixed(1)} ms, p95 ${timed.p95.toFixed(1)} ms | not measured |`,
  );
} finally {
  for (const child of children) stop(child);
  await new Promise((r) => setTimeout(r, 500));
  await cluster.stop();
  fs.rmSync(work, { recursive: true, force: true });
}
