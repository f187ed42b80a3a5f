import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { Config } from "../../../src/config.js";
import {
  addRemote,
  listRemotes,
  modifyRemote,
  removeRemote,
  resolveRemote,
} from "../../../src/remotes/config.js";
import { isTransient, withRetry } from "../../../src/remotes/errors.js";
import { isRefName } from "../../../src/remotes/names.js";
import {
  BatchStatus,
  decodeBatch,
  decodeHashList,
  encodeBatch,
  encodeHashList,
} from "../../../src/remotes/wire.js";
import { Router } from "../../../src/server/router.js";
import { checkToken, createToken, listTokens, revokeToken } from "../../../src/server/tokens.js";
import { planTransfer, runPool } from "../../../src/transfer/plan.js";
import { makeTempDir, removeTempDir } from "../../helpers/tmp.js";

const h = (n: number) => n.toString(16).padStart(64, "0");

test("planTransfer: skips present and duplicate objects, batches small ones, streams large ones", () => {
  const wanted = [
    { hash: h(1), size: 10 },
    { hash: h(2), size: 1 << 20 },
    { hash: h(1), size: 10 },
    { hash: h(3), size: 30 },
    { hash: h(4), size: 30 },
    { hash: h(5), size: 5 },
  ];
  const plan = planTransfer(wanted, new Set([h(5)]), { batchBytes: 50 });
  assert.deepEqual(
    plan.batches.map((b) => b.map((o) => o.hash)),
    [[h(1), h(3)], [h(4)]],
  );
  assert.deepEqual(
    plan.large.map((o) => o.hash),
    [h(2)],
  );
  assert.equal(plan.present, 1);
  assert.equal(plan.objects, 4);
  assert.equal(plan.bytes, 10 + (1 << 20) + 60);
  const many = Array.from({ length: 7 }, (_, i) => ({ hash: h(100 + i), size: 0 }));
  assert.equal(planTransfer(many, new Set(), { batchCount: 3 }).batches.length, 3);
});

test("runPool: never more than `jobs` tasks at once, and the first failure is rethrown", async () => {
  let running = 0;
  let peak = 0;
  const tasks = Array.from({ length: 20 }, () => async () => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, 2));
    running--;
  });
  await runPool(tasks, 3);
  assert.equal(peak, 3);
  await assert.rejects(
    runPool(
      [
        async () => {
          throw new Error("boom");
        },
      ],
      2,
    ),
    /boom/,
  );
});

test("withRetry: retries transient errors with backoff, not permanent ones", async () => {
  let calls = 0;
  const sleeps: number[] = [];
  const sleep = async (ms: number) => {
    sleeps.push(ms);
  };
  const flaky = async () => {
    calls++;
    if (calls < 3) throw Object.assign(new Error("reset"), { code: "ECONNRESET" });
    return "ok";
  };
  assert.equal(await withRetry(flaky, { sleep }), "ok");
  assert.equal(calls, 3);
  assert.equal(sleeps.length, 2);
  assert.ok(sleeps[1]! > sleeps[0]! / 2);
  let permanent = 0;
  await assert.rejects(
    withRetry(
      async () => {
        permanent++;
        throw Object.assign(new Error("denied"), { $metadata: { httpStatusCode: 403 } });
      },
      { sleep },
    ),
  );
  assert.equal(permanent, 1);
  assert.equal(isTransient({ $metadata: { httpStatusCode: 503 } }), true);
});

test("wire: hash lists and batches round-trip; malformed bodies are refused", () => {
  assert.deepEqual(decodeHashList(encodeHashList([h(1), h(2)])), [h(1), h(2)]);
  assert.throws(() => decodeHashList(Buffer.alloc(33)), { code: "ERR_MTRACK_FORMAT_INVALID" });
  const body = encodeBatch([
    { hash: h(1), data: Buffer.from("abc") },
    { hash: h(2), status: BatchStatus.Large },
  ]);
  const back = decodeBatch(body);
  assert.equal(back[0]?.data?.toString(), "abc");
  assert.equal(back[1]?.status, BatchStatus.Large);
  assert.throws(() => decodeBatch(body.subarray(0, body.length - 40)), { code: "ERR_MTRACK_FORMAT_INVALID" });
});

test("ref names: known kinds and safe ids only", () => {
  assert.equal(isRefName(`runs/${"a".repeat(32)}`), true);
  assert.equal(isRefName(`runcache/${h(9)}`), true);
  for (const bad of [
    "runs/../x",
    "runs/.hidden",
    "runs/a/b",
    "other/x",
    "runs/",
    "runs",
    "/runs/x",
    "runs/a..b",
  ]) {
    assert.equal(isRefName(bad), false, bad);
  }
});

