/**
 * Metric histories for the charts, read straight from a run's sealed record or its active log. The
 * generic readers (getMetricHistory) resolve the run id against a listing of every run on each call;
 * charts ask for tens of runs × several keys per request with full ids already known, so this reads by id
 * directly and keeps sealed records (immutable, addressed by hash) and their downsampled series in small
 * bounded caches. Running runs are always re-read.
 */

import fs from "node:fs";
import { MtrackError } from "../errors.js";
import type { ObjectStore } from "../store/types.js";
import { newPackr } from "../tracking/frames.js";
import { activeLogPath } from "../tracking/layout.js";
import { isRunId } from "../tracking/names.js";
import { hasFresh, resolveRunId } from "../tracking/read.js";
import { concatHistory, decodeSeries } from "../tracking/runlog.js";
import { readActiveLog, readRef } from "../tracking/seal.js";
import type { MetricHistory, RunRecord } from "../tracking/types.js";
import { downsampleSeries, type SeriesPoints } from "./lttb.js";

/**
 * A bounded map that forgets the least recently used entries first. Entries weigh 1 unless a `weigh`
 * function says otherwise (e.g. a series' point count), and the total weight stays within `capacity`.
 *
 * @example
 * const cache = new LruCache<string, number[]>(1_000_000, (v) => v.length);
 */
export class LruCache<K, V> {
  private readonly map = new Map<K, { value: V; weight: number }>();
  private total = 0;

  constructor(
    private readonly capacity: number,
    private readonly weigh: (value: V) => number = () => 1,
  ) {}

  get(key: K): V | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, e);
    return e.value;
  }

  set(key: K, value: V): void {
    const old = this.map.get(key);
    if (old !== undefined) {
      this.total -= old.weight;
      this.map.delete(key);
    }
    const weight = this.weigh(value);
    // Something heavier than the whole cache is not kept at all.
    if (weight > this.capacity) return;
    this.map.set(key, { value, weight });
    this.total += weight;
    for (const [k, e] of this.map) {
      if (this.total <= this.capacity) break;
      this.map.delete(k);
      this.total -= e.weight;
    }
  }
}

/** One run's metrics as the chart endpoints need them. */
export interface RunMetrics {
  runId: string;
  /** Metric keys of the run. */
  keys: string[];
  /** The full history of one key (undefined when the run has no such metric). */
  history(key: string): MetricHistory | undefined;
  /** The history sorted and downsampled; cached for sealed runs. */
  points(key: string, options: { points: number; x: "step" | "time" }): SeriesPoints | undefined;
}

/**
 * Reads runs' metric histories for the UI.
 *
 * @example
 * const source = new HistorySource(dir, store);
 * source.run("3f2a…").points("loss", { points: 1000, x: "step" });
 */
export class HistorySource {
  private readonly records = new LruCache<string, RunRecord>(5000);
  private readonly downsampled = new LruCache<string, SeriesPoints>(2000);
  // Full sealed histories (bands and `points=0` read them), bounded by points: 2M points ≈ 48 MB.
  private readonly full = new LruCache<string, MetricHistory>(2_000_000, (h) => h.steps.length);

  constructor(
    private readonly dir: string,
    private readonly store: ObjectStore,
  ) {}

  /** A full run id from an id or unique prefix; full ids skip the listing. */
  resolve(idOrPrefix: string): string {
    const id = idOrPrefix.trim().toLowerCase();
    if (isRunId(id) && (readRef(this.dir, id) !== undefined || fs.existsSync(activeLogPath(this.dir, id))))
      return id;
    return resolveRunId(this.dir, idOrPrefix);
  }

  private record(hash: string, runId: string): RunRecord {
    let record = this.records.get(hash);
    if (record === undefined) {
      if (!hasFresh(this.store, hash)) {
        throw new MtrackError(
          "ERR_MTRACK_OBJECT_MISSING",
          `The record of run ${runId} is missing from the store.`,
          {
            data: { runId, hash },
            hint: "Fetch it from a remote (`mtrack fetch`) or delete the run.",
          },
        );
      }
      record = newPackr().unpack(this.store.readObject(hash)) as RunRecord;
      this.records.set(hash, record);
    }
    return record;
  }

  /** The metrics of one run (full id or unique prefix). */
  run(idOrPrefix: string): RunMetrics {
    const runId = this.resolve(idOrPrefix);
    const hash = readRef(this.dir, runId);
    if (hash !== undefined) {
      const record = this.record(hash, runId);
      const history = (key: string) => {
        const m = Object.hasOwn(record.metrics, key) ? record.metrics[key] : undefined;
        if (m === undefined) return undefined;
        let h = this.full.get(m.hash);
        if (h === undefined) {
          h = decodeSeries(this.store.readObject(m.hash), newPackr());
          this.full.set(m.hash, h);
        }
        return h;
      };
      return {
        runId,
        keys: Object.keys(record.metrics),
        history,
        points: (key, options) => {
          const m = Object.hasOwn(record.metrics, key) ? record.metrics[key] : undefined;
          if (m === undefined) return undefined;
          // A sealed series is addressed by its content hash, so its downsampled form never goes stale.
          const cacheKey = `${m.hash}:${options.points}:${options.x}`;
          let pts = this.downsampled.get(cacheKey);
          if (pts === undefined) {
            pts = downsampleSeries(history(key)!, options);
            this.downsampled.set(cacheKey, pts);
          }
          return pts;
        },
      };
    }
    const state = readActiveLog(this.dir, runId);
    // Sealed between resolving and reading: the ref is there now.
    if (state === undefined && readRef(this.dir, runId) !== undefined) return this.run(runId);
    const metrics = state?.metrics ?? new Map<string, MetricHistory[]>();
    const history = (key: string) => {
      const chunks = metrics.get(key);
      return chunks && concatHistory(chunks);
    };
    return {
      runId,
      keys: [...metrics.keys()],
      history,
      points: (key, options) => {
        const h = history(key);
        return h && downsampleSeries(h, options);
      },
    };
  }
}
