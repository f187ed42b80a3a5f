/**
 * MLflow's model registry endpoints (`/mlflow/registered-models/...`, `/mlflow/model-versions/...`,
 * model_registry.proto) over mtrack's ModelRegistry (src/registry/models.ts). Legacy stages are aliases:
 * Staging is the alias `staging`, Production `production` (names.ts STAGE_ALIASES); Archived and None
 * remove them from the version.
 *
 * A version's files are served read-only by the artifact proxy under the content address of its
 * manifest, `mlflow-artifacts:/model-versions/<manifest hash>/artifacts`: that is the download URI the
 * client asks for when it loads `models:/<name>/<version>` (or `@alias`, or `/Production`).
 */
import type { ModelRegistry } from "../../registry/models.js";
import { normaliseStage, parseVersion, stageOf } from "../../registry/names.js";
import {
  compareRegistryItems,
  matchesRegistryFilter,
  parseRegistryFilter,
  parseRegistryOrderBy,
  type RegistryItemView,
  type RegistrySearchSchema,
} from "../../registry/search.js";
import type { ModelVersion, RegisteredModel } from "../../registry/types.js";
import { invalidParam, MlflowApiError } from "./errors.js";
import {
  decodePageToken,
  encodePageToken,
  keyValues,
  listField,
  type Message,
  maxResultsField,
  parseArtifactPath,
  stringField,
} from "./wire.js";

/** Page sizes of MLflow's registry searches (model_registry/__init__.py). */
export const MODELS_PAGE = { fallback: 100, max: 1000 };
export const VERSIONS_PAGE = { fallback: 10_000, max: 200_000 };

/** What registered-models/search may filter and order on. */
export const REGISTERED_MODEL_SEARCH: RegistrySearchSchema = {
  attributes: { name: "string", creation_timestamp: "number", last_updated_timestamp: "number" },
  aliases: { timestamp: "last_updated_timestamp" },
};

/** What model-versions/search may filter and order on. */
export const MODEL_VERSION_SEARCH: RegistrySearchSchema = {
  attributes: {
    name: "string",
    version_number: "number",
    run_id: "string",
    source: "string",
    model_id: "string",
    current_stage: "string",
    user_id: "string",
    creation_timestamp: "number",
    last_updated_timestamp: "number",
  },
  aliases: { source_path: "source", version: "version_number", timestamp: "last_updated_timestamp" },
};

/** The content-addressed proxy location of a version's files. */
export function versionArtifactUri(v: Pick<ModelVersion, "content">): string {
  return `mlflow-artifacts:/model-versions/${v.content.hash}/artifacts`;
}

/**
 * Splits a proxy path `model-versions/<manifest hash>/artifacts[/<path>]`; undefined for other paths.
 *
 * @example
 * parseVersionContentPath("model-versions/ab12.../artifacts/MLmodel"); // { hash: "ab12...", name: "MLmodel" }
 */
export function parseVersionContentPath(p: string): { hash: string; name: string } | undefined {
  const parts = p.split("/").filter((s) => s !== "");
  if (parts.length < 3 || parts[0] !== "model-versions" || parts[2] !== "artifacts") return undefined;
  if (!/^[0-9a-f]{16,128}$/.test(parts[1]!)) return undefined;
  return { hash: parts[1]!, name: parts.slice(3).join("/") };
}

const kv = (o: Record<string, string>) => Object.entries(o).map(([key, value]) => ({ key, value }));

/** MLflow's ModelVersion message. */
export function modelVersionJson(v: ModelVersion): Message {
  const out: Message = {
    name: v.name,
    version: String(v.version),
    creation_timestamp: v.createdAt,
    last_updated_timestamp: v.updatedAt,
    current_stage: stageOf(v.aliases),
    description: v.description,
    source: v.source,
    status: v.status,
    tags: kv(v.tags),
    aliases: [...v.aliases],
  };
  if (v.user) out.user_id = v.user;
  if (v.runId) out.run_id = v.runId;
  if (v.modelId) out.model_id = v.modelId;
  return out;
}

