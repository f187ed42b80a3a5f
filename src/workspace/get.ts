/**
 * `mtrack get`: materialise a tracked path as it was at any git revision, without moving the worktree.
 * The pointer file is read from git history through the git seam; the data comes from the store.
 */
import * as path from "node:path";
import { errnoCode, ioError, MtrackError } from "../errors.js";
import type { Repo } from "../repo.js";
import type { Store } from "../store/store.js";
import { missingObject } from "../store/store.js";
import { decodeTree } from "../store/tree.js";
import type { Hash } from "../store/types.js";
import type { FsLike } from "../util/fs.js";
import { type Pointer, parsePointer, pointerPathFor } from "./pointer.js";
import type { ProgressFn } from "./scan.js";

export interface GetResult {
  path: string;
  rev: string;
  commit: string;
  out: string;
  type: "file" | "directory";
  hash: Hash;
  files: number;
  size: number;
}

/** Reads the pointer of `rel` at `rev` (ERR_MTRACK_NOT_TRACKED when that revision has none). */
export async function pointerAtRev(
  repo: Repo,
  rel: string,
  rev: string,
): Promise<{ pointer: Pointer; commit: string }> {
  const git = repo.git();
  const commit = await git.resolveRev(rev);
  const pointerRel = pointerPathFor(rel);
  const bytes = await git.readFileAtRev(commit, pointerRel);
  if (!bytes) {
    throw new MtrackError(
      "ERR_MTRACK_NOT_TRACKED",
      `${rel} is not tracked at ${rev} (no ${pointerRel} in commit ${commit.slice(0, 10)}).`,
      {
        hint: "Check the path and the revision (`git log -- <path>.mtrack` lists the commits that changed it).",
        data: { path: rel, rev, commit },
      },
    );
  }
  return {
    pointer: parsePointer(bytes.toString("utf8"), `${pointerRel}@${rev}`, path.posix.basename(rel)),
    commit,
  };
}

/**
 * Writes `rel` as of `rev` to `outAbs` (which must not exist, so nothing is overwritten by accident).
 *
 * @example
 * await getAtRev(repo, "data", "v1", "/tmp/data-v1");
 */
export async function getAtRev(
  repo: Repo,
  rel: string,
  rev: string,
  outAbs: string,
  options: { onProgress?: ProgressFn; force?: boolean } = {},
): Promise<GetResult> {
  const { pointer, commit } = await pointerAtRev(repo, rel, rev);
  const files = writePointerData(repo.store, repo.fs, pointer, `${rel}@${rev}`, outAbs, options);
  return {
    path: rel,
    rev,
    commit,
    out: outAbs,
    type: pointer.type,
    hash: pointer.hash,
    files,
    size: pointer.size,
  };
}

/**
 * Refuses an existing `outAbs` unless `force` (so nothing is overwritten by accident); returns whether
 * it exists.
 */
export function checkOut(fs: FsLike, outAbs: string, force: boolean | undefined): boolean {
  let exists = false;
  try {
    fs.lstatSync(outAbs);
    exists = true;
  } catch (err) {
    if (errnoCode(err) !== "ENOENT") throw ioError(err, `checking ${outAbs}`);
  }
  if (exists && !force) {
    throw new MtrackError("ERR_MTRACK_WOULD_OVERWRITE", `${outAbs} already exists.`, {
      hint: "Choose another output path with -o, or pass --force to replace it.",
      data: { path: outAbs },
    });
  }
  return exists;
}

/**
 * Writes the data a pointer names from `store` to `outAbs` (whole or not at all: a directory is built in
 * a temp sibling and renamed). Every object must be in the store. Returns the number of files.
 *
 * @example
 * writePointerData(repo.store, repo.fs, pointer, "data@v1", "/tmp/data-v1");
 */
export function writePointerData(
  store: Store,
  fs: FsLike,
  pointer: Pointer,
  label: string,
  outAbs: string,
  options: { onProgress?: ProgressFn; force?: boolean } = {},
): number {
  const exists = checkOut(fs, outAbs, options.force);
  if (!store.has(pointer.hash)) throw missingObject(pointer.hash, label);
  if (pointer.type === "file") {
    fs.mkdirSync(path.dirname(outAbs), { recursive: true });
    if (exists) fs.rmSync(outAbs, { recursive: true, force: true });
    store.materialize(pointer.hash, outAbs, { executable: !!pointer.executable });
    return 1;
  }
  const entries = decodeTree(store.readObject(pointer.hash));
  const missing = entries.filter((e) => !store.has(e.hash));
  if (missing.length > 0) {
    throw new MtrackError(
      "ERR_MTRACK_OBJECT_MISSING",
      `${label}: ${missing.length} object(s) are not in the local store.`,
      {
        hint: "Fetch them from a remote (`mtrack fetch --rev <rev>`), then run the command again. Nothing was written.",
        data: { path: label, count: missing.length },
      },
    );
  }
  // Build in a temp sibling, then rename: an interrupted get leaves no half-written output directory.
  const tmp = `${outAbs}.mtrack-tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const made = new Set<string>();
  let bytes = 0;
  try {
    entries.forEach((e, i) => {
      const dest = path.join(tmp, ...e.path.split("/"));
      const dir = path.dirname(dest);
      if (!made.has(dir)) {
        fs.mkdirSync(dir, { recursive: true });
        made.add(dir);
      }
      store.materialize(e.hash, dest, { executable: e.executable });
      bytes += e.size;
      if (options.onProgress && (i % 500 === 0 || i === entries.length - 1)) {
        options.onProgress({
          phase: "get",
          files: i + 1,
          filesTotal: entries.length,
          bytes,
          bytesTotal: pointer.size,
        });
      }
    });
    fs.mkdirSync(tmp, { recursive: true });
    fs.mkdirSync(path.dirname(outAbs), { recursive: true });
    if (exists) fs.rmSync(outAbs, { recursive: true, force: true });
    fs.renameSync(tmp, outAbs);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return entries.length;
}
