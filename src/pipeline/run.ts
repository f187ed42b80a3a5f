/**
 * The repro runner: executes stale stages in dependency order (up to `jobs` at a time), re-checking each
 * stage just before it runs, restoring from the run-cache when the same inputs were seen before, and
 * recording `pipeline.lock` entries as stages complete. All effects go through {@link StageIO} and
 * {@link SpawnFn}, so the runner itself only decides and sequences.
 */
import { spawn as spawnChild } from "node:child_process";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { MtrackError } from "../errors.js";
import { type Dag, StageScheduler, selectStages } from "./dag.js";
import type { FileEntry, LockEntry, LockFile } from "./lockfile.js";
import type { ParamsObject } from "./params.js";
import {
  type CurrentState,
  currentParams,
  type FileState,
  isRunCacheable,
  isStageStale,
  type Plan,
  type PlanOptions,
  planRepro,
  runCacheKey,
} from "./plan.js";
import type { OutSpec, Stage } from "./types.js";

/** Run-cache storage: input-state key → the outputs that execution produced. */
export interface RunCache {
  /**
   * The outputs recorded for `key`, or undefined. `stage` lets implementations refuse an entry that does
   * not list exactly the stage's outputs (entries can come from other people's remotes).
   */
  get(key: string, stage: Stage): Promise<FileEntry[] | undefined>;
  /**
   * Records a successful execution. Implementations must make every output restorable, including
   * `cache: false` ones (as DVC does), and may later push/pull entries to remotes.
   */
  put(key: string, stage: Stage, outs: FileEntry[]): Promise<void>;
}

/**
 * The workspace and store operations the runner needs; paths are relative to the pipeline file's folder.
 * Implemented by the workspace layer; tests use an in-memory fake.
 */
export interface StageIO {
  /** Hash of a file or directory (using a stat cache), or null when it does not exist. */
  hashPath(path: string): Promise<FileState | null>;
  /** A parsed params file, or null when it does not exist. */
  readParams(file: string): Promise<ParamsObject | null>;
  /** Deletes these outputs (the runner passes only non-persistent ones) before the stage runs. */
  removeOutputs(stage: Stage, outs: OutSpec[]): Promise<void>;
  /**
   * Hashes the stage's outputs after a successful run and saves `cache: true` ones into the store.
   * Throws (e.g. ERR_MTRACK_PATH_NOT_FOUND) when a declared output was not produced.
   */
  saveOutputs(stage: Stage): Promise<FileEntry[]>;
  /** Materialises outputs recorded in the run-cache. */
  restoreOutputs(stage: Stage, outs: FileEntry[]): Promise<void>;
  /**
   * Persists the lock (crash-safe: temp file + rename), e.g. with
   * `serializeLock(lock, Object.keys(lock.stages))`: stages arrive in pipeline order, removed stages
   * dropped. Called after every completed stage, never concurrently.
   */
  writeLock(lock: LockFile): Promise<void>;
  /** Absent: no run-cache at all. */
  runCache?: RunCache;
  /** Ids of the tracked runs a stage's command recorded in this repro (tagged with MTRACK_REPRO_ID). */
  runsOf?(stage: Stage, reproId: string): Promise<string[]>;
}

/** A started command. */
export interface SpawnedCommand {
  /** Resolves when the process exits: its exit code, or the signal that killed it. */
  done: Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }>;
  /** Kills the command and everything it started. */
  kill(): void;
}

/** Starts one shell command. */
export type SpawnFn = (
  cmd: string,
  options: {
    cwd: string;
    env: NodeJS.ProcessEnv;
    onStdout: (chunk: string) => void;
    onStderr: (chunk: string) => void;
  },
) => SpawnedCommand;

/**
 * Runs `cmd` with `/bin/sh -c` in its own process group (detached), so that killing it also kills the
 * children it started (`python train.py` under the shell).
 *
 * @example
 * const cmd = spawnShell("echo hi", { cwd: dir, env: process.env, onStdout: w, onStderr: w });
 * await cmd.done; // → { exitCode: 0, signal: null }
 */
export const spawnShell: SpawnFn = (cmd, { cwd, env, onStdout, onStderr }) => {
  const child = spawnChild("/bin/sh", ["-c", cmd], {
    cwd,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.setEncoding("utf8").on("data", onStdout);
  child.stderr.setEncoding("utf8").on("data", onStderr);
  const done = new Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("error", () => resolve({ exitCode: 127, signal: null }));
    child.on("close", (exitCode, signal) => resolve({ exitCode, signal }));
  });
  let exited = false;
  void done.then(() => {
    exited = true;
  });
  return {
    done,
    kill() {
      if (exited || child.pid === undefined) return;
      const group = -child.pid;
      try {
        process.kill(group, "SIGTERM");
      } catch {
        return;
      }
      // A command that ignores SIGTERM still has to go: Ctrl-C must not hang.
      const force = setTimeout(() => {
        try {
          if (!exited) process.kill(group, "SIGKILL");
        } catch {}
      }, 2000);
      force.unref();
    },
  };
};

