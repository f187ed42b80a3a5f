/**
 * Annotations: what is added to a run without rewriting it. A sealed run record is immutable (its hash
 * is its identity, and remotes hold it by that hash), yet MLflow clients tag and describe runs after
 * they end and log the datasets and models a run used. Those additions are annotations: small records
 * appended to `annotations.log` in the tracking dir, keyed by run id, each with its own id and time, and
 * merged over the run on every read (listings, `getRun`, search, the UI, the MLflow API).
 *
 * - Crash-safe: each annotation is one checksummed frame appended with one O_APPEND write (frames.ts); a
 *   torn frame is skipped, concurrent writers never interleave.
 * - Order-independent: a run's annotations apply in (time, id) order whatever order they arrived in, and
 *   an id seen twice counts once, so `mtrack pull` can append annotations from other clones as they come.
 * - They travel with `mtrack push --runs` / `pull --runs` as refs `annotations/<runId>.<id>` (refs.ts).
 */

import crypto from "node:crypto";
import fs from "node:fs";
import { MtrackError } from "../errors.js";
import { stringValue } from "./api.js";
import { appendFrames, newPackr, readFrameFile } from "./frames.js";
import { activeLogPath, ensureTrackingDirs, refPath, trackingPaths } from "./layout.js";
import { isRunId, validateKey } from "./names.js";
import type { DatasetInput, RunInputs, RunOutputs, RunSummary } from "./types.js";

/** One annotation of a run. */
export interface Annotation {
  /** 32 lowercase hex characters, unique per annotation (names its ref on remotes). */
  id: string;
  runId: string;
  /** Unix ms when it was made; a run's annotations apply in (time, id) order. */
  time: number;
  /** Tags set (last write wins, over the run's own tags). */
  tags?: Record<string, string>;
  /** Tag keys removed. */
  deleteTags?: string[];
  /** Dataset inputs (a dataset already logged to the run, same name and digest, is kept as first logged). */
  datasets?: DatasetInput[];
  /** Logged models the run used. */
  modelInputs?: { modelId: string }[];
  /** Logged models the run produced. */
  modelOutputs?: { modelId: string; step: number }[];
}

/** What an annotation changes (the id, run and time are filled in by `annotateRun`). */
export type AnnotationChange = Omit<Annotation, "id" | "runId" | "time">;

/** MLflow's limits on dataset inputs (mlflow/utils/validation.py). */
export const DATASET_LIMITS = {
  name: 500,
  digest: 36,
  source: 65_535,
  schema: 1_048_575,
  profile: 16_777_215,
  tagKey: 255,
  tagValue: 500,
} as const;

/** True for an annotation id (32 lowercase hex). */
export function isAnnotationId(value: string): boolean {
  return /^[0-9a-f]{32}$/.test(value);
}

function bad(message: string, data: Record<string, unknown>): MtrackError {
  return new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", message, {
    data,
    hint: "See docs/tracking.md (Annotations) for what a run annotation may hold.",
  });
}

function boundedString(v: unknown, what: string, max: number, required: boolean): string | undefined {
  if (v === undefined || v === null) {
    if (required) throw bad(`${what} is missing.`, { field: what });
    return undefined;
  }
  if (typeof v !== "string") throw bad(`${what} must be a string.`, { field: what });
  if (v.length > max) throw bad(`${what} is longer than ${max} characters.`, { field: what, max });
  return v;
}

function checkDataset(input: DatasetInput, i: number): DatasetInput {
  const d = input?.dataset as Partial<DatasetInput["dataset"]> | undefined;
  if (typeof d !== "object" || d === null) throw bad(`datasets[${i}] has no dataset.`, { index: i });
  const dataset: DatasetInput["dataset"] = {
    name: boundedString(d.name, `datasets[${i}].name`, DATASET_LIMITS.name, true)!,
    digest: boundedString(d.digest, `datasets[${i}].digest`, DATASET_LIMITS.digest, true)!,
    sourceType: boundedString(d.sourceType, `datasets[${i}].source_type`, DATASET_LIMITS.source, true)!,
    source: boundedString(d.source, `datasets[${i}].source`, DATASET_LIMITS.source, true)!,
  };
  const schema = boundedString(d.schema, `datasets[${i}].schema`, DATASET_LIMITS.schema, false);
  const profile = boundedString(d.profile, `datasets[${i}].profile`, DATASET_LIMITS.profile, false);
  if (schema !== undefined) dataset.schema = schema;
  if (profile !== undefined) dataset.profile = profile;
  const tags: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.tags ?? {})) {
    boundedString(k, `datasets[${i}] tag key`, DATASET_LIMITS.tagKey, true);
    if (k === "__proto__") throw bad(`datasets[${i}] tag key ${k} is reserved.`, { key: k });
    tags[k] = boundedString(v, `datasets[${i}] tag ${k}`, DATASET_LIMITS.tagValue, true)!;
  }
  return { dataset, tags };
}

