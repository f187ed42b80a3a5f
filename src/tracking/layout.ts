/**
 * Where the tracking layer keeps its files under the injected tracking dir (normally `.mtrack/runs`), the
 * experiment registry, and the small crash-safe file helpers they share.
 *
 *   experiments.log     framed { name, creationTime } records; an experiment's id is its rank (Default = "0")
 *   active/<runId>.log  append-only framed log of a run that has not been sealed yet
 *   refs/<runId>        hash of the sealed run record (written by temp + rename)
 *   deleted/<runId>     empty marker: the run is soft-deleted
 *   index.log           framed { h: record hash, s: RunSummary } appended per sealed run; last one wins
 *   index.snapshot      the index log folded into one msgpackr blob (fast to load), see compactIndex
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
}

/** The experiment every run without an explicit experiment belongs to (MLflow's id "0"). */
export const DEFAULT_EXPERIMENT: Experiment = { id: "0", name: "Default", creationTime: 0 };

/**
 * Turns registry records into experiments. Ids are ranks of first appearance, so two processes that
 * append the same new name at once both end up with the same experiment, and ids never collide.
 *
 * @example
 * experimentsFromRecords([{ name: "a", creationTime: 5 }, { name: "a", creationTime: 6 }]);
 * // [Default, { id: "1", name: "a", creationTime: 5 }]
 */
export function experimentsFromRecords(records: { name: string; creationTime: number }[]): Experiment[] {
  const out: Experiment[] = [DEFAULT_EXPERIMENT];
  const seen = new Set<string>([DEFAULT_EXPERIMENT.name]);
  for (const r of records) {
    if (typeof r?.name !== "string" || seen.has(r.name)) continue;
    seen.add(r.name);
    out.push({ id: String(out.length), name: r.name, creationTime: Number(r.creationTime) || 0 });
  }
  return out;
}

/** Every experiment of a tracking dir, Default first. */
export function readExperiments(dir: string): Experiment[] {
  const packr = newPackr();
  const records: { name: string; creationTime: number }[] = [];
  for (const payload of readFrameFile(trackingPaths(dir).experiments).payloads) {
    try {
      records.push(packr.unpack(payload));
    } catch {
      // A frame with a valid checksum but foreign content is skipped, like a torn one.
    }
  }
  return experimentsFromRecords(records);
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
