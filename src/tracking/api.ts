/**
 * The tracking API training code imports, shaped after MLflow's: start a run, log params (write-once),
 * metrics (append, with step and timestamp), tags (mutable), texts, artifacts and models, end it.
 *
 * Logging is cheap: metric points land in growable float64 buffers and everything is appended to the
 * run's log in batches (every `flushIntervalMs`, and at end), so a run killed with kill -9 keeps all
 * it flushed. Ending seals the run into the content-addressed store (see seal.ts).
 */

import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ioError, MtrackError } from "../errors.js";
import type { ObjectStore, PutResult } from "../store/types.js";
import { encodeFrame, frameParts, newPackr, writeAllSync } from "./frames.js";
import {
  activeLogPath,
  DEFAULT_EXPERIMENT,
  ensureExperiment,
  ensureTrackingDirs,
  readExperiments,
} from "./layout.js";
import {
  MAX_PARAM_VALUE_LENGTH,
  MAX_TAG_VALUE_LENGTH,
  validateArtifactName,
  validateDisplayName,
  validateKey,
} from "./names.js";
import { withRunLock } from "./runlock.js";
import { type LogRecord, metricChunkParts, paramsInFrames, type StartRecord } from "./runlog.js";
import { localLiveness, sealRun } from "./seal.js";
import {
  type ArtifactRef,
  type DirEntry,
  type GitInfoProvider,
  type ModelRef,
  RUN_STATUSES,
  type RunStatus,
  type RunSummary,
} from "./types.js";

/** Options of `startRun`. */
export interface StartRunOptions {
  /** Tracking dir, normally `<repo>/.mtrack/runs`. */
  dir: string;
  store: ObjectStore;
  /** Tells the run which commit/branch it starts from and whether the worktree is dirty. */
  gitInfo: GitInfoProvider;
  /** Experiment name; created on first use. Default: "Default" (id "0"). */
  experiment?: string;
  /** Run name; default: a short form of the run id. */
  name?: string;
  params?: Record<string, unknown>;
  tags?: Record<string, unknown>;
  /** Command line recorded with the run. Default: process.argv. */
  command?: string[];
  /** Unix ms clock; default Date.now. */
  clock?: () => number;
  /** Recorded as the run's mtrack version. */
  mtrackVersion?: string;
  /** How often buffered records are appended to the run log. Default 1000 ms. */
  flushIntervalMs?: number;
  /**
   * End the run FAILED on an uncaught exception / unhandled rejection, KILLED on SIGINT/SIGTERM (then exit
   * 130/143), FINISHED when the process exits normally without calling end(). Default true.
   */
  installProcessHooks?: boolean;
}

/** Options of `logMetric`. */
export interface MetricOptions {
  /** Default 0, as in MLflow. */
  step?: number;
  /** Unix ms; default: the run's clock. */
  timestamp?: number;
}

/** Options of `logModel`. */
export interface ModelOptions {
  /** Model name (an artifact-style name). Default "model". */
  name?: string;
  /** How to load it, e.g. "tfjs-layers". */
  flavor: string;
  /** Input/output description, free-form (MLflow's signature). */
  signature?: unknown;
  metadata?: Record<string, unknown>;
}

/** Metric points of one key waiting for the next flush. */
class SeriesBuffer {
  steps = new Float64Array(1024);
  values = new Float64Array(1024);
  timestamps = new Float64Array(1024);
  length = 0;

  push(step: number, value: number, timestamp: number): void {
    if (this.length === this.steps.length) this.grow();
    const i = this.length++;
    this.steps[i] = step;
    this.values[i] = value;
    this.timestamps[i] = timestamp;
  }

  private grow(): void {
    const n = this.steps.length * 2;
    const steps = new Float64Array(n);
    const values = new Float64Array(n);
    const timestamps = new Float64Array(n);
    steps.set(this.steps);
    values.set(this.values);
    timestamps.set(this.timestamps);
    this.steps = steps;
    this.values = values;
    this.timestamps = timestamps;
  }
}

function describeError(err: unknown): string {
  const text = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
  return text.slice(0, MAX_TAG_VALUE_LENGTH);
}

