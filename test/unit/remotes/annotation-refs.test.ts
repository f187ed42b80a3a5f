import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { LocalRemote } from "../../../src/remotes/local.js";
import { initRepo, Repo } from "../../../src/repo.js";
import { annotateRun } from "../../../src/tracking/annotations.js";
import { startRun } from "../../../src/tracking/api.js";
import { getRun } from "../../../src/tracking/read.js";
import { fetchRuns, pushRuns } from "../../../src/transfer/refs.js";
import { makeTempDir, removeTempDir } from "../../helpers/tmp.js";

function repoIn(dir: string): Repo {
  fs.mkdirSync(path.join(dir, ".git"), { recursive: true });
  initRepo({ cwd: dir });
  return Repo.open({ cwd: dir });
}

const noGit = async () => ({ commit: null, branch: null, dirty: false });

async function endedRun(repo: Repo): Promise<string> {
  const run = await startRun({
    dir: repo.paths.runsDir,
    store: repo.store,
    gitInfo: noGit,
    installProcessHooks: false,
    tags: { wip: "yes" },
  });
  await run.end();
  return run.id;
}

test("annotations travel with push --runs / pull --runs, after their run, and merge both ways", async () => {
  const dir = makeTempDir();
  try {
    const a = repoIn(path.join(dir, "a"));
    const b = repoIn(path.join(dir, "b"));
    const remote = LocalRemote.open({ dir: path.join(dir, "remote"), create: true });
    const id = await endedRun(a);
    const datasets = [
      { dataset: { name: "iris", digest: "d1", sourceType: "code", source: "{}" }, tags: {} },
    ];
    annotateRun(a.paths.runsDir, id, { tags: { reviewed: "a" }, datasets }, { clock: () => 10 });
    // A run that is not sealed yet keeps its annotations until it is (and pushed).
    const open = await startRun({
      dir: a.paths.runsDir,
      store: a.store,
      gitInfo: noGit,
      installProcessHooks: false,
    });
    annotateRun(a.paths.runsDir, open.id, { tags: { x: "1" } });

    const pushed = await pushRuns(a, remote);
    assert.equal(pushed.transferred, 1);
    assert.equal(pushed.annotations, 1);
    const refs = await remote.listRefs("annotations");
    assert.equal(refs.length, 1);
    assert.match(refs[0]!, new RegExp(`^annotations/${id}\\.[0-9a-f]{32}$`));
    assert.equal((await pushRuns(a, remote)).annotations, 0);

    const fetched = await fetchRuns(b, remote);
    assert.equal(fetched.transferred, 1);
    assert.equal(fetched.annotations, 1);
    const seen = getRun(b.paths.runsDir, b.store, id);
    assert.equal(seen.tags.reviewed, "a");
    assert.equal(seen.inputs?.datasets[0]?.dataset.name, "iris");
    assert.equal((await fetchRuns(b, remote)).annotations, 0);

    // B annotates the pulled run later; A pulls that back: both orders give the same tags.
    annotateRun(b.paths.runsDir, id, { tags: { reviewed: "b" }, deleteTags: ["wip"] }, { clock: () => 20 });
    assert.equal((await pushRuns(b, remote)).annotations, 1);
    assert.equal((await fetchRuns(a, remote)).annotations, 1);
    for (const repo of [a, b]) {
      const r = getRun(repo.paths.runsDir, repo.store, id);
      assert.deepEqual([r.tags.reviewed, r.tags.wip], ["b", undefined]);
    }

    // A damaged or mislabelled ref is skipped, never applied.
    await remote.writeRef(`annotations/${id}.${"e".repeat(32)}`, Buffer.from("{not json"));
    await remote.writeRef(
      `annotations/${id}.${"f".repeat(32)}`,
      Buffer.from(JSON.stringify({ id: "0".repeat(32), runId: id, time: 1, tags: { evil: "1" } })),
    );
    assert.equal((await fetchRuns(b, remote)).annotations, 0);
    assert.equal(getRun(b.paths.runsDir, b.store, id).tags.evil, undefined);
    await open.end();
    await remote.close();
  } finally {
    removeTempDir(dir);
  }
});
