/**
 * `mtrack add` and `mtrack commit`: store the current content of paths and write their pointer files.
 */
import * as path from "node:path";
import { errnoCode, isMtrackError, MtrackError } from "../errors.js";
import type { Repo } from "../repo.js";
import type { Hash } from "../store/types.js";
import { CompleteTrees } from "./complete.js";
import { addToGitignore } from "./gitignore.js";
import { isIgnored } from "./ignore.js";
import { POINTER_SUFFIX, type Pointer, pointerPathFor, writePointer } from "./pointer.js";
import type { ProgressFn } from "./scan.js";
import { StatCache } from "./statcache.js";
import { currentState, findTrackedPaths, loadPointer, pointerFileOf, resolveTarget } from "./tracked.js";

export interface AddResult {
  /** Repo-relative path of the data. */
  path: string;
  /** Repo-relative path of its pointer file. */
  pointer: string;
  type: "file" | "directory";
  hash: Hash;
  size: number;
  files: number;
  /** false when the pointer already named this content (nothing was written). */
  changed: boolean;
  /** The pointer file was created now (first add). */
  created: boolean;
}

export interface AddOptions {
  onProgress?: ProgressFn;
}

function overlapError(a: string, b: string): MtrackError {
  return new MtrackError(
    "ERR_MTRACK_OVERLAPPING_TARGETS",
    `${a} overlaps ${b}: a tracked path cannot contain another.`,
    {
      hint: `Track the outer directory only, or stop tracking the other with \`mtrack remove ${b}\`.`,
      data: { path: a, other: b },
    },
  );
}

/** Checks targets exist and do not overlap each other or already tracked paths. */
/** The longest file name (in bytes) common file systems allow (ext4, APFS, NTFS). */
const MAX_NAME_BYTES = 255;

/** The first target git tracks (itself or a file inside it), if any. */
function gitTracked(repo: Repo, rels: readonly string[]): { rel: string; file: string } | undefined {
  let files: string[];
  try {
    files = repo.git().trackedPaths();
  } catch {
    return undefined; // an index mtrack cannot read: git itself will still refuse nothing here
  }
  for (const rel of rels) {
    const file = files.find((f) => f === rel || f.startsWith(`${rel}/`));
    if (file !== undefined) return { rel, file };
  }
  return undefined;
}

function validateTargets(repo: Repo, rels: string[]): void {
  const fs = repo.fs;
  for (const rel of rels) {
    try {
      fs.lstatSync(repo.abs(rel));
    } catch (err) {
      if (errnoCode(err) === "ENOENT") {
        throw new MtrackError("ERR_MTRACK_PATH_NOT_FOUND", `${rel} does not exist.`, {
          hint: "Check the path; `mtrack add` takes files or directories in the work tree.",
          data: { path: rel },
        });
      }
      throw err;
    }
  }
  for (const rel of rels) {
    // An ignored path is never stored: refuse it rather than write a pointer to nothing mtrack sees.
    const verdict = isIgnored(repo, rel);
    if (verdict.ignored) {
      const by = verdict.rule
        ? ` by ${verdict.rule.source}:${verdict.rule.line}: ${verdict.rule.pattern}`
        : "";
      throw new MtrackError("ERR_MTRACK_PATH_IGNORED", `${rel} is ignored${by}.`, {
        hint: "Remove or negate (`!pattern`) that line, or add a path that is not ignored.",
        data: { path: rel, source: verdict.rule?.source, line: verdict.rule?.line },
      });
    }
  }
  for (const rel of rels) {
    // The pointer file's name is the longest name add writes; refuse before touching .gitignore.
    const name = `${path.posix.basename(rel)}${POINTER_SUFFIX}`;
    if (Buffer.byteLength(name) > MAX_NAME_BYTES) {
      throw new MtrackError(
        "ERR_MTRACK_INVALID_NAME",
        `${rel}: its pointer file ${name.slice(0, 40)}… would have a ${Buffer.byteLength(name)}-byte name, over the ${MAX_NAME_BYTES} bytes file systems allow.`,
        {
          hint: `Rename it to at most ${MAX_NAME_BYTES - POINTER_SUFFIX.length} bytes, then add it again.`,
          data: { path: rel },
        },
      );
    }
  }
  const inGit = gitTracked(repo, rels);
  if (inGit !== undefined) {
    throw new MtrackError(
      "ERR_MTRACK_TRACKED_BY_GIT",
      `${inGit.rel} is tracked by git${inGit.file === inGit.rel ? "" : ` (${inGit.file})`}: its data would be both in git and in mtrack.`,
      {
        hint: `Stop tracking it in git first (the files stay): git rm -r --cached '${inGit.rel}' && git commit -m 'Stop tracking ${inGit.rel}', then mtrack add '${inGit.rel}'.`,
        data: { path: inGit.rel, tracked: inGit.file },
      },
    );
  }
  const sorted = [...rels].sort();
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.startsWith(`${sorted[i - 1]}/`)) throw overlapError(sorted[i]!, sorted[i - 1]!);
  }
  const tracked = findTrackedPaths(repo);
  for (const rel of rels) {
    for (const t of tracked) {
      if (t !== rel && (rel.startsWith(`${t}/`) || t.startsWith(`${rel}/`))) throw overlapError(rel, t);
    }
  }
}

