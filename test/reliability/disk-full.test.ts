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
