/**
 * `mtrack exp diff / rename / save / clean / push / pull` on a small two-stage pipeline in a temp git repo
 * (test/helpers/exp-repo.ts). Needs a build (`npm run build`).
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { errorCode, runCli, startCli, waitCli } from "../helpers/cli.js";
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

test("exp rename / save / clean", async () => {
  const repo = makeExpRepo();
  const mtrack = cli(repo);
  try {
    await withExperiments(repo);
    const head = repo.git("rev-parse", "HEAD");

    // rename: the commit moves to the new name; taken, unknown and invalid names change nothing.
    const commit = repo.git("rev-parse", `refs/exps/${head.slice(0, 2)}/${head.slice(2)}/one`);
    let r = await mtrack("exp", "rename", "one", "uno");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(repo.git("rev-parse", `refs/exps/${head.slice(0, 2)}/${head.slice(2)}/uno`), commit);
    r = await mtrack("exp", "rename", "uno", "sw-1");
    assert.equal(r.code, 2);
    assert.equal(errorCode(r), "ERR_MTRACK_EXP_EXISTS");
    assert.equal(errorCode(await mtrack("exp", "rename", "one", "x")), "ERR_MTRACK_EXP_NOT_FOUND");
    assert.equal(errorCode(await mtrack("exp", "rename", "uno", "a/b")), "ERR_MTRACK_INVALID_NAME");
    let names = ((await mtrack("exp", "list")).json as Json).experiments.map((e: Json) => e.name).sort();
    assert.deepEqual(names, ["sw-1", "sw-2", "uno"]);

    // save: the workspace as it is (hand-edited params, a repro) becomes an experiment of HEAD;
    // the index and branch are untouched.
    repo.git("checkout", "-q", "--", ".");
    repo.write({ "params.yaml": "lr: 0.9\ndata:\n  n: 5\n" });
    assert.equal((await mtrack("repro")).code, 0);
    r = await mtrack("exp", "save", "-n", "hand", "-m", "by hand");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(repo.git("rev-parse", "HEAD"), head);
    assert.equal(repo.git("diff", "--cached", "--name-only"), "");
    assert.match(repo.git("status", "--porcelain"), /params\.yaml/);
    const rows = ((await mtrack("exp", "show")).json as Json).rows as Json[];
    const hand = rows.find((x) => x.name === "hand");
    assert.equal(hand.state, "success");
    assert.equal(hand.params["params.yaml:lr"], 0.9);
    assert.equal(hand.metrics["metrics.json:acc"], 1.8);
    assert.equal(errorCode(await mtrack("exp", "save", "-n", "hand")), "ERR_MTRACK_EXP_EXISTS");
    r = await mtrack("exp", "save");
    assert.equal(r.code, 0, r.stderr);
    assert.match((r.json as Json).name, /^[a-z]+-[a-z]+$/);

    // clean: leftovers of a killed sweep go (registered worktree or bare directory); a live one stays.
    const dead = deadPid();
    repo.git("worktree", "add", "--detach", "--quiet", `.mtrack/exps/ghost-${dead}`, head);
    repo.write({ [`.mtrack/exps/stray-${dead}/x`]: "1" });
    repo.git("worktree", "add", "--detach", "--quiet", `.mtrack/exps/live-${process.pid}`, head);
    r = await mtrack("exp", "clean");
    assert.equal(r.code, 0, r.stderr);
    const j = r.json as Json;
    assert.deepEqual(j.removed, [`.mtrack/exps/ghost-${dead}`, `.mtrack/exps/stray-${dead}`]);
    assert.deepEqual(j.running, [`.mtrack/exps/live-${process.pid}`]);
    assert.equal(repo.git("worktree", "list").split("\n").length, 2);
    repo.git("worktree", "remove", "--force", `.mtrack/exps/live-${process.pid}`);
    assert.equal(((await mtrack("exp", "clean")).json as Json).removed.length, 0);
    names = ((await mtrack("exp", "list")).json as Json).experiments.map((e: Json) => e.name);
    assert.equal(names.length, 5, "clean removes no experiment");
    assert.equal((await mtrack("status")).code, 0, "the shared store is intact");
  } finally {
    repo.cleanup();
  }
});

/** The id of a process that has exited. */
function deadPid(): number {
  const pid = spawnSync(process.execPath, ["-e", ""]).pid;
  assert.ok(pid);
  return pid;
}

