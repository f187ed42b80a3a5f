import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { isMtrackError, type MtrackError } from "../../../src/errors.js";
import { buildDag } from "../../../src/pipeline/dag.js";
import { emptyLock, type LockFile } from "../../../src/pipeline/lockfile.js";
import { parsePipeline } from "../../../src/pipeline/parse.js";
import { type ReproOptions, type ReproResult, reproduce } from "../../../src/pipeline/run.js";
import { FakeIO } from "./fake-io.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const write = (rel: string, text: string) => {
  fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
  fs.writeFileSync(path.join(dir, rel), text);
};
const read = (rel: string) => fs.readFileSync(path.join(dir, rel), "utf8");
const lines = (rel: string) => (fs.existsSync(path.join(dir, rel)) ? read(rel).trim().split("\n") : []);

function setup(pipeline: string) {
  write("pipeline.yaml", pipeline);
  const io = new FakeIO(dir);
  const repro = (opts: Partial<ReproOptions> = {}, lock: LockFile = io.lastLock ?? emptyLock()) => {
    const p = parsePipeline({
      text: read("pipeline.yaml"),
      file: "pipeline.yaml",
      readFile: (f) => (fs.existsSync(path.join(dir, f)) ? read(f) : undefined),
    });
    const dag = buildDag(p, { exists: (f) => fs.existsSync(path.join(dir, f)) });
    return reproduce({ dag, lock, io, dir, env: process.env, ...opts });
  };
  return { io, repro };
}

const statuses = (r: ReproResult) => Object.fromEntries(r.stages.map((s) => [s.name, s.status]));

