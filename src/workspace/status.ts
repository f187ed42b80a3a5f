/**
 * `mtrack status`: which tracked paths differ from their pointers (and how), and which pointers name
 * objects the local store does not have.
 */
import type { Repo } from "../repo.js";
import { comparePaths, decodeTree, type TreeEntry } from "../store/tree.js";
import type { Hash } from "../store/types.js";
import { CompleteTrees } from "./complete.js";
import { type Pointer, pointerPathFor } from "./pointer.js";
import type { ProgressFn } from "./scan.js";
import { StatCache } from "./statcache.js";
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

export interface StatusResult {
  paths: PathStatus[];
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
  try {
    for (const rel of rels) {
      const pointer = loadPointer(repo, rel);
      if (!pointer) continue;
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
            scanned: now.scanned,
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
  return { paths, clean: paths.every((p) => p.workspace === "unchanged" && !p.notInStore) };
}
