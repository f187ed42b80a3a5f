/**
 * Sealing: turning a run's active log into content-addressed objects (metric series, texts, the run record),
 * publishing its ref and its index entry, then dropping the log. Also the run index and liveness helpers
 * that sealing and reading share.
 */

import fs from "node:fs";
import os from "node:os";
import { ioError, MtrackError } from "../errors.js";
import type { Hash, ObjectStore } from "../store/types.js";
import { appendFrames, newPackr, readFrameFile } from "./frames.js";
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
import {
  concatHistory,
  encodeSeries,
  type Liveness,
  type RunLogState,
  replayRunLog,
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

/** Reads the run index: last entry per run wins. Also reports how many frames were redundant or damaged. */
export function readIndex(dir: string): { entries: Map<string, IndexEntry>; waste: number } {
  const { payloads, skippedBytes } = readFrameFile(trackingPaths(dir).index);
  const packr = newPackr();
  const entries = new Map<string, IndexEntry>();
  let waste = skippedBytes > 0 ? 1 : 0;
  for (const payload of payloads) {
    try {
      const e = packr.unpack(payload) as IndexEntry;
      if (entries.has(e.s.runId)) waste++;
      entries.set(e.s.runId, e);
    } catch {
      waste++;
    }
  }
  return { entries, waste };
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

/**
 * Rewrites the index with one entry per run (temp + rename). An entry appended by another process during
 * the rewrite can be lost; that is harmless because refs are the source of truth and listing re-indexes
 * sealed runs missing from the index.
 */
export function compactIndex(dir: string, entries: Map<string, IndexEntry>): void {
  const packr = newPackr();
  const frames = [...entries.values()].map((e) => packr.pack(e));
  const tmp = `${trackingPaths(dir).index}.compact-${process.pid}`;
  fs.rmSync(tmp, { force: true });
  appendFrames(tmp, frames);
  try {
    fs.renameSync(tmp, trackingPaths(dir).index);
  } catch (err) {
    throw ioError(err, `compacting ${trackingPaths(dir).index}`);
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

/** Reads a run's active log; undefined when there is none. */
export function readActiveLog(dir: string, runId: string): RunLogState | undefined {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(activeLogPath(dir, runId));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw ioError(err, `reading the log of run ${runId}`);
  }
  return replayRunLog(bytes, newPackr());
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

function buildRecord(state: RunLogState, store: ObjectStore, liveness: Liveness): RunRecord {
  const start = state.start!;
  const packr = newPackr();
  const { status: liveStatus, unfinished } = statusOf(state, liveness);
  // Sealing a run nobody ended (its process is gone, or the caller insists) records it as KILLED.
  const status = liveStatus === "RUNNING" ? "KILLED" : liveStatus;
  const dead = unfinished || state.end === undefined;
  const metrics: Record<string, SealedMetric> = {};
  for (const [key, chunks] of state.metrics) {
    const history = concatHistory(chunks);
    const { hash } = store.putBuffer(encodeSeries(history, packr));
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
 * flushed, then the ref is published atomically, the index entry appended and the log removed. A run
 * without an end record is sealed as KILLED/unfinished. Idempotent: an already sealed run only has its
 * leftover log removed.
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
  const log = activeLogPath(dir, runId);
  const deleted = fs.existsSync(deletedPath(dir, runId));
  const existing = readRef(dir, runId);
  if (existing !== undefined) {
    fs.rmSync(log, { force: true });
    return summaryFromRecord(newPackr().unpack(store.readObject(existing)) as RunRecord, deleted);
  }
  const state = readActiveLog(dir, runId);
  if (state === undefined) {
    throw new MtrackError("ERR_MTRACK_RUN_NOT_FOUND", `Run ${runId} has no active log to seal.`, {
      data: { runId, dir },
      hint: "List runs with `mtrack runs list`.",
    });
  }
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
  writeFileAtomic(refPath(dir, runId), `${hash}\n`);
  const summary = summaryFromRecord(record, deleted);
  appendIndex(dir, [{ h: hash, s: summary }]);
  fs.rmSync(log, { force: true });
  return summary;
}

/**
 * Seals every active run that is over: ended (e.g. failed through an uncaught error, whose process could
 * not wait for the store) or whose process died on this host. Returns the ids it sealed.
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
    const state = readActiveLog(dir, runId);
    if (state?.start === undefined) continue;
    if (statusOf(state, liveness).status === "RUNNING") continue;
    await sealRun(dir, store, runId, liveness);
    sealed.push(runId);
  }
  return sealed;
}
