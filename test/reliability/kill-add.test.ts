/**
 * kill -9 of `mtrack add` at random points (issue 19): after every kill the store holds no corrupt
 * object, any pointer names only complete data, and `add` run again completes, fsck is clean and the
 * stored manifest is the workspace's content. Needs a build.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { test } from "node:test";
import { initRepo } from "../../src/repo.js";
import { makeTempGitRepo } from "../helpers/git-repo.js";
import { Dataset, killLoop, pointerChecks } from "./kill-loop.js";

test("kill -9 of add: no corrupt object, no repair, data matches", async (t) => {
  const repo = makeTempGitRepo();
  try {
    initRepo({ cwd: repo.dir });
    const cache = path.join(repo.dir, ".mtrack", "cache");
    const pointer = repo.abs("data.mtrack");
    const data = new Dataset(repo.dir);
    const figures = await killLoop({
      t,
      name: "add",
      args: ["add", "data", "--json"],
      cwd: repo.dir,
      env: repo.env,
      repoDir: repo.dir,
      prepare: (i) => data.next(i),
      ...pointerChecks(cache, pointer, data, "add"),
    });
    assert.deepEqual(figures.failures, []);
    assert.equal(figures.repairsNeeded, 0);
    assert.ok(figures.kills >= Math.min(30, figures.attempts) * 0.5, "most attempts were kills");
  } finally {
    repo.cleanup();
  }
});
