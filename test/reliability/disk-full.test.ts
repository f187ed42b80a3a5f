/**
 * A full disk (issue 19): with the repository on a 20 MB tmpfs, `add` of more than fits fails with a
 * clear ERR_MTRACK_ error and exit 2 (no raw ENOSPC stack), leaves no corrupt object, and once space is
 * freed fsck is clean and the add completes. Needs root (to mount); skipped with a message otherwise.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { initRepo } from "../../src/repo.js";
import { errorCode, runCli } from "../helpers/cli.js";
import { makeTempGitRepo } from "../helpers/git-repo.js";
import { bytesFor, storeProblems } from "./kill-loop.js";

function mountTmpfs(dir: string): string | undefined {
  if (process.getuid?.() !== 0) return "not root: cannot mount a small tmpfs";
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=20m", "tmpfs", dir], { stdio: "pipe" });
    return undefined;
  } catch (err) {
    return `mount -t tmpfs failed: ${String((err as Error).message).split("\n")[0]}`;
  }
}

test("disk full during add: a clear error, exit 2, no corrupt object, fsck clean after freeing space", async (t) => {
  const holder = makeTempGitRepo({ git: false });
  const mnt = path.join(holder.home, "mnt");
  fs.mkdirSync(mnt);
  const why = mountTmpfs(mnt);
  if (why) {
    t.diagnostic(`disk-full case skipped: ${why}`);
    t.skip(why);
    holder.cleanup();
    return;
  }
  try {
    const dir = path.join(mnt, "repo");
    fs.mkdirSync(dir);
    const env = holder.env;
    execFileSync("git", ["init", "-q", "-b", "main"], { cwd: dir, env });
    initRepo({ cwd: dir });
    fs.mkdirSync(path.join(dir, "data"));
    for (let i = 0; i < 6; i++) fs.writeFileSync(path.join(dir, "data", `big${i}.bin`), bytesFor(2 << 20, i));
    const filler = path.join(mnt, "filler");
    fs.writeFileSync(filler, Buffer.alloc(4 << 20));
    const r = await runCli(["add", "data", "--json"], { cwd: dir, env });
    assert.equal(r.code, 2, `${r.stdout}${r.stderr}`);
    assert.match(errorCode(r) ?? "", /^ERR_MTRACK_/);
    assert.doesNotMatch(r.stderr, /^\s+at /m, "no raw stack trace");
    assert.equal(fs.existsSync(path.join(dir, "data.mtrack")), false, "no pointer from a failed add");
    assert.deepEqual(storeProblems(path.join(dir, ".mtrack", "cache"), "store"), []);
    fs.rmSync(filler);
    const fsck = await runCli(["fsck", "--json"], { cwd: dir, env });
    assert.equal(fsck.code, 0, fsck.stdout);
    t.diagnostic(`disk full: add failed with ${errorCode(r)} (exit 2); fsck clean after freeing space`);
  } finally {
    execFileSync("umount", [mnt]);
    holder.cleanup();
  }
});

/** Runs `fn` in a directory on a fresh 20 MB tmpfs (root only); skips with a message otherwise. */
async function onSmallDisk(
  t: import("node:test").TestContext,
  fn: (mnt: string, holder: ReturnType<typeof makeTempGitRepo>) => Promise<void>,
): Promise<void> {
  const holder = makeTempGitRepo({ git: false });
  const mnt = path.join(holder.home, "mnt");
  fs.mkdirSync(mnt);
  const why = mountTmpfs(mnt);
  if (why) {
    t.diagnostic(`disk-full case skipped: ${why}`);
    t.skip(why);
    holder.cleanup();
    return;
  }
  try {
    await fn(mnt, holder);
  } finally {
    execFileSync("umount", [mnt]);
    holder.cleanup();
  }
}

function assertCleanFailure(r: Awaited<ReturnType<typeof runCli>>): void {
  assert.equal(r.code, 2, `${r.stdout}${r.stderr}`);
  // The command's error, or (pull) the failed path's in its report.
  assert.match(r.stdout, /"code": "ERR_MTRACK_NO_SPACE"/, r.stdout.slice(0, 3000));
  assert.doesNotMatch(r.stderr, /^\s+at /m, "no raw stack trace");
}

