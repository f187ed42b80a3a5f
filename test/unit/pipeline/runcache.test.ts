import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import {
  pipelineLockRoots,
  RUNCACHE_VERSION,
  type RunCacheEntry,
  RunCacheStore,
  runCacheRoots,
  toFileEntries,
  toRunCacheOutputs,
} from "../../../src/pipeline/runcache.js";
import { initRepo, Repo } from "../../../src/repo.js";
import { makeTempGitRepo, type TempGitRepo } from "../../helpers/git-repo.js";

const h = (c: string) => c.repeat(64);
const entry = (hash: string): RunCacheEntry => ({
  version: RUNCACHE_VERSION,
  stage: "train",
  cmd: "python train.py",
  outs: [
    { path: "model.bin", hash, size: 3, type: "file" },
    { path: "out", hash: h("d"), size: 9, files: 2, type: "directory" },
  ],
});

let tmp: TempGitRepo;
let repo: Repo;
beforeEach(() => {
  tmp = makeTempGitRepo();
  initRepo({ cwd: tmp.dir });
  repo = Repo.open({ cwd: tmp.dir });
});
afterEach(() => tmp.cleanup());

describe("RunCacheStore", () => {
  it("puts, gets and lists entries by key; the first entry for a key wins", () => {
    const rc = RunCacheStore.forRepo(repo);
    assert.equal(rc.get(h("1")), undefined);
    rc.put(h("1"), entry(h("a")));
    rc.put(h("1"), entry(h("b")));
    rc.put(h("2"), entry(h("c")));
    assert.deepEqual(rc.get(h("1")), entry(h("a")));
    assert.ok(rc.has(h("2")));
    assert.deepEqual([...rc.keys()].sort(), [h("1"), h("2")]);
    assert.ok(fs.existsSync(path.join(rc.dir, "11", h("1").slice(2))));
    // Not meant for git unless pushed to a remote.
    assert.equal(fs.readFileSync(path.join(rc.dir, ".gitignore"), "utf8"), "*\n");
  });

  it("reads damaged entries and malformed keys as absent, refuses to write a malformed key", () => {
    const rc = RunCacheStore.forRepo(repo);
    rc.put(h("1"), entry(h("a")));
    fs.writeFileSync(path.join(rc.dir, "11", h("1").slice(2)), "{not json");
    assert.equal(rc.get(h("1")), undefined);
    assert.equal(rc.get("../../etc/passwd"), undefined);
    assert.throws(() => rc.put("../x", entry(h("a"))), TypeError);
  });

  it("converts between lock entries and run-cache outputs", () => {
    const outs = entry(h("a")).outs;
    assert.deepEqual(toRunCacheOutputs(toFileEntries(outs)), outs);
  });
});

describe("gc roots", () => {
  it("runCacheRoots keeps every recorded output; directories as trees", async () => {
    RunCacheStore.forRepo(repo).put(h("1"), entry(h("a")));
    const roots = [...(await runCacheRoots(repo).collect())];
    assert.deepEqual(roots, [
      { hash: h("a"), tree: false },
      { hash: h("d"), tree: true },
    ]);
  });

  it("pipelineLockRoots keeps objects named by the workspace lock and by locks in git history", async () => {
    const lock = (out: string) =>
      `version: 1\nstages:\n  s:\n    cmd: x\n    deps:\n      - path: in\n        hash: ${h("e")}\n        size: 1\n    outs:\n      - path: out\n        hash: ${out}\n        size: 1\n        files: 1\n`;
    tmp.write({ "pipeline.lock": lock(h("a")), "sub/pipeline.lock": lock(h("b")) });
    tmp.commit("one");
    tmp.write({ "pipeline.lock": lock(h("c")) });
    tmp.commit("two");
    tmp.write({ "pipeline.lock": lock(h("f")) });
    const hashes = new Set([...(await pipelineLockRoots(repo).collect())].map((r) => `${r.hash}:${r.tree}`));
    for (const c of "abcf") assert.ok(hashes.has(`${h(c)}:true`), c);
    assert.ok(hashes.has(`${h("e")}:false`));
    const workspaceOnly = [...(await pipelineLockRoots(repo, { history: false }).collect())].map(
      (r) => r.hash,
    );
    assert.ok(workspaceOnly.includes(h("f")) && workspaceOnly.includes(h("b")));
    assert.ok(!workspaceOnly.includes(h("a")) && !workspaceOnly.includes(h("c")));
  });
});
