import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type StartRunOptions, startRun } from "../../../src/tracking/api.js";
import { openLiveRun } from "../../../src/tracking/external.js";
import { activeLogPath } from "../../../src/tracking/layout.js";
import {
  findRunsByTag,
  getMetricHistory,
  getRun,
  listRuns,
  readArtifact,
} from "../../../src/tracking/read.js";
import { acquireRunLock, runLockPath } from "../../../src/tracking/runlock.js";
import type { Liveness } from "../../../src/tracking/runlog.js";
import { readStartRecord, sealPendingRuns, sealRun } from "../../../src/tracking/seal.js";
import { FakeStore, fakeGit } from "./fake-store.js";

const HERE = fileURLToPath(import.meta.url);
const WRITER = path.join(path.dirname(HERE), `live-writer${path.extname(HERE)}`);

let tmp: string;
let dir: string;
let store: FakeStore;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-"));
  dir = path.join(tmp, "runs");
  store = new FakeStore(path.join(tmp, "objects"));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function start(extra: Partial<StartRunOptions> = {}) {
  return startRun({ dir, store, gitInfo: fakeGit, installProcessHooks: false, ...extra });
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

const here = os.hostname();
const dead: Liveness = { host: here, isPidAlive: () => false };

test("a live run takes metrics, params, tags, texts and artifacts from another writer; sealing keeps them", async () => {
  const run = await start({ params: { lr: "0.1" } });
  run.logMetric("loss", 1, { step: 0 });
  const live = openLiveRun(dir, store, run.id.slice(0, 6));
  assert.equal(live.id, run.id);
  live.logMetric("acc", 0.5, { step: 1, timestamp: 7 });
  live.logParams({ bs: 32, lr: "0.1" });
  live.setTags({ phase: "eval" });
  live.logText("a\n", "notes.txt", { append: true });
  live.logText("b\n", "notes.txt", { append: true });
  fs.writeFileSync(path.join(tmp, "report.html"), "<p>hi</p>");
  const ref = await live.logArtifact(path.join(tmp, "report.html"), { as: "reports/r.html" });
  assert.equal(ref.kind, "file");

  const liveView = getRun(dir, store, run.id);
  assert.equal(liveView.status, "RUNNING");
  assert.deepEqual(liveView.params, { lr: "0.1", bs: "32" });
  assert.equal(liveView.metrics.acc?.last, 0.5);

  const summary = await run.end();
  assert.equal(summary.status, "FINISHED");
  const sealed = getRun(dir, store, run.id);
  assert.notEqual(sealed.recordHash, null);
  assert.equal(sealed.tags.phase, "eval");
  assert.deepEqual([...getMetricHistory(dir, store, run.id, "acc").timestamps], [7]);
  assert.equal(readArtifact(dir, store, run.id, "notes.txt").toString(), "a\nb\n");
  assert.equal(readArtifact(dir, store, run.id, "reports/r.html").toString(), "<p>hi</p>");
  assert.equal(fs.existsSync(runLockPath(dir, run.id)), false, "no lock is left behind");

  assert.equal(
    codeOf(() => live.logMetric("acc", 1)),
    "ERR_MTRACK_RUN_NOT_ACTIVE",
    "appending after sealing fails instead of creating an orphan log",
  );
  assert.equal(fs.existsSync(activeLogPath(dir, run.id)), false);
  assert.equal(
    codeOf(() => openLiveRun(dir, store, run.id)),
    "ERR_MTRACK_RUN_NOT_ACTIVE",
  );
});

test("params stay write-once across writers, in both directions", async () => {
  const run = await start({ params: { lr: "0.1" } });
  const live = openLiveRun(dir, store, run.id);
  assert.equal(
    codeOf(() => live.logParams({ lr: "0.2" })),
    "ERR_MTRACK_PARAM_IMMUTABLE",
  );
  live.logParams({ bs: "32" });
  assert.equal(
    codeOf(() => run.logParam("bs", 64)),
    "ERR_MTRACK_PARAM_IMMUTABLE",
    "the owner sees params other processes logged",
  );
  run.logParam("bs", "32"); // the same value is fine
  run.logParam("epochs", 3);
  assert.equal(
    codeOf(() => live.logParams({ epochs: "4" })),
    "ERR_MTRACK_PARAM_IMMUTABLE",
  );
  await run.end();
  assert.deepEqual(getRun(dir, store, run.id).params, { lr: "0.1", bs: "32", epochs: "3" });
});

test("a run whose owner died cannot be logged to, and sealing it keeps what others appended", async () => {
  const run = await start();
  openLiveRun(dir, store, run.id).logMetric("acc", 1);
  assert.equal(
    codeOf(() => openLiveRun(dir, store, run.id, { liveness: dead })),
    "ERR_MTRACK_RUN_NOT_ACTIVE",
  );
  assert.deepEqual(await sealPendingRuns(dir, store, dead), [run.id]);
  const sealed = getRun(dir, store, run.id);
  assert.equal(sealed.status, "KILLED");
  assert.equal(sealed.metrics.acc?.last, 1);
});

test("an append that lands while the run is being sealed is sealed too", async () => {
  const run = await start();
  run.logMetric("loss", 1);
  run.flush();
  const live = openLiveRun(dir, store, run.id);
  // The store's flush is the moment between reading the log and publishing the seal.
  let appended = false;
  const flush = store.flush.bind(store);
  store.flush = async () => {
    if (!appended && !fs.existsSync(path.join(dir, "refs", run.id))) {
      appended = true;
      live.logMetric("late", 42);
    }
    await flush();
  };
  await run.end();
  assert.ok(appended);
  assert.equal(getRun(dir, store, run.id).metrics.late?.last, 42);
  assert.notEqual(getRun(dir, store, run.id).recordHash, null);
});

test("a writer that keeps appending cannot starve sealing: the last attempt holds the lock", async () => {
  const run = await start();
  const live = openLiveRun(dir, store, run.id);
  const flush = store.flush.bind(store);
  const lockedAtFlush: boolean[] = [];
  store.flush = async () => {
    const locked = fs.existsSync(runLockPath(dir, run.id));
    lockedAtFlush.push(locked);
    // Append on every optimistic attempt (a same-process append would wait forever on a held lock).
    if (!locked) live.logMetric("late", lockedAtFlush.length);
    await flush();
  };
  await run.end();
  assert.deepEqual(lockedAtFlush, [false, false, true]);
  assert.equal(getRun(dir, store, run.id).metrics.late?.count, 2);
});

test("sealPendingRuns reads only the head of a live run's log", async () => {
  const run = await start({ params: { a: "1" } });
  assert.equal(readStartRecord(dir, run.id)?.runId, run.id);
  const alive: Liveness = { host: here, isPidAlive: () => true };
  // A whole-file read of the log would go through readFileSync; the cheap path must not.
  const readFileSync = fs.readFileSync;
  const log = activeLogPath(dir, run.id);
  fs.readFileSync = ((file: fs.PathOrFileDescriptor, ...rest: unknown[]) => {
    if (file === log) throw new Error("full read of a live run's log");
    return (readFileSync as (...a: unknown[]) => unknown)(file, ...rest);
  }) as typeof fs.readFileSync;
  try {
    assert.deepEqual(await sealPendingRuns(dir, store, alive), []);
  } finally {
    fs.readFileSync = readFileSync;
  }
  await run.end();
  assert.equal(readStartRecord(dir, run.id), undefined, "sealed: no active log");
});

test("the run lock: a lock left by a dead process is taken over; a live holder makes others wait, then time out", async () => {
  const run = await start();
  fs.writeFileSync(runLockPath(dir, run.id), JSON.stringify({ pid: 999_999, host: here }));
  openLiveRun(dir, store, run.id, {
    liveness: { host: here, isPidAlive: (pid) => pid !== 999_999 },
  }).logMetric("x", 1);
  assert.equal(fs.existsSync(runLockPath(dir, run.id)), false);

  fs.writeFileSync(runLockPath(dir, run.id), JSON.stringify({ pid: 1, host: here }));
  const alive: Liveness = { host: here, isPidAlive: () => true };
  assert.equal(
    codeOf(() => acquireRunLock(dir, run.id, { liveness: alive, timeoutMs: 30 })),
    "ERR_MTRACK_LOCKED",
  );
  fs.rmSync(runLockPath(dir, run.id));
  await run.end();
  assert.equal(getRun(dir, store, run.id).metrics.x?.last, 1);
});

test("two processes append to one run while its owner logs: nothing is lost or torn", async () => {
  const run = await start({ flushIntervalMs: 5 });
  const points = 150;
  const writers = ["w1", "w2"].map(
    (name) =>
      new Promise<number | null>((resolve) => {
        const p = spawn(
          process.execPath,
          ["--import", "tsx", WRITER, dir, store.root, run.id, name, String(points)],
          {
            stdio: ["ignore", "ignore", "inherit"],
          },
        );
        p.on("exit", (code) => resolve(code));
      }),
  );
  let step = 0;
  const owner = setInterval(() => {
    for (let i = 0; i < 50; i++) run.logMetric("own", step, { step: step++ });
  }, 2);
  const codes = await Promise.all(writers);
  clearInterval(owner);
  assert.deepEqual(codes, [0, 0]);
  await run.end();
  const r = getRun(dir, store, run.id);
  assert.equal(r.metrics.w1?.count, points);
  assert.equal(r.metrics.w2?.count, points);
  assert.equal(r.metrics.own?.count, step);
  assert.deepEqual(r.params, { "writer.w1": "yes", "writer.w2": "yes" });
  const text = readArtifact(dir, store, run.id, "writers.log").toString();
  assert.equal(text.split("\n").filter(Boolean).length, 2 * Math.ceil(points / 10));
  assert.deepEqual(
    [...getMetricHistory(dir, store, run.id, "w1").steps],
    Array.from({ length: points }, (_, i) => i),
  );
});

test("findRunsByTag lists the runs carrying a tag value", async () => {
  const a = await start({ tags: { "mtrack.repro_id": "r1" } });
  const b = await start({ tags: { "mtrack.repro_id": "r2" } });
  const c = await start({ tags: { "mtrack.repro_id": "r1" } });
  for (const r of [a, b, c]) await r.end();
  assert.deepEqual(
    findRunsByTag(dir, store, "mtrack.repro_id", "r1")
      .map((r) => r.runId)
      .sort(),
    [a.id, c.id].sort(),
  );
  assert.deepEqual(findRunsByTag(dir, store, "mtrack.repro_id", "r3"), []);
  assert.equal(listRuns(dir, store).length, 3);
});

test("sealRun of an already sealed run returns its summary", async () => {
  const run = await start();
  const first = await run.end();
  const again = await sealRun(dir, store, run.id);
  assert.equal(again.runId, first.runId);
  assert.equal(again.status, "FINISHED");
});
