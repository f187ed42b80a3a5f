/**
 * Tracking inside an mtrack repository: where runs live (`.mtrack/runs`), which store they seal into, how
 * they read git, what `mtrack gc` must keep for them, and the one-call `startRun` that training code uses.
 *
 * This is the edge of the tracking library: it alone reads the environment (`MTRACK_REPO`, `MTRACK_STAGE`,
 * ...) and only through an `env` option that defaults to `process.env`.
 */

import fs from "node:fs";
import path from "node:path";
import { MtrackError } from "../errors.js";
import { Repo } from "../repo.js";
import type { ObjectStore } from "../store/types.js";
import { packageVersion } from "../util/package-root.js";
import type { GcRoot, RootSource } from "../workspace/gc.js";
import { type Run, type StartRunOptions, startRun as startRunIn } from "./api.js";
import { type LiveRun, openLiveRun } from "./external.js";
import { runsReferencedObjects } from "./read.js";
import type { GitInfo, GitInfoProvider } from "./types.js";

/** Tag naming the pipeline stage a run was started by (from MTRACK_STAGE, set by `mtrack repro`). */
export const STAGE_TAG = "mtrack.stage";
/** Tag naming the `mtrack repro` invocation a run belongs to (from MTRACK_REPRO_ID). */
export const REPRO_ID_TAG = "mtrack.repro_id";
/** Tag naming the run of the enclosing `mtrack run` (from MTRACK_RUN_ID), like MLflow's parent run. */
export const PARENT_RUN_TAG = "mtrack.parent_run_id";
/** The `mtrack exp run` experiment a run was logged in (from MTRACK_EXP). */
export const EXP_TAG = "mtrack.exp";

/** The variables `mtrack run` exports to its child (and that the library reads back). */
export const ENV = {
  runId: "MTRACK_RUN_ID",
  runsDir: "MTRACK_RUNS_DIR",
  repo: "MTRACK_REPO",
  stage: "MTRACK_STAGE",
  reproId: "MTRACK_REPRO_ID",
  /** The name of the `mtrack exp run` experiment the stage runs in. */
  exp: "MTRACK_EXP",
} as const;

/** An environment as a plain record (process.env's shape). */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Tags a run gets from its environment: the pipeline stage and repro id under `mtrack repro`, and the
 * enclosing `mtrack run`'s id. Pure.
 *
 * @example
 * runEnvTags({ MTRACK_STAGE: "train", MTRACK_REPRO_ID: "r1" }); // { "mtrack.stage": "train", "mtrack.repro_id": "r1" }
 */
export function runEnvTags(env: Env): Record<string, string> {
  const tags: Record<string, string> = {};
  const stage = env[ENV.stage];
  const reproId = env[ENV.reproId];
  const parent = env[ENV.runId];
  if (stage) tags[STAGE_TAG] = stage;
  if (stage && reproId) tags[REPRO_ID_TAG] = reproId;
  if (parent) tags[PARENT_RUN_TAG] = parent;
  const exp = env[ENV.exp];
  if (exp) tags[EXP_TAG] = exp;
  return tags;
}

/**
 * Reads commit, branch and dirty flag through the repo's git seam. A run must not fail to start because
 * git could not be read (a corrupt index, an exotic setup): it then records "unknown" (null, not dirty).
 *
 * @example
 * const git = await gitInfoFor(repo)(); // { commit: "a1b2…", branch: "main", dirty: false }
 */
export function gitInfoFor(repo: Repo): GitInfoProvider {
  return async (): Promise<GitInfo> => {
    const git = repo.git();
    try {
      const commit = await git.headCommit();
      const branch = await git.currentBranch();
      const dirty = await git.isDirty();
      return { commit, branch, dirty };
    } catch {
      return { commit: null, branch: null, dirty: false };
    }
  };
}

/** What tracking needs from a repository. */
export interface Tracking {
  /** The tracking dir, `<repo>/.mtrack/runs`. */
  dir: string;
  store: ObjectStore;
  gitInfo: GitInfoProvider;
}

/**
 * The tracking context of a repository, for the reading and writing functions of this module.
 *
 * @example
 * const { dir, store } = openTracking(Repo.open({ cwd: "/home/me/project" }));
 * listRuns(dir, store, { experiment: "mnist" });
 */
export function openTracking(repo: Repo): Tracking {
  return { dir: repo.paths.runsDir, store: repo.store, gitInfo: gitInfoFor(repo) };
}

/**
 * The gc root source for runs: every object a run references (records, series, artifacts, models, and
 * the files of directory artifacts), deleted runs and running ones included.
 *
 * @example
 * await gcStore(repo, [workspaceRoots(repo), gitHistoryRoots(repo), runRoots(repo)]);
 */
