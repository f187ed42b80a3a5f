/**
 * The MLflow tracking backend of a team server (`mtrack server --db`): the same routes as the file
 * backend (src/server/mlflow/routes.ts) over PgTrackingStore, with a run's artifacts as plain files under
 * the objects store (`--objects DIR|s3://bucket/prefix`, content-addressed like every mtrack store) and
 * their paths in the database.
 * Nothing is held in the process: every answer comes from the database or the directory, so any number
 * of servers on one database and one objects store agree.
 *
 * The model registry and MLflow 3's logged models are in the database too (registry.ts), and so are the
 * models a run took in or put out (runs/log-inputs, runs/outputs).
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import type { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { isMtrackError } from "../../errors.js";
import type { Remote } from "../../remotes/types.js";
import { hashFileSync } from "../../store/hash.js";
import type { Experiment } from "../../tracking/layout.js";
import { validateArtifactName, validateKey } from "../../tracking/names.js";
import { parseFilter, parseOrderBy } from "../../tracking/search.js";
import { safeUnlink, tmpName } from "../../util/fs.js";
import type { FileInfo, MlflowBackend, OpenedArtifact } from "../mlflow/backend.js";
import { invalidParam, MlflowApiError } from "../mlflow/errors.js";
import { artifactChildren, RUN_NAME_TAG, searchExperimentList } from "../mlflow/service.js";
import {
  artifactUri,
  DEFAULT_SEARCH_RESULTS,
  datasetInputs,
  decodePageToken,
  encodePageToken,
  experimentJson,
  int64Field,
  keyValues,
  listField,
  MAX_SEARCH_RESULTS,
  type Message,
  maxResultsField,
  metricJson,
  metricPoint,
  modelRefs,
  readBatch,
  runIdField,
  stringField,
  viewTypeField,
} from "../mlflow/wire.js";
import { isRetryableDbError } from "./db.js";
import { PgMlflowLoggedModels, PgMlflowModelRegistry } from "./registry.js";
import { PgRegistryStore } from "./registry-store.js";
import {
  type PgExperiment,
  type PgOrderBy,
  type PgRun,
  type PgRunStatus,
  PgTrackingStore,
} from "./tracking-store.js";

/** Options of `PgMlflowService`. */
export interface PgMlflowServiceOptions {
  /** A pool on a migrated database. */
  pool: pg.Pool;
  /**
   * The objects store holding the artifacts' bytes by content hash (a directory or S3 bucket shared by
   * every server on the database); the database maps each run's artifact paths to them.
   */
  objects: Remote;
  /** Where uploads are staged while they are hashed; default the OS temp dir. */
  tmpDir?: string;
  /** Names this server in `runs.owner_server` (default host:pid). */
  serverId?: string;
  clock?: () => number;
}

const STATUSES: readonly string[] = ["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"];

/** MLflow's Experiment message of a database experiment. */
function experimentOf(e: PgExperiment): Experiment {
  return {
    id: e.experimentId,
    name: e.name,
    creationTime: e.creationTime,
    lastUpdateTime: e.lastUpdateTime,
    lifecycleStage: e.lifecycleStage,
    tags: e.tags,
  };
}

/** MLflow's RunInfo message of a database run. */
function runInfoOf(r: PgRun): Message {
  const info: Message = {
    run_id: r.runId,
    run_uuid: r.runId,
    run_name: r.tags[RUN_NAME_TAG] || r.name,
    experiment_id: r.experimentId,
    status: r.status,
    start_time: r.startTime,
    artifact_uri: artifactUri(r.experimentId, r.runId),
    lifecycle_stage: r.lifecycleStage,
  };
  if (r.userId) info.user_id = r.userId;
  if (r.endTime !== null) info.end_time = r.endTime;
  return info;
}

/** The models a run took in and put out. */
type RunModels = { inputs: { modelId: string }[]; outputs: { modelId: string; step: number }[] };