/** The highest version in each stage (what MLflow's `latest_versions` holds). */
export function latestPerStage(m: RegisteredModel, stages?: readonly string[]): ModelVersion[] {
  const best = new Map<string, ModelVersion>();
  for (const v of m.versions.values()) {
    const stage = stageOf(v.aliases);
    const cur = best.get(stage);
    if (cur === undefined || v.version > cur.version) best.set(stage, v);
  }
  const wanted = stages && stages.length > 0 ? new Set(stages.map((s) => normaliseStage(s))) : undefined;
  return [...best.entries()]
    .filter(([stage]) => wanted === undefined || wanted.has(stage as "None"))
    .map(([, v]) => v)
    .sort((a, b) => a.version - b.version);
}

/** MLflow's RegisteredModel message. */
export function registeredModelJson(m: RegisteredModel): Message {
  const out: Message = {
    name: m.name,
    creation_timestamp: m.createdAt,
    last_updated_timestamp: m.updatedAt,
    description: m.description,
    latest_versions: latestPerStage(m).map(modelVersionJson),
    tags: kv(m.tags),
    aliases: Object.entries(m.aliases)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([alias, version]) => ({ alias, version: String(version) })),
  };
  if (m.user) out.user_id = m.user;
  return out;
}

export function modelView(m: RegisteredModel): RegistryItemView {
  const attrs: Record<string, string | number> = {
    name: m.name,
    creation_timestamp: m.createdAt,
    last_updated_timestamp: m.updatedAt,
  };
  return { attribute: (n) => attrs[n] ?? null, tags: m.tags };
}

export function versionView(v: ModelVersion): RegistryItemView {
  const attrs: Record<string, string | number | null> = {
    name: v.name,
    version_number: v.version,
    run_id: v.runId,
    source: v.source,
    model_id: v.modelId,
    current_stage: stageOf(v.aliases),
    user_id: v.user,
    creation_timestamp: v.createdAt,
    last_updated_timestamp: v.updatedAt,
  };
  return { attribute: (n) => attrs[n] ?? null, tags: v.tags };
}

export function page<T>(items: T[], msg: Message, size: { fallback: number; max: number }) {
  const max = maxResultsField(msg, size.fallback, size.max);
  const offset = decodePageToken(stringField(msg, "page_token"));
  const next = offset + max < items.length ? encodePageToken(offset + max) : undefined;
  return { items: items.slice(offset, offset + max), next };
}

export function tagsOf(msg: Message): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of keyValues(msg, "tags")) out[t.key] = t.value;
  return out;
}

export function versionOf(msg: Message): number {
  const raw = msg.version;
  if (raw === undefined || raw === null || raw === "")
    throw invalidParam("Missing value for required parameter 'version'.");
  return parseVersion(raw);
}

/**
 * The registry endpoints: each takes a request message and returns the response message.
 *
 * @example
 * const r = new MlflowModelRegistry(ModelRegistry.open(repo, { user: "me" }));
 * await r.createModel({ name: "clf" });
 * await r.createVersion({ name: "clf", source: "models:/m-0123...", model_id: "m-0123..." });
 */
export class MlflowModelRegistry {
  /** The registry, changes recorded as `user` (the request's token name). */
  readonly #open: (user: string) => ModelRegistry;
  /** Called after a registration, so staged manifests become durable. */
  readonly #flush: () => Promise<void>;

  constructor(open: (user: string) => ModelRegistry, flush: () => Promise<void> = async () => undefined) {
    this.#open = open;
    this.#flush = flush;
  }

