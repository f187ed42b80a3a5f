/**
 * The JSON shapes of `mtrack ui`'s API (/api/v1, documented in docs/ui.md), in one place for both ends: the
 * server builds them (src/ui/) and the page reads them (ui/src/, which imports these types only). This file
 * imports nothing, so the browser build can type-check against it without Node's types.
 */

/** A run's status, as in MLflow. */
export type WireRunStatus = "RUNNING" | "FINISHED" | "FAILED" | "KILLED";

/** One metric's summary. JSON cannot carry NaN or ±Inf: they arrive as null. */
export interface MetricCell {
  last: number | null;
  min: number | null;
  max: number | null;
  step: number;
  timestamp: number;
  count?: number;
}

/** An experiment with its run counts (GET /experiments). */
export interface ExperimentInfo {
  id: string;
  name: string;
  creationTime: number;
  runCount: number;
  activeRunCount: number;
}

/** A row of GET /runs: summary fields plus only the requested param/metric/tag columns. */
export interface RunRow {
  runId: string;
  name: string;
  experimentId: string;
  experimentName: string;
  status: WireRunStatus;
  unfinished: boolean;
  commit: string | null;
  dirty: boolean;
  branch: string | null;
  startTime: number;
  endTime: number | null;
  durationMs: number | null;
  deleted: boolean;
  params?: Record<string, string>;
  metrics?: Record<string, MetricCell>;
  tags?: Record<string, string>;
}

/** Keys present in the matching runs (what the column picker offers). */
export interface RunKeys {
  params: string[];
  metrics: string[];
  tags: string[];
}

/** Answer of GET /runs. */
export interface RunsPage {
  total: number;
  offset: number;
  runs: RunRow[];
  keys: RunKeys;
}

/** Answer of GET /runs/:id. */
export interface RunInfo extends RunRow {
  params: Record<string, string>;
  tags: Record<string, string>;
  metrics: Record<string, MetricCell & { count: number }>;
  artifacts: { name: string; kind: "file" | "dir"; size: number }[];
  models: { name: string; flavor: string; size: number }[];
  git: { commit: string | null; branch: string | null; dirty: boolean };
  command: string[];
  host: string;
  error: string | null;
  stage: string | null;
  reproId: string | null;
  parentRunId: string | null;
  /** Datasets the run used (MLflow's dataset inputs), with their context (`mlflow.data.context`). */
  datasets: { name: string; digest: string; sourceType: string; context: string | null }[];
  /** Logged models the run used (`input`) or produced (`output`, with the step), by id. */
  loggedModels: { modelId: string; role: "input" | "output"; step: number | null }[];
  /** Registered model versions made from this run ("Registered as clf v2"). */
  registered: RegisteredRef[];
}

/** One (possibly downsampled) series of GET /series. */
export interface Series {
  runId: string;
  key: string;
  total: number;
  downsampled: boolean;
  steps: number[];
  values: (number | null)[];
  timestamps: number[];
}

/** Mean/min/max of one group of runs on a common step grid (GET /bands); null where no run has a value. */
export interface Band {
  value: string | null;
  runs: number;
  steps: number[];
  mean: (number | null)[];
  min: (number | null)[];
  max: (number | null)[];
}

/** One file of a run's artifacts (GET /runs/:id/artifacts). */
export interface ArtifactFile {
  path: string;
  size: number;
  kind: "image" | "text" | "binary";
  artifact: string;
}

/** Answer of GET /info. */
export interface ServerInfo {
  version: string;
  repo: string;
  readOnly: boolean;
  pollMs: number;
}

/** A registered model version named from elsewhere (a run's page). */
export interface RegisteredRef {
  name: string;
  version: number;
  aliases: string[];
}

/** A row of GET /models. */
export interface ModelSummary {
  name: string;
  description: string;
  tags: Record<string, string>;
  /** Live versions. */
  versionCount: number;
  /** The highest live version, null when the model has none. */
  latestVersion: number | null;
  /** alias → version number. */
  aliases: Record<string, number>;
  createdAt: number;
  updatedAt: number;
  user: string;
}

/** A version in a model's versions table (GET /models/:name). */
export interface ModelVersionRow {
  name: string;
  version: number;
  /** `models:/<name>/<version>` */
  uri: string;
  aliases: string[];
  /** MLflow's legacy stage, from the aliases `production` / `staging`. */
  stage: "Production" | "Staging" | "None";
  /** Where it was registered from: `runs:/...`, `models:/...` or a workspace path. */
  source: string;
  /** The run that produced it, and that run's name when the run is in this repository. */
  runId: string | null;
  runName: string | null;
  /** The MLflow logged model it was made from. */
  modelId: string | null;
  commit: string | null;
  /** Total bytes and number of files. */
  size: number;
  fileCount: number;
  flavor: string;
  description: string;
  tags: Record<string, string>;
  createdAt: number;
  user: string;
}

/** Answer of GET /models/:name. */
export interface ModelInfo extends ModelSummary {
  /** Newest first. */
  versions: ModelVersionRow[];
}

/** One file of a version (GET /models/:name/versions/:version). */
export interface ModelFile {
  path: string;
  size: number;
  kind: "image" | "text" | "binary";
}

/** Answer of GET /models/:name/versions/:version. */
export interface ModelVersionInfo extends ModelVersionRow {
  /** Hash of the version's manifest in the store. */
  contentHash: string;
  signature: { inputs: unknown; outputs: unknown; params?: unknown } | null;
  /** URIs that load this version: `models:/<name>/<v>` and one `models:/<name>@<alias>` per alias. */
  uris: string[];
  /** The files, sorted by path; empty with `missing` when the manifest is not in this store. */
  files: ModelFile[];
  /** True when the version's files are not in this store (pull them first). */
  missing: boolean;
}
