/**
 * `mtrack gc`: delete store objects nothing refers to, then consolidate the packs that remain (the store's
 * geometric policy applied to all packs, whatever their number, so O(log size) packs are left). What
 * counts as a reference comes from root sources — the workspace's pointers, every pointer in git history, and whatever later layers add (runs,
 * the run-cache, pipeline lock files) — so gc never needs to know about them individually.
 */
import * as path from "node:path";
import type { Repo } from "../repo.js";
import { decodeTree } from "../store/tree.js";
import type { Hash } from "../store/types.js";
import { tmpNamePid } from "../util/fs.js";
import { acquireLock, pidAlive, processStartMs } from "../util/lock.js";
import { CompleteTrees } from "./complete.js";
import { dataPathFor, POINTER_SUFFIX, type Pointer, parsePointer } from "./pointer.js";
import { findTrackedPaths, loadPointer } from "./tracked.js";

/** A referenced object; `tree` roots are directory manifests whose entries are kept too. */
export interface GcRoot {
  hash: Hash;
  tree?: boolean;
}

/** A named provider of roots (e.g. "workspace", "git history", "runs", "run-cache"). */
export interface RootSource {
  name: string;
  collect(): Promise<Iterable<GcRoot>>;
}

export interface GcResult {
  dryRun: boolean;
  /** Objects kept because something refers to them. */
  kept: number;
  removed: number;
  removedBytes: number;
  /** Roots per source, for the report. */
  roots: Record<string, number>;
  /** Leftovers of interrupted writes that were (or would be) deleted. */
  leftovers: number;
}

/** The roots of a pointer. */
export function pointerRoots(p: Pointer): GcRoot {
  return { hash: p.hash, tree: p.type === "directory" };
}

/** Roots from the pointer files in the work tree. */
export function workspaceRoots(repo: Repo): RootSource {
  return {
    name: "workspace",
    async collect() {
      const out: GcRoot[] = [];
      for (const rel of findTrackedPaths(repo)) {
        const p = loadPointer(repo, rel);
        if (p) out.push(pointerRoots(p));
      }
      return out;
    },
  };
}

/**
 * Roots from every pointer file in every commit reachable from any branch or tag (and HEAD), read through
 * the git seam. Trees shared between commits are read once.
 */
export function gitHistoryRoots(repo: Repo): RootSource {
  return {
    name: "git history",
    async collect() {
      const git = repo.git();
      const starts = new Set<string>();
      for (const b of await git.listBranches()) starts.add(b.oid);
      for (const t of await git.listTags()) starts.add(t.oid);
      const head = await git.headCommit();
      if (head) starts.add(head);
      const isPointer = (p: string) => p.endsWith(POINTER_SUFFIX);
      const seenBlobs = new Set<string>();
      const out: GcRoot[] = [];
      for await (const commit of git.walkCommits([...starts])) {
        for (const f of await git.findFilesInCommit(commit, isPointer)) {
          if (seenBlobs.has(f.oid)) continue;
          seenBlobs.add(f.oid);
          try {
            out.push(
              pointerRoots(
                parsePointer(
                  (await git.readBlob(f.oid)).toString("utf8"),
                  `${f.path}@${commit.slice(0, 10)}`,
                  dataPathFor(f.path).split("/").pop(),
                ),
              ),
            );
          } catch {
            // A malformed pointer in an old commit refers to nothing we could keep.
          }
        }
      }
      return out;
    },
  };
}

/** A predicate telling objects written at or after `sinceMs` (packed: by the pack's mtime). */
function youngObjects(
  repo: Repo,
  sinceMs: number | undefined,
): (o: { hash: Hash; location: "loose" | "packed" }) => boolean {
  if (sinceMs === undefined) return () => false;
  const fs = repo.fs;
  const young = new Set<Hash>();
  for (const pack of repo.store.packFiles()) {
    try {
      if (fs.statSync(pack.packPath).mtimeMs >= sinceMs) for (const e of pack.entries()) young.add(e.hash);
    } catch {
      // pack vanished: nothing to protect
    }
  }
  return (o) => {
    if (young.has(o.hash)) return true;
    if (o.location !== "loose") return false;
    try {
      return fs.statSync(repo.store.loosePath(o.hash)).mtimeMs >= sinceMs;
    } catch {
      return false;
    }
  };
}

