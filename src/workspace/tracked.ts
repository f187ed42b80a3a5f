/**
 * What is tracked, and what it looks like now: resolving user paths to tracked paths, finding every
 * pointer file in the work tree, and computing the current content hash of a tracked path.
 */
import * as path from "node:path";
import { errnoCode, ioError, MtrackError } from "../errors.js";
import type { Repo } from "../repo.js";
import { hashBytes } from "../store/hash.js";
import { encodeTree, type TreeEntry } from "../store/tree.js";
import type { Hash } from "../store/types.js";
import { isInside, toPosix } from "../util/fs.js";
import { ancestorIgnores, IGNORE_FILE, IgnoreMatcher, readIgnoreFile } from "./ignore.js";
import {
  dataPathFor,
  POINTER_SUFFIX,
  type Pointer,
  pointerPathFor,
  RESERVED_NAMES,
  readPointer,
} from "./pointer.js";
import {
  checkSymlink,
  hashFiles,
  hashScannedFile,
  type Listing,
  listDir,
  type ProgressFn,
  type ScannedFile,
  statOf,
} from "./scan.js";
import { type StatCache, sameStats } from "./statcache.js";

/** Directories never searched for pointer files. */
const NOT_SEARCHED = new Set([".git", ".mtrack", "node_modules"]);

/**
 * Turns a user-supplied absolute path into a repo-relative posix path, refusing paths outside the repo
 * or inside `.git`/`.mtrack`. A pointer file path (`data.mtrack`) names its data path.
 */
export function resolveTarget(repo: Repo, absPath: string): string {
  const abs = path.resolve(absPath);
  if (!isInside(abs, repo.root)) {
    throw new MtrackError(
      "ERR_MTRACK_PATH_OUTSIDE_REPO",
      `${absPath} is outside the repository ${repo.root}.`,
      {
        hint: "Move or copy the data into the repository first.",
        data: { path: absPath, root: repo.root },
      },
    );
  }
  let rel = toPosix(path.relative(repo.root, abs));
  if (rel === "") {
    throw new MtrackError("ERR_MTRACK_PATH_RESERVED", "The repository root itself cannot be tracked.", {
      hint: "Track a directory inside it, e.g. `mtrack add data`.",
      data: { path: absPath },
    });
  }
  // `.mtrack` itself ends with the pointer suffix: judge reserved names before reading it as a pointer.
  const isReserved = (p: string) => p.split("/").find((seg) => RESERVED_NAMES.has(seg.toLowerCase()));
  const reservedRaw = isReserved(rel);
  if (reservedRaw === undefined && rel.endsWith(POINTER_SUFFIX)) rel = dataPathFor(rel);
  const reserved = reservedRaw ?? (rel === "" ? ".mtrack" : isReserved(rel));
  if (reserved) {
    throw new MtrackError(
      "ERR_MTRACK_PATH_RESERVED",
      `${rel} is inside ${reserved}/, which mtrack does not track.`,
      {
        hint: "Choose a path in your work tree.",
        data: { path: rel },
      },
    );
  }
  // A symlinked parent directory could lead outside the repository: judge the real location.
  let realParent: string | undefined;
  try {
    realParent = repo.fs.realpathSync(path.dirname(abs));
  } catch {
    realParent = undefined; // the parent does not exist; the caller reports the missing path
  }
  if (realParent !== undefined && !isInside(realParent, repo.fs.realpathSync(repo.root))) {
    throw new MtrackError(
      "ERR_MTRACK_SYMLINK_OUTSIDE_REPO",
      `${absPath} is reached through a symbolic link to ${realParent}, outside the repository.`,
      {
        hint: "mtrack does not follow links out of the repository. Copy the data into the repository first.",
        data: { path: absPath, target: realParent },
      },
    );
  }
  return rel;
}

/** Absolute path of the pointer file for a tracked repo-relative path. */
export function pointerFileOf(repo: Repo, rel: string): string {
  return repo.abs(pointerPathFor(rel));
}

