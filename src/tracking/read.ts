/**
 * Reading runs: experiments with run counts, the runs listing (sealed runs from the index, running ones
 * from their active logs), one run in full, metric histories, artifacts, soft delete/restore, and the set
 * of store objects runs keep alive (for gc).
 */

import fs from "node:fs";
import path from "node:path";
import { ioError, MtrackError } from "../errors.js";
import type { Hash, ObjectStore } from "../store/types.js";
import { applyAnnotations, readAnnotations } from "./annotations.js";
import { newPackr } from "./frames.js";
import {
  currentExperimentName,
  deletedPath,
  type Experiment,
  ensureTrackingDirs,
  findExperiment,
  listDir,
  readExperimentRegistry,
  readExperiments,
  trackingPaths,
} from "./layout.js";
import { isRunId, validateArtifactName } from "./names.js";
import {
  concatHistory,
  decodeSeries,
  type Liveness,
  type RunLogState,
  summarizeHistory,
  summaryFromState,
} from "./runlog.js";
import {
  appendIndex,
  compactIndex,
  type IndexEntry,
  localLiveness,
  readActiveLog,
  readIndex,
  readRef,
  summaryFromRecord,
} from "./seal.js";
import type { ArtifactRef, DirEntry, MetricHistory, RunDetails, RunRecord, RunSummary } from "./types.js";

/** Options shared by the reading functions. */
export interface ReadOptions {
  /** How to tell a dead run from a running one; default: this host and `kill(pid, 0)`. */
  liveness?: Liveness;
}

/** Options of `listRuns`. */
export interface ListRunsOptions extends ReadOptions {
  /** Experiment name or id; default: all experiments. */
  experiment?: string;
  /** Include soft-deleted runs. Default false. */
  includeDeleted?: boolean;
}

/** An experiment with how many (not deleted) runs it holds. */
export interface ExperimentListing extends Experiment {
  runCount: number;
}

function activeRunIds(dir: string): string[] {
  const ids: string[] = [];
  for (const file of listDir(trackingPaths(dir).active)) {
    if (!file.endsWith(".log")) continue;
    const id = file.slice(0, -4);
    if (isRunId(id)) ids.push(id);
  }
  return ids;
}

/**
 * `store.has(hash)`, reloading the store's pack list once on a miss: a long-running reader (`mtrack
 * server`, `mtrack ui`) must see runs another process sealed into a new pack after it loaded the list.
 */
export function hasFresh(store: ObjectStore, hash: Hash): boolean {
  if (store.has(hash)) return true;
  const reloadable = store as ObjectStore & { reload?: () => void };
  if (typeof reloadable.reload !== "function") return false;
  reloadable.reload();
  return store.has(hash);
}

function loadRecord(store: ObjectStore, hash: Hash, runId: string): RunRecord {
  if (!hasFresh(store, hash)) {
    throw new MtrackError(
      "ERR_MTRACK_OBJECT_MISSING",
      `The record of run ${runId} is missing from the store.`,
      {
        data: { runId, hash },
        hint: "Fetch it from a remote (`mtrack fetch`) or delete the run.",
      },
    );
  }
  return newPackr().unpack(store.readObject(hash)) as RunRecord;
}

/** Fold the index log into the snapshot once it holds this many frames (loading frames one by one is slow). */
const COMPACT_AFTER_FRAMES = 256;

function collectSummaries(dir: string, store: ObjectStore | undefined, liveness: Liveness): RunSummary[] {
  const p = trackingPaths(dir);
  const { entries, logFrames, damaged } = readIndex(dir);
  const deleted = new Set(listDir(p.deleted));
  const refs = listDir(p.refs).filter(isRunId);
  const sealed = new Set(refs);
  // Refs are the truth: a sealed run missing from the index (lost to a crash or a compaction race) is
  // re-indexed from its record when a store is at hand.
  const repaired: IndexEntry[] = [];
  if (store !== undefined) {
    for (const runId of refs) {
      if (entries.has(runId)) continue;
      const hash = readRef(dir, runId);
      if (hash === undefined || !store.has(hash)) continue;
      const entry = { h: hash, s: summaryFromRecord(loadRecord(store, hash, runId), false) };
      entries.set(runId, entry);
      repaired.push(entry);
    }
  }
  if (repaired.length > 0) appendIndex(dir, repaired);
  if (logFrames + repaired.length > COMPACT_AFTER_FRAMES || damaged) compactIndex(dir);
  const out: RunSummary[] = [];
  for (const [runId, e] of entries) {
    if (!sealed.has(runId)) continue;
    // Entries were just decoded for this call, so they can be updated in place (no 10k copies).
    e.s.deleted = deleted.has(runId);
    out.push(e.s);
  }
  for (const runId of activeRunIds(dir)) {
    if (sealed.has(runId)) continue;
    const state = readActiveLog(dir, runId);
    const summary = state && summaryFromState(state, liveness, deleted.has(runId));
    if (summary !== undefined) out.push(summary);
  }
  return annotateRows(dir, out);
}

