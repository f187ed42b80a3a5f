/**
 * Which packs to merge, decided from their sizes alone (no I/O): the geometric policy of
 * `git repack --geometric`. Packs sorted by size should form a progression where each is at least
 * `factor` times the one before; the small end that breaks it is rolled into one new pack, together with
 * any larger pack the new one would no longer be `factor` times smaller than. A byte is therefore only
 * rewritten when the pack holding it at least doubles (factor 2), so n flushes rewrite O(n log n) bytes,
 * and one big pack is never rewritten just to absorb a few small ones.
 */

/** A pack as the policy sees it. */
export interface PackSize {
  id: string;
  bytes: number;
}

export interface ConsolidationPolicy {
  /** Consolidate only when there are more packs than this (ignored with `all`). */
  limit: number;
  /** Each kept pack must be at least this many times larger than all smaller ones together. */
  factor: number;
  /** Apply the progression whatever the pack count (gc): leaves O(log(total/smallest)) packs. */
  all?: boolean;
}

/** Default most packs a store keeps before it consolidates (a lookup probes every pack's index). */
export const DEFAULT_PACK_LIMIT = 32;
/** Default geometric factor. */
export const DEFAULT_MERGE_FACTOR = 2;

/**
 * The ids of the packs to merge into one (empty: nothing to do).
 *
 * @example
 * planConsolidation([{ id: "a", bytes: 1 }, { id: "b", bytes: 1 }, { id: "c", bytes: 100 }], { limit: 2, factor: 2 });
 * // → ["a", "b"]: c is more than twice a + b, so it stays as it is
 */
export function planConsolidation(packs: readonly PackSize[], policy: ConsolidationPolicy): string[] {
  if (!policy.all && packs.length <= policy.limit) return [];
  const sorted = [...packs].sort((a, b) => a.bytes - b.bytes || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const f = policy.factor;
  // From the large end down, find the first neighbour pair that breaks the progression.
  let split = 0;
  for (let i = sorted.length - 1; i > 0; i--) {
    if (sorted[i]!.bytes < f * sorted[i - 1]!.bytes) {
      split = i + 1;
      break;
    }
  }
  let total = 0;
  for (let i = 0; i < split; i++) total += sorted[i]!.bytes;
  // The merged pack may now be too close in size to the next ones: take them in too.
  while (split > 0 && split < sorted.length && sorted[split]!.bytes < f * total) {
    total += sorted[split]!.bytes;
    split++;
  }
  // Only reachable when sizes span more than factor^limit; the count bound matters more than the bytes.
  if (!policy.all) split = Math.max(split, sorted.length - policy.limit + 1);
  return split >= 2 ? sorted.slice(0, split).map((p) => p.id) : [];
}
