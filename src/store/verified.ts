/**
 * Which local packs are known to hold exactly what their index names: written by this store from bytes it
 * had just hashed, or checked object by object since. Kept in `<cache>/verified-packs.json`, keyed by
 * pack id with the pack file's stat (size, mtime, ctime, inode) at that moment: any write to the file, a
 * chmod or a replacement changes the ctime, and the pack is checked again before it is trusted.
 *
 * Why: a push sends a whole local pack by a kernel copy, never reading it, and must not spread damage.
 * Hashing 100k one-KiB objects costs ~0.3 s of CPU, a third of the README's push time; a pack is immutable
 * once written, so it is hashed once (as it is written) instead of on every push. Bit rot that leaves the
 * stat alone is `mtrack fsck`'s to find; the remote's copy is checked by every fetch and by `push --repair`.
 */
import * as nodeFs from "node:fs";
import * as path from "node:path";
import { type FsLike, writeFileAtomic } from "../util/fs.js";

type StatKey = [size: number, mtimeMs: number, ctimeMs: number, ino: number];

function statKey(fs: FsLike, file: string): StatKey | undefined {
  try {
    const st = fs.statSync(file);
    return [st.size, st.mtimeMs, st.ctimeMs, st.ino];
  } catch {
    return undefined;
  }
}

/** The memo file of a store's cache directory. */
export function verifiedPacksFile(cacheDir: string): string {
  return path.join(cacheDir, "verified-packs.json");
}

function load(fs: FsLike, file: string): Record<string, StatKey> {
  try {
    const v = JSON.parse(fs.readFileSync(file, "utf8")) as unknown;
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, StatKey>) : {};
  } catch {
    return {};
  }
}

/**
 * True when pack `id` (its data file `packPath`) was verified and has not changed since.
 *
 * @example
 * if (!isPackVerified(store.dir, pack.id, pack.packPath)) verifyForeignPack(...);
 */
export function isPackVerified(cacheDir: string, id: string, packPath: string, fs: FsLike = nodeFs): boolean {
  const known = load(fs, verifiedPacksFile(cacheDir))[id];
  const now = statKey(fs, packPath);
  return !!known && !!now && known.length === 4 && known.every((v, i) => v === now[i]);
}

/**
 * Records packs as verified as they are now (best effort: a memo that cannot be written only costs a
 * check later). Entries of packs that are gone are dropped.
 *
 * @example
 * markPacksVerified(store.dir, [{ id, packPath }]);
 */
export function markPacksVerified(
  cacheDir: string,
  packs: ReadonlyArray<{ id: string; packPath: string }>,
  fs: FsLike = nodeFs,
): void {
  if (packs.length === 0) return;
  const file = verifiedPacksFile(cacheDir);
  const memo = load(fs, file);
  for (const p of packs) {
    const key = statKey(fs, p.packPath);
    if (key) memo[p.id] = key;
  }
  const dir = path.dirname(packs[0]!.packPath);
  for (const id of Object.keys(memo)) if (!fs.existsSync(path.join(dir, `pack-${id}.pack`))) delete memo[id];
  try {
    writeFileAtomic(file, JSON.stringify(memo), { fs });
  } catch {
    // best effort
  }
}
