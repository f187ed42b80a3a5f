/**
 * The experiment queue: `exp run --queue` records trials without running them; `queue start` runs them
 * (in a background process, or in the foreground with `--wait`), each in its own temporary worktree
 * exactly as a sweep trial, `-j` at a time. One worker per repository (`worker.pid`); a trial whose
 * worker died is marked failed by the next start, and shown failed before that.
 */

import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { StringDecoder } from "node:string_decoder";
import { MtrackError } from "../errors.js";
import type { Repo } from "../repo.js";
import { writeFileAtomic } from "../util/fs.js";
import { cleanExps } from "./manage.js";
import {
  alive,
  claim,
  createPidFile,
  dropEntry,
  effectiveState,
  logPath,
  type QueueEntry,
  queueDir,
  readQueue,
  releaseDeadClaim,
  takenNames,
  writeEntry,
} from "./queue-store.js";
import { headBaseline } from "./refs.js";
import { planNames, runTrialInWorktree, validatePoints } from "./run.js";
import type { Overrides } from "./set.js";

/**
 * Queues one trial per grid point (checked like `exp run`: names, then every override against the
 * params files), to run from HEAD's commit when `queue start` runs.
 *
 * @example
 * enqueue({ repo, points: [[{ file: "params.yaml", key: "lr", add: false, value: 0.2 }]], targets: [] });
 */
export function enqueue(options: {
  repo: Repo;
  points: Overrides[];
  targets: string[];
  name?: string;
  message?: string;
}): QueueEntry[] {
  const { repo, points } = options;
  const baseline = headBaseline(repo.root);
  const names = planNames(takenNames(repo), points.length, options.name);
  validatePoints(repo.root, points);
  const now = Date.now();
  return names.map((name, i) => {
    const e: QueueEntry = {
      name,
      baseline,
      overrides: points[i] ?? [],
      targets: options.targets,
      message: options.message,
      state: "queued",
      queuedAt: now + i,
    };
    writeEntry(repo, e);
    return e;
  });
}

/** Set for a background worker: the pid of the `queue start` that holds `worker.pid` for it. */
export const HANDOVER_ENV = "MTRACK_QUEUE_HANDOVER";

function workerFile(repo: Repo): string {
  return path.join(queueDir(repo), "worker.pid");
}

/** The pid of the running `queue start` worker, or null. */
export function queueWorker(repo: Repo): number | null {
  try {
    const pid = Number(fs.readFileSync(workerFile(repo), "utf8").trim());
    return alive(pid) ? pid : null;
  } catch {
    return null;
  }
}

function busy(pid: number): MtrackError {
  return new MtrackError("ERR_MTRACK_EXP_QUEUE_BUSY", `The queue is already being run (process ${pid}).`, {
    data: { pid },
    hint: "Watch it with `mtrack queue status`; trials queued meanwhile are picked up by that worker.",
  });
}

/**
 * Becomes the repository's worker: refused while another one lives; a dead one's file is taken over.
 * `handOver` is a process allowed to hold the file for us: the `queue start` that spawned this worker
 * takes it before spawning (so two starts at once cannot both start one) and then writes our pid.
 */
function becomeWorker(repo: Repo, handOver?: number): void {
  fs.mkdirSync(queueDir(repo), { recursive: true });
  const file = workerFile(repo);
  if (createPidFile(file)) return;
  // Exists: alive, or stale (its process is gone).
  const other = queueWorker(repo);
  if (other !== null && other !== process.pid && other !== handOver) throw busy(other);
  writeFileAtomic(file, `${process.pid}\n`);
  // Two processes taking over the same stale file: the last rename wins, the other backs off.
  const now = Number(fs.readFileSync(file, "utf8").trim());
  if (now !== process.pid) throw busy(now);
}

/**
 * Running trials whose worker is gone: failed, for good (their worktrees go too, see `exp clean`).
 * A queued trial claimed by a worker that died before starting it is queued again.
 */
function failOrphans(repo: Repo): QueueEntry[] {
  const failed: QueueEntry[] = [];
  for (const e of readQueue(repo)) {
    if (e.state === "queued") releaseDeadClaim(repo, e.name);
    if (e.state !== "running" || alive(e.worker)) continue;
    const done: QueueEntry = { ...e, state: "failed", reason: "its queue worker died", endedAt: Date.now() };
    writeEntry(repo, done);
    failed.push(done);
  }
  if (failed.length > 0) cleanExps(repo);
  return failed;
}

