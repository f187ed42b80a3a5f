/**
 * Sealing: turning a run's active log into content-addressed objects (metric series, texts, the run record),
 * publishing its ref and its index entry, then dropping the log. Also the run index and liveness helpers
 * that sealing and reading share.
 */

import fs from "node:fs";
import os from "node:os";
import { Packr, Unpackr } from "msgpackr";
import { ioError, MtrackError } from "../errors.js";
import type { Hash, ObjectStore } from "../store/types.js";
import { appendFrames, decodeFrames, encodeFrame, newPackr, readFrameFile } from "./frames.js";
import {
  activeLogPath,
  deletedPath,
  ensureTrackingDirs,
  listDir,
  refPath,
  trackingPaths,
  writeFileAtomic,
} from "./layout.js";
import { isRunId } from "./names.js";
import { acquireRunLock, withRunLock } from "./runlock.js";
import {
  concatHistory,
  encodeSeries,
  type Liveness,
  type RunLogState,
  replayRunLog,
  type StartRecord,
  statusOf,
  summarizeHistory,
  UNFINISHED_TAG,
} from "./runlog.js";
import type { ArtifactRef, RunRecord, RunSummary, SealedMetric } from "./types.js";

/** Liveness as seen from this process: this host's name and `kill(pid, 0)`. */
export function localLiveness(): Liveness {
  return {
    host: os.hostname(),
    isPidAlive: (pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch (err) {
        // EPERM: the process exists but belongs to someone else.
        return (err as NodeJS.ErrnoException).code === "EPERM";
      }
    },
  };
}

/** One index entry: the sealed record's hash and the run's listing row. */
export interface IndexEntry {
  h: Hash;
  s: RunSummary;
}

/** What `readIndex` found. */
export interface IndexState {
  /** Last entry per run. */
  entries: Map<string, IndexEntry>;
  /** Frames in the append log (they are folded into the snapshot by `compactIndex`). */
  logFrames: number;
  /** True when a file of the index was damaged (its content was skipped). */
  damaged: boolean;
}

/**
 * Reads the run index: the snapshot, then the append log on top of it (last entry per run wins).
 *
 * @example
 * readIndex(dir).entries.get(runId)?.s.status;
 */
export function readIndex(dir: string): IndexState {
  const p = trackingPaths(dir);
  const entries = new Map<string, IndexEntry>();
  let damaged = false;
  const snapshot = readFrameFile(p.indexSnapshot);
  damaged ||= snapshot.torn || snapshot.skippedBytes > 0;
  const blob = snapshot.payloads[0];
  if (blob !== undefined) {
    try {
      const { entries: list } = new Unpackr({ useRecords: true }).unpack(blob) as { entries: IndexEntry[] };
      for (const e of list) entries.set(e.s.runId, e);
    } catch {
      damaged = true;
    }
  }
  const log = readFrameFile(p.index);
  damaged ||= log.skippedBytes > 0;
  const packr = newPackr();
  for (const payload of log.payloads) {
    try {
      const e = packr.unpack(payload) as IndexEntry;
      entries.set(e.s.runId, e);
    } catch {
      damaged = true;
    }
  }
  return { entries, logFrames: log.payloads.length, damaged };
}

/** Appends index entries (one O_APPEND write, so concurrent sealers never lose each other's entries). */
export function appendIndex(dir: string, entries: IndexEntry[]): void {
  if (entries.length === 0) return;
  const packr = newPackr();
  appendFrames(
    trackingPaths(dir).index,
    entries.map((e) => packr.pack(e)),
  );
}

/** A compaction lock older than this is left over from a crashed process. */
const STALE_LOCK_MS = 60_000;

function takeLock(file: string, clock: () => number): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.closeSync(fs.openSync(file, "wx"));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw ioError(err, `creating ${file}`);
      let age = 0;
      try {
        age = clock() - fs.statSync(file).mtimeMs;
      } catch {
        continue; // released meanwhile: try again
      }
      if (age < STALE_LOCK_MS) return false;
      fs.rmSync(file, { force: true });
    }
  }
  return false;
}

