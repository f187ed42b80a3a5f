/**
 * `mtrack models register` from a run's artifact prefix (`runs:/<run>/bundle` over the artifacts
 * `bundle/a.txt` and `bundle/b.txt`): the manifest collected for it is durable before the version names
 * it, so another process (`models show`, `models get`, the UI) reads the version's files. Needs a build.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { Repo } from "../../src/repo.js";
import { startRun } from "../../src/tracking/context.js";
import { runCli } from "../helpers/cli.js";
import { makeTempGitRepo } from "../helpers/git-repo.js";

test("a version registered from a run's artifact prefix has its files in the store for the next process", async () => {
  const repo = makeTempGitRepo();
  try {
    repo.write({ "b/a.txt": "a\n", "b/b.txt": "bb\n" });
    const init = await runCli(["init"], { cwd: repo.dir, env: repo.env });
    assert.equal(init.code, 0, init.stderr);
    repo.commit("init");
    const run = await startRun({ repo: Repo.open({ cwd: repo.dir }), installProcessHooks: false, env: {} });
    await run.logArtifact(repo.abs("b/a.txt"), { as: "bundle/a.txt" });
    await run.logArtifact(repo.abs("b/b.txt"), { as: "bundle/b.txt" });
    await run.end();
    const cli = (...args: string[]) => runCli(args, { cwd: repo.dir, env: repo.env });
    const reg = await cli("models", "register", "bund", `runs:/${run.id}/bundle`, "--json");
    assert.equal(reg.code, 0, reg.stderr);
    const show = await cli("models", "show", "bund/1", "--json");
    assert.equal(show.code, 0, show.stderr);
    assert.deepEqual((show.json as { files: { name: string }[] }).files.map((f) => f.name).sort(), [
      "a.txt",
      "b.txt",
    ]);
    const out = path.join(repo.home, "out");
    assert.equal((await cli("models", "get", "models:/bund/1", "-o", out)).code, 0);
    assert.equal(fs.readFileSync(path.join(out, "b.txt"), "utf8"), "bb\n");
  } finally {
    repo.cleanup();
  }
});
