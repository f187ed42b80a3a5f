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
import { resolveRunId } from "../tracking/read.js";
import { concatHistory, decodeSeries } from "../tracking/runlog.js";
import { readActiveLog, readRef } from "../tracking/seal.js";
import type { MetricHistory, RunRecord } from "../tracking/types.js";
import { downsampleSeries, type SeriesPoints } from "./lttb.js";

/** A bounded map that forgets the least recently used entry first. */
export class LruCache<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly capacity: number) {}

  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as K);
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
      if (!this.store.has(hash)) {
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
        return m && decodeSeries(this.store.readObject(m.hash), newPackr());
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
