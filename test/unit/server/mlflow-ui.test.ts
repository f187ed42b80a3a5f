/**
 * `mtrack server` inside a repository also serves the web UI of `mtrack ui`, so the links the MLflow
 * client prints (`<tracking uri>/#/experiments/<id>/runs/<run id>`) open the run: the page, its assets
 * and its JSON API, read-only, behind the same read-token rule as the rest (or --public-read).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, test } from "node:test";
import { type RunningServer, startServer, tokensFileOf } from "../../../src/server/server.js";
import { createToken } from "../../../src/server/tokens.js";
import { FakeStore } from "../tracking/fake-store.js";

let tmp: string | undefined;
let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

async function start(publicRead: boolean) {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-mlflow-ui-"));
  const uiDir = path.join(tmp, "ui");
  fs.mkdirSync(path.join(uiDir, "assets"), { recursive: true });
  fs.writeFileSync(path.join(uiDir, "index.html"), "<!doctype html><title>mtrack</title>");
  fs.writeFileSync(path.join(uiDir, "assets", "app.js"), "console.log(1)");
  const storeDir = path.join(tmp, "store");
  const write = createToken(tokensFileOf(storeDir), { name: "w" }).token;
  const read = createToken(tokensFileOf(storeDir), { name: "r", scope: "read" }).token;
  const dir = path.join(tmp, "runs");
  const store = new FakeStore(path.join(tmp, "objects"));
  server = await startServer({
    storeDir,
    tracking: { dir, store },
    uiDir,
    repoRoot: tmp,
    publicRead,
    host: "127.0.0.1",
    port: 0,
  });
  return { write, read, url: server.url };
}

const basic = (token: string) => `Basic ${Buffer.from(`user:${token}`).toString("base64")}`;

test("the page, its assets and the UI's API need a read token; a browser is asked for it", async () => {
  const { write, read, url } = await start(false);
  const page = await fetch(`${url}/`);
  assert.equal(page.status, 401);
  assert.match(page.headers.get("www-authenticate") ?? "", /^Basic realm="mtrack"/);
  const withBasic = await fetch(`${url}/`, { headers: { authorization: basic(read) } });
  assert.equal(withBasic.status, 200);
  assert.match(await withBasic.text(), /<title>mtrack<\/title>/);
  assert.match(withBasic.headers.get("content-security-policy") ?? "", /default-src 'self'/);
  const asset = await fetch(`${url}/assets/app.js`, { headers: { authorization: `Bearer ${read}` } });
  assert.equal(asset.status, 200);
  const noApi = await fetch(`${url}/api/v1/experiments`);
  assert.equal(noApi.status, 401);

  // A run logged through the MLflow API, with a dataset input, shows on the UI's run endpoint.
  const auth = { authorization: `Bearer ${write}`, "content-type": "application/json" };
  const created = await fetch(`${url}/api/2.0/mlflow/runs/create`, {
    method: "POST",
    headers: auth,
    body: JSON.stringify({ experiment_id: "0", run_name: "r" }),
  });
  const runId = ((await created.json()) as { run: { info: { run_id: string } } }).run.info.run_id;
  const inputs = await fetch(`${url}/api/2.0/mlflow/runs/log-inputs`, {
    method: "POST",
    headers: auth,
    body: JSON.stringify({
      run_id: runId,
      datasets: [
        {
          tags: [{ key: "mlflow.data.context", value: "training" }],
          dataset: { name: "iris", digest: "d1", source_type: "code", source: "{}" },
        },
      ],
    }),
  });
  assert.equal(inputs.status, 200);
  const run = await fetch(`${url}/api/v1/runs/${runId}`, { headers: { authorization: `Bearer ${read}` } });
  assert.equal(run.status, 200);
  const body = (await run.json()) as { name: string; datasets: { name: string; context: string }[] };
  assert.equal(body.name, "r");
  assert.deepEqual(
    body.datasets.map((d) => [d.name, d.context]),
    [["iris", "training"]],
  );
  const ghost = await fetch(`${url}/api/v1/runs/${"f".repeat(32)}`, {
    headers: { authorization: `Bearer ${read}` },
  });
  assert.equal(ghost.status, 404);
  assert.equal(((await ghost.json()) as { error: { code: string } }).error.code, "ERR_MTRACK_RUN_NOT_FOUND");
  // Read-only: the UI's paths take no writes.
  const post = await fetch(`${url}/`, { method: "POST", headers: { authorization: `Bearer ${write}` } });
  assert.equal(post.status, 405);
});

test("with --public-read the page opens without a token; writes still need one", async () => {
  const { url } = await start(true);
  assert.equal((await fetch(`${url}/`)).status, 200);
  assert.equal((await fetch(`${url}/api/v1/experiments`)).status, 200);
  const write = await fetch(`${url}/api/2.0/mlflow/runs/create`, { method: "POST", body: "{}" });
  assert.equal(write.status, 401);
});
