/**
 * Reading the workspace: listing a tracked directory's files and hashing them, with the stat cache so
 * unchanged files are not read again. Optionally stores what it hashes (add/commit) in the same pass.
 */
import type * as nodeFs from "node:fs";
import * as path from "node:path";
import { errnoCode, ioError, MtrackError } from "../errors.js";
import { HASH_CHUNK, hashBytes, hashFd } from "../store/hash.js";
import type { Store } from "../store/store.js";
import { comparePaths, type TreeEntry } from "../store/tree.js";
import type { Hash } from "../store/types.js";
import { type FsLike, isInside } from "../util/fs.js";
import {
  errnoName,
  F_CTIME,
  F_INO,
  F_KIND,
  F_MODE,
  F_MTIME,
  F_NLINK,
  F_SIZE,
  type FastFs,
  fastFs,
  isRealFs,
  KIND_FILE,
  KIND_SYMLINK,
  nativeError,
  R_CTIME,
  R_ERRNO,
  R_GOT,
  R_INO,
  R_MTIME,
  R_SIZE,
  READ_FIELDS,
  type ReadResult,
  SCAN_FIELDS,
  walkThreads,
} from "../util/native.js";
import { ancestorIgnores, IGNORE_FILE, type IgnoreMatcher, readIgnoreFile } from "./ignore.js";
import { type DirIndex, RACY_MARGIN_MS, type StatCache } from "./statcache.js";

export interface ScannedFile {
  /** Posix path relative to the scanned directory. */
  rel: string;
  abs: string;
  size: number;
  mtimeMs: number;
  /** Changes on any write, even one that restores the old mtime afterwards. */
  ctimeMs: number;
  ino: number;
  executable: boolean;
  /** A symlink or a file with several hard links (possibly a link into the store). */
  linked: boolean;
}

/** Progress reported while hashing/storing/checking out: counts so far and totals when known. */
export interface Progress {
  phase: string;
  files: number;
  filesTotal?: number;
  bytes: number;
  bytesTotal?: number;
}

export type ProgressFn = (p: Progress) => void;

/** Names never tracked inside a directory: other tools' metadata. */
const SKIPPED_NAMES = new Set([".git", ".mtrack"]);

/** The scan record of a file from its (followed) stat; `symlink` when it was reached through a link. */
export function statOf(abs: string, st: nodeFs.Stats, rel: string, symlink = false): ScannedFile {
  return {
    rel,
    abs,
    size: st.size,
    mtimeMs: st.mtimeMs,
    ctimeMs: st.ctimeMs,
    ino: st.ino,
    executable: (st.mode & 0o111) !== 0,
    linked: symlink || st.nlink > 1,
  };
}

/**
 * Resolves a symlink found in the workspace: its target must be a regular file inside the repo
 * (following it outside would silently version someone else's data).
 */
export function checkSymlink(abs: string, root: string, fs: FsLike): nodeFs.Stats {
  let real: string;
  try {
    real = fs.realpathSync(abs);
  } catch {
    throw new MtrackError("ERR_MTRACK_PATH_NOT_FOUND", `${abs} is a broken symbolic link.`, {
      hint: "Fix or delete the link.",
      data: { path: abs },
    });
  }
  if (!isInside(real, fs.realpathSync(root))) {
    throw new MtrackError(
      "ERR_MTRACK_SYMLINK_OUTSIDE_REPO",
      `${abs} is a symbolic link to ${real}, outside the repository.`,
      {
        hint: "mtrack does not follow links out of the repository. Copy the data into the repository, or track it where it lives.",
        data: { path: abs, target: real },
      },
    );
  }
  const st = fs.statSync(real);
  if (!st.isFile()) {
    throw new MtrackError(
      "ERR_MTRACK_INVALID_ARGUMENT",
      `${abs} is a symbolic link to a directory; that is not supported.`,
      {
        hint: "Track the directory it points to instead.",
        data: { path: abs, target: real },
      },
    );
  }
  return st;
}

/** Numbers per file in `Listing.stats`: size, mtimeMs, ctimeMs, inode, executable (1/0). */
export const LISTING_FIELDS = 5;

/** Writes file `i`'s LISTING_FIELDS numbers into `stats`. */
function setListingStats(stats: Float64Array, i: number, f: ScannedFile): void {
  const o = i * LISTING_FIELDS;
  stats[o] = f.size;
  stats[o + 1] = f.mtimeMs;
  stats[o + 2] = f.ctimeMs;
  stats[o + 3] = f.ino;
  stats[o + 4] = f.executable ? 1 : 0;
}

