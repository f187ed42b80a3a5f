import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { countedReadStream } from "../../../src/remotes/counted.js";
import { LocalRemote } from "../../../src/remotes/local.js";
import type { Remote } from "../../../src/remotes/types.js";
import { listPackIds } from "../../../src/store/pack.js";
import { encodeTree, type TreeEntry } from "../../../src/store/tree.js";
import { fetchObjects, pushObjects } from "../../../src/transfer/objects.js";
import type { Progress } from "../../../src/workspace/scan.js";
import { makeTempDir, removeTempDir } from "../../helpers/tmp.js";
import { corruptInStoreDir } from "../remotes/contract.js";
import { fillStore, makeStore } from "../remotes/fixtures.js";

const packIds = (storeDir: string) => listPackIds(fs, path.join(storeDir, "packs")).complete;

test("push copies a local pack whole when the remote lacks all of it, and batches otherwise", async () => {
  const dir = makeTempDir();
  const remote = LocalRemote.open({ dir: path.join(dir, "remote"), create: true });
  try {
    const a = makeStore(path.join(dir, "a"));
    const { roots, small } = await fillStore(a, dir, { count: 30 });
    const [localPack] = packIds(a.dir);
    assert.ok(localPack);
    const pushed = await pushObjects(a, remote, roots);
    assert.equal(pushed.objects, 32);
    assert.deepEqual(packIds(remote.url), [localPack], "the local pack arrived as it is");

    // A remote that already holds part of the pack gets only the rest, in a new pack.
    const other = LocalRemote.open({ dir: path.join(dir, "other"), create: true });
    try {
      await other.putBatch(small.slice(0, 5).map((hash) => ({ hash, data: a.readObject(hash) })));
      const before = packIds(other.url);
      const rest = await pushObjects(a, other, roots);
      assert.equal(rest.present, 5);
      assert.equal(rest.objects, 27);
      assert.ok(!packIds(other.url).includes(localPack));
      assert.equal(packIds(other.url).length, before.length + 2, "one pack of leaves, one of the manifest");
      const b = makeStore(path.join(dir, "b"));
      const fetched = await fetchObjects(b, other, roots);
      assert.equal(fetched.objects, 32);
      assert.equal(fetched.corrupt.length, 0);
    } finally {
      await other.close();
    }
  } finally {
    await remote.close();
    removeTempDir(dir);
  }
});

test("push sends a pack holding a manifest only after every other object", async () => {
  const dir = makeTempDir();
  const inner = LocalRemote.open({ dir: path.join(dir, "remote"), create: true });
  try {
    const a = makeStore(path.join(dir, "a"));
    // Pack 1: leaves only. Pack 2: more leaves and the manifest naming all of them.
    const entries: TreeEntry[] = [];
    for (let i = 0; i < 20; i++) {
      const r = a.putBuffer(Buffer.from(`leaf ${i}`));
      entries.push({ path: `f${String(i).padStart(2, "0")}`, hash: r.hash, size: r.size, executable: false });
      if (i === 9) a.flushSync();
    }
    const tree = a.putBuffer(encodeTree(entries));
    a.flushSync();
    const calls: string[] = [];
    const recording: Remote = Object.create(inner) as Remote;
    recording.putPack = async (pack) => {
      await inner.putPack(pack);
      calls.push(`pack:${pack.id}`);
    };
    recording.putBatch = async (objects) => {
      await inner.putBatch(objects);
      calls.push("batch");
    };
    const summary = await pushObjects(a, recording, [{ hash: tree.hash, size: 0, tree: true, label: "d" }]);
    assert.equal(summary.objects, 21);
    const treePack = a.packFiles().find((p) => [...p.entries()].some((e) => e.hash === tree.hash));
    assert.ok(treePack);
    assert.equal(calls.length, 2);
    assert.equal(calls.at(-1), `pack:${treePack.id}`, "the manifest's pack goes last");
  } finally {
    await inner.close();
    removeTempDir(dir);
  }
});

