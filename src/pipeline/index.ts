/**
 * The pipeline engine's public surface: parse `pipeline.yaml`, build and validate the DAG, plan a repro
 * (pure), and run it against an injected {@link StageIO}.
 *
 * @example
 * const pipeline = parsePipeline({ text, file: "pipeline.yaml", readFile });
 * const dag = buildDag(pipeline, { exists });
 * const result = await reproduce({ dag, lock, io, dir, env: process.env, jobs: 2 });
 */

// The workspace side: real I/O over an open Repo, the run-cache, status and comparisons between revisions.
export {
  type DataChange,
  type DataDiff,
  type DataState,
  diffData,
  diffValues,
  type FlatFiles,
  metricsAt,
  metricsDiff,
  metricsShow,
  openRev,
  paramsAt,
  paramsDiff,
  pipelineFilesAt,
  type Rev,
  type RevisionDiff,
  type RevMetrics,
  type RevReader,
  revisionDiff,
  type ValueDiff,
  type ValuesComparison,
} from "./compare.js";
export {
  type BuildDagOptions,
  buildDag,
  type Dag,
  isInside,
  overlaps,
  type SelectOptions,
  StageScheduler,
  selectStages,
  stagesConflict,
} from "./dag.js";
export {
  DEFAULT_PIPELINE_FILE,
  type LoadedPipeline,
  loadPipeline,
  lockPathFor,
  resolvePipelineFile,
} from "./load.js";
export {
  emptyLock,
  type FileEntry,
  LOCK_VERSION,
  type LockEntry,
  type LockFile,
  parseLock,
  serializeLock,
} from "./lockfile.js";
export {
  flattenParams,
  getParam,
  isMapping,
  type Lookup,
  type ParamsObject,
  parseParamsText,
  pickParams,
} from "./params.js";
export { type ParsePipelineOptions, parsePipeline } from "./parse.js";
export {
  type CurrentState,
  canonicalJson,
  currentParams,
  type FileState,
  isRunCacheable,
  isStageStale,
  type Plan,
  type PlanAction,
  type PlannedStage,
  type PlanOptions,
  planRepro,
  runCacheKey,
  type StaleCheck,
  type StaleOptions,
} from "./plan.js";
export { dagEdges, dagToDot, dagToMermaid, dagToText } from "./render.js";
export {
  type OutputSinks,
  type ReproOptions,
  type ReproResult,
  type RunCache,
  reproduce,
  type SpawnedCommand,
  type SpawnFn,
  type StageEvent,
  type StageIO,
  type StageResult,
  type StageStatus,
  spawnShell,
} from "./run.js";
export {
  pipelineLockRoots,
  type RunCacheEntry,
  type RunCacheOutput,
  RunCacheStore,
  runCacheRoots,
} from "./runcache.js";
export { type PipelineStatus, pipelineStatus } from "./status.js";
export type { DepSpec, OutKind, OutSpec, ParamRef, Pipeline, SourcePos, Stage } from "./types.js";
export { WorkspaceIO, type WorkspaceIOOptions } from "./workspace-io.js";
