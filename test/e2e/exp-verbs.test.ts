/**
 * `mtrack exp diff / rename / save / clean / push / pull` on a small two-stage pipeline in a temp git repo
 * (test/helpers/exp-repo.ts). Needs a build (`npm run build`).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { errorCode, runCli } from "../helpers/cli.js";
import { type ExpRepo, makeExpRepo } from "../helpers/exp-repo.js";

// biome-ignore lint/suspicious/noExplicitAny: the CLI's JSON output
type Json = any;

function cli(repo: { dir: string; env: NodeJS.ProcessEnv }) {
  return (...args: string[]) =>
    runCli([...args, "--json"], { cwd: repo.dir, env: repo.env, timeoutMs: 120_000 });
}

/** init, repro, commit the baseline, then experiment `one` (lr=0.3) and the sweep `sw-1`, `sw-2` (lr 0.5, 0.7). */
async function withExperiments(repo: ExpRepo): Promise<void> {
  const mtrack = cli(repo);
  assert.equal((await mtrack("init")).code, 0);
  assert.equal((await mtrack("repro")).code, 0);
  repo.commit("base");
  let r = await mtrack("exp", "run", "-S", "lr=0.3", "-n", "one");
  assert.equal(r.code, 0, r.stderr);
  repo.git("checkout", "-q", "--", ".");
  r = await mtrack("exp", "run", "-S", "lr=0.5,0.7", "-n", "sw");
  assert.equal(r.code, 0, r.stderr);
}

test("exp diff: experiment vs baseline, two experiments, workspace, bad names", async () => {
  const repo = makeExpRepo();
  const mtrack = cli(repo);
  try {
    await withExperiments(repo);
    let r = await mtrack("exp", "diff", "one");
    assert.equal(r.code, 0, r.stderr);
    let j = r.json as Json;
    assert.equal(j.b.name, "one");
    assert.equal(j.a.commit, repo.git("rev-parse", "HEAD"));
    assert.deepEqual(
      j.params.map((d: Json) => [d.file, d.key, d.old, d.new]),
      [["params.yaml", "lr", 0.1, 0.3]],
    );
    assert.deepEqual(
      j.metrics.map((d: Json) => [d.key, d.old, d.new, d.change]),
      [["acc", 0.2, 0.6, 0.4]],
    );

    r = await mtrack("exp", "diff", "sw-1", "sw-2");
    j = r.json as Json;
    assert.deepEqual(
      j.params.map((d: Json) => [d.old, d.new]),
      [[0.5, 0.7]],
    );
    assert.equal(j.metrics[0].new, 1.4);

    // An experiment against the workspace (the baseline's values), and a git revision.
    j = (await mtrack("exp", "diff", "sw-2", "workspace")).json as Json;
    assert.equal(j.b.commit, null);
    assert.deepEqual(
      j.params.map((d: Json) => [d.old, d.new]),
      [[0.7, 0.1]],
    );
    j = (await mtrack("exp", "diff", "HEAD", "one", "--all")).json as Json;
    assert.ok(j.params.some((d: Json) => d.key === "data.n" && d.old === 5 && d.new === 5));
    j = (await mtrack("exp", "diff", "HEAD")).json as Json;
    assert.deepEqual(j.params, []);

    const md = await runCli(["exp", "diff", "one", "--md"], { cwd: repo.dir, env: repo.env });
    assert.equal(md.code, 0, md.stderr);
    assert.match(md.stdout, /\| params\.yaml +\| lr/);

    r = await mtrack("exp", "diff", "nope");
    assert.equal(r.code, 2);
    assert.equal(errorCode(r), "ERR_MTRACK_EXP_NOT_FOUND");
  } finally {
    repo.cleanup();
  }
});
