/**
 * The git seam: every git read mtrack needs, on top of isomorphic-git (no `git` process is spawned).
 * One GitRepo per command invocation; it caches immutable objects (trees, commit headers) for its
 * lifetime, which is what makes walking all of history for `mtrack gc` affordable.
 */

import nodeFs from "node:fs";
import { errnoCode, MtrackError } from "../errors.js";
import { type GitTreeEntry, indexMatchesTree, worktreeDiffersFromIndex } from "./dirty.js";
import { emptyGitIndex, type GitIndex, mergeSplitIndex, parseGitIndex } from "./index-file.js";
import { fileMatchesLfsPointer, parseLfsPointer } from "./lfs.js";
import { createObjectDbFs, type ObjectDbFs } from "./object-fs.js";
import { isHexPrefix, isPlausibleRefName, parseRev } from "./rev.js";
import { type GitLayout, type NodeFs, resolveGitLayout } from "./root.js";

type IsoGit = typeof import("isomorphic-git").default;
let isoGitLoading: Promise<IsoGit> | undefined;

/**
 * isomorphic-git is loaded on first use: it costs ~100 ms to import, and most commands (status, add,
 * checkout) never read git history.
 */
function loadGit(): Promise<IsoGit> {
  isoGitLoading ??= import("isomorphic-git").then((m) => m.default);
  return isoGitLoading;
}

/** A branch or tag and the commit it points to (annotated tags peeled). */
export interface GitRefInfo {
  name: string;
  oid: string;
}

/** A blob found in a commit's tree. */
export interface GitFileEntry {
  /** Repo-relative posix path. */
  path: string;
  /** The blob's object id. */
  oid: string;
}

/** Read access to one git repository. Obtain one with {@link openGitRepo}. */
export interface GitRepo {
  /** Where the worktree, git directory and shared git directory are. */
  readonly layout: GitLayout;
  /** The commit HEAD points to, or null in a repository with no commits yet. */
  headCommit(): Promise<string | null>;
  /** The short name of the checked-out branch (even an unborn one), or null when HEAD is detached. */
  currentBranch(): Promise<string | null>;
  /**
   * The commit a revision names: a full or unique short (≥ 4 hex digits) oid, HEAD, a branch, a tag
   * (annotated tags peeled), a full ref name, each optionally followed by `~N`, `~`, `^`, `^N` steps.
   * Throws ERR_MTRACK_GIT_REV_NOT_FOUND when it names nothing (or, for a short oid, several commits).
   */
  resolveRev(rev: string): Promise<string>;
  /** The content of the file at repo-relative posix `path` in revision `rev`; null if it is absent or a directory. */
  readFileAtRev(rev: string, path: string): Promise<Buffer | null>;
  /** Local branches, sorted by name. */
  listBranches(): Promise<GitRefInfo[]>;
  /** Tags that lead to a commit, sorted by name; `oid` is the commit (annotated tags peeled). */
  listTags(): Promise<GitRefInfo[]>;
  /**
   * Every commit reachable from `startOids` (following all parents), each exactly once, depth-first
   * with first parents first. Stops at the boundary of a shallow clone.
   */
  walkCommits(startOids: string[]): AsyncIterable<string>;
  /**
   * Every blob in the commit's tree whose path satisfies `predicate`. Trees are cached by oid, and
   * results per subtree are cached per predicate function, so commits that share most of their trees
   * cost only their changed trees: pass the same (pure) predicate function across calls.
   */
  findFilesInCommit(commitOid: string, predicate: (path: string) => boolean): Promise<GitFileEntry[]>;
  /** The content of a blob. */
  readBlob(oid: string): Promise<Buffer>;
  /**
   * True when tracked files in the worktree or the index differ from HEAD (untracked files do not
   * count, as with `git describe --dirty`). In a repository with no commits, any index entry is dirty.
   */
  isDirty(): Promise<boolean>;
  /** Repo-relative posix paths of every file in the index (what git tracks), unsorted. */
  trackedPaths(): string[];
  /**
   * The index's blob id of each regular file staged at stage 0 (path → oid): compare with
   * gitBlobOidOfFile to tell whether `git add` would change anything.
   */
  stagedBlobs(): Map<string, string>;
}

