/**
 * `mtrack fsck`: rehash every stored object, check pack indexes, and check that every pointer in the
 * work tree has all its objects.
 */
import type { Repo } from "../repo.js";
import { decodeTree } from "../store/tree.js";
import type { Hash } from "../store/types.js";
import type { ProgressFn } from "./scan.js";
import { type InvalidPointer, tryLoadPointer } from "./status.js";
import { findTrackedPaths } from "./tracked.js";

export interface FsckResult {
  objects: number;
  bytes: number;
  corrupt: Array<{ hash: Hash; location: "loose" | "packed" }>;
  damagedPacks: Array<{ id: string; error: string }>;
  /** Objects the workspace's pointers need that the store lacks (or cannot read). */
  missing: Array<{ path: string; hash: Hash }>;
  /**
   * Tracked paths (files, and files inside tracked directories) whose stored object is corrupt: with
   * `cache.type: hardlink` a write through the workspace file changes the store's object too.
   */
  damaged: Array<{ path: string; hash: Hash }>;
  /** Pointer files that cannot be parsed (their paths' objects cannot be checked). */
  invalidPointers: InvalidPointer[];
  /** Interrupted writes (harmless, invisible; `mtrack gc` deletes them). */
  leftovers: number;
  ok: boolean;
}

/** Checks the whole store. Reads everything; changes nothing. */
export async function fsckStore(repo: Repo, options: { onProgress?: ProgressFn } = {}): Promise<FsckResult> {
  const store = repo.store;
  const all = [...store.list()];
  const bytesTotal = all.reduce((s, o) => s + o.size, 0);
  const corrupt: FsckResult["corrupt"] = [];
  let bytes = 0;
  all.forEach((o, i) => {
    if (store.verify(o.hash, o.location) !== "ok") corrupt.push({ hash: o.hash, location: o.location });
    bytes += o.size;
    if (options.onProgress && (i % 500 === 0 || i === all.length - 1)) {
      options.onProgress({ phase: "verifying", files: i + 1, filesTotal: all.length, bytes, bytesTotal });
    }
  });
  const bad = new Set(corrupt.map((c) => c.hash));
  const missing: FsckResult["missing"] = [];
  const damaged: FsckResult["damaged"] = [];
  const invalidPointers: InvalidPointer[] = [];
  for (const rel of findTrackedPaths(repo)) {
    const p = tryLoadPointer(repo, rel, invalidPointers);
    if (!p) continue;
    if (bad.has(p.hash)) {
      damaged.push({ path: rel, hash: p.hash });
      continue;
    }
    if (!store.has(p.hash)) {
      missing.push({ path: rel, hash: p.hash });
      continue;
    }
    if (p.type === "directory") {
      try {
        for (const e of decodeTree(store.readObject(p.hash))) {
          if (bad.has(e.hash)) damaged.push({ path: `${rel}/${e.path}`, hash: e.hash });
          else if (!store.has(e.hash)) missing.push({ path: `${rel}/${e.path}`, hash: e.hash });
        }
      } catch {
        missing.push({ path: rel, hash: p.hash });
      }
    }
  }
  const damagedPacks = [...store.brokenPacks];
  return {
    objects: new Set(all.map((o) => o.hash)).size,
    bytes,
    corrupt,
    damagedPacks,
    missing,
    damaged,
    invalidPointers,
    leftovers: store.leftovers().length,
    ok:
      corrupt.length === 0 &&
      damagedPacks.length === 0 &&
      missing.length === 0 &&
      damaged.length === 0 &&
      invalidPointers.length === 0,
  };
}
