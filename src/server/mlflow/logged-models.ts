/**
 * MLflow 3's logged-model endpoints (`/mlflow/logged-models...`) over the registry's logged models
 * (src/registry/logged.ts), and their artifacts behind the `mlflow-artifacts` proxy: the client logs a
 * model's files to the logged model's artifact_location, `mlflow-artifacts:/<exp>/models/<id>/artifacts`,
 * one PUT per file, and reads them back from there for `models:/m-<id>` and `runs:/<run>/<name>`.
 */
import fs from "node:fs";
import { pipeline } from "node:stream/promises";
import { LOGGED_MODEL_SEARCH, type LoggedModels } from "../../registry/logged.js";
import type { RegistryOrder } from "../../registry/search.js";
import type { LoggedModel, RegistryState } from "../../registry/types.js";
import { validateArtifactName } from "../../tracking/names.js";
import { safeUnlink, tmpName } from "../../util/fs.js";
import { invalidParam } from "./errors.js";
import { artifactChildren, type FileInfo } from "./service.js";
import {
  decodePageToken,
  encodePageToken,
  keyValues,
  listField,
  type Message,
  maxResultsField,
  stringField,
} from "./wire.js";

/** MLflow's LoggedModelStatus names. */
const STATUS_JSON: Record<LoggedModel["status"], string> = {
  PENDING: "LOGGED_MODEL_PENDING",
  READY: "LOGGED_MODEL_READY",
  FAILED: "LOGGED_MODEL_UPLOAD_FAILED",
};

/** Default and largest page of logged-models/search. */
export const SEARCH_DEFAULT = 100;
export const SEARCH_MAX = 1000;

/** The artifact location of a logged model, served by this server's proxy. */
export function loggedModelUri(m: Pick<LoggedModel, "experimentId" | "modelId">): string {
  return `mlflow-artifacts:/${m.experimentId}/models/${m.modelId}/artifacts`;
}

/**
 * Splits a proxy path `<experiment>/models/<model_id>/artifacts[/<path>]`; undefined for other paths.
 *
 * @example
 * parseLoggedModelPath("0/models/m-0123.../artifacts/MLmodel"); // { modelId: "m-0123...", name: "MLmodel" }
 */
export function parseLoggedModelPath(p: string): { modelId: string; name: string } | undefined {
  const parts = p.split("/").filter((s) => s !== "");
  if (parts.length < 4 || parts[1] !== "models" || parts[3] !== "artifacts") return undefined;
  if (!/^m-[0-9a-f]{32}$/.test(parts[2]!)) return undefined;
  return { modelId: parts[2]!, name: parts.slice(4).join("/") };
}

/** The registered versions made from each logged model, as LoggedModelRegistrationInfo messages. */
export function registrationsOf(state: RegistryState): Map<string, Message[]> {
  const out = new Map<string, Message[]>();
  for (const rm of state.models.values()) {
    for (const v of rm.versions.values()) {
      if (v.modelId === null) continue;
      const list = out.get(v.modelId) ?? [];
      list.push({ name: rm.name, version: String(v.version) });
      out.set(v.modelId, list);
    }
  }
  return out;
}

/**
 * MLflow's LoggedModel message; `registrations` lists the registered versions made from it.
 *
 * @example
 * loggedModelJson(model, registrationsOf(state)).info.status; // "LOGGED_MODEL_READY"
 */
export function loggedModelJson(
  m: LoggedModel,
  registrations: ReadonlyMap<string, Message[]> = new Map(),
): { info: Message; data: Message } {
  const info: Message = {
    model_id: m.modelId,
    experiment_id: m.experimentId,
    name: m.name,
    creation_timestamp_ms: m.createdAt,
    last_updated_timestamp_ms: m.updatedAt,
    artifact_uri: loggedModelUri(m),
    status: STATUS_JSON[m.status],
    tags: Object.entries(m.tags).map(([key, value]) => ({ key, value })),
    registrations: registrations.get(m.modelId) ?? [],
  };
  if (m.modelType) info.model_type = m.modelType;
  if (m.sourceRunId) info.source_run_id = m.sourceRunId;
  if (m.statusMessage) info.status_message = m.statusMessage;
  return {
    info,
    data: { params: Object.entries(m.params).map(([key, value]) => ({ key, value })), metrics: [] },
  };
}

/** A status as the client sends it (name or proto number). */
export function statusField(msg: Message): "READY" | "FAILED" {
  const v = msg.status;
  if (v === "LOGGED_MODEL_READY" || v === 2 || v === "2" || v === "READY") return "READY";
  if (v === "LOGGED_MODEL_UPLOAD_FAILED" || v === 3 || v === "3" || v === "FAILED") return "FAILED";
  throw invalidParam(
    `Invalid value ${JSON.stringify(v)} for parameter 'status': expected LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED.`,
  );
}

export function record(msg: Message, field: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of keyValues(msg, field)) out[kv.key] = kv.value;
  return out;
}

/** What the logged-model endpoints need. */
export interface MlflowLoggedModelsContext {
  /** The logged models, changes recorded as `user` (the request's token name). */
  logged: (user: string) => LoggedModels;
  /** The registry's state (for `registrations`). */
  state: () => RegistryState;
  /** Checks that an experiment exists (RESOURCE_DOES_NOT_EXIST otherwise). */
  experiment: (id: string) => void;
  /** Where uploads are staged. */
  tmpDir: string;
}

