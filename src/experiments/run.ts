/**
 * `mtrack exp run` for any pipeline: each grid point of the `-S` overrides is one experiment. A single
 * experiment runs `mtrack repro` in the workspace and leaves its results there; a sweep runs each trial in
 * its own temporary git worktree whose `.mtrack` shares the store, runs and run-cache with the workspace,
 * so a stage whose inputs were already seen is restored, not rerun. Every trial is committed on
 * `refs/exps/<baseline>/<name>`, failed ones too (state: failed).
 */

import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { isMtrackError } from "../errors.js";
import { selectCheckout } from "../pipeline/outputs.js";
import { pipelineStatus } from "../pipeline/status.js";
import { Repo } from "../repo.js";
import { ENV } from "../tracking/context.js";
import { checkoutPaths } from "../workspace/checkout.js";
import { takenNames } from "./queue-store.js";
import { checkNewName, commitWorkTree, expRefName, generateName, git, headBaseline } from "./refs.js";
import { applyOverrides, describeOverrides, type Overrides } from "./set.js";

/** What a trial ended as. */
export interface TrialResult {
  name: string;
  overrides: Overrides;
  exitCode: number;
  commit: string;
  ref: string;
  durationMs: number;
}

export interface ExpRunOptions {
  repo: Repo;
  /** Grid points; one point = a single experiment in the workspace. */
  points: Overrides[];
  targets: string[];
  /** Given name (single experiment) or prefix (sweep: `<name>-1`, ...). */
  name?: string;
  jobs: number;
  message?: string;
  /** How to start the CLI: [node, bin/run.js]. */
  cli: readonly string[];
  onStart?: (name: string, overrides: Overrides) => void;
  onDone?: (result: TrialResult) => void;
  /** Where a trial's output goes. */
  output?: (name: string, chunk: string) => void;
}

/** The shared parts of `.mtrack` a trial worktree links to. */
const SHARED = ["cache", "runs", "runcache", "registry", "tmp"];

function runCli(
  cli: readonly string[],
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  output: (chunk: string) => void,
  onSpawn?: (pid: number) => void,
): Promise<number> {
  return new Promise((resolve) => {
    const [cmd, ...pre] = cli as [string, ...string[]];
    // Its own process group when someone may kill it (`queue kill`): the stages it starts die with it.
    const child = spawn(cmd, [...pre, ...args], {
      cwd,
      env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: onSpawn !== undefined,
    });
    if (child.pid !== undefined) onSpawn?.(child.pid);
    child.stdout.on("data", (d: Buffer) => output(d.toString()));
    child.stderr.on("data", (d: Buffer) => output(d.toString()));
    child.on("error", () => resolve(127));
    child.on("close", (code, signal) => resolve(code ?? (signal ? 128 + (signalNumber(signal) ?? 0) : 1)));
  });
}

function signalNumber(signal: NodeJS.Signals): number | undefined {
  return { SIGTERM: 15, SIGKILL: 9, SIGINT: 2 }[signal as string];
}

function readTexts(root: string, files: Iterable<string>): Record<string, string | undefined> {
  const texts: Record<string, string | undefined> = {};
  for (const f of files) {
    const abs = path.join(root, f);
    texts[f] = fs.existsSync(abs) ? fs.readFileSync(abs, "utf8") : undefined;
  }
  return texts;
}

function writeOverrides(root: string, overrides: Overrides): void {
  const texts = readTexts(root, new Set(overrides.map((o) => o.file)));
  for (const [f, text] of Object.entries(applyOverrides(texts, overrides))) {
    const abs = path.join(root, f);
    const tmp = `${abs}.mtrack-tmp-${process.pid}`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, abs);
  }
}

/**
 * The names of `count` new experiments: `name` (one), `name-1`, `name-2`... (several), or generated;
 * each checked against `taken` (ERR_MTRACK_EXP_EXISTS, ERR_MTRACK_INVALID_NAME).
 *
 * @example
 * planNames(new Set(["a"]), 2, "lr"); // ["lr-1", "lr-2"]
 */
