/**
 * The records of an active run log and the pure functions that replay them into a run's state, summarise
 * metric series and (de)serialise the columnar series blobs. No I/O here.
 */

import type { Packr } from "msgpackr";
import { decodeFrames } from "./frames.js";
import type {
  ArtifactRef,
  GitInfo,
  MetricHistory,
  MetricSummary,
  ModelRef,
  RunStatus,
  RunSummary,
} from "./types.js";

/** First record of every run log. */
export interface StartRecord {
  t: "start";
  runId: string;
  experimentId: string;
  experimentName: string;
  name: string;
  startTime: number;
  git: GitInfo;
  command: string[];
  host: string;
  pid: number;
  mtrackVersion: string;
}

/** Any record of an active run log. Metric columns are float64 little-endian bytes. */
export type LogRecord =
  | StartRecord
  | { t: "params"; p: Record<string, string> }
  | { t: "tags"; p: Record<string, string> }
  | { t: "metric"; k: string; s: Uint8Array; v: Uint8Array; ts: Uint8Array }
  | { t: "text"; n: string; x: string; a: boolean }
  | { t: "artifact"; a: ArtifactRef }
  | { t: "model"; m: ModelRef }
  | { t: "end"; status: RunStatus; endTime: number; error: string | null };

/** A run as reconstructed from its log. */
export interface RunLogState {
  start: StartRecord | undefined;
  params: Record<string, string>;
  tags: Record<string, string>;
  /** Per key, the chunks in log order. */
  metrics: Map<string, MetricHistory[]>;
  texts: Map<string, string>;
  artifacts: Map<string, ArtifactRef>;
  models: Map<string, ModelRef>;
  end: { status: RunStatus; endTime: number; error: string | null } | undefined;
  /** The log ends in a damaged frame (the writer was killed mid-write); it was ignored. */
  torn: boolean;
}

/** Bytes of a float64 column, as stored in logs and series blobs (a view, no copy). */
export function columnBytes(column: Float64Array): Uint8Array {
  return new Uint8Array(column.buffer, column.byteOffset, column.byteLength);
}

/** A float64 column from stored bytes; copies, because msgpackr's views need not be 8-byte aligned. */
export function bytesColumn(bytes: Uint8Array): Float64Array {
  const out = new Float64Array(Math.floor(bytes.byteLength / 8));
  new Uint8Array(out.buffer).set(bytes.subarray(0, out.length * 8));
  return out;
}

/**
 * Replays a run log's bytes into the run's state. Later params never replace earlier ones (the writer
 * refuses changes); later tags, texts (unless appended), artifacts and models replace earlier ones.
 *
 * @example
 * const state = replayRunLog(fs.readFileSync(activeLogPath(dir, runId)), newPackr());
 */
export function replayRunLog(bytes: Buffer, packr: Packr): RunLogState {
  const { payloads, torn } = decodeFrames(bytes);
  const state: RunLogState = {
    start: undefined,
    params: {},
    tags: {},
    metrics: new Map(),
    texts: new Map(),
    artifacts: new Map(),
    models: new Map(),
    end: undefined,
    torn,
  };
  for (const payload of payloads) {
    let rec: LogRecord;
    try {
      rec = packr.unpack(payload) as LogRecord;
    } catch {
      continue;
    }
    switch (rec.t) {
      case "start":
        state.start ??= rec;
        break;
      case "params":
        for (const [k, v] of Object.entries(rec.p)) if (!(k in state.params)) state.params[k] = v;
        break;
      case "tags":
        Object.assign(state.tags, rec.p);
        break;
      case "metric": {
        const chunk = {
          steps: bytesColumn(rec.s),
          values: bytesColumn(rec.v),
          timestamps: bytesColumn(rec.ts),
        };
        const chunks = state.metrics.get(rec.k);
        if (chunks === undefined) state.metrics.set(rec.k, [chunk]);
        else chunks.push(chunk);
        break;
      }
      case "text":
        state.texts.set(rec.n, rec.a ? (state.texts.get(rec.n) ?? "") + rec.x : rec.x);
        break;
      case "artifact":
        state.artifacts.set(rec.a.name, rec.a);
        break;
      case "model":
        state.models.set(rec.m.name, rec.m);
        break;
      case "end":
        state.end ??= { status: rec.status, endTime: rec.endTime, error: rec.error };
        break;
    }
  }
  return state;
}

/**
 * Joins metric chunks into one history.
 *
 * @example
 * concatHistory([{ steps, values, timestamps }, more]).values.length;
 */
