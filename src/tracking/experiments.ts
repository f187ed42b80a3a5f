/**
 * Changing experiments: create with tags, rename, set and delete tags, delete and restore — MLflow's
 * experiment lifecycle over mtrack's experiment registry (`experiments.log`, see layout.ts). Every change
 * is one framed record appended with one O_APPEND write, so a crash leaves the registry as it was or with
 * the change, and concurrent writers never lose each other's records.
 *
 * Deleting an experiment soft-deletes its runs, and restoring it restores them, as MLflow's stores do.
 */

import { MtrackError } from "../errors.js";
import { appendFrames, newPackr } from "./frames.js";
import {
  type Experiment,
  type ExperimentRecord,
  ensureTrackingDirs,
  readExperiments,
  trackingPaths,
} from "./layout.js";
import { validateDisplayName, validateKey } from "./names.js";
import { deleteRun, experimentRunIds, restoreRun } from "./read.js";

/** Longest experiment tag value (MLflow's MAX_EXPERIMENT_TAG_VAL_LENGTH). */
export const MAX_EXPERIMENT_TAG_VALUE_LENGTH = 20_000;

/** Options of the experiment changes. */
export interface ExperimentChangeOptions {
  /** Unix ms clock; default Date.now. */
  clock?: () => number;
}

function notFound(id: string): MtrackError {
  return new MtrackError("ERR_MTRACK_EXPERIMENT_NOT_FOUND", `No experiment with id ${id}.`, {
    data: { experiment: id },
    hint: "List experiments with `mtrack experiments list`.",
  });
}

function exists(name: string, existing: Experiment): MtrackError {
  const deleted = existing.lifecycleStage === "deleted";
  return new MtrackError(
    "ERR_MTRACK_EXPERIMENT_EXISTS",
    `Experiment '${name}' already exists${deleted ? " in deleted state" : ""}.`,
    {
      data: { name, id: existing.id, lifecycleStage: existing.lifecycleStage },
      hint: deleted ? "Restore it, or choose another name." : "Choose another name.",
    },
  );
}

/**
 * The experiment with this id; ERR_MTRACK_EXPERIMENT_NOT_FOUND when there is none.
 *
 * @example
 * getExperiment(dir, "1").lifecycleStage; // "active"
 */
export function getExperiment(dir: string, id: string): Experiment {
  const exp = readExperiments(dir).find((e) => e.id === id);
  if (exp === undefined) throw notFound(id);
  return exp;
}

function activeExperiment(dir: string, id: string): Experiment {
  const exp = getExperiment(dir, id);
  if (exp.lifecycleStage !== "active") {
    throw new MtrackError(
      "ERR_MTRACK_EXPERIMENT_NOT_ACTIVE",
      `The experiment ${id} must be in the 'active' state. Current state is ${exp.lifecycleStage}.`,
      { data: { experiment: id, lifecycleStage: exp.lifecycleStage }, hint: "Restore it first." },
    );
  }
  return exp;
}

function checkTags(tags: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(tags)) {
    validateKey("tag", key);
    if (typeof value !== "string" || value.length > MAX_EXPERIMENT_TAG_VALUE_LENGTH) {
      throw new MtrackError(
        "ERR_MTRACK_INVALID_ARGUMENT",
        `The value of experiment tag ${key} is not a string or too long.`,
        {
          data: { key, max: MAX_EXPERIMENT_TAG_VALUE_LENGTH },
          hint: `Give a string of at most ${MAX_EXPERIMENT_TAG_VALUE_LENGTH} characters.`,
        },
      );
    }
    out[key] = value;
  }
  return out;
}

function append(dir: string, records: ExperimentRecord[]): void {
  ensureTrackingDirs(dir);
  const packr = newPackr();
  appendFrames(
    trackingPaths(dir).experiments,
    records.map((r) => packr.pack(r)),
  );
}

/**
 * Registers a new experiment with tags. ERR_MTRACK_EXPERIMENT_EXISTS when the name is taken (also by a
 * deleted experiment, as in MLflow).
 *
 * @example
 * createExperiment(dir, "mnist", { "mlflow.note.content": "baseline sweep" }).id; // "1"
 */
export function createExperiment(
  dir: string,
  name: string,
  tags: Record<string, string> = {},
  options: ExperimentChangeOptions = {},
): Experiment {
  validateDisplayName("experiment", name);
  const checked = checkTags(tags);
  const taken = readExperiments(dir).find((e) => e.name === name);
  if (taken !== undefined) throw exists(name, taken);
  const record: ExperimentRecord = { name, creationTime: (options.clock ?? Date.now)() };
  if (Object.keys(checked).length > 0) record.tags = checked;
  append(dir, [record]);
  const created = readExperiments(dir).find((e) => e.name === name);
  if (created === undefined) throw notFound(name);
  return created;
}