function checkModelId(v: unknown, what: string): string {
  const id = boundedString(v, what, 256, true)!;
  if (id === "") throw bad(`${what} is empty.`, { field: what });
  return id;
}

/**
 * Validates an annotation change and returns it normalised (tag values as strings, only known fields).
 * Throws ERR_MTRACK_INVALID_NAME for a bad tag key and ERR_MTRACK_INVALID_ARGUMENT for anything else.
 *
 * @example
 * checkAnnotationChange({ tags: { "mlflow.note.content": "best so far" } });
 */
export function checkAnnotationChange(change: AnnotationChange): AnnotationChange {
  const out: AnnotationChange = {};
  if (change.tags !== undefined) {
    out.tags = {};
    for (const [key, value] of Object.entries(change.tags)) {
      validateKey("tag", key);
      out.tags[key] = stringValue("tag", key, value);
    }
  }
  if (change.deleteTags !== undefined) {
    for (const key of change.deleteTags) validateKey("tag", key);
    out.deleteTags = [...change.deleteTags];
  }
  if (change.datasets !== undefined) out.datasets = change.datasets.map(checkDataset);
  if (change.modelInputs !== undefined) {
    out.modelInputs = change.modelInputs.map((m, i) => ({
      modelId: checkModelId(m?.modelId, `models[${i}].model_id`),
    }));
  }
  if (change.modelOutputs !== undefined) {
    out.modelOutputs = change.modelOutputs.map((m, i) => {
      const step = m?.step ?? 0;
      if (!Number.isSafeInteger(step)) throw bad(`models[${i}].step must be an integer.`, { index: i });
      return { modelId: checkModelId(m?.modelId, `models[${i}].model_id`), step };
    });
  }
  return out;
}

/**
 * An annotation read from disk or from a remote, or undefined when the value is not a well-formed one
 * (foreign or damaged content is skipped, never half-applied).
 *
 * @example
 * parseAnnotation(JSON.parse(refBody.toString("utf8")));
 */
export function parseAnnotation(value: unknown): Annotation | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Partial<Annotation>;
  if (typeof v.id !== "string" || !isAnnotationId(v.id)) return undefined;
  if (typeof v.runId !== "string" || !isRunId(v.runId)) return undefined;
  if (typeof v.time !== "number" || !Number.isFinite(v.time)) return undefined;
  try {
    return { id: v.id, runId: v.runId, time: v.time, ...checkAnnotationChange(v) };
  } catch {
    return undefined;
  }
}

/**
 * Every run's annotations, each list in application order ((time, id); an id appears once).
 *
 * @example
 * readAnnotations(dir).get(runId)?.length;
 */
