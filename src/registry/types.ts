/**
 * The model registry's data: registered models with numbered versions and aliases, MLflow 3's logged
 * models, and the append-only events they are folded from. Plain data, no I/O.
 */
import type { Hash } from "../store/types.js";

/** What a version's files are: a directory manifest (DirEntry[], msgpackr) in the store, like a run's model. */
export interface ModelContent {
  /** Hash of the manifest. */
  hash: Hash;
  /** Total bytes of the files. */
  size: number;
  /** Number of files. */
  files: number;
}

/** Input/output description of a model, when known (MLflow's signature, or the engine's input width). */
export interface ModelSignature {
  inputs: unknown;
  outputs: unknown;
  params?: unknown;
}

/** One version of a registered model. */
export interface ModelVersion {
  name: string;
  /** 1, 2, 3... per model, never reused after a delete. */
  version: number;
  /** Where it was registered from: `runs:/<id>/<path>`, `models:/...`, or a workspace path. */
  source: string;
  runId: string | null;
  /** MLflow 3 logged model the version was made from, if any. */
  modelId: string | null;
  /** The git commit the content was produced at (the run's commit, else HEAD when registered). */
  commit: string | null;
  content: ModelContent;
  signature: ModelSignature | null;
  /** "tfjs-morphogenetic", "mlflow" (an MLmodel file), or "files". */
  flavor: string;
  description: string;
  tags: Record<string, string>;
  /** Unix ms. */
  createdAt: number;
  updatedAt: number;
  user: string;
  /** Always READY: a version exists only once its content is stored. */
  status: "READY";
  /** Aliases pointing at this version, sorted. */
  aliases: string[];
}

/** A registered model: a name with versions. */
export interface RegisteredModel {
  name: string;
  description: string;
  tags: Record<string, string>;
  createdAt: number;
  updatedAt: number;
  user: string;
  /** alias → version number. */
  aliases: Record<string, number>;
  /** Live versions by number. */
  versions: Map<number, ModelVersion>;
  /** Highest version number ever created (deleted ones included). */
  latestVersion: number;
}

/** A file uploaded into a logged model's artifacts. */
export interface LoggedModelFile {
  path: string;
  hash: Hash;
  size: number;
}

/** MLflow 3's LoggedModel: a model logged by `mlflow.<flavor>.log_model`, optionally linked to a run. */
export interface LoggedModel {
  /** `m-` + 32 hex. */
  modelId: string;
  experimentId: string;
  name: string;
  sourceRunId: string | null;
  modelType: string;
  status: "PENDING" | "READY" | "FAILED";
  statusMessage: string;
  params: Record<string, string>;
  tags: Record<string, string>;
  /** path → file; a later upload of the same path replaces the earlier one. */
  files: Map<string, LoggedModelFile>;
  createdAt: number;
  updatedAt: number;
  user: string;
  deleted: boolean;
}

/** The folded registry. */
export interface RegistryState {
  models: Map<string, RegisteredModel>;
  loggedModels: Map<string, LoggedModel>;
  /**
   * Events that did not apply (e.g. two clones both created version 3 of a model, and this one came
   * second): reported by `mtrack models list` and fsck, never fatal.
   */
  conflicts: { event: string; reason: string }[];
}

interface EventBase {
  /** `<13-digit unix ms>-<8 hex>`: sorts by time, unique across clones. */
  id: string;
  time: number;
  user: string;
}

/** Every registry change, as stored (one JSON file per event). */
export type RegistryEvent = EventBase &
  (
    | { op: "model.create"; name: string; description?: string; tags?: Record<string, string> }
    | { op: "model.update"; name: string; description: string }
    | { op: "model.rename"; name: string; newName: string }
    | { op: "model.delete"; name: string }
    | { op: "model.tag"; name: string; key: string; value: string | null }
    | {
        op: "version.create";
        name: string;
        version: number;
        source: string;
        runId: string | null;
        modelId: string | null;
        commit: string | null;
        content: ModelContent;
        signature: ModelSignature | null;
        flavor: string;
        description?: string;
        tags?: Record<string, string>;
      }
    | { op: "version.update"; name: string; version: number; description: string }
    | { op: "version.delete"; name: string; version: number }
    | { op: "version.tag"; name: string; version: number; key: string; value: string | null }
    | { op: "alias.set"; name: string; alias: string; version: number }
    | { op: "alias.delete"; name: string; alias: string }
    | {
        op: "logged.create";
        modelId: string;
        experimentId: string;
        name: string;
        sourceRunId: string | null;
        modelType?: string;
        params?: Record<string, string>;
        tags?: Record<string, string>;
      }
    | { op: "logged.file"; modelId: string; path: string; hash: Hash; size: number }
    | { op: "logged.finalize"; modelId: string; status: "READY" | "FAILED"; message?: string }
    | { op: "logged.tag"; modelId: string; key: string; value: string | null }
    | { op: "logged.params"; modelId: string; params: Record<string, string> }
    | { op: "logged.delete"; modelId: string }
  );

/** The `op` of an event. */
export type RegistryOp = RegistryEvent["op"];
