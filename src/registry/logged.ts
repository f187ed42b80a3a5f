/**
 * MLflow 3's logged models over the registry's event log: a model `mlflow.<flavor>.log_model` creates
 * (optionally from a run), its files (uploaded one by one, each stored in the object store and recorded
 * as a `logged.file` event), its status (PENDING until finalized READY or FAILED), tags and params.
 * Every change is one event written under the registry lock, so a crash leaves it whole or absent.
 */
import crypto from "node:crypto";
import { MtrackError } from "../errors.js";
import type { ObjectStore } from "../store/types.js";
import { validateArtifactName, validateKey } from "../tracking/names.js";
import type { Registry } from "./registry.js";
import {
  compareRegistryItems,
  matchesRegistryFilter,
  parseRegistryFilter,
  type RegistryItemView,
  type RegistryOrder,
  type RegistrySearchSchema,
} from "./search.js";
import type { LoggedModel, LoggedModelFile, RegistryState } from "./types.js";
import { LOGGED_MODEL_ID } from "./uri.js";

/** What a new logged model starts with. */
export interface NewLoggedModel {
  experimentId: string;
  /** Default: a generated `model-<hex>`. */
  name?: string;
  sourceRunId?: string | null;
  modelType?: string;
  params?: Record<string, string>;
  tags?: Record<string, string>;
}

/** A search of logged models. */
export interface LoggedModelSearch {
  /** Experiments to search (all when empty). */
  experimentIds?: readonly string[];
  /** MLflow's filter over name, model_id, model_type, status, source_run_id, timestamps, tags, params. */
  filter?: string;
  order?: readonly RegistryOrder[];
}

/** What logged-model filters and orderings may name. */
export const LOGGED_MODEL_SEARCH: RegistrySearchSchema = {
  attributes: {
    name: "string",
    model_id: "string",
    model_type: "string",
    status: "string",
    source_run_id: "string",
    experiment_id: "string",
    creation_timestamp: "number",
    last_updated_timestamp: "number",
  },
  aliases: {
    creation_time: "creation_timestamp",
    creation_timestamp_ms: "creation_timestamp",
    last_updated_timestamp_ms: "last_updated_timestamp",
    run_id: "source_run_id",
  },
  params: true,
};

/** MLflow's status names for a logged model's status. */
const STATUS_NAMES: Record<LoggedModel["status"], string> = {
  PENDING: "PENDING",
  READY: "READY",
  FAILED: "FAILED",
};

function view(m: LoggedModel): RegistryItemView {
  const attrs: Record<string, string | number | null> = {
    name: m.name,
    model_id: m.modelId,
    model_type: m.modelType,
    status: STATUS_NAMES[m.status],
    source_run_id: m.sourceRunId,
    experiment_id: m.experimentId,
    creation_timestamp: m.createdAt,
    last_updated_timestamp: m.updatedAt,
  };
  return { attribute: (n) => attrs[n] ?? null, tags: m.tags, params: m.params };
}

/**
 * The logged models matching a search: newest first unless `order` says otherwise. Pure.
 *
 * @example
 * searchLoggedModels(state.loggedModels.values(), { experimentIds: ["0"], filter: "name = 'model'" });
 */
export function searchLoggedModels(models: Iterable<LoggedModel>, search: LoggedModelSearch): LoggedModel[] {
  const clauses = parseRegistryFilter(search.filter, LOGGED_MODEL_SEARCH);
  const exps = new Set(search.experimentIds ?? []);
  const found = [...models].filter(
    (m) =>
      !m.deleted && (exps.size === 0 || exps.has(m.experimentId)) && matchesRegistryFilter(clauses, view(m)),
  );
  const newestFirst = (a: LoggedModel, b: LoggedModel) =>
    b.createdAt - a.createdAt || (a.modelId < b.modelId ? -1 : 1);
  return found.sort(compareRegistryItems(search.order ?? [], view, newestFirst));
}

function notFound(modelId: string): MtrackError {
  return new MtrackError("ERR_MTRACK_MODEL_NOT_FOUND", `Logged model '${modelId}' not found.`, {
    hint: "List logged models with the MLflow client's search_logged_models, or check the id (m-<32 hex>).",
    data: { modelId },
  });
}

function live(s: RegistryState, modelId: string): LoggedModel {
  const m = s.loggedModels.get(modelId);
  if (m === undefined || m.deleted) throw notFound(modelId);
  return m;
}

function checkEntries(kind: "param" | "tag", entries: Record<string, string>): void {
  for (const [k, v] of Object.entries(entries)) {
    validateKey(kind, k);
    if (typeof v !== "string")
      throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", `The ${kind} ${k} must have a string value.`, {
        data: { key: k },
      });
  }
}

/** Options of {@link LoggedModels}. */
export interface LoggedModelsOptions {
  registry: Registry;
  store: ObjectStore;
  /** New ids (`m-` + 32 hex); default random. */
  newId?: () => string;
}

