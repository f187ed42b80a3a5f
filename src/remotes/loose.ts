/** Which objects exist as loose files of a store directory, without a stat per object. */
import * as path from "node:path";
import type { Hash } from "../store/types.js";
import type { FsLike } from "../util/fs.js";

/** Below this many objects a stat each is cheaper than listing fan-out folders. */
const LIST_ABOVE = 256;

/**
 * The subset of `hashes` stored loose under `objectsDir` (`<2 hex>/<62 hex>`). For many hashes, one
 * listing per fan-out folder they fall in (at most 256) replaces one stat each: asking about 100k
 * absent objects is then a few milliseconds instead of most of a second.
 *
 * @example
 * const loose = looseObjects(fs, store.objectsDir, wanted);
 */
export function looseObjects(fs: FsLike, objectsDir: string, hashes: readonly Hash[]): Set<Hash> {
  const out = new Set<Hash>();
  if (hashes.length < LIST_ABOVE) {
    for (const h of hashes) {
      if (fs.existsSync(path.join(objectsDir, h.slice(0, 2), h.slice(2)))) out.add(h);
    }
    return out;
  }
  const byPrefix = new Map<string, Hash[]>();
  for (const h of hashes) {
    const pre = h.slice(0, 2);
    let list = byPrefix.get(pre);
    if (!list) byPrefix.set(pre, (list = []));
    list.push(h);
  }
  for (const [pre, list] of byPrefix) {
    let names: Set<string>;
    try {
      names = new Set(fs.readdirSync(path.join(objectsDir, pre)));
    } catch {
      continue;
    }
    for (const h of list) if (names.has(h.slice(2))) out.add(h);
  }
  return out;
}