/** Options of {@link openGitRepo}. */
export interface OpenGitRepoOptions {
  /** The filesystem; node:fs by default. */
  fs?: NodeFs;
  /** Called whenever a tree object is read from the object database (cache misses only); for tests and profiling. */
  onReadTree?: (oid: string) => void;
}

/**
 * Opens the repository whose worktree root is `root` (see findGitRoot). Throws ERR_MTRACK_NOT_A_GIT_REPO
 * when `root` has no `.git`. Nothing else is read until a method is called.
 *
 * @example
 * const root = findGitRoot(cwd);
 * if (root === null) throw new MtrackError("ERR_MTRACK_NOT_A_GIT_REPO", `${cwd} is not in a git repository`);
 * const repo = openGitRepo(root);
 * const head = await repo.headCommit();
 * const pointer = await repo.readFileAtRev("HEAD~1", "data.mtrack");
 */
export function openGitRepo(root: string, options: OpenGitRepoOptions = {}): GitRepo {
  const fs = options.fs ?? nodeFs;
  return new IsomorphicGitRepo(resolveGitLayout(root, fs), fs, options.onReadTree);
}

interface CommitHeader {
  tree: string;
  parents: string[];
}

const MODE_TREE = 0o040000;

class IsomorphicGitRepo implements GitRepo {
  readonly layout: GitLayout;
  private readonly fs: NodeFs;
  private readonly onReadTree: ((oid: string) => void) | undefined;
  /** The fs isomorphic-git reads through, with memoized object-database listings. */
  private readonly objectFs: ObjectDbFs;
  /** isomorphic-git's own cache (parsed pack indexes); without it every object read re-parses them. */
  private readonly gitCache: object = {};
  private readonly trees = new Map<string, Promise<GitTreeEntry[]>>();
  private readonly commits = new Map<string, CommitHeader>();
  /** Per predicate: `${prefix}\0${treeOid}` → matching files under that subtree. */
  private readonly findResults = new WeakMap<(path: string) => boolean, Map<string, GitFileEntry[]>>();

  constructor(layout: GitLayout, fs: NodeFs, onReadTree: ((oid: string) => void) | undefined) {
    this.layout = layout;
    this.fs = fs;
    this.onReadTree = onReadTree;
    this.objectFs = createObjectDbFs(fs, layout.commonDir);
  }

  /** Arguments every isomorphic-git call takes; objects and refs live in the common directory. */
  private get base() {
    return { fs: this.objectFs.fs, gitdir: this.layout.commonDir, cache: this.gitCache };
  }

  async headCommit(): Promise<string | null> {
    const head = this.readHead();
    if (head.symbolic === null) return head.oid;
    return this.resolveRefName(head.symbolic);
  }

  async currentBranch(): Promise<string | null> {
    const { symbolic } = this.readHead();
    if (symbolic === null) return null;
    return symbolic.startsWith("refs/heads/") ? symbolic.slice("refs/heads/".length) : symbolic;
  }

  async resolveRev(rev: string): Promise<string> {
    const parsed = parseRev(rev);
    if (parsed === null) throw revNotFound(rev);
    let oid = await this.resolveBase(parsed.base, rev);
    for (const step of parsed.steps) {
      if (step.kind === "^" && step.n === 0) continue;
      const hops = step.kind === "~" ? step.n : 1;
      const parentIndex = step.kind === "~" ? 0 : step.n - 1;
      for (let i = 0; i < hops; i++) {
        const parent = (await this.commitHeader(oid)).parents[parentIndex];
        if (parent === undefined) {
          throw revNotFound(rev, `${rev} goes past the commit's parents; check the number after ~ or ^.`);
        }
        oid = parent;
      }
    }
    return oid;
  }

