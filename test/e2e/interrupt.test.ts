/**
 * Ctrl-C (SIGINT) and SIGTERM during a large `add`, `commit`, `pull` and `checkout` (issue 19): the
 * command says "interrupted" on one stderr line, exits 130 (143 for SIGTERM), leaves none of its temp
 * files in .mtrack/tmp, releases the lock, and the store stays sound: `fsck` is clean and the same command
 * run again completes. Also `gc`: temp files of dead processes go at once, a live writer's stay.
 * The signal is sent once the command has started writing (its temp files or checkout marker appear in
 * .mtrack/tmp). Needs a build.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { initRepo } from "../../src/repo.js";
import { tmpNamePid } from "../../src/util/fs.js";
import { type CliResult, runCli, startCli, waitCli } from "../helpers/cli.js";
import { makeTempGitRepo, type TempGitRepo } from "../helpers/git-repo.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Large enough that a command is still writing when the signal lands (a few hundred ms of work). */
function writeData(repo: TempGitRepo, version: number, files = 24, size = 8 << 20): void {
  const dir = repo.abs("data");
  fs.mkdirSync(dir, { recursive: true });
  for (let i = 0; i < files; i++) {
    const b = randomBytes(size);
    b.writeUInt32LE(version, 0);
    fs.writeFileSync(path.join(dir, `big${i}.bin`), b);
  }
}

/** Temp files of process `pid` in `<repo>/.mtrack/tmp` (names made by tmpName). */
function tmpFilesOf(repoDir: string, pid: number | undefined): string[] {
  try {
    return fs.readdirSync(path.join(repoDir, ".mtrack", "tmp")).filter((n) => tmpNamePid(n) === pid);
  } catch {
    return [];
  }
}

function checkoutMarkerOf(repoDir: string, pid: number | undefined): boolean {
  try {
    return fs.readdirSync(path.join(repoDir, ".mtrack", "tmp")).some((n) => n.endsWith(`-${pid}.json`));
  } catch {
    return false;
  }
}

interface Interrupted {
  result: CliResult;
  pid: number;
  attempts: number;
}

/**
 * Starts `mtrack <args>` and sends `signal` as soon as `started(pid)` (it is writing); when it finishes
 * first (the machine was fast), `prepare` gives it new work and it tries again, up to 6 times.
 */
async function interrupt(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  signal: NodeJS.Signals,
  started: (pid: number) => boolean,
  prepare: (attempt: number) => void | Promise<void>,
): Promise<Interrupted> {
  for (let attempt = 1; attempt <= 6; attempt++) {
    await prepare(attempt);
    const child = startCli(args, { cwd, env, detached: true });
    const result = waitCli(child, 120_000);
    let exited = false;
    void result.then(() => {
      exited = true;
    });
    const pid = child.pid ?? -1;
    while (!exited && !started(pid)) await sleep(2);
    if (exited) continue;
    child.kill(signal);
    const r = await result;
    if (r.code === 0) continue; // finished before the signal was handled
    return { result: r, pid, attempts: attempt };
  }
  throw new Error(`mtrack ${args.join(" ")} always finished before it could be interrupted`);
}

