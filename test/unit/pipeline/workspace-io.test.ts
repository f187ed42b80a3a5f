import assert from "node:assert/strict";
import * as fs from "node:fs";
import { afterEach, beforeEach, describe, it } from "node:test";
import { isMtrackError } from "../../../src/errors.js";
import { loadPipeline } from "../../../src/pipeline/load.js";
import { parseLock } from "../../../src/pipeline/lockfile.js";
import { reproduce } from "../../../src/pipeline/run.js";
import { RunCacheStore } from "../../../src/pipeline/runcache.js";
import { pipelineStatus } from "../../../src/pipeline/status.js";
import { WorkspaceIO } from "../../../src/pipeline/workspace-io.js";
import { initRepo, Repo } from "../../../src/repo.js";
import { makeTempGitRepo, type TempGitRepo } from "../../helpers/git-repo.js";

let tmp: TempGitRepo;
let repo: Repo;
beforeEach(() => {
  tmp = makeTempGitRepo();
  initRepo({ cwd: tmp.dir });
  repo = Repo.open({ cwd: tmp.dir });
});
afterEach(() => tmp.cleanup());

const PIPE = `stages:
  make:
    cmd: mkdir -p out/sub && echo \${n} > out/a.txt && echo b > out/sub/b.txt && echo acc > m.json
    deps: [in.txt]
    params: [n]
    outs: [out]
    metrics:
      - m.json:
          cache: false
`;

function ioFor(file = "pipeline.yaml", runCache = true) {
  const loaded = loadPipeline(repo, file);
  const io = new WorkspaceIO({ repo, ...loaded, runCache });
  const run = (opts: { force?: boolean } = {}) =>
    reproduce({
      dag: loaded.dag,
      lock: loadPipeline(repo, file).lock,
      io,
      dir: loaded.dirAbs,
      env: process.env,
      ...opts,
    });
  return { loaded, io, run };
}