  async readFileAtRev(rev: string, path: string): Promise<Buffer | null> {
    const segments = splitRepoPath(path);
    let treeOid = (await this.commitHeader(await this.resolveRev(rev))).tree;
    for (let i = 0; i < segments.length; i++) {
      const item = (await this.readTree(treeOid)).find((e) => e.name === segments[i]);
      if (item === undefined) return null;
      if (i === segments.length - 1) return item.type === "blob" ? this.readBlob(item.oid) : null;
      if (item.type !== "tree") return null;
      treeOid = item.oid;
    }
    return null; // the empty path names the root directory
  }

  async listBranches(): Promise<GitRefInfo[]> {
    const names = await this.call("listing branches", async () => (await loadGit()).listBranches(this.base));
    const out: GitRefInfo[] = [];
    for (const name of names.sort()) {
      const oid = await this.resolveRefName(`refs/heads/${name}`);
      if (oid !== null) out.push({ name, oid });
    }
    return out;
  }

  async listTags(): Promise<GitRefInfo[]> {
    const names = await this.call("listing tags", async () => (await loadGit()).listTags(this.base));
    const out: GitRefInfo[] = [];
    for (const name of names.sort()) {
      const target = await this.resolveRefName(`refs/tags/${name}`);
      // Tags of trees or blobs exist (rarely); they name no commit, so they are not listed.
      const oid = target === null ? null : await this.peelToCommit(target);
      if (oid !== null) out.push({ name, oid });
    }
    return out;
  }

  async *walkCommits(startOids: string[]): AsyncIterable<string> {
    const shallow = this.readShallowBoundary();
    const seen = new Set<string>();
    const stack: string[] = [];
    for (const start of [...startOids].reverse()) {
      // Peeled so that a tag oid passed by mistake still yields commits only.
      const commit = await this.peelToCommit(start);
      if (commit === null)
        throw revNotFound(start, "walkCommits needs commit ids; resolve names with resolveRev first.");
      stack.push(commit);
    }
    while (stack.length > 0) {
      const oid = stack.pop()!;
      if (seen.has(oid)) continue;
      seen.add(oid);
      yield oid;
      // A shallow clone lacks the parents of its boundary commits; git stops there too.
      if (shallow.has(oid)) continue;
      const { parents } = await this.commitHeader(oid);
      for (let i = parents.length - 1; i >= 0; i--) {
        if (!seen.has(parents[i]!)) stack.push(parents[i]!);
      }
    }
  }

  async findFilesInCommit(commitOid: string, predicate: (path: string) => boolean): Promise<GitFileEntry[]> {
    let memo = this.findResults.get(predicate);
    if (memo === undefined) this.findResults.set(predicate, (memo = new Map()));
    const results = memo;
    const visit = async (prefix: string, treeOid: string): Promise<GitFileEntry[]> => {
      const key = `${prefix}\0${treeOid}`;
      const known = results.get(key);
      if (known !== undefined) return known;
      const found: GitFileEntry[] = [];
      for (const item of await this.readTree(treeOid)) {
        const path = prefix + item.name;
        if (item.type === "tree") {
          for (const file of await visit(path + "/", item.oid)) found.push(file);
        } else if (item.type === "blob" && predicate(path)) {
          found.push({ path, oid: item.oid });
        }
      }
      results.set(key, found);
      return found;
    };
    // Copy so that callers may mutate what they get without corrupting the memo.
    return [...(await visit("", (await this.commitHeader(commitOid)).tree))];
  }

  async readBlob(oid: string): Promise<Buffer> {
    const { blob } = await this.call(
      `reading blob ${oid}`,
      async () => (await loadGit()).readBlob({ ...this.base, oid }),
      {
        oid,
      },
    );
    return Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  }

  trackedPaths(): string[] {
    const indexFile = `${this.layout.gitDir}/index`;
    if (!this.fs.existsSync(indexFile)) return [];
    return this.readIndex(indexFile).entries.map((e) => e.path);
  }

  stagedBlobs(): Map<string, string> {
    const indexFile = `${this.layout.gitDir}/index`;
    const out = new Map<string, string>();
    if (!this.fs.existsSync(indexFile)) return out;
    for (const e of this.readIndex(indexFile).entries) {
      // Regular files only: 0o100644 or 0o100755 (symlinks and submodules hash differently).
      if (e.stage === 0 && !e.intentToAdd && (e.mode & 0o170000) === 0o100000) out.set(e.path, e.oid);
    }
    return out;
  }

