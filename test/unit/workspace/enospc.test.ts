/**
 * Disk full during `add`, simulated with an injected fs whose writes fail with ENOSPC after a byte budget.
 * Whatever the point of failure: a clear ERR_MTRACK_NO_SPACE, no pointer naming content that is not fully
 * stored, and a store that a fresh process finds consistent (fsck).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { initRepo, Repo } from "../../../src/repo.js";
import type { FsLike } from "../../../src/util/fs.js";
import { addPaths } from "../../../src/workspace/add.js";
import { checkoutPaths } from "../../../src/workspace/checkout.js";
import { fsckStore } from "../../../src/workspace/fsck.js";
import { diskFullFs, enospc } from "../../helpers/fault-fs.js";
import { readTree, withTempDir, writeTree } from "../../helpers/tmp.js";

/** 30 small files (packed) and two large ones (loose, copied by the kernel), in nested directories. */
function dataset(seed: number): Record<string, Buffer> {
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 30; i++) {
    files[`data/d${i % 3}/f${i}.txt`] = Buffer.from(`seed ${seed} file ${i} `.repeat(20 + i));
  }
  for (const [i, size] of [300 * 1024, 400 * 1024].entries()) {
    const b = Buffer.alloc(size);
    for (let j = 0; j < size; j += 4) b.writeUInt32LE((j * 2654435761 + seed + i) >>> 0, j);
    files[`data/big${i}.bin`] = b;
  }
  return files;
}

/** A fresh mtrack repo (no git process needed: a .git directory marks the work tree). */
function makeRepoDir(dir: string, files: Record<string, Buffer>): string {
  const root = path.join(dir, "repo");
  fs.mkdirSync(path.join(root, ".git"), { recursive: true });
  initRepo({ cwd: root });
  writeTree(root, files);
  return root;
}

async function fsckOk(root: string): Promise<void> {
  const r = await fsckStore(Repo.open({ cwd: root }));
  assert.deepEqual(r.corrupt, [], "no corrupt objects");
  assert.deepEqual(r.damagedPacks, [], "no damaged packs");
  assert.deepEqual(r.missing, [], "every pointer's objects are present");
  assert.equal(r.ok, true);
}

/** The files under data/, keyed relative to it (what readTree of data/ returns). */
function underData(files: Record<string, Buffer>): Record<string, Buffer> {
  return Object.fromEntries(Object.entries(files).map(([k, v]) => [k.slice("data/".length), v]));
}

/** Bytes a successful add writes (objects, pack, pointer, caches): the budgets below are fractions of it. */
async function bytesForFullAdd(): Promise<number> {
  return withTempDir(async (dir) => {
    const root = makeRepoDir(dir, dataset(1));
    const faulty = diskFullFs(Number.MAX_SAFE_INTEGER);
    await addPaths(Repo.open({ cwd: root, fs: faulty.fs }), [path.join(root, "data")]);
    return faulty.written;
  });
}

test("ENOSPC at any point of a first add: clear error, no pointer, store passes fsck, rerun works", async () => {
  const full = await bytesForFullAdd();
  assert.ok(full > 700 * 1024);
  for (const fraction of [0.001, 0.1, 0.4, 0.7, 0.9, 0.99]) {
    await withTempDir(async (dir) => {
      const files = dataset(1);
      const root = makeRepoDir(dir, files);
      const faulty = diskFullFs(Math.floor(full * fraction));
      const repo = Repo.open({ cwd: root, fs: faulty.fs });
      let failed = false;
      try {
        await addPaths(repo, [path.join(root, "data")]);
      } catch (err) {
        failed = true;
        assert.equal((err as { code?: string }).code, "ERR_MTRACK_NO_SPACE", `fraction ${fraction}`);
      }
      if (failed) {
        assert.equal(
          fs.existsSync(path.join(root, "data.mtrack")),
          false,
          `no pointer at fraction ${fraction}`,
        );
      } else {
        // Only the best-effort caches ran out of space: the add itself is complete.
        assert.ok(fraction > 0.9, `fraction ${fraction} cannot have succeeded`);
      }
      assert.equal(fs.existsSync(path.join(root, ".mtrack", "lock")), false, "the lock is released");
      await fsckOk(root);
      // With space again, add completes and the data checks out byte for byte.
      const real = Repo.open({ cwd: root });
      await addPaths(real, [path.join(root, "data")]);
      await fsckOk(root);
      fs.rmSync(path.join(root, "data"), { recursive: true });
      const co = await checkoutPaths(Repo.open({ cwd: root }), ["data"]);
      assert.equal(co.ok, true);
      assert.deepEqual(readTree(path.join(root, "data")), underData(files));
    });
  }
});

test("ENOSPC while re-adding changed data keeps the old pointer, which still checks out", async () => {
  const full = await bytesForFullAdd();
  for (const fraction of [0.001, 0.5, 0.9]) {
    await withTempDir(async (dir) => {
      const v1 = dataset(1);
      const root = makeRepoDir(dir, v1);
      await addPaths(Repo.open({ cwd: root }), [path.join(root, "data")]);
      const pointerV1 = fs.readFileSync(path.join(root, "data.mtrack"), "utf8");
      fs.rmSync(path.join(root, "data"), { recursive: true });
      writeTree(root, dataset(2));
      const faulty = diskFullFs(Math.floor(full * fraction));
      await assert.rejects(
        addPaths(Repo.open({ cwd: root, fs: faulty.fs }), [path.join(root, "data")]),
        (e: { code?: string }) => e.code === "ERR_MTRACK_NO_SPACE",
      );
      assert.equal(
        fs.readFileSync(path.join(root, "data.mtrack"), "utf8"),
        pointerV1,
        `fraction ${fraction}`,
      );
      await fsckOk(root);
      const co = await checkoutPaths(Repo.open({ cwd: root }), ["data"], { force: true });
      assert.equal(co.ok, true);
      assert.deepEqual(readTree(path.join(root, "data")), underData(v1));
    });
  }
});

test("ENOSPC when updating .gitignore: the add fails and no pointer is left behind", () =>
  withTempDir(async (dir) => {
    const root = makeRepoDir(dir, dataset(3));
    const noGitignore = {
      ...fs,
      openSync: (p: fs.PathLike, ...rest: unknown[]) => {
        if (path.basename(String(p)).startsWith("..gitignore")) throw enospc("open");
        return (fs.openSync as (...a: unknown[]) => number)(p, ...rest);
      },
    } as unknown as FsLike;
    await assert.rejects(
      addPaths(Repo.open({ cwd: root, fs: noGitignore }), [path.join(root, "data")]),
      (e: { code?: string }) => e.code === "ERR_MTRACK_NO_SPACE",
    );
    await fsckOk(root);
    assert.equal(fs.existsSync(path.join(root, "data.mtrack")), false);
  }));
