/**
 * The run-cache on disk: for every successful stage execution, its input-state key (see runCacheKey)
 * maps to the outputs it produced. One small JSON file per key under `.mtrack/runcache/<2 hex>/<rest>`,
 * written atomically and never overwritten — the same layout as loose objects, so remotes can push and
 * pull entries by key (list/get/put) without knowing anything else about them.
 */
import * as nodeFs from "node:fs";
import * as path from "node:path";
import { errnoCode, ioError } from "../errors.js";
import type { Repo } from "../repo.js";
import { isHash } from "../store/hash.js";
import type { Hash } from "../store/types.js";
import { type FsLike, writeFileAtomic } from "../util/fs.js";
import type { GcRoot, RootSource } from "../workspace/gc.js";
import { type FileEntry, parseLock } from "./lockfile.js";

/** Entry format version written by this code. */
export const RUNCACHE_VERSION = 1;

/** Folder of the run-cache inside `.mtrack/`. */
export const RUNCACHE_DIR = "runcache";

/** One recorded output: a file or a directory (whose hash names its manifest). */
export interface RunCacheOutput {
  /** Relative to the pipeline file's folder, as in the lock. */
  path: string;
  hash: Hash;
  size: number;
  /** Number of files, for directories. */
  files?: number;
  type: "file" | "directory";
}

/** What one successful execution produced. */
export interface RunCacheEntry {
  version: number;
  /** The stage's name when it ran (informative only: the key alone decides reuse). */
  stage: string;
  cmd: string | string[];
  outs: RunCacheOutput[];
}

/** Converts lock-style file entries to run-cache outputs (directories are the entries with `files`). */
export function toRunCacheOutputs(outs: readonly FileEntry[]): RunCacheOutput[] {
  return outs.map((o) => {
    const out: RunCacheOutput = {
      path: o.path,
      hash: o.hash,
      size: o.size,
      type: o.files === undefined ? "file" : "directory",
    };
    if (o.files !== undefined) out.files = o.files;
    return out;
  });
}

/** Converts run-cache outputs back to lock-style file entries. */
export function toFileEntries(outs: readonly RunCacheOutput[]): FileEntry[] {
  return outs.map((o) => {
    const e: FileEntry = { path: o.path, hash: o.hash, size: o.size };
    if (o.type === "directory") e.files = o.files ?? 0;
    return e;
  });
}

/**
 * A run-cache entry from its JSON text, or undefined when it is not one of this version (damaged,
 * hand-edited, foreign): the one check for entries read from disk and from remotes.
 *
 * @example
 * const entry = parseRunCacheEntry(body.toString("utf8"));
 */
export function parseRunCacheEntry(text: string): RunCacheEntry | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  const e = v as Partial<RunCacheEntry>;
  if (e.version !== RUNCACHE_VERSION || !Array.isArray(e.outs)) return undefined;
  const ok = e.outs.every(
    (o) =>
      typeof o === "object" &&
      o !== null &&
      typeof o.path === "string" &&
      isHash(o.hash) &&
      typeof o.size === "number" &&
      (o.type === "file" || o.type === "directory"),
  );
  return ok ? (e as RunCacheEntry) : undefined;
}

/**
 * The run-cache entries of one repository, addressed by key. A damaged entry reads as absent (the stage
 * simply runs), so a half-synced or hand-edited cache can never break a repro.
 *
 * @example
 * const rc = RunCacheStore.forRepo(repo);
 * rc.put(key, { version: 1, stage: "train", cmd: "python train.py", outs });
 * rc.get(key)?.outs // → outs
 */
export class RunCacheStore {
  constructor(
    readonly dir: string,
    private readonly fs: FsLike = nodeFs,
  ) {}

  /** The run-cache of `repo` (`.mtrack/runcache`). */
  static forRepo(repo: Repo): RunCacheStore {
    return new RunCacheStore(path.join(repo.paths.mtrackDir, RUNCACHE_DIR), repo.fs);
  }

  private fileOf(key: string): string {
    return path.join(this.dir, key.slice(0, 2), key.slice(2));
  }

  /** The entry for `key`, or undefined (unknown key, malformed key, damaged entry). */
  get(key: string): RunCacheEntry | undefined {
    if (!isHash(key)) return undefined;
    let text: string;
    try {
      text = this.fs.readFileSync(this.fileOf(key), "utf8");
    } catch (err) {
      if (errnoCode(err) === "ENOENT" || errnoCode(err) === "ENOTDIR") return undefined;
      throw ioError(err, `reading run-cache entry ${key}`);
    }
    return parseRunCacheEntry(text);
  }

  /** True when an entry exists for `key`. */
  has(key: string): boolean {
    return isHash(key) && this.fs.existsSync(this.fileOf(key));
  }