export function planNames(taken: ReadonlySet<string>, count: number, name?: string): string[] {
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const all = new Set([...taken, ...names]);
    const n = name ? (count === 1 ? name : `${name}-${i + 1}`) : generateName(all);
    checkNewName(n, all);
    names.push(n);
  }
  return names;
}

/** Applies every point to the params files at `root` in memory: a typo fails before any trial starts. */
export function validatePoints(root: string, points: readonly Overrides[]): void {
  for (const p of points) applyOverrides(readTexts(root, new Set(p.map((o) => o.file))), p);
}

function trialMessage(name: string, overrides: Overrides, exitCode: number, message?: string): string {
  return `${message ?? `mtrack exp ${name}`}\n\nstate: ${exitCode === 0 ? "success" : "failed"}\nset: ${describeOverrides(overrides)}\n`;
}

const trialEnv = (name: string): NodeJS.ProcessEnv => ({ ...process.env, [ENV.exp]: name });

/** One trial to run in its own worktree. */
export interface WorktreeTrial {
  repo: Repo;
  baseline: string;
  name: string;
  overrides: Overrides;
  targets: readonly string[];
  message?: string;
  cli: readonly string[];
  output?: (chunk: string) => void;
  /** Called with the pid of the `mtrack repro` child, which then runs in its own process group. */
  onSpawn?: (pid: number) => void;
}

/**
 * `mtrack checkout` in a trial's worktree, in this process (a node start less per trial): the data of
 * its pointer files and the cached outputs its pipeline.lock names, from the shared store, so stages the
 * baseline already ran are up to date. What it wrote or could not write goes to the trial's output; a
 * failure is left for `mtrack repro` to report (it runs the stage, or says what is missing).
 */
async function restoreData(dir: string, out: (chunk: string) => void): Promise<void> {
  try {
    const wt = Repo.open({ cwd: dir });
    const selection = selectCheckout(wt, undefined);
    if (selection.paths.length === 0) return;
    const result = await checkoutPaths(wt, selection.paths, { outputs: selection.outputs });
    for (const r of result.paths) {
      if (r.action === "failed") out(`checkout: ${r.path}: ${r.error?.message}\n`);
      else if (r.action !== "unchanged") out(`${r.action}: ${r.path} (${r.written} written)\n`);
    }
  } catch (err) {
    if (!isMtrackError(err)) throw err;
    out(`checkout: ${err.message}\n`);
  }
}

/**
 * The overrides every point sets to the same value (`-S data.n=6` next to `-S lr=0.1,0.2`): the
 * stages reading them change alike in every trial.
 *
 * @example
 * constantOverrides([[{ file: "params.yaml", key: "lr", add: false, value: 1 }], [{ file: "params.yaml", key: "lr", add: false, value: 2 }]]); // []
 */
export function constantOverrides(points: readonly Overrides[]): string[] {
  const values = new Map<string, Set<string>>();
  for (const p of points)
    for (const o of p) {
      const k = `${o.file}:${o.key}`;
      values.set(k, (values.get(k) ?? new Set()).add(JSON.stringify(o.value)));
    }
  return [...values]
    .filter(([k, v]) => v.size === 1 && points.every((p) => p.some((o) => `${o.file}:${o.key}` === k)))
    .map(([k]) => k);
}

/**
 * True when a sweep's first trial should run alone: some stage may have to run alike in every trial (an
 * override every trial sets to the same value, the baseline's pipeline not up to date, or the workspace
 * differing from the baseline commit the trials start from), and running it once first lets the other
 * trials restore it from the run-cache. Otherwise every trial only runs what its own overrides change,
 * and all start at once.
 */
async function sharedWorkPending(repo: Repo, points: readonly Overrides[]): Promise<boolean> {
  if (constantOverrides(points).length > 0) return true;
  try {
    if (git(repo.root, ["status", "--porcelain", "--untracked-files=no"]).trim() !== "") return true;
    const status = await pipelineStatus(repo);
    return status.error !== undefined || status.stale.length > 0;
  } catch (err) {
    if (!isMtrackError(err)) throw err;
    return true;
  }
}

/**
 * Runs one trial in a temporary git worktree of `baseline` under `.mtrack/exps/<name>-<pid>`, whose
 * `.mtrack` links to the workspace's store, runs and run-cache, commits it on its experiment ref
 * (failed ones too) and removes the worktree. The workspace is never touched.
 */
