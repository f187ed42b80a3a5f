/**
 * `mtrack status`: which tracked paths differ from their pointers (and how), and which pointers name
 * objects the local store does not have.
 */

import { errnoCode, isMtrackError } from "../errors.js";
import type { Repo } from "../repo.js";
import { comparePaths, decodeTree, type TreeEntry } from "../store/tree.js";
import type { Hash } from "../store/types.js";
import { CompleteTrees } from "./complete.js";
import { type Pointer, pointerPathFor } from "./pointer.js";
import { hashFiles, LISTING_FIELDS, listDir, type ProgressFn } from "./scan.js";
import { type DirIndex, StatCache, sameStats } from "./statcache.js";
import { currentState, loadPointer } from "./tracked.js";

export type WorkspaceState = "unchanged" | "modified" | "missing";

export interface FileChanges {
  added: string[];
  modified: string[];
  deleted: string[];
}

export interface PathStatus {
  path: string;
  pointer: string;
  type: "file" | "directory";
  /** The workspace compared with the pointer. */
  workspace: WorkspaceState;
  /** For directories: which files inside changed (only when the old manifest is in the store). */
  changes?: FileChanges;
  /** The pointer's content is not (entirely) in the local store: a remote fetch is needed. */
  notInStore: boolean;
  /** How many of the pointer's objects are missing from the store. */
  missingObjects: number;
}

/** A tracked path whose pointer file cannot be read (invalid YAML, a missing key...). */
export interface InvalidPointer {
  path: string;
  pointer: string;
  code: string;
  message: string;
  hint?: string;
}

export interface StatusResult {
  paths: PathStatus[];
  /** Pointers that could not be parsed: reported, and the other paths are still checked. */
  invalid: InvalidPointer[];
  /** true when every tracked path is unchanged and present in the store. */
  clean: boolean;
}

/** Diff of two manifests sorted by path (a merge join: no 100k-entry map). */
export function diffEntries(before: readonly TreeEntry[], after: readonly TreeEntry[]): FileChanges {
  const changes: FileChanges = { added: [], modified: [], deleted: [] };
  let i = 0;
  let j = 0;
  while (i < before.length || j < after.length) {
    const b = before[i];
    const a = after[j];
    const c = !b ? 1 : !a ? -1 : comparePaths(b.path, a.path);
    if (c < 0) {
      changes.deleted.push(b!.path);
      i++;
    } else if (c > 0) {
      changes.added.push(a!.path);
      j++;
    } else {
      if (b!.hash !== a!.hash || b!.executable !== a!.executable) changes.modified.push(a!.path);
      i++;
      j++;
    }
  }
  return changes;
}

/**
 * Status of a tracked directory from its index, when the index describes the pointer's tree: the
 * listing is compared with the index as arrays, and only files whose stat data moved are hashed. No
 * manifest is decoded or encoded. Undefined when this shortcut does not apply (then currentState does
 * the full work). A file that was only touched (same content) refreshes the index.
 */
async function statusFromIndex(
  repo: Repo,
  rel: string,
  index: DirIndex,
  cache: StatCache,
): Promise<{ workspace: WorkspaceState; changes?: FileChanges } | undefined> {
  const abs = repo.abs(rel);
  try {
    if (!repo.fs.lstatSync(abs).isDirectory()) return undefined;
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return { workspace: "missing" };
    return undefined;
  }
  const listing = listDir(abs, repo.root, repo.fs);
  if (listing.names === index.names && sameStats(listing.stats, index.stats))
    return { workspace: "unchanged" };
  const files = listing.files;
  const old = index.count > 0 ? index.names.split("\0") : [];
  const changes: FileChanges = { added: [], modified: [], deleted: [] };
  // Files present in both whose stat data moved: [listing position, index position].
  const moved: Array<[number, number]> = [];
  let i = 0;
  let j = 0;
  while (i < files.length || j < old.length) {
    const f = files[i];
    const c = !f ? 1 : j >= old.length ? -1 : comparePaths(f.rel, old[j]!);
    if (c < 0) {
      changes.added.push(f!.rel);
      i++;
      continue;
    }
    if (c > 0) {
      changes.deleted.push(old[j]!);
      j++;
      continue;
    }
    const o = i * LISTING_FIELDS;
    const io = j * LISTING_FIELDS;
    for (let k = 0; k < LISTING_FIELDS; k++) {
      if (listing.stats[o + k] !== index.stats[io + k]) {
        moved.push([i, j]);
        break;
      }
    }
    i++;
    j++;
  }
  // Hash what moved (in batches when there are many, e.g. every file after a checkout rewrote them).
  const refreshed = new Float64Array(listing.stats);
  if (moved.length > 0) {
    const hashed = await hashFiles(
      moved.map(([fi]) => files[fi]!),
      rel,
      { fs: repo.fs, cache },
    );
    moved.forEach(([fi, ij], k) => {
      const o = fi * LISTING_FIELDS;
      const exec = listing.stats[o + 4] === 1;
      if (
        hashed.entries[k]!.hash !== index.hashes.toString("hex", ij * 32, ij * 32 + 32) ||
        exec !== (index.stats[ij * LISTING_FIELDS + 4] === 1)
      )
        changes.modified.push(files[fi]!.rel);
      else refreshed[o + 1] = hashed.stats[k * LISTING_FIELDS + 1]!; // NaN when racy
    });
  }
  if (changes.added.length + changes.deleted.length + changes.modified.length > 0)
    return { workspace: "modified", changes };
  // Touched but unchanged: remember the new stat data so the next status does not hash them again.
  cache.recordDirIndex(rel, { ...index, stats: refreshed });
  return { workspace: "unchanged" };
}