test("exp push / pull through a bare git remote and a directory mtrack remote, to a second clone", async () => {
  const repo = makeExpRepo();
  const mtrack = cli(repo);
  try {
    const bare = path.join(repo.home, "origin.git");
    const store = path.join(repo.home, "store");
    execFileSync("git", ["init", "-q", "--bare", "-b", "main", bare], { env: repo.env });
    fs.mkdirSync(store);
    assert.equal((await mtrack("init")).code, 0);
    assert.equal((await mtrack("remote", "add", "storage", store, "--default")).code, 0);
    assert.equal((await mtrack("repro")).code, 0);
    const head = repo.commit("base");
    repo.git("remote", "add", "origin", bare);
    repo.git("push", "-q", "origin", "main");
    // `big` has data of its own (data.txt from data.n=9), which only the mtrack remote will carry.
    let r = await mtrack("exp", "run", "-S", "data.n=9", "-S", "lr=0.4", "-n", "big");
    assert.equal(r.code, 0, r.stderr);
    repo.git("checkout", "-q", "--", ".");
    assert.equal((await mtrack("checkout", "--force")).code, 0);
    assert.equal((await mtrack("exp", "run", "-S", "lr=0.3", "-n", "small")).code, 0);
    repo.git("checkout", "-q", "--", ".");

    // Bad input: nothing reaches either remote.
    r = await mtrack("exp", "push", "nowhere", "big");
    assert.equal(r.code, 2);
    assert.equal(errorCode(r), "ERR_MTRACK_EXP_GIT_REMOTE_INVALID");
    assert.equal(errorCode(await mtrack("exp", "push", "origin", "big", "nope")), "ERR_MTRACK_EXP_NOT_FOUND");
    assert.equal(execFileSync("git", ["ls-remote", bare, "refs/exps/*"], { env: repo.env }).toString(), "");
    assert.deepEqual(fs.readdirSync(store), []);

    r = await mtrack("exp", "push", "origin", "big", "small");
    assert.equal(r.code, 0, r.stderr);
    let j = r.json as Json;
    assert.deepEqual(j.experiments.map((e: Json) => e.name).sort(), ["big", "small"]);
    assert.ok(j.data.objects.objects > 0);
    assert.equal(
      execFileSync("git", ["ls-remote", bare, "refs/exps/*"], { env: repo.env }).toString().trim().split("\n")
        .length,
      2,
    );

    // A second clone: pull one experiment and apply it; its data comes from the mtrack remote.
    const clone = path.join(repo.home, "clone");
    execFileSync("git", ["clone", "-q", bare, clone], { env: repo.env });
    const other = cli({ dir: clone, env: repo.env });
    assert.equal(((await other("exp", "list")).json as Json).experiments.length, 0);
    assert.equal(errorCode(await other("exp", "pull", "origin", "nope")), "ERR_MTRACK_EXP_NOT_FOUND");
    assert.equal(
      errorCode(await other("exp", "pull", "/no/such/repo", "big")),
      "ERR_MTRACK_EXP_GIT_REMOTE_INVALID",
    );
    r = await other("exp", "pull", "origin", "big");
    assert.equal(r.code, 0, r.stderr);
    j = r.json as Json;
    assert.deepEqual(
      j.experiments.map((e: Json) => e.name),
      ["big"],
    );
    assert.ok(j.data.objects.objects > 0);
    const list = ((await other("exp", "list")).json as Json).experiments;
    assert.deepEqual(
      list.map((e: Json) => e.name),
      ["big"],
    );
    const before = fs.readFileSync(repo.count, "utf8");
    r = await other("exp", "apply", "big");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fs.readFileSync(path.join(clone, "data.txt"), "utf8"), "data 9\n");
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(clone, "metrics.json"), "utf8")), { acc: 0.8 });
    assert.equal(fs.readFileSync(repo.count, "utf8"), before, "no stage ran in the clone");
    // Pulling again is a no-op; -A brings the rest.
    assert.equal((await other("exp", "pull", "origin", "big")).code, 0);
    r = await other("exp", "pull", "origin", "-A", "--no-data");
    assert.equal(r.code, 0, r.stderr);
    assert.equal((r.json as Json).data, null);
    assert.equal(((await other("exp", "list")).json as Json).experiments.length, 2);

    // Another `small` in the first clone: the git remote's one is not overwritten without --force.
    assert.equal((await mtrack("exp", "remove", "small")).code, 0);
    assert.equal((await mtrack("exp", "save", "-n", "small")).code, 0);
    r = await mtrack("exp", "push", "origin", "small", "--no-data");
    assert.equal(r.code, 2);
    assert.equal(errorCode(r), "ERR_MTRACK_EXP_EXISTS");
    assert.equal((await mtrack("exp", "push", "origin", "small", "--force")).code, 0);
    assert.equal(errorCode(await other("exp", "pull", "origin", "small")), "ERR_MTRACK_EXP_EXISTS");
    assert.equal((await other("exp", "pull", "origin", "small", "-f")).code, 0);
    const small = `refs/exps/${head.slice(0, 2)}/${head.slice(2)}/small`;
    assert.equal(
      execFileSync("git", ["rev-parse", small], { cwd: clone, env: repo.env }).toString().trim(),
      repo.git("rev-parse", small),
    );
  } finally {
    repo.cleanup();
  }
});

