/**
 * Sweeps (the seed's grid search, as `mtrack exp run --set lr=0.001,0.003 --set hidden_dim=64,128`): every
 * combination of the given values runs the two stage programs on params.yaml with its overrides, as a
 * tracked run tagged with the sweep's id, outside the pipeline (nothing is committed or locked). Planning
 * (parsing, grid, arguments, ordering) is pure; {@link runSweep} only schedules injected trial runners.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { MtrackError } from "../errors.js";
import { packageRoot } from "../util/package-root.js";
import { EXPERIMENT_KEYS } from "./config.js";

/** A params value as params.yaml holds it. */
export type ParamValue = string | number | boolean | number[];

/** One axis of the grid: a params key and the values to try, in order. */
export interface SweepAxis {
  key: string;
  values: ParamValue[];
}

/** Dataset flags of generate_data, kept under `data:` in params.yaml (`--set data.rotations=2,3`). */
export const DATA_KEYS = [
  "noise",
  "rotations",
  "moon_noise",
  "moon_sep",
  "cluster_count",
  "cluster_std",
  "cluster_sep",
  "sphere_count",
  "sphere_radii",
  "sphere_noise",
] as const;

/** Tag every run of one sweep carries (value: the sweep id). */
export const SWEEP_TAG = "sweep";
/** Tag naming the trial inside its sweep (`run_001_1a2b3c4d`). */
export const TRIAL_TAG = "sweep.trial";

function badSet(text: string, problem: string, hint: string): MtrackError {
  return new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", `--set ${text}: ${problem}`, {
    data: { flag: "--set", value: text },
    hint,
  });
}

/** A scalar as YAML reads it (`0.001` → number, `true` → boolean, `spirals` → string). */
function scalar(text: string): ParamValue {
  const v: unknown = parseYaml(text);
  return typeof v === "number" || typeof v === "boolean" || typeof v === "string" ? v : text;
}

/**
 * Parses one `--set key=v1,v2,...` into an axis. Keys are the 18 run keys or `data.<flag>`; values are
 * YAML scalars; `data.sphere_radii` takes lists separated by `;` items of space-separated numbers.
 *
 * @example
 * parseSetFlag("lr=0.001,0.003") // { key: "lr", values: [0.001, 0.003] }
 */
export function parseSetFlag(text: string): SweepAxis {
  const eq = text.indexOf("=");
  const key = eq < 0 ? "" : text.slice(0, eq).trim().replace(/^-+/, "");
  const rest = eq < 0 ? "" : text.slice(eq + 1);
  const known = [...EXPERIMENT_KEYS, ...DATA_KEYS.map((k) => `data.${k}`)] as string[];
  if (!key || rest.trim() === "") {
    throw badSet(text, "expected key=value[,value...]", "Use e.g. --set lr=0.001,0.003.");
  }
  if (!known.includes(key)) {
    throw badSet(text, `unknown params key '${key}'`, `Use one of: ${known.join(", ")}.`);
  }
  if (key === "data.sphere_radii") {
    const values = rest.split(";").map((item) => item.trim().split(/\s+/).map(Number));
    if (values.some((v) => v.length === 0 || v.some((n) => !Number.isFinite(n)))) {
      throw badSet(text, "radii must be numbers", "Use e.g. --set 'data.sphere_radii=1 2;1 3'.");
    }
    return { key, values };
  }
  const values = rest.split(",").map((s) => s.trim());
  if (values.some((s) => s === "")) throw badSet(text, "empty value", "Separate values with single commas.");
  return { key, values: values.map(scalar) };
}

/**
 * The Cartesian product of the axes, in axis order (the last axis varies fastest); no axes → one empty
 * combination. A key given twice is refused.
 *
 * @example
 * expandGrid([{ key: "lr", values: [1, 2] }, { key: "hidden_dim", values: [8] }]) // [{lr:1,hidden_dim:8},{lr:2,hidden_dim:8}]
 */
