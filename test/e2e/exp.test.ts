/**
 * `mtrack exp` on a small non-demo two-stage node pipeline in a temp git repo (test/helpers/exp-repo.ts):
 * a single experiment in the workspace, a -j 2 sweep where the data stage runs once, exp show/list/branch/remove, bad input.
 * Needs a build (`npm run build`).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { errorCode, runCli } from "../helpers/cli.js";
import { makeExpRepo } from "../helpers/exp-repo.js";

// biome-ignore lint/suspicious/noExplicitAny: the CLI's JSON output
type Json = any;

test("exp run / show / branch / remove on a two-stage pipeline", async () => {
  const repo = makeExpRepo();
  const { dir, env, count } = repo;
  const mtrack = (...args: string[]) => runCli([...args, "--json"], { cwd: dir, env, timeoutMs: 120_000 });
  const gitOut = (...args: string[]) => execFileSync("git", args, { cwd: dir, env }).toString();
  try {
    assert.equal((await mtrack("init")).code, 0);
    assert.equal((await mtrack("repro")).code, 0);
    repo.commit("base");
    fs.writeFileSync(count, "");

    // Bad input first: nothing changes.
    let r = await mtrack("exp", "run", "-S", "lx=1");
    assert.equal(r.code, 2);
    assert.equal(errorCode(r), "ERR_MTRACK_EXP_PARAM_UNKNOWN");
    assert.equal(errorCode(await mtrack("exp", "run", "-S", "lr=range(1,")), "ERR_MTRACK_EXP_SET_INVALID");
    assert.equal(gitOut("status", "--porcelain"), "");

    // A single experiment runs in the workspace and leaves results there.
    r = await mtrack("exp", "run", "-S", "lr=0.3", "-n", "one");
    assert.equal(r.code, 0, r.stderr);
    assert.match(fs.readFileSync(path.join(dir, "params.yaml"), "utf8"), /lr: 0.3/);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, "metrics.json"), "utf8")), { acc: 0.6 });
    assert.equal(errorCode(await mtrack("exp", "run", "-S", "lr=0.4", "-n", "one")), "ERR_MTRACK_EXP_EXISTS");
    gitOut("checkout", "-q", "--", ".");

    // A sweep with -j 2: the data stage (new data.n) runs once; the workspace is untouched.
    r = await mtrack("exp", "run", "-S", "lr=0.5,0.7,-1", "-S", "data.n=6", "-j", "2");
    assert.equal(r.code, 1, r.stderr); // the lr=-1 trial fails
    const trials = (r.json as Json).experiments;
    assert.deepEqual(
      trials.map((t: Json) => t.exitCode !== 0),
      [false, false, true],
    );
    assert.equal(fs.readFileSync(count, "utf8"), "x", "the data stage ran once");
    assert.equal(gitOut("status", "--porcelain"), "");
    assert.equal(gitOut("worktree", "list").trim().split("\n").length, 1, "no worktree left");

    r = await mtrack("exp", "show", "--sort-by", "acc", "--sort-order", "desc");
    assert.equal(r.code, 0, r.stderr);
    const rows = (r.json as Json).rows as Json[];
    const exps = rows.filter((x) => x.kind === "experiment");
    assert.equal(exps.length, 4);
    assert.equal(exps[0].metrics["metrics.json:acc"], 1.4);
    assert.equal(exps[0].params["params.yaml:data.n"], 6);
    assert.equal(exps.find((x) => x.state === "failed")?.params["params.yaml:lr"], -1);

    // apply: refused over uncommitted changes (nothing written), then applied.
    const best = exps[0].name as string;
    fs.appendFileSync(path.join(dir, "train.js"), "// edit\n");
    assert.equal(errorCode(await mtrack("exp", "apply", best)), "ERR_MTRACK_EXP_DIRTY_WORKSPACE");
    assert.match(fs.readFileSync(path.join(dir, "params.yaml"), "utf8"), /lr: 0.1/);
    gitOut("checkout", "-q", "--", ".");
    r = await mtrack("exp", "apply", best);
    assert.equal(r.code, 0, r.stderr);
    assert.match(fs.readFileSync(path.join(dir, "params.yaml"), "utf8"), /lr: 0.7/);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, "metrics.json"), "utf8")), { acc: 1.4 });
    assert.equal((await mtrack("status")).code, 0);
    gitOut("checkout", "-q", "--", ".");

    assert.equal((await mtrack("exp", "branch", "one", "try-one")).code, 0);
    assert.match(gitOut("show", "try-one:params.yaml"), /lr: 0.3/);
    assert.equal(errorCode(await mtrack("exp", "remove", "one", "nope")), "ERR_MTRACK_EXP_NOT_FOUND");
    assert.equal((await mtrack("exp", "list")).code, 0);
    assert.equal((await mtrack("exp", "remove", "one")).code, 0);
    assert.equal(((await mtrack("exp", "list")).json as Json).experiments.length, 3);
  } finally {
    repo.cleanup();
  }
});

test("a sweep over an up-to-date baseline starts its trials at once; the baseline's data is restored in each", async () => {
  const repo = makeExpRepo();
  const { dir, env, count } = repo;
  const mtrack = (...args: string[]) => runCli([...args, "--json"], { cwd: dir, env, timeoutMs: 120_000 });
  // Each trial's train waits (up to 20 s) until both trials have started it: a sweep that ran its first
  // trial alone would fail that trial.
  const barrier = path.join(repo.home, "barrier");
  fs.mkdirSync(barrier);
  repo.write({
    "train.js":
      'const fs=require("fs"),path=require("path");const lr=Number(/lr: (.*)/.exec(fs.readFileSync("params.yaml","utf8"))[1]);' +
      `const b=${JSON.stringify(barrier)};fs.writeFileSync(path.join(b,String(lr)),"");` +
      'if(lr===0.1){fs.writeFileSync("metrics.json",JSON.stringify({acc:0.2}));process.exit(0)}' +
      "const t0=Date.now();const wait=()=>{if(fs.readdirSync(b).filter(f=>f!=='0.1').length>=2){" +
      'fs.writeFileSync("metrics.json",JSON.stringify({acc:lr*2}));process.exit(0)}' +
      "if(Date.now()-t0>20000)process.exit(4);setTimeout(wait,50)};wait();\n",
  });
  try {
    assert.equal((await mtrack("init")).code, 0);
    assert.equal((await mtrack("repro")).code, 0);
    repo.commit("base");
    fs.writeFileSync(count, "");
    const r = await mtrack("exp", "run", "-S", "lr=0.3,0.4", "-j", "2");
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      (r.json as Json).experiments.map((t: Json) => t.exitCode),
      [0, 0],
    );
    assert.equal(fs.readFileSync(count, "utf8"), "", "the data stage was restored, not run");
  } finally {
    repo.cleanup();
  }
});
