/**
 * Logging to a run that another process owns — what `mtrack log ...` does from a shell or Python stage
 * while `mtrack run` (or training code) keeps the run open.
 *
 * Such writes go into the run's own active log, so reading and sealing see them with no merging:
 * - every batch is one O_APPEND write of whole frames, so it never interleaves inside a frame with the
 *   owner's (or another writer's) appends, and a writer killed mid-write leaves at most a torn frame that
 *   readers skip;
 * - every append holds the run's lock (runlock.ts) and opens the log without creating it, so it either
 *   lands before sealing reads the log or is refused once the log is gone — sealing re-reads the log if it
 *   grew while it was writing the store, so nothing appended is ever dropped;
 * - params are checked against every param in the log under that same lock, and the owner does the same
 *   when it logs a new param, so params stay write-once across processes.
 */

import fs from "node:fs";
import path from "node:path";
import { ioError, MtrackError } from "../errors.js";
import type { ObjectStore } from "../store/types.js";
import { paramImmutable, putDirectory, statArtifactSource, stringValue } from "./api.js";
import { frameParts, newPackr, writeAllSync } from "./frames.js";
import { activeLogPath } from "./layout.js";
import { validateArtifactName, validateKey } from "./names.js";
import { resolveRunId } from "./read.js";
import { withRunLock } from "./runlock.js";
import { type Liveness, type LogRecord, metricChunkParts, replayRunLog } from "./runlog.js";
import { localLiveness, readActiveLogBytes, readRef, readStartRecord } from "./seal.js";
import type { ArtifactRef } from "./types.js";

/** Options of `openLiveRun`. */
export interface LiveRunOptions {
  /** How to tell whether the run's owner is alive; default: this host and `kill(pid, 0)`. */
  liveness?: Liveness;
  /** Unix ms clock for metric timestamps; default Date.now. */
  clock?: () => number;
  /** How long to wait for the run's lock (ms). Default 30 s. */
  lockTimeoutMs?: number;
}

function notActive(runId: string, why: string): MtrackError {
  return new MtrackError("ERR_MTRACK_RUN_NOT_ACTIVE", `Run ${runId} ${why}.`, {
    data: { runId },
    hint: "Log to a run while the process that started it (e.g. `mtrack run`) is still running, or start a new run.",
  });
}

/**
 * A handle on a run owned by another process. Each call is one locked append; nothing is buffered, so a
 * CLI process can log one value and exit.
 */
export class LiveRun {
  readonly id: string;
  readonly #dir: string;
  readonly #store: ObjectStore;
  readonly #liveness: Liveness;
  readonly #clock: () => number;
  readonly #lockTimeoutMs: number | undefined;
  readonly #packr = newPackr();

  /** @internal Use `openLiveRun`. */
  constructor(dir: string, store: ObjectStore, runId: string, options: LiveRunOptions) {
    this.id = runId;
    this.#dir = dir;
    this.#store = store;
    this.#liveness = options.liveness ?? localLiveness();
    this.#clock = options.clock ?? Date.now;
    this.#lockTimeoutMs = options.lockTimeoutMs;
  }

  /** Appends frames under the run's lock; `check` runs first, under the lock, with the log's bytes. */
  #append(parts: Uint8Array[], check?: (log: Buffer) => Uint8Array[] | undefined): void {
    withRunLock(this.#dir, this.id, { liveness: this.#liveness, timeoutMs: this.#lockTimeoutMs }, () => {
      const file = activeLogPath(this.#dir, this.id);
      let fd: number;
      try {
        // No O_CREAT: once sealing removed the log, an append must fail rather than start an orphan log.
        fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") throw notActive(this.id, "has ended");
        throw ioError(err, `opening ${file}`);
      }
      try {
        let out = parts;
        if (check !== undefined) {
          const replaced = check(readActiveLogBytes(this.#dir, this.id) ?? Buffer.alloc(0));
          if (replaced !== undefined) out = replaced;
        }
        if (out.length > 0) writeAllSync(fd, out);
      } catch (err) {
        throw ioError(err, `appending to the log of run ${this.id}`);
      } finally {
        fs.closeSync(fd);
      }
    });
  }

  #record(record: LogRecord): Uint8Array[] {
    return frameParts([this.#packr.pack(record)]);
  }

  /**
   * Logs params; same rules as `Run.logParams` (write-once), checked against everything in the log.
   *
   * @example
   * openLiveRun(dir, store, process.env.MTRACK_RUN_ID!).logParams({ lr: "0.01" });
   */
  logParams(params: Record<string, unknown>): void {
    const values = new Map<string, string>();
    for (const [key, raw] of Object.entries(params)) {
      validateKey("param", key);
      values.set(key, stringValue("param", key, raw));
    }
    this.#append([], (log) => {
      const state = replayRunLog(log, this.#packr);
      if (state.end !== undefined) throw notActive(this.id, "has ended");
      const fresh: Record<string, string> = {};
      for (const [key, value] of values) {
        const old = Object.hasOwn(state.params, key) ? state.params[key] : fresh[key];
        if (old !== undefined && old !== value) throw paramImmutable(this.id, key, old, value);
        fresh[key] = value;
      }
      for (const key of Object.keys(state.params)) delete fresh[key];
      return Object.keys(fresh).length === 0 ? [] : this.#record({ t: "params", p: fresh });
    });
  }

  /**
   * Appends one metric point (step default 0, timestamp default now).
   *
   * @example
   * live.logMetric("val_acc", 0.91, { step: 3 });
   */
  logMetric(key: string, value: number, options: { step?: number; timestamp?: number } = {}): void {
    validateKey("metric", key);
    const step = options.step ?? 0;
    const timestamp = options.timestamp ?? this.#clock();
    if (![value, step, timestamp].every((n) => typeof n === "number")) {
      throw new MtrackError(
        "ERR_MTRACK_INVALID_ARGUMENT",
        `Metric ${key}: value, step and timestamp must be numbers.`,
        {
          data: { runId: this.id, key, value, step, timestamp },
          hint: "Give numbers, e.g. `mtrack log metric loss 0.25 --step 3`.",
        },
      );
    }
    this.#append(
      frameParts(
        metricChunkParts(key, {
          steps: Float64Array.of(step),
          values: Float64Array.of(value),
          timestamps: Float64Array.of(timestamp),
        }),
      ),
    );
  }

