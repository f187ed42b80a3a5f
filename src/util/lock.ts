/**
 * An inter-process lock file (`.mtrack/lock`), so two mtrack processes never write the store or the same
 * pointer files at once. The file is created exclusively and holds the owner's pid and host; a lock left
 * by a process that no longer exists on this host is stale and taken over.
 */
import * as nodeFs from "node:fs";
import * as os from "node:os";
import { errnoCode, ioError, MtrackError } from "../errors.js";
import type { FsLike } from "./fs.js";

export interface LockOptions {
  /** How long to wait for another process to finish, in ms (default 10 s). */
  timeoutMs?: number;
  pollMs?: number;
  fs?: FsLike;
  /** What this process is doing, shown to the process that has to wait. */
  purpose?: string;
}

interface LockInfo {
  pid: number;
  host: string;
  time: string;
  purpose?: string;
}

export type Release = () => void;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === "EPERM";
  }
}

function readInfo(fs: FsLike, file: string): LockInfo | undefined {
  try {
    const info = JSON.parse(fs.readFileSync(file, "utf8")) as LockInfo;
    return typeof info.pid === "number" ? info : undefined;
  } catch {
    return undefined;
  }
}

function tryAcquire(fs: FsLike, file: string, info: LockInfo): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, "wx", 0o644);
  } catch (err) {
    if (errnoCode(err) === "EEXIST") return false;
    throw ioError(err, `creating lock ${file}`);
  }
  try {
    fs.writeSync(fd, JSON.stringify(info));
  } catch (err) {
    // An ownerless lock would block every later command: take it back before failing.
    fs.closeSync(fd);
    try {
      fs.unlinkSync(file);
    } catch {
      // already gone
    }
    throw ioError(err, `writing lock ${file}`);
  }
  fs.closeSync(fd);
  return true;
}

/** A lock file whose owner cannot be read this long after creation was left by a crash mid-create. */
const OWNERLESS_STALE_MS = 60_000;

function ownerlessAndOld(fs: FsLike, file: string, holder: LockInfo | undefined): boolean {
  if (holder) return false;
  try {
    return Date.now() - fs.statSync(file).mtimeMs > OWNERLESS_STALE_MS;
  } catch {
    return false;
  }
}

/**
 * Takes the lock, waiting up to `timeoutMs` for another process; throws ERR_MTRACK_LOCKED after that.
 * Returns the release function (also run on process exit, so a crash-free exit never leaves it behind).
 *
 * @example
 * const release = await acquireLock(".mtrack/lock", { purpose: "add" });
 * try { ... } finally { release(); }
 */
export async function acquireLock(file: string, options: LockOptions = {}): Promise<Release> {
  const fs = options.fs ?? nodeFs;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const pollMs = options.pollMs ?? 50;
  const host = os.hostname();
  const me: LockInfo = { pid: process.pid, host, time: new Date().toISOString(), purpose: options.purpose };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (tryAcquire(fs, file, me)) break;
    const holder = readInfo(fs, file);
    const deadOwner = holder && holder.host === host && holder.pid !== process.pid && !pidAlive(holder.pid);
    if (deadOwner || ownerlessAndOld(fs, file, holder)) {
      // Stale: its owner died (kill -9). Rename first so two waiters cannot both delete a fresh lock.
      const stale = `${file}.stale.${process.pid}`;
      try {
        fs.renameSync(file, stale);
        fs.unlinkSync(stale);
      } catch {
        // someone else took it over first; loop and try again
      }
      continue;
    }
    if (Date.now() >= deadline) {
      throw new MtrackError(
        "ERR_MTRACK_LOCKED",
        `Another mtrack process holds ${file}${holder ? ` (pid ${holder.pid} on ${holder.host}${holder.purpose ? `, running ${holder.purpose}` : ""}, since ${holder.time})` : ""}.`,
        {
          hint: "Wait for it to finish and run the command again. If no mtrack process is running, delete the lock file.",
          data: { lock: file, holder },
        },
      );
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off("exit", release);
    const holder = readInfo(fs, file);
    if (holder && holder.pid === process.pid) {
      try {
        fs.unlinkSync(file);
      } catch {
        // already gone
      }
    }
  };
  process.on("exit", release);
  return release;
}
