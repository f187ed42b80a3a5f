/**
 * Data types shared by the tracking layer: the run summary row that listing and search work on, the full
 * run record sealed into the store, and the git provider the API is given.
 */

import type { Hash } from "../store/types.js";

/** Lifecycle of a run, as in MLflow (SCHEDULED is not used: a run exists once it starts). */
export type RunStatus = "RUNNING" | "FINISHED" | "FAILED" | "KILLED";

/** Statuses a caller may end a run with. */
export const RUN_STATUSES: readonly RunStatus[] = ["RUNNING", "FINISHED", "FAILED", "KILLED"];

/**
 * The latest point of a metric plus its extremes. "Latest" is the point with the greatest step, then the
 * greatest timestamp, then the greatest value (the order MLflow's SQL store uses for latest_metrics).
 */
export interface MetricSummary {
  last: number;
  min: number;
  max: number;
  /** Step of the latest point. */
  step: number;
  /** Timestamp (Unix ms) of the latest point. */
  timestamp: number;
}

/**
 * One row of `runs list`: everything search filters and sorts on, without metric histories or artifacts.
 *
 * @example
 * const row: RunSummary = { runId: "3f2a…", experimentId: "0", experimentName: "Default", name: "lr-sweep-1",
 *   status: "FINISHED", startTime: 1764230400000, endTime: 1764230460000, params: { lr: "0.001" },
 *   tags: {}, metrics: { val_acc: { last: 0.93, min: 0.5, max: 0.93, step: 9, timestamp: 1764230459000 } },
 *   commit: "a1b2c3…", dirty: false, branch: "main", deleted: false };
 */
export interface RunSummary {
  /** 32 lowercase hex characters (a uuid4 without dashes, like MLflow). */
  runId: string;
  experimentId: string;
  experimentName: string;
  name: string;
  status: RunStatus;
  /** Unix ms. */
  startTime: number;
  /** Unix ms, or null while the run is RUNNING (or when it died without ending). */
  endTime: number | null;
  params: Record<string, string>;
  tags: Record<string, string>;
  metrics: Record<string, MetricSummary>;
  /** Git commit the run started from, or null outside git / before the first commit. */
  commit: string | null;
  /** True when the worktree had uncommitted changes when the run started. */
  dirty: boolean;
  branch: string | null;
  /** Soft-deleted (MLflow's lifecycle_stage "deleted"); hidden from listings unless asked for. */
  deleted: boolean;
  /** True when the run never ended properly (its process died); such runs are reported as KILLED. */
  unfinished?: boolean;
  /** What the run read: datasets and models (MLflow's run inputs); absent when none were logged. */
  inputs?: RunInputs;
  /** What the run produced: models (MLflow's run outputs); absent when none were logged. */
  outputs?: RunOutputs;
}

/**
 * A dataset a run used, as MLflow's client describes it (`mlflow.log_input`): `digest` identifies the
 * content, `source` (JSON) says where it came from, `schema` and `profile` (JSON) what it holds.
 */
export interface Dataset {
  name: string;
  digest: string;
  sourceType: string;
  source: string;
  schema?: string;
  profile?: string;
}

/** One dataset input of a run, with its input tags (e.g. `mlflow.data.context` = "training"). */
export interface DatasetInput {
  dataset: Dataset;
  tags: Record<string, string>;
}

/** Run inputs: datasets, and logged models the run used (by id; the models live elsewhere). */
export interface RunInputs {
  datasets: DatasetInput[];
  models: { modelId: string }[];
}

/** Run outputs: logged models the run produced, with the step they were logged at. */
export interface RunOutputs {
  models: { modelId: string; step: number }[];
}

/** What the git seam tells a run about the worktree it starts in. */
export interface GitInfo {
  commit: string | null;
  branch: string | null;
  dirty: boolean;
}

/** Injected so tracking does not depend on how git is read (isomorphic-git, a fake in tests, ...). */
export type GitInfoProvider = () => Promise<GitInfo>;

/** One file inside a directory artifact or a model (paths relative to the directory, posix). */
export interface DirEntry {
  name: string;
  hash: Hash;
  size: number;
}

/**
 * An artifact of a run. A "file" points at the object itself; a "dir" points at a msgpackr manifest
 * (DirEntry[]) stored as its own object.
 */
export interface ArtifactRef {
  /** Relative posix path inside the run's artifact namespace. */
  name: string;
  kind: "file" | "dir";
  hash: Hash;
  /** Total bytes (for a dir: the sum of its files). */
  size: number;
}

/** A model logged with `logModel`: a directory artifact plus what is needed to load it. */
export interface ModelRef {
  name: string;
  flavor: string;
  signature: unknown;
  metadata: Record<string, unknown>;
  /** Hash of the directory manifest (DirEntry[]). */
  hash: Hash;
  size: number;
}

/** Per-metric entry of a sealed run record: the summary, the number of points and the series object. */
export interface SealedMetric extends MetricSummary {
  count: number;
  /** Hash of the columnar series blob ({ steps, values, timestamps } as float64 little-endian bytes). */
  hash: Hash;
}

/** The full run as sealed into the store (msgpackr). `format` lets later versions read older records. */
export interface RunRecord {
  format: 1;
  runId: string;
  experimentId: string;
  experimentName: string;
  name: string;
  status: RunStatus;
  startTime: number;
  endTime: number | null;
  params: Record<string, string>;
  tags: Record<string, string>;
  metrics: Record<string, SealedMetric>;
  artifacts: ArtifactRef[];
  models: ModelRef[];
  git: GitInfo;
  command: string[];
  host: string;
  pid: number;
  mtrackVersion: string;
  unfinished: boolean;
  /** Message and stack of the uncaught error that failed the run, if any. */
  error: string | null;
}

/** A metric's full history as parallel columns. */
export interface MetricHistory {
  steps: Float64Array;
  values: Float64Array;
  timestamps: Float64Array;
}

/** Everything `runs show` needs: the summary plus per-metric point counts, artifacts, models and provenance. */
export interface RunDetails extends RunSummary {
  metrics: Record<string, MetricSummary & { count: number }>;
  /**
   * Artifacts, texts included. While a run is unsealed its texts are not in the store yet: they are listed
   * with an empty hash and read from the run log.
   */
  artifacts: ArtifactRef[];
  models: ModelRef[];
  git: GitInfo;
  command: string[];
  host: string;
  pid: number;
  mtrackVersion: string;
  error: string | null;
  /** Hash of the sealed run record, or null while the run is still in its active log. */
  recordHash: Hash | null;
}
