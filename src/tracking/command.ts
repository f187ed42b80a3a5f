/**
 * `mtrack run -- <command...>`: any program, in any language, as a tracked run. The run is started here
 * (this process owns it), the child gets MTRACK_RUN_ID / MTRACK_RUNS_DIR / MTRACK_REPO so it can
 * `mtrack log ...` into it, its output is passed through and captured as the `logs/output.txt` artifact,
 * and its exit status becomes the run's status.
 */

import { spawn } from "node:child_process";
import os from "node:os";
import type { Readable, Writable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import type { Repo } from "../repo.js";
import { ENV, type Env, type RepoStartRunOptions, startRun } from "./context.js";
import type { RunStatus, RunSummary } from "./types.js";

/** Name of the captured output artifact. */
export const OUTPUT_ARTIFACT = "logs/output.txt";
/** Tag holding the child's exit code. */
export const EXIT_CODE_TAG = "mtrack.exit_code";
/** Tag holding the signal that ended the child. */
export const SIGNAL_TAG = "mtrack.signal";

/** How a finished child maps to a run: status, tags and the exit code `mtrack run` exits with. */
export interface CommandOutcome {
  status: Exclude<RunStatus, "RUNNING">;
  exitCode: number;
  tags: Record<string, string>;
}

/**
 * Decides a run's outcome from how its child ended. Pure. A child ended by a signal, or one that exits
 * non-zero after we forwarded SIGINT/SIGTERM to it (e.g. Python's KeyboardInterrupt), was KILLED; any
 * other non-zero exit FAILED; exit 0 FINISHED. The exit code is the child's, or 128 + signal number.
 *
 * @example
 * commandOutcome(3, null, false); // { status: "FAILED", exitCode: 3, tags: { "mtrack.exit_code": "3" } }
 */
export function commandOutcome(
  code: number | null,
  signal: NodeJS.Signals | null,
  interrupted: boolean,
): CommandOutcome {
  if (code === null) {
    const n = (signal && os.constants.signals[signal]) || 0;
    return {
      status: "KILLED",
      exitCode: 128 + n,
      tags: { [SIGNAL_TAG]: signal ?? "unknown", [EXIT_CODE_TAG]: String(128 + n) },
    };
  }
  const status = code === 0 ? "FINISHED" : interrupted ? "KILLED" : "FAILED";
  return { status, exitCode: code, tags: { [EXIT_CODE_TAG]: String(code) } };
}

/** Where `runCommand` listens for SIGINT/SIGTERM to forward (process, in the CLI). */
export interface SignalSource {
  on(event: "SIGINT" | "SIGTERM", fn: (signal: NodeJS.Signals) => void): unknown;
  off(event: "SIGINT" | "SIGTERM", fn: (signal: NodeJS.Signals) => void): unknown;
}

/** Options of `runCommand`. */
export interface RunCommandOptions
  extends Omit<RepoStartRunOptions, "cwd" | "repo" | "env" | "command" | "installProcessHooks"> {
  repo: Repo;
  /** Program and arguments. */
  command: string[];
  /** The child's environment (the MTRACK_* variables are added); also read for stage/repro tags. */
  env: Env;
  /** Working directory of the child. */
  cwd: string;
  /** Where the child's output is passed through to. */
  stdout: Writable;
  stderr: Writable;
  /** Signals to forward to the child. */
  signals: SignalSource;
  /** Output beyond this many bytes is passed through but not captured. Default 64 MiB. */
  maxCaptureBytes?: number;
  /** Called once the run exists, before the child starts (e.g. to print its id). */
  onStart?: (runId: string) => void;
  /** More variables for the child, given the run's id (zero-config MLflow capture's). */
  childEnv?: (runId: string) => Record<string, string>;
}

/** What `runCommand` returns. */
export interface CommandRunResult {
  runId: string;
  status: RunStatus;
  /** The exit code `mtrack run` should exit with. */
  exitCode: number;
  signal: NodeJS.Signals | null;
  summary: RunSummary;
}

/** Captured output is appended to the run log at least every this many bytes, so memory stays bounded. */
const FLUSH_BYTES = 1 << 20;
/** After the child exits, how long to wait for grandchildren that still hold its stdout/stderr open. */
const CLOSE_GRACE_MS = 2000;

/**
 * Runs a command as a tracked run and resolves once it ended and the run is sealed.
 *
 * @example
 * const r = await runCommand({ repo, command: ["python", "train.py"], env: process.env, cwd: process.cwd(),
 *   stdout: process.stdout, stderr: process.stderr, signals: process, experiment: "mnist" });
 * process.exitCode = r.exitCode;
 */
export async function runCommand(options: RunCommandOptions): Promise<CommandRunResult> {
  const {
    repo,
    command,
    env,
    cwd,
    stdout,
    stderr,
    signals,
    maxCaptureBytes = 64 << 20,
    onStart,
    childEnv: moreEnv,
    ...start
  } = options;
  const run = await startRun({ ...start, repo, env, command, installProcessHooks: false });
  onStart?.(run.id);
  const childEnv: NodeJS.ProcessEnv = {
    ...env,
    ...moreEnv?.(run.id),
    [ENV.runId]: run.id,
    [ENV.runsDir]: repo.paths.runsDir,
    [ENV.repo]: repo.root,
  };
  let captured = 0;
  let unflushed = 0;
  let truncated = false;
  const capture = (text: string) => {
    if (text === "" || truncated) return;
    const bytes = Buffer.byteLength(text);
    if (captured + bytes > maxCaptureBytes) {
      truncated = true;
      // Keep what fits; a UTF-8 sequence cut at the limit decodes as U+FFFD, which is fine for a log.
      const head = Buffer.from(text)
        .subarray(0, maxCaptureBytes - captured)
        .toString("utf8");
      const note = `\n[mtrack: output capture stopped after ${maxCaptureBytes} bytes]\n`;
      run.logText(head + note, OUTPUT_ARTIFACT, { append: true });
      return;
    }
    captured += bytes;
    unflushed += bytes;
    run.logText(text, OUTPUT_ARTIFACT, { append: true });
    if (unflushed >= FLUSH_BYTES) {
      run.flush();
      unflushed = 0;
    }
  };

  let interrupted = false;
  const outcome = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>(
    (resolve) => {
      const [program = "", ...args] = command;
      const child = spawn(program, args, { cwd, env: childEnv, stdio: ["inherit", "pipe", "pipe"] });
      const forward = (signal: NodeJS.Signals) => {
        interrupted = true;
        child.kill(signal);
      };
      signals.on("SIGINT", forward);
      signals.on("SIGTERM", forward);
      // One decoder per stream: a UTF-8 sequence split across chunks must not be mixed with the other stream.
      const decoders: StringDecoder[] = [];
      const pipe = (from: Readable, to: Writable) => {
        const decoder = new StringDecoder("utf8");
        decoders.push(decoder);
        from.on("data", (chunk: Buffer) => {
          capture(decoder.write(chunk));
          // Backpressure: a slow terminal pauses the child rather than growing our buffers.
          if (!to.write(chunk)) {
            from.pause();
            to.once("drain", () => from.resume());
          }
        });
      };
      pipe(child.stdout, stdout);
      pipe(child.stderr, stderr);
      let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      let done = false;
      const finish = (error?: Error) => {
        if (done) return;
        done = true;
        signals.off("SIGINT", forward);
        signals.off("SIGTERM", forward);
        for (const d of decoders) capture(d.end());
        resolve({ ...(exited ?? { code: null, signal: null }), error });
      };
      child.on("error", (err) => finish(err));
      child.on("exit", (code, signal) => {
        exited = { code, signal };
        // A background grandchild may keep the pipes open; do not wait for it forever.
        setTimeout(() => {
          child.stdout.destroy();
          child.stderr.destroy();
          finish();
        }, CLOSE_GRACE_MS).unref();
      });
      child.on("close", () => finish());
    },
  );

  let result: CommandOutcome;
  if (outcome.error !== undefined) {
    // The program could not be started (not found, not executable): the shell's 127.
    const message = `mtrack: cannot run ${command[0]}: ${outcome.error.message}\n`;
    stderr.write(message);
    capture(message);
    result = { status: "FAILED", exitCode: 127, tags: { [EXIT_CODE_TAG]: "127" } };
  } else {
    result = commandOutcome(outcome.code, outcome.signal, interrupted);
  }
  run.setTags(result.tags);
  const summary = await run.end(result.status);
  return { runId: run.id, status: result.status, exitCode: result.exitCode, signal: outcome.signal, summary };
}
