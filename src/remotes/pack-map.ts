/**
 * Where each packed object of a set of packs is, as one hash map. A pack's own index answers one lookup by
 * binary search, but a remote holds many packs (one per pushed batch) and a push asks about 100k objects
 * at once: one map built per set of packs turns 100k × packs × log(n) buffer compares into 100k lookups.
 */
import * as nodeFs from "node:fs";
import * as path from "node:path";
import { PackFile } from "../store/pack.js";
import type { Hash } from "../store/types.js";
import { writeFileAtomic } from "../util/fs.js";
import type { PackContents } from "./types.js";

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

/** Neighbouring packed objects closer than this are read together. */
const SPAN_GAP = 64 << 10;
/** A combined read stops growing at this size. */
const SPAN_MAX = 8 << 20;

/**
 * Reads packed objects with one read per run of neighbours (sorted by pack and offset) instead of one
 * pread per object: for 100k one-KiB objects that is the difference between seconds and a blink.
 *
 * @example
 * for (const o of readPacked(found)) onObject(o);
 */
export function* readPacked(
  found: Array<{ hash: Hash; at: PackedLocation }>,
): Iterable<{ hash: Hash; data: Buffer }> {
  found.sort((a, b) =>
    a.at.pack.id === b.at.pack.id ? a.at.offset - b.at.offset : a.at.pack.id < b.at.pack.id ? -1 : 1,
  );
  for (let i = 0; i < found.length; ) {
    const first = found[i]!.at;
    let end = first.offset + first.length;
    let j = i + 1;
    for (; j < found.length; j++) {
      const next = found[j]!.at;
      if (
        next.pack !== first.pack ||
        next.offset - end > SPAN_GAP ||
        next.offset + next.length - first.offset > SPAN_MAX
      )
        break;
      end = Math.max(end, next.offset + next.length);
    }
    const span = first.pack.read(first.offset, end - first.offset);
    for (let k = i; k < j; k++) {
      const { hash, at } = found[k]!;
      yield { hash, data: span.subarray(at.offset - first.offset, at.offset - first.offset + at.length) };
    }
    i = j;
  }
}

/**
 * The packs of a map with the objects the map attributes to each (an object in two packs belongs to the
 * first): what wholePacks plans with.
 *
 * @example
 * for (const [pack, hashes] of packContents(map)) if (hashes.length === pack.count) ...
 */
export function packContents(map: ReadonlyMap<Hash, PackedLocation>): Map<PackFile, Hash[]> {
  const out = new Map<PackFile, Hash[]>();
  for (const [hash, at] of map) {
    let list = out.get(at.pack);
    if (!list) out.set(at.pack, (list = []));
    list.push(hash);
  }
  return out;
}

/**
 * packContents as the Remote interface's pack listing (`packList`).
 *
 * @example
 * async packList() { return packListing(this.packedMap()); }
 */
export function packListing(map: ReadonlyMap<Hash, PackedLocation>): PackContents[] {
  return [...packContents(map)].map(([pack, hashes]) => ({ id: pack.id, count: pack.count, hashes }));
}

/**
 * A remote pack's index through a local cache, `<dir>/pack-<id>.idx` (S3 and `mtrack server` keep one per
 * remote): packs are named by their index checksum, so a cached index never goes stale. A cached copy that
 * does not load is downloaded again; a downloaded one is checked before it is cached. Undefined when the
 * remote has no such index or sends a damaged one (its objects then count as absent). Without `dir`,
 * nothing is cached.
 *
 * @example
 * const pack = await cachedPackIndex(cacheDir, id, `${url} pack ${id}`, () => get(`packs/pack-${id}.idx`));
 */
export async function cachedPackIndex(
  dir: string | undefined,
  id: string,
  where: string,
  download: () => Promise<Buffer | undefined>,
): Promise<PackFile | undefined> {
  const file = dir && path.join(dir, `pack-${id}.idx`);
  if (file) {
    try {
      return PackFile.fromIndex(nodeFs, dir, id, nodeFs.readFileSync(file), where);
    } catch {
      // not cached yet, or damaged: download it
    }
  }
  const idx = await download();
  if (!idx) return undefined;
  let pack: PackFile;
  try {
    pack = PackFile.fromIndex(nodeFs, dir ?? "", id, idx, where);
  } catch {
    return undefined;
  }
  if (file) {
    try {
      nodeFs.mkdirSync(dir, { recursive: true });
      writeFileAtomic(file, idx);
    } catch {
      // a cache that cannot be written only costs a download next time
    }
  }
  return pack;
}
