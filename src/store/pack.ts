/**
 * Packs: many small objects in one append-only file, so adding 100k small files is a few sequential
 * writes instead of 100k file creations.
 *
 * A pack is two files, `pack-<id>.pack` (a magic header, then object bytes back to back) and
 * `pack-<id>.idx` (sorted entries: 32-byte hash, u64 offset, u64 length; then a BLAKE3 trailer over the
 * whole index). The index is written (temp + rename) only after the pack data is durable on disk, so a
 * pack without an index — what a crash leaves behind — is invisible and `gc` deletes it. mergePacks
 * copies several packs into one the same way (rehashing every object), for the store's consolidation.
 */
import * as path from "node:path";
import { MtrackError } from "../errors.js";
import { type FsLike, fsyncDir, safeUnlink, tmpName, writeAll } from "../util/fs.js";
import { hashBytesRaw } from "./hash.js";
import type { Hash } from "./types.js";

const PACK_MAGIC = Buffer.from("MTPACK\x00\x01", "latin1");
const IDX_MAGIC = Buffer.from("MTIDX\x00\x00\x01", "latin1");
const IDX_HEADER = 16; // magic (8) + count (u32) + reserved (u32)
const ENTRY = 48; // hash (32) + offset (u64) + length (u64)
const TRAILER = 32;
/** Pack data is written in batches of this size: one write per 1 KiB object would dominate. */
const WRITE_BATCH = 8 << 20;
/** How much a sequential reader (a checkout in pack order) reads ahead per system call. */
const READ_AHEAD = 1 << 20;

/** Whether `value` can name a pack written by writePack (32 hex digits: half its index checksum). */
export function isPackId(value: unknown): value is string {
  return typeof value === "string" && /^[0-9a-f]{32}$/.test(value);
}

/** Throws ERR_MTRACK_OBJECT_CORRUPT unless `idx` is a whole pack index (header, length, checksum). */
function checkIndex(idx: Buffer, where: string): void {
  const bad = (why: string) =>
    new MtrackError("ERR_MTRACK_OBJECT_CORRUPT", `Pack index ${where} is damaged: ${why}.`, {
      hint: "Run `mtrack fsck`; objects in this pack may need to be re-added or fetched from a remote.",
      data: { path: where },
    });
  if (idx.length < IDX_HEADER + TRAILER || !idx.subarray(0, 8).equals(IDX_MAGIC)) throw bad("bad header");
  const count = idx.readUInt32LE(8);
  if (idx.length !== IDX_HEADER + count * ENTRY + TRAILER) throw bad("wrong length");
  const body = idx.subarray(0, idx.length - TRAILER);
  if (!hashBytesRaw(body).equals(idx.subarray(idx.length - TRAILER))) throw bad("checksum mismatch");
}

/** One pack with its index loaded in memory (a 100k-object index is 4.8 MB). */
export class PackFile {
  readonly id: string;
  readonly packPath: string;
  readonly idxPath: string;
  readonly count: number;
  private readonly idx: Buffer;
  private fd: number | undefined;
  // Read-ahead window for readTransient: pack bytes [windowStart, windowStart + windowLength).
  private window: Buffer | undefined;
  private windowStart = 0;
  private windowLength = 0;
  private lastEnd = -1;

  constructor(
    private readonly fs: FsLike,
    dir: string,
    id: string,
    idx: Buffer,
  ) {
    this.id = id;
    this.packPath = path.join(dir, `pack-${id}.pack`);
    this.idxPath = path.join(dir, `pack-${id}.idx`);
    this.idx = idx;
    this.count = idx.readUInt32LE(8);
  }

  /** Loads and validates `pack-<id>.idx`; throws ERR_MTRACK_OBJECT_CORRUPT when the index is damaged. */
  static open(fs: FsLike, dir: string, id: string): PackFile {
    const idxPath = path.join(dir, `pack-${id}.idx`);
    const idx = fs.readFileSync(idxPath);
    checkIndex(idx, idxPath);
    return new PackFile(fs, dir, id, idx);
  }