/** Polls `fn` every 200 ms until it returns a value (not undefined), for up to 60 s. */
async function until<T>(what: string, fn: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test("exp run --queue, queue start / status / logs / kill / remove, a dead worker's trial fails", async () => {
  const repo = makeExpRepo();
  const mtrack = cli(repo);
  const status = async () => (await mtrack("queue", "status")).json as Json;
  const entry = async (name: string) => (await status()).entries.find((e: Json) => e.name === name);
  try {
    assert.equal((await mtrack("init")).code, 0);
    assert.equal((await mtrack("repro")).code, 0);
    const head = repo.commit("base");
    const ran = fs.readFileSync(repo.count, "utf8");

    // Queueing runs nothing and changes nothing; exp show lists the trials as queued.
    let r = await mtrack("exp", "run", "--queue", "-S", "lr=0.5,0.7", "-n", "q");
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      (r.json as Json).queued.map((e: Json) => e.name),
      ["q-1", "q-2"],
    );
    assert.equal(repo.git("status", "--porcelain"), "");
    assert.equal(repo.git("for-each-ref", "refs/exps"), "");
    let rows = ((await mtrack("exp", "show")).json as Json).rows as Json[];
    assert.deepEqual(
      rows.filter((x) => x.kind === "experiment").map((x) => [x.name, x.state, x.params["params.yaml:lr"]]),
      [
        ["q-1", "queued", 0.5],
        ["q-2", "queued", 0.7],
      ],
    );
    assert.equal(
      errorCode(await mtrack("exp", "run", "--queue", "-S", "lr=1", "-n", "q-1")),
      "ERR_MTRACK_EXP_EXISTS",
    );
    assert.equal(
      errorCode(await mtrack("exp", "run", "--queue", "-S", "nope=1")),
      "ERR_MTRACK_EXP_PARAM_UNKNOWN",
    );
    assert.equal((await mtrack("queue", "remove", "q-2")).code, 0);
    assert.equal(errorCode(await mtrack("queue", "remove", "q-2")), "ERR_MTRACK_EXP_NOT_FOUND");

    // In the foreground: q-1 runs in a worktree and becomes an experiment.
    r = await mtrack("queue", "start", "--wait");
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await entry("q-1")).state, "success");
    rows = ((await mtrack("exp", "show")).json as Json).rows as Json[];
    const q1 = rows.find((x) => x.name === "q-1");
    assert.equal(q1.state, "success");
    assert.equal(q1.metrics["metrics.json:acc"], 1);
    assert.ok(q1.commit);
    assert.equal(rows.filter((x) => x.name === "q-1").length, 1);
    assert.equal(fs.readFileSync(repo.count, "utf8"), ran, "the data stage was not run again");
    const logs = await runCli(["queue", "logs", "q-1"], { cwd: repo.dir, env: repo.env });
    assert.match(logs.stdout, /train/);
    assert.equal(repo.git("status", "--porcelain"), "", "the workspace is untouched");

    // In the background: a hanging trial is killed, the next one still runs; a second start is refused.
    assert.equal((await mtrack("exp", "run", "--queue", "-S", "lr=100", "-n", "hang")).code, 0);
    assert.equal((await mtrack("exp", "run", "--queue", "-S", "lr=0.2", "-n", "after")).code, 0);
    // Two starts at once: one worker.
    const starts = await Promise.all([mtrack("queue", "start"), mtrack("queue", "start")]);
    assert.deepEqual(starts.map((x) => x.code).sort(), [0, 2], starts.map((x) => x.stderr).join("\n"));
    assert.equal(errorCode(starts.find((x) => x.code === 2) as Json), "ERR_MTRACK_EXP_QUEUE_BUSY");
    assert.ok(((starts.find((x) => x.code === 0) as Json).json as Json).pid);
    await until("hang to run", async () => ((await entry("hang"))?.pid ? true : undefined));
    r = await mtrack("queue", "start");
    assert.equal(r.code, 2);
    assert.equal(errorCode(r), "ERR_MTRACK_EXP_QUEUE_BUSY");
    assert.equal(errorCode(await mtrack("queue", "kill", "after")), "ERR_MTRACK_EXP_NOT_RUNNING");
    assert.equal(errorCode(await mtrack("queue", "remove", "hang")), "ERR_MTRACK_EXP_RUNNING");
    assert.equal((await mtrack("queue", "kill", "hang")).code, 0);
    await until("the worker to finish", async () => ((await status()).worker === null ? true : undefined));
    assert.equal((await entry("hang")).state, "failed");
    assert.equal((await entry("after")).state, "success");
    rows = ((await mtrack("exp", "show")).json as Json).rows as Json[];
    assert.equal(rows.find((x) => x.name === "hang").state, "failed");

    // SIGTERM to the worker: its running trial is stopped and committed as failed, the next one waits.
    assert.equal((await mtrack("exp", "run", "--queue", "-S", "lr=102", "-n", "stopped")).code, 0);
    assert.equal((await mtrack("exp", "run", "--queue", "-S", "lr=0.4", "-n", "waiting")).code, 0);
    assert.equal((await mtrack("queue", "start")).code, 0);
    const s = await until("stopped to run", async () => {
      const x = await entry("stopped");
      return x?.pid ? x : undefined;
    });
    process.kill(s.worker, "SIGTERM");
    await until("the worker to stop", async () => ((await status()).worker === null ? true : undefined));
    assert.equal((await entry("stopped")).state, "failed");
    assert.ok((await entry("stopped")).commit);
    assert.equal((await entry("waiting")).state, "queued");
    assert.deepEqual(((await mtrack("queue", "remove", "waiting")).json as Json).removed, ["waiting"]);

    // A worker killed with -9: its trial shows failed at once, and is marked failed by the next start.
    assert.equal((await mtrack("exp", "run", "--queue", "-S", "lr=101", "-n", "orphan")).code, 0);
    assert.equal((await mtrack("queue", "start")).code, 0);
    const e = await until("orphan to run", async () => {
      const x = await entry("orphan");
      return x?.pid ? x : undefined;
    });
    process.kill(e.worker, "SIGKILL");
    process.kill(-e.pid, "SIGKILL");
    await until("the worker to die", async () => ((await status()).worker === null ? true : undefined));
    assert.equal((await entry("orphan")).state, "failed");
    rows = ((await mtrack("exp", "show")).json as Json).rows as Json[];
    assert.equal(rows.find((x) => x.name === "orphan").state, "failed");
    r = await mtrack("queue", "start");
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      (r.json as Json).failed.map((x: Json) => x.name),
      ["orphan"],
    );
    assert.equal((r.json as Json).pid, null, "nothing left to run");
    assert.equal(repo.git("worktree", "list").split("\n").length, 1, "its worktree is gone");

    // exp remove --queue drops waiting trials; queue remove --all the rest of the entries, not experiments.
    assert.equal((await mtrack("exp", "run", "--queue", "-S", "lr=0.3", "-n", "later")).code, 0);
    assert.deepEqual(((await mtrack("exp", "remove", "--queue")).json as Json).removed, ["later"]);
    r = await mtrack("queue", "remove", "--all");
    assert.deepEqual(((r.json as Json).removed as string[]).sort(), [
      "after",
      "hang",
      "orphan",
      "q-1",
      "stopped",
    ]);
    assert.deepEqual((await status()).entries, []);
    const names = ((await mtrack("exp", "list")).json as Json).experiments.map((x: Json) => x.name).sort();
    assert.deepEqual(names, ["after", "hang", "q-1", "stopped"]);
    assert.equal(repo.git("rev-parse", "HEAD"), head);
  } finally {
    repo.cleanup();
  }
});

