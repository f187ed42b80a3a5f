import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { startRun } from "../../../src/tracking/api.js";
import {
  deleteRun,
  getMetricHistory,
  getRun,
  listArtifactFiles,
  listExperiments,
  listRuns,
  resolveRunId,
  restoreRun,
  runsReferencedObjects,
} from "../../../src/tracking/read.js";
import type { Liveness } from "../../../src/tracking/runlog.js";
import { compactIndex, readIndex, sealPendingRuns } from "../../../src/tracking/seal.js";
import { FakeStore, fakeGit } from "./fake-store.js";

let tmp: string;
let dir: string;
let store: FakeStore;
const alive: Liveness = { host: os.hostname(), isPidAlive: () => true };
const dead: Liveness = { host: os.hostname(), isPidAlive: () => false };

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-"));
  dir = path.join(tmp, "runs");
  store = new FakeStore(path.join(tmp, "objects"));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

let now = 1_000;
async function finishedRun(experiment?: string, name?: string) {
  const run = await startRun({
    dir,
    store,
    gitInfo: fakeGit,
    installProcessHooks: false,
    experiment,
    name,
    clock: () => now++,
  });
  run.logMetric("acc", 0.5, { step: 1 });
  await run.end();
  return run.id;
}

test("prefix matching like git short hashes: unique, ambiguous, none", async () => {
  const id = await finishedRun();
  assert.equal(resolveRunId(dir, id), id);
  assert.equal(resolveRunId(dir, id.slice(0, 6)), id);
  assert.equal(resolveRunId(dir, id.slice(0, 6).toUpperCase()), id);
  assert.equal(getRun(dir, store, id.slice(0, 8)).runId, id);
  // Two refs sharing a prefix make it ambiguous.
  fs.writeFileSync(path.join(dir, "refs", `${"ab".repeat(8)}${"0".repeat(16)}`), "x\n");
  fs.writeFileSync(path.join(dir, "refs", `${"ab".repeat(8)}${"1".repeat(16)}`), "y\n");
  assert.throws(() => resolveRunId(dir, "abab"), { code: "ERR_MTRACK_RUN_AMBIGUOUS" });
  assert.equal(resolveRunId(dir, `${"ab".repeat(8)}1`), `${"ab".repeat(8)}${"1".repeat(16)}`);
  assert.throws(() => resolveRunId(dir, "ffffffffffff0"), { code: "ERR_MTRACK_RUN_NOT_FOUND" });
  assert.throws(() => resolveRunId(dir, "not-hex"), { code: "ERR_MTRACK_RUN_NOT_FOUND" });
});

test("list, experiment filter, delete and restore", async () => {
  const a = await finishedRun("exp", "a");
  const b = await finishedRun("exp", "b");
  const c = await finishedRun(undefined, "c");
  assert.deepEqual(
    listRuns(dir, store).map((r) => r.name),
    ["c", "b", "a"],
    "newest first",
  );
  assert.deepEqual(
    listRuns(dir, store, { experiment: "exp" }).map((r) => r.runId),
    [b, a],
  );
  assert.deepEqual(
    listRuns(dir, store, { experiment: "1" }).map((r) => r.runId),
    [b, a],
  );
  assert.throws(() => listRuns(dir, store, { experiment: "nope" }), {
    code: "ERR_MTRACK_EXPERIMENT_NOT_FOUND",
  });

  assert.equal(deleteRun(dir, a.slice(0, 10)), a);
  assert.deepEqual(
    listRuns(dir, store).map((r) => r.runId),
    [c, b],
  );
  const all = listRuns(dir, store, { includeDeleted: true });
  assert.equal(all.find((r) => r.runId === a)?.deleted, true);
  assert.equal(getRun(dir, store, a).deleted, true);
  assert.deepEqual(
    listExperiments(dir).map((e) => [e.id, e.name, e.runCount]),
    [
      ["0", "Default", 1],
      ["1", "exp", 1],
    ],
  );
  restoreRun(dir, a);
  assert.equal(listRuns(dir, store).length, 3);
  assert.equal(getRun(dir, store, a).deleted, false);
});

