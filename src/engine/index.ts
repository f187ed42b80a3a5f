/**
 * The morphogenetic engine's public API (re-exported by the package entry point).
 *
 * @example
 * import { generateDataset, trainExperiment, DEFAULT_DATASET_CONFIG, DEFAULT_EXPERIMENT_CONFIG } from "mtrack";
 * const result = await trainExperiment({ config: { ...DEFAULT_EXPERIMENT_CONFIG }, data: generateDataset({ ...DEFAULT_DATASET_CONFIG }) });
 */
export { type BackendName, initBackend } from "./backend.js";
export {
  type DatasetConfig,
  DEFAULT_DATASET_CONFIG,
  DEFAULT_EXPERIMENT_CONFIG,
  DEVICES,
  type Device,
  EXPERIMENT_KEYS,
  type ExperimentConfig,
  experimentSlug,
  isProblemType,
  PROBLEM_TYPES,
  type ProblemType,
  pyFloatStr,
  validateDatasetConfig,
  validateExperimentConfig,
} from "./config.js";
export { KasminaMicro, type KasminaOptions } from "./controller.js";
export { type Dataset, datasetFromArrays, datasetToArrays, generateDataset } from "./datasets.js";
export { exportModel, loadModel, type ModelArtifact, type ModelJson } from "./export.js";
export { loadModelByUri } from "./load-uri.js";
export {
  type LoggerCall,
  noopLogger,
  type RunStatus,
  recordingLogger,
  type TrainingLogger,
} from "./logger.js";
export { BaseNet, type BaseNetOptions } from "./model.js";
export {
  type FinishArtifacts,
  MODEL_FLAVOR,
  MtrackLogger,
  type MtrackLoggerOptions,
  TENSORBOARD_ARTIFACT,
  type TrackingRun,
} from "./mtrack-logger.js";
export { Rng } from "./random.js";
export { formatResultsLog, metricsJson } from "./results.js";
export {
  type GerminationEvent,
  SeedManager,
  type SeedState,
  type SeedStatus,
  SentinelSeed,
} from "./seeds.js";
export {
  type EpochRecord,
  type RunLogEntry,
  type TrainOptions,
  type TrainResult,
  trainExperiment,
} from "./train.js";
