/**
 * MLflow's model registry and MLflow 3's logged models on a team server (`mtrack server --db`), over
 * PgRegistryStore: the same endpoints, JSON, filters and page tokens as the repository's
 * (src/server/mlflow/model-registry.ts, logged-models.ts), with the files' bytes in the objects store.
 *
 * A version's files are resolved from its source when it is registered — a logged model's files
 * (`models:/m-<id>`), a run's (`runs:/<run>/<path>`: the logged model of that name, else the run's
 * artifacts under the path), or another version's (`models:/<name>/<version>|@alias|/latest|/<Stage>`) —
 * and served read-only under `mlflow-artifacts:/model-versions/<content hash>/artifacts`.
 */
import fs from "node:fs";
import { pipeline } from "node:stream/promises";
import { MtrackError } from "../../errors.js";
import { LOGGED_MODEL_SEARCH, searchLoggedModels } from "../../registry/logged.js";
import { normaliseStage, STAGE_ALIASES } from "../../registry/names.js";
import type { RegistryClause, RegistryOrder } from "../../registry/search.js";
import {
  compareRegistryItems,
  matchesRegistryFilter,
  parseRegistryFilter,
  parseRegistryOrderBy,
} from "../../registry/search.js";
import type { LoggedModel, ModelVersion, RegisteredModel } from "../../registry/types.js";
import { isModelUri, parseModelUri } from "../../registry/uri.js";
import type { Remote } from "../../remotes/types.js";
import { hashFileSync } from "../../store/hash.js";
import { validateArtifactName } from "../../tracking/names.js";
import { safeUnlink, tmpName } from "../../util/fs.js";
import type { FileInfo, LoggedModelsApi, ModelRegistryApi } from "../mlflow/backend.js";
import { invalidParam, MlflowApiError } from "../mlflow/errors.js";
import {
  loggedModelJson,
  loggedModelUri,
  record,
  SEARCH_DEFAULT,
  SEARCH_MAX,
  statusField,
} from "../mlflow/logged-models.js";
import {
  latestPerStage,
  MODEL_VERSION_SEARCH,
  MODELS_PAGE,
  modelVersionJson,
  modelView,
  page,
  REGISTERED_MODEL_SEARCH,
  registeredModelJson,
  tagsOf,
  VERSIONS_PAGE,
  versionArtifactUri,
  versionOf,
  versionView,
} from "../mlflow/model-registry.js";
import { artifactChildren } from "../mlflow/service.js";
import {
  decodePageToken,
  encodePageToken,
  listField,
  type Message,
  maxResultsField,
  parseArtifactPath,
  stringField,
} from "../mlflow/wire.js";
import type { ContentFile, PgRegistryStore } from "./registry-store.js";

/** What the registry needs from the rest of the team server. */
export interface PgRegistryContext {
  store: PgRegistryStore;
  objects: Remote;
  /** A run's artifact files (RESOURCE_DOES_NOT_EXIST / run-not-found for an unknown run). */
  runArtifacts: (runId: string) => Promise<{ name: string; hash: string; size: number }[]>;
  /** Checks that an experiment exists. */
  experiment: (id: string) => Promise<void>;
  /** Maps database failures (a restart → retryable 503). */
  db: <T>(p: Promise<T>) => Promise<T>;
  /** Maps objects-store failures (unreachable → retryable 503). */
  objectsCall: <T>(p: Promise<T>) => Promise<T>;
  tmpDir: string;
}

/**
 * What the database can narrow a search to before the filter runs: the names an `name = / IN` clause
 * allows, the patterns of `name LIKE / ILIKE` clauses (clauses are ANDed, so every one must hold).
 */
function namePrefilter(clauses: readonly RegistryClause[]): { names?: string[]; like: string[] } {
  let names: string[] | undefined;
  const like: string[] = [];
  for (const c of clauses) {
    if (c.kind !== "attribute" || c.name !== "name") continue;
    if (c.op === "=" && typeof c.value === "string") names = [c.value];
    else if (c.op === "IN" && Array.isArray(c.value)) names = c.value;
    else if ((c.op === "LIKE" || c.op === "ILIKE") && typeof c.value === "string") like.push(c.value);
  }
  return { ...(names ? { names } : {}), like };
}

/** "mlflow" when the files hold an MLmodel, else "files". */
function flavorOf(files: readonly ContentFile[]): string {
  return files.some((f) => f.name === "MLmodel") ? "mlflow" : "files";
}

/** What a registration source resolved to. */
interface Resolved {
  files: ContentFile[];
  runId: string | null;
  modelId: string | null;
}

