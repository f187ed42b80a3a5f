/**
 * kill -9 of `mtrack push` to a directory remote at random points (issue 19): after every kill the
 * remote holds no corrupt object or broken pack; `push` run again completes, fsck is clean and the
 * remote holds every object of the pointer, sound. The remote is emptied before each push, so each one
 * has all the data to send. Needs a build.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { initRepo } from "../../src/repo.js";
import { runCli } from "../helpers/cli.js";
import { makeTempGitRepo } from "../helpers/git-repo.js";
import { Dataset, killLoop, manifestComplete, pointerHash, storeProblems, withStore } from "./kill-loop.js";

test("kill -9 of push (directory remote): no corrupt remote object, no repair, data matches", async (t) => {
  const repo = makeTempGitRepo();
  try {
    initRepo({ cwd: repo.dir });
    const remote = path.join(repo.home, "remote");
    fs.mkdirSync(remote);
    const setup = await runCli(["remote", "add", "origin", remote, "--default"], {
      cwd: repo.dir,
      env: repo.env,
    });
    assert.equal(setup.code, 0, setup.stderr);
    const data = new Dataset(repo.dir);
    data.next(0);
    const add = await runCli(["add", "data", "--json"], { cwd: repo.dir, env: repo.env });
    assert.equal(add.code, 0, add.stderr);
    const hash = pointerHash(repo.abs("data.mtrack"));
    assert.ok(hash);
    const figures = await killLoop({
      t,
      name: "push",
      args: ["push", "--json"],
      cwd: repo.dir,
      env: repo.env,
      repoDir: repo.dir,
      prepare: () => {
        fs.rmSync(remote, { recursive: true, force: true });
        fs.mkdirSync(remote);
      },
      afterKill: () => storeProblems(remote, "remote"),
      check: () => [
        ...storeProblems(remote, "remote"),
        ...withStore(remote, (s) => manifestComplete(s, hash)),
      ],
    });
    assert.deepEqual(figures.failures, []);
    assert.equal(figures.repairsNeeded, 0);
  } finally {
    repo.cleanup();
  }
});