/**
 * A walked directory in two forms: compact (`names` + `stats`, what the directory index compares whole)
 * and, made on first use, one ScannedFile per file. A clean `status` of 100k files never needs the second.
 */
export class Listing {
  #files: ScannedFile[] | undefined;
  #make: (() => ScannedFile[]) | undefined;

  private constructor(
    /** Paths relative to the directory, sorted (comparePaths), joined by "\0"; "" when empty. */
    readonly names: string,
    /** LISTING_FIELDS numbers per file, in `names` order. */
    readonly stats: Float64Array,
    readonly count: number,
    files: ScannedFile[] | undefined,
    make: (() => ScannedFile[]) | undefined,
  ) {
    this.#files = files;
    this.#make = make;
  }

  /** The listing of files already scanned (sorted). */
  static of(files: ScannedFile[]): Listing {
    const stats = new Float64Array(files.length * LISTING_FIELDS);
    for (let i = 0; i < files.length; i++) setListingStats(stats, i, files[i]!);
    return new Listing(files.map((f) => f.rel).join("\0"), stats, files.length, files, undefined);
  }

  static lazy(names: string, stats: Float64Array, count: number, make: () => ScannedFile[]): Listing {
    return new Listing(names, stats, count, undefined, make);
  }

  /** One record per file, sorted by path. */
  get files(): ScannedFile[] {
    if (!this.#files) {
      this.#files = this.#make!();
      this.#make = undefined;
    }
    return this.#files;
  }
}

/**
 * Lists every file under `absDir` (recursively, sorted by posix path), skipping `.git`/`.mtrack` and what
 * `.mtrackignore` files ignore (those of the root and the directories down to `absDir`, and those found
 * inside it). Symlinks to files inside the repo are followed; others are refused.
 *
 * This runs over every tracked file on each `status`, so it is written for 100k entries: with the native
 * addon one call lists the tree on a few threads; in JavaScript, names without `Dirent` objects (the
 * `lstat` each file needs anyway gives the type) and paths joined by concatenation (`dir` is already
 * normalised and a name holds no separator; `path.join` re-normalises every time). Without any ignore
 * file the ignore support costs one failed read per directory level above `absDir`.
 *
 * @example
 * listDir("/repo/data", "/repo", fs).files.map((f) => f.rel) // ["a.csv", "sub/b.csv"]
 */
export function listDir(absDir: string, root: string, fs: FsLike): Listing {
  const relDir = repoRel(absDir, root);
  const ignores = ancestorIgnores(root, relDir, fs);
  // The native walk reads the real file system: an injected one (tests simulating faults) walks in JS.
  const native = isRealFs(fs) ? fastFs() : null;
  if (native) return listNative(native, absDir, root, fs, relDir, ignores);
  const out: ScannedFile[] = [];
  const inRepo = (rel: string) => (relDir ? `${relDir}/${rel}` : rel);
  const visit = (dir: string, prefix: string) => {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch (err) {
      throw ioError(err, `listing ${dir}`);
    }
    const base = dir.endsWith(path.sep) ? dir : dir + path.sep;
    // This directory's own ignore file applies to its entries (the top one is read already).
    if (prefix && names.includes(IGNORE_FILE)) {
      const at = inRepo(prefix);
      ignores.add(readIgnoreFile(base + IGNORE_FILE, `${at}/${IGNORE_FILE}`, at, fs));
    }
    for (const name of names) {
      if (SKIPPED_NAMES.has(name)) continue;
      const abs = base + name;
      const rel = prefix ? `${prefix}/${name}` : name;
      const st = fs.lstatSync(abs);
      if (st.isDirectory()) {
        // An ignored directory is not entered (what it holds cannot be re-included, as in git).
        if (!ignores.empty && ignores.checkDir(inRepo(rel)).ignored) continue;
        visit(abs, rel);
        continue;
      }
      if (!ignores.empty && ignores.check(inRepo(rel), false).ignored) continue;
      if (st.isFile()) out.push(statOf(abs, st, rel));
      else if (st.isSymbolicLink()) out.push(statOf(abs, checkSymlink(abs, root, fs), rel, true));
      // sockets, fifos and devices are not data
    }
  };
  visit(absDir, "");
  return Listing.of(out.sort((a, b) => comparePaths(a.rel, b.rel)));
}

/** `abs` relative to `root`, posix separators ("" for the root itself). */
function repoRel(abs: string, root: string): string {
  const rel = path.relative(root, abs);
  return path.sep === "/" ? rel : rel.split(path.sep).join("/");
}