/**
 * What runs look like now, beyond what they recorded: their annotations applied and the current name of
 * an experiment renamed since they started. Rows are updated in place (they were decoded for this call).
 *
 * @example
 * const rows = annotateRows(dir, summaries);
 */
export function annotateRows(dir: string, rows: RunSummary[]): RunSummary[] {
  const annotations = readAnnotations(dir);
  const registry = readExperimentRegistry(dir);
  if (annotations.size === 0 && registry.formerNames.size === 0) return rows;
  for (let i = 0; i < rows.length; i++) {
    const row = applyAnnotations(rows[i]!, annotations.get(rows[i]!.runId));
    row.experimentName = currentExperimentName(registry, row.experimentId, row.experimentName);
    rows[i] = row;
  }
  return rows;
}

/**
 * Ids of every run of an experiment, deleted ones included (what deleting an experiment soft-deletes).
 *
 * @example
 * experimentRunIds(dir, "1"); // ["3f2a…", ...]
 */
export function experimentRunIds(dir: string, experimentId: string, options: ReadOptions = {}): string[] {
  return collectSummaries(dir, undefined, options.liveness ?? localLiveness())
    .filter((r) => r.experimentId === experimentId)
    .map((r) => r.runId);
}

/**
 * Runs of a tracking dir, newest first (MLflow's default order), RUNNING ones included. A run whose
 * process died on this host without ending is reported as KILLED with `unfinished: true`.
 *
 * @example
 * const rows = listRuns(dir, store, { experiment: "mnist" }).filter((r) => evaluateFilter(ast, r));
 */
export function listRuns(dir: string, store: ObjectStore, options: ListRunsOptions = {}): RunSummary[] {
  const liveness = options.liveness ?? localLiveness();
  let runs = collectSummaries(dir, store, liveness);
  if (options.experiment !== undefined) {
    const exp = findExperiment(readExperiments(dir), options.experiment);
    if (exp === undefined) {
      throw new MtrackError("ERR_MTRACK_EXPERIMENT_NOT_FOUND", `No experiment ${options.experiment}.`, {
        data: { experiment: options.experiment },
        hint: "List experiments with `mtrack experiments list`.",
      });
    }
    runs = runs.filter((r) => r.experimentId === exp.id);
  }
  if (options.includeDeleted !== true) runs = runs.filter((r) => !r.deleted);
  return runs.sort((a, b) => b.startTime - a.startTime || (a.runId < b.runId ? -1 : 1));
}

/**
 * Experiments with the number of their (not deleted) runs.
 *
 * @example
 * listExperiments(dir).map((e) => `${e.id} ${e.name} ${e.runCount}`);
 */
export function listExperiments(dir: string, options: ReadOptions = {}): ExperimentListing[] {
  const counts = new Map<string, number>();
  for (const r of collectSummaries(dir, undefined, options.liveness ?? localLiveness())) {
    if (!r.deleted) counts.set(r.experimentId, (counts.get(r.experimentId) ?? 0) + 1);
  }
  return readExperiments(dir).map((e) => ({ ...e, runCount: counts.get(e.id) ?? 0 }));
}

/**
 * Resolves a full run id or a unique prefix of one, like git's short hashes.
 *
 * @example
 * resolveRunId(dir, "3f2a"); // "3f2a…" (32 chars), or throws ERR_MTRACK_RUN_AMBIGUOUS / ERR_MTRACK_RUN_NOT_FOUND
 */
export function resolveRunId(dir: string, idOrPrefix: string): string {
  const prefix = idOrPrefix.trim().toLowerCase();
  const notFound = () =>
    new MtrackError("ERR_MTRACK_RUN_NOT_FOUND", `No run matches ${JSON.stringify(idOrPrefix)}.`, {
      data: { run: idOrPrefix },
      hint: "List runs with `mtrack runs list`.",
    });
  if (!/^[0-9a-f]{1,32}$/.test(prefix)) throw notFound();
  const ids = new Set([...listDir(trackingPaths(dir).refs).filter(isRunId), ...activeRunIds(dir)]);
  const matches = [...ids].filter((id) => id.startsWith(prefix));
  if (matches.length === 0) throw notFound();
  if (matches.length > 1) {
    throw new MtrackError("ERR_MTRACK_RUN_AMBIGUOUS", `${idOrPrefix} matches ${matches.length} runs.`, {
      data: { run: idOrPrefix, matches: matches.sort() },
      hint: "Give more characters of the run id.",
    });
  }
  return matches[0]!;
}