  /**
   * Sets tags (mutable, last write wins).
   *
   * @example
   * live.setTags({ phase: "eval" });
   */
  setTags(tags: Record<string, unknown>): void {
    const p: Record<string, string> = {};
    for (const [key, raw] of Object.entries(tags)) {
      validateKey("tag", key);
      p[key] = stringValue("tag", key, raw);
    }
    this.#append(this.#record({ t: "tags", p }));
  }

  /**
   * Removes tags (keys the run does not have are ignored).
   *
   * @example
   * live.deleteTags(["wip"]);
   */
  deleteTags(keys: string[]): void {
    for (const key of keys) validateKey("tag", key);
    this.#append(this.#record({ t: "untags", k: [...keys] }));
  }

  /**
   * Logs a text artifact, or appends to it.
   *
   * @example
   * live.logText("epoch 3 done\n", "train.log", { append: true });
   */
  logText(text: string, name: string, options: { append?: boolean } = {}): void {
    validateArtifactName(name);
    this.#append(this.#record({ t: "text", n: name, x: String(text), a: options.append === true }));
  }

  /**
   * Stores a file or directory in the store and records it as an artifact (`as` defaults to its base name).
   *
   * @example
   * await live.logArtifact("out/report.html", { as: "reports/eval.html" });
   */
  async logArtifact(file: string, options: { as?: string } = {}): Promise<ArtifactRef> {
    const name = options.as ?? path.basename(path.resolve(file));
    validateArtifactName(name);
    const stat = statArtifactSource(file);
    const put = stat.isDirectory() ? await putDirectory(this.#store, file) : await this.#store.putFile(file);
    const ref: ArtifactRef = {
      name,
      kind: stat.isDirectory() ? "dir" : "file",
      hash: put.hash,
      size: put.size,
    };
    // Durable before the log names it, so a crash never leaves a run pointing at a missing object.
    await this.#store.flush();
    this.#append(this.#record({ t: "artifact", a: ref }));
    return ref;
  }
}

/**
 * Opens a run that another process owns, for appending. Accepts a unique id prefix. Throws
 * ERR_MTRACK_RUN_NOT_FOUND for an unknown id and ERR_MTRACK_RUN_NOT_ACTIVE when the run is already sealed
 * or its process died.
 *
 * @example
 * const live = openLiveRun(dir, store, process.env.MTRACK_RUN_ID!);
 * live.logMetric("loss", 0.25, { step: 3 });
 */
export function openLiveRun(
  dir: string,
  store: ObjectStore,
  idOrPrefix: string,
  options: LiveRunOptions = {},
): LiveRun {
  const runId = resolveRunId(dir, idOrPrefix);
  const liveness = options.liveness ?? localLiveness();
  const start = readStartRecord(dir, runId);
  if (start === undefined) {
    throw notActive(runId, readRef(dir, runId) !== undefined ? "has ended" : "has no readable log");
  }
  if (start.host === liveness.host && !liveness.isPidAlive(start.pid)) {
    throw notActive(runId, `was started by process ${start.pid}, which is no longer running`);
  }
  return new LiveRun(dir, store, runId, { ...options, liveness });
}
