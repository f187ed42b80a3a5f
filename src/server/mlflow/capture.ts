/**
 * Zero-config MLflow capture: while `mtrack run -- cmd` or a `mtrack repro` stage runs, a program that
 * uses the `mlflow` client with no MLFLOW_TRACKING_URI logs into this repository's runs. For the
 * command's lifetime mtrack serves its MLflow-compatible API (and web UI) on a loopback port, behind a
 * one-time write token kept in a private temporary directory, and exports MLFLOW_TRACKING_URI,
 * MLFLOW_TRACKING_TOKEN and MLFLOW_RUN_CONTEXT (tags the client puts on every run it starts: the stage,
 * the repro id, the enclosing `mtrack run`) to the child. No `mlruns/` folder appears. A user's own
 * MLFLOW_TRACKING_URI is left alone, and MTRACK_MLFLOW_CAPTURE=0 (or `--no-capture`) turns it off.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ModelRegistry } from "../../registry/models.js";
import type { Repo } from "../../repo.js";
import { type Env, gitInfoFor, openTracking } from "../../tracking/context.js";
import { startServer } from "../server.js";
import { createToken } from "../tokens.js";
import type { MlflowBackend } from "./backend.js";

/** The variable that turns capture off when set to 0, false, no or off. */
export const CAPTURE_ENV = "MTRACK_MLFLOW_CAPTURE";
/** Tag put on every run captured this way (value `mlflow`). */
export const CAPTURED_TAG = "mtrack.captured";

/** A running capture: the variables to give a child, and how to stop it. */
export interface MlflowCapture {
  /** Where the MLflow API is served (http://127.0.0.1:<port>). */
  url: string;
  /**
   * The variables a child needs: MLFLOW_TRACKING_URI, MLFLOW_TRACKING_TOKEN and MLFLOW_RUN_CONTEXT
   * holding `tags` (merged over a JSON object the caller's own MLFLOW_RUN_CONTEXT already holds).
   */
  env(tags: Readonly<Record<string, string>>, base?: Env): Record<string, string>;
  /**
   * Stops serving and removes the token. Runs a child left open (it crashed or was killed before its
   * client ended them) end as `status`: FAILED after a failed command, KILLED after Ctrl-C.
   */
  close(status?: "KILLED" | "FAILED"): Promise<void>;
}

/**
 * Why capture is off for this environment, or undefined when it is on: the user's own
 * MLFLOW_TRACKING_URI wins, and MTRACK_MLFLOW_CAPTURE=0 turns it off.
 *
 * @example
 * captureOff({ MLFLOW_TRACKING_URI: "http://mlflow:5000" }); // "MLFLOW_TRACKING_URI is set"
 */
export function captureOff(env: Env): string | undefined {
  if ((env.MLFLOW_TRACKING_URI ?? "") !== "") return "MLFLOW_TRACKING_URI is set";
  const flag = (env[CAPTURE_ENV] ?? "").trim().toLowerCase();
  if (["0", "false", "no", "off"].includes(flag)) return `${CAPTURE_ENV}=${env[CAPTURE_ENV]}`;
  return undefined;
}

/** The tags of MLFLOW_RUN_CONTEXT merged with `tags` (ours win); a value that is not a JSON object is replaced. */
function runContext(existing: string | undefined, tags: Readonly<Record<string, string>>): string {
  let base: Record<string, unknown> = {};
  if (existing) {
    try {
      const parsed: unknown = JSON.parse(existing);
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed))
        base = parsed as Record<string, unknown>;
    } catch {
      // Not ours to repair: the client would refuse it anyway.
    }
  }
  return JSON.stringify({ ...base, ...tags, [CAPTURED_TAG]: "mlflow" });
}

/**
 * Starts serving the repository's runs over the MLflow API on 127.0.0.1 (a free port) with a fresh
 * one-time write token. Runs whose client reports no git commit get the repository's.
 *
 * @example
 * const capture = await startMlflowCapture(repo, { mtrackVersion: "0.1.0" });
 * const env = { ...process.env, ...capture.env({ "mtrack.stage": "train" }) };
 * // ... spawn the child with env ...
 * await capture.close();
 */
export async function startMlflowCapture(
  repo: Repo,
  options: { mtrackVersion?: string } = {},
): Promise<MlflowCapture> {
  // The token file lives outside the repository, readable by this user only, and goes with the server.
  const secretDir = fs.mkdtempSync(path.join(os.tmpdir(), "mtrack-capture-"));
  const tokensFile = path.join(secretDir, "tokens.json");
  let server: Awaited<ReturnType<typeof startServer>>;
  let token: string;
  try {
    token = createToken(tokensFile, { name: "mtrack-capture", scope: "write" }).token;
    server = await startServer({
      storeDir: repo.paths.cacheDir,
      tokensFile,
      tracking: openTracking(repo),
      repoRoot: repo.root,
      openModels: (user) => ModelRegistry.open(repo, { user }),
      gitInfo: gitInfoFor(repo),
      ...(options.mtrackVersion ? { mtrackVersion: options.mtrackVersion } : {}),
      host: "127.0.0.1",
      port: 0,
    });
  } catch (err) {
    fs.rmSync(secretDir, { recursive: true, force: true });
    throw err;
  }
  const mlflow: MlflowBackend | undefined = server.mlflow;
  let closed: Promise<void> | undefined;
  return {
    url: server.url,
    env: (tags, base = process.env) => ({
      MLFLOW_TRACKING_URI: server.url,
      MLFLOW_TRACKING_TOKEN: token,
      MLFLOW_RUN_CONTEXT: runContext(base.MLFLOW_RUN_CONTEXT, tags),
    }),
    close: (status = "KILLED") => {
      closed ??= (async () => {
        try {
          await mlflow?.close(status);
          await server.close();
        } finally {
          fs.rmSync(secretDir, { recursive: true, force: true });
        }
      })();
      return closed;
    },
  };
}