/**
 * Runs queued trials until none is left (trials queued meanwhile included), `jobs` at a time, in this
 * process. The first trial runs alone so the stages every trial shares fill the run-cache once.
 *
 * @example
 * await runQueue({ repo, jobs: 2, cli: [process.execPath, "bin/run.js"] }); // the entries that ran
 */
export async function runQueue(options: {
  repo: Repo;
  jobs: number;
  cli: readonly string[];
  /** The `queue start` that spawned this worker and holds `worker.pid` for it (see HANDOVER_ENV). */
  handOver?: number;
  onStart?: (e: QueueEntry) => void;
  onDone?: (e: QueueEntry) => void;
}): Promise<QueueEntry[]> {
  const { repo } = options;
  becomeWorker(repo, options.handOver);
  const ran: QueueEntry[] = [];
  // Trials run in their own process groups (so `queue kill` reaches their stages): a Ctrl-C or SIGTERM
  // to the worker is passed on to them, they end as failed (killed), and no further trial starts.
  const running = new Set<number>();
  let stopping = false;
  const onSignal = () => {
    stopping = true;
    for (const pid of running) {
      try {
        process.kill(-pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    failOrphans(repo);
    const next = (): QueueEntry | undefined =>
      stopping ? undefined : readQueue(repo).find((e) => e.state === "queued" && claim(repo, e.name));
    const runOne = async (queued: QueueEntry): Promise<void> => {
      let e: QueueEntry = { ...queued, state: "running", worker: process.pid, startedAt: Date.now() };
      writeEntry(repo, e);
      options.onStart?.(e);
      const log = logPath(repo, e.name);
      try {
        const r = await runTrialInWorktree({
          repo,
          baseline: e.baseline,
          name: e.name,
          overrides: e.overrides,
          targets: e.targets,
          message: e.message,
          cli: options.cli,
          output: (chunk) => fs.appendFileSync(log, chunk),
          onSpawn: (pid) => {
            e = { ...e, pid };
            writeEntry(repo, e);
            running.add(pid);
            if (stopping) onSignal();
          },
        });
        if (e.pid) running.delete(e.pid);
        e = {
          ...e,
          state: r.exitCode === 0 ? "success" : "failed",
          exitCode: r.exitCode,
          commit: r.commit,
          ref: r.ref,
          endedAt: Date.now(),
          ...(r.exitCode > 128 ? { reason: "killed" } : {}),
        };
      } catch (err) {
        e = {
          ...e,
          state: "failed",
          reason: err instanceof Error ? err.message : String(err),
          endedAt: Date.now(),
        };
      }
      writeEntry(repo, e);
      ran.push(e);
      options.onDone?.(e);
    };
    const first = next();
    if (first) await runOne(first);
    const worker = async () => {
      for (let e = next(); e; e = next()) await runOne(e);
    };
    await Promise.all(Array.from({ length: Math.max(1, options.jobs) }, worker));
    return ran;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    try {
      if (fs.readFileSync(workerFile(repo), "utf8").trim() === String(process.pid))
        fs.rmSync(workerFile(repo));
    } catch {
      // already gone
    }
  }
}

/**
 * Starts `mtrack queue start --wait -j N` as a detached background process (its output in
 * `.mtrack/queue/worker.log`) and returns at once. Refused while a worker runs.
 */
export function startQueueWorker(options: { repo: Repo; jobs: number; cli: readonly string[] }): {
  pid: number | null;
  queued: number;
  failed: QueueEntry[];
} {
  const { repo } = options;
  becomeWorker(repo);
  let handedOver = false;
  try {
    const failed = failOrphans(repo);
    const queued = readQueue(repo).filter((e) => e.state === "queued").length;
    if (queued === 0) return { pid: null, queued, failed };
    const out = fs.openSync(path.join(queueDir(repo), "worker.log"), "a");
    try {
      const [cmd, ...pre] = options.cli as [string, ...string[]];
      const child = spawn(cmd, [...pre, "queue", "start", "--wait", "-j", String(options.jobs)], {
        cwd: repo.root,
        detached: true,
        stdio: ["ignore", out, out],
        env: { ...process.env, [HANDOVER_ENV]: String(process.pid) },
      });
      child.unref();
      if (child.pid !== undefined) {
        // Unless the worker already took the file over itself.
        if (fs.readFileSync(workerFile(repo), "utf8").trim() === String(process.pid))
          writeFileAtomic(workerFile(repo), `${child.pid}\n`);
        handedOver = true;
      }
      return { pid: child.pid ?? null, queued, failed };
    } finally {
      fs.closeSync(out);
    }
  } finally {
    if (!handedOver) fs.rmSync(workerFile(repo), { force: true });
  }
}

function entryOf(repo: Repo, name: string): QueueEntry {
  const e = readQueue(repo).find((x) => x.name === name);
  if (!e)
    throw new MtrackError("ERR_MTRACK_EXP_NOT_FOUND", `No queued experiment '${name}'.`, {
      data: { name },
      hint: "See the queue with `mtrack queue status`.",
    });
  return e;
}

/**
 * Stops a running trial: SIGTERM to its `mtrack repro` process group (the stage commands included).
 * The worker then commits it as failed and goes on with the queue.
 */
export function killTrial(repo: Repo, name: string): QueueEntry {
  const e = entryOf(repo, name);
  if (effectiveState(e) !== "running" || !e.pid || !alive(e.pid))
    throw new MtrackError(
      "ERR_MTRACK_EXP_NOT_RUNNING",
      `Experiment '${name}' is not running (${effectiveState(e)}).`,
      {
        data: { name, state: effectiveState(e) },
        hint: "Remove a queued trial with `mtrack queue remove`; a trial just starting can be killed a moment later.",
      },
    );
  try {
    process.kill(-e.pid, "SIGTERM");
  } catch {
    process.kill(e.pid, "SIGTERM");
  }
  return e;
}

/**
 * Removes entries from the queue: the named ones, or with `all` every one not running, or with
 * `queued` every one still waiting. Every name is checked first (one unknown or running name removes
 * nothing). Finished trials stay experiments; only their queue entry and log go.
 */
export function removeFromQueue(
  repo: Repo,
  options: { names?: readonly string[]; all?: boolean; queued?: boolean },
): string[] {
  const entries = readQueue(repo);
  let chosen: QueueEntry[];
  if (options.all) chosen = entries.filter((e) => effectiveState(e) !== "running");
  else if (options.queued && !options.names?.length) chosen = entries.filter((e) => e.state === "queued");
  else {
    chosen = (options.names ?? []).map((n) => entryOf(repo, n));
    const running = chosen.filter((e) => effectiveState(e) === "running");
    if (running.length > 0)
      throw new MtrackError("ERR_MTRACK_EXP_RUNNING", `Experiment '${running[0]?.name}' is running.`, {
        data: { names: running.map((e) => e.name) },
        hint: "Stop it first with `mtrack queue kill`.",
      });
  }
  const removed: string[] = [];
  for (const e of chosen) {
    // A queued trial is claimed first, so a worker cannot start it while it goes.
    if (e.state === "queued" && !claim(repo, e.name)) continue;
    dropEntry(repo, e.name);
    removed.push(e.name);
  }
  return removed;
}

/** A trial's output so far ('' before it starts). */
export function queueLogs(repo: Repo, name: string): string {
  entryOf(repo, name);
  try {
    return fs.readFileSync(logPath(repo, name), "utf8");
  } catch {
    return "";
  }
}

/**
 * Follows a trial's output, as `tail -f` would, until the trial has ended (success, or failed; a
 * trial whose worker died counts as failed) and everything it wrote has been passed to `onChunk`. A
 * queued trial is waited for. Returns the entry as it ended, or null when it was removed from the
 * queue meanwhile. ERR_MTRACK_EXP_NOT_FOUND for a name the queue does not have.
 *
 * @example
 * const e = await followQueueLogs(repo, "swift-otter", { onChunk: (s) => process.stdout.write(s) });
 * e?.state; // "success"
 */
export async function followQueueLogs(
  repo: Repo,
  name: string,
  options: { onChunk: (chunk: string) => void; pollMs?: number },
): Promise<QueueEntry | null> {
  entryOf(repo, name);
  const file = logPath(repo, name);
  const decoder = new StringDecoder("utf8");
  let offset = 0;
  const drain = () => {
    let fd: number;
    try {
      fd = fs.openSync(file, "r");
    } catch {
      return; // not started yet
    }
    try {
      const buf = Buffer.alloc(1 << 16);
      for (;;) {
        const n = fs.readSync(fd, buf, 0, buf.length, offset);
        if (n === 0) break;
        offset += n;
        const text = decoder.write(buf.subarray(0, n));
        if (text) options.onChunk(text);
      }
    } finally {
      fs.closeSync(fd);
    }
  };
  for (;;) {
    // The state first, then the output: whatever the trial wrote before it ended is read after.
    const e = readQueue(repo).find((x) => x.name === name);
    const state = e ? effectiveState(e) : null;
    drain();
    if (!e) return null;
    if (state === "success" || state === "failed") {
      const rest = decoder.end();
      if (rest) options.onChunk(rest);
      return { ...e, state };
    }
    await new Promise((r) => setTimeout(r, options.pollMs ?? 200));
  }
}