/**
 * A param or tag value as stored: strings as they are, anything else as JSON; refuses values over the
 * length limits.
 *
 * @example
 * stringValue("param", "layers", [64, 32]); // "[64,32]"
 */
export function stringValue(kind: "param" | "tag", key: string, value: unknown): string {
  const s = typeof value === "string" ? value : JSON.stringify(value);
  const max = kind === "param" ? MAX_PARAM_VALUE_LENGTH : MAX_TAG_VALUE_LENGTH;
  if (s === undefined || s.length > max) {
    throw new MtrackError(
      "ERR_MTRACK_INVALID_ARGUMENT",
      `The value of ${kind} ${key} is missing or too long.`,
      {
        data: { kind, key, max },
        hint: `Log a value of at most ${max} characters (log long text with logText).`,
      },
    );
  }
  return s;
}

/** The error for a param logged again with a different value. */
export function paramImmutable(runId: string, key: string, oldValue: string, newValue: string): MtrackError {
  return new MtrackError("ERR_MTRACK_PARAM_IMMUTABLE", `Param ${key} was already logged as ${oldValue}.`, {
    data: { runId, key, oldValue, newValue },
    hint: "Params are immutable once logged; use a tag or a metric for values that change, or start a new run.",
  });
}

/** Files under a directory (regular files and symlinks to files), posix names relative to it, sorted. */
function walkFiles(root: string): string[] {
  const out: string[] = [];
  const visit = (rel: string) => {
    const abs = rel === "" ? root : path.join(root, rel);
    for (const entry of fs.readdirSync(abs, { withFileTypes: true })) {
      const child = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) visit(child);
      else if (entry.isFile() || (entry.isSymbolicLink() && fs.statSync(path.join(root, child)).isFile())) {
        out.push(child);
      }
    }
  };
  visit("");
  return out.sort();
}

/**
 * Stores every file under a directory plus a manifest (DirEntry[], msgpackr) listing them; returns the
 * manifest's hash and the total size of the files.
 *
 * @example
 * const { hash, size } = await putDirectory(store, "out/model");
 */
export async function putDirectory(store: ObjectStore, dir: string): Promise<PutResult> {
  let files: string[];
  try {
    files = walkFiles(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new MtrackError("ERR_MTRACK_PATH_NOT_FOUND", `${dir} does not exist.`, {
        data: { path: dir },
        hint: "Log the directory after writing it.",
      });
    }
    throw ioError(err, `listing ${dir}`);
  }
  const entries: DirEntry[] = [];
  let total = 0;
  for (const rel of files) {
    const put = await store.putFile(path.join(dir, rel));
    entries.push({ name: rel, hash: put.hash, size: put.size });
    total += put.size;
  }
  const manifest = store.putBuffer(newPackr().pack(entries));
  return { ...manifest, size: total };
}

/**
 * A run in progress. Get one from `startRun`; every method throws ERR_MTRACK_RUN_NOT_ACTIVE after `end`.
 */
/** The stat of a file or directory about to be logged as an artifact; a clear error when it is missing. */
export function statArtifactSource(file: string): fs.Stats {
  try {
    return fs.statSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new MtrackError("ERR_MTRACK_PATH_NOT_FOUND", `${file} does not exist.`, {
        data: { path: file },
        hint: "Log the artifact after writing the file.",
      });
    }
    throw ioError(err, `reading ${file}`);
  }
}

export class Run {
  /** 32 lowercase hex characters. */
  readonly id: string;
  readonly experimentId: string;
  readonly name: string;
  readonly #dir: string;
  readonly #store: ObjectStore;
  readonly #clock: () => number;
  readonly #packr = newPackr();
  readonly #params = new Map<string, string>();
  readonly #series = new Map<string, SeriesBuffer>();
  /** Encoded records (other than metric points) waiting for the next flush, in call order. */
  #pending: Uint8Array[] = [];
  #fd: number;
  #timer: NodeJS.Timeout | undefined;
  #uninstallHooks: (() => void) | undefined;
  #ending: Promise<RunSummary> | undefined;
  #flushError: unknown;
  readonly #liveness = localLiveness();
  /** How far the log was read for params that other processes logged. */
  #scannedTo = 0;

