/**
 * The model registry in the UI's JSON API (src/ui/models.ts): the pure shaping of models, versions and a
 * run's "registered as", and the routes over HTTP, in process — under `mtrack ui`'s handler (public) and
 * `mtrack server`'s (behind the read token) — with a run that logged a model, versions registered from it
 * and from elsewhere, aliases, file downloads (streamed when the store can), and refused paths.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, test } from "node:test";
import { contentFromRun, putManifest } from "../../../src/registry/content.js";
import { Registry } from "../../../src/registry/registry.js";
import type { ModelContent } from "../../../src/registry/types.js";
import { startServer, tokensFileOf } from "../../../src/server/server.js";
import { createToken } from "../../../src/server/tokens.js";
import { startRun } from "../../../src/tracking/api.js";
import {
  looseObjectOpener,
  modelSummary,
  registryDirBeside,
  versionInfo,
  versionsOfRun,
} from "../../../src/ui/models.js";
import { createUiHandler, type UiServerOptions } from "../../../src/ui/server.js";
import { FakeStore, fakeGit } from "../tracking/fake-store.js";

// biome-ignore lint/suspicious/noExplicitAny: JSON answers are checked field by field
type Json = any;

let tmp: string;
let dir: string;
let store: FakeStore;
let runId: string;
let closers: (() => Promise<void>)[] = [];

const MLMODEL = "artifact_path: model\nflavors:\n  python_function: {}\n";

function version(name: string, n: number, content: ModelContent, extra: Record<string, unknown> = {}) {
  return {
    op: "version.create" as const,
    name,
    version: n,
    source: "results/model",
    runId: null,
    modelId: null,
    commit: "c".repeat(40),
    content,
    signature: null,
    flavor: "files",
    ...extra,
  };
}

beforeEach(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-ui-models-"));
  dir = path.join(tmp, ".mtrack", "runs");
  store = new FakeStore(path.join(tmp, "objects"));
  const model = path.join(tmp, "model");
  fs.mkdirSync(path.join(model, "sub"), { recursive: true });
  fs.writeFileSync(path.join(model, "MLmodel"), MLMODEL);
  fs.writeFileSync(path.join(model, "sub", "weights.bin"), Buffer.from([1, 2, 3, 4]));
  const run = await startRun({ dir, store, gitInfo: fakeGit, name: "train-1", installProcessHooks: false });
  await run.logModel(model, { name: "model", flavor: "mlflow" });
  await run.end();
  runId = run.id;
  const fromRun = contentFromRun(dir, store, runId, "model");
  assert.ok(fromRun);
  const other = putManifest(store, [
    { name: "notes.txt", hash: store.putBuffer(Buffer.from("hi\n")).hash, size: 3 },
  ]);
  await store.flush();
  const reg = new Registry({ dir: registryDirBeside(dir), user: "alice" });
  await reg.write({ op: "model.create", name: "clf", description: "the classifier", tags: { team: "v" } });
  await reg.write(
    version("clf", 1, fromRun.content, {
      source: `runs:/${runId}/model`,
      runId,
      flavor: "mlflow",
      signature: { inputs: [{ type: "double" }], outputs: [{ type: "long" }] },
    }),
  );
  await reg.write(version("clf", 2, other));
  await reg.write(version("clf", 3, other, { runId }));
  await reg.write({ op: "version.delete", name: "clf", version: 3 });
  await reg.write({ op: "alias.set", name: "clf", alias: "champion", version: 1 });
  await reg.write({ op: "alias.set", name: "clf", alias: "production", version: 1 });
  await reg.write({ op: "model.create", name: "empty model" });
});

afterEach(async () => {
  for (const close of closers) await close();
  closers = [];
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function serveUi(extra: Partial<UiServerOptions> = {}): Promise<string> {
  const server = http.createServer(createUiHandler({ dir, store, repoRoot: tmp, uiDir: tmp, ...extra }));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  const bytes = Buffer.from(await res.arrayBuffer());
  let json: Json;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, bytes, json };
}

test("shaping: summaries count live versions, a version lists its files sorted with its URIs, a run its versions", () => {
  const state = new Registry({ dir: registryDirBeside(dir) }).state();
  const clf = state.models.get("clf")!;
  const s = modelSummary(clf);
  assert.equal(s.versionCount, 2);
  assert.equal(s.latestVersion, 2);
  assert.deepEqual(s.aliases, { champion: 1, production: 1 });
  assert.equal(modelSummary(state.models.get("empty model")!).latestVersion, null);
  const v1 = clf.versions.get(1)!;
  const info = versionInfo(
    v1,
    [
      { name: "z.bin", hash: "h1", size: 1 },
      { name: "a.txt", hash: "h2", size: 2 },
    ],
    "train-1",
  );
  assert.deepEqual(
    info.files.map((f) => [f.path, f.kind]),
    [
      ["a.txt", "text"],
      ["z.bin", "binary"],
    ],
  );
  assert.deepEqual(info.uris, ["models:/clf/1", "models:/clf@champion", "models:/clf@production"]);
  assert.equal(info.stage, "Production");
  assert.equal(info.runName, "train-1");
  assert.equal(info.missing, false);
  assert.equal(versionInfo(v1, undefined).missing, true);
  // Version 3 was deleted: only version 1 is still registered from the run.
  assert.deepEqual(versionsOfRun(state, runId), [
    { name: "clf", version: 1, aliases: ["champion", "production"] },
  ]);
  assert.deepEqual(versionsOfRun(state, "f".repeat(32)), []);
});

test("GET /models, /models/:name and /models/:name/versions/:v under mtrack ui", async () => {
  const base = `${await serveUi()}/api/v1`;
  const list = await get(`${base}/models`);
  assert.equal(list.status, 200);
  assert.deepEqual(
    list.json.models.map((m: Json) => [m.name, m.versionCount, m.latestVersion]),
    [
      ["clf", 2, 2],
      ["empty model", 0, null],
    ],
  );

  const model = await get(`${base}/models/clf`);
  assert.equal(model.status, 200);
  assert.equal(model.json.description, "the classifier");
  assert.deepEqual(model.json.tags, { team: "v" });
  assert.deepEqual(
    model.json.versions.map((v: Json) => [v.version, v.runId, v.runName, v.stage]),
    [
      [2, null, null, "None"],
      [1, runId, "train-1", "Production"],
    ],
  );
  assert.equal((await get(`${base}/models/${encodeURIComponent("empty model")}`)).json.versions.length, 0);

  const v1 = await get(`${base}/models/clf/versions/1`);
  assert.equal(v1.status, 200);
  assert.deepEqual(
    v1.json.files.map((f: Json) => [f.path, f.size]),
    [
      ["MLmodel", MLMODEL.length],
      ["sub/weights.bin", 4],
    ],
  );
  assert.deepEqual(v1.json.signature, { inputs: [{ type: "double" }], outputs: [{ type: "long" }] });
  assert.equal(v1.json.source, `runs:/${runId}/model`);
  assert.equal((await get(`${base}/models/clf/versions/v2`)).json.version, 2);

  // The run page learns what it was registered as.
  const run = await get(`${base}/runs/${runId.slice(0, 8)}`);
  assert.deepEqual(run.json.registered, [{ name: "clf", version: 1, aliases: ["champion", "production"] }]);

  for (const [p, status, code] of [
    ["/models/nope", 404, "ERR_MTRACK_MODEL_NOT_FOUND"],
    ["/models/clf/versions/3", 404, "ERR_MTRACK_MODEL_NOT_FOUND"],
    ["/models/clf/versions/0", 400, "ERR_MTRACK_INVALID_ARGUMENT"],
    ["/models/clf/versions/x", 400, "ERR_MTRACK_INVALID_ARGUMENT"],
  ] as const) {
    const r = await get(base + p);
    assert.equal(r.status, status, p);
    assert.equal(r.json.error.code, code, p);
  }
});

test("a version file downloads from the store; '..', absolute and unknown paths are refused", async () => {
  const base = `${await serveUi()}/api/v1/models/clf/versions/1/file`;
  const w = await get(`${base}?path=${encodeURIComponent("sub/weights.bin")}&download=1`);
  assert.equal(w.status, 200);
  assert.deepEqual([...w.bytes], [1, 2, 3, 4]);
  assert.equal(w.headers.get("content-type"), "application/octet-stream");
  assert.match(w.headers.get("content-disposition") ?? "", /^attachment; filename="weights.bin"/);
  assert.equal(w.headers.get("content-security-policy"), "default-src 'none'; sandbox");
  assert.equal(w.headers.get("x-content-type-options"), "nosniff");
  const m = await get(`${base}?path=MLmodel`);
  assert.equal(m.bytes.toString("utf8"), MLMODEL);
  const head = await fetch(`${base}?path=MLmodel`, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-length"), String(MLMODEL.length));

  for (const bad of ["../MLmodel", "sub/../MLmodel", "/etc/passwd", "sub\\..\\MLmodel", ""]) {
    const r = await get(`${base}?path=${encodeURIComponent(bad)}`);
    assert.equal(r.status, 400, bad);
    assert.equal(r.json.error.code, "ERR_MTRACK_INVALID_NAME", bad);
  }
  const missing = await get(`${base}?path=sub`);
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error.code, "ERR_MTRACK_PATH_NOT_FOUND");
  // Read-only: no other method.
  assert.equal((await fetch(`${base}?path=MLmodel`, { method: "DELETE" })).status, 405);
});

test("with a streaming opener the file is piped from it, not read whole", async () => {
  const opened: string[] = [];
  const base = await serveUi({
    openObject: async (hash) => {
      opened.push(hash);
      return Readable.from([Buffer.from([1, 2]), Buffer.from([3, 4])]);
    },
  });
  const r = await get(`${base}/api/v1/models/clf/versions/1/file?path=sub/weights.bin`);
  assert.equal(r.status, 200);
  assert.deepEqual([...r.bytes], [1, 2, 3, 4]);
  assert.equal(opened.length, 1);
});

test("the loose-object opener streams a loose file and leaves packed objects to be read whole", async () => {
  const loose = path.join(tmp, "loose-object");
  fs.writeFileSync(loose, "bytes");
  const open = looseObjectOpener({ loosePath: (hash) => (hash === "aa" ? loose : path.join(tmp, "none")) });
  const stream = await open("aa");
  assert.ok(stream);
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  assert.equal(Buffer.concat(chunks).toString(), "bytes");
  assert.equal(await open("bb"), undefined);
});

test("under mtrack server the registry's routes need a read token (or --public-read)", async () => {
  const storeDir = path.join(tmp, "served");
  const read = createToken(tokensFileOf(storeDir), { name: "r", scope: "read" }).token;
  const server = await startServer({
    storeDir,
    tracking: { dir, store },
    repoRoot: tmp,
    uiDir: tmp,
    host: "127.0.0.1",
    port: 0,
  });
  closers.push(() => server.close());
  const url = `${server.url}/api/v1/models/clf/versions/1`;
  const anonymous = await get(url);
  assert.equal(anonymous.status, 401);
  assert.match(anonymous.headers.get("www-authenticate") ?? "", /^Basic/);
  assert.equal((await get(`${url}/file?path=MLmodel`)).status, 401);
  const auth = { authorization: `Bearer ${read}` };
  const v = await get(url, auth);
  assert.equal(v.status, 200);
  assert.equal(v.json.runName, "train-1");
  const file = await get(`${url}/file?path=MLmodel`, auth);
  assert.equal(file.bytes.toString("utf8"), MLMODEL);
  assert.equal((await get(`${url}/file?path=..%2Fx`, auth)).json.error.code, "ERR_MTRACK_INVALID_NAME");
});
