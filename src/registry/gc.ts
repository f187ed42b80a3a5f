/**
 * What `mtrack gc` keeps for the model registry, and the one reading of a version's manifest that gc,
 * fsck and push/pull share. Policy (see references.ts): live versions' content and the files of logged
 * models that are not deleted are kept; a deleted version's or model's data becomes collectable.
 */
import type { Repo } from "../repo.js";
import type { Hash, ObjectStore } from "../store/types.js";
import { readManifest } from "../tracking/read.js";
import type { DirEntry } from "../tracking/types.js";
import type { GcRoot, RootSource } from "../workspace/gc.js";
import { expandReferences, stateReferences } from "./references.js";
import { Registry } from "./registry.js";
import type { RegistryState } from "./types.js";

/**
 * A reader of version manifests in `store`: the entries, or undefined when the manifest is absent or
 * cannot be read (fsck reports that; gc then keeps only the manifest).
 *
 * @example
 * const entriesOf = manifestReader(repo.store); entriesOf(version.content.hash)?.length;
 */
export function manifestReader(store: ObjectStore): (hash: Hash) => DirEntry[] | undefined {
  const cache = new Map<Hash, DirEntry[] | undefined>();
  return (hash) => {
    if (cache.has(hash)) return cache.get(hash);
    let entries: DirEntry[] | undefined;
    if (store.has(hash)) {
      try {
        entries = readManifest(store, hash);
        if (!Array.isArray(entries)) entries = undefined;
      } catch {
        entries = undefined;
      }
    }
    cache.set(hash, entries);
    return entries;
  };
}

/**
 * Every object the registry state needs (manifests of live versions with their entries, files of
 * logged models not deleted), each with a label such as `models:/classifier/3/model.json`.
 *
 * @example
 * registryNeeds(registry.state(), repo.store).size;
 */
export function registryNeeds(state: RegistryState, store: ObjectStore): Map<Hash, string> {
  return expandReferences(stateReferences(state), manifestReader(store));
}

/** The registry of a repository, for reading and importing (no user: it writes no changes of its own). */
export function repoRegistry(repo: Repo): Registry {
  return new Registry({ dir: repo.paths.registryDir, fs: repo.fs });
}

/**
 * The gc root source for the model registry (see the module comment for what it keeps).
 *
 * @example
 * await gcStore(repo, [workspaceRoots(repo), runRoots(repo), registryRoots(repo)]);
 */
export function registryRoots(repo: Repo): RootSource {
  return {
    name: "model registry",
    async collect(): Promise<Iterable<GcRoot>> {
      const needs = registryNeeds(repoRegistry(repo).state(), repo.store);
      return [...needs.keys()].map((hash) => ({ hash }));
    },
  };
}
