/**
 * Checkout writes files it creates in place (no temp file + rename, for speed: see
 * Store.materializeNew), so a checkout killed mid-file leaves a torn file under its final name. Before
 * writing, checkout leaves a marker in `.mtrack/tmp` naming the tracked path and its process; it removes
 * the marker when the path is done. The next checkout that finds a marker of a process no longer alive
 * knows the files there are its own unfinished writes, not the user's edits, and may replace them.
 */
import { createHash } from "node:crypto";
import * as os from "node:os";
import * as path from "node:path";
import type { Repo } from "../repo.js";
import { pidAlive, processStartMs } from "../util/lock.js";

interface Marker {
  rel: string;
  pid: number;
  host: string;
  time: number;
}

const PREFIX = "checkout-";

function markerName(rel: string, pid: number): string {
  const id = createHash("sha256").update(rel).digest("hex").slice(0, 16);
  return `${PREFIX}${id}-${pid}.json`;
}

/**
 * Whether the process that wrote `m` has gone (this host only: another host's marker is not ours to
 * judge). Shared with the journal of pending pointer writes (pending.ts).
 */
export function gone(m: { pid: number; host: string; time: number }): boolean {
  if (m.host !== os.hostname()) return false;
  if (m.pid === process.pid) return false;
  if (!pidAlive(m.pid)) return true;
  // A live process that started after the marker was written is another one with a reused pid.
  const started = processStartMs(m.pid);
  return started !== undefined && started > m.time + 1000;
}

/** Markers of dead processes for `rel`: their files there may be replaced. Returns their file names. */
export function interruptedCheckouts(repo: Repo, rel: string): string[] {
  const dir = repo.paths.tmpDir;
  const id = markerName(rel, 0).slice(0, PREFIX.length + 17);
  let names: string[];
  try {
    names = repo.fs.readdirSync(dir).filter((n) => n.startsWith(id) && n.endsWith(".json"));
  } catch {
    return [];
  }
  return names.filter((n) => {
    try {
      const m = JSON.parse(repo.fs.readFileSync(path.join(dir, n), "utf8")) as Marker;
      return m.rel === rel && gone(m);
    } catch {
      return false; // being written, or not ours
    }
  });
}

/** Leaves this process's marker for `rel`; returns a function that removes it (and `stale` ones). */
export function markCheckout(repo: Repo, rel: string, stale: readonly string[] = []): () => void {
  const dir = repo.paths.tmpDir;
  const file = path.join(dir, markerName(rel, process.pid));
  const m: Marker = { rel, pid: process.pid, host: os.hostname(), time: Date.now() };
  repo.fs.mkdirSync(dir, { recursive: true });
  repo.fs.writeFileSync(file, JSON.stringify(m));
  return () => {
    for (const f of [file, ...stale.map((n) => path.join(dir, n))]) repo.fs.rmSync(f, { force: true });
  };
}