async function rejectsWith(p: Promise<unknown>, code: string): Promise<MtrackError> {
  try {
    await p;
  } catch (e) {
    assert.ok(isMtrackError(e), String(e));
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}`);
}

const CHAIN = `stages:
  prep:
    cmd: echo prep >> order.log && cat raw.txt > data.txt
    deps: [raw.txt]
    outs: [data.txt]
  train:
    cmd: echo train >> order.log && echo "$MTRACK_STAGE \${train.lr}" > model.txt && cat data.txt >> model.txt
    deps: [data.txt]
    outs: [model.txt]
  eval:
    cmd: echo eval >> order.log && cat model.txt > report.txt
    deps: [model.txt]
    outs: [report.txt]
`;

describe("reproduce", () => {
  it("runs stages in dependency order, records the lock, then skips what did not change", async () => {
    write("raw.txt", "r1\n");
    write("params.yaml", "train:\n  lr: 0.1\n");
    const { io, repro } = setup(CHAIN);
    const first = await repro();
    assert.deepEqual(statuses(first), { prep: "ran", train: "ran", eval: "ran" });
    assert.deepEqual(lines("order.log"), ["prep", "train", "eval"]);
    assert.equal(lines("model.txt")[0], "train 0.1");
    assert.deepEqual(Object.keys(io.lastLock!.stages), ["prep", "train", "eval"]);
    assert.deepEqual(io.lastLock!.stages.train!.params, { "params.yaml": { "train.lr": 0.1 } });

    const second = await repro();
    assert.deepEqual(statuses(second), { prep: "skipped", train: "skipped", eval: "skipped" });
    assert.equal(lines("order.log").length, 3);

    write("params.yaml", "train:\n  lr: 0.2\n");
    const third = await repro();
    assert.deepEqual(statuses(third), { prep: "skipped", train: "ran", eval: "ran" });
    assert.deepEqual(third.stages[1]!.reasons, ["cmd changed", "param train.lr changed: 0.1 → 0.2"]);
  });

  it("re-checks a downstream stage after its upstream ran: same output, no rerun", async () => {
    write("raw.txt", "r1\n");
    const pipeline = `stages:
  prep:
    cmd: echo same > data.txt
    always_changed: true
    outs: [data.txt]
  use:
    cmd: echo use >> order.log && cat data.txt > out.txt
    deps: [data.txt]
    outs: [out.txt]
`;
    const { repro } = setup(pipeline);
    await repro();
    const again = await repro();
    assert.deepEqual(statuses(again), { prep: "ran", use: "skipped" });
    assert.equal(lines("order.log").length, 1);
  });

  it("removes outputs before running unless persist", async () => {
    const pipeline = `stages:
  a:
    cmd: test ! -e out.txt && echo new > out.txt && echo x >> keep.txt
    always_changed: true
    outs:
      - out.txt
      - keep.txt:
          persist: true
`;
    const { io, repro } = setup(pipeline);
    await repro();
    await repro();
    assert.deepEqual(lines("keep.txt"), ["x", "x"]);
    assert.deepEqual(io.removed, ["out.txt", "out.txt"]);
  });

  it("runs independent stages in parallel with -j 2, prefixing their output", async () => {
    const stage = (n: string) => `  ${n}:
    cmd: date +%s%N > ${n}.start && echo hello-${n} && sleep 0.4 && date +%s%N > ${n}.end
    outs: [${n}.start, ${n}.end]
`;
    const { repro } = setup(`stages:\n${stage("a")}${stage("b")}`);
    let out = "";
    const result = await repro({ jobs: 2, output: { stdout: (t) => (out += t), stderr: () => {} } });
    assert.deepEqual(statuses(result), { a: "ran", b: "ran" });
    const t = (f: string) => BigInt(read(f).trim());
    assert.ok(t("a.start") < t("b.end") && t("b.start") < t("a.end"), "the two stages overlapped");
    assert.match(out, /^\[a\] hello-a$/m);
    assert.match(out, /^\[b\] hello-b$/m);
  });

  it("does not prefix output with -j 1", async () => {
    const { repro } = setup("stages:\n  a:\n    cmd: echo hi\n");
    let out = "";
    await repro({ output: { stdout: (t) => (out += t), stderr: () => {} } });
    assert.equal(out, "hi\n");
  });

  it("stops at a failing stage with its exit code, keeping earlier lock entries", async () => {
    const pipeline = `stages:
  a:
    cmd: echo a > a.txt
    outs: [a.txt]
  b:
    cmd: exit 3
    deps: [a.txt]
    outs: [b.txt]
  c:
    cmd: echo c > c.txt
    deps: [b.txt]
    outs: [c.txt]
  d:
    cmd: echo d > d.txt
    outs: [d.txt]
`;
    const { io, repro } = setup(pipeline);
    const err = await rejectsWith(repro(), "ERR_MTRACK_STAGE_FAILED");
    assert.equal(err.data.stage, "b");
    assert.equal(err.data.exitCode, 3);
    assert.equal(err.exitCode, 3);
    assert.deepEqual(Object.keys(io.lastLock!.stages), ["a"]);
    const result = err.data.result as ReproResult;
    assert.deepEqual(statuses(result), { a: "ran", b: "failed", c: "not-run", d: "not-run" });
  });

  it("with keepGoing, skips only the failed stage's downstream", async () => {
    const pipeline = `stages:
  b:
    cmd: exit 2
    outs: [b.txt]
  c:
    cmd: echo c > c.txt
    deps: [b.txt]
    outs: [c.txt]
  d:
    cmd: echo d > d.txt
    outs: [d.txt]
`;
    const { io, repro } = setup(pipeline);
    const err = await rejectsWith(repro({ keepGoing: true }), "ERR_MTRACK_STAGE_FAILED");
    assert.deepEqual(statuses(err.data.result as ReproResult), { b: "failed", c: "not-run", d: "ran" });
    assert.deepEqual(Object.keys(io.lastLock!.stages), ["d"]);
  });

  it("fails a stage whose declared output was not produced, recording nothing for it", async () => {
    const { io, repro } = setup("stages:\n  a:\n    cmd: 'true'\n    outs: [never.txt]\n");
    await rejectsWith(repro(), "ERR_MTRACK_PATH_NOT_FOUND");
    assert.equal(io.lastLock, undefined);
  });

  it("restores outputs from the run-cache when an input state comes back", async () => {
    const pipeline = `stages:
  a:
    cmd: echo run >> runs.log && cat in.txt > out.txt
    deps: [in.txt]
    outs: [out.txt]
`;
    const { repro } = setup(pipeline);
    write("in.txt", "A\n");
    await repro();
    write("in.txt", "B\n");
    await repro();
    assert.equal(read("out.txt"), "B\n");
    write("in.txt", "A\n");
    const back = await repro();
    assert.deepEqual(statuses(back), { a: "restored" });
    assert.ok(back.stages[0]!.reasons.includes("restored from run-cache"));
    assert.equal(read("out.txt"), "A\n");
    assert.equal(lines("runs.log").length, 2);

    write("in.txt", "B\n");
    const noCache = await repro({ noRunCache: true });
    assert.deepEqual(statuses(noCache), { a: "ran" });
    assert.equal(lines("runs.log").length, 3);
  });

  it("dry mode plans with reasons and runs nothing", async () => {
    write("raw.txt", "r\n");
    write("params.yaml", "train:\n  lr: 0.1\n");
    const { io, repro } = setup(CHAIN);
    const result = await repro({ dry: true });
    assert.deepEqual(
      result.plan!.stages.map((s) => [s.name, s.action, s.reasons]),
      [
        ["prep", "run", ["never run"]],
        ["train", "run", ["never run"]],
        ["eval", "run", ["never run"]],
      ],
    );
    assert.equal(fs.existsSync(path.join(dir, "order.log")), false);
    assert.equal(io.locks.length, 0);
  });

  it("kills a running command on abort, records nothing for it, and reports exit 130", async () => {
    const pipeline = `stages:
  quick:
    cmd: echo q > q.txt
    outs: [q.txt]
  slow:
    cmd: sleep 29.987; echo late > late.txt
    deps: [q.txt]
    outs: [late.txt]
`;
    const { io, repro } = setup(pipeline);
    const controller = new AbortController();
    const started = Date.now();
    const run = repro({ signal: controller.signal });
    setTimeout(() => controller.abort(), 300);
    const err = await rejectsWith(run, "ERR_MTRACK_INTERRUPTED");
    assert.equal(err.exitCode, 130);
    assert.ok(Date.now() - started < 5000, "the sleep was killed");
    assert.deepEqual(Object.keys(io.lastLock!.stages), ["quick"]);
    assert.deepEqual(statuses(err.data.result as ReproResult), { quick: "ran", slow: "interrupted" });
    assert.equal(fs.existsSync(path.join(dir, "late.txt")), false);
    // The whole process group went, not just the shell: no orphaned sleep is left behind.
    const ps = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" });
    assert.equal(ps.includes("sleep 29.987"), false);
  });

  it("runs nothing when aborted before starting", async () => {
    const { io, repro } = setup("stages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n");
    await rejectsWith(repro({ signal: AbortSignal.abort() }), "ERR_MTRACK_INTERRUPTED");
    assert.equal(fs.existsSync(path.join(dir, "a.txt")), false);
    assert.equal(io.locks.length, 0);
  });

  it("runs list commands in order and stops at the first failure", async () => {
    const { repro } = setup(
      "stages:\n  a:\n    cmd:\n      - echo 1 >> l.txt\n      - exit 4\n      - echo 3 >> l.txt\n",
    );
    const err = await rejectsWith(repro(), "ERR_MTRACK_STAGE_FAILED");
    assert.equal(err.data.exitCode, 4);
    assert.deepEqual(lines("l.txt"), ["1"]);
  });
});

describe("reproduce: lock upkeep", () => {
  it("writes lock stages in pipeline order and drops stages removed from the pipeline", async () => {
    const { io, repro } = setup(
      "stages:\n  b:\n    cmd: echo b > b.txt\n    deps: [a.txt]\n    outs: [b.txt]\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n",
    );
    const stale = emptyLock();
    stale.stages.gone = { cmd: "x", deps: [], params: {}, outs: [] };
    await repro({}, stale);
    assert.deepEqual(Object.keys(io.lastLock!.stages), ["b", "a"]);
  });
});
