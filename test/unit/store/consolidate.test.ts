import assert from "node:assert/strict";
import realFs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { planConsolidation } from "../../../src/store/consolidate.js";
import { hashBytes } from "../../../src/store/hash.js";
import { type ConsolidationResult, Store } from "../../../src/store/store.js";
import type { FsLike } from "../../../src/util/fs.js";
import { acquireLock } from "../../../src/util/lock.js";
import { withTempDir } from "../../helpers/tmp.js";

const LIMIT = 8;

function openStore(dir: string, extra: Partial<ConstructorParameters<typeof Store>[0]> = {}): Store {
  const s = new Store({
    dir: path.join(dir, "cache"),
    tmpDir: path.join(dir, "tmp"),
    packThreshold: 1024,
    packLimit: LIMIT,
    ...extra,
  });
  s.init();
  return s;
}

function blob(seed: number, n = 100): Buffer {
  const b = Buffer.alloc(n);
  b.writeUInt32LE(seed, 0);
  for (let i = 4; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

function packCount(dir: string): number {
  return realFs.readdirSync(path.join(dir, "cache", "packs")).filter((n) => n.endsWith(".idx")).length;
}

/** One flush per call, as sealing a run does: `perFlush` new small objects. */
async function flushObjects(store: Store, first: number, perFlush: number): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (let i = 0; i < perFlush; i++) {
    const b = blob(first + i);
    out.set(store.putBuffer(b).hash, b);
  }
  await store.flush();
  return out;
}

function assertAllReadable(store: Store, objects: Map<string, Buffer>): void {
  for (const [hash, b] of objects) assert.ok(store.readObject(hash).equals(b), `object ${hash} reads back`);
}

test("planConsolidation: nothing below the limit; equal small packs all merge; a big pack stays out", () => {
  const small = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `s${i}`, bytes: 10 }));
  assert.deepEqual(planConsolidation(small(4), { limit: 4, factor: 2 }), []);
  assert.equal(planConsolidation(small(5), { limit: 4, factor: 2 }).length, 5);
  const withBig = [...small(5), { id: "big", bytes: 1000 }];
  assert.deepEqual(planConsolidation(withBig, { limit: 4, factor: 2 }).sort(), [
    "s0",
    "s1",
    "s2",
    "s3",
    "s4",
  ]);
  // A pack less than twice the merged small ones joins them.
  const withMid = [...small(5), { id: "mid", bytes: 60 }, { id: "big", bytes: 1000 }];
  assert.ok(planConsolidation(withMid, { limit: 4, factor: 2 }).includes("mid"));
  // A geometric progression is left alone unless the count forces a merge of the smallest.
  const geo = [1, 2, 4, 8, 16].map((b, i) => ({ id: `g${i}`, bytes: b * 10 }));
  assert.deepEqual(planConsolidation(geo, { limit: 10, factor: 2, all: true }), []);
  assert.deepEqual(planConsolidation(geo, { limit: 4, factor: 2 }), ["g0", "g1"]);
});

test("many small flushes keep the pack count at or under the limit, every object readable", () =>
  withTempDir(async (dir) => {
    const store = openStore(dir);
    const all = new Map<string, Buffer>();
    for (let f = 0; f < 100; f++) {
      for (const [h, b] of await flushObjects(store, f * 3, 3)) all.set(h, b);
      assert.ok(packCount(dir) <= LIMIT, `after flush ${f}: ${packCount(dir)} packs`);
    }
    assertAllReadable(store, all);
    const fresh = openStore(dir);
    assertAllReadable(fresh, all);
    assert.equal(new Set([...fresh.list()].map((o) => o.hash)).size, all.size);
    assert.deepEqual(fresh.leftovers(), [], "no temp files or orphan packs left");
  }));

test("bytes rewritten over n flushes grow like n log n, not n²", () =>
  withTempDir(async (dir) => {
    let rewritten = 0;
    const store = openStore(dir, { onConsolidate: (e: ConsolidationResult) => (rewritten += e.bytes) });
    const n = 512;
    const objectBytes = 100;
    for (let f = 0; f < n; f++) await flushObjects(store, f, 1);
    const total = n * objectBytes;
    // Each byte is rewritten only when its pack at least doubles: at most log2(n) times. Merging all
    // packs whenever the limit is passed would rewrite ~ n²/(2·limit) objects = 16,384 objects here.
    const perByte = rewritten / total;
    assert.ok(perByte <= Math.log2(n), `each byte rewritten ${perByte.toFixed(2)} times on average`);
    assert.ok(rewritten > 0);
  }));

