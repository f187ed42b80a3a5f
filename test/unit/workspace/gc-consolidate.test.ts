import assert from "node:assert/strict";
import realFs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { initRepo, Repo } from "../../../src/repo.js";
import { acquireLock } from "../../../src/util/lock.js";
import { addPaths } from "../../../src/workspace/add.js";
import { fsckStore } from "../../../src/workspace/fsck.js";
import { gcStore, workspaceRoots } from "../../../src/workspace/gc.js";
import { statusPaths } from "../../../src/workspace/status.js";
import { withTempDir, writeTree } from "../../helpers/tmp.js";

function packCount(root: string): number {
  return realFs.readdirSync(path.join(root, ".mtrack/cache/packs")).filter((n) => n.endsWith(".idx")).length;
}

test("gc deletes unreferenced objects, then consolidates the packs that remain", () =>
  withTempDir(async (dir) => {
    const root = path.join(dir, "repo");
    realFs.mkdirSync(path.join(root, ".git"), { recursive: true });
    initRepo({ cwd: root });
    const files: Record<string, string> = {};
    for (let i = 0; i < 10; i++) files[`f${i}.txt`] = `tracked file ${i}\n`.repeat(20);
    writeTree(root, files);
    // One add per file: one pack each, as separate commands would leave them.
    for (const rel of Object.keys(files)) await addPaths(Repo.open({ cwd: root }), [path.join(root, rel)]);
    const repo = Repo.open({ cwd: root });
    for (let i = 0; i < 10; i++) {
      repo.store.putBuffer(Buffer.from(`garbage ${i}\n`.repeat(20)));
      await repo.store.flush();
    }
    assert.equal(packCount(root), 20);

    const r = await gcStore(repo, [workspaceRoots(repo)]);
    assert.equal(r.removed, 10);
    assert.equal(packCount(root), 1, "the ten surviving packs became one");
    const after = Repo.open({ cwd: root });
    const fsck = await fsckStore(after);
    assert.equal(fsck.ok, true);
    assert.equal(fsck.objects, 10);
    assert.equal((await statusPaths(after, Object.keys(files))).clean, true);
  }));

test("gc waits for the pack lock held by a consolidating process instead of racing it", () =>
  withTempDir(async (dir) => {
    const root = path.join(dir, "repo");
    realFs.mkdirSync(path.join(root, ".git"), { recursive: true });
    initRepo({ cwd: root });
    writeTree(root, { "a.txt": "aaaa\n" });
    await addPaths(Repo.open({ cwd: root }), [path.join(root, "a.txt")]);
    const repo = Repo.open({ cwd: root });
    const lock = repo.store.packLockPath;
    // Held for real (a label alone no longer holds anything: the lock is the kernel's where it can be).
    const release = await acquireLock(lock, { purpose: "consolidating" });
    let done = false;
    const gc = gcStore(repo, [workspaceRoots(repo)]).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(done, false, "gc is waiting");
    release();
    await gc;
    assert.equal(done, true);
    assert.equal((await fsckStore(Repo.open({ cwd: root }))).ok, true);
  }));