export function runRoots(repo: Repo): RootSource {
  return {
    name: "runs",
    async collect(): Promise<Iterable<GcRoot>> {
      const keep = runsReferencedObjects(repo.paths.runsDir, repo.store);
      return [...keep].map((hash) => ({ hash }));
    },
  };
}

/** The version of the installed mtrack package, recorded with each run; "unknown" if it cannot be found. */
export function mtrackVersion(): string {
  return packageVersion() || "unknown";
}

/** Options of the repository-level `startRun`. */
export interface RepoStartRunOptions extends Omit<StartRunOptions, "dir" | "store" | "gitInfo"> {
  /** A directory inside the repository. Default: `env.MTRACK_REPO` (set by `mtrack run`), else the current directory. */
  cwd?: string;
  /** An already open repository (then `cwd` is not used). */
  repo?: Repo;
  /** Where MTRACK_REPO / MTRACK_STAGE / MTRACK_REPRO_ID / MTRACK_RUN_ID are read from. Default process.env. */
  env?: Env;
}

/**
 * Starts a run in the mtrack repository around `cwd` — the package's main entry point for training code.
 * Records git commit/branch/dirty, the command line, host and mtrack version; under `mtrack repro` it tags
 * the run with the stage and repro id; under `mtrack run` with the parent run's id. By default the run
 * ends FAILED on an uncaught error, KILLED on SIGINT/SIGTERM, and FINISHED when the process exits.
 *
 * @example
 * import { startRun } from "mtrack";
 *
 * const run = await startRun({ experiment: "mnist", params: { lr: 0.01, epochs: 5 } });
 * for (let epoch = 0; epoch < 5; epoch++) {
 *   run.logMetrics({ loss: 1 / (epoch + 1), val_acc: 0.8 + epoch / 50 }, { step: epoch });
 * }
 * await run.logModel("out/model", { flavor: "tfjs-layers" });
 * await run.end(); // FINISHED, sealed into .mtrack/cache
 */
export async function startRun(options: RepoStartRunOptions = {}): Promise<Run> {
  const { cwd, repo: given, env = process.env, ...rest } = options;
  let repo = given;
  // As git does, the repository is found from the current directory when nothing names it.
  if (repo === undefined) repo = Repo.open({ cwd: cwd ?? (env[ENV.repo] || process.cwd()) });
  const tracking = openTracking(repo);
  return startRunIn({
    mtrackVersion: mtrackVersion(),
    ...rest,
    tags: { ...runEnvTags(env), ...rest.tags },
    dir: tracking.dir,
    store: tracking.store,
    gitInfo: tracking.gitInfo,
  });
}

/** Options of `openLiveRunFor`. */
export interface LiveRunTarget {
  /** A run id or unique prefix; default `env.MTRACK_RUN_ID`. */
  run?: string;
  /** Where to look for the repository when `env.MTRACK_REPO` is not set. */
  cwd: string;
  /** Default process.env. */
  env?: Env;
}

/**
 * Opens the run a `mtrack log ...` call is meant for: `--run`, else the run of the enclosing
 * `mtrack run` (MTRACK_RUN_ID, in the repository MTRACK_REPO, so a stage may `cd` anywhere).
 *
 * @example
 * openLiveRunFor({ cwd: process.cwd() }).logMetric("loss", 0.5, { step: 1 });
 */
export function openLiveRunFor(target: LiveRunTarget): LiveRun {
  const env = target.env ?? process.env;
  const runId = target.run ?? env[ENV.runId];
  if (runId === undefined || runId === "") {
    throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", "No run to log to.", {
      hint: "Run the command under `mtrack run -- ...` (which sets MTRACK_RUN_ID), or pass --run <id>.",
      data: { option: "run" },
    });
  }
  const { dir, store } = openTracking(Repo.open({ cwd: env[ENV.repo] || target.cwd }));
  return openLiveRun(dir, store, runId);
}

/**
 * When runs are still being written (unsealed logs under `active/`), the time the oldest of them began,
 * minus a minute of slack; undefined when none are. gc keeps objects written after it: a live run's
 * artifacts are in the store before anything names them.
 */
export function activeRunsSince(repo: Repo): number | undefined {
  const dir = path.join(repo.paths.runsDir, "active");
  let oldest: number | undefined;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return undefined;
  }
  for (const n of names) {
    if (!n.endsWith(".log")) continue;
    try {
      const st = fs.statSync(path.join(dir, n));
      const born = st.birthtimeMs > 0 ? st.birthtimeMs : st.ctimeMs;
      oldest = oldest === undefined ? born : Math.min(oldest, born);
    } catch {
      // sealed meanwhile
    }
  }
  return oldest === undefined ? undefined : oldest - 60_000;
}