/** MLflow's Run message of a database run. */
function runOf(r: PgRun, models?: RunModels): Message {
  const inputs: Message = {};
  if (models && models.inputs.length > 0)
    inputs.model_inputs = models.inputs.map((m) => ({ model_id: m.modelId }));
  if (r.inputs.length > 0) {
    inputs.dataset_inputs = r.inputs.map((i) => {
      const dataset: Message = {
        name: i.name,
        digest: i.digest,
        source_type: i.sourceType ?? "",
        source: i.source ?? "",
      };
      if (i.schema !== undefined) dataset.schema = i.schema;
      if (i.profile !== undefined) dataset.profile = i.profile;
      return { tags: Object.entries(i.tags ?? {}).map(([key, value]) => ({ key, value })), dataset };
    });
  }
  return {
    info: runInfoOf(r),
    data: {
      metrics: r.metrics.map((m) => metricJson(m.key, m.value, m.timestamp, m.step)),
      params: Object.entries(r.params).map(([key, value]) => ({ key, value })),
      tags: Object.entries(r.tags).map(([key, value]) => ({ key, value })),
    },
    inputs,
    ...(models && models.outputs.length > 0
      ? { outputs: { model_outputs: models.outputs.map((m) => ({ model_id: m.modelId, step: m.step })) } }
      : {}),
  };
}

/** A run's `order_by` clauses of runs/search in the store's shape. */
export function orderByOf(exprs: string[]): PgOrderBy[] {
  return parseOrderBy(exprs).map((c) => ({
    kind: c.key.kind,
    key: c.key.name,
    desc: c.direction === "DESC",
  }));
}

/** A name for a run created without one. */
function generatedName(): string {
  return `run-${randomBytes(4).toString("hex")}`;
}

/**
 * The MLflow tracking API over PostgreSQL.
 *
 * @example
 * const pool = await openPool(url); await migrate(pool);
 * const backend = new PgMlflowService({ pool, objects: LocalRemote.open({ dir: "/srv/mtrack/objects", create: true }) });
 * router.mount("", mlflowApi(backend));
 */
export class PgMlflowService implements MlflowBackend {
  readonly #store: PgTrackingStore;
  readonly #objects: Remote;
  readonly #tmpDir: string;
  readonly #serverId: string;
  readonly #clock: () => number;
  readonly #registry: PgRegistryStore;
  readonly loggedModels: PgMlflowLoggedModels;
  readonly modelRegistry: PgMlflowModelRegistry;
  readonly experiments: MlflowBackend["experiments"];
  readonly annotations: MlflowBackend["annotations"];

