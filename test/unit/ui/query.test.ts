import assert from "node:assert/strict";
import { test } from "node:test";
import type { RunDetails, RunSummary } from "../../../src/tracking/types.js";
import {
  expandKeys,
  intParam,
  keyMatcher,
  listParam,
  parseColumns,
  runDetailsJson,
  runRow,
  unionKeys,
} from "../../../src/ui/query.js";
import { hostnameOf, isLoopbackHost, statusForCode } from "../../../src/ui/server.js";

const summary = (over: Partial<RunSummary> = {}): RunSummary => ({
  runId: "a".repeat(32),
  experimentId: "0",
  experimentName: "Default",
  name: "r",
  status: "FINISHED",
  startTime: 1000,
  endTime: 4000,
  params: { lr: "0.1", constructor: "x" },
  tags: { phase: "one" },
  metrics: { loss: { last: Number.NaN, min: 0.1, max: Number.POSITIVE_INFINITY, step: 3, timestamp: 9 } },
  commit: null,
  dirty: false,
  branch: null,
  deleted: false,
  ...over,
});

test("key patterns: * spans one path segment or more; other characters are literal", () => {
  const m = keyMatcher("seed/*/alpha");
  assert.equal(m("seed/s0/alpha"), true);
  assert.equal(m("seed/a/b/alpha"), true);
  assert.equal(m("seed//alpha"), false);
  assert.equal(m("seed/s0/alpha2"), false);
  assert.equal(keyMatcher("a.b")("aXb"), false);
  assert.equal(keyMatcher("val_acc")("val_acc"), true);
  assert.deepEqual(
    expandKeys(["loss", "seed/*/alpha", "loss"], ["seed/s1/alpha", "loss", "seed/s0/alpha", "acc"]),
    ["loss", "seed/s0/alpha", "seed/s1/alpha"],
  );
  assert.deepEqual(expandKeys(["nope"], ["loss"]), []);
});

test("columns, integer and list parameters; bad input is ERR_MTRACK_INVALID_ARGUMENT", () => {
  assert.deepEqual(parseColumns("params.lr, metrics.a/b,tags.x.y"), [
    { kind: "params", key: "lr" },
    { kind: "metrics", key: "a/b" },
    { kind: "tags", key: "x.y" },
  ]);
  assert.deepEqual(parseColumns(null), []);
  assert.throws(() => parseColumns("lr"), { code: "ERR_MTRACK_INVALID_ARGUMENT" });
  const q = new URLSearchParams("limit=50&bad=1.5&neg=-1&runs=a,b&runs=c,");
  assert.equal(intParam(q, "limit", 200, 0, 5000), 50);
  assert.equal(intParam(q, "missing", 200, 0, 5000), 200);
  assert.throws(() => intParam(q, "bad", 1, 0, 9), { code: "ERR_MTRACK_INVALID_ARGUMENT" });
  assert.throws(() => intParam(q, "neg", 1, 0, 9), { code: "ERR_MTRACK_INVALID_ARGUMENT" });
  assert.deepEqual(listParam(q, "runs"), ["a", "b", "c"]);
});

test("rows carry only the requested columns (own keys only), durations, and JSON-safe metrics", () => {
  const bare = runRow(summary(), []);
  assert.equal(bare.params, undefined);
  assert.equal(bare.durationMs, 3000);
  assert.equal(runRow(summary({ endTime: null, status: "RUNNING" }), []).durationMs, null);
  const row = runRow(summary(), parseColumns("params.lr,params.toString,metrics.loss,tags.phase,tags.none"));
  assert.deepEqual(row.params, { lr: "0.1" });
  assert.deepEqual(row.tags, { phase: "one" });
  assert.deepEqual(row.metrics, { loss: { last: null, min: 0.1, max: null, step: 3, timestamp: 9 } });
  assert.ok(JSON.stringify(row).includes('"last":null'));
  assert.deepEqual(unionKeys([summary(), summary({ params: { bs: "1" }, tags: {} })]), {
    params: ["bs", "constructor", "lr"],
    metrics: ["loss"],
    tags: ["phase"],
  });
});

test("run details carry stage, repro id and parent run from their tags, else null", () => {
  const details = (tags: Record<string, string>): RunDetails => ({
    ...summary({ tags }),
    metrics: { loss: { last: 1, min: 1, max: 1, step: 0, timestamp: 0, count: 1 } },
    artifacts: [{ name: "a.txt", kind: "file", hash: "h", size: 3 }],
    models: [{ name: "m", flavor: "tfjs-layers", signature: null, metadata: {}, hash: "h", size: 9 }],
    git: { commit: null, branch: null, dirty: false },
    command: ["node", "x"],
    host: "h",
    pid: 1,
    mtrackVersion: "0",
    error: null,
    recordHash: "r",
  });
  const j = runDetailsJson(
    details({ "mtrack.stage": "train", "mtrack.repro_id": "r1", "mlflow.parentRunId": "p" }),
  );
  assert.equal(j.stage, "train");
  assert.equal(j.reproId, "r1");
  assert.equal(j.parentRunId, "p");
  assert.deepEqual(j.artifacts, [{ name: "a.txt", kind: "file", size: 3 }]);
  assert.deepEqual(j.models, [{ name: "m", flavor: "tfjs-layers", size: 9 }]);
  assert.equal((j.metrics as Record<string, { count: number }>).loss!.count, 1);
  const none = runDetailsJson(details({}));
  assert.equal(none.stage, null);
  assert.equal(none.parentRunId, null);
  assert.equal(runDetailsJson(details({ "mtrack.parent_run_id": "q" })).parentRunId, "q");
});

test("error codes map to 404 / 400 / 500; loopback hosts are recognised", () => {
  assert.equal(statusForCode("ERR_MTRACK_RUN_NOT_FOUND"), 404);
  assert.equal(statusForCode("ERR_MTRACK_ARTIFACT_NOT_FOUND"), 404);
  assert.equal(statusForCode("ERR_MTRACK_SEARCH_SYNTAX"), 400);
  assert.equal(statusForCode("ERR_MTRACK_RUN_AMBIGUOUS"), 400);
  assert.equal(statusForCode("ERR_MTRACK_IO"), 500);
  for (const h of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"])
    assert.equal(isLoopbackHost(h), true, h);
  for (const h of ["0.0.0.0", "::", "192.168.1.5", "example.com"]) assert.equal(isLoopbackHost(h), false, h);
  assert.equal(hostnameOf("localhost:5050"), "localhost");
  assert.equal(hostnameOf("[::1]:5050"), "::1");
  assert.equal(hostnameOf("127.0.0.1"), "127.0.0.1");
});