/** `listDir(...).files`. */
export function walkDir(absDir: string, root: string, fs: FsLike): ScannedFile[] {
  return listDir(absDir, root, fs).files;
}

/**
 * Drops the ignored entries from a native scan of `absDir` (names relative to it, sorted). The ignore
 * files found in the scan join `ignores` shallow to deep, each only if its own directory is not ignored.
 */
function filterIgnored(
  names: string,
  stats: Float64Array,
  absDir: string,
  relDir: string,
  ignores: IgnoreMatcher,
  fs: FsLike,
): { names: string; stats: Float64Array } {
  const rels = names === "" ? [] : names.split("\0");
  const inRepo = (rel: string) => (relDir ? `${relDir}/${rel}` : rel);
  const nested = rels
    .filter(
      (r) => r.endsWith(IGNORE_FILE) && (r.length === IGNORE_FILE.length || r.endsWith(`/${IGNORE_FILE}`)),
    )
    .filter((r) => r.includes("/"))
    .sort((a, b) => a.split("/").length - b.split("/").length);
  for (const r of nested) {
    const dir = inRepo(r.slice(0, r.length - IGNORE_FILE.length - 1));
    if (ignores.checkDir(dir).ignored) continue;
    ignores.add(readIgnoreFile(path.join(absDir, ...r.split("/")), inRepo(r), dir, fs));
  }
  if (ignores.empty) return { names, stats };
  const keep: number[] = [];
  for (let i = 0; i < rels.length; i++) if (!ignores.check(inRepo(rels[i]!), false).ignored) keep.push(i);
  if (keep.length === rels.length) return { names, stats };
  const out = new Float64Array(keep.length * SCAN_FIELDS);
  for (let k = 0; k < keep.length; k++) {
    const o = keep[k]! * SCAN_FIELDS;
    out.set(stats.subarray(o, o + SCAN_FIELDS), k * SCAN_FIELDS);
  }
  return { names: keep.map((i) => rels[i]!).join("\0"), stats: out };
}

/** listDir through the native addon: one call, several threads, no Stats object per file. Same answers. */
function listNative(
  native: FastFs,
  absDir: string,
  root: string,
  fs: FsLike,
  relDir: string,
  ignores: IgnoreMatcher,
): Listing {
  const scanned = native.scan(absDir, [...SKIPPED_NAMES, ...ignores.prunableNames()], walkThreads());
  const { error } = scanned;
  const base = absDir.endsWith(path.sep) ? absDir : absDir + path.sep;
  if (error) {
    const abs = error.path ? base + error.path : absDir;
    const err = nativeError(error, abs);
    if (error.syscall === "lstat") throw err;
    throw ioError(err, `listing ${abs}`);
  }
  // Without any ignore file in reach (the common case) the scan is used as it is: one substring search.
  const { names, stats } =
    ignores.empty && !scanned.names.includes(IGNORE_FILE)
      ? scanned
      : filterIgnored(scanned.names, scanned.stats, absDir, relDir, ignores, fs);
  const n = stats.length / SCAN_FIELDS;
  // The common case, regular files only in byte order = string order (true for ASCII names): the compact
  // form straight from the addon's arrays, ScannedFiles only if someone asks.
  let plain = true;
  for (let i = 0; i < n && plain; i++) if (stats[i * SCAN_FIELDS + F_KIND] !== KIND_FILE) plain = false;
  // Names above U+007F may sort differently in UTF-8 bytes and in UTF-16 units.
  if (plain && /[^\x00-\x7f]/.test(names)) plain = false;
  if (!plain) return Listing.of(nativeFiles(names, stats, base, root, fs));
  const compact = new Float64Array(n * LISTING_FIELDS);
  for (let i = 0; i < n; i++) {
    const o = i * SCAN_FIELDS;
    const c = i * LISTING_FIELDS;
    compact[c] = stats[o + F_SIZE]!;
    compact[c + 1] = stats[o + F_MTIME]!;
    compact[c + 2] = stats[o + F_CTIME]!;
    compact[c + 3] = stats[o + F_INO]!;
    compact[c + 4] = (stats[o + F_MODE]! & 0o111) !== 0 ? 1 : 0;
  }
  return Listing.lazy(names, compact, n, () => nativeFiles(names, stats, base, root, fs));
}

