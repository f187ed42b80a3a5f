/**
 * A short-lived per-run lock (`active/<runId>.lock`) that serialises the three things that must not
 * overlap on a live run: another process appending to its log (`mtrack log ...`), the owner checking and
 * logging a new param (param immutability across processes), and sealing (which reads the log, then
 * removes it — an append in between would be lost).
 *
 * It is synchronous on purpose: `Run.logParams` is synchronous, and every holder keeps it for
 * milliseconds (a log read and one append), except sealing, which keeps it for one run's store writes.
 * A lock whose holder died on this host is stale and taken over.
 */

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { errnoCode, ioError, MtrackError } from "../errors.js";
import type { Liveness } from "./runlog.js";

/** Path of a run's lock file. */
export function runLockPath(dir: string, runId: string): string {
  return path.join(dir, "active", `${runId}.lock`);
}

/** Options of `withRunLock`. */
export interface RunLockOptions {
  /** How to tell a dead holder; default: this host and `kill(pid, 0)`. */
  liveness: Liveness;
  /** Give up after this long (ms) with ERR_MTRACK_LOCKED. Default 30 s (sealing a large run takes a while). */
  timeoutMs?: number;
}

interface Holder {
  pid: number;
  host: string;
}

function readHolder(file: string): Holder | undefined {
  try {
    const h = JSON.parse(fs.readFileSync(file, "utf8")) as Holder;
    return typeof h.pid === "number" && typeof h.host === "string" ? h : undefined;
  } catch {
    return undefined;
  }
}

/** Blocks the thread briefly; the only synchronous sleep Node offers. */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function tryCreate(file: string, me: Holder): boolean {
  try {
    const fd = fs.openSync(file, "wx");
    try {
      fs.writeSync(fd, JSON.stringify(me));
    } finally {
      fs.closeSync(fd);
    }
    return true;
  } catch (err) {
    if (errnoCode(err) === "EEXIST") return false;
    throw ioError(err, `creating ${file}`);
  }
}

/**
 * Takes the run's lock, waiting for another holder; returns the release function. The lock is not
 * reentrant: a process must not take it twice.
 *
 * @example
 * const release = acquireRunLock(dir, runId, { liveness: localLiveness() });
 * try { appendFrames(activeLogPath(dir, runId), frames); } finally { release(); }
 */
export function acquireRunLock(dir: string, runId: string, options: RunLockOptions): () => void {
  const file = runLockPath(dir, runId);
  const me: Holder = { pid: process.pid, host: os.hostname() };
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let pause = 1;
  for (;;) {
    if (tryCreate(file, me)) break;
    const holder = readHolder(file);
    if (
      holder !== undefined &&
      holder.host === options.liveness.host &&
      holder.pid !== process.pid &&
      !options.liveness.isPidAlive(holder.pid)
    ) {
      // Renamed first, so two waiters that both saw the dead holder cannot delete each other's fresh lock.
      const stale = `${file}.stale-${process.pid}`;
      try {
        fs.renameSync(file, stale);
        fs.rmSync(stale, { force: true });
      } catch {
        // someone else took it over first
      }
      continue;
    }
    if (Date.now() >= deadline) {
      throw new MtrackError("ERR_MTRACK_LOCKED", `Run ${runId} is locked by another process.`, {
        data: { runId, lock: file, holder },
        hint: "Another process is logging to or sealing this run; try again. If none is, delete the lock file.",
      });
    }
    sleepSync(pause);
    pause = Math.min(pause * 2, 50);
  }
  return () => {
    const holder = readHolder(file);
    if (holder?.pid === process.pid) fs.rmSync(file, { force: true });
  };
}

/**
 * Runs `fn` holding the run's lock.
 *
 * @example
 * withRunLock(dir, runId, { liveness }, () => appendFrames(file, frames));
 */
export function withRunLock<T>(dir: string, runId: string, options: RunLockOptions, fn: () => T): T {
  const release = acquireRunLock(dir, runId, options);
  try {
    return fn();
  } finally {
    release();
  }
}
