import assert from "node:assert/strict";
import fs from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, test } from "node:test";
import { limitedBody } from "../../../src/server/http-util.js";
import { mlflowApi } from "../../../src/server/mlflow/routes.js";
import { MlflowService } from "../../../src/server/mlflow/service.js";
import { HttpError } from "../../../src/server/router.js";
import { type RunningServer, startServer, tokensFileOf } from "../../../src/server/server.js";
import { createToken } from "../../../src/server/tokens.js";
import { getRun } from "../../../src/tracking/read.js";
import { FakeStore } from "../tracking/fake-store.js";

let tmp: string;
let dir: string;
let store: FakeStore;
let server: RunningServer | undefined;
let write: string;
let read: string;

beforeEach(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-mlflow-http-"));
  dir = path.join(tmp, "runs");
  store = new FakeStore(path.join(tmp, "objects"));
  const storeDir = path.join(tmp, "store");
  write = createToken(tokensFileOf(storeDir), { name: "w" }).token;
  read = createToken(tokensFileOf(storeDir), { name: "r", scope: "read" }).token;
  server = await startServer({ storeDir, tracking: { dir, store }, host: "127.0.0.1", port: 0 });
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function call(
  method: string,
  endpoint: string,
  options: { token?: string; body?: string | object | Buffer } = {},
): Promise<{ status: number; body: Record<string, unknown>; text: string }> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const b = options.body;
  const body =
    b === undefined ? undefined : typeof b === "string" || Buffer.isBuffer(b) ? b : JSON.stringify(b);
  const r = await fetch(`${server!.url}${endpoint}`, { method, headers, body });
  const text = await r.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // raw bytes (artifact downloads)
  }
  return { status: r.status, body: parsed, text };
}

const API = "/api/2.0/mlflow";

async function createRun(): Promise<string> {
  const r = await call("POST", `${API}/runs/create`, { token: write, body: { experiment_id: "0" } });
  assert.equal(r.status, 200, r.text);
  return (r.body.run as { info: { run_id: string } }).info.run_id;
}

test("auth errors on MLflow paths use MLflow's body; the store API keeps its own", async () => {
  const none = await call("POST", `${API}/runs/create`, { body: {} });
  assert.deepEqual([none.status, none.body.error_code], [401, "UNAUTHENTICATED"]);
  const readOnly = await call("POST", `${API}/runs/create`, { token: read, body: {} });
  assert.deepEqual([readOnly.status, readOnly.body.error_code], [403, "PERMISSION_DENIED"]);
  const readNoToken = await call("GET", `${API}/experiments/get?experiment_id=0`);
  assert.deepEqual([readNoToken.status, readNoToken.body.error_code], [401, "UNAUTHENTICATED"]);
  const reads = await call("GET", `${API}/experiments/get?experiment_id=0`, { token: read });
  assert.equal((reads.body.experiment as { name: string }).name, "Default");
  const basic = Buffer.from(`anyone:${write}`).toString("base64");
  const viaBasic = await fetch(`${server!.url}${API}/runs/create`, {
    method: "POST",
    headers: { authorization: `Basic ${basic}`, "content-type": "application/json" },
    body: "{}",
  });
  assert.equal(viaBasic.status, 200);
  const store = await call("POST", "/v1/objects/has", { body: Buffer.alloc(0) });
  assert.equal(store.status, 401);
  assert.equal((store.body.error as { code: string }).code, "ERR_MTRACK_IO");
});