test("running runs are listed from their logs; a dead process shows as KILLED/unfinished", async () => {
  const run = await startRun({
    dir,
    store,
    gitInfo: fakeGit,
    installProcessHooks: false,
    params: { lr: "0.1" },
  });
  run.logMetric("loss", 2, { step: 0 });
  run.logMetric("loss", 1, { step: 1 });
  run.flush();
  const [row] = listRuns(dir, store, { liveness: alive });
  assert.equal(row?.status, "RUNNING");
  assert.equal(row?.endTime, null);
  assert.equal(row?.params.lr, "0.1");
  assert.equal(row?.metrics.loss?.last, 1);
  assert.equal(getRun(dir, store, run.id.slice(0, 5), { liveness: alive }).recordHash, null);
  assert.deepEqual([...getMetricHistory(dir, store, run.id, "loss").values], [2, 1]);

  const [gone] = listRuns(dir, store, { liveness: dead });
  assert.equal(gone?.status, "KILLED");
  assert.equal(gone?.unfinished, true);
  assert.equal(gone?.tags["mtrack.unfinished"], "true");
  // A run of another host cannot be judged: it stays RUNNING.
  assert.equal(listRuns(dir, store, { liveness: { ...dead, host: "elsewhere" } })[0]?.status, "RUNNING");

  assert.deepEqual(await sealPendingRuns(dir, store, alive), [], "live runs are not sealed");
  await run.end();
  assert.equal(listRuns(dir, store)[0]?.status, "FINISHED");
});

test("the index is a cache: a lost or damaged index is rebuilt from refs", async () => {
  const a = await finishedRun();
  const b = await finishedRun();
  fs.rmSync(path.join(dir, "index.log"));
  assert.deepEqual(
    listRuns(dir, store)
      .map((r) => r.runId)
      .sort(),
    [a, b].sort(),
  );
  // Listing re-indexed them.
  const index = fs.readFileSync(path.join(dir, "index.log"));
  assert.ok(index.includes(Buffer.from(a)) && index.includes(Buffer.from(b)));
  // Garbage appended (a torn frame) is ignored.
  fs.appendFileSync(path.join(dir, "index.log"), Buffer.from("MTF1\x05\x00\x00\x00junk"));
  assert.equal(listRuns(dir, store).length, 2);
});

test("the index log is folded into a snapshot once long; nothing is lost", async () => {
  const first = await finishedRun();
  const index = path.join(dir, "index.log");
  const once = fs.readFileSync(index);
  for (let i = 0; i < 300; i++) fs.appendFileSync(index, once);
  assert.equal(listRuns(dir, store).length, 1);
  assert.equal(fs.existsSync(index), false, "log folded");
  assert.ok(fs.existsSync(path.join(dir, "index.snapshot")));
  const second = await finishedRun();
  assert.deepEqual(
    listRuns(dir, store)
      .map((r) => r.runId)
      .sort(),
    [first, second].sort(),
  );
  assert.equal(compactIndex(dir), true);
  assert.equal(readIndex(dir).logFrames, 0);
  assert.deepEqual([...readIndex(dir).entries.keys()].sort(), [first, second].sort());
  // Another process holding the lock makes compaction step aside.
  fs.writeFileSync(path.join(dir, "index.log.lock"), "");
  assert.equal(compactIndex(dir), false);
});

test("runsReferencedObjects covers records, series, artifacts and dir entries", async () => {
  const run = await startRun({ dir, store, gitInfo: fakeGit, installProcessHooks: false });
  run.logMetric("m", 1);
  const d = path.join(tmp, "d");
  fs.mkdirSync(d);
  fs.writeFileSync(path.join(d, "f"), "file in dir");
  await run.logArtifacts(d);
  run.logText("hello", "t.txt");
  await run.end();
  const keep = runsReferencedObjects(dir, store);
  const full = getRun(dir, store, run.id);
  assert.ok(keep.has(full.recordHash!));
  for (const a of full.artifacts) assert.ok(keep.has(a.hash), a.name);
  for (const f of listArtifactFiles(dir, store, run.id)) assert.ok(keep.has(f.hash), f.name);
  assert.deepEqual(
    listArtifactFiles(dir, store, run.id).map((f) => f.name),
    ["d/f", "t.txt"],
  );
  // Everything the run put in the store is referenced (series blob included).
  assert.deepEqual([...keep].sort(), [...store.list()].map((o) => o.hash).sort());
});

test("an empty or missing tracking dir lists nothing", () => {
  assert.deepEqual(listRuns(dir, store), []);
  assert.deepEqual(
    listExperiments(dir).map((e) => [e.id, e.name, e.runCount]),
    [["0", "Default", 0]],
  );
  assert.throws(() => getRun(dir, store, "abc"), { code: "ERR_MTRACK_RUN_NOT_FOUND" });
});