export function expandGrid(axes: readonly SweepAxis[]): Record<string, ParamValue>[] {
  const seen = new Set<string>();
  for (const a of axes) {
    if (seen.has(a.key)) {
      throw badSet(`${a.key}=...`, "the key is given twice", "Give each key once, with all its values.");
    }
    seen.add(a.key);
  }
  let combos: Record<string, ParamValue>[] = [{}];
  for (const axis of axes) combos = combos.flatMap((c) => axis.values.map((v) => ({ ...c, [axis.key]: v })));
  return combos;
}

/**
 * The seed's trial name: `run_{i:03d}_{md5 of "k=v_k=v" over sorted keys, 8 hex}` (1-based index).
 *
 * @example
 * trialName(1, { lr: 0.001 }) // "run_001_" + 8 hex digits
 */
export function trialName(index: number, overrides: Record<string, ParamValue>): string {
  const text = Object.keys(overrides)
    .sort()
    .map((k) => `${k}=${String(overrides[k])}`)
    .join("_");
  return `run_${String(index).padStart(3, "0")}_${createHash("md5").update(text).digest("hex").slice(0, 8)}`;
}

/** The params of a trial: params.yaml with the overrides applied (`data.x` lands under `data`). */
export function applyOverrides(
  base: Record<string, unknown>,
  overrides: Record<string, ParamValue>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  const data: Record<string, unknown> = { ...((base["data"] as Record<string, unknown> | undefined) ?? {}) };
  for (const [k, v] of Object.entries(overrides)) {
    if (k.startsWith("data.")) data[k.slice(5)] = v;
    else out[k] = v;
  }
  out["data"] = data;
  return out;
}

function flag(name: string, value: unknown): string[] {
  if (Array.isArray(value)) return [`--${name}`, ...value.map(String)];
  return [`--${name}`, String(value)];
}

/** Where a trial writes (all under the sweep's folder, never the pipeline's outputs). */
export interface TrialPaths {
  data: string;
  results: string;
  runs: string;
}

/**
 * The argv of the two stage programs for one trial's params, as pipeline.yaml builds them.
 *
 * @example
 * trialArgv(params, { data: "s/d.npz", results: "s/results", runs: "s/runs" }, { sweep: "x", trial: "run_001_…" })
 */
export function trialArgv(
  params: Record<string, unknown>,
  paths: TrialPaths,
  tags: { sweep: string; trial: string },
): { generate: string[]; train: string[] } {
  const generate = [
    ...["problem_type", "n_samples", "input_dim", "seed"].flatMap((k) =>
      params[k] === undefined ? [] : flag(k, params[k]),
    ),
    ...Object.entries((params["data"] as Record<string, unknown> | undefined) ?? {}).flatMap(([k, v]) =>
      (DATA_KEYS as readonly string[]).includes(k) ? flag(k, v) : [],
    ),
    "--output",
    paths.data,
  ];
  const train = [
    ...EXPERIMENT_KEYS.flatMap((k) => (params[k] === undefined ? [] : flag(k, params[k]))),
    ...flag("data", paths.data),
    ...flag("results_dir", paths.results),
    ...flag("runs_dir", paths.runs),
    ...flag("sweep_id", tags.sweep),
    ...flag("sweep_trial", tags.trial),
  ];
  return { generate, train };
}

/** One planned trial. */
export interface SweepTrial {
  index: number;
  name: string;
  overrides: Record<string, ParamValue>;
}

/** What a trial left: its exit code, its metrics.json (when written) and its run (when tracked). */
export interface TrialOutcome {
  trial: SweepTrial;
  exitCode: number;
  metrics: Record<string, number | boolean> | undefined;
  runId: string | undefined;
}

/**
 * Plans the trials of a grid.
 *
 * @example
 * planSweep([parseSetFlag("lr=0.001,0.003")]).map((t) => t.name) // ["run_001_…", "run_002_…"]
 */