type Located =
  | { kind: "sealed"; runId: string; hash: Hash; record: RunRecord }
  | { kind: "active"; runId: string; state: RunLogState };

function locate(dir: string, store: ObjectStore, idOrPrefix: string): Located {
  const runId = resolveRunId(dir, idOrPrefix);
  const hash = readRef(dir, runId);
  if (hash !== undefined) return { kind: "sealed", runId, hash, record: loadRecord(store, hash, runId) };
  const state = readActiveLog(dir, runId);
  if (state?.start === undefined) {
    // Sealed between our listing and our read: the ref is there now.
    const late = readRef(dir, runId);
    if (late !== undefined)
      return { kind: "sealed", runId, hash: late, record: loadRecord(store, late, runId) };
    throw new MtrackError(
      "ERR_MTRACK_RUN_LOG_CORRUPT",
      `The log of run ${runId} has no valid start record.`,
      {
        data: { runId },
        hint: "The run cannot be read; delete its file under active/ if it is in the way.",
      },
    );
  }
  return { kind: "active", runId, state };
}

/**
 * One run in full: params, tags, metric summaries with point counts, artifacts, models, git link, command,
 * times and status.
 *
 * @example
 * const run = getRun(dir, store, "3f2a"); run.metrics.val_acc?.last;
 */
export function getRun(
  dir: string,
  store: ObjectStore,
  idOrPrefix: string,
  options: ReadOptions = {},
): RunDetails {
  const found = locate(dir, store, idOrPrefix);
  const deleted = fs.existsSync(deletedPath(dir, found.runId));
  if (found.kind === "sealed") {
    const r = found.record;
    const metrics: RunDetails["metrics"] = {};
    for (const [k, m] of Object.entries(r.metrics)) {
      metrics[k] = {
        last: m.last,
        min: m.min,
        max: m.max,
        step: m.step,
        timestamp: m.timestamp,
        count: m.count,
      };
    }
    return withAnnotations(dir, {
      ...summaryFromRecord(r, deleted),
      metrics,
      artifacts: r.artifacts,
      models: r.models,
      git: r.git,
      command: r.command,
      host: r.host,
      pid: r.pid,
      mtrackVersion: r.mtrackVersion,
      error: r.error,
      recordHash: found.hash,
    });
  }
  const state = found.state;
  const start = state.start!;
  const summary = summaryFromState(state, options.liveness ?? localLiveness(), deleted)!;
  const metrics: RunDetails["metrics"] = {};
  for (const [k, chunks] of state.metrics) {
    const h = concatHistory(chunks);
    metrics[k] = { ...summarizeHistory(h), count: h.steps.length };
  }
  const artifacts = new Map<string, ArtifactRef>(state.artifacts);
  for (const [name, text] of state.texts) {
    artifacts.set(name, { name, kind: "file", hash: "", size: Buffer.byteLength(text) });
  }
  return withAnnotations(dir, {
    ...summary,
    metrics,
    artifacts: [...artifacts.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    models: [...state.models.values()],
    git: start.git,
    command: start.command,
    host: start.host,
    pid: start.pid,
    mtrackVersion: start.mtrackVersion,
    error: state.end?.error ?? null,
    recordHash: null,
  });
}

/** One run's details with its annotations and current experiment name (see `annotateRows`). */
function withAnnotations(dir: string, run: RunDetails): RunDetails {
  return annotateRows(dir, [run])[0] as RunDetails;
}

function metricNotFound(runId: string, key: string): MtrackError {
  // No dedicated METRIC_NOT_FOUND code exists; INVALID_ARGUMENT names the bad key in data.
  return new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", `Run ${runId} has no metric ${key}.`, {
    data: { runId, key },
    hint: "See the run's metrics with `mtrack runs show <id>`.",
  });
}

/**
 * A metric's full history in logging order.
 *
 * @example
 * const { steps, values } = getMetricHistory(dir, store, "3f2a", "loss");
 */
