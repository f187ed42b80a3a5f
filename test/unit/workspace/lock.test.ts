import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { acquireLock, ownerGone } from "../../../src/util/lock.js";
import { fastFs } from "../../../src/util/native.js";
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

test("without the OS lock, a label from another host is not taken over, and the error says how to clear it", () =>
  withTempDir(async (dir) => {
    const file = path.join(dir, "lock");
    fs.writeFileSync(file, JSON.stringify({ pid: 1, host: `not-${os.hostname()}`, time: "x" }));
    await assert.rejects(acquireLock(file, { timeoutMs: 100, pollMs: 20, osLock: null }), (err: unknown) => {
      assert.ok(isLocked(err));
      assert.equal((err as { data: { osLock?: boolean } }).data.osLock, false);
      assert.match((err as { hint?: string }).hint ?? "", /rm /);
      return true;
    });
    assert.equal(JSON.parse(fs.readFileSync(file, "utf8")).pid, 1, "the other lock is left alone");
  }));

const osLock = fastFs()?.tryLock;

test(
  "a label left by a process on another host (a killed container) does not block",
  { skip: !osLock && "no native flock" },
  () =>
    withTempDir(async (dir) => {
      const file = path.join(dir, "lock");
      fs.writeFileSync(
        file,
        JSON.stringify({ pid: 1, host: `container-${os.hostname()}`, time: new Date().toISOString() }),
      );
      const t0 = Date.now();
      const release = await acquireLock(file, { timeoutMs: 2000, pollMs: 20 });
      assert.ok(Date.now() - t0 < 1500, "no waiting for a holder that holds nothing");
      assert.equal(JSON.parse(fs.readFileSync(file, "utf8")).pid, process.pid);
      release();
    }),
);

for (const mode of ["OS lock", "file only"] as const) {
  test(
    `${mode}: a label naming a pid now used by a younger live process is taken over`,
    { skip: mode === "OS lock" && !osLock && "no native flock" },
    () =>
      withTempDir(async (dir) => {
        const file = path.join(dir, "lock");
        // A live process on this host that started long after the label was written: a reused pid.
        const other = spawn("sleep", ["30"], { stdio: "ignore" });
        try {
          assert.ok(other.pid);
          await new Promise((r) => setTimeout(r, 50));
          fs.writeFileSync(
            file,
            JSON.stringify({
              pid: other.pid,
              host: os.hostname(),
              time: new Date(Date.now() - 3_600_000).toISOString(),
            }),
          );
          const t0 = Date.now();
          const release = await acquireLock(file, {
            timeoutMs: 2000,
            pollMs: 20,
            ...(mode === "file only" ? { osLock: null } : {}),
          });
          assert.ok(Date.now() - t0 < 1500);
          release();
        } finally {
          other.kill("SIGKILL");
        }
      }),
  );
}

test(
  "the OS lock excludes another process, and is free the moment that process is killed",
  { skip: !osLock && "no native flock" },
  () =>
    withTempDir(async (dir) => {
      const file = path.join(dir, "lock");
      const script = `import { acquireLock } from ${JSON.stringify(path.resolve("src/util/lock.ts"))};
await acquireLock(${JSON.stringify(file)}, { purpose: "hold" }); process.stdout.write("held"); setInterval(() => {}, 1000);`;
      const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      try {
        await new Promise<void>((resolve, reject) => {
          child.stdout!.on("data", (d: Buffer) => d.toString().includes("held") && resolve());
          child.on("exit", () => reject(new Error("holder exited")));
        });
        await assert.rejects(acquireLock(file, { timeoutMs: 200, pollMs: 20 }), (err: unknown) => {
          assert.ok(isLocked(err));
          assert.equal((err as { data: { holder?: { pid?: number } } }).data.holder?.pid, child.pid);
          return true;
        });
        // The holder's label even claims this host's pid is alive: it is the kernel's lock that counts.
        child.kill("SIGKILL");
        await new Promise((r) => child.once("exit", r));
        const release = await acquireLock(file, { timeoutMs: 2000, pollMs: 20 });
        release();
      } finally {
        child.kill("SIGKILL");
      }
    }),
);

test("ownerGone: decides only what it can prove", () => {
  const host = "h";
  const t = "2026-01-01T00:00:00.000Z";
  const at = Date.parse(t);
  const info = (pid: number, h = host) => ({ pid, host: h, time: t });
  assert.equal(
    ownerGone(
      info(123),
      host,
      () => false,
      () => undefined,
    ),
    true,
    "dead pid",
  );
  assert.equal(
    ownerGone(
      info(123),
      host,
      () => true,
      () => at - 1000,
    ),
    false,
    "alive, started before",
  );
  assert.equal(
    ownerGone(
      info(123),
      host,
      () => true,
      () => at + 60_000,
    ),
    true,
    "pid reused",
  );
  assert.equal(
    ownerGone(
      info(123),
      host,
      () => true,
      () => undefined,
    ),
    false,
    "cannot tell",
  );
  assert.equal(
    ownerGone(
      info(123, "other"),
      host,
      () => false,
      () => undefined,
    ),
    false,
    "other host",
  );
});

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
