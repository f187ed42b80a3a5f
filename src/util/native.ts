/**
 * The optional native fast path (native/fastfs.c, built into dist/native/fastfs.node by
 * scripts/build-native.mjs). Everything it does has a JavaScript equivalent that gives the same answers;
 * this module only says whether the faster one is there. `MTRACK_NATIVE=0` turns it off (for comparing
 * and for testing the fallback).
 */
import defaultFs, * as fs from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { packageRoot } from "./package-root.js";

/** Numbers per entry in `ScanResult.stats`. */
export const SCAN_FIELDS = 7;
/** Offsets inside one entry's numbers. */
export const F_KIND = 0;
export const F_SIZE = 1;
export const F_MTIME = 2;
export const F_CTIME = 3;
export const F_INO = 4;
export const F_MODE = 5;
export const F_NLINK = 6;
/** `F_KIND` values. */
export const KIND_FILE = 0;
export const KIND_SYMLINK = 1;

export interface ScanResult {
  /** Paths relative to the scanned root, posix separators, joined by "\0", sorted bytewise. */
  names: string;
  /** SCAN_FIELDS numbers per name: kind, size, mtimeMs, ctimeMs, ino, mode, nlink. */
  stats: Float64Array;
  /** The first failure (then names and stats are empty). */
  error?: { errno: number; syscall: string; path: string };
}

/** Numbers per file in `ReadResult.meta`. */
export const READ_FIELDS = 6;
/** Offsets inside one file's numbers: bytes read, errno (0 = ok), then fstat after the read. */
export const R_GOT = 0;
export const R_ERRNO = 1;
export const R_SIZE = 2;
export const R_MTIME = 3;
export const R_CTIME = 4;
export const R_INO = 5;

export interface ReadResult {
  /** File i's bytes start at offsets[i]; up to sizes[i] + 1 of them were read (R_GOT says how many). */
  data: Buffer;
  offsets: Float64Array;
  meta: Float64Array;
}

export interface FastFs {
  scan(root: string, skip: readonly string[], threads: number): ScanResult;
  /** Reads many small files on a few threads (open, read up to size + 1 bytes, fstat, close). */
  readFiles(paths: readonly string[], sizes: Float64Array, threads: number): ReadResult;
  /**
   * Creates many new files (O_EXCL) on a few threads from slices of `data`; returns WRITE_FIELDS numbers
   * per file: errno (0 = ok), then the fstat after writing (size, mtimeMs, ctimeMs, ino).
   */
  writeFiles(
    paths: readonly string[],
    data: Buffer,
    offsets: Float64Array,
    lengths: Float64Array,
    modes: Uint32Array,
    threads: number,
  ): Float64Array;
  /** Hard-links sources to new destinations on a few threads; WRITE_FIELDS numbers per link. */
  linkFiles(sources: readonly string[], dests: readonly string[], threads: number): Float64Array;
  /**
   * flock(fd, LOCK_EX | LOCK_NB): 0 when this open file now holds the lock, else the errno number
   * (EWOULDBLOCK: held elsewhere). Missing from an addon built before it existed.
   */
  tryLock?(fd: number): number;
}

/** Numbers per file in writeFiles' answer, and their offsets. */
export const WRITE_FIELDS = 5;
export const W_ERRNO = 0;
export const W_SIZE = 1;
export const W_MTIME = 2;
export const W_CTIME = 3;
export const W_INO = 4;

let loaded: FastFs | null | undefined;

/** Where the build puts the addon. */
function addonPath(): string | undefined {
  const root = packageRoot();
  const file = root && path.join(root, "dist", "native", "fastfs.node");
  return file && fs.existsSync(file) ? file : undefined;
}

/** The native module, or null when it is not built, cannot load, or MTRACK_NATIVE=0. */
export function fastFs(): FastFs | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.env.MTRACK_NATIVE === "0") return loaded;
  const file = addonPath();
  if (!file) return loaded;
  try {
    loaded = createRequire(import.meta.url)(file) as FastFs;
  } catch {
    loaded = null; // built for another platform, or a damaged file: the JavaScript path serves
  }
  return loaded;
}

/**
 * True for Node's own fs module (as a namespace or a default import): the native code reads the real file
 * system, so an injected fs (a test simulating faults) keeps the JavaScript path.
 */
export function isRealFs(candidate: unknown): boolean {
  return candidate === fs || candidate === defaultFs;
}

/** Threads for the native batch calls: the cores there are, within reason; `MTRACK_THREADS=N` overrides. */
export function walkThreads(): number {
  const set = Number(process.env.MTRACK_THREADS);
  if (Number.isInteger(set) && set >= 1) return Math.min(set, 8);
  return Math.max(1, Math.min(4, os.availableParallelism()));
}

const ERRNO_NAMES = new Map<number, string>(
  Object.entries(os.constants.errno).map(([name, n]) => [n, name] as [number, string]),
);

/** The Node error code for an errno number ("EACCES"). */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `E${errno}`;
}

/** The native error as Node would have thrown it (code, errno, syscall, path), for ioError and callers. */
export function nativeError(e: NonNullable<ScanResult["error"]>, absPath: string): NodeJS.ErrnoException {
  const code = errnoName(e.errno);
  const err: NodeJS.ErrnoException = new Error(`${code}: ${e.syscall} '${absPath}'`);
  err.code = code;
  err.errno = -e.errno;
  err.syscall = e.syscall;
  err.path = absPath;
  return err;
}
