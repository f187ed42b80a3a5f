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

/** [size, mtimeMs, ino, hash, hashedAtMs, ctimeMs] */
type Entry = [number, number, number, Hash, number, number?];

export interface StatLike {
  size: number;
  mtimeMs: number;
  ino: number;
  /** Compared when known: an edit that restores the old mtime still changes ctime (as git checks). */
  ctimeMs?: number;
}

/** What a directory's files looked like (stat data digest) when its tree hash was last computed. */
export interface DirSummary {
  digest: string;
  hash: Hash;
  size: number;
  files: number;
}

export class StatCache {
  // Both maps load on first use: a status whose directories all match their summaries never needs the
  // per-file entries (100k of them take longer to decode than the summary check takes in total).
  private entriesMap: Map<string, Entry> | undefined;
  private summariesMap: Map<string, DirSummary> | undefined;
  private dirty = false;
  private summariesDirty = false;

  private constructor(
    private readonly file: string,
    private readonly summariesFile: string,
    private readonly fs: FsLike,
  ) {}

  /** Opens the cache (a missing or unreadable cache is an empty one). Nothing is read until needed. */
  static load(stateDir: string, fs: FsLike = nodeFs): StatCache {
    return new StatCache(path.join(stateDir, "stat-cache"), path.join(stateDir, "dir-summaries"), fs);
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

  private get summaries(): Map<string, DirSummary> {
    if (!this.summariesMap) {
      this.summariesMap = new Map();
      try {
        const doc = packr.unpack(this.fs.readFileSync(this.summariesFile)) as {
          v?: number;
          dirs?: Record<string, DirSummary>;
        };
        if (doc.v === VERSION && doc.dirs) this.summariesMap = new Map(Object.entries(doc.dirs));
      } catch {
        // none yet
      }
    }
    return this.summariesMap;
  }

  /** The last summary recorded for a tracked directory. */
  summary(rel: string): DirSummary | undefined {
    return this.summaries.get(rel);
  }

  /** Records a directory summary; only call it when every file's hash was trusted (none racy). */
  recordSummary(rel: string, summary: DirSummary): void {
    const old = this.summaries.get(rel);
    if (old && old.digest === summary.digest && old.hash === summary.hash) return;
    this.summaries.set(rel, summary);
    this.summariesDirty = true;
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
    if (this.summaries.delete(prefix)) this.summariesDirty = true;
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
      if (this.summariesDirty && this.summariesMap) {
        this.fs.mkdirSync(path.dirname(this.summariesFile), { recursive: true });
        const dirs = Object.fromEntries(this.summariesMap);
        writeFileAtomic(this.summariesFile, packr.pack({ v: VERSION, dirs }), { fs: this.fs });
        this.summariesDirty = false;
      }
    } catch {
      // Failing to save a cache must never fail the command (e.g. a full disk after the real work is done).
    }
  }
}