test("router: params, methods, mounting", () => {
  const handler = async () => undefined;
  const api = new Router().add({ method: "GET", pattern: "/objects/:hash", access: "read", handler });
  const router = new Router().mount("/v1", api);
  const m = router.match("GET", `/v1/objects/${h(1)}`);
  assert.ok(m && m !== "method");
  assert.equal(m.params.hash, h(1));
  assert.equal(router.match("DELETE", `/v1/objects/${h(1)}`), "method");
  assert.equal(router.match("GET", "/v1/objects"), undefined);
  assert.equal(router.match("GET", "/v1/objects/a/b"), undefined);
  const dec = router.match("GET", "/v1/objects/..%2Fx");
  assert.ok(dec && dec !== "method");
  assert.equal(dec.params.hash, "../x");
});

test("tokens: stored hashed, checked, revoked", () => {
  const dir = makeTempDir();
  try {
    const file = path.join(dir, "server", "tokens.json");
    const { token, record } = createToken(file, { name: "ci" });
    assert.equal(fs.readFileSync(file, "utf8").includes(token), false);
    assert.equal(checkToken(file, token), "write");
    assert.equal(checkToken(file, `${token}x`), undefined);
    const ro = createToken(file, { name: "ro", scope: "read" });
    assert.equal(checkToken(file, ro.token), "read");
    assert.equal(listTokens(file).length, 2);
    assert.equal(revokeToken(file, record.id), 1);
    assert.equal(checkToken(file, token), undefined);
    assert.throws(() => revokeToken(file, "nope"), { code: "ERR_MTRACK_INVALID_ARGUMENT" });
  } finally {
    removeTempDir(dir);
  }
});

test("remote config: add, default, modify (token only in config.local.yaml), resolve, remove", () => {
  const dir = makeTempDir();
  try {
    const load = () => Config.load(dir);
    addRemote(dir, load(), "origin", "s3://bucket/proj", { makeDefault: true });
    addRemote(dir, load(), "nas", "../share");
    assert.throws(() => addRemote(dir, load(), "origin", "/x"), { code: "ERR_MTRACK_INVALID_ARGUMENT" });
    assert.throws(() => addRemote(dir, load(), "bad name", "/x"), { code: "ERR_MTRACK_INVALID_NAME" });
    assert.throws(() => addRemote(dir, load(), "ftp", "ftp://host/x"), { code: "ERR_MTRACK_CONFIG_INVALID" });
    modifyRemote(dir, load(), "origin", "endpoint", "http://127.0.0.1:8333");
    modifyRemote(dir, load(), "origin", "token", "secret-token");
    assert.equal(fs.readFileSync(path.join(dir, "config.yaml"), "utf8").includes("secret-token"), false);
    assert.ok(fs.readFileSync(path.join(dir, "config.local.yaml"), "utf8").includes("secret-token"));
    assert.throws(() => modifyRemote(dir, load(), "origin", "color", "red"), {
      code: "ERR_MTRACK_CONFIG_KEY_UNKNOWN",
    });

    const spec = resolveRemote(load(), { root: "/repo" });
    assert.equal(spec.name, "origin");
    assert.equal(spec.kind, "s3");
    assert.equal(spec.endpoint, "http://127.0.0.1:8333");
    assert.equal(spec.token, "secret-token");
    assert.equal(resolveRemote(load(), { root: "/repo", env: { MTRACK_REMOTE_TOKEN: "env" } }).token, "env");
    const nas = resolveRemote(load(), { name: "nas", root: "/repo/sub" });
    assert.equal(nas.url, path.resolve("/repo/share"));
    assert.equal(listRemotes(load()).find((r) => r.name === "origin")?.options.token, "***");

    // A token committed to config.yaml is refused.
    fs.appendFileSync(path.join(dir, "config.yaml"), "");
    const leaked = new Config({ ...load().repo, "remote.origin.token": "oops" }, load().local);
    assert.throws(() => resolveRemote(leaked, { root: "/repo" }), { code: "ERR_MTRACK_CONFIG_INVALID" });

    removeRemote(dir, load(), "origin");
    assert.deepEqual(
      listRemotes(load()).map((r) => r.name),
      ["nas"],
    );
    assert.equal(load().get("core.remote"), undefined);
    assert.equal(resolveRemote(load(), { root: "/repo" }).name, "nas");
    assert.throws(() => resolveRemote(load(), { name: "origin", root: "/repo" }), {
      code: "ERR_MTRACK_CONFIG_INVALID",
    });
  } finally {
    removeTempDir(dir);
  }
});
