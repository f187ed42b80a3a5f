/**
 * Locating a repository on disk: the worktree root, its git directory, and the common directory that
 * holds objects and refs (different from the git directory in a linked worktree).
 */

import nodeFs from "node:fs";
import path from "node:path";
import { MtrackError } from "../errors.js";

/** The node:fs module, or anything shaped like it (tests may pass a wrapper). */
export type NodeFs = typeof nodeFs;

/** Where a repository's pieces live. */
export interface GitLayout {
  /** The worktree root (the directory that contains `.git`). */
  workTree: string;
  /** Per-worktree git directory: HEAD and index live here. */
  gitDir: string;
  /** Shared git directory: objects, refs, packed-refs, config. Equal to gitDir outside linked worktrees. */
  commonDir: string;
}

/**
 * Walks up from `startDir` to the first directory containing `.git` (a directory, or a file as in linked
 * worktrees and submodules) and returns that directory, or null when there is none up to the filesystem
 * root.
 *
 * @example
 * findGitRoot("/home/me/project/src") // "/home/me/project"
 */
export function findGitRoot(startDir: string, fs: NodeFs = nodeFs): string | null {
  let dir = path.resolve(startDir);
  for (;;) {
    const stat = fs.statSync(path.join(dir, ".git"), { throwIfNoEntry: false });
    if (stat?.isDirectory() || stat?.isFile()) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/**
 * Resolves the git and common directories of the worktree at `root`, following a `.git` file's
 * `gitdir:` line and a git directory's `commondir` file. Throws ERR_MTRACK_NOT_A_GIT_REPO when `root`
 * has no usable `.git`.
 *
 * @example
 * resolveGitLayout("/home/me/project") // { workTree: "/home/me/project", gitDir: ".../.git", commonDir: ".../.git" }
 */
export function resolveGitLayout(root: string, fs: NodeFs = nodeFs): GitLayout {
  const workTree = path.resolve(root);
  const dotGit = path.join(workTree, ".git");
  const stat = fs.statSync(dotGit, { throwIfNoEntry: false });
  let gitDir: string;
  if (stat?.isDirectory()) {
    gitDir = dotGit;
  } else if (stat?.isFile()) {
    const match = /^gitdir:\s*(.+?)\s*$/m.exec(fs.readFileSync(dotGit, "utf8"));
    if (!match?.[1]) throw notARepo(workTree, "the .git file has no gitdir line");
    gitDir = path.resolve(workTree, match[1]);
  } else {
    throw notARepo(workTree, "no .git here");
  }
  let commonDir = gitDir;
  const commonFile = path.join(gitDir, "commondir");
  if (fs.existsSync(commonFile)) {
    commonDir = path.resolve(gitDir, fs.readFileSync(commonFile, "utf8").trim());
  }
  return { workTree, gitDir, commonDir };
}

function notARepo(root: string, reason: string): MtrackError {
  return new MtrackError("ERR_MTRACK_NOT_A_GIT_REPO", `${root} is not the root of a git repository.`, {
    data: { path: root, reason },
    hint: "Run mtrack inside a git repository (`git init` creates one).",
  });
}
