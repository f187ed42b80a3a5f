/**
 * A long-running reader (`mtrack server`, `mtrack ui`) sees runs sealed by another process after it
 * loaded its pack list (issue #17, "also fix"): opening such a run used to answer "missing from the store".
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Repo } from "../../src/repo.js";
import { openTracking } from "../../src/tracking/context.js";
import { getRun, listRuns } from "../../src/tracking/read.js";
import { runCli } from "../helpers/cli.js";
import { makeTempGitRepo } from "../helpers/git-repo.js";

test("runs sealed by another process after a reader started are readable by it", async () => {
  const repo = makeTempGitRepo();
  try {
    repo.write({ "a.txt": "1\n" });
    repo.commit("first");
    assert.equal((await runCli(["init"], { cwd: repo.dir, env: repo.env })).code, 0);
    const first = await runCli(["run", "--", "true"], { cwd: repo.dir, env: repo.env });
    assert.equal(first.code, 0, first.stderr);
    const tracking = openTracking(Repo.open({ cwd: repo.dir }));
    const before = listRuns(tracking.dir, tracking.store);
    assert.equal(before.length, 1);
    getRun(tracking.dir, tracking.store, (before[0] as { runId: string }).runId); // loads the pack list
    const second = await runCli(["run", "--", "true"], { cwd: repo.dir, env: repo.env });
    assert.equal(second.code, 0, second.stderr);
    const after = listRuns(tracking.dir, tracking.store);
    assert.equal(after.length, 2);
    for (const r of after) assert.equal(getRun(tracking.dir, tracking.store, r.runId).runId, r.runId);
  } finally {
    repo.cleanup();
  }
});
