/** `exp push` sends the runs of the experiments pushed, not every run of the clone. */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { expRunIds } from "../../../src/experiments/remote.js";
import { LocalRemote } from "../../../src/remotes/local.js";
import { initRepo, Repo } from "../../../src/repo.js";
import { startRun } from "../../../src/tracking/api.js";
import { push } from "../../../src/transfer/sync.js";
import { makeTempDir, removeTempDir } from "../../helpers/tmp.js";

const noGit = async () => ({ commit: null, branch: null, dirty: false });

test("expRunIds and push({ runs, runIds }): only the runs tagged with the experiments pushed travel", async () => {
  const dir = makeTempDir();
  try {
    const root = path.join(dir, "a");
    fs.mkdirSync(path.join(root, ".git"), { recursive: true });
    initRepo({ cwd: root });
    const repo = Repo.open({ cwd: root });
    const run = async (tags: Record<string, string>) => {
      const r = await startRun({
        dir: repo.paths.runsDir,
        store: repo.store,
        gitInfo: noGit,
        installProcessHooks: false,
        tags,
      });
      await r.logMetric("loss", 1);
      await r.end();
      return r.id;
    };
    const one = await run({ "mtrack.exp": "one" });
    const two = await run({ "mtrack.exp": "two" });
    await run({});
    const ids = expRunIds(repo, new Set(["one"]));
    assert.deepEqual([...ids], [one]);
    assert.deepEqual([...expRunIds(repo, new Set(["one", "two"]))].sort(), [one, two].sort());

    const remote = LocalRemote.open({ dir: path.join(dir, "remote"), create: true });
    const r = await push(repo, { open: remote, runs: true, runIds: ids, commits: [], workspace: false });
    assert.equal(r.runs?.transferred, 1);
    assert.deepEqual(await remote.listRefs("runs"), [`runs/${one}`]);
  } finally {
    removeTempDir(dir);
  }
});
