/**
 * The MLflow tracking service behind the REST routes: each method takes a request message and returns
 * the response message, so it is tested without sockets. Runs created through it are ordinary mtrack
 * runs in the repository's tracking dir.
 *
 * The server process owns the runs it creates: their `Run` objects stay open in a registry here (metric
 * points go to in-memory buffers, O(1) per point, appended to the run log every second), `runs/update`
 * with a terminal status ends and seals one, and `close()` ends the rest as KILLED. Runs owned by another
 * live process (e.g. `mtrack run`) are written through `LiveRun`, one locked append per call.
 */
import fs from "node:fs";
import os from "node:os";
import { pipeline } from "node:stream/promises";
import { isMtrackError } from "../../errors.js";
import { LoggedModels } from "../../registry/logged.js";
import type { ModelRegistry } from "../../registry/models.js";
import type { Registry } from "../../registry/registry.js";
import { type Run, startRun } from "../../tracking/api.js";
import type { Tracking } from "../../tracking/context.js";
import { type LiveRun, openLiveRun } from "../../tracking/external.js";
import {
  activeLogPath,
  DEFAULT_EXPERIMENT,
  deletedPath,
  type Experiment,
  readExperiments,
  refPath,
} from "../../tracking/layout.js";
import { RunListing } from "../../tracking/listing.js";
import { isRunId, validateArtifactName, validateKey } from "../../tracking/names.js";
import {
  deleteRun,
  getMetricHistory,
  getRun,
  listArtifactFiles,
  readArtifact,
  restoreRun,
} from "../../tracking/read.js";
import type { Liveness } from "../../tracking/runlog.js";
import { likeMatch, searchRuns } from "../../tracking/search.js";
import { type GitInfoProvider, RUN_STATUSES, type RunStatus, type RunSummary } from "../../tracking/types.js";
import { safeUnlink, tmpName } from "../../util/fs.js";
import { MlflowRunAnnotations } from "./annotations.js";
import type { FileInfo, MlflowBackend } from "./backend.js";
import { invalidParam, MlflowApiError } from "./errors.js";
import { MlflowExperiments } from "./experiments.js";
import { MlflowLoggedModels } from "./logged-models.js";
import { MlflowModelRegistry } from "./model-registry.js";
import {
  artifactUri,
  DEFAULT_SEARCH_RESULTS,
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
  readBatch,
  runIdField,
  runInfoJson,
  runJson,
  stringField,
  viewTypeField,
} from "./wire.js";

/** Tag MLflow keeps the run name in. */
export const RUN_NAME_TAG = "mlflow.runName";
/** Tag naming the parent of a nested run. */
export const PARENT_RUN_TAG = "mlflow.parentRunId";
/** Tag the client sets to the commit its code runs from; it becomes the run's git commit. */
export const GIT_COMMIT_TAG = "mlflow.source.git.commit";
/** Tag the client may set to the branch its code runs from. */
export const GIT_BRANCH_TAG = "mlflow.source.git.branch";

/** Options of `MlflowService`. */
export interface MlflowServiceOptions {
  /** The repository's tracking context (`openTracking(repo)`). */
  tracking: Pick<Tracking, "dir" | "store">;
  /** Unix ms clock; default Date.now. */
  clock?: () => number;
  /** Recorded as the mtrack version of the runs created here. */
  mtrackVersion?: string;
  /** Where uploads are staged before they go into the store; default the OS temp dir. */
  tmpDir?: string;
  liveness?: Liveness;
  /** The runs listing to search (default: a new one); `mtrack server` shares its own with the web UI. */
  listing?: RunListing;
  /**
   * The repository's model registry log (`.mtrack/registry`): MLflow 3's logged models (and, through
   * the model registry, registered models) live there. Without it the logged-model endpoints answer
   * NOT_IMPLEMENTED and logged-models/search finds nothing.
   */
  registry?: Registry;
  /**
   * Opens the repository's model registry with the user its changes are recorded as (the name of the
   * request's token): serves the registered-models and model-versions endpoints, and (when `registry`
   * is not given) its log holds the logged models.
   */
  openModels?: (user: string) => ModelRegistry;
  /**
   * The commit, branch and dirty flag recorded for a run whose client reports no commit (the
   * `mlflow.source.git.commit` tag): zero-config capture passes the repository's own, since its
   * clients run in this checkout.
   */
  gitInfo?: GitInfoProvider;
}