export function concatHistory(chunks: MetricHistory[]): MetricHistory {
  if (chunks.length === 1) return chunks[0]!;
  let n = 0;
  for (const c of chunks) n += c.steps.length;
  const out = { steps: new Float64Array(n), values: new Float64Array(n), timestamps: new Float64Array(n) };
  let at = 0;
  for (const c of chunks) {
    out.steps.set(c.steps, at);
    out.values.set(c.values, at);
    out.timestamps.set(c.timestamps, at);
    at += c.steps.length;
  }
  return out;
}

/**
 * Last/min/max of a non-empty series. The latest point is the greatest (step, timestamp, value); NaN values
 * do not count as extremes (min/max are NaN only when every value is NaN).
 *
 * @example
 * summarizeHistory({ steps: Float64Array.of(0, 1), values: Float64Array.of(3, 2), timestamps: Float64Array.of(5, 6) });
 * // { last: 2, min: 2, max: 3, step: 1, timestamp: 6 }
 */
export function summarizeHistory(h: MetricHistory): MetricSummary {
  let min = Number.NaN;
  let max = Number.NaN;
  let li = 0;
  for (let i = 0; i < h.values.length; i++) {
    const v = h.values[i]!;
    if (!Number.isNaN(v)) {
      if (Number.isNaN(min) || v < min) min = v;
      if (Number.isNaN(max) || v > max) max = v;
    }
    const s = h.steps[i]!;
    const ls = h.steps[li]!;
    if (
      s > ls ||
      (s === ls &&
        (h.timestamps[i]! > h.timestamps[li]! || (h.timestamps[i] === h.timestamps[li] && v > h.values[li]!)))
    ) {
      li = i;
    }
  }
  return { last: h.values[li]!, min, max, step: h.steps[li]!, timestamp: h.timestamps[li]! };
}

/** Serialises a history as the sealed columnar blob. */
export function encodeSeries(h: MetricHistory, packr: Packr): Uint8Array {
  return packr.pack({
    steps: columnBytes(h.steps),
    values: columnBytes(h.values),
    timestamps: columnBytes(h.timestamps),
  });
}

/** Reads a sealed columnar blob back. */
export function decodeSeries(blob: Uint8Array, packr: Packr): MetricHistory {
  const o = packr.unpack(blob) as { steps: Uint8Array; values: Uint8Array; timestamps: Uint8Array };
  return {
    steps: bytesColumn(o.steps),
    values: bytesColumn(o.values),
    timestamps: bytesColumn(o.timestamps),
  };
}

/** System tag set on runs whose process died before ending them, so searches can find them. */
export const UNFINISHED_TAG = "mtrack.unfinished";

/** How the liveness of an unended run is judged; injected so tests need not kill real processes. */
export interface Liveness {
  host: string;
  isPidAlive: (pid: number) => boolean;
}

/**
 * Status of a run from its log: the end record's status, else RUNNING while its process lives, else
 * KILLED and unfinished. A run started on another host is assumed alive (its pid means nothing here).
 */
export function statusOf(state: RunLogState, liveness: Liveness): { status: RunStatus; unfinished: boolean } {
  if (state.end !== undefined) return { status: state.end.status, unfinished: false };
  const start = state.start;
  if (start !== undefined && start.host === liveness.host && !liveness.isPidAlive(start.pid)) {
    return { status: "KILLED", unfinished: true };
  }
  return { status: "RUNNING", unfinished: false };
}

/**
 * The listing row of a run that is still in its active log.
 *
 * @example
 * const row = summaryFromState(state, liveness, deletedIds.has(runId));
 */
export function summaryFromState(
  state: RunLogState,
  liveness: Liveness,
  deleted: boolean,
): RunSummary | undefined {
  const start = state.start;
  if (start === undefined) return undefined;
  const { status, unfinished } = statusOf(state, liveness);
  const metrics: Record<string, MetricSummary> = {};
  for (const [key, chunks] of state.metrics) metrics[key] = summarizeHistory(concatHistory(chunks));
  const summary: RunSummary = {
    runId: start.runId,
    experimentId: start.experimentId,
    experimentName: start.experimentName,
    name: start.name,
    status,
    startTime: start.startTime,
    endTime: state.end?.endTime ?? null,
    params: { ...state.params },
    tags: { ...state.tags },
    metrics,
    commit: start.git.commit,
    dirty: start.git.dirty,
    branch: start.git.branch,
    deleted,
  };
  if (unfinished) {
    summary.unfinished = true;
    summary.tags[UNFINISHED_TAG] = "true";
  }
  return summary;
}
