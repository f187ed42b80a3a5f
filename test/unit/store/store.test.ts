import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { hashBytes } from "../../../src/store/hash.js";
import { Store } from "../../../src/store/store.js";
import { withTempDir } from "../../helpers/tmp.js";

const THRESHOLD = 1024;

function openStore(dir: string, extra: Partial<ConstructorParameters<typeof Store>[0]> = {}): Store {
  const s = new Store({
    dir: path.join(dir, "cache"),
    tmpDir: path.join(dir, "tmp"),
    packThreshold: THRESHOLD,
    ...extra,
  });
  s.init();
  return s;
}

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

function isMissing(err: unknown): boolean {
  return (err as { code?: string }).code === "ERR_MTRACK_OBJECT_MISSING";
}

test("small objects are packed, large ones loose; both are readable with the right size", () =>
  withTempDir(async (dir) => {
    const store = openStore(dir);
    const small = bytes(100, 1);
    const large = bytes(THRESHOLD * 3, 2);
    const s = store.putBuffer(small);
    const l = store.putBuffer(large);
    assert.deepEqual(s, { hash: hashBytes(small), size: 100, written: true });
    assert.deepEqual(l, { hash: hashBytes(large), size: large.length, written: true });
    await store.flush();
    const fresh = openStore(dir);
    for (const [r, data] of [
      [s, small],
      [l, large],
    ] as const) {
      assert.equal(fresh.has(r.hash), true);
      assert.equal(fresh.sizeOf(r.hash), data.length);
      assert.deepEqual(fresh.readObject(r.hash), data);
      assert.equal(fresh.verify(r.hash), "ok");
    }
    const where = new Map([...fresh.list()].map((o) => [o.hash, o.location]));
    assert.equal(where.get(s.hash), "packed");
    assert.equal(where.get(l.hash), "loose");
    assert.equal(fs.existsSync(fresh.loosePath(l.hash)), true);
    assert.equal(fs.existsSync(fresh.loosePath(s.hash)), false);
  }));

test("putFile stores small and large files (streamed) under their content hash", () =>
  withTempDir(async (dir) => {
    const store = openStore(dir);
    const smallFile = path.join(dir, "s.bin");
    const largeFile = path.join(dir, "l.bin");
    fs.writeFileSync(smallFile, bytes(10, 3));
    fs.writeFileSync(largeFile, bytes(THRESHOLD * 5 + 7, 4));
    const s = await store.putFile(smallFile);
    const l = await store.putFile(largeFile);
    await store.flush();
    assert.equal(s.hash, hashBytes(fs.readFileSync(smallFile)));
    assert.equal(l.hash, hashBytes(fs.readFileSync(largeFile)));
    assert.equal(l.size, THRESHOLD * 5 + 7);
    const fresh = openStore(dir);
    assert.deepEqual(fresh.readObject(l.hash), fs.readFileSync(largeFile));
    assert.deepEqual(fresh.readObject(s.hash), fs.readFileSync(smallFile));
    // Nothing left behind in tmp/ by a successful write.
    assert.deepEqual(fresh.leftovers(), []);
  }));

test("putFile refuses a file whose stat changed since the caller listed it", () =>
  withTempDir(async (dir) => {
    const store = openStore(dir);
    const file = path.join(dir, "f.bin");
    fs.writeFileSync(file, "abc");
    const st = fs.statSync(file);
    fs.appendFileSync(file, "def");
    await assert.rejects(
      store.putFile(file, { expect: { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino } }),
      (e: { code?: string }) => e.code === "ERR_MTRACK_FILE_CHANGED",
    );
    await store.flush();
    assert.equal(store.has(hashBytes(Buffer.from("abc"))), false);
    assert.equal(store.has(hashBytes(Buffer.from("abcdef"))), false);
  }));

test("storing the same content again writes nothing (written: false)", () =>
  withTempDir(async (dir) => {
    const store = openStore(dir);
    const small = bytes(10, 5);
    const large = bytes(THRESHOLD * 2, 6);
    assert.equal(store.putBuffer(small).written, true);
    assert.equal(store.putBuffer(small).written, false, "staged duplicate");
    assert.equal(store.putBuffer(large).written, true);
    assert.equal(store.putBuffer(large).written, false, "loose duplicate");
    await store.flush();
    const fresh = openStore(dir);
    assert.equal(fresh.putBuffer(small).written, false, "packed duplicate in another instance");
    const file = path.join(dir, "copy.bin");
    fs.writeFileSync(file, large);
    assert.equal((await fresh.putFile(file)).written, false, "large file already stored");
    await fresh.flush();
    assert.equal(fresh.packFiles().length, 1, "no second pack for duplicates");
  }));

