import assert from "node:assert/strict";
import { test } from "node:test";
import { MtrackError } from "../../../src/errors.js";
import { isMlflowPath, MlflowApiError, toMlflowError } from "../../../src/server/mlflow/errors.js";
import { parseJsonBody } from "../../../src/server/mlflow/routes.js";
import { artifactChildren } from "../../../src/server/mlflow/service.js";
import {
  BATCH_LIMITS,
  decodePageToken,
  doubleField,
  encodePageToken,
  int64Field,
  jsonDouble,
  maxResultsField,
  parseArtifactPath,
  queryMessage,
  readBatch,
  runIdField,
  runJson,
  viewTypeField,
} from "../../../src/server/mlflow/wire.js";
import { HttpError } from "../../../src/server/router.js";
import type { RunSummary } from "../../../src/tracking/types.js";

function mlflowCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof MlflowApiError ? err.errorCode : `not-mlflow:${String(err)}`;
  }
  return undefined;
}

const RUN = "0123456789abcdef0123456789abcdef";

test("int64 fields are accepted as numbers or strings; anything else is INVALID_PARAMETER_VALUE", () => {
  assert.equal(int64Field({ step: 3 }, "step"), 3);
  assert.equal(int64Field({ step: "1700000000000" }, "step"), 1_700_000_000_000);
  assert.equal(int64Field({ step: "-2" }, "step"), -2);
  assert.equal(int64Field({}, "step"), undefined);
  assert.equal(
    mlflowCode(() => int64Field({ step: "1.5" }, "step")),
    "INVALID_PARAMETER_VALUE",
  );
  assert.equal(
    mlflowCode(() => int64Field({ step: 1.5 }, "step")),
    "INVALID_PARAMETER_VALUE",
  );
  assert.equal(
    mlflowCode(() => int64Field({ step: "abc" }, "step")),
    "INVALID_PARAMETER_VALUE",
  );
  assert.equal(
    mlflowCode(() => int64Field({ step: true }, "step")),
    "INVALID_PARAMETER_VALUE",
  );
});

test("doubles accept protobuf's NaN/Infinity spellings and are written back the same way", () => {
  assert.ok(Number.isNaN(doubleField({ value: "NaN" }, "value", true)));
  assert.equal(doubleField({ value: "Infinity" }, "value", true), Number.POSITIVE_INFINITY);
  assert.equal(doubleField({ value: "-Infinity" }, "value", true), Number.NEGATIVE_INFINITY);
  assert.equal(doubleField({ value: "0.25" }, "value", true), 0.25);
  assert.equal(
    mlflowCode(() => doubleField({}, "value", true)),
    "INVALID_PARAMETER_VALUE",
  );
  assert.equal(
    mlflowCode(() => doubleField({ value: "x" }, "value", true)),
    "INVALID_PARAMETER_VALUE",
  );
  assert.equal(jsonDouble(Number.NaN), "NaN");
  assert.equal(jsonDouble(Number.NEGATIVE_INFINITY), "-Infinity");
  assert.equal(jsonDouble(0.5), 0.5);
});

test("GET query strings become messages with repeated fields as lists", () => {
  const msg = queryMessage(
    new URLSearchParams("run_id=a&experiment_ids=1&order_by=x&order_by=y&run_ids%5B%5D=r1&max_results=5"),
  );
  assert.deepEqual(msg, {
    run_id: "a",
    experiment_ids: ["1"],
    order_by: ["x", "y"],
    run_ids: ["r1"],
    max_results: "5",
  });
  assert.equal(runIdField({ run_uuid: RUN }), RUN);
  assert.equal(
    mlflowCode(() => runIdField({})),
    "INVALID_PARAMETER_VALUE",
  );
});

