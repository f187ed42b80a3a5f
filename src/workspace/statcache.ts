/**
 * The stat cache: (path, size, mtime, inode) → hash, so unchanged files are never hashed again. It is only
 * a cache — deleting `.mtrack/state/stat-cache` loses nothing but speed.
 *
 * Racy files (git's term): a file modified within the same filesystem timestamp tick as it was hashed
 * can keep identical stat data with different content. An entry is trusted only when the file's mtime
 * was at least RACY_MARGIN_MS older than the moment hashing started; younger entries are rehashed (and
 * re-recorded, so the next run trusts them).
 */
import * as nodeFs from "node:fs";
import * as path from "node:path";
import { Packr } from "msgpackr";
import type { Hash } from "../store/types.js";
import { type FsLike, writeFileAtomic } from "../util/fs.js";

/** Kernel file timestamps come from a coarse clock (a few ms); this is well above it. */
export const RACY_MARGIN_MS = 100;

const packr = new Packr({ useRecords: false, variableMapSize: true });
const VERSION = 1;

/** [size, mtimeMs, ino, hash, hashedAtMs] */
type Entry = [number, number, number, Hash, number];

export interface StatLike {
  size: number;
  mtimeMs: number;
  ino: number;
}

export class StatCache {
  private entries: Map<string, Entry>;
  private dirty = false;

  private constructor(
    private readonly file: string,
    entries: Map<string, Entry>,
    private readonly fs: FsLike,
  ) {
    this.entries = entries;
  }

  /** Loads the cache (a missing or unreadable cache is an empty one). */
  static load(stateDir: string, fs: FsLike = nodeFs): StatCache {
    const file = path.join(stateDir, "stat-cache");
    let entries = new Map<string, Entry>();
    try {
      const doc = packr.unpack(fs.readFileSync(file)) as { v?: number; paths?: string[]; rows?: Entry[] };
      if (doc.v === VERSION && Array.isArray(doc.paths) && Array.isArray(doc.rows)) {
        entries = new Map(doc.paths.map((p, i) => [p, doc.rows![i]!] as [string, Entry]));
      }
    } catch {
      // No cache yet, or a damaged one: start empty.
    }
    return new StatCache(file, entries, fs);
  }

  /** The cached hash for `rel` when its stat data is unchanged and the entry is not racy. */
  lookup(rel: string, st: StatLike): Hash | undefined {
    const e = this.entries.get(rel);
    if (!e) return undefined;
    if (e[0] !== st.size || e[1] !== st.mtimeMs || e[2] !== st.ino) return undefined;
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
      e[4] === hashedAtMs
    )
      return;
    this.entries.set(rel, [st.size, st.mtimeMs, st.ino, hash, hashedAtMs]);
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
  }

  get size(): number {
    return this.entries.size;
  }

  /** Writes the cache if it changed (atomically; a concurrent writer's version may win, which is fine). */
  save(): void {
    if (!this.dirty) return;
    const paths = [...this.entries.keys()];
    const rows = paths.map((p) => this.entries.get(p)!);
    try {
      this.fs.mkdirSync(path.dirname(this.file), { recursive: true });
      writeFileAtomic(this.file, packr.pack({ v: VERSION, paths, rows }), { fs: this.fs });
      this.dirty = false;
    } catch {
      // Failing to save a cache must never fail the command (e.g. a full disk after the real work is done).
    }
  }
}