/** node:fs whose unlinkSync of a pack index throws while `armed`: a crash after the new index went in. */
function crashingFs(): { fs: FsLike; arm: (on: boolean) => void } {
  let armed = false;
  const fs = {
    ...realFs,
    unlinkSync: (p: realFs.PathLike) => {
      if (armed && String(p).endsWith(".idx"))
        throw Object.assign(new Error("simulated crash"), { code: "EIO" });
      return realFs.unlinkSync(p);
    },
  } as unknown as FsLike;
  return { fs, arm: (on) => (armed = on) };
}

test("a crash between installing the merged pack and deleting the old ones leaves every object readable", () =>
  withTempDir(async (dir) => {
    const crash = crashingFs();
    const store = openStore(dir, { fs: crash.fs, packLimit: Number.POSITIVE_INFINITY });
    const all = new Map<string, Buffer>();
    for (let f = 0; f < 10; f++) for (const [h, b] of await flushObjects(store, f * 2, 2)) all.set(h, b);
    crash.arm(true);
    await assert.rejects(store.consolidate({ all: true }));
    crash.arm(false);
    assert.equal(packCount(dir), 11, "the merged pack is in, the old packs are still there");
    const fresh = openStore(dir);
    assertAllReadable(fresh, all);
    assert.equal(new Set([...fresh.list()].map((o) => o.hash)).size, all.size, "duplicates are listed once");
    for (const h of all.keys()) assert.equal(fresh.verify(h), "ok");
    // The next consolidation drops the duplicates.
    await fresh.consolidate({ all: true });
    assert.equal(packCount(dir), 1);
    assertAllReadable(openStore(dir), all);
  }));

test("automatic consolidation that fails does not fail the flush", () =>
  withTempDir(async (dir) => {
    const crash = crashingFs();
    const store = openStore(dir, { fs: crash.fs });
    const all = new Map<string, Buffer>();
    crash.arm(true);
    for (let f = 0; f <= LIMIT; f++) for (const [h, b] of await flushObjects(store, f, 1)) all.set(h, b);
    crash.arm(false);
    assertAllReadable(openStore(dir), all);
  }));

test("a reader holding the old pack list reads every object after another store consolidated", () =>
  withTempDir(async (dir) => {
    const writer = openStore(dir, { packLimit: Number.POSITIVE_INFINITY });
    const all = new Map<string, Buffer>();
    for (let f = 0; f < 6; f++) for (const [h, b] of await flushObjects(writer, f * 2, 2)) all.set(h, b);
    const reader = openStore(dir);
    for (const h of all.keys()) assert.ok(reader.has(h)); // loads the indexes, opens no pack file
    const r = await openStore(dir).consolidate({ all: true });
    assert.equal(r?.merged.length, 6);
    assert.equal(packCount(dir), 1);
    assertAllReadable(reader, all);
    const out = path.join(dir, "out.bin");
    const [first, bytes] = [...all][0]!;
    realFs.rmSync(out, { force: true });
    reader.reload();
    const stale = openStore(dir);
    assert.ok(stale.has(first));
    await openStore(dir).consolidate({ all: true }); // nothing to do with one pack
    stale.materialize(first, out);
    assert.ok(realFs.readFileSync(out).equals(bytes));
  }));