/** Where stage output goes (live). */
export interface OutputSinks {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** Options of {@link reproduce}. */
export interface ReproOptions extends PlanOptions {
  dag: Dag;
  /** The lock as read before the run; not mutated. */
  lock: LockFile;
  io: StageIO;
  /** Absolute path of the pipeline file's folder; stages run in `<dir>/<wdir>`. */
  dir: string;
  /** Stages run at the same time (default 1). */
  jobs?: number;
  /** After a failure, keep running stages that do not depend on the failed one. */
  keepGoing?: boolean;
  /** Neither restore from nor save to the run-cache. */
  noRunCache?: boolean;
  /** Only plan: return why each stage would run, run nothing. */
  dry?: boolean;
  /** Ctrl-C: running commands are killed and nothing is recorded for them. */
  signal?: AbortSignal;
  /** Live output of the commands; lines are prefixed `[stage] ` when jobs > 1. Default: discarded. */
  output?: OutputSinks;
  /** Id given to the commands as MTRACK_REPRO_ID (default: a random one per call). */
  reproId?: string;
  /** Base environment of the commands (MTRACK_STAGE and MTRACK_REPRO_ID are added). */
  env: NodeJS.ProcessEnv;
  /**
   * More variables for one stage's commands, asked for only when the stage really runs a command (not
   * for skipped, restored or dry stages): zero-config MLflow capture starts its server here.
   */
  stageEnv?: (stage: string, reproId: string) => Promise<Record<string, string>>;
  spawn?: SpawnFn;
  /** Clock for durations, in ms. */
  now?: () => number;
  /** Told when a stage starts running its command (before any output) and when each stage ends. */
  onEvent?: (event: StageEvent) => void;
}

/** Progress of a repro, for live display: `start` precedes the command's output, `end` follows it. */
export type StageEvent =
  | { type: "start"; stage: string; reasons: string[] }
  | { type: "end"; result: StageResult };

/** What happened to one stage. `not-run`: blocked by a failure or an interruption. */
export type StageStatus = "ran" | "restored" | "skipped" | "failed" | "interrupted" | "not-run";

/** One stage's result. */
export interface StageResult {
  name: string;
  status: StageStatus;
  reasons: string[];
  durationMs: number;
  /** Exit code of the failing command. */
  exitCode?: number;
  /** Error code when the stage failed for another reason (missing dep, I/O...). */
  errorCode?: string;
}

/** The result of a repro. `plan` is set (and nothing ran) in dry mode. */
export interface ReproResult {
  stages: StageResult[];
  /** The lock after the run (also written through `io.writeLock` as stages completed). */
  lock: LockFile;
  plan?: Plan;
}

/** Hashes and params that the given stages read or write, fetched once, as a {@link CurrentState}. */
async function snapshot(stages: readonly Stage[], io: StageIO): Promise<CurrentState> {
  const paths = new Set(stages.flatMap((s) => [...s.deps.map((d) => d.path), ...s.outs.map((o) => o.path)]));
  const hashes = new Map(await Promise.all([...paths].map(async (p) => [p, await io.hashPath(p)] as const)));
  const files = new Set(stages.flatMap((s) => s.params.map((p) => p.file)));
  const params = new Map(
    await Promise.all([...files].map(async (f) => [f, await io.readParams(f)] as const)),
  );
  return {
    hashOf: (p) => hashes.get(p) ?? null,
    readParams: (f) => params.get(f) ?? null,
  };
}

/** Buffers partial lines so parallel stages' output interleaves by whole lines, each tagged. */
function lineSink(write: (text: string) => void, prefix: string): { push(chunk: string): void; end(): void } {
  if (!prefix) return { push: write, end() {} };
  let pending = "";
  return {
    push(chunk) {
      pending += chunk;
      const cut = pending.lastIndexOf("\n");
      if (cut < 0) return;
      const lines = pending.slice(0, cut).split("\n");
      pending = pending.slice(cut + 1);
      write(lines.map((l) => `${prefix}${l}\n`).join(""));
    },
    end() {
      if (pending) write(`${prefix}${pending}\n`);
      pending = "";
    },
  };
}

/**
 * Reproduces the selected stages. Throws ERR_MTRACK_STAGE_FAILED (exitCode = the command's) when a stage
 * fails and ERR_MTRACK_INTERRUPTED when aborted (exitCode 130, or 143 when the abort's reason is "SIGTERM"); both carry the partial
 * {@link ReproResult} in `data.result`. Completed stages keep their lock entries either way.
 *
 * @example
 * const result = await reproduce({ dag, lock, io, dir, env: process.env, jobs: 2, signal });
 * result.stages.map((s) => `${s.name}: ${s.status}`) // → ["prepare: skipped", "train: ran"]
 */
export async function reproduce(options: ReproOptions): Promise<ReproResult> {
  const { dag, io, dir, jobs = 1, keepGoing = false, noRunCache = false, signal, env } = options;
  const { spawn = spawnShell, now = () => performance.now(), force = false } = options;
  const output = options.output ?? { stdout() {}, stderr() {} };
  const lock: LockFile = structuredClone(options.lock);
  const selected = selectStages(dag, options);

  if (options.dry) {
    return { stages: [], lock, plan: planRepro(dag, lock, await snapshot(selected, io), options) };
  }

  // Names this invocation for the runs its stages log (MTRACK_REPRO_ID → tag mtrack.repro_id).
  const reproId = options.reproId ?? randomUUID().replaceAll("-", "");
  const results = new Map<string, StageResult>();
  const running = new Map<string, SpawnedCommand>();
  const interrupted = () => signal?.aborted === true;
  const onAbort = () => {
    for (const cmd of running.values()) cmd.kill();
  };
  signal?.addEventListener("abort", onAbort);
  let lockWrites = Promise.resolve();
  const recordLock = (name: string, entry: LockEntry) => {
    lock.stages[name] = entry;
    // Pipeline order, and only stages that still exist: a removed stage's entry would be stale forever.
    const ordered: LockFile = { version: lock.version, stages: {} };
    for (const s of dag.pipeline.stages) {
      const e = lock.stages[s.name];
      if (e) ordered.stages[s.name] = structuredClone(e);
    }
    // Parallel stages finish in any order; chaining keeps the writes in completion order.
    lockWrites = lockWrites.then(() => io.writeLock(ordered));
    return lockWrites;
  };
  const errors = new Map<string, MtrackError>();
  let failedStage: string | undefined;

  const execute = async (stage: Stage): Promise<StageResult> => {
    const started = now();
    const result = (
      status: StageStatus,
      reasons: string[],
      extra: Partial<StageResult> = {},
    ): StageResult => ({
      name: stage.name,
      status,
      reasons,
      durationMs: now() - started,
      ...extra,
    });
    const current = await snapshot([stage], io);
    const check = isStageStale(stage, lock.stages[stage.name], current, { force });
    if (!check.stale) return result("skipped", check.reasons.length > 0 ? check.reasons : ["up to date"]);

    const deps: FileEntry[] = [];
    for (const dep of stage.deps) {
      const state = current.hashOf(dep.path);
      if (!state) {
        throw new MtrackError(
          "ERR_MTRACK_PIPELINE_MISSING_DEP",
          `Stage '${stage.name}': dependency '${dep.path}' does not exist.`,
          {
            hint: `Create ${dep.path} or run the stage that produces it.`,
            data: {
              stage: stage.name,
              path: dep.path,
              file: dep.pos.file,
              line: dep.pos.line,
              column: dep.pos.column,
            },
          },
        );
      }
      deps.push({ path: dep.path, ...state });
    }
    const params = currentParams(stage, (f) => current.readParams(f));
    if (params.missing.length > 0) {
      throw new MtrackError(
        "ERR_MTRACK_PARAM_MISSING",
        `Stage '${stage.name}': missing params ${params.missing.join(", ")}.`,
        {
          hint: "Add the keys to the params file or remove them from the stage.",
          data: { stage: stage.name, keys: params.missing },
        },
      );
    }
    const entryWith = (outs: FileEntry[], runs: string[] = []): LockEntry => ({
      cmd: stage.cmd,
      deps,
      params: params.values,
      outs,
      ...(runs.length > 0 ? { runs } : {}),
    });
    const cache = !noRunCache && isRunCacheable(stage) ? io.runCache : undefined;
    const key = cache ? runCacheKey(stage, deps, params.values) : undefined;
    // --force means "really run the command" (as in DVC); the result still goes into the run-cache.
    if (cache && key && !force) {
      const outs = await cache.get(key, stage);
      if (outs) {
        await io.restoreOutputs(stage, outs);
        await recordLock(stage.name, entryWith(outs));
        return result("restored", [...check.reasons, "restored from run-cache"]);
      }
    }

    await io.removeOutputs(
      stage,
      stage.outs.filter((o) => !o.persist),
    );
    options.onEvent?.({ type: "start", stage: stage.name, reasons: check.reasons });
    const prefix = jobs > 1 ? `[${stage.name}] ` : "";
    const commands = Array.isArray(stage.cmd) ? stage.cmd : [stage.cmd];
    const extraEnv = (await options.stageEnv?.(stage.name, reproId)) ?? {};
    for (const cmd of commands) {
      if (interrupted()) return result("interrupted", check.reasons);
      const out = lineSink((t) => output.stdout(t), prefix);
      const err = lineSink((t) => output.stderr(t), prefix);
      const child = spawn(cmd, {
        cwd: path.join(dir, stage.wdir),
        env: { ...env, ...extraEnv, MTRACK_STAGE: stage.name, MTRACK_REPRO_ID: reproId },
        onStdout: (c) => out.push(c),
        onStderr: (c) => err.push(c),
      });
      running.set(stage.name, child);
      const { exitCode, signal: killedBy } = await child.done;
      running.delete(stage.name);
      out.end();
      err.end();
      if (interrupted()) return result("interrupted", check.reasons);
      if (exitCode !== 0) {
        const code = exitCode ?? 128 + signalNumber(killedBy);
        return result("failed", check.reasons, { exitCode: code });
      }
    }
    const outs = await io.saveOutputs(stage);
    await recordLock(stage.name, entryWith(outs, (await io.runsOf?.(stage, reproId)) ?? []));
    if (cache && key) await cache.put(key, stage, outs);
    return result("ran", check.reasons);
  };

  const scheduler = new StageScheduler(dag, selected, jobs);
  const active = new Map<string, Promise<void>>();
  const notRun = (stages: Stage[], reason: string) => {
    for (const s of stages)
      results.set(s.name, { name: s.name, status: "not-run", reasons: [reason], durationMs: 0 });
  };
  try {
    while (!scheduler.idle) {
      if (!interrupted()) {
        for (const stage of scheduler.take()) {
          const task = execute(stage)
            .catch((e: unknown): StageResult => {
              const error =
                e instanceof MtrackError ? e : new MtrackError("ERR_MTRACK_IO", String(e), { cause: e });
              errors.set(stage.name, error);
              return {
                name: stage.name,
                status: "failed",
                reasons: [error.message],
                durationMs: 0,
                errorCode: error.code,
              };
            })
            .then((r) => {
              results.set(stage.name, r);
              options.onEvent?.({ type: "end", result: r });
              active.delete(stage.name);
              const ok = r.status !== "failed" && r.status !== "interrupted";
              const dropped = scheduler.finish(stage.name, ok);
              if (r.status === "failed") {
                failedStage ??= stage.name;
                notRun(dropped, `upstream stage ${stage.name} failed`);
                if (!keepGoing) notRun(scheduler.cancelPending(), `run stopped after ${stage.name} failed`);
              }
            });
          active.set(stage.name, task);
        }
      } else {
        notRun(scheduler.cancelPending(), "interrupted");
      }
      if (active.size === 0) break;
      await Promise.race(active.values());
    }
    await lockWrites;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }

  const stages = selected.map(
    (s) =>
      results.get(s.name) ?? {
        name: s.name,
        status: "not-run" as const,
        reasons: ["interrupted"],
        durationMs: 0,
      },
  );
  const result: ReproResult = { stages, lock };
  if (interrupted()) {
    throw new MtrackError(
      "ERR_MTRACK_INTERRUPTED",
      "Interrupted: running stages were stopped and not recorded.",
      {
        hint: "Run `mtrack repro` again; completed stages are kept and will be skipped.",
        data: { result, stages: stages.filter((s) => s.status === "interrupted").map((s) => s.name) },
        // Aborted by SIGTERM (the abort's reason): 128 + 15, as shells report it; Ctrl-C and others 130.
        exitCode: signal?.reason === "SIGTERM" ? 143 : 130,
      },
    );
  }
  if (failedStage) {
    const failed = results.get(failedStage)!;
    const error = errors.get(failedStage);
    if (error) {
      // Not a command failure (missing dep, unproduced output, I/O): its own code says more.
      Object.assign(error.data, { result, stage: failedStage });
      throw error;
    }
    throw new MtrackError(
      "ERR_MTRACK_STAGE_FAILED",
      `Stage '${failedStage}' failed with exit code ${failed.exitCode}.`,
      {
        hint: "Fix the command (its output is above) and run `mtrack repro` again; completed stages are kept.",
        data: {
          stage: failedStage,
          exitCode: failed.exitCode,
          failed: stages.filter((s) => s.status === "failed").map((s) => s.name),
          result,
        },
        exitCode: failed.exitCode && failed.exitCode > 0 ? failed.exitCode : 1,
      },
    );
  }
  return result;
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };

function signalNumber(signal: NodeJS.Signals | null): number {
  return (signal && SIGNALS[signal]) || 1;
}
