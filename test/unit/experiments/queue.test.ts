import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import {
  claim,
  dropEntry,
  effectiveState,
  type QueueEntry,
  readQueue,
  releaseDeadClaim,
  writeEntry,
} from "../../../src/experiments/queue-store.js";
import { planNames } from "../../../src/experiments/run.js";
import type { Repo } from "../../../src/repo.js";
import { makeTempDir, removeTempDir } from "../../helpers/tmp.js";

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
};

test("planNames: given, numbered, generated; taken and invalid names refused", () => {
  assert.deepEqual(planNames(new Set(), 1, "lr"), ["lr"]);
  assert.deepEqual(planNames(new Set(["lr-1"]), 1, "lr"), ["lr"]);
  assert.deepEqual(planNames(new Set(), 3, "lr"), ["lr-1", "lr-2", "lr-3"]);
  const generated = planNames(new Set(), 5);
  assert.equal(new Set(generated).size, 5);
  assert.equal(
    code(() => planNames(new Set(["lr-2"]), 2, "lr")),
    "ERR_MTRACK_EXP_EXISTS",
  );
  assert.equal(
    code(() => planNames(new Set(), 1, "a/b")),
    "ERR_MTRACK_INVALID_NAME",
  );
});

/** The queue store reads only repo.paths.mtrackDir. */
function fakeRepo(dir: string): Repo {
  return { paths: { mtrackDir: dir } } as unknown as Repo;
}

const entry = (name: string, over: Partial<QueueEntry> = {}): QueueEntry => ({
  name,
  baseline: "a".repeat(40),
  overrides: [{ file: "params.yaml", key: "lr", add: false, value: 0.1 }],
  targets: [],
  state: "queued",
  queuedAt: 1,
  ...over,
});

test("queue store: entries in order, one claim per entry, a dead worker's trial is failed", () => {
  const dir = makeTempDir();
  try {
    const repo = fakeRepo(dir);
    assert.deepEqual(readQueue(repo), []);
    writeEntry(repo, entry("b", { queuedAt: 2 }));
    writeEntry(repo, entry("a", { queuedAt: 3 }));
    fs.writeFileSync(path.join(dir, "queue", "damaged.json"), "{");
    assert.deepEqual(
      readQueue(repo).map((e) => e.name),
      ["b", "a"],
    );
    assert.equal(claim(repo, "b"), true);
    assert.equal(claim(repo, "b"), false, "a second owner is refused");
    releaseDeadClaim(repo, "b");
    assert.equal(claim(repo, "b"), false, "a live owner's claim stays");

    assert.equal(effectiveState(entry("x", { state: "running", worker: process.pid })), "running");
    // A pid far above any pid_max: no such process.
    assert.equal(effectiveState(entry("x", { state: "running", worker: 2 ** 30 })), "failed");
    assert.equal(effectiveState(entry("x", { state: "success" })), "success");

    fs.writeFileSync(path.join(dir, "queue", "a.claim"), `${2 ** 30}\n`);
    releaseDeadClaim(repo, "a");
    assert.equal(claim(repo, "a"), true, "a dead owner's claim is released");
    dropEntry(repo, "a");
    assert.deepEqual(
      readQueue(repo).map((e) => e.name),
      ["b"],
    );
    assert.equal(fs.existsSync(path.join(dir, "queue", "a.claim")), false);
  } finally {
    removeTempDir(dir);
  }
});
