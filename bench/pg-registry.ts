/**
 * The model registry of the team server over HTTP: `mtrack server --db postgresql://...` against `mlflow
 * server --backend-store-uri postgresql://...` on the same PostgreSQL (one throwaway cluster, one database
 * each) in the same run. C concurrent clients register M models with V versions each (the requests the
 * mlflow client sends: registered-models/create, model-versions/create from a run's artifact location,
 * an alias on the last), then the read side: registered-models/search with a LIKE filter and order_by,
 * model-versions/search by name, registered-models/get, alias lookup (p50 / p95 of N calls each).
 *
 *   npm run build && node --import tsx bench/pg-registry.ts [--models 500] [--versions 4] [--clients 8] [--reads 200]
 *
 * `mlflow server` needs psycopg2: installed (psycopg2-binary) into bench/work/pg-py when missing.
 */
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { startPostgres } from "../test/helpers/postgres.js";
import { ensurePsycopg, startMlflowPgServer, startMtrackPgServer } from "./pg-servers.js";
import { stop } from "./util.js";

const { values } = parseArgs({
  options: {
    models: { type: "string", default: "500" },
    versions: { type: "string", default: "4" },
    clients: { type: "string", default: "8" },
    reads: { type: "string", default: "200" },
  },
});
const models = Number(values.models);
const versions = Number(values.versions);
const clients = Number(values.clients);
const reads = Number(values.reads);

async function call(
  url: string,
  method: string,
  endpoint: string,
  token: string | undefined,
  body?: object,
  // biome-ignore lint/suspicious/noExplicitAny: the JSON answers of two servers, read by a few fields
): Promise<any> {
  const r = await fetch(`${url}/api/2.0/mlflow${endpoint}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${endpoint}: ${r.status} ${text.slice(0, 300)}`);
  return text === "" ? {} : JSON.parse(text);
}

/** A run with a one-file model directory `model/`; returns its id and artifact location. */
async function modelRun(url: string, token: string | undefined): Promise<{ runId: string; source: string }> {
  const run = (await call(url, "POST", "/runs/create", token, { experiment_id: "0", start_time: Date.now() }))
    .run;
  const runId = run.info.run_id as string;
  const put = await fetch(`${url}/api/2.0/mlflow-artifacts/artifacts/0/${runId}/artifacts/model/MLmodel`, {
    method: "PUT",
    headers: token ? { authorization: `Bearer ${token}` } : {},
    body: "flavors: {}\n",
  });
  if (!put.ok) throw new Error(`artifact upload: ${put.status}`);
  // mtrack answers mlflow-artifacts:/0/<run>/artifacts; mlflow server its own artifact root.
  return { runId, source: `${run.info.artifact_uri}/model` };
}

/** C clients register M models × V versions (an alias on the last); seconds. */
async function register(url: string, token: string | undefined, run: { runId: string; source: string }) {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = next++; i < models; i = next++) {
        const name = `model-${i}`;
        await call(url, "POST", "/registered-models/create", token, {
          name,
          tags: [{ key: "team", value: `t${i % 10}` }],
        });
        for (let v = 0; v < versions; v++)
          await call(url, "POST", "/model-versions/create", token, {
            name,
            source: run.source,
            run_id: run.runId,
          });
        await call(url, "POST", "/registered-models/alias", token, {
          name,
          alias: "champion",
          version: String(versions),
        });
      }
    }),
  );
  return (performance.now() - t0) / 1000;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}

async function timed(n: number, fn: (i: number) => Promise<unknown>): Promise<string> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    ms.push(performance.now() - t0);
  }
  return `p50 ${pct(ms, 50).toFixed(1)} ms, p95 ${pct(ms, 95).toFixed(1)} ms`;
}

async function readSide(url: string, token: string | undefined): Promise<Record<string, string>> {
  const q = (s: string) => encodeURIComponent(s);
  const found = await call(
    url,
    "GET",
    `/registered-models/search?filter=${q("name LIKE 'model-1%'")}&max_results=100`,
    token,
  );
  if ((found.registered_models ?? []).length === 0) throw new Error("search found nothing");
  return {
    "registered-models/search (name LIKE, order_by name DESC, 100 results)": await timed(reads, () =>
      call(
        url,
        "GET",
        `/registered-models/search?filter=${q("name LIKE 'model-1%'")}&order_by=${q("name DESC")}&max_results=100`,
        token,
      ),
    ),
    "model-versions/search (name = one model)": await timed(reads, (i) =>
      call(url, "GET", `/model-versions/search?filter=${q(`name = 'model-${i % models}'`)}`, token),
    ),
    "registered-models/get": await timed(reads, (i) =>
      call(url, "GET", `/registered-models/get?name=model-${i % models}`, token),
    ),
    "registered-models/alias (get by alias)": await timed(reads, (i) =>
      call(url, "GET", `/registered-models/alias?name=model-${i % models}&alias=champion`, token),
    ),
  };
}

ensurePsycopg();
const cluster = await startPostgres();
if (!cluster) throw new Error("PostgreSQL is not installed");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-pg-registry-"));
const children: ChildProcess[] = [];
try {
  const mtrackDb = await cluster.createDatabase("mtrack");
  const mlflowDb = await cluster.createDatabase("mlflow");
  const mtrackServer = await startMtrackPgServer(work, mtrackDb);
  children.push(mtrackServer.child);
  const { url: mtrackUrl, token } = mtrackServer;

  const mlflowServer = await startMlflowPgServer(work, mlflowDb, "--artifacts-destination");
  children.push(mlflowServer.child);
  const mlflowUrl = mlflowServer.url;

  const mRun = await modelRun(mtrackUrl, token);
  const fRun = await modelRun(mlflowUrl, undefined);
  const mReg = await register(mtrackUrl, token, mRun);
  const fReg = await register(mlflowUrl, undefined, fRun);
  const mRead = await readSide(mtrackUrl, token);
  const fRead = await readSide(mlflowUrl, undefined);

  const n = models * (versions + 2);
  console.log(`models ${models} x ${versions} versions, ${clients} clients, ${reads} reads each\n`);
  console.log("| measure | mtrack server --db | mlflow server --backend-store-uri postgresql:// |");
  console.log("| --- | --- | --- |");
  console.log(
    `| register: ${models} models x ${versions} versions + alias (${n} requests, ${clients} clients) | ${mReg.toFixed(2)} s, ${(n / mReg).toFixed(0)} req/s | ${fReg.toFixed(2)} s, ${(n / fReg).toFixed(0)} req/s |`,
  );
  for (const k of Object.keys(mRead)) console.log(`| ${k} | ${mRead[k]} | ${fRead[k]} |`);
} finally {
  for (const c of children) stop(c);
  await cluster.stop();
  fs.rmSync(work, { recursive: true, force: true });
}