async function ok(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<CliResult> {
  const r = await runCli(args, { cwd, env, timeoutMs: 120_000 });
  assert.equal(r.code, 0, `mtrack ${args.join(" ")}: ${r.stdout}${r.stderr}`);
  return r;
}

/** What every interrupted command must leave: the message, the exit code, no temp files, no lock, a clean fsck. */
async function assertCleanInterrupt(
  it: Interrupted,
  repoDir: string,
  env: NodeJS.ProcessEnv,
  code: number,
  command: string,
  missingAllowed = false,
): Promise<void> {
  const { result, pid } = it;
  assert.equal(result.code, code, `exit code: ${result.stdout}${result.stderr}`);
  const lines = result.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line on stderr: ${result.stderr}`);
  assert.match(
    lines[0]!,
    /^interrupted \(SIG(INT|TERM)\): `mtrack .*` did not finish; run it again to resume/,
  );
  assert.ok(lines[0]!.includes(`mtrack ${command}`), lines[0]);
  assert.doesNotMatch(result.stderr, /^\s+at /m, "no stack trace");
  assert.deepEqual(tmpFilesOf(repoDir, pid), [], "none of its temp files left in .mtrack/tmp");
  assert.equal(fs.existsSync(path.join(repoDir, ".mtrack", "lock")), false, "lock released");
  const fsck = await runCli(["fsck", "--json"], { cwd: repoDir, env, timeoutMs: 120_000 });
  if (missingAllowed) {
    // A pull that did not finish has not fetched everything yet: objects may be missing, none damaged.
    const j = fsck.json as Record<string, unknown[]>;
    for (const k of ["corrupt", "damagedPacks", "damaged", "invalidPointers"])
      assert.deepEqual(j[k], [], `fsck ${k} after the interrupt: ${fsck.stdout}`);
  } else assert.equal(fsck.code, 0, `fsck after the interrupt: ${fsck.stdout}${fsck.stderr}`);
}

test("Ctrl-C during a large add: interrupted, exit 130, no temp files, fsck clean, rerun completes", async (t) => {
  const repo = makeTempGitRepo();
  try {
    initRepo({ cwd: repo.dir });
    const it = await interrupt(
      ["add", "data"],
      repo.dir,
      repo.env,
      "SIGINT",
      (pid) => tmpFilesOf(repo.dir, pid).length > 0,
      (attempt) => writeData(repo, attempt),
    );
    await assertCleanInterrupt(it, repo.dir, repo.env, 130, "add data");
    // Nothing half-recorded: no pointer yet, or (a second path done before the signal) one whose data is whole.
    await ok(["add", "data"], repo.dir, repo.env);
    await ok(["fsck"], repo.dir, repo.env);
    const st = await runCli(["status", "--json"], { cwd: repo.dir, env: repo.env });
    assert.equal(st.code, 0, st.stdout);
    t.diagnostic(`add interrupted after ${it.attempts} attempt(s): ${it.result.stderr.trim()}`);
  } finally {
    repo.cleanup();
  }
});

test("SIGTERM during a large add with --json: exit 143, ERR_MTRACK_INTERRUPTED on stdout", async () => {
  const repo = makeTempGitRepo();
  try {
    initRepo({ cwd: repo.dir });
    const it = await interrupt(
      ["add", "data", "--json"],
      repo.dir,
      repo.env,
      "SIGTERM",
      (pid) => tmpFilesOf(repo.dir, pid).length > 0,
      (attempt) => writeData(repo, attempt),
    );
    await assertCleanInterrupt(it, repo.dir, repo.env, 143, "add data --json");
    const j = it.result.json as { error?: { code?: string } };
    assert.equal(j?.error?.code, "ERR_MTRACK_INTERRUPTED");
    await ok(["add", "data"], repo.dir, repo.env);
  } finally {
    repo.cleanup();
  }
});

test("Ctrl-C during commit: exit 130, the old pointer or a whole new one, rerun completes", async () => {
  const repo = makeTempGitRepo();
  try {
    initRepo({ cwd: repo.dir });
    writeData(repo, 0, 4, 1 << 20);
    await ok(["add", "data"], repo.dir, repo.env);
    const it = await interrupt(
      ["commit"],
      repo.dir,
      repo.env,
      "SIGINT",
      (pid) => tmpFilesOf(repo.dir, pid).length > 0,
      (attempt) => writeData(repo, attempt),
    );
    await assertCleanInterrupt(it, repo.dir, repo.env, 130, "commit");
    await ok(["commit"], repo.dir, repo.env);
    const st = await runCli(["status", "--json"], { cwd: repo.dir, env: repo.env });
    assert.equal(st.code, 0, `status clean after the rerun: ${st.stdout}`);
  } finally {
    repo.cleanup();
  }
});

test("Ctrl-C during pull and during checkout: exit 130, fsck clean, rerun restores the data", async () => {
  const repo = makeTempGitRepo();
  try {
    initRepo({ cwd: repo.dir });
    const remote = path.join(repo.home, "remote");
    fs.mkdirSync(remote);
    await ok(["remote", "add", "origin", remote, "--default"], repo.dir, repo.env);
    writeData(repo, 0);
    await ok(["add", "data"], repo.dir, repo.env);
    await ok(["push"], repo.dir, repo.env);
    repo.commit("data");
    const want = repo.read("data");
    const clone = path.join(repo.home, "clone");
    await new Promise<void>((resolve, reject) =>
      spawn("git", ["clone", "-q", repo.dir, clone], { env: repo.env, stdio: "ignore" }).on("close", (c) =>
        c === 0 ? resolve() : reject(new Error(`git clone exit ${c}`)),
      ),
    );
    const sameData = () => {
      for (const [rel, bytes] of Object.entries(want))
        assert.ok(fs.readFileSync(path.join(clone, "data", rel)).equals(bytes), `data/${rel} restored`);
    };
    const pulled = await interrupt(
      ["pull"],
      clone,
      repo.env,
      "SIGINT",
      (pid) => tmpFilesOf(clone, pid).length > 0 || checkoutMarkerOf(clone, pid),
      () => {
        fs.rmSync(path.join(clone, ".mtrack", "cache"), { recursive: true, force: true });
        fs.rmSync(path.join(clone, "data"), { recursive: true, force: true });
      },
    );
    await assertCleanInterrupt(pulled, clone, repo.env, 130, "pull", true);
    await ok(["pull"], clone, repo.env);
    sameData();

    const checkedOut = await interrupt(
      ["checkout"],
      clone,
      repo.env,
      "SIGINT",
      (pid) => checkoutMarkerOf(clone, pid),
      () => fs.rmSync(path.join(clone, "data"), { recursive: true, force: true }),
    );
    await assertCleanInterrupt(checkedOut, clone, repo.env, 130, "checkout");
    await ok(["checkout"], clone, repo.env);
    sameData();
  } finally {
    repo.cleanup();
  }
});

test("gc removes temp files of dead processes at once and keeps a live writer's", async () => {
  const repo = makeTempGitRepo();
  try {
    initRepo({ cwd: repo.dir });
    const tmp = path.join(repo.dir, ".mtrack", "tmp");
    fs.mkdirSync(tmp, { recursive: true });
    // A pid that ran and is gone: a child that has exited (pids are not reused this quickly).
    const dead = await new Promise<number>((resolve) => {
      const c = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
      c.on("close", () => resolve(c.pid!));
    });
    const live = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
    try {
      const deadFile = path.join(tmp, `.obj.${dead}.1.abc.tmp`);
      const liveFile = path.join(tmp, `.obj.${live.pid}.1.abc.tmp`);
      const otherFile = path.join(tmp, "unnamed-leftover");
      for (const f of [deadFile, liveFile, otherFile]) fs.writeFileSync(f, "partial");
      const r = await ok(["gc", "--json"], repo.dir, repo.env);
      assert.equal(fs.existsSync(deadFile), false, `a dead process's temp file is removed: ${r.stdout}`);
      assert.equal(fs.existsSync(liveFile), true, "a live process's temp file keeps the 1-hour grace");
      assert.equal(fs.existsSync(otherFile), true, "a young file without a pid keeps the grace");
    } finally {
      live.kill("SIGKILL");
    }
  } finally {
    repo.cleanup();
  }
});