/** ScannedFiles from the addon's answer: symlinks followed (or refused), other non-files dropped, sorted. */
function nativeFiles(
  names: string,
  stats: Float64Array,
  base: string,
  root: string,
  fs: FsLike,
): ScannedFile[] {
  const out: ScannedFile[] = [];
  if (names === "") return out;
  const rels = names.split("\0");
  let sorted = true;
  for (let i = 0; i < rels.length; i++) {
    const rel = rels[i]!;
    const o = i * SCAN_FIELDS;
    const kind = stats[o + F_KIND];
    const abs = base + rel;
    if (kind === KIND_FILE) {
      const mode = stats[o + F_MODE]!;
      out.push({
        rel,
        abs,
        size: stats[o + F_SIZE]!,
        mtimeMs: stats[o + F_MTIME]!,
        ctimeMs: stats[o + F_CTIME]!,
        ino: stats[o + F_INO]!,
        executable: (mode & 0o111) !== 0,
        linked: stats[o + F_NLINK]! > 1,
      });
    } else if (kind === KIND_SYMLINK) {
      out.push(statOf(abs, checkSymlink(abs, root, fs), rel, true));
    } else continue;
    // Bytewise (C) order equals JavaScript's string order for everything but some non-BMP names.
    if (sorted && out.length > 1 && comparePaths(out[out.length - 2]!.rel, rel) > 0) sorted = false;
  }
  return sorted ? out : out.sort((a, b) => comparePaths(a.rel, b.rel));
}

function changedWhileReading(file: string): MtrackError {
  return new MtrackError("ERR_MTRACK_FILE_CHANGED", `${file} changed while it was being read.`, {
    hint: "Wait until whatever writes the file has finished, then run the command again.",
    data: { path: file },
  });
}

/** Throws ERR_MTRACK_FILE_CHANGED unless `size` bytes read and the fstat after reading match the listing. */
function checkReadAsListed(f: ScannedFile, size: number, after: { size: number; mtimeMs: number }): void {
  if (size !== f.size || after.size !== f.size || after.mtimeMs !== f.mtimeMs)
    throw changedWhileReading(f.abs);
}

/** Hashes one file, checking it did not change since it was listed. */
export function hashScannedFile(f: ScannedFile, fs: FsLike): Hash {
  let fd: number;
  try {
    fd = fs.openSync(f.abs, "r");
  } catch (err) {
    if (errnoCode(err) === "ENOENT") throw changedWhileReading(f.abs);
    throw ioError(err, `reading ${f.abs}`);
  }
  try {
    let hash: Hash;
    let size: number;
    if (f.size <= HASH_CHUNK) {
      const data = fs.readFileSync(fd);
      hash = hashBytes(data);
      size = data.length;
    } else {
      ({ hash, size } = hashFd(fd, fs));
    }
    checkReadAsListed(f, size, fs.fstatSync(fd));
    return hash;
  } finally {
    fs.closeSync(fd);
  }
}

export interface HashOptions {
  fs: FsLike;
  cache: StatCache;
  /** The directory's last index: files whose stat data still matches take their hash from it. */
  index?: DirIndex;
  /** When given, every file is also put in the store (add/commit). */
  store?: Store;
  onProgress?: ProgressFn;
  clock?: () => number;
}

export interface HashedFiles {
  entries: TreeEntry[];
  /** Every hash came from a trusted index or cache entry, or was read well after the file's mtime. */
  trusted: boolean;
  /** The new index's stats (LISTING_FIELDS per file, mtime NaN where racy) and hashes (32 bytes each). */
  stats: Float64Array;
  hashes: Buffer;
}

/**
 * Turns scanned files into manifest entries, hashing only what changed: a file whose stat data equals its
 * entry in the directory's index (or in the stat cache) keeps that hash. `cacheKeyPrefix` is the
 * directory's repo-relative path (cache keys are repo-relative). Returns what the next index holds.
 */