/**
 * Folds the append log into the snapshot (one msgpackr blob with records, which unpacks an order of
 * magnitude faster than thousands of small frames). The log is first renamed aside, so appends that
 * happen meanwhile go to a fresh log and are not lost. Only one process compacts at a time (a lock file);
 * if another one is at it, this returns false and does nothing.
 *
 * @example
 * if (readIndex(dir).logFrames > 256) compactIndex(dir);
 */
export function compactIndex(dir: string, clock: () => number = Date.now): boolean {
  const p = trackingPaths(dir);
  const lock = `${p.index}.lock`;
  if (!takeLock(lock, clock)) return false;
  const aside = `${p.index}.compacting-${process.pid}`;
  try {
    try {
      fs.renameSync(p.index, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw ioError(err, `compacting ${p.index}`);
    }
    const entries = new Map<string, IndexEntry>();
    const snapshot = readFrameFile(p.indexSnapshot).payloads[0];
    if (snapshot !== undefined) {
      try {
        for (const e of (new Unpackr({ useRecords: true }).unpack(snapshot) as { entries: IndexEntry[] })
          .entries) {
          entries.set(e.s.runId, e);
        }
      } catch {
        // A damaged snapshot is dropped; listing re-indexes the runs it held from their refs.
      }
    }
    const packr = newPackr();
    for (const payload of readFrameFile(aside).payloads) {
      try {
        const e = packr.unpack(payload) as IndexEntry;
        entries.set(e.s.runId, e);
      } catch {
        // skipped like a torn frame
      }
    }
    const blob = new Packr({ useRecords: true }).pack({ format: 1, entries: [...entries.values()] });
    writeFileAtomic(p.indexSnapshot, encodeFrame(blob));
    fs.rmSync(aside, { force: true });
    return true;
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

/** The listing row of a sealed record. */
export function summaryFromRecord(record: RunRecord, deleted: boolean): RunSummary {
  const metrics: RunSummary["metrics"] = {};
  for (const [k, m] of Object.entries(record.metrics)) {
    metrics[k] = { last: m.last, min: m.min, max: m.max, step: m.step, timestamp: m.timestamp };
  }
  const summary: RunSummary = {
    runId: record.runId,
    experimentId: record.experimentId,
    experimentName: record.experimentName,
    name: record.name,
    status: record.status,
    startTime: record.startTime,
    endTime: record.endTime,
    params: record.params,
    tags: record.tags,
    metrics,
    commit: record.git.commit,
    dirty: record.git.dirty,
    branch: record.git.branch,
    deleted,
  };
  if (record.unfinished) summary.unfinished = true;
  return summary;
}

/** The raw bytes of a run's active log; undefined when there is none. */
export function readActiveLogBytes(dir: string, runId: string): Buffer | undefined {
  try {
    return fs.readFileSync(activeLogPath(dir, runId));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw ioError(err, `reading the log of run ${runId}`);
  }
}

/** Reads a run's active log; undefined when there is none. */
export function readActiveLog(dir: string, runId: string): RunLogState | undefined {
  const bytes = readActiveLogBytes(dir, runId);
  return bytes === undefined ? undefined : replayRunLog(bytes, newPackr());
}

/** The hash a sealed run's ref points at, or undefined when the run is not sealed. */
export function readRef(dir: string, runId: string): Hash | undefined {
  try {
    return fs.readFileSync(refPath(dir, runId), "utf8").trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw ioError(err, `reading the ref of run ${runId}`);
  }
}

/**
 * The sealed record of a run's state: its metric series and texts are put into `store` (only
 * `putBuffer` is used), the record itself is not. Also builds the records the team server hands out for
 * runs that live in its database (src/server/pg/export.ts), so both are one format.
 *
 * @example
 * const { hash } = store.putBuffer(newPackr().pack(buildRecord(state, store, localLiveness())));
 */
export function buildRecord(
  state: RunLogState,
  store: Pick<ObjectStore, "putBuffer">,
  liveness: Liveness,
): RunRecord {
  const start = state.start!;
  const { status: liveStatus, unfinished } = statusOf(state, liveness);
  // Sealing a run nobody ended (its process is gone, or the caller insists) records it as KILLED.
  const status = liveStatus === "RUNNING" ? "KILLED" : liveStatus;
  const dead = unfinished || state.end === undefined;
  const metrics: Record<string, SealedMetric> = {};
  for (const [key, chunks] of state.metrics) {
    const history = concatHistory(chunks);
    const { hash } = store.putBuffer(encodeSeries(history));
    metrics[key] = { ...summarizeHistory(history), count: history.steps.length, hash };
  }
  const artifacts = new Map<string, ArtifactRef>(state.artifacts);
  for (const [name, text] of state.texts) {
    const { hash, size } = store.putBuffer(Buffer.from(text, "utf8"));
    artifacts.set(name, { name, kind: "file", hash, size });
  }
  const tags = { ...state.tags };
  if (dead) tags[UNFINISHED_TAG] = "true";
  return {
    format: 1,
    runId: start.runId,
    experimentId: start.experimentId,
    experimentName: start.experimentName,
    name: start.name,
    status,
    startTime: start.startTime,
    endTime: state.end?.endTime ?? null,
    params: state.params,
    tags,
    metrics,
    artifacts: [...artifacts.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    models: [...state.models.values()],
    git: start.git,
    command: start.command,
    host: start.host,
    pid: start.pid,
    mtrackVersion: start.mtrackVersion,
    unfinished: dead,
    error: state.end?.error ?? null,
  };
}

/**
 * Seals one run from its active log: series, texts and the run record go to the store, the store is
 * flushed, then — holding the run's lock, and only if no other process appended to the log meanwhile —
 * the ref is published atomically, the index entry appended and the log removed (otherwise it starts
 * over, so a `mtrack log` that lands during sealing is never lost). A run without an end record is
 * sealed as KILLED/unfinished. Idempotent: an already sealed run only has its leftover log removed.
 *
 * @example
 * const summary = await sealRun(dir, store, runId);
 */
export async function sealRun(
  dir: string,
  store: ObjectStore,
  runId: string,
  liveness: Liveness = localLiveness(),
): Promise<RunSummary> {
  ensureTrackingDirs(dir);
  for (let attempt = 1; ; attempt++) {
    // Writers that keep appending could make the optimistic attempts go on forever: the last attempt
    // holds the lock throughout (writers wait a moment; only a same-process waiter would stall).
    const release = attempt >= OPTIMISTIC_ATTEMPTS ? acquireRunLock(dir, runId, { liveness }) : undefined;
    try {
      const summary = await sealOnce(dir, store, runId, liveness, release !== undefined);
      if (summary !== undefined) return summary;
    } finally {
      release?.();
    }
  }
}

/** Optimistic sealing attempts before one that holds the run's lock from reading to publishing. */
const OPTIMISTIC_ATTEMPTS = 3;

/** One sealing attempt; undefined when the log grew meanwhile (try again). */
async function sealOnce(
  dir: string,
  store: ObjectStore,
  runId: string,
  liveness: Liveness,
  locked: boolean,
): Promise<RunSummary | undefined> {
  const log = activeLogPath(dir, runId);
  const underLock = <T>(fn: () => T): T => (locked ? fn() : withRunLock(dir, runId, { liveness }, fn));
  const deleted = fs.existsSync(deletedPath(dir, runId));
  const existing = readRef(dir, runId);
  if (existing !== undefined) {
    underLock(() => fs.rmSync(log, { force: true }));
    return summaryFromRecord(newPackr().unpack(store.readObject(existing)) as RunRecord, deleted);
  }
  const bytes = readActiveLogBytes(dir, runId);
  if (bytes === undefined) {
    throw new MtrackError("ERR_MTRACK_RUN_NOT_FOUND", `Run ${runId} has no active log to seal.`, {
      data: { runId, dir },
      hint: "List runs with `mtrack runs list`.",
    });
  }
  const state = replayRunLog(bytes, newPackr());
  if (state.start === undefined || state.start.runId !== runId) {
    throw new MtrackError(
      "ERR_MTRACK_RUN_LOG_CORRUPT",
      `The log of run ${runId} has no valid start record.`,
      {
        data: { runId, file: log },
        hint: "The run cannot be recovered; delete the file if it is in the way.",
      },
    );
  }
  const record = buildRecord(state, store, liveness);
  const { hash } = store.putBuffer(newPackr().pack(record));
  await store.flush();
  return underLock(() => {
    if (readRef(dir, runId) !== undefined) return undefined; // another sealer won: the next attempt reports it
    if (fileSize(log) !== bytes.length) return undefined; // appended meanwhile: seal again
    writeFileAtomic(refPath(dir, runId), `${hash}\n`);
    const s = summaryFromRecord(record, deleted);
    appendIndex(dir, [{ h: hash, s }]);
    fs.rmSync(log, { force: true });
    return s;
  });
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return -1;
    throw ioError(err, `reading ${file}`);
  }
}

/** Bytes read to find a log's start record without reading the whole log. */
const HEAD_BYTES = 64 * 1024;

/**
 * The start record of a run's active log, read from the head of the file only (cheap even for a log of
 * millions of points); undefined when there is no log or no intact start record.
 *
 * @example
 * readStartRecord(dir, runId)?.pid;
 */
export function readStartRecord(dir: string, runId: string): StartRecord | undefined {
  let head: Buffer;
  try {
    const fd = fs.openSync(activeLogPath(dir, runId), "r");
    try {
      head = Buffer.alloc(HEAD_BYTES);
      head = head.subarray(0, fs.readSync(fd, head, 0, HEAD_BYTES, 0));
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw ioError(err, `reading the log of run ${runId}`);
  }
  let first = decodeFrames(head).payloads[0];
  // A start record longer than the head (a huge command line): read it all.
  if (first === undefined && head.length === HEAD_BYTES) {
    first = decodeFrames(readActiveLogBytes(dir, runId) ?? Buffer.alloc(0)).payloads[0];
  }
  if (first === undefined) return undefined;
  try {
    const rec = newPackr().unpack(first) as StartRecord;
    return rec?.t === "start" ? rec : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Seals every active run that is over: ended (e.g. failed through an uncaught error, whose process could
 * not wait for the store) or whose process died on this host. Returns the ids it sealed. A run whose
 * process is alive on this host is skipped after reading only the head of its log (that process seals
 * it itself), so calling this before every listing costs one directory read when nothing is pending.
 *
 * @example
 * await sealPendingRuns(dir, store); // before `mtrack gc` or a push
 */
export async function sealPendingRuns(
  dir: string,
  store: ObjectStore,
  liveness: Liveness = localLiveness(),
): Promise<string[]> {
  const sealed: string[] = [];
  for (const file of listDir(trackingPaths(dir).active)) {
    const runId = file.replace(/\.log$/, "");
    if (!file.endsWith(".log") || !isRunId(runId)) continue;
    const start = readStartRecord(dir, runId);
    if (start === undefined) continue;
    if (start.host === liveness.host && liveness.isPidAlive(start.pid)) continue;
    const state = readActiveLog(dir, runId);
    if (state?.start === undefined) continue;
    if (statusOf(state, liveness).status === "RUNNING") continue;
    await sealRun(dir, store, runId, liveness);
    sealed.push(runId);
  }
  return sealed;
}
