/**
 * What the MLflow tracking routes (routes.ts) need from whatever keeps the runs: the repository's files
 * (`MlflowService`, service.ts) or a PostgreSQL database (`PgMlflowService`, src/server/pg/mlflow.ts).
 * Every method takes the request message and returns the response message (or a promise of it), so the
 * same routes, wire format and error mapping serve both.
 */
import type { Readable } from "node:stream";
import type { Message } from "./wire.js";

/** A request handler of the backend: request message in, response message out. */
type Call = (msg: Message) => Message | Promise<Message>;
/** A handler of a change recorded as `user` (the name of the request's token). */
type UserCall = (msg: Message, user?: string) => Message | Promise<Message>;
type MaybePromise<T> = T | Promise<T>;

/**
 * The model registry endpoints (model_registry.proto): the repository's (`MlflowModelRegistry`,
 * model-registry.ts) or a database's (`PgMlflowModelRegistry`, src/server/pg/registry.ts).
 */
export interface ModelRegistryApi {
  createModel: UserCall;
  getModel: Call;
  updateModel: UserCall;
  renameModel: UserCall;
  deleteModel: UserCall;
  searchModels: Call;
  latestVersions: Call;
  setModelTag: UserCall;
  deleteModelTag: UserCall;
  setAlias: UserCall;
  deleteAlias: UserCall;
  getByAlias: Call;
  createVersion: UserCall;
  getVersion: Call;
  updateVersion: UserCall;
  deleteVersion: UserCall;
  transitionStage: UserCall;
  searchVersions: Call;
  downloadUri: Call;
  setVersionTag: UserCall;
  deleteVersionTag: UserCall;
  /** The files of a registered version's content (RESOURCE_DOES_NOT_EXIST unless a version has it). */
  contentFiles(hash: string): MaybePromise<{ name: string; size: number; hash: string }[]>;
}

/** MLflow 3's logged-model endpoints: the repository's (logged-models.ts) or a database's. */
export interface LoggedModelsApi {
  create: UserCall;
  get: Call;
  finalize: UserCall;
  delete: UserCall;
  setTags: UserCall;
  deleteTag: UserCall;
  logParams: UserCall;
  search: Call;
  listArtifacts: Call;
  /** The proxy's listing of one directory of a logged model's files (base names). */
  listArtifactDir(modelId: string, dir: string): MaybePromise<FileInfo[]>;
  /** The stored object of one file of a logged model, or undefined. */
  artifactFile(modelId: string, name: string): MaybePromise<{ hash: string; size: number } | undefined>;
  /** Stores an uploaded file as `name` of a logged model's artifacts. */
  putArtifact(
    modelId: string,
    name: string,
    body: AsyncIterable<Buffer> | NodeJS.ReadableStream,
    user?: string,
  ): Promise<void>;
}

/** One entry of an artifact listing, in MLflow's FileInfo shape. */
export interface FileInfo {
  path: string;
  is_dir: boolean;
  file_size?: number;
}

/** A run's artifact opened for download. */
export interface OpenedArtifact {
  size: number;
  stream: Readable;
}

/**
 * The tracking backend under the MLflow routes.
 *
 * @example
 * router.mount("", mlflowApi(new MlflowService({ tracking: openTracking(repo) })));
 * router.mount("", mlflowApi(await PgMlflowService.open({ pool, objectsDir })));
 */
export interface MlflowBackend {
  createExperiment: Call;
  getExperimentByName: Call;
  getExperiment: Call;
  searchExperiments: Call;
  /** `user`: the name of the request's token (a database backend records it as the run's user). */
  createRun(msg: Message, user: string): Message | Promise<Message>;
  updateRun: Call;
  getRun: Call;
  searchRuns: Call;
  logMetric: Call;
  logParam: Call;
  setTag: Call;
  logBatch: Call;
  deleteRun: Call;
  restoreRun: Call;
  getMetricHistory: Call;
  /** experiments/update, delete, restore, set-experiment-tag, delete-experiment-tag. */
  readonly experiments: { update: Call; delete: Call; restore: Call; setTag: Call; deleteTag: Call };
  /** runs/delete-tag, log-inputs, outputs. */
  readonly annotations: { deleteTag: Call; logInputs: Call; logOutputs: Call };
  /** MLflow 3's logged models; undefined when the backend has none (search answers empty). */
  readonly loggedModels: LoggedModelsApi | undefined;
  /** Registered models and versions; undefined when the backend has none (NOT_IMPLEMENTED). */
  readonly modelRegistry: ModelRegistryApi | undefined;

  /** artifacts/list (tracking API) → `{root_uri, files}` with paths relative to the run's root. */
  listArtifacts(msg: Message): Message | Promise<Message>;
  /** The proxy's listing of one directory of a run's artifacts (base names). */
  listArtifactDir(runId: string, dir: string): FileInfo[] | Promise<FileInfo[]>;
  /**
   * The stored object of one artifact file of a run, for streaming it through the routes' `openObject`
   * (content-addressed backends); undefined when it is not a stored object.
   */
  artifactFile(runId: string, name: string): { hash: string; size: number } | undefined;
  /** Opens one artifact file of a run for streaming (backends that keep artifacts as plain files). */
  openArtifact?(runId: string, name: string): Promise<OpenedArtifact>;
  /** The bytes of one artifact file of a run. */
  readArtifact(runId: string, name: string): Buffer | Promise<Buffer>;
  /** The bytes of one stored object (a logged model's or registered version's file). */
  readObject(hash: string): Buffer | Promise<Buffer>;
  /**
   * Streams one stored object (backends with their own objects store, e.g. S3); used before the
   * server's store directory.
   */
  openObject?(hash: string): Promise<Readable | undefined>;
  /** Stores an uploaded file as artifact `name` of a run. */
  putArtifact(
    runId: string,
    name: string,
    body: AsyncIterable<Buffer> | NodeJS.ReadableStream,
  ): Promise<void>;
  /** Ends what the backend holds open (runs it owns end as `status`, default KILLED); at server stop. */
  close(status?: "KILLED" | "FAILED"): Promise<void>;
}