/**
 * Stores paths and writes their pointers. Unchanged content (same hash as the pointer, objects present)
 * does no work beyond a stat walk. Objects are made durable before the pointer that names them is written.
 *
 * @example
 * const [r] = await addPaths(repo, ["/repo/data"]); // r.pointer === "data.mtrack"
 */
export async function addPaths(
  repo: Repo,
  targetsAbs: readonly string[],
  options: AddOptions = {},
): Promise<AddResult[]> {
  if (targetsAbs.length === 0) {
    throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", "No paths given.", {
      hint: "Usage: mtrack add <path>...",
    });
  }
  const rels = [...new Set(targetsAbs.map((t) => resolveTarget(repo, t)))];
  return repo.withLock("add", async () => {
    validateTargets(repo, rels);
    return storeAndPoint(repo, rels, options);
  });
}

/**
 * `mtrack commit`: records the current content of already tracked paths (all when none are given).
 */
export async function commitPaths(
  repo: Repo,
  rels: readonly string[],
  options: AddOptions = {},
): Promise<AddResult[]> {
  return repo.withLock("commit", () => storeAndPoint(repo, [...rels], options));
}

async function storeAndPoint(repo: Repo, rels: string[], options: AddOptions): Promise<AddResult[]> {
  const cache = StatCache.load(repo.paths.stateDir, repo.fs);
  const complete = CompleteTrees.load(repo.paths.stateDir, repo.fs);
  const results: AddResult[] = [];
  try {
    for (const rel of rels) {
      const old = loadPointerForRewrite(repo, rel);
      // Unchanged directories whose objects are all stored need no listing (link modes relink from it).
      const now = await currentState(repo, rel, {
        cache,
        store: true,
        quick: repo.linkMode === "copy",
        isComplete: (h) => complete.has(h) && repo.store.has(h),
        onProgress: options.onProgress,
      });
      if (!now.exists || !now.hash || !now.type) {
        throw new MtrackError("ERR_MTRACK_PATH_NOT_FOUND", `${rel} does not exist in the workspace.`, {
          hint: `Restore it with \`mtrack checkout ${rel}\`, or stop tracking it with \`mtrack remove ${rel}\`.`,
          data: { path: rel },
        });
      }
      // Objects must be durable before a pointer names them.
      await repo.store.flush();
      if (now.type === "directory") complete.add(now.hash);
      if (repo.linkMode !== "copy") linkIntoWorkspace(repo, rel, now, cache);
      const pointer: Pointer = {
        path: path.posix.basename(rel),
        type: now.type,
        hash: now.hash,
        size: now.size,
      };
      if (now.type === "directory") pointer.files = now.files;
      if (now.type === "file" && now.executable) pointer.executable = true;
      if (old?.desc !== undefined) pointer.desc = old.desc;
      const changed =
        !old ||
        old.hash !== pointer.hash ||
        old.type !== pointer.type ||
        old.size !== pointer.size ||
        !!old.executable !== !!pointer.executable;
      // .gitignore first: a pointer must never exist for data git could still pick up.
      addToGitignore(repo.abs(rel), repo.fs);
      if (changed) writePointer(pointerFileOf(repo, rel), pointer, repo.fs);
      results.push({
        path: rel,
        pointer: pointerPathFor(rel),
        type: now.type,
        hash: now.hash,
        size: now.size,
        files: now.files,
        changed,
        created: !old,
      });
    }
  } finally {
    cache.save();
  }
  return results;
}

/** The existing pointer, if readable: a malformed one is about to be replaced, which repairs it. */
function loadPointerForRewrite(repo: Repo, rel: string): Pointer | undefined {
  try {
    return loadPointer(repo, rel);
  } catch (err) {
    if (isMtrackError(err, "ERR_MTRACK_POINTER_INVALID")) return undefined;
    throw err;
  }
}

/** In hardlink/symlink mode the workspace copy is replaced by a (read-only) link to the store. */
function linkIntoWorkspace(
  repo: Repo,
  rel: string,
  now: Awaited<ReturnType<typeof currentState>>,
  cache: StatCache,
): void {
  const fs = repo.fs;
  const mode = repo.linkMode;
  const place = (fileRel: string, hash: Hash, executable: boolean) => {
    const abs = repo.abs(fileRel);
    const st = fs.lstatSync(abs);
    // Objects packed while cache.type was copy get a loose file to link to.
    const storePath = repo.store.ensureLoose(hash);
    if (mode === "hardlink" && st.ino === fs.statSync(storePath).ino) return;
    if (mode === "symlink" && st.isSymbolicLink() && fs.readlinkSync(abs) === storePath) return;
    repo.store.materialize(hash, abs, { mode, executable });
    const after = fs.statSync(abs);
    cache.record(fileRel, after, hash, Date.now());
  };
  if (now.type === "file") place(rel, now.hash!, !!now.executable);
  else {
    for (const e of now.entries ?? []) place(`${rel}/${e.path}`, e.hash, e.executable);
    // The index holds the copies' stat data; the per-file entries just recorded describe the links.
    cache.forgetDirIndex(rel);
  }
}