  constructor(options: PgMlflowServiceOptions) {
    this.#store = new PgTrackingStore(options.pool, "mlflow-artifacts:");
    this.#objects = options.objects;
    this.#tmpDir = options.tmpDir ?? os.tmpdir();
    this.#serverId = options.serverId ?? `${os.hostname()}:${process.pid}`;
    this.#clock = options.clock ?? Date.now;
    const store = this.#store;
    const db = <T>(p: Promise<T>) => this.#db(p);
    this.#registry = new PgRegistryStore(options.pool, this.#clock);
    const registry = this.#registry;
    const ctx = {
      store: registry,
      objects: this.#objects,
      runArtifacts: (runId: string) => this.#files(runId),
      experiment: async (id: string) => {
        await db(store.getExperiment(await this.#experimentId(id)));
      },
      db,
      objectsCall: <T>(p: Promise<T>) => this.#objectsCall(p),
      tmpDir: this.#tmpDir,
    };
    this.modelRegistry = new PgMlflowModelRegistry(ctx);
    this.loggedModels = new PgMlflowLoggedModels(ctx);
    this.experiments = {
      update: async (m) => {
        const id = await this.#experimentId(stringField(m, "experiment_id", true));
        const name = stringField(m, "new_name");
        if (name !== undefined) await db(store.renameExperiment(id, name, this.#clock()));
        return {};
      },
      delete: async (m) => {
        const id = await this.#experimentId(stringField(m, "experiment_id", true));
        await db(store.setExperimentDeleted(id, true, this.#clock()));
        return {};
      },
      restore: async (m) => {
        const id = await this.#experimentId(stringField(m, "experiment_id", true));
        await db(store.setExperimentDeleted(id, false, this.#clock()));
        return {};
      },
      setTag: async (m) => {
        const id = await this.#experimentId(stringField(m, "experiment_id", true));
        const key = stringField(m, "key", true);
        await db(store.setExperimentTag(id, key, String(m.value ?? "")));
        return {};
      },
      deleteTag: async (m) => {
        const id = await this.#experimentId(stringField(m, "experiment_id", true));
        await db(store.setExperimentTag(id, stringField(m, "key", true), undefined));
        return {};
      },
    };
    this.annotations = {
      deleteTag: async (m) => {
        await db(store.deleteTag(runIdField(m), stringField(m, "key", true)));
        return {};
      },
      logInputs: async (m) => {
        const runId = runIdField(m);
        const datasets = datasetInputs(m);
        const models = modelRefs(m);
        await db(store.getRun(runId));
        if (models.length > 0) await db(registry.linkRunModels(runId, "input", models));
        await db(
          store.logInputs(
            runId,
            datasets.map((d) => ({ ...d.dataset, tags: d.tags })),
          ),
        );
        return {};
      },
      logOutputs: async (m) => {
        const runId = runIdField(m);
        const run = await db(store.getRun(runId));
        if (run.lifecycleStage !== "active")
          throw invalidParam(`The run ${runId} must be in the 'active' state. Current state is deleted.`);
        const models = modelRefs(m);
        if (models.length > 0) await db(registry.linkRunModels(runId, "output", models));
        return {};
      },
    };
  }

  /**
   * Database failures a retry may fix (PostgreSQL restarting) answer 503, which MLflow's client
   * retries; everything else keeps its own mapping.
   */
  /**
   * A call to the objects store: unreachable → a retryable 503 naming it (the client retries), so an
   * upload whose bytes did not reach the store is never recorded, and a download says why it failed.
   */
  async #objectsCall<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (e) {
      if (isMtrackError(e, "ERR_MTRACK_REMOTE_UNREACHABLE")) {
        throw new MlflowApiError(
          "TEMPORARILY_UNAVAILABLE",
          `The objects store is unreachable, retry: ${e.message}`,
        );
      }
      throw e;
    }
  }

  async #db<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (e) {
      if (isRetryableDbError(e)) {
        throw new MlflowApiError(
          "TEMPORARILY_UNAVAILABLE",
          `The database is unavailable, retry: ${String(e)}`,
        );
      }
      if (
        isMtrackError(e, "ERR_MTRACK_EXPERIMENT_NOT_ACTIVE") ||
        isMtrackError(e, "ERR_MTRACK_RUN_NOT_ACTIVE")
      ) {
        throw invalidParam(`${e.message}: it must be in the 'active' state.`);
      }
      throw e;
    }
  }

  /** "0" (MLflow's Default experiment) is created on first use. */
  async #experimentId(id: string): Promise<string> {
    if (id === "0") await this.#db(this.#store.defaultExperimentId(this.#clock()));
    return id;
  }

  // ---- experiments ----------------------------------------------------------------------------

  async createExperiment(msg: Message): Promise<Message> {
    const name = stringField(msg, "name", true);
    const tags: Record<string, string> = {};
    for (const t of keyValues(msg, "tags")) tags[t.key] = t.value;
    await this.#experimentId("0");
    return { experiment_id: await this.#db(this.#store.createExperiment(name, tags, this.#clock())) };
  }

  async getExperimentByName(msg: Message): Promise<Message> {
    const name = stringField(msg, "experiment_name", true);
    if (name === "Default") await this.#experimentId("0");
    const exp = await this.#db(this.#store.getExperimentByName(name));
    if (exp === undefined) {
      throw new MlflowApiError("RESOURCE_DOES_NOT_EXIST", `Could not find experiment with name '${name}'`);
    }
    return { experiment: experimentJson(experimentOf(exp)) };
  }

  async getExperiment(msg: Message): Promise<Message> {
    const id = await this.#experimentId(stringField(msg, "experiment_id", true));
    return { experiment: experimentJson(experimentOf(await this.#db(this.#store.getExperiment(id)))) };
  }

  async searchExperiments(msg: Message): Promise<Message> {
    await this.#experimentId("0");
    const all = await this.#db(this.#store.listExperiments());
    return searchExperimentList(all.map(experimentOf), msg);
  }

  // ---- runs -----------------------------------------------------------------------------------

  /** runs/create → `{run}`; the run's user is the request's token holder. */
  async createRun(msg: Message, user: string): Promise<Message> {
    const experimentId = await this.#experimentId(stringField(msg, "experiment_id") ?? "0");
    const tags: Record<string, string> = {};
    for (const t of keyValues(msg, "tags")) {
      validateKey("tag", t.key);
      tags[t.key] = t.value;
    }
    const name = stringField(msg, "run_name") ?? tags[RUN_NAME_TAG] ?? generatedName();
    tags[RUN_NAME_TAG] = name;
    const run = await this.#db(
      this.#store.createRun({
        experimentId,
        name,
        userId: user,
        startTime: int64Field(msg, "start_time") ?? this.#clock(),
        tags,
        ownerServer: this.#serverId,
      }),
    );
    return { run: runOf(run) };
  }

  async updateRun(msg: Message): Promise<Message> {
    const runId = runIdField(msg);
    const status = stringField(msg, "status");
    if (status !== undefined && !STATUSES.includes(status)) {
      throw invalidParam(`Invalid value ${JSON.stringify(status)} for parameter 'status'.`);
    }
    const name = stringField(msg, "run_name");
    if (name !== undefined) await this.#db(this.#store.logBatch(runId, { tags: { [RUN_NAME_TAG]: name } }));
    const endTime = int64Field(msg, "end_time");
    const run = await this.#db(
      this.#store.updateRun(runId, {
        ...(status !== undefined ? { status: status as PgRunStatus } : {}),
        ...(endTime !== undefined ? { endTime } : {}),
        ...(name !== undefined ? { name } : {}),
      }),
    );
    return { run_info: runInfoOf(run) };
  }

  async getRun(msg: Message): Promise<Message> {
    const run = await this.#db(this.#store.getRun(runIdField(msg)));
    const models = await this.#db(this.#registry.runModels([run.runId]));
    return { run: runOf(run, models.get(run.runId)) };
  }

  async logMetric(msg: Message): Promise<Message> {
    const runId = runIdField(msg);
    const p = metricPoint(msg, this.#clock());
    validateKey("metric", p.key);
    await this.#db(this.#store.logBatch(runId, { metrics: [p] }));
    return {};
  }

  async logParam(msg: Message): Promise<Message> {
    const runId = runIdField(msg);
    const key = stringField(msg, "key", true);
    validateKey("param", key);
    await this.#db(this.#store.logBatch(runId, { params: { [key]: String(msg.value ?? "") } }));
    return {};
  }

  async setTag(msg: Message): Promise<Message> {
    const runId = runIdField(msg);
    const key = stringField(msg, "key", true);
    validateKey("tag", key);
    await this.#db(this.#store.logBatch(runId, { tags: { [key]: String(msg.value ?? "") } }));
    return {};
  }

  /** runs/log-batch → `{}`: one transaction, so a refused batch leaves the run as it was. */
  async logBatch(msg: Message): Promise<Message> {
    const batch = readBatch(msg, this.#clock());
    for (const m of batch.metrics) validateKey("metric", m.key);
    for (const p of batch.params) validateKey("param", p.key);
    for (const t of batch.tags) validateKey("tag", t.key);
    await this.#db(
      this.#store.logBatch(batch.runId, {
        params: Object.fromEntries(batch.params.map((p) => [p.key, p.value])),
        tags: Object.fromEntries(batch.tags.map((t) => [t.key, t.value])),
        metrics: batch.metrics,
      }),
    );
    return {};
  }

