/**
 * Where each packed object of a set of packs is, as one hash map. A pack's own index answers one lookup by
 * binary search, but a remote holds many packs (one per pushed batch) and a push asks about 100k objects
 * at once: one map built per set of packs turns 100k × packs × log(n) buffer compares into 100k lookups.
 */
import type { PackFile } from "../store/pack.js";
import type { Hash } from "../store/types.js";

/** Where one packed object is. */
export interface PackedLocation {
  pack: PackFile;
  offset: number;
  length: number;
}

/**
 * Adds every entry of `pack` to `map` (first pack wins for duplicates).
 *
 * @example
 * const map = new Map(); for (const p of store.packFiles()) addPack(map, p); map.get(hash)?.length;
 */
export function addPack(map: Map<Hash, PackedLocation>, pack: PackFile): void {
  for (const e of pack.entries()) {
    if (!map.has(e.hash)) map.set(e.hash, { pack, offset: e.offset, length: e.length });
  }
}
