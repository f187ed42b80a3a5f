/**
 * The keep set of `gc --cloud`: roots expand through manifests and run records read locally or from the
 * remote (hash checked), and anything that cannot be seen makes it refuse.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { LocalRemote } from "../../../src/remotes/local.js";
import type { ObjectData } from "../../../src/remotes/types.js";
import { hashBytes } from "../../../src/store/hash.js";
import { encodeTree, type TreeEntry } from "../../../src/store/tree.js";
import { newPackr } from "../../../src/tracking/frames.js";
import {
  type RemoteRoot,
  type RemoteRootSource,
  remoteKeepSet,
  remoteRunCacheRoots,
  remoteRunRoots,
} from "../../../src/transfer/remote-gc.js";
import { makeTempDir, removeTempDir } from "../../helpers/tmp.js";
import { makeStore } from "../remotes/fixtures.js";

const obj = (text: string): ObjectData => {
  const data = Buffer.from(text);
  return { hash: hashBytes(data), data };
};

/** A directory manifest of `count` entries (large counts make a manifest over the batch size limit). */
function manifest(tag: string, count: number): { tree: ObjectData; entries: string[] } {
  const entries: TreeEntry[] = [];
  for (let i = 0; i < count; i++)
    entries.push({ path: `f${i}`, hash: hashBytes(Buffer.from(`${tag} ${i}`)), size: 1, executable: false });
  const data = encodeTree(entries);
  return { tree: { hash: hashBytes(data), data }, entries: entries.map((e) => e.hash) };
}

const roots = (name: string, list: RemoteRoot[]): RemoteRootSource => ({
  name,
  collect: async () => list,
});

test("remote keep set", async (t) => {
  const dir = makeTempDir();
  const store = makeStore(path.join(dir, "local"));
  const remote = LocalRemote.open({ dir: path.join(dir, "remote"), create: true });
  try {
    await t.test("manifests found only on the remote are read from it, large ones too", async () => {
      const small = manifest("small", 3);
      const large = manifest("large", 9000);
      assert.ok(large.tree.data.length > 256 * 1024);
      await remote.putBatch([small.tree]);
      const file = path.join(dir, "large.manifest");
      fs.writeFileSync(file, large.tree.data);
      await remote.putFile({ hash: large.tree.hash, size: large.tree.data.length }, file);
      const local = manifest("local", 2);
      store.putBuffer(local.tree.data);
      await store.flush();
      const plain = obj("a plain file");
      const { keep, roots: counts } = await remoteKeepSet(store, remote, [
        roots("pointers", [
          { hash: small.tree.hash, kind: "tree", label: "data@1" },
          { hash: large.tree.hash, kind: "tree", label: "data@2" },
          { hash: local.tree.hash, kind: "tree", label: "data@3" },
          { hash: plain.hash, kind: "object", label: "x.bin" },
        ]),
      ]);
      assert.deepEqual(counts, { pointers: 4 });
      const want = new Set([
        small.tree.hash,
        large.tree.hash,
        local.tree.hash,
        plain.hash,
        ...small.entries,
        ...large.entries,
        ...local.entries,
      ]);
      assert.deepEqual([...keep].sort(), [...want].sort());
    });

    await t.test(
      "a run ref on the remote expands to its record's metrics, artifacts and models",
      async () => {
        const metric = obj("metric series");
        const file = obj("an artifact file");
        const inDir = obj("a file inside a dir artifact");
        const inModel = obj("a model weight");
        const dirManifest = { data: newPackr().pack([{ name: "w.txt", hash: inDir.hash, size: 1 }]) };
        const dirHash = hashBytes(dirManifest.data);
        const modelData = newPackr().pack([{ name: "model.bin", hash: inModel.hash, size: 1 }]);
        const modelHash = hashBytes(modelData);
        const record = newPackr().pack({
          format: 1,
          metrics: { loss: { hash: metric.hash, count: 3 } },
          artifacts: [
            { name: "f.txt", kind: "file", hash: file.hash, size: 1 },
            { name: "d", kind: "dir", hash: dirHash, size: 1 },
            { name: "pending", kind: "file", hash: "", size: 0 },
          ],
          models: [{ name: "m", hash: modelHash, size: 1 }],
        });
        const recordHash = hashBytes(record);
        await remote.putBatch([
          { hash: recordHash, data: record },
          { hash: dirHash, data: dirManifest.data },
          { hash: modelHash, data: modelData },
        ]);
        await remote.writeRef("runs/20260101-other", Buffer.from(`${recordHash}\n`));
        const { keep } = await remoteKeepSet(store, remote, [remoteRunRoots(remote)]);
        assert.deepEqual(
          [...keep].sort(),
          [recordHash, metric.hash, file.hash, dirHash, inDir.hash, modelHash, inModel.hash].sort(),
        );
      },
    );

    await t.test("refuses: manifest nowhere, damaged on the remote, unreadable refs", async () => {
      const ghost = "cd".repeat(32);
      await assert.rejects(
        remoteKeepSet(store, remote, [roots("pointers", [{ hash: ghost, kind: "tree", label: "data@old" }])]),
        (err: Error & { code: string; data: { unreadable: Array<{ label: string; hash: string }> } }) => {
          assert.equal(err.code, "ERR_MTRACK_GC_UNSAFE");
          assert.deepEqual(
            err.data.unreadable.map((u) => [u.label, u.hash]),
            [["data@old", ghost]],
          );
          assert.match(err.message, /data@old/);
          return true;
        },
      );
      // Bytes on the remote that do not match their name are as good as absent.
      // (A valid manifest, stored under another object's name.)
      const fake = obj("not a manifest at all");
      const wrongName = "ef".repeat(32);
      await remote.putBatch([{ hash: wrongName, data: manifest("elsewhere", 2).tree.data }]);
      await assert.rejects(
        remoteKeepSet(store, remote, [roots("p", [{ hash: wrongName, kind: "tree", label: "bad" }])]),
        { code: "ERR_MTRACK_GC_UNSAFE" },
      );
      // Present and matching, but not a manifest.
      await remote.putBatch([fake]);
      await assert.rejects(
        remoteKeepSet(store, remote, [roots("p", [{ hash: fake.hash, kind: "tree", label: "bad" }])]),
        (err: Error & { code: string }) => err.code === "ERR_MTRACK_GC_UNSAFE" && /damaged/.test(err.message),
      );
      await remote.writeRef("runs/20260102-broken", Buffer.from("not a hash\n"));
      await assert.rejects(remoteKeepSet(store, remote, [remoteRunRoots(remote)]), {
        code: "ERR_MTRACK_GC_UNSAFE",
      });
      await remote.writeRef("runcache/abc", Buffer.from("{ not json"));
      await assert.rejects(remoteKeepSet(store, remote, [remoteRunCacheRoots(remote)]), {
        code: "ERR_MTRACK_GC_UNSAFE",
      });
    });
  } finally {
    await remote.close();
    store.close();
    removeTempDir(dir);
  }
});