  async isDirty(): Promise<boolean> {
    const { fs, layout } = this;
    const indexFile = `${layout.gitDir}/index`;
    const indexStat = fs.statSync(indexFile, { bigint: true, throwIfNoEntry: false });
    const index = indexStat === undefined ? emptyGitIndex() : this.readIndex(indexFile);

    const head = await this.headCommit();
    if (head === null) return index.entries.length > 0;
    const headTree = (await this.commitHeader(head)).tree;
    if (!(await indexMatchesTree(index, headTree, (oid) => this.readTree(oid)))) return true;
    return worktreeDiffersFromIndex({
      fs,
      workTree: layout.workTree,
      index,
      indexMtimeNs: indexStat?.mtimeNs ?? 0n,
      fileMode: await this.configFlag("core.filemode", true),
      trustCtime: await this.configFlag("core.trustctime", true),
      submoduleDiffers: (dir, recordedOid) => this.submoduleDiffers(dir, recordedOid),
      matchesThroughFilter: (file, blobOid) => this.matchesLfsPointer(file, blobOid),
    });
  }

  /** Tree entries in git order, read once per oid for the lifetime of this GitRepo. */
  private readTree(oid: string): Promise<GitTreeEntry[]> {
    let entries = this.trees.get(oid);
    if (entries === undefined) {
      this.onReadTree?.(oid);
      entries = this.call(
        `reading tree ${oid}`,
        async () => (await loadGit()).readTree({ ...this.base, oid }),
        { oid },
      ).then(({ tree }) => toGitOrder(tree));
      // Drop a failed read so that a later call can retry instead of replaying the error.
      entries.catch(() => this.trees.delete(oid));
      this.trees.set(oid, entries);
    }
    return entries;
  }

  private async commitHeader(oid: string): Promise<CommitHeader> {
    const known = this.commits.get(oid);
    if (known !== undefined) return known;
    const { commit } = await this.call(
      `reading commit ${oid}`,
      async () => (await loadGit()).readCommit({ ...this.base, oid }),
      {
        oid,
      },
    );
    const header = { tree: commit.tree, parents: commit.parent };
    this.commits.set(oid, header);
    return header;
  }

  /** The commit an object leads to (following annotated tags), or null when it is not commit-ish. */
  private async peelToCommit(oid: string): Promise<string | null> {
    try {
      const result = await this.fresh(async () => (await loadGit()).readCommit({ ...this.base, oid }));
      return result.oid;
    } catch (err) {
      if (isGitErrorCode(err, "ObjectTypeError") || isGitErrorCode(err, "NotFoundError")) return null;
      throw gitError(err, `reading object ${oid}`, { oid });
    }
  }

  /**
   * Resolves the part of a revision before any `~`/`^`: HEAD, a full oid, a ref (looked up in git's
   * order: refs/, refs/tags/, refs/heads/, refs/remotes/), then a unique short oid.
   */
  private async resolveBase(base: string, rev: string): Promise<string> {
    if (base === "HEAD" || base === "@") {
      const head = await this.headCommit();
      if (head === null) throw revNotFound(rev, "The repository has no commits yet; commit something first.");
      return head;
    }
    if (/^[0-9a-fA-F]{40}$/.test(base)) {
      const oid = await this.peelToCommit(base.toLowerCase());
      if (oid === null) throw revNotFound(rev);
      return oid;
    }
    if (isPlausibleRefName(base)) {
      for (const candidate of refCandidates(base)) {
        const target = await this.resolveRefName(candidate);
        if (target === null) continue;
        const oid = await this.peelToCommit(target);
        if (oid === null) throw revNotFound(rev, `${candidate} does not point to a commit.`);
        return oid;
      }
    }
    if (isHexPrefix(base)) return this.expandShortOid(base.toLowerCase(), rev);
    throw revNotFound(rev);
  }