/**
 * Renames an active experiment. Runs keep the name they recorded, and listings show the new one.
 * ERR_MTRACK_EXPERIMENT_EXISTS when the name is taken (checked again after appending, so two renames
 * racing for one name cannot both succeed).
 *
 * @example
 * renameExperiment(dir, "1", "mnist-v2").name; // "mnist-v2"
 */
export function renameExperiment(
  dir: string,
  id: string,
  newName: string,
  options: ExperimentChangeOptions = {},
): Experiment {
  validateDisplayName("experiment", newName);
  const exp = activeExperiment(dir, id);
  if (exp.name === newName) return exp;
  const taken = readExperiments(dir).find((e) => e.name === newName);
  if (taken !== undefined) throw exists(newName, taken);
  append(dir, [{ op: "rename", id, to: newName, time: (options.clock ?? Date.now)() }]);
  const after = getExperiment(dir, id);
  if (after.name !== newName) {
    const winner = readExperiments(dir).find((e) => e.name === newName);
    throw exists(newName, winner ?? after);
  }
  return after;
}

/**
 * Sets tags of an active experiment (last write wins).
 *
 * @example
 * setExperimentTags(dir, "1", { owner: "vision" }).tags.owner; // "vision"
 */
export function setExperimentTags(
  dir: string,
  id: string,
  tags: Record<string, string>,
  options: ExperimentChangeOptions = {},
): Experiment {
  const checked = checkTags(tags);
  activeExperiment(dir, id);
  const time = (options.clock ?? Date.now)();
  append(
    dir,
    Object.entries(checked).map(([key, value]) => ({ op: "tag", id, key, value, time })),
  );
  return getExperiment(dir, id);
}

/**
 * Deletes a tag of an active experiment; ERR_MTRACK_TAG_NOT_FOUND when it has no such tag.
 *
 * @example
 * deleteExperimentTag(dir, "1", "owner");
 */
export function deleteExperimentTag(
  dir: string,
  id: string,
  key: string,
  options: ExperimentChangeOptions = {},
): Experiment {
  const exp = activeExperiment(dir, id);
  if (!Object.hasOwn(exp.tags, key)) {
    throw new MtrackError("ERR_MTRACK_TAG_NOT_FOUND", `No tag with name: ${key} in experiment ${id}.`, {
      data: { experiment: id, key },
      hint: "See the experiment's tags with `mtrack experiments list --json`.",
    });
  }
  append(dir, [{ op: "untag", id, key, time: (options.clock ?? Date.now)() }]);
  return getExperiment(dir, id);
}

/**
 * Marks an active experiment deleted and soft-deletes its runs (MLflow's delete_experiment). New runs
 * cannot start in it until it is restored.
 *
 * @example
 * deleteExperiment(dir, "1").lifecycleStage; // "deleted"
 */
export function deleteExperiment(dir: string, id: string, options: ExperimentChangeOptions = {}): Experiment {
  activeExperiment(dir, id);
  // Runs first: a crash in between leaves the experiment active, and deleting it again finishes the job.
  for (const runId of experimentRunIds(dir, id)) deleteRun(dir, runId);
  append(dir, [{ op: "delete", id, time: (options.clock ?? Date.now)() }]);
  return getExperiment(dir, id);
}

/**
 * Restores a deleted experiment and its runs (MLflow's restore_experiment restores every run of it).
 *
 * @example
 * restoreExperiment(dir, "1").lifecycleStage; // "active"
 */
export function restoreExperiment(
  dir: string,
  id: string,
  options: ExperimentChangeOptions = {},
): Experiment {
  const exp = getExperiment(dir, id);
  if (exp.lifecycleStage !== "deleted") {
    throw new MtrackError(
      "ERR_MTRACK_EXPERIMENT_NOT_ACTIVE",
      `The experiment ${id} must be in the 'deleted' state to be restored. Current state is ${exp.lifecycleStage}.`,
      {
        data: { experiment: id, lifecycleStage: exp.lifecycleStage },
        hint: "Only deleted experiments can be restored.",
      },
    );
  }
  // Runs first, for the same reason as in deleteExperiment: restoring again finishes an interrupted one.
  for (const runId of experimentRunIds(dir, id)) restoreRun(dir, runId);
  append(dir, [{ op: "restore", id, time: (options.clock ?? Date.now)() }]);
  return getExperiment(dir, id);
}
