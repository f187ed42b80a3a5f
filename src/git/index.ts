/**
 * mtrack's only access to git: locate a repository, resolve revisions, read files and trees at any
 * commit, walk history, and tell whether the worktree is dirty — all in-process via isomorphic-git and
 * a native index reader, never by spawning `git`.
 *
 * Files: root.ts (finding the repository, linked worktrees), rev.ts (revision syntax), repo.ts (the
 * GitRepo reads), index-file.ts (the .git/index format), dirty.ts (git's stat-then-hash dirty check),
 * blob-hash.ts, lfs.ts (seeing through git-lfs pointers), object-fs.ts (speeding up isomorphic-git).
 *
 * Not handled: clean/smudge filters other than git-lfs and CRLF conversion (such files may look
 * dirty once their stat data changes), SHA-256 repositories, object alternates (isomorphic-git limits).
 *
 * @example
 * import { findGitRoot, openGitRepo } from "./git/index.js";
 * const root = findGitRoot(cwd);
 * if (root) {
 *   const repo = openGitRepo(root);
 *   const commit = await repo.resolveRev("HEAD~1");
 *   const dirty = await repo.isDirty();
 * }
 */

export { gitBlobOid, gitBlobOidOfFile } from "./blob-hash.js";
export type { CacheTreeNode, GitIndex, IndexEntry } from "./index-file.js";
export { parseGitIndex } from "./index-file.js";
export type { GitFileEntry, GitRefInfo, GitRepo, OpenGitRepoOptions } from "./repo.js";
export { openGitRepo } from "./repo.js";
export type { ParsedRev, RevStep } from "./rev.js";
export { parseRev } from "./rev.js";
export type { GitLayout, NodeFs } from "./root.js";
export { findGitRoot, resolveGitLayout } from "./root.js";
