import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { startRun } from "../../../src/tracking/api.js";
import {
  createExperiment,
  deleteExperiment,
  deleteExperimentTag,
  getExperiment,
  renameExperiment,
  restoreExperiment,
  setExperimentTags,
} from "../../../src/tracking/experiments.js";
import { ensureExperiment, foldExperiments, readExperiments } from "../../../src/tracking/layout.js";
import { deleteRun, getRun, listExperiments, listRuns } from "../../../src/tracking/read.js";
import { FakeStore, fakeGit } from "./fake-store.js";

let tmp: string;
let dir: string;
let store: FakeStore;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-exp-"));
  dir = path.join(tmp, "runs");
  store = new FakeStore(path.join(tmp, "objects"));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function runIn(experiment: string | undefined): Promise<string> {
  const run = await startRun({ dir, store, gitInfo: fakeGit, installProcessHooks: false, experiment });
  await run.end();
  return run.id;
}

test("create keeps its tags; a taken name (active or deleted) is ERR_MTRACK_EXPERIMENT_EXISTS", () => {
  const e = createExperiment(dir, "mnist", { owner: "vision" }, { clock: () => 5 });
  assert.deepEqual(
    { id: e.id, tags: e.tags, stage: e.lifecycleStage, created: e.creationTime },
    { id: "1", tags: { owner: "vision" }, stage: "active", created: 5 },
  );
  assert.throws(() => createExperiment(dir, "mnist"), { code: "ERR_MTRACK_EXPERIMENT_EXISTS" });
  assert.throws(() => createExperiment(dir, "Default"), { code: "ERR_MTRACK_EXPERIMENT_EXISTS" });
  assert.throws(() => createExperiment(dir, "x", { "a;b": "v" }), { code: "ERR_MTRACK_INVALID_NAME" });
  deleteExperiment(dir, e.id);
  assert.throws(
    () => createExperiment(dir, "mnist"),
    (err: { code: string; data: { lifecycleStage: string } }) => {
      return err.code === "ERR_MTRACK_EXPERIMENT_EXISTS" && err.data.lifecycleStage === "deleted";
    },
  );
});

test("rename: runs show the new name, the old name is free again, a taken name is refused", async () => {
  const a = ensureExperiment(dir, "a", () => 1);
  ensureExperiment(dir, "b", () => 2);
  const id = await runIn("a");
  const renamed = renameExperiment(dir, a.id, "a2", { clock: () => 9 });
  assert.equal(renamed.lastUpdateTime, 9);
  assert.equal(getRun(dir, store, id).experimentName, "a2");
  assert.equal(listRuns(dir, store, { experiment: "a2" }).length, 1);
  assert.throws(() => renameExperiment(dir, a.id, "b"), { code: "ERR_MTRACK_EXPERIMENT_EXISTS" });
  assert.throws(() => renameExperiment(dir, "42", "c"), { code: "ERR_MTRACK_EXPERIMENT_NOT_FOUND" });
  // The old name now makes a new experiment, with a new id.
  assert.equal(ensureExperiment(dir, "a", () => 3).id, "3");
  assert.equal(getRun(dir, store, id).experimentName, "a2");
});

test("the fold ignores a rename to a name taken at that point, so racing renames cannot both win", () => {
  const { experiments } = foldExperiments([
    { name: "a", creationTime: 1 },
    { name: "b", creationTime: 2 },
    { op: "rename", id: "1", to: "c", time: 3 },
    { op: "rename", id: "2", to: "c", time: 3 },
    { op: "tag", id: "9", key: "k", value: "v", time: 4 },
  ]);
  assert.deepEqual(
    experiments.map((e) => e.name),
    ["Default", "c", "b"],
  );
});

test("tags: set, delete, a missing one is ERR_MTRACK_TAG_NOT_FOUND; deleted experiments refuse changes", () => {
  const e = createExperiment(dir, "e");
  setExperimentTags(dir, e.id, { a: "1", b: "2" });
  setExperimentTags(dir, e.id, { a: "3" });
  assert.deepEqual(deleteExperimentTag(dir, e.id, "b").tags, { a: "3" });
  assert.throws(() => deleteExperimentTag(dir, e.id, "b"), { code: "ERR_MTRACK_TAG_NOT_FOUND" });
  assert.throws(() => setExperimentTags(dir, e.id, { a: "x".repeat(20_001) }), {
    code: "ERR_MTRACK_INVALID_ARGUMENT",
  });
  deleteExperiment(dir, e.id);
  assert.throws(() => setExperimentTags(dir, e.id, { a: "4" }), { code: "ERR_MTRACK_EXPERIMENT_NOT_ACTIVE" });
  assert.throws(() => renameExperiment(dir, e.id, "f"), { code: "ERR_MTRACK_EXPERIMENT_NOT_ACTIVE" });
});

test("delete soft-deletes the experiment's runs and refuses new ones; restore brings them back", async () => {
  ensureExperiment(dir, "e", () => 1);
  const kept = await runIn(undefined);
  const r1 = await runIn("e");
  const r2 = await runIn("e");
  deleteRun(dir, r2);
  const deleted = deleteExperiment(dir, "1");
  assert.equal(deleted.lifecycleStage, "deleted");
  assert.deepEqual(
    listRuns(dir, store).map((r) => r.runId),
    [kept],
  );
  assert.equal(getRun(dir, store, r1).deleted, true);
  await assert.rejects(() => runIn("e"), { code: "ERR_MTRACK_EXPERIMENT_NOT_ACTIVE" });
  assert.throws(() => deleteExperiment(dir, "1"), { code: "ERR_MTRACK_EXPERIMENT_NOT_ACTIVE" });
  assert.equal(listExperiments(dir).find((x) => x.id === "1")?.lifecycleStage, "deleted");
  const restored = restoreExperiment(dir, "1");
  assert.equal(restored.lifecycleStage, "active");
  // As in MLflow, restoring an experiment restores every run of it.
  assert.equal(listRuns(dir, store, { experiment: "e" }).length, 2);
  assert.throws(() => restoreExperiment(dir, "1"), { code: "ERR_MTRACK_EXPERIMENT_NOT_ACTIVE" });
  assert.equal(getExperiment(dir, "1").name, "e");
  assert.equal(readExperiments(dir).length, 2);
});

test("deleting and renaming the Default experiment", async () => {
  renameExperiment(dir, "0", "Main");
  const id = await runIn(undefined);
  assert.equal(getRun(dir, store, id).experimentName, "Main");
  assert.equal(getRun(dir, store, id).experimentId, "0");
  deleteExperiment(dir, "0");
  await assert.rejects(() => runIn(undefined), { code: "ERR_MTRACK_EXPERIMENT_NOT_ACTIVE" });
});