test("log-batch limits: 1000 metrics, 100 params, 100 tags, 1000 entities in all", () => {
  const metric = { key: "m", value: 1, timestamp: 1, step: 0 };
  const kv = (i: number) => ({ key: `k${i}`, value: "v" });
  const ok = readBatch({ run_id: RUN, metrics: Array(BATCH_LIMITS.metrics).fill(metric) }, 0);
  assert.equal(ok.metrics.length, 1000);
  const over = (msg: Record<string, unknown>) => mlflowCode(() => readBatch({ run_id: RUN, ...msg }, 0));
  assert.equal(over({ metrics: Array(1001).fill(metric) }), "INVALID_PARAMETER_VALUE");
  assert.equal(over({ params: Array.from({ length: 101 }, (_, i) => kv(i)) }), "INVALID_PARAMETER_VALUE");
  assert.equal(over({ tags: Array.from({ length: 101 }, (_, i) => kv(i)) }), "INVALID_PARAMETER_VALUE");
  assert.equal(
    over({ metrics: Array(950).fill(metric), params: Array.from({ length: 51 }, (_, i) => kv(i)) }),
    "INVALID_PARAMETER_VALUE",
  );
  assert.equal(
    over({
      params: [
        { key: "a", value: "1" },
        { key: "a", value: "2" },
      ],
    }),
    "INVALID_PARAMETER_VALUE",
  );
});

test("batch metrics default step 0 and the server's time; strings are parsed", () => {
  const b = readBatch({ run_id: RUN, metrics: [{ key: "m", value: "2.5", step: "4" }] }, 77);
  assert.deepEqual(b.metrics, [{ key: "m", value: 2.5, timestamp: 77, step: 4 }]);
});

test("page tokens round-trip; a foreign token is INVALID_PARAMETER_VALUE", () => {
  assert.equal(decodePageToken(encodePageToken(1234)), 1234);
  assert.equal(decodePageToken(undefined), 0);
  assert.equal(
    mlflowCode(() => decodePageToken("not a token")),
    "INVALID_PARAMETER_VALUE",
  );
  assert.equal(
    mlflowCode(() => decodePageToken(Buffer.from('{"offset":-1}').toString("base64"))),
    "INVALID_PARAMETER_VALUE",
  );
  assert.equal(maxResultsField({}, 1000, 50_000), 1000);
  assert.equal(
    mlflowCode(() => maxResultsField({ max_results: 50_001 }, 1000, 50_000)),
    "INVALID_PARAMETER_VALUE",
  );
  assert.equal(viewTypeField({ run_view_type: 3 }, "run_view_type"), "ALL");
  assert.equal(viewTypeField({ run_view_type: "DELETED_ONLY" }, "run_view_type"), "DELETED_ONLY");
  assert.equal(
    mlflowCode(() => viewTypeField({ run_view_type: "X" }, "run_view_type")),
    "INVALID_PARAMETER_VALUE",
  );
});

test("runJson shapes a run summary as MLflow's Run message", () => {
  const summary: RunSummary = {
    runId: RUN,
    experimentId: "2",
    experimentName: "e",
    name: "r",
    status: "RUNNING",
    startTime: 10,
    endTime: null,
    params: { lr: "0.1" },
    tags: { "mlflow.user": "ana" },
    metrics: { loss: { last: Number.NaN, min: 1, max: 2, step: 7, timestamp: 99 } },
    commit: null,
    dirty: false,
    branch: null,
    deleted: true,
  };
  const r = runJson(summary);
  assert.equal(r.info.run_id, RUN);
  assert.equal(r.info.run_uuid, RUN);
  assert.equal(r.info.user_id, "ana");
  assert.equal(r.info.lifecycle_stage, "deleted");
  assert.equal(r.info.artifact_uri, `mlflow-artifacts:/2/${RUN}/artifacts`);
  assert.equal("end_time" in r.info, false);
  assert.deepEqual(r.data.metrics, [{ key: "loss", value: "NaN", timestamp: 99, step: 7 }]);
  assert.deepEqual(r.data.params, [{ key: "lr", value: "0.1" }]);
  // Fields at their protobuf default are left out, as MLflow's server does.
  const plain = runJson({
    ...summary,
    tags: {},
    metrics: { acc: { last: 1, min: 1, max: 1, step: 0, timestamp: 5 } },
  });
  assert.equal("user_id" in plain.info, false);
  assert.deepEqual(plain.data.metrics, [{ key: "acc", value: 1, timestamp: 5 }]);
});

