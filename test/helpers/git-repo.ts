/**
 * Temp git repositories for workspace and end-to-end tests, isolated from the machine's git settings:
 * HOME points into the temp dir and GIT_CONFIG_NOSYSTEM=1, so no user or system config leaks in.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { makeTempDir, readTree, removeTempDir, writeTree } from "./tmp.js";

export interface TempGitRepo {
  /** The temp dir holding everything (also HOME for spawned processes). */
  home: string;
  /** The work tree root (`<home>/repo`). */
  dir: string;
  /** Environment for processes run in this repo (isolated HOME and git config). */
  env: NodeJS.ProcessEnv;
  /** Runs the git CLI in the repo; returns trimmed stdout (throws on a non-zero exit). */
  git(...args: string[]): string;
  /** Absolute path of a repo-relative posix path. */
  abs(rel: string): string;
  /** Writes files (`{ "data/a.txt": "..." }`, parents created). */
  write(files: Record<string, string | Uint8Array>): void;
  /** Every file under `rel` (default the whole work tree, minus .git/.mtrack) as `{ path: bytes }`. */
  read(rel?: string): Record<string, Buffer>;
  /** Stages everything and commits; returns the new HEAD commit id. */
  commit(message: string): string;
  /** Removes the whole temp dir. */
  cleanup(): void;
}

/**
 * Creates a git repository (branch `main`, user configured) in a fresh temp dir. Pass `{ git: false }` for
 * a plain directory that is not a repository (to test "not a git repo" errors).
 *
 * @example
 * const repo = makeTempGitRepo();
 * try { repo.write({ "data/a.txt": "1" }); repo.commit("first"); } finally { repo.cleanup(); }
 */
export function makeTempGitRepo(options: { git?: boolean } = {}): TempGitRepo {
  const home = makeTempDir();
  const dir = path.join(home, "repo");
  fs.mkdirSync(dir);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    XDG_CONFIG_HOME: home,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: path.join(home, ".gitconfig"),
    GIT_TERMINAL_PROMPT: "0",
    NO_COLOR: "1",
  };
  const git = (...args: string[]): string =>
    execFileSync("git", args, { cwd: dir, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  if (options.git !== false) {
    git("init", "-q", "-b", "main");
    // Appended directly: each `git config` call is another process on a busy 2-core machine.
    fs.appendFileSync(
      path.join(dir, ".git", "config"),
      "[user]\n\tname = Test\n\temail = test@example.com\n[commit]\n\tgpgsign = false\n[tag]\n\tgpgsign = false\n",
    );
  }
  const abs = (rel: string) => path.join(dir, ...rel.split("/"));
  return {
    home,
    dir,
    env,
    git,
    abs,
    write: (files) => writeTree(dir, files),
    read: (rel) => (rel ? readTree(abs(rel)) : readTree(dir)),
    commit(message) {
      git("add", "-A");
      git("commit", "-q", "--allow-empty", "-m", message);
      return git("rev-parse", "HEAD");
    },
    cleanup: () => removeTempDir(home),
  };
}