test("a pack with a damaged object is not merged; it stays, and verify still reports the object", () =>
  withTempDir(async (dir) => {
    const store = openStore(dir, { packLimit: Number.POSITIVE_INFINITY });
    const all = new Map<string, Buffer>();
    const flushes: Array<Map<string, Buffer>> = [];
    for (let f = 0; f < 5; f++) {
      const m = await flushObjects(store, f * 2, 2);
      flushes.push(m);
      for (const [h, b] of m) all.set(h, b);
    }
    const victim = flushes[2]!;
    const victimHash = [...victim.keys()][0]!;
    const pack = store.packFiles().find((p) => p.find(Buffer.from(victimHash, "hex")))!;
    const hit = pack.find(Buffer.from(victimHash, "hex"))!;
    realFs.chmodSync(pack.packPath, 0o644);
    const fd = realFs.openSync(pack.packPath, "r+");
    realFs.writeSync(fd, Buffer.from([0xff ^ all.get(victimHash)![0]!]), 0, 1, hit.offset);
    realFs.closeSync(fd);

    const r = await openStore(dir, { packLimit: Number.POSITIVE_INFINITY }).consolidate({ all: true });
    assert.ok(r);
    assert.deepEqual(
      r.skipped.map((s) => s.id),
      [pack.id],
    );
    assert.equal(r.merged.length, 4);
    assert.ok(realFs.existsSync(pack.idxPath) && realFs.existsSync(pack.packPath), "damaged pack kept");
    const fresh = openStore(dir);
    const merged = fresh.packFiles().find((p) => p.id === r.id)!;
    for (const h of victim.keys()) assert.equal(merged.find(Buffer.from(h, "hex")), undefined, "not copied");
    assert.equal(fresh.verify(victimHash), "corrupt");
    for (const [h, b] of all) if (h !== victimHash) assert.ok(fresh.readObject(h).equals(b));
  }));

test("two stores consolidating at once: one merges, the other skips, nothing is lost", () =>
  withTempDir(async (dir) => {
    const writer = openStore(dir, { packLimit: Number.POSITIVE_INFINITY });
    const all = new Map<string, Buffer>();
    for (let f = 0; f < 12; f++) for (const [h, b] of await flushObjects(writer, f * 2, 2)) all.set(h, b);
    const a = openStore(dir);
    const b = openStore(dir);
    const results = await Promise.all([a.consolidate({ all: true }), b.consolidate({ all: true })]);
    assert.equal(results.filter((r) => r !== undefined).length, 1);
    assertAllReadable(a, all);
    assertAllReadable(b, all);
    assertAllReadable(openStore(dir), all);

    // While another process holds the lock, consolidation is skipped and changes nothing.
    for (let f = 12; f < 16; f++) for (const [h, bb] of await flushObjects(writer, f * 2, 2)) all.set(h, bb);
    const before = packCount(dir);
    const release = await acquireLock(a.packLockPath, { timeoutMs: 0 });
    try {
      assert.equal(await b.consolidate({ all: true }), undefined);
      assert.equal(packCount(dir), before);
    } finally {
      release();
    }
    assert.ok(await b.consolidate({ all: true }));
    // The four new packs merge; the big one is more than twice their size and stays as it is.
    assert.equal(packCount(dir), 2);
    assertAllReadable(openStore(dir), all);
  }));

test("merged objects keep their bytes and hashes (a mix of sizes, duplicates across packs)", () =>
  withTempDir(async (dir) => {
    const store = openStore(dir, { packLimit: Number.POSITIVE_INFINITY });
    const all = new Map<string, Buffer>();
    for (let f = 0; f < 4; f++) {
      for (let i = 0; i < 5; i++) {
        const b = blob(f * 100 + i, 10 + ((f * 37 + i * 101) % 1000));
        all.set(store.putBuffer(b).hash, b);
      }
      await store.flush();
    }
    for (const [h, b] of all) assert.equal(hashBytes(b), h);
    const r = await store.consolidate({ all: true });
    assert.equal(r?.merged.length, 4);
    assert.equal([...openStore(dir).packFiles()][0]?.count, all.size);
    assertAllReadable(openStore(dir), all);
  }));

test("the merged pack looks as young as the youngest pack it absorbed (gc --keep-newer judges by mtime)", () =>
  withTempDir(async (dir) => {
    const store = openStore(dir, { packLimit: Number.POSITIVE_INFINITY });
    for (let f = 0; f < 3; f++) await flushObjects(store, f, 1);
    const packs = store.packFiles();
    const times = [Date.now() - 9 * 86400_000, Date.now() - 5 * 86400_000, Date.now() - 7 * 86400_000];
    for (const [i, p] of packs.entries())
      realFs.utimesSync(p.packPath, new Date(times[i]!), new Date(times[i]!));
    const r = await store.consolidate({ all: true });
    assert.ok(r);
    const mtime = realFs.statSync(path.join(dir, "cache", "packs", `pack-${r.id}.pack`)).mtimeMs;
    assert.ok(Math.abs(mtime - Math.max(...times)) < 1000, "mtime of the youngest source");
  }));