  /** Expands a short oid among commit-ish objects only, as git does where a commit is expected. */
  private async expandShortOid(short: string, rev: string): Promise<string> {
    let matches: string[];
    // A stale listing could hide a second match and make a short id look unique.
    this.objectFs.refresh();
    try {
      matches = [await (await loadGit()).expandOid({ ...this.base, oid: short })];
    } catch (err) {
      if (isGitErrorCode(err, "NotFoundError")) throw revNotFound(rev);
      if (!isGitErrorCode(err, "AmbiguousError")) throw gitError(err, `expanding ${short}`, { rev });
      matches = ((err as { data?: { matches?: string[] } }).data?.matches ?? []).slice();
    }
    const commits = new Set<string>();
    for (const oid of matches) {
      const commit = await this.peelToCommit(oid);
      if (commit !== null) commits.add(commit);
    }
    if (commits.size === 1) return [...commits][0]!;
    if (commits.size === 0) throw revNotFound(rev);
    throw new MtrackError("ERR_MTRACK_GIT_REV_AMBIGUOUS", `The short revision ${rev} is ambiguous.`, {
      data: { rev, candidates: [...commits].sort() },
      hint: "Use more characters of the commit id.",
    });
  }

  /** The oid a full ref name points to, or null when the ref does not exist. */
  private async resolveRefName(ref: string): Promise<string | null> {
    try {
      return await (await loadGit()).resolveRef({ ...this.base, ref });
    } catch (err) {
      if (isGitErrorCode(err, "NotFoundError")) return null;
      throw gitError(err, `resolving ${ref}`, { ref });
    }
  }

  /**
   * HEAD as written in the per-worktree git directory (isomorphic-git would read the main worktree's
   * HEAD in a linked worktree): a symbolic ref name, or a detached oid.
   */
  private readHead(): { symbolic: string | null; oid: string | null } {
    let text: string;
    try {
      text = this.fs.readFileSync(`${this.layout.gitDir}/HEAD`, "utf8").trim();
    } catch (err) {
      throw gitError(err, "reading HEAD", { path: `${this.layout.gitDir}/HEAD` });
    }
    if (text.startsWith("ref:")) return { symbolic: text.slice(4).trim(), oid: null };
    if (/^[0-9a-f]{40}$/.test(text)) return { symbolic: null, oid: text };
    throw new MtrackError("ERR_MTRACK_GIT", "HEAD is neither a ref nor a commit id.", {
      data: { path: `${this.layout.gitDir}/HEAD` },
      hint: "Repair HEAD, e.g. with `git checkout <branch>`.",
    });
  }

  private readShallowBoundary(): Set<string> {
    try {
      const text = this.fs.readFileSync(`${this.layout.commonDir}/shallow`, "utf8");
      return new Set(text.split("\n").filter((line) => line.length === 40));
    } catch {
      return new Set();
    }
  }

  private async configFlag(path: string, fallback: boolean): Promise<boolean> {
    const value: unknown = await this.call(`reading ${path}`, async () =>
      (await loadGit()).getConfig({ ...this.base, path }),
    );
    if (value === undefined || value === null) return fallback;
    if (typeof value === "boolean") return value;
    return !/^(false|no|off|0)$/i.test(String(value));
  }

  /** Whether `file` is the content of the git-lfs pointer stored as `blobOid`. */
  private async matchesLfsPointer(file: string, blobOid: string): Promise<boolean> {
    const pointer = parseLfsPointer(await this.readBlob(blobOid));
    return pointer !== null && fileMatchesLfsPointer(file, pointer, this.fs);
  }

  private async submoduleDiffers(dir: string, recordedOid: string): Promise<boolean> {
    let submodule: GitRepo;
    try {
      submodule = openGitRepo(dir, { fs: this.fs });
    } catch {
      return false; // not checked out (an empty directory), which git does not count as a change
    }
    if ((await submodule.headCommit()) !== recordedOid) return true;
    return submodule.isDirty();
  }

