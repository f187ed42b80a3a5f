/**
 * An inter-process lock file (`.mtrack/lock`, the registry's `lock`), so two mtrack processes never write
 * the store or the same pointer files at once.
 *
 * Where the native addon has `tryLock` (Linux), the lock is the kernel's: the file is opened and
 * `flock`ed for as long as the process holds it, and the kernel drops that lock when the process dies,
 * however it dies. The file's content (pid, host, purpose) is only a label for the waiting side's
 * message: a label left by a process on another host (a killed container on a bind mount has a new
 * hostname each time) or naming a pid now used by another process no longer blocks anything.
 *
 * Without it (no addon, an injected fs in tests, a filesystem that refuses flock), the file itself is the
 * lock: created exclusively, and taken over only when its owner is provably gone: a pid that no longer
 * runs on this host, or a pid that now belongs to a process started after the lock was written (pids are
 * reused, in containers from 1 again). A label from another host cannot be checked from here: the
 * error then says so and how to clear it.
 */
import * as nodeFs from "node:fs";
import * as os from "node:os";
import { errnoCode, ioError, MtrackError } from "../errors.js";
import type { FsLike } from "./fs.js";
import { fastFs, isRealFs } from "./native.js";

export interface LockOptions {
  /** How long to wait for another process to finish, in ms (default 10 s). */
  timeoutMs?: number;
  pollMs?: number;
  fs?: FsLike;
  /** What this process is doing, shown to the process that has to wait. */
  purpose?: string;
  /**
   * The OS lock (flock) to use; default the native addon's when the fs is Node's own. `null` forces the
   * file-only scheme (tests of the fallback).
   */
  osLock?: ((fd: number) => number) | null;
}

interface LockInfo {
  pid: number;
  host: string;
  time: string;
  purpose?: string;
}

export type Release = () => void;

/** Whether process `pid` exists on this host (EPERM: it does, under another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === "EPERM";
  }
}

/**
 * When process `pid` of this host started (ms since the epoch), from /proc (Linux); undefined where that
 * cannot be read. A process started after a lock was written cannot be the one that wrote it.
 */
export function processStartMs(pid: number, fs: FsLike = nodeFs): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22 (starttime, clock ticks since boot) counts from after the command name, which may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[19]);
    const btime = /^btime (\d+)$/m.exec(fs.readFileSync("/proc/stat", "utf8"))?.[1];
    if (!Number.isFinite(ticks) || btime === undefined) return undefined;
    // USER_HZ is 100 on every Linux ABI Node runs on.
    return Number(btime) * 1000 + (ticks / 100) * 1000;
  } catch {
    return undefined;
  }
}

/** Slack for the comparison of a process's start with a lock's time: btime is in whole seconds. */
const START_SLACK_MS = 2000;

/**
 * Whether the label's owner provably no longer holds the lock: it ran on this host and its pid is gone,
 * or is now another process (started after the label was written). Pure but for the two probes.
 *
 * @example
 * ownerGone(info, os.hostname(), pidAlive, (pid) => processStartMs(pid)) // true for a dead pid
 */
export function ownerGone(
  holder: LockInfo,
  host: string,
  alive: (pid: number) => boolean,
  startedMs: (pid: number) => number | undefined,
): boolean {
  if (holder.host !== host || holder.pid === process.pid) return false;
  if (!alive(holder.pid)) return true;
  const written = Date.parse(holder.time);
  const started = startedMs(holder.pid);
  return Number.isFinite(written) && started !== undefined && started > written + START_SLACK_MS;
}

function parseInfo(text: string): LockInfo | undefined {
  try {
    const info = JSON.parse(text) as LockInfo;
    return typeof info.pid === "number" ? info : undefined;
  } catch {
    return undefined;
  }
}

