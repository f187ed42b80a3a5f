/**
 * What the MLflow interop tests share: `mtrack server` started in a temp repository, tokens, the CLI's
 * JSON, and fixture scripts run by the test venv's python with the real `mlflow` client pointed at it.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { runCli, startCli } from "./cli.js";
import type { TempGitRepo } from "./git-repo.js";
import { testPython } from "./python.js";

const run = promisify(execFile);

/** Runs `mtrack <args> --json` in the repo; fails the test unless it exits 0. */
export async function cliJson<T = Record<string, unknown>>(repo: TempGitRepo, args: string[]): Promise<T> {
  const r = await runCli([...args, "--json"], { cwd: repo.dir, env: repo.env });
  assert.equal(r.code, 0, `mtrack ${args.join(" ")} failed: ${r.stderr}${r.stdout}`);
  return r.json as T;
}

export async function token(repo: TempGitRepo, name: string, read = false): Promise<string> {
  const created = await cliJson(repo, [
    "server",
    "token",
    "create",
    "--name",
    name,
    ...(read ? ["--read"] : []),
  ]);
  return created.token as string;
}

/**
 * Starts `mtrack server --port 0` (plus `args`, e.g. `--db URL --objects DIR`) in the repo and waits for
 * its URL.
 */
export async function startServer(
  repo: TempGitRepo,
  args: string[] = [],
): Promise<{ child: ChildProcess; url: string }> {
  const child = startCli(["server", "--port", "0", ...args], { cwd: repo.dir, env: repo.env });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 30_000);
    child.stdout?.on("data", (b: Buffer) => {
      out += b.toString();
      const m = /listening on (http:\/\/[^\s,]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once("exit", (code) => reject(new Error(`server exited with ${code}: ${out}`)));
  });
  return { child, url };
}

/**
 * Runs a fixture script against the server with the client's retries off; returns its stdout lines, the
 * last of which is the JSON of what the client saw.
 */
export async function runClient(
  repo: TempGitRepo,
  script: string,
  url: string,
  write: string,
): Promise<string[]> {
  const py = await run(testPython(), [script], {
    cwd: repo.dir,
    env: {
      ...repo.env,
      MLFLOW_TRACKING_URI: url,
      MLFLOW_TRACKING_TOKEN: write,
      MLFLOW_HTTP_REQUEST_MAX_RETRIES: "0",
      MLFLOW_HTTP_REQUEST_TIMEOUT: "30",
    },
    maxBuffer: 16 << 20,
    timeout: 240_000,
  });
  return py.stdout.trim().split("\n");
}