test("push batches packs whose manifests have entries in each other's pack, manifests last", async () => {
  const dir = makeTempDir();
  const inner = LocalRemote.open({ dir: path.join(dir, "remote"), create: true });
  try {
    const a = makeStore(path.join(dir, "a"));
    const leaf = (s: string) => {
      const r = a.putBuffer(Buffer.from(s));
      return { path: s, hash: r.hash, size: r.size, executable: false };
    };
    const [a1, a2, b1, b2] = [leaf("a1"), leaf("a2"), leaf("b1"), leaf("b2")];
    a.discardStaged();
    // Pack 1: manifest A, a1, b1. Pack 2: manifest B, a2, b2.
    const ma = a.putBuffer(encodeTree([a1, a2]));
    for (const s of ["a1", "b1"]) a.putBuffer(Buffer.from(s));
    a.flushSync();
    const mb = a.putBuffer(encodeTree([b1, b2]));
    for (const s of ["a2", "b2"]) a.putBuffer(Buffer.from(s));
    a.flushSync();
    const calls: Array<{ kind: string; hashes: string[] }> = [];
    const recording: Remote = Object.create(inner) as Remote;
    recording.putPack = async (pack) => {
      calls.push({ kind: "pack", hashes: [] });
      await inner.putPack(pack);
    };
    recording.putBatch = async (objects) => {
      calls.push({ kind: "batch", hashes: objects.map((o) => o.hash) });
      await inner.putBatch(objects);
    };
    const roots = [
      { hash: ma.hash, size: 0, tree: true, label: "A" },
      { hash: mb.hash, size: 0, tree: true, label: "B" },
    ];
    const summary = await pushObjects(a, recording, roots);
    assert.equal(summary.objects, 6);
    assert.ok(
      calls.every((c) => c.kind === "batch"),
      "neither pack may travel whole",
    );
    const manifestCall = calls.findIndex((c) => c.hashes.includes(ma.hash));
    const entryCalls = calls.filter((c) => c.hashes.includes(a2.hash) || c.hashes.includes(b1.hash));
    assert.ok(entryCalls.every((c) => calls.indexOf(c) < manifestCall));
  } finally {
    await inner.close();
    removeTempDir(dir);
  }
});

test("a fetch that fails half-way keeps the objects it verified; the rerun gets only the rest", async () => {
  const dir = makeTempDir();
  const remote = LocalRemote.open({ dir: path.join(dir, "remote"), create: true });
  try {
    const a = makeStore(path.join(dir, "a"));
    const { roots, small } = await fillStore(a, dir, { count: 20 });
    await pushObjects(a, remote, roots);
    const flaky: Remote = Object.create(remote) as Remote;
    flaky.getBatch = async (hashes, onObject) => {
      let n = 0;
      return remote.getBatch(hashes, (o) => {
        if (++n > 8) throw Object.assign(new Error("connection reset"), { code: "ECONNRESET" });
        return onObject(o);
      });
    };
    const b = makeStore(path.join(dir, "b"));
    // The roots (manifest, large object) come in a first round; the 20 entries then fail after 8.
    await assert.rejects(fetchObjects(b, flaky, roots));
    const kept = small.filter((h) => b.has(h));
    assert.equal(kept.length, 8);
    for (const h of kept) assert.equal(b.verify(h), "ok");
    const rerun = await fetchObjects(b, remote, roots);
    assert.equal(rerun.objects, 12);
    assert.equal(rerun.present, 10, "the two roots and the 8 kept entries");
  } finally {
    await remote.close();
    removeTempDir(dir);
  }
});

test("progress: a large object reports bytes while it streams, and counts once when done", async () => {
  const dir = makeTempDir();
  const remote = LocalRemote.open({ dir: path.join(dir, "remote"), create: true });
  try {
    const a = makeStore(path.join(dir, "a"));
    const { roots } = await fillStore(a, dir, { count: 2, largeBytes: 1 << 20 });
    await pushObjects(a, remote, roots);
    const b = makeStore(path.join(dir, "b"));
    const events: Progress[] = [];
    // The streamed path (HTTP, S3); a directory remote copies by kernel and reports the bytes at once.
    const streamed: Remote = Object.create(remote) as Remote;
    streamed.copyTo = undefined;
    const summary = await fetchObjects(b, streamed, [roots[1]!], { onProgress: (p) => events.push(p) });
    assert.equal(summary.objects, 1);
    assert.ok(
      events.some((p) => p.files === 0 && p.bytes > 0 && p.bytes < (p.bytesTotal ?? 0)),
      "bytes before the object is complete",
    );
    const last = events.at(-1);
    assert.equal(last?.files, 1);
    assert.equal(last?.bytes, 1 << 20);
  } finally {
    await remote.close();
    removeTempDir(dir);
  }
});