export function planSweep(axes: readonly SweepAxis[]): SweepTrial[] {
  return expandGrid(axes).map((overrides, i) => ({
    index: i + 1,
    name: trialName(i + 1, overrides),
    overrides,
  }));
}

/** A parsed `--sort`: `metrics.best_acc` (descending by default) or `params.lr asc`. */
export interface SortSpec {
  source: "metrics" | "params";
  key: string;
  descending: boolean;
}

/**
 * Parses `--sort metrics.best_acc [asc|desc]`; metrics sort descending and params ascending by default.
 *
 * @example
 * parseSort("metrics.best_acc") // { source: "metrics", key: "best_acc", descending: true }
 */
export function parseSort(text: string): SortSpec {
  const [field = "", dir, ...extra] = text.trim().split(/\s+/);
  const m = /^(metrics|params)\.(.+)$/.exec(field);
  const d = dir?.toLowerCase();
  if (!m || extra.length > 0 || (d !== undefined && d !== "asc" && d !== "desc")) {
    throw new MtrackError(
      "ERR_MTRACK_INVALID_ARGUMENT",
      `--sort ${text}: expected metrics.<key> or params.<key> [asc|desc]`,
      {
        data: { flag: "--sort", value: text },
        hint: "Use e.g. --sort metrics.best_acc or --sort 'params.lr asc'.",
      },
    );
  }
  const source = m[1] as "metrics" | "params";
  return { source, key: m[2]!, descending: d === undefined ? source === "metrics" : d === "desc" };
}

/**
 * Orders outcomes by the sort spec; trials without the value go last, ties keep trial order.
 *
 * @example
 * sortOutcomes(outcomes, parseSort("metrics.best_acc"))[0] // the best trial
 */
export function sortOutcomes(outcomes: readonly TrialOutcome[], sort: SortSpec): TrialOutcome[] {
  const sortValue = (o: TrialOutcome): number | string | undefined => {
    const v = sort.source === "metrics" ? o.metrics?.[sort.key] : o.trial.overrides[sort.key];
    if (typeof v === "boolean") return v ? 1 : 0;
    if (typeof v === "number" || typeof v === "string") return v;
    return undefined;
  };
  return [...outcomes].sort((a, b) => {
    const va = sortValue(a);
    const vb = sortValue(b);
    if (va === undefined || vb === undefined) {
      return va === vb ? a.trial.index - b.trial.index : va === undefined ? 1 : -1;
    }
    const c = va < vb ? -1 : va > vb ? 1 : 0;
    return (sort.descending ? -c : c) || a.trial.index - b.trial.index;
  });
}

/** Options of {@link runSweep}. */
export interface RunSweepOptions {
  trials: readonly SweepTrial[];
  /** Trials at the same time (≥ 1). */
  jobs: number;
  runTrial: (trial: SweepTrial) => Promise<TrialOutcome>;
  /** Stops starting new trials (running ones are the runner's business). */
  signal?: AbortSignal;
  onDone?: (outcome: TrialOutcome) => void;
}

/**
 * Runs the trials, at most `jobs` at a time; returns the outcomes in trial order. A failing trial does
 * not stop the others (its exit code is in its outcome).
 *
 * @example
 * const outcomes = await runSweep({ trials: planSweep(axes), jobs: 2, runTrial });
 */
export async function runSweep(options: RunSweepOptions): Promise<TrialOutcome[]> {
  const { trials, runTrial, signal } = options;
  const jobs = Math.max(1, Math.floor(options.jobs));
  const outcomes: TrialOutcome[] = [];
  let next = 0;
  const worker = async () => {
    while (next < trials.length && !signal?.aborted) {
      const trial = trials[next++]!;
      const outcome = await runTrial(trial);
      outcomes.push(outcome);
      options.onDone?.(outcome);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, trials.length) }, worker));
  return outcomes.sort((a, b) => a.trial.index - b.trial.index);
}

