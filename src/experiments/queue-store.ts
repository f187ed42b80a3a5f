/**
 * The experiment queue on disk: `.mtrack/queue/<name>.json` per trial (local, like runs: git never sees
 * it), `<name>.log` for its output, `<name>.claim` once a worker or `queue remove` owns it (created
 * exclusively, so the two never both get one), and `worker.pid` while `queue start` runs. A trial that
 * ended is also an experiment ref; the entry keeps its state for `queue status`.
 */

import * as fs from "node:fs";
import * as path from "node:path";
import type { Repo } from "../repo.js";
import { tmpName, writeFileAtomic } from "../util/fs.js";
import { listExpRefs } from "./refs.js";
import type { Overrides } from "./set.js";

/** queued → running → success | failed. */
export type QueueState = "queued" | "running" | "success" | "failed";

/** One queued trial. */
export interface QueueEntry {
  name: string;
  /** The commit the trial runs from (HEAD when it was queued). */
  baseline: string;
  overrides: Overrides;
  targets: string[];
  message?: string;
  state: QueueState;
  /** Unix ms. */
  queuedAt: number;
  startedAt?: number;
  endedAt?: number;
  /** The `queue start` process running it. */
  worker?: number;
  /** The trial's `mtrack repro` process (its own process group). */
  pid?: number;
  exitCode?: number;
  /** Set once committed. */
  commit?: string;
  ref?: string;
  /** Why it failed without an exit code (its worker died, it was killed). */
  reason?: string;
}

/** `.mtrack/queue`. */
export function queueDir(repo: Repo): string {
  return path.join(repo.paths.mtrackDir, "queue");
}

function entryPath(repo: Repo, name: string): string {
  return path.join(queueDir(repo), `${name}.json`);
}

/** Where a trial's output goes. */
export function logPath(repo: Repo, name: string): string {
  return path.join(queueDir(repo), `${name}.log`);
}

/** True when a process with this id exists. */
export function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A running entry whose worker is gone is failed, whether or not a `queue start` has noticed yet. */
export function effectiveState(e: QueueEntry): QueueState {
  return e.state === "running" && !alive(e.worker) ? "failed" : e.state;
}

/** Every entry, oldest first. A damaged file is skipped. */
export function readQueue(repo: Repo): QueueEntry[] {
  let names: string[];
  try {
    names = fs.readdirSync(queueDir(repo));
  } catch {
    return [];
  }
  const out: QueueEntry[] = [];
  for (const f of names) {
    if (!/^[^.].*\.json$/.test(f)) continue;
    try {
      out.push(JSON.parse(fs.readFileSync(path.join(queueDir(repo), f), "utf8")) as QueueEntry);
    } catch {
      // half-removed or damaged: not a trial
    }
  }
  return out.sort((a, b) => a.queuedAt - b.queuedAt || a.name.localeCompare(b.name));
}

/** Writes (or replaces) an entry atomically. */
export function writeEntry(repo: Repo, e: QueueEntry): void {
  fs.mkdirSync(queueDir(repo), { recursive: true });
  writeFileAtomic(entryPath(repo, e.name), `${JSON.stringify(e, null, 1)}\n`);
}

/**
 * Creates `file` holding our pid, only if it does not exist. The content is written to a temp file and
 * hard-linked into place (link fails on an existing name), so a reader never sees it empty: an empty
 * pid would read as a dead owner and be taken over.
 */
export function createPidFile(file: string): boolean {
  const tmp = tmpName(path.dirname(file), path.basename(file));
  fs.writeFileSync(tmp, `${process.pid}\n`);
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch {
    return false;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Takes ownership of an entry (false when a worker or a remove already has it). */
export function claim(repo: Repo, name: string): boolean {
  return createPidFile(path.join(queueDir(repo), `${name}.claim`));
}

/** Removes the claim of `name` when the process that made it is gone. */
export function releaseDeadClaim(repo: Repo, name: string): void {
  const file = path.join(queueDir(repo), `${name}.claim`);
  try {
    if (!alive(Number(fs.readFileSync(file, "utf8").trim()))) fs.rmSync(file, { force: true });
  } catch {
    // no claim
  }
}

/** Removes an entry, its log and its claim. */
export function dropEntry(repo: Repo, name: string): void {
  for (const f of [entryPath(repo, name), logPath(repo, name), path.join(queueDir(repo), `${name}.claim`)])
    fs.rmSync(f, { force: true });
}

/** Names taken by experiments or queued trials: a new experiment may use none of them. */
export function takenNames(repo: Repo): Set<string> {
  return new Set([...listExpRefs(repo.root).map((r) => r.name), ...readQueue(repo).map((e) => e.name)]);
}