/** Reads the pointer of a tracked path, or undefined when it is not tracked. */
export function loadPointer(repo: Repo, rel: string): Pointer | undefined {
  return readPointer(pointerFileOf(repo, rel), pointerPathFor(rel), repo.fs);
}

/**
 * Every tracked path in the work tree (repo-relative, sorted), found by walking for `*.mtrack` files.
 * Tracked directories themselves are not descended into. What `.mtrackignore` files ignore (the pointer
 * file, its data path, or a directory above them) is not tracked, as for `add` and `status`: ignored
 * directories are not entered at all.
 *
 * @example
 * findTrackedPaths(repo) // ["data/images", "model.bin"]
 */
export function findTrackedPaths(repo: Repo): string[] {
  const fs = repo.fs;
  const out: string[] = [];
  const visit = (dirAbs: string, prefix: string, parentIgnores: IgnoreMatcher) => {
    let dirents: import("node:fs").Dirent[];
    try {
      // Dirents carry the type: no lstat per name (a first `add` of a 100k-file directory passes here).
      dirents = fs.readdirSync(dirAbs, { withFileTypes: true });
    } catch {
      return;
    }
    const set = new Set(dirents.map((d) => d.name));
    // A nested git repository (a submodule, a scratch clone) is another project with its own pointers.
    if (prefix && set.has(".git")) return;
    let ignores = parentIgnores;
    // Ignore files are rare: only a directory that has one pays for a matcher of its own.
    if (prefix && set.has(IGNORE_FILE)) {
      const own = readIgnoreFile(path.join(dirAbs, IGNORE_FILE), `${prefix}/${IGNORE_FILE}`, prefix, fs);
      if (own.length > 0) ignores = new IgnoreMatcher([...parentIgnores.rules, ...own]);
    }
    const at = (name: string) => (prefix ? `${prefix}/${name}` : name);
    const dirs = ignores.empty
      ? undefined
      : new Set(dirents.filter((d) => d.isDirectory()).map((d) => d.name));
    for (const d of dirents) {
      const name = d.name;
      if (
        name.endsWith(POINTER_SUFFIX) &&
        name.length > POINTER_SUFFIX.length &&
        !RESERVED_NAMES.has(dataPathFor(name))
      ) {
        const data = at(dataPathFor(name));
        if (dirs && (ignores.ignores(at(name), false) || ignores.ignores(data, dirs.has(dataPathFor(name)))))
          continue;
        out.push(data);
      }
    }
    for (const d of dirents) {
      if (!d.isDirectory() || NOT_SEARCHED.has(d.name) || set.has(d.name + POINTER_SUFFIX)) continue;
      if (!ignores.empty && ignores.checkDir(at(d.name)).ignored) continue;
      visit(path.join(dirAbs, d.name), at(d.name), ignores);
    }
  };
  visit(repo.root, "", ancestorIgnores(repo.root, "", fs));
  return out.sort();
}

/** The tracked paths named by targets (all tracked paths when none). Unknown targets are an error. */
export function selectTracked(repo: Repo, targetsAbs: readonly string[] | undefined): string[] {
  if (!targetsAbs || targetsAbs.length === 0) return findTrackedPaths(repo);
  const out: string[] = [];
  for (const t of targetsAbs) {
    const rel = resolveTarget(repo, t);
    if (repo.fs.existsSync(pointerFileOf(repo, rel))) {
      out.push(rel);
      continue;
    }
    // A directory that contains tracked paths selects all of them.
    const inside = findTrackedPaths(repo).filter((p) => p.startsWith(`${rel}/`));
    if (inside.length === 0) {
      throw new MtrackError("ERR_MTRACK_NOT_TRACKED", `${rel} is not tracked by mtrack.`, {
        hint: `Track it with \`mtrack add ${rel}\`.`,
        data: { path: rel },
      });
    }
    out.push(...inside);
  }
  return [...new Set(out)].sort();
}

