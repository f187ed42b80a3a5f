import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { fileURLToPath } from "node:url";
import { getMetricHistory, getRun, listRuns, readArtifact } from "../../../src/tracking/read.js";
import { sealPendingRuns } from "../../../src/tracking/seal.js";
import { FakeStore } from "./fake-store.js";

const HERE = fileURLToPath(import.meta.url);
// Same extension as this file: .ts under tsx, .js when the tests run compiled from dist/.
const CHILD = path.join(path.dirname(HERE), `child-run${path.extname(HERE)}`);

let tmp: string;
let dir: string;
let storeRoot: string;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-"));
  dir = path.join(tmp, "runs");
  storeRoot = path.join(tmp, "objects");
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Child {
  proc: ChildProcess;
  /** Resolves with the run id once the child has logged and flushed. */
  runId: Promise<string>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function child(mode: string): Child {
  const proc = spawn(process.execPath, ["--import", "tsx", CHILD, dir, storeRoot, mode], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const runId = new Promise<string>((resolve, reject) => {
    proc.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n")[0];
      if (out.includes("\n") && line !== undefined) resolve(line.trim());
    });
    proc.on("exit", () => reject(new Error(`child exited before reporting its run id: ${out}`)));
  });
  runId.catch(() => {});
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on("exit", (code, signal) => resolve({ code, signal })),
  );
  return { proc, runId, exit };
}

test("SIGTERM and SIGINT: the run is flushed, marked KILLED and sealed; exit 143 / 130", async () => {
  const term = child("sigterm");
  const int = child("sigint");
  const [termId, intId] = await Promise.all([term.runId, int.runId]);
  term.proc.kill("SIGTERM");
  int.proc.kill("SIGINT");
  assert.equal((await term.exit).code, 143);
  assert.equal((await int.exit).code, 130);
  const store = new FakeStore(storeRoot);
  for (const id of [termId, intId]) {
    const run = getRun(dir, store, id);
    assert.equal(run.status, "KILLED");
    assert.notEqual(run.recordHash, null, "sealed");
    assert.notEqual(run.endTime, null);
    // The handler flushed the points logged after the last explicit flush.
    assert.equal(getMetricHistory(dir, store, id, "loss").steps.length, 110);
  }
});

test("an uncaught exception or unhandled rejection ends the run FAILED", async () => {
  const thrower = child("throw");
  const rejecter = child("reject");
  const ids = await Promise.all([thrower.runId, rejecter.runId]);
  assert.equal((await thrower.exit).code, 1);
  assert.equal((await rejecter.exit).code, 1);
  const store = new FakeStore(storeRoot);
  for (const id of ids) {
    const run = getRun(dir, store, id);
    assert.equal(run.status, "FAILED");
    assert.match(run.error ?? "", /boom/);
    assert.equal(getMetricHistory(dir, store, id, "loss").steps.length, 110);
  }
  // The crashing process could not wait for the store; sealing happens later.
  assert.deepEqual((await sealPendingRuns(dir, store)).sort(), [...ids].sort());
  for (const id of ids) {
    const run = getRun(dir, store, id);
    assert.equal(run.status, "FAILED");
    assert.notEqual(run.recordHash, null);
  }
});

test("kill -9 mid-run: data up to the last flush is readable and the run shows KILLED/unfinished", async () => {
  const c = child("kill9");
  const id = await c.runId;
  c.proc.kill("SIGKILL");
  assert.equal((await c.exit).signal, "SIGKILL");
  const store = new FakeStore(storeRoot);
  const [row] = listRuns(dir, store);
  assert.equal(row?.runId, id);
  assert.equal(row?.status, "KILLED");
  assert.equal(row?.unfinished, true);
  assert.equal(row?.params.mode, "kill9");
  // Steps 100..109 were still in memory when the process died.
  assert.equal(getMetricHistory(dir, store, id, "loss").steps.length, 100);
  assert.equal(readArtifact(dir, store, id, "out.log").toString(), "flushed\n");
  await sealPendingRuns(dir, store);
  const sealed = getRun(dir, store, id);
  assert.equal(sealed.status, "KILLED");
  assert.equal(sealed.unfinished, true);
  assert.notEqual(sealed.recordHash, null);
  assert.equal(sealed.metrics.loss?.count, 100);
});

test("a process that never calls end() still seals its run FINISHED", async () => {
  const c = child("forget");
  const id = await c.runId;
  assert.equal((await c.exit).code, 0);
  const run = getRun(dir, new FakeStore(storeRoot), id);
  assert.equal(run.status, "FINISHED");
  assert.notEqual(run.recordHash, null);
  assert.equal(run.metrics.loss?.count, 110);
});

test("two processes ending runs at the same time both land in the index", async () => {
  const a = child("finish");
  const b = child("finish");
  const ids = await Promise.all([a.runId, b.runId]);
  assert.equal((await a.exit).code, 0);
  assert.equal((await b.exit).code, 0);
  const store = new FakeStore(storeRoot);
  // The index file itself must hold both entries (listing could otherwise repair them from refs).
  const index = fs.readFileSync(path.join(dir, "index.log"));
  for (const id of ids) assert.ok(index.includes(Buffer.from(id)), `index has ${id}`);
  const rows = listRuns(dir, store, { experiment: "proc" });
  assert.deepEqual(rows.map((r) => r.runId).sort(), [...ids].sort());
  for (const r of rows) {
    assert.equal(r.status, "FINISHED");
    assert.equal(r.metrics.x?.last, 49);
  }
});
