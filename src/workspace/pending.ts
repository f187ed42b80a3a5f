/**
 * Data and its pointer written together (an import, an update): two renames that no filesystem makes
 * atomic as a pair. A process killed between them would leave data without its pointer (or new data
 * under an old pointer, which then looks like a local edit). So, once every object is in the store, the
 * writer records the pointer it is about to write in a journal entry under `.mtrack/state/pending/`,
 * writes the data and the pointer, then removes the entry. The next command that takes the repository
 * lock finds the entries of processes that are gone and rolls them forward from the store: the data is
 * written again (whole, through a temp sibling) and then the pointer. Nothing is ever left half-done for
 * longer than the next locked command.
 */
import { createHash } from "node:crypto";
import * as os from "node:os";
import * as path from "node:path";
import type { Repo } from "../repo.js";
import { type FsLike, fsyncDir, safeUnlink, tmpNamePid, writeFileAtomic } from "../util/fs.js";
import { writePointerData } from "./get.js";
import { addToGitignore } from "./gitignore.js";
import { gone } from "./interrupted.js";
import { POINTER_SUFFIX, type Pointer, parsePointer, pointerPathFor, serializePointer } from "./pointer.js";

/** One journal entry: the pointer a process set out to write, with its data, at `rel`. */
interface PendingEntry {
  rel: string;
  /** The serialized pointer. */
  pointer: string;
  pid: number;
  host: string;
  time: number;
}

/** What a roll-forward did with one interrupted write. */
export interface RecoveredWrite {
  rel: string;
  /** "completed": data and pointer written; "dropped": the store lacked the objects, nothing written. */
  action: "completed" | "dropped";
}

function pendingDir(repo: Repo): string {
  return path.join(repo.paths.stateDir, "pending");
}

function entryFile(repo: Repo, rel: string): string {
  const id = createHash("sha256").update(rel).digest("hex").slice(0, 16);
  return path.join(pendingDir(repo), `${id}.json`);
}

/**
 * Removes what a writer killed at `abs` may have left: writePointerData's half-built directory sibling
 * and the temp files of tmpName (`.<name>.<pid>.<n>.<rand>.tmp`) for the data and its pointer.
 */
function removeLeftovers(fs: FsLike, abs: string, pid: number): void {
  fs.rmSync(`${abs}.mtrack-tmp-${pid}`, { recursive: true, force: true });
  const dir = path.dirname(abs);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const base of [path.basename(abs), `${path.basename(abs)}${POINTER_SUFFIX}`]) {
    const prefix = `.${base}.${pid}.`;
    for (const n of names) {
      if (n.startsWith(prefix) && n.endsWith(".tmp") && tmpNamePid(n) === pid)
        safeUnlink(path.join(dir, n), fs);
    }
  }
}

/**
 * Writes `pointer`'s data (every object already in the store) and then the pointer at `rel`, journalled
 * so that a kill at any point is rolled forward by the next locked command. `writeData` writes the data
 * and returns the number of files. On an error (not a kill) the entry is removed and the caller cleans up.
 *
 * @example
 * writeWithPointer(repo, "images", pointer, () => writePointerData(repo.store, repo.fs, pointer, "x", abs));
 */
export function writeWithPointer(repo: Repo, rel: string, pointer: Pointer, writeData: () => number): number {
  const fs = repo.fs;
  const file = entryFile(repo, rel);
  const entry: PendingEntry = {
    rel,
    pointer: serializePointer(pointer),
    pid: process.pid,
    host: os.hostname(),
    time: Date.now(),
  };
  fs.mkdirSync(pendingDir(repo), { recursive: true });
  // Durable before the first byte of data moves: the roll-forward relies on it.
  writeFileAtomic(file, JSON.stringify(entry), { fs, fsync: true });
  let files: number;
  try {
    // The .gitignore line first: the data is never seen by git as an untracked file.
    fs.mkdirSync(path.dirname(repo.abs(rel)), { recursive: true });
    addToGitignore(repo.abs(rel), fs);
    files = writeData();
    writeFileAtomic(repo.abs(pointerPathFor(rel)), entry.pointer, { fs });
  } catch (err) {
    // An error (not a kill) is the caller's to clean up: the entry must not roll it forward later.
    safeUnlink(file, fs);
    throw err;
  }
  safeUnlink(file, fs);
  fsyncDir(pendingDir(repo), fs);
  return files;
}

/**
 * Rolls forward the journalled writes of processes that are gone (killed mid-import): their data is
 * written again from the store and then their pointer. Entries whose objects are no longer in the store
 * are dropped (nothing is written). Call with the repository lock held.
 *
 * @example
 * const done = completeInterruptedWrites(repo); // [{ rel: "images", action: "completed" }]
 */
export function completeInterruptedWrites(repo: Repo): RecoveredWrite[] {
  const fs = repo.fs;
  const dir = pendingDir(repo);
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith(".json"));
  } catch {
    return []; // the common case: no journal at all
  }
  const out: RecoveredWrite[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    let entry: PendingEntry;
    try {
      entry = JSON.parse(fs.readFileSync(file, "utf8")) as PendingEntry;
    } catch {
      continue; // not ours (entries are written atomically, so never torn)
    }
    if (!gone(entry)) continue;
    const abs = repo.abs(entry.rel);
    removeLeftovers(fs, abs, entry.pid);
    const pointerFile = repo.abs(pointerPathFor(entry.rel));
    let current: string | undefined;
    try {
      current = fs.readFileSync(pointerFile, "utf8");
    } catch {
      current = undefined;
    }
    if (current === entry.pointer) {
      // Killed after the pointer was written: the data was written before it.
      safeUnlink(file, fs);
      out.push({ rel: entry.rel, action: "completed" });
      continue;
    }
    const pointer = parsePointer(entry.pointer, pointerPathFor(entry.rel), path.posix.basename(entry.rel));
    try {
      writePointerData(repo.store, fs, pointer, entry.rel, abs, { force: true });
    } catch {
      safeUnlink(file, fs);
      out.push({ rel: entry.rel, action: "dropped" });
      continue;
    }
    addToGitignore(abs, fs);
    writeFileAtomic(pointerFile, entry.pointer, { fs });
    safeUnlink(file, fs);
    out.push({ rel: entry.rel, action: "completed" });
  }
  return out;
}

/**
 * For commands that do not take the lock (status): completes interrupted writes when there are any,
 * taking the lock only then (the common case is one failed readdir).
 *
 * @example
 * await healInterruptedWrites(repo); // before computing status
 */
export async function healInterruptedWrites(repo: Repo): Promise<void> {
  let names: string[];
  try {
    names = repo.fs.readdirSync(pendingDir(repo)).filter((n) => n.endsWith(".json"));
  } catch {
    return;
  }
  // Only a dead writer's entries: a live import holds the lock, and status must not wait for it.
  const dead = names.some((n) => {
    try {
      return gone(JSON.parse(repo.fs.readFileSync(path.join(pendingDir(repo), n), "utf8")) as PendingEntry);
    } catch {
      return false;
    }
  });
  // withLock rolls them forward once it holds the lock.
  if (dead) await repo.withLock("complete interrupted import", async () => {});
}
