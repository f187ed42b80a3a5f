/**
 * The repository context every operation works in: the project root (the git work tree), `.mtrack/`,
 * its config, the object store and the lock. Built once per command and passed down, so no library code
 * looks at process.cwd().
 */
import * as nodeFs from "node:fs";
import * as path from "node:path";
import { Config } from "./config.js";
import { MtrackError } from "./errors.js";
import { type GitRepo, openGitRepo } from "./git/index.js";
import { Store } from "./store/store.js";
import { type FsLike, writeFileAtomic } from "./util/fs.js";
import { acquireLock, type Release } from "./util/lock.js";
import { completeInterruptedWrites } from "./workspace/pending.js";

export const MTRACK_DIR = ".mtrack";

/** What `.mtrack/.gitignore` keeps out of git: everything but the shared config. */
const MTRACK_GITIGNORE = `# Managed by mtrack: only the shared config is meant for git (the store, runs, run-cache,
# caches, locks and config.local.yaml stay local; remotes carry what others need).
/*
!/.gitignore
!/config.yaml
`;

const DEFAULT_CONFIG = `# mtrack settings shared with everyone who clones this repo (see \`mtrack config --list\`).
# Machine-specific settings and credentials go in config.local.yaml (git-ignored).
cache:
  type: copy
`;

export interface RepoPaths {
  root: string;
  mtrackDir: string;
  cacheDir: string;
  tmpDir: string;
  stateDir: string;
  runsDir: string;
  /** The model registry's event log (src/registry/registry.ts). */
  registryDir: string;
  lockFile: string;
}

export function repoPaths(root: string): RepoPaths {
  const mtrackDir = path.join(root, MTRACK_DIR);
  return {
    root,
    mtrackDir,
    cacheDir: path.join(mtrackDir, "cache"),
    tmpDir: path.join(mtrackDir, "tmp"),
    stateDir: path.join(mtrackDir, "state"),
    runsDir: path.join(mtrackDir, "runs"),
    registryDir: path.join(mtrackDir, "registry"),
    lockFile: path.join(mtrackDir, "lock"),
  };
}

/** Walks up from `start` to the directory holding `.git` (a directory, or a file for worktrees). */
export function findWorkTree(start: string, fs: FsLike = nodeFs): string | null {
  let dir = path.resolve(start);
  for (;;) {
    if (fs.existsSync(path.join(dir, ".git"))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

function notAGitRepo(cwd: string): MtrackError {
  return new MtrackError("ERR_MTRACK_NOT_A_GIT_REPO", `${cwd} is not inside a git repository.`, {
    hint: "mtrack versions data next to your code in git: run `git init` first, then `mtrack init`.",
    data: { cwd },
  });
}

export interface InitResult {
  root: string;
  mtrackDir: string;
  created: boolean;
}

/**
 * Creates `.mtrack/` in the git work tree containing `cwd`. Idempotent: an existing setup is kept.
 *
 * @example
 * initRepo({ cwd: "/home/me/project" }) // { root: "/home/me/project", created: true, ... }
 */
export function initRepo(options: { cwd: string; fs?: FsLike }): InitResult {
  const fs = options.fs ?? nodeFs;
  const root = findWorkTree(options.cwd, fs);
  if (!root) throw notAGitRepo(options.cwd);
  const p = repoPaths(root);
  const created = !fs.existsSync(path.join(p.mtrackDir, "config.yaml"));
  fs.mkdirSync(p.mtrackDir, { recursive: true });
  if (created) writeFileAtomic(path.join(p.mtrackDir, "config.yaml"), DEFAULT_CONFIG, { fs });
  writeFileAtomic(path.join(p.mtrackDir, ".gitignore"), MTRACK_GITIGNORE, { fs });
  new Store({ dir: p.cacheDir, tmpDir: p.tmpDir, fs }).init();
  fs.mkdirSync(p.stateDir, { recursive: true });
  return { root, mtrackDir: p.mtrackDir, created };
}

/** An open mtrack repository. */
export class Repo {
  readonly paths: RepoPaths;
  readonly config: Config;
  readonly store: Store;
  readonly fs: FsLike;

  private constructor(paths: RepoPaths, config: Config, fs: FsLike) {
    this.paths = paths;
    this.config = config;
    this.fs = fs;
    const linkMode = config.getString("cache.type");
    this.store = new Store({
      dir: paths.cacheDir,
      tmpDir: paths.tmpDir,
      fs,
      packThreshold: config.getNumber("cache.pack_threshold"),
      looseOnly: linkMode === "hardlink" || linkMode === "symlink",
      fsync: config.getBool("core.fsync"),
    });
  }

  get root(): string {
    return this.paths.root;
  }

  /**
   * Opens the repository containing `cwd`. Throws ERR_MTRACK_NOT_A_GIT_REPO outside git and
   * ERR_MTRACK_NOT_INITIALIZED when `mtrack init` was never run.
   */
  static open(options: { cwd: string; fs?: FsLike }): Repo {
    const fs = options.fs ?? nodeFs;
    const root = findWorkTree(options.cwd, fs);
    if (!root) throw notAGitRepo(options.cwd);
    const paths = repoPaths(root);
    if (!fs.existsSync(paths.mtrackDir)) {
      throw new MtrackError("ERR_MTRACK_NOT_INITIALIZED", `${root} has no .mtrack directory.`, {
        hint: "Run `mtrack init` in the repository first.",
        data: { root },
      });
    }
    const repo = new Repo(paths, Config.load(paths.mtrackDir, fs), fs);
    // A clone gets config.yaml from git but not the ignored store directories.
    repo.store.init();
    fs.mkdirSync(paths.stateDir, { recursive: true });
    return repo;
  }

  private gitRepo: GitRepo | undefined;

  /** The git seam for this work tree (opened on first use). */
  git(): GitRepo {
    if (!this.gitRepo) this.gitRepo = openGitRepo(this.paths.root);
    return this.gitRepo;
  }

  /** The workspace link mode from `cache.type`. */
  get linkMode(): "copy" | "hardlink" | "symlink" {
    return this.config.getString("cache.type") as "copy" | "hardlink" | "symlink";
  }

  /** Takes the repository lock for a command that writes (waits up to core.lock_timeout seconds). */
  lock(purpose: string): Promise<Release> {
    return acquireLock(this.paths.lockFile, {
      fs: this.fs,
      purpose,
      timeoutMs: this.config.getNumber("core.lock_timeout") * 1000,
    });
  }

  /**
   * Runs `fn` holding the lock; staged objects are discarded if it fails. Imports a killed process left
   * half-written (data without its pointer) are completed first, before anything (gc) could see them.
   */
  async withLock<T>(purpose: string, fn: () => Promise<T>): Promise<T> {
    const release = await this.lock(purpose);
    try {
      completeInterruptedWrites(this);
      return await fn();
    } catch (err) {
      this.store.discardStaged();
      throw err;
    } finally {
      release();
    }
  }

  /** Absolute path of a repo-relative posix path. */
  abs(rel: string): string {
    return path.join(this.paths.root, ...rel.split("/"));
  }
}
