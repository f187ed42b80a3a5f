/**
 * The fast paths for 100k small files keep the store's guarantees: files read straight into the staging
 * buffer are still checked against the walk's stat, staged bytes handed out survive later flushes, packs
 * written in arrival order read back right in any order, and pack lookups never answer for a malformed id.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { bytesHasher, hashBytes, hashBytesRaw } from "../../../src/store/hash.js";
import { PackFile, verifyForeignPack, writePack } from "../../../src/store/pack.js";
import { Store } from "../../../src/store/store.js";
import { withTempDir } from "../../helpers/tmp.js";

function openStore(dir: string, packThreshold = 4096): Store {
  const s = new Store({ dir: path.join(dir, "cache"), tmpDir: path.join(dir, "tmp"), packThreshold });
  s.init();
  return s;
}

/** `n` bytes, different for every seed. */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  if (n >= 4) b.writeUInt32LE(seed, 0);
  return b;
}

const isChanged = (e: { code?: string }) => e.code === "ERR_MTRACK_FILE_CHANGED";

/** What a directory walk records for a file. */
function listed(file: string) {
  const st = fs.lstatSync(file);
  return { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino };
}

test("bytesHasher gives the same hashes as hashBytes, call after call", () => {
  const hash = bytesHasher();
  for (const n of [0, 1, 1024, 5000]) assert.equal(hash(bytes(n, n)), hashBytes(bytes(n, n)));
});

test("a listed small file is stored from one read, and checked against the listing", () =>
  withTempDir(async (dir) => {
    const store = openStore(dir);
    const file = path.join(dir, "f.bin");
    fs.writeFileSync(file, bytes(1000, 1));
    const r = await store.putFile(file, { expect: listed(file) });
    assert.deepEqual(r, { hash: hashBytes(bytes(1000, 1)), size: 1000, written: true });
    assert.deepEqual(store.readObject(r.hash), bytes(1000, 1));

    // Same size, mtime put back: only ctime moved, as another hard link would also make it. The file is
    // then read with a stat before and after, and stored under the hash of what was read.
    fs.utimesSync(file, 1_700_000_000, 1_700_000_000); // whole seconds, so they can be put back exactly
    const before = listed(file);
    fs.writeFileSync(file, bytes(1000, 2));
    fs.utimesSync(file, 1_700_000_000, 1_700_000_000);
    const reread = await store.putFile(file, { expect: before });
    assert.equal(reread.hash, hashBytes(bytes(1000, 2)));
    assert.deepEqual(store.readObject(reread.hash), bytes(1000, 2));
    fs.linkSync(file, path.join(dir, "twin"));
    assert.equal((await store.putFile(file, { expect: listed(path.join(dir, "twin")) })).written, false);
    // Grown since the listing.
    const short = listed(file);
    fs.appendFileSync(file, "more");
    await assert.rejects(store.putFile(file, { expect: short }), isChanged);
    // Gone since the listing.
    const gone = listed(file);
    fs.rmSync(file);
    await assert.rejects(store.putFile(file, { expect: gone }), isChanged);
    await store.flush();
    assert.equal(store.has(hashBytes(Buffer.concat([bytes(1000, 2), Buffer.from("more")]))), false);
  }));

test("many small files over several flushes: every object readable, staged reads stay valid after a flush", () =>
  withTempDir(async (dir) => {
    // Files up to 1 MiB are packed here, so 40 of them overflow the (16 MiB) staging buffer mid-way.
    const size = 1000 * 1024;
    const store = openStore(dir, 2 * size);
    const filesDir = path.join(dir, "files");
    fs.mkdirSync(filesDir);
    const hashes: string[] = [];
    const count = 40;
    let early: Buffer | undefined;
    for (let i = 0; i < count; i++) {
      const file = path.join(filesDir, `f${i}`);
      fs.writeFileSync(file, bytes(size, i));
      const r = await store.putFile(file, { expect: listed(file) });
      hashes.push(r.hash);
      if (i === 0) early = store.readObject(r.hash);
      // Storing the same content twice stages it once.
      if (i === 5) assert.equal((await store.putFile(file, { expect: listed(file) })).written, false);
    }
    assert.deepEqual(early, bytes(size, 0), "a staged object read before a flush is not overwritten");
    await store.flush();
    assert.ok(store.packFiles().length >= 2, "the staging buffer was flushed when full");
    const fresh = openStore(dir, 2 * size);
    for (let i = 0; i < count; i++) assert.deepEqual(fresh.readObject(hashes[i]!), bytes(size, i));
    for (const i of [0, 33, count - 1]) assert.equal(fresh.verify(hashes[i]!), "ok");
  }));