test("directory remote: putFile refuses a local object whose size is not the recorded one", async () => {
  const dir = makeTempDir();
  const remote = LocalRemote.open({ dir: path.join(dir, "remote"), create: true });
  try {
    const file = path.join(dir, "obj");
    fs.writeFileSync(file, Buffer.alloc(1000, 1));
    const hash = "a".repeat(64);
    await assert.rejects(remote.putFile({ hash, size: 999 }, file), { code: "ERR_MTRACK_OBJECT_CORRUPT" });
    assert.equal((await remote.has([{ hash, size: 999 }])).size, 0);
    assert.deepEqual(fs.readdirSync(path.join(remote.url, "tmp")), []);
  } finally {
    await remote.close();
    removeTempDir(dir);
  }
});

test("countedReadStream reports every byte it reads", async () => {
  const dir = makeTempDir();
  try {
    const file = path.join(dir, "f");
    fs.writeFileSync(file, Buffer.alloc(300_000, 7));
    let counted = 0;
    const chunks = await countedReadStream(file, (n) => {
      counted += n;
    }).toArray();
    assert.equal(counted, 300_000);
    assert.equal(Buffer.concat(chunks).length, 300_000);
    await assert.rejects(countedReadStream(path.join(dir, "missing"), () => {}).toArray(), {
      code: "ENOENT",
    });
  } finally {
    removeTempDir(dir);
  }
});

test("fetched small objects are packed in the order they were wanted, whatever order the batches arrive in", async () => {
  const dir = makeTempDir();
  const remote = LocalRemote.open({ dir: path.join(dir, "remote"), create: true });
  try {
    const a = makeStore(path.join(dir, "a"));
    // 120 objects of 200 KiB: two batches (16 MiB each at most).
    const entries: TreeEntry[] = [];
    for (let i = 0; i < 120; i++) {
      const r = a.putBuffer(Buffer.alloc(200 << 10, i + 1));
      entries.push({ path: `f${String(i).padStart(3, "0")}`, hash: r.hash, size: r.size, executable: false });
    }
    const tree = a.putBuffer(encodeTree(entries));
    await a.flush();
    const roots = [{ hash: tree.hash, size: 0, tree: true, label: "data" }];
    await pushObjects(a, remote, roots);
    // The first batch answers last.
    const slow: Remote = Object.create(remote) as Remote;
    let calls = 0;
    slow.getBatch = async (hashes, onObject) => {
      if (calls++ === 0) await new Promise((r) => setTimeout(r, 50));
      return remote.getBatch(hashes, onObject);
    };
    const b = makeStore(path.join(dir, "b"));
    const fetched = await fetchObjects(b, slow, roots, { jobs: 2 });
    assert.equal(fetched.objects, 121);
    assert.ok(calls >= 3, "the manifest, then at least two batches");
    const order = new Map(entries.map((e, i) => [e.hash, i]));
    for (const pack of b.packFiles()) {
      const ranks = [...pack.entries()]
        .filter((e) => order.has(e.hash))
        .sort((x, y) => x.offset - y.offset)
        .map((e) => order.get(e.hash)!);
      assert.deepEqual(
        ranks,
        [...ranks].sort((x, y) => x - y),
        "path order within the pack",
      );
    }
  } finally {
    await remote.close();
    removeTempDir(dir);
  }
});

test("fetch copies a remote pack whole when it wants all of it, checks every object, and batches a damaged one", async () => {
  const dir = makeTempDir();
  const remote = LocalRemote.open({ dir: path.join(dir, "remote"), create: true });
  try {
    const a = makeStore(path.join(dir, "a"));
    const { roots, small } = await fillStore(a, dir, { count: 1500 });
    await pushObjects(a, remote, roots);
    const remotePacks = packIds(remote.url);
    const b = makeStore(path.join(dir, "b"));
    const fetched = await fetchObjects(b, remote, roots);
    assert.equal(fetched.objects, 1502);
    // The manifest arrives first (a batch: its own pack); the pack holding the leaves came over as it is.
    const bPacks = packIds(b.dir);
    assert.ok(
      remotePacks.some((id) => bPacks.includes(id)),
      `a remote pack arrived whole (remote ${remotePacks}, local ${bPacks})`,
    );

    corruptInStoreDir(remote.url, small[3]!);
    const c = makeStore(path.join(dir, "c"));
    const damaged = await fetchObjects(c, remote, roots);
    assert.deepEqual(
      damaged.corrupt.map((p) => p.hash),
      [small[3]!],
    );
    assert.ok(!packIds(c.dir).some((id) => remotePacks.includes(id)), "the damaged pack was not installed");
    assert.equal(c.has(small[3]!), false);
    assert.equal(c.has(small[4]!), true);
  } finally {
    await remote.close();
    removeTempDir(dir);
  }
});