test("artifact paths of the proxy split into run id and name", () => {
  assert.deepEqual(parseArtifactPath(`1/${RUN}/artifacts/plots/a.png`), { runId: RUN, name: "plots/a.png" });
  assert.deepEqual(parseArtifactPath(`1/${RUN}/artifacts`), { runId: RUN, name: "" });
  assert.equal(parseArtifactPath(`1/${RUN}/other/x`), undefined);
  assert.equal(parseArtifactPath("1"), undefined);
});

test("artifactChildren lists one directory level, as base names or full paths", () => {
  const files = [
    { name: "plots/a.png", size: 3 },
    { name: "plots/deep/b.png", size: 4 },
    { name: "x.txt", size: 1 },
  ];
  assert.deepEqual(artifactChildren(files, "", false), [
    { path: "plots", is_dir: true },
    { path: "x.txt", is_dir: false, file_size: 1 },
  ]);
  assert.deepEqual(artifactChildren(files, "plots", true), [
    { path: "plots/a.png", is_dir: false, file_size: 3 },
    { path: "plots/deep", is_dir: true },
  ]);
  assert.deepEqual(artifactChildren(files, "x.txt", false), []);
});

test("errors map to MLflow codes and 4xx statuses; only server faults are 5xx", () => {
  const of = (err: unknown) => {
    const { status, body } = toMlflowError(err);
    return `${status} ${body.error_code}`;
  };
  assert.equal(of(new MtrackError("ERR_MTRACK_RUN_NOT_FOUND", "x")), "404 RESOURCE_DOES_NOT_EXIST");
  assert.equal(of(new MtrackError("ERR_MTRACK_PARAM_IMMUTABLE", "x")), "400 INVALID_PARAMETER_VALUE");
  assert.equal(of(new MtrackError("ERR_MTRACK_INVALID_NAME", "x")), "400 INVALID_PARAMETER_VALUE");
  assert.equal(of(new MtrackError("ERR_MTRACK_SEARCH_SYNTAX", "x")), "400 INVALID_PARAMETER_VALUE");
  assert.equal(of(new MtrackError("ERR_MTRACK_RUN_NOT_ACTIVE", "x")), "400 INVALID_PARAMETER_VALUE");
  assert.equal(of(new MtrackError("ERR_MTRACK_IO", "x")), "500 INTERNAL_ERROR");
  assert.equal(of(new HttpError(401, "no token")), "401 UNAUTHENTICATED");
  assert.equal(of(new HttpError(403, "read only")), "403 PERMISSION_DENIED");
  assert.equal(of(new MlflowApiError("RESOURCE_ALREADY_EXISTS", "x")), "400 RESOURCE_ALREADY_EXISTS");
  assert.equal(of(new MlflowApiError("NOT_IMPLEMENTED", "x")), "501 NOT_IMPLEMENTED");
  assert.equal(of(new Error("boom")), "500 INTERNAL_ERROR");
  assert.ok(isMlflowPath("/api/2.0/mlflow/runs/get"));
  assert.ok(isMlflowPath("/ajax-api/2.0/mlflow/runs/get"));
  assert.ok(isMlflowPath("/api/2.0/mlflow-artifacts/artifacts/x"));
  assert.ok(!isMlflowPath("/v1/objects/has"));
});

test("JSON bodies: objects only, double-encoded ones decoded, malformed ones BAD_REQUEST", () => {
  assert.deepEqual(parseJsonBody(Buffer.from('{"a":1}')), { a: 1 });
  assert.deepEqual(parseJsonBody(Buffer.from(JSON.stringify('{"a":1}'))), { a: 1 });
  assert.deepEqual(parseJsonBody(Buffer.alloc(0)), {});
  assert.equal(
    mlflowCode(() => parseJsonBody(Buffer.from("{nope"))),
    "BAD_REQUEST",
  );
  assert.equal(
    mlflowCode(() => parseJsonBody(Buffer.from("[1]"))),
    "BAD_REQUEST",
  );
});