function readInfo(fs: FsLike, file: string): LockInfo | undefined {
  try {
    return parseInfo(fs.readFileSync(file, "utf8"));
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

/** errno numbers of flock's "held elsewhere" (EWOULDBLOCK is EAGAIN on Linux). */
const HELD = new Set([os.constants.errno.EAGAIN, os.constants.errno.EWOULDBLOCK]);

type Attempt = { fd: number } | "held" | "unsupported";

/**
 * One try at the OS lock: open (creating) the file, flock it, and make sure the file locked is still the
 * one at `file` (a holder unlinks it on release, so a waiter may have locked a file that is gone).
 */
function tryOsLock(fs: FsLike, file: string, flock: (fd: number) => number): Attempt {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
  } catch (err) {
    throw ioError(err, `opening lock ${file}`);
  }
  const rc = flock(fd);
  if (rc !== 0) {
    fs.closeSync(fd);
    return HELD.has(rc) ? "held" : "unsupported";
  }
  try {
    if (fs.fstatSync(fd).ino === fs.statSync(file).ino) return { fd };
  } catch (err) {
    if (errnoCode(err) !== "ENOENT") {
      fs.closeSync(fd);
      throw ioError(err, `checking lock ${file}`);
    }
  }
  fs.closeSync(fd);
  return "held";
}

function lockedError(
  file: string,
  holder: LockInfo | undefined,
  host: string,
  osLocked: boolean,
): MtrackError {
  const elsewhere = holder !== undefined && holder.host !== host;
  const who = holder
    ? ` (pid ${holder.pid} on ${holder.host}${holder.purpose ? `, running ${holder.purpose}` : ""}, since ${holder.time})`
    : "";
  // With the OS lock, a lock that is held has a live holder. Without it, a label from another host
  // cannot be checked from here: only the user can tell whether that process (or container) is gone.
  const hint = osLocked
    ? "Wait for it to finish and run the command again."
    : elsewhere
      ? `It was taken on another host, so mtrack cannot tell whether that process still runs. If no mtrack process runs on ${holder.host} (or that container is gone), remove the lock (\`rm '${file}'\`) and run the command again.`
      : `Wait for it to finish and run the command again. If no mtrack process is running, remove the lock (\`rm '${file}'\`).`;
  return new MtrackError("ERR_MTRACK_LOCKED", `Another mtrack process holds ${file}${who}.`, {
    hint,
    data: { lock: file, holder, osLock: osLocked },
  });
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
  let flock =
    options.osLock === undefined
      ? isRealFs(fs)
        ? fastFs()?.tryLock?.bind(fastFs())
        : undefined
      : (options.osLock ?? undefined);
  let heldFd: number | undefined;
  for (;;) {
    if (flock) {
      const got = tryOsLock(fs, file, flock);
      if (got === "unsupported") {
        flock = undefined; // e.g. a network filesystem without locks: the file alone is the lock
        continue;
      }
      if (got !== "held") {
        const holder = readInfo(fs, file);
        // A label of a live process that holds no OS lock: an mtrack without it (the file-only scheme).
        if (
          holder &&
          !ownerGone(holder, host, pidAlive, (pid) => processStartMs(pid, fs)) &&
          holder.host === host &&
          holder.pid !== process.pid
        ) {
          fs.closeSync(got.fd);
        } else {
          try {
            fs.ftruncateSync(got.fd, 0);
            fs.writeSync(got.fd, JSON.stringify(me), 0);
          } catch (err) {
            fs.closeSync(got.fd);
            throw ioError(err, `writing lock ${file}`);
          }
          heldFd = got.fd;
          break;
        }
      }
    } else {
      if (tryAcquire(fs, file, me)) break;
      const holder = readInfo(fs, file);
      const gone = holder && ownerGone(holder, host, pidAlive, (pid) => processStartMs(pid, fs));
      if (gone || ownerlessAndOld(fs, file, holder)) {
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
    }
    if (Date.now() >= deadline) throw lockedError(file, readInfo(fs, file), host, flock !== undefined);
    await new Promise((r) => setTimeout(r, pollMs));
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off("exit", release);
    const holder = readInfo(fs, file);
    // Unlinked while still held, so no waiter can lock the name between the unlink and the close (a
    // waiter that locked the old file sees it is gone and tries again).
    if (holder && holder.pid === process.pid) {
      try {
        fs.unlinkSync(file);
      } catch {
        // already gone
      }
    }
    if (heldFd !== undefined) {
      try {
        fs.closeSync(heldFd);
      } catch {
        // already closed
      }
    }
  };
  process.on("exit", release);
  return release;
}