test("GET messages come from the query string, POST from JSON; int64 as strings; ajax-api too", async () => {
  const id = await createRun();
  for (let step = 0; step < 5; step++) {
    const r = await call("POST", `${API}/runs/log-metric`, {
      token: write,
      body: {
        run_id: id,
        run_uuid: id,
        key: "loss",
        value: 1 / (step + 1),
        timestamp: String(1000 + step),
        step: String(step),
      },
    });
    assert.deepEqual([r.status, r.body], [200, {}]);
  }
  const got = await call("GET", `/ajax-api/2.0/mlflow/runs/get?run_id=${id}&run_uuid=${id}`, { token: read });
  const metrics = (got.body.run as { data: { metrics: { key: string; value: number; step: number }[] } }).data
    .metrics;
  assert.deepEqual(metrics, [{ key: "loss", value: 0.2, timestamp: 1004, step: 4 }]);
  const hist = await call("GET", `${API}/metrics/get-history?run_id=${id}&metric_key=loss&max_results=2`, {
    token: read,
  });
  assert.equal((hist.body.metrics as unknown[]).length, 2);
  assert.equal(typeof hist.body.next_page_token, "string");
  const search = await call("POST", `${API}/runs/search`, {
    token: read,
    body: { experiment_ids: ["0"], filter: "metrics.loss < 0.5", order_by: ["start_time DESC"] },
  });
  assert.equal((search.body.runs as unknown[]).length, 1);
});

test("fault answers: malformed JSON, over-limit batches, unknown ids, unsupported endpoints — no 5xx", async () => {
  const id = await createRun();
  const malformed = await call("POST", `${API}/runs/log-metric`, { token: write, body: "{oops" });
  assert.deepEqual([malformed.status, malformed.body.error_code], [400, "BAD_REQUEST"]);
  const huge = await call("POST", `${API}/runs/log-batch`, {
    token: write,
    body: { run_id: id, tags: [{ key: "t", value: "x".repeat(1_000_001) }] },
  });
  assert.deepEqual([huge.status, huge.body.error_code], [400, "INVALID_PARAMETER_VALUE"]);
  const many = await call("POST", `${API}/runs/log-batch`, {
    token: write,
    body: { run_id: id, params: Array.from({ length: 101 }, (_, i) => ({ key: `p${i}`, value: "1" })) },
  });
  assert.deepEqual([many.status, many.body.error_code], [400, "INVALID_PARAMETER_VALUE"]);
  const unknown = await call("GET", `${API}/runs/get?run_id=${"0".repeat(32)}`, { token: read });
  assert.deepEqual([unknown.status, unknown.body.error_code], [404, "RESOURCE_DOES_NOT_EXIST"]);
  const missing = await call("GET", `${API}/runs/get`, { token: read });
  assert.deepEqual([missing.status, missing.body.error_code], [400, "INVALID_PARAMETER_VALUE"]);
  const unsupported = await call("POST", `${API}/metrics/get-history-bulk-interval`, {
    token: write,
    body: { run_ids: [id] },
  });
  assert.deepEqual([unsupported.status, unsupported.body.error_code], [501, "NOT_IMPLEMENTED"]);
  const mpu = await call("POST", "/api/2.0/mlflow-artifacts/mpu/create/0/x/artifacts/a", {
    token: write,
    body: {},
  });
  assert.equal(mpu.status, 501);
  assert.match(
    String(mpu.body.message),
    /^Multipart upload is not supported for the current artifact repository/,
  );
});

test("the artifact proxy stores uploads as run artifacts and serves them back", async () => {
  const id = await createRun();
  const base = `/api/2.0/mlflow-artifacts/artifacts/0/${id}/artifacts`;
  const bytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 251));
  const put = await call("PUT", `${base}/data/blob.bin`, { token: write, body: bytes });
  assert.deepEqual([put.status, put.body], [200, {}]);
  const unauth = await call("PUT", `${base}/x.bin`, { body: bytes });
  assert.deepEqual([unauth.status, unauth.body.error_code], [401, "UNAUTHENTICATED"]);
  const r = await fetch(`${server!.url}${base}/data/blob.bin`, {
    headers: { authorization: `Bearer ${read}` },
  });
  assert.equal(r.status, 200);
  assert.deepEqual(Buffer.from(await r.arrayBuffer()), bytes);
  const list = await call("GET", `/api/2.0/mlflow-artifacts/artifacts?path=0/${id}/artifacts/data`, {
    token: read,
  });
  assert.deepEqual(list.body, { files: [{ path: "blob.bin", is_dir: false, file_size: 3000 }] });
  const escaping = await call("PUT", `/api/2.0/mlflow-artifacts/artifacts/0/${id}/artifacts/a/..%2F..%2Fx`, {
    token: write,
    body: bytes,
  });
  assert.equal(escaping.status, 400);
  assert.equal(getRun(dir, store, id).artifacts.length, 1);
});

