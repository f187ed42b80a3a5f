/**
 * The stat cache: (path, size, mtime, inode) → hash, so unchanged files are never hashed again. It is only
 * a cache — deleting `.mtrack/state/stat-cache` loses nothing but speed.
 *
 * Racy files (git's term): a file modified within the same filesystem timestamp tick as it was hashed
 * can keep identical stat data with different content. An entry is trusted only when the file's mtime
 * was at least RACY_MARGIN_MS older than the moment hashing started; younger entries are rehashed (and
 * re-recorded, so the next run trusts them).
 *
 * Tracked directories have their own index (like git's index, one file per directory under
 * `.mtrack/state/dirs/`): the tree hash last computed for the directory, and for each of its files the
 * path, stat data and hash. A `status` compares a fresh listing with it as two arrays (no per-file map,
 * no manifest decoding), and rehashes only the files whose stat data moved. Racy files are stored with
 * a NaN mtime, which never compares equal.
 */
import * as nodeFs from "node:fs";
import * as path from "node:path";
import { Packr } from "msgpackr";
import { hashBytes } from "../store/hash.js";
import type { Hash } from "../store/types.js";
import { type FsLike, writeFileAtomic } from "../util/fs.js";

/** Kernel file timestamps come from a coarse clock (a few ms); this is well above it. */
export const RACY_MARGIN_MS = 100;

const packr = new Packr({ useRecords: false, variableMapSize: true });
const VERSION = 1;

/** [size, mtimeMs, ino, hash, hashedAtMs, ctimeMs] */
type Entry = [number, number, number, Hash, number, number?];

export interface StatLike {
  size: number;
  mtimeMs: number;
  ino: number;
  /** Compared when known: an edit that restores the old mtime still changes ctime (as git checks). */
  ctimeMs?: number;
}

/** Numbers per file in a DirIndex's `stats` (same layout as a Listing's: size, mtime, ctime, ino, exec). */
const INDEX_FIELDS = 5;
const INDEX_MAGIC = Buffer.from("MTDIRIX1");

/** A tracked directory as it was when its tree hash was last computed. */
export interface DirIndex {
  /** The directory's tree hash then. */
  tree: Hash;
  /** Total bytes of its files. */
  size: number;
  count: number;
  /** Sorted relative paths joined by "\0", as in Listing.names. */
  names: string;
  /** INDEX_FIELDS numbers per file; mtime NaN for a racy (untrusted) entry. */
  stats: Float64Array;
  /** 32 bytes (BLAKE3-256) per file. */
  hashes: Buffer;
}

