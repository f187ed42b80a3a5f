/**
 * Pure transfer planning: given what is wanted and what the other side has, what moves and how it is
 * grouped. No I/O here, so the grouping rules are unit-tested directly.
 */
import { BATCH_BYTES, type ObjectSpec, type PackContents, SMALL_OBJECT_LIMIT } from "../remotes/types.js";
import type { Hash } from "../store/types.js";

export { runPool } from "../remotes/pool.js";
export type { PackContents } from "../remotes/types.js";

/** What an upload or download will do. */
export interface TransferPlan {
  /** Small objects grouped into batches of at most BATCH_BYTES (one pack / request each). */
  batches: ObjectSpec[][];
  /** Large objects, one streamed transfer each. */
  large: ObjectSpec[];
  /** Objects skipped because the destination already has them. */
  present: number;
  objects: number;
  bytes: number;
}

/**
 * Splits the objects the destination lacks into batches of small objects and single large ones.
 * Duplicates are dropped.
 *
 * @example
 * planTransfer([{ hash: a, size: 10 }, { hash: b, size: 1 << 30 }], new Set())
 * // { batches: [[a]], large: [b], present: 0, objects: 2, bytes: 1073741834 }
 */
export function planTransfer(
  wanted: readonly ObjectSpec[],
  present: ReadonlySet<Hash>,
  options: { batchBytes?: number; smallLimit?: number; batchCount?: number } = {},
): TransferPlan {
  const batchBytes = options.batchBytes ?? BATCH_BYTES;
  const smallLimit = options.smallLimit ?? SMALL_OBJECT_LIMIT;
  // A cap on objects per batch too: per-object overhead dominates for empty or tiny files.
  const batchCount = options.batchCount ?? 50_000;
  const plan: TransferPlan = { batches: [], large: [], present: 0, objects: 0, bytes: 0 };
  const seen = new Set<Hash>();
  let batch: ObjectSpec[] = [];
  let size = 0;
  for (const o of wanted) {
    if (seen.has(o.hash)) continue;
    seen.add(o.hash);
    if (present.has(o.hash)) {
      plan.present++;
      continue;
    }
    plan.objects++;
    plan.bytes += o.size;
    if (o.size >= smallLimit) {
      plan.large.push(o);
      continue;
    }
    if (batch.length > 0 && (size + o.size > batchBytes || batch.length >= batchCount)) {
      plan.batches.push(batch);
      batch = [];
      size = 0;
    }
    batch.push(o);
    size += o.size;
  }
  if (batch.length > 0) plan.batches.push(batch);
  return plan;
}

/**
 * The packs that can travel whole: every object in them is to be sent, except objects the destination
 * already has (`there`; a fetch finds a pushed directory's manifest, fetched just before, sharing its
 * entries' pack), which must stay a minority. Copying such a pack as it is replaces unpacking, hashing
 * and repacking it; a pack holding an object that is neither wanted nor there is left to the batches,
 * so nothing moves that need not. A push passes no `there`: a pack goes whole only if all of it is to
 * be sent.
 *
 * @example
 * wholePacks([{ id: "p1", count: 2, hashes: [a, b] }, { id: "p2", count: 2, hashes: [c, d] }], new Set([a, b, c]))
 * // ["p1"]
 * wholePacks([{ id: "p", count: 3, hashes: [tree, a, b] }], new Set([a, b]), (h) => h === tree) // ["p"]
 */
export function wholePacks(
  packs: readonly PackContents[],
  toSend: ReadonlySet<Hash>,
  there: (hash: Hash) => boolean = () => false,
): string[] {
  return packs
    .filter((p) => {
      if (p.count === 0 || p.hashes.length !== p.count) return false;
      let extra = 0;
      for (const h of p.hashes) {
        if (toSend.has(h)) continue;
        if (!there(h)) return false;
        extra++;
      }
      return extra * 2 < p.count;
    })
    .map((p) => p.id);
}

/**
 * The batches without the objects that travel some other way (in a whole pack); batches left empty are
 * dropped.
 *
 * @example
 * withoutCovered([[{ hash: a, size: 1 }, { hash: b, size: 1 }]], new Set([a])) // [[{ hash: b, size: 1 }]]
 */
export function withoutCovered(batches: readonly ObjectSpec[][], covered: ReadonlySet<Hash>): ObjectSpec[][] {
  return batches.map((b) => b.filter((o) => !covered.has(o.hash))).filter((b) => b.length > 0);
}

/**
 * Of the packs about to travel whole, those that may: a pack holding a directory manifest becomes
 * visible all at once, so it is safe when each of its manifests' entries is either in the pack itself or
 * outside every manifest-holding pack (then it travels earlier, with the plain objects, or is already
 * there). A manifest-holding pack with entries in another such pack could land first, and a reader
 * would trust a manifest whose entries are not all there: it goes as batches instead.
 *
 * @example
 * safeWholePacks([{ id: "p", hashes: [tree, a] }, { id: "q", hashes: [b] }], new Map([[tree, [a, b]]]))
 * // ["p", "q"]: q holds no manifest, so b travels before p
 */
export function safeWholePacks(
  packs: ReadonlyArray<{ id: string; hashes: readonly Hash[] }>,
  entriesOf: ReadonlyMap<Hash, readonly Hash[]>,
): string[] {
  const withManifest = packs.filter((p) => p.hashes.some((h) => entriesOf.has(h)));
  const packOf = new Map<Hash, string>();
  for (const p of withManifest) for (const h of p.hashes) packOf.set(h, p.id);
  return packs
    .filter((p) =>
      p.hashes.every((m) =>
        (entriesOf.get(m) ?? []).every((e) => {
          const home = packOf.get(e);
          return home === undefined || home === p.id;
        }),
      ),
    )
    .map((p) => p.id);
}
