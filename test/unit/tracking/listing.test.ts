import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { startRun } from "../../../src/tracking/api.js";
import { RunListing } from "../../../src/tracking/listing.js";
import { deleteRun } from "../../../src/tracking/read.js";
import type { Liveness } from "../../../src/tracking/runlog.js";
import { FakeStore, fakeGit } from "./fake-store.js";

const alive: Liveness = { host: os.hostname(), isPidAlive: () => true };

async function withDir(fn: (dir: string, store: FakeStore) => Promise<void>): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-"));
  try {
    await fn(path.join(tmp, "runs"), new FakeStore(path.join(tmp, "objects")));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

let now = 1_000;
const clock = () => now++;

test("the sealed listing is reused until the tracking dir changes, then re-read", () =>
  withDir(async (dir, store) => {
    const first = await startRun({ dir, store, gitInfo: fakeGit, installProcessHooks: false, clock });
    first.logMetric("acc", 0.5, { step: 1 });
    await first.end();
    const listing = new RunListing(dir, store, alive);
    const a = listing.snapshot();
    assert.equal(a.runs.length, 1);
    const b = listing.snapshot();
    assert.equal(b.runs, a.runs, "unchanged dir: the same rows, no re-read");
    assert.equal(b.version, a.version);

    const second = await startRun({ dir, store, gitInfo: fakeGit, installProcessHooks: false, clock });
    await second.end();
    const c = listing.snapshot();
    assert.equal(c.runs.length, 2);
    assert.notEqual(c.version, b.version);
    assert.equal(c.runs[0]!.runId, second.id, "newest first");

    deleteRun(dir, first.id);
    const d = listing.snapshot();
    assert.equal(d.runs.find((r) => r.runId === first.id)!.deleted, true);
    assert.notEqual(d.version, c.version);
  }));

test("a RUNNING run is re-read on every snapshot and sealed rows replace it when it ends", () =>
  withDir(async (dir, store) => {
    const run = await startRun({ dir, store, gitInfo: fakeGit, installProcessHooks: false, clock });
    run.logMetric("loss", 3, { step: 0 });
    run.flush();
    const listing = new RunListing(dir, store, alive);
    const a = listing.snapshot();
    assert.equal(a.runs[0]!.status, "RUNNING");
    assert.equal(a.runs[0]!.metrics.loss!.last, 3);
    run.logMetric("loss", 2, { step: 1 });
    run.flush();
    const b = listing.snapshot();
    assert.equal(b.runs[0]!.metrics.loss!.last, 2);
    assert.notEqual(b.version, a.version);
    await run.end();
    const c = listing.snapshot();
    assert.equal(c.runs.length, 1);
    assert.equal(c.runs[0]!.status, "FINISHED");
  }));

test("a run whose process died is shown KILLED (unfinished) without waiting for the dir to change", () =>
  withDir(async (dir, store) => {
    const run = await startRun({ dir, store, gitInfo: fakeGit, installProcessHooks: false, clock });
    run.flush();
    let living = true;
    const liveness: Liveness = { host: os.hostname(), isPidAlive: () => living };
    const listing = new RunListing(dir, store, liveness);
    assert.equal(listing.snapshot().runs[0]!.status, "RUNNING");
    living = false;
    const row = listing.snapshot().runs[0]!;
    assert.equal(row.status, "KILLED");
    assert.equal(row.unfinished, true);
  }));

test("running and sealed runs are listed together newest first, and the merged list is reused while nothing changes", () =>
  withDir(async (dir, store) => {
    const old = await startRun({ dir, store, gitInfo: fakeGit, installProcessHooks: false, clock: () => 10 });
    await old.end();
    const live = await startRun({
      dir,
      store,
      gitInfo: fakeGit,
      installProcessHooks: false,
      clock: () => 20,
    });
    live.flush();
    const newer = await startRun({
      dir,
      store,
      gitInfo: fakeGit,
      installProcessHooks: false,
      clock: () => 30,
    });
    await newer.end();
    const listing = new RunListing(dir, store, alive);
    const a = listing.snapshot();
    assert.deepEqual(
      a.runs.map((r) => r.runId),
      [newer.id, live.id, old.id],
    );
    const b = listing.snapshot();
    assert.equal(b.runs, a.runs);
    assert.equal(b.version, a.version);
  }));