/** What a tracked path looks like in the workspace right now. */
export interface CurrentState {
  exists: boolean;
  type?: "file" | "directory";
  hash?: Hash;
  size: number;
  files: number;
  executable?: boolean;
  /** Directory entries (sorted), and the encoded manifest they hash to. */
  entries?: TreeEntry[];
  manifest?: Buffer;
  /** The stat records behind `entries` (for a file: one record with rel ""), same order. */
  scanned?: ScannedFile[];
  /** For a directory: the listing it was computed from (reusable by a caller that needs it again). */
  listing?: Listing;
}

export interface CurrentOptions {
  cache: StatCache;
  /**
   * Allow answering from the directory's index without listing entries (`entries` is then undefined):
   * for callers that only need the hash. With `store`, also requires `isComplete(hash)`.
   */
  quick?: boolean;
  /** A listing of this directory made moments ago (a quick answer's `listing`), so it is not walked again. */
  listing?: Listing;
  /** Whether every object of a tree is known to be in the store (see CompleteTrees). */
  isComplete?: (hash: Hash) => boolean;
  /** Store everything read (add/commit); otherwise only hash. */
  store?: boolean;
  onProgress?: ProgressFn;
}

/**
 * Computes the current content of a tracked path, rehashing only files whose stat data changed.
 *
 * @example
 * const now = await currentState(repo, "data", { cache });
 * if (now.hash !== pointer.hash) ...
 */
export async function currentState(repo: Repo, rel: string, options: CurrentOptions): Promise<CurrentState> {
  const fs = repo.fs;
  const abs = repo.abs(rel);
  let st: import("node:fs").Stats;
  try {
    st = fs.lstatSync(abs);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return { exists: false, size: 0, files: 0 };
    throw ioError(err, `reading ${rel}`);
  }
  const store = options.store ? repo.store : undefined;
  const wasLink = st.isSymbolicLink();
  if (wasLink) {
    // In symlink link mode workspace files are links into the store: those are fine to follow.
    const target = fs.readlinkSync(abs);
    if (!isInside(path.resolve(path.dirname(abs), target), repo.paths.cacheDir))
      st = checkSymlink(abs, repo.root, fs);
    else st = fs.statSync(abs);
  }
  if (st.isDirectory()) {
    const listing = options.listing ?? listDir(abs, repo.root, fs);
    const index = options.cache.dirIndex(rel);
    // Same files with the same stat data as when the tree hash was last computed: it is still that hash.
    if (
      options.quick &&
      index &&
      index.names === listing.names &&
      sameStats(index.stats, listing.stats) &&
      (!store || options.isComplete?.(index.tree))
    ) {
      return {
        exists: true,
        type: "directory",
        hash: index.tree,
        size: index.size,
        files: index.count,
        listing,
        get scanned() {
          return listing.files;
        },
      };
    }
    const hashed = await hashFiles(listing.files, rel, {
      fs,
      cache: options.cache,
      index,
      store,
      onProgress: options.onProgress,
    });
    const { entries } = hashed;
    const manifest = encodeTree(entries, { trusted: true });
    const hash = store ? store.putBuffer(manifest).hash : hashBytes(manifest);
    const size = entries.reduce((s, e) => s + e.size, 0);
    options.cache.recordDirIndex(rel, {
      tree: hash,
      size,
      count: entries.length,
      names: listing.names,
      stats: hashed.stats,
      hashes: hashed.hashes,
    });
    return {
      exists: true,
      type: "directory",
      hash,
      size,
      files: entries.length,
      entries,
      manifest,
      listing,
      scanned: listing.files,
    };
  }
  if (!st.isFile()) {
    throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", `${rel} is neither a file nor a directory.`, {
      data: { path: rel },
    });
  }
  const f = statOf(abs, st, "", wasLink);
  let hash = options.cache.lookup(rel, f);
  if (hash === undefined || (store && !store.has(hash))) {
    const hashedAt = Date.now();
    hash = store ? (await store.putFile(abs, { expect: f })).hash : hashScannedFile(f, fs);
    options.cache.record(rel, f, hash, hashedAt);
  }
  return {
    exists: true,
    type: "file",
    hash,
    size: st.size,
    files: 1,
    executable: f.executable,
    scanned: [f],
  };
}
