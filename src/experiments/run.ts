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
import type { Repo } from "../repo.js";
import { ENV } from "../tracking/context.js";
import {
  checkNewName,
  commitWorkTree,
  expRefName,
  generateName,
  git,
  headBaseline,
  listExpRefs,
} from "./refs.js";
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
): Promise<number> {
  return new Promise((resolve) => {
    const [cmd, ...pre] = cli as [string, ...string[]];
    const child = spawn(cmd, [...pre, ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (d: Buffer) => output(d.toString()));
    child.stderr.on("data", (d: Buffer) => output(d.toString()));
    child.on("error", () => resolve(127));
    child.on("close", (code) => resolve(code ?? 1));
  });
}

function writeOverrides(root: string, overrides: Overrides): void {
  const files = [...new Set(overrides.map((o) => o.file))];
  const texts: Record<string, string | undefined> = {};
  for (const f of files) {
    const abs = path.join(root, f);
    texts[f] = fs.existsSync(abs) ? fs.readFileSync(abs, "utf8") : undefined;
  }
  for (const [f, text] of Object.entries(applyOverrides(texts, overrides))) {
    const abs = path.join(root, f);
    const tmp = `${abs}.mtrack-tmp-${process.pid}`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, abs);
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
  const taken = new Set(listExpRefs(root).map((r) => r.name));
  const names: string[] = [];
  for (let i = 0; i < points.length; i++) {
    const name = options.name
      ? points.length === 1
        ? options.name
        : `${options.name}-${i + 1}`
      : generateName(new Set([...taken, ...names]));
    checkNewName(name, new Set([...taken, ...names]));
    names.push(name);
  }
  // Validate every point on the baseline's files (a typo fails before any trial starts).
  for (const p of points) {
    const texts: Record<string, string | undefined> = {};
    for (const f of new Set(p.map((o) => o.file))) {
      const abs = path.join(root, f);
      texts[f] = fs.existsSync(abs) ? fs.readFileSync(abs, "utf8") : undefined;
    }
    applyOverrides(texts, p);
  }
  const tmpDir = repo.paths.tmpDir;
  const env = (name: string): NodeJS.ProcessEnv => ({ ...process.env, [ENV.exp]: name });
  const reproArgs = ["repro", ...options.targets];
  const commit = (cwd: string, name: string, overrides: Overrides, exitCode: number) => {
    const ref = expRefName(baseline, name);
    const message = `${options.message ?? `mtrack exp ${name}`}\n\nstate: ${exitCode === 0 ? "success" : "failed"}\nset: ${describeOverrides(overrides)}\n`;
    return { ref, commit: commitWorkTree({ cwd, baseline, ref, message, tmpDir }) };
  };

  if (points.length === 1) {
    const overrides = points[0] ?? [];
    const name = names[0] as string;
    const t0 = Date.now();
    options.onStart?.(name, overrides);
    writeOverrides(root, overrides);
    const code = await runCli(options.cli, reproArgs, root, env(name), (c) => options.output?.(name, c));
    const { ref, commit: sha } = commit(root, name, overrides, code);
    const result = { name, overrides, exitCode: code, commit: sha, ref, durationMs: Date.now() - t0 };
    options.onDone?.(result);
    return [result];
  }

  const wtRoot = path.join(repo.paths.mtrackDir, "exps");
  fs.mkdirSync(wtRoot, { recursive: true });
  const runTrial = async (i: number): Promise<TrialResult> => {
    const name = names[i] as string;
    const overrides = points[i] ?? [];
    const t0 = Date.now();
    options.onStart?.(name, overrides);
    const dir = path.join(wtRoot, `${name}-${process.pid}`);
    git(root, ["worktree", "add", "--detach", "--quiet", dir, baseline]);
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
      const out = (c: string) => options.output?.(name, c);
      let code = 0;
      writeOverrides(dir, overrides);
      // Data tracked with `mtrack add` comes from the shared store (pointer files are in git).
      await runCli(options.cli, ["checkout"], dir, env(name), out);
      code = await runCli(options.cli, reproArgs, dir, env(name), out);
      const { ref, commit: sha } = commit(dir, name, overrides, code);
      const result = { name, overrides, exitCode: code, commit: sha, ref, durationMs: Date.now() - t0 };
      options.onDone?.(result);
      return result;
    } finally {
      git(root, ["worktree", "remove", "--force", dir]);
    }
  };
  const results: TrialResult[] = new Array(points.length);
  // The first trial runs alone: it fills the run-cache with the stages every trial shares (the data
  // stage of an `lr` sweep), which the others then restore instead of running them again in parallel.
  results[0] = await runTrial(0);
  let next = 1;
  const worker = async () => {
    while (next < points.length) {
      const i = next++;
      results[i] = await runTrial(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.jobs, points.length - 1) }, worker));
  return results;
}
