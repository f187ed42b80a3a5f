/**
 * Where the tracking layer keeps its files under the injected tracking dir (normally `.mtrack/runs`), the
 * experiment registry, and the small crash-safe file helpers they share.
 *
 *   experiments.log     framed experiment records: creations { name, creationTime, tags? } (an experiment's id
 *                       is its rank, Default = "0") and changes by id (rename, tags, delete, restore)
 *   active/<runId>.log  append-only framed log of a run that has not been sealed yet
 *   refs/<runId>        hash of the sealed run record (written by temp + rename)
 *   deleted/<runId>     empty marker: the run is soft-deleted
 *   index.log           framed { h: record hash, s: RunSummary } appended per sealed run; last one wins
 *   index.snapshot      the index log folded into one msgpackr blob (fast to load), see compactIndex
 *   annotations.log     framed annotations: tags and inputs added to runs beside their sealed records
 */

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { ioError, MtrackError } from "../errors.js";
import { appendFrames, newPackr, readFrameFile } from "./frames.js";
import { validateDisplayName } from "./names.js";

/** Paths of the tracking files under one tracking dir. */
export interface TrackingPaths {
  dir: string;
  experiments: string;
  active: string;
  refs: string;
  deleted: string;
  index: string;
  indexSnapshot: string;
  /** Framed annotations of runs (tags and inputs added after a run ended), see annotations.ts. */
  annotations: string;
}

/**
 * Resolves the layout of a tracking dir (no I/O).
 *
 * @example
 * trackingPaths("/repo/.mtrack/runs").refs; // "/repo/.mtrack/runs/refs"
 */
export function trackingPaths(dir: string): TrackingPaths {
  return {
    dir,
    experiments: path.join(dir, "experiments.log"),
    active: path.join(dir, "active"),
    refs: path.join(dir, "refs"),
    deleted: path.join(dir, "deleted"),
    index: path.join(dir, "index.log"),
    indexSnapshot: path.join(dir, "index.snapshot"),
    annotations: path.join(dir, "annotations.log"),
  };
}

/** Path of a run's active log. */
export function activeLogPath(dir: string, runId: string): string {
  return path.join(dir, "active", `${runId}.log`);
}

/** Path of a sealed run's ref. */
export function refPath(dir: string, runId: string): string {
  return path.join(dir, "refs", runId);
}

/** Creates the tracking directories (idempotent). */
export function ensureTrackingDirs(dir: string): TrackingPaths {
  const p = trackingPaths(dir);
  try {
    for (const d of [p.active, p.refs, p.deleted]) fs.mkdirSync(d, { recursive: true });
  } catch (err) {
    throw ioError(err, `creating ${dir}`);
  }
  return p;
}

/**
 * Writes a file so that readers see either the old or the new content, never a partial one.
 *
 * @example
 * writeFileAtomic(refPath(dir, runId), `${hash}\n`);
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}-${crypto.randomBytes(4).toString("hex")}`;
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw ioError(err, `writing ${file}`);
  }
}

/** Names in a directory; a missing directory lists as empty. */
export function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw ioError(err, `listing ${dir}`);
  }
}

/** An experiment: a named group of runs. */
export interface Experiment {
  id: string;
  name: string;
  /** Unix ms; 0 for the built-in Default experiment. */
  creationTime: number;
  /** Unix ms of the last rename, tag change, delete or restore (else the creation time). */
  lastUpdateTime: number;
  /** MLflow's lifecycle stage: `deleted` after `deleteExperiment`, until `restoreExperiment`. */
  lifecycleStage: "active" | "deleted";
  tags: Record<string, string>;
}

/** The experiment every run without an explicit experiment belongs to (MLflow's id "0"). */
export const DEFAULT_EXPERIMENT: Readonly<Experiment> = Object.freeze({
  id: "0",
  name: "Default",
  creationTime: 0,
  lastUpdateTime: 0,
  lifecycleStage: "active" as const,
  tags: Object.freeze({}) as Record<string, string>,
});

/**
 * A record of the experiment registry. A create record is `{ name, creationTime, tags? }` (the only kind
 * older mtrack versions know; they skip the others, which have no `name`). A change names the experiment
 * by id and comes in order after its creation: rename (`to`), tag (`key`, `value`), untag (`key`), delete,
 * restore.
 */
export type ExperimentRecord =
  | { op?: undefined; name: string; creationTime: number; tags?: Record<string, string> }
  | {
      op: "rename" | "tag" | "untag" | "delete" | "restore";
      id: string;
      time: number;
      to?: string;
      key?: string;
      value?: string;
    };

/** The registry folded: experiments by id, and the names each one had before its renames. */
export interface ExperimentRegistry {
  experiments: Experiment[];
  /** Former names per experiment id (runs keep the name their experiment had when they started). */
  formerNames: Map<string, Set<string>>;
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof v !== "object" || v === null) return out;
  for (const [k, x] of Object.entries(v)) if (typeof x === "string") out[k] = x;
  return out;
}

/**
 * Folds registry records into experiments. Ids are ranks of first appearance of a name not in use, so
 * two processes that append the same new name at once both end up with the same experiment, and ids
 * never collide. A rename to a name in use at that point of the log is ignored (the writer checks for
 * that after appending and reports it), so every reader folds the same registry.
 *
 * @example
 * foldExperiments([{ name: "a", creationTime: 5 }, { op: "rename", id: "1", to: "b", time: 6 }]).experiments[1];
 * // { id: "1", name: "b", creationTime: 5, lastUpdateTime: 6, lifecycleStage: "active", tags: {} }
 */