/** True when two stats arrays are equal element by element (NaN never equals: racy entries fail). */
export function sameStats(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function encodeIndex(rel: string, idx: DirIndex): Buffer {
  const relBytes = Buffer.from(rel);
  const namesBytes = Buffer.from(idx.names);
  const head = Buffer.alloc(8 + 4 + 4 + 4 + 8 + 32);
  INDEX_MAGIC.copy(head, 0);
  head.writeUInt32LE(idx.count, 8);
  head.writeUInt32LE(relBytes.length, 12);
  head.writeUInt32LE(namesBytes.length, 16);
  head.writeDoubleLE(idx.size, 20);
  Buffer.from(idx.tree, "hex").copy(head, 28);
  const unpadded = head.length + relBytes.length + namesBytes.length;
  const pad = Buffer.alloc((8 - (unpadded % 8)) % 8);
  const stats = Buffer.from(idx.stats.buffer, idx.stats.byteOffset, idx.stats.byteLength);
  return Buffer.concat([head, relBytes, namesBytes, pad, stats, idx.hashes]);
}

/** Decodes an index file; undefined when it is damaged, from another version, or for another path. */
function decodeIndex(buf: Buffer, rel: string): DirIndex | undefined {
  if (buf.length < 60 || !buf.subarray(0, 8).equals(INDEX_MAGIC)) return undefined;
  const count = buf.readUInt32LE(8);
  const relLen = buf.readUInt32LE(12);
  const namesLen = buf.readUInt32LE(16);
  const size = buf.readDoubleLE(20);
  const tree = buf.toString("hex", 28, 60);
  let off = 60;
  if (buf.toString("utf8", off, off + relLen) !== rel) return undefined;
  off += relLen;
  const names = buf.toString("utf8", off, off + namesLen);
  off += namesLen;
  off += (8 - (off % 8)) % 8;
  const statsBytes = count * INDEX_FIELDS * 8;
  if (buf.length !== off + statsBytes + count * 32) return undefined;
  // A copy: the file's buffer is not 8-byte aligned in memory.
  const stats = new Float64Array(count * INDEX_FIELDS);
  Buffer.from(stats.buffer).set(buf.subarray(off, off + statsBytes));
  const hashes = buf.subarray(off + statsBytes);
  return { tree, size, count, names, stats, hashes };
}

export class StatCache {
  // Everything loads on first use: a status whose directories all match their indexes never needs the
  // per-file entries (100k of them take longer to decode than the index check takes in total).
  private entriesMap: Map<string, Entry> | undefined;
  private dirty = false;
  /** Loaded (or recorded) directory indexes; null = none on disk, or dropped. */
  private readonly indexes = new Map<string, DirIndex | null>();
  private readonly indexesDirty = new Set<string>();

  private constructor(
    private readonly file: string,
    private readonly dirsDir: string,
    private readonly fs: FsLike,
  ) {}

  /** Opens the cache (a missing or unreadable cache is an empty one). Nothing is read until needed. */
  static load(stateDir: string, fs: FsLike = nodeFs): StatCache {
    return new StatCache(path.join(stateDir, "stat-cache"), path.join(stateDir, "dirs"), fs);
  }

  private get entries(): Map<string, Entry> {
    if (!this.entriesMap) {
      this.entriesMap = new Map();
      try {
        const doc = packr.unpack(this.fs.readFileSync(this.file)) as {
          v?: number;
          paths?: string[];
          rows?: Entry[];
        };
        if (doc.v === VERSION && Array.isArray(doc.paths) && Array.isArray(doc.rows)) {
          const { paths, rows } = doc;
          // A loop, not new Map(pairs): 100k throwaway [path, row] pairs are garbage for nothing.
          const map = new Map<string, Entry>();
          for (let i = 0; i < paths.length; i++) map.set(paths[i]!, rows[i]!);
          this.entriesMap = map;
        }
      } catch {
        // No cache yet, or a damaged one: start empty.
      }
    }
    return this.entriesMap;
  }

  private indexFile(rel: string): string {
    return path.join(this.dirsDir, hashBytes(Buffer.from(rel)).slice(0, 32));
  }

  /** The index of a tracked directory, if one was recorded. */
  dirIndex(rel: string): DirIndex | undefined {
    let idx = this.indexes.get(rel);
    if (idx === undefined) {
      idx = null;
      try {
        idx = decodeIndex(this.fs.readFileSync(this.indexFile(rel)), rel) ?? null;
      } catch {
        // none yet, or unreadable: no index
      }
      this.indexes.set(rel, idx);
    }
    return idx ?? undefined;
  }

  /** Records a directory's index (written by save()). */
  recordDirIndex(rel: string, idx: DirIndex): void {
    const old = this.dirIndex(rel);
    if (old && old.tree === idx.tree && old.names === idx.names && sameStats(old.stats, idx.stats)) return;
    this.indexes.set(rel, idx);
    this.indexesDirty.add(rel);
  }

  /** Drops a directory's index (its files were rewritten in a way the index does not know). */
  forgetDirIndex(rel: string): void {
    if (this.dirIndex(rel) === undefined && !this.indexesDirty.has(rel)) return;
    this.indexes.set(rel, null);
    this.indexesDirty.add(rel);
  }

  /** The cached hash for `rel` when its stat data is unchanged and the entry is not racy. */
  lookup(rel: string, st: StatLike): Hash | undefined {
    const e = this.entries.get(rel);
    if (!e) return undefined;
    if (e[0] !== st.size || e[1] !== st.mtimeMs || e[2] !== st.ino) return undefined;
    if (st.ctimeMs !== undefined && e[5] !== st.ctimeMs) return undefined;
    if (e[4] - e[1] < RACY_MARGIN_MS) return undefined;
    return e[3];
  }

  /** Records a hash computed from content read after `hashedAtMs`. */
  record(rel: string, st: StatLike, hash: Hash, hashedAtMs: number): void {
    const e = this.entries.get(rel);
    if (
      e &&
      e[0] === st.size &&
      e[1] === st.mtimeMs &&
      e[2] === st.ino &&
      e[3] === hash &&
      e[4] === hashedAtMs &&
      e[5] === st.ctimeMs
    )
      return;
    this.entries.set(rel, [st.size, st.mtimeMs, st.ino, hash, hashedAtMs, st.ctimeMs]);
    this.dirty = true;
  }

  forget(rel: string): void {
    if (this.entries.delete(rel)) this.dirty = true;
  }

  /** Drops entries under a directory prefix (e.g. after `mtrack remove`). */
  forgetUnder(prefix: string): void {
    const p = prefix.endsWith("/") ? prefix : `${prefix}/`;
    for (const k of this.entries.keys()) {
      if (k === prefix || k.startsWith(p)) {
        this.entries.delete(k);
        this.dirty = true;
      }
    }
    // Indexes of the directory itself and of tracked directories inside it.
    this.forgetDirIndex(prefix);
    for (const rel of this.indexes.keys()) if (rel.startsWith(p)) this.forgetDirIndex(rel);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Writes what changed (atomically; a concurrent writer's version may win, which is fine). */
  save(): void {
    try {
      if (this.dirty && this.entriesMap) {
        const paths = [...this.entriesMap.keys()];
        const rows = paths.map((p) => this.entriesMap!.get(p)!);
        this.fs.mkdirSync(path.dirname(this.file), { recursive: true });
        writeFileAtomic(this.file, packr.pack({ v: VERSION, paths, rows }), { fs: this.fs });
        this.dirty = false;
      }
      for (const rel of this.indexesDirty) {
        const idx = this.indexes.get(rel);
        const file = this.indexFile(rel);
        if (idx) {
          this.fs.mkdirSync(this.dirsDir, { recursive: true });
          writeFileAtomic(file, encodeIndex(rel, idx), { fs: this.fs });
        } else this.fs.rmSync(file, { force: true });
      }
      this.indexesDirty.clear();
    } catch {
      // Failing to save a cache must never fail the command (e.g. a full disk after the real work is done).
    }
  }
}