test("the artifact proxy applies --max-object-bytes to uploads (413, nothing stored)", async () => {
  await server?.close();
  const storeDir = path.join(tmp, "store");
  server = await startServer({
    storeDir,
    tracking: { dir, store },
    host: "127.0.0.1",
    port: 0,
    limits: { objectBytes: 1000 },
  });
  const id = await createRun();
  const base = `/api/2.0/mlflow-artifacts/artifacts/0/${id}/artifacts`;
  const big = await call("PUT", `${base}/big.bin`, { token: write, body: Buffer.alloc(3000, 7) });
  assert.equal(big.status, 413, big.text);
  assert.equal(big.body.error_code, "INVALID_PARAMETER_VALUE");
  assert.match(String(big.body.message), /max-object-bytes/);
  const small = await call("PUT", `${base}/small.bin`, { token: write, body: Buffer.alloc(1000, 7) });
  assert.equal(small.status, 200, small.text);
  assert.deepEqual(
    getRun(dir, store, id).artifacts.map((a) => a.name),
    ["small.bin"],
  );
});

test("limitedBody stops a streamed body without Content-Length at the limit", async () => {
  const req = Object.assign(Readable.from([Buffer.alloc(600), Buffer.alloc(600)]), { headers: {} });
  const got: number[] = [];
  await assert.rejects(
    (async () => {
      for await (const c of limitedBody(req as never, 1000)) got.push(c.length);
    })(),
    (err: unknown) => err instanceof HttpError && err.status === 413,
  );
  assert.deepEqual(got, [600]);
});

test("closing the server ends the runs it still owns as KILLED", async () => {
  const id = await createRun();
  await call("POST", `${API}/runs/log-metric`, {
    token: write,
    body: { run_id: id, key: "m", value: 5, timestamp: 1 },
  });
  await server!.close();
  server = undefined;
  const run = getRun(dir, store, id);
  assert.equal(run.status, "KILLED");
  assert.equal(run.metrics.m?.last, 5);
});

test("artifact downloads stream the stored object when the store can open it", async () => {
  const service = new MlflowService({ tracking: { dir: path.join(tmp, "runs2"), store }, tmpDir: tmp });
  const opened: string[] = [];
  const router = mlflowApi(service, {
    openObject: async (hash) => {
      opened.push(hash);
      return Readable.from([store.readObject(hash)]);
    },
  });
  const http = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const m = router.match(req.method ?? "GET", url.pathname);
    if (m === undefined || m === "method") return void res.writeHead(404).end();
    m.route.handler({ req, res, params: m.params, url }).catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  try {
    const { run } = (await service.createRun({})) as { run: { info: { run_id: string } } };
    const id = run.info.run_id;
    await service.putArtifact(id, "model/weights.bin", Readable.from([Buffer.alloc(5000, 7)]));
    const port = (http.address() as AddressInfo).port;
    const r = await fetch(
      `http://127.0.0.1:${port}/api/2.0/mlflow-artifacts/artifacts/0/${id}/artifacts/model/weights.bin`,
    );
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-length"), "5000");
    assert.deepEqual(Buffer.from(await r.arrayBuffer()), Buffer.alloc(5000, 7));
    assert.equal(opened.length, 1);
  } finally {
    http.close();
    await service.close();
  }
});
