/**
 * Small filesystem helpers shared by every layer: crash-safe writes, temp names, directory creation.
 * The fs module is injected so tests can simulate faults (ENOSPC, EIO) without a special filesystem.
 */
import * as nodeFs from "node:fs";
import * as path from "node:path";
import { ioError } from "../errors.js";

export type FsLike = typeof nodeFs;

let tmpCounter = 0;

/** A unique temp file name in `dir` (same filesystem as the final name, so rename is atomic). */
export function tmpName(dir: string, base = "tmp"): string {
  tmpCounter = (tmpCounter + 1) % 1_000_000_000;
  const rand = Math.floor(Math.random() * 0x7fffffff).toString(36);
  return path.join(dir, `.${base}.${process.pid}.${tmpCounter}.${rand}.tmp`);
}

/** The pid in a name made by `tmpName` (`.<base>.<pid>.<counter>.<rand>.tmp`); undefined for other names. */
export function tmpNamePid(file: string): number | undefined {
  const m = /\.(\d+)\.\d+\.[0-9a-z]+\.tmp$/.exec(path.basename(file));
  if (!m) return undefined;
  const pid = Number(m[1]);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/** Scratch directories this process writes temp files in (registered by the stores that own them). */
const tmpDirsInUse = new Set<string>();

/** Records that this process may leave temp files in `dir`, for `removeOwnTmpFiles` on an interrupt. */
export function registerTmpDir(dir: string): void {
  tmpDirsInUse.add(path.resolve(dir));
}

/**
 * Removes this process's own temp files (named by `tmpName` with its pid) from every registered scratch
 * directory: the clean-up of an interrupted command, which is about to exit. Synchronous and best
 * effort; returns how many files it removed.
 */
export function removeOwnTmpFiles(fs: FsLike = nodeFs): number {
  let n = 0;
  for (const dir of tmpDirsInUse) {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      if (tmpNamePid(name) !== process.pid) continue;
      try {
        fs.rmSync(path.join(dir, name), { force: true, recursive: true });
        n++;
      } catch {
        // best effort: gc removes it later (the pid is dead by then)
      }
    }
  }
  return n;
}

export interface AtomicWriteOptions {
  mode?: number;
  /** fsync the file before renaming it into place (and the directory after). */
  fsync?: boolean;
  fs?: FsLike;
}

/**
 * Replaces `file` with `data` atomically: readers see the old or the new content, never a mix,
 * and a crash (kill -9, ENOSPC) leaves the old file untouched.
 *
 * @example
 * writeFileAtomic("data.mtrack", "hash: ...\n");
 */
export function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): void {
  const fs = options.fs ?? nodeFs;
  const dir = path.dirname(file);
  const tmp = tmpName(dir, path.basename(file));
  try {
    const fd = fs.openSync(tmp, "wx", options.mode ?? 0o666);
    try {
      const buf = typeof data === "string" ? Buffer.from(data) : data;
      let off = 0;
      while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
      if (options.fsync) fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    if (options.fsync) fsyncDir(dir, fs);
  } catch (err) {
    safeUnlink(tmp, fs);
    throw ioError(err, `writing ${file}`);
  }
}

/** fsync a directory so a rename inside it is durable. Best effort: some filesystems refuse. */
export function fsyncDir(dir: string, fs: FsLike = nodeFs): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
  } catch {
    // Directories cannot be fsynced on every platform/filesystem; the data itself was synced.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Unlinks a file, ignoring "not there". */
export function safeUnlink(file: string, fs: FsLike = nodeFs): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // Already gone (or never created): nothing to clean up.
  }
}

/** Writes all of `buf` to `fd` (writeSync may write less than asked). */
export function writeAll(fs: FsLike, fd: number, buf: Uint8Array): void {
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
}

/** True when `p` is `dir` or inside it (both absolute, normalised). */
export function isInside(p: string, dir: string): boolean {
  const rel = path.relative(dir, p);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/** Converts an OS path relative to the repo into the posix form stored in pointers and manifests. */
export function toPosix(rel: string): string {
  return path.sep === "/" ? rel : rel.split(path.sep).join("/");
}
