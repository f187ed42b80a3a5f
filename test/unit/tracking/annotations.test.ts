import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import {
  type Annotation,
  annotateRun,
  appendAnnotations,
  applyAnnotations,
  parseAnnotation,
  readAnnotations,
} from "../../../src/tracking/annotations.js";
import { startRun } from "../../../src/tracking/api.js";
import { encodeFrame } from "../../../src/tracking/frames.js";
import { trackingPaths } from "../../../src/tracking/layout.js";
import { RunListing } from "../../../src/tracking/listing.js";
import { getRun, listRuns } from "../../../src/tracking/read.js";
import type { RunSummary } from "../../../src/tracking/types.js";
import { FakeStore, fakeGit } from "./fake-store.js";

let tmp: string;
let dir: string;
let store: FakeStore;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-ann-"));
  dir = path.join(tmp, "runs");
  store = new FakeStore(path.join(tmp, "objects"));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function endedRun(tags: Record<string, string> = {}): Promise<string> {
  const run = await startRun({ dir, store, gitInfo: fakeGit, installProcessHooks: false, tags });
  await run.end();
  return run.id;
}

const dataset = (name: string, digest: string) => ({
  dataset: { name, digest, sourceType: "code", source: "{}", schema: '{"x":1}' },
  tags: { "mlflow.data.context": "training" },
});

test("a sealed run's annotations are merged into getRun, listRuns and the cached listing; the record is untouched", async () => {
  const id = await endedRun({ wip: "yes", team: "a" });
  const before = getRun(dir, store, id);
  const listing = new RunListing(dir, store);
  assert.equal(listing.snapshot().runs[0]?.tags.team, "a");
  let t = 10;
  const clock = () => t++;
  annotateRun(dir, id, { tags: { team: "b", "mlflow.note.content": "best" } }, { clock });
  annotateRun(dir, id, { deleteTags: ["wip"], datasets: [dataset("iris", "abc")] }, { clock });
  annotateRun(dir, id, { datasets: [dataset("iris", "abc"), dataset("iris", "def")] }, { clock });
  annotateRun(dir, id, { modelOutputs: [{ modelId: "m-1", step: 3 }] }, { clock });
  const after = getRun(dir, store, id);
  assert.equal(after.recordHash, before.recordHash);
  assert.deepEqual(
    { team: after.tags.team, note: after.tags["mlflow.note.content"], wip: after.tags.wip },
    { team: "b", note: "best", wip: undefined },
  );
  assert.deepEqual(
    after.inputs?.datasets.map((d) => d.dataset.digest),
    ["abc", "def"],
  );
  assert.deepEqual(after.outputs?.models, [{ modelId: "m-1", step: 3 }]);
  const [row] = listRuns(dir, store);
  assert.equal(row?.tags.team, "b");
  assert.equal(row?.inputs?.datasets.length, 2);
  const cached = listing.snapshot().runs[0];
  assert.equal(cached?.tags.team, "b");
  assert.equal(cached?.tags.wip, undefined);
});

test("annotations apply in (time, id) order whatever order they were appended in, and an id counts once", () => {
  const runId = "a".repeat(32);
  const row: RunSummary = {
    runId,
    experimentId: "0",
    experimentName: "Default",
    name: "r",
    status: "FINISHED",
    startTime: 0,
    endTime: 1,
    params: {},
    tags: { k: "base" },
    metrics: {},
    commit: null,
    dirty: false,
    branch: null,
    deleted: false,
  };
  const late: Annotation = { id: "2".repeat(32), runId, time: 20, tags: { k: "late" } };
  const early: Annotation = { id: "1".repeat(32), runId, time: 10, deleteTags: ["k"] };
  appendAnnotations(dir, [late, early, late]);
  const list = readAnnotations(dir).get(runId);
  assert.deepEqual(
    list?.map((a) => a.id),
    [early.id, late.id],
  );
  assert.equal(applyAnnotations(row, list).tags.k, "late");
  assert.equal(applyAnnotations(row, []), row);
});

test("a torn or foreign frame in annotations.log is skipped, the others still apply", async () => {
  const id = await endedRun();
  annotateRun(dir, id, { tags: { a: "1" } });
  const file = trackingPaths(dir).annotations;
  fs.appendFileSync(file, encodeFrame(Buffer.from([0xc1])));
  fs.appendFileSync(file, encodeFrame(Buffer.from("foreign")).subarray(0, 9));
  assert.equal(getRun(dir, store, id).tags.a, "1");
  annotateRun(dir, id, { tags: { b: "2" } });
  assert.equal(getRun(dir, store, id).tags.b, "2");
});

test("bad annotations are refused before anything is written", async () => {
  const id = await endedRun();
  assert.throws(() => annotateRun(dir, "f".repeat(32), { tags: { a: "1" } }), {
    code: "ERR_MTRACK_RUN_NOT_FOUND",
  });
  assert.throws(() => annotateRun(dir, id, { tags: { "a;b": "1" } }), { code: "ERR_MTRACK_INVALID_NAME" });
  assert.throws(() => annotateRun(dir, id, { datasets: [dataset("n", "x".repeat(37))] }), {
    code: "ERR_MTRACK_INVALID_ARGUMENT",
  });
  assert.throws(() => annotateRun(dir, id, { datasets: [{ dataset: { name: "n" }, tags: {} } as never] }), {
    code: "ERR_MTRACK_INVALID_ARGUMENT",
  });
  assert.throws(() => annotateRun(dir, id, { modelOutputs: [{ modelId: "", step: 0 }] }), {
    code: "ERR_MTRACK_INVALID_ARGUMENT",
  });
  assert.equal(fs.existsSync(trackingPaths(dir).annotations), false);
  assert.equal(parseAnnotation({ id: "x", runId: id, time: 1 }), undefined);
  assert.equal(parseAnnotation({ id: "1".repeat(32), runId: id, time: 1, tags: { "a;b": "x" } }), undefined);
});

test("a RUNNING run's deleteTags and setTags apply in log order", async () => {
  const run = await startRun({ dir, store, gitInfo: fakeGit, installProcessHooks: false });
  run.setTags({ a: "1", b: "2" });
  run.deleteTags(["a"]);
  run.setTags({ b: "3" });
  run.flush();
  assert.deepEqual(
    { a: getRun(dir, store, run.id).tags.a, b: getRun(dir, store, run.id).tags.b },
    { a: undefined, b: "3" },
  );
  await run.end();
  const sealed = getRun(dir, store, run.id);
  assert.equal(sealed.tags.a, undefined);
  assert.equal(sealed.tags.b, "3");
});

test("annotations made in the same millisecond apply in the order they were made", async () => {
  const id = await endedRun({ k: "0" });
  for (let i = 1; i <= 20; i++) {
    annotateRun(dir, id, i % 2 === 0 ? { tags: { k: String(i) } } : { deleteTags: ["k"] }, {
      clock: () => 5,
    });
  }
  assert.equal(getRun(dir, store, id).tags.k, "20");
});