export async function hashFiles(
  files: readonly ScannedFile[],
  cacheKeyPrefix: string,
  options: HashOptions,
): Promise<HashedFiles> {
  const { fs, cache, store, index } = options;
  let trusted = true;
  const clock = options.clock ?? Date.now;
  const bytesTotal = files.reduce((s, f) => s + f.size, 0);
  const entries: TreeEntry[] = new Array(files.length);
  const stats = new Float64Array(files.length * LISTING_FIELDS);
  const hashes = Buffer.alloc(files.length * 32);
  let bytes = 0;
  let done = 0;
  let lastReport = 0;
  const settle = (i: number, hash: Hash) => {
    const f = files[i]!;
    hashes.write(hash, i * 32, 32, "hex");
    entries[i] = { path: f.rel, hash, size: f.size, executable: f.executable };
    bytes += f.size;
    done++;
    if (options.onProgress && (done - lastReport >= 500 || done === files.length)) {
      lastReport = done;
      options.onProgress({
        phase: store ? "storing" : "hashing",
        files: done,
        filesTotal: files.length,
        bytes,
        bytesTotal,
      });
    }
  };

  // Pass 1: hashes the index or the stat cache still vouches for.
  const indexNames = index && index.count > 0 ? index.names.split("\0") : [];
  const pending: number[] = [];
  let j = 0;
  for (let i = 0; i < files.length; i++) {
    const f = files[i]!;
    setListingStats(stats, i, f);
    let hash: Hash | undefined;
    // Both lists are sorted: a merge join finds the file's index entry.
    while (j < indexNames.length && comparePaths(indexNames[j]!, f.rel) < 0) j++;
    if (j < indexNames.length && indexNames[j] === f.rel) {
      const io = j * LISTING_FIELDS;
      const is = index!.stats;
      if (is[io] === f.size && is[io + 1] === f.mtimeMs && is[io + 2] === f.ctimeMs && is[io + 3] === f.ino) {
        hash = index!.hashes.toString("hex", j * 32, j * 32 + 32);
      }
    }
    if (hash === undefined) hash = cache.lookup(cacheKeyPrefix ? `${cacheKeyPrefix}/${f.rel}` : f.rel, f);
    if (hash === undefined || (store && !store.has(hash))) pending.push(i);
    else settle(i, hash);
  }

  // Pass 2: read and hash (and store) the rest, in path order; small files in batches when the native
  // addon can read them on several threads.
  const native = isRealFs(fs) && pending.length >= READ_BATCH_MIN ? fastFs() : null;
  for (let b = 0; b < pending.length; ) {
    const batch: number[] = [];
    let batchBytes = 0;
    while (b < pending.length && batch.length < READ_BATCH_FILES && batchBytes < READ_BATCH_BYTES) {
      const i = pending[b++]!;
      batch.push(i);
      batchBytes += files[i]!.size;
    }
    const small = native
      ? batch.filter((i) => files[i]!.size < READ_SMALL && (!store || store.packsSize(files[i]!.size)))
      : [];
    const slot = new Map<number, number>();
    const batchHashedAt = clock();
    const read =
      small.length >= READ_BATCH_MIN
        ? native!.readFiles(
            small.map((i) => files[i]!.abs),
            Float64Array.from(small, (i) => files[i]!.size),
            walkThreads(),
          )
        : undefined;
    if (read) for (let k = 0; k < small.length; k++) slot.set(small[k]!, k);
    for (const i of batch) {
      const f = files[i]!;
      let hash: Hash | undefined;
      let hashedAt = batchHashedAt;
      const k = read ? slot.get(i) : undefined;
      if (k !== undefined) hash = hashRead(f, read!, k, store);
      if (hash === undefined) {
        hashedAt = clock();
        hash = store ? (await store.putFile(f.abs, { expect: f })).hash : hashScannedFile(f, fs);
      }
      if (hashedAt - f.mtimeMs < RACY_MARGIN_MS) {
        trusted = false;
        stats[i * LISTING_FIELDS + 1] = Number.NaN; // the index must not vouch for this file next time
      }
      settle(i, hash);
    }
  }
  return { entries, trusted, stats, hashes };
}

/** Batch reads: at most this many files or bytes at once, files under READ_SMALL bytes, and only when
 * there are at least READ_BATCH_MIN of them (below that, the thread start-up is not worth it). */
const READ_BATCH_FILES = 4096;
const READ_BATCH_BYTES = 16 << 20;
const READ_SMALL = 256 << 10;
const READ_BATCH_MIN = 64;

/**
 * The hash of a file from a batch read (stored too with `store`), checked against its listing as the
 * one-file paths check it; undefined when the careful one-file path should decide (an error other than
 * the file vanishing, or only its ctime moved).
 */
function hashRead(f: ScannedFile, read: ReadResult, k: number, store: Store | undefined): Hash | undefined {
  const m = k * READ_FIELDS;
  const errno = read.meta[m + R_ERRNO]!;
  if (errno !== 0) {
    if (errnoName(errno) === "ENOENT") throw changedWhileReading(f.abs);
    return undefined;
  }
  const off = read.offsets[k]!;
  const bytes = read.data.subarray(off, off + read.meta[m + R_GOT]!);
  const after = {
    size: read.meta[m + R_SIZE]!,
    mtimeMs: read.meta[m + R_MTIME]!,
    ctimeMs: read.meta[m + R_CTIME]!,
    ino: read.meta[m + R_INO]!,
  };
  if (store) return store.putReadSmallFile(f.abs, f, bytes, after)?.hash;
  checkReadAsListed(f, bytes.length, after);
  return hashBytes(bytes);
}