/**
 * The logged-model endpoints: each takes the request message (path parameters merged in) and returns
 * the response message.
 *
 * @example
 * const lm = new MlflowLoggedModels(ctx);
 * const { model } = await lm.create({ experiment_id: "0", name: "model" });
 */
export class MlflowLoggedModels {
  readonly #ctx: MlflowLoggedModelsContext;

  constructor(ctx: MlflowLoggedModelsContext) {
    this.#ctx = ctx;
  }

  #json(m: LoggedModel): Message {
    return loggedModelJson(m, registrationsOf(this.#ctx.state()));
  }

  /** POST logged-models → `{model}` (PENDING). */
  async create(msg: Message, user = ""): Promise<Message> {
    const experimentId = stringField(msg, "experiment_id", true);
    this.#ctx.experiment(experimentId);
    const m = await this.#ctx.logged(user).create({
      experimentId,
      name: stringField(msg, "name"),
      sourceRunId: stringField(msg, "source_run_id") ?? null,
      modelType: stringField(msg, "model_type"),
      params: record(msg, "params"),
      tags: record(msg, "tags"),
    });
    return { model: this.#json(m) };
  }

  /** GET logged-models/{model_id} → `{model}`. */
  get(msg: Message): Message {
    const allowDeleted = String(msg.allow_deleted ?? "").toLowerCase() === "true";
    return {
      model: this.#json(this.#ctx.logged("").get(stringField(msg, "model_id", true), { allowDeleted })),
    };
  }

  /** PATCH logged-models/{model_id} (finalize) → `{model}`. */
  async finalize(msg: Message, user = ""): Promise<Message> {
    const m = await this.#ctx.logged(user).finalize(stringField(msg, "model_id", true), statusField(msg));
    return { model: this.#json(m) };
  }

  /** DELETE logged-models/{model_id} → `{}`. */
  async delete(msg: Message, user = ""): Promise<Message> {
    await this.#ctx.logged(user).delete(stringField(msg, "model_id", true));
    return {};
  }

  /** PATCH logged-models/{model_id}/tags → `{}`. */
  async setTags(msg: Message, user = ""): Promise<Message> {
    await this.#ctx.logged(user).setTags(stringField(msg, "model_id", true), record(msg, "tags"));
    return {};
  }

  /** DELETE logged-models/{model_id}/tags/{tag_key} → `{}`. */
  async deleteTag(msg: Message, user = ""): Promise<Message> {
    await this.#ctx
      .logged(user)
      .deleteTag(stringField(msg, "model_id", true), stringField(msg, "tag_key", true));
    return {};
  }

  /** POST logged-models/{model_id}/params → `{}`. */
  async logParams(msg: Message, user = ""): Promise<Message> {
    await this.#ctx.logged(user).logParams(stringField(msg, "model_id", true), record(msg, "params"));
    return {};
  }

  /** POST logged-models/search → `{models, next_page_token?}`. */
  search(msg: Message): Message {
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
    const found = this.#ctx.logged("").search({
      experimentIds: listField(msg, "experiment_ids").map(String),
      filter: stringField(msg, "filter"),
      order,
    });
    const max = maxResultsField(msg, SEARCH_DEFAULT, SEARCH_MAX);
    const offset = decodePageToken(stringField(msg, "page_token"));
    const regs = registrationsOf(this.#ctx.state());
    const out: Message = { models: found.slice(offset, offset + max).map((m) => loggedModelJson(m, regs)) };
    if (offset + max < found.length) out.next_page_token = encodePageToken(offset + max);
    return out;
  }

  /** GET logged-models/{model_id}/artifacts/directories → `{root_uri, files}` (paths from the root). */
  listArtifacts(msg: Message): Message {
    const m = this.#ctx.logged("").get(stringField(msg, "model_id", true));
    const dir = stringField(msg, "artifact_directory_path") ?? "";
    return { root_uri: loggedModelUri(m), files: this.#children(m.modelId, dir, true) };
  }

  #children(modelId: string, dir: string, full: boolean): FileInfo[] {
    const files = this.#ctx
      .logged("")
      .files(modelId)
      .map((f) => ({ name: f.path, size: f.size }));
    return artifactChildren(files, dir, full);
  }

  /** The proxy's listing of one directory of a logged model's files (base names). */
  listArtifactDir(modelId: string, dir: string): FileInfo[] {
    return this.#children(modelId, dir, false);
  }

  /** The stored object of one file of a logged model, or undefined. */
  artifactFile(modelId: string, name: string): { hash: string; size: number } | undefined {
    return this.#ctx
      .logged("")
      .files(modelId)
      .find((f) => f.path === name);
  }

  /** Stores an uploaded file as `name` of a logged model's artifacts (staged, then into the store). */
  async putArtifact(
    modelId: string,
    name: string,
    body: AsyncIterable<Buffer> | NodeJS.ReadableStream,
    user = "",
  ): Promise<void> {
    // Refused before the body is staged: a bad path or unknown model costs no upload.
    validateArtifactName(name);
    this.#ctx.logged("").get(modelId);
    fs.mkdirSync(this.#ctx.tmpDir, { recursive: true });
    const tmp = tmpName(this.#ctx.tmpDir, "mlflow-model-upload");
    try {
      await pipeline(body as NodeJS.ReadableStream, fs.createWriteStream(tmp, { flags: "wx" }));
      await this.#ctx.logged(user).addFile(modelId, name, tmp);
    } finally {
      safeUnlink(tmp);
    }
  }
}