test("queue logs -f waits for a queued trial and follows it to its end; exit 1 for a failed one", async () => {
  const repo = makeExpRepo();
  const mtrack = cli(repo);
  const opts = { cwd: repo.dir, env: repo.env };
  try {
    assert.equal((await mtrack("init")).code, 0);
    assert.equal((await mtrack("repro")).code, 0);
    repo.commit("base");
    assert.equal((await mtrack("exp", "run", "--queue", "-S", "lr=0.2", "-n", "ok")).code, 0);
    assert.equal((await mtrack("exp", "run", "--queue", "-S", "lr=-1", "-n", "bad")).code, 0);
    // Without -f: what there is so far (nothing), at once.
    let r = await mtrack("queue", "logs", "ok");
    assert.equal(r.code, 0, r.stderr);
    assert.equal((r.json as Json).log, "");
    assert.equal(errorCode(await mtrack("queue", "logs", "nope", "-f")), "ERR_MTRACK_EXP_NOT_FOUND");

    const follow = startCli(["queue", "logs", "ok", "-f"], opts);
    const followBad = startCli(["queue", "logs", "bad", "--follow", "--json"], opts);
    await new Promise((res) => setTimeout(res, 1500));
    assert.equal(follow.exitCode, null, "still waiting for the trial to run");
    r = await mtrack("queue", "start", "--wait");
    assert.equal(r.code, 1, r.stderr); // bad fails
    const ok = await waitCli(follow);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /Running stage 'train'/);
    assert.equal(ok.stdout, fs.readFileSync(path.join(repo.dir, ".mtrack/queue/ok.log"), "utf8"));
    const bad = await waitCli(followBad);
    assert.equal(bad.code, 1, bad.stderr);
    assert.equal((bad.json as Json).state, "failed");
    assert.equal((bad.json as Json).exitCode, 3);
    // A finished trial: its whole log, then the command ends.
    r = await mtrack("queue", "logs", "ok", "-f");
    assert.equal(r.code, 0, r.stderr);
    assert.equal((r.json as Json).log, ok.stdout);
  } finally {
    repo.cleanup();
  }
});
