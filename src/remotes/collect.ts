/**
 * Garbage collection on a remote (`mtrack gc --cloud`): what every backend's `collect` decides, as one
 * pure plan over an inventory of the remote (its packs, loose objects and leftovers, with the remote's
 * own modification times), so the three backends delete by the same rules:
 *
 * - anything written less than `keepNewerMs` ago stays whole (a push running now has objects that no
 *   ref or commit names yet): a young pack keeps every entry, a young loose object stays;
 * - an old pack whose entries are all unwanted is deleted (index first, then data: no reader ever sees
 *   an index pointing at deleted data);
 * - an old pack with some wanted entries is rewritten: a new pack of the survivors is written (data,
 *   then index, as a push writes it), then the old index, then the old data are deleted;
 * - old loose objects that are unwanted are deleted;
 * - old leftovers of interrupted writes (a pack without index, temp files) are deleted.
 * A collection killed at any point leaves only complete packs behind, at worst with extra copies.
 */
import type { Hash } from "../store/types.js";

/** How a collection runs. */
export interface CollectOptions {
  /** Keep everything written less than this many ms ago (by the remote's clock). */
  keepNewerMs: number;
  /** Only report what would go. */
  dryRun?: boolean;
}

/** What a collection removed (or, dry, would remove). */
export interface CollectResult {
  dryRun: boolean;
  /** Distinct objects no longer on the remote. */
  removed: number;
  /** Bytes freed (every removed copy, pack leftovers included). */
  removedBytes: number;
  /** Distinct objects left on the remote. */
  kept: number;
  /** Of those, objects kept only because they are younger than the grace period. */
  young: number;
  /** Packs replaced by a smaller pack of their survivors. */
  packsRewritten: number;
  /** Packs deleted whole. */
  packsDeleted: number;
  /** Leftovers of interrupted writes deleted. */
  leftovers: number;
}

/** One entry of a pack index. */
export interface PackEntryInfo {
  hash: Hash;
  offset: number;
  length: number;
}

/** One complete pack of the remote (it has an index). */
export interface PackInfo {
  id: string;
  /** The newer of its data and index times. */
  mtimeMs: number;
  entries: readonly PackEntryInfo[];
  /** Bytes of the data file (for the freed total). */
  bytes: number;
}

/** One loose object of the remote. */
export interface LooseInfo {
  hash: Hash;
  size: number;
  mtimeMs: number;
}

/** A leftover of an interrupted write (a pack without index, a temp file), by backend-specific name. */
export interface LeftoverInfo {
  name: string;
  size: number;
  mtimeMs: number;
}

/** Everything a remote holds, as a backend lists it. */
export interface RemoteInventory {
  packs: readonly PackInfo[];
  loose: readonly LooseInfo[];
  leftovers: readonly LeftoverInfo[];
}

/** What to do, in the order it must be done (see the module comment). */
export interface CollectPlan {
  /** Packs to rewrite with these survivors (write the new pack before deleting the old one). */
  rewrite: Array<{ pack: PackInfo; survivors: PackEntryInfo[] }>;
  /** Packs to delete whole. */
  deletePacks: PackInfo[];
  deleteLoose: LooseInfo[];
  deleteLeftovers: LeftoverInfo[];
  result: CollectResult;
}

/**
 * Decides what goes. `now` is the remote's idea of the current time (ms since epoch).
 *
 * @example
 * const plan = planCollect(inventory, keep, { keepNewerMs: 3_600_000 }, Date.now());
 * for (const p of plan.deletePacks) deletePack(p.id);
 */
export function planCollect(
  inventory: RemoteInventory,
  keep: ReadonlySet<Hash>,
  options: CollectOptions,
  now: number,
): CollectPlan {
  const cutoff = now - Math.max(0, options.keepNewerMs);
  // No grace period means none: a file time can carry sub-millisecond digits past `now` (Date.now()
  // truncates), which made something written in the same millisecond look young.
  const isYoung = (mtimeMs: number) => options.keepNewerMs > 0 && mtimeMs > cutoff;
  const remaining = new Set<Hash>();
  const youngOnly = new Set<Hash>();
  const gone = new Set<Hash>();
  let removedBytes = 0;
  const plan: CollectPlan = {
    rewrite: [],
    deletePacks: [],
    deleteLoose: [],
    deleteLeftovers: [],
    result: {
      dryRun: options.dryRun === true,
      removed: 0,
      removedBytes: 0,
      kept: 0,
      young: 0,
      packsRewritten: 0,
      packsDeleted: 0,
      leftovers: 0,
    },
  };
  const stays = (hash: Hash, young: boolean) => {
    remaining.add(hash);
    if (young && !keep.has(hash)) youngOnly.add(hash);
  };
  for (const pack of inventory.packs) {
    const young = isYoung(pack.mtimeMs);
    if (young) {
      for (const e of pack.entries) stays(e.hash, true);
      continue;
    }
    const survivors = pack.entries.filter((e) => keep.has(e.hash));
    if (survivors.length === pack.entries.length) {
      for (const e of pack.entries) stays(e.hash, false);
      continue;
    }
    for (const e of pack.entries) if (!keep.has(e.hash)) gone.add(e.hash);
    for (const e of survivors) stays(e.hash, false);
    if (survivors.length === 0) {
      plan.deletePacks.push(pack);
      removedBytes += pack.bytes;
    } else {
      plan.rewrite.push({ pack, survivors });
      for (const e of pack.entries) if (!keep.has(e.hash)) removedBytes += e.length;
    }
  }
  for (const o of inventory.loose) {
    if (keep.has(o.hash) || isYoung(o.mtimeMs)) {
      stays(o.hash, isYoung(o.mtimeMs));
      continue;
    }
    gone.add(o.hash);
    plan.deleteLoose.push(o);
    removedBytes += o.size;
  }
  for (const l of inventory.leftovers) {
    if (isYoung(l.mtimeMs)) continue;
    plan.deleteLeftovers.push(l);
    removedBytes += l.size;
  }
  // An object whose unwanted copy goes but another (young) copy stays is not removed.
  let removed = 0;
  for (const h of gone) if (!remaining.has(h)) removed++;
  plan.result.removed = removed;
  plan.result.removedBytes = removedBytes;
  plan.result.kept = remaining.size;
  plan.result.young = youngOnly.size;
  plan.result.packsRewritten = plan.rewrite.length;
  plan.result.packsDeleted = plan.deletePacks.length;
  plan.result.leftovers = plan.deleteLeftovers.length;
  return plan;
}