export function readAnnotations(dir: string): Map<string, Annotation[]> {
  const byRun = new Map<string, Annotation[]>();
  const seen = new Set<string>();
  const packr = newPackr();
  for (const payload of readFrameFile(trackingPaths(dir).annotations).payloads) {
    let a: Annotation | undefined;
    try {
      a = parseAnnotation(packr.unpack(payload));
    } catch {
      a = undefined;
    }
    if (a === undefined || seen.has(a.id)) continue;
    seen.add(a.id);
    const list = byRun.get(a.runId);
    if (list === undefined) byRun.set(a.runId, [a]);
    else list.push(a);
  }
  for (const list of byRun.values()) {
    list.sort((x, y) => x.time - y.time || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  }
  return byRun;
}

/**
 * Appends annotations as they are (already validated, e.g. parsed from a remote), in one write.
 *
 * @example
 * appendAnnotations(dir, fetched.filter((a) => !known.has(a.id)));
 */
export function appendAnnotations(dir: string, annotations: readonly Annotation[]): void {
  if (annotations.length === 0) return;
  ensureTrackingDirs(dir);
  const packr = newPackr();
  appendFrames(
    trackingPaths(dir).annotations,
    annotations.map((a) => packr.pack(a)),
  );
}

/** Options of `annotateRun`. */
export interface AnnotateOptions {
  /** Unix ms clock; default Date.now. */
  clock?: () => number;
}

/**
 * Annotates a run (sealed or not): validates the change and appends it. The run must exist
 * (ERR_MTRACK_RUN_NOT_FOUND otherwise); give a full run id.
 *
 * @example
 * annotateRun(dir, runId, { tags: { reviewed: "yes" }, deleteTags: ["wip"] });
 */
export function annotateRun(
  dir: string,
  runId: string,
  change: AnnotationChange,
  options: AnnotateOptions = {},
): Annotation {
  if (!isRunId(runId) || !(fs.existsSync(refPath(dir, runId)) || fs.existsSync(activeLogPath(dir, runId)))) {
    throw new MtrackError("ERR_MTRACK_RUN_NOT_FOUND", `No run ${runId}.`, {
      data: { run: runId },
      hint: "List runs with `mtrack runs list`.",
    });
  }
  const checked = checkAnnotationChange(change);
  // Later than every annotation of the run already here, so two made in the same millisecond still
  // apply in the order they were made (ids only break ties between clones).
  const last = readAnnotations(dir).get(runId)?.at(-1)?.time ?? Number.NEGATIVE_INFINITY;
  const annotation: Annotation = {
    id: crypto.randomBytes(16).toString("hex"),
    runId,
    time: Math.max((options.clock ?? Date.now)(), last + 1),
    ...checked,
  };
  appendAnnotations(dir, [annotation]);
  return annotation;
}

/**
 * A run's row with its annotations applied: tags set and deleted in order, inputs and outputs added
 * (a dataset with the same name and digest, a model with the same id (and step) counts once). Returns
 * the row itself when there is nothing to apply, else a copy.
 *
 * @example
 * const row = applyAnnotations(summary, readAnnotations(dir).get(summary.runId));
 */
export function applyAnnotations<T extends RunSummary>(
  row: T,
  annotations: readonly Annotation[] | undefined,
): T {
  if (annotations === undefined || annotations.length === 0) return row;
  const tags = { ...row.tags };
  const inputs: RunInputs = {
    datasets: [...(row.inputs?.datasets ?? [])],
    models: [...(row.inputs?.models ?? [])],
  };
  const outputs: RunOutputs = { models: [...(row.outputs?.models ?? [])] };
  const datasetKeys = new Set(inputs.datasets.map((d) => `${d.dataset.name}\u0000${d.dataset.digest}`));
  const inputModels = new Set(inputs.models.map((m) => m.modelId));
  const outputModels = new Set(outputs.models.map((m) => `${m.modelId}\u0000${m.step}`));
  for (const a of annotations) {
    if (a.tags !== undefined) Object.assign(tags, a.tags);
    for (const key of a.deleteTags ?? []) delete tags[key];
    for (const d of a.datasets ?? []) {
      const key = `${d.dataset.name}\u0000${d.dataset.digest}`;
      if (datasetKeys.has(key)) continue;
      datasetKeys.add(key);
      inputs.datasets.push(d);
    }
    for (const m of a.modelInputs ?? []) {
      if (inputModels.has(m.modelId)) continue;
      inputModels.add(m.modelId);
      inputs.models.push(m);
    }
    for (const m of a.modelOutputs ?? []) {
      const key = `${m.modelId}\u0000${m.step}`;
      if (outputModels.has(key)) continue;
      outputModels.add(key);
      outputs.models.push(m);
    }
  }
  const out: T = { ...row, tags };
  if (inputs.datasets.length > 0 || inputs.models.length > 0) out.inputs = inputs;
  if (outputs.models.length > 0) out.outputs = outputs;
  return out;
}
