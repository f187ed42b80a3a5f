import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { acquireLock } from "../../../src/util/lock.js";
import { diskFullFs } from "../../helpers/fault-fs.js";
import { withTempDir } from "../../helpers/tmp.js";

function isLocked(err: unknown): boolean {
  return (err as { code?: string }).code === "ERR_MTRACK_LOCKED";
}

test("a second acquirer waits for the timeout, then fails with ERR_MTRACK_LOCKED", () =>
  withTempDir(async (dir) => {
    const file = path.join(dir, "lock");
    const release = await acquireLock(file, { purpose: "add" });
    try {
      const t0 = Date.now();
      await assert.rejects(acquireLock(file, { timeoutMs: 300, pollMs: 20 }), (err: unknown) => {
        assert.ok(isLocked(err));
        assert.equal((err as { data: { holder?: { pid?: number } } }).data.holder?.pid, process.pid);
        return true;
      });
      assert.ok(Date.now() - t0 >= 280, "it waited before giving up");
    } finally {
      release();
    }
    assert.equal(fs.existsSync(file), false, "release removes the lock file");
  }));

test("a waiter gets the lock as soon as the holder releases it", () =>
  withTempDir(async (dir) => {
    const file = path.join(dir, "lock");
    const release = await acquireLock(file);
    setTimeout(release, 100);
    const t0 = Date.now();
    const second = await acquireLock(file, { timeoutMs: 5000, pollMs: 20 });
    assert.ok(Date.now() - t0 < 3000);
    assert.equal(JSON.parse(fs.readFileSync(file, "utf8")).pid, process.pid);
    second();
    second(); // releasing twice is harmless
    assert.equal(fs.existsSync(file), false);
  }));

test("a stale lock left by a dead process on this host is taken over", () =>
  withTempDir(async (dir) => {
    const file = path.join(dir, "lock");
    const dead = spawnSync(process.execPath, ["-e", ""]).pid;
    assert.ok(dead);
    fs.writeFileSync(
      file,
      JSON.stringify({ pid: dead, host: os.hostname(), time: new Date(0).toISOString() }),
    );
    const t0 = Date.now();
    const release = await acquireLock(file, { timeoutMs: 2000, pollMs: 20 });
    assert.ok(Date.now() - t0 < 1500, "no waiting for a dead owner");
    assert.equal(JSON.parse(fs.readFileSync(file, "utf8")).pid, process.pid);
    release();
  }));

test("a lock held by a live process on another host is not taken over", () =>
  withTempDir(async (dir) => {
    const file = path.join(dir, "lock");
    fs.writeFileSync(file, JSON.stringify({ pid: 1, host: `not-${os.hostname()}`, time: "x" }));
    await assert.rejects(acquireLock(file, { timeoutMs: 100, pollMs: 20 }), isLocked);
    assert.equal(JSON.parse(fs.readFileSync(file, "utf8")).pid, 1, "the other lock is left alone");
  }));

test("release does not delete a lock that another process took over", () =>
  withTempDir(async (dir) => {
    const file = path.join(dir, "lock");
    const release = await acquireLock(file);
    fs.writeFileSync(file, JSON.stringify({ pid: 1, host: os.hostname(), time: "x" }));
    release();
    assert.equal(fs.existsSync(file), true);
  }));

test("running out of space while taking the lock leaves no lock file behind", () =>
  withTempDir(async (dir) => {
    const file = path.join(dir, "lock");
    await assert.rejects(
      acquireLock(file, { fs: diskFullFs(0).fs, timeoutMs: 100 }),
      (e: { code?: string }) => e.code === "ERR_MTRACK_NO_SPACE",
    );
    assert.equal(fs.existsSync(file), false, "no ownerless lock file");
    const release = await acquireLock(file, { timeoutMs: 300, pollMs: 20 });
    release();
  }));

test("an empty lock file (its owner died before writing its pid) does not block forever", () =>
  withTempDir(async (dir) => {
    const file = path.join(dir, "lock");
    fs.writeFileSync(file, "");
    const old = new Date(Date.now() - 60 * 60 * 1000);
    fs.utimesSync(file, old, old);
    const release = await acquireLock(file, { timeoutMs: 500, pollMs: 20 });
    release();
  }));
