/**
 * `mtrack status`: which tracked paths differ from their pointers (and how), and which pointers name
 * objects the local store does not have.
 */
import type { Repo } from "../repo.js";
import { decodeTree, type TreeEntry } from "../store/tree.js";
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

/** Diff of two sorted manifests. */
export function diffEntries(before: readonly TreeEntry[], after: readonly TreeEntry[]): FileChanges {
  const old = new Map(before.map((e) => [e.path, e]));
  const changes: FileChanges = { added: [], modified: [], deleted: [] };
  const seen = new Set<string>();
  for (const e of after) {
    seen.add(e.path);
    const o = old.get(e.path);
    if (!o) changes.added.push(e.path);
    else if (o.hash !== e.hash || o.executable !== e.executable) changes.modified.push(e.path);
  }
  for (const e of before) if (!seen.has(e.path)) changes.deleted.push(e.path);
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
      const now = await currentState(repo, rel, { cache, onProgress: options.onProgress });
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
        st.changes = diffEntries(decodeTree(repo.store.readObject(pointer.hash)), now.entries ?? []);
      }
      paths.push(st);
    }
  } finally {
    cache.save();
  }
  return { paths, clean: paths.every((p) => p.workspace === "unchanged" && !p.notInStore) };
}