export function getMetricHistory(
  dir: string,
  store: ObjectStore,
  idOrPrefix: string,
  key: string,
): MetricHistory {
  const found = locate(dir, store, idOrPrefix);
  if (found.kind === "sealed") {
    const m = found.record.metrics[key];
    if (m === undefined) throw metricNotFound(found.runId, key);
    return decodeSeries(store.readObject(m.hash), newPackr());
  }
  const chunks = found.state.metrics.get(key);
  if (chunks === undefined) throw metricNotFound(found.runId, key);
  return concatHistory(chunks);
}

/** A directory manifest; every entry name is re-validated so a crafted manifest cannot escape `dest`. */
export function readManifest(store: ObjectStore, hash: Hash): DirEntry[] {
  const entries = newPackr().unpack(store.readObject(hash)) as DirEntry[];
  for (const e of entries) validateArtifactName(e.name);
  return entries;
}

/** One file of a run's artifacts, as `materializeArtifact` and `readArtifact` resolve names. */
type ArtifactTarget =
  | { kind: "object"; hash: Hash; size: number }
  | { kind: "text"; text: string }
  | { kind: "dir"; entries: DirEntry[] };

function findArtifact(dir: string, store: ObjectStore, idOrPrefix: string, name: string): ArtifactTarget {
  validateArtifactName(name);
  const found = locate(dir, store, idOrPrefix);
  if (found.kind === "active") {
    const text = found.state.texts.get(name);
    if (text !== undefined) return { kind: "text", text };
  }
  const artifacts = found.kind === "sealed" ? found.record.artifacts : [...found.state.artifacts.values()];
  const models = found.kind === "sealed" ? found.record.models : [...found.state.models.values()];
  for (const a of artifacts) {
    if (a.name === name) {
      return a.kind === "file"
        ? { kind: "object", hash: a.hash, size: a.size }
        : { kind: "dir", entries: readManifest(store, a.hash) };
    }
    if (a.kind === "dir" && name.startsWith(`${a.name}/`)) {
      const rest = name.slice(a.name.length + 1);
      const entries = readManifest(store, a.hash);
      const file = entries.find((e) => e.name === rest);
      if (file !== undefined) return { kind: "object", hash: file.hash, size: file.size };
      const sub = entries.filter((e) => e.name.startsWith(`${rest}/`));
      if (sub.length > 0)
        return { kind: "dir", entries: sub.map((e) => ({ ...e, name: e.name.slice(rest.length + 1) })) };
    }
  }
  const model = models.find((m) => m.name === name);
  if (model !== undefined) return { kind: "dir", entries: readManifest(store, model.hash) };
  throw new MtrackError("ERR_MTRACK_ARTIFACT_NOT_FOUND", `Run ${found.runId} has no artifact ${name}.`, {
    data: { runId: found.runId, artifact: name },
    hint: "List the run's artifacts with `mtrack runs artifacts <id>`.",
  });
}

/**
 * The bytes of a file artifact (a text, a logged file, or a file inside a logged directory or model).
 *
 * @example
 * readArtifact(dir, store, "3f2a", "train.log").toString("utf8");
 */
export function readArtifact(dir: string, store: ObjectStore, idOrPrefix: string, name: string): Buffer {
  const target = findArtifact(dir, store, idOrPrefix, name);
  if (target.kind === "text") return Buffer.from(target.text, "utf8");
  if (target.kind === "object") return store.readObject(target.hash);
  throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", `Artifact ${name} is a directory.`, {
    data: { artifact: name },
    hint: "Materialise it to a folder with `mtrack runs get <id> <artifact> -o <dir>`.",
  });
}

/**
 * Writes an artifact (file, directory or model) to `dest`; a directory becomes a folder at `dest`.
 *
 * @example
 * materializeArtifact(dir, store, "3f2a", "model", "out/model");
 */
export function materializeArtifact(
  dir: string,
  store: ObjectStore,
  idOrPrefix: string,
  name: string,
  dest: string,
): void {
  const target = findArtifact(dir, store, idOrPrefix, name);
  try {
    if (target.kind === "text") {
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.writeFileSync(dest, target.text);
    } else if (target.kind === "object") {
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      store.materialize(target.hash, dest);
    } else {
      for (const e of target.entries) {
        const out = path.join(dest, ...e.name.split("/"));
        fs.mkdirSync(path.dirname(out), { recursive: true });
        store.materialize(e.hash, out);
      }
    }
  } catch (err) {
    throw ioError(err, `writing artifact ${name} to ${dest}`);
  }
}