test("disk full during commit: a clear error, the old pointer and its data intact, fsck clean", async (t) => {
  await onSmallDisk(t, async (mnt, holder) => {
    const dir = path.join(mnt, "repo");
    fs.mkdirSync(dir);
    const env = holder.env;
    execFileSync("git", ["init", "-q", "-b", "main"], { cwd: dir, env });
    initRepo({ cwd: dir });
    fs.mkdirSync(path.join(dir, "data"));
    fs.writeFileSync(path.join(dir, "data", "big0.bin"), bytesFor(1 << 20, 100));
    assert.equal((await runCli(["add", "data"], { cwd: dir, env })).code, 0);
    const pointer = fs.readFileSync(path.join(dir, "data.mtrack"), "utf8");
    for (let i = 0; i < 6; i++) fs.writeFileSync(path.join(dir, "data", `big${i}.bin`), bytesFor(2 << 20, i));
    const filler = path.join(mnt, "filler");
    fs.writeFileSync(filler, Buffer.alloc(4 << 20));
    const r = await runCli(["commit", "--json"], { cwd: dir, env });
    assertCleanFailure(r);
    assert.equal(fs.readFileSync(path.join(dir, "data.mtrack"), "utf8"), pointer, "pointer unchanged");
    assert.deepEqual(storeProblems(path.join(dir, ".mtrack", "cache"), "store"), []);
    fs.rmSync(filler);
    const fsck = await runCli(["fsck", "--json"], { cwd: dir, env });
    assert.equal(fsck.code, 0, fsck.stdout);
    t.diagnostic(`disk full: commit failed with ${errorCode(r)} (exit 2), pointer unchanged; fsck clean`);
  });
});

test("disk full during pull: a clear error, no corrupt object, pull completes once space is freed", async (t) => {
  await onSmallDisk(t, async (mnt, holder) => {
    // The source repository and its remote are off the small disk; only the clone is on it.
    const src = holder.dir;
    const env = holder.env;
    execFileSync("git", ["init", "-q", "-b", "main"], { cwd: src, env });
    fs.appendFileSync(path.join(src, ".git", "config"), "[user]\n\tname = T\n\temail = t@example.com\n");
    initRepo({ cwd: src });
    const remote = path.join(holder.home, "remote");
    fs.mkdirSync(remote);
    fs.mkdirSync(path.join(src, "data"));
    for (let i = 0; i < 3; i++) fs.writeFileSync(path.join(src, "data", `big${i}.bin`), bytesFor(2 << 20, i));
    for (const args of [["remote", "add", "origin", remote, "--default"], ["add", "data"], ["push"]])
      assert.equal((await runCli(args, { cwd: src, env })).code, 0, args.join(" "));
    execFileSync("git", ["add", "-A"], { cwd: src, env });
    execFileSync("git", ["commit", "-qm", "data"], { cwd: src, env });
    const clone = path.join(mnt, "clone");
    execFileSync("git", ["clone", "-q", src, clone], { env });
    const filler = path.join(mnt, "filler");
    fs.writeFileSync(filler, Buffer.alloc(12 << 20));
    const r = await runCli(["pull", "--json"], { cwd: clone, env });
    assertCleanFailure(r);
    assert.deepEqual(storeProblems(path.join(clone, ".mtrack", "cache"), "clone store"), []);
    fs.rmSync(filler);
    const again = await runCli(["pull", "--json"], { cwd: clone, env });
    assert.equal(again.code, 0, `${again.stdout}${again.stderr}`);
    for (let i = 0; i < 3; i++)
      assert.ok(fs.readFileSync(path.join(clone, "data", `big${i}.bin`)).equals(bytesFor(2 << 20, i)));
    const fsck = await runCli(["fsck", "--json"], { cwd: clone, env });
    assert.equal(fsck.code, 0, fsck.stdout);
    t.diagnostic(
      `disk full: pull failed with ERR_MTRACK_NO_SPACE for data (exit 2); after freeing space pull completed, fsck clean`,
    );
  });
});
