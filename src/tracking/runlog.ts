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

/**
 * Any msgpackr record of an active run log. Metric points are not msgpackr records but binary chunks
 * (see `metricChunkParts`), because they are the bulk of a log and are written without copying.
 */
export type LogRecord =
  | StartRecord
  | { t: "params"; p: Record<string, string> }
  | { t: "tags"; p: Record<string, string> }
  | { t: "untags"; k: string[] }
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

/** First byte of a binary metric chunk; msgpackr records are maps, which never start with 0x00. */
const METRIC_CHUNK = 0x00;

/**
 * A metric chunk as frame payload parts: 0x00 | key length u32 | key utf8 | n u32 | steps | values |
 * timestamps (n float64 little-endian each). The columns are views of the caller's arrays, not copies.
 *
 * @example
 * writeAllSync(fd, frameParts(metricChunkParts("loss", steps, values, timestamps)));
 */
export function metricChunkParts(key: string, h: MetricHistory): Uint8Array[] {
  const keyBytes = Buffer.from(key, "utf8");
  const head = Buffer.allocUnsafe(9 + keyBytes.length);
  head[0] = METRIC_CHUNK;
  head.writeUInt32LE(keyBytes.length, 1);
  keyBytes.copy(head, 5);
  head.writeUInt32LE(h.steps.length, 5 + keyBytes.length);
  return [head, columnBytes(h.steps), columnBytes(h.values), columnBytes(h.timestamps)];
}

/** Reads a binary metric chunk; undefined when the payload is not one or is inconsistent. */
export function decodeMetricChunk(payload: Buffer): { key: string; chunk: MetricHistory } | undefined {
  if (payload.length < 9 || payload[0] !== METRIC_CHUNK) return undefined;
  const keyLength = payload.readUInt32LE(1);
  if (5 + keyLength + 4 > payload.length) return undefined;
  const key = payload.toString("utf8", 5, 5 + keyLength);
  const n = payload.readUInt32LE(5 + keyLength);
  const at = 9 + keyLength;
  if (at + n * 24 !== payload.length) return undefined;
  return {
    key,
    chunk: {
      steps: bytesColumn(payload.subarray(at, at + n * 8)),
      values: bytesColumn(payload.subarray(at + n * 8, at + n * 16)),
      timestamps: bytesColumn(payload.subarray(at + n * 16, at + n * 24)),
    },
  };
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
    if (payload[0] === METRIC_CHUNK) {
      const m = decodeMetricChunk(payload);
      if (m === undefined) continue;
      const chunks = state.metrics.get(m.key);
      if (chunks === undefined) state.metrics.set(m.key, [m.chunk]);
      else chunks.push(m.chunk);
      continue;
    }
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
        for (const [k, v] of Object.entries(rec.p)) if (!Object.hasOwn(state.params, k)) state.params[k] = v;
        break;
      case "tags":
        Object.assign(state.tags, rec.p);
        break;
      case "untags":
        for (const k of rec.k) delete state.tags[k];
        break;
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
 * The params recorded in a stretch of log bytes (first value per key wins, as in `replayRunLog`). Metric
 * chunks are skipped without decoding, so this is cheap on a metric-heavy log.
 *
 * @example
 * paramsInFrames(fs.readFileSync(activeLogPath(dir, runId)), newPackr()).lr;
 */
export function paramsInFrames(bytes: Buffer, packr: Packr): Record<string, string> {
  const out: Record<string, string> = {};
  for (const payload of decodeFrames(bytes).payloads) {
    if (payload[0] === METRIC_CHUNK) continue;
    let rec: LogRecord;
    try {
      rec = packr.unpack(payload) as LogRecord;
    } catch {
      continue;
    }
    if (rec.t !== "params") continue;
    for (const [k, v] of Object.entries(rec.p)) if (!Object.hasOwn(out, k)) out[k] = v;
  }
  return out;
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

/**
 * Serialises a history as the sealed columnar blob: a msgpack map { steps, values, timestamps } of bin32
 * values (float64 little-endian). Written by hand because it is one exact-size allocation, where a
 * generic packer grows and copies its buffer for megabytes of columns.
 *
 * @example
 * store.putBuffer(encodeSeries(history));
 */
export function encodeSeries(h: MetricHistory): Buffer {
  const columns: [string, Float64Array][] = [
    ["steps", h.steps],
    ["values", h.values],
    ["timestamps", h.timestamps],
  ];
  let size = 1;
  for (const [name, col] of columns) size += 1 + name.length + 5 + col.byteLength;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  out[at++] = 0x83; // fixmap with 3 entries
  for (const [name, col] of columns) {
    out[at++] = 0xa0 | name.length; // fixstr
    at += out.write(name, at, "latin1");
    out[at++] = 0xc6; // bin32, big-endian length
    out.writeUInt32BE(col.byteLength, at);
    at += 4;
    out.set(columnBytes(col), at);
    at += col.byteLength;
  }
  return out;
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
