/**
 * What `mtrack gc` must keep for the model registry: every version's manifest and the files it lists,
 * and every file uploaded to a logged model (deleted logged models included: a version registered from
 * one keeps its own manifest, and the files stay until the registry says otherwise).
 */
import type { Repo } from "../repo.js";
import type { Hash, ObjectStore } from "../store/types.js";
import { readManifest } from "../tracking/read.js";
import type { GcRoot, RootSource } from "../workspace/gc.js";
import { registryDir } from "./models.js";
import { Registry } from "./registry.js";
import type { RegistryState } from "./types.js";

/**
 * The objects the registry refers to. A manifest that is missing or unreadable keeps only itself
 * (fsck reports it).
 *
 * @example
 * registryReferencedObjects(registry.state(), repo.store).has(version.content.hash); // true
 */
export function registryReferencedObjects(state: RegistryState, store: ObjectStore): Set<Hash> {
  const keep = new Set<Hash>();
  for (const m of state.models.values()) {
    for (const v of m.versions.values()) {
      if (keep.has(v.content.hash)) continue;
      keep.add(v.content.hash);
      if (!store.has(v.content.hash)) continue;
      try {
        for (const e of readManifest(store, v.content.hash)) keep.add(e.hash);
      } catch {
        // a damaged manifest keeps only itself
      }
    }
  }
  for (const lm of state.loggedModels.values()) for (const f of lm.files.values()) keep.add(f.hash);
  return keep;
}

/**
 * The gc root source for the registry of a repository.
 *
 * @example
 * await gcStore(repo, [workspaceRoots(repo), runRoots(repo), registryRoots(repo)]);
 */
export function registryRoots(repo: Repo): RootSource {
  return {
    name: "model registry",
    async collect(): Promise<Iterable<GcRoot>> {
      const state = new Registry({ dir: registryDir(repo), fs: repo.fs }).state();
      return [...registryReferencedObjects(state, repo.store)].map((hash) => ({ hash }));
    },
  };
}
