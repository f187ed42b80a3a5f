/**
 * mtrack as a library. Training code usually needs only `startRun`:
 *
 * @example
 * import { startRun } from "mtrack";
 * const run = await startRun({ experiment: "spirals", name: "baseline", params: { lr: 0.001 } });
 * for (let step = 0; step < 100; step++) run.logMetric("loss", 1 / (step + 1), { step });
 * await run.end();
 *
 * The morphogenetic engine (TensorFlow.js) is a separate entry point, `mtrack/engine`, so importing
 * `mtrack` never loads TensorFlow.
 */

export { CONFIG_KEYS, Config } from "./config.js";
// Errors
export { ERROR_CODES, type ErrorCode, isMtrackError, MtrackError } from "./errors.js";
export { decodeNpz, encodeNpz } from "./formats/npz.js";
// File formats other tools read
export { EventFileWriter, type EventFileWriterOptions, readEventFile } from "./formats/tfevents.js";
// git
export { findGitRoot, type GitFileEntry, type GitRefInfo, type GitRepo, openGitRepo } from "./git/index.js";
// Pipelines
export * from "./pipeline/index.js";
export { fsckRegistry, type RegistryFsck, type RegistryProblem } from "./registry/fsck.js";
export { registryRoots } from "./registry/gc.js";
// The model registry
export {
  type Changed,
  ModelRegistry,
  type ModelRegistryOptions,
  modelJson,
  type ResolvedModel,
  registryDir,
  versionJson,
} from "./registry/models.js";
export type { LoggedModel, ModelVersion, RegisteredModel } from "./registry/types.js";
export { formatModelUri, isModelUri, type ModelUri, parseModelUri } from "./registry/uri.js";
export { addRemote, listRemotes, modifyRemote, removeRemote } from "./remotes/config.js";
// Remotes and the server (S3 support loads the AWS SDK only when an s3:// remote is opened)
export {
  type ObjectData,
  type ObjectSpec,
  openRemote,
  type Remote,
  type RemoteSpec,
  resolveRemote,
} from "./remotes/index.js";
// Repository, store and data versioning
export { type InitResult, initRepo, Repo } from "./repo.js";
export { createHandler, type RunningServer, type ServerOptions, startServer } from "./server/server.js";
export { hashBytes, hashFileSync, isHash } from "./store/hash.js";
export { Store } from "./store/store.js";
export { decodeTree, encodeTree, type TreeEntry } from "./store/tree.js";
export type { Hash, LinkMode, ObjectInfo, ObjectStore, PutResult } from "./store/types.js";
export type { MetricOptions, ModelOptions, Run } from "./tracking/api.js";
// Tracking
export {
  gitInfoFor,
  openTracking,
  REPRO_ID_TAG,
  type RepoStartRunOptions,
  runEnvTags,
  runRoots,
  STAGE_TAG,
  startRun,
  type Tracking,
} from "./tracking/context.js";
export { openLiveRun } from "./tracking/external.js";
export {
  deleteRun,
  findRunsByTag,
  getMetricHistory,
  getRun,
  listArtifactFiles,
  listExperiments,
  listRuns,
  materializeArtifact,
  readArtifact,
  resolveRunId,
  restoreRun,
} from "./tracking/read.js";
export { sealPendingRuns } from "./tracking/seal.js";
export { compareRuns, parseFilter, parseOrderBy, searchRuns } from "./tracking/search.js";
export type {
  ArtifactRef,
  MetricHistory,
  MetricSummary,
  ModelRef,
  RunDetails,
  RunStatus,
  RunSummary,
} from "./tracking/types.js";
export {
  fetch,
  type PullResult,
  pull,
  push,
  type RemoteStatus,
  remoteStatus,
  type SyncOptions,
  type SyncResult,
} from "./transfer/sync.js";
export {
  buildReport,
  loadReportAssets,
  type ReportData,
  renderReportHtml,
} from "./ui/report.js";
export {
  createUiHandler,
  type RunningUiServer,
  startUiServer,
  type UiServerOptions,
} from "./ui/server.js";
export { type AddResult, addPaths, commitPaths } from "./workspace/add.js";
export { type CheckoutResult, checkoutPaths } from "./workspace/checkout.js";
export { type FsckResult, fsckStore } from "./workspace/fsck.js";
export {
  type GcResult,
  type GcRoot,
  gcStore,
  gitHistoryRoots,
  type RootSource,
  workspaceRoots,
} from "./workspace/gc.js";
export { type GetResult, getAtRev } from "./workspace/get.js";
export { type Pointer, parsePointer, serializePointer } from "./workspace/pointer.js";
export { removePaths, unprotectPaths } from "./workspace/remove.js";
export { type StatusResult, statusPaths } from "./workspace/status.js";
export { findTrackedPaths, selectTracked } from "./workspace/tracked.js";