/** How long gc waits for another process's pack consolidation to finish (it takes seconds at most). */
const PACK_LOCK_WAIT_MS = 60_000;

/** Temp files younger than this may belong to a process writing right now (a training run). */
const TMP_GRACE_MS = 60 * 60 * 1000;

/**
 * Whether the process that wrote temp file `file` (its pid is in the name, see `tmpName`) is provably gone:
 * no process of this host has that pid, or the one that has it started after the file was last written.
 * A name without a pid (older versions, other tools) is left to the age rule.
 */
function tmpWriterGone(file: string, mtimeMs: number, fs: Repo["fs"]): boolean {
  const pid = tmpNamePid(file);
  if (pid === undefined || pid === process.pid) return false;
  if (!pidAlive(pid)) return true;
  const started = processStartMs(pid, fs);
  // btime is in whole seconds: allow that much slack.
  return started !== undefined && started > mtimeMs + 2000;
}

/**
 * Collects every root, expands directory manifests, and deletes the rest (or, with dryRun, counts it).
 *
 * @example
 * await gcStore(repo, [workspaceRoots(repo), gitHistoryRoots(repo, git)], { dryRun: true });
 */
export async function gcStore(
  repo: Repo,
  sources: readonly RootSource[],
  options: {
    dryRun?: boolean;
    clock?: () => number;
    /**
     * Keep objects written at or after this time (ms since epoch). Processes that write the store without
     * the repo lock — a training run logging artifacts — have objects that nothing names yet.
     */
    keepNewerThanMs?: number;
  } = {},
): Promise<GcResult> {
  const clock = options.clock ?? Date.now;
  return repo.withLock("gc", async () => {
    const store = repo.store;
    store.reload();
    const keep = new Set<Hash>();
    const roots: Record<string, number> = {};
    for (const source of sources) {
      let n = 0;
      for (const root of await source.collect()) {
        n++;
        if (keep.has(root.hash) && !root.tree) continue;
        keep.add(root.hash);
        if (root.tree && store.has(root.hash)) {
          try {
            for (const e of decodeTree(store.readObject(root.hash))) keep.add(e.hash);
          } catch {
            // A damaged manifest keeps only itself; fsck reports it.
          }
        }
      }
      roots[source.name] = n;
    }
    const dead = new Set<Hash>();
    const kept = new Set<Hash>();
    let removedBytes = 0;
    const young = youngObjects(repo, options.keepNewerThanMs);
    for (const o of store.list()) {
      if (keep.has(o.hash) || young(o)) kept.add(o.hash);
      else {
        dead.add(o.hash);
        removedBytes += o.size;
      }
    }
    const now = clock();
    const leftovers = store.leftovers().filter((f) => {
      try {
        if (path.basename(path.dirname(f)) !== "tmp") return true;
        const mtimeMs = repo.fs.statSync(f).mtimeMs;
        return now - mtimeMs > TMP_GRACE_MS || tmpWriterGone(f, mtimeMs, repo.fs);
      } catch {
        return false;
      }
    });
    if (!options.dryRun) {
      // The pack lock keeps an automatic consolidation (another process flushing) from copying objects
      // out of packs that delete() is rewriting, and lets what remains be consolidated in the same pass.
      const release = await acquireLock(store.packLockPath, {
        fs: repo.fs,
        timeoutMs: PACK_LOCK_WAIT_MS,
        purpose: "gc",
      });
      try {
        store.delete(dead);
        store.consolidateHeld({ all: true });
      } finally {
        release();
      }
      for (const f of leftovers) repo.fs.rmSync(f, { force: true, recursive: true });
      if (dead.size > 0) CompleteTrees.load(repo.paths.stateDir, repo.fs).clear();
    }
    return {
      dryRun: !!options.dryRun,
      kept: kept.size,
      removed: dead.size,
      removedBytes,
      roots,
      leftovers: leftovers.length,
    };
  });
}