  async deleteRun(msg: Message): Promise<Message> {
    await this.#db(this.#store.deleteRun(runIdField(msg), true));
    return {};
  }

  async restoreRun(msg: Message): Promise<Message> {
    await this.#db(this.#store.deleteRun(runIdField(msg), false));
    return {};
  }

  /** runs/search: filter, order and page in the database (mtrack's grammar, a superset of MLflow's). */
  async searchRuns(msg: Message): Promise<Message> {
    const experimentIds = listField(msg, "experiment_ids").map(String);
    const max = maxResultsField(msg, DEFAULT_SEARCH_RESULTS, MAX_SEARCH_RESULTS);
    const offset = decodePageToken(stringField(msg, "page_token"));
    const filter = parseFilter(stringField(msg, "filter") ?? "");
    const orderBy = orderByOf(listField(msg, "order_by").map(String));
    const found = await this.#db(
      this.#store.searchRuns({
        experimentIds,
        filter,
        orderBy,
        view: viewTypeField(msg, "run_view_type"),
        maxResults: max,
        offset,
      }),
    );
    const runs = await this.#db(this.#store.getRuns(found.runIds));
    const models = await this.#db(this.#registry.runModels(found.runIds));
    const out: Message = { runs: runs.map((r) => runOf(r, models.get(r.runId))) };
    if (found.nextOffset !== undefined) out.next_page_token = encodePageToken(found.nextOffset);
    return out;
  }

  async getMetricHistory(msg: Message): Promise<Message> {
    const runId = runIdField(msg);
    const key = stringField(msg, "metric_key", true);
    const points = await this.#db(this.#store.getMetricHistory(runId, key));
    const offset = decodePageToken(stringField(msg, "page_token"));
    const max = maxResultsField(msg, points.length, Number.MAX_SAFE_INTEGER);
    const end = Math.min(points.length, offset + max);
    const out: Message = {
      metrics: points.slice(offset, end).map((m) => metricJson(key, m.value, m.timestamp, m.step)),
    };
    if (end < points.length) out.next_page_token = encodePageToken(end);
    return out;
  }

  // ---- artifacts ----------------------------------------------------------------------------

  /** A run's artifact files (the run must exist). */
  async #files(runId: string): Promise<{ name: string; hash: string; size: number }[]> {
    await this.#db(this.#store.getRun(runId));
    return this.#db(this.#store.listArtifacts(runId));
  }

  async listArtifacts(msg: Message): Promise<Message> {
    const runId = runIdField(msg);
    const run = await this.#db(this.#store.getRun(runId));
    const files = await this.#db(this.#store.listArtifacts(runId));
    return {
      root_uri: artifactUri(run.experimentId, runId),
      files: artifactChildren(files, stringField(msg, "path") ?? "", true),
    };
  }

  async listArtifactDir(runId: string, dir: string): Promise<FileInfo[]> {
    return artifactChildren(await this.#files(runId), dir, false);
  }

  artifactFile(): undefined {
    return undefined;
  }

  async openArtifact(runId: string, name: string): Promise<OpenedArtifact> {
    const file = (await this.#files(runId)).find((f) => f.name === name);
    if (file === undefined) {
      throw new MlflowApiError("RESOURCE_DOES_NOT_EXIST", `Run '${runId}' has no artifact ${name}.`);
    }
    const stream = await this.#objectsCall(this.#objects.open(file.hash));
    if (stream === undefined) {
      throw new MlflowApiError(
        "TEMPORARILY_UNAVAILABLE",
        `Artifact ${name} of run ${runId} (object ${file.hash}) is missing from the objects store.`,
      );
    }
    return { size: file.size, stream };
  }

  async readArtifact(runId: string, name: string): Promise<Buffer> {
    const { stream } = await this.openArtifact(runId, name);
    return buffer(stream);
  }

  /** One stored object (a logged model's or registered version's file) from the objects store. */
  async openObject(hash: string): Promise<Readable | undefined> {
    return this.#objectsCall(this.#objects.open(hash));
  }

  async readObject(hash: string): Promise<Buffer> {
    const stream = await this.#objectsCall(this.#objects.open(hash));
    if (stream === undefined) {
      throw new MlflowApiError(
        "TEMPORARILY_UNAVAILABLE",
        `Object ${hash} is missing from the objects store.`,
      );
    }
    return buffer(stream);
  }

  /**
   * Streams an upload to a staging file, hashes it, puts the object in the objects store (once: a
   * stored object is not sent again), and only then records it in the database: a run never lists an
   * artifact whose bytes did not arrive. Refused for a deleted run.
   */
  async putArtifact(
    runId: string,
    name: string,
    body: AsyncIterable<Buffer> | NodeJS.ReadableStream,
  ): Promise<void> {
    validateArtifactName(name);
    const run = await this.#db(this.#store.getRun(runId));
    if (run.lifecycleStage !== "active") {
      throw invalidParam(`The run ${runId} must be in the 'active' state. Current state is deleted.`);
    }
    fs.mkdirSync(this.#tmpDir, { recursive: true });
    const tmp = tmpName(this.#tmpDir, "mlflow-upload");
    try {
      await pipeline(body as NodeJS.ReadableStream, fs.createWriteStream(tmp, { flags: "wx" }));
      const object = hashFileSync(tmp);
      if (!(await this.#objectsCall(this.#objects.has([object]))).has(object.hash))
        await this.#objectsCall(this.#objects.putFile(object, tmp));
      await this.#db(this.#store.recordArtifact(runId, { path: name, ...object }));
    } finally {
      safeUnlink(tmp);
    }
  }

  /** Nothing is held open: runs still RUNNING stay so in the database (another server may end them). */
  async close(): Promise<void> {}
}