export function foldExperiments(records: ExperimentRecord[]): ExperimentRegistry {
  const out: Experiment[] = [{ ...DEFAULT_EXPERIMENT, tags: {} }];
  const byName = new Map<string, Experiment>([[DEFAULT_EXPERIMENT.name, out[0]!]]);
  const formerNames = new Map<string, Set<string>>();
  for (const r of records) {
    if (typeof r !== "object" || r === null) continue;
    if (r.op === undefined) {
      if (typeof r.name !== "string" || byName.has(r.name)) continue;
      const creationTime = Number(r.creationTime) || 0;
      const exp: Experiment = {
        id: String(out.length),
        name: r.name,
        creationTime,
        lastUpdateTime: creationTime,
        lifecycleStage: "active",
        tags: stringMap(r.tags),
      };
      out.push(exp);
      byName.set(r.name, exp);
      continue;
    }
    const exp = typeof r.id === "string" && /^\d+$/.test(r.id) ? out[Number(r.id)] : undefined;
    if (exp === undefined) continue;
    if (r.op === "rename") {
      if (typeof r.to !== "string" || byName.has(r.to)) continue;
      byName.delete(exp.name);
      const former = formerNames.get(exp.id) ?? new Set<string>();
      former.add(exp.name);
      formerNames.set(exp.id, former);
      exp.name = r.to;
      byName.set(r.to, exp);
    } else if (r.op === "tag") {
      if (typeof r.key !== "string" || typeof r.value !== "string") continue;
      exp.tags[r.key] = r.value;
    } else if (r.op === "untag") {
      if (typeof r.key !== "string") continue;
      delete exp.tags[r.key];
    } else if (r.op === "delete" || r.op === "restore") {
      exp.lifecycleStage = r.op === "delete" ? "deleted" : "active";
    } else {
      continue;
    }
    exp.lastUpdateTime = Math.max(exp.lastUpdateTime, Number(r.time) || 0);
  }
  return { experiments: out, formerNames };
}

/**
 * Turns registry records into experiments (see `foldExperiments`).
 *
 * @example
 * experimentsFromRecords([{ name: "a", creationTime: 5 }, { name: "a", creationTime: 6 }]);
 * // [Default, { id: "1", name: "a", creationTime: 5, ... }]
 */
export function experimentsFromRecords(records: ExperimentRecord[]): Experiment[] {
  return foldExperiments(records).experiments;
}

/**
 * The experiment registry of a tracking dir, folded.
 *
 * @example
 * readExperimentRegistry(dir).experiments.filter((e) => e.lifecycleStage === "active");
 */
export function readExperimentRegistry(dir: string): ExperimentRegistry {
  const packr = newPackr();
  const records: ExperimentRecord[] = [];
  for (const payload of readFrameFile(trackingPaths(dir).experiments).payloads) {
    try {
      records.push(packr.unpack(payload));
    } catch {
      // A frame with a valid checksum but foreign content is skipped, like a torn one.
    }
  }
  return foldExperiments(records);
}

/** Every experiment of a tracking dir, Default first. */
export function readExperiments(dir: string): Experiment[] {
  return readExperimentRegistry(dir).experiments;
}

/**
 * The name to show for a run's experiment: the experiment's current name when the run was recorded
 * under one of its former names (it was renamed since), else the name the run recorded. Runs pulled
 * from another clone whose experiment ids mean something else here keep their own name.
 *
 * @example
 * currentExperimentName(readExperimentRegistry(dir), run.experimentId, run.experimentName);
 */
export function currentExperimentName(registry: ExperimentRegistry, id: string, recorded: string): string {
  if (!registry.formerNames.get(id)?.has(recorded)) return recorded;
  return registry.experiments[Number(id)]?.name ?? recorded;
}

/**
 * Finds an experiment by name or id.
 *
 * @example
 * findExperiment(readExperiments(dir), "lr-sweep")?.id;
 */
export function findExperiment(experiments: Experiment[], nameOrId: string): Experiment | undefined {
  return experiments.find((e) => e.name === nameOrId) ?? experiments.find((e) => e.id === nameOrId);
}

/**
 * Returns the experiment with this name, registering it first when it does not exist yet.
 *
 * @example
 * const exp = ensureExperiment(dir, "lr-sweep", Date.now);
 */
export function ensureExperiment(dir: string, name: string, clock: () => number): Experiment {
  validateDisplayName("experiment", name);
  const existing = readExperiments(dir).find((e) => e.name === name);
  if (existing !== undefined) return existing;
  fs.mkdirSync(dir, { recursive: true });
  appendFrames(trackingPaths(dir).experiments, [newPackr().pack({ name, creationTime: clock() })]);
  const created = readExperiments(dir).find((e) => e.name === name);
  if (created === undefined) {
    throw new MtrackError("ERR_MTRACK_IO", `Experiment ${name} could not be registered.`, {
      data: { dir, name },
      hint: "Check that the tracking directory is writable.",
    });
  }
  return created;
}

/** Path of a run's soft-delete marker. */
export function deletedPath(dir: string, runId: string): string {
  return path.join(dir, "deleted", runId);
}