test("a pack keeps the data in the order given; reads in that order, in reverse and at random agree", () =>
  withTempDir((dir) => {
    const objects = Array.from({ length: 3000 }, (_, i) => {
      const data = bytes(100 + (i % 700), i);
      return { raw: hashBytesRaw(data), data };
    });
    const id = writePack(fs, dir, objects);
    const pack = PackFile.open(fs, dir, id);
    const locate = (o: { raw: Buffer }) => pack.find(o.raw)!;
    // Arrival order: each object starts where the previous one ended (what lets a checkout read ahead).
    assert.equal(locate(objects[1]!).offset, locate(objects[0]!).offset + objects[0]!.data.length);
    for (const order of [objects, [...objects].reverse(), objects.filter((_, i) => i % 7 === 3)]) {
      for (const o of order) {
        const at = locate(o);
        assert.deepEqual(pack.readTransient(at.offset, at.length), o.data);
        assert.deepEqual(pack.read(at.offset, at.length), o.data);
      }
    }
    assert.equal(pack.find(Buffer.alloc(32, 0xee)), undefined);
    pack.close();
  }));

test("pack lookups never answer for an id that is not 64 hex digits", () =>
  withTempDir(async (dir) => {
    const store = openStore(dir);
    const a = store.putBuffer(bytes(10, 1));
    await store.flush();
    assert.equal(store.has(a.hash), true);
    // A lookup of a malformed id right after a good one must not see the good one's bytes.
    for (const bad of [`${a.hash.slice(0, 62)}zz`, a.hash.slice(0, 40), `${a.hash}00`]) {
      assert.equal(store.has(a.hash), true);
      assert.equal(store.sizeOf(bad), undefined);
      assert.throws(
        () => store.readObject(bad),
        (e: { code?: string }) => e.code === "ERR_MTRACK_OBJECT_MISSING",
      );
    }
  }));

test("pack lookups find every object among hashes sharing their first 32 bits (and miss absent ones)", () =>
  withTempDir((dir) => {
    // Hashes with one 4-byte prefix, in scrambled order, around others: the prefix search lands on the
    // first of the run and must walk it in full-hash order.
    const raw = (prefix: number, tail: number) => {
      const b = Buffer.alloc(32, 0x11);
      b.writeUInt32BE(prefix, 0);
      b.writeUInt32BE(tail, 28);
      return b;
    };
    const objects = [
      ...[9, 3, 7, 1, 5].map((t) => ({ raw: raw(0xaabbccdd, t), data: Buffer.from(`same-prefix ${t}`) })),
      { raw: raw(0x00000001, 0), data: Buffer.from("low") },
      { raw: raw(0xaabbccdc, 4), data: Buffer.from("just below") },
      { raw: raw(0xaabbccde, 2), data: Buffer.from("just above") },
      { raw: raw(0xffffffff, 8), data: Buffer.from("high") },
    ];
    const id = writePack(fs, dir, objects);
    const pack = PackFile.open(fs, dir, id);
    for (const o of objects) {
      const hit = pack.find(o.raw);
      assert.ok(hit, `found ${o.raw.toString("hex").slice(0, 8)}…${o.raw.readUInt32BE(28)}`);
      assert.equal(pack.readTransient(hit.offset, hit.length).toString(), o.data.toString());
    }
    for (const t of [0, 2, 4, 6, 8, 10])
      assert.equal(pack.find(raw(0xaabbccdd, t)), undefined, `absent tail ${t}`);
    assert.equal(pack.find(raw(0x00000000, 0)), undefined);
  }));

test("verifyForeignPack: names damaged and out-of-range objects, refuses a misnamed or damaged index", () =>
  withTempDir((dir) => {
    const objects = [0, 1, 2, 3].map((i) => {
      const data = Buffer.from(`object ${i} `.repeat(50 + i));
      return { raw: hashBytesRaw(data), data };
    });
    const id = writePack(fs, dir, objects, dir);
    const pack = path.join(dir, `pack-${id}.pack`);
    const idx = fs.readFileSync(path.join(dir, `pack-${id}.idx`));
    assert.deepEqual(verifyForeignPack(fs, pack, idx, id, "p").bad, []);
    const copy = path.join(dir, "copy.pack");
    const bytes = fs.readFileSync(pack);
    // One byte of object 1 flipped, and the last object cut short.
    const at = 8 + objects[0]!.data.length + 3;
    bytes[at] = (bytes[at] ?? 0) ^ 0xff;
    fs.writeFileSync(copy, bytes.subarray(0, bytes.length - 10));
    const got = verifyForeignPack(fs, copy, idx, id, "p");
    assert.deepEqual(got.bad.sort(), [objects[1]!.raw, objects[3]!.raw].map((r) => r.toString("hex")).sort());
    assert.throws(() => verifyForeignPack(fs, pack, idx, "0".repeat(32), "p"), {
      code: "ERR_MTRACK_OBJECT_CORRUPT",
    });
    const broken = Buffer.from(idx);
    broken[20] = (broken[20] ?? 0) ^ 1;
    assert.throws(() => verifyForeignPack(fs, pack, broken, id, "p"), { code: "ERR_MTRACK_OBJECT_CORRUPT" });
  }));