  /** For reads: whoever asks, the registry is the same. */
  get #models(): ModelRegistry {
    return this.#open("");
  }

  // ---- registered models ------------------------------------------------------------------------

  /** registered-models/create → `{registered_model}`; RESOURCE_ALREADY_EXISTS for a taken name. */
  async createModel(msg: Message, user = ""): Promise<Message> {
    const name = stringField(msg, "name", true);
    const m = await this.#open(user).createModel(name, {
      description: stringField(msg, "description"),
      tags: tagsOf(msg),
    });
    return { registered_model: registeredModelJson(m) };
  }

  /** registered-models/get → `{registered_model}`. */
  getModel(msg: Message): Message {
    return { registered_model: registeredModelJson(this.#models.getModel(stringField(msg, "name", true))) };
  }

  /** registered-models/update → `{registered_model}` (the description). */
  async updateModel(msg: Message, user = ""): Promise<Message> {
    const name = stringField(msg, "name", true);
    const m = await this.#open(user).updateModel(name, {
      description: stringField(msg, "description") ?? "",
    });
    return { registered_model: registeredModelJson(m) };
  }

  /** registered-models/rename → `{registered_model}`. */
  async renameModel(msg: Message, user = ""): Promise<Message> {
    const m = await this.#open(user).renameModel(
      stringField(msg, "name", true),
      stringField(msg, "new_name", true),
    );
    return { registered_model: registeredModelJson(m) };
  }

  /** registered-models/delete → `{}`. */
  async deleteModel(msg: Message, user = ""): Promise<Message> {
    await this.#open(user).deleteModel(stringField(msg, "name", true));
    return {};
  }

  /** registered-models/search → `{registered_models, next_page_token?}`; name ASC unless told otherwise. */
  searchModels(msg: Message): Message {
    const clauses = parseRegistryFilter(stringField(msg, "filter"), REGISTERED_MODEL_SEARCH);
    const order = parseRegistryOrderBy(listField(msg, "order_by").map(String), REGISTERED_MODEL_SEARCH);
    const byName = (a: RegisteredModel, b: RegisteredModel) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
    const found = this.#models
      .listModels()
      .filter((m) => matchesRegistryFilter(clauses, modelView(m)))
      .sort(compareRegistryItems(order, modelView, byName));
    const { items, next } = page(found, msg, MODELS_PAGE);
    const out: Message = { registered_models: items.map(registeredModelJson) };
    if (next !== undefined) out.next_page_token = next;
    return out;
  }

  /** registered-models/get-latest-versions → `{model_versions}`: the highest version per stage asked. */
  latestVersions(msg: Message): Message {
    const m = this.#models.getModel(stringField(msg, "name", true));
    const stages = listField(msg, "stages").map(String);
    return { model_versions: latestPerStage(m, stages).map(modelVersionJson) };
  }

  /** registered-models/set-tag → `{}`. */
  async setModelTag(msg: Message, user = ""): Promise<Message> {
    const raw = msg.value ?? "";
    await this.#open(user).setModelTag(
      stringField(msg, "name", true),
      stringField(msg, "key", true),
      String(raw),
    );
    return {};
  }

  /** registered-models/delete-tag → `{}`. */
  async deleteModelTag(msg: Message, user = ""): Promise<Message> {
    await this.#open(user).setModelTag(stringField(msg, "name", true), stringField(msg, "key", true), null);
    return {};
  }

  /** registered-models/alias (POST) → `{}`. */
  async setAlias(msg: Message, user = ""): Promise<Message> {
    await this.#open(user).setAlias(
      stringField(msg, "name", true),
      stringField(msg, "alias", true),
      versionOf(msg),
    );
    return {};
  }

  /** registered-models/alias (DELETE) → `{}`. */
  async deleteAlias(msg: Message, user = ""): Promise<Message> {
    await this.#open(user).deleteAlias(stringField(msg, "name", true), stringField(msg, "alias", true));
    return {};
  }

  /** registered-models/alias (GET) → `{model_version}`. */
  getByAlias(msg: Message): Message {
    const v = this.#models.getVersionByAlias(stringField(msg, "name", true), stringField(msg, "alias", true));
    return { model_version: modelVersionJson(v) };
  }

  // ---- model versions ---------------------------------------------------------------------------

  /**
   * model-versions/create → `{model_version}` (READY: its content is stored before it exists). The model
   * must exist, as in MLflow (the client creates it first). The source is resolved through the registry:
   * `models:/m-<id>` (what MLflow 3's register_model sends, with model_id), `runs:/<run>/<path>`, or
   * another version.
   */
  async createVersion(msg: Message, user = ""): Promise<Message> {
    const name = stringField(msg, "name", true);
    const modelId = stringField(msg, "model_id");
    let source = stringField(msg, "source", true);
    this.#open(user).getModel(name);
    // A logged model's artifact location (mlflow-artifacts:/<exp>/models/<id>/artifacts) names it too.
    // A run's artifact location (what the client sends for a run holding an MLmodel) is that run's path.
    if (modelId !== undefined && !source.startsWith("models:/") && !source.startsWith("runs:/"))
      source = `models:/${modelId}`;
    else if (source.startsWith("mlflow-artifacts:/")) {
      const a = parseArtifactPath(source.slice("mlflow-artifacts:/".length));
      if (a !== undefined) source = `runs:/${a.runId}/${a.name}`;
    }
    const { value } = await this.#open(user).register(name, source, {
      description: stringField(msg, "description"),
      tags: tagsOf(msg),
      runId: stringField(msg, "run_id") ?? null,
    });
    await this.#flush();
    return { model_version: modelVersionJson(value) };
  }

  /** model-versions/get → `{model_version}`. */
  getVersion(msg: Message): Message {
    return {
      model_version: modelVersionJson(
        this.#models.getVersion(stringField(msg, "name", true), versionOf(msg)),
      ),
    };
  }

  /** model-versions/update → `{model_version}` (the description). */
  async updateVersion(msg: Message, user = ""): Promise<Message> {
    const v = await this.#open(user).updateVersion(stringField(msg, "name", true), versionOf(msg), {
      description: stringField(msg, "description") ?? "",
    });
    return { model_version: modelVersionJson(v) };
  }

  /** model-versions/delete → `{}`. */
  async deleteVersion(msg: Message, user = ""): Promise<Message> {
    await this.#open(user).deleteVersion(stringField(msg, "name", true), versionOf(msg));
    return {};
  }

  /**
   * model-versions/transition-stage → `{model_version}`: Staging and Production move the `staging` /
   * `production` alias to the version (one version per stage, so `archive_existing_versions` changes
   * nothing more); None and Archived take both aliases off it.
   */
  async transitionStage(msg: Message, user = ""): Promise<Message> {
    const stage = stringField(msg, "stage", true);
    const { value } = await this.#open(user).transitionStage(
      stringField(msg, "name", true),
      versionOf(msg),
      stage,
    );
    return { model_version: modelVersionJson(value) };
  }

  /** model-versions/search → `{model_versions, next_page_token?}`; newest change first by default. */
  searchVersions(msg: Message): Message {
    const clauses = parseRegistryFilter(stringField(msg, "filter"), MODEL_VERSION_SEARCH);
    const order = parseRegistryOrderBy(listField(msg, "order_by").map(String), MODEL_VERSION_SEARCH);
    const natural = (a: ModelVersion, b: ModelVersion) =>
      b.updatedAt - a.updatedAt || (a.name < b.name ? -1 : a.name > b.name ? 1 : b.version - a.version);
    const found = this.#models
      .listModels()
      .flatMap((m) => [...m.versions.values()])
      .filter((v) => matchesRegistryFilter(clauses, versionView(v)))
      .sort(compareRegistryItems(order, versionView, natural));
    const { items, next } = page(found, msg, VERSIONS_PAGE);
    const out: Message = { model_versions: items.map(modelVersionJson) };
    if (next !== undefined) out.next_page_token = next;
    return out;
  }

  /** model-versions/get-download-uri → `{artifact_uri}`: the proxy location of the version's files. */
  downloadUri(msg: Message): Message {
    const v = this.#models.getVersion(stringField(msg, "name", true), versionOf(msg));
    return { artifact_uri: versionArtifactUri(v) };
  }

  /** model-versions/set-tag → `{}`. */
  async setVersionTag(msg: Message, user = ""): Promise<Message> {
    const raw = msg.value ?? "";
    await this.#open(user).setVersionTag(
      stringField(msg, "name", true),
      versionOf(msg),
      stringField(msg, "key", true),
      String(raw),
    );
    return {};
  }

  /** model-versions/delete-tag → `{}`. */
  async deleteVersionTag(msg: Message, user = ""): Promise<Message> {
    await this.#open(user).setVersionTag(
      stringField(msg, "name", true),
      versionOf(msg),
      stringField(msg, "key", true),
      null,
    );
    return {};
  }

  // ---- files --------------------------------------------------------------------------------------

  /**
   * The files of a version's manifest (for the proxy); RESOURCE_DOES_NOT_EXIST unless some live
   * version has that content, so the proxy serves registered models only, not any stored object.
   */
  contentFiles(hash: string): { name: string; size: number; hash: string }[] {
    for (const m of this.#models.state().models.values()) {
      for (const v of m.versions.values()) if (v.content.hash === hash) return this.#models.files(v.content);
    }
    throw new MlflowApiError("RESOURCE_DOES_NOT_EXIST", `No model version has the content ${hash}.`);
  }
}
