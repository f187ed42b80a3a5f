/**
 * `mtrack remove` (stop tracking; the data stays) and `mtrack unprotect` (make link-mode files editable).
 */
import * as path from "node:path";
import type { Repo } from "../repo.js";
import { safeUnlink, tmpName } from "../util/fs.js";
import { removeFromGitignore } from "./gitignore.js";
import { pointerPathFor } from "./pointer.js";
import { walkDir } from "./scan.js";
import { StatCache } from "./statcache.js";
import { pointerFileOf } from "./tracked.js";

export interface RemoveResult {
  path: string;
  pointer: string;
  unprotected: number;
}

/**
 * Turns every link into the store under `abs` into an ordinary, writable copy. Returns how many files
 * were replaced. Copies never share bytes with the store, so editing them cannot corrupt it.
 */
export function unprotectPath(repo: Repo, abs: string): number {
  const fs = repo.fs;
  const one = (file: string): number => {
    const st = fs.lstatSync(file);
    const isLink = st.isSymbolicLink() || st.nlink > 1;
    const readOnly = (st.mode & 0o200) === 0;
    if (!isLink && !readOnly) return 0;
    const tmp = tmpName(path.dirname(file), path.basename(file));
    try {
      fs.copyFileSync(file, tmp); // follows symlinks: copies the content
      fs.chmodSync(tmp, (fs.statSync(file).mode & 0o111) !== 0 ? 0o755 : 0o644);
      fs.renameSync(tmp, file);
    } catch (err) {
      safeUnlink(tmp, fs);
      throw err;
    }
    return 1;
  };
  let st: import("node:fs").Stats;
  try {
    st = fs.lstatSync(abs);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return one(abs);
  let n = 0;
  for (const f of walkDir(abs, repo.root, fs)) n += one(f.abs);
  return n;
}

/** Stops tracking paths: deletes their pointer files and .gitignore entries; the data is kept. */
export async function removePaths(repo: Repo, rels: readonly string[]): Promise<RemoveResult[]> {
  return repo.withLock("remove", async () => {
    const cache = StatCache.load(repo.paths.stateDir, repo.fs);
    const out: RemoveResult[] = [];
    for (const rel of rels) {
      const abs = repo.abs(rel);
      const unprotected = unprotectPath(repo, abs);
      safeUnlink(pointerFileOf(repo, rel), repo.fs);
      removeFromGitignore(abs, repo.fs);
      cache.forgetUnder(rel);
      out.push({ path: rel, pointer: pointerPathFor(rel), unprotected });
    }
    cache.save();
    return out;
  });
}

/** `mtrack unprotect`: editable copies of tracked paths checked out as links. */
export async function unprotectPaths(repo: Repo, rels: readonly string[]): Promise<RemoveResult[]> {
  return repo.withLock("unprotect", async () =>
    rels.map((rel) => ({
      path: rel,
      pointer: pointerPathFor(rel),
      unprotected: unprotectPath(repo, repo.abs(rel)),
    })),
  );
}
