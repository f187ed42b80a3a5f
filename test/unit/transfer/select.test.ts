/**
 * selectRoots over git history: lock outputs at old commits travel, except the `cache: false` ones the
 * pipeline file of that commit keeps in git (they are never in the store, so sending them would only
 * fail); pipelines in subfolders count too.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { initRepo, Repo } from "../../../src/repo.js";
import { selectRoots } from "../../../src/transfer/select.js";
import { makeTempGitRepo, type TempGitRepo } from "../../helpers/git-repo.js";

let tmp: TempGitRepo;
let repo: Repo;
beforeEach(() => {
  tmp = makeTempGitRepo();
  initRepo({ cwd: tmp.dir });
  repo = Repo.open({ cwd: tmp.dir });
});
afterEach(() => tmp.cleanup());

const hash = (c: string) => c.repeat(64);
const entry = (p: string, c: string) => `      - path: ${p}\n        hash: ${hash(c)}\n        size: 3\n`;
const lock = (outs: string) => `version: 1\nstages:\n  s:\n    cmd: x\n    outs:\n${outs}`;
const PIPE = `stages:
  s:
    cmd: x
    outs: ["\${out}"]
    metrics:
      - m.json:
          cache: false
`;

describe("selectRoots with history", () => {
  it("leaves out cache: false outputs of old commits, in the root and in subfolders", async () => {
    tmp.write({
      "params.yaml": "out: model.bin\n",
      "pipeline.yaml": PIPE,
      "pipeline.lock": lock(entry("model.bin", "a") + entry("m.json", "b")),
      "sub/params.yaml": "out: weights.bin\n",
      "sub/pipeline.yaml": PIPE,
      "sub/pipeline.lock": lock(entry("weights.bin", "c") + entry("m.json", "d")),
      "m.json": "{}",
      "sub/m.json": "{}",
    });
    tmp.commit("one");
    // The workspace moves on: the old commit's outputs are only in history.
    tmp.write({ "pipeline.lock": "version: 1\n", "sub/pipeline.lock": "version: 1\n" });
    const roots = await selectRoots(repo, { allCommits: true });
    assert.deepEqual(roots.map((r) => r.hash).sort(), [hash("a"), hash("c")]);
  });

  it("a lock without a readable pipeline file sends all its outputs (nothing to tell them apart)", async () => {
    tmp.write({ "pipeline.lock": lock(entry("model.bin", "a") + entry("m.json", "b")) });
    tmp.commit("lock only");
    tmp.write({ "pipeline.lock": "version: 1\n" });
    const roots = await selectRoots(repo, { allCommits: true });
    assert.deepEqual(roots.map((r) => r.hash).sort(), [hash("a"), hash("b")]);
  });
});