test("staged small objects are invisible to another Store until flush", () =>
  withTempDir(async (dir) => {
    const a = openStore(dir);
    const data = bytes(50, 7);
    const { hash } = a.putBuffer(data);
    assert.equal(a.has(hash), true);
    assert.deepEqual(a.readObject(hash), data);
    const b = openStore(dir);
    assert.equal(b.has(hash), false);
    assert.equal(b.sizeOf(hash), undefined);
    assert.throws(() => b.readObject(hash), isMissing);
    assert.equal([...b.list()].length, 0);
    await a.flush();
    b.reload();
    assert.equal(b.has(hash), true);
    assert.deepEqual(openStore(dir).readObject(hash), data);
  }));

test("discardStaged drops staged objects without writing them", () =>
  withTempDir(async (dir) => {
    const a = openStore(dir);
    const { hash } = a.putBuffer(bytes(20, 8));
    a.discardStaged();
    await a.flush();
    assert.equal(a.has(hash), false);
    assert.equal(openStore(dir).has(hash), false);
  }));

test("a pack without its index (interrupted write) is invisible and reported as a leftover", () =>
  withTempDir(async (dir) => {
    const a = openStore(dir);
    const { hash } = a.putBuffer(bytes(30, 9));
    await a.flush();
    const idx = a.packFiles()[0]!.idxPath;
    fs.rmSync(idx);
    const fresh = openStore(dir);
    assert.equal(fresh.has(hash), false);
    assert.equal(fresh.leftovers().length, 1);
    assert.deepEqual(fresh.brokenPacks, []);
  }));

test("a damaged pack index is reported, and objects of other packs stay readable", () =>
  withTempDir(async (dir) => {
    const a = openStore(dir);
    const first = a.putBuffer(bytes(40, 10));
    await a.flush();
    const second = a.putBuffer(bytes(40, 11));
    await a.flush();
    const packs = a.packFiles();
    assert.equal(packs.length, 2);
    const damaged = packs.find((p) => p.find(Buffer.from(first.hash, "hex")))!;
    const idx = fs.readFileSync(damaged.idxPath);
    idx[20] = (idx[20] ?? 0) ^ 0xff; // inside the first entry's hash
    fs.chmodSync(damaged.idxPath, 0o644);
    fs.writeFileSync(damaged.idxPath, idx);
    const fresh = openStore(dir);
    assert.equal(fresh.has(second.hash), true);
    assert.deepEqual(fresh.readObject(second.hash), bytes(40, 11));
    assert.equal(fresh.has(first.hash), false);
    assert.deepEqual(
      fresh.brokenPacks.map((p) => p.id),
      [damaged.id],
    );
    // A truncated index is damaged too.
    fs.writeFileSync(damaged.idxPath, idx.subarray(0, idx.length - 5));
    assert.deepEqual(
      openStore(dir).brokenPacks.map((p) => p.id),
      [damaged.id],
    );
  }));

test("verify reports a loose object whose bytes no longer match its name as corrupt", () =>
  withTempDir(async (dir) => {
    const store = openStore(dir);
    const { hash } = store.putBuffer(bytes(THRESHOLD * 2, 12));
    const file = store.loosePath(hash);
    fs.chmodSync(file, 0o644);
    const buf = fs.readFileSync(file);
    buf[5] = (buf[5] ?? 0) ^ 1;
    fs.writeFileSync(file, buf);
    assert.equal(openStore(dir).verify(hash), "corrupt");
    assert.equal(openStore(dir).verify(hashBytes(Buffer.from("never stored"))), "missing");
  }));

test("verify reports a packed object whose bytes were damaged as corrupt", () =>
  withTempDir(async (dir) => {
    const store = openStore(dir);
    const { hash } = store.putBuffer(bytes(100, 13));
    await store.flush();
    const pack = store.packFiles()[0]!;
    const loc = pack.find(Buffer.from(hash, "hex"))!;
    store.close();
    fs.chmodSync(pack.packPath, 0o644);
    const buf = fs.readFileSync(pack.packPath);
    buf[loc.offset + 3] = (buf[loc.offset + 3] ?? 0) ^ 1;
    fs.writeFileSync(pack.packPath, buf);
    assert.equal(openStore(dir).verify(hash), "corrupt");
  }));