export async function runTrialInWorktree(t: WorktreeTrial): Promise<TrialResult> {
  const { repo, name, overrides } = t;
  const root = repo.root;
  const t0 = Date.now();
  const wtRoot = path.join(repo.paths.mtrackDir, "exps");
  fs.mkdirSync(wtRoot, { recursive: true });
  const dir = path.join(wtRoot, `${name}-${process.pid}`);
  git(root, ["worktree", "add", "--detach", "--quiet", dir, t.baseline]);
  try {
    const m = path.join(dir, ".mtrack");
    fs.mkdirSync(m, { recursive: true });
    for (const s of SHARED) {
      const src = path.join(repo.paths.mtrackDir, s);
      fs.mkdirSync(src, { recursive: true });
      fs.rmSync(path.join(m, s), { recursive: true, force: true });
      fs.symlinkSync(src, path.join(m, s));
    }
    const configLocal = path.join(repo.paths.mtrackDir, "config.local.yaml");
    if (fs.existsSync(configLocal)) fs.copyFileSync(configLocal, path.join(m, "config.local.yaml"));
    const out = (c: string) => t.output?.(c);
    writeOverrides(dir, overrides);
    // Data tracked with `mtrack add` and the baseline's cached outputs come from the shared store.
    await restoreData(dir, out);
    const code = await runCli(t.cli, ["repro", ...t.targets], dir, trialEnv(name), out, t.onSpawn);
    const ref = expRefName(t.baseline, name);
    const message = trialMessage(name, overrides, code, t.message);
    const commit = commitWorkTree({
      cwd: dir,
      baseline: t.baseline,
      ref,
      message,
      tmpDir: repo.paths.tmpDir,
    });
    return { name, overrides, exitCode: code, commit, ref, durationMs: Date.now() - t0 };
  } finally {
    git(root, ["worktree", "remove", "--force", dir]);
  }
}

/**
 * Plans names, validates every override against the baseline's params (before anything runs, so a bad
 * key changes nothing), then runs the trials.
 */
export async function expRun(options: ExpRunOptions): Promise<TrialResult[]> {
  const { repo, points } = options;
  const root = repo.root;
  const baseline = headBaseline(root);
  const names = planNames(takenNames(repo), points.length, options.name);
  validatePoints(root, points);

  if (points.length === 1) {
    const overrides = points[0] ?? [];
    const name = names[0] as string;
    const t0 = Date.now();
    options.onStart?.(name, overrides);
    writeOverrides(root, overrides);
    const code = await runCli(options.cli, ["repro", ...options.targets], root, trialEnv(name), (c) =>
      options.output?.(name, c),
    );
    const ref = expRefName(baseline, name);
    const message = trialMessage(name, overrides, code, options.message);
    const sha = commitWorkTree({ cwd: root, baseline, ref, message, tmpDir: repo.paths.tmpDir });
    const result = { name, overrides, exitCode: code, commit: sha, ref, durationMs: Date.now() - t0 };
    options.onDone?.(result);
    return [result];
  }

  const runTrial = async (i: number): Promise<TrialResult> => {
    const name = names[i] as string;
    const overrides = points[i] ?? [];
    options.onStart?.(name, overrides);
    const result = await runTrialInWorktree({
      repo,
      baseline,
      name,
      overrides,
      targets: options.targets,
      message: options.message,
      cli: options.cli,
      output: (c) => options.output?.(name, c),
    });
    options.onDone?.(result);
    return result;
  };
  const results: TrialResult[] = new Array(points.length);
  // The first trial runs alone when stages every trial shares may have to run (the data stage of an
  // `lr` sweep on a new dataset): it fills the run-cache, which the others then restore instead of
  // running those stages again in parallel.
  let next = 0;
  if (options.jobs > 1 && (await sharedWorkPending(repo, points))) results[next] = await runTrial(next++);
  const worker = async () => {
    while (next < points.length) {
      const i = next++;
      results[i] = await runTrial(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.jobs, points.length - next) }, worker));
  return results;
}