  /** The index as git sees it: split indexes merged with their shared half. */
  private readIndex(indexFile: string): GitIndex {
    let index = parseGitIndex(this.fs.readFileSync(indexFile));
    if (index.split !== null) {
      const sharedFile = `${this.layout.gitDir}/sharedindex.${index.split.sharedOid}`;
      let shared: Buffer;
      try {
        shared = this.fs.readFileSync(sharedFile);
      } catch (err) {
        throw gitError(err, `reading the shared index ${sharedFile}`, { path: sharedFile });
      }
      index = mergeSplitIndex(index, parseGitIndex(shared));
    }
    if (index.unsupported !== null) {
      throw new MtrackError(
        "ERR_MTRACK_GIT",
        `The git index uses a feature mtrack cannot read (${index.unsupported}).`,
        {
          data: { path: indexFile, feature: index.unsupported },
          hint: "Report this with your git version; `git update-index --no-split-index` or a plain `git status` may rewrite the index in a readable form.",
        },
      );
    }
    return index;
  }

  private async call<T>(doing: string, fn: () => Promise<T>, data: Record<string, unknown> = {}): Promise<T> {
    try {
      return await this.fresh(fn);
    } catch (err) {
      throw gitError(err, doing, data);
    }
  }

  /** Runs an object read; if the object seems missing, forgets memoized listings and tries once more. */
  private async fresh<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (!isGitErrorCode(err, "NotFoundError")) throw err;
      this.objectFs.refresh();
      return fn();
    }
  }
}

/** Where git looks for a short ref name, in order (git-rev-parse(1), "SPECIFYING REVISIONS"). */
function refCandidates(name: string): string[] {
  const candidates: string[] = [];
  // Top-level names like ORIG_HEAD live directly in the git directory; other top-level files
  // (config, index, ...) are not refs and must not be read as such.
  if (/^[A-Z][A-Z0-9_]*$/.test(name) || name.startsWith("refs/")) candidates.push(name);
  candidates.push(
    `refs/${name}`,
    `refs/tags/${name}`,
    `refs/heads/${name}`,
    `refs/remotes/${name}`,
    `refs/remotes/${name}/HEAD`,
  );
  return candidates;
}

/** Git's tree order: byte order of names, directories compared as if followed by "/". */
function toGitOrder(tree: Array<{ mode: string; path: string; oid: string; type: string }>): GitTreeEntry[] {
  const entries = tree.map((e) => ({
    name: e.path,
    mode: Number.parseInt(e.mode, 8),
    oid: e.oid,
    type: e.type as GitTreeEntry["type"],
  }));
  const key = (e: GitTreeEntry) => Buffer.from(e.mode === MODE_TREE ? e.name + "/" : e.name);
  const keys = new Map(entries.map((e) => [e, key(e)]));
  return entries.sort((a, b) => Buffer.compare(keys.get(a)!, keys.get(b)!));
}

function splitRepoPath(path: string): string[] {
  if (path.startsWith("/") || /^[A-Za-z]:/.test(path)) throw outsideRepo(path);
  const segments = path.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.includes("..")) throw outsideRepo(path);
  return segments;
}

function outsideRepo(path: string): MtrackError {
  return new MtrackError("ERR_MTRACK_PATH_OUTSIDE_REPO", `${path} is not a repo-relative path.`, {
    data: { path },
    hint: "Give the path relative to the repository root, with / separators and no `..`.",
  });
}

function revNotFound(rev: string, hint?: string): MtrackError {
  return new MtrackError("ERR_MTRACK_GIT_REV_NOT_FOUND", `Unknown git revision: ${rev}`, {
    data: { rev },
    hint: hint ?? "Use a commit id, branch, tag or HEAD~N; `git log --oneline` lists commits.",
  });
}

function isGitErrorCode(err: unknown, code: string): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === code;
}

function gitError(err: unknown, doing: string, data: Record<string, unknown>): MtrackError {
  if (err instanceof MtrackError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new MtrackError("ERR_MTRACK_GIT", `Git error while ${doing}: ${message}`, {
    cause: err,
    data: { ...data, gitCode: errnoCode(err) },
    hint: "Check that the repository is intact (`git fsck`).",
  });
}