  /** @internal Use `startRun`. */
  constructor(init: {
    dir: string;
    store: ObjectStore;
    clock: () => number;
    start: StartRecord;
    fd: number;
    flushIntervalMs: number;
  }) {
    this.id = init.start.runId;
    this.experimentId = init.start.experimentId;
    this.name = init.start.name;
    this.#dir = init.dir;
    this.#store = init.store;
    this.#clock = init.clock;
    this.#fd = init.fd;
    this.#timer = setInterval(() => this.#backgroundFlush(), init.flushIntervalMs);
    this.#timer.unref();
  }

  /** True until `end` (or a process hook) ended the run. */
  get active(): boolean {
    return this.#ending === undefined && this.#fd >= 0;
  }

  #assertActive(): void {
    if (!this.active) {
      throw new MtrackError("ERR_MTRACK_RUN_NOT_ACTIVE", `Run ${this.id} has already ended.`, {
        data: { runId: this.id },
        hint: "Start a new run to log more.",
      });
    }
  }

  #queue(record: LogRecord): void {
    this.#pending.push(this.#packr.pack(record));
  }

  /**
   * Logs a param. Params are write-once: the same value again is fine, a different one throws
   * ERR_MTRACK_PARAM_IMMUTABLE. Non-string values are stored as JSON.
   *
   * @example
   * run.logParam("lr", 0.001);
   */
  logParam(key: string, value: unknown): void {
    this.logParams({ [key]: value });
  }

  /**
   * Logs several params at once; nothing is logged if any of them is invalid or changes a logged value.
   *
   * @example
   * run.logParams({ lr: 0.001, epochs: 10 });
   */
  logParams(params: Record<string, unknown>): void {
    this.#assertActive();
    const fresh = this.#freshParams(params);
    if (fresh.size === 0) return;
    // Other processes (`mtrack log param`) may have logged params to this run: look at what they appended
    // and write ours while holding the run's lock, so two processes can never log different values.
    withRunLock(this.#dir, this.id, { liveness: this.#liveness }, () => {
      this.#absorbForeignParams();
      const confirmed = this.#freshParams(Object.fromEntries(fresh));
      if (confirmed.size === 0) return;
      for (const [k, v] of confirmed) this.#params.set(k, v);
      try {
        writeAllSync(
          this.#fd,
          frameParts([this.#packr.pack({ t: "params", p: Object.fromEntries(confirmed) })]),
        );
        this.#scannedTo = fs.fstatSync(this.#fd).size;
      } catch (err) {
        throw ioError(err, `appending to the log of run ${this.id}`);
      }
    });
  }

  /** Validated params that are not logged yet; throws if one changes a logged value. */
  #freshParams(params: Record<string, unknown>): Map<string, string> {
    const fresh = new Map<string, string>();
    for (const [key, raw] of Object.entries(params)) {
      validateKey("param", key);
      const value = stringValue("param", key, raw);
      const old = this.#params.get(key) ?? fresh.get(key);
      if (old !== undefined && old !== value) throw paramImmutable(this.id, key, old, value);
      if (old === undefined) fresh.set(key, value);
    }
    return fresh;
  }

  /** Reads params that other processes appended to the log since the last look. */
  #absorbForeignParams(): void {
    const file = activeLogPath(this.#dir, this.id);
    let bytes: Buffer;
    try {
      const fd = fs.openSync(file, "r");
      try {
        const size = fs.fstatSync(fd).size;
        bytes = Buffer.alloc(Math.max(0, size - this.#scannedTo));
        if (bytes.length > 0) fs.readSync(fd, bytes, 0, bytes.length, this.#scannedTo);
      } finally {
        fs.closeSync(fd);
      }
    } catch (err) {
      throw ioError(err, `reading the log of run ${this.id}`);
    }
    for (const [k, v] of Object.entries(paramsInFrames(bytes, this.#packr))) {
      if (!this.#params.has(k)) this.#params.set(k, v);
    }
  }

  /**
   * Appends one metric point. Hot path: validation happens once per key, the point goes to a buffer.
   *
   * @example
   * for (let step = 0; step < 100; step++) run.logMetric("loss", 1 / (step + 1), { step });
   */
  logMetric(key: string, value: number, options?: MetricOptions): void {
    let buffer = this.#series.get(key);
    // Ending clears the buffers, so after end every key takes this path and is refused.
    if (buffer === undefined) {
      this.#assertActive();
      validateKey("metric", key);
      buffer = new SeriesBuffer();
      this.#series.set(key, buffer);
    }
    const step = options?.step ?? 0;
    const timestamp = options?.timestamp ?? this.#clock();
    if (typeof value !== "number" || typeof step !== "number" || typeof timestamp !== "number") {
      throw new MtrackError(
        "ERR_MTRACK_INVALID_ARGUMENT",
        `Metric ${key}: value, step and timestamp must be numbers.`,
        {
          data: { runId: this.id, key, value, step, timestamp },
          hint: "Convert booleans and strings to numbers before logging them as metrics.",
        },
      );
    }
    buffer.push(step, value, timestamp);
  }

  /**
   * Logs several metrics at the same step (and timestamp).
   *
   * @example
   * run.logMetrics({ loss: 0.3, acc: 0.9 }, { step: 5 });
   */
  logMetrics(metrics: Record<string, number>, options?: MetricOptions): void {
    const timestamp = options?.timestamp ?? this.#clock();
    const step = options?.step ?? 0;
    for (const [key, value] of Object.entries(metrics)) this.logMetric(key, value, { step, timestamp });
  }

  /**
   * Sets a tag; tags are mutable (last write wins).
   *
   * @example
   * run.setTag("phase", "finetune");
   */
  setTag(key: string, value: unknown): void {
    this.setTags({ [key]: value });
  }

  /** Sets several tags at once. */
  setTags(tags: Record<string, unknown>): void {
    this.#assertActive();
    const p: Record<string, string> = {};
    for (const [key, raw] of Object.entries(tags)) {
      validateKey("tag", key);
      p[key] = stringValue("tag", key, raw);
    }
    this.#queue({ t: "tags", p });
  }

  /**
   * Removes tags (keys the run does not have are ignored); in log order with `setTags`.
   *
   * @example
   * run.deleteTags(["wip"]);
   */
  deleteTags(keys: string[]): void {
    this.#assertActive();
    for (const key of keys) validateKey("tag", key);
    this.#queue({ t: "untags", k: [...keys] });
  }

  /**
   * Logs a text artifact; with `append`, adds to it (e.g. a training log written line by line).
   *
   * @example
   * run.logText("epoch 1 done\n", "train.log", { append: true });
   */
  logText(text: string, name: string, options?: { append?: boolean }): void {
    this.#assertActive();
    validateArtifactName(name);
    this.#queue({ t: "text", n: name, x: String(text), a: options?.append === true });
  }

  /**
   * Stores a file (or, given a directory, all its files) as an artifact of the run, deduplicated with
   * everything else in the store. `as` is the artifact name; default: the file's base name.
   *
   * @example
   * await run.logArtifact("out/confusion.png", { as: "plots/confusion.png" });
   */
  async logArtifact(file: string, options?: { as?: string }): Promise<ArtifactRef> {
    this.#assertActive();
    const name = options?.as ?? path.basename(file);
    validateArtifactName(name);
    const stat = statArtifactSource(file);
    if (stat.isDirectory()) return this.logArtifacts(file, { as: name });
    const put = await this.#store.putFile(file);
    const ref: ArtifactRef = { name, kind: "file", hash: put.hash, size: put.size };
    await this.#publish({ t: "artifact", a: ref });
    return ref;
  }

  /**
   * Stores every file under a directory as one directory artifact (a manifest of {name, hash, size}).
   * `as` defaults to the directory's base name.
   *
   * @example
   * await run.logArtifacts("out/plots", { as: "plots" });
   */
  async logArtifacts(dir: string, options?: { as?: string }): Promise<ArtifactRef> {
    this.#assertActive();
    const name = options?.as ?? path.basename(path.resolve(dir));
    validateArtifactName(name);
    const { hash, size } = await this.#putDir(dir);
    const ref: ArtifactRef = { name, kind: "dir", hash, size };
    await this.#publish({ t: "artifact", a: ref });
    return ref;
  }

  /**
   * Stores a model directory with what is needed to load it again.
   *
   * @example
   * await run.logModel("out/model", { name: "classifier", flavor: "tfjs-layers", signature: { inputs: [784] } });
   */
  async logModel(dir: string, options: ModelOptions): Promise<ModelRef> {
    this.#assertActive();
    const name = options.name ?? "model";
    validateArtifactName(name);
    const { hash, size } = await this.#putDir(dir);
    const ref: ModelRef = {
      name,
      flavor: options.flavor,
      signature: options.signature ?? null,
      metadata: options.metadata ?? {},
      hash,
      size,
    };
    await this.#publish({ t: "model", m: ref });
    return ref;
  }

  #putDir(dir: string): Promise<PutResult> {
    return putDirectory(this.#store, dir);
  }

  /** Makes stored objects durable before the log references them, so a crash never leaves dangling refs. */
  async #publish(record: LogRecord): Promise<void> {
    await this.#store.flush();
    this.#assertActive();
    this.#queue(record);
    this.flush();
  }

  /**
   * Appends everything buffered to the run log now (the timer does this every `flushIntervalMs`).
   *
   * @example
   * run.flush(); // before a risky step
   */
  flush(): void {
    if (this.#flushError !== undefined) {
      const err = this.#flushError;
      this.#flushError = undefined;
      throw err;
    }
    if (this.#fd < 0) return;
    const parts: Uint8Array[] = [];
    for (const payload of this.#pending) parts.push(...frameParts([payload]));
    this.#pending = [];
    for (const [key, b] of this.#series) {
      if (b.length === 0) continue;
      const n = b.length;
      const chunk = {
        steps: b.steps.subarray(0, n),
        values: b.values.subarray(0, n),
        timestamps: b.timestamps.subarray(0, n),
      };
      parts.push(...frameParts(metricChunkParts(key, chunk)));
    }
    if (parts.length === 0) return;
    try {
      writeAllSync(this.#fd, parts);
    } catch (err) {
      throw ioError(err, `appending to the log of run ${this.id}`);
    }
    // Only now: the columns were written straight from these buffers.
    for (const b of this.#series.values()) b.length = 0;
  }

  /**
   * A timer callback must not throw (that would crash the training process); the failure is kept and
   * thrown by the next explicit flush or end.
   */
  #backgroundFlush(): void {
    try {
      this.flush();
    } catch (err) {
      this.#flushError ??= err;
    }
  }

  /** Flushes, writes the end record and closes the log; synchronous so it also works in exit hooks. */
  #endSync(status: RunStatus, error: string | null): void {
    if (this.#fd < 0) return;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#uninstallHooks?.();
    this.#queue({ t: "end", status, endTime: this.#clock(), error });
    this.flush();
    fs.closeSync(this.#fd);
    this.#fd = -1;
    // Release the buffers before sealing reads the log back; later logMetric calls find no buffer and throw.
    this.#series.clear();
  }

  /**
   * Ends the run and seals it into the store. Calling it again returns the same result.
   *
   * @example
   * const summary = await run.end(); // status FINISHED
   */
  end(status: RunStatus = "FINISHED"): Promise<RunSummary> {
    if (this.#ending !== undefined) return this.#ending;
    if (status === "RUNNING" || !RUN_STATUSES.includes(status)) {
      throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", `A run cannot end with status ${status}.`, {
        data: { runId: this.id, status },
        hint: "End it with FINISHED, FAILED or KILLED.",
      });
    }
    this.#endSync(status, null);
    this.#ending = sealRun(this.#dir, this.#store, this.id, localLiveness());
    return this.#ending;
  }

  /** @internal Called by `startRun`. */
  installProcessHooks(): void {
    const onSignal = (signal: NodeJS.Signals) => {
      const code = signal === "SIGINT" ? 130 : 143;
      this.end("KILLED").then(
        () => process.exit(code),
        () => process.exit(code),
      );
    };
    // The monitor observes the crash without changing it: Node still prints the error and exits 1, and
    // there is no time for async sealing, so the run stays ended-but-unsealed until sealPendingRuns.
    const onCrash = (err: unknown) => this.#endSync("FAILED", describeError(err));
    // The event loop drained without end(): seal normally, as MLflow's atexit hook does.
    const onBeforeExit = () => {
      if (this.active) void this.end("FINISHED");
    };
    const onExit = (code: number) => this.#endSync(code === 0 ? "FINISHED" : "FAILED", null);
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    process.on("uncaughtExceptionMonitor", onCrash);
    process.on("beforeExit", onBeforeExit);
    process.on("exit", onExit);
    this.#uninstallHooks = () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      process.off("uncaughtExceptionMonitor", onCrash);
      process.off("beforeExit", onBeforeExit);
      process.off("exit", onExit);
    };
  }
}

/**
 * Starts a run: registers the experiment if needed, records git state, command line, host, pid and start
 * time, and opens the run's append-only log.
 *
 * @example
 * const run = await startRun({ dir: ".mtrack/runs", store, gitInfo, experiment: "mnist", params: { lr: 0.01 } });
 * run.logMetric("loss", 0.5, { step: 1 });
 * await run.end();
 */
export async function startRun(options: StartRunOptions): Promise<Run> {
  const {
    dir,
    store,
    gitInfo,
    experiment,
    params,
    tags,
    command = process.argv,
    clock = Date.now,
    mtrackVersion = "unknown",
    flushIntervalMs = 1000,
    installProcessHooks = true,
  } = options;
  if (!(flushIntervalMs > 0)) {
    throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", "flushIntervalMs must be a positive number.", {
      data: { flushIntervalMs },
      hint: "Use e.g. 1000 (one flush per second).",
    });
  }
  // Refuse bad params/tags before a log exists, so a typo does not leave a half-started run behind.
  for (const [key, value] of Object.entries(params ?? {})) {
    validateKey("param", key);
    stringValue("param", key, value);
  }
  for (const [key, value] of Object.entries(tags ?? {})) {
    validateKey("tag", key);
    stringValue("tag", key, value);
  }
  const runId = crypto.randomUUID().replaceAll("-", "");
  const name = options.name ?? `run-${runId.slice(0, 8)}`;
  validateDisplayName("run", name);
  ensureTrackingDirs(dir);
  const exp =
    experiment === undefined
      ? (readExperiments(dir)[0] ?? DEFAULT_EXPERIMENT)
      : ensureExperiment(dir, experiment, clock);
  if (exp.lifecycleStage !== "active") {
    throw new MtrackError(
      "ERR_MTRACK_EXPERIMENT_NOT_ACTIVE",
      `Experiment ${exp.name} (${exp.id}) is deleted: runs cannot start in it.`,
      { data: { experiment: exp.id }, hint: "Restore the experiment, or use another one." },
    );
  }
  const git = await gitInfo();
  const start: StartRecord = {
    t: "start",
    runId,
    experimentId: exp.id,
    experimentName: exp.name,
    name,
    startTime: clock(),
    git: { commit: git.commit, branch: git.branch, dirty: git.dirty },
    command: [...command],
    host: os.hostname(),
    pid: process.pid,
    mtrackVersion,
  };
  const file = activeLogPath(dir, runId);
  let fd: number;
  try {
    fd = fs.openSync(file, "ax");
    fs.writeSync(fd, encodeFrame(newPackr().pack(start)));
  } catch (err) {
    throw ioError(err, `creating ${file}`);
  }
  const run = new Run({ dir, store, clock, start, fd, flushIntervalMs });
  if (params !== undefined) run.logParams(params);
  if (tags !== undefined) run.setTags(tags);
  run.flush();
  if (installProcessHooks) run.installProcessHooks();
  return run;
}