test("delete removes packed and loose objects and keeps the survivors readable", () =>
  withTempDir(async (dir) => {
    const store = openStore(dir);
    const objs = [0, 1, 2, 3].map((i) => bytes(64 + i, 20 + i));
    const hashes = objs.map((o) => store.putBuffer(o).hash);
    const big = store.putBuffer(bytes(THRESHOLD * 2, 30)).hash;
    const bigKept = store.putBuffer(bytes(THRESHOLD * 2, 31)).hash;
    await store.flush();
    const r = store.delete(new Set([hashes[0]!, hashes[2]!, big]));
    assert.equal(r.objects, 3);
    assert.equal(r.bytes, 64 + 66 + THRESHOLD * 2);
    for (const s of [store, openStore(dir)]) {
      assert.equal(s.has(hashes[0]!), false);
      assert.equal(s.has(hashes[2]!), false);
      assert.equal(s.has(big), false);
      assert.deepEqual(s.readObject(hashes[1]!), objs[1]);
      assert.deepEqual(s.readObject(hashes[3]!), objs[3]);
      assert.equal(s.verify(bigKept), "ok");
    }
    const fresh = openStore(dir);
    assert.deepEqual([...fresh.list()].map((o) => o.hash).sort(), [hashes[1]!, hashes[3]!, bigKept].sort());
    assert.deepEqual(fresh.brokenPacks, []);
    assert.deepEqual(fresh.leftovers(), []);
    // Deleting every object of a pack removes the pack files.
    fresh.delete(new Set([hashes[1]!, hashes[3]!]));
    assert.deepEqual(
      fs.readdirSync(path.join(dir, "cache", "packs")).filter((n) => n.startsWith("pack-")),
      [],
    );
  }));

test("materialize copies: a writable file with the executable bit requested, independent of the store", () =>
  withTempDir(async (dir) => {
    const store = openStore(dir);
    const small = store.putBuffer(bytes(10, 40)).hash;
    const large = store.putBuffer(bytes(THRESHOLD * 2, 41)).hash;
    await store.flush();
    for (const hash of [small, large]) {
      for (const executable of [false, true]) {
        const dest = path.join(dir, `out-${hash.slice(0, 6)}-${executable}`);
        fs.writeFileSync(dest, "old content");
        store.materialize(hash, dest, { executable });
        assert.deepEqual(fs.readFileSync(dest), store.readObject(hash));
        const st = fs.lstatSync(dest);
        assert.equal(st.isFile(), true);
        assert.equal(st.nlink, 1);
        assert.equal((st.mode & 0o100) !== 0, executable, "owner executable bit");
        assert.notEqual(st.mode & 0o200, 0, "a copy is the user's to edit");
        fs.appendFileSync(dest, "edit");
        assert.equal(store.verify(hash), "ok", "editing the copy does not touch the store");
      }
    }
    assert.deepEqual(
      fs.readdirSync(dir).filter((n) => n.endsWith(".tmp")),
      [],
    );
  }));

test("materialize hardlink/symlink points at a read-only store file; missing objects are reported", () =>
  withTempDir(async (dir) => {
    const store = openStore(dir, { looseOnly: true });
    const hash = store.putBuffer(bytes(10, 42)).hash;
    const exe = store.putBuffer(bytes(11, 43)).hash;
    const hl = path.join(dir, "hl");
    store.materialize(hash, hl, { mode: "hardlink" });
    assert.equal(fs.statSync(hl).ino, fs.statSync(store.loosePath(hash)).ino);
    assert.equal(fs.statSync(hl).mode & 0o222, 0, "linked files are read-only");
    const sl = path.join(dir, "sl");
    store.materialize(hash, sl, { mode: "symlink" });
    assert.equal(fs.lstatSync(sl).isSymbolicLink(), true);
    assert.equal(fs.realpathSync(sl), fs.realpathSync(store.loosePath(hash)));
    const hlx = path.join(dir, "hlx");
    store.materialize(exe, hlx, { mode: "hardlink", executable: true });
    assert.notEqual(fs.statSync(hlx).mode & 0o100, 0);
    // Mode bits live on the shared store inode, so an executable file is a copy even in link modes.
    assert.notEqual(fs.statSync(hlx).ino, fs.statSync(store.loosePath(exe)).ino);
    assert.deepEqual(fs.readFileSync(hlx), bytes(11, 43));
    assert.throws(() => store.materialize(hashBytes(Buffer.from("nope")), path.join(dir, "x")), isMissing);
    assert.equal(fs.existsSync(path.join(dir, "x")), false);
  }));

test("materialize in a link mode copies a packed object out of its pack first", () =>
  withTempDir(async (dir) => {
    const store = openStore(dir);
    const hash = store.putBuffer(bytes(12, 44)).hash;
    await store.flush();
    const hl = path.join(dir, "hl");
    store.materialize(hash, hl, { mode: "hardlink" });
    assert.deepEqual(fs.readFileSync(hl), bytes(12, 44));
    assert.equal(fs.statSync(hl).ino, fs.statSync(store.loosePath(hash)).ino);
  }));

test("materialize hardlinks of identical content keep each file's own executable bit", () =>
  withTempDir(async (dir) => {
    const store = openStore(dir, { looseOnly: true });
    const hash = store.putBuffer(bytes(10, 45)).hash;
    const plain = path.join(dir, "plain");
    const exe = path.join(dir, "exe");
    store.materialize(hash, plain, { mode: "hardlink", executable: false });
    store.materialize(hash, exe, { mode: "hardlink", executable: true });
    assert.notEqual(fs.statSync(exe).mode & 0o100, 0);
    assert.equal(fs.statSync(plain).mode & 0o111, 0, "the non-executable file stays non-executable");
  }));