function sourceNotFound(message: string, data: Record<string, unknown>): MtrackError {
  return new MtrackError("ERR_MTRACK_MODEL_SOURCE_NOT_FOUND", message, {
    hint: "Register from runs:/<run>/<path>, models:/m-<id> or models:/<name>/<version> of this server.",
    data,
  });
}

/**
 * The registry endpoints over PostgreSQL.
 *
 * @example
 * const r = new PgMlflowModelRegistry(ctx);
 * await r.createModel({ name: "clf" }, "ana");
 */
export class PgMlflowModelRegistry implements ModelRegistryApi {
  readonly #ctx: PgRegistryContext;

  constructor(ctx: PgRegistryContext) {
    this.#ctx = ctx;
  }

  get #store(): PgRegistryStore {
    return this.#ctx.store;
  }

  #db<T>(p: Promise<T>): Promise<T> {
    return this.#ctx.db(p);
  }

  #model(name: string): Promise<RegisteredModel> {
    return this.#db(this.#store.getModel(name));
  }

  #version(name: string, version: number): Promise<ModelVersion> {
    return this.#db(this.#store.getVersion(name, version));
  }

  // ---- registered models ------------------------------------------------------------------------

  async createModel(msg: Message, user = ""): Promise<Message> {
    const m = await this.#db(
      this.#store.createModel(stringField(msg, "name", true), user, {
        description: stringField(msg, "description"),
        tags: tagsOf(msg),
      }),
    );
    return { registered_model: registeredModelJson(m) };
  }

  async getModel(msg: Message): Promise<Message> {
    return { registered_model: registeredModelJson(await this.#model(stringField(msg, "name", true))) };
  }

  async updateModel(msg: Message): Promise<Message> {
    const m = await this.#db(
      this.#store.updateModel(stringField(msg, "name", true), stringField(msg, "description") ?? ""),
    );
    return { registered_model: registeredModelJson(m) };
  }

  async renameModel(msg: Message): Promise<Message> {
    const m = await this.#db(
      this.#store.renameModel(stringField(msg, "name", true), stringField(msg, "new_name", true)),
    );
    return { registered_model: registeredModelJson(m) };
  }

  async deleteModel(msg: Message): Promise<Message> {
    await this.#db(this.#store.deleteModel(stringField(msg, "name", true)));
    return {};
  }

  async searchModels(msg: Message): Promise<Message> {
    const clauses = parseRegistryFilter(stringField(msg, "filter"), REGISTERED_MODEL_SEARCH);
    const order = parseRegistryOrderBy(listField(msg, "order_by").map(String), REGISTERED_MODEL_SEARCH);
    const byName = (a: RegisteredModel, b: RegisteredModel) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
    const pre = namePrefilter(clauses);
    const found = (await this.#db(this.#store.listModels(pre.names, pre.like)))
      .filter((m) => matchesRegistryFilter(clauses, modelView(m)))
      .sort(compareRegistryItems(order, modelView, byName));
    const { items, next } = page(found, msg, MODELS_PAGE);
    const out: Message = { registered_models: items.map(registeredModelJson) };
    if (next !== undefined) out.next_page_token = next;
    return out;
  }

  async latestVersions(msg: Message): Promise<Message> {
    const m = await this.#model(stringField(msg, "name", true));
    const stages = listField(msg, "stages").map(String);
    return { model_versions: latestPerStage(m, stages).map(modelVersionJson) };
  }

  async setModelTag(msg: Message): Promise<Message> {
    await this.#db(
      this.#store.setModelTag(
        stringField(msg, "name", true),
        stringField(msg, "key", true),
        String(msg.value ?? ""),
      ),
    );
    return {};
  }

  async deleteModelTag(msg: Message): Promise<Message> {
    await this.#db(
      this.#store.setModelTag(stringField(msg, "name", true), stringField(msg, "key", true), null),
    );
    return {};
  }

  async setAlias(msg: Message): Promise<Message> {
    await this.#db(
      this.#store.setAlias(stringField(msg, "name", true), stringField(msg, "alias", true), versionOf(msg)),
    );
    return {};
  }

  async deleteAlias(msg: Message): Promise<Message> {
    await this.#db(this.#store.deleteAlias(stringField(msg, "name", true), stringField(msg, "alias", true)));
    return {};
  }

  async getByAlias(msg: Message): Promise<Message> {
    const name = stringField(msg, "name", true);
    const alias = stringField(msg, "alias", true);
    return { model_version: modelVersionJson(await this.#byAlias(await this.#model(name), alias)) };
  }

  async #byAlias(m: RegisteredModel, alias: string): Promise<ModelVersion> {
    const n = m.aliases[alias];
    const v = n === undefined ? undefined : m.versions.get(n);
    if (v === undefined) {
      throw new MtrackError(
        "ERR_MTRACK_MODEL_NOT_FOUND",
        `Alias ${JSON.stringify(alias)} of model ${JSON.stringify(m.name)} does not exist.`,
        { data: { name: m.name, alias } },
      );
    }
    return v;
  }

  // ---- versions ---------------------------------------------------------------------------------

  /**
   * model-versions/create → `{model_version}`: the model must exist (the client creates it first); the
   * source is resolved to files now, so the version is READY from the start.
   */
  async createVersion(msg: Message, user = ""): Promise<Message> {
    const name = stringField(msg, "name", true);
    const modelId = stringField(msg, "model_id");
    let source = stringField(msg, "source", true);
    await this.#model(name);
    // As the file backend: a logged model's artifact location names it; a run's artifact location is
    // that run's path.
    if (modelId !== undefined && !source.startsWith("models:/") && !source.startsWith("runs:/"))
      source = `models:/${modelId}`;
    else if (source.startsWith("mlflow-artifacts:/")) {
      const a = parseArtifactPath(source.slice("mlflow-artifacts:/".length));
      if (a !== undefined) source = `runs:/${a.runId}/${a.name}`;
    }
    const resolved = await this.#resolve(source);
    const v = await this.#db(
      this.#store.createVersion(name, user, {
        source,
        runId: stringField(msg, "run_id") ?? resolved.runId,
        modelId: resolved.modelId,
        files: resolved.files,
        flavor: flavorOf(resolved.files),
        description: stringField(msg, "description"),
        tags: tagsOf(msg),
      }),
    );
    return { model_version: modelVersionJson(v) };
  }

  /** The files a registration source names. */
  async #resolve(source: string): Promise<Resolved> {
    if (!isModelUri(source)) {
      throw sourceNotFound(
        `A team server registers from runs:/ or models:/ URIs, not the path ${JSON.stringify(source)}.`,
        { source },
      );
    }
    const u = parseModelUri(source);
    const fromVersion = async (v: ModelVersion): Promise<Resolved> => ({
      files: await this.#db(this.#store.contentFiles(v.content.hash)),
      runId: v.runId,
      modelId: null,
    });
    switch (u.kind) {
      case "version":
        return fromVersion(await this.#version(u.name, u.version));
      case "alias":
        return fromVersion(await this.#byAlias(await this.#model(u.name), u.alias));
      case "latest": {
        const m = await this.#model(u.name);
        const top = Math.max(0, ...m.versions.keys());
        const v = m.versions.get(top);
        if (v === undefined) throw sourceNotFound(`Model ${u.name} has no version.`, { name: u.name });
        return fromVersion(v);
      }
      case "stage":
        return fromVersion(await this.#byAlias(await this.#model(u.name), STAGE_ALIASES[u.stage] as string));
      case "logged":
        return this.#fromLogged(await this.#db(this.#store.getLogged(u.modelId)));
      case "run": {
        // MLflow 3 logs a model as a logged model linked to the run; else the run's own artifacts.
        const lm = (await this.#db(this.#store.loggedModels({ runId: u.runId, name: u.path })))
          .filter((m) => !m.deleted && m.files.size > 0)
          .sort((a, b) => b.createdAt - a.createdAt)[0];
        if (lm !== undefined) return this.#fromLogged(lm);
        const p = u.path;
        const files = (await this.#ctx.runArtifacts(u.runId))
          .filter((a) => p === "" || a.name.startsWith(`${p}/`) || a.name === p)
          .map((a) => ({
            name:
              p === ""
                ? a.name
                : a.name === p
                  ? a.name.slice(a.name.lastIndexOf("/") + 1)
                  : a.name.slice(p.length + 1),
            hash: a.hash,
            size: a.size,
          }));
        if (files.length === 0)
          throw sourceNotFound(`Run ${u.runId} has nothing at ${JSON.stringify(p)}.`, {
            runId: u.runId,
            path: p,
          });
        return { files, runId: u.runId, modelId: null };
      }
    }
  }

  #fromLogged(lm: LoggedModel): Resolved {
    if (lm.files.size === 0) {
      throw new MtrackError("ERR_MTRACK_NOT_A_MODEL", `Logged model ${lm.modelId} has no files.`, {
        hint: "Its upload did not finish; log the model again.",
        data: { modelId: lm.modelId },
      });
    }
    return {
      files: [...lm.files.values()].map((f) => ({ name: f.path, hash: f.hash, size: f.size })),
      runId: lm.sourceRunId,
      modelId: lm.modelId,
    };
  }

  async getVersion(msg: Message): Promise<Message> {
    return {
      model_version: modelVersionJson(await this.#version(stringField(msg, "name", true), versionOf(msg))),
    };
  }

  async updateVersion(msg: Message): Promise<Message> {
    const v = await this.#db(
      this.#store.updateVersion(
        stringField(msg, "name", true),
        versionOf(msg),
        stringField(msg, "description") ?? "",
      ),
    );
    return { model_version: modelVersionJson(v) };
  }

  async deleteVersion(msg: Message): Promise<Message> {
    await this.#db(this.#store.deleteVersion(stringField(msg, "name", true), versionOf(msg)));
    return {};
  }

  async transitionStage(msg: Message): Promise<Message> {
    const stage = normaliseStage(stringField(msg, "stage", true));
    const v = await this.#db(
      this.#store.transitionStage(stringField(msg, "name", true), versionOf(msg), stage),
    );
    return { model_version: modelVersionJson(v) };
  }

  async searchVersions(msg: Message): Promise<Message> {
    const clauses = parseRegistryFilter(stringField(msg, "filter"), MODEL_VERSION_SEARCH);
    const order = parseRegistryOrderBy(listField(msg, "order_by").map(String), MODEL_VERSION_SEARCH);
    const natural = (a: ModelVersion, b: ModelVersion) =>
      b.updatedAt - a.updatedAt || (a.name < b.name ? -1 : a.name > b.name ? 1 : b.version - a.version);
    const pre = namePrefilter(clauses);
    const found = (await this.#db(this.#store.listModels(pre.names, pre.like)))
      .flatMap((m) => [...m.versions.values()])
      .filter((v) => matchesRegistryFilter(clauses, versionView(v)))
      .sort(compareRegistryItems(order, versionView, natural));
    const { items, next } = page(found, msg, VERSIONS_PAGE);
    const out: Message = { model_versions: items.map(modelVersionJson) };
    if (next !== undefined) out.next_page_token = next;
    return out;
  }

  async downloadUri(msg: Message): Promise<Message> {
    const v = await this.#version(stringField(msg, "name", true), versionOf(msg));
    return { artifact_uri: versionArtifactUri(v) };
  }

  async setVersionTag(msg: Message): Promise<Message> {
    await this.#db(
      this.#store.setVersionTag(
        stringField(msg, "name", true),
        versionOf(msg),
        stringField(msg, "key", true),
        String(msg.value ?? ""),
      ),
    );
    return {};
  }

  async deleteVersionTag(msg: Message): Promise<Message> {
    await this.#db(
      this.#store.setVersionTag(
        stringField(msg, "name", true),
        versionOf(msg),
        stringField(msg, "key", true),
        null,
      ),
    );
    return {};
  }

  /** The files of a live version's content; RESOURCE_DOES_NOT_EXIST unless some version has it. */
  async contentFiles(hash: string): Promise<ContentFile[]> {
    if (!(await this.#db(this.#store.hasVersionWithContent(hash))))
      throw new MlflowApiError("RESOURCE_DOES_NOT_EXIST", `No model version has the content ${hash}.`);
    return this.#db(this.#store.contentFiles(hash));
  }
}

/**
 * MLflow 3's logged-model endpoints over PostgreSQL; files are staged, hashed, put into the objects
 * store, and only then recorded.
 */
export class PgMlflowLoggedModels implements LoggedModelsApi {
  readonly #ctx: PgRegistryContext;

  constructor(ctx: PgRegistryContext) {
    this.#ctx = ctx;
  }

  #db<T>(p: Promise<T>): Promise<T> {
    return this.#ctx.db(p);
  }

  async #json(m: LoggedModel): Promise<Message> {
    return loggedModelJson(m, await this.#db(this.#ctx.store.registrations([m.modelId])));
  }

  async create(msg: Message, user = ""): Promise<Message> {
    const experimentId = stringField(msg, "experiment_id", true);
    await this.#ctx.experiment(experimentId);
    const m = await this.#db(
      this.#ctx.store.createLogged(user, {
        experimentId,
        name: stringField(msg, "name"),
        sourceRunId: stringField(msg, "source_run_id") ?? null,
        modelType: stringField(msg, "model_type"),
        params: record(msg, "params"),
        tags: record(msg, "tags"),
      }),
    );
    return { model: await this.#json(m) };
  }

  async get(msg: Message): Promise<Message> {
    const allowDeleted = String(msg.allow_deleted ?? "").toLowerCase() === "true";
    const m = await this.#db(this.#ctx.store.getLogged(stringField(msg, "model_id", true), allowDeleted));
    return { model: await this.#json(m) };
  }

  async finalize(msg: Message): Promise<Message> {
    const m = await this.#db(
      this.#ctx.store.finalizeLogged(stringField(msg, "model_id", true), statusField(msg)),
    );
    return { model: await this.#json(m) };
  }

  async delete(msg: Message): Promise<Message> {
    await this.#db(this.#ctx.store.deleteLogged(stringField(msg, "model_id", true)));
    return {};
  }

  async setTags(msg: Message): Promise<Message> {
    await this.#db(this.#ctx.store.setLoggedTags(stringField(msg, "model_id", true), record(msg, "tags")));
    return {};
  }

  async deleteTag(msg: Message): Promise<Message> {
    await this.#db(
      this.#ctx.store.deleteLoggedTag(stringField(msg, "model_id", true), stringField(msg, "tag_key", true)),
    );
    return {};
  }

  async logParams(msg: Message): Promise<Message> {
    await this.#db(
      this.#ctx.store.logLoggedParams(stringField(msg, "model_id", true), record(msg, "params")),
    );
    return {};
  }

  async search(msg: Message): Promise<Message> {
    const order: RegistryOrder[] = listField(msg, "order_by").map((o, i) => {
      if (typeof o !== "object" || o === null) throw invalidParam(`order_by[${i}] must be an object.`);
      const e = o as Message;
      const field = stringField(e, "field_name", true).replace(/^attributes?\./, "");
      return { name: field, ascending: e.ascending !== false && e.ascending !== "false" };
    });
    for (const o of order) {
      o.name = LOGGED_MODEL_SEARCH.aliases?.[o.name] ?? o.name;
      if (LOGGED_MODEL_SEARCH.attributes[o.name] === undefined)
        throw invalidParam(`Invalid order_by field ${JSON.stringify(o.name)}.`);
    }
    const experimentIds = listField(msg, "experiment_ids").map(String);
    const all = await this.#db(this.#ctx.store.loggedModels({ experimentIds }));
    const found = searchLoggedModels(all, { experimentIds, filter: stringField(msg, "filter"), order });
    const max = maxResultsField(msg, SEARCH_DEFAULT, SEARCH_MAX);
    const offset = decodePageToken(stringField(msg, "page_token"));
    const shown = found.slice(offset, offset + max);
    const regs = await this.#db(this.#ctx.store.registrations(shown.map((m) => m.modelId)));
    const out: Message = { models: shown.map((m) => loggedModelJson(m, regs)) };
    if (offset + max < found.length) out.next_page_token = encodePageToken(offset + max);
    return out;
  }

  async #files(modelId: string): Promise<{ name: string; size: number; hash: string }[]> {
    const m = await this.#db(this.#ctx.store.getLogged(modelId));
    return [...m.files.values()].map((f) => ({ name: f.path, size: f.size, hash: f.hash }));
  }

  async listArtifacts(msg: Message): Promise<Message> {
    const m = await this.#db(this.#ctx.store.getLogged(stringField(msg, "model_id", true)));
    const dir = stringField(msg, "artifact_directory_path") ?? "";
    return { root_uri: loggedModelUri(m), files: artifactChildren(await this.#files(m.modelId), dir, true) };
  }

  async listArtifactDir(modelId: string, dir: string): Promise<FileInfo[]> {
    return artifactChildren(await this.#files(modelId), dir, false);
  }

  async artifactFile(modelId: string, name: string): Promise<{ hash: string; size: number } | undefined> {
    return (await this.#files(modelId)).find((f) => f.name === name);
  }

  async putArtifact(
    modelId: string,
    name: string,
    body: AsyncIterable<Buffer> | NodeJS.ReadableStream,
  ): Promise<void> {
    validateArtifactName(name);
    await this.#db(this.#ctx.store.getLogged(modelId));
    fs.mkdirSync(this.#ctx.tmpDir, { recursive: true });
    const tmp = tmpName(this.#ctx.tmpDir, "mlflow-model-upload");
    try {
      await pipeline(body as NodeJS.ReadableStream, fs.createWriteStream(tmp, { flags: "wx" }));
      const object = hashFileSync(tmp);
      const objects = this.#ctx.objects;
      const call = this.#ctx.objectsCall;
      if (!(await call(objects.has([object]))).has(object.hash)) await call(objects.putFile(object, tmp));
      await this.#db(this.#ctx.store.addLoggedFile(modelId, { path: name, ...object }));
    } finally {
      safeUnlink(tmp);
    }
  }
}