/** What the service needs from a run it writes to: an owned `Run` or another process's `LiveRun`. */
type Writable = Pick<Run, "logParams" | "setTags" | "deleteTags" | "logArtifact"> & {
  logMetric(key: string, value: number, options: { step: number; timestamp: number }): void;
};

/** A run this server owns, with the clock override that lets the client set start and end times. */
interface OwnedRun {
  run: Run;
  /** When set, the run's clock answers this (the client's start_time / end_time). */
  at: { time: number | undefined };
}

export type { FileInfo } from "./backend.js";

/**
 * The immediate children of directory `dir` ("" for the root) among a run's artifact files. `full`
 * gives paths relative to the run's root (tracking API), otherwise base names (artifact proxy).
 *
 * @example
 * artifactChildren([{ name: "plots/a.png", size: 3 }, { name: "x.txt", size: 1 }], "", true);
 * // [{ path: "plots", is_dir: true }, { path: "x.txt", is_dir: false, file_size: 1 }]
 */
export function artifactChildren(
  files: readonly { name: string; size: number }[],
  dir: string,
  full: boolean,
): FileInfo[] {
  const prefix = dir === "" ? "" : `${dir.replace(/\/+$/, "")}/`;
  const out = new Map<string, FileInfo>();
  for (const f of files) {
    if (!f.name.startsWith(prefix)) continue;
    const rest = f.name.slice(prefix.length);
    const slash = rest.indexOf("/");
    const child = slash < 0 ? rest : rest.slice(0, slash);
    const p = full ? prefix + child : child;
    if (slash < 0) out.set(p, { path: p, is_dir: false, file_size: f.size });
    else if (!out.has(p)) out.set(p, { path: p, is_dir: true });
  }
  return [...out.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** A `name = 'x'` / `name LIKE 'x%'` filter of experiments/search (the only kind supported). */
export function experimentNameFilter(filter: string | undefined): (e: Experiment) => boolean {
  if (filter === undefined || filter.trim() === "") return () => true;
  const m = /^\s*(?:attributes?\.)?name\s*(=|!=|LIKE|ILIKE)\s*(['"])(.*)\2\s*$/i.exec(filter);
  if (!m) {
    throw invalidParam(
      `Unsupported experiment filter ${JSON.stringify(filter)}: only name = / != / LIKE / ILIKE '...' is supported.`,
    );
  }
  const op = m[1]!.toUpperCase();
  const value = m[3]!;
  if (op === "=") return (e) => e.name === value;
  if (op === "!=") return (e) => e.name !== value;
  if (op === "LIKE") return (e) => likeMatch(e.name, value);
  return (e) => likeMatch(e.name.toLowerCase(), value.toLowerCase());
}

/**
 * experiments/search over a list of experiments: the name filter, the view type, newest first, paged.
 *
 * @example
 * searchExperimentList(readExperiments(dir), { filter: "name LIKE 'cv-%'", max_results: 10 });
 */
export function searchExperimentList(experiments: readonly Experiment[], msg: Message): Message {
  const keep = experimentNameFilter(stringField(msg, "filter"));
  const view = viewTypeField(msg, "view_type");
  const max = maxResultsField(msg, DEFAULT_SEARCH_RESULTS, MAX_SEARCH_RESULTS);
  const offset = decodePageToken(stringField(msg, "page_token"));
  const all = experiments.filter(
    (e) => keep(e) && (view === "ALL" || (e.lifecycleStage === "deleted") === (view === "DELETED_ONLY")),
  );
  all.sort((a, b) => b.creationTime - a.creationTime || Number(a.id) - Number(b.id));
  const page = all.slice(offset, offset + max);
  const out: Message = { experiments: page.map(experimentJson) };
  if (offset + max < all.length) out.next_page_token = encodePageToken(offset + max);
  return out;
}

/**
 * MLflow's tracking service over one mtrack tracking dir.
 *
 * @example
 * const service = new MlflowService({ tracking: openTracking(repo) });
 * const { experiment_id } = service.createExperiment({ name: "mnist" });
 * const { run } = await service.createRun({ experiment_id, run_name: "first" });
 * service.logMetric({ run_id: run.info.run_id, key: "loss", value: 0.5, timestamp: Date.now(), step: 0 });
 * await service.close(); // ends the still-open runs as KILLED
 */
export class MlflowService implements MlflowBackend {
  readonly #dir: string;
  readonly #store: Tracking["store"];
  readonly #clock: () => number;
  readonly #mtrackVersion: string;
  readonly #tmpDir: string;
  readonly #liveness: Liveness | undefined;
  readonly #gitInfo: GitInfoProvider | undefined;
  readonly #open = new Map<string, OwnedRun>();
  /** Runs of other live processes we have written to, kept so each write does not re-open them. */
  readonly #foreign = new Map<string, LiveRun>();
  readonly #listing: RunListing;
  #closed = false;
  /** Experiment changes: create with tags, rename, delete/restore, experiment tags (experiments.ts). */
  readonly experiments: MlflowExperiments;
  /** Tags of ended runs, delete-tag, inputs and outputs (annotations.ts). */
  readonly annotations: MlflowRunAnnotations;
  /** MLflow 3's logged models and their artifacts (logged-models.ts); undefined without a registry. */
  readonly loggedModels: MlflowLoggedModels | undefined;
  /** Registered models and versions (model-registry.ts); undefined without a model registry. */
  readonly modelRegistry: MlflowModelRegistry | undefined;

  constructor(options: MlflowServiceOptions) {
    this.#dir = options.tracking.dir;
    this.#store = options.tracking.store;
    this.#clock = options.clock ?? Date.now;
    this.#mtrackVersion = options.mtrackVersion ?? "unknown";
    this.#tmpDir = options.tmpDir ?? os.tmpdir();
    this.#liveness = options.liveness;
    this.#gitInfo = options.gitInfo;
    this.#listing = options.listing ?? new RunListing(this.#dir, this.#store, options.liveness);
    const changed = () => this.#listing.invalidate();
    this.experiments = new MlflowExperiments({ dir: this.#dir, clock: this.#clock, changed });
    this.annotations = new MlflowRunAnnotations({
      dir: this.#dir,
      clock: this.#clock,
      changed,
      activeRun: (id) => this.#activeRun(id),
      writer: (id) => this.#writable(id),
      tags: (id) => this.#summary(id).tags,
    });
    const open = options.openModels;
    // One registry per user: every event records who made it (a Registry's user is fixed).
    const byUser = new Map<string, ModelRegistry>();
    const modelsFor = (user: string): ModelRegistry => {
      let m = byUser.get(user);
      if (m === undefined && open !== undefined) byUser.set(user, (m = open(user)));
      return m as ModelRegistry;
    };
    const fixed = options.registry;
    const logFor = fixed ? () => fixed : open ? (user: string) => modelsFor(user).log : undefined;
    const loggedByUser = new Map<string, LoggedModels>();
    const loggedFor = (user: string): LoggedModels => {
      let l = loggedByUser.get(user);
      if (l === undefined && logFor !== undefined)
        loggedByUser.set(user, (l = new LoggedModels({ registry: logFor(user), store: this.#store })));
      return l as LoggedModels;
    };
    this.loggedModels = logFor
      ? new MlflowLoggedModels({
          logged: loggedFor,
          state: () => logFor("").state(),
          experiment: (id) => {
            this.#experimentById(id);
          },
          tmpDir: this.#tmpDir,
        })
      : undefined;
    const store = this.#store;
    this.modelRegistry = open ? new MlflowModelRegistry(modelsFor, () => store.flush()) : undefined;
  }

  /** Ids of the runs this server owns (still open). */
  get openRunIds(): string[] {
    return [...this.#open.keys()];
  }

  // ---- experiments ----------------------------------------------------------------------------

  #experimentById(id: string): Experiment {
    const exp = readExperiments(this.#dir).find((e) => e.id === id);
    if (exp === undefined)
      throw new MlflowApiError("RESOURCE_DOES_NOT_EXIST", `No Experiment with id=${id} exists`);
    return exp;
  }

  /** experiments/create → `{experiment_id}`; RESOURCE_ALREADY_EXISTS for a taken name. */
  createExperiment(msg: Message): Message {
    return this.experiments.create(msg);
  }

  /** experiments/get-by-name → `{experiment}`; RESOURCE_DOES_NOT_EXIST when there is none. */
  getExperimentByName(msg: Message): Message {
    const name = stringField(msg, "experiment_name", true);
    const exp = readExperiments(this.#dir).find((e) => e.name === name);
    if (exp === undefined) {
      throw new MlflowApiError("RESOURCE_DOES_NOT_EXIST", `Could not find experiment with name '${name}'`);
    }
    return { experiment: experimentJson(exp) };
  }

  /** experiments/get → `{experiment}`. */
  getExperiment(msg: Message): Message {
    return { experiment: experimentJson(this.#experimentById(stringField(msg, "experiment_id", true))) };
  }

  /** experiments/search → `{experiments, next_page_token?}`; filters on the name only. */
  searchExperiments(msg: Message): Message {
    return searchExperimentList(readExperiments(this.#dir), msg);
  }

  // ---- runs -----------------------------------------------------------------------------------

  /** runs/create → `{run}` (RUNNING, owned by this server until it is ended). */
  async createRun(msg: Message): Promise<Message> {
    this.#assertOpen();
    const experimentId = stringField(msg, "experiment_id") ?? DEFAULT_EXPERIMENT.id;
    const exp = this.#experimentById(experimentId);
    const tags: Record<string, string> = {};
    for (const t of keyValues(msg, "tags")) tags[t.key] = t.value;
    const name = stringField(msg, "run_name") ?? tags[RUN_NAME_TAG];
    const at = { time: int64Field(msg, "start_time") };
    const commit = tags[GIT_COMMIT_TAG];
    const source = tags["mlflow.source.name"];
    const fallback = this.#gitInfo;
    const run = await startRun({
      dir: this.#dir,
      store: this.#store,
      // The client's code may run anywhere: the commit it reports is the one that matters, not ours
      // (unless it reports none and the service was told whose checkout its clients run in).
      gitInfo:
        commit === undefined && fallback !== undefined
          ? fallback
          : async () => ({
              commit: commit && /^[0-9a-f]{7,64}$/i.test(commit) ? commit.toLowerCase() : null,
              branch: tags[GIT_BRANCH_TAG] ?? null,
              dirty: false,
            }),
      experiment: exp.id === DEFAULT_EXPERIMENT.id ? undefined : exp.name,
      name,
      command: source ? [source] : [],
      clock: () => at.time ?? this.#clock(),
      mtrackVersion: this.#mtrackVersion,
      // Validated before the run's log exists: a bad tag leaves no half-started run behind.
      tags,
      installProcessHooks: false,
    });
    at.time = undefined;
    if (tags[RUN_NAME_TAG] !== run.name) run.setTags({ [RUN_NAME_TAG]: run.name });
    this.#open.set(run.id, { run, at });
    this.#listing.invalidate();
    return { run: runJson(this.#summary(run.id)) };
  }

  /**
   * runs/update → `{run_info}`. A terminal status ends the run and seals it into the store. A new
   * run_name is kept in the `mlflow.runName` tag (an mtrack run's name is fixed at start).
   */
  async updateRun(msg: Message): Promise<Message> {
    const runId = runIdField(msg);
    const status = stringField(msg, "status");
    const endTime = int64Field(msg, "end_time");
    const newName = stringField(msg, "run_name");
    if (
      status !== undefined &&
      !(RUN_STATUSES as readonly string[]).includes(status) &&
      status !== "SCHEDULED"
    ) {
      throw invalidParam(`Invalid value ${JSON.stringify(status)} for parameter 'status'.`);
    }
    const owned = this.#open.get(runId);
    if (owned !== undefined) {
      if (newName !== undefined && newName !== owned.run.name) owned.run.setTags({ [RUN_NAME_TAG]: newName });
      if (status === "FINISHED" || status === "FAILED" || status === "KILLED") {
        owned.at.time = endTime;
        this.#open.delete(runId);
        this.#listing.invalidate();
        const sealed = await owned.run.end(status as RunStatus);
        return { run_info: runInfoJson(sealed) };
      }
      return { run_info: runInfoJson(this.#summary(runId)) };
    }
    const current = this.#summary(runId);
    const terminal = status === undefined || (status !== "RUNNING" && status !== "SCHEDULED");
    // Renaming an ended run (MLflow allows it): the name tag becomes an annotation.
    if (current.status !== "RUNNING" && terminal && newName !== undefined) {
      this.annotations.setTags(runId, { [RUN_NAME_TAG]: newName });
      return { run_info: runInfoJson(this.#summary(runId)) };
    }
    // Ending an already ended run again (a client retry) is answered with its state; anything else
    // would need to reopen a sealed run, which mtrack does not do.
    if (current.status !== "RUNNING" && terminal && newName === undefined)
      return { run_info: runInfoJson(current) };
    throw invalidParam(
      `Run '${runId}' is not owned by this server (it has ended, or another process writes it); it cannot be updated.`,
    );
  }

  /** runs/get → `{run}` with each metric's latest value. */
  getRun(msg: Message): Message {
    return { run: runJson(this.#summary(runIdField(msg))) };
  }

  /** runs/log-metric → `{}`. O(1): the point goes to the run's buffer. */
  logMetric(msg: Message): Message {
    const runId = runIdField(msg);
    const p = metricPoint(msg, this.#clock());
    this.#writable(runId).logMetric(p.key, p.value, { step: p.step, timestamp: p.timestamp });
    return {};
  }

  /** runs/log-parameter → `{}`; INVALID_PARAMETER_VALUE when the param was logged with another value. */
  logParam(msg: Message): Message {
    const runId = runIdField(msg);
    const key = stringField(msg, "key", true);
    const raw = msg.value ?? "";
    this.#writable(runId).logParams({ [key]: typeof raw === "string" ? raw : String(raw) });
    return {};
  }

  /** runs/set-tag → `{}`; on an ended run the tag is an annotation beside the sealed run. */
  setTag(msg: Message): Message {
    const runId = runIdField(msg);
    const key = stringField(msg, "key", true);
    const raw = msg.value ?? "";
    this.annotations.setTags(runId, { [key]: typeof raw === "string" ? raw : String(raw) });
    return {};
  }

  /**
   * runs/log-batch → `{}`. Everything is validated before anything is written, so a refused batch
   * (over a limit, a changed param, a bad key) leaves the run as it was.
   */
  logBatch(msg: Message): Message {
    const batch = readBatch(msg, this.#clock());
    // Tags alone (what `mlflow.set_tags` sends) also reach an ended run, as annotations.
    if (batch.metrics.length === 0 && batch.params.length === 0) {
      if (batch.tags.length > 0) {
        for (const t of batch.tags) validateKey("tag", t.key);
        this.annotations.setTags(batch.runId, Object.fromEntries(batch.tags.map((t) => [t.key, t.value])));
      } else this.#activeRun(batch.runId);
      return {};
    }
    const run = this.#writable(batch.runId);
    for (const m of batch.metrics) validateKey("metric", m.key);
    if (batch.params.length > 0) {
      run.logParams(Object.fromEntries(batch.params.map((p) => [p.key, p.value])));
    }
    if (batch.tags.length > 0) run.setTags(Object.fromEntries(batch.tags.map((t) => [t.key, t.value])));
    for (const m of batch.metrics) run.logMetric(m.key, m.value, { step: m.step, timestamp: m.timestamp });
    return {};
  }

  /** runs/delete → `{}` (soft delete: `mtrack runs list` hides the run, its data stays). */
  deleteRun(msg: Message): Message {
    const runId = this.#existing(runIdField(msg));
    deleteRun(this.#dir, runId);
    this.#listing.invalidate();
    return {};
  }

  /** runs/restore → `{}`. */
  restoreRun(msg: Message): Message {
    restoreRun(this.#dir, this.#existing(runIdField(msg)));
    this.#listing.invalidate();
    return {};
  }

  /**
   * runs/search → `{runs, next_page_token?}`: mtrack's search grammar (a superset of MLflow's) over the
   * given experiments, newest first unless `order_by` says otherwise.
   */
  searchRuns(msg: Message): Message {
    const experimentIds = new Set(listField(msg, "experiment_ids").map(String));
    const view = viewTypeField(msg, "run_view_type");
    const max = maxResultsField(msg, DEFAULT_SEARCH_RESULTS, MAX_SEARCH_RESULTS);
    const offset = decodePageToken(stringField(msg, "page_token"));
    const orderBy = listField(msg, "order_by").map(String);
    const candidates = this.#listRuns().filter(
      (r) =>
        (experimentIds.size === 0 || experimentIds.has(r.experimentId)) &&
        (view === "ALL" || r.deleted === (view === "DELETED_ONLY")),
    );
    const found = searchRuns(candidates, { filter: stringField(msg, "filter") ?? "", orderBy });
    const out: Message = { runs: found.slice(offset, offset + max).map(runJson) };
    if (offset + max < found.length) out.next_page_token = encodePageToken(offset + max);
    return out;
  }

  /** metrics/get-history → `{metrics, next_page_token?}`; all points unless max_results pages them. */
  getMetricHistory(msg: Message): Message {
    const runId = this.#existing(runIdField(msg));
    const key = stringField(msg, "metric_key", true);
    this.#open.get(runId)?.run.flush();
    let h: ReturnType<typeof getMetricHistory>;
    try {
      h = getMetricHistory(this.#dir, this.#store, runId, key);
    } catch (err) {
      // MLflow answers an unknown metric of a known run with an empty history.
      if (isMtrackError(err, "ERR_MTRACK_INVALID_ARGUMENT") && err.data.key === key) return { metrics: [] };
      throw err;
    }
    const n = h.steps.length;
    const offset = decodePageToken(stringField(msg, "page_token"));
    const max = maxResultsField(msg, n, Number.MAX_SAFE_INTEGER);
    const end = Math.min(n, offset + max);
    const metrics: Message[] = [];
    for (let i = offset; i < end; i++) {
      metrics.push(metricJson(key, h.values[i]!, h.timestamps[i]!, h.steps[i]!));
    }
    const out: Message = { metrics };
    if (end < n) out.next_page_token = encodePageToken(end);
    return out;
  }

  // ---- artifacts ------------------------------------------------------------------------------

  /** artifacts/list (tracking API) → `{root_uri, files}` with paths relative to the run's root. */
  listArtifacts(msg: Message): Message {
    const runId = this.#existing(runIdField(msg));
    const dir = stringField(msg, "path") ?? "";
    const run = this.#summary(runId);
    return {
      root_uri: artifactUri(run.experimentId, runId),
      files: artifactChildren(this.#artifactFiles(runId), dir, true),
    };
  }

  /** The proxy's listing of one directory of a run's artifacts (base names). */
  listArtifactDir(runId: string, dir: string): FileInfo[] {
    return artifactChildren(this.#artifactFiles(this.#existing(runId)), dir, false);
  }

  /** The stored object of one artifact file of a run (for streaming it), or undefined if not a stored file. */
  artifactFile(runId: string, name: string): { hash: string; size: number } | undefined {
    const id = this.#existing(runId);
    const file = this.#artifactFiles(id).find((f) => f.name === name);
    return file && file.hash !== "" ? { hash: file.hash, size: file.size } : undefined;
  }

  /** The bytes of one stored object (a logged model's file, when no streaming opener is given). */
  readObject(hash: string): Buffer {
    return this.#store.readObject(hash);
  }

  /** The bytes of one artifact file of a run. */
  readArtifact(runId: string, name: string): Buffer {
    const id = this.#existing(runId);
    this.#open.get(id)?.run.flush();
    return readArtifact(this.#dir, this.#store, id, name);
  }

  /**
   * Stores an uploaded file as artifact `name` of a run: the body is streamed to a staging file, then
   * into the store (deduplicated) and recorded in the run's log.
   */
  async putArtifact(
    runId: string,
    name: string,
    body: AsyncIterable<Buffer> | NodeJS.ReadableStream,
  ): Promise<void> {
    validateArtifactName(name);
    const run = this.#writable(runId);
    fs.mkdirSync(this.#tmpDir, { recursive: true });
    const tmp = tmpName(this.#tmpDir, "mlflow-upload");
    try {
      await pipeline(body as NodeJS.ReadableStream, fs.createWriteStream(tmp, { flags: "wx" }));
      await run.logArtifact(tmp, { as: name });
    } finally {
      safeUnlink(tmp);
    }
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  /**
   * Ends every run still open as `status` (default KILLED; their points are flushed and they are sealed)
   * and refuses new runs. Called when the server stops; zero-config capture passes FAILED when the
   * command that owned them failed.
   */
  async close(status: "KILLED" | "FAILED" = "KILLED"): Promise<void> {
    this.#closed = true;
    const open = [...this.#open.values()];
    this.#open.clear();
    this.#foreign.clear();
    await Promise.allSettled(open.map((o) => o.run.end(status)));
  }

  // ---- helpers --------------------------------------------------------------------------------

  #assertOpen(): void {
    if (this.#closed) throw new MlflowApiError("INVALID_PARAMETER_VALUE", "The server is shutting down.");
  }

  /** A full run id that exists; RESOURCE_DOES_NOT_EXIST otherwise (no prefixes: MLflow has none). */
  #existing(runId: string): string {
    if (this.#open.has(runId)) return runId;
    if (
      isRunId(runId) &&
      (fs.existsSync(refPath(this.#dir, runId)) || fs.existsSync(activeLogPath(this.#dir, runId)))
    ) {
      return runId;
    }
    throw new MlflowApiError("RESOURCE_DOES_NOT_EXIST", `Run '${runId}' not found`);
  }

  /** A run that exists and is not soft-deleted (MLflow's lifecycle_stage "active"). */
  #activeRun(runId: string): string {
    if (this.#open.has(runId)) return runId;
    const id = this.#existing(runId);
    if (fs.existsSync(deletedPath(this.#dir, id))) {
      throw invalidParam(`The run ${id} must be in the 'active' state. Current state is deleted.`);
    }
    return id;
  }

  /** The run to write to: ours, or one another live process owns; refused when ended or deleted. */
  #writable(runId: string): Writable {
    const owned = this.#open.get(runId);
    if (owned !== undefined) return owned.run;
    const id = this.#activeRun(runId);
    let live = this.#foreign.get(id);
    if (live === undefined) {
      live = openLiveRun(this.#dir, this.#store, id, this.#liveness ? { liveness: this.#liveness } : {});
      this.#foreign.set(id, live);
    }
    return live;
  }

  /** One run's listing row, fresh (owned runs are flushed first). */
  #summary(runId: string): RunSummary {
    const id = this.#existing(runId);
    this.#open.get(id)?.run.flush();
    return getRun(this.#dir, this.#store, id, this.#liveness ? { liveness: this.#liveness } : {});
  }

  #artifactFiles(runId: string): { name: string; hash: string; size: number }[] {
    this.#open.get(runId)?.run.flush();
    return listArtifactFiles(this.#dir, this.#store, runId);
  }

  /**
   * Every run, deleted ones included: the shared cached listing (sealed runs re-read only when the tracking
   * files change; runs in active logs re-read while RUNNING). Our own open runs are flushed first so a
   * search sees their latest points.
   */
  #listRuns(): RunSummary[] {
    for (const o of this.#open.values()) o.run.flush();
    return this.#listing.snapshot().runs;
  }
}
