/**
 * Pure transfer planning: given what is wanted and what the other side has, what moves and how it is
 * grouped. No I/O here, so the grouping rules are unit-tested directly.
 */
import { BATCH_BYTES, type ObjectSpec, SMALL_OBJECT_LIMIT } from "../remotes/types.js";
import type { Hash } from "../store/types.js";

export { runPool } from "../remotes/pool.js";

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