  /**
   * Records an entry. The first entry for a key wins: the same inputs give the same outputs, and keeping
   * the existing file means a concurrent writer or a pull never replaces what a reader is using.
   */
  put(key: string, entry: RunCacheEntry): void {
    if (!isHash(key)) throw new TypeError(`run-cache key must be a BLAKE3 hex digest: ${key}`);
    const file = this.fileOf(key);
    if (this.fs.existsSync(file)) return;
    if (!this.fs.existsSync(this.dir)) {
      this.fs.mkdirSync(this.dir, { recursive: true });
      // Entries are machine-local unless pushed: keep them out of git even where .mtrack/.gitignore predates them.
      writeFileAtomic(path.join(this.dir, ".gitignore"), "*\n", { fs: this.fs });
    }
    this.fs.mkdirSync(path.dirname(file), { recursive: true });
    writeFileAtomic(file, `${JSON.stringify(entry, null, 1)}\n`, { fs: this.fs });
  }

  /** Every key present (for gc and for pushing to a remote). */
  *keys(): Iterable<string> {
    let prefixes: string[];
    try {
      prefixes = this.fs.readdirSync(this.dir);
    } catch {
      return;
    }
    for (const pre of prefixes) {
      if (!/^[0-9a-f]{2}$/.test(pre)) continue;
      let rests: string[];
      try {
        rests = this.fs.readdirSync(path.join(this.dir, pre));
      } catch {
        continue;
      }
      for (const rest of rests) if (isHash(pre + rest)) yield pre + rest;
    }
  }
}

/** The gc roots of a list of outputs: directories keep their manifest and every file in it. */
export function rootsOf(outs: ReadonlyArray<{ hash: Hash; files?: number; type?: string }>): GcRoot[] {
  return outs.map((o) => ({ hash: o.hash, tree: o.type === "directory" || o.files !== undefined }));
}

/**
 * gc roots from every run-cache entry, so `mtrack gc` never deletes what a later repro could restore.
 *
 * @example
 * await gcStore(repo, [workspaceRoots(repo), gitHistoryRoots(repo), runCacheRoots(repo)]);
 */
export function runCacheRoots(repo: Repo): RootSource {
  return {
    name: "run-cache",
    async collect() {
      const rc = RunCacheStore.forRepo(repo);
      const out: GcRoot[] = [];
      for (const key of rc.keys()) {
        const entry = rc.get(key);
        if (entry) out.push(...rootsOf(entry.outs));
      }
      return out;
    },
  };
}

const LOCK_NAME = /(^|\/)(pipeline|dvc)\.lock$/;
const isLockFile = (p: string) => LOCK_NAME.test(p);

function lockRoots(text: string, file: string): GcRoot[] {
  try {
    const lock = parseLock(text, file);
    return Object.values(lock.stages).flatMap((e) => [...rootsOf(e.outs), ...rootsOf(e.deps)]);
  } catch {
    // A malformed lock (old commit, merge conflict) refers to nothing we could keep.
    return [];
  }
}

/**
 * gc roots from every object named in a pipeline lock file (outputs and dependencies): the workspace's
 * lock files (the root one and any committed elsewhere) and, unless `history: false` (`gc
 * --workspace-only`), those in every commit reachable from any branch, tag or HEAD, so that
 * `git checkout <old>` + `mtrack repro` can restore old outputs.
 *
 * @example
 * await gcStore(repo, [workspaceRoots(repo), pipelineLockRoots(repo)]);
 */
export function pipelineLockRoots(repo: Repo, options: { history?: boolean } = {}): RootSource {
  const history = options.history ?? true;
  return {
    name: history ? "pipeline locks" : "workspace pipeline locks",
    async collect() {
      const git = repo.git();
      const out: GcRoot[] = [];
      const starts = new Set<string>();
      for (const b of await git.listBranches()) starts.add(b.oid);
      for (const t of await git.listTags()) starts.add(t.oid);
      const head = await git.headCommit();
      if (head) starts.add(head);

      const workspaceLocks = new Set(["pipeline.lock", "dvc.lock"]);
      if (head) for (const f of await git.findFilesInCommit(head, isLockFile)) workspaceLocks.add(f.path);
      for (const rel of workspaceLocks) {
        try {
          out.push(...lockRoots(repo.fs.readFileSync(repo.abs(rel), "utf8"), rel));
        } catch {
          // not in the workspace
        }
      }
      if (!history) return out;
      const seenBlobs = new Set<string>();
      for await (const commit of git.walkCommits([...starts])) {
        for (const f of await git.findFilesInCommit(commit, isLockFile)) {
          if (seenBlobs.has(f.oid)) continue;
          seenBlobs.add(f.oid);
          out.push(...lockRoots((await git.readBlob(f.oid)).toString("utf8"), f.path));
        }
      }
      return out;
    },
  };
}
