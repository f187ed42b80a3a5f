/**
 * The runs listing behind `mtrack ui` and the MLflow API's searches, cached so a filter or sort round trip over 10,000 runs costs
 * milliseconds: the sealed runs are re-read only when a cheap fingerprint of the tracking dir changes (the
 * index files' size and mtime, and the mtimes of the refs/, deleted/, experiments and annotations files), while runs
 * still in their active logs are re-read on every call — a RUNNING run changes between polls — unless
 * their log file is unchanged and they have ended.
 */

import nodeFs from "node:fs";
import type { ObjectStore } from "../store/types.js";
import { type Experiment, listDir, readExperiments, trackingPaths } from "./layout.js";
import { isRunId } from "./names.js";
import { annotateRows, listRuns } from "./read.js";
import type { Liveness } from "./runlog.js";
import { summaryFromState } from "./runlog.js";
import { localLiveness, readActiveLog } from "./seal.js";
import type { RunSummary } from "./types.js";

/** A listing at one moment: every run (deleted ones included) and the experiments. */
export interface RunsSnapshot {
  runs: RunSummary[];
  experiments: Experiment[];
  /** Bumped whenever the set or content of the rows may have changed (for callers' own caches). */
  version: number;
}

interface SealedState {
  fingerprint: string;
  sealed: RunSummary[];
  sealedIds: Set<string>;
  deletedIds: Set<string>;
  experiments: Experiment[];
}

interface ActiveEntry {
  stamp: string;
  row: RunSummary | undefined;
}

function statStamp(file: string): string {
  try {
    const st = nodeFs.statSync(file, { bigint: true });
    return `${st.ino}:${st.size}:${st.mtimeNs}`;
  } catch {
    return "-";
  }
}

/**
 * A cache of the runs listing of one tracking dir.
 *
 * @example
 * const listing = new RunListing(dir, store);
 * const { runs } = listing.snapshot(); // fast on every call after the first
 */
export class RunListing {
  private sealedState: SealedState | undefined;
  private readonly active = new Map<string, ActiveEntry>();
  private version = 0;
  private lastKey = "";
  private lastRuns: RunSummary[] = [];

  constructor(
    private readonly dir: string,
    private readonly store: ObjectStore,
    private readonly liveness: Liveness = localLiveness(),
  ) {}

  /**
   * Forgets the cached sealed runs. For a writer in the same process after a change it made: file mtimes
   * are coarse (a few ms), so two changes in one tick could otherwise leave the fingerprint unchanged.
   */
  invalidate(): void {
    this.sealedState = undefined;
    this.lastKey = "";
  }

  /** The fingerprint of everything sealed runs are read from. */
  private fingerprint(): string {
    const p = trackingPaths(this.dir);
    return [p.index, p.indexSnapshot, p.experiments, p.refs, p.deleted, p.annotations]
      .map(statStamp)
      .join("|");
  }

  private loadSealed(fingerprint: string): SealedState {
    const sealedIds = new Set(listDir(trackingPaths(this.dir).refs).filter(isRunId));
    const deletedIds = new Set(listDir(trackingPaths(this.dir).deleted));
    const all = listRuns(this.dir, this.store, { includeDeleted: true, liveness: this.liveness });
    return {
      fingerprint,
      sealed: all.filter((r) => sealedIds.has(r.runId)),
      sealedIds,
      deletedIds,
      experiments: readExperiments(this.dir),
    };
  }

  /** Every run, deleted ones included, newest first; RUNNING runs as of now. */
  snapshot(): RunsSnapshot {
    const fingerprint = this.fingerprint();
    if (this.sealedState?.fingerprint !== fingerprint) this.sealedState = this.loadSealed(fingerprint);
    const state = this.sealedState;
    const activeDir = trackingPaths(this.dir).active;
    const rows: RunSummary[] = [];
    const seen = new Set<string>();
    let key = fingerprint;
    for (const file of listDir(activeDir)) {
      const runId = file.endsWith(".log") ? file.slice(0, -4) : "";
      if (!isRunId(runId) || state.sealedIds.has(runId)) continue;
      seen.add(runId);
      const stamp = `${statStamp(`${activeDir}/${file}`)}:${state.deletedIds.has(runId)}`;
      let entry = this.active.get(runId);
      if (entry === undefined || entry.stamp !== stamp || entry.row?.status === "RUNNING") {
        const log = readActiveLog(this.dir, runId);
        entry = {
          stamp,
          row: log && summaryFromState(log, this.liveness, state.deletedIds.has(runId)),
        };
        this.active.set(runId, entry);
      }
      key += `|${runId}:${stamp}:${entry.row?.status}`;
      if (entry.row !== undefined) rows.push(entry.row);
    }
    for (const runId of this.active.keys()) if (!seen.has(runId)) this.active.delete(runId);
    // Same sealed state, same active logs, same statuses: the rows read are the same, so the merged
    // listing (and the callers' caches keyed on the version) stay valid.
    if (key !== this.lastKey) {
      this.lastKey = key;
      this.version++;
      // Sealed rows come annotated from listRuns; active ones get theirs here.
      this.lastRuns = mergeNewestFirst(annotateRows(this.dir, rows), state.sealed);
    }
    const runs = this.lastRuns;
    return { runs, experiments: state.experiments, version: this.version };
  }
}

const newestFirst = (a: RunSummary, b: RunSummary) =>
  b.startTime - a.startTime || (a.runId < b.runId ? -1 : 1);

/** Merges a few unsorted rows into the (already newest-first) sealed rows in one pass. */
function mergeNewestFirst(few: RunSummary[], sorted: RunSummary[]): RunSummary[] {
  if (few.length === 0) return sorted;
  few.sort(newestFirst);
  const out: RunSummary[] = new Array(few.length + sorted.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < few.length && j < sorted.length) {
    out[k++] = newestFirst(few[i]!, sorted[j]!) <= 0 ? few[i++]! : sorted[j++]!;
  }
  while (i < few.length) out[k++] = few[i++]!;
  while (j < sorted.length) out[k++] = sorted[j++]!;
  return out;
}
