import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { RunCacheStore } from "../../../src/pipeline/runcache.js";
import { LocalRemote } from "../../../src/remotes/local.js";
import { initRepo, Repo } from "../../../src/repo.js";
import { encodeTree } from "../../../src/store/tree.js";
import { fetchRunCache, pushRunCache } from "../../../src/transfer/refs.js";
import { makeTempDir, removeTempDir } from "../../helpers/tmp.js";

function repoIn(dir: string): Repo {
  fs.mkdirSync(path.join(dir, ".git"), { recursive: true });
  initRepo({ cwd: dir });
  return Repo.open({ cwd: dir });
}

test("run-cache entries travel with the outputs they name, objects first", async () => {
  const dir = makeTempDir();
  try {
    const a = repoIn(path.join(dir, "a"));
    const file = a.store.putBuffer(Buffer.from("model weights"));
    const inner = a.store.putBuffer(Buffer.from("inner"));
    const tree = a.store.putBuffer(
      encodeTree([{ path: "x.txt", hash: inner.hash, size: inner.size, executable: false }]),
    );
    await a.store.flush();
    const key = "a".repeat(64);
    const orphanKey = "b".repeat(64);
    const rcA = RunCacheStore.forRepo(a);
    rcA.put(key, {
      version: 1,
      stage: "train",
      cmd: "python train.py",
      outs: [
        { path: "model.bin", hash: file.hash, size: file.size, type: "file" },
        { path: "out", hash: tree.hash, size: inner.size, files: 1, type: "directory" },
      ],
    });
    // An entry whose output is not in the store must not be pushed (other clones could not restore it).
    rcA.put(orphanKey, {
      version: 1,
      stage: "x",
      cmd: "x",
      outs: [{ path: "gone", hash: "c".repeat(64), size: 1, type: "file" }],
    });

    const remote = LocalRemote.open({ dir: path.join(dir, "remote"), create: true });
    const pushed = await pushRunCache(a, remote);
    assert.equal(pushed.transferred, 1);
    assert.deepEqual(await remote.listRefs("runcache"), [`runcache/${key}`]);
    assert.equal((await pushRunCache(a, remote)).transferred, 0);

    const b = repoIn(path.join(dir, "b"));
    const fetched = await fetchRunCache(b, remote);
    assert.equal(fetched.transferred, 1);
    const rcB = RunCacheStore.forRepo(b);
    assert.equal(rcB.get(key)?.stage, "train");
    for (const h of [file.hash, tree.hash, inner.hash]) assert.equal(b.store.has(h), true);
    assert.equal(rcB.has(orphanKey), false);
    await remote.close();
  } finally {
    removeTempDir(dir);
  }
});
