import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { type StartRunOptions, startRun } from "../../../src/tracking/api.js";
import {
  getMetricHistory,
  getRun,
  listRuns,
  materializeArtifact,
  readArtifact,
} from "../../../src/tracking/read.js";
import { FakeStore, fakeGit } from "./fake-store.js";

let tmp: string;
let dir: string;
let store: FakeStore;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-"));
  dir = path.join(tmp, ".mtrack", "runs");
  store = new FakeStore(path.join(tmp, "objects"));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function start(extra: Partial<StartRunOptions> = {}) {
  return startRun({
    dir,
    store,
    gitInfo: fakeGit,
    installProcessHooks: false,
    mtrackVersion: "9.9.9",
    ...extra,
  });
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

test("run ids are 32 lowercase hex and the run records git, command, version and times", async () => {
  let now = 1000;
  const run = await start({ clock: () => now, command: ["python", "train.py"], name: "first" });
  assert.match(run.id, /^[0-9a-f]{32}$/);
  now = 5000;
  const summary = await run.end();
  assert.equal(summary.status, "FINISHED");
  const full = getRun(dir, store, run.id);
  assert.equal(full.name, "first");
  assert.equal(full.startTime, 1000);
  assert.equal(full.endTime, 5000);
  assert.deepEqual(full.command, ["python", "train.py"]);
  assert.equal(full.mtrackVersion, "9.9.9");
  assert.equal(full.commit, (await fakeGit()).commit);
  assert.equal(full.branch, "main");
  assert.equal(full.dirty, true);
  assert.equal(full.pid, process.pid);
  assert.equal(full.experimentName, "Default");
  assert.equal(full.experimentId, "0");
  assert.notEqual(full.recordHash, null);
  assert.equal(fs.existsSync(path.join(dir, "active", `${run.id}.log`)), false);
  assert.equal(fs.readFileSync(path.join(dir, "refs", run.id), "utf8").trim(), full.recordHash);
});

test("params are immutable: same value is fine, a different one is refused", async () => {
  const run = await start({ params: { lr: 0.001 } });
  run.logParam("lr", 0.001);
  run.logParam("lr", "0.001");
  assert.equal(
    codeOf(() => run.logParam("lr", 0.01)),
    "ERR_MTRACK_PARAM_IMMUTABLE",
  );
  // A batch with one bad change logs nothing.
  assert.equal(
    codeOf(() => run.logParams({ epochs: 3, lr: 1 })),
    "ERR_MTRACK_PARAM_IMMUTABLE",
  );
  run.logParams({ epochs: 3 });
  // Names of Object.prototype members are ordinary keys.
  run.logParams({ constructor: "c", toString: "t" });
  await run.end();
  assert.deepEqual(getRun(dir, store, run.id).params, {
    lr: "0.001",
    epochs: "3",
    constructor: "c",
    toString: "t",
  });
});

test("tags are mutable, last write wins", async () => {
  const run = await start({ tags: { phase: "warmup" } });
  run.setTag("phase", "train");
  run.flush();
  run.setTags({ phase: "eval", owner: "me" });
  await run.end();
  assert.deepEqual(getRun(dir, store, run.id).tags, { phase: "eval", owner: "me" });
});

test("metrics keep steps and timestamps; summaries give last/min/max", async () => {
  let now = 100;
  const run = await start({ clock: () => now++ });
  run.logMetric("loss", 3, { step: 0 });
  run.logMetric("loss", 1, { step: 1, timestamp: 50 });
  run.flush();
  run.logMetric("loss", 2, { step: 2 });
  run.logMetrics({ acc: 0.5, f1: 0.25 }, { step: 7 });
  run.logMetric("nostep", 4);
  await run.end();
  const h = getMetricHistory(dir, store, run.id, "loss");
  assert.deepEqual([...h.steps], [0, 1, 2]);
  assert.deepEqual([...h.values], [3, 1, 2]);
  assert.equal(h.timestamps[1], 50);
  assert.ok(h.timestamps[2]! > h.timestamps[0]!);
  const full = getRun(dir, store, run.id);
  assert.deepEqual(
    {
      last: full.metrics.loss?.last,
      min: full.metrics.loss?.min,
      max: full.metrics.loss?.max,
      count: full.metrics.loss?.count,
    },
    { last: 2, min: 1, max: 3, count: 3 },
  );
  assert.equal(full.metrics.acc?.step, 7);
  assert.equal(full.metrics.f1?.timestamp, full.metrics.acc?.timestamp);
  assert.equal(full.metrics.nostep?.step, 0);
  assert.equal(
    codeOf(() => getMetricHistory(dir, store, run.id, "missing")),
    "ERR_MTRACK_INVALID_ARGUMENT",
  );
});

test("a metric value must be a number", async () => {
  const run = await start();
  assert.equal(
    codeOf(() => run.logMetric("ok", true as unknown as number)),
    "ERR_MTRACK_INVALID_ARGUMENT",
  );
  await run.end();
});

test("invalid names are refused, artifact names cannot escape the run", async () => {
  const run = await start();
  assert.equal(
    codeOf(() => run.logMetric("a;b", 1)),
    "ERR_MTRACK_INVALID_NAME",
  );
  assert.equal(
    codeOf(() => run.logParam("x".repeat(251), 1)),
    "ERR_MTRACK_INVALID_NAME",
  );
  assert.equal(
    codeOf(() => run.setTag("../up", 1)),
    "ERR_MTRACK_INVALID_NAME",
  );
  for (const bad of ["../x", "a/../../x", "/etc/passwd", "a//b", "./a", "a\\b", "", "x".repeat(1025)]) {
    assert.equal(
      codeOf(() => run.logText("t", bad)),
      "ERR_MTRACK_INVALID_NAME",
      bad,
    );
  }
  const file = path.join(tmp, "f.txt");
  fs.writeFileSync(file, "data");
  await assert.rejects(run.logArtifact(file, { as: "../x" }), { code: "ERR_MTRACK_INVALID_NAME" });
  await assert.rejects(run.logArtifacts(tmp, { as: "/abs" }), { code: "ERR_MTRACK_INVALID_NAME" });
  run.logMetric("ok/name-1.x y", 1);
  await run.end();
  assert.equal(fs.existsSync(path.join(dir, "x")), false);
});

test("artifacts: same bytes give the same hash; files, dirs, texts and models read back", async () => {
  const run = await start();
  const a = path.join(tmp, "a.bin");
  const b = path.join(tmp, "b.bin");
  fs.writeFileSync(a, "same bytes");
  fs.writeFileSync(b, "same bytes");
  const ra = await run.logArtifact(a);
  const rb = await run.logArtifact(b, { as: "copies/b.bin" });
  assert.equal(ra.hash, rb.hash);
  const plots = path.join(tmp, "plots");
  fs.mkdirSync(path.join(plots, "sub"), { recursive: true });
  fs.writeFileSync(path.join(plots, "loss.csv"), "1,2\n");
  fs.writeFileSync(path.join(plots, "sub", "acc.csv"), "same bytes");
  const rd = await run.logArtifacts(plots);
  assert.equal(rd.kind, "dir");
  assert.equal(rd.name, "plots");
  run.logText("line 1\n", "train.log", { append: true });
  run.flush();
  run.logText("line 2\n", "train.log", { append: true });
  run.logText("draft", "note.md");
  run.logText("final", "note.md");
  // Readable while the run is still going, up to the last flush.
  assert.equal(readArtifact(dir, store, run.id, "train.log").toString(), "line 1\n");
  run.flush();
  assert.equal(readArtifact(dir, store, run.id, "train.log").toString(), "line 1\nline 2\n");
  const model = path.join(tmp, "model");
  fs.mkdirSync(model);
  fs.writeFileSync(path.join(model, "weights.bin"), "w");
  await run.logModel(model, { name: "clf", flavor: "tfjs-layers", signature: { inputs: [4] } });
  await run.end();

  assert.equal(readArtifact(dir, store, run.id, "train.log").toString(), "line 1\nline 2\n");
  assert.equal(readArtifact(dir, store, run.id, "note.md").toString(), "final");
  assert.equal(readArtifact(dir, store, run.id, "plots/sub/acc.csv").toString(), "same bytes");
  const full = getRun(dir, store, run.id);
  assert.deepEqual(
    full.artifacts.map((x) => x.name),
    ["a.bin", "copies/b.bin", "note.md", "plots", "train.log"],
  );
  assert.equal(full.models[0]?.flavor, "tfjs-layers");
  const out = path.join(tmp, "out");
  materializeArtifact(dir, store, run.id, "plots", out);
  assert.equal(fs.readFileSync(path.join(out, "sub", "acc.csv"), "utf8"), "same bytes");
  materializeArtifact(dir, store, run.id, "clf", path.join(tmp, "m2"));
  assert.equal(fs.readFileSync(path.join(tmp, "m2", "weights.bin"), "utf8"), "w");
  assert.throws(() => readArtifact(dir, store, run.id, "nope"), { code: "ERR_MTRACK_ARTIFACT_NOT_FOUND" });
  assert.throws(() => readArtifact(dir, store, run.id, "../x"), { code: "ERR_MTRACK_INVALID_NAME" });
});

test("a missing artifact path is reported", async () => {
  const run = await start();
  await assert.rejects(run.logArtifact(path.join(tmp, "nope")), { code: "ERR_MTRACK_PATH_NOT_FOUND" });
  await run.end();
});

test("an ended run refuses more logging; end is idempotent and can record FAILED", async () => {
  const run = await start({ experiment: "exp-a" });
  const first = run.end("FAILED");
  assert.equal(run.end(), first);
  assert.equal((await first).status, "FAILED");
  assert.equal(
    codeOf(() => run.logMetric("x", 1)),
    "ERR_MTRACK_RUN_NOT_ACTIVE",
  );
  assert.equal(
    codeOf(() => run.setTag("x", 1)),
    "ERR_MTRACK_RUN_NOT_ACTIVE",
  );
  const [row] = listRuns(dir, store);
  assert.equal(row?.status, "FAILED");
  assert.equal(row?.experimentName, "exp-a");
  assert.equal(row?.experimentId, "1");
});

test("a metric logged before end on a known key is still rejected after end", async () => {
  const run = await start();
  run.logMetric("x", 1);
  await run.end();
  assert.equal(
    codeOf(() => run.logMetric("x", 2)),
    "ERR_MTRACK_RUN_NOT_ACTIVE",
  );
});

test("bad params or tags at start are refused before any run exists", async () => {
  await assert.rejects(start({ params: { "bad;key": 1 } }), { code: "ERR_MTRACK_INVALID_NAME" });
  await assert.rejects(start({ tags: { ok: "x".repeat(5001) } }), { code: "ERR_MTRACK_INVALID_ARGUMENT" });
  await assert.rejects(start({ experiment: "" }), { code: "ERR_MTRACK_INVALID_NAME" });
  assert.deepEqual(listRuns(dir, store), []);
  const active = path.join(dir, "active");
  assert.deepEqual(fs.existsSync(active) ? fs.readdirSync(active) : [], []);
});

test("end refuses an unknown status", async () => {
  const run = await start();
  assert.equal(
    codeOf(() => run.end("DONE" as never)),
    "ERR_MTRACK_INVALID_ARGUMENT",
  );
  assert.equal((await run.end("KILLED")).status, "KILLED");
});