/**
 * Logged models: create, read, search, finalize, tag, delete, and their files.
 *
 * @example
 * const logged = new LoggedModels({ registry, store });
 * const m = await logged.create({ experimentId: "0", name: "model", sourceRunId: runId });
 * await logged.addFile(m.modelId, "MLmodel", "/tmp/upload-1");
 * await logged.finalize(m.modelId, "READY");
 */
export class LoggedModels {
  readonly #registry: Registry;
  readonly #store: ObjectStore;
  readonly #newId: () => string;

  constructor(options: LoggedModelsOptions) {
    this.#registry = options.registry;
    this.#store = options.store;
    this.#newId = options.newId ?? (() => `m-${crypto.randomBytes(16).toString("hex")}`);
  }

  /** Creates a PENDING logged model. */
  async create(input: NewLoggedModel): Promise<LoggedModel> {
    const params = input.params ?? {};
    const tags = input.tags ?? {};
    checkEntries("param", params);
    checkEntries("tag", tags);
    const modelId = this.#newId();
    if (!LOGGED_MODEL_ID.test(modelId)) throw new Error(`newId gave ${modelId}, not m-<32 hex>`);
    const name = input.name ?? `model-${modelId.slice(2, 10)}`;
    validateArtifactName(name);
    await this.#registry.write({
      op: "logged.create",
      modelId,
      experimentId: input.experimentId,
      name,
      sourceRunId: input.sourceRunId ?? null,
      ...(input.modelType ? { modelType: input.modelType } : {}),
      ...(Object.keys(params).length > 0 ? { params } : {}),
      ...(Object.keys(tags).length > 0 ? { tags } : {}),
    });
    return this.get(modelId);
  }

  /** One logged model; ERR_MTRACK_MODEL_NOT_FOUND when unknown (or deleted, unless `allowDeleted`). */
  get(modelId: string, options: { allowDeleted?: boolean } = {}): LoggedModel {
    const m = this.#registry.state().loggedModels.get(modelId);
    if (m === undefined || (m.deleted && !options.allowDeleted)) throw notFound(modelId);
    return m;
  }

  /** The logged models matching a search (deleted ones never). */
  search(search: LoggedModelSearch): LoggedModel[] {
    return searchLoggedModels(this.#registry.state().loggedModels.values(), search);
  }

  /** Sets the final status (READY or FAILED). */
  async finalize(modelId: string, status: "READY" | "FAILED", message?: string): Promise<LoggedModel> {
    await this.#registry.write(
      { op: "logged.finalize", modelId, status, ...(message ? { message } : {}) },
      (s) => {
        live(s, modelId);
        return undefined;
      },
    );
    return this.get(modelId);
  }

  /** Sets tags (one event each). */
  async setTags(modelId: string, tags: Record<string, string>): Promise<void> {
    checkEntries("tag", tags);
    this.get(modelId);
    for (const [key, value] of Object.entries(tags)) {
      await this.#registry.write({ op: "logged.tag", modelId, key, value }, (s) => {
        live(s, modelId);
        return undefined;
      });
    }
  }

  /** Deletes a tag; ERR_MTRACK_TAG_NOT_FOUND when the model has none of that key. */
  async deleteTag(modelId: string, key: string): Promise<void> {
    await this.#registry.write({ op: "logged.tag", modelId, key, value: null }, (s) => {
      if (!Object.hasOwn(live(s, modelId).tags, key)) {
        throw new MtrackError("ERR_MTRACK_TAG_NOT_FOUND", `Logged model '${modelId}' has no tag '${key}'.`, {
          data: { modelId, key },
        });
      }
      return undefined;
    });
  }

  /** Adds params (a param logged again with another value takes the new one, as MLflow's store does). */
  async logParams(modelId: string, params: Record<string, string>): Promise<void> {
    checkEntries("param", params);
    if (Object.keys(params).length === 0) {
      this.get(modelId);
      return;
    }
    await this.#registry.write({ op: "logged.params", modelId, params }, (s) => {
      live(s, modelId);
      return undefined;
    });
  }

  /** Soft-deletes a logged model (its files stay, versions registered from it keep their content). */
  async delete(modelId: string): Promise<void> {
    await this.#registry.write({ op: "logged.delete", modelId }, (s) => {
      live(s, modelId);
      return undefined;
    });
  }

  /**
   * Stores a file into the store and records it as `path` of the model's artifacts (a later upload of
   * the same path replaces it). `file` is a local file the caller owns (e.g. a staged upload).
   */
  async addFile(modelId: string, filePath: string, file: string): Promise<LoggedModelFile> {
    validateArtifactName(filePath);
    this.get(modelId);
    const put = await this.#store.putFile(file);
    // The event must never name an object that is only staged in this process: a crash would leave the
    // registry pointing at nothing.
    await this.#store.flush();
    await this.#registry.write(
      { op: "logged.file", modelId, path: filePath, hash: put.hash, size: put.size },
      (s) => {
        live(s, modelId);
        return undefined;
      },
    );
    return { path: filePath, hash: put.hash, size: put.size };
  }

  /** The model's files, by path. */
  files(modelId: string): LoggedModelFile[] {
    return [...this.get(modelId).files.values()].sort((a, b) =>
      a.path < b.path ? -1 : a.path > b.path ? 1 : 0,
    );
  }
}