// ---------------------------------------------------------------------------------------------------
// Running trials as child processes (the effectful side).

/** Options of {@link stageTrialRunner}. */
export interface StageTrialRunnerOptions {
  /** The repository root: the programs run there, so tracking finds the repository. */
  root: string;
  /** params.yaml as parsed. */
  baseParams: Record<string, unknown>;
  sweepId: string;
  /** `results/sweeps/<sweepId>` (absolute). */
  sweepDir: string;
  /** Finds the run a trial logged (by its tags); undefined when it was not tracked. */
  findRun: (sweepId: string, trialName: string) => string | undefined;
  env?: NodeJS.ProcessEnv;
}

/** The stage programs of the package: built `.js`, or the `.ts` sources through tsx (tests). */
function programArgv(name: "generate-data" | "train"): string[] {
  const root = packageRoot() ?? fileURLToPath(new URL("../..", import.meta.url));
  const js = path.join(root, "dist", "src", "engine", "cli", `${name}.js`);
  if (fs.existsSync(js)) return [js];
  return ["--import", "tsx", path.join(root, "src", "engine", "cli", `${name}.ts`)];
}

function runProgram(argv: string[], cwd: string, logFd: number, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { cwd, env, stdio: ["ignore", logFd, logFd] });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve(code ?? (signal === "SIGINT" ? 130 : 1)));
  });
}

/**
 * A trial runner that generates the trial's data and trains on it with the stage programs, writing
 * everything under `<sweepDir>/<trial>/` (program output in `output.log`).
 *
 * @example
 * const runTrial = stageTrialRunner({ root, baseParams, sweepId, sweepDir, findRun });
 * await runSweep({ trials, jobs: 2, runTrial });
 */
export function stageTrialRunner(
  options: StageTrialRunnerOptions,
): (trial: SweepTrial) => Promise<TrialOutcome> {
  const { root, baseParams, sweepId, sweepDir } = options;
  const env = options.env ?? process.env;
  return async (trial) => {
    const dir = path.join(sweepDir, trial.name);
    fs.mkdirSync(dir, { recursive: true });
    const params = applyOverrides(baseParams, trial.overrides);
    const paths: TrialPaths = {
      data: path.join(dir, "data", `${String(params["problem_type"])}.npz`),
      results: path.join(dir, "results"),
      runs: path.join(dir, "runs"),
    };
    const argv = trialArgv(params, paths, { sweep: sweepId, trial: trial.name });
    const logFd = fs.openSync(path.join(dir, "output.log"), "a");
    let exitCode: number;
    try {
      exitCode = await runProgram([...programArgv("generate-data"), ...argv.generate], root, logFd, env);
      if (exitCode === 0)
        exitCode = await runProgram([...programArgv("train"), ...argv.train], root, logFd, env);
    } finally {
      fs.closeSync(logFd);
    }
    let metrics: TrialOutcome["metrics"];
    try {
      metrics = JSON.parse(fs.readFileSync(path.join(paths.results, "metrics.json"), "utf8"));
    } catch {
      metrics = undefined;
    }
    return {
      trial,
      exitCode,
      metrics: exitCode === 0 ? metrics : undefined,
      runId: options.findRun(sweepId, trial.name),
    };
  };
}

/**
 * A sweep id from the start time, like the seed's `results/sweeps/YYYYMMDD_HHMMSS` (UTC).
 *
 * @example
 * sweepId(Date.UTC(2026, 10, 27, 9, 30, 5)) // "20261127_093005"
 */
export function sweepId(nowMs: number): string {
  const iso = new Date(nowMs).toISOString(); // 2026-11-27T09:30:05.000Z
  return `${iso.slice(0, 10).replaceAll("-", "")}_${iso.slice(11, 19).replaceAll(":", "")}`;
}
