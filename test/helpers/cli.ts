/**
 * Running the built mtrack CLI (`bin/run.js`, which loads `dist/`) as a child process, the way a user
 * does. Build first: `npx tsc -p tsconfig.json && npx oclif manifest`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

/** The package root (the directory of mtrack's package.json), found from this file's location. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, "package.json");
    if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, "utf8")).name === "mtrack") return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error("cannot find mtrack's package.json above the test helpers");
    dir = up;
  }
}

/** The CLI entry point (`<package>/bin/run.js`). */
export function cliEntry(): string {
  return path.join(packageRoot(), "bin", "run.js");
}

export interface CliResult {
  /** Exit code (null when killed by a signal). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON when it is JSON (with `--json`), else undefined. */
  json: unknown;
}

export interface CliOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the process (SIGKILL) after this many ms; default 60 s. */
  timeoutMs?: number;
  /** Start it in its own process group (so `process.kill(-pid)` also reaches the commands it runs). */
  detached?: boolean;
}

/**
 * Starts `mtrack <args>` without waiting (for kill -9 and concurrency tests). Collect its result with
 * `waitCli`.
 *
 * @example
 * const child = startCli(["add", "data"], { cwd, env });
 * setTimeout(() => child.kill("SIGKILL"), 300);
 * const r = await waitCli(child);
 */
export function startCli(args: readonly string[], options: CliOptions): ChildProcess {
  const child = spawn(process.execPath, [cliEntry(), ...args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    detached: options.detached ?? false,
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Collect from the start: a child that finishes before waitCli is called must not be missed (its
  // 'close' event would already be gone), and unread pipes must never block it.
  results.set(child, collect(child));
  return child;
}

const results = new WeakMap<ChildProcess, Promise<CliResult>>();

function collect(child: ChildProcess): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on("data", (b: Buffer) => out.push(b));
    child.stderr?.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const stdout = Buffer.concat(out).toString("utf8");
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolve({ code, signal, stdout, stderr: Buffer.concat(err).toString("utf8"), json });
    });
  });
}

/** Waits for a process started by startCli and collects its output (SIGKILL after `timeoutMs`). */
export function waitCli(child: ChildProcess, timeoutMs = 60_000): Promise<CliResult> {
  let result = results.get(child);
  if (!result) {
    result = collect(child);
    results.set(child, result);
  }
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  return result.finally(() => clearTimeout(timer));
}

/**
 * Runs `mtrack <args>` to completion.
 *
 * @example
 * const r = await runCli(["status", "--json"], { cwd: repo.dir, env: repo.env });
 * assert.equal(r.code, 1);
 */
export function runCli(args: readonly string[], options: CliOptions): Promise<CliResult> {
  return waitCli(startCli(args, options), options.timeoutMs);
}

/** The `error.code` of a `--json` error result, or undefined. */
export function errorCode(r: CliResult): string | undefined {
  const j = r.json as { error?: { code?: string } } | undefined;
  return j?.error?.code;
}