/**
 * Every file of a run's artifacts, directories expanded, with sizes (for `mtrack runs artifacts`).
 *
 * @example
 * listArtifactFiles(dir, store, "3f2a"); // [{ name: "plots/loss.png", hash, size }, ...]
 */
export function listArtifactFiles(dir: string, store: ObjectStore, idOrPrefix: string): DirEntry[] {
  const run = getRun(dir, store, idOrPrefix);
  const out: DirEntry[] = [];
  for (const a of run.artifacts) {
    if (a.kind === "file") out.push({ name: a.name, hash: a.hash, size: a.size });
    else for (const e of readManifest(store, a.hash)) out.push({ ...e, name: `${a.name}/${e.name}` });
  }
  return out;
}

/**
 * Soft-deletes a run (MLflow's lifecycle_stage "deleted"): hidden from listings, data kept. Returns the id.
 *
 * @example
 * deleteRun(dir, "3f2a");
 */
export function deleteRun(dir: string, idOrPrefix: string): string {
  const runId = resolveRunId(dir, idOrPrefix);
  ensureTrackingDirs(dir);
  try {
    fs.writeFileSync(deletedPath(dir, runId), "");
  } catch (err) {
    throw ioError(err, `deleting run ${runId}`);
  }
  return runId;
}

/**
 * Undoes `deleteRun`. Returns the id.
 *
 * @example
 * restoreRun(dir, "3f2a");
 */
export function restoreRun(dir: string, idOrPrefix: string): string {
  const runId = resolveRunId(dir, idOrPrefix);
  fs.rmSync(deletedPath(dir, runId), { force: true });
  return runId;
}

/**
 * Every store object that runs reference (records, series, artifacts, manifests and their files), deleted
 * runs included, so `mtrack gc` keeps them.
 *
 * @example
 * const keep = runsReferencedObjects(dir, store);
 */
export function runsReferencedObjects(
  dir: string,
  store: ObjectStore,
  only?: ReadonlySet<string>,
): Set<Hash> {
  const keep = new Set<Hash>();
  const add = (run: Parameters<typeof runReferences>[0]) => {
    const { objects, dirs } = runReferences(run);
    for (const h of objects) keep.add(h);
    for (const h of dirs) {
      keep.add(h);
      if (!store.has(h)) continue;
      for (const e of newPackr().unpack(store.readObject(h)) as DirEntry[]) keep.add(e.hash);
    }
  };
  for (const runId of listDir(trackingPaths(dir).refs).filter(isRunId)) {
    if (only && !only.has(runId)) continue;
    const hash = readRef(dir, runId);
    if (hash === undefined) continue;
    keep.add(hash);
    if (!store.has(hash)) continue;
    add(loadRecord(store, hash, runId));
  }
  for (const runId of activeRunIds(dir)) {
    if (only && !only.has(runId)) continue;
    const state = readActiveLog(dir, runId);
    if (state !== undefined) add({ artifacts: state.artifacts.values(), models: state.models.values() });
  }
  return keep;
}

/**
 * What one run names in the store: plain objects (metric series, file artifacts) and directory manifests
 * (directory artifacts, models) whose entries it needs too. The one reading of a run record's references,
 * for local gc and push (runsReferencedObjects) and for `gc --cloud` (records read from a remote).
 *
 * @example
 * const { objects, dirs } = runReferences(record);
 */
export function runReferences(run: {
  metrics?: Record<string, { hash: Hash }>;
  artifacts: Iterable<ArtifactRef>;
  models: Iterable<{ hash: Hash }>;
}): { objects: Hash[]; dirs: Hash[] } {
  const objects: Hash[] = [];
  const dirs: Hash[] = [];
  for (const m of Object.values(run.metrics ?? {})) objects.push(m.hash);
  for (const a of run.artifacts) {
    if (a.hash === "") continue;
    (a.kind === "dir" ? dirs : objects).push(a.hash);
  }
  for (const m of run.models) dirs.push(m.hash);
  return { objects, dirs };
}

/**
 * Runs carrying a tag with this exact value, newest first — e.g. the runs one `mtrack repro` produced
 * (`findRunsByTag(dir, store, "mtrack.repro_id", reproId)`). Soft-deleted runs are left out unless asked for.
 *
 * @example
 * findRunsByTag(dir, store, "mtrack.stage", "train").map((r) => r.runId);
 */
export function findRunsByTag(
  dir: string,
  store: ObjectStore,
  key: string,
  value: string,
  options: ListRunsOptions = {},
): RunSummary[] {
  return listRuns(dir, store, options).filter((r) => Object.hasOwn(r.tags, key) && r.tags[key] === value);
}