/** Counts objects a pointer needs that the store lacks (manifest first; then every file). */
export function missingObjectsOf(repo: Repo, pointer: Pointer, complete: CompleteTrees): Hash[] {
  const store = repo.store;
  if (!store.has(pointer.hash)) return [pointer.hash];
  if (pointer.type === "file" || complete.has(pointer.hash)) return [];
  const missing = decodeTree(store.readObject(pointer.hash))
    .filter((e) => !store.has(e.hash))
    .map((e) => e.hash);
  if (missing.length === 0) complete.add(pointer.hash);
  return missing;
}

/**
 * Loads a pointer; an unreadable one (ERR_MTRACK_POINTER_INVALID) is pushed to `invalid` and gives
 * undefined, so one bad pointer file does not stop a command over many paths.
 */
export function tryLoadPointer(repo: Repo, rel: string, invalid: InvalidPointer[]): Pointer | undefined {
  try {
    return loadPointer(repo, rel);
  } catch (err) {
    if (!isMtrackError(err, "ERR_MTRACK_POINTER_INVALID")) throw err;
    invalid.push({
      path: rel,
      pointer: pointerPathFor(rel),
      code: err.code,
      message: err.message,
      ...(err.hint ? { hint: err.hint } : {}),
    });
    return undefined;
  }
}

/**
 * Status of tracked paths (`rels` from selectTracked). Pure reading: nothing in the workspace or store
 * changes (the stat cache is refreshed).
 */
export async function statusPaths(
  repo: Repo,
  rels: readonly string[],
  options: { onProgress?: ProgressFn } = {},
): Promise<StatusResult> {
  const cache = StatCache.load(repo.paths.stateDir, repo.fs);
  const complete = CompleteTrees.load(repo.paths.stateDir, repo.fs);
  const paths: PathStatus[] = [];
  const invalid: InvalidPointer[] = [];
  try {
    for (const rel of rels) {
      const pointer = tryLoadPointer(repo, rel, invalid);
      if (!pointer) continue;
      const index = pointer.type === "directory" ? cache.dirIndex(rel) : undefined;
      const fast =
        index && index.tree === pointer.hash ? await statusFromIndex(repo, rel, index, cache) : undefined;
      if (fast) {
        const missing = missingObjectsOf(repo, pointer, complete);
        paths.push({
          path: rel,
          pointer: pointerPathFor(rel),
          type: pointer.type,
          workspace: fast.workspace,
          ...(fast.changes ? { changes: fast.changes } : {}),
          notInStore: missing.length > 0,
          missingObjects: missing.length,
        });
        continue;
      }
      let now = await currentState(repo, rel, { cache, quick: true, onProgress: options.onProgress });
      const missing = missingObjectsOf(repo, pointer, complete);
      const st: PathStatus = {
        path: rel,
        pointer: pointerPathFor(rel),
        type: pointer.type,
        workspace: !now.exists
          ? "missing"
          : now.hash === pointer.hash && !!now.executable === !!pointer.executable
            ? "unchanged"
            : "modified",
        notInStore: missing.length > 0,
        missingObjects: missing.length,
      };
      if (
        st.workspace === "modified" &&
        pointer.type === "directory" &&
        now.type === "directory" &&
        repo.store.has(pointer.hash)
      ) {
        // The quick answer has no per-file listing; the diff needs one.
        if (!now.entries) {
          now = await currentState(repo, rel, {
            cache,
            listing: now.listing,
            onProgress: options.onProgress,
          });
        }
        st.changes = diffEntries(decodeTree(repo.store.readObject(pointer.hash)), now.entries ?? []);
      }
      paths.push(st);
    }
  } finally {
    cache.save();
  }
  return {
    paths,
    invalid,
    clean: invalid.length === 0 && paths.every((p) => p.workspace === "unchanged" && !p.notInStore),
  };
}