  /**
   * A pack known by its index bytes alone (a remote's, to plan with); throws ERR_MTRACK_OBJECT_CORRUPT
   * when the index is damaged. Reads need the data at `dir`/pack-<id>.pack.
   */
  static fromIndex(fs: FsLike, dir: string, id: string, idx: Buffer, where: string): PackFile {
    checkIndex(idx, where);
    return new PackFile(fs, dir, id, idx);
  }

  /** The index's bytes as loaded (do not modify). */
  indexBytes(): Buffer {
    return this.idx;
  }

  /** The first 4 bytes of every entry's hash (big-endian), built on the first lookup. */
  private prefixes: Uint32Array | undefined;

  private prefixTable(): Uint32Array {
    if (!this.prefixes) {
      const t = new Uint32Array(this.count);
      for (let i = 0; i < this.count; i++) t[i] = this.idx.readUInt32BE(IDX_HEADER + i * ENTRY);
      this.prefixes = t;
    }
    return this.prefixes;
  }

  /**
   * Binary search for a raw 32-byte hash: over a typed array of 32-bit prefixes (a lookup that misses
   * every pack, as each new object of an `add` does, touches no Buffer), then the full hash on a match.
   */
  find(raw: Buffer): { offset: number; length: number } | undefined {
    const prefixes = this.prefixTable();
    const key = raw.readUInt32BE(0);
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (prefixes[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    // Entries sharing the prefix sit together, in full-hash order.
    for (let i = lo; i < this.count && prefixes[i] === key; i++) {
      const o = IDX_HEADER + i * ENTRY;
      const c = this.idx.compare(raw, 0, 32, o, o + 32);
      if (c === 0) {
        return {
          offset: Number(this.idx.readBigUInt64LE(o + 32)),
          length: Number(this.idx.readBigUInt64LE(o + 40)),
        };
      }
      // compare() orders the index entry against the hash: past it (c > 0), no later entry can match.
      if (c > 0) break;
    }
    return undefined;
  }

  /** Every entry in hash order. */
  *entries(): Iterable<{ hash: Hash; offset: number; length: number }> {
    for (let i = 0; i < this.count; i++) {
      const o = IDX_HEADER + i * ENTRY;
      yield {
        hash: this.idx.toString("hex", o, o + 32),
        offset: Number(this.idx.readBigUInt64LE(o + 32)),
        length: Number(this.idx.readBigUInt64LE(o + 40)),
      };
    }
  }

  /** Reads one object's bytes (the pack file stays open for the next read). */
  read(offset: number, length: number): Buffer {
    const buf = Buffer.allocUnsafe(length);
    this.readInto(buf, length, offset);
    return buf;
  }

  /**
   * read() for a caller that uses the bytes at once (writes them to a file): the result is a view that
   * the next readTransient() on this pack may overwrite. Objects read one after the other in pack order
   * (a checkout of a directory whose files were added together) are served from a READ_AHEAD window, so
   * 100k small files cost ~100 reads instead of 100k; other access patterns read just the object.
   */
  readTransient(offset: number, length: number): Buffer {
    const w = this.window;
    if (w && offset >= this.windowStart && offset + length <= this.windowStart + this.windowLength) {
      this.lastEnd = offset + length;
      return w.subarray(offset - this.windowStart, offset - this.windowStart + length);
    }
    const sequential = offset === this.lastEnd;
    this.lastEnd = offset + length;
    if (!sequential || length > READ_AHEAD) return this.read(offset, length);
    this.window ??= Buffer.allocUnsafe(READ_AHEAD);
    this.windowStart = offset;
    this.windowLength = this.readInto(this.window, length, offset);
    return this.window.subarray(0, length);
  }

  /** Reads at least `min` bytes at `offset` into `buf` (as many as fit, up to the end of the pack). */
  private readInto(buf: Buffer, min: number, offset: number): number {
    if (this.fd === undefined) this.fd = this.fs.openSync(this.packPath, "r");
    let got = 0;
    while (got < min) {
      const n = this.fs.readSync(this.fd, buf, got, buf.length - got, offset + got);
      if (n === 0) {
        throw new MtrackError("ERR_MTRACK_OBJECT_CORRUPT", `Pack ${this.packPath} is truncated.`, {
          hint: "Run `mtrack fsck` to list the damaged objects.",
          data: { path: this.packPath },
        });
      }
      got += n;
    }
    return got;
  }

  close(): void {
    if (this.fd !== undefined) this.fs.closeSync(this.fd);
    this.fd = undefined;
    this.window = undefined;
    this.lastEnd = -1;
  }
}

/**
 * Writes `objects` as a new pack in `dir`: pack data first (fsynced), then its index. Returns the pack id.
 * Objects must be distinct; order does not matter to readers (the index is sorted here). The data goes in
 * the order given, so objects added in path order are read back sequentially by a checkout in that order.
 * Temp files go to `tmpDir` (same filesystem), where gc finds the leftovers of an interrupted write.
 *
 * @example
 * const id = writePack(fs, store.packsDir, [{ raw: hashBytesRaw(data), data }], store.tmpDir);
 */
export function writePack(
  fs: FsLike,
  dir: string,
  objects: Array<{ raw: Buffer; data: Uint8Array }>,
  tmpDir: string = dir,
): string {
  const offsets = new Array<number>(objects.length);
  let offset = PACK_MAGIC.length;
  for (let i = 0; i < objects.length; i++) {
    offsets[i] = offset;
    offset += objects[i]!.data.length;
  }
  const { idx, id } = buildIndex(
    objects.map((o, i) => ({ raw: o.raw, offset: offsets[i]!, length: o.data.length })),
  );

  const packTmp = writeTempPack(fs, tmpDir, (fd) =>
    writeObjectData(fs, fd, objects, offset - PACK_MAGIC.length),
  );
  installPack(fs, dir, tmpDir, packTmp, idx, id);
  return id;
}

/**
 * Writes a pack's data to a new temp file in `tmpDir`: the pack header, then whatever `write` puts after
 * it, then an fsync. Returns the temp file's path; on any failure the file is gone and the error thrown.
 */
function writeTempPack(fs: FsLike, tmpDir: string, write: (fd: number) => void): string {
  const packTmp = tmpName(tmpDir, "pack");
  const fd = fs.openSync(packTmp, "wx", 0o444);
  try {
    writeAll(fs, fd, PACK_MAGIC);
    write(fd);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    safeUnlink(packTmp, fs);
    throw err;
  }
  fs.closeSync(fd);
  return packTmp;
}

/**
 * The index of a pack holding `entries` (distinct hashes, any order) and the pack's id. The id names the
 * content, so a retried write of the same objects (in the same order) lands on the same names.
 */
function buildIndex(entries: ReadonlyArray<{ raw: Buffer; offset: number; length: number }>): {
  idx: Buffer;
  id: string;
} {
  // Sorting 100k hashes with Buffer.compare is a native call per comparison; a 48-bit numeric prefix
  // decides all but (astronomically rare) ties.
  const prefix = entries.map((o) => o.raw.readUIntBE(0, 6));
  const order = entries.map((_, i) => i);
  order.sort((a, b) => prefix[a]! - prefix[b]! || entries[a]!.raw.compare(entries[b]!.raw));
  const idx = Buffer.alloc(IDX_HEADER + entries.length * ENTRY + TRAILER);
  IDX_MAGIC.copy(idx, 0);
  idx.writeUInt32LE(entries.length, 8);
  order.forEach((k, i) => {
    const o = entries[k]!;
    const e = IDX_HEADER + i * ENTRY;
    o.raw.copy(idx, e);
    idx.writeBigUInt64LE(BigInt(o.offset), e + 32);
    idx.writeBigUInt64LE(BigInt(o.length), e + 40);
  });
  const body = idx.subarray(0, idx.length - TRAILER);
  const sum = hashBytesRaw(body);
  sum.copy(idx, idx.length - TRAILER);
  return { idx, id: sum.toString("hex").slice(0, 32) };
}

/** Reads of a foreign pack's data while it is checked (objects are small: many per read). */
const VERIFY_WINDOW = 8 << 20;

/**
 * Checks a pack that arrived from elsewhere (a fetch's copy of a remote's pack) in `packTmp`: the index is
 * whole, the pack is named by its index checksum, the data starts with the pack header, and every object
 * lies inside the data and hashes to the name its entry gives. The data is read sequentially, in
 * index-offset order, a window at a time. Returns the entries that failed (none: installPack may
 * install it once the data is durable); throws ERR_MTRACK_OBJECT_CORRUPT for a damaged or misnamed index.
 *
 * @example
 * const { bad } = verifyForeignPack(fs, tmp, idxBytes, id, url);
 */
export function verifyForeignPack(
  fs: FsLike,
  packTmp: string,
  idx: Buffer,
  id: string,
  where: string,
): { bad: Hash[]; count: number; bytes: number } {
  checkIndex(idx, where);
  const count = idx.readUInt32LE(8);
  if (idx.toString("hex", idx.length - TRAILER, idx.length - TRAILER + 16) !== id) {
    throw new MtrackError("ERR_MTRACK_OBJECT_CORRUPT", `Pack index ${where} does not match its name ${id}.`, {
      hint: "The remote copy is damaged; the objects are fetched one by one instead.",
      data: { path: where },
    });
  }
  const order = new Uint32Array(count);
  const offsets = new Float64Array(count);
  const lengths = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const e = IDX_HEADER + i * ENTRY;
    order[i] = i;
    offsets[i] = Number(idx.readBigUInt64LE(e + 32));
    lengths[i] = Number(idx.readBigUInt64LE(e + 40));
  }
  order.sort((a, b) => offsets[a]! - offsets[b]!);
  const bad: Hash[] = [];
  let bytes = 0;
  const fd = fs.openSync(packTmp, "r");
  try {
    const size = fs.fstatSync(fd).size;
    const head = Buffer.alloc(PACK_MAGIC.length);
    if (fs.readSync(fd, head, 0, head.length, 0) !== head.length || !head.equals(PACK_MAGIC)) {
      for (let i = 0; i < count; i++)
        bad.push(idx.toString("hex", IDX_HEADER + i * ENTRY, IDX_HEADER + i * ENTRY + 32));
      return { bad, count, bytes };
    }
    let window = Buffer.allocUnsafe(Math.min(VERIFY_WINDOW, Math.max(size, 1)));
    let windowStart = 0;
    let windowLength = 0;
    for (const i of order) {
      const e = IDX_HEADER + i * ENTRY;
      const offset = offsets[i]!;
      const length = lengths[i]!;
      if (offset < PACK_MAGIC.length || offset + length > size) {
        bad.push(idx.toString("hex", e, e + 32));
        continue;
      }
      if (offset < windowStart || offset + length > windowStart + windowLength) {
        if (length > window.length) window = Buffer.allocUnsafe(length);
        windowStart = offset;
        windowLength = 0;
        const want = Math.min(window.length, size - offset);
        while (windowLength < want) {
          const n = fs.readSync(fd, window, windowLength, want - windowLength, offset + windowLength);
          if (n === 0) break;
          windowLength += n;
        }
        if (windowLength < length) {
          bad.push(idx.toString("hex", e, e + 32));
          continue;
        }
      }
      const at = offset - windowStart;
      if (!hashBytesRaw(window.subarray(at, at + length)).equals(idx.subarray(e, e + 32))) {
        bad.push(idx.toString("hex", e, e + 32));
      }
      bytes += length;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { bad, count, bytes };
}

/**
 * Installs a pack whose data sits complete and fsynced in `packTmp`: the pack is renamed in, then its
 * index is written to tmp/ and renamed in last, which is what makes the pack visible. A pack already in
 * `dir` under the same id is left as it is (`packTmp` is deleted): the id is the index's checksum, so it
 * names the same objects at the same places. Also for a fetch's foreign pack once verifyForeignPack
 * found nothing bad.
 */
export function installPack(
  fs: FsLike,
  dir: string,
  tmpDir: string,
  packTmp: string,
  idx: Buffer,
  id: string,
): void {
  if (fs.existsSync(path.join(dir, `pack-${id}.idx`))) {
    safeUnlink(packTmp, fs);
    return;
  }
  const idxTmp = tmpName(tmpDir, "idx");
  const packPath = path.join(dir, `pack-${id}.pack`);
  try {
    fs.renameSync(packTmp, packPath);
    const ifd = fs.openSync(idxTmp, "wx", 0o444);
    try {
      writeAll(fs, ifd, idx);
      fs.fsyncSync(ifd);
    } finally {
      fs.closeSync(ifd);
    }
    fs.renameSync(idxTmp, path.join(dir, `pack-${id}.idx`));
    fsyncDir(dir, fs);
  } catch (err) {
    safeUnlink(packTmp, fs);
    safeUnlink(idxTmp, fs);
    // A pack without an index is invisible; remove it now rather than waiting for gc.
    if (!fs.existsSync(path.join(dir, `pack-${id}.idx`))) safeUnlink(packPath, fs);
    throw err;
  }
}

/** What mergePacks did. */
export interface MergeResult {
  /** The new pack's id. */
  id: string;
  /** Source packs whose every object is now in the new pack (the caller deletes them). */
  merged: PackFile[];
  /** Source packs left out: an object failed its hash check, or the pack could not be read. */
  skipped: Array<{ id: string; error: string }>;
  /** Bytes written to the new pack. */
  bytes: number;
}

/**
 * Copies the objects of `sources` into one new pack in `dir`, rehashing every object on the way so that a
 * damaged pack is never laundered into a clean-looking one: a source with a bad object is left out whole
 * (it stays where it is for fsck to report). Objects present in several sources are written once. The
 * source packs are not touched; deleting them is the caller's job, after this returns. Returns undefined
 * when fewer than two sources could be merged (a copy of one pack gains nothing).
 *
 * @example
 * const r = mergePacks(fs, store.packsDir, store.packFiles().slice(0, 8), store.tmpDir);
 */
export function mergePacks(
  fs: FsLike,
  dir: string,
  sources: readonly PackFile[],
  tmpDir: string = dir,
): MergeResult | undefined {
  const entries: Array<{ raw: Buffer; offset: number; length: number }> = [];
  const taken = new Set<Hash>();
  const merged: PackFile[] = [];
  const skipped: Array<{ id: string; error: string }> = [];
  let pos = PACK_MAGIC.length;
  const packTmp = writeTempPack(fs, tmpDir, (fd) => {
    // Bytes for file positions [batchAt, batchAt + used); written with positional writes, so a source
    // that fails half-way is undone by moving `pos` back (the file is truncated to `pos` at the end).
    const batch = Buffer.allocUnsafe(WRITE_BATCH);
    let batchAt = pos;
    let used = 0;
    const flushBatch = () => {
      let done = 0;
      while (done < used) done += fs.writeSync(fd, batch, done, used - done, batchAt + done);
      batchAt += used;
      used = 0;
    };
    for (const src of sources) {
      const start = pos;
      const mine: Array<{ hash: Hash; raw: Buffer; offset: number; length: number }> = [];
      try {
        // In pack order, so readTransient serves them from its read-ahead window.
        const list = [...src.entries()].sort((a, b) => a.offset - b.offset);
        for (const e of list) {
          if (taken.has(e.hash)) continue;
          const bytes = src.readTransient(e.offset, e.length);
          const raw = hashBytesRaw(bytes);
          if (raw.toString("hex") !== e.hash) throw new Error(`object ${e.hash} does not match its hash`);
          if (used + bytes.length > batch.length) flushBatch();
          if (bytes.length > batch.length) {
            // Larger than a batch (not a small object, but a pack may hold one): written on its own.
            let done = 0;
            while (done < bytes.length)
              done += fs.writeSync(fd, bytes, done, bytes.length - done, pos + done);
            batchAt = pos + bytes.length;
          } else {
            bytes.copy(batch, used);
            used += bytes.length;
          }
          mine.push({ hash: e.hash, raw, offset: pos, length: e.length });
          pos += e.length;
        }
      } catch (err) {
        skipped.push({ id: src.id, error: err instanceof Error ? err.message : String(err) });
        pos = start;
        if (start >= batchAt) used = start - batchAt;
        else {
          batchAt = start;
          used = 0;
        }
        continue;
      } finally {
        src.close();
      }
      for (const m of mine) {
        taken.add(m.hash);
        entries.push(m);
      }
      merged.push(src);
    }
    flushBatch();
    fs.ftruncateSync(fd, pos);
  });
  if (merged.length < 2) {
    safeUnlink(packTmp, fs);
    return undefined;
  }
  const { idx, id } = buildIndex(entries);
  installPack(fs, dir, tmpDir, packTmp, idx, id);
  return { id, merged, skipped, bytes: pos };
}

/** Writes the objects' bytes back to back: in one write when they already sit so, else in batches. */
function writeObjectData(
  fs: FsLike,
  fd: number,
  objects: ReadonlyArray<{ data: Uint8Array }>,
  total: number,
): void {
  const whole = contiguousView(objects);
  if (whole) {
    writeAll(fs, fd, whole);
    return;
  }
  // Copied into one reused buffer: fresh 8 MiB buffers per batch cost page faults and GC for nothing.
  const batch = Buffer.allocUnsafe(Math.min(WRITE_BATCH, total));
  let used = 0;
  for (const o of objects) {
    if (used + o.data.length > batch.length) {
      writeAll(fs, fd, batch.subarray(0, used));
      used = 0;
    }
    if (o.data.length > batch.length) writeAll(fs, fd, o.data);
    else {
      batch.set(o.data, used);
      used += o.data.length;
    }
  }
  writeAll(fs, fd, batch.subarray(0, used));
}

/**
 * One view of all the objects' bytes when they already sit back to back in a single buffer, in order (a
 * store's staged objects do): then the pack data is written without copying it.
 */
function contiguousView(objects: ReadonlyArray<{ data: Uint8Array }>): Uint8Array | undefined {
  const first = objects[0]?.data;
  if (!first) return undefined;
  let end = first.byteOffset + first.byteLength;
  for (let i = 1; i < objects.length; i++) {
    const d = objects[i]!.data;
    if (d.buffer !== first.buffer || d.byteOffset !== end) return undefined;
    end += d.byteLength;
  }
  return new Uint8Array(first.buffer, first.byteOffset, end - first.byteOffset);
}

/** Pack ids present in `dir` (those with an index; a lone .pack is an interrupted write). */
export function listPackIds(fs: FsLike, dir: string): { complete: string[]; orphans: string[] } {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return { complete: [], orphans: [] };
  }
  const set = new Set(names);
  const complete: string[] = [];
  const orphans: string[] = [];
  for (const n of names) {
    const m = /^pack-([0-9a-f]+)\.pack$/.exec(n);
    if (!m?.[1]) continue;
    if (set.has(`pack-${m[1]}.idx`)) complete.push(m[1]);
    else orphans.push(m[1]);
  }
  return { complete: complete.sort(), orphans };
}