describe("WorkspaceIO", () => {
  it("hashes files and directories, null when missing, and sees changes after outputs are removed", async () => {
    tmp.write({ "pipeline.yaml": PIPE, "params.yaml": "n: 1\n", "in.txt": "x\n", "d/a": "1", "d/b/c": "2" });
    const { io } = ioFor();
    const file = await io.hashPath("in.txt");
    assert.equal(file?.size, 2);
    assert.equal(file?.files, undefined);
    const dir = await io.hashPath("d");
    assert.deepEqual([dir?.size, dir?.files], [2, 2]);
    assert.equal(await io.hashPath("nope"), null);
    const stage = ioFor().loaded.pipeline.stages[0]!;
    tmp.write({ "out/x": "1" });
    assert.notEqual(await io.hashPath("out"), null);
    await io.removeOutputs(stage, stage.outs);
    assert.equal(fs.existsSync(tmp.abs("out")), false);
    assert.equal(await io.hashPath("out"), null);
    io.close();
  });

  it("saves cached outputs into the store and .gitignore; metrics stay in git; records the lock", async () => {
    tmp.write({ "pipeline.yaml": PIPE, "params.yaml": "n: 1\n", "in.txt": "x\n" });
    const { io, run } = ioFor("pipeline.yaml", false);
    const r = await run();
    io.close();
    assert.deepEqual(
      r.stages.map((s) => s.status),
      ["ran"],
    );
    const lock = parseLock(fs.readFileSync(tmp.abs("pipeline.lock"), "utf8"), "pipeline.lock");
    const outs = Object.fromEntries(lock.stages.make!.outs.map((o) => [o.path, o]));
    assert.equal(outs.out?.files, 2);
    assert.ok(repo.store.has(outs.out!.hash), "directory manifest stored");
    assert.equal(repo.store.has(outs["m.json"]!.hash), false, "cache: false output not stored");
    const ignore = fs.readFileSync(tmp.abs(".gitignore"), "utf8").split("\n");
    assert.ok(ignore.includes("/out"));
    assert.ok(!ignore.includes("/m.json"));
  });

  it("restores outputs from the run-cache, including cache: false ones", async () => {
    tmp.write({ "pipeline.yaml": PIPE, "params.yaml": "n: 1\n", "in.txt": "x\n" });
    let { io, run } = ioFor();
    await run();
    io.close();
    const before = tmp.read("out");
    tmp.write({ "params.yaml": "n: 2\n" });
    ({ io, run } = ioFor());
    assert.equal((await run()).stages[0]?.status, "ran");
    io.close();
    assert.match(fs.readFileSync(tmp.abs("out/a.txt"), "utf8"), /2/);
    fs.rmSync(tmp.abs("m.json"));
    tmp.write({ "params.yaml": "n: 1\n" });
    ({ io, run } = ioFor());
    assert.equal((await run()).stages[0]?.status, "restored");
    io.close();
    assert.deepEqual(tmp.read("out"), before);
    assert.equal(fs.readFileSync(tmp.abs("m.json"), "utf8"), "acc\n");
    // --force runs the command even though the run-cache knows the result.
    ({ io, run } = ioFor());
    assert.equal((await run({ force: true })).stages[0]?.status, "ran");
    io.close();
  });

  it("runs the stage when a run-cache entry's objects are gone", async () => {
    tmp.write({ "pipeline.yaml": PIPE, "params.yaml": "n: 1\n", "in.txt": "x\n" });
    let { io, run } = ioFor();
    await run();
    io.close();
    const rc = RunCacheStore.forRepo(repo);
    const keys = [...rc.keys()];
    assert.equal(keys.length, 1);
    const entry = rc.get(keys[0]!)!;
    const dir = rc.dir;
    fs.rmSync(dir, { recursive: true });
    rc.put(keys[0]!, { ...entry, outs: entry.outs.map((o) => ({ ...o, hash: "f".repeat(64) })) });
    fs.rmSync(tmp.abs("out"), { recursive: true });
    ({ io, run } = ioFor());
    assert.equal((await run()).stages[0]?.status, "ran");
    io.close();
  });

  it("never restores a run-cache entry that lists other paths than the stage's outputs", async () => {
    tmp.write({ "pipeline.yaml": PIPE, "params.yaml": "n: 1\n", "in.txt": "x\n" });
    let { io, run } = ioFor();
    await run();
    io.close();
    const rc = RunCacheStore.forRepo(repo);
    const key = [...rc.keys()][0]!;
    const entry = rc.get(key)!;
    fs.rmSync(rc.dir, { recursive: true });
    rc.put(key, {
      ...entry,
      outs: entry.outs.map((o) => (o.path === "m.json" ? { ...o, path: ".git/hooks/x" } : o)),
    });
    fs.rmSync(tmp.abs("out"), { recursive: true });
    ({ io, run } = ioFor());
    assert.equal((await run()).stages[0]?.status, "ran");
    io.close();
    assert.equal(fs.existsSync(tmp.abs(".git/hooks/x")), false);
  });

  it("resolves paths relative to a pipeline in a subfolder and refuses paths outside the repo", async () => {
    tmp.write({
      "sub/pipeline.yaml":
        "stages:\n  s:\n    cmd: cat in.txt > out.txt\n    deps: [in.txt]\n    outs: [out.txt]\n",
      "sub/in.txt": "hi\n",
    });
    const { io, run } = ioFor("sub/pipeline.yaml");
    await run();
    assert.equal(fs.readFileSync(tmp.abs("sub/out.txt"), "utf8"), "hi\n");
    assert.ok(fs.existsSync(tmp.abs("sub/pipeline.lock")));
    assert.ok(fs.readFileSync(tmp.abs("sub/.gitignore"), "utf8").includes("/out.txt"));
    await assert.rejects(io.hashPath("../../x"), (e) => isMtrackError(e, "ERR_MTRACK_PATH_OUTSIDE_REPO"));
    io.close();
  });

  it("reports a declared output that the command did not write", async () => {
    tmp.write({ "pipeline.yaml": "stages:\n  s:\n    cmd: 'true'\n    outs: [never.txt]\n" });
    const { io, run } = ioFor();
    await assert.rejects(run(), (e) => isMtrackError(e, "ERR_MTRACK_PATH_NOT_FOUND") && e.data.line === 4);
    io.close();
  });
});

describe("pipelineStatus", () => {
  it("is empty without a pipeline and lists stale stages with reasons", async () => {
    assert.deepEqual(await pipelineStatus(repo), { file: null, stages: [], stale: [] });
    tmp.write({ "pipeline.yaml": PIPE, "params.yaml": "n: 1\n", "in.txt": "x\n" });
    assert.deepEqual(
      (await pipelineStatus(repo)).stale.map((s) => [s.name, s.reasons]),
      [["make", ["never run"]]],
    );
    const { io, run } = ioFor();
    await run();
    io.close();
    assert.deepEqual((await pipelineStatus(repo)).stale, []);
    tmp.write({ "params.yaml": "n: 5\n" });
    const s = await pipelineStatus(repo);
    assert.equal(s.stale.length, 1);
    assert.match(s.stale[0]!.reasons.join(), /param n changed/);
  });
});
